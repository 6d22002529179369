//! Wire format: RIPng (RFC 2080 §2.1) plus the ARIP authentication trailer
//! (docs/arip.md §4).
//!
//! Decoding is strict about the packet as a whole (header, length) and
//! lenient per entry: a bad RTE is left out of [`Packet::entries`] and
//! recorded in [`Packet::errors`], the good ones are kept (RFC 2080 §2.4.2
//! validates each RTE on its own).

use std::net::Ipv6Addr;

use anycast6_core::auth::{AuthError, Key, Keyring, ALG_HMAC_SHA256, DIGEST_LEN};

/// UDP port of RIPng (RFC 2080 §2.1).
pub const PORT: u16 = 521;
/// All-RIP-routers link-scope multicast group.
pub const GROUP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 9);
pub const HEADER_LEN: usize = 4;
pub const RTE_LEN: usize = 20;
pub const VERSION: u8 = 1;
pub const METRIC_INFINITY: u8 = 16;
/// Metric value that marks a next-hop RTE (RFC 2080 §2.1.1).
pub const METRIC_NEXT_HOP: u8 = 0xff;
/// IPv6 header + UDP header: what an MTU loses before the RIPng packet.
pub const IP_UDP_OVERHEAD: usize = 40 + 8;

/// First octet of every trailer RTE's address field. Not 0xfe (so never
/// fe80::/10, link-local) and not 0x00 (so never ::): plain RIPng routers
/// treat the RTE as a next hop of :: that applies to no route.
pub const TRAILER_MARKER: u8 = 0xa6;
/// Version of the trailer layout.
pub const TRAILER_VERSION: u8 = 1;
/// RTEs in the trailer.
pub const TRAILER_RTES: usize = 3;
pub const TRAILER_LEN: usize = TRAILER_RTES * RTE_LEN;
/// Trailer data octets carried per RTE (address field minus the marker).
const TRAILER_DATA_PER_RTE: usize = 15;
/// Offsets inside the 45 octets of trailer data (docs/arip.md §4).
const TD_VERSION: usize = 0;
const TD_ALG: usize = 1;
const TD_KEY_ID: usize = 2;
const TD_SEQ: usize = 4;
const TD_DIGEST: usize = 12;
const TD_RESERVED: usize = TD_DIGEST + DIGEST_LEN; // 44
const TD_LEN: usize = TRAILER_RTES * TRAILER_DATA_PER_RTE; // 45
const _: () = assert!(TD_RESERVED + 1 == TD_LEN);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    Request = 1,
    Response = 2,
}

/// A RIPng packet (RFC 2080 §2.1).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  command (1)  |  version (1)  |       must be zero (2)        |
/// +---------------+---------------+-------------------------------+
/// |                                                               |
/// ~                Route Table Entry 1 (20)                       ~
/// |                                                               |
/// +---------------------------------------------------------------+
/// ~                         ...                                   ~
/// +---------------------------------------------------------------+
/// |                Route Table Entry N (20)                       |
/// +---------------------------------------------------------------+
/// ~   ARIP authentication trailer: 3 next-hop-shaped RTEs (60),   ~
/// ~   present only when the sender has a keyring (docs/arip.md)   ~
/// +---------------------------------------------------------------+
/// ```
///
/// The version is always 1 (others are refused), so it is not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub command: Command,
    /// Route and next-hop entries, in wire order (a next-hop RTE applies to
    /// the route RTEs after it, RFC 2080 §2.1.1).
    pub entries: Vec<Entry>,
    pub auth: Option<AuthTrailer>,
    /// Entries refused by [`Packet::decode`] (absent from `entries`, except
    /// a non-link-local next hop, kept as `NextHop(::)` as the RFC says).
    pub errors: Vec<RteError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Route(Rte),
    /// A next-hop RTE: `::` means "the sender itself".
    NextHop(Ipv6Addr),
}

/// A route table entry (RFC 2080 §2.1).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// ~                        IPv6 prefix (16)                       ~
/// |                                                               |
/// +---------------------------------------------------------------+
/// |         route tag (2)         | prefix len (1)|  metric (1)   |
/// +---------------------------------------------------------------+
/// ```
///
/// A next-hop RTE has the same shape with metric 0xFF, tag 0 and prefix
/// length 0, and carries the next-hop address in the prefix field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rte {
    pub prefix: Ipv6Addr,
    pub tag: u16,
    pub plen: u8,
    pub metric: u8,
}

/// The ARIP authentication trailer (docs/arip.md §4): the last three RTEs
/// of a packet, each shaped as a next-hop RTE whose address field is the
/// marker octet 0xA6 followed by 15 octets of this data:
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  version = 1  |   algorithm   |          key id               |
/// +---------------+---------------+-------------------------------+
/// |                    sequence number (64 bits)                  |
/// |                                                               |
/// +---------------------------------------------------------------+
/// |                                                               |
/// ~                 HMAC-SHA-256 digest (32 octets)               ~
/// |                                                               |
/// +---------------------------------------------------------------+
/// | reserved (0)  |
/// +---------------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthTrailer {
    pub alg: u8,
    pub key_id: u16,
    pub seq: u64,
    pub digest: [u8; DIGEST_LEN],
}

/// Why a whole packet could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("packet of {0} octets is shorter than the 4-octet header")]
    PacketTooShort(usize),
    #[error("packet length {0} is not 4 + a multiple of 20")]
    PacketLengthInvalid(usize),
    #[error("unknown command {0}")]
    CommandUnknown(u8),
    #[error("unsupported version {0}")]
    VersionInvalid(u8),
}

/// One refused entry: its index among the packet's RTEs and the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("RTE {index}: {kind}")]
pub struct RteError {
    pub index: usize,
    pub kind: RteErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RteErrorKind {
    #[error("prefix length {0} above 128")]
    PrefixLenInvalid(u8),
    #[error("metric {0} outside 1..=16")]
    MetricInvalid(u8),
    #[error("prefix {0} is multicast or link-local")]
    PrefixInvalid(Ipv6Addr),
    #[error("next hop {0} is not link-local (treated as ::)")]
    NextHopInvalid(Ipv6Addr),
}

pub fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// `addr` with the bits past `plen` cleared (`plen` at most 128).
pub fn mask(addr: Ipv6Addr, plen: u8) -> Ipv6Addr {
    let bits = u128::from(addr);
    let m = match plen {
        0 => 0,
        p if p >= 128 => u128::MAX,
        p => u128::MAX << (128 - u32::from(p)),
    };
    Ipv6Addr::from(bits & m)
}

impl Packet {
    pub fn new(command: Command, entries: Vec<Entry>) -> Packet {
        Packet {
            command,
            entries,
            auth: None,
            errors: Vec::new(),
        }
    }

    /// The whole-table request (RFC 2080 §2.4.1): one RTE ::/0, metric 16.
    pub fn whole_table_request() -> Packet {
        Packet::new(
            Command::Request,
            vec![Entry::Route(Rte {
                prefix: Ipv6Addr::UNSPECIFIED,
                tag: 0,
                plen: 0,
                metric: METRIC_INFINITY,
            })],
        )
    }

    /// True for the whole-table request form.
    pub fn is_whole_table_request(&self) -> bool {
        self.command == Command::Request
            && self.errors.is_empty()
            && matches!(
                self.entries.as_slice(),
                [Entry::Route(Rte { prefix, plen: 0, metric: METRIC_INFINITY, .. })]
                    if prefix.is_unspecified()
            )
    }

    pub fn decode(bytes: &[u8]) -> Result<Packet, DecodeError> {
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError::PacketTooShort(bytes.len()));
        }
        let command = match bytes[0] {
            1 => Command::Request,
            2 => Command::Response,
            c => return Err(DecodeError::CommandUnknown(c)),
        };
        if bytes[1] != VERSION {
            return Err(DecodeError::VersionInvalid(bytes[1]));
        }
        // Octets 2-3 "must be zero" but are ignored on receipt, as FRR and
        // BIRD do.
        if !(bytes.len() - HEADER_LEN).is_multiple_of(RTE_LEN) {
            return Err(DecodeError::PacketLengthInvalid(bytes.len()));
        }
        let mut rtes: Vec<&[u8]> = bytes[HEADER_LEN..].chunks_exact(RTE_LEN).collect();
        let auth = trailer_at_end(&rtes);
        if auth.is_some() {
            rtes.truncate(rtes.len() - TRAILER_RTES);
        }
        let mut entries = Vec::with_capacity(rtes.len());
        let mut errors = Vec::new();
        for (index, raw) in rtes.into_iter().enumerate() {
            match decode_rte(command, raw) {
                Ok(e) => entries.push(e),
                Err(kind) => {
                    errors.push(RteError { index, kind });
                    if let RteErrorKind::NextHopInvalid(_) = kind {
                        entries.push(Entry::NextHop(Ipv6Addr::UNSPECIFIED));
                    }
                }
            }
        }
        Ok(Packet {
            command,
            entries,
            auth,
            errors,
        })
    }

    /// The packet as sent. `errors` play no part; the trailer, when
    /// present, is written with the digest it holds.
    pub fn encode(&self) -> Vec<u8> {
        let n = self.entries.len() + if self.auth.is_some() { TRAILER_RTES } else { 0 };
        let mut out = Vec::with_capacity(HEADER_LEN + n * RTE_LEN);
        out.extend_from_slice(&[self.command as u8, VERSION, 0, 0]);
        for e in &self.entries {
            match *e {
                Entry::Route(r) => put_rte(&mut out, r.prefix, r.tag, r.plen, r.metric),
                Entry::NextHop(a) => put_rte(&mut out, a, 0, 0, METRIC_NEXT_HOP),
            }
        }
        if let Some(t) = &self.auth {
            put_trailer(&mut out, t);
        }
        out
    }

    /// Encodes with a trailer signed by `key`: HMAC-SHA-256 over the
    /// sender's link-local address (16 octets) followed by the packet with
    /// the 32 digest octets zeroed (docs/arip.md §4.2).
    pub fn encode_signed(&self, src: Ipv6Addr, key: &Key, seq: u64) -> Vec<u8> {
        let mut p = self.clone();
        p.auth = Some(AuthTrailer {
            alg: ALG_HMAC_SHA256,
            key_id: key.id,
            seq,
            digest: [0; DIGEST_LEN],
        });
        let mut bytes = p.encode();
        let digest = key.digest(&[&src.octets(), &bytes]);
        let start = bytes.len() - TRAILER_LEN;
        for (i, b) in digest.iter().enumerate() {
            bytes[start + trailer_offset(TD_DIGEST + i)] = *b;
        }
        bytes
    }
}

/// Checks the trailer of `bytes` (already decoded as `packet`) against
/// `keyring`, without the replay check (the caller owns the replay guard).
/// Returns the key id and sequence number to feed the guard.
pub fn verify(
    bytes: &[u8],
    packet: &Packet,
    src: Ipv6Addr,
    keyring: &Keyring,
) -> Result<(u16, u64), AuthError> {
    let t = packet.auth.as_ref().ok_or(AuthError::Missing)?;
    if t.alg != ALG_HMAC_SHA256 {
        return Err(AuthError::UnknownAlgorithm(t.alg));
    }
    let key = keyring
        .key(t.key_id)
        .ok_or(AuthError::UnknownKey(t.key_id))?;
    let mut zeroed = bytes.to_vec();
    let start = zeroed.len() - TRAILER_LEN;
    for i in 0..DIGEST_LEN {
        zeroed[start + trailer_offset(TD_DIGEST + i)] = 0;
    }
    if key.verify(&[&src.octets(), &zeroed], &t.digest) {
        Ok((t.key_id, t.seq))
    } else {
        Err(AuthError::BadDigest)
    }
}

fn put_rte(out: &mut Vec<u8>, addr: Ipv6Addr, tag: u16, plen: u8, metric: u8) {
    out.extend_from_slice(&addr.octets());
    out.extend_from_slice(&tag.to_be_bytes());
    out.push(plen);
    out.push(metric);
}

/// Offset, from the start of the trailer, of trailer data octet `k`.
fn trailer_offset(k: usize) -> usize {
    (k / TRAILER_DATA_PER_RTE) * RTE_LEN + 1 + k % TRAILER_DATA_PER_RTE
}

fn put_trailer(out: &mut Vec<u8>, t: &AuthTrailer) {
    let mut data = [0u8; TD_LEN];
    data[TD_VERSION] = TRAILER_VERSION;
    data[TD_ALG] = t.alg;
    data[TD_KEY_ID..TD_KEY_ID + 2].copy_from_slice(&t.key_id.to_be_bytes());
    data[TD_SEQ..TD_SEQ + 8].copy_from_slice(&t.seq.to_be_bytes());
    data[TD_DIGEST..TD_DIGEST + DIGEST_LEN].copy_from_slice(&t.digest);
    for chunk in data.chunks_exact(TRAILER_DATA_PER_RTE) {
        let mut addr = [0u8; 16];
        addr[0] = TRAILER_MARKER;
        addr[1..].copy_from_slice(chunk);
        put_rte(out, Ipv6Addr::from(addr), 0, 0, METRIC_NEXT_HOP);
    }
}

/// The trailer, if the last three RTEs are one.
fn trailer_at_end(rtes: &[&[u8]]) -> Option<AuthTrailer> {
    let tail = rtes.get(rtes.len().checked_sub(TRAILER_RTES)?..)?;
    let mut data = [0u8; TD_LEN];
    for (i, r) in tail.iter().enumerate() {
        let shaped = r[0] == TRAILER_MARKER && r[16..19] == [0, 0, 0] && r[19] == METRIC_NEXT_HOP;
        if !shaped {
            return None;
        }
        data[i * TRAILER_DATA_PER_RTE..(i + 1) * TRAILER_DATA_PER_RTE].copy_from_slice(&r[1..16]);
    }
    if data[TD_VERSION] != TRAILER_VERSION || data[TD_RESERVED] != 0 {
        return None;
    }
    let mut digest = [0u8; DIGEST_LEN];
    digest.copy_from_slice(&data[TD_DIGEST..TD_DIGEST + DIGEST_LEN]);
    Some(AuthTrailer {
        alg: data[TD_ALG],
        key_id: u16::from_be_bytes([data[TD_KEY_ID], data[TD_KEY_ID + 1]]),
        seq: u64::from_be_bytes(data[TD_SEQ..TD_SEQ + 8].try_into().expect("8 octets")),
        digest,
    })
}

fn decode_rte(command: Command, raw: &[u8]) -> Result<Entry, RteErrorKind> {
    let mut a = [0u8; 16];
    a.copy_from_slice(&raw[..16]);
    let addr = Ipv6Addr::from(a);
    let tag = u16::from_be_bytes([raw[16], raw[17]]);
    let plen = raw[18];
    let metric = raw[19];
    if metric == METRIC_NEXT_HOP {
        // Tag and prefix length "ignored on reception" (RFC 2080 §2.1.1).
        return if addr.is_unspecified() || is_link_local(&addr) {
            Ok(Entry::NextHop(addr))
        } else {
            Err(RteErrorKind::NextHopInvalid(addr))
        };
    }
    if plen > 128 {
        return Err(RteErrorKind::PrefixLenInvalid(plen));
    }
    // A request's metric is only meaningful in the whole-table form.
    let metric_ok = match command {
        Command::Response => (1..=METRIC_INFINITY).contains(&metric),
        Command::Request => metric <= METRIC_INFINITY,
    };
    if !metric_ok {
        return Err(RteErrorKind::MetricInvalid(metric));
    }
    if addr.is_multicast() || is_link_local(&addr) {
        return Err(RteErrorKind::PrefixInvalid(addr));
    }
    Ok(Entry::Route(Rte {
        prefix: addr,
        tag,
        plen,
        metric,
    }))
}
