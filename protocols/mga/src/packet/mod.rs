//! MGA messages on the wire (docs/mga.md §3, §4): the Mobility Header of
//! RFC 6275 §6.1 carrying Binding Update, Acknowledgement, Error and
//! Refresh Request, their mobility options ([`option`]), and Dynamic Home
//! Agent Address Discovery over ICMPv6 ([`dhaad`]).
//!
//! [`Message::decode`] checks everything the specification refuses and
//! says which field was wrong; [`Message::encode`] writes every octet,
//! padding and checksum included (the checksum covers the IPv6
//! pseudo-header, so both take the addresses).

use std::net::Ipv6Addr;

pub mod dhaad;
mod error;
pub mod option;

pub use dhaad::Dhaad;
pub use error::DecodeError;
pub use option::{Auth, Experimental, Flow, Options};

/// IPv6 next header of the Mobility Header.
pub const PROTO_MH: u8 = 135;
/// IPv6 next header of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;
/// Payload Proto of every MGA message: no next header.
pub const NO_NEXT_HEADER: u8 = 59;

pub const MH_REFRESH_REQUEST: u8 = 0;
pub const MH_UPDATE: u8 = 5;
pub const MH_ACK: u8 = 6;
pub const MH_ERROR: u8 = 7;

/// Binding Acknowledgement Status (RFC 6275 §6.1.8) values MGA sends.
pub const STATUS_ACCEPTED: u8 = 0;
pub const STATUS_UNSPECIFIED: u8 = 128;
pub const STATUS_PROHIBITED: u8 = 129;
pub const STATUS_INSUFFICIENT_RESOURCES: u8 = 130;
pub const STATUS_SEQUENCE_OUT_OF_WINDOW: u8 = 135;
/// Binding Error Status (RFC 6275 §6.1.9).
pub const ERROR_UNKNOWN_BINDING: u8 = 1;
pub const ERROR_UNKNOWN_TYPE: u8 = 2;

/// Seconds in one unit of Lifetime and Refresh Interval.
pub const LIFETIME_UNIT_S: u32 = 4;

/// Octets before the message data: Payload Proto, Header Len, MH Type,
/// Reserved, Checksum.
pub(crate) const MH_FIXED: usize = 6;
const CHECKSUM_AT: usize = 4;

const BU_A: u16 = 0x8000;
const BU_H: u16 = 0x4000;
const BU_L: u16 = 0x2000;
const BU_K: u16 = 0x1000;
const BA_K: u8 = 0x80;

/// Binding Update (MH type 5, RFC 6275 §6.1.7):
///
/// ```text
///                                 +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///                                 |          Sequence #           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |A|H|L|K|        Reserved       |           Lifetime            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// .                        Mobility options                       .
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingUpdate {
    pub sequence: u16,
    /// A: acknowledgement asked (always, from MGA).
    pub ack: bool,
    /// H: a home registration; clear for a flow binding.
    pub home: bool,
    /// L, K: clear from MGA, kept as received.
    pub link_local: bool,
    pub key_mgmt: bool,
    /// Units of 4 s; 0 deregisters.
    pub lifetime: u16,
    pub options: Options,
}

/// Binding Acknowledgement (MH type 6, RFC 6275 §6.1.8):
///
/// ```text
///                                 +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///                                 |    Status     |K|  Reserved   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Sequence #          |           Lifetime            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// .                        Mobility options                       .
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingAck {
    pub status: u8,
    pub key_mgmt: bool,
    /// With Status 135, the last sequence number accepted.
    pub sequence: u16,
    /// Granted, units of 4 s.
    pub lifetime: u16,
    pub options: Options,
}

/// Binding Error (MH type 7, RFC 6275 §6.1.9):
///
/// ```text
///                                 +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///                                 |     Status    |   Reserved    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// +                          Home Address                         +
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// .                        Mobility options                       .
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingError {
    pub status: u8,
    /// The anycast address A.
    pub home_address: Ipv6Addr,
    pub options: Options,
}

/// Binding Refresh Request (MH type 0, RFC 6275 §6.1.2): two reserved
/// octets, then options (MGA sends none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshRequest {
    pub options: Options,
}

/// One Mobility Header message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    RefreshRequest(RefreshRequest),
    Update(BindingUpdate),
    Ack(BindingAck),
    Error(BindingError),
}

impl Message {
    pub fn name(&self) -> &'static str {
        match self {
            Message::RefreshRequest(_) => "binding-refresh-request",
            Message::Update(_) => "binding-update",
            Message::Ack(_) => "binding-ack",
            Message::Error(_) => "binding-error",
        }
    }

    pub fn mh_type(&self) -> u8 {
        match self {
            Message::RefreshRequest(_) => MH_REFRESH_REQUEST,
            Message::Update(_) => MH_UPDATE,
            Message::Ack(_) => MH_ACK,
            Message::Error(_) => MH_ERROR,
        }
    }

    pub fn options(&self) -> &Options {
        match self {
            Message::RefreshRequest(m) => &m.options,
            Message::Update(m) => &m.options,
            Message::Ack(m) => &m.options,
            Message::Error(m) => &m.options,
        }
    }

    pub fn options_mut(&mut self) -> &mut Options {
        match self {
            Message::RefreshRequest(m) => &mut m.options,
            Message::Update(m) => &mut m.options,
            Message::Ack(m) => &mut m.options,
            Message::Error(m) => &mut m.options,
        }
    }

    /// Decodes the Mobility Header received from `src` to `dst` (the
    /// checksum covers them): the whole IPv6 payload after any other
    /// extension headers.
    pub fn decode(src: Ipv6Addr, dst: Ipv6Addr, bytes: &[u8]) -> Result<Message, DecodeError> {
        let mut r = Reader::new(bytes);
        let proto = r.u8("mh.payload_proto")?;
        let header_len = r.u8("mh.header_len")?;
        let mh_type = r.u8("mh.type")?;
        r.u8("mh.reserved")?;
        let found = r.u16("mh.checksum")?;
        if (usize::from(header_len) + 1) * 8 != bytes.len() {
            return Err(DecodeError::HeaderLen {
                header_len,
                len: bytes.len(),
            });
        }
        let computed = checksum(src, dst, PROTO_MH, bytes, CHECKSUM_AT);
        if computed != found {
            return Err(DecodeError::Checksum {
                field: "mh.checksum",
                found,
                computed,
            });
        }
        if proto != NO_NEXT_HEADER {
            return Err(DecodeError::PayloadProto(proto));
        }
        let m = match mh_type {
            MH_REFRESH_REQUEST => {
                r.u16("brr.reserved")?;
                Message::RefreshRequest(RefreshRequest {
                    options: option::decode(&mut r)?,
                })
            }
            MH_UPDATE => {
                let sequence = r.u16("bu.sequence")?;
                let flags = r.u16("bu.flags")?;
                let lifetime = r.u16("bu.lifetime")?;
                Message::Update(BindingUpdate {
                    sequence,
                    ack: flags & BU_A != 0,
                    home: flags & BU_H != 0,
                    link_local: flags & BU_L != 0,
                    key_mgmt: flags & BU_K != 0,
                    lifetime,
                    options: option::decode(&mut r)?,
                })
            }
            MH_ACK => {
                let status = r.u8("ba.status")?;
                let flags = r.u8("ba.flags")?;
                let sequence = r.u16("ba.sequence")?;
                let lifetime = r.u16("ba.lifetime")?;
                Message::Ack(BindingAck {
                    status,
                    key_mgmt: flags & BA_K != 0,
                    sequence,
                    lifetime,
                    options: option::decode(&mut r)?,
                })
            }
            MH_ERROR => {
                let status = r.u8("be.status")?;
                r.u8("be.reserved")?;
                let home_address = r.addr("be.home_address")?;
                Message::Error(BindingError {
                    status,
                    home_address,
                    options: option::decode(&mut r)?,
                })
            }
            t => return Err(DecodeError::MhType(t)),
        };
        Ok(m)
    }

    /// The Mobility Header, padded to a multiple of 8 octets, Header Len
    /// and checksum written.
    pub fn encode(&self, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
        let mut b = self.encode_unchecked();
        let c = checksum(src, dst, PROTO_MH, &b, CHECKSUM_AT);
        b[CHECKSUM_AT..CHECKSUM_AT + 2].copy_from_slice(&c.to_be_bytes());
        b
    }

    /// The message with a zero checksum (what the authenticator covers).
    pub(crate) fn encode_unchecked(&self) -> Vec<u8> {
        let mut b = vec![NO_NEXT_HEADER, 0, self.mh_type(), 0, 0, 0];
        match self {
            Message::RefreshRequest(_) => b.extend_from_slice(&[0, 0]),
            Message::Update(u) => {
                let flags = [(u.ack, BU_A), (u.home, BU_H), (u.link_local, BU_L)]
                    .into_iter()
                    .chain([(u.key_mgmt, BU_K)])
                    .filter(|(on, _)| *on)
                    .fold(0, |f, (_, bit)| f | bit);
                b.extend_from_slice(&u.sequence.to_be_bytes());
                b.extend_from_slice(&flags.to_be_bytes());
                b.extend_from_slice(&u.lifetime.to_be_bytes());
            }
            Message::Ack(a) => {
                b.push(a.status);
                b.push(if a.key_mgmt { BA_K } else { 0 });
                b.extend_from_slice(&a.sequence.to_be_bytes());
                b.extend_from_slice(&a.lifetime.to_be_bytes());
            }
            Message::Error(e) => {
                b.push(e.status);
                b.push(0);
                b.extend_from_slice(&e.home_address.octets());
            }
        }
        option::encode(&mut b, self.options());
        debug_assert!(b.len().is_multiple_of(8));
        // At most 255 options' worth plus the fixed part: always < 2048.
        b[1] = (b.len() / 8 - 1) as u8;
        b
    }
}

/// The Internet checksum over the IPv6 pseudo-header (RFC 8200 §8.1,
/// next header `next`) and `msg`, whose own checksum field at `at`
/// counts as zero.
pub fn checksum(src: Ipv6Addr, dst: Ipv6Addr, next: u8, msg: &[u8], at: usize) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8], skip: Option<usize>| {
        for (i, c) in b.chunks(2).enumerate() {
            if Some(i * 2) == skip {
                continue;
            }
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&src.octets(), None);
    add(&dst.octets(), None);
    add(&(msg.len() as u32).to_be_bytes(), None);
    add(&[0, 0, 0, next], None);
    add(msg, Some(at));
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A cursor over received octets; every read names its field.
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Reader<'a> {
        Reader { b, at: 0 }
    }

    pub(crate) fn at(&self) -> usize {
        self.at
    }

    pub(crate) fn left(&self) -> usize {
        self.b.len() - self.at
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.left() < n {
            return Err(DecodeError::Truncated {
                field,
                len: self.b.len(),
            });
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        let s = self.take(2, field)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }

    pub(crate) fn addr(&mut self, field: &'static str) -> Result<Ipv6Addr, DecodeError> {
        Ok(addr(self.take(16, field)?))
    }
}

/// 16 octets as an address (callers pass exactly 16).
pub(crate) fn addr(b: &[u8]) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[..16]);
    Ipv6Addr::from(o)
}
