//! Keyed messages (docs/mga.md §4.5): the keyed fixtures verify with the
//! fixture key, and each refusal comes in the order of §4.5 — no option,
//! unknown SPI, wrong Subtype, digest — then the Message Identifier's
//! replay check per (source, SPI).

use anycast6_core::auth::Key;

use super::packet::{fixture, key, keyring, reseal, Expected, SPI};
use crate::auth::{seal, verify, AuthRefusal, Keyring, ReplayGuard, Verdict};
use crate::packet::option::{AUTH_MN_CN, AUTH_MN_HA};
use crate::packet::*;

fn decoded(name: &str) -> (super::packet::Fixture, Message) {
    let f = fixture(name);
    let m = Message::decode(f.src, f.dst, &f.bytes).unwrap();
    (f, m)
}

#[test]
fn keyed_fixtures_verify() {
    for (name, subtype, id) in [
        (
            "binding-update-home-keyed",
            AUTH_MN_HA,
            1_700_000_000_000_000_001,
        ),
        (
            "binding-update-flow-keyed",
            AUTH_MN_CN,
            1_700_000_000_000_000_002,
        ),
        ("binding-ack-keyed", AUTH_MN_HA, 1_700_000_000_000_000_003),
    ] {
        let (f, m) = decoded(name);
        assert_eq!(
            verify(&keyring(), subtype, f.src, f.dst, &f.bytes, &m),
            Ok(Verdict::Keyed {
                spi: SPI,
                message_id: Some(id)
            }),
            "{name}"
        );
    }
}

#[test]
fn refusals_come_in_the_order_of_the_spec() {
    let (f, m) = decoded("binding-update-home-keyed");
    let v = |keys: &Keyring, subtype, bytes: &[u8], m: &Message| {
        verify(keys, subtype, f.src, f.dst, bytes, m)
    };
    // No option at all.
    let (p, plain) = decoded("binding-update-home");
    assert_eq!(
        verify(&keyring(), AUTH_MN_HA, p.src, p.dst, &p.bytes, &plain),
        Err(AuthRefusal::Missing)
    );
    // Unknown SPI, before the Subtype is looked at.
    let other = Keyring::new(vec![(257, key())]);
    assert_eq!(
        v(&other, AUTH_MN_CN, &f.bytes, &m),
        Err(AuthRefusal::UnknownKey(SPI))
    );
    // Wrong Subtype for the message, before the digest.
    assert_eq!(
        v(&keyring(), AUTH_MN_CN, &f.bytes, &m),
        Err(AuthRefusal::BadSubtype {
            got: AUTH_MN_HA,
            want: AUTH_MN_CN
        })
    );
    // Another secret under the same SPI.
    let wrong = Keyring::new(vec![(SPI, Key::new(0, "another secret"))]);
    assert_eq!(
        v(&wrong, AUTH_MN_HA, &f.bytes, &m),
        Err(AuthRefusal::BadDigest)
    );
    // Any octet changed but the checksum (which the digest does not cover
    // and the decoder checks) fails: the lifetime, the SPI, the digest.
    for at in [10, 11, f.bytes.len() - 33, f.bytes.len() - 1] {
        let mut b = f.bytes.clone();
        b[at] ^= 0x01;
        reseal(f.src, f.dst, &mut b);
        let m = Message::decode(f.src, f.dst, &b).unwrap();
        let want = if at == f.bytes.len() - 33 {
            AuthRefusal::UnknownKey(SPI ^ 1)
        } else {
            AuthRefusal::BadDigest
        };
        assert_eq!(v(&keyring(), AUTH_MN_HA, &b, &m), Err(want), "octet {at}");
    }
    // The addresses are covered: the same octets from another source.
    let src = "2001:db8:99::1".parse().unwrap();
    let mut b = f.bytes.clone();
    reseal(src, f.dst, &mut b);
    let m2 = Message::decode(src, f.dst, &b).unwrap();
    assert_eq!(
        verify(&keyring(), AUTH_MN_HA, src, f.dst, &b, &m2),
        Err(AuthRefusal::BadDigest)
    );
    // Octets that are not the message's: refused, never a panic.
    assert_eq!(
        v(&keyring(), AUTH_MN_HA, &f.bytes[..20], &m),
        Err(AuthRefusal::BadDigest)
    );
    // Without keys an option is ignored (and said so).
    assert_eq!(
        v(&Keyring::none(), AUTH_MN_HA, &f.bytes, &m),
        Ok(Verdict::Unkeyed { ignored: true })
    );
    assert_eq!(
        verify(&Keyring::none(), AUTH_MN_HA, p.src, p.dst, &p.bytes, &plain),
        Ok(Verdict::Unkeyed { ignored: false })
    );
    for (r, counter) in [
        (AuthRefusal::Missing, "auth_missing"),
        (AuthRefusal::UnknownKey(1), "auth_unknown_key"),
        (
            AuthRefusal::BadSubtype { got: 1, want: 2 },
            "auth_bad_subtype",
        ),
        (AuthRefusal::BadDigest, "auth_bad_digest"),
        (AuthRefusal::NoMessageId, "auth_replay"),
        (AuthRefusal::Replay { got: 1, last: 1 }, "auth_replay"),
    ] {
        assert_eq!(r.counter(), counter);
    }
}

/// A sealed message keeps verifying whatever padding a sender chose before
/// the authentication option, as long as the authenticator covers it.
#[test]
fn seal_covers_what_encode_writes() {
    let (f, _) = decoded("binding-error");
    let Expected::Mh(mut m) = super::packet::expected(f.name) else {
        unreachable!()
    };
    m.options_mut().message_id = Some(5);
    seal(&key(), SPI, AUTH_MN_CN, f.src, f.dst, &mut m);
    let b = m.encode(f.src, f.dst);
    assert_eq!(b.len() % 8, 0);
    assert_eq!(b[b.len() - 39], 9, "authentication last");
    let back = Message::decode(f.src, f.dst, &b).unwrap();
    assert_eq!(back, m);
    assert!(verify(&keyring(), AUTH_MN_CN, f.src, f.dst, &b, &back).is_ok());
    // Sealing again replaces the option.
    seal(&key(), SPI, AUTH_MN_HA, f.src, f.dst, &mut m);
    assert_eq!(m.options().auth.unwrap().subtype, AUTH_MN_HA);
    let b = m.encode(f.src, f.dst);
    assert_eq!(b.len(), back.encode(f.src, f.dst).len());
}

#[test]
fn replay_guard_per_source_and_spi() {
    let mut g = ReplayGuard::new();
    let a = "2001:db8:10::1".parse().unwrap();
    let b = "2001:db8:10::2".parse().unwrap();
    assert_eq!(
        g.check_and_update(a, 1, None),
        Err(AuthRefusal::NoMessageId)
    );
    g.check_and_update(a, 1, Some(10)).unwrap();
    assert_eq!(
        g.check_and_update(a, 1, Some(10)),
        Err(AuthRefusal::Replay { got: 10, last: 10 })
    );
    assert_eq!(
        g.check(a, 1, Some(9)),
        Err(AuthRefusal::Replay { got: 9, last: 10 })
    );
    // Another SPI, another source: their own windows.
    g.check_and_update(a, 2, Some(3)).unwrap();
    g.check_and_update(b, 1, Some(1)).unwrap();
    // check alone moves nothing.
    assert_eq!(g.check(a, 1, Some(11)), Ok(11));
    g.check_and_update(a, 1, Some(11)).unwrap();
    g.forget(a);
    g.check_and_update(a, 1, Some(1)).unwrap();
    assert_eq!(
        g.check(b, 1, Some(1)),
        Err(AuthRefusal::Replay { got: 1, last: 1 })
    );
}
