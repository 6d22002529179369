//! Counters shared by the router and member roles, and the one place that
//! turns a reason for dropping a datagram into a counter.

use std::net::Ipv6Addr;

use anycast6_core::auth::AuthError;

use super::packet::{is_link_local, DecodeError, RecordErrorKind, RecordType};
use super::HOP_LIMIT;

/// Why a whole datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Received hop limit was not 255: sent from off-link (GTSM).
    HopLimit(u8),
    SourceNotLinkLocal,
    InterfaceUnknown(u32),
    Decode(DecodeError),
    Auth(AuthError),
}

/// The link checks every receiver makes before decoding (docs/ard.md §5.1).
pub fn check_link(src: Ipv6Addr, hop_limit: u8) -> Result<(), Reject> {
    if hop_limit != HOP_LIMIT {
        return Err(Reject::HopLimit(hop_limit));
    }
    if !is_link_local(src) {
        return Err(Reject::SourceNotLinkLocal);
    }
    Ok(())
}

/// Dropped datagrams, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RejectCounters {
    pub hop_limit: u64,
    pub source_not_link_local: u64,
    pub interface_unknown: u64,
    pub header_truncated: u64,
    pub version_unknown: u64,
    pub type_unknown: u64,
    pub length_mismatch: u64,
    pub body_length: u64,
    pub query_address_invalid: u64,
    pub member_address_invalid: u64,
    pub auth_missing: u64,
    pub auth_unknown_key: u64,
    pub auth_unknown_algorithm: u64,
    pub auth_bad_digest: u64,
    pub auth_replay: u64,
}

impl RejectCounters {
    pub fn count(&mut self, r: Reject) {
        let c = match r {
            Reject::HopLimit(_) => &mut self.hop_limit,
            Reject::SourceNotLinkLocal => &mut self.source_not_link_local,
            Reject::InterfaceUnknown(_) => &mut self.interface_unknown,
            Reject::Decode(e) => match e {
                DecodeError::HeaderTruncated(_) => &mut self.header_truncated,
                DecodeError::VersionUnknown(_) => &mut self.version_unknown,
                DecodeError::TypeUnknown(_) => &mut self.type_unknown,
                DecodeError::LengthMismatch { .. } => &mut self.length_mismatch,
                DecodeError::BodyLength { .. } => &mut self.body_length,
                DecodeError::QueryAddressInvalid(_) => &mut self.query_address_invalid,
                DecodeError::MemberAddressInvalid(_) => &mut self.member_address_invalid,
            },
            Reject::Auth(e) => match e {
                AuthError::Missing => &mut self.auth_missing,
                AuthError::UnknownKey(_) => &mut self.auth_unknown_key,
                AuthError::UnknownAlgorithm(_) => &mut self.auth_unknown_algorithm,
                AuthError::BadDigest => &mut self.auth_bad_digest,
                AuthError::Replay { .. } => &mut self.auth_replay,
            },
        };
        *c += 1;
    }

    pub fn total(&self) -> u64 {
        let RejectCounters {
            hop_limit,
            source_not_link_local,
            interface_unknown,
            header_truncated,
            version_unknown,
            type_unknown,
            length_mismatch,
            body_length,
            query_address_invalid,
            member_address_invalid,
            auth_missing,
            auth_unknown_key,
            auth_unknown_algorithm,
            auth_bad_digest,
            auth_replay,
        } = *self;
        hop_limit
            + source_not_link_local
            + interface_unknown
            + header_truncated
            + version_unknown
            + type_unknown
            + length_mismatch
            + body_length
            + query_address_invalid
            + member_address_invalid
            + auth_missing
            + auth_unknown_key
            + auth_unknown_algorithm
            + auth_bad_digest
            + auth_replay
    }
}

/// Report records left out, by reason (the rest of their Report counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecordErrorCounters {
    pub anycast_address_invalid: u64,
    pub metric_invalid: u64,
    pub type_unknown: u64,
    pub address_duplicate: u64,
    /// Router only: the interface already holds `max_addresses_per_interface`
    /// entries.
    pub table_full: u64,
    /// Router only: the member already holds `max_addresses_per_member`.
    pub member_limit: u64,
    /// Router only: all members together hold `max_addresses`.
    pub total_limit: u64,
}

impl RecordErrorCounters {
    pub fn count(&mut self, k: RecordErrorKind) {
        match k {
            RecordErrorKind::AnycastAddressInvalid => self.anycast_address_invalid += 1,
            RecordErrorKind::MetricInvalid(_) => self.metric_invalid += 1,
            RecordErrorKind::TypeUnknown(_) => self.type_unknown += 1,
            RecordErrorKind::AddressDuplicate => self.address_duplicate += 1,
        }
    }
}

/// Everything an ARD role counts (the router-only fields stay 0 on a
/// member). Serialised as is by the management API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub rx_query: u64,
    pub rx_report: u64,
    pub tx_query: u64,
    pub tx_report: u64,
    pub rx_records_current: u64,
    pub rx_records_change: u64,
    pub rx_records_leave: u64,
    pub tx_records_leave: u64,
    /// Signed datagrams accepted unchecked because no key is configured.
    pub rx_auth_ignored: u64,
    pub rx_auth_verified: u64,
    pub rejected: RejectCounters,
    pub record_errors: RecordErrorCounters,
    /// Router: RIB upserts and withdrawals emitted.
    pub rib_upserts: u64,
    pub rib_withdrawals: u64,
    /// Router: addresses withdrawn because their hold time ran out.
    pub expired: u64,
    /// Router: addresses withdrawn by a Leave record or a complete Report
    /// that no longer lists them.
    pub left: u64,
    /// Router: address-limit crossings logged (warning threshold, limit;
    /// once per crossing).
    pub limit_warnings: u64,
    pub limit_reached: u64,
}

impl Counters {
    pub fn count_record(&mut self, kind: RecordType) {
        match kind {
            RecordType::Current => self.rx_records_current += 1,
            RecordType::Change => self.rx_records_change += 1,
            RecordType::Leave => self.rx_records_leave += 1,
        }
    }
}
