//! The AOSPF benchmark (issue 13): AOSPF against FRR 8.4 ospf6d with the
//! same timers, in one run.
//!
//! ```text
//!  adjacency  Hello → Full, the AOSPF core vs ospf6d, one ospf6d observer   adjacency.rs
//!  chain      member joins at one end of 10 routers → far end has it:
//!             AOSPF cores on a simulated clock; ospf6d in namespaces         sim.rs, chain.rs
//!  spf        SPF at 1k routers / 10k prefixes: spf::compute in process;
//!             ospf6d's own SPF runtime on the same grid, injected by
//!             aospf-lsdb-gen (bench/src/bin) over a veth                    lsdb.rs
//!  failover   member failure behind a router → traffic moved: anycast6d
//!             (ARD + AOSPF) vs ospf6d, and vs ospf6d with bfdd              failover.rs
//!  memory     100k prefixes: VmRSS growth of an AOSPF core and of ospf6d
//!             that learned the grid from the generator                      lsdb.rs
//! ```
//! ospf6d's config, log parsing and bfdd are in ospf6d.rs.
//!
//! Ratios of two implementations measured in different processes are
//! ratios of the medians (their repetitions are not paired: Hello phases
//! and SPF runs are independent); every timed figure is the median of at
//! least 5 repetitions (fewer in `--quick`).

mod adjacency;
mod chain;
mod failover;
mod lsdb;
mod ospf6d;
mod sim;

use std::time::Duration;

use anyhow::Result;

use crate::figure::{at_most, Figure};
use crate::progress::Progress;
use crate::Opts;

/// The timers of every AOSPF and ospf6d router of this benchmark.
#[derive(Debug, Clone)]
pub struct Timers {
    pub hello: Duration,
    pub dead: Duration,
    pub retransmit: Duration,
    /// AOSPF `spf_delay` / `spf_hold`; ospf6d `timers throttle spf
    /// <delay> <hold> <hold>`.
    pub spf_delay: Duration,
    pub spf_hold: Duration,
}

/// How long a network that just changed (routers started, a member came
/// back) is left alone before a measurement: AOSPF re-originates an LSA at
/// most once per MinLSInterval (5 s, RFC 2328), so the Router-LSAs of new
/// adjacencies may still be on their way for that long, and an Intra-Area-
/// Prefix-LSA originated within it waits for it too.
pub const SETTLE: Duration =
    Duration::from_secs(anycast6_aospf::lsdb::MIN_LS_INTERVAL.as_secs() + 2);

/// Hello 1 s, dead 4 s, retransmit 2 s, SPF 50 ms after a change and at
/// most one per 200 ms (AOSPF's defaults for the SPF).
pub fn timers() -> Timers {
    Timers {
        hello: Duration::from_secs(1),
        dead: Duration::from_secs(4),
        retransmit: Duration::from_secs(2),
        spf_delay: Duration::from_millis(50),
        spf_hold: Duration::from_millis(200),
    }
}

/// `[aospf]` on point-to-point `links` (name, cost) with the benchmark's
/// timers.
pub fn aospf_section(router_id: &str, links: &[(&str, u16)], t: &Timers) -> String {
    let mut s = format!(
        "[aospf]\nrouter_id = \"{router_id}\"\nspf_delay_ms = {}\nspf_hold_ms = {}\n",
        t.spf_delay.as_millis(),
        t.spf_hold.as_millis()
    );
    for (name, cost) in links {
        s.push_str(&format!(
            "[[aospf.interface]]\nname = \"{name}\"\nnetwork = \"point-to-point\"\ncost = {cost}\n\
             hello_interval_s = {}\ndead_interval_s = {}\nretransmit_interval_s = {}\n",
            t.hello.as_secs(),
            t.dead.as_secs(),
            t.retransmit.as_secs()
        ));
    }
    s
}

/// The grid of the SPF figure and its metric.
const SPF_GRID: (u32, u32, u16) = (1000, 10_000, 3);
/// The grid of the memory figure.
const MEM_GRID: (u32, u32, u16) = (1000, 100_000, 3);

fn median(v: &[f64]) -> f64 {
    Figure::from_samples("", "", "", v.to_vec(), None, "").median
}

/// A ratio of the medians of two series measured in different processes.
fn ratio_of_medians(id: &str, name: &str, num: &[f64], den: &[f64], note: &str) -> Figure {
    Figure::from_samples(
        id,
        name,
        "ratio",
        vec![median(num) / median(den)],
        at_most(1.0),
        note,
    )
}

fn timers_note(t: &Timers) -> String {
    format!(
        "point-to-point links, Hello {} s, dead {} s, retransmit {} s; AOSPF spf_delay {} ms / \
         spf_hold {} ms, ospf6d `timers throttle spf {} {} {}`",
        t.hello.as_secs(),
        t.dead.as_secs(),
        t.retransmit.as_secs(),
        t.spf_delay.as_millis(),
        t.spf_hold.as_millis(),
        t.spf_delay.as_millis(),
        t.spf_hold.as_millis(),
        t.spf_hold.as_millis()
    )
}

pub fn run(opts: Opts, progress: &Progress) -> Result<Vec<Figure>> {
    crate::failover::use_release_binaries()?;
    let t = timers();
    let reps = if opts.quick { 2 } else { 7 };
    let tn = timers_note(&t);
    let parity = "target: parity (≤ 1, AOSPF no slower / no bigger than ospf6d); issue 13 asks \
                  for the comparison and names no number";
    let mut out = Vec::new();

    // Convergence on the cores: no kernel objects, so first.
    progress.step("10-router chain on the protocol cores");
    let sims: Vec<f64> = (0..if opts.quick { 5 } else { 20 })
        .map(|i| {
            sim::chain(chain::N, &t, Duration::from_millis(97 * i)).map(|d| d.as_secs_f64() * 1e3)
        })
        .collect::<Result<_>>()?;
    out.push(Figure::from_samples(
        "aospf.chain10_sim_ms",
        "AOSPF: member joins at one end of a 10-router chain → far end has it (simulated clock)",
        "ms",
        sims,
        None,
        &format!(
            "10 AOSPF cores (protocols/aospf) in a line on a simulated clock that jumps to the \
             next deadline, {} ms one-way delay per link; {tn}; router 0 starts to serve an \
             anycast /128 (AC bit) once every adjacency has been Full for a while; time until \
             router 9's core emits the member; one sample per phase of the join against the \
             Hello timers (0, 97, 194 … ms)",
            sim::LINK_DELAY.as_millis()
        ),
    ));

    progress.step("spf::compute on the 1k-router grid");
    let (r, p, m) = SPF_GRID;
    let spf_aospf = lsdb::spf_in_process(r, p, m, reps.max(5))?;
    out.push(Figure::from_samples(
        "aospf.spf_ms.1k_10k",
        "AOSPF: SPF on 1000 routers / 10000 prefixes (spf::compute)",
        "ms",
        spf_aospf.clone(),
        None,
        &format!(
            "spf::compute in this process on spf::synth::grid({r}, {p}, {m}): a \
             {w}×{w} grid of point-to-point links of metric {m}, {p} /64s spread over the \
             routers, root at a corner; the tree, next hops and the prefix routes (ECMP where \
             the grid ties); one warm-up run, then each run timed",
            w = anycast6_aospf::spf::synth::grid_width(r)
        ),
    ));

    // Hello phases make single samples spread over a Hello interval.
    let adj = adjacency::run(&t, if opts.quick { 1 } else { 9 }, progress)?;
    let hello = |v: &[adjacency::Adjacency]| v.iter().map(|a| a.hello_to_full).collect::<Vec<_>>();
    out.extend(adjacency_figures(
        &hello(&adj.0),
        &hello(&adj.1),
        &tn,
        parity,
    ));
    out.extend(exchange_figures(&adj.0, &adj.1, parity));

    let ch = chain::frr(&t, if opts.quick { 1 } else { 5 }, progress)?;
    out.push(Figure::from_samples(
        "aospf.chain10_ospf6d_ms",
        "FRR ospf6d: member joins at one end of a 10-router chain → far end has it (namespaces)",
        "ms",
        ch.clone(),
        None,
        &format!(
            "10 namespaces in a line (veth), FRR 8.4 zebra + ospf6d on each, {tn}; r0's lo is \
             a passive OSPF interface, the member is a /128 added to it (an Intra-Area-Prefix-LSA, \
             as AOSPF carries a served address); time from `ip addr add` on r0 to the /128 in \
             r9's kernel table, polled every 0.5 ms from /proc inside r9's namespace; the address \
             goes and r9 forgets it before the next repetition; the chain is left alone for {} s \
             after it comes up and between joins (MinLSInterval + 2 s, as AOSPF's)",
            SETTLE.as_secs()
        ),
    ));
    let cha = chain::anycast6(&t, if opts.quick { 1 } else { 5 }, progress)?;
    out.push(Figure::from_samples(
        "aospf.chain10_ms",
        "AOSPF: member joins at one end of a 10-router chain → far end has it (anycast6d in namespaces)",
        "ms",
        cha.clone(),
        None,
        &format!(
            "the namespaces and measurement of aospf.chain10_ospf6d_ms with anycast6d (release) \
             on each router, [aospf] on both links ({tn}); anycast6d originates its connected \
             prefixes, lo's /128s included, so the /128 added to r0's lo goes into r0's \
             Intra-Area-Prefix-LSA as with ospf6d; r9's anycast6d installs it as a kernel route \
             (proto 0xa6). A served anycast address travels in the same LSA with the AC bit and \
             ends in the RIB instead of the kernel"
        ),
    ));
    out.push(ratio_of_medians(
        "ratio.aospf_chain10_vs_ospf6d",
        "chain of 10, member joins → far end has it: anycast6d (AOSPF) / ospf6d",
        &cha,
        &ch,
        &format!(
            "median of aospf.chain10_ms / median of aospf.chain10_ospf6d_ms. {parity}. Both \
             flood the new LSA on at once and route a changed Intra-Area-Prefix-LSA without \
             a new SPF (ospf6d's incremental intra-prefix calculation; AOSPF's prefix update \
             over the last tree, docs/aospf.md §4, at the end of the call that brought the \
             LSA, no spf_delay); the rest is how fast each gets the route into the kernel \
             (anycast6d: one netlink request from its route writer; ospf6d: through zebra)"
        ),
    ));

    let perturb = if opts.quick { 3 } else { 7 };
    let (spf_frr, _, _) = lsdb::frr_peer("spf6", &t, SPF_GRID, perturb, progress)?;
    out.push(Figure::from_samples(
        "aospf.spf_ospf6d_ms.1k_10k",
        "FRR ospf6d: SPF on the same 1000 routers / 10000 prefixes",
        "ms",
        spf_frr.clone(),
        None,
        &format!(
            "ospf6d (FRR 8.4) learns spf::synth::grid({r}, {p}, {m}) from aospf-lsdb-gen (an \
             AOSPF core on a raw socket in another namespace, the grid's router 0, which \
             injects the grid's LSAs once Full); then each SIGUSR1 to the generator changes \
             the metric of the middle router's links (a new Router-LSA) and ospf6d runs SPF; \
             the figure is ospf6d's own runtime from `debug ospf6 spf time` (\"SPF runtime: \
             s sec us usec\", its ts_spf_duration, also `show ipv6 ospf6`'s \"Last SPF \
             duration\"): the tree, the intra-area prefix routes and the border-router \
             calculation, not zebra's installation. ospf6d's tree has one router more than \
             the in-process one (itself, in front of router 0)"
        ),
    ));
    out.push(ratio_of_medians(
        "ratio.aospf_spf_vs_ospf6d",
        "SPF at 1k routers / 10k prefixes: AOSPF / ospf6d",
        &spf_aospf,
        &spf_frr,
        &format!("median of aospf.spf_ms.1k_10k / median of aospf.spf_ospf6d_ms.1k_10k. {parity}"),
    ));

    out.extend(failover_figures(
        &t,
        if opts.quick { 1 } else { 5 },
        &tn,
        progress,
    )?);

    let (r, p, m) = if opts.quick {
        (1000, 20_000, 3)
    } else {
        MEM_GRID
    };
    let mem_reps = if opts.quick { 1 } else { 3 };
    let (mut mem_a, mut mem_f, mut mem_z) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..mem_reps {
        progress.step(format!(
            "memory with {p} prefixes (rep {}/{mem_reps})",
            i + 1
        ));
        mem_a.push(lsdb::aospf_peer("mema", &t, (r, p, m), progress)? as f64 / 1024.0);
        let (_, f, z) = lsdb::frr_peer("memf", &t, (r, p, m), 0, progress)?;
        mem_f.push(f as f64 / 1024.0);
        mem_z.push(z as f64 / 1024.0);
    }
    let how = format!(
        "the peer learns spf::synth::grid({r}, {p}, {m}) ({r} Router-LSAs and {r} \
         Intra-Area-Prefix-LSAs of {} /64s each) from aospf-lsdb-gen over a veth; VmRSS when \
         Full (nothing learned yet) subtracted from VmRSS once only Hellos have crossed the \
         link for 3 s (everything flooded, acknowledged, SPF run, routes computed)",
        p / r
    );
    let id = format!("{}k", p / 1000);
    out.push(Figure::from_samples(
        &format!("aospf.mem_mib.{id}"),
        &format!("AOSPF: memory holding an LSDB with {p} prefixes"),
        "MiB",
        mem_a.clone(),
        None,
        &format!(
            "{how}; the peer is an AOSPF core (aospf-lsdb-gen without a grid, \
             protocols/aospf's Instance on a raw socket): LSDB, SPF result, the routes it \
             emitted for the kernel (counted, not installed)"
        ),
    ));
    out.push(Figure::from_samples(
        &format!("aospf.mem_ospf6d_mib.{id}"),
        &format!("FRR ospf6d: memory holding an LSDB with {p} prefixes"),
        "MiB",
        mem_f.clone(),
        None,
        &format!(
            "{how}; the peer is FRR 8.4 ospf6d (its VmRSS only; zebra, which installs the \
             routes in the kernel, grew by {:.1} MiB more)",
            median(&mem_z)
        ),
    ));
    out.push(ratio_of_medians(
        &format!("ratio.aospf_mem_vs_ospf6d.{id}"),
        &format!("memory with {p} prefixes: AOSPF / ospf6d"),
        &mem_a,
        &mem_f,
        &format!("median of aospf.mem_mib.{id} / median of aospf.mem_ospf6d_mib.{id}. {parity}"),
    ));
    Ok(out)
}

fn adjacency_figures(aospf: &[f64], frr: &[f64], tn: &str, parity: &str) -> Vec<Figure> {
    let how = format!(
        "an FRR 8.4 ospf6d observer and a subject in two namespaces joined by a veth, {tn}; \
         the observer's log (microsecond timestamps) gives the time from its [Down]->[Init] for \
         the subject (the subject's first Hello arrived) to ->[Full]; subjects alternate and \
         each is killed, and forgotten by the observer (dead interval), before the next starts"
    );
    vec![
        Figure::from_samples(
            "aospf.adjacency_ms",
            "AOSPF: adjacency up, Hello → Full (seen by an ospf6d neighbour)",
            "ms",
            aospf.to_vec(),
            None,
            &format!(
                "{how}; subject: the AOSPF core on a raw socket (aospf-lsdb-gen without a grid)"
            ),
        ),
        Figure::from_samples(
            "aospf.adjacency_ospf6d_ms",
            "FRR ospf6d: adjacency up, Hello → Full (seen by an ospf6d neighbour)",
            "ms",
            frr.to_vec(),
            None,
            &format!("{how}; subject: FRR 8.4 zebra + ospf6d"),
        ),
        ratio_of_medians(
            "ratio.aospf_adjacency_vs_ospf6d",
            "adjacency Hello → Full: AOSPF / ospf6d, same timers",
            aospf,
            frr,
            &format!(
                "median of aospf.adjacency_ms / median of aospf.adjacency_ospf6d_ms. {parity}. \
                 Each sample holds up to a Hello interval (1 s) of waiting for the other \
                 side's next Hello, which only the phases of the two Hello timers decide, so \
                 the samples of both spread over 0–1 s and this ratio of medians mostly \
                 reflects those phases; the exchange figures (ExStart → Full) are the part \
                 the implementations decide"
            ),
        ),
    ]
}

fn failover_figures(t: &Timers, reps: usize, tn: &str, progress: &Progress) -> Result<Vec<Figure>> {
    use failover::{ARD_HOLD_MS, ARD_REPORT_MS, BFD_MULT};
    let (a, f, b) = failover::run(t, reps, progress)?;
    let how = format!(
        "client — u, u — r1 (cost 10) — m1, u — r2 (cost 20) — m2 in namespaces, OSPF on \
         u–r1 and u–r2 ({tn}); probe: one UDP datagram per ms on one flow to the anycast \
         address, answered by the member; hard failure: SIGKILL of m1's routing agent and its \
         anycast address removed at once; gap = longest run of unanswered probes × 1 ms; m1 \
         comes back before the next repetition"
    );
    Ok(vec![
        Figure::from_samples(
            "aospf.failover_hard_ms",
            "AOSPF: hard member failure behind a router → traffic moved (anycast6d)",
            "ms",
            a.clone(),
            None,
            &format!(
                "{how}; anycast6d (release) on u, r1, r2 with [aospf] and XDP on every \
                 interface; m1 and m2 run anycast6d's member role and announce the address \
                 by ARD to r1 / r2 (hold {ARD_HOLD_MS} ms, reports every {ARD_REPORT_MS} ms), \
                 which serve it and originate it with the AC bit; r1 stops serving it when \
                 ARD's hold runs out, its new Intra-Area-Prefix-LSA reaches u, u's SPF moves \
                 the route to r2"
            ),
        ),
        Figure::from_samples(
            "aospf.failover_ospf6d_hard_ms",
            "FRR ospf6d: hard member failure behind a router → traffic moved",
            "ms",
            f.clone(),
            None,
            &format!(
                "{how}; FRR 8.4 zebra + ospf6d on all five nodes (the members run OSPF on \
                 their link to r1 / r2 with the same timers and advertise the /128 from a \
                 passive lo), kernel forwarding; r1 notices m1's death when the dead interval \
                 runs out; SIGKILL of m1's zebra and ospf6d"
            ),
        ),
        Figure::from_samples(
            "aospf.failover_ospf6d_bfd_hard_ms",
            "FRR ospf6d + BFD: hard member failure behind a router → traffic moved",
            "ms",
            b.clone(),
            None,
            &format!(
                "as aospf.failover_ospf6d_hard_ms with FRR's bfdd on r1, r2, m1, m2 and `ipv6 \
                 ospf6 bfd` on the member links: transmit and receive interval \
                 {ARD_REPORT_MS} ms, detect multiplier {BFD_MULT} (detection after \
                 {} ms, ARD's hold); SIGKILL of m1's bfdd too",
                ARD_REPORT_MS * BFD_MULT
            ),
        ),
        Figure::from_samples(
            "ratio.aospf_failover_vs_ospf6d",
            "hard member failure: AOSPF / ospf6d, same OSPF timers",
            "ratio",
            vec![median(&a) / median(&f)],
            at_most(0.5),
            "median of aospf.failover_hard_ms / median of aospf.failover_ospf6d_hard_ms \
             (issue 13: at most half of ospf6d's gap with equal timers)",
        ),
        Figure::from_samples(
            "ratio.aospf_failover_vs_ospf6d_bfd",
            "hard member failure: AOSPF / ospf6d with BFD",
            "ratio",
            vec![median(&a) / median(&b)],
            at_most(1.0),
            "median of aospf.failover_hard_ms / median of aospf.failover_ospf6d_bfd_hard_ms \
             (issue 13: the same or better than ospf6d with BFD, AOSPF with its own fast \
             timers: ARD's hold, the same detection time as BFD here). The two paths after \
             detection: AOSPF — r1 stops serving the address, originates a new \
             Intra-Area-Prefix-LSA, u routes it over its last tree at once (a prefix update, \
             no SPF) and its RIB moves the member, the FIB follows; ospf6d — bfdd tells \
             ospf6d, r1 drops the adjacency and originates a new Router-LSA, u runs SPF after \
             its throttle delay (50 ms) and zebra replaces the kernel route",
        ),
    ])
}

fn exchange_figures(
    aospf: &[adjacency::Adjacency],
    frr: &[adjacency::Adjacency],
    parity: &str,
) -> Vec<Figure> {
    let aospf: Vec<f64> = aospf.iter().map(|a| a.exstart_to_full).collect();
    let frr: Vec<f64> = frr.iter().map(|a| a.exstart_to_full).collect();
    let how = "the adjacencies of aospf.adjacency_ms / aospf.adjacency_ospf6d_ms, from the \
               observer's ->[ExStart] for the subject (each has seen the other in a Hello) to \
               its ->[Full]: master/slave negotiation, Database Description exchange, LS \
               Requests and Updates of a few LSAs";
    vec![
        Figure::from_samples(
            "aospf.adjacency_exchange_ms",
            "AOSPF: database exchange, ExStart → Full (seen by an ospf6d neighbour)",
            "ms",
            aospf.clone(),
            None,
            &format!("{how}; subject: the AOSPF core on a raw socket"),
        ),
        Figure::from_samples(
            "aospf.adjacency_exchange_ospf6d_ms",
            "FRR ospf6d: database exchange, ExStart → Full (seen by an ospf6d neighbour)",
            "ms",
            frr.clone(),
            None,
            &format!("{how}; subject: FRR 8.4 zebra + ospf6d"),
        ),
        ratio_of_medians(
            "ratio.aospf_adjacency_exchange_vs_ospf6d",
            "database exchange ExStart → Full: AOSPF / ospf6d, same timers",
            &aospf,
            &frr,
            &format!(
                "median of aospf.adjacency_exchange_ms / median of \
                 aospf.adjacency_exchange_ospf6d_ms. {parity}. Both take a few tenths of a \
                 millisecond, read from the observer's log (microsecond stamps) on a shared \
                 2-core machine: the ranges of the two overlap, and the ratio has fallen on \
                 either side of 1 from one run to the next (0.900 at d63f570b, 1.324 at \
                 1248fb43); it is a figure of the exchange's cost, not of convergence"
            ),
        ),
    ]
}
