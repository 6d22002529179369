//! The kernel exception path: frames the engine passes to the kernel after
//! they reached a socket (a local member, an egress without a port, a
//! draining-only group's new flow, ...) are written into a TUN device, so
//! the kernel delivers or forwards them as the XDP path's XDP_PASS would.
//!
//! ```text
//!   worker 0 ─┐  try_send(Exception { reason, IPv6 packet })    one thread:
//!   worker 1 ─┼─► bounded crossbeam channel (EXCEPTION_QUEUE) ─► write(2) ─► a6x<N> ─► kernel
//!   worker n ─┘  ◄── recycled buffers (bounded) ◄─────────────┘   (TUN, IFF_NO_PI)
//! ```
//!
//! One writer thread per daemon, fed by every worker, rather than a TUN
//! queue per worker: a write into a TUN runs the kernel's whole receive
//! path (routing, forwarding, ICMPv6 errors, socket delivery) inside the
//! writer's system call, and that must not stall a worker's rx ring. The
//! channel is lock-free and bounded: when the kernel cannot keep up,
//! frames are dropped at the worker and counted (`pass_not_reinjected`),
//! never queued without limit and never waited for. Frames of one flow
//! come from one worker, so they stay in order. Buffers go back to the
//! workers through a second bounded channel, so the steady state
//! allocates nothing.

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anycast6_dataplane::abi::{Reason, REASON_MAX};
use crossbeam::channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use serde::{Deserialize, Serialize};

use crate::tun::Tun;
use crate::AfxdpError;

/// Frames queued toward the kernel at most (all workers together).
pub const EXCEPTION_QUEUE: usize = 4096;

/// How long the writer waits for a frame before it drains what the kernel
/// sent into the device.
const IDLE: Duration = Duration::from_millis(100);

/// A frame for the kernel: the IPv6 packet (Ethernet header and tag
/// removed) and why the engine passed it.
struct Exception {
    reason: Reason,
    packet: Vec<u8>,
}

struct Counters {
    packets: [AtomicU64; REASON_MAX as usize],
    bytes: [AtomicU64; REASON_MAX as usize],
    write_errors: AtomicU64,
    from_kernel: AtomicU64,
}

// By hand: arrays implement Default only up to 32 elements.
impl Default for Counters {
    fn default() -> Self {
        Counters {
            packets: std::array::from_fn(|_| AtomicU64::new(0)),
            bytes: std::array::from_fn(|_| AtomicU64::new(0)),
            write_errors: AtomicU64::new(0),
            from_kernel: AtomicU64::new(0),
        }
    }
}

/// Reinjected frames of one pass reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReinjectCount {
    pub reason: String,
    pub packets: u64,
    pub bytes: u64,
}

/// The exception path's state for `show counters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionReport {
    /// The TUN device the kernel receives the frames on.
    pub device: String,
    pub ifindex: u32,
    /// Frames written into the device, by pass reason (reasons with none
    /// are left out).
    pub reinjected: Vec<ReinjectCount>,
    /// Frames the device refused (counted in `pass_not_reinjected` too).
    pub write_errors: u64,
    /// Packets the kernel sent into the device (none is expected: no
    /// address, no route points there), read and discarded.
    pub from_kernel: u64,
}

/// A worker's end: queues frames for the writer thread.
#[derive(Clone)]
pub struct Reinjector {
    tx: Sender<Exception>,
    recycled: Receiver<Vec<u8>>,
}

impl Reinjector {
    /// Copies `packet` (a bare IPv6 packet) into a buffer and queues it;
    /// false (nothing queued) when the queue is full or the writer has
    /// stopped.
    pub fn send(&self, reason: Reason, packet: &[u8]) -> bool {
        let mut buf = self.recycled.try_recv().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(packet);
        match self.tx.try_send(Exception {
            reason,
            packet: buf,
        }) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

/// The TUN device and its writer thread. Dropping it (after every
/// [`Reinjector`] is gone) lets the thread finish what is queued, then
/// closes the device, which the kernel deletes.
pub struct ExceptionPath {
    name: String,
    ifindex: u32,
    tx: Option<Sender<Exception>>,
    recycled: Receiver<Vec<u8>>,
    counters: Arc<Counters>,
    join: Option<JoinHandle<()>>,
}

impl ExceptionPath {
    /// Creates the device (`template`, e.g. `a6x%d`) and starts the writer.
    pub fn start(template: &str) -> Result<ExceptionPath, AfxdpError> {
        let tun = Tun::create(template).map_err(|e| AfxdpError::TunCreate {
            name: template.to_string(),
            reason: e.to_string(),
        })?;
        let (tx, rx) = bounded(EXCEPTION_QUEUE);
        let (recycle_tx, recycled) = bounded(EXCEPTION_QUEUE);
        let counters = Arc::new(Counters::default());
        let (name, ifindex) = (tun.name().to_string(), tun.ifindex());
        let c = counters.clone();
        let join = std::thread::Builder::new()
            .name("a6-afxdp-kernel".into())
            .spawn(move || writer(tun, rx, recycle_tx, c))
            .map_err(AfxdpError::Spawn)?;
        if !forwarding_on() {
            tracing::warn!(device = %name, "net.ipv6.conf.all.forwarding is 0: the kernel forwards nothing it gets back from the AF_XDP path (nor from XDP_PASS)");
        }
        tracing::info!(device = %name, ifindex, "AF_XDP exception path: frames for the kernel are written into this TUN device");
        Ok(ExceptionPath {
            name,
            ifindex,
            tx: Some(tx),
            recycled,
            counters,
            join: Some(join),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A worker's end of the queue (None once stopping).
    pub fn reinjector(&self) -> Option<Reinjector> {
        self.tx.as_ref().map(|tx| Reinjector {
            tx: tx.clone(),
            recycled: self.recycled.clone(),
        })
    }

    pub fn report(&self) -> ExceptionReport {
        let c = &self.counters;
        let reinjected = Reason::ALL
            .iter()
            .filter_map(|r| {
                let i = *r as usize;
                let packets = c.packets[i].load(Ordering::Relaxed);
                (packets > 0).then(|| ReinjectCount {
                    reason: r.name().to_string(),
                    packets,
                    bytes: c.bytes[i].load(Ordering::Relaxed),
                })
            })
            .collect();
        ExceptionReport {
            device: self.name.clone(),
            ifindex: self.ifindex,
            reinjected,
            write_errors: c.write_errors.load(Ordering::Relaxed),
            from_kernel: c.from_kernel.load(Ordering::Relaxed),
        }
    }

    /// Waits for the writer to finish (the workers must have stopped:
    /// their queue ends keep it running) and deletes the device.
    pub fn stop(&mut self) {
        self.tx = None;
        if let Some(j) = self.join.take() {
            let _ = j.join();
            tracing::debug!(device = %self.name, "AF_XDP exception path stopped; device deleted");
        }
    }
}

impl Drop for ExceptionPath {
    fn drop(&mut self) {
        self.stop();
    }
}

fn forwarding_on() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/forwarding").is_ok_and(|s| s.trim() != "0")
}

/// The writer thread: one write(2) per frame, until every sender is gone.
fn writer(tun: Tun, rx: Receiver<Exception>, recycle: Sender<Vec<u8>>, c: Arc<Counters>) {
    let mut dev = tun.file();
    let mut sink = vec![0u8; 65536];
    loop {
        match rx.recv_timeout(IDLE) {
            Ok(x) => {
                let i = x.reason as usize;
                match dev.write(&x.packet) {
                    Ok(_) => {
                        c.packets[i].fetch_add(1, Ordering::Relaxed);
                        c.bytes[i].fetch_add(x.packet.len() as u64, Ordering::Relaxed);
                    }
                    Err(e) => {
                        let n = c.write_errors.fetch_add(1, Ordering::Relaxed);
                        // Log the first and then every 1024th: a refusing
                        // device must not flood the log.
                        if n.is_multiple_of(1024) {
                            tracing::warn!(device = %tun.name(), error = %e, reason = x.reason.name(), write_errors = n + 1, "writing a frame into the exception device");
                        }
                    }
                }
                let _ = recycle.try_send(x.packet);
            }
            Err(RecvTimeoutError::Timeout) => loop {
                match dev.read(&mut sink) {
                    Ok(0) => break,
                    Ok(_) => {
                        c.from_kernel.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            },
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}
