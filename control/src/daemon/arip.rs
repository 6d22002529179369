//! ARIP inside anycast6d (`[arip]`): a speaker task (daemon/speaker.rs)
//! with a UDP socket on port 521 joined to ff02::9 on each ARIP interface,
//! driving the pure core (control/src/arip). Anycast members it learns go
//! to the RIB (learned layer); plain unicast routes go to the kernel (proto
//! 0xa6) through a writer task of its own, so a burst of them (a neighbour
//! announcing thousands of prefixes at once, up to its route limit) never
//! holds up the daemon loop and its management requests.
//!
//! What ARIP announces besides what it learns is `[arip.originate]`
//! (anycast6_core::originate): connected prefixes of every interface, `lo`
//! and /128s included, followed as addresses come and go (the daemon routes
//! the monitor's address events here), static prefixes, and the addresses
//! this router serves (configured groups, ARD members) with their best
//! distance as metric. Only the difference of each change is pushed into
//! the core.
//!
//! ```text
//!  start: address dump ─┐                       ┌─► set/remove_local_unicast
//!  KernelEvent::Address ┼─► Originator (policy) ┼─► set/remove_local_anycast ─► Instance
//!  set_local_anycast ───┘     (under the core's lock)
//!  Address(Lost) ─► dump again (a task of its own), events meanwhile replayed
//! ```

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use super::ard::{keyring, link_locals, seq_start};
use super::speaker::{lock, Datagram, Outputs, ProtoEvent, Speaker, Task};
use super::udp::{LinkUdp, Received};
use crate::arip::{self, Instance, InterfaceConfig, KernelOp, KernelRoute, Output};
use crate::config::AripConfig;
use crate::neigh::{LinkInfo, Netlink};
use crate::proto::clock::MonoClock;
use crate::proto::originate::{AddressEvent, Diff, Kind, Originator};
use crate::proto::Instant;
use crate::ControlError;

pub const PORT: u16 = 521;
pub const ALL_RIP_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 9);

pub struct AripSpeaker {
    inst: Instance,
    /// Source address per interface.
    link_local: HashMap<u32, Ipv6Addr>,
    /// To the kernel route writer, in the order the core emitted them.
    kernel: mpsc::UnboundedSender<Vec<KernelRoute>>,
    /// What is originated, and from what.
    origin: Originator,
}

impl AripSpeaker {
    /// Pushes a change of what is originated into the core.
    fn originate(&mut self, now: Instant, d: &Diff) {
        for (p, o) in &d.withdraw {
            let r = match o.kind {
                Kind::Unicast => self.inst.remove_local_unicast(now, p.addr(), p.plen()),
                Kind::Anycast => self.inst.remove_local_anycast(now, p.addr()),
            };
            match r {
                Ok(()) => {
                    tracing::info!(prefix = %p, kind = ?o.kind, origin = ?o.origin, "ARIP: no longer originated")
                }
                Err(e) => tracing::warn!(prefix = %p, error = %e, "ARIP: withdrawing"),
            }
        }
        let set = d
            .add
            .iter()
            .copied()
            .chain(d.change.iter().map(|(p, _, n)| (*p, *n)));
        for (p, o) in set {
            // The config bounds ARIP metrics to 1..=15; served anycast
            // addresses come clamped.
            let metric = o.metric.clamp(1, 15) as u8;
            let r = match o.kind {
                Kind::Unicast => self
                    .inst
                    .set_local_unicast(now, p.addr(), p.plen(), metric, 0),
                Kind::Anycast => self.inst.set_local_anycast(now, p.addr(), metric),
            };
            match r {
                Ok(()) => {
                    tracing::info!(prefix = %p, metric, kind = ?o.kind, origin = ?o.origin, "ARIP: originated")
                }
                Err(e) => tracing::warn!(prefix = %p, metric, error = %e, "ARIP: not originated"),
            }
        }
    }
}

impl Speaker for AripSpeaker {
    fn handle_packet(&mut self, now: Instant, r: &Received, b: &[u8]) {
        self.inst
            .handle_packet(now, r.ifindex, r.src, r.src_port, r.hop_limit, b);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.inst.handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.inst.poll_timeout()
    }
    fn drain(&mut self, out: &mut Outputs) {
        let mut kernel = Vec::new();
        while let Some(o) = self.inst.poll_output() {
            match o {
                Output::Send {
                    ifindex,
                    dst,
                    dst_port,
                    bytes,
                } => out.send.push(Datagram {
                    ifindex,
                    src: self
                        .link_local
                        .get(&ifindex)
                        .copied()
                        .unwrap_or(Ipv6Addr::UNSPECIFIED),
                    dst,
                    dst_port,
                    bytes,
                }),
                Output::Rib(ch) => out.learn.push((ch, false)),
                Output::Kernel(k) => kernel.push(k),
            }
        }
        if !kernel.is_empty() {
            // Only fails once the writer is gone, i.e. ARIP is stopping.
            let _ = self.kernel.send(kernel);
        }
    }
}

/// Most kernel route requests in flight at once.
const KERNEL_PIPELINE: usize = 256;

/// Applies ARIP's kernel routes in the order the core emitted them, on the
/// daemon's netlink connection. Requests are pipelined (a chunk is handed
/// to the connection at once, in order, and the kernel answers them in
/// that order), so a burst costs a few scheduler turns, not one per route:
/// the daemon is one thread, and a neighbour flooding us keeps the speaker
/// busy. [`AripTask::stop`] ends the writer before the daemon removes every
/// proto 0xa6 route: a request already handed to the connection is
/// answered before that removal's dump, so no route of ours outlives it.
async fn write_kernel_routes(nl: Netlink, mut rx: mpsc::UnboundedReceiver<Vec<KernelRoute>>) {
    while let Some(mut routes) = rx.recv().await {
        while let Ok(more) = rx.try_recv() {
            routes.extend(more);
        }
        for chunk in routes.chunks(KERNEL_PIPELINE) {
            let results = futures_util::future::join_all(chunk.iter().map(|k| async {
                match k.op {
                    KernelOp::Add => {
                        nl.route_replace(k.prefix, k.plen, k.next_hop, k.ifindex, k.metric.into())
                            .await
                    }
                    KernelOp::Remove => nl.route_delete(k.prefix, k.plen).await,
                }
            }))
            .await;
            for (k, r) in chunk.iter().zip(results) {
                match r {
                    Ok(()) => tracing::info!(route = ?k, "kernel route"),
                    Err(e) => tracing::warn!(route = ?k, error = %e, "kernel route not applied"),
                }
            }
        }
    }
}

pub struct AripTask {
    task: Task<AripSpeaker>,
    /// The kernel route writer (aborted with the task).
    writer: Option<JoinHandle<()>>,
    nl: Netlink,
    /// Reading the addresses again after lost notifications (aborted
    /// with the task).
    dump: Option<JoinHandle<()>>,
}

impl AripTask {
    pub async fn start(
        cfg: &AripConfig,
        nl: &Netlink,
        links: &[LinkInfo],
        events: mpsc::UnboundedSender<ProtoEvent>,
    ) -> Result<AripTask, ControlError> {
        let ifs = link_locals(nl, links, &cfg.interfaces)
            .await
            .map_err(ControlError::AripSetup)?;
        match nl.remove_our_routes().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                routes = n,
                "ARIP: stale kernel routes of a previous run removed"
            ),
            Err(e) => tracing::warn!(error = %e, "ARIP: cannot list stale kernel routes"),
        }
        let sock = LinkUdp::bind(PORT)
            .map_err(|e| ControlError::AripSetup(format!("bind [::]:521: {e}")))?;
        let clock = MonoClock::new();
        let ac = arip::Config {
            update_interval: cfg.update_interval,
            update_jitter: cfg.update_jitter,
            timeout: cfg.timeout,
            garbage: cfg.garbage,
            triggered_min: cfg.triggered_min,
            triggered_max: cfg.triggered_max,
            anycast_tag: cfg.anycast_tag,
            check_hop_limit: cfg.check_hop_limit,
            keyring: keyring(&cfg.keys),
            seq_start: seq_start(),
            seed: seq_start() ^ u64::from(std::process::id()),
            limit: cfg.limit,
            ..arip::Config::default()
        };
        let mut inst =
            Instance::new(ac, clock.now()).map_err(|e| ControlError::AripSetup(e.to_string()))?;
        let mut link_local = HashMap::new();
        for (name, ifindex, ll) in &ifs {
            sock.join(ALL_RIP_ROUTERS, *ifindex)
                .map_err(|e| ControlError::AripSetup(format!("{name}: join ff02::9: {e}")))?;
            let mtu = links
                .iter()
                .find(|l| l.ifindex == *ifindex)
                .map_or(1500, |l| l.mtu.min(u16::MAX as u32) as u16);
            inst.interface_up(
                clock.now(),
                InterfaceConfig {
                    ifindex: *ifindex,
                    name: name.clone(),
                    link_local: *ll,
                    cost: 1,
                    mtu,
                },
            )
            .map_err(|e| ControlError::AripSetup(format!("{name}: {e}")))?;
            link_local.insert(*ifindex, *ll);
            tracing::info!(interface = %name, link_local = %ll, "ARIP speaking");
        }
        let (kernel, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_kernel_routes(nl.clone(), rx));
        let mut origin = Originator::new(cfg.originate.clone());
        origin.set_down(links_down(links));
        let speaker = AripSpeaker {
            inst,
            link_local,
            kernel,
            origin,
        };
        let mut t = AripTask {
            task: Task::spawn(speaker, sock, clock, Some(events)),
            writer: Some(writer),
            nl: nl.clone(),
            dump: None,
        };
        // The daemon subscribed to address events before it started us:
        // whatever changes from here on reaches `address_event`.
        let (core, wake) = t.task.shared();
        read_addresses(nl.clone(), core, wake, clock).await;
        t.set_links(links);
        Ok(t)
    }

    /// The interfaces as the kernel shows them now: addresses on a link
    /// that is down (no carrier, or set down) originate nothing until it
    /// comes back.
    pub fn set_links(&mut self, links: &[LinkInfo]) {
        let now = self.task.clock.now();
        let mut core = self.task.core();
        let d = core.origin.set_down(links_down(links));
        core.originate(now, &d);
        drop(core);
        if !d.is_empty() {
            tracing::info!(
                withdrawn = d.withdraw.len(),
                added = d.add.len(),
                "ARIP: origination follows a link change"
            );
            self.task.wake();
        }
    }

    /// An address appeared, changed or went (the daemon's netlink monitor).
    pub fn address_event(&mut self, ev: AddressEvent) {
        let now = self.task.clock.now();
        let mut core = self.task.core();
        let d = core.origin.address_event(ev);
        core.originate(now, &d);
        let stale = core.origin.needs_dump();
        drop(core);
        if !d.is_empty() {
            self.task.wake();
        }
        if stale {
            self.read_addresses_again();
        }
    }

    /// Notifications were lost (or the last reading failed): read every
    /// address again, in a task of its own (the daemon loop does not wait).
    fn read_addresses_again(&mut self) {
        if self.dump.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        tracing::info!("ARIP: reading the interface addresses again");
        let (core, wake) = self.task.shared();
        self.dump = Some(tokio::spawn(read_addresses(
            self.nl.clone(),
            core,
            wake,
            self.task.clock,
        )));
    }

    /// Originates exactly `want` among the anycast addresses (address →
    /// metric 1..=15), as `[arip.originate] anycast` allows.
    pub fn set_local_anycast(&mut self, want: BTreeMap<Ipv6Addr, u8>) {
        let now = self.task.clock.now();
        let mut core = self.task.core();
        let served = want.into_iter().map(|(a, m)| (a, u32::from(m))).collect();
        let d = core.origin.set_served(served);
        core.originate(now, &d);
        let stale = core.origin.needs_dump();
        drop(core);
        if !d.is_empty() {
            self.task.wake();
        }
        if stale {
            self.read_addresses_again();
        }
    }

    /// Stops the speaker and the kernel route writer, and returns once the
    /// writer can send nothing more (then removing our routes is final).
    pub async fn stop(mut self) {
        if let Some(d) = self.dump.take() {
            d.abort();
        }
        let writer = self.writer.take();
        drop(self);
        if let Some(w) = writer {
            w.abort();
            let _ = w.await;
        }
    }

    /// `show arip`.
    pub fn view(&self) -> serde_json::Value {
        let now = self.task.clock.now();
        let c = self.task.core();
        let originated = c.origin.originated();
        let of_kind = |k: Kind| originated.iter().filter(move |(_, o)| o.kind == k);
        serde_json::json!({
            "view": c.inst.view(now),
            "counters": c.inst.counters(),
            "local_anycast": of_kind(Kind::Anycast)
                .map(|(p, o)| (p.addr().to_string(), o.metric))
                .collect::<BTreeMap<_, _>>(),
            "local_unicast": of_kind(Kind::Unicast).map(|(p, _)| p.to_string()).collect::<Vec<_>>(),
            "originated": originated
                .iter()
                .map(|(p, o)| serde_json::json!({
                    "prefix": p, "metric": o.metric, "kind": o.kind, "origin": o.origin,
                }))
                .collect::<Vec<_>>(),
        })
    }
}

impl Drop for AripTask {
    /// Without [`AripTask::stop`] (the daemon exiting): abort, do not wait.
    fn drop(&mut self) {
        if let Some(w) = &self.writer {
            w.abort();
        }
        if let Some(d) = &self.dump {
            d.abort();
        }
    }
}

/// Reads every IPv6 address and makes it what is originated from; events
/// arriving meanwhile are replayed on top (`Originator::begin_dump`).
async fn read_addresses(
    nl: Netlink,
    core: Arc<Mutex<AripSpeaker>>,
    wake: Arc<Notify>,
    clock: MonoClock,
) {
    lock(&core).origin.begin_dump();
    let addrs = nl.all_addresses().await;
    let mut c = lock(&core);
    match addrs {
        Ok(addrs) => {
            let n = addrs.len();
            let d = c.origin.finish_dump(addrs);
            c.originate(clock.now(), &d);
            tracing::debug!(
                addresses = n,
                originated = c.origin.originated().len(),
                "ARIP: addresses read"
            );
        }
        Err(e) => {
            // Read again at the next address event or resync.
            c.origin.abort_dump();
            tracing::warn!(error = %e, "ARIP: cannot read the interface addresses");
        }
    }
    drop(c);
    wake.notify_one();
}

/// Indexes of the interfaces whose link is not up.
fn links_down(links: &[LinkInfo]) -> std::collections::BTreeSet<u32> {
    links.iter().filter(|l| !l.up).map(|l| l.ifindex).collect()
}
