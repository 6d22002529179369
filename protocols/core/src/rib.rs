//! The one shape in which every protocol core reports what it learned.

use std::net::Ipv6Addr;

/// Where a candidate member or next hop came from: the configured groups,
/// the runtime overlay (`anycast6ctl member add`), or a protocol. Each
/// source has an administrative distance ([`Distances`]): for an address,
/// the candidates of the source with the smallest distance are installed
/// (at their best metric); the others wait and take over when it withdraws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Config,
    Runtime,
    Ard,
    Arip,
    Aospf,
    PiaSm,
    Mga,
    /// Routes the kernel holds (e.g. installed by a BGP daemon).
    Kernel,
}

impl Source {
    pub const ALL: [Source; 8] = [
        Source::Config,
        Source::Runtime,
        Source::Ard,
        Source::Arip,
        Source::Aospf,
        Source::PiaSm,
        Source::Mga,
        Source::Kernel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Runtime => "runtime",
            Source::Ard => "ard",
            Source::Arip => "arip",
            Source::Aospf => "aospf",
            Source::PiaSm => "pia-sm",
            Source::Mga => "mga",
            Source::Kernel => "kernel",
        }
    }

    /// The source named `s` (as [`Source::as_str`] spells it).
    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Default administrative distance, in the spirit of FRR's (connected
    /// 0, static 1, eBGP 20, OSPF 110, RIP 120): what the operator wrote
    /// first; then members that registered themselves on a directly
    /// attached link (ARD: first-hand, like connected routes); then the
    /// kernel's routes (typically BGP); then link state before the core
    /// tree and home-agent bindings, and distance vector last.
    pub const fn default_distance(self) -> u8 {
        match self {
            Source::Config => 1,
            Source::Runtime => 1,
            Source::Ard => 5,
            Source::Kernel => 20,
            Source::Aospf => 110,
            Source::PiaSm => 115,
            Source::Arip => 120,
            Source::Mga => 130,
        }
    }
}

/// Administrative distance per source (smaller wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Distances([u8; Source::ALL.len()]);

impl Default for Distances {
    fn default() -> Self {
        Distances(Source::ALL.map(Source::default_distance))
    }
}

impl Distances {
    pub fn get(&self, s: Source) -> u8 {
        self.0[s as usize]
    }

    pub fn set(&mut self, s: Source, d: u8) {
        self.0[s as usize] = d;
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
