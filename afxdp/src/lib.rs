//! anycast6-afxdp: the AF_XDP fast path. The userspace engine of
//! `anycast6_dataplane::userspace` behind AF_XDP sockets (xsk-rs 0.11).
//!
//! ```text
//!   afxdp interface ── anycast6_xsk (XDP) ──owned anycast──► XSKMAP[rx queue]
//!        │                 └─ everything else: XDP_PASS / XDP_DROP, a6_stats
//!        ▼
//!   worker q (thread): UMEM q ─ sockets (ifA,q) (ifB,q) ... ─ FlowState q
//!     rx ─► process(frame, snapshot) ─► tx ring of the egress socket
//!        ▲             ▲
//!        │ Ctl (crossbeam: Report, ClearAffinity, Stop)
//!   Afxdp handle ── SharedFib (ArcSwap<FibSnapshot>) ◄── SnapshotBuilder ◄── FibOps
//!
//!   worker q: verdict pass ─► Reinjector ─(bounded crossbeam)─► exception
//!     thread ─► write(2) ─► TUN a6x<N> ─► the kernel delivers / forwards
//! ```
//!
//! A separate crate from `anycast6-dataplane` because xsk-rs builds
//! vendored libxdp/libbpf (C, `m4`): the engine, its tests and its fuzz
//! target stay free of that build and of `unsafe`; only this crate touches
//! the rings and the UMEM.
//!
//! One worker per rx queue index: worker q owns one UMEM and binds a
//! socket to queue q of every interface (steered `afxdp` interfaces
//! receive; the other forwarding interfaces only transmit), so a frame
//! crosses from ingress to egress by descriptor, without a copy. Copy mode
//! on veth (zero-copy is refused there); zero-copy is tried first.
//!
//! Frames the engine passes to the kernel cannot go back through an
//! AF_XDP socket: the [`exception`] path writes them into a TUN device
//! (see there for why one writer thread).

mod exception;
mod stats;
mod sys;
mod tun;
mod worker;

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use anycast6_dataplane::loader::AttachMode;
use anycast6_dataplane::userspace::{EngineConfig, EngineCounters, FlowState, SharedFib};
use anycast6_dataplane::xsk::XskSteer;
use anycast6_dataplane::DataplaneError;
use crossbeam::channel::{bounded, unbounded, Sender};
use xsk_rs::config::{BindFlags, LibxdpFlags, SocketConfig, UmemConfig};
use xsk_rs::{Socket, Umem};

pub use exception::{ExceptionPath, ExceptionReport, ReinjectCount, Reinjector, EXCEPTION_QUEUE};
pub use stats::{BindMode, IoCounters, SocketReport, WorkerReport, XdpStats};
pub use sys::rx_queues;
pub use tun::TUN_NAME_TEMPLATE;
pub use worker::Ctl;

#[derive(Debug, thiserror::Error)]
pub enum AfxdpError {
    #[error(transparent)]
    Dataplane(#[from] DataplaneError),
    #[error("AF_XDP UMEM for queue {queue}: {reason}")]
    UmemCreate { queue: u32, reason: String },
    #[error("AF_XDP socket on {ifname} queue {queue}: {reason}")]
    SocketCreate {
        ifname: String,
        queue: u32,
        reason: String,
    },
    #[error("interface {0:?}: not a valid name")]
    InterfaceName(String),
    #[error("spawning an AF_XDP thread: {0}")]
    Spawn(std::io::Error),
    #[error("exception TUN device {name}: {reason}")]
    TunCreate { name: String, reason: String },
}

/// An interface of the AF_XDP path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceSpec {
    pub name: String,
    pub ifindex: u32,
    /// `afxdp` mode: the steering program is attached and queues receive.
    /// Otherwise the interface is only an egress (sockets transmit).
    pub rx: bool,
    /// XDP attach mode of the steering program.
    pub xdp_mode: AttachMode,
}

#[derive(Debug, Clone, Copy)]
pub struct AfxdpOptions {
    pub engine: EngineConfig,
    /// Flows remembered per worker.
    pub affinity_entries: usize,
    /// UMEM frames per socket of a worker.
    pub frames_per_socket: u32,
    /// Descriptors taken from an rx ring at once.
    pub batch: usize,
    /// Name template of the exception TUN device (frames for the kernel);
    /// None: no exception path, such frames are dropped
    /// (`pass_not_reinjected`).
    pub exception_tun: Option<&'static str>,
    /// Benchmarks only (baseline C): replace the engine by the least a
    /// forwarder does — write two MACs and transmit on one egress — on the
    /// same sockets, rings and batching. None: the engine (always, in
    /// anycast6d).
    pub baseline: Option<Baseline>,
}

/// Baseline C's whole per-frame work: these MACs, then the socket of
/// `egress_ifindex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    pub egress_ifindex: u32,
    pub dmac: [u8; 6],
    pub smac: [u8; 6],
}

impl Default for AfxdpOptions {
    fn default() -> Self {
        AfxdpOptions {
            engine: EngineConfig::default(),
            affinity_entries: 65536,
            frames_per_socket: 4096,
            batch: 64,
            exception_tun: Some(tun::TUN_NAME_TEMPLATE),
            baseline: None,
        }
    }
}

/// UMEM frames of one worker at most (4 KiB each: 64 MiB).
pub const MAX_FRAMES_PER_WORKER: u32 = 16384;

/// What `show dataplane` says about an interface of the AF_XDP path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IfaceReport {
    pub name: String,
    pub ifindex: u32,
    pub rx: bool,
    pub queues: u32,
    /// XDP mode of the steering program (rx interfaces).
    pub xdp_mode: Option<AttachMode>,
    /// Bind mode of its sockets (copy on veth).
    pub bind: BindMode,
}

struct WorkerHandle {
    ctl: Sender<Ctl>,
    join: Option<JoinHandle<()>>,
}

/// The running AF_XDP path. Dropping it stops the workers and detaches the
/// steering programs (traffic then goes to the kernel).
pub struct Afxdp {
    workers: Vec<WorkerHandle>,
    /// Stopped after the workers: they hold its queue's ends.
    exception: Option<ExceptionPath>,
    steer: Vec<XskSteer>,
    ifaces: Vec<IfaceReport>,
    shared: Arc<SharedFib>,
}

/// What `Socket::new` gives: tx, rx, and the fill/completion rings.
type Bound = (
    xsk_rs::TxQueue,
    xsk_rs::RxQueue,
    Option<(xsk_rs::FillQueue, xsk_rs::CompQueue)>,
);

fn bind(umem: &Umem, ifname: &str, queue: u32, try_zero_copy: bool) -> Result<Bound, String> {
    let iface = ifname
        .parse::<xsk_rs::config::Interface>()
        .map_err(|e| e.to_string())?;
    let mut tries = Vec::new();
    if try_zero_copy {
        tries.push(BindFlags::XDP_ZEROCOPY | BindFlags::XDP_USE_NEED_WAKEUP);
    }
    tries.push(BindFlags::XDP_COPY | BindFlags::XDP_USE_NEED_WAKEUP);
    let mut last = String::new();
    for flags in tries {
        let cfg = SocketConfig::builder()
            .libxdp_flags(LibxdpFlags::XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD)
            .bind_flags(flags)
            .build();
        // SAFETY: the UMEM outlives the socket (each queue holds a clone of
        // it) and no other process uses it.
        #[allow(unsafe_code)]
        match unsafe { Socket::new(cfg, umem, &iface, queue) } {
            Ok(r) => return Ok(r),
            Err(e) => last = format!("{e} ({flags:?})"),
        }
    }
    Err(last)
}

impl Afxdp {
    /// Attaches the steering program to every `rx` interface (with the
    /// FIB maps pinned under `pin_dir`), binds the sockets and starts one
    /// worker per rx queue. All or nothing: on error, what was set up is
    /// taken down.
    pub fn start(
        pin_dir: &Path,
        ifaces: &[IfaceSpec],
        shared: Arc<SharedFib>,
        opts: AfxdpOptions,
    ) -> Result<Afxdp, AfxdpError> {
        let queues: Vec<u32> = ifaces
            .iter()
            .map(|i| sys::rx_queues(&i.name).min(anycast6_dataplane::abi::XSK_MAX_QUEUES))
            .collect();
        let n_workers = ifaces
            .iter()
            .zip(&queues)
            .filter(|(i, _)| i.rx)
            .map(|(_, q)| *q)
            .max()
            .unwrap_or(0);
        let mut steer = Vec::new();
        for i in ifaces.iter().filter(|i| i.rx) {
            steer.push(XskSteer::attach(pin_dir, &i.name, i.xdp_mode)?);
        }
        // Without its device the path still forwards; what it would hand
        // to the kernel is dropped and counted.
        let exception = match opts.exception_tun {
            Some(t) => match ExceptionPath::start(t) {
                Ok(x) => Some(x),
                Err(e) => {
                    tracing::error!(error = %e, "no AF_XDP exception path: frames for the kernel are dropped (pass_not_reinjected)");
                    None
                }
            },
            None => None,
        };
        let mut afx = Afxdp {
            workers: Vec::new(),
            exception,
            steer,
            ifaces: Vec::new(),
            shared: shared.clone(),
        };
        let mut bind_modes: Vec<Option<BindMode>> = vec![None; ifaces.len()];
        for q in 0..n_workers {
            let members: Vec<usize> = (0..ifaces.len()).filter(|&k| q < queues[k]).collect();
            // Frames enter through the receiving sockets' fill rings;
            // transmit-only sockets borrow them on the way out.
            let receiving = members.iter().filter(|&&k| ifaces[k].rx).count().max(1);
            let frames = opts
                .frames_per_socket
                .saturating_mul(receiving as u32)
                .clamp(opts.frames_per_socket, MAX_FRAMES_PER_WORKER);
            let (umem, descs) = Umem::new(
                UmemConfig::default(),
                NonZeroU32::new(frames).unwrap_or(NonZeroU32::MIN),
                false,
            )
            .map_err(|e| AfxdpError::UmemCreate {
                queue: q,
                reason: e.to_string(),
            })?;
            let mut socks = Vec::new();
            for (n, &k) in members.iter().enumerate() {
                let i = &ifaces[k];
                let sock_err = |reason: String| AfxdpError::SocketCreate {
                    ifname: i.name.clone(),
                    queue: q,
                    reason,
                };
                // The first socket sets the UMEM's mode; the others inherit it.
                let (tx, rx, rings) = bind(&umem, &i.name, q, n == 0).map_err(sock_err)?;
                let (fq, cq) = rings.ok_or_else(|| sock_err("no fill/completion rings".into()))?;
                let mode = match sys::is_zero_copy(tx.fd().as_raw_fd_compat()) {
                    Ok(true) => BindMode::ZeroCopy,
                    _ => BindMode::Copy,
                };
                bind_modes[k].get_or_insert(mode);
                if i.rx {
                    if let Some(s) = afx.steer.iter_mut().find(|s| s.ifindex() == i.ifindex) {
                        s.register(q, tx.fd().as_raw_fd_compat())?;
                    }
                }
                socks.push(worker::Sock::new(
                    i.name.clone(),
                    i.ifindex,
                    q,
                    mode,
                    i.rx.then_some(rx),
                    tx,
                    fq,
                    cq,
                ));
            }
            let (ctl_tx, ctl_rx) = unbounded();
            let w = worker::Worker {
                queue: q,
                umem,
                free: descs,
                socks,
                shared: shared.clone(),
                cfg: opts.engine,
                state: FlowState::new(opts.affinity_entries),
                io: IoCounters::default(),
                batch: opts.batch.max(1),
                ctl: ctl_rx,
                exception: afx.exception.as_ref().and_then(ExceptionPath::reinjector),
                baseline: opts.baseline,
            };
            let join = std::thread::Builder::new()
                .name(format!("a6-afxdp-q{q}"))
                .spawn(move || w.run())
                .map_err(AfxdpError::Spawn)?;
            afx.workers.push(WorkerHandle {
                ctl: ctl_tx,
                join: Some(join),
            });
        }
        afx.ifaces = ifaces
            .iter()
            .zip(&queues)
            .zip(&bind_modes)
            .map(|((i, q), b)| IfaceReport {
                name: i.name.clone(),
                ifindex: i.ifindex,
                rx: i.rx,
                queues: *q,
                xdp_mode: afx
                    .steer
                    .iter()
                    .find(|s| s.ifindex() == i.ifindex)
                    .map(|s| s.mode()),
                bind: b.unwrap_or(BindMode::Copy),
            })
            .collect();
        for i in &afx.ifaces {
            tracing::info!(interface = %i.name, ifindex = i.ifindex, queues = i.queues, rx = i.rx,
                mode = i.bind.name(), "AF_XDP sockets bound");
        }
        Ok(afx)
    }

    pub fn interfaces(&self) -> &[IfaceReport] {
        &self.ifaces
    }

    pub fn shared(&self) -> &Arc<SharedFib> {
        &self.shared
    }

    /// The exception path's device and counters (None: it could not be
    /// created, or was not asked for).
    pub fn exception(&self) -> Option<ExceptionReport> {
        self.exception.as_ref().map(ExceptionPath::report)
    }

    /// Every worker's report (a worker that does not answer in time is
    /// left out).
    pub fn reports(&self) -> Vec<WorkerReport> {
        let (tx, rx) = bounded(self.workers.len().max(1));
        let mut asked = 0;
        for w in &self.workers {
            if w.ctl.send(Ctl::Report(tx.clone())).is_ok() {
                asked += 1;
            }
        }
        let deadline = std::time::Instant::now() + worker::REPORT_TIMEOUT;
        let mut out = Vec::new();
        while out.len() < asked {
            match rx.recv_deadline(deadline) {
                Ok(r) => out.push(r),
                Err(_) => break,
            }
        }
        out.sort_by_key(|r| r.queue);
        out
    }

    /// Counters summed over workers.
    pub fn totals(&self) -> (EngineCounters, IoCounters, XdpStats) {
        let mut e = EngineCounters::default();
        let mut io = IoCounters::default();
        let mut x = XdpStats::default();
        for r in self.reports() {
            e.merge(&r.engine);
            io.add(&r.io);
            for s in &r.sockets {
                x.add(&s.xdp);
            }
        }
        (e, io, x)
    }

    /// Every worker forgets its flows.
    pub fn clear_affinity(&self) {
        for w in &self.workers {
            let _ = w.ctl.send(Ctl::ClearAffinity);
        }
    }

    /// Stops the workers and the exception path (its device is deleted),
    /// then detaches the steering programs.
    pub fn stop(&mut self) {
        for w in &self.workers {
            let _ = w.ctl.send(Ctl::Stop);
        }
        for w in &mut self.workers {
            if let Some(j) = w.join.take() {
                let _ = j.join();
            }
        }
        self.workers.clear();
        if let Some(mut x) = self.exception.take() {
            x.stop();
        }
        for s in &mut self.steer {
            s.detach();
        }
        self.steer.clear();
    }
}

impl Drop for Afxdp {
    fn drop(&mut self) {
        self.stop();
    }
}

trait RawFdCompat {
    fn as_raw_fd_compat(&self) -> std::os::fd::RawFd;
}

impl RawFdCompat for xsk_rs::socket::Fd {
    fn as_raw_fd_compat(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(self)
    }
}
