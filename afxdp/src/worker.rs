//! One worker: one rx queue index, one UMEM shared by its sockets (one per
//! interface on that queue), its own affinity table and counters.
//!
//! A frame's life: free list → a fill ring → (kernel writes it) → an rx
//! ring → `process` in place → the egress socket's tx ring → its
//! completion ring → free list; or, when not forwarded, straight back to
//! the free list. A frame for the kernel is copied (IPv6 packet only) to
//! the exception path's queue and its UMEM frame freed at once. Every
//! frame is in exactly one of those places, so the
//! UMEM never runs out while the rings turn. Because the sockets share the
//! UMEM, forwarding from one interface to another moves a descriptor, not
//! bytes.

use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use anycast6_dataplane::abi::{Reason, Verdict};
use anycast6_dataplane::userspace::{
    process, wire, EngineConfig, FlowState, Frame, Outcome, SharedFib,
};
use crossbeam::channel::{Receiver, Sender, TryRecvError};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, TxQueue, Umem};

use crate::exception::Reinjector;
use crate::stats::{BindMode, IoCounters, SocketReport, WorkerReport, XdpStats};
use crate::sys;

/// Control messages to a worker (crossbeam channel; read between batches).
pub enum Ctl {
    /// Send a report of counters and socket statistics.
    Report(Sender<WorkerReport>),
    /// Forget every flow (tests; a FIB flush).
    ClearAffinity,
    Stop,
}

pub(crate) struct Sock {
    pub ifname: String,
    pub ifindex: u32,
    pub queue: u32,
    pub mode: BindMode,
    pub rx: Option<RxQueue>,
    pub tx: TxQueue,
    pub fq: FillQueue,
    pub cq: CompQueue,
    pub fd: RawFd,
    /// Descriptors the tx ring holds (its size).
    tx_ring: u32,
    pending_tx: Vec<FrameDesc>,
}

impl Sock {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ifname: String,
        ifindex: u32,
        queue: u32,
        mode: BindMode,
        rx: Option<RxQueue>,
        mut tx: TxQueue,
        fq: FillQueue,
        cq: CompQueue,
    ) -> Sock {
        let fd = tx.fd().as_raw_fd();
        // A new ring is empty: all of it is free.
        let tx_ring = tx.nb_free_exact();
        Sock {
            ifname,
            ifindex,
            queue,
            mode,
            rx,
            tx,
            fq,
            cq,
            fd,
            tx_ring,
            pending_tx: Vec::new(),
        }
    }
}

/// Frames the kernel transmits per sendmsg(2) on a copy-mode socket at
/// most (`TX_BATCH_SIZE` in net/xdp/xsk.c; the call then fails with
/// EAGAIN and leaves the rest on the ring).
const COPY_TX_PER_CALL: u32 = 32;

impl Sock {
    /// Copy mode transmits only inside sendmsg(2), at most
    /// [`COPY_TX_PER_CALL`] frames a call: one call per rx batch of 64
    /// left half of every batch on the ring, which filled up and dropped
    /// (`tx_ring_full`). Calls until the ring is empty, bounded by what it
    /// held (a full completion ring also stops the kernel: the next turn
    /// of the loop drains it).
    fn kick_copy_tx(&mut self, io: &mut IoCounters) {
        let held = self.tx_ring.saturating_sub(self.tx.nb_free_exact());
        for _ in 0..held.div_ceil(COPY_TX_PER_CALL) + 1 {
            io.tx_wakeups += 1;
            if let Err(e) = self.tx.wakeup() {
                tracing::trace!(ifname = %self.ifname, error = %e, "tx wakeup");
                return;
            }
            if self.tx.nb_free_exact() >= self.tx_ring {
                return;
            }
        }
    }
}

pub(crate) struct Worker {
    pub queue: u32,
    pub umem: Umem,
    pub free: Vec<FrameDesc>,
    pub socks: Vec<Sock>,
    pub shared: Arc<SharedFib>,
    pub cfg: EngineConfig,
    pub state: FlowState,
    pub io: IoCounters,
    pub batch: usize,
    pub ctl: Receiver<Ctl>,
    /// Where frames for the kernel go (None: no exception path).
    pub exception: Option<Reinjector>,
    /// Benchmark baseline C instead of the engine.
    pub baseline: Option<crate::Baseline>,
}

/// How long an idle worker sleeps in poll(2) before looking at its
/// control channel again.
const IDLE_POLL_MS: i32 = 10;

impl Worker {
    pub fn run(mut self) {
        let mut scratch = vec![FrameDesc::default(); self.batch];
        let rx_fds: Vec<RawFd> = self
            .socks
            .iter()
            .filter(|s| s.rx.is_some())
            .map(|s| s.fd)
            .collect();
        self.refill();
        loop {
            match self.ctl.try_recv() {
                Ok(Ctl::Stop) | Err(TryRecvError::Disconnected) => break,
                Ok(Ctl::Report(tx)) => {
                    let _ = tx.send(self.report());
                }
                Ok(Ctl::ClearAffinity) => self.state.affinity.clear(),
                Err(TryRecvError::Empty) => {}
            }
            let mut busy = false;
            let snap = self.shared.load();
            // The clock of the groups' change deadlines (bpf_ktime_get_ns).
            let now = anycast6_dataplane::changes::monotonic_ns();
            for si in 0..self.socks.len() {
                let Some(rx) = self.socks[si].rx.as_mut() else {
                    continue;
                };
                // SAFETY: `scratch` descriptors are overwritten with frames
                // of this worker's UMEM, the one the socket was made with.
                #[allow(unsafe_code)]
                let n = unsafe { rx.consume(&mut scratch) };
                if n == 0 {
                    continue;
                }
                busy = true;
                self.io.rx_batches += 1;
                let ingress = self.socks[si].ifindex;
                for desc in scratch.iter_mut().take(n) {
                    self.forward(*desc, ingress, &snap, now);
                }
            }
            drop(snap);
            self.transmit();
            busy |= self.complete(&mut scratch);
            self.refill();
            if !busy {
                sys::poll_readable(&rx_fds, IDLE_POLL_MS);
            }
        }
        tracing::debug!(queue = self.queue, "AF_XDP worker stopped");
    }

    /// One received frame: processed in place, queued for its egress or
    /// recycled.
    fn forward(
        &mut self,
        mut desc: FrameDesc,
        ingress: u32,
        snap: &anycast6_dataplane::userspace::FibSnapshot,
        now: u64,
    ) {
        let out = {
            // SAFETY: `desc` was just taken from an rx ring of a socket of
            // this UMEM; until it is produced to a ring again this worker
            // is the only one touching its frame.
            #[allow(unsafe_code)]
            let mut data = unsafe { self.umem.data_mut(&mut desc) };
            let len = data.contents().len();
            self.io.rx_packets += 1;
            self.io.rx_bytes += len as u64;
            {
                // Expose the whole data segment: encap and Packet Too Big
                // grow the frame.
                let mut c = data.cursor();
                let cap = c.buf_len();
                c.set_pos(cap);
            }
            let mut frame = Frame::new(data.contents_mut(), len);
            let out = match self.baseline {
                Some(b) => baseline(&mut frame, &b),
                None => process(&mut frame, ingress, snap, &mut self.state, &self.cfg, now),
            };
            if out.verdict == Verdict::Pass && !self.reinject(out.reason, frame.data()) {
                self.io.pass_not_reinjected += 1;
            }
            let new_len = frame.len();
            data.cursor().set_pos(new_len);
            out
        };
        match out.verdict {
            Verdict::Redirect => {
                match self
                    .socks
                    .iter_mut()
                    .find(|s| s.ifindex == out.egress_ifindex)
                {
                    Some(s) => s.pending_tx.push(desc),
                    None => {
                        self.io.tx_no_socket += 1;
                        self.free.push(desc);
                    }
                }
            }
            // Copied to the exception path above (or counted as not).
            Verdict::Pass | Verdict::Drop | Verdict::Tx => self.free.push(desc),
        }
    }

    /// Queues a passed frame's IPv6 packet (the frame as it came, minus
    /// its Ethernet header and tag: the TUN device takes bare IPv6) for
    /// the kernel; false if it could not be (no exception path, queue
    /// full, not an IPv6 frame).
    fn reinject(&self, reason: Reason, frame: &[u8]) -> bool {
        let Some(x) = &self.exception else {
            return false;
        };
        let Ok(l) = wire::parse_l2_l3(frame) else {
            return false;
        };
        match frame.get(l.l2_len..) {
            Some(packet) if packet.first().is_some_and(|b| b >> 4 == 6) => x.send(reason, packet),
            _ => false,
        }
    }

    fn transmit(&mut self) {
        for s in &mut self.socks {
            if s.pending_tx.is_empty() {
                continue;
            }
            let want = s.pending_tx.len();
            // produce is all-or-nothing: offer only what the ring holds.
            let room = (s.tx.nb_free(want as u32) as usize).min(want);
            // SAFETY: the descriptors are frames of this UMEM that no ring
            // holds (taken from rx, processed, not yet given anywhere).
            #[allow(unsafe_code)]
            let sent = if room > 0 {
                unsafe { s.tx.produce(&s.pending_tx[..room]) }
            } else {
                0
            };
            for d in &s.pending_tx[..sent] {
                self.io.tx_packets += 1;
                self.io.tx_bytes += d.lengths().data() as u64;
            }
            self.io.tx_ring_full += (want - sent) as u64;
            self.free.extend(s.pending_tx.drain(..).skip(sent));
            if sent == 0 {
                continue;
            }
            if s.mode == BindMode::Copy {
                s.kick_copy_tx(&mut self.io);
            } else if s.tx.needs_wakeup() {
                if let Err(e) = s.tx.wakeup() {
                    tracing::trace!(ifname = %s.ifname, error = %e, "tx wakeup");
                }
            }
        }
    }

    /// Takes back transmitted frames; true if there were any.
    fn complete(&mut self, scratch: &mut [FrameDesc]) -> bool {
        let mut any = false;
        for s in &mut self.socks {
            loop {
                // SAFETY: completion descriptors are frames of this UMEM
                // the kernel has finished with.
                #[allow(unsafe_code)]
                let n = unsafe { s.cq.consume(scratch) };
                if n == 0 {
                    break;
                }
                any = true;
                self.free.extend_from_slice(&scratch[..n]);
                if n < scratch.len() {
                    break;
                }
            }
        }
        any
    }

    /// Gives free frames to the fill rings of the receiving sockets.
    fn refill(&mut self) {
        let rx_socks = self.socks.iter().filter(|s| s.rx.is_some()).count().max(1);
        let share = self.free.len() / rx_socks;
        for s in self.socks.iter_mut().filter(|s| s.rx.is_some()) {
            if self.free.is_empty() {
                self.io.fill_starved += 1;
                break;
            }
            let want = share.max(1).min(self.free.len());
            // produce is all-or-nothing: never offer more than the ring holds.
            let k = (s.fq.nb_free(want as u32) as usize).min(want);
            if k == 0 {
                continue;
            }
            let from = self.free.len() - k;
            // SAFETY: free frames of this UMEM, held by no ring.
            #[allow(unsafe_code)]
            let n = unsafe { s.fq.produce(&self.free[from..]) };
            if n == k {
                self.free.truncate(from);
            }
            if s.fq.needs_wakeup() {
                if let Some(rx) = s.rx.as_mut() {
                    let _ = s.fq.wakeup(rx.fd_mut(), 0);
                }
            }
        }
    }

    fn report(&self) -> WorkerReport {
        WorkerReport {
            queue: self.queue,
            engine: self.state.counters.clone(),
            io: self.io,
            sockets: self
                .socks
                .iter()
                .map(|s| SocketReport {
                    ifname: s.ifname.clone(),
                    ifindex: s.ifindex,
                    queue: s.queue,
                    rx: s.rx.is_some(),
                    mode: s.mode,
                    xdp: s
                        .tx
                        .fd()
                        .xdp_statistics()
                        .map(|x| XdpStats {
                            rx_dropped: x.rx_dropped(),
                            rx_invalid_descs: x.rx_invalid_descs(),
                            tx_invalid_descs: x.tx_invalid_descs(),
                            rx_ring_full: x.rx_ring_full(),
                            rx_fill_ring_empty_descs: x.rx_fill_ring_empty_descs(),
                            tx_ring_empty_descs: x.tx_ring_empty_descs(),
                        })
                        .unwrap_or_default(),
                })
                .collect(),
            affinity_entries: self.state.affinity.len(),
        }
    }
}

/// Baseline C: two MACs written, out of one egress (the XDP baseline A's
/// work, in userspace).
fn baseline(frame: &mut Frame<'_>, b: &crate::Baseline) -> Outcome {
    let d = frame.data_mut();
    if d.len() < 12 {
        return Outcome {
            verdict: Verdict::Drop,
            reason: Reason::DropTruncEth,
            egress_ifindex: 0,
        };
    }
    d[..6].copy_from_slice(&b.dmac);
    d[6..12].copy_from_slice(&b.smac);
    Outcome {
        verdict: Verdict::Redirect,
        reason: Reason::FwdRewrite,
        egress_ifindex: b.egress_ifindex,
    }
}

/// Waits for a worker report at most this long.
pub const REPORT_TIMEOUT: Duration = Duration::from_millis(500);
