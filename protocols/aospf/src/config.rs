//! What the daemon tells an AOSPF instance: the router, its area, and each
//! interface (docs/aospf.md §4).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use anycast6_core::auth::Keyring;

use crate::packet::auth::KeyPrep;

/// Most LSAs the database may hold before new ones are refused (an LSA
/// flood from a hostile or broken peer; docs/aospf.md §6).
pub const DEFAULT_MAX_LSAS: usize = 200_000;

#[derive(Debug, Clone)]
pub struct Config {
    pub router_id: Ipv4Addr,
    /// The one area this router runs (area 0 in most networks).
    pub area: Ipv4Addr,
    /// Instance ID of every packet sent and accepted (RFC 5340 §2.4).
    pub instance_id: u8,
    /// Delay from the first topology change to SPF, and the least time
    /// between two SPF runs.
    pub spf_delay: Duration,
    pub spf_hold: Duration,
    /// Least time between two originations of one of our LSAs
    /// (MinLSInterval: RFC 2328's 5 s by default). Neighbours drop an
    /// instance that follows the previous one within their MinLSArrival
    /// (1 s) and wait for its retransmission: keep it above 1 s.
    pub min_ls_interval: Duration,
    /// LSAs of other routers held at most; more are refused and counted.
    pub max_lsas: usize,
    /// Graceful restart (RFC 5187): act as helper for restarting
    /// neighbours; how long a restart may take when we restart.
    pub gr_helper: bool,
    pub grace_period: Duration,
}

impl Config {
    pub fn new(router_id: Ipv4Addr) -> Config {
        Config {
            router_id,
            area: Ipv4Addr::UNSPECIFIED,
            instance_id: 0,
            spf_delay: Duration::from_millis(50),
            spf_hold: Duration::from_millis(200),
            min_ls_interval: crate::lsdb::MIN_LS_INTERVAL,
            max_lsas: DEFAULT_MAX_LSAS,
            gr_helper: true,
            grace_period: Duration::from_secs(120),
        }
    }
}

/// Network type of an interface (RFC 5340 §4.2.1 / RFC 2328 §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkType {
    /// Multi-access with a Designated Router.
    Broadcast,
    /// One neighbour, no DR.
    PointToPoint,
}

/// RFC 7166 authentication of one interface.
#[derive(Debug, Clone)]
pub struct InterfaceAuth {
    /// Keys accepted, by key id (= the trailer's SA id); the first signs
    /// what is sent.
    pub keys: Keyring,
    /// How the key is prepared (FRR 8.4 differs from the RFC).
    pub prep: KeyPrep,
    /// First sequence number sent (the daemon persists a boot count in the
    /// high 32 bits so a restart never repeats one).
    pub seq_start: u64,
}

#[derive(Debug, Clone)]
pub struct InterfaceConfig {
    pub ifindex: u32,
    pub name: String,
    /// The link-local source of everything sent here.
    pub link_local: Ipv6Addr,
    /// IPv6 MTU, sent in DD and checked against the neighbour's.
    pub mtu: u16,
    pub network: NetworkType,
    pub cost: u16,
    pub priority: u8,
    pub hello_interval: Duration,
    pub dead_interval: Duration,
    pub retransmit_interval: Duration,
    /// Added to the age of LSAs sent here (RFC 2328 InfTransDelay), seconds.
    pub transmit_delay: u16,
    /// Advertised (its prefixes are in our LSAs) but no packets sent or
    /// accepted.
    pub passive: bool,
    pub auth: Option<InterfaceAuth>,
}

impl InterfaceConfig {
    /// FRR's and BIRD's defaults: cost 10, priority 1, hello 10 s, dead
    /// 40 s, retransmit 5 s, transmit delay 1 s.
    pub fn new(ifindex: u32, name: &str, link_local: Ipv6Addr, network: NetworkType) -> Self {
        InterfaceConfig {
            ifindex,
            name: name.to_string(),
            link_local,
            mtu: 1500,
            network,
            cost: 10,
            priority: 1,
            hello_interval: Duration::from_secs(10),
            dead_interval: Duration::from_secs(40),
            retransmit_interval: Duration::from_secs(5),
            transmit_delay: 1,
            passive: false,
            auth: None,
        }
    }
}

/// One prefix this router originates (from the shared origination policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Originated {
    pub prefix: Ipv6Addr,
    pub plen: u8,
    /// Prefix metric (an anycast address: its best member metric).
    pub metric: u16,
    /// An anycast address this router serves: sent with the AC bit.
    pub anycast: bool,
    /// The AOSPF interface the prefix is on (connected), if any: it goes in
    /// that link's Link-LSA too, and into the Network's prefixes when the
    /// link is a transit network.
    pub ifindex: Option<u32>,
}
