//! AOSPF convergence of a chain of routers after a member joins at one
//! end, on the protocol cores with a simulated clock (no sockets, no
//! sleeping), as convergence.rs does for ARIP: the protocol time until the
//! router at the far end has the member (its core emits the RIB change).
//!
//! Router i's interface 1 faces router i-1, interface 2 router i+1, every
//! link point-to-point with a one-way delay of [`LINK_DELAY`]. The timers
//! are [`timers`], the same as the namespace chains' (chain.rs).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use anycast6_aospf::{Config, Instance, InterfaceConfig, NetworkType, Originated, Output};
use anycast6_core::{Instant, RibChange, SimClock};
use anyhow::{anyhow, Result};

use super::Timers;

/// One-way delay of every link (a LAN hop plus a daemon's reaction).
pub const LINK_DELAY: Duration = Duration::from_millis(1);

fn rid(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 9, 0, i as u8 + 1)
}

fn ll(router: usize, side: u32) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, router as u16 + 1, side as u16)
}

/// A packet on its way: (delivery time, sequence) → (router, interface,
/// source, destination, bytes).
type Flight = BTreeMap<(Instant, u64), (usize, u32, Ipv6Addr, Ipv6Addr, Vec<u8>)>;

struct Chain {
    clock: SimClock,
    routers: Vec<Instance>,
    flight: Flight,
    seq: u64,
    anycast: Ipv6Addr,
    /// When the far end's core first emitted the member.
    far: Option<Instant>,
}

impl Chain {
    fn new(n: usize, t: &Timers, anycast: Ipv6Addr) -> Chain {
        let clock = SimClock::new();
        let mut routers: Vec<Instance> = (0..n)
            .map(|i| {
                let mut c = Config::new(rid(i));
                c.spf_delay = t.spf_delay;
                c.spf_hold = t.spf_hold;
                Instance::new(c, clock.now())
            })
            .collect();
        for (i, r) in routers.iter_mut().enumerate() {
            for side in [1u32, 2] {
                if (side == 1 && i == 0) || (side == 2 && i + 1 == n) {
                    continue;
                }
                let mut c = InterfaceConfig::new(
                    side,
                    &format!("r{i}-{side}"),
                    ll(i, side),
                    NetworkType::PointToPoint,
                );
                c.hello_interval = t.hello;
                c.dead_interval = t.dead;
                c.retransmit_interval = t.retransmit;
                r.interface_up(clock.now(), c);
            }
        }
        Chain {
            clock,
            routers,
            flight: Flight::new(),
            seq: 0,
            anycast,
            far: None,
        }
    }

    /// Moves every queued output of every core into the air (or the far
    /// end's record).
    fn drain(&mut self) {
        let n = self.routers.len();
        for i in 0..n {
            let i: usize = i;
            while let Some(o) = self.routers[i].poll_output() {
                match o {
                    Output::Send {
                        ifindex,
                        src,
                        dst,
                        bytes,
                    } => {
                        let peer = if ifindex == 1 {
                            i.checked_sub(1)
                        } else {
                            Some(i + 1)
                        };
                        if let Some(p) = peer.filter(|p| *p < n) {
                            let in_if = if ifindex == 1 { 2 } else { 1 };
                            self.seq += 1;
                            self.flight.insert(
                                (self.clock.now() + LINK_DELAY, self.seq),
                                (p, in_if, src, dst, bytes),
                            );
                        }
                    }
                    Output::Rib(RibChange::Upsert(e))
                        if i + 1 == n && e.anycast == self.anycast =>
                    {
                        self.far.get_or_insert(self.clock.now());
                    }
                    _ => {}
                }
            }
        }
    }

    /// Runs until `end` of protocol time.
    fn run_until(&mut self, end: Instant) {
        loop {
            self.drain();
            let next_timer = self.routers.iter().filter_map(|r| r.poll_timeout()).min();
            let next_packet = self.flight.keys().next().map(|k| k.0);
            let next = match (next_timer, next_packet) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let Some(t) = next.filter(|t| *t <= end) else {
                self.clock.jump_to(end);
                return;
            };
            self.clock.jump_to(t.max(self.clock.now()));
            let now = self.clock.now();
            while let Some(e) = self.flight.first_entry() {
                if e.key().0 > now {
                    break;
                }
                let (p, in_if, src, dst, bytes) = e.remove();
                self.routers[p].handle_packet(now, in_if, src, dst, &bytes);
            }
            for r in self.routers.iter_mut() {
                if r.poll_timeout().is_some_and(|d| d <= now) {
                    r.handle_timeout(now);
                }
            }
        }
    }

    fn all_full(&self) -> bool {
        let now = self.clock.now();
        self.routers.iter().all(|r| {
            let v = r.view(now);
            !v.neighbors.is_empty() && v.neighbors.iter().all(|n| n.state == "Full")
        })
    }
}

/// Protocol time until the far end of an `n`-router chain has an anycast
/// member that router 0 starts to serve, after the chain has been Full for
/// a while. `phase` shifts the moment of the join against the Hello
/// timers, so samples differ.
pub fn chain(n: usize, t: &Timers, phase: Duration) -> Result<Duration> {
    let anycast: Ipv6Addr = "2001:db8:ac::1".parse()?;
    let mut c = Chain::new(n, t, anycast);
    let settle = c.clock.now() + t.dead * 3 + phase;
    c.run_until(settle);
    if !c.all_full() {
        return Err(anyhow!(
            "the simulated chain is not Full after {:?}",
            t.dead * 3
        ));
    }
    let join = c.clock.now();
    c.routers[0].set_origination(
        join,
        vec![Originated {
            prefix: anycast,
            plen: 128,
            metric: 0,
            anycast: true,
            ifindex: None,
        }],
    );
    c.run_until(join + Duration::from_secs(30));
    let at = c
        .far
        .ok_or_else(|| anyhow!("the far end never installed the member"))?;
    Ok(at - join)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn chain_converges_hop_by_hop_and_repeats() {
        let t = super::super::timers();
        let d = super::chain(10, &t, Duration::from_millis(123)).unwrap();
        // Flooding is hop by hop at the link delay, and each router routes
        // the changed prefix at once (no SPF delay). Not a timing
        // threshold: protocol time on the simulated clock.
        assert!(d >= 9 * super::LINK_DELAY, "{d:?}");
        assert!(d < t.spf_delay + 9 * super::LINK_DELAY, "{d:?}");
        assert_eq!(d, super::chain(10, &t, Duration::from_millis(123)).unwrap());
    }
}
