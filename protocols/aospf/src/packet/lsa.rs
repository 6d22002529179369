//! LSAs (RFC 5340 A.4): the header, the bodies AOSPF needs, the IPv6
//! prefix encoding (A.4.1) and the Fletcher checksum (RFC 5340 §4.4.3,
//! RFC 2328 §12.1.7, the algorithm of RFC 905 annex B).
//!
//! LSA types AOSPF does not read (Inter-Area-Prefix, Inter-Area-Router,
//! NSSA, anything unknown) are kept as raw bodies, so they are flooded on
//! unchanged and re-encode to the same bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::error::DecodeError;
use super::{get_u16, get_u24, get_u32, put_u24, Options};

pub const LSA_HEADER_LEN: usize = 20;
/// Offset of the LS checksum inside an LSA.
const CHECKSUM_AT: usize = 16;
/// The checksum covers the LSA from the LS type on (LS age is left out, so
/// aging does not change it).
const CHECKSUM_FROM: usize = 2;
/// Initial LS sequence number (RFC 2328 §12.1.6).
pub const INITIAL_SEQ: i32 = 0x8000_0001_u32 as i32;
/// MaxAge, in seconds (RFC 2328 appendix B).
pub const MAX_AGE: u16 = 3600;

/// LS type (RFC 5340 A.4.2.1): U bit, S2/S1 (flooding scope), function
/// code. Kept whole, so unknown types pass through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct LsaType(pub u16);

impl LsaType {
    pub const ROUTER: LsaType = LsaType(0x2001);
    pub const NETWORK: LsaType = LsaType(0x2002);
    pub const INTER_AREA_PREFIX: LsaType = LsaType(0x2003);
    pub const INTER_AREA_ROUTER: LsaType = LsaType(0x2004);
    pub const AS_EXTERNAL: LsaType = LsaType(0x4005);
    pub const NSSA: LsaType = LsaType(0x2007);
    pub const LINK: LsaType = LsaType(0x0008);
    pub const INTRA_AREA_PREFIX: LsaType = LsaType(0x2009);

    /// U bit: how a router that does not know the type floods it.
    pub fn u_bit(self) -> bool {
        self.0 & 0x8000 != 0
    }

    pub fn scope(self) -> Scope {
        match (self.0 >> 13) & 0x3 {
            0 => Scope::Link,
            1 => Scope::Area,
            2 => Scope::As,
            _ => Scope::Reserved,
        }
    }
}

/// Flooding scope from the S2/S1 bits (RFC 5340 A.4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    Link,
    Area,
    As,
    Reserved,
}

/// The LSA header (RFC 5340 A.4.2).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           LS Age              |           LS Type             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Link State ID                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Advertising Router                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    LS Sequence Number                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |        LS Checksum            |             Length            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// In Database Description and LS Acknowledgment packets a header stands
/// for an LSA that is not there, so `length` is stored, not computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct LsaHeader {
    pub age: u16,
    pub ls_type: LsaType,
    pub id: Ipv4Addr,
    pub adv_router: Ipv4Addr,
    /// Signed: sequence numbers compare as i32 (RFC 2328 §12.1.6).
    pub seq: i32,
    pub checksum: u16,
    pub length: u16,
}

impl LsaHeader {
    pub fn decode(b: &[u8]) -> Result<LsaHeader, DecodeError> {
        if b.len() < LSA_HEADER_LEN {
            return Err(DecodeError::LsaTruncated);
        }
        Ok(LsaHeader {
            age: get_u16(b, 0),
            ls_type: LsaType(get_u16(b, 2)),
            id: Ipv4Addr::from(get_u32(b, 4)),
            adv_router: Ipv4Addr::from(get_u32(b, 8)),
            seq: get_u32(b, 12) as i32,
            checksum: get_u16(b, 16),
            length: get_u16(b, 18),
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.age.to_be_bytes());
        out.extend_from_slice(&self.ls_type.0.to_be_bytes());
        out.extend_from_slice(&self.id.octets());
        out.extend_from_slice(&self.adv_router.octets());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.checksum.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }
}

/// A whole LSA as carried in an LS Update.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lsa {
    /// `header.length` is what was received; [`Lsa::encode`] writes the
    /// body's real length instead, and [`Lsa::seal`] stores it.
    pub header: LsaHeader,
    pub body: LsaBody,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LsaBody {
    Router(RouterLsa),
    Network(NetworkLsa),
    Link(LinkLsa),
    IntraAreaPrefix(IntraAreaPrefixLsa),
    AsExternal(AsExternalLsa),
    /// Any other type, body octets as received.
    Other(Vec<u8>),
}

impl Lsa {
    /// Decodes one LSA from the front of `b`; returns it and its length.
    pub fn decode(b: &[u8]) -> Result<(Lsa, usize), DecodeError> {
        let header = LsaHeader::decode(b)?;
        let len = usize::from(header.length);
        if len < LSA_HEADER_LEN {
            return Err(DecodeError::LsaLength(header.length));
        }
        if len > b.len() {
            return Err(DecodeError::LsaTruncated);
        }
        let body = LsaBody::decode(header.ls_type, &b[LSA_HEADER_LEN..len])?;
        Ok((Lsa { header, body }, len))
    }

    /// Writes the LSA: the header as stored except the length, which is
    /// the real one; the checksum is written as stored (see [`Lsa::seal`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        self.header.encode(out);
        self.body.encode(out);
        let len = (out.len() - start) as u16;
        out[start + 18..start + 20].copy_from_slice(&len.to_be_bytes());
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    /// Stores the real length and the Fletcher checksum in the header, as
    /// the originator does once the LSA is built.
    pub fn seal(&mut self) {
        let mut bytes = self.to_bytes();
        self.header.length = bytes.len() as u16;
        self.header.checksum = lsa_checksum(&mut bytes);
    }

    /// Whether the stored checksum is right for the encoded LSA.
    pub fn checksum_ok(&self) -> bool {
        let mut bytes = self.to_bytes();
        bytes[CHECKSUM_AT..CHECKSUM_AT + 2].copy_from_slice(&self.header.checksum.to_be_bytes());
        lsa_checksum_ok(&bytes)
    }
}

/// The Fletcher checksum of an encoded LSA (RFC 905 annex B, over the LSA
/// from LS type on, checksum field taken as zero), which it also writes
/// into the LSA's checksum field. `lsa` must hold at least the header.
pub fn lsa_checksum(lsa: &mut [u8]) -> u16 {
    lsa[CHECKSUM_AT..CHECKSUM_AT + 2].fill(0);
    let data = &lsa[CHECKSUM_FROM..];
    let (c0, c1) = fletcher_sums(data);
    // Position of the checksum's first octet, counted from 1 at the start
    // of the checksummed data, is CHECKSUM_AT - CHECKSUM_FROM + 1; RFC 905
    // derives both octets from the sums and the distance to the end.
    let k = (data.len() - (CHECKSUM_AT - CHECKSUM_FROM) - 1) as i64;
    let mut x = (k * c0 - c1).rem_euclid(255);
    if x == 0 {
        x = 255;
    }
    let mut y = 510 - c0 - x;
    if y > 255 {
        y -= 255;
    }
    let ck = ((x as u16) << 8) | (y as u16 & 0xff);
    lsa[CHECKSUM_AT..CHECKSUM_AT + 2].copy_from_slice(&ck.to_be_bytes());
    ck
}

/// RFC 2328 §12.1.7's check: both Fletcher sums over the LSA (from LS type
/// on, checksum included) are zero. A zero checksum field is never valid.
pub fn lsa_checksum_ok(lsa: &[u8]) -> bool {
    if lsa.len() < LSA_HEADER_LEN || get_u16(lsa, CHECKSUM_AT) == 0 {
        return false;
    }
    let (c0, c1) = fletcher_sums(&lsa[CHECKSUM_FROM..]);
    c0 == 0 && c1 == 0
}

fn fletcher_sums(data: &[u8]) -> (i64, i64) {
    let (mut c0, mut c1) = (0i64, 0i64);
    for &b in data {
        c0 = (c0 + i64::from(b)) % 255;
        c1 = (c1 + c0) % 255;
    }
    (c0, c1)
}

/// Router-LSA flags (RFC 5340 A.4.3): Nt, x, V, E, B.
pub const ROUTER_B: u8 = 0x01;
pub const ROUTER_E: u8 = 0x02;
pub const ROUTER_V: u8 = 0x04;
pub const ROUTER_NT: u8 = 0x10;

/// Router-LSA (RFC 5340 A.4.3).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  0  |Nt|x|V|E|B|            Options                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |       0       |          Metric               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Interface ID                             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   Neighbor Interface ID                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Neighbor Router ID                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                             ...                               |
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouterLsa {
    pub flags: u8,
    pub options: Options,
    pub links: Vec<RouterLink>,
}

/// Interface description types of a Router-LSA.
pub const LINK_POINT_TO_POINT: u8 = 1;
pub const LINK_TRANSIT: u8 = 2;
pub const LINK_VIRTUAL: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RouterLink {
    pub link_type: u8,
    pub metric: u16,
    pub interface_id: u32,
    pub neighbor_interface_id: u32,
    pub neighbor_router_id: Ipv4Addr,
}

/// Network-LSA (RFC 5340 A.4.4).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      0        |              Options                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        Attached Router                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                             ...                               |
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NetworkLsa {
    pub options: Options,
    pub attached: Vec<Ipv4Addr>,
}

/// Link-LSA (RFC 5340 A.4.9).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Rtr Priority  |                Options                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// +-                                                             -+
/// |                Link-local Interface Address                   |
/// +-                                                             -+
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         # prefixes                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  PrefixLength | PrefixOptions |             0                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                Address Prefix (0 to 4 words)                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                             ...                               |
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LinkLsa {
    pub priority: u8,
    pub options: Options,
    pub link_local: Ipv6Addr,
    /// `Prefix::field` is the reserved 0 here.
    pub prefixes: Vec<Prefix>,
}

/// Intra-Area-Prefix-LSA (RFC 5340 A.4.10).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         # Prefixes            |     Referenced LS Type        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Referenced Link State ID                     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |               Referenced Advertising Router                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  PrefixLength | PrefixOptions |          Metric               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Address Prefix                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                             ...                               |
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IntraAreaPrefixLsa {
    pub ref_ls_type: LsaType,
    pub ref_id: Ipv4Addr,
    pub ref_adv_router: Ipv4Addr,
    /// `Prefix::field` is the metric here.
    pub prefixes: Vec<Prefix>,
}

/// AS-External-LSA flags (RFC 5340 A.4.7).
pub const EXTERNAL_T: u8 = 0x01;
pub const EXTERNAL_F: u8 = 0x02;
pub const EXTERNAL_E: u8 = 0x04;

/// AS-External-LSA (RFC 5340 A.4.7).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         |E|F|T|                Metric                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  PrefixLength | PrefixOptions |     Referenced LS Type        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        Address Prefix                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                Forwarding Address (optional, F)               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |              External Route Tag (optional, T)                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Referenced Link State ID (optional, ref. LS type != 0)    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The E, F and T bits are not stored: E is `type2`, F and T follow from
/// the optional fields being present.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AsExternalLsa {
    /// E bit: a type 2 external metric.
    pub type2: bool,
    /// 24 bits.
    pub metric: u32,
    /// `Prefix::field` is the referenced LS type here.
    pub prefix: Prefix,
    pub forwarding: Option<Ipv6Addr>,
    pub tag: Option<u32>,
    pub ref_id: Option<Ipv4Addr>,
}

/// Prefix options (RFC 5340 A.4.1.1).
pub const PREFIX_NU: u8 = 0x01;
pub const PREFIX_LA: u8 = 0x02;
pub const PREFIX_P: u8 = 0x08;
pub const PREFIX_DN: u8 = 0x10;

/// An IPv6 prefix as LSAs carry it (RFC 5340 A.4.1): length, options, a
/// 16-bit field whose meaning depends on the LSA, then the prefix in
/// ceil(length / 32) words.
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  PrefixLength | PrefixOptions |  (metric / ref. type / 0)     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                Address Prefix (0 to 4 words)                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// `addr` keeps the words as received (bits past the length included),
/// so a prefix re-encodes to the octets it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Prefix {
    pub len: u8,
    pub options: u8,
    pub field: u16,
    pub addr: Ipv6Addr,
}

impl Prefix {
    fn words(len: u8) -> usize {
        usize::from(len).div_ceil(32)
    }

    /// Octets this prefix takes on the wire.
    pub fn wire_len(&self) -> usize {
        4 + 4 * Self::words(self.len)
    }

    /// Decodes from the front of `b`; returns the prefix and its length.
    pub fn decode(b: &[u8]) -> Result<(Prefix, usize), DecodeError> {
        if b.len() < 4 {
            return Err(DecodeError::PrefixTruncated);
        }
        let len = b[0];
        if len > 128 {
            return Err(DecodeError::PrefixLength(len));
        }
        let n = 4 * Self::words(len);
        if b.len() < 4 + n {
            return Err(DecodeError::PrefixTruncated);
        }
        let mut o = [0u8; 16];
        o[..n].copy_from_slice(&b[4..4 + n]);
        Ok((
            Prefix {
                len,
                options: b[1],
                field: get_u16(b, 2),
                addr: Ipv6Addr::from(o),
            },
            4 + n,
        ))
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.len);
        out.push(self.options);
        out.extend_from_slice(&self.field.to_be_bytes());
        let n = 4 * Self::words(self.len.min(128));
        out.extend_from_slice(&self.addr.octets()[..n]);
    }
}

fn body_err(ls_type: LsaType, what: &'static str) -> DecodeError {
    DecodeError::LsaBody {
        ls_type: ls_type.0,
        what,
    }
}

fn prefixes(t: LsaType, mut b: &[u8], count: usize) -> Result<Vec<Prefix>, DecodeError> {
    let mut v = Vec::with_capacity(count.min(b.len() / 4));
    for _ in 0..count {
        let (p, n) = Prefix::decode(b)?;
        v.push(p);
        b = &b[n..];
    }
    if !b.is_empty() {
        return Err(body_err(t, "octets after the last prefix"));
    }
    Ok(v)
}

impl LsaBody {
    /// Decodes the body of an LSA of type `t` (`b` is exactly the body).
    pub fn decode(t: LsaType, b: &[u8]) -> Result<LsaBody, DecodeError> {
        Ok(match t {
            LsaType::ROUTER => {
                if b.len() < 4 || !(b.len() - 4).is_multiple_of(16) {
                    return Err(body_err(t, "not 4 + 16n octets"));
                }
                let links = b[4..]
                    .chunks_exact(16)
                    .map(|c| RouterLink {
                        link_type: c[0],
                        metric: get_u16(c, 2),
                        interface_id: get_u32(c, 4),
                        neighbor_interface_id: get_u32(c, 8),
                        neighbor_router_id: Ipv4Addr::from(get_u32(c, 12)),
                    })
                    .collect();
                LsaBody::Router(RouterLsa {
                    flags: b[0],
                    options: Options(get_u24(b, 1)),
                    links,
                })
            }
            LsaType::NETWORK => {
                if b.len() < 4 || !b.len().is_multiple_of(4) {
                    return Err(body_err(t, "not 4 + 4n octets"));
                }
                LsaBody::Network(NetworkLsa {
                    options: Options(get_u24(b, 1)),
                    attached: b[4..]
                        .chunks_exact(4)
                        .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                        .collect(),
                })
            }
            LsaType::LINK => {
                if b.len() < 24 {
                    return Err(body_err(t, "shorter than 24 octets"));
                }
                let mut ll = [0u8; 16];
                ll.copy_from_slice(&b[4..20]);
                let count = get_u32(b, 20) as usize;
                LsaBody::Link(LinkLsa {
                    priority: b[0],
                    options: Options(get_u24(b, 1)),
                    link_local: Ipv6Addr::from(ll),
                    prefixes: prefixes(t, &b[24..], count)?,
                })
            }
            LsaType::INTRA_AREA_PREFIX => {
                if b.len() < 12 {
                    return Err(body_err(t, "shorter than 12 octets"));
                }
                let count = usize::from(get_u16(b, 0));
                LsaBody::IntraAreaPrefix(IntraAreaPrefixLsa {
                    ref_ls_type: LsaType(get_u16(b, 2)),
                    ref_id: Ipv4Addr::from(get_u32(b, 4)),
                    ref_adv_router: Ipv4Addr::from(get_u32(b, 8)),
                    prefixes: prefixes(t, &b[12..], count)?,
                })
            }
            LsaType::AS_EXTERNAL => {
                if b.len() < 4 {
                    return Err(body_err(t, "shorter than 4 octets"));
                }
                let flags = b[0];
                let (prefix, n) = Prefix::decode(&b[4..])?;
                let mut rest = &b[4 + n..];
                let mut take = |len: usize| -> Result<&[u8], DecodeError> {
                    if rest.len() < len {
                        return Err(body_err(t, "optional field truncated"));
                    }
                    let (f, r) = rest.split_at(len);
                    rest = r;
                    Ok(f)
                };
                let forwarding = if flags & EXTERNAL_F != 0 {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(take(16)?);
                    Some(Ipv6Addr::from(o))
                } else {
                    None
                };
                let tag = if flags & EXTERNAL_T != 0 {
                    Some(get_u32(take(4)?, 0))
                } else {
                    None
                };
                let ref_id = if prefix.field != 0 {
                    Some(Ipv4Addr::from(get_u32(take(4)?, 0)))
                } else {
                    None
                };
                if !rest.is_empty() {
                    return Err(body_err(t, "octets after the last field"));
                }
                LsaBody::AsExternal(AsExternalLsa {
                    type2: flags & EXTERNAL_E != 0,
                    metric: get_u24(b, 1),
                    prefix,
                    forwarding,
                    tag,
                    ref_id,
                })
            }
            _ => LsaBody::Other(b.to_vec()),
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            LsaBody::Router(r) => {
                out.push(r.flags);
                put_u24(out, r.options.0);
                for l in &r.links {
                    out.extend_from_slice(&[l.link_type, 0]);
                    out.extend_from_slice(&l.metric.to_be_bytes());
                    out.extend_from_slice(&l.interface_id.to_be_bytes());
                    out.extend_from_slice(&l.neighbor_interface_id.to_be_bytes());
                    out.extend_from_slice(&l.neighbor_router_id.octets());
                }
            }
            LsaBody::Network(n) => {
                out.push(0);
                put_u24(out, n.options.0);
                for a in &n.attached {
                    out.extend_from_slice(&a.octets());
                }
            }
            LsaBody::Link(l) => {
                out.push(l.priority);
                put_u24(out, l.options.0);
                out.extend_from_slice(&l.link_local.octets());
                out.extend_from_slice(&(l.prefixes.len() as u32).to_be_bytes());
                for p in &l.prefixes {
                    p.encode(out);
                }
            }
            LsaBody::IntraAreaPrefix(i) => {
                out.extend_from_slice(&(i.prefixes.len() as u16).to_be_bytes());
                out.extend_from_slice(&i.ref_ls_type.0.to_be_bytes());
                out.extend_from_slice(&i.ref_id.octets());
                out.extend_from_slice(&i.ref_adv_router.octets());
                for p in &i.prefixes {
                    p.encode(out);
                }
            }
            LsaBody::AsExternal(e) => {
                let mut flags = 0;
                if e.type2 {
                    flags |= EXTERNAL_E;
                }
                if e.forwarding.is_some() {
                    flags |= EXTERNAL_F;
                }
                if e.tag.is_some() {
                    flags |= EXTERNAL_T;
                }
                out.push(flags);
                put_u24(out, e.metric);
                // The referenced LS type is prefix.field; a referenced ID
                // is written only with a non-zero type (as decode reads it).
                e.prefix.encode(out);
                if let Some(f) = e.forwarding {
                    out.extend_from_slice(&f.octets());
                }
                if let Some(t) = e.tag {
                    out.extend_from_slice(&t.to_be_bytes());
                }
                if let (Some(r), true) = (e.ref_id, e.prefix.field != 0) {
                    out.extend_from_slice(&r.octets());
                }
            }
            LsaBody::Other(b) => out.extend_from_slice(b),
        }
    }
}
