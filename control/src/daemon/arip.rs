//! ARIP inside anycast6d (`[arip]`): a speaker task (daemon/speaker.rs)
//! with a UDP socket on port 521 joined to ff02::9 on each ARIP interface,
//! driving the pure core (control/src/arip). Anycast members it learns go
//! to the RIB (learned layer); plain unicast routes go to the kernel (proto
//! 0xa6) through a writer task of its own, so a burst of them (a neighbour
//! announcing thousands of prefixes at once, up to its route limit) never
//! holds up the daemon loop and its management requests; the addresses
//! this router serves (configured groups, ARD members) are originated with
//! their best distance as metric.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv6Addr;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ard::{keyring, link_locals, seq_start};
use super::speaker::{Datagram, Outputs, ProtoEvent, Speaker, Task};
use super::udp::{LinkUdp, Received};
use crate::arip::{self, Instance, InterfaceConfig, KernelOp, KernelRoute, Output};
use crate::config::AripConfig;
use crate::neigh::{LinkInfo, Netlink};
use crate::proto::clock::MonoClock;
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
    /// What is originated now: anycast address → metric.
    local_anycast: BTreeMap<Ipv6Addr, u8>,
    /// Connected prefixes originated now.
    local_unicast: Vec<(Ipv6Addr, u8)>,
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
        let speaker = AripSpeaker {
            inst,
            link_local,
            kernel,
        };
        let mut t = AripTask {
            task: Task::spawn(speaker, sock, clock, Some(events)),
            writer: Some(writer),
            local_anycast: BTreeMap::new(),
            local_unicast: Vec::new(),
        };
        if cfg.redistribute_connected {
            t.set_connected(nl, links).await;
        }
        Ok(t)
    }

    /// Originates the global prefixes of every interface but `lo`.
    async fn set_connected(&mut self, nl: &Netlink, links: &[LinkInfo]) {
        let mut want = Vec::new();
        for l in links.iter().filter(|l| l.name != "lo") {
            let Ok(addrs) = nl.addresses(l.ifindex).await else {
                continue;
            };
            for (a, plen, ours) in addrs {
                let link_local = a.segments()[0] & 0xffc0 == 0xfe80;
                if ours || link_local || plen == 0 || plen >= 128 {
                    continue;
                }
                let net = ipnetwork::Ipv6Network::new(a, plen).map(|n| n.network());
                if let Ok(p) = net {
                    if !want.contains(&(p, plen)) {
                        want.push((p, plen));
                    }
                }
            }
        }
        let now = self.task.clock.now();
        let mut core = self.task.core();
        for (p, plen) in &want {
            if let Err(e) = core.inst.set_local_unicast(now, *p, *plen, 1, 0) {
                tracing::warn!(prefix = %p, plen, error = %e, "ARIP: not originated");
            }
        }
        drop(core);
        self.local_unicast = want;
        self.task.wake();
    }

    /// Originates exactly `want` (anycast address → metric 1..=15).
    pub fn set_local_anycast(&mut self, want: BTreeMap<Ipv6Addr, u8>) {
        if want == self.local_anycast {
            return;
        }
        let now = self.task.clock.now();
        let mut core = self.task.core();
        for a in self.local_anycast.keys() {
            if !want.contains_key(a) {
                if let Err(e) = core.inst.remove_local_anycast(now, *a) {
                    tracing::warn!(anycast = %a, error = %e, "ARIP: withdrawing");
                }
            }
        }
        for (a, m) in &want {
            if self.local_anycast.get(a) != Some(m) {
                if let Err(e) = core.inst.set_local_anycast(now, *a, *m) {
                    tracing::warn!(anycast = %a, metric = m, error = %e, "ARIP: not originated");
                }
            }
        }
        drop(core);
        tracing::info!(addresses = want.len(), "ARIP: local anycast addresses");
        self.local_anycast = want;
        self.task.wake();
    }

    /// Stops the speaker and the kernel route writer, and returns once the
    /// writer can send nothing more (then removing our routes is final).
    pub async fn stop(mut self) {
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
        serde_json::json!({
            "view": c.inst.view(now),
            "counters": c.inst.counters(),
            "local_anycast": self.local_anycast,
            "local_unicast": self.local_unicast.iter().map(|(p, l)| format!("{p}/{l}")).collect::<Vec<_>>(),
        })
    }
}

impl Drop for AripTask {
    /// Without [`AripTask::stop`] (the daemon exiting): abort, do not wait.
    fn drop(&mut self) {
        if let Some(w) = &self.writer {
            w.abort();
        }
    }
}
