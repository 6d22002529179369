//! The userspace FIB: an immutable [`FibSnapshot`] built by a
//! [`SnapshotBuilder`] from the same operations the BPF maps receive
//! ([`FibOp`]), and published whole through an [`ArcSwap`] ([`SharedFib`]).
//!
//! A worker loads the current snapshot once per batch (one atomic load, no
//! lock) and keeps using it for the batch; the builder never changes a
//! published snapshot, it publishes a new one. A group's members and its
//! Maglev table live in one `Arc<SnapGroup>`, so a reader sees the old
//! group with the old table or the new group with the new one, never a mix
//! (decision 4).
//!
//! Generations and table lengths follow the FIB writer exactly (same
//! `maglev::group_table`, same generation rule), so for the same sequence
//! of operations both paths hold the same groups, the same tables and the
//! same generations.

use std::collections::HashMap;

use super::fasthash::{FastMap, FastSet};
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use ipnetwork::Ipv6Network;

use crate::{
    abi, changes, fixtures, maglev,
    types::{InstalledFib, MemberSpec, Route},
};

/// One change of the FIB, as the FIB writer receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibOp {
    PublishGroup {
        group_id: u32,
        members: Vec<MemberSpec>,
    },
    DeleteGroup(u32),
    SetRoute {
        route: Route,
        group_id: u32,
    },
    DeleteRoute(Route),
    SetTxPort(u32),
    DeleteTxPort(u32),
    /// `a6_aarp`: AARP queries to owned addresses go to the kernel.
    SetAarpAnswer(bool),
    /// `a6_ifaces`: an interface the fast path runs on, and its own MAC.
    SetIface {
        ifindex: u32,
        mac: [u8; 6],
    },
    DeleteIface(u32),
    /// `a6_tun_local`: exactly these tunnel end points of this router.
    SetTunnelEndpoints(std::collections::BTreeSet<std::net::Ipv6Addr>),
    /// The windows of the change rule for later publishes.
    SetWindows(changes::Windows),
}

impl FibOp {
    /// The operation a fixture case's setup step describes.
    pub fn from_fixture(op: &fixtures::Op) -> Result<FibOp, SnapshotError> {
        let route = |s: &str| {
            fixtures::parse_route(s).ok_or_else(|| SnapshotError::RouteInvalid(s.to_string()))
        };
        Ok(match op {
            fixtures::Op::PublishGroup { group_id, members } => FibOp::PublishGroup {
                group_id: *group_id,
                members: members.clone(),
            },
            fixtures::Op::DeleteGroup { group_id } => FibOp::DeleteGroup(*group_id),
            fixtures::Op::SetRoute { route: r, group_id } => FibOp::SetRoute {
                route: route(r)?,
                group_id: *group_id,
            },
            fixtures::Op::DeleteRoute { route: r } => FibOp::DeleteRoute(route(r)?),
            fixtures::Op::SetTxPort { ifindex } => FibOp::SetTxPort(*ifindex),
            fixtures::Op::SetAarpAnswer { on } => FibOp::SetAarpAnswer(*on),
            fixtures::Op::SetIface { ifindex, mac } => FibOp::SetIface {
                ifindex: *ifindex,
                mac: *mac,
            },
            fixtures::Op::DeleteIface { ifindex } => FibOp::DeleteIface(*ifindex),
            fixtures::Op::SetTunnelEndpoints { addrs } => {
                FibOp::SetTunnelEndpoints(addrs.iter().copied().collect())
            }
            fixtures::Op::SetFlowWindows { grace_ms, hold_ms } => {
                FibOp::SetWindows(fixtures::windows_of(*grace_ms, *hold_ms))
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error("group {group_id}: {count} members, at most {max}")]
    GroupTooLarge {
        group_id: u32,
        count: usize,
        max: usize,
    },
    #[error("route {0:?} is not an IPv6 address or prefix")]
    RouteInvalid(String),
}

/// A published group: members in ABI form (what the XDP program reads),
/// the Maglev table (indices into `members`) with its marks, and the
/// change period (`a6_group`'s fields of the same names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapGroup {
    pub gen: u32,
    pub members: Vec<abi::Member>,
    pub table: Vec<u8>,
    pub marks: Vec<u8>,
    pub prev_table: Vec<u8>,
    pub mark_gen: u32,
    pub grace_until_ns: u64,
    pub hold_until_ns: u64,
}

impl SnapGroup {
    fn from_state(st: &changes::GroupState) -> SnapGroup {
        SnapGroup {
            gen: st.gen,
            members: st.members.clone(),
            table: st.table.clone(),
            marks: st.marks.clone(),
            prev_table: st.prev_table.clone(),
            mark_gen: st.mark_gen,
            grace_until_ns: st.grace_until_ns,
            hold_until_ns: st.hold_until_ns,
        }
    }
}

/// An immutable view of the whole FIB.
#[derive(Debug, Clone, Default)]
pub struct FibSnapshot {
    hosts: FastMap<[u8; 16], u32>,
    /// Prefix routes by length, longest first; keys are masked networks.
    prefixes: Vec<(u8, FastMap<[u8; 16], u32>)>,
    groups: FastMap<u32, Arc<SnapGroup>>,
    tx_ports: FastSet<u32>,
    /// This router answers AARP queries itself (`a6_aarp`).
    aarp_answer: bool,
    /// Ingress interfaces and their own MACs (`a6_ifaces`).
    ifaces: FastMap<u32, [u8; 6]>,
    /// This router's tunnel end points (`a6_tun_local`).
    tun_local: FastSet<[u8; 16]>,
}

fn mask(addr: &[u8; 16], len: u8) -> [u8; 16] {
    let bits = u128::from_be_bytes(*addr);
    let m = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    };
    (bits & m).to_be_bytes()
}

impl FibSnapshot {
    /// The group of `dst`: the /128 exact match first, then the longest
    /// matching prefix (the XDP program's hash, then LPM trie).
    pub fn lookup(&self, dst: &[u8; 16]) -> Option<u32> {
        if let Some(g) = self.hosts.get(dst) {
            return Some(*g);
        }
        self.prefixes
            .iter()
            .find_map(|(len, routes)| routes.get(&mask(dst, *len)).copied())
    }

    pub fn group(&self, group_id: u32) -> Option<&SnapGroup> {
        self.groups.get(&group_id).map(|g| &**g)
    }

    pub fn has_tx_port(&self, ifindex: u32) -> bool {
        self.tx_ports.contains(&ifindex)
    }

    pub fn tx_ports(&self) -> impl Iterator<Item = u32> + '_ {
        self.tx_ports.iter().copied()
    }

    /// The own MAC of interface `ifindex`, if the fast path runs there.
    pub fn iface_mac(&self, ifindex: u32) -> Option<[u8; 6]> {
        self.ifaces.get(&ifindex).copied()
    }

    /// Whether `addr` is one of this router's tunnel end points.
    pub fn is_tunnel_endpoint(&self, addr: &[u8; 16]) -> bool {
        self.tun_local.contains(addr)
    }

    /// Routes, groups and tx ports (for `show` and tests).
    /// AARP queries to owned addresses go to the kernel.
    pub fn aarp_answer(&self) -> bool {
        self.aarp_answer
    }

    pub fn routes(&self) -> usize {
        self.hosts.len() + self.prefixes.iter().map(|p| p.1.len()).sum::<usize>()
    }

    pub fn group_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.groups.keys().copied()
    }
}

/// Applies [`FibOp`]s to a private copy and publishes snapshots.
#[derive(Debug, Clone, Default)]
pub struct SnapshotBuilder {
    next: FibSnapshot,
    /// Last generation published per group, also for deleted groups (the
    /// FIB writer's rule: a re-created group never reuses a generation).
    last_gen: HashMap<u32, u32>,
    /// Each group's state with its open change period (the FIB writer's).
    states: HashMap<u32, changes::GroupState>,
    windows: changes::Windows,
    /// As the FIB writer's (`FibWriter::set_table_lens`, `set_quiet_groups`).
    table_lens: std::collections::BTreeMap<u32, u32>,
    quiet: std::collections::BTreeSet<u32>,
}

impl SnapshotBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder holding what the BPF maps hold (after a daemon restart):
    /// generations and table lengths are taken over, and the tables are
    /// rebuilt (`maglev::build` is deterministic for a length).
    pub fn from_installed(fib: &InstalledFib) -> Result<Self, SnapshotError> {
        let mut b = SnapshotBuilder::new();
        for g in &fib.groups {
            if g.members.len() > abi::MAX_MEMBERS {
                return Err(SnapshotError::GroupTooLarge {
                    group_id: g.group_id,
                    count: g.members.len(),
                    max: abi::MAX_MEMBERS,
                });
            }
            // group_table keeps prev_len when it fits, which it does for
            // the length the writer chose from the same members. The marks
            // are not taken over: the next change begins a new period.
            let (_, table) = maglev::group_table(&g.members, g.maglev_len);
            let st = changes::GroupState {
                gen: g.gen,
                members: g.members.iter().map(crate::fib::member_to_abi).collect(),
                marks: vec![0; table.len()],
                table,
                prev_table: Vec::new(),
                mark_gen: 0,
                grace_until_ns: 0,
                hold_until_ns: 0,
                period: None,
            };
            b.next
                .groups
                .insert(g.group_id, Arc::new(SnapGroup::from_state(&st)));
            b.states.insert(g.group_id, st);
            b.last_gen.insert(g.group_id, g.gen);
        }
        for (route, group_id) in &fib.routes {
            b.set_route(*route, *group_id);
        }
        b.next.tx_ports = fib.tx_ports.iter().copied().collect();
        b.next.ifaces = fib.ifaces.iter().copied().collect();
        Ok(b)
    }

    pub fn apply(&mut self, op: &FibOp) -> Result<(), SnapshotError> {
        match op {
            FibOp::PublishGroup { group_id, members } => self.publish_group(*group_id, members),
            FibOp::DeleteGroup(g) => {
                self.next.groups.remove(g);
                self.states.remove(g);
                Ok(())
            }
            FibOp::SetWindows(w) => {
                self.windows = *w;
                Ok(())
            }
            FibOp::SetRoute { route, group_id } => {
                self.set_route(*route, *group_id);
                Ok(())
            }
            FibOp::DeleteRoute(r) => {
                self.delete_route(*r);
                Ok(())
            }
            FibOp::SetTxPort(i) => {
                self.next.tx_ports.insert(*i);
                Ok(())
            }
            FibOp::DeleteTxPort(i) => {
                self.next.tx_ports.remove(i);
                Ok(())
            }
            FibOp::SetAarpAnswer(on) => {
                self.next.aarp_answer = *on;
                Ok(())
            }
            FibOp::SetIface { ifindex, mac } => {
                self.next.ifaces.insert(*ifindex, *mac);
                Ok(())
            }
            FibOp::DeleteIface(i) => {
                self.next.ifaces.remove(i);
                Ok(())
            }
            FibOp::SetTunnelEndpoints(addrs) => {
                self.sync_tunnel_endpoints(addrs);
                Ok(())
            }
        }
    }

    /// `FibWriter::publish_group` without the maps: same table, same
    /// generation.
    pub fn publish_group(
        &mut self,
        group_id: u32,
        members: &[MemberSpec],
    ) -> Result<(), SnapshotError> {
        if members.len() > abi::MAX_MEMBERS {
            return Err(SnapshotError::GroupTooLarge {
                group_id,
                count: members.len(),
                max: abi::MAX_MEMBERS,
            });
        }
        let old = self.states.get(&group_id);
        let gen = old
            .map(|g| g.gen)
            .into_iter()
            .chain(self.last_gen.get(&group_id).copied())
            .max()
            .unwrap_or(0)
            .wrapping_add(1);
        let (windows, want_len) = match self.table_lens.get(&group_id) {
            Some(l) => (changes::Windows::NONE, Some(*l)),
            None if self.quiet.contains(&group_id) => (changes::Windows::NONE, None),
            None => (self.windows, None),
        };
        let st = changes::plan_with_len(
            old,
            members,
            gen,
            changes::monotonic_ns(),
            windows,
            want_len,
        );
        self.next
            .groups
            .insert(group_id, Arc::new(SnapGroup::from_state(&st)));
        self.states.insert(group_id, st);
        self.last_gen.insert(group_id, gen);
        Ok(())
    }

    fn set_route(&mut self, route: Route, group_id: u32) {
        match route {
            Route::Host(a) => {
                self.next.hosts.insert(a.octets(), group_id);
            }
            Route::Prefix(n) => {
                let (len, key) = prefix_key(&n);
                let p = &mut self.next.prefixes;
                let i = match p.iter().position(|(l, _)| *l <= len) {
                    Some(i) if p[i].0 == len => i,
                    Some(i) => {
                        p.insert(i, (len, FastMap::default()));
                        i
                    }
                    None => {
                        p.push((len, FastMap::default()));
                        p.len() - 1
                    }
                };
                p[i].1.insert(key, group_id);
            }
        }
    }

    fn delete_route(&mut self, route: Route) {
        match route {
            Route::Host(a) => {
                self.next.hosts.remove(&a.octets());
            }
            Route::Prefix(n) => {
                let (len, key) = prefix_key(&n);
                if let Some(i) = self.next.prefixes.iter().position(|(l, _)| *l == len) {
                    self.next.prefixes[i].1.remove(&key);
                    if self.next.prefixes[i].1.is_empty() {
                        self.next.prefixes.remove(i);
                    }
                }
            }
        }
    }

    /// Table lengths by group id for the next publishes, as
    /// `FibWriter::set_table_lens` (the same tables in both paths).
    pub fn set_table_lens(&mut self, lens: std::collections::BTreeMap<u32, u32>) {
        self.table_lens = lens;
    }

    /// As `FibWriter::set_quiet_groups`.
    pub fn set_quiet_groups(&mut self, quiet: std::collections::BTreeSet<u32>) {
        self.quiet = quiet;
    }

    /// Makes the tx ports exactly `ports` (ports are also set outside FIB
    /// operations, when an interface is attached or detached).
    pub fn sync_tx_ports<'a>(&mut self, ports: impl IntoIterator<Item = &'a u32>) {
        self.next.tx_ports = ports.into_iter().copied().collect();
    }

    /// Makes the interfaces exactly `ifaces` (they are written when an
    /// interface is attached, and follow its MAC, outside FIB operations).
    pub fn sync_ifaces<'a>(&mut self, ifaces: impl IntoIterator<Item = &'a (u32, [u8; 6])>) {
        self.next.ifaces = ifaces.into_iter().copied().collect();
    }

    /// Makes the tunnel end points exactly `addrs` (`FibWriter::set_tunnel_endpoints`).
    pub fn sync_tunnel_endpoints<'a>(
        &mut self,
        addrs: impl IntoIterator<Item = &'a std::net::Ipv6Addr>,
    ) {
        self.next.tun_local = addrs.into_iter().map(|a| a.octets()).collect();
    }

    /// The snapshot as it stands (a copy; groups are shared).
    pub fn snapshot(&self) -> FibSnapshot {
        self.next.clone()
    }
}

fn prefix_key(n: &Ipv6Network) -> (u8, [u8; 16]) {
    (n.prefix(), mask(&n.network().octets(), n.prefix()))
}

/// The snapshot workers read, swapped whole.
#[derive(Debug, Default)]
pub struct SharedFib {
    cur: ArcSwap<FibSnapshot>,
}

impl SharedFib {
    pub fn new(s: FibSnapshot) -> Self {
        SharedFib {
            cur: ArcSwap::from_pointee(s),
        }
    }

    /// The current snapshot (lock-free; hold it for a batch, not forever).
    pub fn load(&self) -> Guard<Arc<FibSnapshot>> {
        self.cur.load()
    }

    /// The current snapshot as an owned `Arc`.
    pub fn load_full(&self) -> Arc<FibSnapshot> {
        self.cur.load_full()
    }

    /// Publishes what `b` holds now.
    pub fn publish(&self, b: &SnapshotBuilder) {
        self.cur.store(Arc::new(b.snapshot()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Action, MemberState};
    use std::net::Ipv6Addr;

    fn m(id: u32, state: MemberState) -> MemberSpec {
        MemberSpec {
            member_id: id,
            unicast: Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, id as u16),
            encap_src: Ipv6Addr::UNSPECIFIED,
            ifindex: 2,
            dmac: [2, 0, 0, 0, 0, id as u8],
            smac: [2, 0, 0, 0, 0, 0xff],
            mtu: 1500,
            action: Action::Rewrite,
            state,
            weight: 100,
        }
    }

    #[test]
    fn host_routes_win_over_prefixes_and_longest_prefix_wins() {
        let mut b = SnapshotBuilder::new();
        let r = |s: &str| fixtures::parse_route(s).unwrap();
        b.apply(&FibOp::SetRoute {
            route: r("2001:db8::/32"),
            group_id: 1,
        })
        .unwrap();
        b.apply(&FibOp::SetRoute {
            route: r("2001:db8:ac::/48"),
            group_id: 2,
        })
        .unwrap();
        b.apply(&FibOp::SetRoute {
            route: r("2001:db8:ac::5"),
            group_id: 3,
        })
        .unwrap();
        let s = b.snapshot();
        let a = |s: &str| s.parse::<Ipv6Addr>().unwrap().octets();
        assert_eq!(s.lookup(&a("2001:db8:ac::5")), Some(3));
        assert_eq!(s.lookup(&a("2001:db8:ac::6")), Some(2));
        assert_eq!(s.lookup(&a("2001:db8:1::6")), Some(1));
        assert_eq!(s.lookup(&a("2001:db9::1")), None);
        b.apply(&FibOp::DeleteRoute(r("2001:db8:ac::/48"))).unwrap();
        assert_eq!(b.snapshot().lookup(&a("2001:db8:ac::6")), Some(1));
    }

    #[test]
    fn generations_follow_the_fib_writer_rule() {
        let mut b = SnapshotBuilder::new();
        b.publish_group(7, &[m(1, MemberState::Active)]).unwrap();
        b.publish_group(7, &[m(1, MemberState::Active), m(2, MemberState::Active)])
            .unwrap();
        assert_eq!(b.snapshot().group(7).unwrap().gen, 2);
        b.apply(&FibOp::DeleteGroup(7)).unwrap();
        b.publish_group(7, &[m(1, MemberState::Draining)]).unwrap();
        let s = b.snapshot();
        let g = s.group(7).unwrap();
        assert_eq!(g.gen, 3, "a re-created group does not reuse a generation");
        assert!(g.table.is_empty(), "no active member, no table");
    }

    #[test]
    fn table_lengths_and_quiet_groups_as_the_fib_writer() {
        let mut b = SnapshotBuilder::new();
        let two = [m(1, MemberState::Active), m(2, MemberState::Active)];
        b.set_table_lens([(7u32, 1009u32)].into());
        b.set_quiet_groups([8u32].into());
        b.publish_group(7, &two[..1]).unwrap();
        b.publish_group(7, &two).unwrap();
        let g7 = b.snapshot().group(7).unwrap().clone();
        assert_eq!(g7.table.len(), 1009);
        assert!(
            g7.hold_until_ns <= changes::monotonic_ns(),
            "no change period"
        );
        // A quiet group gets no change period: its hold is over at once.
        b.publish_group(8, &two[..1]).unwrap();
        b.publish_group(8, &two).unwrap();
        let g8 = b.snapshot().group(8).unwrap().clone();
        assert!(
            g8.hold_until_ns <= changes::monotonic_ns(),
            "{}",
            g8.hold_until_ns
        );
        // Any other group keeps the rule's windows.
        b.publish_group(9, &two[..1]).unwrap();
        b.publish_group(9, &two).unwrap();
        let g9 = b.snapshot().group(9).unwrap().clone();
        assert!(g9.hold_until_ns > changes::monotonic_ns());
    }

    #[test]
    fn published_snapshots_do_not_change() {
        let shared = SharedFib::default();
        let mut b = SnapshotBuilder::new();
        b.publish_group(1, &[m(1, MemberState::Active)]).unwrap();
        shared.publish(&b);
        let before = shared.load_full();
        b.publish_group(1, &[m(2, MemberState::Active)]).unwrap();
        assert_eq!(before.group(1).unwrap().members[0].member_id, 1);
        shared.publish(&b);
        assert_eq!(shared.load().group(1).unwrap().members[0].member_id, 2);
    }
}
