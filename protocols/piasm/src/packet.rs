//! PIA-SM messages on the wire (docs/piasm.md §3): PIMv2 Hello and
//! Join/Prune with PIA-SM's options and join attributes, the two extension
//! messages of type 15, and the authentication trailer.
//!
//! [`Packet::decode`] checks everything the specification refuses and says
//! which field was wrong; [`Packet::encode`] writes every octet, checksum
//! included (the checksum covers the IPv6 pseudo-header, so both take the
//! addresses).

use std::net::Ipv6Addr;

use anycast6_core::auth::{Key, ALG_HMAC_SHA256, DIGEST_LEN};

/// IPv6 next header of PIM.
pub const PROTO_PIM: u8 = 103;
/// ALL-PIM-ROUTERS.
pub const ALL_PIM_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0xd);
/// Router Alert value of unicast joins toward the core (RFC 5350
/// experimental use).
pub const ROUTER_ALERT: u16 = 65503;

pub const TYPE_HELLO: u8 = 0;
pub const TYPE_JOIN_PRUNE: u8 = 3;
pub const TYPE_EXTENSION: u8 = 15;
pub const SUBTYPE_SHORTCUT_REQUEST: u8 = 1;
pub const SUBTYPE_BRANCH_ANNOUNCEMENT: u8 = 2;

pub const OPT_HOLDTIME: u16 = 1;
pub const OPT_DR_PRIORITY: u16 = 19;
pub const OPT_GENERATION_ID: u16 = 20;
pub const OPT_ADDRESS_LIST: u16 = 24;
pub const OPT_PIASM: u16 = 65100;
pub const OPT_AUTH: u16 = 65101;

pub const ATTR_WEIGHT: u8 = 60;
pub const ATTR_ENDPOINT: u8 = 61;
pub const ATTR_RELAYED: u8 = 62;
const ATTR_F: u8 = 0x80;
const ATTR_E: u8 = 0x40;

/// PIM's address family number of IPv6.
const AF_IPV6: u8 = 2;
/// Encoded-Source flags S, W, R: a (*,A) entry toward the core.
const SRC_SWR: u8 = 0x07;
/// Encoded-Group flags B (bidirectional) and Z (admin scope zone).
const GROUP_BZ: u8 = 0x81;

/// Octets of the authentication trailer (docs/ard.md §6.1).
pub const TRAILER_LEN: usize = 44;
/// Most branches one Branch Announcement carries.
pub const MAX_BRANCHES: usize = 64;
/// Largest weight a join carries.
pub const MAX_WEIGHT: u32 = 65_535;

const HEADER_LEN: usize = 4;
const ENC_UNICAST_LEN: usize = 18;
const ENC_GROUP_LEN: usize = 20;
const ENC_SOURCE_LEN: usize = 20;

/// What was wrong with a message; each names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{field}: message ends at octet {len}")]
    Truncated { field: &'static str, len: usize },
    #[error("PIM version {0}, not 2")]
    Version(u8),
    #[error("PIM type {0} is not one PIA-SM uses")]
    Type(u8),
    #[error("extension subtype {0} unknown")]
    Subtype(u8),
    #[error("checksum {found:#06x}, computed {computed:#06x}")]
    Checksum { found: u16, computed: u16 },
    #[error("{field}: address family {family}, encoding {encoding}: not IPv6 native")]
    Address {
        field: &'static str,
        family: u8,
        encoding: u8,
    },
    #[error("{field}: {reason}")]
    Field {
        field: &'static str,
        reason: &'static str,
    },
    #[error("{0} octets after the message: neither none nor an authentication trailer")]
    Trailing(usize),
}

impl DecodeError {
    /// The counter a refusal goes to (docs/piasm.md).
    pub fn counter(&self) -> &'static str {
        match self {
            DecodeError::Checksum { .. } => "bad_checksum",
            DecodeError::Version(_) => "bad_version",
            DecodeError::Field { field, .. } if field.starts_with("hello") => "bad_hello",
            DecodeError::Field { field, .. } if field.contains("attribute") => "bad_attribute",
            DecodeError::Field { field, .. } if field.starts_with("announcement") => {
                "bad_announcement"
            }
            DecodeError::Field { field, .. } if field.contains("group") => "bad_group",
            DecodeError::Address { .. } => "bad_address",
            _ => "bad_packets",
        }
    }
}

fn bad(field: &'static str, reason: &'static str) -> DecodeError {
    DecodeError::Field { field, reason }
}

/// The authentication trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub key_id: u16,
    pub algorithm: u8,
    pub seq: u64,
    pub digest: [u8; DIGEST_LEN],
}

/// Option 65100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    pub version: u8,
    /// A core for at least one anycast address.
    pub core: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// Seconds; 0 = forget me now.
    pub holdtime: u16,
    pub dr_priority: Option<u32>,
    pub generation_id: Option<u32>,
    /// The Address List option (our router address first).
    pub addresses: Vec<Ipv6Addr>,
    /// None: a plain PIM router.
    pub piasm: Option<Capability>,
}

/// The join of one anycast address toward its core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Join {
    pub core: Ipv6Addr,
    /// Members behind the sender, 1 ..= [`MAX_WEIGHT`].
    pub weight: u32,
    /// Where to tunnel A's packets (unicast joins and relays).
    pub endpoint: Option<Ipv6Addr>,
    /// A core passing one of its branches on to a peer core.
    pub relayed: bool,
}

/// The prune of one anycast address toward its core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prune {
    pub core: Ipv6Addr,
    /// The branch pruned, when not the sender itself (relays); carried as
    /// the Endpoint attribute (encoding type 1).
    pub endpoint: Option<Ipv6Addr>,
    pub relayed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Join(Join),
    Prune(Prune),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub anycast: Ipv6Addr,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinPrune {
    pub upstream: Ipv6Addr,
    /// Seconds the upstream keeps the branches without a refresh.
    pub holdtime: u16,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortcutRequest {
    /// Seconds; 0 cancels.
    pub holdtime: u16,
    pub anycast: Ipv6Addr,
    pub ingress: Ipv6Addr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchAnnouncement {
    pub holdtime: u16,
    pub version: u32,
    /// The core's Maglev table length for A and its flow hash seed: the
    /// ingress builds the same table, or refuses the shortcut.
    pub table_len: u32,
    pub hash_seed: u32,
    pub anycast: Ipv6Addr,
    /// (endpoint, weight), sorted by endpoint, no repeats.
    pub branches: Vec<(Ipv6Addr, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Hello(Hello),
    JoinPrune(JoinPrune),
    ShortcutRequest(ShortcutRequest),
    BranchAnnouncement(BranchAnnouncement),
}

impl Message {
    pub fn name(&self) -> &'static str {
        match self {
            Message::Hello(_) => "hello",
            Message::JoinPrune(_) => "join/prune",
            Message::ShortcutRequest(_) => "shortcut-request",
            Message::BranchAnnouncement(_) => "branch-announcement",
        }
    }
}

/// One decoded message and its trailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub message: Message,
    pub trailer: Option<Trailer>,
}

/// The PIM checksum: the IPv6 pseudo-header (RFC 8200 §8.1) and `msg`.
pub fn checksum(src: Ipv6Addr, dst: Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from(c[0]) << 8
            };
            sum += u32::from(w);
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, PROTO_PIM]);
    add(msg);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.b.len() - self.at < n {
            return Err(DecodeError::Truncated {
                field,
                len: self.b.len(),
            });
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        let s = self.take(2, field)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let s = self.take(4, field)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn addr(&mut self, field: &'static str) -> Result<Ipv6Addr, DecodeError> {
        let s = self.take(16, field)?;
        Ok(Ipv6Addr::from(<[u8; 16]>::try_from(s).unwrap()))
    }

    fn left(&self) -> usize {
        self.b.len() - self.at
    }

    /// Encoded-Unicast (RFC 7761 §4.9.1), IPv6 native only.
    fn enc_unicast(&mut self, field: &'static str) -> Result<Ipv6Addr, DecodeError> {
        let family = self.u8(field)?;
        let encoding = self.u8(field)?;
        if family != AF_IPV6 || encoding != 0 {
            return Err(DecodeError::Address {
                field,
                family,
                encoding,
            });
        }
        self.addr(field)
    }
}

fn trailer_from(b: &[u8]) -> Trailer {
    Trailer {
        key_id: u16::from_be_bytes([b[0], b[1]]),
        algorithm: b[2],
        seq: u64::from_be_bytes(b[4..12].try_into().unwrap()),
        digest: b[12..44].try_into().unwrap(),
    }
}

/// What follows the counted part of a Join/Prune or extension message.
fn trailing(r: &mut Reader) -> Result<Option<Trailer>, DecodeError> {
    match r.left() {
        0 => Ok(None),
        TRAILER_LEN => Ok(Some(trailer_from(r.take(TRAILER_LEN, "trailer")?))),
        n => Err(DecodeError::Trailing(n)),
    }
}

impl Packet {
    /// Decodes a PIM message received from `src` to `dst` (the checksum
    /// covers them).
    pub fn decode(src: Ipv6Addr, dst: Ipv6Addr, bytes: &[u8]) -> Result<Packet, DecodeError> {
        let mut r = Reader { b: bytes, at: 0 };
        let vt = r.u8("header")?;
        let sub = r.u8("header")?;
        let found = r.u16("header.checksum")?;
        if vt >> 4 != 2 {
            return Err(DecodeError::Version(vt >> 4));
        }
        let mut zeroed = bytes.to_vec();
        zeroed[2] = 0;
        zeroed[3] = 0;
        let computed = checksum(src, dst, &zeroed);
        if computed != found {
            return Err(DecodeError::Checksum { found, computed });
        }
        match (vt & 0x0f, sub >> 4) {
            (TYPE_HELLO, _) => decode_hello(&mut r),
            (TYPE_JOIN_PRUNE, _) => decode_join_prune(&mut r),
            (TYPE_EXTENSION, SUBTYPE_SHORTCUT_REQUEST) => {
                let holdtime = r.u16("shortcut-request.holdtime")?;
                r.u16("shortcut-request.reserved")?;
                let anycast = r.addr("shortcut-request.anycast")?;
                let ingress = r.addr("shortcut-request.ingress")?;
                Ok(Packet {
                    message: Message::ShortcutRequest(ShortcutRequest {
                        holdtime,
                        anycast,
                        ingress,
                    }),
                    trailer: trailing(&mut r)?,
                })
            }
            (TYPE_EXTENSION, SUBTYPE_BRANCH_ANNOUNCEMENT) => decode_announcement(&mut r),
            (TYPE_EXTENSION, s) => Err(DecodeError::Subtype(s)),
            (t, _) => Err(DecodeError::Type(t)),
        }
    }

    /// The message with its checksum, unsigned.
    pub fn encode(message: &Message, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
        let mut b = body(message, None);
        finish(&mut b, src, dst);
        b
    }

    /// The message signed with `key` (sequence number `seq`), then its
    /// checksum (docs/piasm.md §3.6).
    pub fn encode_signed(
        message: &Message,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        key: &Key,
        seq: u64,
    ) -> Vec<u8> {
        let mut t = [0u8; TRAILER_LEN];
        t[0..2].copy_from_slice(&key.id.to_be_bytes());
        t[2] = ALG_HMAC_SHA256;
        t[4..12].copy_from_slice(&seq.to_be_bytes());
        let mut b = body(message, Some(&t));
        let at = digest_at(&b).expect("a signed message has its trailer");
        let d = key.digest(&[&src.octets(), &b]);
        b[at..at + DIGEST_LEN].copy_from_slice(&d);
        finish(&mut b, src, dst);
        b
    }

    /// Whether the digest of a decoded, signed message is `key`'s.
    pub fn verify(src: Ipv6Addr, bytes: &[u8], key: &Key) -> bool {
        let Some(at) = digest_at(bytes) else {
            return false;
        };
        let mut z = bytes.to_vec();
        z[2] = 0;
        z[3] = 0;
        z[at..at + DIGEST_LEN].fill(0);
        key.verify(&[&src.octets(), &z], &bytes[at..at + DIGEST_LEN])
    }
}

/// Where the digest of a signed message sits: the trailer is last in
/// every message (in a Hello, the last option's value).
fn digest_at(bytes: &[u8]) -> Option<usize> {
    let at = bytes.len().checked_sub(DIGEST_LEN)?;
    (bytes.len() >= HEADER_LEN + TRAILER_LEN).then_some(at)
}

fn finish(b: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) {
    b[2] = 0;
    b[3] = 0;
    let c = checksum(src, dst, b);
    b[2..4].copy_from_slice(&c.to_be_bytes());
}

fn decode_hello(r: &mut Reader) -> Result<Packet, DecodeError> {
    let mut h = Hello {
        holdtime: 0,
        dr_priority: None,
        generation_id: None,
        addresses: Vec::new(),
        piasm: None,
    };
    let mut holdtime = None;
    let mut trailer = None;
    while r.left() > 0 {
        if trailer.is_some() {
            return Err(bad(
                "hello.option",
                "an option after the authentication option",
            ));
        }
        let t = r.u16("hello.option.type")?;
        let len = usize::from(r.u16("hello.option.length")?);
        let v = r.take(len, "hello.option.value")?;
        let mut o = Reader { b: v, at: 0 };
        match t {
            OPT_HOLDTIME => {
                if len != 2 {
                    return Err(bad("hello.holdtime", "length is not 2"));
                }
                holdtime = Some(o.u16("hello.holdtime")?);
            }
            OPT_DR_PRIORITY => {
                if len != 4 {
                    return Err(bad("hello.dr_priority", "length is not 4"));
                }
                h.dr_priority = Some(o.u32("hello.dr_priority")?);
            }
            OPT_GENERATION_ID => {
                if len != 4 {
                    return Err(bad("hello.generation_id", "length is not 4"));
                }
                h.generation_id = Some(o.u32("hello.generation_id")?);
            }
            OPT_ADDRESS_LIST => {
                if len % ENC_UNICAST_LEN != 0 {
                    return Err(bad("hello.address_list", "not a whole number of addresses"));
                }
                while o.left() > 0 {
                    h.addresses.push(o.enc_unicast("hello.address_list")?);
                }
            }
            OPT_PIASM => {
                if len != 4 {
                    return Err(bad("hello.piasm", "length is not 4"));
                }
                let version = o.u8("hello.piasm.version")?;
                if version != 1 {
                    return Err(bad("hello.piasm.version", "not 1"));
                }
                let flags = o.u8("hello.piasm.flags")?;
                h.piasm = Some(Capability {
                    version,
                    core: flags & 0x80 != 0,
                });
            }
            OPT_AUTH => {
                if len != TRAILER_LEN {
                    return Err(bad("hello.authentication", "length is not 44"));
                }
                trailer = Some(trailer_from(v));
            }
            // Unknown options are ignored (RFC 7761 §4.9.2).
            _ => {}
        }
    }
    h.holdtime = holdtime.ok_or(bad("hello.holdtime", "missing"))?;
    Ok(Packet {
        message: Message::Hello(h),
        trailer,
    })
}

fn decode_join_prune(r: &mut Reader) -> Result<Packet, DecodeError> {
    let upstream = r.enc_unicast("join/prune.upstream")?;
    r.u8("join/prune.reserved")?;
    let groups = r.u8("join/prune.num_groups")?;
    let holdtime = r.u16("join/prune.holdtime")?;
    if groups == 0 {
        return Err(bad("join/prune.num_groups", "no group"));
    }
    let mut entries = Vec::with_capacity(usize::from(groups));
    for _ in 0..groups {
        let family = r.u8("join/prune.group")?;
        let encoding = r.u8("join/prune.group")?;
        if family != AF_IPV6 || encoding != 0 {
            return Err(DecodeError::Address {
                field: "join/prune.group",
                family,
                encoding,
            });
        }
        let flags = r.u8("join/prune.group.flags")?;
        let mask = r.u8("join/prune.group.mask_len")?;
        let anycast = r.addr("join/prune.group.address")?;
        if mask != 128 {
            return Err(bad("join/prune.group.mask_len", "not 128"));
        }
        // B and Z only: the six bits between them are reserved, ignored.
        if flags & GROUP_BZ != 0 {
            return Err(bad("join/prune.group.flags", "B or Z set"));
        }
        let joins = r.u16("join/prune.group.num_joins")?;
        let prunes = r.u16("join/prune.group.num_prunes")?;
        let action = match (joins, prunes) {
            (1, 0) => Action::Join(decode_join(r)?),
            (0, 1) => Action::Prune(decode_prune(r)?),
            _ => {
                return Err(bad(
                    "join/prune.group.num_joins",
                    "not one join or one prune",
                ))
            }
        };
        entries.push(Entry { anycast, action });
    }
    Ok(Packet {
        message: Message::JoinPrune(JoinPrune {
            upstream,
            holdtime,
            entries,
        }),
        trailer: trailing(r)?,
    })
}

/// An Encoded-Source of S, W, R with a /128: the core and the encoding.
fn decode_source(r: &mut Reader, field: &'static str) -> Result<(Ipv6Addr, u8), DecodeError> {
    let family = r.u8(field)?;
    let encoding = r.u8(field)?;
    if family != AF_IPV6 || encoding > 1 {
        return Err(DecodeError::Address {
            field,
            family,
            encoding,
        });
    }
    let flags = r.u8(field)?;
    let mask = r.u8(field)?;
    let core = r.addr(field)?;
    if flags & 0x07 != SRC_SWR {
        return Err(bad(field, "S, W and R are not all set"));
    }
    if mask != 128 {
        return Err(bad(field, "mask length is not 128"));
    }
    Ok((core, encoding))
}

/// Join attributes (RFC 5384) as PIA-SM defines them.
#[derive(Default)]
struct Attributes {
    weight: Option<u32>,
    endpoint: Option<Ipv6Addr>,
    relayed: bool,
}

fn decode_attributes(r: &mut Reader) -> Result<Attributes, DecodeError> {
    let mut a = Attributes::default();
    let mut seen = [false; 3];
    loop {
        let ft = r.u8("join/prune.group.source.attribute")?;
        let len = usize::from(r.u8("join/prune.group.source.attribute.length")?);
        let v = r.take(len, "join/prune.group.source.attribute.value")?;
        let t = ft & 0x3f;
        if (ATTR_WEIGHT..=ATTR_RELAYED).contains(&t) {
            let i = usize::from(t - ATTR_WEIGHT);
            if seen[i] {
                return Err(bad("join/prune.group.source.attribute", "repeated"));
            }
            seen[i] = true;
        }
        match (t, len) {
            (ATTR_WEIGHT, 4) => {
                let w = u32::from_be_bytes(v.try_into().unwrap());
                if w == 0 || w > MAX_WEIGHT {
                    return Err(bad(
                        "join/prune.group.source.attribute.weight",
                        "not 1 to 65535",
                    ));
                }
                a.weight = Some(w);
            }
            (ATTR_ENDPOINT, 16) => {
                a.endpoint = Some(Ipv6Addr::from(<[u8; 16]>::try_from(v).unwrap()));
            }
            (ATTR_RELAYED, 0) => a.relayed = true,
            (ATTR_WEIGHT | ATTR_ENDPOINT | ATTR_RELAYED, _) => {
                return Err(bad(
                    "join/prune.group.source.attribute.length",
                    "wrong for its type",
                ))
            }
            _ if ft & ATTR_F == 0 => {
                return Err(bad(
                    "join/prune.group.source.attribute",
                    "unknown and not transitive",
                ))
            }
            _ => {}
        }
        if ft & ATTR_E != 0 {
            return Ok(a);
        }
    }
}

fn decode_join(r: &mut Reader) -> Result<Join, DecodeError> {
    let (core, encoding) = decode_source(r, "join/prune.group.join")?;
    if encoding != 1 {
        return Err(bad(
            "join/prune.group.join.attribute",
            "no join attributes (encoding type 0)",
        ));
    }
    let a = decode_attributes(r)?;
    let weight = a
        .weight
        .ok_or(bad("join/prune.group.join.attribute.weight", "missing"))?;
    Ok(Join {
        core,
        weight,
        endpoint: a.endpoint,
        relayed: a.relayed,
    })
}

fn decode_prune(r: &mut Reader) -> Result<Prune, DecodeError> {
    let (core, encoding) = decode_source(r, "join/prune.group.prune")?;
    let a = if encoding == 1 {
        decode_attributes(r)?
    } else {
        Attributes::default()
    };
    if a.weight.is_some() {
        return Err(bad(
            "join/prune.group.prune.attribute.weight",
            "a prune carries no weight",
        ));
    }
    Ok(Prune {
        core,
        endpoint: a.endpoint,
        relayed: a.relayed,
    })
}

fn decode_announcement(r: &mut Reader) -> Result<Packet, DecodeError> {
    let holdtime = r.u16("announcement.holdtime")?;
    let n = usize::from(r.u16("announcement.num_branches")?);
    let version = r.u32("announcement.version")?;
    let table_len = r.u32("announcement.table_len")?;
    let hash_seed = r.u32("announcement.hash_seed")?;
    let anycast = r.addr("announcement.anycast")?;
    if n > MAX_BRANCHES {
        return Err(bad("announcement.num_branches", "more than 64"));
    }
    let mut branches: Vec<(Ipv6Addr, u16)> = Vec::with_capacity(n);
    for _ in 0..n {
        let e = r.addr("announcement.branch.endpoint")?;
        let w = r.u16("announcement.branch.weight")?;
        r.u16("announcement.branch.reserved")?;
        if w == 0 {
            return Err(bad("announcement.branch.weight", "0"));
        }
        if branches.last().is_some_and(|(l, _)| *l >= e) {
            return Err(bad(
                "announcement.branch.endpoint",
                "not sorted or repeated",
            ));
        }
        branches.push((e, w));
    }
    Ok(Packet {
        message: Message::BranchAnnouncement(BranchAnnouncement {
            holdtime,
            version,
            table_len,
            hash_seed,
            anycast,
            branches,
        }),
        trailer: trailing(r)?,
    })
}

fn put_unicast(b: &mut Vec<u8>, a: Ipv6Addr) {
    b.extend_from_slice(&[AF_IPV6, 0]);
    b.extend_from_slice(&a.octets());
}

fn put_attributes(b: &mut Vec<u8>, weight: Option<u32>, endpoint: Option<Ipv6Addr>, relayed: bool) {
    let mut attrs: Vec<(u8, Vec<u8>)> = Vec::new();
    if let Some(w) = weight {
        attrs.push((ATTR_WEIGHT, w.to_be_bytes().to_vec()));
    }
    if let Some(e) = endpoint {
        attrs.push((ATTR_ENDPOINT, e.octets().to_vec()));
    }
    if relayed {
        attrs.push((ATTR_RELAYED, vec![]));
    }
    let last = attrs.len().saturating_sub(1);
    for (i, (t, v)) in attrs.into_iter().enumerate() {
        b.push(t | if i == last { ATTR_E } else { 0 });
        b.push(v.len() as u8);
        b.extend_from_slice(&v);
    }
}

fn put_option(b: &mut Vec<u8>, t: u16, v: &[u8]) {
    b.extend_from_slice(&t.to_be_bytes());
    b.extend_from_slice(&(v.len() as u16).to_be_bytes());
    b.extend_from_slice(v);
}

/// The message with a zero checksum, and `trailer` in its place.
fn body(m: &Message, trailer: Option<&[u8; TRAILER_LEN]>) -> Vec<u8> {
    let (t, sub) = match m {
        Message::Hello(_) => (TYPE_HELLO, 0),
        Message::JoinPrune(_) => (TYPE_JOIN_PRUNE, 0),
        Message::ShortcutRequest(_) => (TYPE_EXTENSION, SUBTYPE_SHORTCUT_REQUEST),
        Message::BranchAnnouncement(_) => (TYPE_EXTENSION, SUBTYPE_BRANCH_ANNOUNCEMENT),
    };
    let mut b = vec![0x20 | t, sub << 4, 0, 0];
    match m {
        Message::Hello(h) => {
            put_option(&mut b, OPT_HOLDTIME, &h.holdtime.to_be_bytes());
            if let Some(p) = h.dr_priority {
                put_option(&mut b, OPT_DR_PRIORITY, &p.to_be_bytes());
            }
            if let Some(g) = h.generation_id {
                put_option(&mut b, OPT_GENERATION_ID, &g.to_be_bytes());
            }
            if !h.addresses.is_empty() {
                let mut v = Vec::new();
                for a in &h.addresses {
                    put_unicast(&mut v, *a);
                }
                put_option(&mut b, OPT_ADDRESS_LIST, &v);
            }
            if let Some(c) = h.piasm {
                put_option(
                    &mut b,
                    OPT_PIASM,
                    &[c.version, if c.core { 0x80 } else { 0 }, 0, 0],
                );
            }
            if let Some(t) = trailer {
                put_option(&mut b, OPT_AUTH, t);
            }
            return b;
        }
        Message::JoinPrune(j) => {
            put_unicast(&mut b, j.upstream);
            b.push(0);
            b.push(j.entries.len() as u8);
            b.extend_from_slice(&j.holdtime.to_be_bytes());
            for e in &j.entries {
                b.extend_from_slice(&[AF_IPV6, 0, 0, 128]);
                b.extend_from_slice(&e.anycast.octets());
                match e.action {
                    Action::Join(j) => {
                        b.extend_from_slice(&[0, 1, 0, 0]);
                        b.extend_from_slice(&[AF_IPV6, 1, SRC_SWR, 128]);
                        b.extend_from_slice(&j.core.octets());
                        put_attributes(&mut b, Some(j.weight), j.endpoint, j.relayed);
                    }
                    Action::Prune(p) => {
                        b.extend_from_slice(&[0, 0, 0, 1]);
                        let attrs = p.endpoint.is_some() || p.relayed;
                        b.extend_from_slice(&[AF_IPV6, u8::from(attrs), SRC_SWR, 128]);
                        b.extend_from_slice(&p.core.octets());
                        if attrs {
                            put_attributes(&mut b, None, p.endpoint, p.relayed);
                        }
                    }
                }
            }
        }
        Message::ShortcutRequest(s) => {
            b.extend_from_slice(&s.holdtime.to_be_bytes());
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(&s.anycast.octets());
            b.extend_from_slice(&s.ingress.octets());
        }
        Message::BranchAnnouncement(a) => {
            b.extend_from_slice(&a.holdtime.to_be_bytes());
            b.extend_from_slice(&(a.branches.len() as u16).to_be_bytes());
            b.extend_from_slice(&a.version.to_be_bytes());
            b.extend_from_slice(&a.table_len.to_be_bytes());
            b.extend_from_slice(&a.hash_seed.to_be_bytes());
            b.extend_from_slice(&a.anycast.octets());
            for (e, w) in &a.branches {
                b.extend_from_slice(&e.octets());
                b.extend_from_slice(&w.to_be_bytes());
                b.extend_from_slice(&[0, 0]);
            }
        }
    }
    if let Some(t) = trailer {
        b.extend_from_slice(t);
    }
    b
}

/// Octets of one Join/Prune entry, to fill messages up to an MTU.
pub fn entry_len(e: &Entry) -> usize {
    ENC_GROUP_LEN
        + 4
        + ENC_SOURCE_LEN
        + match e.action {
            Action::Join(j) => 6 + attributes_len(j.endpoint, j.relayed),
            Action::Prune(p) => attributes_len(p.endpoint, p.relayed),
        }
}

fn attributes_len(endpoint: Option<Ipv6Addr>, relayed: bool) -> usize {
    usize::from(endpoint.is_some()) * 18 + usize::from(relayed) * 2
}

/// Octets of a Join/Prune before its entries.
pub const JOIN_PRUNE_FIXED: usize = HEADER_LEN + ENC_UNICAST_LEN + 4;
