//! Keyed digests with replay protection, shared by ARD, ARIP, AARP and MGA.
//!
//! HMAC-SHA-256 over the whole message as sent (with the digest field
//! zeroed), keyed by a (key id, secret) pair; each sender stamps a 64-bit
//! sequence number that must strictly increase per (sender, key id). Senders
//! start their sequence from wall-clock time (the daemon's business), so a
//! restart does not go backwards. See docs/ard.md, docs/arip.md; AARP binds
//! answers to queries by nonce instead (docs/aarp.md §6).

use std::collections::HashMap;
use std::net::Ipv6Addr;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const DIGEST_LEN: usize = 32;

/// Algorithm code carried on the wire (only HMAC-SHA-256 exists so far).
pub const ALG_HMAC_SHA256: u8 = 1;

#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    pub id: u16,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Key")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Key {
    pub fn new(id: u16, secret: impl Into<Vec<u8>>) -> Key {
        Key {
            id,
            secret: secret.into(),
        }
    }

    /// HMAC-SHA-256 of the concatenation of `parts`.
    pub fn digest(&self, parts: &[&[u8]]) -> [u8; DIGEST_LEN] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .expect("HMAC takes keys of any length");
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// Signs a message whose last [`DIGEST_LEN`] octets are its digest
    /// field (zero on entry): the digest covers the sender's address, then
    /// the message with that field zeroed (ARD and AARP trailers).
    pub fn seal_trailing(&self, src: Ipv6Addr, bytes: &mut [u8]) {
        let at = bytes.len() - DIGEST_LEN;
        let digest = self.digest(&[&src.octets(), bytes]);
        bytes[at..].copy_from_slice(&digest);
    }

    /// Checks a message sealed by [`Key::seal_trailing`] as sent from `src`.
    pub fn verify_trailing(&self, src: Ipv6Addr, bytes: &[u8]) -> bool {
        if bytes.len() < DIGEST_LEN {
            return false;
        }
        let at = bytes.len() - DIGEST_LEN;
        let mut zeroed = bytes.to_vec();
        zeroed[at..].fill(0);
        self.verify(&[&src.octets(), &zeroed], &bytes[at..])
    }

    /// Constant-time comparison of `digest` with the digest of `parts`.
    pub fn verify(&self, parts: &[&[u8]], digest: &[u8]) -> bool {
        digest.len() == DIGEST_LEN && bool::from(self.digest(parts).ct_eq(digest))
    }
}

/// Why an authenticated message was refused (each one is counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AuthError {
    #[error("message carries no authentication but a key is configured")]
    Missing,
    #[error("unknown key id {0}")]
    UnknownKey(u16),
    #[error("unknown algorithm {0}")]
    UnknownAlgorithm(u8),
    #[error("digest does not match")]
    BadDigest,
    #[error("sequence number {got} not above {last} (replay)")]
    Replay { got: u64, last: u64 },
}

/// A keyring: the keys a receiver accepts, and the one a sender uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<Key>,
    send: Option<u16>,
}

impl Keyring {
    /// No keys: authentication off, everything accepted unsigned.
    pub fn none() -> Keyring {
        Keyring::default()
    }

    /// Accepts every key of `keys`; sends with the first.
    pub fn new(keys: Vec<Key>) -> Keyring {
        let send = keys.first().map(|k| k.id);
        Keyring { keys, send }
    }

    pub fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    pub fn send_key(&self) -> Option<&Key> {
        self.send.and_then(|id| self.key(id))
    }

    pub fn key(&self, id: u16) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// Highest sequence number seen per (sender, key id).
#[derive(Debug, Clone, Default)]
pub struct ReplayGuard {
    last: HashMap<(Ipv6Addr, u16), u64>,
}

impl ReplayGuard {
    pub fn new() -> ReplayGuard {
        ReplayGuard::default()
    }

    /// Accepts `seq` from `sender` if above the last one accepted; call only
    /// after the digest verified, so a forged message cannot move the window.
    pub fn check_and_update(
        &mut self,
        sender: Ipv6Addr,
        key_id: u16,
        seq: u64,
    ) -> Result<(), AuthError> {
        let last = self.last.entry((sender, key_id)).or_insert(0);
        if seq <= *last {
            return Err(AuthError::Replay {
                got: seq,
                last: *last,
            });
        }
        *last = seq;
        Ok(())
    }

    /// Forgets a sender (e.g. when its state expired).
    pub fn forget(&mut self, sender: Ipv6Addr) {
        self.last.retain(|(s, _), _| *s != sender);
    }
}

/// A sender's sequence counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqCounter(u64);

impl SeqCounter {
    /// Starts at `start` (the daemon passes nanoseconds since the Unix epoch).
    pub fn starting_at(start: u64) -> SeqCounter {
        SeqCounter(start.max(1))
    }

    pub fn take(&mut self) -> u64 {
        let v = self.0;
        self.0 = self.0.saturating_add(1);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2() {
        // RFC 4231 test case 2 (HMAC-SHA-256).
        let k = Key::new(1, b"Jefe".to_vec());
        let d = k.digest(&[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            d[..8],
            [0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e],
            "{d:02x?}"
        );
        assert!(k.verify(&[b"what do ya want for nothing?"], &d));
        let mut bad = d;
        bad[31] ^= 1;
        assert!(!k.verify(&[b"what do ya want for nothing?"], &bad));
    }

    #[test]
    fn replay_window() {
        let mut g = ReplayGuard::new();
        let a: Ipv6Addr = "fe80::1".parse().unwrap();
        g.check_and_update(a, 1, 10).unwrap();
        assert_eq!(
            g.check_and_update(a, 1, 10),
            Err(AuthError::Replay { got: 10, last: 10 })
        );
        g.check_and_update(a, 2, 5).unwrap();
        g.check_and_update(a, 1, 11).unwrap();
        g.forget(a);
        g.check_and_update(a, 1, 3).unwrap();
    }
}
