//! Scenario 6: the DUT forwards with the AF_XDP path, driven straight
//! from the afxdp crate (no anycast6d), on the topology and traffic of
//! scenario 3.
//!
//! ```text
//!   a6b<id>i ── anycast6_xsk (XDP, FIB maps of the DUT's Dataplane) ──► XSKMAP[0]
//!                                                  │ copy mode (veth)
//!   worker q0 (thread a6-afxdp-q0, pinned to DUT_CPU, like the NAPI thread)
//!     rx ring ─► userspace engine (SharedFib snapshot) ─► tx ring of the
//!     socket on a6b<id>e0 ─► sendmsg ─► sink
//! ```
//!
//! The worker threads inherit the CPU affinity of the thread that starts
//! them, so [`start`] pins itself first. [`Check`] compares, over each
//! measured case, what the workers transmitted with what the sink counted
//! and what the steering program handed to the kernel, so a figure can
//! only come from frames that crossed the workers.

use std::sync::Arc;

use anycast6_afxdp::{Afxdp, AfxdpOptions, IfaceSpec, IoCounters, XdpStats};
use anycast6_dataplane::abi::{Reason, Verdict};
use anycast6_dataplane::loader::AttachMode;
use anycast6_dataplane::userspace::{EngineConfig, SharedFib, SnapshotBuilder};
use anycast6_dataplane::{Action, FibWriter, Route};
use anyhow::{bail, Context, Result};

use super::dut::{dst, member, GROUP};
use super::ns::{self, DUT_CPU};
use super::topo::{Topo, DUT_IN_ADDR};

/// Name prefix of the afxdp crate's worker threads.
const WORKER_PREFIX: &str = "a6-afxdp-q";

/// The userspace FIB of the workers: the same group, routes, tx ports and
/// ingress interface (its MAC, as the steering program's attach records it
/// in a6_ifaces) the DUT's Dataplane holds (member action rewrite, as
/// scenario 3).
pub fn snapshot(topo: &Topo, n_dst: u32) -> Result<Arc<SharedFib>> {
    let mut b = SnapshotBuilder::new();
    let (mac, ifindex) = ns::link_facts(&topo.dut, &topo.dut_in)?;
    b.apply(&anycast6_dataplane::userspace::FibOp::SetIface { ifindex, mac })?;
    b.publish_group(GROUP, &[member(1, &topo.egress[0], Action::Rewrite)])?;
    for i in 0..n_dst {
        b.apply(&anycast6_dataplane::userspace::FibOp::SetRoute {
            route: Route::Host(dst(i)),
            group_id: GROUP,
        })?;
    }
    let ports: Vec<u32> = topo.egress.iter().map(|e| e.dut_ifindex).collect();
    b.sync_tx_ports(&ports);
    let shared = SharedFib::default();
    shared.publish(&b);
    Ok(Arc::new(shared))
}

/// The AF_XDP path as anycast6d runs it in `afxdp` mode: the DUT's ingress
/// receives (steering program, native XDP on veth), every egress link only
/// transmits; one worker per rx queue (veth: one), started from a thread
/// pinned to `DUT_CPU` so the workers run there. No exception device: a
/// frame the engine would hand to the kernel is counted and dropped.
/// With `baseline`, the workers run baseline C instead of the engine.
pub fn start(
    topo: &Topo,
    pin_dir: &std::path::Path,
    shared: Arc<SharedFib>,
    baseline: Option<anycast6_afxdp::Baseline>,
) -> Result<Afxdp> {
    let mut ifaces = vec![IfaceSpec {
        name: topo.dut_in.clone(),
        ifindex: 0,
        rx: true,
        xdp_mode: AttachMode::Native,
    }];
    for e in &topo.egress {
        ifaces.push(IfaceSpec {
            name: e.dut_if.clone(),
            ifindex: e.dut_ifindex,
            rx: false,
            xdp_mode: AttachMode::Native,
        });
    }
    let opts = AfxdpOptions {
        engine: EngineConfig {
            hash_seed: super::dut::HASH_SEED,
            router_addr: DUT_IN_ADDR,
            ptb_per_sec: 100,
        },
        exception_tun: None,
        baseline,
        ..AfxdpOptions::default()
    };
    ns::in_ns(&topo.dut, || {
        ifaces[0].ifindex = ns::link_facts(&topo.dut, &topo.dut_in)?.1;
        ns::pin_thread(DUT_CPU)?;
        Afxdp::start(pin_dir, &ifaces, shared, opts).context("starting the AF_XDP path")
    })
}

/// The workers' thread ids and the CPUs each may run on (from
/// /proc/self/task); fails when there is none.
pub fn workers() -> Result<Vec<(u32, String)>> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task")?.flatten() {
        let Ok(tid) = t.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !comm.trim_end().starts_with(WORKER_PREFIX) {
            continue;
        }
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        let cpus = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .unwrap_or("?")
            .trim()
            .to_string();
        out.push((tid, cpus));
    }
    if out.is_empty() {
        bail!("no AF_XDP worker thread ({WORKER_PREFIX}*) found");
    }
    Ok(out)
}

/// Counters that say where the frames of a case went.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub io: IoCounters,
    pub xdp: XdpStats,
    /// Engine verdicts: forwarded (rewrite) and anything else.
    pub fwd: u64,
    pub not_fwd: u64,
    /// Frames the steering program passed to the kernel (its a6_stats).
    pub steer_pass: u64,
    pub sink: u64,
    /// CPU time (ns, schedstat) of the workers (the engine, and the
    /// sendmsg(2) calls with the sink's receive softirq they raise) and of
    /// the DUT's NAPI threads (steering program + copy into the rx ring).
    pub worker_ns: u64,
    pub napi_ns: u64,
}

impl Counts {
    pub fn read(afx: &Afxdp, fib: &FibWriter, sink: u64, napi: &[u32]) -> Result<Counts> {
        let worker_ns = workers()?
            .iter()
            .map(|(tid, _)| ns::run_ns(&format!("/proc/self/task/{tid}/schedstat")))
            .sum();
        let napi_ns = ns::tasks_run_ns(napi);
        let (engine, io, xdp) = afx.totals();
        let fwd = engine.reasons[Reason::FwdRewrite as usize].packets;
        let all: u64 = engine.reasons.iter().map(|c| c.packets).sum();
        let steer_pass = fib
            .reason_counters()?
            .iter()
            .filter(|(r, _, _)| r.verdict() == Verdict::Pass)
            .map(|(_, p, _)| *p)
            .sum();
        Ok(Counts {
            io,
            xdp,
            fwd,
            not_fwd: all - fwd,
            steer_pass,
            sink,
            worker_ns,
            napi_ns,
        })
    }

    pub fn delta(&self, b: &Counts) -> Counts {
        self.zip(b, u64::wrapping_sub)
    }

    pub fn add(&self, b: &Counts) -> Counts {
        self.zip(b, u64::wrapping_add)
    }

    fn zip(&self, b: &Counts, d: fn(u64, u64) -> u64) -> Counts {
        Counts {
            io: IoCounters {
                rx_packets: d(self.io.rx_packets, b.io.rx_packets),
                rx_bytes: d(self.io.rx_bytes, b.io.rx_bytes),
                tx_packets: d(self.io.tx_packets, b.io.tx_packets),
                tx_bytes: d(self.io.tx_bytes, b.io.tx_bytes),
                tx_ring_full: d(self.io.tx_ring_full, b.io.tx_ring_full),
                tx_no_socket: d(self.io.tx_no_socket, b.io.tx_no_socket),
                pass_not_reinjected: d(self.io.pass_not_reinjected, b.io.pass_not_reinjected),
                fill_starved: d(self.io.fill_starved, b.io.fill_starved),
                rx_batches: d(self.io.rx_batches, b.io.rx_batches),
                tx_wakeups: d(self.io.tx_wakeups, b.io.tx_wakeups),
            },
            xdp: XdpStats {
                rx_dropped: d(self.xdp.rx_dropped, b.xdp.rx_dropped),
                rx_invalid_descs: d(self.xdp.rx_invalid_descs, b.xdp.rx_invalid_descs),
                tx_invalid_descs: d(self.xdp.tx_invalid_descs, b.xdp.tx_invalid_descs),
                rx_ring_full: d(self.xdp.rx_ring_full, b.xdp.rx_ring_full),
                rx_fill_ring_empty_descs: d(
                    self.xdp.rx_fill_ring_empty_descs,
                    b.xdp.rx_fill_ring_empty_descs,
                ),
                tx_ring_empty_descs: d(self.xdp.tx_ring_empty_descs, b.xdp.tx_ring_empty_descs),
            },
            fwd: d(self.fwd, b.fwd),
            not_fwd: d(self.not_fwd, b.not_fwd),
            steer_pass: d(self.steer_pass, b.steer_pass),
            sink: d(self.sink, b.sink),
            worker_ns: d(self.worker_ns, b.worker_ns),
            napi_ns: d(self.napi_ns, b.napi_ns),
        }
    }

    /// Every frame the sink counted was transmitted by a worker (at most
    /// a few in flight at either end), and the steering program passed
    /// nothing to the kernel.
    pub fn through_workers(&self) -> bool {
        let slack = 4096 + self.sink / 1000;
        self.io.tx_packets + slack >= self.sink && self.steer_pass <= slack
    }

    pub fn describe(&self) -> String {
        let per = |a: u64, b: u64| a as f64 / b.max(1) as f64;
        format!(
            "workers received {} and transmitted {} ({} forwarded by the engine, {} not), sink \
             counted {}, steering program passed {} to the kernel; DUT CPU per forwarded frame: \
             worker threads {:.0} ns, NAPI thread {:.0} ns (schedstat); {:.1} frames per rx batch, \
             {:.1} frames per sendmsg; socket drops: rx_dropped {} rx_ring_full {} \
             fill_ring_empty {}; tx_ring_full {} fill_starved {}",
            self.io.rx_packets,
            self.io.tx_packets,
            self.fwd,
            self.not_fwd,
            self.sink,
            self.steer_pass,
            per(self.worker_ns, self.io.tx_packets),
            per(self.napi_ns, self.io.tx_packets),
            per(self.io.rx_packets, self.io.rx_batches),
            per(self.io.tx_packets, self.io.tx_wakeups),
            self.xdp.rx_dropped,
            self.xdp.rx_ring_full,
            self.xdp.rx_fill_ring_empty_descs,
            self.io.tx_ring_full,
            self.io.fill_starved,
        )
    }
}
