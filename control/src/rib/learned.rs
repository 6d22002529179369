//! Members and next hops learned by the protocols (ARD, ARIP), merged with
//! the configured groups before selection. Each protocol core emits
//! [`RibChange`]s; this table keeps them, keyed by (anycast address, next
//! hop, interface, source), and turns them into members:
//!
//! - an address that is also a configured group gets the learned members
//!   beside the configured ones (selection keeps the smallest distance);
//! - any other address becomes a group of its own (a /128), which goes
//!   away with its last learned member.
//!
//! A learned member is delivered by rewrite to the next hop's MAC on the
//! interface it was learned on (the kernel resolves the link-local next
//! hop); its identity is the member's unicast address when the protocol
//! knows it (ARD reports carry it), otherwise the next hop. Its distance is
//! the protocol metric (see docs/arip.md: ARD metrics and ARIP hop counts
//! share one scale).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use anycast6_dataplane::{Action, Route};
use serde::Serialize;

use super::overlay::{EffectiveGroup, EffectiveMember};
use crate::config::{AdminState, MemberConfig, DEFAULT_WEIGHT};
use crate::proto::{self, RibChange};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LearnedKey {
    pub next_hop: Ipv6Addr,
    pub ifindex: u32,
    pub source: proto::Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LearnedEntry {
    pub metric: u32,
    pub member_unicast: Option<Ipv6Addr>,
    pub draining: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Learned {
    by_addr: BTreeMap<Ipv6Addr, BTreeMap<LearnedKey, LearnedEntry>>,
    /// Members a protocol gives whole per address, each fully described
    /// (PIA-SM's branches: rewrite to a neighbour or encapsulation to a
    /// router address, with weights).
    whole: BTreeMap<(Ipv6Addr, proto::Source), Vec<MemberConfig>>,
}

impl Learned {
    /// Applies one change; true if the table changed.
    pub fn apply(&mut self, ch: &RibChange, draining: bool) -> bool {
        match ch {
            RibChange::Upsert(e) => {
                let key = LearnedKey {
                    next_hop: e.next_hop,
                    ifindex: e.ifindex,
                    source: e.source,
                };
                let v = LearnedEntry {
                    metric: e.metric,
                    member_unicast: e.member_unicast,
                    draining,
                };
                self.by_addr.entry(e.anycast).or_default().insert(key, v) != Some(v)
            }
            RibChange::Withdraw {
                anycast,
                next_hop,
                ifindex,
                source,
            } => {
                let Some(m) = self.by_addr.get_mut(anycast) else {
                    return false;
                };
                let gone = m
                    .remove(&LearnedKey {
                        next_hop: *next_hop,
                        ifindex: *ifindex,
                        source: *source,
                    })
                    .is_some();
                if m.is_empty() {
                    self.by_addr.remove(anycast);
                }
                gone
            }
        }
    }

    /// How many members `source` taught for `anycast` on each interface.
    pub fn count_by_interface(
        &self,
        anycast: Ipv6Addr,
        source: proto::Source,
    ) -> BTreeMap<u32, u32> {
        let mut n = BTreeMap::new();
        for k in self
            .by_addr
            .get(&anycast)
            .into_iter()
            .flat_map(|m| m.keys())
        {
            if k.source == source {
                *n.entry(k.ifindex).or_insert(0) += 1;
            }
        }
        n
    }

    /// Replaces every member `source` gives `anycast` (none: it gives
    /// none); true if the table changed.
    pub fn set_whole(
        &mut self,
        anycast: Ipv6Addr,
        source: proto::Source,
        members: Vec<MemberConfig>,
    ) -> bool {
        if members.is_empty() {
            return self.whole.remove(&(anycast, source)).is_some();
        }
        self.whole.insert((anycast, source), members.clone()) != Some(members)
    }

    /// Forgets everything `source` taught (the protocol was turned off).
    pub fn forget(&mut self, source: proto::Source) -> bool {
        let before = self.len();
        for m in self.by_addr.values_mut() {
            m.retain(|k, _| k.source != source);
        }
        self.by_addr.retain(|_, m| !m.is_empty());
        self.whole.retain(|(_, s), _| *s != source);
        self.len() != before
    }

    pub fn len(&self) -> usize {
        self.by_addr.values().map(|m| m.len()).sum::<usize>()
            + self.whole.values().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty() && self.whole.is_empty()
    }

    /// (address, best metric) of the entries `source` taught.
    pub fn local_members(&self, source: proto::Source) -> Vec<(Ipv6Addr, u32)> {
        self.by_addr
            .iter()
            .filter_map(|(a, m)| {
                m.iter()
                    .filter(|(k, _)| k.source == source)
                    .map(|(_, v)| v.metric)
                    .min()
                    .map(|d| (*a, d))
            })
            .collect()
    }

    /// Every entry `source` taught, as the changes that would teach it
    /// again (what a graceful restart saves).
    pub fn entries(&self, source: proto::Source) -> Vec<proto::RibEntry> {
        self.by_addr
            .iter()
            .flat_map(|(a, m)| {
                m.iter()
                    .filter(move |(k, _)| k.source == source)
                    .map(move |(k, v)| proto::RibEntry {
                        anycast: *a,
                        next_hop: k.next_hop,
                        ifindex: k.ifindex,
                        metric: v.metric,
                        member_unicast: v.member_unicast,
                        source,
                    })
            })
            .collect()
    }

    pub fn addresses(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        let mut all: Vec<Ipv6Addr> = self.by_addr.keys().copied().collect();
        all.extend(self.whole.keys().map(|(a, _)| *a));
        all.sort();
        all.dedup();
        all.into_iter()
    }

    /// Adds the learned members to `groups` (configured groups first, in
    /// config order; then one group per learned-only address, in address
    /// order). `ifname` names an interface index (None: the interface is
    /// gone, the entry is skipped until its protocol withdraws it).
    pub fn merge(&self, groups: &mut Vec<EffectiveGroup>, ifname: impl Fn(u32) -> Option<String>) {
        let mut index: BTreeMap<Ipv6Addr, usize> = groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| match g.route {
                Route::Host(a) => Some((a, i)),
                Route::Prefix(_) => None,
            })
            .collect();
        let mut all: BTreeMap<Ipv6Addr, Vec<EffectiveMember>> = BTreeMap::new();
        for (addr, entries) in &self.by_addr {
            let tree = self.whole.contains_key(&(*addr, proto::Source::PiaSm));
            all.entry(*addr)
                .or_default()
                .extend(entries.iter().filter_map(|(k, v)| {
                    let mut m = member(k, v, ifname(k.ifindex)?);
                    if tree && k.source == proto::Source::Ard {
                        absorb(&mut m);
                    }
                    Some(m)
                }));
        }
        for ((addr, source), members) in &self.whole {
            all.entry(*addr)
                .or_default()
                .extend(members.iter().map(|m| EffectiveMember {
                    member: m.clone(),
                    source: *source,
                }));
        }
        for (addr, members) in all {
            if members.is_empty() {
                continue;
            }
            match index.get(&addr) {
                Some(&i) => groups[i].members.extend(members),
                None => {
                    index.insert(addr, groups.len());
                    groups.push(EffectiveGroup {
                        route: Route::Host(addr),
                        members,
                    });
                }
            }
        }
    }
}

/// A branch router's own ARD member of an address it has a PIA-SM tree
/// for: one group with the branches (docs/piasm.md §7), each member one
/// unit of weight as a branch counts its members, at the branches'
/// distance — else ARD's smaller administrative distance would leave the
/// branches out.
fn absorb(m: &mut EffectiveMember) {
    m.source = proto::Source::PiaSm;
    m.member.distance = 1;
    m.member.weight = 1;
}

fn member(k: &LearnedKey, v: &LearnedEntry, ifname: String) -> EffectiveMember {
    EffectiveMember {
        member: MemberConfig {
            address: v.member_unicast.unwrap_or(k.next_hop),
            interface: Some(ifname),
            next_hop: Some(k.next_hop),
            distance: v.metric.max(1),
            weight: DEFAULT_WEIGHT,
            action: Action::Rewrite,
            encap_source: None,
            state: if v.draining {
                AdminState::Draining
            } else {
                AdminState::Active
            },
        },
        source: k.source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::RibEntry;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn up(anycast: &str, nh: &str, ifindex: u32, metric: u32, src: proto::Source) -> RibChange {
        RibChange::Upsert(RibEntry {
            anycast: a(anycast),
            next_hop: a(nh),
            ifindex,
            metric,
            member_unicast: None,
            source: src,
        })
    }

    #[test]
    fn learned_members_join_configured_groups_or_make_their_own() {
        let mut l = Learned::default();
        assert!(l.apply(
            &up("2001:db8:ac::1", "fe80::1", 3, 2, proto::Source::Arip),
            false
        ));
        assert!(!l.apply(
            &up("2001:db8:ac::1", "fe80::1", 3, 2, proto::Source::Arip),
            false
        ));
        assert!(l.apply(
            &up("2001:db8:ac::9", "fe80::2", 4, 1, proto::Source::Ard),
            true
        ));
        let mut groups = vec![EffectiveGroup {
            route: Route::Host(a("2001:db8:ac::1")),
            members: vec![],
        }];
        l.merge(&mut groups, |i| (i != 99).then(|| format!("eth{i}")));
        assert_eq!(groups.len(), 2);
        let m = &groups[0].members[0];
        assert_eq!(m.source, proto::Source::Arip);
        assert_eq!(m.member.interface.as_deref(), Some("eth3"));
        assert_eq!(m.member.next_hop, Some(a("fe80::1")));
        assert_eq!(m.member.distance, 2);
        assert_eq!(groups[1].route, Route::Host(a("2001:db8:ac::9")));
        assert_eq!(groups[1].members[0].member.state, AdminState::Draining);

        let w = RibChange::Withdraw {
            anycast: a("2001:db8:ac::9"),
            next_hop: a("fe80::2"),
            ifindex: 4,
            source: proto::Source::Ard,
        };
        assert!(l.apply(&w, false));
        assert!(!l.apply(&w, false));
        assert_eq!(l.addresses().count(), 1);
        assert!(l.forget(proto::Source::Arip));
        assert!(l.is_empty());
    }

    #[test]
    fn whole_member_sets_replace_and_merge() {
        let mut l = Learned::default();
        let mut enc = MemberConfig::new(a("2001:db8:ff::3"), None);
        enc.action = Action::Encap;
        enc.weight = 3;
        let rw = MemberConfig::new(a("2001:db8:ff::4"), Some("c-b".into()));
        let any = a("2001:db8:ac::6f");
        assert!(l.set_whole(any, proto::Source::PiaSm, vec![enc.clone(), rw.clone()]));
        assert!(!l.set_whole(any, proto::Source::PiaSm, vec![enc.clone(), rw.clone()]));
        assert!(l.apply(
            &up("2001:db8:ac::6f", "fe80::9", 7, 1, proto::Source::Ard),
            false
        ));
        assert!(l.apply(
            &up("2001:db8:ac::6f", "fe80::8", 7, 1, proto::Source::Ard),
            false
        ));
        assert_eq!(
            l.count_by_interface(any, proto::Source::Ard),
            BTreeMap::from([(7, 2)])
        );
        let mut groups = Vec::new();
        l.merge(&mut groups, |i| Some(format!("eth{i}")));
        assert_eq!(groups.len(), 1);
        let m = &groups[0].members;
        assert_eq!(m.len(), 4, "{m:?}");
        let e = m.iter().find(|x| x.member.address == enc.address).unwrap();
        assert_eq!(
            (e.member.action, e.member.weight, e.source),
            (Action::Encap, 3, proto::Source::PiaSm)
        );
        // The local ARD members join the tree's group: one unit of weight
        // each beside the branch of 3, at the branches' distance.
        let local: Vec<_> = m
            .iter()
            .filter(|x| {
                x.member.next_hop == Some(a("fe80::9")) || x.member.next_hop == Some(a("fe80::8"))
            })
            .map(|x| (x.source, x.member.weight, x.member.distance))
            .collect();
        assert_eq!(local, vec![(proto::Source::PiaSm, 1, 1); 2]);
        assert_eq!(l.len(), 4);
        // Replaced whole, then gone with its source.
        assert!(l.set_whole(any, proto::Source::PiaSm, vec![rw]));
        assert_eq!(l.len(), 3);
        assert!(l.forget(proto::Source::PiaSm));
        assert_eq!(l.len(), 2);
        assert!(!l.set_whole(any, proto::Source::PiaSm, vec![]));
        // No tree: ARD's members are ARD's again.
        let mut groups = Vec::new();
        l.merge(&mut groups, |i| Some(format!("eth{i}")));
        assert!(groups[0]
            .members
            .iter()
            .all(|x| x.source == proto::Source::Ard && x.member.weight == DEFAULT_WEIGHT));
    }
}
