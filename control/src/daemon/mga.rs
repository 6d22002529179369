//! MGA inside anycast6d (`[mga]`, docs/mga.md): a speaker task with a raw
//! IPv6 socket of next header 135 (the Mobility Header; the core writes and
//! checks its checksum), a second raw socket for DHAAD's ICMPv6 144/145
//! (fn dhaad), and the pure instance of protocols/mga.
//!
//! ```text
//!  raw ip/135 ──► handle_mh ──┐                      ┌─► Send ─► raw ip/135 | ip/58
//!  raw ip/58 (144/145) ───────┼─► Instance ─► Output ┼─► Bindings ─► RIB (Source::Mga: encap to each CoA)
//!  flow poll (member, RO) ────┘                      ├─► Saved ─► <state_file>.mga (home agent restart)
//!                                                    └─► ReverseTunnel / Hao / CnMap ─► the MGA BPF maps
//! ```
//!
//! The home agent holds A and the Home-Agents anycast address of A's
//! prefix on its home interface (nodad), and its own address is a tunnel
//! end point of the fast path (reverse tunnels, §5.2).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ard::seq_start;
use super::link::{LinkSocket, Received, Transport};
use super::speaker::{AbortOnDrop, Datagram, Outputs, Speaker, Task};
use super::Daemon;
use crate::config::{AdminState, Config, MemberConfig, MgaConfig};
use crate::mga::auth::Keyring;
use crate::mga::cache::Saved;
use crate::mga::instance::{self, home_agents_anycast, Instance, Output};
use crate::mga::packet;
use crate::mga::ro::RoConfig;
use crate::proto::{Instant, Source};
use crate::ControlError;
use anycast6_dataplane::mga::{HomeEntry, MgaCorrespondent, MgaFlow, MgaMember};
use anycast6_dataplane::AttachMode;

/// How often the member reads its egress program's flow counts (route
/// optimisation, docs/mga.md §7.1).
pub const FLOW_POLL: Duration = Duration::from_millis(200);

/// What the home agent's state file holds: its bindings and when they
/// were written (the time left counts down while no process runs).
#[derive(Debug, Serialize, Deserialize)]
struct SavedCache {
    written_unix_ms: u64,
    bindings: Vec<Saved>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `<state_file>.mga`: the home agent's binding cache.
pub fn cache_file(state_file: &Path) -> PathBuf {
    let mut p = state_file.as_os_str().to_owned();
    p.push(".mga");
    PathBuf::from(p)
}

pub struct MgaSpeaker {
    inst: Instance,
    /// The home agent's own address (outer source of its tunnels).
    ha_address: Option<Ipv6Addr>,
    cache_file: PathBuf,
    /// ICMPv6 messages for the DHAAD socket's task.
    icmp_tx: mpsc::UnboundedSender<instance::Send>,
    /// What the BPF maps hold (member, correspondent), for `show mga`.
    pub maps: MapState,
    /// The member's egress program (reverse tunnel, Home Address option,
    /// flow counts), its care-of address, its anycast addresses and
    /// whether replies are reverse-tunnelled.
    member_dp: Option<(MgaMember, Ipv6Addr, Vec<Ipv6Addr>, bool)>,
    /// The correspondent's programs.
    cn_dp: Option<MgaCorrespondent>,
}

fn dp_flow(f: &crate::mga::correspondent::Flow) -> MgaFlow {
    MgaFlow {
        cn: f.local,
        cn_port: f.local_port,
        anycast: f.home,
        service_port: f.service_port,
        proto: f.protocol,
    }
}

/// The state of the MGA programs' maps, as the instance wants it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MapState {
    /// Member: anycast address -> the home agent its replies are
    /// reverse-tunnelled to.
    pub reverse_tunnel: BTreeMap<Ipv6Addr, Option<Ipv6Addr>>,
    /// Member: flows whose replies carry the Home Address option.
    pub hao: BTreeMap<String, (crate::mga::correspondent::Flow, Ipv6Addr)>,
    /// Correspondent: flow bindings.
    pub cn: BTreeMap<String, (crate::mga::correspondent::Flow, Ipv6Addr)>,
    /// Bumped at every change.
    pub generation: u64,
}

fn flow_key(f: &crate::mga::correspondent::Flow) -> String {
    format!(
        "{} [{}]:{} -> [{}]:{}",
        f.protocol, f.local, f.local_port, f.home, f.service_port
    )
}

impl MgaSpeaker {
    fn members(&self, coas: &[(Ipv6Addr, bool)]) -> Vec<MemberConfig> {
        coas.iter()
            .map(|(coa, draining)| {
                let mut c = MemberConfig::new(*coa, None);
                c.distance = 1;
                c.weight = 1;
                c.action = anycast6_dataplane::Action::Encap;
                c.encap_source = self.ha_address;
                c.state = if *draining {
                    AdminState::Draining
                } else {
                    AdminState::Active
                };
                c
            })
            .collect()
    }

    /// The member's homes map as the reverse tunnel state says: every
    /// anycast address has an entry (its flows are counted), tunnelled to
    /// the home agent of a live registration when configured.
    fn sync_homes(&mut self) {
        let Some((dp, coa, homes, rt)) = &mut self.member_dp else {
            return;
        };
        let entries: Vec<(Ipv6Addr, HomeEntry)> = homes
            .iter()
            .map(|h| {
                let ha = self.maps.reverse_tunnel.get(h).copied().flatten();
                (
                    *h,
                    HomeEntry {
                        home_agent: ha.unwrap_or(Ipv6Addr::UNSPECIFIED),
                        coa: *coa,
                        reverse_tunnel: *rt && ha.is_some(),
                    },
                )
            })
            .collect();
        if let Err(e) = dp.set_homes(&entries) {
            tracing::error!(error = %e, "MGA: member homes map not written");
        }
    }

    /// Member: the egress program's flow counts into route optimisation.
    fn poll_flows(&mut self, now: Instant) {
        let Some((dp, ..)) = &self.member_dp else {
            return;
        };
        let flows = match dp.flows() {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "MGA: flow counts not read");
                return;
            }
        };
        let seen: Vec<(crate::mga::correspondent::Flow, u64)> = flows
            .iter()
            .map(|(f, c)| {
                (
                    crate::mga::correspondent::Flow {
                        protocol: f.proto,
                        local: f.cn,
                        local_port: f.cn_port,
                        home: f.anycast,
                        service_port: f.service_port,
                    },
                    c.packets,
                )
            })
            .collect();
        self.inst.observe_flows(now, &seen);
    }

    fn save(&self, bindings: Vec<Saved>) {
        let s = SavedCache {
            written_unix_ms: unix_ms(),
            bindings,
        };
        let tmp = self.cache_file.with_extension("mga.tmp");
        let r = serde_json::to_vec(&s)
            .map_err(std::io::Error::other)
            .and_then(|b| std::fs::write(&tmp, b))
            .and_then(|()| std::fs::rename(&tmp, &self.cache_file));
        if let Err(e) = r {
            tracing::warn!(file = %self.cache_file.display(), error = %e, "MGA: binding cache not saved");
        }
    }
}

impl Speaker for MgaSpeaker {
    fn handle_packet(&mut self, now: Instant, r: &Received, bytes: &[u8]) {
        self.inst.handle_mh(now, r.src, r.dst, bytes);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.inst.handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.inst.poll_timeout()
    }

    fn drain(&mut self, out: &mut Outputs) {
        while let Some(o) = self.inst.poll_output() {
            match o {
                Output::Send(s) if s.next_header == packet::PROTO_MH => out.send.push(Datagram {
                    ifindex: 0,
                    src: s.src,
                    dst: s.dst,
                    dst_port: 0,
                    bytes: s.bytes,
                    hop_limit: Some(instance::HOP_LIMIT),
                    router_alert: None,
                }),
                Output::Send(s) => {
                    let _ = self.icmp_tx.send(s);
                }
                Output::Bindings { home, members } => {
                    tracing::info!(anycast = %home, bindings = members.len(), "MGA: forwarding set");
                    let m = self.members(&members);
                    out.whole.push((home, Source::Mga, m, None));
                }
                Output::Saved(b) => self.save(b),
                Output::ReverseTunnel { home, home_agent } => {
                    tracing::info!(anycast = %home, home_agent = ?home_agent, "MGA: reverse tunnel");
                    self.maps.reverse_tunnel.insert(home, home_agent);
                    self.maps.generation += 1;
                    self.sync_homes();
                }
                Output::Hao(h) => {
                    match h {
                        crate::mga::ro::HaoChange::On { flow, coa } => {
                            tracing::info!(flow = %dp_flow(&flow), %coa, "MGA: route-optimised (Home Address option on)");
                            self.maps.hao.insert(flow_key(&flow), (flow, coa));
                            if let Some((dp, ..)) = &mut self.member_dp {
                                if let Err(e) = dp.set_ro_flow(&dp_flow(&flow), coa) {
                                    tracing::error!(error = %e, "MGA: route-optimised flow not written");
                                }
                            }
                        }
                        crate::mga::ro::HaoChange::Off(flow) => {
                            tracing::info!(flow = %dp_flow(&flow), "MGA: route optimisation off");
                            self.maps.hao.remove(&flow_key(&flow));
                            if let Some((dp, ..)) = &mut self.member_dp {
                                if let Err(e) = dp.remove_ro_flow(&dp_flow(&flow)) {
                                    tracing::warn!(error = %e, "MGA: route-optimised flow not removed");
                                }
                            }
                        }
                    }
                    self.maps.generation += 1;
                }
                Output::CnMap(c) => {
                    match c {
                        crate::mga::correspondent::MapChange::Set { flow, coa } => {
                            tracing::info!(flow = %dp_flow(&flow), %coa, "MGA: flow binding");
                            self.maps.cn.insert(flow_key(&flow), (flow, coa));
                            if let Some(dp) = &mut self.cn_dp {
                                if let Err(e) = dp.set_flow(&dp_flow(&flow), coa) {
                                    tracing::error!(error = %e, "MGA: flow binding not written");
                                }
                            }
                        }
                        crate::mga::correspondent::MapChange::Delete(flow) => {
                            tracing::info!(flow = %dp_flow(&flow), "MGA: flow binding gone");
                            self.maps.cn.remove(&flow_key(&flow));
                            if let Some(dp) = &mut self.cn_dp {
                                if let Err(e) = dp.remove_flow(&dp_flow(&flow)) {
                                    tracing::warn!(error = %e, "MGA: flow binding not removed");
                                }
                            }
                        }
                    }
                    self.maps.generation += 1;
                }
            }
        }
    }
}

/// A running MGA speaker and its DHAAD socket task.
pub struct MgaTask {
    task: Task<MgaSpeaker>,
    _dhaad: AbortOnDrop,
    _flows: Option<AbortOnDrop>,
    _health: Option<AbortOnDrop>,
    /// Addresses added to the home interface (removed at stop).
    added: Vec<(u32, Ipv6Addr)>,
}

/// The instance's config from `[mga]` (and `[member] addresses`).
fn instance_config(cfg: &MgaConfig, homes: &[Ipv6Addr], locals: &[Ipv6Addr]) -> instance::Config {
    let seq = seq_start();
    instance::Config {
        home_agent: cfg.home_agent.as_ref().map(|h| instance::HomeAgentConfig {
            address: h.address,
            anycast: h.anycast.clone(),
            peers: h.peers.clone(),
            max_bindings: h.max_bindings,
            max_lifetime: h.max_lifetime,
        }),
        member: cfg.member.as_ref().map(|m| instance::MemberConfig {
            care_of: m.care_of,
            homes: homes.to_vec(),
            home_agents: m.home_agents.clone(),
            discover: m.discover,
            lifetime: m.lifetime,
            metric: m.metric,
            route_optimisation: m.route_optimisation.then_some(RoConfig {
                after: m.ro_after,
                min_packets: m.ro_min_packets,
                lifetime: m.ro_lifetime,
                idle: m.ro_idle,
            }),
        }),
        correspondent: cfg
            .correspondent
            .as_ref()
            .map(|c| instance::CorrespondentConfig {
                locals: locals.to_vec(),
                optimise: c.optimise.clone(),
                max_flow_bindings: c.max_flow_bindings,
                max_lifetime: c.max_lifetime,
            }),
        keys: if cfg.keys.is_empty() {
            Keyring::none()
        } else {
            Keyring::new(
                cfg.keys
                    .iter()
                    .map(|k| (u32::from(k.id), k.clone()))
                    .collect(),
            )
        },
        message_id_start: seq,
        seq_start: (seq ^ (seq >> 16) ^ (seq >> 32)) as u16,
    }
}

impl MgaTask {
    pub async fn start(d: &Daemon, cfg: &MgaConfig) -> Result<MgaTask, ControlError> {
        let setup = |e: std::io::Error| ControlError::MgaSetup(e.to_string());
        let sock = LinkSocket::open(
            Transport::Raw {
                next_header: packet::PROTO_MH,
                checksum_offset: None,
            },
            instance::HOP_LIMIT,
        )
        .map_err(setup)?;
        let icmp = LinkSocket::open(
            Transport::Raw {
                next_header: packet::PROTO_ICMPV6,
                checksum_offset: None,
            },
            instance::HOP_LIMIT,
        )
        .map_err(setup)?;
        let homes = d
            .cfg
            .member_role
            .as_ref()
            .map(|m| m.addresses.clone())
            .unwrap_or_default();
        let locals: Vec<Ipv6Addr> =
            d.nl.all_addresses()
                .await?
                .into_iter()
                .map(|a| a.addr)
                .filter(|a| !a.is_loopback() && !a.is_unicast_link_local())
                .collect();
        // The home link: A and the Home-Agents anycast address held there.
        let mut added = Vec::new();
        if let Some(h) = &cfg.home_agent {
            let ifindex = d
                .links
                .iter()
                .find(|l| l.name == h.interface)
                .map(|l| l.ifindex)
                .ok_or_else(|| {
                    ControlError::MgaSetup(format!(
                        "[mga.home_agent] interface {:?} does not exist",
                        h.interface
                    ))
                })?;
            let have: Vec<Ipv6Addr> =
                d.nl.addresses(ifindex)
                    .await?
                    .into_iter()
                    .map(|(a, _, _)| a)
                    .collect();
            let mut want: Vec<Ipv6Addr> = h.anycast.clone();
            for a in &h.anycast {
                let ha = home_agents_anycast(*a);
                if !want.contains(&ha) {
                    want.push(ha);
                }
            }
            for a in want {
                if have.contains(&a) {
                    continue;
                }
                d.nl.add_address(ifindex, a).await?;
                added.push((ifindex, a));
            }
        }
        let clock = crate::proto::clock::MonoClock::new();
        let now = clock.now();
        let mut inst = Instance::new(instance_config(cfg, &homes, &locals), now);
        let cache_file = cache_file(&d.cfg.daemon.state_file);
        if cfg.home_agent.is_some() {
            match std::fs::read(&cache_file)
                .ok()
                .and_then(|b| serde_json::from_slice::<SavedCache>(&b).ok())
            {
                Some(s) => {
                    let gone = unix_ms().saturating_sub(s.written_unix_ms);
                    let left: Vec<Saved> = s
                        .bindings
                        .iter()
                        .map(|b| Saved {
                            remaining_ms: b.remaining_ms.saturating_sub(gone),
                            ..*b
                        })
                        .collect();
                    let n = inst.restore(now, &left);
                    // Those that lapsed meanwhile are asked to register
                    // again (§5.4).
                    let lapsed: Vec<Ipv6Addr> = left
                        .iter()
                        .filter(|b| b.remaining_ms == 0)
                        .map(|b| b.coa)
                        .collect();
                    inst.ask_refresh(&lapsed);
                    tracing::info!(restored = n, asked = lapsed.len(), file = %cache_file.display(), "MGA: binding cache read back");
                }
                None => tracing::info!(file = %cache_file.display(), "MGA: no saved binding cache"),
            }
        }
        let pin_dir = &d.cfg.daemon.pin_dir;
        let member_dp = match &cfg.member {
            Some(m) => {
                let mut dp = MgaMember::open(pin_dir)?;
                dp.attach_egress(&m.interface)?;
                Some((dp, m.care_of, homes.clone(), m.reverse_tunnel))
            }
            None => None,
        };
        let cn_dp = match &cfg.correspondent {
            Some(c) => {
                let mut dp = MgaCorrespondent::open(pin_dir)?;
                dp.attach(&c.interface, AttachMode::NativeOrGeneric)?;
                // Flow bindings of a process that is gone: its
                // correspondent state went with it.
                for (f, _) in dp.flows()? {
                    dp.remove_flow(&f)?;
                }
                Some(dp)
            }
            None => None,
        };
        let ro = cfg.member.as_ref().is_some_and(|m| m.route_optimisation);
        let (icmp_tx, icmp_rx) = mpsc::unbounded_channel();
        let mut speaker = MgaSpeaker {
            inst,
            ha_address: cfg.home_agent.as_ref().map(|h| h.address),
            cache_file,
            icmp_tx,
            maps: MapState::default(),
            member_dp,
            cn_dp,
        };
        speaker.sync_homes();
        let task = Task::spawn(speaker, sock, clock, Some(d.proto_tx.clone()));
        let dhaad = dhaad(&task, icmp, icmp_rx);
        let health = cfg
            .member
            .as_ref()
            .and_then(|m| m.health_check.clone())
            .map(|h| {
                let (core, wake) = task.shared();
                AbortOnDrop(tokio::spawn(async move {
                    let mut last: Option<bool> = None;
                    let mut tick = tokio::time::interval(h.interval);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        let ok = tokio::time::timeout(h.timeout, super::ard::probe(&h.probe))
                            .await
                            .unwrap_or_default();
                        if last != Some(ok) {
                            tracing::info!(healthy = ok, probe = ?h.probe, "MGA member health check");
                            super::speaker::lock(&core).inst.set_healthy(clock.now(), ok);
                            wake.notify_one();
                            last = Some(ok);
                        }
                    }
                }))
            });
        let flows = ro.then(|| {
            let (core, wake) = task.shared();
            AbortOnDrop(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(FLOW_POLL).await;
                    super::speaker::lock(&core).poll_flows(clock.now());
                    wake.notify_one();
                }
            }))
        });
        tracing::info!(
            home_agent = cfg.home_agent.is_some(),
            member = cfg.member.is_some(),
            correspondent = cfg.correspondent.is_some(),
            keyed = !cfg.keys.is_empty(),
            "MGA started"
        );
        Ok(MgaTask {
            task,
            _dhaad: AbortOnDrop(dhaad),
            _flows: flows,
            _health: health,
            added,
        })
    }

    pub fn view(&self) -> Value {
        let now = self.task.clock.now();
        let s = self.task.core();
        let mut v = serde_json::to_value(s.inst.view(now)).unwrap_or(Value::Null);
        v["maps"] = serde_json::to_value(&s.maps).unwrap_or(Value::Null);
        // The programs' own counters (docs/mga.md §8): what they did to
        // packets, by reason.
        let counted = |c: Result<Vec<(&'static str, u64, u64)>, _>| -> Value {
            match c {
                Ok(c) => c
                    .into_iter()
                    .map(|(n, p, b)| (n.to_string(), serde_json::json!({"packets": p, "bytes": b})))
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
                Err(e) => Value::String(format!("{e}")),
            }
        };
        if let Some((dp, ..)) = &s.member_dp {
            v["dataplane"]["member"] = counted(dp.counters());
        }
        if let Some(dp) = &s.cn_dp {
            v["dataplane"]["correspondent"] = counted(dp.counters());
        }
        v
    }

    /// Clean exit: deregistrations and withdrawals go out, the home
    /// link's addresses go.
    pub async fn stop(self, d: &Daemon) {
        let now = self.task.clock.now();
        self.task.core().inst.shutdown(now);
        self.task.wake();
        tokio::time::sleep(Duration::from_millis(50)).await;
        for (ifindex, a) in &self.added {
            if let Err(e) = d.nl.del_address(*ifindex, *a).await {
                tracing::warn!(address = %a, error = %e, "MGA: home link address not removed");
            }
        }
    }
}

/// DHAAD's socket: ICMPv6 in (only 144 and 145 reach the instance), and
/// the instance's ICMPv6 messages out.
fn dhaad(
    task: &Task<MgaSpeaker>,
    sock: LinkSocket,
    mut out: mpsc::UnboundedReceiver<instance::Send>,
) -> JoinHandle<()> {
    let (core, wake) = task.shared();
    let clock = task.clock;
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        loop {
            tokio::select! {
                r = sock.recv(&mut buf) => match r {
                    Ok(r) => {
                        let bytes = &buf[..r.len.min(buf.len())];
                        if matches!(bytes.first(), Some(&144 | &145)) {
                            super::speaker::lock(&core).inst.handle_icmp(clock.now(), r.src, r.dst, bytes);
                            wake.notify_one();
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "MGA: DHAAD socket");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                Some(s) = out.recv() => {
                    let dst = std::net::SocketAddrV6::new(s.dst, 0, 0, 0);
                    if let Err(e) = sock.send_with(&s.bytes, s.src, 0, dst, Some(instance::HOP_LIMIT), None).await {
                        tracing::warn!(dst = %s.dst, error = %e, "MGA: DHAAD send failed");
                    }
                }
            }
        }
    })
}

impl Daemon {
    /// Starts, restarts or stops MGA to match `cfg`.
    pub(super) async fn sync_mga(&mut self, cfg: &Config) {
        if self.mga.as_ref().map(|(_, c)| c) == cfg.mga.as_ref() {
            return;
        }
        if let Some((t, old)) = self.mga.take() {
            t.stop(self).await;
            tracing::info!("MGA stopped");
            if self.learned.forget(Source::Mga) {
                self.dirty = true;
            }
            self.mga_detach(&old, cfg.mga.as_ref());
        }
        if let Some(mc) = cfg.mga.clone() {
            match MgaTask::start(self, &mc).await {
                Ok(t) => self.mga = Some((t, mc)),
                Err(e) => tracing::error!(error = %e, "MGA not started"),
            }
        }
    }

    /// The programs' links the old config had and the new one does not
    /// (they are pinned: a stopped task leaves them, for restarts).
    fn mga_detach(&self, old: &MgaConfig, new: Option<&MgaConfig>) {
        let pin_dir = &self.cfg.daemon.pin_dir;
        let keep_m = new.and_then(|n| n.member.as_ref()).map(|m| &m.interface);
        if let Some(m) = old.member.as_ref().filter(|m| Some(&m.interface) != keep_m) {
            let r = MgaMember::open(pin_dir).and_then(|mut dp| {
                dp.detach(&m.interface)?;
                dp.set_homes(&[])
            });
            match r {
                Ok(()) => tracing::info!(interface = %m.interface, "MGA member egress detached"),
                Err(e) => {
                    tracing::warn!(interface = %m.interface, error = %e, "MGA member egress not detached")
                }
            }
        }
        let keep_c = new
            .and_then(|n| n.correspondent.as_ref())
            .map(|c| &c.interface);
        if let Some(c) = old
            .correspondent
            .as_ref()
            .filter(|c| Some(&c.interface) != keep_c)
        {
            match MgaCorrespondent::open(pin_dir).and_then(|mut dp| dp.detach(&c.interface)) {
                Ok(()) => {
                    tracing::info!(interface = %c.interface, "MGA correspondent programs detached")
                }
                Err(e) => {
                    tracing::warn!(interface = %c.interface, error = %e, "MGA correspondent programs not detached")
                }
            }
        }
    }

    /// `show mga`.
    pub(super) fn mga_view(&self) -> Value {
        self.mga.as_ref().map_or(Value::Null, |(t, _)| t.view())
    }

    /// Clean exit of MGA.
    pub(super) async fn stop_mga(&mut self) {
        if let Some((t, _)) = self.mga.take() {
            t.stop(self).await;
            tracing::info!("MGA stopped (deregistrations sent)");
        }
    }
}
