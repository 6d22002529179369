//! The member's side of route optimisation (docs/mga.md §7): which flows
//! to bind at their correspondents, when to refresh or let them lapse, and
//! which flows' replies carry the Home Address option. Pure: per-flow
//! packet counts (from the member's tc program) and acknowledgements in;
//! flow Binding Updates and changes for the tc program's map out.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::clock::Instant;
use serde::Serialize;

use crate::correspondent::Flow;

/// How long a correspondent that never answered a flow Binding Update is
/// left alone (it runs no MGA, or has no key): no update to it for this
/// long.
pub const NOT_CAPABLE_FOR: Duration = Duration::from_secs(600);
/// Unanswered flow Binding Updates before the correspondent counts as not
/// capable.
pub const MAX_TRIES: u32 = 3;
/// Between those tries.
pub const RETRY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoConfig {
    /// A flow is bound once it is this old ...
    pub after: Duration,
    /// ... and has carried this many packets.
    pub min_packets: u64,
    /// The lifetime asked for.
    pub lifetime: Duration,
    /// A flow without a packet this long is over: its binding lapses.
    pub idle: Duration,
}

/// A flow Binding Update to send (from the care-of address to
/// `flow.local`, the correspondent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowUpdateOut {
    pub flow: Flow,
    pub coa: Ipv6Addr,
    pub seq: u16,
    pub lifetime: Duration,
}

/// A change for the member's tc program: the flow's replies carry (or no
/// longer carry) the Home Address option, from the care-of address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaoChange {
    On { flow: Flow, coa: Ipv6Addr },
    Off(Flow),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoState {
    /// Seen, not yet worth binding.
    Watching,
    /// An update is in flight.
    Binding,
    /// Acknowledged: the correspondent sends it to us directly.
    Bound,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoFlow {
    pub flow: Flow,
    pub state: RoState,
    pub packets: u64,
    pub seq: u16,
    #[serde(skip)]
    first_seen: Instant,
    #[serde(skip)]
    last_packet: Instant,
    #[serde(skip)]
    next: Option<Instant>,
    #[serde(skip)]
    tries: u32,
    #[serde(skip)]
    expires: Option<Instant>,
}

#[derive(Debug, Clone)]
pub struct RouteOptimiser {
    cfg: RoConfig,
    coa: Ipv6Addr,
    seq: u16,
    flows: BTreeMap<Flow, RoFlow>,
    /// Correspondents that did not answer, until when.
    not_capable: BTreeMap<Ipv6Addr, Instant>,
    updates: Vec<FlowUpdateOut>,
    hao: Vec<HaoChange>,
}

impl RouteOptimiser {
    pub fn new(cfg: RoConfig, coa: Ipv6Addr, seq_start: u16) -> RouteOptimiser {
        RouteOptimiser {
            cfg,
            coa,
            seq: seq_start,
            flows: BTreeMap::new(),
            not_capable: BTreeMap::new(),
            updates: Vec::new(),
            hao: Vec::new(),
        }
    }

    /// The flows the tc program counted, with their packet totals so far.
    pub fn observe(&mut self, now: Instant, seen: &[(Flow, u64)]) {
        for (f, packets) in seen {
            let e = self.flows.entry(*f).or_insert(RoFlow {
                flow: *f,
                state: RoState::Watching,
                packets: 0,
                seq: 0,
                first_seen: now,
                last_packet: now,
                next: None,
                tries: 0,
                expires: None,
            });
            if *packets > e.packets {
                e.last_packet = now;
            }
            e.packets = e.packets.max(*packets);
        }
        self.handle_timeout(now);
    }

    fn send(&mut self, now: Instant, f: Flow, lifetime: Duration) {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        if let Some(e) = self.flows.get_mut(&f) {
            e.seq = seq;
            e.next = Some(now + RETRY);
        }
        self.updates.push(FlowUpdateOut {
            flow: f,
            coa: self.coa,
            seq,
            lifetime,
        });
    }

    /// A Binding Acknowledgement from `flow.local` for a flow update.
    pub fn handle_ack(
        &mut self,
        now: Instant,
        flow: Flow,
        status: u8,
        seq: u16,
        lifetime: Duration,
    ) -> bool {
        let Some(e) = self.flows.get_mut(&flow) else {
            return false;
        };
        if e.seq != seq || e.state == RoState::Watching {
            return false;
        }
        e.tries = 0;
        if status < 128 && !lifetime.is_zero() {
            if e.state != RoState::Bound {
                self.hao.push(HaoChange::On {
                    flow,
                    coa: self.coa,
                });
            }
            e.state = RoState::Bound;
            e.expires = Some(now + lifetime);
            e.next = Some(now + lifetime / 2);
        } else {
            // Refused: this flow stays with the home agent.
            if e.state == RoState::Bound {
                self.hao.push(HaoChange::Off(flow));
            }
            e.state = RoState::Watching;
            e.expires = None;
            e.next = None;
            self.not_capable.insert(flow.local, now + NOT_CAPABLE_FOR);
        }
        true
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.not_capable.retain(|_, until| *until > now);
        let mut send = Vec::new();
        let mut gone = Vec::new();
        for e in self.flows.values_mut() {
            let idle = now.saturating_since(e.last_packet) >= self.cfg.idle;
            if e.expires.is_some_and(|x| x <= now) || (idle && e.state != RoState::Bound) {
                // Lapsed, or over before it was bound.
                if e.state == RoState::Bound {
                    self.hao.push(HaoChange::Off(e.flow));
                }
                gone.push(e.flow);
                continue;
            }
            match e.state {
                RoState::Watching => {
                    let ripe = now.saturating_since(e.first_seen) >= self.cfg.after
                        && e.packets >= self.cfg.min_packets;
                    if ripe && !self.not_capable.contains_key(&e.flow.local) {
                        e.state = RoState::Binding;
                        e.tries = 1;
                        send.push(e.flow);
                    }
                }
                RoState::Binding => {
                    if e.next.is_some_and(|n| n <= now) {
                        if e.tries >= MAX_TRIES {
                            self.not_capable.insert(e.flow.local, now + NOT_CAPABLE_FOR);
                            e.state = RoState::Watching;
                            e.next = None;
                        } else {
                            e.tries += 1;
                            send.push(e.flow);
                        }
                    }
                }
                // Refreshed while the flow lives; an idle one lapses.
                RoState::Bound => {
                    if !idle && e.next.is_some_and(|n| n <= now) {
                        send.push(e.flow);
                    }
                }
            }
        }
        for f in gone {
            self.flows.remove(&f);
        }
        let lifetime = self.cfg.lifetime;
        for f in send {
            self.send(now, f, lifetime);
        }
    }

    /// A Binding Error from a correspondent, or the flow's binding lost:
    /// back through the home agent.
    pub fn drop_flow(&mut self, flow: Flow) {
        if let Some(e) = self.flows.remove(&flow) {
            if e.state == RoState::Bound {
                self.hao.push(HaoChange::Off(flow));
            }
        }
    }

    /// Clean exit: every bound flow withdrawn (lifetime 0).
    pub fn shutdown(&mut self, now: Instant) {
        let bound: Vec<Flow> = self
            .flows
            .values()
            .filter(|e| e.state == RoState::Bound)
            .map(|e| e.flow)
            .collect();
        for f in bound {
            self.send(now, f, Duration::ZERO);
            self.hao.push(HaoChange::Off(f));
        }
        self.flows.clear();
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.flows
            .values()
            .flat_map(|e| [e.next, e.expires])
            .flatten()
            .chain(self.not_capable.values().copied())
            .min()
    }

    pub fn poll_update(&mut self) -> Option<FlowUpdateOut> {
        (!self.updates.is_empty()).then(|| self.updates.remove(0))
    }

    pub fn poll_hao(&mut self) -> Option<HaoChange> {
        (!self.hao.is_empty()).then(|| self.hao.remove(0))
    }

    pub fn flows(&self) -> impl Iterator<Item = &RoFlow> + '_ {
        self.flows.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn flow(port: u16) -> Flow {
        Flow {
            protocol: 6,
            local: a("2001:db8:c::5"),
            local_port: port,
            home: a("2001:db8:a0::aa"),
            service_port: 80,
        }
    }

    fn ro() -> RouteOptimiser {
        RouteOptimiser::new(
            RoConfig {
                after: 500 * MS,
                min_packets: 10,
                lifetime: Duration::from_secs(16),
                idle: Duration::from_secs(5),
            },
            a("2001:db8:1::2"),
            40,
        )
    }

    fn updates(r: &mut RouteOptimiser) -> Vec<FlowUpdateOut> {
        std::iter::from_fn(|| r.poll_update()).collect()
    }

    fn hao(r: &mut RouteOptimiser) -> Vec<HaoChange> {
        std::iter::from_fn(|| r.poll_hao()).collect()
    }

    #[test]
    fn a_flow_is_bound_once_old_and_busy_enough_and_refreshed_while_it_lives() {
        let mut r = ro();
        let t = Instant::ZERO;
        r.observe(t, &[(flow(1), 3)]);
        r.observe(t + 600 * MS, &[(flow(1), 5)]);
        assert!(updates(&mut r).is_empty(), "old enough, too few packets");
        r.observe(t + 700 * MS, &[(flow(1), 12)]);
        let u = updates(&mut r);
        assert_eq!(u.len(), 1);
        assert_eq!((u[0].seq, u[0].lifetime), (41, Duration::from_secs(16)));
        // The Home Address option only once acknowledged.
        assert!(hao(&mut r).is_empty());
        let t1 = t + 710 * MS;
        assert!(r.handle_ack(t1, flow(1), 0, 41, Duration::from_secs(16)));
        assert_eq!(
            hao(&mut r),
            vec![HaoChange::On {
                flow: flow(1),
                coa: a("2001:db8:1::2")
            }]
        );
        // Refreshed at half the lifetime while packets keep coming.
        r.observe(t1 + Duration::from_secs(7), &[(flow(1), 500)]);
        r.handle_timeout(t1 + Duration::from_secs(8));
        assert_eq!(updates(&mut r).len(), 1);
    }

    #[test]
    fn an_idle_bound_flow_lapses_and_its_option_stops() {
        let mut r = ro();
        let t = Instant::ZERO;
        r.observe(t, &[(flow(1), 1)]);
        r.observe(t + 600 * MS, &[(flow(1), 20)]);
        let u = updates(&mut r)[0];
        r.handle_ack(t + 600 * MS, flow(1), 0, u.seq, Duration::from_secs(16));
        hao(&mut r);
        // No packet after that: no refresh, and it lapses with the lifetime.
        r.handle_timeout(t + Duration::from_secs(9));
        assert!(updates(&mut r).is_empty());
        r.handle_timeout(t + Duration::from_secs(17));
        assert_eq!(hao(&mut r), vec![HaoChange::Off(flow(1))]);
        assert_eq!(r.flows().count(), 0);
    }

    #[test]
    fn a_correspondent_that_never_answers_is_left_alone() {
        let mut r = ro();
        let t = Instant::ZERO;
        r.observe(t, &[(flow(1), 1)]);
        r.observe(t + 600 * MS, &[(flow(1), 20)]);
        assert_eq!(updates(&mut r).len(), 1);
        for i in 1..=3 {
            r.observe(t + 600 * MS + RETRY * i, &[(flow(1), 20 + u64::from(i))]);
        }
        assert_eq!(updates(&mut r).len(), 2, "three tries in all");
        // Another flow of the same correspondent: not tried meanwhile.
        r.observe(t + Duration::from_secs(5), &[(flow(2), 1)]);
        r.observe(t + Duration::from_secs(6), &[(flow(2), 50), (flow(1), 30)]);
        assert!(updates(&mut r).is_empty());
        assert!(hao(&mut r).is_empty());
    }

    #[test]
    fn refusals_and_errors_send_the_flow_back_home() {
        let mut r = ro();
        let t = Instant::ZERO;
        r.observe(t, &[(flow(1), 1), (flow(2), 1)]);
        r.observe(t + 600 * MS, &[(flow(1), 20), (flow(2), 20)]);
        let u = updates(&mut r);
        assert_eq!(u.len(), 2);
        r.handle_ack(t + 600 * MS, flow(1), 0, u[0].seq, Duration::from_secs(16));
        r.handle_ack(t + 600 * MS, flow(2), 129, u[1].seq, Duration::ZERO);
        assert_eq!(
            hao(&mut r),
            vec![HaoChange::On {
                flow: flow(1),
                coa: a("2001:db8:1::2")
            }]
        );
        r.drop_flow(flow(1));
        assert_eq!(hao(&mut r), vec![HaoChange::Off(flow(1))]);
        // An answer for an old sequence number is not taken.
        assert!(!r.handle_ack(
            t + 700 * MS,
            flow(2),
            0,
            u[1].seq.wrapping_sub(1),
            Duration::from_secs(16)
        ));
    }

    #[test]
    fn exit_withdraws_bound_flows() {
        let mut r = ro();
        let t = Instant::ZERO;
        r.observe(t, &[(flow(1), 1)]);
        r.observe(t + 600 * MS, &[(flow(1), 20)]);
        let u = updates(&mut r)[0];
        r.handle_ack(t + 600 * MS, flow(1), 0, u.seq, Duration::from_secs(16));
        hao(&mut r);
        r.shutdown(t + Duration::from_secs(1));
        let w = updates(&mut r);
        assert_eq!((w.len(), w[0].lifetime), (1, Duration::ZERO));
        assert_eq!(hao(&mut r), vec![HaoChange::Off(flow(1))]);
    }
}
