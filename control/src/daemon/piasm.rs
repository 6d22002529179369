//! PIA-SM inside anycast6d (`[piasm]`, docs/piasm.md): a speaker task
//! (daemon/speaker.rs) with a raw IPv6 socket of next header 103, joined
//! to ff02::d (ALL-PIM-ROUTERS) on every `[[piasm.interface]]`, and an
//! IPPROTO_RAW socket tapping forwarded joins that carry PIA-SM's Router
//! Alert (fn tap), driving the pure core
//! (protocols/piasm). The core computes and checks the PIM checksum (the
//! authentication trailer is sealed before it).
//!
//! ```text
//!  raw socket ip/103 ──► handle_packet ──► Instance ──► Send ──► raw socket
//!  RPF poller (route get C, 1 s) ──► set_rpf      │      (hop limit 1 on links, 64 unicast,
//!  RIB: ARD members per interface ──► set_local_members   Router Alert on joins toward C)
//!                                                 └─► Group ──► RIB (Source::PiaSm, whole:
//!                                                     rewrite to neighbours, encap to routers)
//! ```

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ard::{keyring, link_locals, seq_start};
use super::link::{LinkSocket, Received, Transport};
use super::speaker::{AbortOnDrop, Datagram, Outputs, ProtoEvent, Speaker, Task};
use super::Daemon;
use crate::config::{AdminState, Config, MemberConfig, PiasmConfig};
use crate::neigh::{LinkInfo, Netlink};
use crate::piasm::{self, packet, Group, Instance, Output, Rpf, Via};
use crate::proto::clock::MonoClock;
use crate::proto::{Instant, Source};
use crate::ControlError;

/// The sub-views of `show piasm`.
pub const VIEWS: &[&str] = &["neighbors", "trees"];

/// How often the route toward each core address is looked up.
const RPF_POLL: Duration = Duration::from_secs(1);

/// How often an ingress reads the packet counter of each shortcut tree's
/// group (docs/piasm.md §8, "Shortcut poll").
pub const SHORTCUT_POLL: Duration = Duration::from_millis(100);

pub struct PiasmSpeaker {
    inst: Instance,
    /// Interface names by index (members name their egress).
    names: BTreeMap<u32, String>,
    router_address: Ipv6Addr,
    /// ARD members last given to the core: (anycast, ifindex) -> count.
    fed: BTreeMap<(Ipv6Addr, u32), u32>,
}

impl PiasmSpeaker {
    /// A group as RIB members: on-link branches by rewrite to the
    /// neighbour, the others by encapsulation to their router address.
    fn members(&self, g: &Group) -> Vec<MemberConfig> {
        g.members
            .iter()
            .filter_map(|m| {
                let mut c = MemberConfig::new(m.address, None);
                c.distance = 1;
                c.weight = m.weight.max(1);
                c.state = AdminState::Active;
                match m.via {
                    Via::OnLink { ifindex, next_hop } => {
                        c.interface = Some(self.names.get(&ifindex)?.clone());
                        c.next_hop = Some(next_hop);
                    }
                    Via::Tunnel => {
                        c.action = anycast6_dataplane::Action::Encap;
                        c.encap_source = Some(self.router_address);
                    }
                }
                Some(c)
            })
            .collect()
    }
}

impl Speaker for PiasmSpeaker {
    fn handle_packet(&mut self, now: Instant, r: &Received, bytes: &[u8]) {
        self.inst.handle_packet(now, r.ifindex, r.src, r.dst, bytes);
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
                Output::Send(s) => out.send.push(Datagram {
                    ifindex: s.ifindex.unwrap_or(0),
                    src: s.src,
                    dst: s.dst,
                    dst_port: 0,
                    bytes: s.bytes,
                    hop_limit: Some(s.hop_limit),
                    router_alert: s.router_alert.then_some(packet::ROUTER_ALERT),
                }),
                Output::Group(g) => {
                    let members = self.members(&g);
                    out.whole
                        .push((g.anycast, Source::PiaSm, members, g.table_len));
                }
            }
        }
    }
}

/// A running PIA-SM speaker, its RPF poller and its Router Alert tap.
pub struct PiasmTask {
    task: Task<PiasmSpeaker>,
    _rpf: AbortOnDrop,
    _tap: AbortOnDrop,
    /// Shortcut trees (ingress side): anycast -> the group's packet count
    /// at the last poll (None: not read yet).
    polled: BTreeMap<Ipv6Addr, Option<u64>>,
}

impl PiasmTask {
    pub async fn start(
        cfg: &PiasmConfig,
        hash_seed: u32,
        nl: &Netlink,
        links: &[LinkInfo],
        events: mpsc::UnboundedSender<ProtoEvent>,
    ) -> Result<PiasmTask, ControlError> {
        let names: Vec<String> = cfg.interfaces.iter().map(|i| i.name.clone()).collect();
        let ifs = link_locals(nl, links, &names)
            .await
            .map_err(ControlError::PiasmSetup)?;
        let setup = |e: std::io::Error| ControlError::PiasmSetup(e.to_string());
        let sock = LinkSocket::open(
            Transport::Raw {
                next_header: packet::PROTO_PIM,
                checksum_offset: None,
            },
            1,
        )
        .map_err(setup)?;
        for (_, ifindex, _) in &ifs {
            sock.join(packet::ALL_PIM_ROUTERS, *ifindex)
                .map_err(setup)?;
        }
        let clock = MonoClock::new();
        let seq = seq_start();
        let mut c = piasm::Config::new(cfg.router_address);
        c.anycast = cfg
            .anycast
            .iter()
            .map(|a| piasm::AnycastConfig {
                anycast: a.address,
                core: a.core,
                is_core: a.core_here,
                peers: a.peers.clone(),
                shortcut: a.shortcut,
            })
            .collect();
        c.hello_interval = cfg.hello_interval;
        c.join_interval = cfg.join_interval;
        c.max_branches = cfg.max_branches;
        c.keys = keyring(&cfg.keys);
        c.hash_seed = hash_seed;
        c.generation_id = (seq ^ (seq >> 32)) as u32;
        c.seq_start = seq;
        let mut inst = Instance::new(c, clock.now());
        let mut by_index = BTreeMap::new();
        for ((name, ifindex, ll), ic) in ifs.iter().zip(&cfg.interfaces) {
            let mut i = piasm::InterfaceConfig::new(*ifindex, name, *ll);
            i.dr_priority = ic.dr_priority;
            i.keys = keyring(&ic.keys);
            inst.interface_up(clock.now(), i);
            by_index.insert(*ifindex, name.clone());
            tracing::info!(interface = %name, link_local = %ll, "PIA-SM interface up");
        }
        let speaker = PiasmSpeaker {
            inst,
            names: by_index,
            router_address: cfg.router_address,
            fed: BTreeMap::new(),
        };
        let task = Task::spawn(speaker, sock, clock, Some(events));
        let (core, wake) = task.shared();
        let nl = nl.clone();
        let rpf = tokio::spawn(async move {
            let mut last: BTreeMap<Ipv6Addr, Option<Rpf>> = BTreeMap::new();
            loop {
                let cores = super::speaker::lock(&core).inst.cores();
                for c in cores {
                    let hop = match nl.route_get(c).await {
                        Ok(h) => h,
                        Err(e) => {
                            tracing::warn!(core = %c, error = %e, "PIA-SM: route toward the core");
                            continue;
                        }
                    };
                    let rpf = hop.map(|h| Rpf {
                        ifindex: h.oif,
                        next_hop: h.gateway,
                    });
                    if last.get(&c) != Some(&rpf) {
                        tracing::info!(core = %c, rpf = ?rpf, "PIA-SM: route toward the core");
                        last.insert(c, rpf);
                        let now = clock.now();
                        super::speaker::lock(&core).inst.set_rpf(now, c, rpf);
                        wake.notify_one();
                    }
                }
                tokio::time::sleep(RPF_POLL).await;
            }
        });
        tracing::info!(router_address = %cfg.router_address, anycast = cfg.anycast.len(), "PIA-SM started");
        let tap = tap(&task, &cfg.anycast).map_err(setup)?;
        let polled = cfg
            .anycast
            .iter()
            .filter(|a| a.shortcut && !a.core_here)
            .map(|a| (a.address, None))
            .collect();
        Ok(PiasmTask {
            task,
            _rpf: AbortOnDrop(rpf),
            _tap: AbortOnDrop(tap),
            polled,
        })
    }

    /// ARD members per (anycast, interface), as the RIB has them; only
    /// changes reach the core.
    pub fn set_members(&self, members: &BTreeMap<(Ipv6Addr, u32), u32>) {
        let now = self.task.clock.now();
        let mut s = self.task.core();
        let gone: Vec<(Ipv6Addr, u32)> = s
            .fed
            .keys()
            .filter(|k| !members.contains_key(k))
            .copied()
            .collect();
        let mut called = false;
        for (a, i) in gone {
            s.inst.set_local_members(now, a, i, 0);
            s.fed.remove(&(a, i));
            called = true;
        }
        for (k, n) in members {
            if s.fed.get(k) != Some(n) {
                s.inst.set_local_members(now, k.0, k.1, *n);
                s.fed.insert(*k, *n);
                called = true;
            }
        }
        drop(s);
        if called {
            self.task.wake();
        }
    }

    pub fn view(&self, sub: Option<&str>) -> Value {
        let now = self.task.clock.now();
        let v = serde_json::to_value(self.task.core().inst.view(now)).unwrap_or(Value::Null);
        match sub {
            Some(s) => v[s].clone(),
            None => v,
        }
    }

    /// Clean exit: Hellos with Holdtime 0 and prunes go out first.
    pub async fn stop(self) {
        let now = self.task.clock.now();
        self.task.core().inst.shutdown(now);
        let PiasmTask {
            task, _rpf, _tap, ..
        } = self;
        drop((_rpf, _tap));
        task.stop_when_idle(Duration::from_millis(500)).await;
    }
}

/// The Router Alert tap (docs/piasm.md §2): tunnelled joins toward a core
/// address that this router forwards come here whole instead of being
/// forwarded (Linux allows the option on an IPPROTO_RAW socket only, and
/// keeps one list of such sockets for every namespace: the tap isolates
/// itself to its own); a Join/Prune of anycast addresses all
/// configured here is ours (we become its upstream), anything else goes
/// back out unchanged.
fn tap(
    task: &Task<PiasmSpeaker>,
    anycast: &[crate::config::PiasmAnycast],
) -> std::io::Result<JoinHandle<()>> {
    let sock = LinkSocket::open(
        Transport::Raw {
            next_header: libc::IPPROTO_RAW as u8,
            checksum_offset: None,
        },
        64,
    )?;
    sock.tap_router_alert(packet::ROUTER_ALERT)?;
    let known: std::collections::BTreeSet<Ipv6Addr> = anycast.iter().map(|a| a.address).collect();
    let (core, wake) = task.shared();
    let clock = task.clock;
    Ok(tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        loop {
            let r = match sock.recv(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "PIA-SM: Router Alert tap");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let pkt = &buf[..r.len.min(buf.len())];
            let Some((src, dst, pim)) = tapped(pkt) else {
                continue;
            };
            let ours = matches!(
                packet::Packet::decode(src, dst, pim),
                Ok(packet::Packet { message: packet::Message::JoinPrune(j), .. })
                    if j.entries.iter().all(|e| known.contains(&e.anycast))
            );
            if ours {
                let now = clock.now();
                super::speaker::lock(&core)
                    .inst
                    .handle_packet(now, r.ifindex, src, dst, pim);
                wake.notify_one();
            } else if let Err(e) = sock.send_packet(pkt, dst).await {
                tracing::warn!(%dst, error = %e, "PIA-SM: a tapped packet not handed back");
            }
        }
    }))
}

/// (source, destination, PIM message) of a whole IPv6 packet whose
/// hop-by-hop header is followed by PIM; None for anything else.
fn tapped(pkt: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr, &[u8])> {
    if pkt.len() < 48 || pkt[0] >> 4 != 6 || pkt[6] != 0 {
        return None;
    }
    let addr = |at: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&pkt[at..at + 16]).unwrap());
    let end = 40 + (usize::from(pkt[41]) + 1) * 8;
    (pkt[40] == packet::PROTO_PIM && pkt.len() > end).then(|| (addr(8), addr(24), &pkt[end..]))
}

impl Daemon {
    /// Starts, restarts or stops PIA-SM to match `cfg`; feeds it the ARD
    /// members of its anycast addresses.
    pub(super) async fn sync_piasm(&mut self, cfg: &Config) {
        if self.piasm.as_ref().map(|(_, c)| c) != cfg.piasm.as_ref() {
            if let Some((t, _)) = self.piasm.take() {
                t.stop().await;
                tracing::info!("PIA-SM stopped");
                if self.learned.forget(Source::PiaSm) {
                    self.dirty = true;
                }
                // PIA-SM's table lengths (its shortcut copies) go with it.
                let before = self.table_lens.len();
                self.table_lens.retain(|(_, src), _| *src != Source::PiaSm);
                if self.table_lens.len() != before {
                    self.dirty = true;
                }
            }
            if let Some(pc) = cfg.piasm.clone() {
                match PiasmTask::start(
                    &pc,
                    cfg.daemon.hash_seed,
                    &self.nl,
                    &self.links,
                    self.proto_tx.clone(),
                )
                .await
                {
                    Ok(t) => self.piasm = Some((t, pc)),
                    Err(e) => tracing::error!(error = %e, "PIA-SM not started"),
                }
            }
        }
        if let Some((t, pc)) = &self.piasm {
            let mut members = BTreeMap::new();
            for a in &pc.anycast {
                for (ifindex, n) in self.learned.count_by_interface(a.address, Source::Ard) {
                    members.insert((a.address, ifindex), n);
                }
            }
            t.set_members(&members);
        }
    }

    /// After the FIB changed: the Maglev table length of each tree's group
    /// as published (a core announces it with its branches, §3.5).
    pub(super) fn piasm_published(&mut self) {
        let Some((t, pc)) = &self.piasm else {
            return;
        };
        let fib = self.dp.fib();
        let now = t.task.clock.now();
        let mut told = false;
        for a in &pc.anycast {
            let len = match fib.route_group(a.address) {
                Ok(Some(gid)) => match fib.group(gid) {
                    Ok(Some(g)) => g.maglev_len,
                    _ => continue,
                },
                _ => continue,
            };
            t.task.core().inst.group_published(now, a.address, len);
            told = true;
        }
        if told {
            t.task.wake();
        }
    }

    /// True while some tree wants its traffic polled (an ingress with
    /// `shortcut = true`).
    pub(super) fn piasm_polls(&self) -> bool {
        self.piasm
            .as_ref()
            .is_some_and(|(t, _)| !t.polled.is_empty())
    }

    /// Every [`SHORTCUT_POLL`]: a shortcut tree whose group's packet
    /// counter grew has traffic (the core is asked for its branches).
    pub(super) fn piasm_poll_traffic(&mut self) {
        let Some((t, _)) = &mut self.piasm else {
            return;
        };
        let fib = self.dp.fib();
        let now = t.task.clock.now();
        let mut seen = Vec::new();
        for (a, last) in t.polled.iter_mut() {
            let Ok(Some(gid)) = fib.route_group(*a) else {
                continue;
            };
            let Ok((packets, _)) = fib.group_counter(gid) else {
                continue;
            };
            if last.is_some_and(|l| packets > l) {
                seen.push(*a);
            }
            *last = Some(packets);
        }
        if !seen.is_empty() {
            let mut s = t.task.core();
            for a in seen {
                s.inst.traffic_seen(now, a);
            }
            drop(s);
            t.task.wake();
        }
    }

    /// `show piasm [neighbors | trees]`.
    pub(super) fn piasm_view(&self, sub: Option<&str>) -> Value {
        self.piasm
            .as_ref()
            .map_or(Value::Null, |(t, _)| t.view(sub))
    }

    /// Clean exit of PIA-SM.
    pub(super) async fn stop_piasm(&mut self) {
        if let Some((t, _)) = self.piasm.take() {
            t.stop().await;
            tracing::info!("PIA-SM stopped (prunes and a last Hello sent)");
        }
    }
}
