//! Why a Mobility Header or DHAAD message was refused; each variant names
//! the field, and [`DecodeError::counter`] the counter of docs/mga.md §3,
//! §4 it goes to.

/// What was wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{field}: message ends at octet {len}")]
    Truncated { field: &'static str, len: usize },
    #[error("mh.header_len {header_len} means {} octets, the payload has {len}", (usize::from(*header_len) + 1) * 8)]
    HeaderLen { header_len: u8, len: usize },
    #[error("mh.payload_proto {0}, not 59 (no next header)")]
    PayloadProto(u8),
    #[error("{field}: checksum {found:#06x}, computed {computed:#06x}")]
    Checksum {
        field: &'static str,
        found: u16,
        computed: u16,
    },
    #[error("mh.type {0} is not one MGA accepts")]
    MhType(u8),
    #[error("option {option} at octet {at}: {field} runs past the message")]
    OptionCut {
        option: u8,
        field: &'static str,
        at: usize,
    },
    #[error("option {option} length {len}, not {want}")]
    OptionLength {
        option: u8,
        len: u8,
        want: &'static str,
    },
    #[error("option {0} twice")]
    OptionRepeated(u8),
    #[error("option {0} after option 9 (authentication), which must be last")]
    OptionAfterAuth(u8),
    #[error("option 22 prefix length {0}, MGA needs 128")]
    PrefixLength(u8),
    #[error("option 18 magic {0:#04x}, not 0xa6")]
    ExperimentalMagic(u8),
    #[error("option 18 version {0}, not 1")]
    ExperimentalVersion(u8),
    #[error("option 18 sub-option {sub_type} of {len} octets runs past the option")]
    SubOptionCut { sub_type: u8, len: usize },
    #[error("option 18 sub-option {sub_type} length {len}, not {want}")]
    SubOptionLength { sub_type: u8, len: u8, want: u8 },
    #[error("option 18 sub-option {0} twice")]
    SubOptionRepeated(u8),
    #[error("icmpv6.type {0} is not 144 or 145 (DHAAD)")]
    IcmpType(u8),
    #[error("dhaad.reply.home_agents: {0} octets, not a whole number of addresses")]
    HomeAgents(usize),
}

impl DecodeError {
    /// The counter a refusal goes to (docs/mga.md §3, §4).
    pub fn counter(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. }
            | DecodeError::HeaderLen { .. }
            | DecodeError::HomeAgents(_) => "bad_length",
            DecodeError::PayloadProto(_) | DecodeError::IcmpType(_) => "bad_header",
            DecodeError::Checksum { .. } => "bad_checksum",
            DecodeError::MhType(_) => "unknown_type",
            DecodeError::OptionCut { .. }
            | DecodeError::OptionLength { .. }
            | DecodeError::OptionRepeated(_)
            | DecodeError::OptionAfterAuth(_)
            | DecodeError::PrefixLength(_)
            | DecodeError::ExperimentalMagic(_)
            | DecodeError::ExperimentalVersion(_)
            | DecodeError::SubOptionCut { .. }
            | DecodeError::SubOptionLength { .. }
            | DecodeError::SubOptionRepeated(_) => "bad_option",
        }
    }
}
