//! What an instance counts (`anycast6ctl show piasm`): every refusal has
//! its own counter, so a hostile or broken peer shows up as a number that
//! grows.

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_hello: u64,
    pub tx_hello: u64,
    pub rx_join_prune: u64,
    pub tx_join_prune: u64,
    pub rx_joins: u64,
    pub rx_prunes: u64,
    pub tx_relays: u64,
    pub rx_shortcut_requests: u64,
    pub rx_announcements: u64,
    /// Did not decode: the decoder's reason, by counter name.
    pub bad_packets: u64,
    pub bad_checksum: u64,
    pub bad_version: u64,
    pub bad_hello: u64,
    pub bad_group: u64,
    pub bad_attribute: u64,
    pub bad_announcement: u64,
    pub bad_address: u64,
    /// A link message not from a link-local source on a PIA-SM interface,
    /// or a message where it may not come (a Hello by unicast, ...).
    pub bad_source: u64,
    pub auth_ignored: u64,
    pub auth_missing: u64,
    pub auth_unknown_key: u64,
    pub auth_unknown_algorithm: u64,
    pub auth_bad_digest: u64,
    pub auth_replay: u64,
    /// A join or prune for an anycast address not configured here.
    pub unknown_anycast: u64,
    /// A join naming another core address than the configured one.
    pub wrong_core: u64,
    /// A unicast Join/Prune whose Upstream Neighbor is not its destination.
    pub wrong_upstream: u64,
    /// An on-link Join/Prune from a router we have no Hello from.
    pub not_neighbor: u64,
    /// A relayed join not from a configured peer core, or not at a core.
    pub bad_relay: u64,
    /// A join that would make a loop (from our own upstream, or naming
    /// our own address as its end point).
    pub loops: u64,
    pub branches_refused: u64,
    pub branches_expired: u64,
    pub neighbors_refused: u64,
    pub neighbors_expired: u64,
    pub neighbor_restarts: u64,
    /// Members but no route toward the core yet.
    pub no_upstream: u64,
    /// A Shortcut Request at a router that is no core of the address.
    pub not_core: u64,
    /// A Branch Announcement nobody asked for.
    pub unrequested: u64,
    pub shortcut_seed_mismatch: u64,
}

impl Counters {
    /// Counts one refusal by the decoder's counter name.
    pub fn count(&mut self, name: &str) {
        let c = match name {
            "bad_checksum" => &mut self.bad_checksum,
            "bad_version" => &mut self.bad_version,
            "bad_hello" => &mut self.bad_hello,
            "bad_group" => &mut self.bad_group,
            "bad_attribute" => &mut self.bad_attribute,
            "bad_announcement" => &mut self.bad_announcement,
            "bad_address" => &mut self.bad_address,
            _ => &mut self.bad_packets,
        };
        *c += 1;
    }
}
