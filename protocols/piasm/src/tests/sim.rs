//! Simulated PIA-SM networks: routers on links (ALL-PIM-ROUTERS reaches
//! every other end of a link), unicast delivered straight to the router
//! that owns the destination (the plain routers between are not
//! modelled), one simulated clock.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::{Instant, SimClock};

use crate::config::{AnycastConfig, Config, InterfaceConfig};
use crate::instance::{Group, Instance, Output, Rpf};

pub const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0x6f);
/// The core address of A.
pub const C: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc0, 0, 0, 0, 0, 1);

/// Router `i`'s router address.
pub fn r(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, i as u16 + 1)
}

/// Router `i`'s link-local address on its interface `ifindex`.
pub fn ll(i: usize, ifindex: u32) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, i as u16 + 1, ifindex as u16)
}

pub struct Router {
    pub core: Instance,
    pub up: bool,
    pub ifaces: Vec<InterfaceConfig>,
    /// Non-empty groups as last emitted.
    pub groups: BTreeMap<Ipv6Addr, Group>,
    /// Every packet sent, decoded (for assertions).
    pub sent: Vec<crate::packet::Message>,
}

pub struct Net {
    pub clock: SimClock,
    pub routers: Vec<Router>,
    /// Links: (router, ifindex) ends.
    pub links: Vec<Vec<(usize, u32)>>,
    pub link_up: Vec<bool>,
    /// Unicast address -> the router it reaches.
    pub owner: BTreeMap<Ipv6Addr, usize>,
    /// Drops a packet when it returns true (from, bytes).
    #[allow(clippy::type_complexity)]
    pub filter: Option<Box<dyn FnMut(usize, &[u8]) -> bool>>,
}

/// Test timers: Hello 1 s, joins every 1 s (holdtime 4 s).
pub fn config(i: usize, anycast: Vec<AnycastConfig>) -> Config {
    let mut c = Config::new(r(i));
    c.hello_interval = Duration::from_secs(1);
    c.join_interval = Duration::from_secs(1);
    c.generation_id = 1000 + i as u32;
    c.anycast = anycast;
    c
}

pub fn member_of(core: bool) -> AnycastConfig {
    AnycastConfig {
        is_core: core,
        ..AnycastConfig::new(A, C)
    }
}

impl Net {
    /// `n` routers, router `i` configured by `cfg(i)`.
    pub fn new(n: usize, cfg: impl Fn(usize) -> Config) -> Net {
        let clock = SimClock::new();
        let mut owner = BTreeMap::new();
        let routers = (0..n)
            .map(|i| {
                let c = cfg(i);
                owner.insert(c.router_address, i);
                for a in &c.anycast {
                    if a.is_core {
                        owner.entry(a.core).or_insert(i);
                    }
                }
                Router {
                    core: Instance::new(c, clock.now()),
                    up: true,
                    ifaces: vec![],
                    groups: BTreeMap::new(),
                    sent: vec![],
                }
            })
            .collect();
        Net {
            clock,
            routers,
            links: vec![],
            link_up: vec![],
            owner,
            filter: None,
        }
    }

    /// A link between `ends`; each end gets its next ifindex (1, 2, ...).
    pub fn link(&mut self, ends: &[usize]) -> usize {
        let id = self.links.len();
        let mut at = vec![];
        for &i in ends {
            let ifindex = self.routers[i].ifaces.len() as u32 + 1;
            let c = InterfaceConfig::new(ifindex, &format!("l{id}"), ll(i, ifindex));
            self.routers[i].ifaces.push(c.clone());
            let now = self.clock.now();
            self.routers[i].core.interface_up(now, c);
            at.push((i, ifindex));
        }
        self.links.push(at);
        self.link_up.push(true);
        id
    }

    /// Router `i`'s interface brought up (again) with `c`.
    pub fn iface(&mut self, i: usize, c: InterfaceConfig) {
        let now = self.now();
        self.routers[i].core.interface_up(now, c);
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Router `i`'s route toward C: out of `ifindex` via router `via`'s
    /// address on that link (None: a plain router is the next hop).
    pub fn rpf(&mut self, i: usize, ifindex: u32, via: Option<(usize, u32)>) {
        let now = self.now();
        let rpf = Rpf {
            ifindex,
            next_hop: Some(via.map_or(
                Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0xee, 0xee),
                |(j, k)| ll(j, k),
            )),
        };
        self.routers[i].core.set_rpf(now, C, Some(rpf));
    }

    pub fn members(&mut self, i: usize, ifindex: u32, n: u32) {
        let now = self.now();
        self.routers[i].core.set_local_members(now, A, ifindex, n);
    }

    /// Delivers everything queued, repeatedly, at the current time.
    pub fn pump(&mut self) {
        let now = self.clock.now();
        loop {
            let mut sent = vec![];
            for (i, r) in self.routers.iter_mut().enumerate() {
                while let Some(o) = r.core.poll_output() {
                    match o {
                        Output::Send(s) => {
                            if let Ok(p) = crate::packet::Packet::decode(s.src, s.dst, &s.bytes) {
                                r.sent.push(p.message);
                            }
                            if r.up {
                                sent.push((i, s));
                            }
                        }
                        Output::Group(g) => {
                            if g.members.is_empty() {
                                r.groups.remove(&g.anycast);
                            } else {
                                r.groups.insert(g.anycast, g);
                            }
                        }
                    }
                }
            }
            if sent.is_empty() {
                return;
            }
            for (from, s) in sent {
                if let Some(f) = self.filter.as_mut() {
                    if f(from, &s.bytes) {
                        continue;
                    }
                }
                match s.ifindex {
                    Some(ifindex) => {
                        let Some(l) = self.links.iter().position(|l| l.contains(&(from, ifindex)))
                        else {
                            continue;
                        };
                        if !self.link_up[l] {
                            continue;
                        }
                        for &(to, to_if) in &self.links[l].clone() {
                            if to != from && self.routers[to].up {
                                self.routers[to]
                                    .core
                                    .handle_packet(now, to_if, s.src, s.dst, &s.bytes);
                            }
                        }
                    }
                    None => {
                        let Some(&to) = self.owner.get(&s.dst) else {
                            continue;
                        };
                        if self.routers[to].up {
                            self.routers[to]
                                .core
                                .handle_packet(now, 1, s.src, s.dst, &s.bytes);
                        }
                    }
                }
            }
        }
    }

    /// Runs the network for `d` of simulated time.
    pub fn run(&mut self, d: Duration) {
        let end = self.clock.now() + d;
        loop {
            self.pump();
            let next = self
                .routers
                .iter()
                .filter(|r| r.up)
                .filter_map(|r| r.core.poll_timeout())
                .min();
            let Some(t) = next.filter(|t| *t <= end) else {
                break;
            };
            let t = t.max(self.clock.now());
            self.clock.jump_to(t);
            for r in self.routers.iter_mut().filter(|r| r.up) {
                if r.core.poll_timeout().is_some_and(|x| x <= t) {
                    r.core.handle_timeout(t);
                }
            }
        }
        self.clock.jump_to(end);
        self.pump();
    }

    /// Router `i`'s group for A as (address, weight), sorted.
    pub fn group(&self, i: usize) -> Vec<(Ipv6Addr, u16)> {
        self.routers[i]
            .groups
            .get(&A)
            .map(|g| g.members.iter().map(|m| (m.address, m.weight)).collect())
            .unwrap_or_default()
    }

    pub fn counters(&self, i: usize) -> crate::Counters {
        self.routers[i].core.view(self.now()).counters
    }
}
