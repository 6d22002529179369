//! ARIP inside anycast6d (`[arip]`): a speaker task (daemon/speaker.rs)
//! with a UDP socket on port 521 joined to ff02::9 on each ARIP interface,
//! driving the pure core (control/src/arip). Anycast members it learns go
//! to the RIB (learned layer); plain unicast routes go to the kernel (proto
//! 0xa6) through a writer task of its own (daemon/kernel_routes.rs), so a
//! burst of them (a neighbour announcing thousands of prefixes at once, up
//! to its route limit) never holds up the daemon loop and its management
//! requests.
//!
//! What ARIP announces besides what it learns is `[arip.originate]`
//! (anycast6_core::originate, followed by daemon/origin.rs): connected
//! prefixes of every interface, `lo` and /128s included, followed as
//! addresses come and go, static prefixes, and the addresses this router
//! serves (configured groups, ARD members) with their best distance as
//! metric. Only the difference of each change is pushed into the core:
//!
//! ```text
//!  Originator diff ─► set/remove_local_unicast, set/remove_local_anycast ─► Instance
//! ```

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv6Addr;

use tokio::sync::mpsc;

use super::ard::{keyring, link_locals, link_mtu, seq_start};
use super::kernel_routes::{Change, RouteTx, RouteWriter};
use super::origin::{self, Originating};
use super::routing::{self, Routed, RoutingSpeaker, RoutingTask};
use super::speaker::{Datagram, Outputs, ProtoEvent, Speaker};
use super::udp::{LinkUdp, Received};
use crate::arip::{self, Instance, InterfaceConfig, KernelOp, Output};
use crate::config::AripConfig;
use crate::neigh::{LinkInfo, Netlink};
use crate::proto::clock::MonoClock;
use crate::proto::originate::{Diff, Kind, Originator};
use crate::proto::Instant;
use crate::ControlError;

pub const PORT: u16 = 521;
pub const ALL_RIP_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 9);

pub struct AripSpeaker {
    inst: Instance,
    /// Source address per interface.
    link_local: HashMap<u32, Ipv6Addr>,
    /// To the kernel route writer, in the order the core emitted them.
    kernel: RouteTx,
    /// What is originated, and from what.
    origin: Originator,
}

impl Originating for AripSpeaker {
    const LABEL: &'static str = "ARIP";

    fn origin(&mut self) -> &mut Originator {
        &mut self.origin
    }

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

/// ARIP follows no link itself (origination does) and has no goodbye.
impl RoutingSpeaker for AripSpeaker {}

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
        let (inst, link_local) = (&mut self.inst, &self.link_local);
        let next = || {
            Some(match inst.poll_output()? {
                Output::Send {
                    ifindex,
                    dst,
                    dst_port,
                    bytes,
                } => Routed::Send(Datagram {
                    ifindex,
                    src: link_local
                        .get(&ifindex)
                        .copied()
                        .unwrap_or(Ipv6Addr::UNSPECIFIED),
                    dst,
                    dst_port,
                    bytes,
                    hop_limit: None,
                    router_alert: None,
                }),
                Output::Rib(ch) => Routed::Learn(ch),
                Output::Kernel(k) => Routed::Kernel(Change::new(
                    k.op == KernelOp::Add,
                    k.prefix,
                    k.plen,
                    vec![(k.next_hop, k.ifindex)],
                    k.metric.into(),
                )),
            })
        };
        routing::drain(next, out, &self.kernel);
    }
}

/// ARIP running: its speaker task, kernel route writer and origination.
pub type AripTask = RoutingTask<AripSpeaker>;

impl RoutingTask<AripSpeaker> {
    pub async fn start(
        cfg: &AripConfig,
        nl: &Netlink,
        links: &[LinkInfo],
        events: mpsc::UnboundedSender<ProtoEvent>,
    ) -> Result<RoutingTask<AripSpeaker>, ControlError> {
        let ifs = link_locals(nl, links, &cfg.interfaces)
            .await
            .map_err(ControlError::AripSetup)?;
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
            inst.interface_up(
                clock.now(),
                InterfaceConfig {
                    ifindex: *ifindex,
                    name: name.clone(),
                    link_local: *ll,
                    cost: 1,
                    mtu: link_mtu(links, *ifindex),
                },
            )
            .map_err(|e| ControlError::AripSetup(format!("{name}: {e}")))?;
            link_local.insert(*ifindex, *ll);
            tracing::info!(interface = %name, link_local = %ll, "ARIP speaking");
        }
        let writer = RouteWriter::spawn(nl.clone(), "ARIP");
        let speaker = AripSpeaker {
            inst,
            link_local,
            kernel: writer.sender(),
            origin: origin::originator(cfg.originate.clone(), links),
        };
        Ok(RoutingTask::spawn(speaker, sock, clock, events, writer, nl, links).await)
    }

    /// Originates exactly `want` among the anycast addresses (address →
    /// metric 1..=15), as `[arip.originate] anycast` allows.
    pub fn set_local_anycast(&mut self, want: BTreeMap<Ipv6Addr, u8>) {
        let served = want.into_iter().map(|(a, m)| (a, u32::from(m))).collect();
        self.set_served(served);
    }

    /// `show arip`.
    pub fn view(&self) -> serde_json::Value {
        let now = self.now();
        let c = self.core();
        let originated = c.origin.originated();
        let of_kind = |k: Kind| originated.iter().filter(move |(_, o)| o.kind == k);
        serde_json::json!({
            "view": c.inst.view(now),
            "counters": c.inst.counters(),
            "local_anycast": of_kind(Kind::Anycast)
                .map(|(p, o)| (p.addr().to_string(), o.metric))
                .collect::<BTreeMap<_, _>>(),
            "local_unicast": of_kind(Kind::Unicast).map(|(p, _)| p.to_string()).collect::<Vec<_>>(),
            "originated": origin::originated_json(originated),
        })
    }
}
