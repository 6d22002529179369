//! The OSPFv3 authentication trailer (RFC 7166): HMAC-SHA-256 over the
//! packet and the trailer, the digest field holding Apad (the IPv6 source
//! address, then a constant) while it is computed, keyed by the key and
//! the Cryptographic Protocol ID (§4.5).
//!
//! The trailer follows the OSPFv3 packet inside the IPv6 payload; the
//! packet length field does not count it (§4.2). A sender sets the AT bit
//! in the options of its Hellos and Database Descriptions (§3) and then
//! appends a trailer to every packet. The digest is computed with the
//! packet checksum field zero: FRR sends it zero when it authenticates,
//! and a kernel-computed checksum (IPV6_CHECKSUM) is only filled in after
//! the digest is made.

use std::net::Ipv6Addr;

use anycast6_core::auth::{AuthError, Key, Keyring, DIGEST_LEN};
use sha2::{Digest, Sha256};

use super::error::DecodeError;
use super::{get_u16, get_u32, CHECKSUM_OFFSET, HEADER_LEN};

/// Authentication type 1: HMAC Cryptographic Authentication (§4.1).
pub const AUTH_TYPE_HMAC: u16 = 1;
pub const TRAILER_FIXED_LEN: usize = 16;
/// A trailer with an HMAC-SHA-256 digest.
pub const TRAILER_LEN: usize = TRAILER_FIXED_LEN + DIGEST_LEN;
/// Apad's constant (RFC 7166 §4.5, after RFC 5709), repeated after the
/// source address over the digest field.
const APAD_WORD: [u8; 4] = [0x87, 0x8f, 0xe1, 0xf3];

/// The authentication trailer (RFC 7166 §4.1).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Authentication Type       |     Auth Data Len             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Reserved             |    Security Association ID    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Cryptographic Sequence Number (High-Order 32 Bits)       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Cryptographic Sequence Number (Low-Order 32 Bits)        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                                                               |
/// ~                 Authentication Data (Variable)                ~
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// Auth Data Len counts the whole trailer. The type is always 1 (others
/// are refused), so it is not stored; the reserved field is written 0.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuthTrailer {
    /// The key id of the security association.
    pub sa_id: u16,
    pub seq: u64,
    /// As long as the algorithm's digest (32 octets for HMAC-SHA-256).
    pub digest: Vec<u8>,
}

impl AuthTrailer {
    /// Decodes `b`, exactly the octets after the OSPFv3 packet.
    pub fn decode(b: &[u8]) -> Result<AuthTrailer, DecodeError> {
        if b.len() < TRAILER_FIXED_LEN {
            return Err(DecodeError::TrailerTruncated(b.len()));
        }
        let t = get_u16(b, 0);
        if t != AUTH_TYPE_HMAC {
            return Err(DecodeError::TrailerType(t));
        }
        let len = get_u16(b, 2);
        if usize::from(len) != b.len() {
            return Err(DecodeError::TrailerLength {
                header: len,
                actual: b.len(),
            });
        }
        Ok(AuthTrailer {
            sa_id: get_u16(b, 6),
            seq: (u64::from(get_u32(b, 8)) << 32) | u64::from(get_u32(b, 12)),
            digest: b[TRAILER_FIXED_LEN..].to_vec(),
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&AUTH_TYPE_HMAC.to_be_bytes());
        out.extend_from_slice(&((TRAILER_FIXED_LEN + self.digest.len()) as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.sa_id.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.digest);
    }
}

/// How the key is prepared (RFC 7166 §4.5: Ks = K || Cryptographic
/// Protocol ID, hashed when longer than the digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyPrep {
    /// The RFC: protocol id 1 (OSPFv3) in network order, 0x00 0x01.
    Rfc7166,
    /// FRR ospf6d before its interop fix (FRRouting/frr#14146, 2023), such
    /// as Debian's 8.4: the id in x86 host order, 0x01 0x00. Those FRR
    /// versions do not interoperate with RFC 7166 peers.
    FrrLegacy,
}

const CPID_OSPFV3: u16 = 1;

fn prepared(key: &Key, prep: KeyPrep) -> Key {
    let cpid = match prep {
        KeyPrep::Rfc7166 => CPID_OSPFV3.to_be_bytes(),
        KeyPrep::FrrLegacy => CPID_OSPFV3.to_le_bytes(),
    };
    let mut ks = key.secret.clone();
    ks.extend_from_slice(&cpid);
    if ks.len() > DIGEST_LEN {
        ks = Sha256::digest(&ks).to_vec();
    }
    // HMAC zero-pads a key shorter than its block, as §4.5 pads Ks.
    Key::new(key.id, ks)
}

/// `payload` (packet then trailer) prepared for the digest: the checksum
/// field zero, the digest field Apad (the source address, then
/// 0x878FE1F3 repeated, §4.5).
fn text(src: Ipv6Addr, payload: &[u8], trailer_at: usize) -> Vec<u8> {
    let mut text = payload.to_vec();
    text[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 2].fill(0);
    let apad = &mut text[trailer_at + TRAILER_FIXED_LEN..];
    let n = apad.len().min(16);
    apad[..n].copy_from_slice(&src.octets()[..n]);
    for (i, b) in apad[n..].iter_mut().enumerate() {
        *b = APAD_WORD[i % 4];
    }
    text
}

/// Appends a trailer to `packet` (an encoded OSPFv3 packet without one)
/// and signs it with `key` (its id is the SA id) and sequence number
/// `seq`. Hellos and Database Descriptions must carry the AT option.
pub fn seal(packet: &mut Vec<u8>, src: Ipv6Addr, key: &Key, seq: u64, prep: KeyPrep) {
    let at = packet.len();
    AuthTrailer {
        sa_id: key.id,
        seq,
        digest: vec![0; DIGEST_LEN],
    }
    .encode(packet);
    let d = prepared(key, prep).digest(&[&text(src, packet, at)]);
    packet[at + TRAILER_FIXED_LEN..].copy_from_slice(&d);
}

/// Checks the trailer of `payload` (the IPv6 payload as received from
/// `src`) with the key `keyring` holds for its SA id. Returns the trailer,
/// whose sequence number the caller then checks for replay (a
/// [`anycast6_core::auth::ReplayGuard`]). A payload that does not decode
/// as packet and trailer counts as unauthenticated.
pub fn verify(
    payload: &[u8],
    src: Ipv6Addr,
    keyring: &Keyring,
    prep: KeyPrep,
) -> Result<AuthTrailer, AuthError> {
    if payload.len() < HEADER_LEN {
        return Err(AuthError::Missing);
    }
    let at = usize::from(get_u16(payload, 2));
    if at < HEADER_LEN || at >= payload.len() {
        return Err(AuthError::Missing);
    }
    let trailer = AuthTrailer::decode(&payload[at..]).map_err(|_| AuthError::Missing)?;
    let key = keyring
        .key(trailer.sa_id)
        .ok_or(AuthError::UnknownKey(trailer.sa_id))?;
    if trailer.digest.len() != DIGEST_LEN {
        return Err(AuthError::BadDigest);
    }
    if prepared(key, prep).verify(&[&text(src, payload, at)], &trailer.digest) {
        Ok(trailer)
    } else {
        Err(AuthError::BadDigest)
    }
}
