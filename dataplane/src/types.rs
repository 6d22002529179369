//! Userspace view of what the FIB holds. The FIB writer turns these into
//! ABI structs; `FibWriter::installed` turns pinned maps back into these.

use std::net::Ipv6Addr;

use ipnetwork::Ipv6Network;
use serde::{Deserialize, Serialize};

use crate::abi;

/// What the fast path does with a packet for a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Rewrite Ethernet to the member / next hop, decrement hop limit, redirect.
    Rewrite,
    /// IPv6-in-IPv6 to the member's unicast address.
    Encap,
    /// This node is the member: hand to the local stack.
    Local,
}

impl Action {
    pub fn to_abi(self) -> u8 {
        match self {
            Action::Rewrite => abi::ACT_REWRITE,
            Action::Encap => abi::ACT_ENCAP,
            Action::Local => abi::ACT_LOCAL,
        }
    }
    pub fn from_abi(v: u8) -> Option<Action> {
        match v {
            abi::ACT_REWRITE => Some(Action::Rewrite),
            abi::ACT_ENCAP => Some(Action::Encap),
            abi::ACT_LOCAL => Some(Action::Local),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Action::Rewrite => "rewrite",
            Action::Encap => "encap",
            Action::Local => "local",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberState {
    Active,
    Draining,
    Down,
}

impl MemberState {
    pub fn to_abi(self) -> u8 {
        match self {
            MemberState::Active => abi::STATE_ACTIVE,
            MemberState::Draining => abi::STATE_DRAINING,
            MemberState::Down => abi::STATE_DOWN,
        }
    }
    pub fn from_abi(v: u8) -> Option<MemberState> {
        match v {
            abi::STATE_ACTIVE => Some(MemberState::Active),
            abi::STATE_DRAINING => Some(MemberState::Draining),
            abi::STATE_DOWN => Some(MemberState::Down),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Active => "active",
            MemberState::Draining => "draining",
            MemberState::Down => "down",
        }
    }
}

/// One member (or next hop toward members) as installed in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberSpec {
    /// Stable id chosen by the control plane: per-member counters and
    /// affinity entries refer to it. Unique across all groups.
    pub member_id: u32,
    /// Member unicast address (outer destination for `Encap`; the Maglev
    /// permutation is derived from it, so it must be stable).
    pub unicast: Ipv6Addr,
    /// Outer source for `Encap` (unused otherwise).
    pub encap_src: Ipv6Addr,
    pub ifindex: u32,
    pub dmac: [u8; 6],
    pub smac: [u8; 6],
    pub mtu: u16,
    pub action: Action,
    pub state: MemberState,
    pub weight: u16,
}

/// A route in the FIB: a /128 host route (exact-match hash) or a prefix
/// (LPM trie behind it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Route {
    Host(Ipv6Addr),
    Prefix(Ipv6Network),
}

impl Route {
    /// A /128 prefix is normalised to a host route.
    pub fn from_network(n: Ipv6Network) -> Route {
        if n.prefix() == 128 {
            Route::Host(n.ip())
        } else {
            Route::Prefix(Ipv6Network::new(n.network(), n.prefix()).expect("valid prefix"))
        }
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Host(a) => write!(f, "{a}"),
            Route::Prefix(n) => write!(f, "{}/{}", n.network(), n.prefix()),
        }
    }
}

/// A group as read back from the pinned maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalledGroup {
    pub group_id: u32,
    pub gen: u32,
    pub maglev_block: u32,
    pub maglev_len: u32,
    pub members: Vec<MemberSpec>,
}

/// Everything the FIB holds, read back from the pinned maps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstalledFib {
    pub routes: Vec<(Route, u32)>,
    pub groups: Vec<InstalledGroup>,
    pub tx_ports: Vec<u32>,
    /// `a6_ifaces`: (ifindex, own MAC) of the interfaces the fast path
    /// runs on, sorted by ifindex.
    pub ifaces: Vec<(u32, [u8; 6])>,
}

/// Counters summed over CPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// (reason, packets, bytes) for every reason, in ABI order.
    pub reasons: Vec<(abi::Reason, u64, u64)>,
    /// (group_id, packets, bytes) for groups with traffic.
    pub groups: Vec<(u32, u64, u64)>,
    /// (member_id, packets, bytes) for members with traffic.
    pub members: Vec<(u32, u64, u64)>,
}
