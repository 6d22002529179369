//! Byte vectors both ways: every FRR capture decodes to the expected PDU
//! and re-encodes to the same octets; LSA checksums; refusals; tshark.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::fixtures;
use crate::packet::lsa::*;
use crate::packet::*;

fn r(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn header(router: &str, checksum: u16) -> Header {
    Header {
        router_id: r(router),
        area_id: r("0.0.0.0"),
        checksum,
        instance_id: 0,
    }
}

fn lsa_header(age: u16, t: LsaType, id: &str, adv: &str, seq: u32, ck: u16, len: u16) -> LsaHeader {
    LsaHeader {
        age,
        ls_type: t,
        id: r(id),
        adv_router: r(adv),
        seq: seq as i32,
        checksum: ck,
        length: len,
    }
}

/// V6, E, R (what FRR sets), 0x13.
const FRR_OPTIONS: Options = Options(Options::V6 | Options::E | Options::R);

#[test]
fn every_fixture_round_trips() {
    for f in fixtures::all() {
        let p = Packet::decode(&f.bytes).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(p.encode_with_trailer(), f.bytes, "{}", f.name);
        // What we encode decodes to the same PDU.
        assert_eq!(
            Packet::decode(&p.encode_with_trailer()).unwrap(),
            p,
            "{}",
            f.name
        );
        assert_eq!(
            p.trailer.is_some(),
            f.name.starts_with("frr-auth"),
            "{}",
            f.name
        );
    }
}

/// The kernel filled in FRR's checksums (IPV6_CHECKSUM); ours agree. With
/// the trailer FRR sends a zero checksum (checked in auth.rs).
#[test]
fn packet_checksum_matches_frr() {
    for f in fixtures::all()
        .iter()
        .filter(|f| !f.name.starts_with("frr-auth"))
    {
        let p = Packet::decode(&f.bytes).unwrap();
        assert_eq!(
            p.header.checksum,
            checksum(f.src, f.dst, &f.bytes),
            "{}",
            f.name
        );
    }
}

#[test]
fn frr_lsa_checksums_verify_and_recompute() {
    let mut n = 0;
    for f in fixtures::all() {
        if let Body::LsUpdate(lsas) = Packet::decode(&f.bytes).unwrap().body {
            for l in lsas {
                assert!(l.checksum_ok(), "{}: {:?}", f.name, l.header);
                let mut bytes = l.to_bytes();
                assert_eq!(lsa_checksum(&mut bytes), l.header.checksum, "{}", f.name);
                let mut resealed = l.clone();
                resealed.seal();
                assert_eq!(resealed, l);
                n += 1;
            }
        }
    }
    assert!(n >= 15, "{n} LSAs checked");
}

#[test]
fn frr_first_hello() {
    let f = fixtures::get("frr-hello-first");
    let p = Packet::decode(&f.bytes).unwrap();
    let Body::Hello(h) = p.body else {
        panic!("{p:?}")
    };
    assert!(h.neighbors.is_empty());
    assert_eq!((h.dr, h.bdr), (r("0.0.0.0"), r("0.0.0.0")));
    assert_eq!(h.options, FRR_OPTIONS);
}

#[test]
fn frr_hello() {
    let f = fixtures::get("frr-hello");
    assert_eq!(f.dst, ALL_SPF_ROUTERS);
    assert_eq!(
        Packet::decode(&f.bytes).unwrap(),
        Packet {
            header: header("10.0.0.1", 0xbc1b),
            body: Body::Hello(Hello {
                interface_id: 2,
                priority: 1,
                options: FRR_OPTIONS,
                hello_interval: 2,
                dead_interval: 8,
                dr: r("10.0.0.2"),
                bdr: r("10.0.0.2"),
                neighbors: vec![r("10.0.0.2")],
            }),
            trailer: None,
        }
    );
}

#[test]
fn frr_dd_init() {
    let f = fixtures::get("frr-dd-init");
    assert_eq!(
        Packet::decode(&f.bytes).unwrap(),
        Packet {
            header: header("10.0.0.1", 0x7cbb),
            body: Body::DbDesc(DbDesc {
                options: FRR_OPTIONS,
                mtu: 1500,
                flags: DD_I | DD_M | DD_MS,
                seq: 0x17a9,
                headers: vec![],
            }),
            trailer: None,
        }
    );
}

#[test]
fn frr_dd_headers() {
    let f = fixtures::get("frr-dd-headers");
    let Body::DbDesc(d) = Packet::decode(&f.bytes).unwrap().body else {
        panic!()
    };
    let types: Vec<LsaType> = d.headers.iter().map(|h| h.ls_type).collect();
    assert_eq!(
        types,
        [
            LsaType::LINK,
            LsaType::ROUTER,
            LsaType::INTRA_AREA_PREFIX,
            LsaType::AS_EXTERNAL,
            LsaType::AS_EXTERNAL
        ]
    );
    assert!(d.headers.iter().all(|h| h.seq == INITIAL_SEQ));
}

#[test]
fn frr_ls_request() {
    let f = fixtures::get("frr-ls-request");
    let req = |t, id: &str| LsRequest {
        ls_type: t,
        id: r(id),
        adv_router: r("10.0.0.1"),
    };
    assert_eq!(
        Packet::decode(&f.bytes).unwrap(),
        Packet {
            header: header("10.0.0.2", 0xa7d1),
            body: Body::LsRequest(vec![
                req(LsaType::LINK, "0.0.0.2"),
                req(LsaType::ROUTER, "0.0.0.0"),
                req(LsaType::INTRA_AREA_PREFIX, "0.0.0.0"),
                req(LsaType::AS_EXTERNAL, "0.0.0.1"),
                req(LsaType::AS_EXTERNAL, "0.0.0.2"),
            ]),
            trailer: None,
        }
    );
}

fn external(id: &str, adv: &str, age: u16, ck: u16, len: u16, prefix: Prefix) -> Lsa {
    Lsa {
        header: lsa_header(age, LsaType::AS_EXTERNAL, id, adv, 0x8000_0001, ck, len),
        body: LsaBody::AsExternal(AsExternalLsa {
            type2: true,
            metric: 20,
            prefix,
            forwarding: None,
            tag: None,
            ref_id: None,
        }),
    }
}

fn prefix(len: u8, options: u8, field: u16, addr: &str) -> Prefix {
    Prefix {
        len,
        options,
        field,
        addr: a(addr),
    }
}

#[test]
fn frr_ls_update() {
    let f = fixtures::get("frr-ls-update");
    let link_prefix = prefix(64, 0, 0, "2001:db8:a::");
    assert_eq!(
        Packet::decode(&f.bytes).unwrap(),
        Packet {
            header: header("10.0.0.1", 0xe844),
            body: Body::LsUpdate(vec![
                Lsa {
                    header: lsa_header(
                        9,
                        LsaType::LINK,
                        "0.0.0.2",
                        "10.0.0.1",
                        0x8000_0001,
                        0xa026,
                        56
                    ),
                    body: LsaBody::Link(LinkLsa {
                        priority: 1,
                        options: FRR_OPTIONS,
                        link_local: a("fe80::9070:d5ff:fe87:b492"),
                        prefixes: vec![link_prefix],
                    }),
                },
                Lsa {
                    header: lsa_header(
                        19,
                        LsaType::ROUTER,
                        "0.0.0.0",
                        "10.0.0.1",
                        0x8000_0001,
                        0xd351,
                        24
                    ),
                    body: LsaBody::Router(RouterLsa {
                        flags: ROUTER_E,
                        options: FRR_OPTIONS,
                        links: vec![],
                    }),
                },
                Lsa {
                    header: lsa_header(
                        9,
                        LsaType::INTRA_AREA_PREFIX,
                        "0.0.0.0",
                        "10.0.0.1",
                        0x8000_0001,
                        0x0ca9,
                        44
                    ),
                    body: LsaBody::IntraAreaPrefix(IntraAreaPrefixLsa {
                        ref_ls_type: LsaType::ROUTER,
                        ref_id: r("0.0.0.0"),
                        ref_adv_router: r("10.0.0.1"),
                        prefixes: vec![prefix(64, 0, 10, "2001:db8:a::")],
                    }),
                },
                external(
                    "0.0.0.1",
                    "10.0.0.1",
                    9,
                    0x6758,
                    36,
                    prefix(64, 0, 0, "2001:db8:a::")
                ),
                external(
                    "0.0.0.2",
                    "10.0.0.1",
                    9,
                    0x10bc,
                    44,
                    prefix(128, 0, 0, "2001:db8:ac::7")
                ),
            ]),
            trailer: None,
        }
    );
}

#[test]
fn frr_ls_update_with_network_lsa() {
    let f = fixtures::get("frr-ls-update-network");
    assert_eq!(f.dst, ALL_SPF_ROUTERS);
    let Body::LsUpdate(lsas) = Packet::decode(&f.bytes).unwrap().body else {
        panic!()
    };
    assert_eq!(
        lsas[0].body,
        LsaBody::Router(RouterLsa {
            flags: ROUTER_E,
            options: FRR_OPTIONS,
            links: vec![RouterLink {
                link_type: LINK_TRANSIT,
                metric: 10,
                interface_id: 2,
                neighbor_interface_id: 2,
                neighbor_router_id: r("10.0.0.2"),
            }],
        })
    );
    assert_eq!(
        lsas[1],
        Lsa {
            header: lsa_header(
                1,
                LsaType::NETWORK,
                "0.0.0.2",
                "10.0.0.2",
                0x8000_0001,
                0x8c77,
                32
            ),
            body: LsaBody::Network(NetworkLsa {
                options: FRR_OPTIONS,
                attached: vec![r("10.0.0.2"), r("10.0.0.1")],
            }),
        }
    );
    // A flushed LSA (MaxAge) and the link's prefix, referenced to the
    // Network-LSA.
    assert_eq!(lsas[2].header.age, MAX_AGE);
    assert_eq!(
        lsas[3].body,
        LsaBody::IntraAreaPrefix(IntraAreaPrefixLsa {
            ref_ls_type: LsaType::NETWORK,
            ref_id: r("0.0.0.2"),
            ref_adv_router: r("10.0.0.2"),
            prefixes: vec![prefix(64, 0, 0, "2001:db8:a::")],
        })
    );
    assert_eq!(lsas[4].header.ls_type.scope(), Scope::As);
    assert_eq!(LsaType::LINK.scope(), Scope::Link);
}

#[test]
fn frr_ls_ack() {
    let f = fixtures::get("frr-ls-ack");
    let Body::LsAck(h) = Packet::decode(&f.bytes).unwrap().body else {
        panic!()
    };
    assert_eq!(h.len(), 6);
    assert_eq!(
        h[2],
        lsa_header(
            5,
            LsaType::NETWORK,
            "0.0.0.2",
            "10.0.0.2",
            0x8000_0001,
            0x8c77,
            32
        )
    );
}

/// An LSA we build ourselves: sealed, it verifies; one changed octet and
/// it does not. Unknown types and all optional external fields too.
#[test]
fn built_lsas_seal_and_round_trip() {
    let mut lsa = Lsa {
        header: lsa_header(
            0,
            LsaType::AS_EXTERNAL,
            "0.0.0.9",
            "10.0.0.9",
            0x8000_0001,
            0,
            0,
        ),
        body: LsaBody::AsExternal(AsExternalLsa {
            type2: false,
            metric: 0x00ab_cdef,
            prefix: prefix(48, PREFIX_P, 0x2001, "2001:db8:ff::"),
            forwarding: Some(a("2001:db8::1")),
            tag: Some(0xa6a6_0001),
            ref_id: Some(r("0.0.0.7")),
        }),
    };
    assert!(!lsa.checksum_ok());
    lsa.seal();
    assert!(lsa.checksum_ok());
    let bytes = lsa.to_bytes();
    assert_eq!(bytes.len(), 20 + 4 + 4 + 8 + 16 + 4 + 4);
    assert_eq!(usize::from(lsa.header.length), bytes.len());
    assert_eq!(Lsa::decode(&bytes).unwrap(), (lsa.clone(), bytes.len()));
    assert!(lsa_checksum_ok(&bytes));
    let mut bad = bytes.clone();
    bad[30] ^= 1;
    assert!(!lsa_checksum_ok(&bad));
    // Aging does not touch the checksum.
    let mut aged = bytes.clone();
    aged[1] = 77;
    assert!(lsa_checksum_ok(&aged));

    let other = Lsa {
        header: lsa_header(
            1,
            LsaType::INTER_AREA_PREFIX,
            "0.0.0.1",
            "10.0.0.9",
            0x8000_0003,
            0,
            0,
        ),
        body: LsaBody::Other(vec![
            0, 0, 0, 10, 64, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
        ]),
    };
    let bytes = other.to_bytes();
    let (back, _) = Lsa::decode(&bytes).unwrap();
    assert_eq!(back.body, other.body);
    assert_eq!(back.to_bytes(), bytes);
}

#[test]
fn prefix_encoding_by_length() {
    for (len, words) in [
        (0u8, 0usize),
        (1, 1),
        (32, 1),
        (33, 2),
        (64, 2),
        (96, 3),
        (127, 4),
        (128, 4),
    ] {
        let p = prefix(len, 0, 0, "2001:db8:1:2:3:4:5:6");
        let mut v = Vec::new();
        p.encode(&mut v);
        assert_eq!(v.len(), 4 + 4 * words, "/{len}");
        assert_eq!(p.wire_len(), v.len());
        let (back, n) = Prefix::decode(&v).unwrap();
        assert_eq!(n, v.len());
        let mut again = Vec::new();
        back.encode(&mut again);
        assert_eq!(again, v);
    }
    assert_eq!(
        Prefix::decode(&[129, 0, 0, 0]),
        Err(DecodeError::PrefixLength(129))
    );
    assert_eq!(
        Prefix::decode(&[64, 0, 0, 0, 1, 2, 3, 4]),
        Err(DecodeError::PrefixTruncated)
    );
}

#[test]
fn refusals_name_the_field() {
    let good = fixtures::get("frr-ls-update").bytes;
    assert_eq!(
        Packet::decode(&good[..10]),
        Err(DecodeError::HeaderTruncated(10))
    );
    let mut v = good.clone();
    v[0] = 2;
    assert_eq!(Packet::decode(&v), Err(DecodeError::BadVersion(2)));
    let mut v = good.clone();
    v[1] = 9;
    assert_eq!(Packet::decode(&v), Err(DecodeError::UnknownType(9)));
    assert_eq!(
        Packet::decode(&good[..100]),
        Err(DecodeError::LengthMismatch {
            header: 224,
            actual: 100
        })
    );
    let mut v = good.clone();
    v[2..4].copy_from_slice(&8u16.to_be_bytes());
    assert_eq!(
        Packet::decode(&v),
        Err(DecodeError::LengthMismatch {
            header: 8,
            actual: good.len()
        })
    );
    // The LS Update's LSA count says 6.
    let mut v = good.clone();
    v[19] = 6;
    assert_eq!(
        Packet::decode(&v),
        Err(DecodeError::LsaCount {
            announced: 6,
            found: 5
        })
    );
    // The first LSA's length runs past the packet.
    let mut v = good.clone();
    v[20 + 18..20 + 20].copy_from_slice(&300u16.to_be_bytes());
    assert_eq!(Packet::decode(&v), Err(DecodeError::LsaTruncated));
    let mut v = good.clone();
    v[20 + 18..20 + 20].copy_from_slice(&4u16.to_be_bytes());
    assert_eq!(Packet::decode(&v), Err(DecodeError::LsaLength(4)));
    // The Link-LSA's prefix claims /200.
    let mut v = good.clone();
    v[20 + 44] = 200;
    assert_eq!(Packet::decode(&v), Err(DecodeError::PrefixLength(200)));
    // The Link-LSA says two prefixes, carries one.
    let mut v = good.clone();
    v[20 + 43] = 2;
    assert_eq!(Packet::decode(&v), Err(DecodeError::PrefixTruncated));

    let hello = fixtures::get("frr-hello").bytes;
    let mut v = hello[..30].to_vec();
    v[2..4].copy_from_slice(&30u16.to_be_bytes());
    assert_eq!(
        Packet::decode(&v),
        Err(DecodeError::BodyTruncated { kind: "Hello" })
    );
    let mut v = hello.clone();
    v.extend_from_slice(&[0, 0]);
    v[2..4].copy_from_slice(&42u16.to_be_bytes());
    assert_eq!(
        Packet::decode(&v),
        Err(DecodeError::BodyLength {
            kind: "Hello",
            len: 26
        })
    );
    // Octets after the packet length are a trailer, and must be one.
    let mut v = hello.clone();
    v.extend_from_slice(&[0, 2, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(Packet::decode(&v), Err(DecodeError::TrailerType(2)));
    let mut v = hello.clone();
    v.extend_from_slice(&[0, 1, 0, 48]);
    assert_eq!(Packet::decode(&v), Err(DecodeError::TrailerTruncated(4)));
}

/// tshark (Wireshark's OSPFv3 dissector) reads what the encoder writes:
/// every FRR packet re-encoded, a packet we build and seal, with no
/// malformed or error-level expert info. Skipped where tshark is missing.
#[test]
fn tshark_decodes_our_packets() {
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("tshark not installed: skipped");
        return;
    }
    let mut frames = Vec::new();
    for f in fixtures::all() {
        let p = Packet::decode(&f.bytes).unwrap();
        frames.push(super::pcap::frame(f.src, f.dst, &p.encode_with_trailer()));
    }
    let built = super::auth::built_hello();
    frames.push(super::pcap::frame(a("fe80::1"), ALL_SPF_ROUTERS, &built));
    let dir = std::env::temp_dir().join(format!("aospf-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("aospf.pcap");
    super::pcap::write(&mut std::fs::File::create(&file).unwrap(), &frames).unwrap();
    let out = std::process::Command::new("tshark")
        .args(["-n", "-V", "-r"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.matches("Open Shortest Path First").count(),
        frames.len(),
        "{text}"
    );
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("[Severity level: Error]"), "{text}");
    for want in [
        "Hello Packet",
        "DB Description",
        "LS Request",
        "LS Update",
        "LS Acknowledge",
        "Router-LSA",
        "Network-LSA",
        "Link-LSA",
        "Intra-Area-Prefix-LSA",
        "AS-External-LSA",
        "2001:db8:ac::7",
    ] {
        assert!(text.contains(want), "tshark output lacks {want:?}:\n{text}");
    }
}

/// RFC 9513's AC bit (0x80 in PrefixOptions) on an anycast /128 in an
/// Intra-Area-Prefix-LSA: FRR's LS Update with such a prefix added to its
/// Intra-Area-Prefix-LSA (checksum recomputed). tshark 4.0 names only NU,
/// LA, MC and P; it prints the octet as `PrefixOptions: 0x80` with those
/// four unset and no malformed field or expert info. Skipped where tshark
/// is missing.
#[test]
fn tshark_reads_the_ac_bit_without_complaint() {
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("tshark not installed: skipped");
        return;
    }
    let f = fixtures::get("frr-ls-update");
    let mut p = Packet::decode(&f.bytes).unwrap();
    let Body::LsUpdate(lsas) = &mut p.body else {
        panic!()
    };
    let iap = lsas
        .iter_mut()
        .find(|l| l.header.ls_type == LsaType::INTRA_AREA_PREFIX)
        .unwrap();
    let LsaBody::IntraAreaPrefix(b) = &mut iap.body else {
        panic!()
    };
    b.prefixes
        .push(prefix(128, crate::spf::PREFIX_AC, 0, "2001:db8:ac::7"));
    iap.seal();
    let mut lsa = iap.to_bytes();
    assert_eq!(lsa_checksum(&mut lsa), iap.header.checksum);
    assert!(iap.checksum_ok());
    let bytes = p.encode();
    assert_eq!(Packet::decode(&bytes).unwrap(), p);

    let dir = std::env::temp_dir().join(format!("aospf-tshark-ac-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ac.pcap");
    let frame = super::pcap::frame(f.src, f.dst, &bytes);
    super::pcap::write(&mut std::fs::File::create(&file).unwrap(), &[frame]).unwrap();
    let tshark = |args: &[&str]| {
        let out = std::process::Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&file)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = tshark(&["-V"]);
    let expert = tshark(&["-q", "-z", "expert"]);
    let fields = tshark(&[
        "-T",
        "fields",
        "-E",
        "aggregator=;",
        "-e",
        "ospf.v3.prefix.options",
        "-e",
        "ospf.v3.address_prefix.ipv6",
    ]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("Expert Info"), "{text}");
    assert!(
        !expert.contains("Errors") && !expert.contains("Warns"),
        "{expert}"
    );
    // The /128 as tshark shows it: the octet, the four bits it names.
    let at = text
        .find("PrefixOptions: 0x80")
        .unwrap_or_else(|| panic!("no PrefixOptions: 0x80 in\n{text}"));
    let shown: Vec<&str> = text[at..].lines().take(7).map(str::trim).collect();
    assert_eq!(
        shown,
        [
            "PrefixOptions: 0x80",
            ".... 0... = (P) Propagate: Not set",
            ".... .0.. = (MC) Multicast: Not set",
            ".... ..0. = (LA) Local Address: Not set",
            ".... ...0 = (NU) NoUnicast: Not set",
            "Metric: 0",
            "Address Prefix: 2001:db8:ac::7",
        ],
        "{text}"
    );
    // Link-LSA, Intra-Area-Prefix-LSA (two), two AS-External-LSAs.
    let mut it = fields.trim().split('\t');
    let options: Vec<&str> = it.next().unwrap().split(';').collect();
    assert_eq!(
        options,
        ["0x00", "0x00", "0x80", "0x00", "0x00"],
        "{fields}"
    );
    assert!(it.next().unwrap().contains("2001:db8:ac::7"), "{fields}");
}
