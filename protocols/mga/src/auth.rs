//! Keyed Mobility Header messages (docs/mga.md §4.5): the Mobility Message
//! Authentication option of RFC 4285 with HMAC-SHA-256 (protocols/core's)
//! over
//!
//! ```text
//! source (16) || destination (16) || MH from Payload Proto through SPI, Checksum zero
//! ```
//!
//! and replay protection by Message Identifier per (source, SPI).
//! Receivers check in the order of §4.5: no option, unknown SPI, wrong
//! Subtype, digest, then ([`ReplayGuard`]) the Message Identifier.

use std::collections::HashMap;
use std::net::Ipv6Addr;

use anycast6_core::auth::{Key, DIGEST_LEN};

use crate::packet::option::{Auth, AUTH_OPTION_LEN, OPT_AUTH};
use crate::packet::{Message, MH_FIXED};

/// Why a keyed receiver refused a message; each one is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AuthRefusal {
    #[error("no authentication option, keys are configured")]
    Missing,
    #[error("unknown SPI {0}")]
    UnknownKey(u32),
    #[error("authentication subtype {got}, this message needs {want}")]
    BadSubtype { got: u8, want: u8 },
    #[error("authenticator does not match")]
    BadDigest,
    #[error("no Message Identifier")]
    NoMessageId,
    #[error("Message Identifier {got} not above {last} (replay)")]
    Replay { got: u64, last: u64 },
}

impl AuthRefusal {
    /// The counter of docs/mga.md §4.5.
    pub fn counter(&self) -> &'static str {
        match self {
            AuthRefusal::Missing => "auth_missing",
            AuthRefusal::UnknownKey(_) => "auth_unknown_key",
            AuthRefusal::BadSubtype { .. } => "auth_bad_subtype",
            AuthRefusal::BadDigest => "auth_bad_digest",
            AuthRefusal::NoMessageId | AuthRefusal::Replay { .. } => "auth_replay",
        }
    }
}

/// The keys of `[[mga.key]]`, by SPI; the first is the one sent with.
/// (protocols/core's [`Key`] carries the secret; its id is unused here.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyring {
    keys: Vec<(u32, Key)>,
}

impl Keyring {
    /// No keys: messages are accepted unkeyed, options ignored.
    pub fn none() -> Keyring {
        Keyring::default()
    }

    pub fn new(keys: Vec<(u32, Key)>) -> Keyring {
        Keyring { keys }
    }

    pub fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    pub fn key(&self, spi: u32) -> Option<&Key> {
        self.keys.iter().find(|(s, _)| *s == spi).map(|(_, k)| k)
    }

    /// The SPI and key a sender uses.
    pub fn send_key(&self) -> Option<(u32, &Key)> {
        self.keys.first().map(|(s, k)| (*s, k))
    }
}

/// What a receiver learned of a message's authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The digest verified with the key of `spi`; the replay check
    /// follows ([`ReplayGuard`]).
    Keyed { spi: u32, message_id: Option<u64> },
    /// No keys configured; `ignored`: the message carried an option all
    /// the same (`auth_ignored`).
    Unkeyed { ignored: bool },
}

/// Writes the authentication option into `msg` (replacing any): Subtype,
/// SPI and the Authenticator of the message as [`Message::encode`] then
/// writes it from `src` to `dst`.
pub fn seal(key: &Key, spi: u32, subtype: u8, src: Ipv6Addr, dst: Ipv6Addr, msg: &mut Message) {
    msg.options_mut().auth = Some(Auth {
        subtype,
        spi,
        authenticator: [0; DIGEST_LEN],
    });
    let b = msg.encode_unchecked();
    let digest = key.digest(&[&src.octets(), &dst.octets(), &b[..b.len() - DIGEST_LEN]]);
    if let Some(a) = msg.options_mut().auth.as_mut() {
        a.authenticator = digest;
    }
}

/// Checks `msg`, decoded from `bytes` as received from `src` to `dst`,
/// against `keys`; `subtype` is the one its kind of message needs
/// ([`crate::packet::option::AUTH_MN_HA`] or
/// [`crate::packet::option::AUTH_MN_CN`]).
pub fn verify(
    keys: &Keyring,
    subtype: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    bytes: &[u8],
    msg: &Message,
) -> Result<Verdict, AuthRefusal> {
    let auth = msg.options().auth;
    if !keys.enabled() {
        return Ok(Verdict::Unkeyed {
            ignored: auth.is_some(),
        });
    }
    let a = auth.ok_or(AuthRefusal::Missing)?;
    let key = keys.key(a.spi).ok_or(AuthRefusal::UnknownKey(a.spi))?;
    if a.subtype != subtype {
        return Err(AuthRefusal::BadSubtype {
            got: a.subtype,
            want: subtype,
        });
    }
    // The decoder put the option last, so it is the last 39 octets;
    // anything else was not decoded from these octets.
    let Some(at) = bytes.len().checked_sub(AUTH_OPTION_LEN) else {
        return Err(AuthRefusal::BadDigest);
    };
    if at < MH_FIXED || bytes[at] != OPT_AUTH {
        return Err(AuthRefusal::BadDigest);
    }
    let mut covered = bytes[..bytes.len() - DIGEST_LEN].to_vec();
    covered[4] = 0;
    covered[5] = 0;
    let digest = &bytes[bytes.len() - DIGEST_LEN..];
    if digest != a.authenticator || !key.verify(&[&src.octets(), &dst.octets(), &covered], digest) {
        return Err(AuthRefusal::BadDigest);
    }
    Ok(Verdict::Keyed {
        spi: a.spi,
        message_id: msg.options().message_id,
    })
}

/// The last Message Identifier accepted per (source, SPI).
#[derive(Debug, Clone, Default)]
pub struct ReplayGuard {
    last: HashMap<(Ipv6Addr, u32), u64>,
}

impl ReplayGuard {
    pub fn new() -> ReplayGuard {
        ReplayGuard::default()
    }

    /// Whether `id` from `src` keyed with `spi` is above the last one
    /// accepted; changes nothing.
    pub fn check(&self, src: Ipv6Addr, spi: u32, id: Option<u64>) -> Result<u64, AuthRefusal> {
        let got = id.ok_or(AuthRefusal::NoMessageId)?;
        match self.last.get(&(src, spi)) {
            Some(&last) if got <= last => Err(AuthRefusal::Replay { got, last }),
            _ => Ok(got),
        }
    }

    /// [`ReplayGuard::check`], then remembers `id`; call only after the
    /// digest verified, so that a forged message cannot move the window.
    pub fn check_and_update(
        &mut self,
        src: Ipv6Addr,
        spi: u32,
        id: Option<u64>,
    ) -> Result<(), AuthRefusal> {
        let got = self.check(src, spi, id)?;
        self.last.insert((src, spi), got);
        Ok(())
    }

    /// Forgets a source (its bindings expired).
    pub fn forget(&mut self, src: Ipv6Addr) {
        self.last.retain(|(s, _), _| *s != src);
    }
}
