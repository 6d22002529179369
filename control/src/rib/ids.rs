//! Stable ids. A route keeps the group id it is installed with, a member
//! keeps its id while (group, unicast, egress ifindex) stays the same, so a
//! restarted daemon rewrites nothing and live flows keep their member (the
//! affinity table refers to member ids). New ids are the lowest ones that
//! nothing installed uses, so an id never changes meaning mid-update.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv6Addr;

use anycast6_dataplane::loader::Capacities;
use anycast6_dataplane::Route;

use super::{FibState, RibError};

pub(super) struct Allocator<'a> {
    current: &'a FibState,
    caps: &'a Capacities,
    used_groups: BTreeSet<u32>,
    used_members: BTreeSet<u32>,
    retired: &'a BTreeSet<u32>,
    members: HashMap<(u32, Ipv6Addr, u32), u32>,
    next_group: u32,
    next_member: u32,
}

impl<'a> Allocator<'a> {
    pub fn new(current: &'a FibState, caps: &'a Capacities, retired: &'a BTreeSet<u32>) -> Self {
        let mut used_groups: BTreeSet<u32> = current.groups.keys().copied().collect();
        used_groups.extend(current.routes.values().copied());
        let mut used_members = BTreeSet::new();
        let mut members = HashMap::new();
        for (gid, ms) in &current.groups {
            for m in ms {
                used_members.insert(m.member_id);
                members.insert((*gid, m.unicast, m.ifindex), m.member_id);
            }
        }
        Allocator {
            current,
            caps,
            used_groups,
            used_members,
            retired,
            members,
            next_group: 0,
            next_member: 0,
        }
    }

    pub fn group_id(&mut self, route: &Route) -> Result<u32, RibError> {
        if let Some(gid) = self.current.routes.get(route) {
            return Ok(*gid);
        }
        let id = lowest_free(&self.used_groups, &mut self.next_group, self.caps.groups)
            .ok_or(RibError::GroupIdsExhausted(self.caps.groups))?;
        self.used_groups.insert(id);
        Ok(id)
    }

    pub fn member_id(
        &mut self,
        group_id: u32,
        unicast: Ipv6Addr,
        ifindex: u32,
    ) -> Result<u32, RibError> {
        if let Some(id) = self.members.get(&(group_id, unicast, ifindex)) {
            return Ok(*id);
        }
        // Prefer ids with no history; reuse a retired id only when every
        // other id is taken.
        let (used, retired) = (&self.used_members, self.retired);
        let id = lowest_free_by(
            |id| used.contains(&id) || retired.contains(&id),
            &mut self.next_member,
            self.caps.member_ids,
        )
        .or_else(|| {
            let mut from = 0;
            lowest_free(used, &mut from, self.caps.member_ids)
        })
        .ok_or(RibError::MemberIdsExhausted(self.caps.member_ids))?;
        self.used_members.insert(id);
        self.members.insert((group_id, unicast, ifindex), id);
        Ok(id)
    }
}

/// Lowest id >= *next not in `used` and below `cap`; ids below *next are
/// known taken.
fn lowest_free(used: &BTreeSet<u32>, next: &mut u32, cap: u32) -> Option<u32> {
    lowest_free_by(|id| used.contains(&id), next, cap)
}

fn lowest_free_by(taken: impl Fn(u32) -> bool, next: &mut u32, cap: u32) -> Option<u32> {
    while *next < cap {
        let id = *next;
        *next += 1;
        if !taken(id) {
            return Some(id);
        }
    }
    None
}
