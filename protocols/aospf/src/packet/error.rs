//! What [`super::Packet::decode`] refuses, naming the field at fault.

/// Why a packet (or an LSA inside one) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("packet shorter than the 16-octet OSPFv3 header ({0} octets)")]
    HeaderTruncated(usize),
    #[error("version {0}, not 3")]
    BadVersion(u8),
    #[error("unknown packet type {0}")]
    UnknownType(u8),
    #[error("packet length field {header} does not fit the {actual} octets received")]
    LengthMismatch { header: u16, actual: usize },
    #[error("{kind} body truncated")]
    BodyTruncated { kind: &'static str },
    #[error("{kind} body: {len} octets is not a whole number of entries")]
    BodyLength { kind: &'static str, len: usize },
    #[error("LSA truncated (header or length field runs past the packet)")]
    LsaTruncated,
    #[error("LSA length field {0} is shorter than the 20-octet LSA header")]
    LsaLength(u16),
    #[error("LS Update announces {announced} LSAs, carries {found}")]
    LsaCount { announced: u32, found: usize },
    #[error("LSA type {ls_type:#06x}: body malformed ({what})")]
    LsaBody { ls_type: u16, what: &'static str },
    #[error("prefix length {0} is longer than 128")]
    PrefixLength(u8),
    #[error("prefix truncated")]
    PrefixTruncated,
    #[error("authentication trailer truncated ({0} octets after the packet)")]
    TrailerTruncated(usize),
    #[error("authentication trailer type {0}, not 1 (HMAC)")]
    TrailerType(u16),
    #[error("authentication trailer length field {header} does not fit the {actual} octets after the packet")]
    TrailerLength { header: u16, actual: usize },
}
