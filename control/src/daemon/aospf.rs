//! AOSPF inside anycast6d (`[aospf]`): a speaker task (daemon/speaker.rs)
//! with a raw IPv6 socket of next header 89, joined to ff02::5
//! (AllSPFRouters) and ff02::6 (AllDRouters) on every interface that is not
//! passive, driving the pure core (protocols/aospf). The socket leaves the
//! OSPF checksum alone (no IPV6_CHECKSUM): the core computes and verifies
//! it, and an authenticated packet carries a zero one (RFC 7166).
//!
//! ```text
//!  raw socket ip/89 ──► handle_packet ──► Instance ──► Send ──► raw socket (hop limit 1)
//!  links (converge) ──► interface_up / interface_down  ├─► Rib ──► RIB, Source::Aospf
//!  origin.rs ─────────► set_origination (whole set)    └─► Kernel ──► kernel_routes.rs
//! ```
//!
//! Anycast members it learns go to the RIB (learned layer), plain unicast
//! routes (one or several next hops) to the kernel's main table (proto
//! 0xa6) through a writer task of its own. What it originates is
//! `[aospf.originate]`, the same policy as `[arip.originate]`, followed by
//! daemon/origin.rs; the core takes the whole set at each change, each
//! connected prefix with the AOSPF interface it is on. A clean stop
//! flushes our LSAs, waits (bounded) for their acknowledgements, then
//! removes every kernel route AOSPF installed.
//!
//! Graceful restart (RFC 5187; `anycast6ctl shutdown --graceful`):
//! ```text
//!  old process: prepare_restart ─► Grace-LSAs acknowledged (≤ 4 s) ─► writer detached:
//!               routes left in the kernel, listed in the state file with the
//!               members AOSPF taught the RIB and the end of the grace period
//!  new process: startup removal spares the listed routes; Instance::restarted;
//!               writer inherits them; members restored into the RIB (no FIB change)
//!  restarting() turns false (drain) ─► ProtoEvent::restarted: restored members
//!               forgotten, the core's whole table learned, one converge;
//!               writer: routes named again replaced in place, the others swept
//! ```

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::ard::{keyring, link_locals, link_mtu, link_named, seq_start};
use super::kernel_routes::{Change, Installed, RouteTx, RouteWriter};
use super::link::{LinkSocket, Received, Transport};
use super::origin::{self, Originating};
use super::routing::{self, Handover, Routed, RoutingSpeaker, RoutingTask};
use super::speaker::{Datagram, Outputs, ProtoEvent, Speaker};
use super::state_file::GracefulRestart;
use super::Daemon;
use crate::aospf::{self, Instance, InterfaceAuth, KernelOp, Originated, Output};
use crate::config::{AospfConfig, AospfInterface, Config};
use crate::neigh::{LinkInfo, Netlink};
use crate::proto::clock::MonoClock;
use crate::proto::originate::{Diff, Kind, Origin, Originator, Prefix};
use crate::proto::{Instant, RibChange, Source};
use crate::ControlError;

/// IPv6 next header of OSPF.
pub const PROTO_OSPF: u8 = 89;
pub const ALL_SPF_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 5);
pub const ALL_D_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 6);

/// The sub-views of `show aospf`.
pub const VIEWS: &[&str] = &["neighbors", "database", "routes", "interfaces"];

/// An AOSPF interface as the daemon runs it.
struct Iface {
    /// What the core is (or will be) given.
    cfg: aospf::InterfaceConfig,
    /// Its link is up and the core runs on it.
    up: bool,
}

pub struct AospfSpeaker {
    inst: Instance,
    ifaces: BTreeMap<u32, Iface>,
    /// To the kernel route writer, in the order the core emitted them.
    kernel: RouteTx,
    origin: Originator,
    /// The core was restarting gracefully at the last drain.
    restarting: bool,
}

/// What a graceful restart hands the AOSPF task of the new process.
pub struct Resume {
    /// What is left of the grace period (None: over, an ordinary start).
    pub period: Option<Duration>,
    /// The old process's kernel routes: the writer takes them over; swept
    /// at the end of the restart (at once without a period) unless the new
    /// table names them.
    pub routes: Installed,
}

impl AospfSpeaker {
    /// Everything originated, as the core takes it: a connected prefix
    /// with the AOSPF interface it is on, anycast addresses with the AC
    /// bit, metrics within 16 bits.
    fn originated(&self) -> Vec<Originated> {
        let mut on_iface: BTreeMap<Prefix, u32> = BTreeMap::new();
        for a in self.origin.addresses().iter() {
            if let (Ok(p), true) = (a.connected(), self.ifaces.contains_key(&a.ifindex)) {
                on_iface.entry(p).or_insert(a.ifindex);
            }
        }
        self.origin
            .originated()
            .iter()
            .map(|(p, o)| Originated {
                prefix: p.addr(),
                plen: p.plen(),
                metric: o.metric.min(u32::from(u16::MAX)) as u16,
                anycast: o.kind == Kind::Anycast,
                ifindex: (o.origin == Origin::Connected)
                    .then(|| on_iface.get(p).copied())
                    .flatten(),
            })
            .collect()
    }
}

impl Originating for AospfSpeaker {
    const LABEL: &'static str = "AOSPF";

    fn origin(&mut self) -> &mut Originator {
        &mut self.origin
    }

    fn originate(&mut self, now: Instant, d: &Diff) {
        if d.is_empty() {
            return;
        }
        for (p, o) in &d.withdraw {
            tracing::info!(prefix = %p, kind = ?o.kind, origin = ?o.origin, "AOSPF: no longer originated");
        }
        for (p, o) in d
            .add
            .iter()
            .map(|(p, o)| (p, o))
            .chain(d.change.iter().map(|(p, _, n)| (p, n)))
        {
            tracing::info!(prefix = %p, metric = o.metric, kind = ?o.kind, origin = ?o.origin, "AOSPF: originated");
        }
        let all = self.originated();
        self.inst.set_origination(now, all);
    }
}

impl RoutingSpeaker for AospfSpeaker {
    /// Runs the core on the interfaces whose link is up, and only those; a
    /// changed MTU reconfigures. True if the core was called.
    fn follow_links(&mut self, now: Instant, links: &[LinkInfo]) -> bool {
        let mut called = false;
        for (ifindex, i) in &mut self.ifaces {
            let up = links.iter().any(|l| l.ifindex == *ifindex && l.up);
            let mtu = link_mtu(links, *ifindex);
            if up && (!i.up || i.cfg.mtu != mtu) {
                i.cfg.mtu = mtu;
                self.inst.interface_up(now, i.cfg.clone());
                tracing::info!(interface = %i.cfg.name, link_local = %i.cfg.link_local, mtu, passive = i.cfg.passive, "AOSPF interface up");
            } else if !up && i.up {
                self.inst.interface_down(now, *ifindex);
                tracing::info!(interface = %i.cfg.name, "AOSPF interface down (link down)");
            } else {
                continue;
            }
            i.up = up;
            called = true;
        }
        called
    }

    /// Our LSAs flushed (MaxAge) so neighbours route around us at once;
    /// the core's timer then runs until they are acknowledged.
    fn shutdown(&mut self, now: Instant) -> bool {
        self.inst.shutdown(now);
        true
    }

    /// Grace-LSAs on every link; LSAs and routes stay. The core's timer
    /// then runs until they are acknowledged.
    fn prepare_restart(&mut self, now: Instant) -> bool {
        self.inst.prepare_restart(now);
        true
    }
}

impl Speaker for AospfSpeaker {
    fn handle_packet(&mut self, now: Instant, r: &Received, b: &[u8]) {
        // The socket hears every interface; the core only runs on ours.
        if self.ifaces.get(&r.ifindex).is_some_and(|i| i.up) {
            self.inst.handle_packet(now, r.ifindex, r.src, r.dst, b);
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.inst.handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.inst.poll_timeout()
    }
    fn drain(&mut self, out: &mut Outputs) {
        let inst = &mut self.inst;
        let next = || {
            Some(match inst.poll_output()? {
                Output::Send {
                    ifindex,
                    src,
                    dst,
                    bytes,
                } => Routed::Send(Datagram {
                    ifindex,
                    src,
                    dst,
                    dst_port: 0,
                    bytes,
                    hop_limit: None,
                    router_alert: None,
                }),
                Output::Rib(ch) => Routed::Learn(ch),
                Output::Kernel(k) => Routed::Kernel(Change::new(
                    k.op == KernelOp::Add,
                    k.prefix,
                    k.plen,
                    k.nexthops,
                    k.metric,
                )),
            })
        };
        routing::drain(next, out, &self.kernel);
        if self.restarting && !self.inst.restarting() {
            // The drain above carried the whole table: what the old
            // process left and the new one did not name goes after it.
            self.restarting = false;
            self.kernel.sweep();
            out.restarted = Some(Source::Aospf);
            tracing::info!("AOSPF graceful restart over: routes installed whole");
        }
    }
}

/// The core's config of `[aospf]`.
fn core_config(cfg: &AospfConfig) -> aospf::Config {
    let mut c = aospf::Config::new(cfg.router_id);
    c.area = cfg.area;
    c.instance_id = cfg.instance_id;
    c.spf_delay = cfg.spf_delay;
    c.spf_hold = cfg.spf_hold;
    c.min_ls_interval = cfg.lsa_min_interval;
    c.max_lsas = cfg.max_lsas;
    c.gr_helper = cfg.graceful_restart_helper;
    c.grace_period = cfg.grace_period;
    c
}

/// The core's config of one `[[aospf.interface]]`.
fn interface_config(
    i: &AospfInterface,
    ifindex: u32,
    link_local: Ipv6Addr,
    mtu: u16,
    seq_start: u64,
) -> aospf::InterfaceConfig {
    let mut c = aospf::InterfaceConfig::new(ifindex, &i.name, link_local, i.network);
    c.mtu = mtu;
    c.cost = i.cost;
    c.priority = i.priority;
    c.hello_interval = i.hello_interval;
    c.dead_interval = i.dead_interval;
    c.retransmit_interval = i.retransmit_interval;
    c.transmit_delay = i.transmit_delay;
    c.passive = i.passive;
    c.auth = i.auth.as_ref().map(|a| InterfaceAuth {
        keys: keyring(std::slice::from_ref(&a.key)),
        prep: a.prep,
        seq_start,
    });
    c
}

/// (ifindex, link-local or `::`) of a passive interface: nothing is sent
/// there, so it needs no link-local address (`lo` has none).
async fn passive_link(
    nl: &Netlink,
    links: &[LinkInfo],
    name: &str,
) -> Result<(u32, Ipv6Addr), ControlError> {
    let l = link_named(links, name).map_err(ControlError::AospfSetup)?;
    let ll = nl
        .addresses(l.ifindex)
        .await
        .map_err(|e| ControlError::AospfSetup(e.to_string()))?
        .into_iter()
        .map(|(a, _, _)| a)
        .find(|a| a.segments()[0] & 0xffc0 == 0xfe80);
    Ok((l.ifindex, ll.unwrap_or(Ipv6Addr::UNSPECIFIED)))
}

/// AOSPF running: its speaker task, kernel route writer and origination.
pub type AospfTask = RoutingTask<AospfSpeaker>;

impl RoutingTask<AospfSpeaker> {
    /// Starts AOSPF; with `resume`, as the new process of a graceful
    /// restart.
    pub async fn start(
        cfg: &AospfConfig,
        nl: &Netlink,
        links: &[LinkInfo],
        events: mpsc::UnboundedSender<ProtoEvent>,
        resume: Option<Resume>,
    ) -> Result<RoutingTask<AospfSpeaker>, ControlError> {
        let speaking: Vec<String> = cfg
            .interfaces
            .iter()
            .filter(|i| !i.passive)
            .map(|i| i.name.clone())
            .collect();
        let lls = link_locals(nl, links, &speaking)
            .await
            .map_err(ControlError::AospfSetup)?;
        let sock = LinkSocket::open(
            Transport::Raw {
                next_header: PROTO_OSPF,
                checksum_offset: None,
            },
            1,
        )
        .map_err(|e| ControlError::AospfSetup(format!("raw socket ip/{PROTO_OSPF}: {e}")))?;
        let clock = MonoClock::new();
        let seq = seq_start();
        let mut ifaces = BTreeMap::new();
        for i in &cfg.interfaces {
            let (ifindex, ll) = match lls.iter().find(|(n, _, _)| *n == i.name) {
                Some((_, ifindex, ll)) => (*ifindex, *ll),
                None => passive_link(nl, links, &i.name).await?,
            };
            if !i.passive {
                for g in [ALL_SPF_ROUTERS, ALL_D_ROUTERS] {
                    sock.join(g, ifindex).map_err(|e| {
                        ControlError::AospfSetup(format!("{}: join {g}: {e}", i.name))
                    })?;
                }
            }
            let c = interface_config(i, ifindex, ll, link_mtu(links, ifindex), seq);
            ifaces.insert(ifindex, Iface { cfg: c, up: false });
        }
        let (inst, writer) = match resume {
            None => (
                Instance::new(core_config(cfg), clock.now()),
                RouteWriter::spawn(nl.clone(), "AOSPF"),
            ),
            Some(r) => {
                let w = RouteWriter::inherit(nl.clone(), "AOSPF", r.routes);
                match r.period {
                    Some(p) => (Instance::restarted(core_config(cfg), clock.now(), p), w),
                    None => {
                        w.sender().sweep();
                        (Instance::new(core_config(cfg), clock.now()), w)
                    }
                }
            }
        };
        let restarting = inst.restarting();
        let mut speaker = AospfSpeaker {
            inst,
            ifaces,
            kernel: writer.sender(),
            origin: origin::originator(cfg.originate.clone(), links),
            restarting,
        };
        speaker.follow_links(clock.now(), links);
        tracing::info!(router_id = %cfg.router_id, area = %cfg.area, interfaces = cfg.interfaces.len(), restarting, "AOSPF started");
        Ok(RoutingTask::spawn(speaker, sock, clock, events, writer, nl, links).await)
    }

    /// `show aospf [sub-view]`: the whole (summary) or one part of the
    /// core's view.
    pub fn view(&self, sub: Option<&str>) -> Value {
        let c = self.core();
        let v = c.inst.view(self.now());
        match sub {
            Some("neighbors") => neighbors(&v),
            Some("database") => enc(&v.database),
            Some("routes") => enc(&v.routes),
            Some("interfaces") => interfaces(&c.ifaces, &v),
            _ => json!({
                "interfaces": interfaces(&c.ifaces, &v),
                "originated": origin::originated_json(c.origin.originated()),
                "graceful_restart": graceful_restart(&v, c.inst.config().gr_helper),
                "view": enc(&v),
            }),
        }
    }
}

/// Where graceful restart stands: restarting until when (Unix seconds),
/// and whom we help.
fn graceful_restart(v: &aospf::View, helper: bool) -> Value {
    let until = v.restarting_for_ms.map(|ms| {
        SystemTime::now()
            .checked_add(Duration::from_millis(ms))
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs())
    });
    let helping: Vec<Value> = v
        .neighbors
        .iter()
        .filter_map(|n| {
            n.helping_for_ms
                .map(|ms| json!({"router_id": n.router_id, "interface": n.interface, "for_ms": ms}))
        })
        .collect();
    json!({
        "restarting": v.restarting_for_ms.is_some(),
        "restarting_for_ms": v.restarting_for_ms,
        "until_unix": until,
        "helper": helper,
        "helping": helping,
    })
}

/// A part of the view as JSON.
fn enc(x: &impl serde::Serialize) -> Value {
    serde_json::to_value(x).expect("views always encode")
}

/// The core's neighbours, each with the state of its interface (FRR's
/// `I/F[State]`).
fn neighbors(v: &aospf::View) -> Value {
    v.neighbors
        .iter()
        .map(|n| {
            let mut x = enc(n);
            let state = v
                .interfaces
                .iter()
                .find(|i| i.ifindex == n.ifindex)
                .map(|i| i.state.clone());
            x["interface_state"] = json!(state);
            x
        })
        .collect()
}

/// Every configured interface: what the daemon runs it with (link-local,
/// MTU, link state, groups joined), then the core's view of it where it
/// runs (state, DR, BDR, neighbours; `state` is null where it does not).
fn interfaces(ifaces: &BTreeMap<u32, Iface>, v: &aospf::View) -> Value {
    ifaces
        .iter()
        .map(|(ifindex, i)| {
            let c = &i.cfg;
            let joined: &[Ipv6Addr] = if c.passive {
                &[]
            } else {
                &[ALL_SPF_ROUTERS, ALL_D_ROUTERS]
            };
            let mut x = json!({
                "name": c.name, "ifindex": ifindex, "link_local": c.link_local, "mtu": c.mtu,
                "link_up": i.up, "passive": c.passive, "network": c.network, "cost": c.cost,
                "priority": c.priority, "hello_interval_s": c.hello_interval.as_secs(),
                "dead_interval_s": c.dead_interval.as_secs(),
                "retransmit_interval_s": c.retransmit_interval.as_secs(),
                "transmit_delay_s": c.transmit_delay, "authenticated": c.auth.is_some(),
                "joined": joined, "state": null,
            });
            if let (Some(core), Some(obj)) = (
                v.interfaces.iter().find(|ci| ci.ifindex == *ifindex),
                x.as_object_mut(),
            ) {
                if let Value::Object(fields) = enc(core) {
                    obj.extend(fields);
                }
            }
            x
        })
        .collect()
}

impl Daemon {
    /// Starts, restarts or stops AOSPF to match `cfg`, and tells it what
    /// this router serves. The first start after a graceful exit resumes
    /// the restart the old process announced.
    pub(super) async fn sync_aospf(&mut self, cfg: &Config) {
        if self.aospf.as_ref().map(|(_, c)| c) != cfg.aospf.as_ref() {
            if let Some((t, _)) = self.aospf.take() {
                t.stop().await;
                tracing::info!("AOSPF stopped");
                if self.learned.forget(Source::Aospf) {
                    self.dirty = true;
                }
            }
            if let Some(ac) = cfg.aospf.clone() {
                let period = self
                    .gr_pending
                    .as_ref()
                    .and_then(|g| g.remaining(SystemTime::now()));
                let resume = self.gr_pending.as_ref().map(|g| Resume {
                    period,
                    routes: g.routes(),
                });
                match AospfTask::start(&ac, &self.nl, &self.links, self.proto_tx.clone(), resume)
                    .await
                {
                    Ok(t) => {
                        if let Some(g) = self.gr_pending.take() {
                            self.resume_members(&g, period);
                        }
                        self.aospf = Some((t, ac));
                    }
                    Err(e) => tracing::error!(error = %e, "AOSPF not started"),
                }
            }
        }
        let served = self
            .served_anycast(cfg)
            .into_iter()
            .map(|(a, d)| (a, d.min(u32::from(u16::MAX))))
            .collect();
        if let Some((t, _)) = &mut self.aospf {
            t.set_served(served);
        }
    }

    /// The members AOSPF had taught before a graceful restart, back in the
    /// RIB while the new process restarts (so the FIB keeps them); none
    /// once the grace period is over.
    fn resume_members(&mut self, g: &GracefulRestart, period: Option<Duration>) {
        let Some(p) = period else {
            tracing::warn!(
                until_unix = g.until_unix,
                "graceful restart: the grace period is over; AOSPF starts afresh"
            );
            return;
        };
        for e in g.members() {
            self.learned.apply(&RibChange::Upsert(e), false);
        }
        self.dirty = true;
        tracing::info!(
            remaining_s = p.as_secs(),
            kernel_routes = g.aospf_routes.len(),
            members = g.aospf_members.len(),
            "AOSPF resumes a graceful restart"
        );
    }

    /// Clean exit of AOSPF.
    pub(super) async fn stop_aospf(&mut self) {
        if let Some((t, _)) = self.aospf.take() {
            t.stop().await;
            tracing::info!("AOSPF stopped");
        }
    }

    /// Planned restart of AOSPF: Grace-LSAs sent (and acknowledged, at
    /// most 4 s), its kernel routes left in place; what the next process
    /// needs, None when AOSPF does not run.
    pub(super) async fn restart_aospf(&mut self) -> Option<(GracefulRestart, bool)> {
        let (t, ac) = self.aospf.take()?;
        let at = SystemTime::now();
        let Handover {
            acknowledged,
            routes,
        } = t.stop_for_restart().await;
        let routes = routes.unwrap_or_default();
        let gr = GracefulRestart::new(
            at,
            ac.grace_period,
            &routes,
            self.learned.entries(Source::Aospf),
        );
        tracing::info!(
            acknowledged,
            grace_period_s = ac.grace_period.as_secs(),
            until_unix = gr.until_unix,
            kernel_routes = gr.aospf_routes.len(),
            members = gr.aospf_members.len(),
            "AOSPF graceful restart announced"
        );
        Some((gr, acknowledged))
    }

    /// `show aospf [sub-view]`.
    pub(super) fn aospf_view(&self, sub: Option<&str>) -> Value {
        self.aospf
            .as_ref()
            .map_or(Value::Null, |(t, _)| t.view(sub))
    }
}
