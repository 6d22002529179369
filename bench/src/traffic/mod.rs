//! The traffic half of the benchmark suite (issue 4): live-frames traffic
//! through gen → DUT → sink, the forwarding program's BPF_PROG_TEST_RUN
//! cost per fixture, and a group update under load.
//!
//! ```text
//!  run ─► wait for other test suites to finish (pgrep)
//!      ─► pps      scenarios 1-6, packets/s against flows (pps, dut, load, topo, afxdp)
//!          └─► profile  when a target is missed: where the DUT's CPU goes (profile)
//!      ─► testrun  ns/packet per dataplane fixture vs minimal    (testrun)
//!      ─► update   10k groups republished under paced traffic    (update)
//! ```
//!
//! Our own XDP programs (generator, sink, minimal forwarder) are in
//! bench/ebpf/, loaded by progs.rs; namespaces and CPU placement in ns.rs
//! and topo.rs.

mod afxdp;
mod dut;
mod load;
mod ns;
mod pps;
mod profile;
mod progs;
mod testrun;
mod topo;
mod update;

use std::time::Duration;

use anyhow::{bail, Result};

use crate::figure::Figure;

/// What the framework asks of the traffic scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficOpts {
    /// CI smoke mode: fewer and shorter repetitions.
    pub quick: bool,
    /// Distinct established flows of the generator (at least 1).
    pub flows: u32,
    /// Ethernet frame size in bytes, without FCS (at least 64).
    pub frame_size: u32,
    /// Repetitions per measured figure (at least 5 outside quick mode).
    pub reps: usize,
    /// The longest wait for other test suites to finish (None: 1800 s,
    /// 10 s in quick mode).
    pub max_wait: Option<Duration>,
}

impl Default for TrafficOpts {
    fn default() -> Self {
        TrafficOpts {
            quick: false,
            flows: 4096,
            frame_size: 64,
            reps: 5,
            max_wait: None,
        }
    }
}

/// The options turned into durations and sizes.
#[derive(Debug, Clone)]
pub struct Plan {
    pub quick: bool,
    pub flows: u32,
    pub frame_size: u32,
    pub reps: usize,
    /// How each packets/s window is found and counted.
    pub search: load::Search,
    /// Scenario 3 is also measured at these flow counts.
    pub flow_series: Vec<u32>,
    /// Profile the DUT when a target is missed (not in quick mode).
    pub profile: bool,
    /// Repetitions and length of each stretch of the update scenario.
    pub update_reps: usize,
    pub update_secs: f64,
}

impl Plan {
    fn new(o: &TrafficOpts) -> Result<Plan> {
        if o.flows == 0 {
            bail!("traffic needs at least one flow");
        }
        if o.frame_size < progs::MIN_FRAME || o.frame_size > 1400 {
            bail!(
                "frame size {} outside {}..=1400 (encapsulation adds 40 bytes under a 1500 MTU)",
                o.frame_size,
                progs::MIN_FRAME
            );
        }
        let q = o.quick;
        let reps = if q { o.reps.max(1) } else { o.reps.max(5) };
        let mut flow_series = if q {
            vec![1, 4096, 65536, o.flows]
        } else {
            vec![1, 64, 4096, 65536, o.flows]
        };
        flow_series.sort_unstable();
        flow_series.dedup();
        Ok(Plan {
            quick: q,
            flows: o.flows,
            frame_size: o.frame_size,
            reps,
            search: load::Search {
                steps: if q { 6 } else { 10 },
                step: Duration::from_millis(if q { 50 } else { 100 }),
                window: Duration::from_millis(if q { 300 } else { 3000 }),
                start_pps: 2e6,
                max_wait: Duration::from_secs(if q { 10 } else { 120 }),
                idle_probe: Duration::from_millis(if q { 200 } else { 500 }),
            },
            flow_series,
            profile: !q,
            update_reps: if q { 1 } else { reps },
            update_secs: if q { 1.0 } else { 4.0 },
        })
    }
}

/// Runs every traffic scenario and returns its figures.
pub fn run(opts: &TrafficOpts, progress: &dyn Fn(&str)) -> Result<Vec<Figure>> {
    let plan = Plan::new(opts)?;
    if ns::online_cpus() < 2 {
        progress("traffic: one CPU only: generator and DUT will share it");
    }
    let busy = ns::wait_quiet(
        opts.max_wait
            .unwrap_or(Duration::from_secs(if plan.quick { 10 } else { 1800 })),
        progress,
    )?;
    let mut figures = Vec::new();
    let measured = pps::measure(&plan, progress)?;
    figures.extend(pps::figures(&plan, &measured));
    figures.extend(testrun::measure(&plan, progress)?);
    let established = figures
        .iter()
        .find(|f| f.id == pps::ESTABLISHED)
        .map(|f| f.median)
        .filter(|v| v.is_finite() && *v > 0.0);
    figures.extend(update::measure(&plan, update::rate(established), progress)?);
    if let Some(what) = busy {
        for f in &mut figures {
            f.note
                .push_str(&format!(" (other test suites were running: {what})"));
        }
    }
    Ok(figures)
}
