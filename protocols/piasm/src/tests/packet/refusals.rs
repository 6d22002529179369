//! Every refusal of the decoder (docs/piasm.md §2, §3): each
//! [`DecodeError`] variant and each field it names, from a fixture with one
//! thing changed and its checksum made right, and the counter it goes to.

use std::net::Ipv6Addr;

use super::{a, edit, expected, fixture, fixtures, one_join, reseal, signature_len, E1, R};
use crate::packet::*;

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

/// One refusal: what was changed, the octets as sent (source, destination,
/// message), the error and the counter it goes to.
type Case = (
    &'static str,
    (Ipv6Addr, Ipv6Addr, Vec<u8>),
    DecodeError,
    &'static str,
);

fn ll() -> Ipv6Addr {
    a("fe80::1")
}

/// The octets themselves, from fe80::1 to ALL-PIM-ROUTERS.
fn raw(b: &[u8]) -> (Ipv6Addr, Ipv6Addr, Vec<u8>) {
    (ll(), ALL_PIM_ROUTERS, b.to_vec())
}

/// A Hello of these options, with its checksum.
fn hello_with(opts: &[u8]) -> (Ipv6Addr, Ipv6Addr, Vec<u8>) {
    let mut b = vec![0x20, 0, 0, 0];
    b.extend_from_slice(opts);
    reseal(ll(), ALL_PIM_ROUTERS, &mut b);
    (ll(), ALL_PIM_ROUTERS, b)
}

/// The header: version, checksum, type and subtype, its own cuts.
fn header() -> Vec<Case> {
    let hp = fixture("hello-plain");
    vec![
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
    ]
}

fn hello() -> Vec<Case> {
    vec![
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
    ]
}

/// Join/Prune: addresses, groups and sources.
fn join_prune() -> Vec<Case> {
    vec![
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
    ]
}

/// Join attributes, of joins and prunes.
fn attributes() -> Vec<Case> {
    vec![
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
    ]
}

/// After the counted part (nothing or a trailer), and the extension messages.
fn tails_and_extensions() -> Vec<Case> {
    vec![
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
    ]
}

/// Every refusal: what was changed, the octets, the error and its counter.
#[test]
fn every_refusal_names_its_field_and_counter() {
    let cases = [
        header(),
        hello(),
        join_prune(),
        attributes(),
        tails_and_extensions(),
    ]
    .concat();
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
