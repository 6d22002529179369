//! Neighbour states as the daemon follows them, fed by netlink dumps and
//! RTNLGRP_NEIGH notifications. Pure: unit tested without a kernel.

use std::collections::HashMap;
use std::net::Ipv6Addr;

use serde::Serialize;

/// A neighbour: next-hop address on an egress interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NeighKey {
    pub ifindex: u32,
    pub addr: Ipv6Addr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "state", content = "mac")]
pub enum NeighStatus {
    /// The kernel has a link-layer address for it.
    Resolved([u8; 6]),
    /// Being resolved (incomplete, or no entry yet).
    Pending,
    /// Resolution failed (the kernel keeps retrying managed entries).
    Failed,
}

impl NeighStatus {
    pub fn name(&self) -> &'static str {
        match self {
            NeighStatus::Resolved(_) => "resolved",
            NeighStatus::Pending => "pending",
            NeighStatus::Failed => "failed",
        }
    }
}

// NUD_* (include/uapi/linux/neighbour.h)
pub const NUD_INCOMPLETE: u16 = 0x01;
pub const NUD_REACHABLE: u16 = 0x02;
pub const NUD_STALE: u16 = 0x04;
pub const NUD_DELAY: u16 = 0x08;
pub const NUD_PROBE: u16 = 0x10;
pub const NUD_FAILED: u16 = 0x20;
pub const NUD_NOARP: u16 = 0x40;
pub const NUD_PERMANENT: u16 = 0x80;
/// States in which the kernel itself transmits to the cached address
/// (NUD_VALID).
const NUD_VALID: u16 =
    NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

/// One neighbour as netlink reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighUpdate {
    pub key: NeighKey,
    /// NUD_* bits; `None` for a deletion.
    pub state: Option<u16>,
    pub lladdr: Option<[u8; 6]>,
    /// Created by anycast6 (protocol [`crate::KERNEL_PROTO`]).
    pub ours: bool,
    /// NTF_EXT_MANAGED is set.
    pub managed: bool,
}

impl NeighUpdate {
    pub fn status(&self) -> NeighStatus {
        match (self.state, self.lladdr) {
            (Some(s), Some(mac)) if s & NUD_VALID != 0 && mac != [0; 6] => {
                NeighStatus::Resolved(mac)
            }
            (Some(s), _) if s & NUD_FAILED != 0 => NeighStatus::Failed,
            _ => NeighStatus::Pending,
        }
    }

    /// A static entry an administrator made: use it, never replace it.
    pub fn is_static(&self) -> bool {
        self.state
            .is_some_and(|s| s & (NUD_PERMANENT | NUD_NOARP) != 0)
            && !self.managed
    }
}

/// The neighbours the daemon needs, with their current status.
#[derive(Debug, Default, Clone)]
pub struct NeighTable {
    wanted: HashMap<NeighKey, NeighStatus>,
}

impl NeighTable {
    /// Sets the neighbours that are needed; keeps known statuses, forgets
    /// the others. Returns the keys that are new (to be created in the kernel).
    pub fn set_wanted(&mut self, keys: impl IntoIterator<Item = NeighKey>) -> Vec<NeighKey> {
        let mut next = HashMap::new();
        let mut new = Vec::new();
        for k in keys {
            if next.contains_key(&k) {
                continue;
            }
            let st = match self.wanted.get(&k) {
                Some(s) => *s,
                None => {
                    new.push(k);
                    NeighStatus::Pending
                }
            };
            next.insert(k, st);
        }
        self.wanted = next;
        new.sort();
        new
    }

    /// Applies a netlink report. Returns true if a wanted neighbour's
    /// status changed (the groups using it must be recomputed).
    pub fn update(&mut self, u: &NeighUpdate) -> bool {
        let Some(cur) = self.wanted.get_mut(&u.key) else {
            return false;
        };
        let st = u.status();
        if *cur == st {
            return false;
        }
        *cur = st;
        true
    }

    pub fn status(&self, key: &NeighKey) -> NeighStatus {
        self.wanted
            .get(key)
            .copied()
            .unwrap_or(NeighStatus::Pending)
    }

    pub fn keys(&self) -> impl Iterator<Item = &NeighKey> {
        self.wanted.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: u32) -> NeighKey {
        NeighKey {
            ifindex: i,
            addr: "fe80::1".parse().unwrap(),
        }
    }

    fn upd(i: u32, state: Option<u16>, mac: Option<[u8; 6]>) -> NeighUpdate {
        NeighUpdate {
            key: k(i),
            state,
            lladdr: mac,
            ours: true,
            managed: true,
        }
    }

    #[test]
    fn states_map_to_status() {
        let mac = [2, 0, 0, 0, 0, 9];
        assert_eq!(
            upd(1, Some(NUD_REACHABLE), Some(mac)).status(),
            NeighStatus::Resolved(mac)
        );
        assert_eq!(
            upd(1, Some(NUD_STALE), Some(mac)).status(),
            NeighStatus::Resolved(mac)
        );
        assert_eq!(
            upd(1, Some(NUD_INCOMPLETE), None).status(),
            NeighStatus::Pending
        );
        assert_eq!(upd(1, Some(NUD_FAILED), None).status(), NeighStatus::Failed);
        assert_eq!(upd(1, None, None).status(), NeighStatus::Pending);
        assert!(!upd(1, Some(NUD_PERMANENT), Some(mac)).is_static());
        let mut admin = upd(1, Some(NUD_PERMANENT), Some(mac));
        admin.managed = false;
        assert!(admin.is_static());
    }

    #[test]
    fn table_reports_changes_of_wanted_only() {
        let mut t = NeighTable::default();
        assert_eq!(t.set_wanted([k(1), k(2), k(1)]), vec![k(1), k(2)]);
        let mac = [2, 0, 0, 0, 0, 9];
        assert!(t.update(&upd(1, Some(NUD_REACHABLE), Some(mac))));
        assert!(
            !t.update(&upd(1, Some(NUD_STALE), Some(mac))),
            "same MAC: nothing to republish"
        );
        assert!(
            !t.update(&upd(3, Some(NUD_REACHABLE), Some(mac))),
            "not wanted"
        );
        assert!(t.update(&upd(1, Some(NUD_FAILED), None)));
        assert_eq!(t.status(&k(1)), NeighStatus::Failed);
        assert_eq!(t.set_wanted([k(1), k(3)]), vec![k(3)]);
        assert_eq!(t.status(&k(1)), NeighStatus::Failed);
    }
}
