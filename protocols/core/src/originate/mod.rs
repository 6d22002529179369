//! What a routing protocol originates: one policy, shared by ARIP and the
//! protocols after it (AOSPF), computed from the interface addresses the
//! kernel reports, the configured static prefixes and the anycast
//! addresses this router serves.
//!
//! ```text
//!  kernel addresses ──► AddressTable ──┐
//!  (dump, then events)                 │  originate(policy, ..)       diff(old, new)
//!  served anycast (groups, ARD) ───────┼──────────────────► Originated ──────────► Diff
//!  Policy: connected? metric, static ──┘                    prefix → metric, kind   add / change / withdraw
//! ```
//!
//! [`Originator`] keeps the three inputs and what was last originated, and
//! answers every change of an input with the [`Diff`] to push into the
//! protocol core — nothing else is re-announced.
//!
//! The rule, as FRR's `redistribute connected`: every address on every
//! interface, `lo` included, originates its prefix (`2001:db8:1::1/64`
//! gives `2001:db8:1::/64`, `2001:db8:99::1/128` on `lo` gives itself), except
//!
//! - link-local (fe80::/10), loopback (`::1`), unspecified and multicast
//!   addresses, and a prefix length of 0 (a connected address never
//!   originates a default route; a static `::/0` does);
//! - addresses not usable yet or any more: tentative (duplicate address
//!   detection running) and dadfailed;
//! - addresses anycast6 put there itself ([`IfAddr::ours`], the kernel's
//!   address protocol 0xa6: the member role's and AARP's `/128`s on `lo`),
//!   which are anycast addresses, not this router's unicast ones.
//!
//! When several origins give the same prefix: a served anycast address
//! wins (it is announced as anycast, never as unicast); then a static
//! entry (so listing a connected prefix under `static` changes its
//! metric); then the connected prefix.
//!
//! Pure: no I/O. The daemon reads the kernel and feeds the events in.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv6Addr;

use serde::Serialize;

#[cfg(test)]
mod tests;

/// An IPv6 prefix with its host bits clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefix {
    addr: Ipv6Addr,
    len: u8,
}

impl Prefix {
    /// `addr/len` with the bits past `len` cleared; None when `len > 128`.
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Prefix> {
        if len > 128 {
            return None;
        }
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        Some(Prefix {
            addr: Ipv6Addr::from(u128::from(addr) & mask),
            len,
        })
    }

    pub fn host(addr: Ipv6Addr) -> Prefix {
        Prefix { addr, len: 128 }
    }

    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    pub fn plen(&self) -> u8 {
        self.len
    }

    /// The default route `::/0`.
    pub fn is_default(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl Serialize for Prefix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A prefix the config asks to originate, with its metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticPrefix {
    pub prefix: Prefix,
    pub metric: u32,
}

/// The origination policy of one protocol instance (`[arip.originate]`).
/// Metrics are in the protocol's own unit (ARIP: hop count 1..=15); the
/// config bounds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Originate connected prefixes (module documentation).
    pub connected: bool,
    pub connected_metric: u32,
    /// Originated whatever the interfaces hold.
    pub statics: Vec<StaticPrefix>,
    /// Originate the anycast addresses this router serves, at the metric
    /// the daemon gives each.
    pub anycast: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            connected: true,
            connected_metric: 1,
            statics: Vec::new(),
            anycast: true,
        }
    }
}

/// The flags of an address that decide whether it can be originated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddrFlags {
    /// Duplicate address detection has not finished.
    pub tentative: bool,
    /// Duplicate address detection found another node with it.
    pub dadfailed: bool,
}

/// An IPv6 address on an interface, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfAddr {
    pub ifindex: u32,
    pub addr: Ipv6Addr,
    pub plen: u8,
    pub flags: AddrFlags,
    /// Put there by anycast6 (address protocol 0xa6).
    pub ours: bool,
}

/// Why an address originates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    LinkLocal,
    Loopback,
    Unspecified,
    Multicast,
    DefaultRoute,
    Tentative,
    DadFailed,
    Ours,
    BadLength,
}

impl IfAddr {
    /// The connected prefix this address originates, or why it does not.
    pub fn connected(&self) -> Result<Prefix, Skip> {
        let a = self.addr;
        let skip = if a.segments()[0] & 0xffc0 == 0xfe80 {
            Some(Skip::LinkLocal)
        } else if a.is_loopback() {
            Some(Skip::Loopback)
        } else if a.is_unspecified() {
            Some(Skip::Unspecified)
        } else if a.is_multicast() {
            Some(Skip::Multicast)
        } else if self.plen == 0 {
            Some(Skip::DefaultRoute)
        } else if self.flags.dadfailed {
            Some(Skip::DadFailed)
        } else if self.flags.tentative {
            Some(Skip::Tentative)
        } else if self.ours {
            Some(Skip::Ours)
        } else {
            None
        };
        match skip {
            Some(s) => Err(s),
            None => Prefix::new(a, self.plen).ok_or(Skip::BadLength),
        }
    }
}

/// What the kernel says about addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressEvent {
    /// Added, or changed (flags: a tentative address that passed DAD).
    New(IfAddr),
    /// Removed.
    Del { ifindex: u32, addr: Ipv6Addr },
    /// Notifications were lost: the table has to be read again
    /// ([`Originator::begin_dump`], [`Originator::finish_dump`]).
    Lost,
}

/// Every IPv6 address on every interface, keyed as the kernel keys them
/// (an address is on an interface once, whatever its length).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressTable(BTreeMap<(u32, Ipv6Addr), IfAddr>);

impl AddressTable {
    pub fn from_dump(addrs: impl IntoIterator<Item = IfAddr>) -> AddressTable {
        AddressTable(
            addrs
                .into_iter()
                .map(|a| ((a.ifindex, a.addr), a))
                .collect(),
        )
    }

    /// Applies one event; true if the table changed.
    pub fn apply(&mut self, ev: &AddressEvent) -> bool {
        match *ev {
            AddressEvent::New(a) => self.0.insert((a.ifindex, a.addr), a) != Some(a),
            AddressEvent::Del { ifindex, addr } => self.0.remove(&(ifindex, addr)).is_some(),
            AddressEvent::Lost => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &IfAddr> {
        self.0.values()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How a prefix is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An ordinary route to this router.
    Unicast,
    /// An anycast address with a member here (ARIP: the anycast route tag).
    Anycast,
}

/// Where an originated prefix comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Connected,
    Static,
    /// An anycast address this router serves (a configured group with
    /// members, a member that registered by ARD).
    Served,
}

/// One originated prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Origination {
    pub metric: u32,
    pub kind: Kind,
    pub origin: Origin,
}

impl Origination {
    /// What a protocol announces: two originations that differ only by
    /// origin announce the same thing.
    fn announced(&self) -> (Kind, u32) {
        (self.kind, self.metric)
    }
}

/// Every prefix originated, with how.
pub type Originated = BTreeMap<Prefix, Origination>;

/// Computes what `policy` originates from `addrs` and the `served` anycast
/// addresses (address → metric).
pub fn originate<'a>(
    policy: &Policy,
    addrs: impl IntoIterator<Item = &'a IfAddr>,
    served: &BTreeMap<Ipv6Addr, u32>,
) -> Originated {
    let mut out = Originated::new();
    if policy.connected {
        for a in addrs {
            if let Ok(p) = a.connected() {
                out.insert(
                    p,
                    Origination {
                        metric: policy.connected_metric,
                        kind: Kind::Unicast,
                        origin: Origin::Connected,
                    },
                );
            }
        }
    }
    for s in &policy.statics {
        out.insert(
            s.prefix,
            Origination {
                metric: s.metric,
                kind: Kind::Unicast,
                origin: Origin::Static,
            },
        );
    }
    if policy.anycast {
        for (a, m) in served {
            out.insert(
                Prefix::host(*a),
                Origination {
                    metric: *m,
                    kind: Kind::Anycast,
                    origin: Origin::Served,
                },
            );
        }
    }
    out
}

/// What changed between two originated sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Newly originated.
    pub add: Vec<(Prefix, Origination)>,
    /// Still originated, with another metric or kind: (prefix, old, new).
    pub change: Vec<(Prefix, Origination, Origination)>,
    /// No longer originated (as it was).
    pub withdraw: Vec<(Prefix, Origination)>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.change.is_empty() && self.withdraw.is_empty()
    }
}

/// What to do to go from announcing `old` to announcing `new`. A prefix
/// whose origin changed but whose kind and metric did not is no change.
pub fn diff(old: &Originated, new: &Originated) -> Diff {
    let mut d = Diff::default();
    for (p, o) in old {
        match new.get(p) {
            None => d.withdraw.push((*p, *o)),
            Some(n) if n.announced() != o.announced() => d.change.push((*p, *o, *n)),
            Some(_) => {}
        }
    }
    for (p, n) in new {
        if !old.contains_key(p) {
            d.add.push((*p, *n));
        }
    }
    d
}

/// The policy, its inputs and what was last originated: every change of
/// an input returns the difference to push into the protocol.
///
/// Reading the kernel's table and following its events race: the daemon
/// subscribes first and reads after, so an event may describe a change
/// the dump already holds. Events are last-writer-wins per address, so
/// applying them on top of a newer dump ends in the kernel's state. While
/// a dump is being read ([`Originator::begin_dump`]) the events are kept
/// and replayed on top of it.
#[derive(Debug, Clone)]
pub struct Originator {
    policy: Policy,
    addrs: AddressTable,
    served: BTreeMap<Ipv6Addr, u32>,
    /// Interfaces whose link is down (no carrier, or set down): their
    /// addresses originate nothing until it comes back, as FRR's zebra
    /// treats a connected route on a down link.
    down: std::collections::BTreeSet<u32>,
    current: Originated,
    /// Events since the dump in flight began.
    replay: Option<Vec<AddressEvent>>,
    /// Events were lost and no dump has begun since.
    stale: bool,
}

impl Originator {
    /// Nothing originated yet: [`Originator::finish_dump`] or the setters
    /// give the first difference.
    pub fn new(policy: Policy) -> Originator {
        Originator {
            policy,
            addrs: AddressTable::default(),
            served: BTreeMap::new(),
            down: std::collections::BTreeSet::new(),
            current: Originated::new(),
            replay: None,
            stale: false,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn addresses(&self) -> &AddressTable {
        &self.addrs
    }

    /// What is originated now.
    pub fn originated(&self) -> &Originated {
        &self.current
    }

    /// Events were lost and the table must be read again (begin a dump).
    pub fn needs_dump(&self) -> bool {
        self.stale
    }

    fn recompute(&mut self) -> Diff {
        let down = &self.down;
        let up = self.addrs.iter().filter(|a| !down.contains(&a.ifindex));
        let new = originate(&self.policy, up, &self.served);
        let d = diff(&self.current, &new);
        self.current = new;
        d
    }

    pub fn set_policy(&mut self, policy: Policy) -> Diff {
        if policy == self.policy {
            return Diff::default();
        }
        self.policy = policy;
        self.recompute()
    }

    /// The interfaces whose link is down now (by index).
    pub fn set_down(&mut self, down: std::collections::BTreeSet<u32>) -> Diff {
        if down == self.down {
            return Diff::default();
        }
        self.down = down;
        self.recompute()
    }

    /// The anycast addresses this router serves now (address → metric).
    pub fn set_served(&mut self, served: BTreeMap<Ipv6Addr, u32>) -> Diff {
        if served == self.served {
            return Diff::default();
        }
        self.served = served;
        self.recompute()
    }

    pub fn address_event(&mut self, ev: AddressEvent) -> Diff {
        if let Some(r) = &mut self.replay {
            r.push(ev);
        }
        if ev == AddressEvent::Lost {
            if self.replay.is_none() {
                self.stale = true;
            }
            return Diff::default();
        }
        if self.addrs.apply(&ev) {
            self.recompute()
        } else {
            Diff::default()
        }
    }

    /// A dump of every address is about to be read: events from now on are
    /// replayed on top of it.
    pub fn begin_dump(&mut self) {
        self.stale = false;
        self.replay = Some(Vec::new());
    }

    /// The dump begun last: the table becomes it, plus the events since.
    /// A loss reported during the dump makes it stale again.
    pub fn finish_dump(&mut self, dump: impl IntoIterator<Item = IfAddr>) -> Diff {
        let mut table = AddressTable::from_dump(dump);
        for ev in self.replay.take().unwrap_or_default() {
            if ev == AddressEvent::Lost {
                self.stale = true;
            }
            table.apply(&ev);
        }
        self.addrs = table;
        self.recompute()
    }

    /// The dump failed: the table stays as it was, and has to be read again.
    pub fn abort_dump(&mut self) {
        if self.replay.take().is_some() {
            self.stale = true;
        }
    }
}
