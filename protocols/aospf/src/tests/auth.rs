//! The authentication trailer (RFC 7166) against FRR's: its digests verify
//! with the configured key, and sealing the decoded packet with the same
//! key and sequence number gives FRR's octets back. FRR 8.4 prepares the
//! key with the protocol id in the wrong byte order ([`KeyPrep::FrrLegacy`]),
//! so its trailers verify only that way.

use std::net::Ipv6Addr;

use anycast6_core::auth::{AuthError, Key, Keyring};
use sha2::Digest;

use super::fixtures;
use crate::packet::auth::{seal, verify, KeyPrep, TRAILER_LEN};
use crate::packet::*;

/// The key of the FRR capture (`key-id 1 ... key anycast6-test-key`).
fn frr_key() -> Key {
    Key::new(1, "anycast6-test-key")
}

const AUTH: [&str; 3] = ["frr-auth-hello", "frr-auth-dd", "frr-auth-ls-update"];

#[test]
fn frr_trailers_verify() {
    let ring = Keyring::new(vec![frr_key()]);
    for name in AUTH {
        let f = fixtures::get(name);
        let p = Packet::decode(&f.bytes).unwrap();
        let t = verify(&f.bytes, f.src, &ring, KeyPrep::FrrLegacy)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Some(&t), p.trailer.as_ref());
        assert_eq!(
            verify(&f.bytes, f.src, &ring, KeyPrep::Rfc7166),
            Err(AuthError::BadDigest),
            "{name}"
        );
        assert_eq!(t.sa_id, 1);
        assert_eq!(f.bytes.len(), p.encode().len() + TRAILER_LEN, "{name}");
        // FRR leaves the packet checksum zero when it authenticates.
        assert_eq!(p.header.checksum, 0, "{name}");
    }
    let hello = Packet::decode(&fixtures::get("frr-auth-hello").bytes).unwrap();
    let Body::Hello(h) = hello.body else { panic!() };
    assert!(h.options.has(Options::AT));
    let dd = Packet::decode(&fixtures::get("frr-auth-dd").bytes).unwrap();
    let Body::DbDesc(d) = dd.body else { panic!() };
    assert!(d.options.has(Options::AT));
}

#[test]
fn sealing_frr_packets_gives_frr_bytes() {
    for name in AUTH {
        let f = fixtures::get(name);
        let p = Packet::decode(&f.bytes).unwrap();
        let mut bytes = p.encode();
        seal(
            &mut bytes,
            f.src,
            &frr_key(),
            p.trailer.as_ref().unwrap().seq,
            KeyPrep::FrrLegacy,
        );
        assert_eq!(bytes, f.bytes, "{name}");
    }
}

#[test]
fn wrong_key_source_or_octet_is_refused() {
    let f = fixtures::get("frr-auth-hello");
    let other = Keyring::new(vec![Key::new(1, "not-the-key")]);
    assert_eq!(
        verify(&f.bytes, f.src, &other, KeyPrep::FrrLegacy),
        Err(AuthError::BadDigest)
    );
    let ring = Keyring::new(vec![frr_key()]);
    assert_eq!(
        verify(
            &f.bytes,
            "fe80::99".parse().unwrap(),
            &ring,
            KeyPrep::FrrLegacy
        ),
        Err(AuthError::BadDigest)
    );
    let mut v = f.bytes.clone();
    v[20] ^= 0x80;
    assert_eq!(
        verify(&v, f.src, &ring, KeyPrep::FrrLegacy),
        Err(AuthError::BadDigest)
    );
    // The sequence number is covered too.
    let mut v = f.bytes.clone();
    let at = v.len() - 33;
    v[at] ^= 1;
    assert_eq!(
        verify(&v, f.src, &ring, KeyPrep::FrrLegacy),
        Err(AuthError::BadDigest)
    );
    let two = Keyring::new(vec![Key::new(2, "anycast6-test-key")]);
    assert_eq!(
        verify(&f.bytes, f.src, &two, KeyPrep::FrrLegacy),
        Err(AuthError::UnknownKey(1))
    );
    // No trailer at all.
    let plain = fixtures::get("frr-hello");
    assert_eq!(
        verify(&plain.bytes, plain.src, &ring, KeyPrep::FrrLegacy),
        Err(AuthError::Missing)
    );
    // The kernel's checksum, filled in after sealing, does not matter.
    let mut v = f.bytes.clone();
    v[CHECKSUM_OFFSET] = 0x12;
    assert!(verify(&v, f.src, &ring, KeyPrep::FrrLegacy).is_ok());
}

/// A Hello of ours with the AT bit, sealed with a long key (longer than
/// the hash: RFC 7166 §4.5 hashes it first).
pub fn built_hello() -> Vec<u8> {
    let p = Packet {
        header: Header {
            router_id: "10.9.9.9".parse().unwrap(),
            area_id: "0.0.0.0".parse().unwrap(),
            checksum: 0,
            instance_id: 0,
        },
        body: Body::Hello(Hello {
            interface_id: 7,
            priority: 1,
            options: Options(Options::V6 | Options::E | Options::R | Options::AT),
            hello_interval: 10,
            dead_interval: 40,
            dr: "0.0.0.0".parse().unwrap(),
            bdr: "0.0.0.0".parse().unwrap(),
            neighbors: vec!["10.0.0.1".parse().unwrap()],
        }),
        trailer: None,
    };
    let mut bytes = p.encode();
    seal(
        &mut bytes,
        "fe80::1".parse().unwrap(),
        &long_key(),
        42,
        KeyPrep::Rfc7166,
    );
    bytes
}

fn long_key() -> Key {
    Key::new(5, vec![0xa6; 40])
}

#[test]
fn our_seal_verifies_and_decodes() {
    let src: Ipv6Addr = "fe80::1".parse().unwrap();
    let bytes = built_hello();
    let ring = Keyring::new(vec![long_key()]);
    let t = verify(&bytes, src, &ring, KeyPrep::Rfc7166).unwrap();
    assert_eq!((t.sa_id, t.seq), (5, 42));
    let p = Packet::decode(&bytes).unwrap();
    assert_eq!(p.trailer, Some(t));
    assert_eq!(p.encode_with_trailer(), bytes);
    // §4.5 by hand: Ks = K || 0x0001 is longer than the digest, so it is
    // hashed; Apad is the source address, then 0x878FE1F3.
    let mut ks = long_key().secret;
    ks.extend_from_slice(&[0, 1]);
    let ks: Vec<u8> = sha2::Sha256::digest(&ks).to_vec();
    let mut text = bytes.clone();
    let at = text.len() - 32;
    text[at..at + 16].copy_from_slice(&src.octets());
    for (i, b) in text[at + 16..].iter_mut().enumerate() {
        *b = [0x87, 0x8f, 0xe1, 0xf3][i % 4];
    }
    assert_eq!(
        Key::new(5, ks).digest(&[&text])[..],
        p.trailer.unwrap().digest[..]
    );
    assert_eq!(
        verify(&bytes, src, &ring, KeyPrep::FrrLegacy),
        Err(AuthError::BadDigest)
    );
}
