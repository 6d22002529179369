//! Read-only snapshots for `anycast6ctl show aospf ...`.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::counters::Counters;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct View {
    pub router_id: Ipv4Addr,
    pub area: Ipv4Addr,
    pub interfaces: Vec<InterfaceView>,
    pub neighbors: Vec<NeighborView>,
    pub database: Vec<LsaView>,
    pub routes: Vec<RouteView>,
    pub counters: Counters,
    /// LSAs held (all scopes) and the most allowed.
    pub lsas: usize,
    pub max_lsas: usize,
    /// Restarting gracefully (`Instance::restarted`): how long the grace
    /// period still runs at most; None once the restart is over (or if
    /// there was none).
    pub restarting_for_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InterfaceView {
    pub name: String,
    pub ifindex: u32,
    pub interface_id: u32,
    pub network: crate::NetworkType,
    pub state: String,
    pub cost: u16,
    pub priority: u8,
    pub passive: bool,
    pub dr: Ipv4Addr,
    pub bdr: Ipv4Addr,
    pub hello_interval_s: u64,
    pub dead_interval_s: u64,
    pub authenticated: bool,
    pub neighbors: usize,
    pub adjacent: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NeighborView {
    pub router_id: Ipv4Addr,
    pub interface: String,
    pub ifindex: u32,
    pub addr: Ipv6Addr,
    pub state: String,
    pub priority: u8,
    pub dr: Ipv4Addr,
    pub bdr: Ipv4Addr,
    pub dead_in_ms: u64,
    pub retransmit_list: usize,
    pub request_list: usize,
    pub up_for_ms: u64,
    /// We are its graceful-restart helper: how long its grace period
    /// still runs (None: not helping).
    pub helping_for_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LsaView {
    /// `link <ifname>`, `area`, `as`.
    pub scope: String,
    pub ls_type: String,
    pub id: Ipv4Addr,
    pub adv_router: Ipv4Addr,
    pub age: u16,
    pub seq: String,
    pub checksum: String,
    pub length: u16,
    pub own: bool,
    /// Prefixes it carries (`addr/len`, `+ac` for anycast).
    pub prefixes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteView {
    pub prefix: Ipv6Addr,
    pub plen: u8,
    /// `intra-area`, `external-1`, `external-2`.
    pub path_type: String,
    pub cost: u32,
    pub anycast: bool,
    pub originators: Vec<Ipv4Addr>,
    pub nexthops: Vec<NextHopView>,
    /// In the kernel (unicast) or the RIB (anycast).
    pub installed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NextHopView {
    pub interface: String,
    pub ifindex: u32,
    /// None: directly connected.
    pub addr: Option<Ipv6Addr>,
}
