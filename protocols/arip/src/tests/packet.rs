//! Byte vectors both ways, per-entry errors, the trailer.

use std::net::Ipv6Addr;

use crate::packet::*;
use anycast6_core::auth::{AuthError, Key, Keyring};

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn route(prefix: &str, tag: u16, plen: u8, metric: u8) -> Entry {
    Entry::Route(Rte {
        prefix: a(prefix),
        tag,
        plen,
        metric,
    })
}

#[test]
fn whole_table_request_both_ways() {
    let bytes = hex("01 01 0000  00000000000000000000000000000000 0000 00 10");
    let p = Packet::decode(&bytes).unwrap();
    assert_eq!(p, Packet::whole_table_request());
    assert!(p.is_whole_table_request());
    assert_eq!(p.encode(), bytes);
}

#[test]
fn response_with_next_hop_both_ways() {
    let bytes = hex("02 01 0000
         fe800000000000000000000000000001 0000 00 ff
         20010db8000100000000000000000000 0000 30 01
         20010db800a600000000000000000001 a6a6 80 03");
    let want = Packet::new(
        Command::Response,
        vec![
            Entry::NextHop(a("fe80::1")),
            route("2001:db8:1::", 0, 48, 1),
            route("2001:db8:a6::1", 0xa6a6, 128, 3),
        ],
    );
    assert_eq!(Packet::decode(&bytes).unwrap(), want);
    assert_eq!(want.encode(), bytes);
}

/// Captured from FRR 8.4 ripngd (tests/fixtures/arip/frr-response.hex):
/// a periodic response with a connected, a static and a host route.
#[test]
fn frr_capture_decodes_and_reencodes() {
    let text = include_str!("../../../../tests/fixtures/arip/frr-response.hex");
    let bytes = hex(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
        .as_str());
    let p = Packet::decode(&bytes).unwrap();
    assert_eq!(p.command, Command::Response);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(p.auth.is_none());
    assert!(
        p.entries.contains(&route("2001:db8:a6::1", 0, 128, 1)),
        "{:?}",
        p.entries
    );
    assert!(p.entries.contains(&route("2001:db8:77::", 0, 48, 1)));
    assert!(p.entries.contains(&route("2001:db8:1::", 0, 64, 1)));
    assert_eq!(p.encode(), bytes);
}

#[test]
fn bird_capture_decodes_and_reencodes() {
    let text = include_str!("../../../../tests/fixtures/arip/bird-response.hex");
    let bytes = hex(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
        .as_str());
    let p = Packet::decode(&bytes).unwrap();
    assert_eq!(p.command, Command::Response);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(p.auth.is_none());
    assert_eq!(
        p.entries,
        vec![
            route("2001:db8:ac::7", 0xa6a6, 128, 1),
            route("2001:db8:b1::", 0, 64, 1),
            route("2001:db8:b::", 0, 64, 1),
        ]
    );
    assert_eq!(p.encode(), bytes);
}

#[test]
fn whole_packet_errors() {
    assert_eq!(
        Packet::decode(&[2, 1, 0]),
        Err(DecodeError::PacketTooShort(3))
    );
    assert_eq!(
        Packet::decode(&[3, 1, 0, 0]),
        Err(DecodeError::CommandUnknown(3))
    );
    assert_eq!(
        Packet::decode(&[2, 2, 0, 0]),
        Err(DecodeError::VersionInvalid(2))
    );
    assert_eq!(
        Packet::decode(&[2, 1, 0, 0, 1]),
        Err(DecodeError::PacketLengthInvalid(5))
    );
    // An empty response is valid (and carries nothing).
    assert_eq!(Packet::decode(&[2, 1, 0, 0]).unwrap().entries, vec![]);
}

#[test]
fn one_bad_entry_keeps_the_good_ones() {
    let bytes = hex("02 01 0000
         20010db8000100000000000000000000 0000 30 01
         20010db8000200000000000000000000 0000 81 01
         20010db8000300000000000000000000 0000 30 00
         20010db8000400000000000000000000 0000 30 11
         20010db8000500000000000000000000 0000 30 fe
         ff020000000000000000000000000009 0000 80 01
         fe800000000000000000000000000009 0000 80 01
         20010db8000600000000000000000001 0000 00 ff
         20010db8000700000000000000000000 0000 30 10");
    let p = Packet::decode(&bytes).unwrap();
    let kinds: Vec<(usize, RteErrorKind)> = p.errors.iter().map(|e| (e.index, e.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (1, RteErrorKind::PrefixLenInvalid(129)),
            (2, RteErrorKind::MetricInvalid(0)),
            (3, RteErrorKind::MetricInvalid(17)),
            (4, RteErrorKind::MetricInvalid(254)),
            (5, RteErrorKind::PrefixInvalid(a("ff02::9"))),
            (6, RteErrorKind::PrefixInvalid(a("fe80::9"))),
            (7, RteErrorKind::NextHopInvalid(a("2001:db8:6::1"))),
        ]
    );
    assert_eq!(
        p.entries,
        vec![
            route("2001:db8:1::", 0, 48, 1),
            // RFC 2080 §2.1.1: a non-link-local next hop counts as ::.
            Entry::NextHop(Ipv6Addr::UNSPECIFIED),
            route("2001:db8:7::", 0, 48, 16),
        ]
    );
    // What survived encodes and decodes cleanly.
    let again = Packet::decode(&p.encode()).unwrap();
    assert!(again.errors.is_empty());
    assert_eq!(again.entries, p.entries);
}

#[test]
fn request_metric_zero_is_fine() {
    let bytes = hex("01 01 0000 20010db8000100000000000000000000 0000 30 00");
    let p = Packet::decode(&bytes).unwrap();
    assert!(p.errors.is_empty());
    assert!(!p.is_whole_table_request());
}

fn key() -> Key {
    Key::new(7, b"anycast6 arip test key".to_vec())
}

fn signed_fixture() -> (Packet, Vec<u8>) {
    let p = Packet::new(
        Command::Response,
        vec![route("2001:db8:a6::1", 0xa6a6, 128, 2)],
    );
    let bytes = p.encode_signed(a("fe80::1"), &key(), 0x0102_0304_0506_0708);
    (p, bytes)
}

/// The signed layout, byte for byte (docs/arip.md §4): a regression
/// vector, kept in tests/fixtures/arip/signed-response.hex.
#[test]
fn signed_packet_layout() {
    let (_, bytes) = signed_fixture();
    let text = include_str!("../../../../tests/fixtures/arip/signed-response.hex");
    let want = hex(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
        .as_str());
    assert_eq!(
        bytes,
        want,
        "{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    assert_eq!(bytes.len(), HEADER_LEN + RTE_LEN + TRAILER_LEN);
    // Every trailer RTE: marker 0xA6, tag 0, prefix length 0, metric 0xFF.
    for rte in bytes[HEADER_LEN + RTE_LEN..].chunks(RTE_LEN) {
        assert_eq!(rte[0], TRAILER_MARKER);
        assert_eq!(&rte[16..20], &[0, 0, 0, 0xff]);
    }
    // Version, algorithm, key id, sequence in the first trailer RTE.
    let t = &bytes[HEADER_LEN + RTE_LEN..];
    assert_eq!(&t[1..13], &[1, 1, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn signed_packet_verifies_and_decodes() {
    let (p, bytes) = signed_fixture();
    let d = Packet::decode(&bytes).unwrap();
    assert_eq!(d.entries, p.entries);
    assert!(d.errors.is_empty());
    let t = d.auth.unwrap();
    assert_eq!((t.key_id, t.seq, t.alg), (7, 0x0102_0304_0506_0708, 1));
    let ring = Keyring::new(vec![key()]);
    assert_eq!(
        verify(&bytes, &d, a("fe80::1"), &ring),
        Ok((7, 0x0102_0304_0506_0708))
    );
    // The sender's address is covered: the same bytes from elsewhere fail.
    assert_eq!(
        verify(&bytes, &d, a("fe80::2"), &ring),
        Err(AuthError::BadDigest)
    );
    // Any flipped bit fails (route, key id, sequence, digest).
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        let Ok(d2) = Packet::decode(&b) else { continue };
        assert!(
            verify(&b, &d2, a("fe80::1"), &ring).is_err(),
            "bit flip at {i} accepted"
        );
    }
    // Wrong key id / unknown key.
    let other = Keyring::new(vec![Key::new(8, b"x".to_vec())]);
    assert_eq!(
        verify(&bytes, &d, a("fe80::1"), &other),
        Err(AuthError::UnknownKey(7))
    );
    let plain = Packet::decode(&p.encode()).unwrap();
    assert_eq!(
        verify(&p.encode(), &plain, a("fe80::1"), &ring),
        Err(AuthError::Missing)
    );
}

#[test]
fn trailer_never_looks_link_local_and_round_trips() {
    // Whatever the digest, each trailer RTE's address starts with 0xA6.
    for seq in 0..2000u64 {
        let p = Packet::new(Command::Response, vec![]);
        let bytes = p.encode_signed(a("fe80::1"), &key(), seq);
        let d = Packet::decode(&bytes).unwrap();
        assert!(d.errors.is_empty());
        assert_eq!(d.encode(), bytes);
        for rte in bytes[HEADER_LEN..].chunks(RTE_LEN) {
            let addr = Ipv6Addr::from(<[u8; 16]>::try_from(&rte[..16]).unwrap());
            assert!(!is_link_local(&addr) && !addr.is_unspecified());
        }
    }
}

/// A plain RIPng reading of a signed packet: the trailer is three next
/// hops of :: after the last route (RFC 2080 §2.1.1), so no route changes.
#[test]
fn plain_reading_of_a_trailer_changes_no_route() {
    let (_, bytes) = signed_fixture();
    let mut routes = Vec::new();
    let mut next_hop = Ipv6Addr::UNSPECIFIED;
    for rte in bytes[HEADER_LEN..].chunks(RTE_LEN) {
        let addr = Ipv6Addr::from(<[u8; 16]>::try_from(&rte[..16]).unwrap());
        if rte[19] == 0xff {
            next_hop = if is_link_local(&addr) {
                addr
            } else {
                Ipv6Addr::UNSPECIFIED
            };
        } else {
            routes.push((addr, rte[18], rte[19], next_hop));
        }
    }
    assert_eq!(
        routes,
        vec![(a("2001:db8:a6::1"), 128, 2, Ipv6Addr::UNSPECIFIED)]
    );
}

/// tshark (Wireshark's RIPng dissector) reads what the encoder writes,
/// signed or not, without a malformed-packet complaint. Skipped (with a
/// note) where tshark is not installed.
#[test]
fn tshark_decodes_our_packets() {
    use std::io::Write;
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("tshark not installed: skipped");
        return;
    }
    let (_, signed) = signed_fixture();
    let plain = Packet::new(
        Command::Response,
        vec![
            route("2001:db8:1::", 0, 48, 1),
            route("2001:db8:a6::1", 0xa6a6, 128, 16),
        ],
    )
    .encode();
    let request = Packet::whole_table_request().encode();
    let dir = std::env::temp_dir().join(format!("arip-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("arip.pcap");
    let mut f = std::fs::File::create(&pcap).unwrap();
    super::pcap::write(&mut f, &[&plain, &signed, &request]).unwrap();
    f.flush().unwrap();
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .arg("-V")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("Expert Info (Error"), "{text}");
    assert!(text.matches("RIPng").count() >= 3, "{text}");
    assert!(text.contains("2001:db8:a6::1"), "{text}");
    assert!(text.contains("Command: Request (1)"), "{text}");
}
