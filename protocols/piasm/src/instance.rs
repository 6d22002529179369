//! The PIA-SM router core (docs/piasm.md §4–§8): neighbours and DR
//! election from Hellos, the tree state of every anycast address (branches
//! and their weights, local members, the upstream toward the core), joins
//! and prunes sent and received, the cores' relays, the shortcut both
//! ways, and the anycast group each address makes in the FIB.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::auth::{Keyring, ReplayGuard, SeqCounter};
use anycast6_core::Instant;

use crate::config::{AnycastConfig, Config, InterfaceConfig};
use crate::counters::Counters;
use crate::packet::{
    self, Action, BranchAnnouncement, Capability, Entry, Hello, Join, JoinPrune, Message, Packet,
    Prune, ShortcutRequest, ALL_PIM_ROUTERS, JOIN_PRUNE_FIXED, MAX_BRANCHES, MAX_WEIGHT,
};

/// Largest PIM message sent: the IPv6 minimum MTU less the IPv6 header
/// and a hop-by-hop header with the Router Alert.
const MAX_MESSAGE: usize = 1280 - 40 - 8;

/// How a router reaches the upstream of an anycast address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Upstream {
    /// A PIA-SM neighbour on this interface.
    OnLink { ifindex: u32, neighbor: Ipv6Addr },
    /// Unicast toward the core address, through plain routers (Router
    /// Alert: the first PIA-SM router on the way takes it).
    Tunnel { core: Ipv6Addr },
}

/// A downstream router that joined an anycast address here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BranchKey {
    OnLink { ifindex: u32, neighbor: Ipv6Addr },
    Tunnel { endpoint: Ipv6Addr },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Branch {
    pub weight: u32,
    /// Joined by the branch itself, until.
    pub direct_until: Option<Instant>,
    /// Relayed by a peer core, until.
    pub relayed_until: Option<Instant>,
}

impl Branch {
    fn alive(&self, now: Instant) -> bool {
        self.direct_until.is_some_and(|t| t > now) || self.relayed_until.is_some_and(|t| t > now)
    }

    fn direct(&self, now: Instant) -> bool {
        self.direct_until.is_some_and(|t| t > now)
    }

    fn expires(&self) -> Option<Instant> {
        self.direct_until.max(self.relayed_until)
    }
}

/// How a group member is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// MAC rewrite to this neighbour.
    OnLink { ifindex: u32, next_hop: Ipv6Addr },
    /// IPv6-in-IPv6 to the member's address.
    Tunnel,
}

/// One member of an anycast group as PIA-SM wants it in the FIB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct GroupMember {
    /// The member's identity (its router address R, or the core address):
    /// the same on every router that has it, so Maglev tables agree.
    pub address: Ipv6Addr,
    pub via: Via,
    pub weight: u16,
}

/// The whole of what PIA-SM wants for one anycast address; no members:
/// PIA-SM wants no group for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    pub anycast: Ipv6Addr,
    /// Sorted by address.
    pub members: Vec<GroupMember>,
    /// A Maglev table length to use (the core's, for a shortcut).
    pub table_len: Option<u32>,
}

/// A packet to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// Some: a link message out of this interface (hop limit 1).
    pub ifindex: Option<u32>,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    /// Add the IPv6 Router Alert option (value [`packet::ROUTER_ALERT`]).
    pub router_alert: bool,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send(Send),
    Group(Group),
}

/// The unicast route toward a core address (the daemon looks it up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rpf {
    pub ifindex: u32,
    /// The next hop's link-local address; None when the core is on-link.
    pub next_hop: Option<Ipv6Addr>,
}

#[derive(Debug, Clone)]
pub(crate) struct Neighbor {
    pub expires: Instant,
    pub dr_priority: u32,
    pub generation_id: Option<u32>,
    pub addresses: Vec<Ipv6Addr>,
    pub piasm: Option<Capability>,
}

#[derive(Debug)]
pub(crate) struct Iface {
    pub cfg: InterfaceConfig,
    pub neighbors: BTreeMap<Ipv6Addr, Neighbor>,
    pub hello_at: Instant,
    pub replay: ReplayGuard,
}

impl Iface {
    /// The DR: highest priority, then highest address (RFC 7761 §4.3.2).
    pub fn dr(&self) -> Ipv6Addr {
        let me = (self.cfg.dr_priority, self.cfg.link_local);
        self.neighbors
            .iter()
            .map(|(a, n)| (n.dr_priority, *a))
            .chain(std::iter::once(me))
            .max()
            .map(|(_, a)| a)
            .unwrap_or(self.cfg.link_local)
    }

    pub fn is_dr(&self) -> bool {
        self.dr() == self.cfg.link_local
    }
}

/// Ingress side of the shortcut for one address.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ingress {
    /// Packets seen lately: the request lives until.
    pub traffic_until: Option<Instant>,
    /// Next Shortcut Request refresh.
    pub request_at: Option<Instant>,
    /// The core's announcement and until when it holds.
    pub announced: Option<(BranchAnnouncement, Instant)>,
}

#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub cfg: AnycastConfig,
    pub branches: BTreeMap<BranchKey, Branch>,
    /// ARD members per interface.
    pub local: BTreeMap<u32, u32>,
    /// What the upstream has from us: where, and the weight.
    pub sent: Option<(Upstream, u32)>,
    pub last_sent: Option<Instant>,
    pub refresh_at: Option<Instant>,
    /// A triggered message waits for the hold to end.
    pub trigger_at: Option<Instant>,
    /// What each peer core has from us: branch -> (endpoint, weight).
    pub relayed: BTreeMap<BranchKey, (Ipv6Addr, u32)>,
    pub relay_refresh_at: Option<Instant>,
    /// The group last emitted.
    pub group: Option<Group>,
    /// Core side of the shortcut: ingress R -> request until.
    pub requests: BTreeMap<Ipv6Addr, Instant>,
    /// The branch set announced, and its version.
    pub announced: Vec<(Ipv6Addr, u16)>,
    pub version: u32,
    /// Our own FIB's Maglev table length for A (the daemon tells).
    pub table_len: Option<u32>,
    pub ingress: Ingress,
}

impl Tree {
    fn new(cfg: AnycastConfig) -> Tree {
        Tree {
            cfg,
            branches: BTreeMap::new(),
            local: BTreeMap::new(),
            sent: None,
            last_sent: None,
            refresh_at: None,
            trigger_at: None,
            relayed: BTreeMap::new(),
            relay_refresh_at: None,
            group: None,
            requests: BTreeMap::new(),
            announced: Vec::new(),
            version: 0,
            table_len: None,
            ingress: Ingress::default(),
        }
    }
}

pub struct Instance {
    pub(crate) cfg: Config,
    pub(crate) ifaces: BTreeMap<u32, Iface>,
    pub(crate) trees: BTreeMap<Ipv6Addr, Tree>,
    pub(crate) rpf: BTreeMap<Ipv6Addr, Option<Rpf>>,
    /// Trees to evaluate at the end of this call.
    dirty: BTreeSet<Ipv6Addr>,
    unicast_replay: ReplayGuard,
    seq: SeqCounter,
    rng: u64,
    pub(crate) out: VecDeque<Output>,
    pub(crate) counters: Counters,
    stopped: bool,
}

impl Instance {
    pub fn new(cfg: Config, now: Instant) -> Instance {
        let trees = cfg
            .anycast
            .iter()
            .map(|a| (a.anycast, Tree::new(a.clone())))
            .collect();
        let mut i = Instance {
            seq: SeqCounter::starting_at(cfg.seq_start),
            rng: u64::from(cfg.generation_id) << 1 | 1,
            cfg,
            ifaces: BTreeMap::new(),
            trees,
            rpf: BTreeMap::new(),
            dirty: BTreeSet::new(),
            unicast_replay: ReplayGuard::new(),
            out: VecDeque::new(),
            counters: Counters::default(),
            stopped: false,
        };
        let all: Vec<Ipv6Addr> = i.trees.keys().copied().collect();
        i.dirty.extend(all);
        i.settle(now);
        i
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: jitter only, nothing secret.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// `d` ± 10 %.
    fn jitter(&mut self, d: Duration) -> Duration {
        let r = (self.random() % 2001) as f64 / 10_000.0; // 0 .. 0.2
        d.mul_f64(0.9 + r)
    }

    pub fn interface_up(&mut self, now: Instant, cfg: InterfaceConfig) {
        let ifindex = cfg.ifindex;
        // A Hello soon, with a random offset (RFC 7761 §4.3.1 Triggered_Hello_Delay).
        let first = Duration::from_millis(self.random() % 500);
        let keep = self.ifaces.remove(&ifindex);
        let iface = Iface {
            neighbors: keep.map(|k| k.neighbors).unwrap_or_default(),
            cfg,
            hello_at: now + first,
            replay: ReplayGuard::new(),
        };
        self.ifaces.insert(ifindex, iface);
        self.all_dirty();
        self.settle(now);
    }

    pub fn interface_down(&mut self, now: Instant, ifindex: u32) {
        if self.ifaces.remove(&ifindex).is_none() {
            return;
        }
        for t in self.trees.values_mut() {
            t.branches
                .retain(|k, _| !matches!(k, BranchKey::OnLink { ifindex: i, .. } if *i == ifindex));
            t.local.remove(&ifindex);
        }
        self.all_dirty();
        self.settle(now);
    }

    /// ARD members of `anycast` on `ifindex` (0: none left).
    pub fn set_local_members(&mut self, now: Instant, anycast: Ipv6Addr, ifindex: u32, n: u32) {
        let Some(t) = self.trees.get_mut(&anycast) else {
            self.counters.unknown_anycast += 1;
            return;
        };
        if n == 0 {
            t.local.remove(&ifindex);
        } else {
            t.local.insert(ifindex, n);
        }
        self.dirty.insert(anycast);
        self.settle(now);
    }

    /// The unicast route toward `core` changed (None: no route).
    pub fn set_rpf(&mut self, now: Instant, core: Ipv6Addr, rpf: Option<Rpf>) {
        if self.rpf.get(&core) == Some(&rpf) {
            return;
        }
        self.rpf.insert(core, rpf);
        let hit: Vec<Ipv6Addr> = self
            .trees
            .values()
            .filter(|t| t.cfg.core == core)
            .map(|t| t.cfg.anycast)
            .collect();
        self.dirty.extend(hit);
        self.settle(now);
    }

    /// The core addresses whose route the daemon must follow.
    pub fn cores(&self) -> BTreeSet<Ipv6Addr> {
        self.trees
            .values()
            .filter(|t| !t.cfg.is_core)
            .map(|t| t.cfg.core)
            .collect()
    }

    /// Our FIB published `anycast`'s group with this Maglev table length.
    pub fn group_published(&mut self, now: Instant, anycast: Ipv6Addr, table_len: u32) {
        if let Some(t) = self.trees.get_mut(&anycast) {
            if t.table_len != Some(table_len) {
                t.table_len = Some(table_len);
                // Announcements carry it.
                t.announced.clear();
                self.dirty.insert(anycast);
            }
        }
        self.settle(now);
    }

    /// Senders' packets for `anycast` passed here (the daemon polls the
    /// group's packet counter): the shortcut is wanted.
    pub fn traffic_seen(&mut self, now: Instant, anycast: Ipv6Addr) {
        let hold = Duration::from_secs(u64::from(self.cfg.join_holdtime()));
        let Some(t) = self.trees.get_mut(&anycast) else {
            return;
        };
        if !t.cfg.shortcut || t.cfg.is_core {
            return;
        }
        let fresh = t.ingress.traffic_until.is_none_or(|u| u <= now);
        t.ingress.traffic_until = Some(now + hold);
        if fresh {
            t.ingress.request_at = Some(now);
        }
        self.dirty.insert(anycast);
        self.settle(now);
    }

    pub fn handle_packet(
        &mut self,
        now: Instant,
        ifindex: u32,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        bytes: &[u8],
    ) {
        self.counters.rx_packets += 1;
        self.receive(now, ifindex, src, dst, bytes);
        self.settle(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.timers(now);
        self.settle(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        let mut t: Option<Instant> = None;
        let mut at = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for i in self.ifaces.values() {
            at(Some(i.hello_at));
            for n in i.neighbors.values() {
                at(Some(n.expires));
            }
        }
        for tr in self.trees.values() {
            for b in tr.branches.values() {
                at(b.expires());
            }
            at(tr.refresh_at);
            at(tr.trigger_at);
            at(tr.relay_refresh_at);
            for u in tr.requests.values() {
                at(Some(*u));
            }
            at(tr.ingress.traffic_until);
            at(tr.ingress.request_at);
            at(tr.ingress.announced.as_ref().map(|(_, u)| *u));
        }
        t
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Clean exit: Hellos with Holdtime 0, prunes upstream and to peers.
    pub fn shutdown(&mut self, now: Instant) {
        let keys: Vec<Ipv6Addr> = self.trees.keys().copied().collect();
        let mut prunes: BTreeMap<Upstream, Vec<Entry>> = BTreeMap::new();
        for a in &keys {
            let t = self.trees.get_mut(a).unwrap();
            if let Some((up, _)) = t.sent.take() {
                prunes
                    .entry(up)
                    .or_default()
                    .push(prune_entry(&t.cfg, None, false));
            }
        }
        for (up, entries) in prunes {
            self.send_join_prune(up, entries);
        }
        for a in &keys {
            let t = &self.trees[a];
            let gone: Vec<Ipv6Addr> = t.relayed.values().map(|(e, _)| *e).collect();
            let cfg = t.cfg.clone();
            self.relay_prunes(&cfg, &gone);
        }
        let ifs: Vec<u32> = self.ifaces.keys().copied().collect();
        for i in ifs {
            self.send_hello(now, i, 0);
        }
        for t in self.trees.values_mut() {
            t.branches.clear();
            t.relayed.clear();
            if t.group.take().is_some() {
                self.out.push_back(Output::Group(Group {
                    anycast: t.cfg.anycast,
                    members: Vec::new(),
                    table_len: None,
                }));
            }
        }
        self.stopped = true;
    }

    fn all_dirty(&mut self) {
        let all: Vec<Ipv6Addr> = self.trees.keys().copied().collect();
        self.dirty.extend(all);
    }

    // ---- receiving -----------------------------------------------------

    fn receive(&mut self, now: Instant, ifindex: u32, src: Ipv6Addr, dst: Ipv6Addr, bytes: &[u8]) {
        if self.stopped {
            return;
        }
        let p = match Packet::decode(src, dst, bytes) {
            Ok(p) => p,
            Err(e) => {
                self.counters.count(e.counter());
                tracing::debug!(%src, error = %e, "PIA-SM message refused");
                return;
            }
        };
        let link = dst == ALL_PIM_ROUTERS || src.is_unicast_link_local();
        if link && !(src.is_unicast_link_local() && self.ifaces.contains_key(&ifindex)) {
            self.counters.bad_source += 1;
            return;
        }
        if !self.authentic(ifindex, link, src, bytes, &p) {
            return;
        }
        match p.message {
            Message::Hello(h) if link => self.rx_hello(now, ifindex, src, h),
            Message::JoinPrune(j) => self.rx_join_prune(now, ifindex, src, dst, link, j),
            Message::ShortcutRequest(r) if !link => self.rx_request(now, r),
            Message::BranchAnnouncement(a) if !link => self.rx_announcement(now, a),
            _ => self.counters.bad_source += 1,
        }
    }

    /// docs/piasm.md §3.6, in order; each refusal counted.
    fn authentic(
        &mut self,
        ifindex: u32,
        link: bool,
        src: Ipv6Addr,
        bytes: &[u8],
        p: &Packet,
    ) -> bool {
        let keys: &Keyring = if link {
            &self.ifaces[&ifindex].cfg.keys
        } else {
            &self.cfg.keys
        };
        if !keys.enabled() {
            if p.trailer.is_some() {
                self.counters.auth_ignored += 1;
            }
            return true;
        }
        let Some(t) = p.trailer else {
            self.counters.auth_missing += 1;
            return false;
        };
        let Some(key) = keys.key(t.key_id) else {
            self.counters.auth_unknown_key += 1;
            return false;
        };
        if t.algorithm != anycast6_core::auth::ALG_HMAC_SHA256 {
            self.counters.auth_unknown_algorithm += 1;
            return false;
        }
        if !Packet::verify(src, bytes, key) {
            self.counters.auth_bad_digest += 1;
            return false;
        }
        let guard = if link {
            &mut self.ifaces.get_mut(&ifindex).unwrap().replay
        } else {
            &mut self.unicast_replay
        };
        if guard.check_and_update(src, t.key_id, t.seq).is_err() {
            self.counters.auth_replay += 1;
            return false;
        }
        true
    }

    fn rx_hello(&mut self, now: Instant, ifindex: u32, src: Ipv6Addr, h: Hello) {
        self.counters.rx_hello += 1;
        let max = self.cfg.max_neighbors;
        let iface = self.ifaces.get_mut(&ifindex).unwrap();
        if h.holdtime == 0 {
            if iface.neighbors.remove(&src).is_some() {
                self.neighbor_gone(ifindex, src);
            }
            return;
        }
        let expires = now + Duration::from_secs(u64::from(h.holdtime));
        let restarted = match iface.neighbors.get(&src) {
            None => {
                if iface.neighbors.len() >= max {
                    self.counters.neighbors_refused += 1;
                    return;
                }
                false
            }
            Some(n) => n.generation_id != h.generation_id,
        };
        let new = !iface.neighbors.contains_key(&src);
        iface.neighbors.insert(
            src,
            Neighbor {
                expires,
                dr_priority: h.dr_priority.unwrap_or(1),
                generation_id: h.generation_id,
                addresses: h.addresses,
                piasm: h.piasm,
            },
        );
        if restarted {
            self.counters.neighbor_restarts += 1;
            self.neighbor_gone(ifindex, src);
        }
        if new || restarted {
            // It learns us at once, and our joins follow (settle).
            self.ifaces.get_mut(&ifindex).unwrap().hello_at = now;
            self.all_dirty();
        }
    }

    /// A neighbour went or restarted: its branches go; joins we sent it
    /// count as unsent.
    fn neighbor_gone(&mut self, ifindex: u32, addr: Ipv6Addr) {
        let key = BranchKey::OnLink {
            ifindex,
            neighbor: addr,
        };
        let up = Upstream::OnLink {
            ifindex,
            neighbor: addr,
        };
        for t in self.trees.values_mut() {
            t.branches.remove(&key);
            if t.sent.is_some_and(|(u, _)| u == up) {
                t.sent = None;
            }
        }
        self.all_dirty();
    }

    fn rx_join_prune(
        &mut self,
        now: Instant,
        ifindex: u32,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        link: bool,
        j: JoinPrune,
    ) {
        self.counters.rx_join_prune += 1;
        if link {
            let iface = &self.ifaces[&ifindex];
            if j.upstream != iface.cfg.link_local {
                // For another router on the link.
                return;
            }
            if !iface.neighbors.contains_key(&src) {
                self.counters.not_neighbor += 1;
                return;
            }
        } else if j.upstream != dst {
            self.counters.wrong_upstream += 1;
            return;
        }
        let hold = now + Duration::from_secs(u64::from(j.holdtime));
        for e in j.entries {
            self.rx_entry(now, ifindex, src, link, hold, e);
        }
    }

    fn rx_entry(
        &mut self,
        now: Instant,
        ifindex: u32,
        src: Ipv6Addr,
        link: bool,
        hold: Instant,
        e: Entry,
    ) {
        let me = self.cfg.router_address;
        let max = self.cfg.max_branches;
        let Some(t) = self.trees.get_mut(&e.anycast) else {
            self.counters.unknown_anycast += 1;
            return;
        };
        let (core, endpoint, relayed) = match e.action {
            Action::Join(j) => (j.core, j.endpoint, j.relayed),
            Action::Prune(p) => (p.core, p.endpoint, p.relayed),
        };
        if core != t.cfg.core {
            self.counters.wrong_core += 1;
            return;
        }
        if relayed && !(t.cfg.is_core && t.cfg.peers.contains(&src)) {
            self.counters.bad_relay += 1;
            return;
        }
        let key = if link {
            BranchKey::OnLink {
                ifindex,
                neighbor: src,
            }
        } else {
            BranchKey::Tunnel {
                endpoint: endpoint.unwrap_or(src),
            }
        };
        if let BranchKey::Tunnel { endpoint } = key {
            if endpoint == me {
                self.counters.loops += 1;
                return;
            }
        }
        // Our own upstream joining us back: a loop.
        if let (
            BranchKey::OnLink { ifindex, neighbor },
            Some((
                Upstream::OnLink {
                    ifindex: ui,
                    neighbor: un,
                },
                _,
            )),
        ) = (key, t.sent)
        {
            if ifindex == ui && neighbor == un && matches!(e.action, Action::Join(_)) {
                self.counters.loops += 1;
                return;
            }
        }
        match e.action {
            Action::Join(j) => {
                self.counters.rx_joins += 1;
                if !t.branches.contains_key(&key) && t.branches.len() >= max {
                    self.counters.branches_refused += 1;
                    return;
                }
                let b = t.branches.entry(key).or_insert(Branch {
                    weight: j.weight,
                    direct_until: None,
                    relayed_until: None,
                });
                b.weight = j.weight;
                if relayed {
                    b.relayed_until = Some(hold);
                } else {
                    b.direct_until = Some(hold);
                }
            }
            Action::Prune(_) => {
                self.counters.rx_prunes += 1;
                if let Some(b) = t.branches.get_mut(&key) {
                    if relayed {
                        b.relayed_until = None;
                    } else {
                        b.direct_until = None;
                    }
                    if !b.alive(now) {
                        t.branches.remove(&key);
                    }
                }
            }
        }
        self.dirty.insert(e.anycast);
    }

    fn rx_request(&mut self, now: Instant, r: ShortcutRequest) {
        self.counters.rx_shortcut_requests += 1;
        let Some(t) = self.trees.get_mut(&r.anycast) else {
            self.counters.unknown_anycast += 1;
            return;
        };
        if !t.cfg.is_core {
            self.counters.not_core += 1;
            return;
        }
        if r.holdtime == 0 {
            t.requests.remove(&r.ingress);
            return;
        }
        t.requests
            .insert(r.ingress, now + Duration::from_secs(u64::from(r.holdtime)));
        // Answered at once (settle), then on every change.
        let a = self.announcement(r.anycast);
        if let Some(a) = a {
            self.send_unicast(r.ingress, Message::BranchAnnouncement(a), false);
        }
    }

    fn rx_announcement(&mut self, now: Instant, a: BranchAnnouncement) {
        self.counters.rx_announcements += 1;
        let seed = self.cfg.hash_seed;
        let Some(t) = self.trees.get_mut(&a.anycast) else {
            self.counters.unknown_anycast += 1;
            return;
        };
        if !t.cfg.shortcut || t.cfg.is_core || t.ingress.traffic_until.is_none() {
            self.counters.unrequested += 1;
            return;
        }
        if a.hash_seed != seed {
            self.counters.shortcut_seed_mismatch += 1;
            return;
        }
        if t.ingress
            .announced
            .as_ref()
            .is_some_and(|(o, _)| o.version > a.version && o.version - a.version < u32::MAX / 2)
        {
            // An older one, overtaken.
            return;
        }
        let until = now + Duration::from_secs(u64::from(a.holdtime));
        t.ingress.announced = Some((a.clone(), until));
        self.dirty.insert(a.anycast);
    }

    // ---- timers -----------------------------------------------------------

    fn timers(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        let ifs: Vec<u32> = self.ifaces.keys().copied().collect();
        for i in ifs {
            let iface = self.ifaces.get_mut(&i).unwrap();
            let dead: Vec<Ipv6Addr> = iface
                .neighbors
                .iter()
                .filter(|(_, n)| n.expires <= now)
                .map(|(a, _)| *a)
                .collect();
            for a in dead {
                let iface = self.ifaces.get_mut(&i).unwrap();
                iface.neighbors.remove(&a);
                iface.replay.forget(a);
                self.counters.neighbors_expired += 1;
                self.neighbor_gone(i, a);
            }
            if self.ifaces[&i].hello_at <= now {
                let hold = self.cfg.hello_holdtime();
                self.send_hello(now, i, hold);
            }
        }
        for t in self.trees.values_mut() {
            let before = t.branches.len();
            t.branches.retain(|_, b| b.alive(now));
            if t.branches.len() != before {
                self.counters.branches_expired += (before - t.branches.len()) as u64;
                self.dirty.insert(t.cfg.anycast);
            }
            let reqs = t.requests.len();
            t.requests.retain(|_, u| *u > now);
            let due = |x: Option<Instant>| x.is_some_and(|x| x <= now);
            if t.requests.len() != reqs
                || due(t.refresh_at)
                || due(t.trigger_at)
                || due(t.relay_refresh_at)
                || due(t.ingress.traffic_until)
                || due(t.ingress.request_at)
                || due(t.ingress.announced.as_ref().map(|(_, u)| *u))
            {
                self.dirty.insert(t.cfg.anycast);
            }
        }
    }

    // ---- deciding and sending ---------------------------------------------

    /// Evaluates every dirty tree: the group, the joins and prunes up, the
    /// relays, the announcements, the shortcut requests.
    fn settle(&mut self, now: Instant) {
        if self.stopped {
            self.dirty.clear();
            return;
        }
        let dirty = std::mem::take(&mut self.dirty);
        let mut joins: BTreeMap<Upstream, Vec<Entry>> = BTreeMap::new();
        for a in dirty {
            self.evaluate(now, a, &mut joins);
        }
        for (up, entries) in joins {
            self.send_join_prune(up, entries);
        }
    }

    /// The weight this router sends up for `t`.
    pub(crate) fn weight(&self, now: Instant, t: &Tree) -> u32 {
        let local: u32 = t
            .local
            .iter()
            .filter(|(i, _)| self.ifaces.get(i).is_none_or(Iface::is_dr))
            .map(|(_, n)| *n)
            .sum();
        let branches: u32 = t
            .branches
            .values()
            .filter(|b| b.alive(now))
            .map(|b| b.weight)
            .sum();
        local.saturating_add(branches).min(MAX_WEIGHT)
    }

    fn upstream(&self, t: &Tree) -> Option<Upstream> {
        if t.cfg.is_core {
            return None;
        }
        let rpf = (*self.rpf.get(&t.cfg.core)?)?;
        if let Some(nh) = rpf.next_hop {
            let speaks = self
                .ifaces
                .get(&rpf.ifindex)
                .and_then(|i| i.neighbors.get(&nh))
                .is_some_and(|n| n.piasm.is_some());
            if speaks {
                return Some(Upstream::OnLink {
                    ifindex: rpf.ifindex,
                    neighbor: nh,
                });
            }
        }
        Some(Upstream::Tunnel { core: t.cfg.core })
    }

    /// A branch's identity in groups and announcements: its router
    /// address (an on-link neighbour's first Hello address).
    fn endpoint(&self, k: &BranchKey) -> Option<Ipv6Addr> {
        match *k {
            BranchKey::Tunnel { endpoint } => Some(endpoint),
            BranchKey::OnLink { ifindex, neighbor } => self
                .ifaces
                .get(&ifindex)?
                .neighbors
                .get(&neighbor)?
                .addresses
                .first()
                .copied(),
        }
    }

    fn evaluate(&mut self, now: Instant, a: Ipv6Addr, joins: &mut BTreeMap<Upstream, Vec<Entry>>) {
        let Some(t) = self.trees.get(&a) else {
            return;
        };
        let weight = self.weight(now, t);
        let upstream = self.upstream(t);
        let want = match (weight, upstream) {
            (0, _) | (_, None) => None,
            (w, Some(u)) => Some((u, w)),
        };
        if weight > 0 && upstream.is_none() && !t.cfg.is_core && t.sent.is_none() {
            self.counters.no_upstream += 1;
        }
        let sent = t.sent;
        let held = t
            .last_sent
            .is_some_and(|l| now < l + self.cfg.triggered_hold);
        let refresh_due = t.refresh_at.is_some_and(|r| r <= now);
        let cfg = t.cfg.clone();
        let mut trigger_at = t.trigger_at;
        let mut new_sent = sent;
        let mut refresh_at = t.refresh_at;
        let mut last_sent = t.last_sent;
        if want != sent || refresh_due {
            if held && !refresh_due && trigger_at.is_none_or(|x| x > now) {
                // Goes out when the hold ends.
                trigger_at = Some(t.last_sent.unwrap() + self.cfg.triggered_hold);
            } else {
                trigger_at = None;
                if let Some((old, _)) = sent {
                    if want.is_none_or(|(u, _)| u != old) {
                        joins
                            .entry(old)
                            .or_default()
                            .push(prune_entry(&cfg, None, false));
                    }
                }
                if let Some((u, w)) = want {
                    joins.entry(u).or_default().push(Entry {
                        anycast: a,
                        action: Action::Join(Join {
                            core: cfg.core,
                            weight: w,
                            endpoint: matches!(u, Upstream::Tunnel { .. })
                                .then_some(self.cfg.router_address),
                            relayed: false,
                        }),
                    });
                }
                new_sent = want;
                last_sent = Some(now);
                let j = self.jitter(self.cfg.join_interval);
                refresh_at = want.map(|_| now + j);
            }
        }
        let group = self.group_of(now, a);
        let t = self.trees.get_mut(&a).unwrap();
        t.sent = new_sent;
        t.last_sent = last_sent;
        t.refresh_at = refresh_at;
        t.trigger_at = trigger_at;
        if t.group.as_ref() != Some(&group) && !(t.group.is_none() && group.members.is_empty()) {
            t.group = (!group.members.is_empty()).then(|| group.clone());
            self.out.push_back(Output::Group(group));
        }
        if cfg.is_core {
            self.relay(now, a);
            self.announce(now, a);
        }
        if cfg.shortcut && !cfg.is_core {
            self.request(now, a);
        }
    }

    /// What PIA-SM wants in the FIB for `a`.
    fn group_of(&self, now: Instant, a: Ipv6Addr) -> Group {
        let t = &self.trees[&a];
        let mut members: Vec<GroupMember> = t
            .branches
            .iter()
            .filter(|(_, b)| b.alive(now))
            .filter_map(|(k, b)| {
                let address = self.endpoint(k)?;
                let via = match *k {
                    BranchKey::OnLink { ifindex, neighbor } => Via::OnLink {
                        ifindex,
                        next_hop: neighbor,
                    },
                    BranchKey::Tunnel { .. } => Via::Tunnel,
                };
                Some(GroupMember {
                    address,
                    via,
                    weight: b.weight.min(MAX_WEIGHT) as u16,
                })
            })
            .collect();
        let mut table_len = None;
        let on_tree = !members.is_empty() || t.local.values().any(|n| *n > 0);
        if t.cfg.shortcut && !t.cfg.is_core && !on_tree {
            match &t.ingress.announced {
                Some((ann, until)) if *until > now && !ann.branches.is_empty() => {
                    members = ann
                        .branches
                        .iter()
                        .map(|(e, w)| GroupMember {
                            address: *e,
                            via: Via::Tunnel,
                            weight: *w,
                        })
                        .collect();
                    table_len = Some(ann.table_len);
                }
                // Through the core until then (PIM's Register phase).
                _ => members.push(GroupMember {
                    address: t.cfg.core,
                    via: Via::Tunnel,
                    weight: 1,
                }),
            }
        }
        members.sort();
        members.dedup_by_key(|m| m.address);
        Group {
            anycast: a,
            members,
            table_len,
        }
    }

    /// Core: every direct branch passed on to every peer core.
    fn relay(&mut self, now: Instant, a: Ipv6Addr) {
        let t = &self.trees[&a];
        if t.cfg.peers.is_empty() {
            return;
        }
        let want: BTreeMap<BranchKey, (Ipv6Addr, u32)> = t
            .branches
            .iter()
            .filter(|(_, b)| b.direct(now))
            .filter_map(|(k, b)| Some((*k, (self.endpoint(k)?, b.weight))))
            .collect();
        let refresh = t.relay_refresh_at.is_some_and(|r| r <= now);
        if want == t.relayed && !refresh {
            return;
        }
        let cfg = t.cfg.clone();
        let kept: BTreeSet<Ipv6Addr> = want.values().map(|(e, _)| *e).collect();
        let gone: Vec<Ipv6Addr> = t
            .relayed
            .values()
            .map(|(e, _)| *e)
            .filter(|e| !kept.contains(e))
            .collect();
        let changed: Vec<(Ipv6Addr, u32)> = want
            .iter()
            .filter(|(k, v)| refresh || t.relayed.get(*k) != Some(*v))
            .map(|(_, v)| *v)
            .collect();
        self.relay_prunes(&cfg, &gone);
        if !changed.is_empty() {
            let entries: Vec<Entry> = changed
                .iter()
                .map(|(e, w)| Entry {
                    anycast: a,
                    action: Action::Join(Join {
                        core: cfg.core,
                        weight: *w,
                        endpoint: Some(*e),
                        relayed: true,
                    }),
                })
                .collect();
            for p in &cfg.peers {
                self.send_entries_unicast(*p, &entries);
            }
        }
        let j = self.jitter(self.cfg.join_interval);
        let t = self.trees.get_mut(&a).unwrap();
        t.relay_refresh_at = (!want.is_empty()).then_some(now + j);
        t.relayed = want;
    }

    fn relay_prunes(&mut self, cfg: &AnycastConfig, gone: &[Ipv6Addr]) {
        if gone.is_empty() {
            return;
        }
        let entries: Vec<Entry> = gone
            .iter()
            .map(|e| prune_entry(cfg, Some(*e), true))
            .collect();
        for p in &cfg.peers {
            self.send_entries_unicast(*p, &entries);
        }
    }

    /// The Branch Announcement of `a` as it stands (None until our FIB
    /// has published the group).
    fn announcement(&mut self, a: Ipv6Addr) -> Option<BranchAnnouncement> {
        let now_branches = self.announced_branches(a);
        let hold = self.cfg.join_holdtime();
        let seed = self.cfg.hash_seed;
        let t = self.trees.get_mut(&a)?;
        let table_len = t.table_len?;
        if now_branches != t.announced {
            t.version = t.version.wrapping_add(1);
            t.announced = now_branches.clone();
        }
        Some(BranchAnnouncement {
            holdtime: hold,
            version: t.version,
            table_len,
            hash_seed: seed,
            anycast: a,
            branches: now_branches,
        })
    }

    fn announced_branches(&self, a: Ipv6Addr) -> Vec<(Ipv6Addr, u16)> {
        let Some(t) = self.trees.get(&a) else {
            return Vec::new();
        };
        let mut v: Vec<(Ipv6Addr, u16)> = t
            .group
            .iter()
            .flat_map(|g| g.members.iter())
            .map(|m| (m.address, m.weight))
            .collect();
        v.sort();
        if v.len() > MAX_BRANCHES {
            // Too many to announce whole: a part would give the ingress
            // another table than ours. "Go through me" instead.
            v.clear();
        }
        v
    }

    /// Core: a changed branch set goes to every ingress that asked.
    fn announce(&mut self, _now: Instant, a: Ipv6Addr) {
        let t = &self.trees[&a];
        if t.requests.is_empty() || t.table_len.is_none() {
            return;
        }
        if self.announced_branches(a) == t.announced {
            return;
        }
        let to: Vec<Ipv6Addr> = t.requests.keys().copied().collect();
        if let Some(ann) = self.announcement(a) {
            for i in to {
                self.send_unicast(i, Message::BranchAnnouncement(ann.clone()), false);
            }
        }
    }

    /// Ingress: requests while traffic lasts, a cancel when it stops.
    fn request(&mut self, now: Instant, a: Ipv6Addr) {
        let hold = self.cfg.join_holdtime();
        let me = self.cfg.router_address;
        let interval = self.cfg.join_interval;
        let t = self.trees.get_mut(&a).unwrap();
        let core = t.cfg.core;
        let mut send = None;
        match t.ingress.traffic_until {
            Some(u) if u <= now => {
                t.ingress = Ingress::default();
                send = Some(0);
            }
            Some(_) if t.ingress.request_at.is_some_and(|r| r <= now) => {
                t.ingress.request_at = Some(now + interval);
                send = Some(hold);
            }
            _ => {}
        }
        if t.ingress.announced.as_ref().is_some_and(|(_, u)| *u <= now) {
            t.ingress.announced = None;
        }
        if let Some(h) = send {
            self.send_unicast(
                core,
                Message::ShortcutRequest(ShortcutRequest {
                    holdtime: h,
                    anycast: a,
                    ingress: me,
                }),
                false,
            );
            if h == 0 {
                // Back through the core: the group changes.
                self.dirty.insert(a);
            }
        }
    }

    fn send_hello(&mut self, now: Instant, ifindex: u32, holdtime: u16) {
        let core = self.cfg.anycast.iter().any(|a| a.is_core);
        let hello = Hello {
            holdtime,
            dr_priority: Some(self.ifaces[&ifindex].cfg.dr_priority),
            generation_id: Some(self.cfg.generation_id),
            addresses: vec![self.cfg.router_address],
            piasm: Some(Capability { version: 1, core }),
        };
        let next = self.jitter(self.cfg.hello_interval);
        if let Some(i) = self.ifaces.get_mut(&ifindex) {
            i.hello_at = now + next;
        }
        self.counters.tx_hello += 1;
        self.send_link(ifindex, Message::Hello(hello));
    }

    fn send_join_prune(&mut self, up: Upstream, entries: Vec<Entry>) {
        match up {
            Upstream::OnLink { ifindex, neighbor } => {
                let hold = self.cfg.join_holdtime();
                for chunk in chunks(&entries) {
                    self.counters.tx_join_prune += 1;
                    self.send_link(
                        ifindex,
                        Message::JoinPrune(JoinPrune {
                            upstream: neighbor,
                            holdtime: hold,
                            entries: chunk,
                        }),
                    );
                }
            }
            Upstream::Tunnel { core } => {
                let hold = self.cfg.join_holdtime();
                for chunk in chunks(&entries) {
                    self.counters.tx_join_prune += 1;
                    self.send_unicast(
                        core,
                        Message::JoinPrune(JoinPrune {
                            upstream: core,
                            holdtime: hold,
                            entries: chunk,
                        }),
                        true,
                    );
                }
            }
        }
    }

    /// Relays: unicast to a peer core's router address, no Router Alert.
    fn send_entries_unicast(&mut self, to: Ipv6Addr, entries: &[Entry]) {
        let hold = self.cfg.join_holdtime();
        for chunk in chunks(entries) {
            self.counters.tx_relays += 1;
            self.send_unicast(
                to,
                Message::JoinPrune(JoinPrune {
                    upstream: to,
                    holdtime: hold,
                    entries: chunk,
                }),
                false,
            );
        }
    }

    fn send_link(&mut self, ifindex: u32, m: Message) {
        let Some(i) = self.ifaces.get(&ifindex) else {
            return;
        };
        let src = i.cfg.link_local;
        let bytes = match i.cfg.keys.send_key() {
            Some(k) => {
                let k = k.clone();
                Packet::encode_signed(&m, src, ALL_PIM_ROUTERS, &k, self.seq.take())
            }
            None => Packet::encode(&m, src, ALL_PIM_ROUTERS),
        };
        self.counters.tx_packets += 1;
        self.out.push_back(Output::Send(Send {
            ifindex: Some(ifindex),
            src,
            dst: ALL_PIM_ROUTERS,
            hop_limit: 1,
            router_alert: false,
            bytes,
        }));
    }

    fn send_unicast(&mut self, dst: Ipv6Addr, m: Message, router_alert: bool) {
        let src = self.cfg.router_address;
        let bytes = match self.cfg.keys.send_key() {
            Some(k) => {
                let k = k.clone();
                Packet::encode_signed(&m, src, dst, &k, self.seq.take())
            }
            None => Packet::encode(&m, src, dst),
        };
        self.counters.tx_packets += 1;
        self.out.push_back(Output::Send(Send {
            ifindex: None,
            src,
            dst,
            hop_limit: 64,
            router_alert,
            bytes,
        }));
    }
}

fn prune_entry(cfg: &AnycastConfig, endpoint: Option<Ipv6Addr>, relayed: bool) -> Entry {
    Entry {
        anycast: cfg.anycast,
        action: Action::Prune(Prune {
            core: cfg.core,
            endpoint,
            relayed,
        }),
    }
}

/// Entries split into messages that fit [`MAX_MESSAGE`] with a trailer.
fn chunks(entries: &[Entry]) -> Vec<Vec<Entry>> {
    let room = MAX_MESSAGE - JOIN_PRUNE_FIXED - packet::TRAILER_LEN;
    let mut out: Vec<Vec<Entry>> = Vec::new();
    let mut used = room;
    for e in entries {
        let n = packet::entry_len(e);
        let full = out.last().is_none_or(|c| c.len() == 255);
        if used + n > room || full {
            out.push(Vec::new());
            used = 0;
        }
        used += n;
        out.last_mut().unwrap().push(*e);
    }
    out
}
