//! The one shape in which every protocol core reports what it learned.

use std::net::Ipv6Addr;

/// Where a RIB entry came from. Lower `preference()` wins when two sources
/// offer the same (address, next hop, interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Static,
    Ard,
    Arip,
    Aospf,
    PiaSm,
    Mga,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Static => "static",
            Source::Ard => "ard",
            Source::Arip => "arip",
            Source::Aospf => "aospf",
            Source::PiaSm => "pia-sm",
            Source::Mga => "mga",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One way to reach one anycast address, as a protocol learned it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RibEntry {
    /// The anycast address (a /128; prefixes come from config only).
    pub anycast: Ipv6Addr,
    /// Where to send: a directly attached member's address (often its
    /// link-local source), or the next-hop router's link-local address.
    pub next_hop: Ipv6Addr,
    /// Interface `next_hop` is on.
    pub ifindex: u32,
    /// Routing distance in the protocol's own unit (ARIP: hop count;
    /// ARD: 1 plus the member's reported metric scaled, see docs/ard.md).
    pub metric: u32,
    /// The member's global unicast address when the protocol knows it
    /// (ARD carries it; used by encap and AARP answers).
    pub member_unicast: Option<Ipv6Addr>,
    pub source: Source,
}

/// A change a protocol core asks of the RIB. Keyed by
/// (anycast, next_hop, ifindex, source): an `Upsert` replaces the entry with
/// that key, a `Withdraw` removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RibChange {
    Upsert(RibEntry),
    Withdraw {
        anycast: Ipv6Addr,
        next_hop: Ipv6Addr,
        ifindex: u32,
        source: Source,
    },
}
