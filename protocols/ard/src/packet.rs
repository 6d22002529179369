//! ARD wire format (docs/ard.md §3): owned PDUs, `decode` and `encode`.
//!
//! Every message is one UDP datagram: an 8-octet header, a body that depends
//! on the type, and, when the A flag is set, a 44-octet authentication
//! trailer (see [`super::auth`] for the digest). All integers are big-endian.
//!
//! A Report's records are checked one by one: a bad record is collected in
//! [`Decoded::record_errors`] and left out of [`Report::records`], the rest
//! of the message still counts.

use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::auth::DIGEST_LEN;

/// Protocol version carried in every header.
pub const VERSION: u8 = 1;

/// Header length in octets.
pub const HEADER_LEN: usize = 8;
/// Query body length in octets.
pub const QUERY_BODY_LEN: usize = 32;
/// Fixed part of a Report body (hold time, member unicast, count, reserved).
pub const REPORT_FIXED_LEN: usize = 24;
/// One Report record.
pub const RECORD_LEN: usize = 24;
/// Authentication trailer length.
pub const TRAILER_LEN: usize = 12 + DIGEST_LEN;

/// Most records one Report carries: keeps a signed Report inside the IPv6
/// minimum MTU (1280 - 40 IPv6 - 8 UDP - 8 header - 24 fixed - 44 trailer
/// = 1156 octets, 48 records).
pub const MAX_RECORDS: usize = 48;

/// Largest metric; `0xffff_ffff` is reserved (a record carrying it is bad).
pub const METRIC_MAX: u32 = 0xffff_fffe;

/// Header flag: an authentication trailer ends the message.
pub const FLAG_AUTH: u8 = 0x80;
/// Header flag (Report): the records list every address the member serves.
pub const FLAG_COMPLETE: u8 = 0x40;
/// Record flag: the member is draining this address (keeps flows, no new ones).
pub const RECORD_FLAG_DRAINING: u8 = 0x80;

/// Header field offsets.
mod field {
    pub const VERSION: usize = 0;
    pub const TYPE: usize = 1;
    pub const FLAGS: usize = 2;
    pub const LENGTH: std::ops::Range<usize> = 4..6;
}

/// Message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    Query = 1,
    Report = 2,
}

impl MessageType {
    pub fn from_u8(v: u8) -> Option<MessageType> {
        match v {
            1 => Some(MessageType::Query),
            2 => Some(MessageType::Report),
            _ => None,
        }
    }
}

/// Why a message could not be decoded at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message of {0} octets is shorter than its header")]
    HeaderTruncated(usize),
    #[error("unknown version {0}")]
    VersionUnknown(u8),
    #[error("unknown message type {0}")]
    TypeUnknown(u8),
    #[error("length field says {field} octets, datagram has {actual}")]
    LengthMismatch { field: usize, actual: usize },
    #[error("{kind:?} body needs {needed} octets, has {actual}")]
    BodyLength {
        kind: MessageType,
        needed: usize,
        actual: usize,
    },
    #[error("query for {0}, which is no valid anycast address")]
    QueryAddressInvalid(Ipv6Addr),
    #[error("member unicast address {0} is no global unicast address")]
    MemberAddressInvalid(Ipv6Addr),
}

/// What was wrong with one Report record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordErrorKind {
    /// Unspecified, loopback, multicast, link-local or IPv4-mapped.
    AnycastAddressInvalid,
    /// The reserved metric 0xffff_ffff.
    MetricInvalid(u32),
    TypeUnknown(u8),
    /// The address appeared in an earlier record of the same Report.
    AddressDuplicate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordError {
    /// Position of the record in the message (0-based).
    pub index: usize,
    pub anycast: Ipv6Addr,
    pub kind: RecordErrorKind,
}

/// Query (type 1), docs/ard.md §3.2.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Maximum Response Delay (ms)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Maximum Hold Time (ms)                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Query Interval (ms)                      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Robustness   |                   Reserved                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                 Anycast Address (:: = general)                +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub max_response_delay: Duration,
    /// The longest hold time the router honours (0: no limit).
    pub max_hold: Duration,
    pub query_interval: Duration,
    pub robustness: u8,
    /// `None`: general query; `Some`: only members serving it answer.
    pub anycast: Option<Ipv6Addr>,
}

/// Report record types (MLDv2's current-state / state-change split).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[repr(u8)]
pub enum RecordType {
    /// The member serves the address (periodic or query answer).
    Current = 1,
    /// The member started serving it or changed its metric or flags.
    Change = 2,
    /// The member stopped serving it: withdraw now.
    Leave = 3,
}

impl RecordType {
    pub fn from_u8(v: u8) -> Option<RecordType> {
        match v {
            1 => Some(RecordType::Current),
            2 => Some(RecordType::Change),
            3 => Some(RecordType::Leave),
            _ => None,
        }
    }

    pub fn serves(self) -> bool {
        !matches!(self, RecordType::Leave)
    }
}

/// One record of a Report.
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Record Type  |D|   Flags     |           Reserved            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                            Metric                             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                        Anycast Address                        +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub kind: RecordType,
    pub draining: bool,
    /// Lower is preferred. 0..=[`METRIC_MAX`]; 0 in Leave records.
    pub metric: u32,
    pub anycast: Ipv6Addr,
}

/// Report (type 2), docs/ard.md §3.3. Flag C in the header: `complete`.
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Hold Time (ms)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +                Member Unicast Address (global)                +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Number of Records        |           Reserved            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Record [1] .. Record [N]                     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub hold_time: Duration,
    pub member_unicast: Ipv6Addr,
    pub complete: bool,
    pub records: Vec<Record>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Query(Query),
    Report(Report),
}

impl Message {
    pub fn kind(&self) -> MessageType {
        match self {
            Message::Query(_) => MessageType::Query,
            Message::Report(_) => MessageType::Report,
        }
    }
}

/// Authentication trailer (docs/ard.md §6).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            Key ID             |   Algorithm   |   Reserved    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   Sequence Number (64 bits)                   |
/// +                                                               +
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Digest (32 octets, HMAC-SHA-256)              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthTrailer {
    pub key_id: u16,
    pub algorithm: u8,
    pub seq: u64,
    pub digest: [u8; DIGEST_LEN],
}

/// A whole datagram: a message and its trailer, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub message: Message,
    pub auth: Option<AuthTrailer>,
}

/// The result of [`Packet::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub packet: Packet,
    /// Report records left out of the message, each with its reason.
    pub record_errors: Vec<RecordError>,
}

/// Whether `a` may be announced as an anycast address: not unspecified,
/// loopback, multicast, link-local (fe80::/10) or IPv4-mapped.
pub fn anycast_valid(a: Ipv6Addr) -> bool {
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || is_link_local(a)
        || a.to_ipv4_mapped().is_some())
}

/// fe80::/10.
pub fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

fn ms(d: Duration) -> u32 {
    d.as_millis().min(u32::MAX as u128) as u32
}

fn addr_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(o)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

impl Packet {
    /// Decodes one datagram. The length field must match the datagram.
    pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::HeaderTruncated(bytes.len()));
        }
        let version = bytes[field::VERSION];
        if version != VERSION {
            return Err(DecodeError::VersionUnknown(version));
        }
        let kind = MessageType::from_u8(bytes[field::TYPE])
            .ok_or(DecodeError::TypeUnknown(bytes[field::TYPE]))?;
        let flags = bytes[field::FLAGS];
        let length = u16_at(bytes, field::LENGTH.start) as usize;
        if length != bytes.len() {
            return Err(DecodeError::LengthMismatch {
                field: length,
                actual: bytes.len(),
            });
        }
        let has_auth = flags & FLAG_AUTH != 0;
        let body_end = if has_auth {
            bytes
                .len()
                .checked_sub(TRAILER_LEN)
                .filter(|&e| e >= HEADER_LEN)
                .ok_or(DecodeError::BodyLength {
                    kind,
                    needed: HEADER_LEN + TRAILER_LEN,
                    actual: bytes.len(),
                })?
        } else {
            bytes.len()
        };
        let body = &bytes[HEADER_LEN..body_end];
        let mut record_errors = Vec::new();
        let message = match kind {
            MessageType::Query => Message::Query(decode_query(body)?),
            MessageType::Report => Message::Report(decode_report(body, flags, &mut record_errors)?),
        };
        let auth = has_auth.then(|| {
            let t = &bytes[body_end..];
            let mut digest = [0u8; DIGEST_LEN];
            digest.copy_from_slice(&t[12..]);
            AuthTrailer {
                key_id: u16_at(t, 0),
                algorithm: t[2],
                seq: u64::from_be_bytes(t[4..12].try_into().expect("8 octets")),
                digest,
            }
        });
        Ok(Decoded {
            packet: Packet { message, auth },
            record_errors,
        })
    }

    /// Encodes the packet as it stands (a trailer's digest is copied, not
    /// computed: use [`super::auth::sign`] to sign).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        let mut flags = 0;
        if self.auth.is_some() {
            flags |= FLAG_AUTH;
        }
        if let Message::Report(r) = &self.message {
            if r.complete {
                flags |= FLAG_COMPLETE;
            }
        }
        out.extend_from_slice(&[VERSION, self.message.kind() as u8, flags, 0]);
        let len = u16::try_from(self.encoded_len()).expect("ARD message above 64 KiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        match &self.message {
            Message::Query(q) => {
                out.extend_from_slice(&ms(q.max_response_delay).to_be_bytes());
                out.extend_from_slice(&ms(q.max_hold).to_be_bytes());
                out.extend_from_slice(&ms(q.query_interval).to_be_bytes());
                out.extend_from_slice(&[q.robustness, 0, 0, 0]);
                out.extend_from_slice(&q.anycast.unwrap_or(Ipv6Addr::UNSPECIFIED).octets());
            }
            Message::Report(r) => {
                out.extend_from_slice(&ms(r.hold_time).to_be_bytes());
                out.extend_from_slice(&r.member_unicast.octets());
                let n = u16::try_from(r.records.len()).expect("record count above 65535");
                out.extend_from_slice(&n.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                for rec in &r.records {
                    let f = if rec.draining {
                        RECORD_FLAG_DRAINING
                    } else {
                        0
                    };
                    out.extend_from_slice(&[rec.kind as u8, f, 0, 0]);
                    out.extend_from_slice(&rec.metric.to_be_bytes());
                    out.extend_from_slice(&rec.anycast.octets());
                }
            }
        }
        if let Some(t) = &self.auth {
            out.extend_from_slice(&t.key_id.to_be_bytes());
            out.extend_from_slice(&[t.algorithm, 0]);
            out.extend_from_slice(&t.seq.to_be_bytes());
            out.extend_from_slice(&t.digest);
        }
        debug_assert_eq!(out.len(), self.encoded_len());
        out
    }

    pub fn encoded_len(&self) -> usize {
        let body = match &self.message {
            Message::Query(_) => QUERY_BODY_LEN,
            Message::Report(r) => REPORT_FIXED_LEN + RECORD_LEN * r.records.len(),
        };
        HEADER_LEN + body + if self.auth.is_some() { TRAILER_LEN } else { 0 }
    }
}

fn decode_query(body: &[u8]) -> Result<Query, DecodeError> {
    if body.len() != QUERY_BODY_LEN {
        return Err(DecodeError::BodyLength {
            kind: MessageType::Query,
            needed: QUERY_BODY_LEN,
            actual: body.len(),
        });
    }
    let addr = addr_at(body, 16);
    let anycast = if addr.is_unspecified() {
        None
    } else if anycast_valid(addr) {
        Some(addr)
    } else {
        return Err(DecodeError::QueryAddressInvalid(addr));
    };
    Ok(Query {
        max_response_delay: Duration::from_millis(u32_at(body, 0).into()),
        max_hold: Duration::from_millis(u32_at(body, 4).into()),
        query_interval: Duration::from_millis(u32_at(body, 8).into()),
        robustness: body[12],
        anycast,
    })
}

/// A member's unicast address must be global (or unique-local) unicast.
pub fn member_unicast_valid(a: Ipv6Addr) -> bool {
    anycast_valid(a)
}

fn decode_report(
    body: &[u8],
    flags: u8,
    errors: &mut Vec<RecordError>,
) -> Result<Report, DecodeError> {
    if body.len() < REPORT_FIXED_LEN {
        return Err(DecodeError::BodyLength {
            kind: MessageType::Report,
            needed: REPORT_FIXED_LEN,
            actual: body.len(),
        });
    }
    let count = u16_at(body, 20) as usize;
    let needed = REPORT_FIXED_LEN + count * RECORD_LEN;
    if body.len() != needed {
        return Err(DecodeError::BodyLength {
            kind: MessageType::Report,
            needed,
            actual: body.len(),
        });
    }
    let member_unicast = addr_at(body, 4);
    if !member_unicast_valid(member_unicast) {
        return Err(DecodeError::MemberAddressInvalid(member_unicast));
    }
    let mut records: Vec<Record> = Vec::with_capacity(count);
    for index in 0..count {
        let r = &body[REPORT_FIXED_LEN + index * RECORD_LEN..][..RECORD_LEN];
        let anycast = addr_at(r, 8);
        let metric = u32_at(r, 4);
        let mut fail = |kind| {
            errors.push(RecordError {
                index,
                anycast,
                kind,
            })
        };
        let Some(kind) = RecordType::from_u8(r[0]) else {
            fail(RecordErrorKind::TypeUnknown(r[0]));
            continue;
        };
        if !anycast_valid(anycast) {
            fail(RecordErrorKind::AnycastAddressInvalid);
            continue;
        }
        if metric > METRIC_MAX {
            fail(RecordErrorKind::MetricInvalid(metric));
            continue;
        }
        if records.iter().any(|x| x.anycast == anycast) {
            fail(RecordErrorKind::AddressDuplicate);
            continue;
        }
        records.push(Record {
            kind,
            draining: r[1] & RECORD_FLAG_DRAINING != 0,
            metric,
            anycast,
        });
    }
    Ok(Report {
        hold_time: Duration::from_millis(u32_at(body, 0).into()),
        member_unicast,
        complete: flags & FLAG_COMPLETE != 0,
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(records: Vec<Record>) -> Packet {
        Packet {
            message: Message::Report(Report {
                hold_time: Duration::from_millis(300),
                member_unicast: "2001:db8::10".parse().unwrap(),
                complete: true,
                records,
            }),
            auth: None,
        }
    }

    fn rec(a: &str, metric: u32) -> Record {
        Record {
            kind: RecordType::Current,
            draining: false,
            metric,
            anycast: a.parse().unwrap(),
        }
    }

    #[test]
    fn bad_records_are_collected_and_the_rest_kept() {
        let bytes = report(vec![
            rec("2001:db8:a::1", 5),
            rec("ff02::1", 5),
            rec("fe80::1", 5),
            rec("::", 5),
            rec("2001:db8:a::2", u32::MAX),
            rec("2001:db8:a::1", 7),
            rec("2001:db8:a::3", 0),
        ])
        .encode();
        let mut bytes = bytes;
        // Record 6 gets an unknown type.
        bytes[HEADER_LEN + REPORT_FIXED_LEN + 6 * RECORD_LEN] = 9;
        let d = Packet::decode(&bytes).unwrap();
        let kinds: Vec<_> = d.record_errors.iter().map(|e| (e.index, e.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                (1, RecordErrorKind::AnycastAddressInvalid),
                (2, RecordErrorKind::AnycastAddressInvalid),
                (3, RecordErrorKind::AnycastAddressInvalid),
                (4, RecordErrorKind::MetricInvalid(u32::MAX)),
                (5, RecordErrorKind::AddressDuplicate),
                (6, RecordErrorKind::TypeUnknown(9)),
            ]
        );
        let Message::Report(r) = d.packet.message else {
            panic!("not a report")
        };
        assert_eq!(r.records, vec![rec("2001:db8:a::1", 5)]);
    }

    #[test]
    fn whole_message_errors() {
        assert_eq!(
            Packet::decode(&[1, 1, 0]),
            Err(DecodeError::HeaderTruncated(3))
        );
        assert_eq!(
            Packet::decode(&[2, 1, 0, 0, 0, 8, 0, 0]),
            Err(DecodeError::VersionUnknown(2))
        );
        assert_eq!(
            Packet::decode(&[1, 7, 0, 0, 0, 8, 0, 0]),
            Err(DecodeError::TypeUnknown(7))
        );
        assert_eq!(
            Packet::decode(&[1, 1, 0, 0, 0, 9, 0, 0]),
            Err(DecodeError::LengthMismatch {
                field: 9,
                actual: 8
            })
        );
        let mut b = report(vec![]).encode();
        b[HEADER_LEN + 4] = 0xff; // member unicast ff00::
        assert!(matches!(
            Packet::decode(&b),
            Err(DecodeError::MemberAddressInvalid(_))
        ));
        let mut b = report(vec![rec("2001:db8::1", 1)]).encode();
        b[HEADER_LEN + 21] = 2; // count 2, one record present
        assert!(matches!(
            Packet::decode(&b),
            Err(DecodeError::BodyLength { needed: 72, .. })
        ));
        // A flag set but too short for a trailer.
        let mut b = report(vec![]).encode();
        b[2] |= FLAG_AUTH;
        assert!(matches!(
            Packet::decode(&b),
            Err(DecodeError::BodyLength { .. })
        ));
    }
}
