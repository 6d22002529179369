//! Group update under load: 10k anycast addresses, each its own group of
//! two members (sinks A and B), carry paced established traffic while all
//! 10k groups and routes are republished; every frame must arrive, and at
//! the member its flow had before.
//!
//! Exact accounting:
//! - The generator numbers frames (its per-CPU counter; it runs on one CPU)
//!   and frame s belongs to flow s % F, with F = 2 flows per address; the
//!   flow index is the UDP source port, which each sink counts per flow.
//! - Warm-up gives every flow its member ("home": the one sink that saw
//!   it); a flow seen by two sinks is an error before anything changed.
//! - During the measured phase the generator sends frames s0..s1 (read
//!   before and after), so flow f was sent exactly |{s in s0..s1 : s % F = f}|
//!   frames; lost = sent - arrived (all sinks), misrouted = frames that
//!   arrived at a sink other than the flow's home.
//! - The rate is paced well under the DUT's capacity so queues do not
//!   overflow by themselves; veth drop counters and the program's reason
//!   counters say where any loss happened.
//!
//! The change alternates per repetition: republish every group as
//! [A, B, C] (a member added: its Maglev table changes, flows must stay by
//! affinity) and as [B, A] (C removed, the others reordered: affinity
//! finds members by id), each time also rewriting all 10k routes.

use std::time::{Duration, Instant};

use anycast6_dataplane::{abi::Reason, loader::Capacities, Action, MemberSpec, Route};
use anyhow::{bail, Result};

use super::dut::{self, Dut, Mode};
use super::load;
use super::ns::{self, LinkStats, GEN_CPU};
use super::progs::{Generator, Sink, Traffic};
use super::topo::{Topo, DST_BASE, DST_PORT, SRC_BASE};
use super::Plan;
use crate::cleanup;
use crate::figure::{equal, Figure};

/// Anycast addresses (and groups) changed at once.
pub const ADDRS: u32 = 10_000;
/// Flows per address.
const FLOWS_PER_ADDR: u32 = 2;
/// Group of address i.
fn group_id(i: u32) -> u32 {
    2 + i
}

/// One repetition's accounting.
#[derive(Debug, Clone, Default)]
struct Rep {
    change: &'static str,
    change_ms: f64,
    sent: u64,
    arrived: u64,
    misrouted: u64,
    /// Flows with at least one frame lost or misrouted.
    flows_hit: u64,
    /// Drops at the generator's veth ring (frames that never reached the DUT).
    ring_drops: u64,
    /// Frames the forwarding program did not forward, by reason.
    not_forwarded: Vec<(Reason, u64)>,
    /// The same stretch without the change, just before.
    control_ring_drops: u64,
    control_lost_in_dut: u64,
}

impl Rep {
    /// Frames that reached the DUT (were not dropped by the generator's
    /// veth ring, i.e. the DUT's ingress queue) and did not arrive.
    fn lost_in_dut(&self) -> u64 {
        self.sent
            .saturating_sub(self.ring_drops)
            .saturating_sub(self.arrived)
    }
}

fn per_flow(sinks: &[Sink]) -> Result<Vec<Vec<u64>>> {
    sinks.iter().map(Sink::per_flow).collect()
}

fn reasons(d: &mut Dut) -> Result<Vec<(Reason, u64)>> {
    Ok(d.dataplane()
        .fib()
        .reason_counters()?
        .into_iter()
        .map(|(r, p, _)| (r, p))
        .collect())
}

/// Frames of flow `f` among sequence numbers s0..s1 (flows repeat every `n`).
fn expected(f: u64, n: u64, s0: u64, s1: u64) -> u64 {
    let count_below = |s: u64| s / n + u64::from(s % n > f);
    count_below(s1) - count_below(s0)
}

/// Publishes every group with `members` and rewrites every route.
fn change(d: &mut Dut, members: &[MemberSpec]) -> Result<Duration> {
    let fib = d.dataplane().fib();
    let t = Instant::now();
    for i in 0..ADDRS {
        fib.publish_group(group_id(i), members)?;
    }
    for i in 0..ADDRS {
        fib.set_route(Route::Host(dut::dst(i)), group_id(i))?;
    }
    Ok(t.elapsed())
}

/// The rate: a third of anycast6's established capacity measured before,
/// at most 1 Mpps (the sinks also count per flow here).
pub fn rate(established_pps: Option<f64>) -> f64 {
    established_pps.map_or(5e5, |c| (c / 3.0).clamp(1e5, 1e6))
}

pub fn measure(plan: &Plan, pps: f64, progress: &dyn Fn(&str)) -> Result<Vec<Figure>> {
    let flows = ADDRS * FLOWS_PER_ADDR;
    let topo = Topo::build(3)?;
    let sinks = topo.attach_sinks(flows)?;
    let mut gen = Generator::load()?;
    ns::in_ns(&topo.gen, || gen.park(&topo.park_if))?;
    let caps = Capacities {
        maglev_blocks: 1 << 18,
        ..Capacities::default()
    };
    let mut d = Dut::new(&topo, caps, 0)?;
    let [a, b, c] =
        [0u32, 1, 2].map(|n| dut::member(n + 1, &topo.egress[n as usize], Action::Rewrite));
    progress("traffic: update under load: publishing 10k groups");
    change(&mut d, &[a, b])?;
    d.set(Mode::Anycast(Action::Rewrite))?;
    if !topo.place_napi()? {
        bail!("the DUT's NAPI thread was not found");
    }
    gen.configure(
        &Traffic {
            frame_size: plan.frame_size,
            flows,
            n_dst: ADDRS,
            new_per_mille: 0,
            src_mac: topo.gen_mac,
            dst_mac: topo.dut_in_mac,
            src: SRC_BASE,
            dst: DST_BASE,
            dst_port: DST_PORT,
        },
        topo.gen_ifindex,
    )?;

    // Warm-up: every flow gets its member (a flow whose frames were all
    // lost, e.g. to a busy machine, gets another round).
    let mut counts = Vec::new();
    for _ in 0..5 {
        let warm_frames = u64::from(flows) * 4;
        load::with_load(&topo, &gen, pps, |_| {
            let start = gen.sent()?;
            while gen.sent()? - start < warm_frames {
                cleanup::sleep(Duration::from_millis(20))?;
            }
            Ok(())
        })?;
        cleanup::sleep(Duration::from_millis(100))?;
        counts = per_flow(&sinks)?;
        if (0..flows as usize).all(|f| counts.iter().any(|c| c[f] > 0)) {
            break;
        }
    }
    let mut home = vec![usize::MAX; flows as usize];
    for (f, h) in home.iter_mut().enumerate() {
        let seen: Vec<usize> = (0..sinks.len()).filter(|&s| counts[s][f] > 0).collect();
        match seen.as_slice() {
            [s] if *s < 2 => *h = *s,
            _ => bail!("warm-up: flow {f} arrived at sinks {seen:?} (want exactly one of A, B)"),
        }
    }

    let secs = plan.update_secs;
    let p = Phase {
        topo: &topo,
        gen: &gen,
        sinks: &sinks,
        home: &home,
        flows,
        pps,
        secs,
        max_wait: plan.search.max_wait,
        idle_probe: plan.search.idle_probe,
    };
    let mut reps = Vec::new();
    for rep in 0..plan.update_reps {
        cleanup::check()?;
        let (what, members): (&'static str, Vec<MemberSpec>) = if rep % 2 == 0 {
            ("republish [A, B, C]", vec![a, b, c])
        } else {
            ("republish [B, A]", vec![b, a])
        };
        progress(&format!(
            "traffic: update under load: {what} (rep {}/{})",
            rep + 1,
            plan.update_reps
        ));
        let control = p.run(&mut d, "no change", None)?;
        let mut r = p.run(&mut d, what, Some(&members))?;
        r.control_ring_drops = control.ring_drops;
        r.control_lost_in_dut = control.lost_in_dut() + control.misrouted;
        reps.push(r);
    }
    Ok(figures(plan, pps, &reps))
}

/// One measured stretch of paced traffic, with or without the change.
struct Phase<'a> {
    topo: &'a Topo,
    gen: &'a Generator,
    sinks: &'a [Sink],
    home: &'a [usize],
    flows: u32,
    pps: f64,
    secs: f64,
    max_wait: Duration,
    idle_probe: Duration,
}

impl Phase<'_> {
    fn run(&self, d: &mut Dut, what: &'static str, members: Option<&[MemberSpec]>) -> Result<Rep> {
        let (topo, gen, sinks) = (self.topo, self.gen, self.sinks);
        ns::wait_idle(self.max_wait, self.idle_probe)?;
        // Counters before the generator starts and after it stopped: every
        // frame of the phase is between the two reads.
        let seq0 = gen.sent()?;
        let before = (
            per_flow(sinks)?,
            reasons(d)?,
            LinkStats::read(&topo.gen, &topo.gen_if)?,
        );
        let secs = self.secs;
        let took = load::with_load(topo, gen, self.pps, |_| {
            let t0 = Instant::now();
            cleanup::sleep(Duration::from_secs_f64(secs / 4.0))?;
            let took = match members {
                Some(m) => {
                    let _pin = ns::PinGuard::new(GEN_CPU)?;
                    change(d, m)?
                }
                None => Duration::ZERO,
            };
            let rest = Duration::from_secs_f64(secs).saturating_sub(t0.elapsed());
            cleanup::sleep(rest.max(Duration::from_secs_f64(secs / 4.0)))?;
            Ok(took)
        })?;
        // The generator has stopped (its thread is joined); let the frames
        // in flight land.
        let s1 = gen.sent()?;
        cleanup::sleep(Duration::from_millis(200))?;
        let after = (
            per_flow(sinks)?,
            reasons(d)?,
            LinkStats::read(&topo.gen, &topo.gen_if)?,
        );
        let mut r = Rep {
            change: what,
            change_ms: took.as_secs_f64() * 1e3,
            ring_drops: after.2.delta(&before.2).tx_dropped,
            ..Rep::default()
        };
        for f in 0..self.flows as usize {
            let want = expected(f as u64, u64::from(self.flows), seq0, s1);
            let mut got = 0;
            let mut wrong = 0;
            for s in 0..sinks.len() {
                let dlt = after.0[s][f] - before.0[s][f];
                got += dlt;
                if s != self.home[f] {
                    wrong += dlt;
                }
            }
            r.sent += want;
            r.arrived += got;
            r.misrouted += wrong;
            if got < want || wrong > 0 {
                r.flows_hit += 1;
            }
        }
        r.not_forwarded = after
            .1
            .iter()
            .zip(&before.1)
            .filter(|(x, _)| x.0 != Reason::FwdRewrite)
            .map(|(x, y)| (x.0, x.1 - y.1))
            .filter(|x| x.1 > 0)
            .collect();
        Ok(r)
    }
}

fn figures(plan: &Plan, pps: f64, reps: &[Rep]) -> Vec<Figure> {
    let detail: Vec<String> = reps
        .iter()
        .map(|r| {
            let nf: Vec<String> = r
                .not_forwarded
                .iter()
                .map(|(why, n)| format!("{} {n}", why.name()))
                .collect();
            format!(
                "{}: {:.0} ms, sent {}, arrived {}, misrouted {}, dropped by the DUT's full \
                 ingress queue {} (control stretch without a change: {}), lost inside the DUT {} \
                 (control: {}), not forwarded by the program [{}]",
                r.change,
                r.change_ms,
                r.sent,
                r.arrived,
                r.misrouted,
                r.ring_drops,
                r.control_ring_drops,
                r.lost_in_dut(),
                r.control_lost_in_dut,
                nf.join(", ")
            )
        })
        .collect();
    let how = format!(
        "{ADDRS} anycast addresses, each its own group of members A and B (sinks on separate \
         DUT links), {FLOWS_PER_ADDR} established UDP flows per address warmed up first; paced \
         traffic at {:.0} kpps (a third of the established capacity, at most 1 Mpps) for {} s, \
         the change applied after a quarter of it (all {ADDRS} groups republished with \
         FibWriter::publish_group, then all {ADDRS} routes rewritten, from a thread on the \
         generator's CPU), each repetition preceded by a control stretch without a change; \
         frames numbered by the generator and counted per flow at each sink: misrouted = \
         arrived at a sink other than the flow's member before the change; lost inside the DUT \
         = sent - arrived - frames the generator's veth dropped because the DUT's ingress queue \
         (a 256-frame veth ring) was full (kernel counter, exact). The figure is misrouted + lost \
         inside the DUT: queue overflow happens before the forwarding program sees a frame, \
         also without any change (at this load the DUT's NAPI thread sleeps between frames, and \
         any delay in waking it longer than the ring lasts, 256 frames at this rate, overflows \
         it; compare each control stretch); per repetition: {}",
        pps / 1e3,
        plan.update_secs,
        detail.join("; ")
    );
    vec![
        Figure::from_samples(
            "update_under_load.lost_or_misrouted",
            "lost or misrouted packets during a 10k-entry update",
            "count",
            reps.iter()
                .map(|r| (r.lost_in_dut() + r.misrouted) as f64)
                .collect(),
            equal(0.0),
            &how,
        ),
        Figure::from_samples(
            "update_under_load.ingress_queue_drops",
            "frames dropped by the DUT's full ingress queue during the update",
            "count",
            reps.iter().map(|r| r.ring_drops as f64).collect(),
            None,
            &format!(
                "before the forwarding program, not counted as lost above; control stretches \
                 without a change: {:?}; {how}",
                reps.iter()
                    .map(|r| r.control_ring_drops)
                    .collect::<Vec<_>>()
            ),
        ),
        Figure::from_samples(
            "update_under_load.change_ms",
            "time to republish 10k groups and routes under load",
            "ms",
            reps.iter().map(|r| r.change_ms).collect(),
            None,
            "wall time of each repetition's change (10k publish_group + 10k set_route calls, one \
             system call or more each) while traffic flows",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::expected;

    #[test]
    fn frames_per_flow_in_a_range() {
        let n = 7;
        for (s0, s1) in [(0, 0), (0, 7), (3, 20), (13, 14), (6, 50)] {
            let mut want = vec![0u64; n as usize];
            for s in s0..s1 {
                want[(s % n) as usize] += 1;
            }
            for f in 0..n {
                assert_eq!(
                    expected(f, n, s0, s1),
                    want[f as usize],
                    "{s0}..{s1} flow {f}"
                );
            }
        }
    }
}
