//! What an instance counts (`anycast6ctl show aospf`).

/// Every refusal has its own counter, so a hostile or broken peer shows
/// up as a number that grows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_hello: u64,
    pub rx_dd: u64,
    pub rx_ls_request: u64,
    pub rx_ls_update: u64,
    pub rx_ls_ack: u64,
    /// Did not decode (the reason is logged).
    pub bad_packets: u64,
    /// Packet checksum wrong (unauthenticated packets only).
    pub bad_checksum: u64,
    /// Not from a link-local source, or to an address we do not listen on.
    pub bad_source: u64,
    /// Area ID not ours.
    pub wrong_area: u64,
    /// Instance ID not ours (silently ignored, RFC 5340 §4.2.2).
    pub wrong_instance: u64,
    /// Hello whose intervals, or network options, differ from ours.
    pub hello_mismatch: u64,
    /// Database Description with an interface MTU above ours.
    pub mtu_mismatch: u64,
    /// From a router id that is ours.
    pub own_router_id: u64,
    /// Authentication configured: no trailer, unknown key or bad digest.
    pub auth_failures: u64,
    /// Authentication configured: sequence number not above the last.
    pub auth_replays: u64,
    /// LSAs refused: bad LSA checksum.
    pub bad_lsa_checksum: u64,
    /// LSAs refused: the database is full (`max_lsas`).
    pub lsas_refused: u64,
    /// LSAs received within MinLSArrival of the previous instance.
    pub lsas_too_soon: u64,
    /// DD / LS Request / Update from a neighbour in a state that refuses them.
    pub bad_state: u64,
    pub spf_runs: u64,
    /// Prefix-only changes routed over the last tree, without SPF.
    pub prefix_updates: u64,
    pub lsas_originated: u64,
    pub retransmissions: u64,
    /// Graceful restarts we announced (Grace-LSAs sent before exiting).
    pub gr_restarts: u64,
    /// Restarts that ended with every old adjacency Full again (not by
    /// the grace period running out).
    pub gr_completed: u64,
    /// Times we became helper for a restarting neighbour.
    pub gr_helped: u64,
}
