//! Neighbours: routers heard on an interface (RFC 2080 has no neighbour
//! state; this exists for counters, `show`, and to forget replay state).

use std::net::Ipv6Addr;

use anycast6_core::Instant;

#[derive(Debug, Clone)]
pub(crate) struct Neighbor {
    pub ifindex: u32,
    pub addr: Ipv6Addr,
    pub last_heard: Instant,
    pub rx_responses: u64,
    pub rx_requests: u64,
    pub bad_packets: u64,
    pub bad_entries: u64,
    /// Last sequence number accepted, when packets are signed.
    pub last_seq: Option<u64>,
}

impl Neighbor {
    pub fn new(ifindex: u32, addr: Ipv6Addr, now: Instant) -> Neighbor {
        Neighbor {
            ifindex,
            addr,
            last_heard: now,
            rx_responses: 0,
            rx_requests: 0,
            bad_packets: 0,
            bad_entries: 0,
            last_seq: None,
        }
    }
}
