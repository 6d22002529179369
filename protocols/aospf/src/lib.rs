//! AOSPF: anycast routing from OSPFv3 (RFC 5340). Spec: docs/aospf.md.
//!
//! What AOSPF sends is plain OSPFv3; the anycast information is the AC bit
//! (RFC 9513) on the /128s a router serves, in its Intra-Area-Prefix-LSA.
//! The core is pure (DESIGN.md decision 10): no sockets, no clock. The
//! daemon owns one [`Instance`] and drives it like this:
//!
//! ```text
//!  daemon (anycast6d)                               Instance
//!  ─────────────────                                ────────
//!  Instance::new(Config, now)
//!  interface_up(now, InterfaceConfig) ───────────►  Hellos on the link
//!  interface_down(now, ifindex)       ───────────►  adjacencies gone, LSAs re-originated
//!  set_origination(now, Vec<Originated>) ────────►  our Intra-Area-Prefix / Link LSAs
//!  IPv6 next header 89 ─► handle_packet(now, ifindex, src, dst, bytes)
//!  timer fired ─────────► handle_timeout(now)
//!  after each call:       while let Some(o) = poll_output()
//!                           Output::Send { ifindex, src, dst, bytes }
//!                               → raw IPv6 (89), hop limit 1, checksum in `bytes`
//!                           Output::Rib(RibChange)      → RIB (anycast members, Source::Aospf)
//!                           Output::Kernel(KernelRoute) → kernel (plain unicast routes)
//!                        sleep until poll_timeout()
//! ```
//!
//! The packet checksum is computed and verified here, not by the kernel
//! (no IPV6_CHECKSUM on the socket): an authenticated packet carries a zero
//! checksum (RFC 7166 §4.4... as FRR and BIRD send it).
//!
//! Rooms: [`packet`] wire format, [`config`], [`instance`] (the API and
//! the packet handlers), `interface` (ISM, DR election), `neighbor` (NSM),
//! [`lsdb`] (database, aging), `flood`, `origin` (our LSAs), [`spf`]
//! (routes), [`view`], [`counters`].

pub mod config;
pub mod counters;
mod flood;
pub mod gr;
pub mod instance;
mod interface;
pub mod lsdb;
mod neighbor;
mod origin;
pub mod packet;
mod routes;
mod rx;
pub mod set;
pub mod spf;
pub mod view;

#[cfg(test)]
mod tests;

use std::net::Ipv6Addr;

use anycast6_core::RibChange;

pub use config::{Config, InterfaceAuth, InterfaceConfig, NetworkType, Originated};
pub use counters::Counters;
pub use instance::Instance;
pub use view::View;

/// What the core asks of the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send `bytes` (a whole OSPFv3 packet, checksum or trailer included)
    /// as IPv6 next header 89 from `src` out of `ifindex` to `dst`, hop
    /// limit 1.
    Send {
        ifindex: u32,
        src: Ipv6Addr,
        dst: Ipv6Addr,
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
    /// Install, replacing whatever route AOSPF installed for the prefix.
    Add,
    /// Delete AOSPF's route for the prefix.
    Remove,
}

/// A unicast route for the kernel; several next hops are one multipath
/// route.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KernelRoute {
    pub op: KernelOp,
    pub prefix: Ipv6Addr,
    pub plen: u8,
    /// (next hop link-local, ifindex); empty for `Remove`.
    pub nexthops: Vec<(Ipv6Addr, u32)>,
    pub metric: u32,
}
