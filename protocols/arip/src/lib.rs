//! ARIP: anycast routing by distance vector, derived from RIPng (RFC 2080)
//! with the least change. Spec: docs/arip.md.
//!
//! The core is pure (DESIGN.md decision 10): no sockets, no clock. The
//! daemon owns one [`Instance`] and drives it like this:
//!
//! ```text
//!  daemon (anycast6d)                              Instance (this module)
//!  ─────────────────                               ──────────────────────
//!  Instance::new(Config, now)
//!  interface_up(now, InterfaceConfig) ──────────►  request + our table on the link
//!  interface_down(now, ifindex)       ──────────►  paths through it gone
//!  set_local_unicast / remove_local_unicast ────►  connected/redistributed prefixes
//!  set_local_anycast / remove_local_anycast ────►  members on our links (ARD, static)
//!  UDP :521 datagram ─► handle_packet(now, ifindex, src, src_port, hop_limit, bytes)
//!  timer fired ───────► handle_timeout(now)
//!  after each call:     while let Some(o) = poll_output()
//!                         Output::Send { ifindex, dst, dst_port, bytes }
//!                             → sendto from [link-local]:521, hop limit 255
//!                         Output::Rib(RibChange)   → RIB (anycast members, Source::Arip)
//!                         Output::Kernel(KernelRoute) → kernel (plain unicast routes)
//!                      sleep until poll_timeout()
//! ```
//!
//! Socket set-up the daemon owes the protocol: bind [::]:521, join ff02::9
//! on each ARIP interface, IPV6_MULTICAST_HOPS and IPV6_UNICAST_HOPS 255,
//! IPV6_MULTICAST_LOOP off, IPV6_RECVPKTINFO (ifindex) and
//! IPV6_RECVHOPLIMIT (the hop-limit check), source address = the
//! interface's link-local address.
//!
//! What goes where:
//! - an anycast address (a /128 carrying the anycast route tag, default
//!   0xA6A6, or set with `set_local_anycast`) keeps every next hop at the
//!   smallest metric; each is a `RibChange::Upsert` with `Source::Arip`,
//!   `next_hop` = the neighbour's link-local address, `metric` = the RIPng
//!   metric. Local members are compared on metric but not re-emitted (ARD
//!   or the static config already put them in the RIB).
//! - a plain unicast prefix keeps RIPng's single best path and is emitted
//!   as [`KernelRoute`] (`Add` replaces the prefix's route, `Remove`
//!   deletes it).
//! - what neighbours can make it hold is bounded (`Config::limit`, a
//!   [`anycast6_core::RouteLimit`] keyed by neighbour): a path for a prefix
//!   a neighbour has none for is refused (counted, `refused_routes`) once
//!   that neighbour, or all of them, hold the most allowed; refreshes,
//!   changes and withdrawals of held paths always go through.
//!
//! Rooms: [`packet`] wire format, `events` inputs, `output` updates,
//! [`instance`]/`interface`/`neighbor`/[`route`] state, `timers`,
//! [`error`], `debug` log events, [`counters`], [`view`].

pub mod counters;
mod debug;
pub mod error;
mod events;
pub mod instance;
pub mod interface;
mod neighbor;
mod output;
pub mod packet;
pub mod route;
mod timers;
pub mod view;

#[cfg(test)]
mod tests;

use std::net::Ipv6Addr;

use anycast6_core::RibChange;

pub use counters::Counters;
pub use error::Error;
pub use instance::{
    Config, Instance, SplitHorizon, DEFAULT_ANYCAST_TAG, DEFAULT_MAX_ROUTES,
    DEFAULT_MAX_ROUTES_PER_NEIGHBOR, DEFAULT_ROUTES_WARN_PERCENT,
};
pub use interface::InterfaceConfig;
pub use route::Prefix;
pub use view::View;

/// What the core asks of the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send `bytes` as one UDP datagram from the interface's link-local
    /// address, port 521, hop limit 255, to `dst` (ff02::9 or a unicast
    /// requester) port `dst_port`.
    Send {
        ifindex: u32,
        dst: Ipv6Addr,
        dst_port: u16,
        bytes: Vec<u8>,
    },
    /// A change to an anycast address's members.
    Rib(RibChange),
    /// A change to a plain unicast route.
    Kernel(KernelRoute),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelOp {
    /// Install, replacing whatever route ARIP installed for the prefix.
    Add,
    /// Delete ARIP's route for the prefix.
    Remove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct KernelRoute {
    pub op: KernelOp,
    pub prefix: Ipv6Addr,
    pub plen: u8,
    pub next_hop: Ipv6Addr,
    pub ifindex: u32,
    pub metric: u8,
}
