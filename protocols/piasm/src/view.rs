//! What `anycast6ctl show piasm` shows: neighbours, the tree of every
//! anycast address (upstream, branches and weights, the group, the
//! shortcut), and the counters.

use std::net::Ipv6Addr;

use anycast6_core::Instant;

use crate::counters::Counters;
use crate::instance::{BranchKey, GroupMember, Instance, Upstream};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct View {
    pub router_address: Ipv6Addr,
    pub neighbors: Vec<NeighborView>,
    pub trees: Vec<TreeView>,
    pub counters: Counters,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NeighborView {
    pub interface: String,
    pub address: Ipv6Addr,
    /// Its router address (first in its Hello Address List).
    pub router_address: Option<Ipv6Addr>,
    pub dr_priority: u32,
    pub generation_id: Option<u32>,
    /// It speaks PIA-SM (a plain PIM router otherwise).
    pub piasm: bool,
    pub core: bool,
    pub is_dr: bool,
    pub expires_in_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BranchView {
    #[serde(flatten)]
    pub key: BranchKey,
    pub weight: u32,
    pub relayed: bool,
    pub expires_in_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TreeView {
    pub anycast: Ipv6Addr,
    pub core: Ipv6Addr,
    /// core | on-tree | ingress | idle
    pub role: &'static str,
    /// Members behind us (what we send up, or hold at a core).
    pub weight: u32,
    pub local_members: u32,
    pub upstream: Option<Upstream>,
    pub branches: Vec<BranchView>,
    pub group: Vec<GroupMember>,
    /// Ingress: the core's announcement in use (version), if any.
    pub shortcut_version: Option<u32>,
    /// Core: ingress routers with a live Shortcut Request.
    pub shortcut_requests: Vec<Ipv6Addr>,
}

fn ms_until(now: Instant, t: Option<Instant>) -> u64 {
    t.map_or(0, |t| t.saturating_since(now).as_millis() as u64)
}

impl Instance {
    pub fn view(&self, now: Instant) -> View {
        let mut neighbors = Vec::new();
        for i in self.ifaces.values() {
            let dr = i.dr();
            for (a, n) in &i.neighbors {
                neighbors.push(NeighborView {
                    interface: i.cfg.name.clone(),
                    address: *a,
                    router_address: n.addresses.first().copied(),
                    dr_priority: n.dr_priority,
                    generation_id: n.generation_id,
                    piasm: n.piasm.is_some(),
                    core: n.piasm.is_some_and(|c| c.core),
                    is_dr: *a == dr,
                    expires_in_ms: ms_until(now, Some(n.expires)),
                });
            }
        }
        let trees = self
            .trees
            .values()
            .map(|t| {
                let group = t
                    .group
                    .as_ref()
                    .map(|g| g.members.clone())
                    .unwrap_or_default();
                let local: u32 = t.local.values().sum();
                let role = if t.cfg.is_core {
                    "core"
                } else if !t.branches.is_empty() || local > 0 {
                    "on-tree"
                } else if t.cfg.shortcut {
                    "ingress"
                } else {
                    "idle"
                };
                TreeView {
                    anycast: t.cfg.anycast,
                    core: t.cfg.core,
                    role,
                    weight: self.weight(now, t),
                    local_members: local,
                    upstream: t.sent.map(|(u, _)| u),
                    branches: t
                        .branches
                        .iter()
                        .map(|(k, b)| BranchView {
                            key: *k,
                            weight: b.weight,
                            relayed: b.direct_until.is_none_or(|d| d <= now),
                            expires_in_ms: ms_until(now, b.direct_until.max(b.relayed_until)),
                        })
                        .collect(),
                    group,
                    shortcut_version: t.ingress.announced.as_ref().map(|(a, _)| a.version),
                    shortcut_requests: t.requests.keys().copied().collect(),
                }
            })
            .collect();
        View {
            router_address: self.cfg.router_address,
            neighbors,
            trees,
            counters: self.counters.clone(),
        }
    }
}
