//! Wire format: OSPFv3 packets (RFC 5340 A.3), LSAs (A.4, in [`lsa`]) and
//! the authentication trailer (RFC 7166, in [`auth`]).
//!
//! [`Packet::decode`] takes the IPv6 payload as received (OSPFv3 packet,
//! then an authentication trailer when there is one) and returns an owned
//! PDU; [`Packet::encode`] writes every octet of the OSPFv3 packet. The
//! packet checksum is the kernel's job (a raw socket with IPV6_CHECKSUM at
//! offset 12, as control/src/daemon/link.rs does), so the encoder writes
//! whatever [`Header::checksum`] holds; [`checksum`] computes the real one
//! over the IPv6 pseudo-header for tests and captures.

pub mod auth;
pub mod error;
pub mod lsa;

use std::net::{Ipv4Addr, Ipv6Addr};

pub use auth::AuthTrailer;
pub use error::DecodeError;
pub use lsa::{Lsa, LsaBody, LsaHeader, LsaType};

/// IPv6 next header of OSPF.
pub const PROTOCOL: u8 = 89;
/// AllSPFRouters and AllDRouters (RFC 5340 A.1).
pub const ALL_SPF_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 5);
pub const ALL_D_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 6);
pub const VERSION: u8 = 3;
pub const HEADER_LEN: usize = 16;
/// Offset of the packet checksum (what IPV6_CHECKSUM is told).
pub const CHECKSUM_OFFSET: usize = 12;
const HELLO_LEN: usize = 20;
const DD_LEN: usize = 12;
const LSR_ENTRY_LEN: usize = 12;

/// The 24-bit Options field (RFC 5340 A.2, plus the L bit of RFC 5613 and
/// the AT bit of RFC 7166). Kept whole: unknown bits pass through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Options(pub u32);

impl Options {
    pub const V6: u32 = 0x01;
    pub const E: u32 = 0x02;
    pub const N: u32 = 0x08;
    pub const R: u32 = 0x10;
    pub const DC: u32 = 0x20;
    /// Address families (RFC 5838).
    pub const AF: u32 = 0x100;
    /// Link-local signalling (RFC 5613).
    pub const L: u32 = 0x200;
    /// Authentication trailer present (RFC 7166 §3).
    pub const AT: u32 = 0x400;

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }
}

/// Packet types (RFC 5340 A.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PacketType {
    Hello = 1,
    DbDesc = 2,
    LsRequest = 3,
    LsUpdate = 4,
    LsAck = 5,
}

/// The OSPFv3 packet header (RFC 5340 A.3.1).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Version # = 3 |     Type    |         Packet length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Router ID                             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Area ID                              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Checksum             |  Instance ID  |      0        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// Version, type and length are not stored: the version is always 3, the
/// type is the body's, the length is computed. The packet length does not
/// count the authentication trailer (RFC 7166 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Header {
    pub router_id: Ipv4Addr,
    pub area_id: Ipv4Addr,
    /// As received; the encoder writes it unchanged (see module notes).
    pub checksum: u16,
    pub instance_id: u8,
}

/// An OSPFv3 packet with its authentication trailer, if any.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Packet {
    pub header: Header,
    pub body: Body,
    pub trailer: Option<AuthTrailer>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Body {
    Hello(Hello),
    DbDesc(DbDesc),
    LsRequest(Vec<LsRequest>),
    LsUpdate(Vec<Lsa>),
    LsAck(Vec<LsaHeader>),
}

/// Hello (RFC 5340 A.3.2).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        Interface ID                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Rtr Priority  |             Options                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |        HelloInterval          |       RouterDeadInterval      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   Designated Router ID                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                Backup Designated Router ID                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Neighbor ID                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        ...                                    |
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hello {
    pub interface_id: u32,
    pub priority: u8,
    pub options: Options,
    pub hello_interval: u16,
    pub dead_interval: u16,
    pub dr: Ipv4Addr,
    pub bdr: Ipv4Addr,
    pub neighbors: Vec<Ipv4Addr>,
}

/// Database Description flags (RFC 5340 A.3.3).
pub const DD_MS: u8 = 0x01;
pub const DD_M: u8 = 0x02;
pub const DD_I: u8 = 0x04;

/// Database Description (RFC 5340 A.3.3).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |       0       |               Options                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |        Interface MTU          |      0        |0|0|0|0|0|I|M|MS
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    DD sequence number                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ~                      An LSA Header                            ~
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       ...                                     |
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DbDesc {
    pub options: Options,
    pub mtu: u16,
    /// I, M, MS; the reserved bits are kept as received.
    pub flags: u8,
    pub seq: u32,
    pub headers: Vec<LsaHeader>,
}

/// One Link State Request entry (RFC 5340 A.3.4).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |              0                |        LS Type                |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Link State ID                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Advertising Router                      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct LsRequest {
    pub ls_type: LsaType,
    pub id: Ipv4Addr,
    pub adv_router: Ipv4Addr,
}

impl Body {
    pub fn packet_type(&self) -> PacketType {
        match self {
            Body::Hello(_) => PacketType::Hello,
            Body::DbDesc(_) => PacketType::DbDesc,
            Body::LsRequest(_) => PacketType::LsRequest,
            Body::LsUpdate(_) => PacketType::LsUpdate,
            Body::LsAck(_) => PacketType::LsAck,
        }
    }

    fn decode(t: u8, b: &[u8]) -> Result<Body, DecodeError> {
        let whole = |kind: &'static str, len: usize| -> Result<(), DecodeError> {
            if !b.len().is_multiple_of(len) {
                return Err(DecodeError::BodyLength { kind, len: b.len() });
            }
            Ok(())
        };
        Ok(match t {
            1 => {
                if b.len() < HELLO_LEN {
                    return Err(DecodeError::BodyTruncated { kind: "Hello" });
                }
                whole("Hello", 4)?;
                Body::Hello(Hello {
                    interface_id: get_u32(b, 0),
                    priority: b[4],
                    options: Options(get_u24(b, 5)),
                    hello_interval: get_u16(b, 8),
                    dead_interval: get_u16(b, 10),
                    dr: Ipv4Addr::from(get_u32(b, 12)),
                    bdr: Ipv4Addr::from(get_u32(b, 16)),
                    neighbors: b[HELLO_LEN..]
                        .chunks_exact(4)
                        .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                        .collect(),
                })
            }
            2 => {
                if b.len() < DD_LEN {
                    return Err(DecodeError::BodyTruncated {
                        kind: "Database Description",
                    });
                }
                if !(b.len() - DD_LEN).is_multiple_of(lsa::LSA_HEADER_LEN) {
                    return Err(DecodeError::BodyLength {
                        kind: "Database Description",
                        len: b.len(),
                    });
                }
                Body::DbDesc(DbDesc {
                    options: Options(get_u24(b, 1)),
                    mtu: get_u16(b, 4),
                    flags: b[7],
                    seq: get_u32(b, 8),
                    headers: lsa_headers(&b[DD_LEN..])?,
                })
            }
            3 => {
                whole("Link State Request", LSR_ENTRY_LEN)?;
                Body::LsRequest(
                    b.chunks_exact(LSR_ENTRY_LEN)
                        .map(|c| LsRequest {
                            ls_type: LsaType(get_u16(c, 2)),
                            id: Ipv4Addr::from(get_u32(c, 4)),
                            adv_router: Ipv4Addr::from(get_u32(c, 8)),
                        })
                        .collect(),
                )
            }
            4 => {
                if b.len() < 4 {
                    return Err(DecodeError::BodyTruncated {
                        kind: "Link State Update",
                    });
                }
                let announced = get_u32(b, 0);
                let mut rest = &b[4..];
                let mut lsas = Vec::new();
                while !rest.is_empty() {
                    let (l, n) = Lsa::decode(rest)?;
                    lsas.push(l);
                    rest = &rest[n..];
                }
                if announced as usize != lsas.len() {
                    return Err(DecodeError::LsaCount {
                        announced,
                        found: lsas.len(),
                    });
                }
                Body::LsUpdate(lsas)
            }
            5 => {
                whole("Link State Acknowledgment", lsa::LSA_HEADER_LEN)?;
                Body::LsAck(lsa_headers(b)?)
            }
            t => return Err(DecodeError::UnknownType(t)),
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Body::Hello(h) => {
                out.extend_from_slice(&h.interface_id.to_be_bytes());
                out.push(h.priority);
                put_u24(out, h.options.0);
                out.extend_from_slice(&h.hello_interval.to_be_bytes());
                out.extend_from_slice(&h.dead_interval.to_be_bytes());
                out.extend_from_slice(&h.dr.octets());
                out.extend_from_slice(&h.bdr.octets());
                for n in &h.neighbors {
                    out.extend_from_slice(&n.octets());
                }
            }
            Body::DbDesc(d) => {
                out.push(0);
                put_u24(out, d.options.0);
                out.extend_from_slice(&d.mtu.to_be_bytes());
                out.push(0);
                out.push(d.flags);
                out.extend_from_slice(&d.seq.to_be_bytes());
                for h in &d.headers {
                    h.encode(out);
                }
            }
            Body::LsRequest(v) => {
                for r in v {
                    out.extend_from_slice(&[0, 0]);
                    out.extend_from_slice(&r.ls_type.0.to_be_bytes());
                    out.extend_from_slice(&r.id.octets());
                    out.extend_from_slice(&r.adv_router.octets());
                }
            }
            Body::LsUpdate(v) => {
                out.extend_from_slice(&(v.len() as u32).to_be_bytes());
                for l in v {
                    l.encode(out);
                }
            }
            Body::LsAck(v) => {
                for h in v {
                    h.encode(out);
                }
            }
        }
    }
}

fn lsa_headers(b: &[u8]) -> Result<Vec<LsaHeader>, DecodeError> {
    b.chunks_exact(lsa::LSA_HEADER_LEN)
        .map(LsaHeader::decode)
        .collect()
}

impl Packet {
    /// Decodes an IPv6 payload: the OSPFv3 packet, then the authentication
    /// trailer if octets follow the packet length.
    pub fn decode(b: &[u8]) -> Result<Packet, DecodeError> {
        if b.len() < HEADER_LEN {
            return Err(DecodeError::HeaderTruncated(b.len()));
        }
        if b[0] != VERSION {
            return Err(DecodeError::BadVersion(b[0]));
        }
        let len = get_u16(b, 2);
        if usize::from(len) < HEADER_LEN || usize::from(len) > b.len() {
            return Err(DecodeError::LengthMismatch {
                header: len,
                actual: b.len(),
            });
        }
        let (pkt, rest) = b.split_at(usize::from(len));
        let body = Body::decode(b[1], &pkt[HEADER_LEN..])?;
        let trailer = if rest.is_empty() {
            None
        } else {
            Some(AuthTrailer::decode(rest)?)
        };
        Ok(Packet {
            header: Header {
                router_id: Ipv4Addr::from(get_u32(b, 4)),
                area_id: Ipv4Addr::from(get_u32(b, 8)),
                checksum: get_u16(b, 12),
                instance_id: b[14],
            },
            body,
            trailer,
        })
    }

    /// The OSPFv3 packet (without a trailer; [`auth::seal`] adds one),
    /// every octet written; the checksum is `header.checksum`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.push(VERSION);
        out.push(self.body.packet_type() as u8);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.header.router_id.octets());
        out.extend_from_slice(&self.header.area_id.octets());
        out.extend_from_slice(&self.header.checksum.to_be_bytes());
        out.push(self.header.instance_id);
        out.push(0);
        self.body.encode(&mut out);
        let len = out.len() as u16;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        out
    }

    /// The packet and its trailer as received (`trailer` re-encoded), for
    /// round trips; a real sender seals with [`auth::seal`] instead.
    pub fn encode_with_trailer(&self) -> Vec<u8> {
        let mut out = self.encode();
        if let Some(t) = &self.trailer {
            t.encode(&mut out);
        }
        out
    }
}

/// The OSPFv3 packet checksum (RFC 5340 A.3.1: the IPv6 upper-layer
/// checksum of RFC 8200 §8.1) of `payload`, the whole IPv6 payload as
/// sent (a trailer included), taking the checksum field as zero. The
/// kernel computes the same with IPV6_CHECKSUM = 12.
pub fn checksum(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(payload.len() as u32).to_be_bytes());
    add(&[0, 0, 0, PROTOCOL]);
    if payload.len() >= CHECKSUM_OFFSET + 2 {
        add(&payload[..CHECKSUM_OFFSET]);
        add(&payload[CHECKSUM_OFFSET + 2..]);
    } else {
        add(payload);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn get_u24(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([0, b[at], b[at + 1], b[at + 2]])
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn put_u24(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}
