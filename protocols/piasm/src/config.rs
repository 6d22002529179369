//! What an instance is configured with (the daemon's `[piasm]`).

use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::auth::Keyring;

/// One anycast address and its core (docs/piasm.md §5, §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnycastConfig {
    pub anycast: Ipv6Addr,
    /// The core address C joins go toward (shared by every core of A).
    pub core: Ipv6Addr,
    /// This router is a core of A (it owns C).
    pub is_core: bool,
    /// The router addresses of the other cores of A (relays).
    pub peers: Vec<Ipv6Addr>,
    /// Take the shortcut when senders' packets for A pass here (§8).
    pub shortcut: bool,
}

impl AnycastConfig {
    pub fn new(anycast: Ipv6Addr, core: Ipv6Addr) -> AnycastConfig {
        AnycastConfig {
            anycast,
            core,
            is_core: false,
            peers: Vec::new(),
            shortcut: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Our router address R: source of unicast messages, tunnel end point.
    pub router_address: Ipv6Addr,
    pub anycast: Vec<AnycastConfig>,
    pub hello_interval: Duration,
    pub join_interval: Duration,
    /// Least time between two messages about one address to one upstream.
    pub triggered_hold: Duration,
    pub max_branches: usize,
    pub max_neighbors: usize,
    /// Keys of unicast messages (link messages use their interface's).
    pub keys: Keyring,
    /// The fast path's flow hash seed (Branch Announcements carry it).
    pub hash_seed: u32,
    /// Our Hello Generation ID (the daemon draws it at start).
    pub generation_id: u32,
    /// First authentication sequence number (the daemon passes the wall
    /// clock in nanoseconds, so a restart never goes back).
    pub seq_start: u64,
}

impl Config {
    pub fn new(router_address: Ipv6Addr) -> Config {
        Config {
            router_address,
            anycast: Vec::new(),
            hello_interval: Duration::from_secs(30),
            join_interval: Duration::from_secs(60),
            triggered_hold: Duration::from_millis(100),
            max_branches: 1024,
            max_neighbors: 64,
            keys: Keyring::none(),
            hash_seed: 0x5eed_1234,
            generation_id: 1,
            seq_start: 1,
        }
    }

    /// Hello Holdtime: 3.5 Hello periods, in seconds.
    pub fn hello_holdtime(&self) -> u16 {
        secs(self.hello_interval.mul_f64(3.5))
    }

    /// Join/Prune (and shortcut) Holdtime: 3.5 join periods, in seconds.
    pub fn join_holdtime(&self) -> u16 {
        secs(self.join_interval.mul_f64(3.5))
    }
}

fn secs(d: Duration) -> u16 {
    d.as_secs_f64().ceil().clamp(1.0, 65_535.0) as u16
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    pub ifindex: u32,
    pub name: String,
    pub link_local: Ipv6Addr,
    pub dr_priority: u32,
    pub keys: Keyring,
}

impl InterfaceConfig {
    pub fn new(ifindex: u32, name: &str, link_local: Ipv6Addr) -> InterfaceConfig {
        InterfaceConfig {
            ifindex,
            name: name.into(),
            link_local,
            dr_priority: 1,
            keys: Keyring::none(),
        }
    }
}
