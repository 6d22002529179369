//! Byte vectors of every message, both ways: the annotated octets under
//! tests/fixtures/piasm/ (computed from docs/piasm.md §3 alone, checksum
//! and digest included, not by this crate) decode to the expected message
//! and the encoder writes them back octet for octet. Then signing and
//! verifying, what receivers ignore, and every refusal of the decoder with
//! the field it names and the counter it goes to.

use std::net::Ipv6Addr;

use anycast6_core::auth::{Key, ALG_HMAC_SHA256, DIGEST_LEN};

use crate::packet::*;

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

fn field(field: &'static str, reason: &'static str) -> DecodeError {
    DecodeError::Field { field, reason }
}

fn address(field: &'static str, family: u8, encoding: u8) -> DecodeError {
    DecodeError::Address {
        field,
        family,
        encoding,
    }
}

fn truncated(field: &'static str, len: usize) -> DecodeError {
    DecodeError::Truncated { field, len }
}

/// Every refusal: what was changed, the octets, the error and its counter.
#[test]
fn every_refusal_names_its_field_and_counter() {
    type Case = (
        &'static str,
        (Ipv6Addr, Ipv6Addr, Vec<u8>),
        DecodeError,
        &'static str,
    );
    let ll = a("fe80::1");
    let raw = |b: &[u8]| (ll, ALL_PIM_ROUTERS, b.to_vec());
    let hello_with = |opts: &[u8]| {
        let mut b = vec![0x20, 0, 0, 0];
        b.extend_from_slice(opts);
        reseal(ll, ALL_PIM_ROUTERS, &mut b);
        (ll, ALL_PIM_ROUTERS, b)
    };
    let hp = fixture("hello-plain");
    let cases: Vec<Case> = vec![
        // The header.
        ("empty", raw(&[]), truncated("header", 0), "bad_packets"),
        (
            "one octet",
            raw(&[0x20]),
            truncated("header", 1),
            "bad_packets",
        ),
        (
            "three octets",
            raw(&[0x20, 0, 0x48]),
            truncated("header.checksum", 3),
            "bad_packets",
        ),
        (
            "version 1",
            edit("hello-plain", |b| b[0] = 0x10),
            DecodeError::Version(1),
            "bad_version",
        ),
        (
            "version 3",
            edit("join-prune-link", |b| b[0] = 0x33),
            DecodeError::Version(3),
            "bad_version",
        ),
        (
            "checksum field changed",
            (hp.src, hp.dst, {
                let mut b = hp.bytes.clone();
                b[3] ^= 0x01;
                b
            }),
            DecodeError::Checksum {
                found: 0x48a8,
                computed: 0x48a9,
            },
            "bad_checksum",
        ),
        (
            "another destination",
            (hp.src, a("ff02::5"), hp.bytes.clone()),
            DecodeError::Checksum {
                found: 0x48a9,
                computed: checksum(hp.src, a("ff02::5"), &{
                    let mut z = hp.bytes.clone();
                    z[2] = 0;
                    z[3] = 0;
                    z
                }),
            },
            "bad_checksum",
        ),
        (
            "type 1 (Register)",
            edit("hello-plain", |b| b[0] = 0x21),
            DecodeError::Type(1),
            "bad_packets",
        ),
        (
            "type 9 (Graft Ack)",
            edit("hello-plain", |b| b[0] = 0x29),
            DecodeError::Type(9),
            "bad_packets",
        ),
        (
            "subtype 0",
            edit("shortcut-request", |b| b[1] = 0x00),
            DecodeError::Subtype(0),
            "bad_packets",
        ),
        (
            "subtype 3",
            edit("shortcut-request", |b| b[1] = 0x30),
            DecodeError::Subtype(3),
            "bad_packets",
        ),
        (
            "subtype 15",
            edit("branch-announcement", |b| b[1] = 0xf0),
            DecodeError::Subtype(15),
            "bad_packets",
        ),
        // Hello.
        (
            "no holdtime",
            edit("hello-plain", |b| {
                b.drain(4..10);
            }),
            field("hello.holdtime", "missing"),
            "bad_hello",
        ),
        (
            "no option at all",
            hello_with(&[]),
            field("hello.holdtime", "missing"),
            "bad_hello",
        ),
        (
            "holdtime of 4 octets",
            hello_with(&[0, 1, 0, 4, 0, 0, 0, 105]),
            field("hello.holdtime", "length is not 2"),
            "bad_hello",
        ),
        (
            "DR priority of 2 octets",
            hello_with(&[0, 1, 0, 2, 0, 105, 0, 19, 0, 2, 0, 1]),
            field("hello.dr_priority", "length is not 4"),
            "bad_hello",
        ),
        (
            "generation id of 2 octets",
            hello_with(&[0, 1, 0, 2, 0, 105, 0, 20, 0, 2, 0, 1]),
            field("hello.generation_id", "length is not 4"),
            "bad_hello",
        ),
        (
            "address list of 17 octets",
            edit("hello-plain", |b| {
                b[29] = 17;
                b.pop();
            }),
            field("hello.address_list", "not a whole number of addresses"),
            "bad_hello",
        ),
        (
            "address list family 1",
            edit("hello-plain", |b| b[30] = 1),
            address("hello.address_list", 1, 0),
            "bad_address",
        ),
        (
            "address list encoding 1",
            edit("hello-plain", |b| b[31] = 1),
            address("hello.address_list", 2, 1),
            "bad_address",
        ),
        (
            "PIA-SM version 2",
            edit("hello", |b| b[52] = 2),
            field("hello.piasm.version", "not 1"),
            "bad_hello",
        ),
        (
            "PIA-SM version 0",
            edit("hello", |b| b[52] = 0),
            field("hello.piasm.version", "not 1"),
            "bad_hello",
        ),
        (
            "option 65100 of 3 octets",
            edit("hello", |b| {
                b[51] = 3;
                b.pop();
            }),
            field("hello.piasm", "length is not 4"),
            "bad_hello",
        ),
        (
            "option 65101 of 40 octets",
            edit("hello-signed", |b| {
                b[59] = 40;
                b.truncate(b.len() - 4);
            }),
            field("hello.authentication", "length is not 44"),
            "bad_hello",
        ),
        (
            "an option after the authentication option",
            edit("hello-signed", |b| b.extend_from_slice(&[0, 2, 0, 0])),
            field("hello.option", "an option after the authentication option"),
            "bad_hello",
        ),
        (
            "two authentication options",
            edit("hello-signed", |b| {
                let t = b[56..].to_vec();
                b.extend_from_slice(&t);
            }),
            field("hello.option", "an option after the authentication option"),
            "bad_hello",
        ),
        (
            "option type cut",
            edit("hello-plain", |b| b.truncate(5)),
            truncated("hello.option.type", 5),
            "bad_packets",
        ),
        (
            "option length cut",
            edit("hello-plain", |b| b.truncate(7)),
            truncated("hello.option.length", 7),
            "bad_packets",
        ),
        (
            "option value cut",
            edit("hello-plain", |b| b.truncate(9)),
            truncated("hello.option.value", 9),
            "bad_packets",
        ),
        (
            "address list cut",
            edit("hello-plain", |b| b.truncate(40)),
            truncated("hello.option.value", 40),
            "bad_packets",
        ),
        // Join/Prune: addresses.
        (
            "upstream family 1",
            edit("join-prune-link", |b| b[4] = 1),
            address("join/prune.upstream", 1, 0),
            "bad_address",
        ),
        (
            "upstream encoding 1",
            edit("join-prune-link", |b| b[5] = 1),
            address("join/prune.upstream", 2, 1),
            "bad_address",
        ),
        (
            "group family 1",
            edit("join-prune-link", |b| b[26] = 1),
            address("join/prune.group", 1, 0),
            "bad_address",
        ),
        (
            "group encoding 1",
            edit("join-prune-link", |b| b[77] = 1),
            address("join/prune.group", 2, 1),
            "bad_address",
        ),
        (
            "joined source family 1",
            edit("join-prune-link", |b| b[50] = 1),
            address("join/prune.group.join", 1, 1),
            "bad_address",
        ),
        (
            "joined source encoding 2",
            edit("join-prune-link", |b| b[51] = 2),
            address("join/prune.group.join", 2, 2),
            "bad_address",
        ),
        (
            "pruned source family 1",
            edit("join-prune-link", |b| b[100] = 1),
            address("join/prune.group.prune", 1, 0),
            "bad_address",
        ),
        (
            "pruned source encoding 2",
            edit("join-prune-link", |b| b[101] = 2),
            address("join/prune.group.prune", 2, 2),
            "bad_address",
        ),
        // Join/Prune: groups and sources.
        (
            "0 groups",
            edit("join-prune-link", |b| b[23] = 0),
            field("join/prune.num_groups", "no group"),
            "bad_group",
        ),
        (
            "group mask 64",
            edit("join-prune-link", |b| b[29] = 64),
            field("join/prune.group.mask_len", "not 128"),
            "bad_group",
        ),
        (
            "group mask 127",
            edit("join-prune-link", |b| b[79] = 127),
            field("join/prune.group.mask_len", "not 128"),
            "bad_group",
        ),
        (
            "B set",
            edit("join-prune-link", |b| b[28] = 0x80),
            field("join/prune.group.flags", "B or Z set"),
            "bad_group",
        ),
        (
            "Z set",
            edit("join-prune-link", |b| b[78] = 0x01),
            field("join/prune.group.flags", "B or Z set"),
            "bad_group",
        ),
        (
            "joined source mask 64",
            edit("join-prune-link", |b| b[53] = 64),
            field("join/prune.group.join", "mask length is not 128"),
            "bad_group",
        ),
        (
            "joined source without R",
            edit("join-prune-link", |b| b[52] = 0x06),
            field("join/prune.group.join", "S, W and R are not all set"),
            "bad_group",
        ),
        (
            "pruned source without S",
            edit("join-prune-link", |b| b[102] = 0x03),
            field("join/prune.group.prune", "S, W and R are not all set"),
            "bad_group",
        ),
        (
            "pruned source mask 0",
            edit("join-prune-link", |b| b[103] = 0),
            field("join/prune.group.prune", "mask length is not 128"),
            "bad_group",
        ),
        (
            "a prune with a Weight",
            edit("join-prune-link", |b| {
                b[101] = 1;
                b.extend_from_slice(&[0x7c, 4, 0, 0, 0, 1]);
            }),
            field(
                "join/prune.group.prune.attribute.weight",
                "a prune carries no weight",
            ),
            "bad_attribute",
        ),
        (
            "a prune's Endpoint twice",
            edit("join-prune-link", |b| {
                b[101] = 1;
                b.extend_from_slice(&[0x3d, 16]);
                b.extend_from_slice(&a(E1).octets());
                b.extend_from_slice(&[0x7d, 16]);
                b.extend_from_slice(&a(E1).octets());
            }),
            field("join/prune.group.source.attribute", "repeated"),
            "bad_attribute",
        ),
        (
            "a prune's attributes without E",
            edit("join-prune-link", |b| b[101] = 1),
            truncated("join/prune.group.source.attribute", 120),
            "bad_packets",
        ),
        (
            "a join and a prune in one group",
            edit("join-prune-link", |b| {
                b[46..50].copy_from_slice(&[0, 1, 0, 1])
            }),
            field("join/prune.group.num_joins", "not one join or one prune"),
            "bad_group",
        ),
        (
            "no join and no prune",
            edit("join-prune-link", |b| {
                b[96..100].copy_from_slice(&[0, 0, 0, 0])
            }),
            field("join/prune.group.num_joins", "not one join or one prune"),
            "bad_group",
        ),
        (
            "two joins",
            edit("join-prune-link", |b| b[46..48].copy_from_slice(&[0, 2])),
            field("join/prune.group.num_joins", "not one join or one prune"),
            "bad_group",
        ),
        (
            "two prunes",
            edit("join-prune-link", |b| b[98..100].copy_from_slice(&[0, 2])),
            field("join/prune.group.num_joins", "not one join or one prune"),
            "bad_group",
        ),
        (
            "a group more than counted",
            edit("join-prune-link", |b| b[23] = 3),
            truncated("join/prune.group", 120),
            "bad_packets",
        ),
        (
            "group address cut",
            edit("join-prune-link", |b| b.truncate(40)),
            truncated("join/prune.group.address", 40),
            "bad_packets",
        ),
        // Join attributes.
        (
            "a join without attributes",
            edit("join-prune-link", |b| b[51] = 0),
            field(
                "join/prune.group.join.attribute",
                "no join attributes (encoding type 0)",
            ),
            "bad_attribute",
        ),
        (
            "Endpoint alone",
            one_join(&[&[0x7d, 16][..], &a(R).octets()].concat()),
            field("join/prune.group.join.attribute.weight", "missing"),
            "bad_attribute",
        ),
        (
            "Relayed alone",
            one_join(&[0x7e, 0]),
            field("join/prune.group.join.attribute.weight", "missing"),
            "bad_attribute",
        ),
        (
            "an unknown transitive attribute alone",
            one_join(&[0xff, 0]),
            field("join/prune.group.join.attribute.weight", "missing"),
            "bad_attribute",
        ),
        (
            "Weight 0",
            one_join(&[0x7c, 4, 0, 0, 0, 0]),
            field("join/prune.group.source.attribute.weight", "not 1 to 65535"),
            "bad_attribute",
        ),
        (
            "Weight 65536",
            one_join(&[0x7c, 4, 0, 1, 0, 0]),
            field("join/prune.group.source.attribute.weight", "not 1 to 65535"),
            "bad_attribute",
        ),
        (
            "Weight 2^32-1",
            one_join(&[0x7c, 4, 0xff, 0xff, 0xff, 0xff]),
            field("join/prune.group.source.attribute.weight", "not 1 to 65535"),
            "bad_attribute",
        ),
        (
            "Weight of 2 octets",
            one_join(&[0x7c, 2, 0, 1]),
            field(
                "join/prune.group.source.attribute.length",
                "wrong for its type",
            ),
            "bad_attribute",
        ),
        (
            "Endpoint of 4 octets",
            one_join(&[0x3c, 4, 0, 0, 0, 1, 0x7d, 4, 1, 2, 3, 4]),
            field(
                "join/prune.group.source.attribute.length",
                "wrong for its type",
            ),
            "bad_attribute",
        ),
        (
            "Relayed of 1 octet",
            one_join(&[0x3c, 4, 0, 0, 0, 1, 0x7e, 1, 0]),
            field(
                "join/prune.group.source.attribute.length",
                "wrong for its type",
            ),
            "bad_attribute",
        ),
        (
            "Weight twice",
            one_join(&[0x3c, 4, 0, 0, 0, 1, 0x7c, 4, 0, 0, 0, 2]),
            field("join/prune.group.source.attribute", "repeated"),
            "bad_attribute",
        ),
        (
            "Relayed twice",
            one_join(&[0x3c, 4, 0, 0, 0, 1, 0x3e, 0, 0x7e, 0]),
            field("join/prune.group.source.attribute", "repeated"),
            "bad_attribute",
        ),
        (
            "Endpoint twice",
            one_join(
                &[
                    &[0x3c, 4, 0, 0, 0, 1, 0x3d, 16][..],
                    &a(R).octets(),
                    &[0x7d, 16],
                    &a(R).octets(),
                ]
                .concat(),
            ),
            field("join/prune.group.source.attribute", "repeated"),
            "bad_attribute",
        ),
        (
            "an unknown attribute, not transitive",
            one_join(&[0x3c, 4, 0, 0, 0, 1, 0x7f, 0]),
            field(
                "join/prune.group.source.attribute",
                "unknown and not transitive",
            ),
            "bad_attribute",
        ),
        (
            "RFC 5384's RPF Vector (1), not transitive",
            one_join(&[0x01, 2, 0, 0, 0x7c, 4, 0, 0, 0, 1]),
            field(
                "join/prune.group.source.attribute",
                "unknown and not transitive",
            ),
            "bad_attribute",
        ),
        (
            "no attribute with E",
            one_join(&[0x3c, 4, 0, 0, 0, 1]),
            truncated("join/prune.group.source.attribute", 76),
            "bad_packets",
        ),
        (
            "attribute length cut",
            edit("join-prune-link", |b| b.truncate(71)),
            truncated("join/prune.group.source.attribute.length", 71),
            "bad_packets",
        ),
        (
            "attribute value cut",
            edit("join-prune-link", |b| b.truncate(73)),
            truncated("join/prune.group.source.attribute.value", 73),
            "bad_packets",
        ),
        // After the counted part: nothing or a trailer.
        (
            "1 octet after a Join/Prune",
            edit("join-prune-unicast", |b| b.push(0)),
            DecodeError::Trailing(1),
            "bad_packets",
        ),
        (
            "43 octets after a Shortcut Request",
            edit("shortcut-request", |b| b.extend_from_slice(&[0; 43])),
            DecodeError::Trailing(43),
            "bad_packets",
        ),
        (
            "45 octets after a Branch Announcement",
            edit("branch-announcement", |b| b.extend_from_slice(&[0; 45])),
            DecodeError::Trailing(45),
            "bad_packets",
        ),
        (
            "a trailer and one octet more",
            edit("join-prune-relay-signed", |b| b.push(0)),
            DecodeError::Trailing(45),
            "bad_packets",
        ),
        (
            "a trailer one octet short",
            edit("shortcut-request-signed", |b| {
                b.pop();
            }),
            DecodeError::Trailing(43),
            "bad_packets",
        ),
        // Extension messages.
        (
            "Shortcut Request cut",
            edit("shortcut-request", |b| b.truncate(30)),
            truncated("shortcut-request.ingress", 30),
            "bad_packets",
        ),
        (
            "Shortcut Request without holdtime",
            edit("shortcut-request", |b| b.truncate(5)),
            truncated("shortcut-request.holdtime", 5),
            "bad_packets",
        ),
        (
            "branches not sorted",
            edit("branch-announcement", |b| {
                let first = b[36..56].to_vec();
                b.copy_within(56..76, 36);
                b[56..76].copy_from_slice(&first);
            }),
            field("announcement.branch.endpoint", "not sorted or repeated"),
            "bad_announcement",
        ),
        (
            "an endpoint repeated",
            edit("branch-announcement", |b| b.copy_within(36..52, 56)),
            field("announcement.branch.endpoint", "not sorted or repeated"),
            "bad_announcement",
        ),
        (
            "a branch of weight 0",
            edit("branch-announcement", |b| {
                b[52..54].copy_from_slice(&[0, 0])
            }),
            field("announcement.branch.weight", "0"),
            "bad_announcement",
        ),
        (
            "65 branches",
            edit("branch-announcement-empty", |b| {
                b[7] = 65;
                for i in 0..65u8 {
                    let mut e = a(E1).octets();
                    e[15] = i;
                    b.extend_from_slice(&e);
                    b.extend_from_slice(&[0, 1, 0, 0]);
                }
            }),
            field("announcement.num_branches", "more than 64"),
            "bad_announcement",
        ),
        (
            "65 branches counted, none there",
            edit("branch-announcement-empty", |b| b[7] = 65),
            field("announcement.num_branches", "more than 64"),
            "bad_announcement",
        ),
        (
            "a branch more than counted",
            edit("branch-announcement", |b| b[7] = 3),
            truncated("announcement.branch.endpoint", 76),
            "bad_packets",
        ),
        (
            "announcement anycast cut",
            edit("branch-announcement", |b| b.truncate(30)),
            truncated("announcement.anycast", 30),
            "bad_packets",
        ),
    ];
    let mut counters = std::collections::BTreeSet::new();
    for (what, (src, dst, b), want, counter) in cases {
        let got = Packet::decode(src, dst, &b);
        assert_eq!(got, Err(want), "{what}");
        let e = got.unwrap_err();
        assert_eq!(e.counter(), counter, "{what}: {e}");
        assert!(!e.to_string().is_empty());
        counters.insert(counter);
    }
    // Each counter the decoder has is reached.
    assert_eq!(
        counters.into_iter().collect::<Vec<_>>(),
        [
            "bad_address",
            "bad_announcement",
            "bad_attribute",
            "bad_checksum",
            "bad_group",
            "bad_hello",
            "bad_packets",
            "bad_version",
        ]
    );
    assert_eq!(
        field("hello.holdtime", "missing").to_string(),
        "hello.holdtime: missing"
    );
}

/// Every PIM type but 0, 3 and 15 is refused, whatever follows.
#[test]
fn only_hello_join_prune_and_extensions_are_taken() {
    for t in (0..16u8).filter(|t| ![TYPE_HELLO, TYPE_JOIN_PRUNE, TYPE_EXTENSION].contains(t)) {
        let (src, dst, b) = edit("join-prune-link", |b| b[0] = 0x20 | t);
        assert_eq!(
            Packet::decode(src, dst, &b),
            Err(DecodeError::Type(t)),
            "type {t}"
        );
    }
    for s in
        (0..16u8).filter(|s| ![SUBTYPE_SHORTCUT_REQUEST, SUBTYPE_BRANCH_ANNOUNCEMENT].contains(s))
    {
        let (src, dst, b) = edit("shortcut-request", |b| b[1] = s << 4);
        assert_eq!(
            Packet::decode(src, dst, &b),
            Err(DecodeError::Subtype(s)),
            "subtype {s}"
        );
    }
}

/// Every strict prefix of a message with counted parts is truncated, at the
/// prefix's length (a Hello's prefixes that end between options are Hellos
/// with fewer options, or without holdtime).
#[test]
fn every_cut_is_refused_as_truncated() {
    for f in fixtures() {
        let (m, seq) = expected(f.name);
        let unsigned_len = match seq {
            Some(_) => f.bytes.len() - signature_len(&m),
            None => f.bytes.len(),
        };
        for n in 0..f.bytes.len() {
            let mut b = f.bytes[..n].to_vec();
            if n >= 4 {
                reseal(f.src, f.dst, &mut b);
            }
            let got = Packet::decode(f.src, f.dst, &b);
            match (&m, got) {
                (_, Err(DecodeError::Truncated { len, .. })) => {
                    assert_eq!(len, n, "{} cut at {n}", f.name)
                }
                (_, Ok(p)) if n == unsigned_len && seq.is_some() => {
                    assert_eq!((p.message, p.trailer), (m.clone(), None), "{}", f.name)
                }
                (Message::Hello(_), Ok(p)) => {
                    assert!(n < unsigned_len, "{} cut at {n}", f.name);
                    assert_eq!(p.trailer, None);
                }
                (Message::Hello(_), Err(e)) => {
                    assert_eq!(
                        (n, e),
                        (4, field("hello.holdtime", "missing")),
                        "{}",
                        f.name
                    )
                }
                (_, Err(DecodeError::Trailing(t))) => {
                    assert_eq!(
                        (n - unsigned_len, seq.is_some()),
                        (t, true),
                        "{} cut at {n}",
                        f.name
                    )
                }
                (_, got) => panic!("{} cut at {n}: {got:?}", f.name),
            }
        }
    }
}
