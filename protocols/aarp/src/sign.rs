//! AARP's keyed digest (docs/aarp.md §6): HMAC-SHA-256 over the IPv6
//! source address of the datagram followed by the whole message with the
//! digest zeroed, as ARD's. An answer is sent from the anycast address A,
//! so its digest binds it to A as well as to the query's nonce.
//!
//! There is no per-sender replay window: every member of A (and every
//! router answering for it) sends from the same address A with its own
//! sequence, so "strictly increasing per sender" cannot hold. Replays are
//! stopped by the nonce instead (see `resolver`).

use std::net::Ipv6Addr;

use crate::packet::{Body, Message, Trailer};
use anycast6_core::auth::{AuthError, Key, Keyring, ALG_HMAC_SHA256, DIGEST_LEN};

/// Encodes `body` with a trailer for `key` and `seq`, signed as sent from
/// `src`.
pub fn sign(body: &Body, src: Ipv6Addr, key: &Key, seq: u64) -> Vec<u8> {
    let m = Message {
        body: *body,
        trailer: Some(Trailer {
            key_id: key.id,
            algorithm: ALG_HMAC_SHA256,
            seq,
            digest: [0; DIGEST_LEN],
        }),
    };
    let mut bytes = m.encode();
    key.seal_trailing(src, &mut bytes);
    bytes
}

/// Encodes `body` signed with the keyring's send key, or unsigned when the
/// keyring is empty; `seq` is called only when signing.
pub fn seal(body: &Body, src: Ipv6Addr, keyring: &Keyring, seq: impl FnOnce() -> u64) -> Vec<u8> {
    match keyring.send_key() {
        Some(key) => sign(body, src, key, seq()),
        None => Message {
            body: *body,
            trailer: None,
        }
        .encode(),
    }
}

/// What [`check`] found acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No key configured; no trailer.
    Unauthenticated,
    /// No key configured; a trailer was present and not checked.
    TrailerIgnored,
    /// Verified with this key id; `seq` is the sender's counter.
    Verified { key_id: u16, seq: u64 },
}

impl Verdict {
    pub fn authenticated(self) -> bool {
        matches!(self, Verdict::Verified { .. })
    }
}

/// Checks the datagram `bytes` (already decoded into `msg`) from `src`
/// against `keyring`. Never returns [`AuthError::Replay`]: see the module
/// comment.
pub fn check(
    bytes: &[u8],
    msg: &Message,
    src: Ipv6Addr,
    keyring: &Keyring,
) -> Result<Verdict, AuthError> {
    if !keyring.enabled() {
        return Ok(match msg.trailer {
            None => Verdict::Unauthenticated,
            Some(_) => Verdict::TrailerIgnored,
        });
    }
    let t = msg.trailer.as_ref().ok_or(AuthError::Missing)?;
    let key = keyring
        .key(t.key_id)
        .ok_or(AuthError::UnknownKey(t.key_id))?;
    if t.algorithm != ALG_HMAC_SHA256 {
        return Err(AuthError::UnknownAlgorithm(t.algorithm));
    }
    if !key.verify_trailing(src, bytes) {
        return Err(AuthError::BadDigest);
    }
    Ok(Verdict::Verified {
        key_id: t.key_id,
        seq: t.seq,
    })
}

/// [`AuthError`] without its data, to count failures by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthFailure {
    Missing,
    UnknownKey,
    UnknownAlgorithm,
    BadDigest,
    /// An answer for a nonce that was already answered (docs/aarp.md §6.3).
    Replay,
}

impl From<&AuthError> for AuthFailure {
    fn from(e: &AuthError) -> AuthFailure {
        match e {
            AuthError::Missing => AuthFailure::Missing,
            AuthError::UnknownKey(_) => AuthFailure::UnknownKey,
            AuthError::UnknownAlgorithm(_) => AuthFailure::UnknownAlgorithm,
            AuthError::BadDigest => AuthFailure::BadDigest,
            AuthError::Replay { .. } => AuthFailure::Replay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{decode, Query};

    #[test]
    fn digest_covers_source_and_body() {
        let key = Key::new(7, b"secret".to_vec());
        let ring = Keyring::new(vec![key.clone()]);
        let src: Ipv6Addr = "2001:db8:a::1".parse().unwrap();
        let body = Body::Query(Query {
            nonce: 1,
            anycast: src,
            member_only: false,
        });
        let bytes = sign(&body, src, &key, 5);
        let m = decode(&bytes).unwrap();
        assert_eq!(
            check(&bytes, &m, src, &ring),
            Ok(Verdict::Verified { key_id: 7, seq: 5 })
        );
        let other = "2001:db8:a::2".parse().unwrap();
        assert_eq!(check(&bytes, &m, other, &ring), Err(AuthError::BadDigest));
        let mut flipped = bytes.clone();
        flipped[9] ^= 1;
        let fm = decode(&flipped).unwrap();
        assert_eq!(check(&flipped, &fm, src, &ring), Err(AuthError::BadDigest));
        let wrong = Keyring::new(vec![Key::new(8, b"secret".to_vec())]);
        assert_eq!(
            check(&bytes, &m, src, &wrong),
            Err(AuthError::UnknownKey(7))
        );
        assert_eq!(
            check(&bytes, &m, src, &Keyring::none()),
            Ok(Verdict::TrailerIgnored)
        );
        let plain = seal(&body, src, &Keyring::none(), || unreachable!());
        let pm = decode(&plain).unwrap();
        assert_eq!(check(&plain, &pm, src, &ring), Err(AuthError::Missing));
    }
}
