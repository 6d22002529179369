//! The correspondent's flow bindings (docs/mga.md §7): one binding per
//! flow, never per home address — two flows of this host to one anycast
//! address may be bound to two members. Pure: decoded, authenticated flow
//! Binding Updates and a clock in; the acknowledgement's status and the
//! changes for the tc program's map out.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::clock::Instant;
use serde::Serialize;

use crate::cache::seq_after;

/// A flow as this correspondent sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Flow {
    pub protocol: u8,
    /// This host's address and port.
    pub local: Ipv6Addr,
    pub local_port: u16,
    /// The anycast address and the service port.
    pub home: Ipv6Addr,
    pub service_port: u16,
}

/// A flow Binding Update, decoded and authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowUpdate {
    pub flow: Flow,
    /// The member's care-of address (the update's source, and the Flow
    /// sub-option's).
    pub coa: Ipv6Addr,
    pub seq: u16,
    /// Zero: the member withdraws it.
    pub lifetime: Duration,
}

/// Why a flow binding is refused (Binding Acknowledgement Status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowRefusal {
    /// 129: not an anycast address this host optimises, or not this host's
    /// flow.
    NotOptimised,
    /// 130: `max_flow_bindings` reached.
    Full,
    /// 135.
    SequenceOutOfWindow { last: u16 },
}

impl FlowRefusal {
    pub fn status(self) -> u8 {
        match self {
            FlowRefusal::NotOptimised => 129,
            FlowRefusal::Full => 130,
            FlowRefusal::SequenceOutOfWindow { .. } => 135,
        }
    }
}

/// A change for the tc program's map of bound flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapChange {
    Set { flow: Flow, coa: Ipv6Addr },
    Delete(Flow),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FlowBinding {
    pub flow: Flow,
    pub coa: Ipv6Addr,
    pub seq: u16,
    pub lifetime_s: u64,
    #[serde(skip)]
    pub expires: Instant,
}

#[derive(Debug, Clone)]
pub struct Correspondent {
    locals: BTreeSet<Ipv6Addr>,
    optimise: BTreeSet<Ipv6Addr>,
    max: usize,
    max_lifetime: Duration,
    flows: BTreeMap<Flow, FlowBinding>,
    changes: Vec<MapChange>,
}

impl Correspondent {
    pub fn new(
        locals: impl IntoIterator<Item = Ipv6Addr>,
        optimise: impl IntoIterator<Item = Ipv6Addr>,
        max: usize,
        max_lifetime: Duration,
    ) -> Correspondent {
        Correspondent {
            locals: locals.into_iter().collect(),
            optimise: optimise.into_iter().collect(),
            max: max.max(1),
            max_lifetime,
            flows: BTreeMap::new(),
            changes: Vec::new(),
        }
    }

    /// This host's addresses changed (flows from a gone address go).
    pub fn set_locals(&mut self, locals: impl IntoIterator<Item = Ipv6Addr>) {
        self.locals = locals.into_iter().collect();
        let gone: Vec<Flow> = self
            .flows
            .keys()
            .filter(|f| !self.locals.contains(&f.local))
            .copied()
            .collect();
        for f in gone {
            self.flows.remove(&f);
            self.changes.push(MapChange::Delete(f));
        }
    }

    /// Applies a flow Binding Update; the lifetime granted.
    pub fn update(&mut self, now: Instant, u: &FlowUpdate) -> Result<Duration, FlowRefusal> {
        if !self.optimise.contains(&u.flow.home) || !self.locals.contains(&u.flow.local) {
            return Err(FlowRefusal::NotOptimised);
        }
        if let Some(b) = self.flows.get(&u.flow) {
            if b.expires > now && !seq_after(u.seq, b.seq) {
                return Err(FlowRefusal::SequenceOutOfWindow { last: b.seq });
            }
        }
        if u.lifetime.is_zero() {
            if self.flows.remove(&u.flow).is_some() {
                self.changes.push(MapChange::Delete(u.flow));
            }
            return Ok(Duration::ZERO);
        }
        if !self.flows.contains_key(&u.flow) && self.flows.len() >= self.max {
            return Err(FlowRefusal::Full);
        }
        let lifetime = u.lifetime.min(self.max_lifetime);
        let old = self.flows.insert(
            u.flow,
            FlowBinding {
                flow: u.flow,
                coa: u.coa,
                seq: u.seq,
                lifetime_s: lifetime.as_secs(),
                expires: now + lifetime,
            },
        );
        if old.is_none_or(|o| o.coa != u.coa || o.expires <= now) {
            self.changes.push(MapChange::Set {
                flow: u.flow,
                coa: u.coa,
            });
        }
        Ok(lifetime)
    }

    /// A Binding Error (Status 1) from the member a flow is bound to: it
    /// lost the binding; the flow goes back through the home agent at once.
    pub fn binding_error(&mut self, from: Ipv6Addr, home: Ipv6Addr) -> usize {
        let gone: Vec<Flow> = self
            .flows
            .values()
            .filter(|b| b.coa == from && b.flow.home == home)
            .map(|b| b.flow)
            .collect();
        for f in &gone {
            self.flows.remove(f);
            self.changes.push(MapChange::Delete(*f));
        }
        gone.len()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let gone: Vec<Flow> = self
            .flows
            .values()
            .filter(|b| b.expires <= now)
            .map(|b| b.flow)
            .collect();
        for f in gone {
            self.flows.remove(&f);
            self.changes.push(MapChange::Delete(f));
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.flows.values().map(|b| b.expires).min()
    }

    pub fn poll_change(&mut self) -> Option<MapChange> {
        (!self.changes.is_empty()).then(|| self.changes.remove(0))
    }

    pub fn bindings(&self) -> impl Iterator<Item = &FlowBinding> + '_ {
        self.flows.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

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

    fn up(port: u16, coa: &str, seq: u16, lifetime_s: u64) -> FlowUpdate {
        FlowUpdate {
            flow: flow(port),
            coa: a(coa),
            seq,
            lifetime: Duration::from_secs(lifetime_s),
        }
    }

    fn cn() -> Correspondent {
        Correspondent::new([a("2001:db8:c::5")], [a("2001:db8:a0::aa")], 2, 30 * S)
    }

    fn changes(c: &mut Correspondent) -> Vec<MapChange> {
        std::iter::from_fn(|| c.poll_change()).collect()
    }

    #[test]
    fn two_flows_of_one_host_bind_to_two_members() {
        let mut c = cn();
        let t = Instant::ZERO;
        assert_eq!(c.update(t, &up(40000, "2001:db8:1::2", 1, 16)), Ok(16 * S));
        assert_eq!(c.update(t, &up(40001, "2001:db8:2::2", 7, 99)), Ok(30 * S));
        assert_eq!(
            changes(&mut c),
            vec![
                MapChange::Set {
                    flow: flow(40000),
                    coa: a("2001:db8:1::2")
                },
                MapChange::Set {
                    flow: flow(40001),
                    coa: a("2001:db8:2::2")
                },
            ]
        );
        // A refresh changes nothing in the map; a third flow is one too many.
        assert_eq!(c.update(t, &up(40000, "2001:db8:1::2", 2, 16)), Ok(16 * S));
        assert!(changes(&mut c).is_empty());
        assert_eq!(
            c.update(t, &up(40002, "2001:db8:1::2", 1, 16)),
            Err(FlowRefusal::Full)
        );
        assert_eq!(
            c.update(t, &up(40000, "2001:db8:1::2", 2, 16)),
            Err(FlowRefusal::SequenceOutOfWindow { last: 2 })
        );
    }

    #[test]
    fn only_optimised_anycast_addresses_and_own_flows() {
        let mut c = cn();
        let mut u = up(40000, "2001:db8:1::2", 1, 16);
        u.flow.home = a("2001:db8:a0::bb");
        assert_eq!(c.update(Instant::ZERO, &u), Err(FlowRefusal::NotOptimised));
        let mut u = up(40000, "2001:db8:1::2", 1, 16);
        u.flow.local = a("2001:db8:c::6");
        assert_eq!(c.update(Instant::ZERO, &u), Err(FlowRefusal::NotOptimised));
        assert_eq!(FlowRefusal::NotOptimised.status(), 129);
        assert!(changes(&mut c).is_empty());
    }

    #[test]
    fn expiry_withdrawal_and_binding_errors_send_flows_back_home() {
        let mut c = cn();
        let t = Instant::ZERO;
        c.update(t, &up(40000, "2001:db8:1::2", 1, 16)).unwrap();
        c.update(t, &up(40001, "2001:db8:2::2", 1, 8)).unwrap();
        changes(&mut c);
        assert_eq!(c.poll_timeout(), Some(t + 8 * S));
        c.handle_timeout(t + 8 * S);
        assert_eq!(changes(&mut c), vec![MapChange::Delete(flow(40001))]);
        assert_eq!(c.binding_error(a("2001:db8:1::2"), a("2001:db8:a0::aa")), 1);
        assert_eq!(changes(&mut c), vec![MapChange::Delete(flow(40000))]);
        c.update(t, &up(40000, "2001:db8:1::2", 5, 16)).unwrap();
        assert_eq!(
            c.update(t, &up(40000, "2001:db8:1::2", 6, 0)),
            Ok(Duration::ZERO)
        );
        assert_eq!(
            changes(&mut c),
            vec![
                MapChange::Set {
                    flow: flow(40000),
                    coa: a("2001:db8:1::2")
                },
                MapChange::Delete(flow(40000)),
            ]
        );
        assert_eq!(c.bindings().count(), 0);
    }
}
