//! A simulated network of AOSPF cores: routers joined by links (shared
//! segments), a clock that jumps to the next deadline, packets delivered
//! at once (multicast to every other router on the link, unicast to the
//! router owning the address). Links can be cut (packets dropped) and
//! routers crashed (state gone) or restarted.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use anycast6_core::{RibChange, SimClock};

use crate::{
    Config, Instance, InterfaceConfig, KernelOp, KernelRoute, NetworkType, Originated, Output,
};

pub struct Router {
    pub core: Instance,
    pub up: bool,
    pub ifaces: Vec<InterfaceConfig>,
    /// anycast -> {(next hop, ifindex) -> metric}.
    pub rib: BTreeMap<Ipv6Addr, BTreeMap<(Ipv6Addr, u32), u32>>,
    pub kernel: BTreeMap<(Ipv6Addr, u8), KernelRoute>,
}

/// Drops a packet sent by router `usize` when it returns true.
pub type Filter = Box<dyn FnMut(usize, &[u8]) -> bool>;

pub struct Link {
    pub ends: Vec<(usize, u32)>,
    pub up: bool,
}

pub struct Net {
    pub clock: SimClock,
    pub routers: Vec<Router>,
    pub links: Vec<Link>,
    /// Packets delivered so far.
    pub delivered: u64,
    /// Drop every packet whose bytes this returns true for (a lossy or
    /// hostile link).
    pub filter: Option<Filter>,
}

pub fn rid(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, i as u8 + 1)
}

pub fn ll(router: usize, ifindex: u32) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, router as u16 + 1, 0, ifindex as u16)
}

/// A /128 host address of router `i` (its loopback).
pub fn lo(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, i as u16 + 1)
}

pub const ANYCAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 1);

pub fn fast(cfg: &mut InterfaceConfig) {
    cfg.hello_interval = Duration::from_secs(1);
    cfg.dead_interval = Duration::from_secs(4);
    cfg.retransmit_interval = Duration::from_secs(2);
}

impl Net {
    pub fn new(n: usize) -> Net {
        let clock = SimClock::new();
        let routers = (0..n)
            .map(|i| {
                let mut c = Config::new(rid(i));
                c.spf_delay = Duration::from_millis(10);
                c.spf_hold = Duration::from_millis(50);
                Router {
                    core: Instance::new(c, clock.now()),
                    up: true,
                    ifaces: vec![],
                    rib: BTreeMap::new(),
                    kernel: BTreeMap::new(),
                }
            })
            .collect();
        Net {
            clock,
            routers,
            links: vec![],
            delivered: 0,
            filter: None,
        }
    }

    /// A link between `ends` (router indexes), of `network` type; each
    /// end gets the next free ifindex. Returns the link index.
    pub fn link(&mut self, ends: &[usize], network: NetworkType, cost: u16) -> usize {
        let id = self.links.len();
        let mut at = vec![];
        for &r in ends {
            let ifindex = self.routers[r].ifaces.len() as u32 + 1;
            let mut c = InterfaceConfig::new(ifindex, &format!("l{id}"), ll(r, ifindex), network);
            c.cost = cost;
            fast(&mut c);
            self.routers[r].ifaces.push(c);
            at.push((r, ifindex));
        }
        self.links.push(Link { ends: at, up: true });
        id
    }

    /// Every interface up, each router originating its loopback.
    pub fn start(&mut self) {
        let now = self.clock.now();
        for (i, r) in self.routers.iter_mut().enumerate() {
            for c in r.ifaces.clone() {
                r.core.interface_up(now, c);
            }
            r.core.set_origination(now, vec![host(lo(i), 0, false)]);
        }
        self.pump();
    }

    pub fn cfg_mut(&mut self, r: usize, ifindex: u32) -> &mut InterfaceConfig {
        &mut self.routers[r].ifaces[ifindex as usize - 1]
    }

    /// Delivers everything queued, repeatedly, at the current time.
    pub fn pump(&mut self) {
        let now = self.clock.now();
        loop {
            let mut sent = vec![];
            for (i, r) in self.routers.iter_mut().enumerate() {
                while let Some(o) = r.core.poll_output() {
                    match o {
                        Output::Send {
                            ifindex,
                            src,
                            dst,
                            bytes,
                        } => {
                            if r.up {
                                sent.push((i, ifindex, src, dst, bytes));
                            }
                        }
                        Output::Rib(RibChange::Upsert(e)) => {
                            r.rib
                                .entry(e.anycast)
                                .or_default()
                                .insert((e.next_hop, e.ifindex), e.metric);
                        }
                        Output::Rib(RibChange::Withdraw {
                            anycast,
                            next_hop,
                            ifindex,
                            ..
                        }) => {
                            if let Some(m) = r.rib.get_mut(&anycast) {
                                m.remove(&(next_hop, ifindex));
                                if m.is_empty() {
                                    r.rib.remove(&anycast);
                                }
                            }
                        }
                        Output::Kernel(k) => match k.op {
                            KernelOp::Add => {
                                r.kernel.insert((k.prefix, k.plen), k);
                            }
                            KernelOp::Remove => {
                                r.kernel.remove(&(k.prefix, k.plen));
                            }
                        },
                    }
                }
            }
            if sent.is_empty() {
                return;
            }
            for (from, ifindex, src, dst, bytes) in sent {
                if let Some(f) = self.filter.as_mut() {
                    if f(from, &bytes) {
                        continue;
                    }
                }
                let Some(l) = self
                    .links
                    .iter()
                    .find(|l| l.ends.contains(&(from, ifindex)))
                else {
                    continue;
                };
                if !l.up {
                    continue;
                }
                let ends = l.ends.clone();
                for (to, to_if) in ends {
                    if to == from || !self.routers[to].up {
                        continue;
                    }
                    if !dst.is_multicast() && dst != ll(to, to_if) {
                        continue;
                    }
                    self.delivered += 1;
                    self.routers[to]
                        .core
                        .handle_packet(now, to_if, src, dst, &bytes);
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

    pub fn state(&self, r: usize, nbr: usize) -> Option<String> {
        let v = self.routers[r].core.view(self.clock.now());
        v.neighbors
            .iter()
            .find(|n| n.router_id == rid(nbr))
            .map(|n| n.state.clone())
    }

    pub fn all_full(&self) -> bool {
        self.routers.iter().filter(|r| r.up).all(|r| {
            let v = r.core.view(self.clock.now());
            v.neighbors
                .iter()
                .all(|n| n.state == "Full" || n.state == "2-Way")
                && !v.neighbors.is_empty()
        })
    }

    /// Router `r`'s kernel next hops for router `to`'s loopback.
    pub fn hops(&self, r: usize, to: usize) -> Vec<(Ipv6Addr, u32)> {
        self.routers[r]
            .kernel
            .get(&(lo(to), 128))
            .map(|k| k.nexthops.clone())
            .unwrap_or_default()
    }

    /// Router `r` crashes: it stops sending and answering, state kept for
    /// a restart.
    pub fn crash(&mut self, r: usize) {
        self.routers[r].up = false;
    }

    /// Router `r` comes back as a new process: empty state, same config.
    pub fn restart(&mut self, r: usize) {
        self.restart_with(r, None);
    }

    /// Router `r` comes back as a new process restarting gracefully
    /// (`Some(period)`) or not.
    pub fn restart_with(&mut self, r: usize, graceful: Option<Duration>) {
        let now = self.clock.now();
        let cfg = self.routers[r].core.config().clone();
        let router = &mut self.routers[r];
        router.core = match graceful {
            Some(p) => Instance::restarted(cfg, now, p),
            None => Instance::new(cfg, now),
        };
        router.up = true;
        for c in router.ifaces.clone() {
            router.core.interface_up(now, c);
        }
        router
            .core
            .set_origination(now, vec![host(lo(r), 0, false)]);
        self.pump();
    }
}

pub fn host(a: Ipv6Addr, metric: u16, anycast: bool) -> Originated {
    Originated {
        prefix: a,
        plen: 128,
        metric,
        anycast,
        ifindex: None,
    }
}
