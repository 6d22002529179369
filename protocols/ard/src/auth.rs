//! ARD's keyed digest (docs/ard.md §6): HMAC-SHA-256 over the sender's
//! IPv6 source address followed by the whole message with the digest field
//! zeroed. Covering the source address (as OSPFv3's trailer does with Apad,
//! RFC 7166) stops a captured report from being replayed under another
//! link-local address, where the replay guard has not seen its sequence.

use std::net::Ipv6Addr;

use anycast6_core::auth::{AuthError, Key, Keyring, ReplayGuard, ALG_HMAC_SHA256, DIGEST_LEN};

use super::packet::{AuthTrailer, Packet, FLAG_AUTH, TRAILER_LEN};

/// Encodes `packet` with a trailer for `key` and `seq`, signed as sent from
/// `src`. Any trailer already in `packet` is replaced.
pub fn sign(packet: &Packet, src: Ipv6Addr, key: &Key, seq: u64) -> Vec<u8> {
    let mut p = packet.clone();
    p.auth = Some(AuthTrailer {
        key_id: key.id,
        algorithm: ALG_HMAC_SHA256,
        seq,
        digest: [0; DIGEST_LEN],
    });
    let mut bytes = p.encode();
    key.seal_trailing(src, &mut bytes);
    bytes
}

/// What [`check`] found acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVerdict {
    /// No key configured; the message carried no trailer.
    Unauthenticated,
    /// No key configured; a trailer was present and not checked.
    TrailerIgnored,
    /// Verified with this key id and sequence number.
    Verified { key_id: u16, seq: u64 },
}

/// Checks the raw datagram `bytes` (already decoded into `trailer`) from
/// `src` against `keyring`, then the replay guard (only once the digest
/// verified, so forgeries cannot move the window).
pub fn check(
    bytes: &[u8],
    trailer: Option<&AuthTrailer>,
    src: Ipv6Addr,
    keyring: &Keyring,
    guard: &mut ReplayGuard,
) -> Result<AuthVerdict, AuthError> {
    if !keyring.enabled() {
        return Ok(match trailer {
            None => AuthVerdict::Unauthenticated,
            Some(_) => AuthVerdict::TrailerIgnored,
        });
    }
    let t = trailer.ok_or(AuthError::Missing)?;
    debug_assert!(bytes.len() >= TRAILER_LEN && bytes[2] & FLAG_AUTH != 0);
    let key = keyring
        .key(t.key_id)
        .ok_or(AuthError::UnknownKey(t.key_id))?;
    if t.algorithm != ALG_HMAC_SHA256 {
        return Err(AuthError::UnknownAlgorithm(t.algorithm));
    }
    if !key.verify_trailing(src, bytes) {
        return Err(AuthError::BadDigest);
    }
    guard.check_and_update(src, t.key_id, t.seq)?;
    Ok(AuthVerdict::Verified {
        key_id: t.key_id,
        seq: t.seq,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::packet::{Message, Query};
    use super::*;

    #[test]
    fn digest_covers_source_and_body() {
        let key = Key::new(7, b"secret".to_vec());
        let ring = Keyring::new(vec![key.clone()]);
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let p = Packet {
            message: Message::Query(Query {
                max_response_delay: Duration::from_millis(100),
                max_hold: Duration::ZERO,
                query_interval: Duration::from_secs(1),
                robustness: 2,
                anycast: None,
            }),
            auth: None,
        };
        let bytes = sign(&p, src, &key, 5);
        let t = Packet::decode(&bytes).unwrap().packet.auth.unwrap();
        let mut g = ReplayGuard::new();
        assert_eq!(
            check(&bytes, Some(&t), "fe80::2".parse().unwrap(), &ring, &mut g),
            Err(AuthError::BadDigest)
        );
        let mut flipped = bytes.clone();
        flipped[9] ^= 1;
        assert_eq!(
            check(&flipped, Some(&t), src, &ring, &mut g),
            Err(AuthError::BadDigest)
        );
        assert_eq!(
            check(&bytes, Some(&t), src, &ring, &mut g),
            Ok(AuthVerdict::Verified { key_id: 7, seq: 5 })
        );
        assert_eq!(
            check(&bytes, Some(&t), src, &ring, &mut g),
            Err(AuthError::Replay { got: 5, last: 5 })
        );
    }
}
