//! Dynamic Home Agent Address Discovery (docs/mga.md §4.6, RFC 6275 §6.5,
//! §6.6), ICMPv6 types 144 and 145:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |            Checksum           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Identifier          |            Reserved           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! .            Home Agent Addresses (Reply only, 16 each)         .
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Code is sent as 0; Code and Reserved are ignored on receipt.

use std::net::Ipv6Addr;

use super::{checksum, DecodeError, Reader, PROTO_ICMPV6};

pub const ICMP_DHAAD_REQUEST: u8 = 144;
pub const ICMP_DHAAD_REPLY: u8 = 145;
const CHECKSUM_AT: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dhaad {
    Request {
        identifier: u16,
    },
    /// The home agents of A, most preferred first.
    Reply {
        identifier: u16,
        home_agents: Vec<Ipv6Addr>,
    },
}

impl Dhaad {
    pub fn name(&self) -> &'static str {
        match self {
            Dhaad::Request { .. } => "dhaad-request",
            Dhaad::Reply { .. } => "dhaad-reply",
        }
    }

    /// Decodes the ICMPv6 message received from `src` to `dst`.
    pub fn decode(src: Ipv6Addr, dst: Ipv6Addr, bytes: &[u8]) -> Result<Dhaad, DecodeError> {
        let mut r = Reader::new(bytes);
        let t = r.u8("icmpv6.type")?;
        r.u8("icmpv6.code")?;
        let found = r.u16("icmpv6.checksum")?;
        let identifier = r.u16("dhaad.identifier")?;
        r.u16("dhaad.reserved")?;
        let computed = checksum(src, dst, PROTO_ICMPV6, bytes, CHECKSUM_AT);
        if found != computed {
            return Err(DecodeError::Checksum {
                field: "icmpv6.checksum",
                found,
                computed,
            });
        }
        match t {
            ICMP_DHAAD_REQUEST => Ok(Dhaad::Request { identifier }),
            ICMP_DHAAD_REPLY => {
                if !r.left().is_multiple_of(16) {
                    return Err(DecodeError::HomeAgents(r.left()));
                }
                let mut home_agents = Vec::with_capacity(r.left() / 16);
                while r.left() > 0 {
                    home_agents.push(r.addr("dhaad.reply.home_agents")?);
                }
                Ok(Dhaad::Reply {
                    identifier,
                    home_agents,
                })
            }
            t => Err(DecodeError::IcmpType(t)),
        }
    }

    /// The ICMPv6 message with its checksum.
    pub fn encode(&self, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
        let (t, identifier, home_agents) = match self {
            Dhaad::Request { identifier } => (ICMP_DHAAD_REQUEST, *identifier, &[][..]),
            Dhaad::Reply {
                identifier,
                home_agents,
            } => (ICMP_DHAAD_REPLY, *identifier, &home_agents[..]),
        };
        let mut b = vec![t, 0, 0, 0];
        b.extend_from_slice(&identifier.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        for a in home_agents {
            b.extend_from_slice(&a.octets());
        }
        let c = checksum(src, dst, PROTO_ICMPV6, &b, CHECKSUM_AT);
        b[CHECKSUM_AT..CHECKSUM_AT + 2].copy_from_slice(&c.to_be_bytes());
        b
    }
}
