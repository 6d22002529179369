//! Counters for `anycast6ctl`: every packet or entry the core refuses is
//! counted under its reason.

use anycast6_core::auth::AuthError;
use anycast6_core::limit::Refused;

use super::packet::{DecodeError, RteErrorKind};

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub rx_packets: u64,
    pub rx_requests: u64,
    pub rx_responses: u64,
    pub tx_packets: u64,
    pub tx_requests: u64,
    pub tx_responses: u64,
    /// Periodic (unsolicited, every 30 s) update rounds.
    pub tx_periodic_updates: u64,
    /// Triggered update rounds (RFC 2080 §2.5.1).
    pub tx_triggered_updates: u64,
    /// Learned paths that timed out (180 s silence).
    pub path_timeouts: u64,
    /// Routes deleted by garbage collection.
    pub routes_garbage_collected: u64,
    pub bad_packets: BadPackets,
    pub auth_failures: AuthFailures,
    pub bad_entries: BadEntries,
    /// New routes refused by a route limit (docs/arip.md §6).
    pub refused_routes: RefusedRoutes,
    /// Route-limit crossings logged (a neighbour or all reaching the
    /// warning threshold, or the limit; once per crossing).
    pub route_limit_warnings: u64,
    pub route_limit_reached: u64,
}

/// Routes refused by a route limit, by which limit: good RTEs whose prefix
/// the neighbour holds no path for, arriving when it (or all neighbours
/// together) already hold the most allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RefusedRoutes {
    /// `max_routes_per_neighbor`.
    pub neighbor_limit: u64,
    /// `max_routes`.
    pub total_limit: u64,
}

/// Packets refused whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BadPackets {
    pub too_short: u64,
    pub length_invalid: u64,
    pub command_unknown: u64,
    pub version_invalid: u64,
    /// Response not from UDP port 521 (RFC 2080 §2.4.2).
    pub source_port: u64,
    /// Response from a non-link-local source.
    pub source_not_link_local: u64,
    /// A copy of our own multicast.
    pub source_own_address: u64,
    /// Response with a hop limit other than 255.
    pub hop_limit: u64,
    /// Arrived on an interface ARIP is not running on.
    pub interface_unknown: u64,
}

/// Packets refused by authentication (only with a keyring).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuthFailures {
    pub missing: u64,
    pub unknown_key: u64,
    pub unknown_algorithm: u64,
    pub bad_digest: u64,
    pub replay: u64,
}

/// Entries refused inside otherwise good packets.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BadEntries {
    pub prefix_len: u64,
    pub metric: u64,
    pub prefix: u64,
    pub next_hop: u64,
}

/// Why a whole packet was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Decode(DecodeError),
    SourcePort(u16),
    SourceNotLinkLocal,
    SourceOwnAddress,
    HopLimit(u8),
    InterfaceUnknown,
    Auth(AuthError),
}

impl Counters {
    pub(crate) fn count_rejection(&mut self, r: &Rejection) {
        let b = &mut self.bad_packets;
        let a = &mut self.auth_failures;
        let c = match r {
            Rejection::Decode(DecodeError::PacketTooShort(_)) => &mut b.too_short,
            Rejection::Decode(DecodeError::PacketLengthInvalid(_)) => &mut b.length_invalid,
            Rejection::Decode(DecodeError::CommandUnknown(_)) => &mut b.command_unknown,
            Rejection::Decode(DecodeError::VersionInvalid(_)) => &mut b.version_invalid,
            Rejection::SourcePort(_) => &mut b.source_port,
            Rejection::SourceNotLinkLocal => &mut b.source_not_link_local,
            Rejection::SourceOwnAddress => &mut b.source_own_address,
            Rejection::HopLimit(_) => &mut b.hop_limit,
            Rejection::InterfaceUnknown => &mut b.interface_unknown,
            Rejection::Auth(AuthError::Missing) => &mut a.missing,
            Rejection::Auth(AuthError::UnknownKey(_)) => &mut a.unknown_key,
            Rejection::Auth(AuthError::UnknownAlgorithm(_)) => &mut a.unknown_algorithm,
            Rejection::Auth(AuthError::BadDigest) => &mut a.bad_digest,
            Rejection::Auth(AuthError::Replay { .. }) => &mut a.replay,
        };
        *c += 1;
    }

    pub(crate) fn count_refused(&mut self, why: Refused) {
        match why {
            Refused::KeyLimit => self.refused_routes.neighbor_limit += 1,
            Refused::TotalLimit => self.refused_routes.total_limit += 1,
        }
    }

    pub(crate) fn count_entry(&mut self, k: &RteErrorKind) {
        let e = &mut self.bad_entries;
        let c = match k {
            RteErrorKind::PrefixLenInvalid(_) => &mut e.prefix_len,
            RteErrorKind::MetricInvalid(_) => &mut e.metric,
            RteErrorKind::PrefixInvalid(_) => &mut e.prefix,
            RteErrorKind::NextHopInvalid(_) => &mut e.next_hop,
        };
        *c += 1;
    }
}
