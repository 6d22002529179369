//! The PIA-SM benchmark (issue 14): join latency, path stretch with and
//! without the shortcut, failover gaps, state per router at 10k anycast
//! addresses; each against a baseline of the same run.
//!
//! ```text
//!  join      member up behind FHR1 → first probe it answers, vs the
//!            same member behind a plain ARD router                       join.rs
//!  stretch   links and RTT through the core / via the shortcut / the
//!            shortest path (plain unicast to the member)                 stretch.rs
//!  failover  1 ms stream: member dies (vs ARD hold), first-hop router
//!            dies (vs the join holdtime)                                 failover.rs
//!  core      the primary of two cores dies under FRR ospf6d routing: A's
//!            stream vs a plain unicast service both cores hold          core_failover.rs
//!  state     10 000 addresses: time to two branches each, VmRSS per
//!            address of the core and an FHR, vs an ARD router            state.rs
//! ```
//! The topology is tests/tests/piasm_data.rs's (tree.rs):
//! S ─ P1 ─ CORE ─ P2 ─ {FHR1 ─ M1, FHR2 ─ M2}, P1 and P2 plain kernel
//! routers, optionally an ingress I with the shortcut; the core failover
//! has its own (two cores sharing C under FRR ospf6d, as
//! tests/tests/piasm_data.rs `the_second_core_takes_over_when_the_first_dies`).
//!
//! `A6B_PIASM_PARTS=join,stretch,failover,core,state` (default: all) runs only
//! some parts, for working on one of them.

mod core_failover;
mod failover;
mod join;
mod state;
mod stretch;
mod tree;

use std::net::Ipv6Addr;

use anyhow::Result;

use crate::figure::{at_most, equal, Figure};
use crate::progress::Progress;
use crate::Opts;

/// The anycast address of the traffic figures, its core address and port.
pub const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0x6f);
pub const C: &str = "2001:db8:c0::1";
pub const PORT: u16 = 7000;
/// ARD hold of the members (tests/src/proto.rs ard_member_host).
pub const ARD_HOLD_MS: u64 = 300;
/// join_interval_s = 1: the Join/Prune Holdtime is 3.5 join periods
/// rounded up to whole seconds (protocols/piasm config.rs join_holdtime).
pub const JOIN_HOLDTIME_MS: u64 = 4000;
/// Addresses of the state figure.
pub const STATE_N: usize = 10_000;

fn median(v: &[f64]) -> f64 {
    Figure::from_samples("", "", "", v.to_vec(), None, "").median
}

const TOPO: &str = "S ─ P1 ─ CORE ─ P2 ─ {FHR1 ─ M1, FHR2 ─ M2} in namespaces (veth), P1 and P2 \
                    plain kernel routers with static routes, anycast6d (release) with XDP on the \
                    core and the first-hop routers, [piasm] hello 1 s / join 1 s; members run \
                    anycast6d's member role announcing A by ARD (reports 100 ms, hold 300 ms)";

/// Whether `part` runs (`A6B_PIASM_PARTS`).
fn part(name: &str) -> bool {
    std::env::var("A6B_PIASM_PARTS").map_or(true, |v| v.split(',').any(|p| p.trim() == name))
}

pub fn run(opts: Opts, progress: &Progress) -> Result<Vec<Figure>> {
    crate::failover::use_release_binaries()?;
    let mut out = Vec::new();
    if part("join") {
        out.extend(join_figures(if opts.quick { 3 } else { 7 }, progress)?);
    }
    if part("stretch") {
        let rounds = if opts.quick { 2 } else { 5 };
        let n = 200;
        let core = stretch::path(false, rounds, n, progress)?;
        let sc = stretch::path(true, rounds, n, progress)?;
        out.extend(stretch_figures(&core, &sc, rounds, n));
    }
    if part("failover") {
        out.extend(failover_figures(if opts.quick { 2 } else { 5 }, progress)?);
    }
    if part("core") {
        out.extend(core_figures(if opts.quick { 2 } else { 5 }, progress)?);
    }
    if part("state") {
        // The slowest and most load-sensitive part: its failure is one
        // figure's note, not the loss of the figures above.
        match state_figures(if opts.quick { 1 } else { 3 }, progress) {
            Ok(f) => out.extend(f),
            Err(e) => {
                crate::cleanup::check()?;
                out.push(Figure::from_samples(
                    "piasm.state_converge_ms.10k",
                    "PIA-SM: members up → the core has two branches for each of 10 000 addresses",
                    "ms",
                    Vec::new(),
                    None,
                    &format!("FAILED, no state figures from this run: {e:#}"),
                ));
            }
        }
    }
    Ok(out)
}

fn core_figures(reps: usize, progress: &Progress) -> Result<Vec<Figure>> {
    let (a, x) = core_failover::run(reps, progress)?;
    let how = "S ─ P1 ─ {CORE1, CORE2} ─ P2 ─ {FHR1 ─ M1, FHR2 ─ M2} in namespaces, FRR 8.4 \
               ospf6d on P1, P2 and both cores (point-to-point links, hello 1 s, dead 4 s; the \
               cores redistribute their lo: router address, C, A and X as connected /128s, \
               core 1 at metric 20, core 2 at 100), anycast6d (release) PIA-SM cores of A \
               relaying to each other; core 1 dies: its two links set down, its anycast6d \
               SIGKILLed, its FRR stopped; two 1 ms UDP streams from S across the same failure, \
               gap = longest run of unanswered datagrams × 1 ms; a fresh topology per \
               repetition";
    Ok(vec![
        Figure::from_samples(
            "piasm.failover_core_ms",
            "PIA-SM: the primary core dies → its flow answered through the other core",
            "ms",
            a.clone(),
            None,
            &format!(
                "{how}; the stream to A: core 2 holds every branch relayed, so A's packets are \
                 steered as soon as OSPF routes A to it"
            ),
        ),
        Figure::from_samples(
            "piasm.failover_core_unicast_ms",
            "baseline: the same failure, a plain unicast service on both cores (anycast by routing alone)",
            "ms",
            x.clone(),
            None,
            &format!("{how}; the stream to X, a UDP echo on both cores' lo: the unicast convergence alone"),
        ),
        Figure::ratio(
            "ratio.piasm_failover_core_vs_unicast",
            "primary core death gap: PIA-SM tree / unicast routing alone",
            &a,
            &x,
            at_most(1.5),
            "piasm.failover_core_ms / piasm.failover_core_unicast_ms, repetition by repetition \
             (the same failure). Target ≤ 1.5: both wait for OSPF to move the route; the tree \
             should add nothing, the second core having the branches already",
        ),
    ])
}

fn join_figures(reps: usize, progress: &Progress) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    let pj = join::piasm(reps, progress)?;
    let aj = join::ard(reps, progress)?;
    let how = format!(
        "time from just before the member's anycast6d is started to the first UDP probe to \
         A answered by it; a probe every {} ms from S, each from a fresh source port; the \
         member stops cleanly (ARD leave) and the tree empties before the next repetition",
        join::PROBE_EVERY.as_millis()
    );
    out.push(Figure::from_samples(
        "piasm.join_ms",
        "PIA-SM: member up behind a first-hop router → its first answered probe",
        "ms",
        pj.clone(),
        None,
        &format!(
            "{TOPO}; FHR2 has no member; M1's report makes FHR1 join toward C (a tunnelled join \
             with Router Alert through P2), the core makes FHR1 a branch and sends A's flows \
             down the tunnel; {how}"
        ),
    ));
    out.push(Figure::from_samples(
        "piasm.join_ard_ms",
        "ARD only: member up behind the sender's router → its first answered probe",
        "ms",
        aj.clone(),
        None,
        &format!(
            "S ─ R ─ M in namespaces, anycast6d (release) with [ard] and XDP on R, the same \
             member config; A's group comes from ARD alone; {how}"
        ),
    ));
    out.push(Figure::ratio(
        "ratio.piasm_join_vs_ard",
        "join latency: PIA-SM tree / ARD alone",
        &pj,
        &aj,
        at_most(2.0),
        "piasm.join_ms / piasm.join_ard_ms, repetition by repetition. Target ≤ 2: PIA-SM adds \
         to ARD's path one join up the tree (sent at once, triggered hold 100 ms only between \
         messages) and one FIB write at the core, far less than the member daemon's start \
         and first report that both include",
    ));

    Ok(out)
}

fn failover_figures(reps: usize, progress: &Progress) -> Result<Vec<Figure>> {
    let mut out = Vec::new();
    let (fm, ff) = failover::run(reps, progress)?;
    let fhow = format!(
        "{TOPO}; one UDP flow from S to A, a datagram per ms answered by the member's echo; \
         gap = longest run of unanswered datagrams × 1 ms; the stream runs until the core has \
         one branch left and 500 ms more; the failed part comes back and both branches carry \
         traffic again before the next repetition"
    );
    out.push(Figure::from_samples(
        "piasm.failover_member_ms",
        "PIA-SM: the member dies → its flow answered by the other member",
        "ms",
        fm.clone(),
        None,
        &format!(
            "{fhow}; M1's anycast6d SIGKILLed (no ARD leave) and its UDP server stopped: FHR1's \
             ARD hold ({ARD_HOLD_MS} ms) runs out, FHR1 prunes up to the core, the core's group \
             loses the branch and the flow goes down FHR2's"
        ),
    ));
    out.push(Figure::from_samples(
        "ratio.piasm_failover_member_vs_ard_hold",
        "member death gap / ARD hold",
        "ratio",
        fm.iter().map(|g| g / ARD_HOLD_MS as f64).collect(),
        at_most(1.5),
        &format!(
            "piasm.failover_member_ms / the ARD hold configured ({ARD_HOLD_MS} ms). Target ≤ \
             1.5: detection is ARD's hold; the prune up one tunnelled hop and the core's FIB \
             write should add well under half of it"
        ),
    ));
    out.push(Figure::from_samples(
        "piasm.failover_fhr_ms",
        "PIA-SM: the member's first-hop router dies → its flow answered by the other member",
        "ms",
        ff.clone(),
        None,
        &format!(
            "{fhow}; FHR2's anycast6d SIGKILLed and its uplink set down (no prune): the core's \
             branch to FHR2 expires with the join holdtime ({JOIN_HOLDTIME_MS} ms: 3.5 × \
             join_interval_s = 1, rounded up to a second) and FHR2's flows go to M1"
        ),
    ));
    out.push(Figure::from_samples(
        "ratio.piasm_failover_fhr_vs_holdtime",
        "first-hop router death gap / join holdtime",
        "ratio",
        ff.iter().map(|g| g / JOIN_HOLDTIME_MS as f64).collect(),
        at_most(1.2),
        &format!(
            "piasm.failover_fhr_ms / the join holdtime ({JOIN_HOLDTIME_MS} ms). Target ≤ 1.2: \
             nothing tells the core sooner than the holdtime (no BFD), and the expiry should \
             not wait much longer than it"
        ),
    ));

    Ok(out)
}

fn stretch_figures(
    core: &stretch::PathRun,
    sc: &stretch::PathRun,
    rounds: usize,
    n: usize,
) -> Vec<Figure> {
    use stretch::{HLIM_CORE, HLIM_SHORTCUT, LINKS_CORE, LINKS_SHORTCUT, LINKS_SHORTEST};
    let seen = |r: &stretch::PathRun| {
        let mut c = std::collections::BTreeMap::new();
        for h in &r.hop_limits {
            *c.entry(*h).or_insert(0usize) += 1;
        }
        c
    };
    let (hc, hs) = (seen(core), seen(sc));
    let agrees =
        |c: &std::collections::BTreeMap<u8, usize>, want: u8| c.len() == 1 && c.contains_key(&want);
    let cross = format!(
        "links counted by construction (S ─ I ─ P1 ─ CORE ─ P2 ─ FHR ─ M through the core, \
         S ─ I ─ P2 ─ FHR ─ M via the shortcut and on the shortest path); cross-check: the \
         inner hop limit of the flow's datagrams at the member (tshark), by construction \
         {HLIM_CORE} through the core (I and P1 route A toward the core, the core forwards it \
         into the tunnel, P2 is hidden, FHR forwards it out) and {HLIM_SHORTCUT} via the \
         shortcut (I into the tunnel, P2 hidden, FHR out); tshark saw {hc:?} through the core \
         ({}) and {hs:?} via the shortcut ({})",
        if agrees(&hc, HLIM_CORE) {
            "agrees"
        } else {
            "DISAGREES"
        },
        if agrees(&hs, HLIM_SHORTCUT) {
            "agrees"
        } else {
            "DISAGREES"
        },
    );
    let rtt_how = format!(
        "median round trip of {n} UDP echoes on one flow from S (one every ~1 ms), per round, \
         {rounds} rounds; topology of tests/tests/piasm_data.rs with the ingress I (S ─ I, \
         I ─ P1 toward the core, I ─ P2 toward the first-hop routers); answers return by plain \
         unicast M ─ FHR ─ P2 ─ I ─ S on every path"
    );
    vec![
        Figure::from_samples(
            "piasm.stretch_core",
            "path stretch through the core: links S → member / shortest path",
            "ratio",
            vec![LINKS_CORE as f64 / LINKS_SHORTEST as f64],
            None,
            &format!("{LINKS_CORE} / {LINKS_SHORTEST} links; {cross}"),
        ),
        Figure::from_samples(
            "piasm.stretch_shortcut",
            "path stretch via the shortcut: links S → member / shortest path",
            "ratio",
            vec![LINKS_SHORTCUT as f64 / LINKS_SHORTEST as f64],
            equal(1.0),
            &format!(
                "{LINKS_SHORTCUT} / {LINKS_SHORTEST} links (target 1.0: the shortcut tunnels \
                 from the ingress to the first-hop router over the shortest path); see \
                 piasm.stretch_core for the cross-check"
            ),
        ),
        Figure::from_samples(
            "piasm.rtt_core_us",
            "RTT of a flow to A through the core (ingress without the shortcut)",
            "us",
            core.anycast_us.clone(),
            None,
            &format!(
                "{rtt_how}; the ingress has shortcut = false; member {}",
                core.member
            ),
        ),
        Figure::from_samples(
            "piasm.rtt_shortcut_us",
            "RTT of a flow to A via the shortcut",
            "us",
            sc.anycast_us.clone(),
            None,
            &format!(
                "{rtt_how}; the ingress has shortcut = true and took it (a stream on another \
                 flow triggered it first); member {}",
                sc.member
            ),
        ),
        Figure::from_samples(
            "piasm.rtt_shortest_us",
            "RTT on the shortest path (plain unicast to the member's own address)",
            "us",
            core.unicast_us
                .iter()
                .chain(&sc.unicast_us)
                .copied()
                .collect(),
            None,
            &format!(
                "{rtt_how}; to the answering member's unicast address (kernel forwarding on \
                 I, P2, FHR, no tunnel), rounds interleaved with those to A, in both topologies"
            ),
        ),
        Figure::ratio(
            "ratio.piasm_rtt_shortcut_vs_core",
            "RTT via the shortcut / through the core (two builds)",
            &sc.anycast_us,
            &core.anycast_us,
            None,
            "piasm.rtt_shortcut_us / piasm.rtt_core_us, round by round. The two paths run in \
             two builds of the topology one after the other, whose unicast RTTs differ by more \
             than the two routers the shortcut saves (see piasm.rtt_shortest_us): no target on \
             this one; ratio.piasm_rtt_stretch_shortcut_vs_core compares each over its own \
             build's shortest path",
        ),
        Figure::ratio(
            "ratio.piasm_rtt_stretch_shortcut_vs_core",
            "RTT stretch via the shortcut / RTT stretch through the core",
            &sc.anycast_us
                .iter()
                .zip(&sc.unicast_us)
                .map(|(a, u)| a / u)
                .collect::<Vec<f64>>(),
            &core
                .anycast_us
                .iter()
                .zip(&core.unicast_us)
                .map(|(a, u)| a / u)
                .collect::<Vec<f64>>(),
            at_most(1.0),
            "(rtt_shortcut / rtt_shortest of its build) / (rtt_core / rtt_shortest of its \
             build), round by round. Target ≤ 1: two links and two routers (P1, the core with \
             its decapsulation and re-encapsulation) fewer; on veth each router costs a few \
             microseconds of an RTT of about 50, so the difference is small",
        ),
        Figure::ratio(
            "ratio.piasm_rtt_core_vs_shortest",
            "RTT through the core / shortest path (same topology)",
            &core.anycast_us,
            &core.unicast_us,
            None,
            "piasm.rtt_core_us over the unicast rounds of the same build",
        ),
        Figure::ratio(
            "ratio.piasm_rtt_shortcut_vs_shortest",
            "RTT via the shortcut / shortest path (same topology)",
            &sc.anycast_us,
            &sc.unicast_us,
            None,
            "piasm.rtt_shortcut_us over the unicast rounds of the same build: the cost of the \
             tunnel (encapsulation at I, decapsulation at FHR in XDP) on the same links",
        ),
    ]
}

fn state_figures(reps: usize, progress: &Progress) -> Result<Vec<Figure>> {
    let (mut conv, mut core_b, mut fhr_b, mut ard_b) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let n = STATE_N;
    for rep in 0..reps {
        let one = state::piasm(1, rep, progress)?;
        let big = state::piasm(n, rep, progress)?;
        conv.push(big.converge_ms);
        let per = |b: u64, o: u64| (b as f64 - o as f64) * 1024.0 / (n - 1) as f64;
        core_b.push(per(big.core_kib, one.core_kib));
        fhr_b.push(per(big.fhr_kib, one.fhr_kib));
        let a1 = state::ard(1, rep, progress)?;
        let an = state::ard(n, rep, progress)?;
        ard_b.push(per(an, a1));
    }
    let how = format!(
        "a core and two first-hop routers (the topology of tests/tests/piasm_data.rs) with \
         {n} [[piasm.anycast]] entries each (distinct addresses, one core address), each FHR \
         with one ARD member serving all {n} (reports every second, hold 60 s: 209 reports of 48 \
         records each second; [ard] max_addresses_per_member raised to {n}); [capacities] maglev_blocks \
         sized for {n} groups; VmRSS from /proc/<pid>/status 3 s after the core has two \
         branches for every address, minus the same daemon's VmRSS in the same topology with \
         one address, over {} addresses",
        n - 1
    );
    let kib4 = 4096.0;
    Ok(vec![
        Figure::from_samples(
            "piasm.state_converge_ms.10k",
            "PIA-SM: members up → the core has two branches for each of 10 000 addresses",
            "ms",
            conv,
            None,
            &format!(
                "{how}; from the start of the members' anycast6d until `show piasm trees` at \
                 the core lists two branches for all {n}, polled"
            ),
        ),
        Figure::from_samples(
            "piasm.state_core_bytes_per_addr.10k",
            "PIA-SM core: resident bytes per anycast address with two branches",
            "bytes",
            core_b.clone(),
            at_most(kib4),
            &format!(
                "{how}. Target ≤ 4 KiB: per address the core holds a tree (two branches, \
                 their timers), a RIB group of two tunnel members and its Maglev table of 211 \
                 entries mirrored in userspace — a few hundred bytes each, so more than 4 KiB \
                 would mean state kept per address that the design has no use for. The \
                 convergence poll renders `show piasm trees` (a JSON of every tree, some MB) \
                 at the core every 200 ms and the allocator keeps what that peaked at, so \
                 this figure is an upper bound of the core's state (not yet separated)"
            ),
        ),
        Figure::from_samples(
            "piasm.state_fhr_bytes_per_addr.10k",
            "PIA-SM first-hop router: resident bytes per anycast address (ARD + PIA-SM)",
            "bytes",
            fhr_b.clone(),
            None,
            &format!("{how}; FHR1: its ARD member's {n} addresses and a tree per address"),
        ),
        Figure::from_samples(
            "piasm.state_ard_bytes_per_addr.10k",
            "ARD alone: resident bytes per anycast address of one router",
            "bytes",
            ard_b.clone(),
            None,
            &format!(
                "R ─ M in namespaces, anycast6d (release) with [ard] on R and the same \
                 capacities, one member announcing the same {n} addresses (same timers); R's \
                 VmRSS once it has a group for each, minus its VmRSS with one address"
            ),
        ),
        Figure::from_samples(
            "ratio.piasm_state_core_vs_ard.10k",
            "bytes per address: PIA-SM core / ARD router",
            "ratio",
            vec![median(&core_b) / median(&ard_b)],
            None,
            "median of piasm.state_core_bytes_per_addr.10k / median of \
             piasm.state_ard_bytes_per_addr.10k",
        ),
        Figure::from_samples(
            "ratio.piasm_state_fhr_vs_ard.10k",
            "bytes per address: PIA-SM first-hop router / ARD router",
            "ratio",
            vec![median(&fhr_b) / median(&ard_b)],
            None,
            "median of piasm.state_fhr_bytes_per_addr.10k / median of \
             piasm.state_ard_bytes_per_addr.10k: what PIA-SM adds to ARD at a first-hop router",
        ),
    ])
}
