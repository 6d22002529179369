//! Anycast members from the kernel's routing table (`[kernel_import]`):
//! the IPv6 /128 routes another routing daemon installs (BIRD, FRR's
//! zebra, a static route), one member per next hop, as RIB candidates of
//! source `kernel`. Pure: route messages as plain data in, member sets per
//! anycast address out; the netlink I/O is in daemon/kernel_import.rs.
//!
//! ```text
//!  RTM_NEWROUTE / RTM_DELROUTE ─► handle(RouteMsg) ─┐   (table, protocol, /128,
//!  route dump (start, overrun) ─► dump(routes) ─────┤    prefixes, next hops, limit)
//!                                                   ▼
//!                     held: anycast → metric → (protocol, next hops)
//!                                                   │ best metric per address
//!                              take_changes() ──────┴─► [(anycast, members)] that changed
//! ```
//!
//! How the kernel reports IPv6 multipath routes, and what follows from it:
//! a route with several next hops is one route whose notification carries
//! every next hop (RTA_MULTIPATH); adding a next hop (`append`, or BIRD's
//! add-then-append) reports the route with all of them; deleting one next
//! hop reports that next hop alone; deleting the route reports all of
//! them; `replace` reports the new set. So a new route without
//! NLM_F_REPLACE adds next hops, one with it replaces those of its (address,
//! metric) whatever protocol held them, and a deletion removes the next hops
//! it names (all, if it names none). The kernel forwards by the route of the
//! smallest metric: that one's next hops are the members.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;

use anycast6_dataplane::abi::MAX_MEMBERS;
use anycast6_dataplane::Action;
use ipnetwork::Ipv6Network;
use serde::Serialize;

use crate::config::{AdminState, MemberConfig, DEFAULT_WEIGHT, MAX_DISTANCE};
use crate::proto::limit::{LimitConfig, LimitEvent, RouteLimit};
use crate::KERNEL_PROTO;

/// RT_TABLE_MAIN.
pub const MAIN_TABLE: u32 = 254;

/// One route as netlink reports it, without netlink's types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    /// RTA_TABLE (or the header's 8 bits).
    pub table: u32,
    /// rtm_protocol: who installed it (12 bird, 11 zebra, 186 bgp, ...).
    pub protocol: u8,
    /// rtm_type is RTN_UNICAST.
    pub unicast: bool,
    pub dst: Ipv6Addr,
    pub plen: u8,
    /// RTA_PRIORITY.
    pub metric: u32,
    /// RTA_GATEWAY + RTA_OIF, or each entry of RTA_MULTIPATH.
    pub hops: Vec<NextHop>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextHop {
    pub gateway: Option<Ipv6Addr>,
    /// 0: none given.
    pub ifindex: u32,
    /// The kernel's weight, 1..=256 (rtnh_hops + 1; 1 for a single path).
    pub weight: u16,
}

/// A route notification (or a dumped route, as `New` without replace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMsg {
    /// RTM_NEWROUTE; `replace`: NLM_F_REPLACE was set.
    New { route: KernelRoute, replace: bool },
    /// RTM_DELROUTE.
    Del { route: KernelRoute },
}

/// What `[kernel_import]` says (config/kernel_import.rs validates it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportConfig {
    /// Route protocols whose routes are imported (never 0xa6, our own).
    pub protocols: BTreeSet<u8>,
    pub table: u32,
    /// The /128s must fall inside one of these (empty: any).
    pub prefixes: Vec<Ipv6Network>,
    /// `max_routes` (total = per key: one key) and `routes_warn_percent`.
    pub limit: LimitConfig,
}

/// Why a route or a next hop was not imported (`show kernel_import`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// A route of an imported protocol that is not a /128.
    NotHostRoute,
    /// A /128 outside `prefixes`.
    OutsidePrefixes,
    /// Not a unicast route (blackhole, unreachable, local, ...).
    NotUnicast,
    /// A unicast route that lists no next hop (one that uses a nexthop
    /// object while `net.ipv4.nexthop_compat_mode` is 0).
    NoNextHop,
    /// A next hop with no gateway (a device route: every member holds the
    /// anycast address, so the address itself names none of them).
    NoGateway,
    /// A next hop with no interface.
    NoInterface,
    /// A next hop out of an interface that is not a forwarding
    /// `[[interface]]`.
    InterfaceNotListed,
    /// Next hops beyond the 32 a group holds at one distance.
    TooManyNextHops,
    /// A new address beyond `max_routes`.
    RouteLimit,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotHostRoute => "not_host_route",
            Refusal::OutsidePrefixes => "outside_prefixes",
            Refusal::NotUnicast => "not_unicast",
            Refusal::NoNextHop => "no_next_hop",
            Refusal::NoGateway => "no_gateway",
            Refusal::NoInterface => "no_interface",
            Refusal::InterfaceNotListed => "interface_not_listed",
            Refusal::TooManyNextHops => "too_many_next_hops",
            Refusal::RouteLimit => "route_limit",
        }
    }
}

/// Something worth one log line: the first refusal of each kind (and
/// every one of a /128 in range: those are what an operator wants), and
/// the limit's crossings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportEvent {
    Refused {
        why: Refusal,
        dst: Ipv6Addr,
        plen: u8,
        protocol: u8,
        gateway: Option<Ipv6Addr>,
        ifindex: u32,
    },
    Limit(LimitEvent<()>),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Route messages read (notifications and dumped routes).
    pub messages: u64,
    /// Of those, about the table and an imported protocol.
    pub matched: u64,
    pub dumps: u64,
    pub refused: BTreeMap<Refusal, u64>,
}

/// The next hops of one route: (gateway, ifindex) → kernel weight.
type Hops = BTreeMap<(Ipv6Addr, u32), u16>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    protocol: u8,
    hops: Hops,
}

/// One imported member, before it is named by interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportedHop {
    pub gateway: Ipv6Addr,
    pub ifindex: u32,
    /// The kernel's weight (1..=256).
    pub weight: u16,
    pub metric: u32,
    pub protocol: u8,
}

pub struct Importer {
    cfg: ImportConfig,
    /// Forwarding interfaces present now: ifindex → name.
    interfaces: BTreeMap<u32, String>,
    /// anycast → metric → (protocol, metric) → route.
    held: BTreeMap<Ipv6Addr, BTreeMap<(u32, u8), Held>>,
    /// What the RIB was last given, per anycast address.
    published: BTreeMap<Ipv6Addr, Vec<MemberConfig>>,
    dirty: BTreeSet<Ipv6Addr>,
    limit: RouteLimit<()>,
    /// Routes refused by the limit since the last dump: when room frees, a
    /// dump gives them their chance (the kernel does not announce again).
    limit_refused: bool,
    want_dump: bool,
    counters: Counters,
    events: Vec<ImportEvent>,
}

impl Importer {
    pub fn new(cfg: ImportConfig) -> Importer {
        Importer {
            limit: RouteLimit::new(cfg.limit),
            cfg,
            interfaces: BTreeMap::new(),
            held: BTreeMap::new(),
            published: BTreeMap::new(),
            dirty: BTreeSet::new(),
            limit_refused: false,
            want_dump: false,
            counters: Counters::default(),
            events: Vec::new(),
        }
    }

    pub fn config(&self) -> &ImportConfig {
        &self.cfg
    }

    /// The forwarding interfaces as they are now (ifindex → name). A
    /// change asks for a dump: next hops refused on an interface that was
    /// not there may be imported now, and names may have changed.
    pub fn set_interfaces(&mut self, interfaces: BTreeMap<u32, String>) {
        if interfaces != self.interfaces {
            self.interfaces = interfaces;
            self.want_dump = true;
            self.dirty.extend(self.held.keys().copied());
        }
    }

    /// The table wants reading again (interfaces changed, or a route the
    /// limit refused may fit now); cleared by [`Importer::dump`].
    pub fn wants_dump(&self) -> bool {
        self.want_dump
    }

    /// Replaces what is held by a dump of the table. Addresses held
    /// before are taken first, so a full table does not swap them for
    /// others.
    pub fn dump(&mut self, routes: Vec<KernelRoute>) {
        self.counters.dumps += 1;
        let before: BTreeSet<Ipv6Addr> = self.held.keys().copied().collect();
        self.dirty.extend(before.iter().copied());
        self.held.clear();
        self.limit = RouteLimit::new(self.cfg.limit);
        self.limit_refused = false;
        self.want_dump = false;
        let (first, rest): (Vec<_>, Vec<_>) =
            routes.into_iter().partition(|r| before.contains(&r.dst));
        for route in first.into_iter().chain(rest) {
            self.handle(RouteMsg::New {
                route,
                replace: false,
            });
        }
    }

    /// One notification.
    pub fn handle(&mut self, msg: RouteMsg) {
        self.counters.messages += 1;
        let (route, replace, new) = match msg {
            RouteMsg::New { route, replace } => (route, replace, true),
            RouteMsg::Del { route } => (route, false, false),
        };
        if route.table != self.cfg.table {
            return;
        }
        // A replace takes the place of whatever held its (address,
        // metric), whoever installed it.
        if replace && route.plen == 128 {
            if let Some(m) = self.held.get_mut(&route.dst) {
                let before = m.len();
                m.retain(|(metric, _), _| *metric != route.metric);
                if m.len() != before {
                    self.dirty.insert(route.dst);
                }
            }
            self.drop_if_empty(route.dst);
        }
        if route.protocol == KERNEL_PROTO || !self.cfg.protocols.contains(&route.protocol) {
            return;
        }
        self.counters.matched += 1;
        if new {
            self.add(route);
        } else {
            self.remove(route);
        }
    }

    fn refuse(&mut self, why: Refusal, r: &KernelRoute, hop: Option<&NextHop>) {
        let n = self.counters.refused.entry(why).or_insert(0);
        *n += 1;
        // Routes that are no anycast candidates at all (a BGP table's
        // prefixes) are logged once; a /128 in range always.
        let quiet = matches!(why, Refusal::NotHostRoute | Refusal::OutsidePrefixes) && *n > 1;
        if !quiet {
            self.events.push(ImportEvent::Refused {
                why,
                dst: r.dst,
                plen: r.plen,
                protocol: r.protocol,
                gateway: hop.and_then(|h| h.gateway),
                ifindex: hop.map_or(0, |h| h.ifindex),
            });
        }
    }

    /// Whether `r` is a candidate at all (a /128 in range); counts why not.
    fn in_scope(&mut self, r: &KernelRoute) -> bool {
        if r.plen != 128 {
            self.refuse(Refusal::NotHostRoute, r, None);
            return false;
        }
        if !self.cfg.prefixes.is_empty() && !self.cfg.prefixes.iter().any(|p| p.contains(r.dst)) {
            self.refuse(Refusal::OutsidePrefixes, r, None);
            return false;
        }
        true
    }

    fn add(&mut self, r: KernelRoute) {
        if !self.in_scope(&r) {
            return;
        }
        if !r.unicast {
            self.refuse(Refusal::NotUnicast, &r, None);
            return;
        }
        if r.hops.is_empty() {
            self.refuse(Refusal::NoNextHop, &r, None);
            return;
        }
        let key = (r.metric, r.protocol);
        let mut hops: Hops = self
            .held
            .get(&r.dst)
            .and_then(|m| m.get(&key))
            .map(|h| h.hops.clone())
            .unwrap_or_default();
        for h in &r.hops {
            let Some(gw) = h.gateway else {
                self.refuse(Refusal::NoGateway, &r, Some(h));
                continue;
            };
            if h.ifindex == 0 {
                self.refuse(Refusal::NoInterface, &r, Some(h));
                continue;
            }
            if !self.interfaces.contains_key(&h.ifindex) {
                self.refuse(Refusal::InterfaceNotListed, &r, Some(h));
                continue;
            }
            if !hops.contains_key(&(gw, h.ifindex)) && hops.len() >= MAX_MEMBERS {
                self.refuse(Refusal::TooManyNextHops, &r, Some(h));
                continue;
            }
            hops.insert((gw, h.ifindex), h.weight.clamp(1, 256));
        }
        if hops.is_empty() {
            return;
        }
        if !self.held.contains_key(&r.dst) {
            if self.limit.admit(&()).is_err() {
                self.limit_refused = true;
                self.refuse(Refusal::RouteLimit, &r, None);
                self.limit_events();
                return;
            }
            self.limit.add(&());
            self.limit_events();
        }
        let m = self.held.entry(r.dst).or_default();
        let held = Held {
            protocol: r.protocol,
            hops,
        };
        if m.insert(key, held.clone()).as_ref() != Some(&held) {
            self.dirty.insert(r.dst);
        }
    }

    fn remove(&mut self, r: KernelRoute) {
        if r.plen != 128 {
            return;
        }
        let key = (r.metric, r.protocol);
        let Some(m) = self.held.get_mut(&r.dst) else {
            return;
        };
        let Some(h) = m.get_mut(&key) else {
            return;
        };
        let before = h.hops.len();
        if r.hops.is_empty() {
            h.hops.clear();
        } else {
            for nh in &r.hops {
                match nh.gateway {
                    Some(gw) => {
                        h.hops.remove(&(gw, nh.ifindex));
                    }
                    // No gateway named: every next hop on that interface.
                    None => h
                        .hops
                        .retain(|(_, i), _| nh.ifindex != 0 && *i != nh.ifindex),
                }
            }
        }
        if h.hops.len() != before {
            self.dirty.insert(r.dst);
        }
        if h.hops.is_empty() {
            m.remove(&key);
        }
        self.drop_if_empty(r.dst);
    }

    fn drop_if_empty(&mut self, dst: Ipv6Addr) {
        if self.held.get(&dst).is_some_and(|m| m.is_empty()) {
            self.held.remove(&dst);
            self.limit.remove(&());
            self.limit_events();
            if self.limit_refused {
                self.want_dump = true;
            }
        }
    }

    fn limit_events(&mut self) {
        while let Some(e) = self.limit.poll_event() {
            self.events.push(ImportEvent::Limit(e));
        }
    }

    /// What is worth a log line since the last call.
    pub fn take_events(&mut self) -> Vec<ImportEvent> {
        std::mem::take(&mut self.events)
    }

    /// The next hops the kernel forwards `dst` by: those of its route of
    /// the smallest metric (of the smallest protocol number if two share it).
    pub fn best(&self, dst: Ipv6Addr) -> Vec<ImportedHop> {
        let Some((&(metric, protocol), h)) = self.held.get(&dst).and_then(|m| m.iter().next())
        else {
            return Vec::new();
        };
        h.hops
            .iter()
            .map(|(&(gateway, ifindex), &weight)| ImportedHop {
                gateway,
                ifindex,
                weight,
                metric,
                protocol,
            })
            .collect()
    }

    /// The members of `dst`: one per next hop of its best route, delivered
    /// by rewrite to the next hop on its interface, at the route's metric,
    /// weighing the kernel weight × 100 (so an unweighted next hop weighs
    /// what a configured member does by default).
    pub fn members(&self, dst: Ipv6Addr) -> Vec<MemberConfig> {
        self.best(dst)
            .into_iter()
            .filter_map(|h| {
                Some(MemberConfig {
                    address: h.gateway,
                    interface: Some(self.interfaces.get(&h.ifindex)?.clone()),
                    next_hop: Some(h.gateway),
                    distance: h.metric.clamp(1, MAX_DISTANCE),
                    weight: h.weight.saturating_mul(DEFAULT_WEIGHT),
                    action: Action::Rewrite,
                    encap_source: None,
                    state: AdminState::Active,
                })
            })
            .collect()
    }

    /// Every address whose members changed since the last call, with its
    /// members now (empty: it has none any more).
    pub fn take_changes(&mut self) -> Vec<(Ipv6Addr, Vec<MemberConfig>)> {
        let mut out = Vec::new();
        for dst in std::mem::take(&mut self.dirty) {
            let now = self.members(dst);
            let was = self.published.get(&dst).cloned().unwrap_or_default();
            if now == was {
                continue;
            }
            if now.is_empty() {
                self.published.remove(&dst);
            } else {
                self.published.insert(dst, now.clone());
            }
            out.push((dst, now));
        }
        out
    }

    /// Whether changes wait for [`Importer::take_changes`].
    pub fn has_changes(&self) -> bool {
        !self.dirty.is_empty()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Addresses imported now (given to the RIB).
    pub fn imported(&self) -> usize {
        self.published.len()
    }

    /// `show kernel_import`: every address held, its best route's next
    /// hops, and the other routes it has.
    pub fn view(&self) -> serde_json::Value {
        let routes: Vec<serde_json::Value> = self
            .held
            .iter()
            .map(|(dst, m)| {
                serde_json::json!({
                    "anycast": dst.to_string(),
                    "imported": self.published.contains_key(dst),
                    "next_hops": self.best(*dst).iter().map(|h| serde_json::json!({
                        "gateway": h.gateway.to_string(),
                        "ifindex": h.ifindex,
                        "interface": self.interfaces.get(&h.ifindex),
                        "weight": h.weight,
                        "metric": h.metric,
                        "protocol": h.protocol,
                    })).collect::<Vec<_>>(),
                    "routes": m.keys().map(|(metric, protocol)| serde_json::json!({
                        "metric": metric, "protocol": protocol,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::json!({
            "table": self.cfg.table,
            "protocols": self.cfg.protocols.iter().map(|p| serde_json::json!({
                "number": p, "name": protocol_name(*p),
            })).collect::<Vec<_>>(),
            "prefixes": self.cfg.prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "max_routes": self.cfg.limit.total,
            "held": self.held.len(),
            "imported": self.published.len(),
            "routes": routes,
            "counters": self.counters,
        })
    }
}

/// Route protocol names as iproute2 spells them (/etc/iproute2/rt_protos).
pub const PROTOCOL_NAMES: &[(&str, u8)] = &[
    ("redirect", 1),
    ("kernel", 2),
    ("boot", 3),
    ("static", 4),
    ("gated", 8),
    ("ra", 9),
    ("mrt", 10),
    ("zebra", 11),
    ("bird", 12),
    ("dnrouted", 13),
    ("xorp", 14),
    ("ntk", 15),
    ("dhcp", 16),
    ("keepalived", 18),
    ("babel", 42),
    ("openr", 99),
    ("bgp", 186),
    ("isis", 187),
    ("ospf", 188),
    ("rip", 189),
    ("eigrp", 192),
];

/// iproute2's name of protocol `p`, if it has one.
pub fn protocol_name(p: u8) -> Option<&'static str> {
    PROTOCOL_NAMES
        .iter()
        .find(|(_, n)| *n == p)
        .map(|(s, _)| *s)
}
