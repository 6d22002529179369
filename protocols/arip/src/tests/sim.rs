//! A simulated network of ARIP cores: routers joined by links (shared
//! segments), a clock that jumps to the next deadline, datagrams delivered
//! at once (multicast to every other router on the link, unicast to the
//! router owning the address). Links can be cut (frames dropped silently)
//! to simulate partitions.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv6Addr;
use std::time::Duration;

use crate::packet::{self, PORT};
use crate::{Config, Instance, InterfaceConfig, KernelOp, KernelRoute, Output};
use anycast6_core::{Instant, RibChange, SimClock};

/// A datagram as the daemon would hand it over.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: Instant,
    pub from: usize,
    pub ifindex: u32,
    pub dst: Ipv6Addr,
    pub bytes: Vec<u8>,
}

pub struct Router {
    pub core: Instance,
    /// RIB as built from the Rib outputs: anycast -> {(next hop, ifindex) -> metric}.
    pub rib: BTreeMap<Ipv6Addr, BTreeMap<(Ipv6Addr, u32), u32>>,
    /// Kernel routes from the Kernel outputs.
    pub kernel: BTreeMap<(Ipv6Addr, u8), KernelRoute>,
}

pub struct Link {
    /// (router, ifindex) attached.
    pub ends: Vec<(usize, u32)>,
    pub up: bool,
}

pub struct Net {
    pub clock: SimClock,
    pub routers: Vec<Router>,
    pub links: Vec<Link>,
    /// Every datagram sent, for inspection.
    pub log: Vec<Sent>,
    /// Tamper with datagrams in flight: return None to drop.
    #[allow(clippy::type_complexity)]
    pub tamper: Option<Box<dyn FnMut(&Sent) -> Option<Vec<u8>>>>,
}

/// Link-local address of `router`'s interface `ifindex`.
pub fn ll(router: usize, ifindex: u32) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, router as u16 + 1, ifindex as u16)
}

impl Net {
    pub fn new(n: usize, config: impl Fn(usize) -> Config) -> Net {
        let clock = SimClock::new();
        let routers = (0..n)
            .map(|i| {
                let mut c = config(i);
                c.seed = i as u64 + 1;
                Router {
                    core: Instance::new(c, clock.now()).expect("config"),
                    rib: BTreeMap::new(),
                    kernel: BTreeMap::new(),
                }
            })
            .collect();
        Net {
            clock,
            routers,
            links: Vec::new(),
            log: Vec::new(),
            tamper: None,
        }
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    fn next_ifindex(&self, r: usize) -> u32 {
        self.links
            .iter()
            .flat_map(|l| l.ends.iter())
            .filter(|(x, _)| *x == r)
            .count() as u32
            + 1
    }

    /// Joins `members` on a new link; returns its index.
    pub fn link(&mut self, members: &[usize]) -> usize {
        let ends: Vec<(usize, u32)> = members.iter().map(|&r| (r, self.next_ifindex(r))).collect();
        self.links.push(Link {
            ends: ends.clone(),
            up: true,
        });
        let now = self.now();
        for (r, ifindex) in ends {
            let cfg = InterfaceConfig::new(ifindex, format!("eth{ifindex}"), ll(r, ifindex));
            self.routers[r]
                .core
                .interface_up(now, cfg)
                .expect("interface");
        }
        self.links.len() - 1
    }

    /// The ifindex `r` uses on link `l`.
    pub fn ifindex(&self, l: usize, r: usize) -> u32 {
        self.links[l]
            .ends
            .iter()
            .find(|(x, _)| *x == r)
            .map(|(_, i)| *i)
            .expect("router on link")
    }

    fn link_of(&self, r: usize, ifindex: u32) -> Option<usize> {
        self.links
            .iter()
            .position(|l| l.ends.contains(&(r, ifindex)))
    }

    /// Drains every router's outputs and delivers datagrams until quiet.
    pub fn settle(&mut self) {
        loop {
            let mut queue = VecDeque::new();
            for (i, r) in self.routers.iter_mut().enumerate() {
                while let Some(o) = r.core.poll_output() {
                    match o {
                        Output::Send {
                            ifindex,
                            dst,
                            dst_port,
                            bytes,
                        } => {
                            assert_eq!(dst_port, PORT);
                            queue.push_back(Sent {
                                at: self.clock.now(),
                                from: i,
                                ifindex,
                                dst,
                                bytes,
                            });
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
                            let set = r
                                .rib
                                .get_mut(&anycast)
                                .expect("withdraw of a known address");
                            assert!(
                                set.remove(&(next_hop, ifindex)).is_some(),
                                "withdraw of an unknown member"
                            );
                            if set.is_empty() {
                                r.rib.remove(&anycast);
                            }
                        }
                        Output::Kernel(k) => match k.op {
                            KernelOp::Add => {
                                r.kernel.insert((k.prefix, k.plen), k);
                            }
                            KernelOp::Remove => {
                                assert!(r.kernel.remove(&(k.prefix, k.plen)).is_some());
                            }
                        },
                    }
                }
            }
            if queue.is_empty() {
                return;
            }
            while let Some(s) = queue.pop_front() {
                self.deliver(s);
            }
        }
    }

    fn deliver(&mut self, s: Sent) {
        self.log.push(s.clone());
        let Some(l) = self.link_of(s.from, s.ifindex) else {
            return;
        };
        if !self.links[l].up {
            return;
        }
        let bytes = match &mut self.tamper {
            Some(f) => match f(&s) {
                Some(b) => b,
                None => return,
            },
            None => s.bytes.clone(),
        };
        let src = ll(s.from, s.ifindex);
        let now = self.now();
        for &(r, ifindex) in &self.links[l].ends.clone() {
            if r == s.from {
                continue;
            }
            if s.dst == packet::GROUP || s.dst == ll(r, ifindex) {
                self.routers[r]
                    .core
                    .handle_packet(now, ifindex, src, PORT, 255, &bytes);
            }
        }
    }

    /// Runs timers and deliveries until `until`.
    pub fn run_until(&mut self, until: Instant) {
        self.settle();
        loop {
            let next = self
                .routers
                .iter()
                .filter_map(|r| r.core.poll_timeout())
                .min();
            match next {
                Some(t) if t <= until => {
                    self.clock.jump_to(t);
                    let now = self.now();
                    for r in &mut self.routers {
                        if r.core.poll_timeout().is_some_and(|d| d <= now) {
                            r.core.handle_timeout(now);
                        }
                    }
                    self.settle();
                }
                _ => {
                    self.clock.jump_to(until);
                    return;
                }
            }
        }
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now() + d;
        self.run_until(until);
    }

    /// Runs until `cond` holds, checking after every step; panics after `limit`.
    pub fn run_until_cond(
        &mut self,
        limit: Duration,
        mut cond: impl FnMut(&Net) -> bool,
    ) -> Duration {
        let start = self.now();
        let end = start + limit;
        self.settle();
        while !cond(self) {
            let next = self
                .routers
                .iter()
                .filter_map(|r| r.core.poll_timeout())
                .min()
                .expect("a timer is always armed");
            assert!(next <= end, "condition not met within {limit:?}");
            self.run_until(next);
        }
        self.now() - start
    }

    /// Members of `addr` in router `r`'s RIB.
    pub fn members(&self, r: usize, addr: Ipv6Addr) -> BTreeSet<(Ipv6Addr, u32, u32)> {
        self.routers[r]
            .rib
            .get(&addr)
            .map(|m| {
                m.iter()
                    .map(|(&(nh, i), &metric)| (nh, i, metric))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn metric(&self, r: usize, prefix: Ipv6Addr, plen: u8) -> Option<u8> {
        let p = crate::Prefix::new(prefix, plen).ok()?;
        self.routers[r]
            .core
            .view(self.now())
            .routes
            .into_iter()
            .find(|x| x.prefix == p)
            .map(|x| x.metric)
    }
}
