//! Byte vectors of every message, both ways: the annotated octets under
//! tests/fixtures/piasm/ (computed from docs/piasm.md §3 alone, checksum
//! and digest included, not by this crate) decode to the expected message
//! and the encoder writes them back octet for octet. Then signing and
//! verifying, what receivers ignore; every refusal of the decoder, with
//! the field it names and the counter it goes to, is in `refusals`.

use std::net::Ipv6Addr;

use anycast6_core::auth::{Key, ALG_HMAC_SHA256, DIGEST_LEN};

use crate::packet::*;

mod refusals;

/// One annotated vector: `#` comments, `# src` and `# dst` name the IPv6
/// addresses of the pseudo-header, the rest is hex digits.
pub(super) struct Fixture {
    pub name: &'static str,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub bytes: Vec<u8>,
}

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../../tests/fixtures/piasm/", $name, ".hex")),
        )
    };
}

const FIXTURES: &[(&str, &str)] = &[
    fixture!("hello-plain"),
    fixture!("hello"),
    fixture!("hello-signed"),
    fixture!("join-prune-link"),
    fixture!("join-prune-unicast"),
    fixture!("join-prune-relay"),
    fixture!("join-prune-relay-signed"),
    fixture!("shortcut-request"),
    fixture!("shortcut-request-signed"),
    fixture!("branch-announcement"),
    fixture!("branch-announcement-signed"),
    fixture!("branch-announcement-empty"),
];

fn parse(name: &'static str, text: &str) -> Fixture {
    let addr = |tag: &str| -> Ipv6Addr {
        text.lines()
            .find_map(|l| l.strip_prefix(tag))
            .unwrap_or_else(|| panic!("{name}: no `{tag}` line"))
            .trim()
            .parse()
            .unwrap()
    };
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap())
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    assert_eq!(digits.len() % 2, 0, "{name}: odd number of hex digits");
    let bytes = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect();
    Fixture {
        name,
        src: addr("# src "),
        dst: addr("# dst "),
        bytes,
    }
}

pub(super) fn fixtures() -> Vec<Fixture> {
    FIXTURES.iter().map(|(n, t)| parse(n, t)).collect()
}

pub(super) fn fixture(name: &str) -> Fixture {
    let (n, t) = FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    parse(n, t)
}

pub(super) fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// The key the signed fixtures were made with.
pub(super) fn key() -> Key {
    Key::new(7, "piasm-fixture-secret")
}

const R: &str = "2001:db8:1::1";
const C: &str = "2001:db8:c::1";
const A1: &str = "2001:db8:a::1";
const A2: &str = "2001:db8:a::2";
const A3: &str = "2001:db8:a::3";
const E1: &str = "2001:db8:2::1";
const E2: &str = "2001:db8:3::1";

fn hello(piasm: Option<Capability>) -> Message {
    Message::Hello(Hello {
        holdtime: 105,
        dr_priority: Some(1),
        generation_id: Some(0x1234_5678),
        addresses: vec![a(R)],
        piasm,
    })
}

fn join(weight: u32, endpoint: Option<&str>, relayed: bool) -> Action {
    Action::Join(Join {
        core: a(C),
        weight,
        endpoint: endpoint.map(a),
        relayed,
    })
}

fn prune(endpoint: Option<&str>, relayed: bool) -> Action {
    Action::Prune(Prune {
        core: a(C),
        endpoint: endpoint.map(a),
        relayed,
    })
}

fn entry(anycast: &str, action: Action) -> Entry {
    Entry {
        anycast: a(anycast),
        action,
    }
}

fn join_prune(upstream: &str, entries: Vec<Entry>) -> Message {
    Message::JoinPrune(JoinPrune {
        upstream: a(upstream),
        holdtime: 210,
        entries,
    })
}

fn announcement(version: u32, branches: &[(&str, u16)]) -> Message {
    Message::BranchAnnouncement(BranchAnnouncement {
        holdtime: 210,
        version,
        table_len: 65537,
        hash_seed: 0xdead_beef,
        anycast: a(A1),
        branches: branches.iter().map(|(e, w)| (a(e), *w)).collect(),
    })
}

/// What each fixture holds: the message, and the sequence number it was
/// signed with (by [`key`]) if it was.
pub(super) fn expected(name: &str) -> (Message, Option<u64>) {
    let relay = || {
        join_prune(
            "2001:db8:c0::2",
            vec![
                entry(A1, join(2, Some(E1), true)),
                entry(A2, join(65535, Some(E2), true)),
                entry(A3, prune(Some(E1), true)),
            ],
        )
    };
    let branches = [(E1, 3), (E2, 1)];
    match name {
        "hello-plain" => (hello(None), None),
        "hello" => (
            hello(Some(Capability {
                version: 1,
                core: true,
            })),
            None,
        ),
        "hello-signed" => (
            hello(Some(Capability {
                version: 1,
                core: false,
            })),
            Some(1001),
        ),
        "join-prune-link" => (
            join_prune(
                "fe80::2",
                vec![
                    entry(A1, join(3, None, false)),
                    entry(A2, prune(None, false)),
                ],
            ),
            None,
        ),
        "join-prune-unicast" => (
            join_prune(C, vec![entry(A1, join(5, Some(R), false))]),
            None,
        ),
        "join-prune-relay" => (relay(), None),
        "join-prune-relay-signed" => (relay(), Some(1003)),
        "shortcut-request" | "shortcut-request-signed" => {
            let signed = name.ends_with("signed");
            (
                Message::ShortcutRequest(ShortcutRequest {
                    holdtime: if signed { 0 } else { 210 },
                    anycast: a(A1),
                    ingress: a(R),
                }),
                signed.then_some(1004),
            )
        }
        "branch-announcement" => (announcement(7, &branches), None),
        "branch-announcement-signed" => (announcement(8, &branches), Some(1005)),
        "branch-announcement-empty" => (announcement(9, &[]), None),
        _ => panic!("no expectation for {name}"),
    }
}

/// The checksum over `b` as sent from `src` to `dst`, written in.
fn reseal(src: Ipv6Addr, dst: Ipv6Addr, b: &mut [u8]) {
    b[2] = 0;
    b[3] = 0;
    let c = checksum(src, dst, b);
    b[2..4].copy_from_slice(&c.to_be_bytes());
}

/// Octets of the signature a signed message carries after its unsigned
/// form: the trailer, and in a Hello the option header before it.
fn signature_len(m: &Message) -> usize {
    match m {
        Message::Hello(_) => 4 + TRAILER_LEN,
        _ => TRAILER_LEN,
    }
}

#[test]
fn every_fixture_decodes_and_encodes_back() {
    let all = fixtures();
    assert_eq!(all.len(), FIXTURES.len());
    for f in &all {
        let (m, seq) = expected(f.name);
        let p =
            Packet::decode(f.src, f.dst, &f.bytes).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(p.message, m, "{}", f.name);
        match seq {
            None => {
                assert_eq!(p.trailer, None, "{}", f.name);
                assert_eq!(Packet::encode(&m, f.src, f.dst), f.bytes, "{}", f.name);
                assert!(!Packet::verify(f.src, &f.bytes, &key()), "{}", f.name);
            }
            Some(seq) => {
                let digest: [u8; DIGEST_LEN] =
                    f.bytes[f.bytes.len() - DIGEST_LEN..].try_into().unwrap();
                assert_eq!(
                    p.trailer,
                    Some(Trailer {
                        key_id: 7,
                        algorithm: ALG_HMAC_SHA256,
                        seq,
                        digest,
                    }),
                    "{}",
                    f.name
                );
                assert_eq!(
                    Packet::encode_signed(&m, f.src, f.dst, &key(), seq),
                    f.bytes,
                    "{}",
                    f.name
                );
                assert!(Packet::verify(f.src, &f.bytes, &key()), "{}", f.name);
            }
        }
    }
    // Every kind of message and every attribute is in some fixture.
    let kinds: Vec<&str> = all.iter().map(|f| expected(f.name).0.name()).collect();
    for k in [
        "hello",
        "join/prune",
        "shortcut-request",
        "branch-announcement",
    ] {
        assert!(kinds.contains(&k), "no fixture of a {k}");
    }
}

/// Every message signed: it decodes with its trailer, the key verifies it,
/// its unsigned form is what precedes the signature, and a change to any
/// octet but the checksum, a wrong secret or another source fail.
#[test]
fn signed_messages_verify_and_tampered_ones_do_not() {
    let wrong = Key::new(7, "another-secret");
    for f in fixtures()
        .into_iter()
        .filter(|f| expected(f.name).1.is_none())
    {
        let (m, _) = expected(f.name);
        let b = Packet::encode_signed(&m, f.src, f.dst, &key(), 77);
        let p = Packet::decode(f.src, f.dst, &b).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(p.message, m, "{}", f.name);
        let t = p.trailer.expect("a trailer");
        assert_eq!(
            (t.key_id, t.algorithm, t.seq),
            (7, ALG_HMAC_SHA256, 77),
            "{}",
            f.name
        );
        assert_eq!(t.digest[..], b[b.len() - DIGEST_LEN..], "{}", f.name);
        assert!(Packet::verify(f.src, &b, &key()), "{}", f.name);
        assert!(!Packet::verify(f.src, &b, &wrong), "{}", f.name);
        assert!(!Packet::verify(a("fe80::99"), &b, &key()), "{}", f.name);

        // The unsigned message, then the signature (the checksums differ).
        let mut head = b[..b.len() - signature_len(&m)].to_vec();
        reseal(f.src, f.dst, &mut head);
        assert_eq!(head, f.bytes, "{}", f.name);
        if let Message::Hello(_) = m {
            let at = f.bytes.len();
            assert_eq!(b[at..at + 4], [0xfe, 0x4d, 0, 44], "{}", f.name);
        }

        // Another sequence number, another digest.
        let b78 = Packet::encode_signed(&m, f.src, f.dst, &key(), 78);
        assert_ne!(b78[b78.len() - DIGEST_LEN..], b[b.len() - DIGEST_LEN..]);

        for i in (0..b.len()).filter(|i| !(2..4).contains(i)) {
            let mut t = b.clone();
            t[i] ^= 0x01;
            assert!(
                !Packet::verify(f.src, &t, &key()),
                "{}: octet {i} changed",
                f.name
            );
        }
        // The checksum is outside the digest (sealed first, summed after).
        let mut t = b.clone();
        t[2] ^= 0xff;
        assert!(Packet::verify(f.src, &t, &key()), "{}", f.name);
    }
    assert!(!Packet::verify(a("fe80::1"), &[0x20, 0, 0, 0], &key()));
    assert!(!Packet::verify(a("fe80::1"), &[], &key()));
}

/// A signed message whose body changed decodes (the checksum is the
/// sender's) but does not verify.
#[test]
fn a_tampered_signed_fixture_decodes_and_fails_verification() {
    for (name, at) in [
        ("hello-signed", 9),                // holdtime 105 -> 104
        ("join-prune-relay-signed", 75),    // weight 2 -> 3
        ("shortcut-request-signed", 23),    // anycast ::1 -> ::0
        ("branch-announcement-signed", 53), // weight 3 -> 2
    ] {
        let f = fixture(name);
        let mut b = f.bytes.clone();
        b[at] ^= 0x01;
        reseal(f.src, f.dst, &mut b);
        let p = Packet::decode(f.src, f.dst, &b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_ne!(p.message, expected(name).0, "{name}");
        assert!(p.trailer.is_some(), "{name}");
        assert!(!Packet::verify(f.src, &b, &key()), "{name}");
        assert!(Packet::verify(f.src, &f.bytes, &key()), "{name}");
    }
}

#[test]
fn entry_len_is_what_the_encoder_writes() {
    for f in fixtures() {
        let Message::JoinPrune(j) = expected(f.name).0 else {
            continue;
        };
        let unsigned = Packet::encode(&Message::JoinPrune(j.clone()), f.src, f.dst);
        let sum: usize = j.entries.iter().map(entry_len).sum();
        assert_eq!(JOIN_PRUNE_FIXED + sum, unsigned.len(), "{}", f.name);
    }
}

#[test]
fn the_largest_announcement_and_the_weight_bounds_decode() {
    let (src, dst) = (a("2001:db8:c0::1"), a(R));
    let branches: Vec<(Ipv6Addr, u16)> = (1..=MAX_BRANCHES as u16)
        .map(|i| (Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, i), i))
        .collect();
    let m = Message::BranchAnnouncement(BranchAnnouncement {
        holdtime: 210,
        version: u32::MAX,
        table_len: 65537,
        hash_seed: 0,
        anycast: a(A1),
        branches,
    });
    let b = Packet::encode(&m, src, dst);
    assert_eq!(b.len(), 36 + MAX_BRANCHES * 20);
    assert_eq!(Packet::decode(src, dst, &b).unwrap().message, m);

    for w in [1, MAX_WEIGHT] {
        let m = join_prune(C, vec![entry(A1, join(w, None, false))]);
        let b = Packet::encode(&m, a(R), a(C));
        assert_eq!(
            Packet::decode(a(R), a(C), &b).unwrap().message,
            m,
            "weight {w}"
        );
    }
}

/// `name`'s octets changed by `f`, with the checksum made right again.
fn edit(name: &str, f: impl FnOnce(&mut Vec<u8>)) -> (Ipv6Addr, Ipv6Addr, Vec<u8>) {
    let x = fixture(name);
    let mut b = x.bytes;
    f(&mut b);
    if b.len() >= 4 {
        reseal(x.src, x.dst, &mut b);
    }
    (x.src, x.dst, b)
}

fn decodes_as(name: &str, what: &str, f: impl FnOnce(&mut Vec<u8>)) {
    let (src, dst, b) = edit(name, f);
    let p = Packet::decode(src, dst, &b).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(p.message, expected(name).0, "{what}");
}

/// A Join/Prune of one join of A1 toward C whose attributes are `attrs`.
fn one_join(attrs: &[u8]) -> (Ipv6Addr, Ipv6Addr, Vec<u8>) {
    edit("join-prune-link", |b| {
        b.truncate(70);
        b[23] = 1;
        b.extend_from_slice(attrs);
    })
}

/// What receivers ignore: reserved octets and bits, unknown Hello options,
/// unknown transitive join attributes, the F bit of known ones.
#[test]
fn reserved_fields_and_unknown_options_are_ignored() {
    decodes_as("hello", "Hello reserved octet", |b| b[1] = 0xff);
    decodes_as("hello", "65100 reserved bits", |b| {
        b[53] |= 0x7f;
        b[54] = 0xff;
        b[55] = 0xff;
    });
    decodes_as("hello-plain", "unknown options", |b| {
        // LAN Prune Delay (2), and 65001 (the old address list) empty.
        let extra = [0, 2, 0, 4, 0x80, 1, 0, 2, 0xfd, 0xe9, 0, 0];
        b.splice(10..10, extra);
    });
    decodes_as("hello-signed", "trailer reserved octet", |b| b[63] = 0xff);
    decodes_as("join-prune-link", "J/P reserved octets", |b| {
        b[1] = 0xff;
        b[22] = 0xff;
    });
    decodes_as("join-prune-link", "group flags between B and Z", |b| {
        b[28] = 0x7e;
        b[78] = 0x02;
    });
    decodes_as("join-prune-link", "source reserved flag bits", |b| {
        b[52] |= 0xf8;
        b[102] |= 0xf8;
    });
    decodes_as("shortcut-request", "extension reserved", |b| {
        b[1] |= 0x0f;
        b[6] = 0xff;
        b[7] = 0xff;
    });
    decodes_as("branch-announcement", "branch reserved", |b| {
        b[54] = 0xff;
        b[75] = 0x01;
    });

    let weight_one = join_prune(C, vec![entry(A1, join(1, None, false))]);
    for (what, attrs) in [
        // F|E, type 63, 2 octets after the weight; F, type 1 before it.
        (
            "unknown transitive",
            &[0x3c, 4, 0, 0, 0, 1, 0xff, 2, 9, 9][..],
        ),
        ("unknown transitive first", &[0xbf, 0, 0x7c, 4, 0, 0, 0, 1]),
        ("F on the weight", &[0xfc, 4, 0, 0, 0, 1]),
    ] {
        let (src, dst, b) = one_join(attrs);
        let m = Packet::decode(src, dst, &b)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .message;
        let Message::JoinPrune(j) = m else { panic!() };
        let Message::JoinPrune(w) = &weight_one else {
            panic!()
        };
        assert_eq!(j.entries, w.entries, "{what}");
    }
    let (src, dst, b) = one_join(&[
        0x3c, 4, 0, 0, 0, 1, 0xfd, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ]);
    let Message::JoinPrune(j) = Packet::decode(src, dst, &b).unwrap().message else {
        panic!()
    };
    assert_eq!(j.entries[0].action, join(1, Some("2001:db8::1"), false));
    decodes_as(
        "join-prune-link",
        "a prune's unknown transitive attribute",
        |b| {
            b[101] = 1;
            b.extend_from_slice(&[0xff, 1, 0]);
        },
    );
    // 44 octets after the counted part are a trailer, whatever they hold.
    let (src, dst, b) = edit("shortcut-request", |b| b.extend_from_slice(&[0; 44]));
    let p = Packet::decode(src, dst, &b).unwrap();
    assert_eq!(p.trailer.map(|t| (t.key_id, t.algorithm)), Some((0, 0)));
    assert!(!Packet::verify(src, &b, &key()));
    // A goodbye: holdtime 0.
    let (src, dst, b) = edit("hello-plain", |b| b[9] = 0);
    let Message::Hello(h) = Packet::decode(src, dst, &b).unwrap().message else {
        panic!()
    };
    assert_eq!(h.holdtime, 0);
}
