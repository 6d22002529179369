//! The MGA benchmark (issue 15): RTT and path stretch through the home
//! agent and route-optimised, the home agent's forwarding rate, the time
//! from registration to the first packet, and member death → new flows on
//! the other member; each against a baseline of the same run. No anycast
//! router anywhere: the topology of tests/tests/mga.rs (net.rs).
//!
//! ```text
//!  path      RTT of one flow to A via the home agent (reverse tunnel) and
//!            route-optimised, vs unicast to the member; links          path.rs
//!  rate      UDP flood C → A encapsulated by the home agent's XDP fast
//!            path vs the same flood forwarded by its kernel (to Y)     rate.rs
//!  register  member's anycast6d started → first answered probe         register.rs
//!  death     member SIGKILLed (lifetime 8 s, 4 s) / SIGTERMed → all
//!            new flows on the other member                             register.rs
//! ```
//! `A6B_MGA_PARTS=path,rate,register,death` (default: all) runs only some.

mod net;
mod path;
mod probe;
mod rate;
mod register;

use std::net::Ipv6Addr;
use std::time::Duration;

use anyhow::Result;

use crate::figure::{at_least, at_most, equal, Figure};
use crate::progress::Progress;
use crate::Opts;
use register::Death;

/// The anycast address (home prefix 2001:db8:1::/64), its echo port, and
/// the port of the flood's sinks.
pub const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xa);
pub const PORT: u16 = 7000;
pub const SINK_PORT: u16 = 7002;

const TOPO: &str = "C ─ R1 ─ R2 ─ HA with M1 behind R1 and M2 behind R2 (tests/tests/mga.rs) in \
                    namespaces (veth), R1 and R2 plain kernel routers with static routes to \
                    prefixes only (nobody routes A: the home prefix goes to the home link), \
                    anycast6d (release) as home agent (XDP native on its home link) and as \
                    members (keyed MN-HA, decap XDP, reverse tunnel on)";

/// Whether `part` runs (`A6B_MGA_PARTS`).
fn part(name: &str) -> bool {
    std::env::var("A6B_MGA_PARTS").map_or(true, |v| v.split(',').any(|p| p.trim() == name))
}

pub fn run(opts: Opts, progress: &Progress) -> Result<Vec<Figure>> {
    crate::failover::use_release_binaries()?;
    let q = opts.quick;
    let mut out = Vec::new();
    if part("path") {
        let (rounds, n) = (if q { 2 } else { 5 }, 200);
        let ha = path::run(false, rounds, n, progress)?;
        let ro = path::run(true, rounds, n, progress)?;
        out.extend(path_figures(&ha, &ro, rounds, n));
    }
    if part("rate") {
        let (reps, window) = if q {
            (2, Duration::from_secs(1))
        } else {
            (5, Duration::from_secs(2))
        };
        out.extend(rate_figures(&rate::run(reps, window, progress)?, window));
    }
    if part("register") {
        out.extend(join_figures(&register::join(
            if q { 3 } else { 7 },
            progress,
        )?));
    }
    if part("death") {
        let reps = if q { 2 } else { 5 };
        let mut lifetimes = vec![8];
        if !q {
            lifetimes.push(4);
        }
        for l in lifetimes {
            let v = register::death(l, Death::Kill, reps, progress)?;
            out.extend(death_figures(l, &v));
        }
        let v = register::death(8, Death::Term, reps, progress)?;
        out.push(Figure::from_samples(
            "mga.member_stop_ms",
            "MGA: member stops cleanly (SIGTERM) → all new flows on the other member",
            "ms",
            v,
            at_most(500.0),
            &format!(
                "{TOPO}; lifetime_s = 8; M1's anycast6d SIGTERMed (it sends a Binding Update of \
                 lifetime 0 at exit) and its servers stopped at the same moment; then {} fresh \
                 flows asked at once every ~{} ms until all are answered by M2. Target ≤ 500 \
                 ms (about immediate: the deregistration, the home agent's FIB write and one \
                 poll)",
                register::POLL_FLOWS,
                register::POLL_WAIT.as_millis()
            ),
        ));
    }
    Ok(out)
}

fn path_figures(ha: &path::PathRun, ro: &path::PathRun, rounds: usize, n: usize) -> Vec<Figure> {
    use path::{LINKS_DIRECT, LINKS_HA, LINKS_RO};
    let how = format!(
        "{TOPO}; median round trip of {n} UDP echoes on one flow from C to A that M2 serves (one \
         every ~1 ms) per round, {rounds} rounds, each followed by a round to M2's own address \
         (2001:db8:3::2, the same server process) from the next source port"
    );
    let stretch = |r: &path::PathRun| -> Vec<f64> {
        r.anycast_us
            .iter()
            .zip(&r.unicast_us)
            .map(|(a, u)| a / u)
            .collect()
    };
    vec![
        Figure::from_samples(
            "mga.stretch_ha",
            "MGA path stretch through the home agent: links C → member / unicast",
            "ratio",
            vec![LINKS_HA as f64 / LINKS_DIRECT as f64],
            None,
            &format!(
                "{LINKS_HA} / {LINKS_DIRECT} links by construction: C ─ R1 ─ R2 ─ HA, tunnelled \
                 HA ─ R2 ─ M2, against C ─ R1 ─ R2 ─ M2; the answers take M2 ─ R2 ─ HA (reverse \
                 tunnel) ─ R2 ─ R1 ─ C, also 5 against 3. M1's flows would be 6 / 2. Counted, \
                 not measured (no tshark cross-check in this scenario)"
            ),
        ),
        Figure::from_samples(
            "mga.stretch_ro",
            "MGA path stretch route-optimised: links C → member / unicast",
            "ratio",
            vec![LINKS_RO as f64 / LINKS_DIRECT as f64],
            equal(1.0),
            &format!(
                "{LINKS_RO} / {LINKS_DIRECT} links: the correspondent's tc program sends the \
                 flow to the care-of address (type 2 routing header), the member answers from \
                 it (Home Address option), both over plain unicast routing; checked by the home \
                 agent's fast path counting {} packets of A's group during the route-optimised \
                 rounds (against {} during the rounds through it)",
                ro.ha_packets, ha.ha_packets
            ),
        ),
        Figure::from_samples(
            "mga.rtt_ha_us",
            "MGA RTT of a flow to A through the home agent (reverse tunnel)",
            "us",
            ha.anycast_us.clone(),
            None,
            &format!("{how}; members with route_optimisation = false, no correspondent daemon"),
        ),
        Figure::from_samples(
            "mga.rtt_ro_us",
            "MGA RTT of the flow after route optimisation",
            "us",
            ro.anycast_us.clone(),
            None,
            &format!(
                "{how}; a second build with route_optimisation = true (ro_after_ms 300) and a \
                 correspondent daemon on C: the rounds start once C holds the flow's binding"
            ),
        ),
        Figure::from_samples(
            "mga.rtt_unicast_us",
            "RTT to the member's unicast address (both builds)",
            "us",
            ha.unicast_us
                .iter()
                .chain(&ro.unicast_us)
                .copied()
                .collect(),
            None,
            &format!("{how}; kernel forwarding on R1 and R2 only, no tunnel, no MGA header"),
        ),
        Figure::from_samples(
            "ratio.mga_rtt_ha_vs_unicast",
            "RTT through the home agent / unicast to the member",
            "ratio",
            stretch(ha),
            None,
            "mga.rtt_ha_us over the unicast round that follows each (same build)",
        ),
        Figure::from_samples(
            "ratio.mga_rtt_ro_vs_unicast",
            "RTT route-optimised / unicast to the member",
            "ratio",
            stretch(ro),
            at_most(1.2),
            "mga.rtt_ro_us over the unicast round that follows each (same build). Target ≤ \
             1.2: the same links as unicast; the tc egress and XDP ingress programs at both \
             ends (24 octets inserted or removed) cost microseconds of an RTT of tens",
        ),
        Figure::ratio(
            "ratio.mga_rtt_ro_vs_ha",
            "RTT stretch route-optimised / through the home agent (each over its build's unicast)",
            &stretch(ro),
            &stretch(ha),
            at_most(1.0),
            "(rtt_ro / rtt_unicast of its build) / (rtt_ha / rtt_unicast of its build), round \
             by round. Target ≤ 1: two links, the home agent's encapsulation and its kernel's \
             forwarding of the reverse tunnel fewer",
        ),
    ]
}

fn rate_figures(r: &rate::RateRun, window: Duration) -> Vec<Figure> {
    let how = format!(
        "{TOPO}; only M2 registered; one UDP flow of 64-octet datagrams from C, sent by one \
         thread as fast as it goes for {} s per window, windows alternating; packets/s \
         received on M2's interface (ip -s link) over the window; everything runs on the \
         machine's 2 cores (sender, R1, R2, the home agent, M2 in softirq), so the rate is the \
         whole chain's and the home agent's share of it is diluted",
        window.as_secs()
    );
    let med = |v: &[f64]| Figure::from_samples("", "", "", v.to_vec(), None, "").median;
    vec![
        Figure::from_samples(
            "mga.ha_encap_pps",
            "MGA home agent: packets/s encapsulated by its XDP fast path (delivered at the member)",
            "pps",
            r.encap_pps.clone(),
            None,
            &format!(
                "{how}; to A: the home agent's XDP program encapsulates each to M2's care-of \
                 address and sends it back out of its home link; C offered {:.0} pps (median); \
                 A's group counter at the home agent counted {:.3} of the packets M2 received; \
                 {:.3} of what C sent was dropped by R2's veth toward the home agent (its \
                 receive ring full: the home agent's NAPI did not keep up)",
                med(&r.encap_sent_pps),
                r.counted_share,
                r.encap_dropped_share
            ),
        ),
        Figure::from_samples(
            "mga.ha_kernel_pps",
            "baseline: the same flood forwarded by the home agent's kernel",
            "pps",
            r.kernel_pps.clone(),
            None,
            &format!(
                "{how}; to Y (2001:db8:3::99 on M2's lo): R2 routes it to the home agent, whose \
                 XDP program passes it (not in its FIB) and whose kernel forwards it back out of \
                 the home link, R2 (policy rule on iif r2-ha) on to M2: the same links as A's \
                 packets; C offered {:.0} pps (median), {:.3} of it dropped by R2's veth toward \
                 the home agent. The suite's own XDP encapsulation figure (traffic: \
                 pps.anycast6_encap, ratio.encap_vs_rewrite) needs the live-frames rig of the \
                 traffic scenario and is not rerun here",
                med(&r.kernel_sent_pps),
                r.kernel_dropped_share
            ),
        ),
        Figure::ratio(
            "ratio.mga_ha_encap_vs_kernel",
            "home agent forwarding: XDP encapsulation / kernel forwarding",
            &r.encap_pps,
            &r.kernel_pps,
            at_least(1.0),
            "mga.ha_encap_pps / mga.ha_kernel_pps, window by window. Target ≥ 1: the fast path \
             encapsulates in XDP, which costs less than the kernel's forwarding of a plain \
             packet, though the encapsulated packet is 40 octets longer and M2 decapsulates it",
        ),
    ]
}

fn join_figures(v: &[f64]) -> Vec<Figure> {
    vec![Figure::from_samples(
        "mga.register_first_packet_ms",
        "MGA: member's anycast6d started → its first answered probe (home agent up, no other member)",
        "ms",
        v.to_vec(),
        at_most(1000.0),
        &format!(
            "{TOPO}; time from just before M1's anycast6d is started to the first UDP probe to A \
             answered by it; a probe every {} ms from C, each from a fresh source port; M1's \
             server is bound to A beforehand (ip_nonlocal_bind); M1 stops cleanly and the home \
             agent holds no binding before the next repetition. Target ≤ 1 s: the daemon's \
             start (BPF programs loaded and attached), one Binding Update and its \
             acknowledgement, one FIB write; no protocol timer on the path",
            register::PROBE_EVERY.as_millis()
        ),
    )]
}

fn death_figures(lifetime_s: u32, v: &[f64]) -> Vec<Figure> {
    let ms = lifetime_s as f64 * 1000.0;
    vec![
        Figure::from_samples(
            &format!("mga.member_death_ms.lifetime{lifetime_s}"),
            &format!(
                "MGA: member SIGKILLed → all new flows on the other member (lifetime {lifetime_s} s)"
            ),
            "ms",
            v.to_vec(),
            at_most(ms),
            &format!(
                "{TOPO}; lifetime_s = {lifetime_s} (granted as asked; the member refreshes at \
                 half of it, so the binding lapses between {} and {lifetime_s} s after the \
                 kill); M1's anycast6d SIGKILLed (no deregistration) and its servers stopped, \
                 at a uniformly random point of its refresh period; \
                 then {} fresh flows asked at once every ~{} ms until all are answered by M2; M1 \
                 comes back and fresh flows reach both before the next repetition. Target ≤ the \
                 granted lifetime",
                lifetime_s / 2,
                register::POLL_FLOWS,
                register::POLL_WAIT.as_millis()
            ),
        ),
        Figure::from_samples(
            &format!("ratio.mga_member_death_vs_lifetime.lifetime{lifetime_s}"),
            &format!("member death → new flows served / granted lifetime ({lifetime_s} s)"),
            "ratio",
            v.iter().map(|x| x / ms).collect(),
            at_most(1.0),
            "the figure above over the lifetime granted: detection is the binding's expiry, \
             nothing sooner (no health check reaches the home agent from a dead daemon)",
        ),
    ]
}
