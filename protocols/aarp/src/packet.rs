//! AARP wire format (docs/aarp.md §3): a common header, a Query or Answer
//! body, and an optional authentication trailer. `decode` checks every
//! field a receiver relies on and says what was wrong; `encode` writes
//! every byte (reserved ones as zero).

use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::auth::DIGEST_LEN;

/// UDP port of AARP, source and destination (docs/aarp.md §2).
pub const PORT: u16 = 5360;
pub const VERSION: u8 = 1;

pub const HEADER_LEN: usize = 8;
pub const QUERY_BODY_LEN: usize = 28;
pub const ANSWER_BODY_LEN: usize = 48;
/// Key id, algorithm, reserved, sequence, digest.
pub const TRAILER_LEN: usize = 12 + DIGEST_LEN;
/// The largest message: a signed Answer (100 octets).
pub const MAX_LEN: usize = HEADER_LEN + ANSWER_BODY_LEN + TRAILER_LEN;

/// Header flag: an authentication trailer ends the message.
pub const FLAG_TRAILER: u8 = 0x80;
/// Query client flag: only a member may answer; routers forward the query.
pub const CLIENT_FLAG_MEMBER_ONLY: u16 = 0x8000;

/// Where the trailer starts when present; header offsets.
mod field {
    pub const VERSION: usize = 0;
    pub const TYPE: usize = 1;
    pub const FLAGS: usize = 2;
    pub const LENGTH: std::ops::Range<usize> = 4..6;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Query = 1,
    Answer = 2,
}

/// Who answered (docs/aarp.md §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum AnswerSource {
    /// The member itself, answering for its own unicast address.
    Member,
    /// An anycast6 router that owns A, answering with its fast path's choice.
    Router,
}

impl AnswerSource {
    fn code(self) -> u8 {
        match self {
            AnswerSource::Member => 1,
            AnswerSource::Router => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// `member` serves A.
    Ok,
    /// The responder knows A but has no member to give (member address ::).
    NoMember,
}

/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Nonce (64 bits)                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Anycast Address (16 octets)                |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |M|       Client Flags          |           Reserved            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    pub nonce: u64,
    pub anycast: Ipv6Addr,
    /// M flag: routers must not answer on the members' behalf.
    pub member_only: bool,
}

/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Nonce (64 bits)                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Anycast Address (16 octets)                |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |               Member Unicast Address (16 octets)              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Lifetime (ms)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Preference           |    Source     |    Status     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub nonce: u64,
    pub anycast: Ipv6Addr,
    /// `::` when `status` is [`Status::NoMember`].
    pub member: Ipv6Addr,
    /// Whole milliseconds up to `u32::MAX`; `encode` truncates and saturates.
    pub lifetime: Duration,
    /// Lower is preferred.
    pub preference: u16,
    pub source: AnswerSource,
    pub status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Query(Query),
    Answer(Answer),
}

impl Body {
    pub fn message_type(&self) -> MessageType {
        match self {
            Body::Query(_) => MessageType::Query,
            Body::Answer(_) => MessageType::Answer,
        }
    }
}

/// The authentication trailer (docs/aarp.md §6.1), the same 44 octets as
/// ARD's and ARIP's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub key_id: u16,
    pub algorithm: u8,
    pub seq: u64,
    pub digest: [u8; DIGEST_LEN],
}

/// One datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    pub body: Body,
    pub trailer: Option<Trailer>,
}

/// Why a datagram is not an AARP message a receiver may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0} octets: shorter than the 8-octet header")]
    HeaderTruncated(usize),
    #[error("version {0}, only 1 is known")]
    VersionUnknown(u8),
    #[error("unknown message type {0}")]
    TypeUnknown(u8),
    #[error("length field {field} but the datagram has {actual} octets")]
    LengthMismatch { field: usize, actual: usize },
    #[error("{kind:?} needs {expected} octets, the message has {actual}")]
    BodyLength {
        kind: MessageType,
        expected: usize,
        actual: usize,
    },
    #[error("{0} is not a valid anycast address")]
    AnycastInvalid(Ipv6Addr),
    #[error("{0} is not a valid member unicast address")]
    MemberInvalid(Ipv6Addr),
    #[error("a no-member answer carries member address {0} (must be ::)")]
    NoMemberAddress(Ipv6Addr),
    #[error("unknown answer source {0}")]
    SourceUnknown(u8),
    #[error("unknown answer status {0}")]
    StatusUnknown(u8),
}

/// [`DecodeError`] without its data, to count bad packets by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BadPacket {
    HeaderTruncated,
    VersionUnknown,
    TypeUnknown,
    LengthMismatch,
    BodyLength,
    AnycastInvalid,
    MemberInvalid,
    NoMemberAddress,
    SourceUnknown,
    StatusUnknown,
    /// Well formed, but a Query where an Answer was expected or vice versa.
    UnexpectedType,
    /// A Query whose destination is not the address it asks for.
    Misdirected,
}

impl DecodeError {
    pub fn reason(&self) -> BadPacket {
        match self {
            DecodeError::HeaderTruncated(_) => BadPacket::HeaderTruncated,
            DecodeError::VersionUnknown(_) => BadPacket::VersionUnknown,
            DecodeError::TypeUnknown(_) => BadPacket::TypeUnknown,
            DecodeError::LengthMismatch { .. } => BadPacket::LengthMismatch,
            DecodeError::BodyLength { .. } => BadPacket::BodyLength,
            DecodeError::AnycastInvalid(_) => BadPacket::AnycastInvalid,
            DecodeError::MemberInvalid(_) => BadPacket::MemberInvalid,
            DecodeError::NoMemberAddress(_) => BadPacket::NoMemberAddress,
            DecodeError::SourceUnknown(_) => BadPacket::SourceUnknown,
            DecodeError::StatusUnknown(_) => BadPacket::StatusUnknown,
        }
    }
}

/// An address AARP can resolve or answer with (docs/aarp.md §3.5): not
/// unspecified, multicast or IPv4-mapped. Loopback and link-local are
/// allowed (a node resolving a service on itself; link-local anycast such
/// as the Subnet-Router anycast address of fe80::/64).
pub fn address_valid(a: Ipv6Addr) -> bool {
    !(a.is_unspecified() || a.is_multicast() || a.to_ipv4_mapped().is_some())
}

/// Decodes one datagram (the UDP payload).
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::HeaderTruncated(bytes.len()));
    }
    if bytes[field::VERSION] != VERSION {
        return Err(DecodeError::VersionUnknown(bytes[field::VERSION]));
    }
    let kind = match bytes[field::TYPE] {
        1 => MessageType::Query,
        2 => MessageType::Answer,
        t => return Err(DecodeError::TypeUnknown(t)),
    };
    let length = usize::from(be16(&bytes[field::LENGTH]));
    if length != bytes.len() {
        return Err(DecodeError::LengthMismatch {
            field: length,
            actual: bytes.len(),
        });
    }
    let signed = bytes[field::FLAGS] & FLAG_TRAILER != 0;
    let body_len = match kind {
        MessageType::Query => QUERY_BODY_LEN,
        MessageType::Answer => ANSWER_BODY_LEN,
    };
    let expected = HEADER_LEN + body_len + if signed { TRAILER_LEN } else { 0 };
    if bytes.len() != expected {
        return Err(DecodeError::BodyLength {
            kind,
            expected,
            actual: bytes.len(),
        });
    }
    let b = &bytes[HEADER_LEN..HEADER_LEN + body_len];
    let body = match kind {
        MessageType::Query => Body::Query(decode_query(b)?),
        MessageType::Answer => Body::Answer(decode_answer(b)?),
    };
    let trailer = signed.then(|| decode_trailer(&bytes[HEADER_LEN + body_len..]));
    Ok(Message { body, trailer })
}

fn decode_query(b: &[u8]) -> Result<Query, DecodeError> {
    let anycast = addr(&b[8..24]);
    if !address_valid(anycast) {
        return Err(DecodeError::AnycastInvalid(anycast));
    }
    Ok(Query {
        nonce: be64(&b[0..8]),
        anycast,
        member_only: be16(&b[24..26]) & CLIENT_FLAG_MEMBER_ONLY != 0,
    })
}

fn decode_answer(b: &[u8]) -> Result<Answer, DecodeError> {
    let anycast = addr(&b[8..24]);
    if !address_valid(anycast) {
        return Err(DecodeError::AnycastInvalid(anycast));
    }
    let source = match b[46] {
        1 => AnswerSource::Member,
        2 => AnswerSource::Router,
        s => return Err(DecodeError::SourceUnknown(s)),
    };
    let status = match b[47] {
        0 => Status::Ok,
        1 => Status::NoMember,
        s => return Err(DecodeError::StatusUnknown(s)),
    };
    let member = addr(&b[24..40]);
    match status {
        Status::Ok if !address_valid(member) => return Err(DecodeError::MemberInvalid(member)),
        Status::NoMember if !member.is_unspecified() => {
            return Err(DecodeError::NoMemberAddress(member))
        }
        _ => {}
    }
    Ok(Answer {
        nonce: be64(&b[0..8]),
        anycast,
        member,
        lifetime: Duration::from_millis(u64::from(be32(&b[40..44]))),
        preference: be16(&b[44..46]),
        source,
        status,
    })
}

fn decode_trailer(t: &[u8]) -> Trailer {
    let mut digest = [0; DIGEST_LEN];
    digest.copy_from_slice(&t[12..12 + DIGEST_LEN]);
    Trailer {
        key_id: be16(&t[0..2]),
        algorithm: t[2],
        seq: be64(&t[4..12]),
        digest,
    }
}

impl Message {
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        decode(bytes)
    }

    /// Octets on the wire; equals the Length field.
    pub fn len(&self) -> usize {
        let body = match self.body {
            Body::Query(_) => QUERY_BODY_LEN,
            Body::Answer(_) => ANSWER_BODY_LEN,
        };
        HEADER_LEN
            + body
            + if self.trailer.is_some() {
                TRAILER_LEN
            } else {
                0
            }
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        out.push(VERSION);
        out.push(self.body.message_type() as u8);
        out.push(if self.trailer.is_some() {
            FLAG_TRAILER
        } else {
            0
        });
        out.push(0);
        out.extend_from_slice(&(self.len() as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        match &self.body {
            Body::Query(q) => {
                out.extend_from_slice(&q.nonce.to_be_bytes());
                out.extend_from_slice(&q.anycast.octets());
                let flags = if q.member_only {
                    CLIENT_FLAG_MEMBER_ONLY
                } else {
                    0
                };
                out.extend_from_slice(&flags.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
            Body::Answer(a) => {
                out.extend_from_slice(&a.nonce.to_be_bytes());
                out.extend_from_slice(&a.anycast.octets());
                out.extend_from_slice(&a.member.octets());
                let ms = a.lifetime.as_millis().min(u128::from(u32::MAX)) as u32;
                out.extend_from_slice(&ms.to_be_bytes());
                out.extend_from_slice(&a.preference.to_be_bytes());
                out.push(a.source.code());
                out.push(match a.status {
                    Status::Ok => 0,
                    Status::NoMember => 1,
                });
            }
        }
        if let Some(t) = &self.trailer {
            out.extend_from_slice(&t.key_id.to_be_bytes());
            out.push(t.algorithm);
            out.push(0);
            out.extend_from_slice(&t.seq.to_be_bytes());
            out.extend_from_slice(&t.digest);
        }
        debug_assert_eq!(out.len(), self.len());
        out
    }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 octets"))
}

fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 octets"))
}

fn addr(b: &[u8]) -> Ipv6Addr {
    let o: [u8; 16] = b[..16].try_into().expect("16 octets");
    Ipv6Addr::from(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn answer() -> Message {
        Message {
            body: Body::Answer(Answer {
                nonce: 7,
                anycast: ip("2001:db8:a::1"),
                member: ip("2001:db8:1::10"),
                lifetime: Duration::from_secs(30),
                preference: 5,
                source: AnswerSource::Member,
                status: Status::Ok,
            }),
            trailer: None,
        }
    }

    #[test]
    fn round_trip_and_errors() {
        let bytes = answer().encode();
        assert_eq!(bytes.len(), 56);
        assert_eq!(decode(&bytes), Ok(answer()));
        assert_eq!(decode(&bytes[..5]), Err(DecodeError::HeaderTruncated(5)));
        let mut b = bytes.clone();
        b[0] = 2;
        assert_eq!(decode(&b), Err(DecodeError::VersionUnknown(2)));
        let mut b = bytes.clone();
        b[1] = 9;
        assert_eq!(decode(&b), Err(DecodeError::TypeUnknown(9)));
        assert_eq!(
            decode(&bytes[..55]),
            Err(DecodeError::LengthMismatch {
                field: 56,
                actual: 55
            })
        );
        let mut b = bytes.clone();
        b[2] = FLAG_TRAILER;
        assert_eq!(
            decode(&b),
            Err(DecodeError::BodyLength {
                kind: MessageType::Answer,
                expected: 100,
                actual: 56
            })
        );
        let mut b = bytes.clone();
        b[8 + 8] = 0xff;
        assert!(matches!(decode(&b), Err(DecodeError::AnycastInvalid(_))));
        let mut b = bytes.clone();
        b[8 + 46] = 3;
        assert_eq!(decode(&b), Err(DecodeError::SourceUnknown(3)));
        let mut b = bytes.clone();
        b[8 + 47] = 2;
        assert_eq!(decode(&b), Err(DecodeError::StatusUnknown(2)));
        let mut b = bytes.clone();
        b[8 + 47] = 1;
        assert_eq!(
            decode(&b),
            Err(DecodeError::NoMemberAddress(ip("2001:db8:1::10")))
        );
        let mut b = bytes;
        b[8 + 24..8 + 40].fill(0);
        assert_eq!(decode(&b), Err(DecodeError::MemberInvalid(ip("::"))));
    }

    #[test]
    fn reserved_bits_are_ignored() {
        let q = Message {
            body: Body::Query(Query {
                nonce: u64::MAX,
                anycast: ip("::1"),
                member_only: true,
            }),
            trailer: None,
        };
        let mut b = q.encode();
        b[2] |= 0x7f;
        b[3] = 0xff;
        b[6] = 0xff;
        b[8 + 25] = 0x01;
        b[8 + 27] = 0xff;
        assert_eq!(decode(&b), Ok(q));
    }
}
