//! BIRD 2.0.12's OSPFv3 packets both ways: every capture decodes and
//! re-encodes to the same octets, its checksums are ours, its trailers
//! verify the RFC 7166 way (unlike FRR 8.4's), and tshark reads them.

use std::net::{Ipv4Addr, Ipv6Addr};

use anycast6_core::auth::{AuthError, Key, Keyring};

use super::fixtures;
use crate::packet::auth::{seal, verify, KeyPrep, TRAILER_LEN};
use crate::packet::lsa::*;
use crate::packet::*;

fn r(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// V6, E, R and AF (RFC 5838): what BIRD sets, 0x113.
const BIRD_OPTIONS: Options = Options(Options::V6 | Options::E | Options::R | Options::AF);

/// The key of the authenticated capture (`password "anycast6-test-key"
/// { id 1; algorithm hmac sha256; }`).
fn bird_key() -> Key {
    Key::new(1, "anycast6-test-key")
}

const AUTH: [&str; 2] = ["bird-auth-hello", "bird-auth-ls-update"];

fn decode(name: &str) -> Packet {
    Packet::decode(&fixtures::get(name).bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_bird_fixture_round_trips() {
    let all = fixtures::bird();
    assert_eq!(all.len(), 10);
    for f in all {
        let p = Packet::decode(&f.bytes).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(p.encode_with_trailer(), f.bytes, "{}", f.name);
        assert_eq!(
            Packet::decode(&p.encode_with_trailer()).unwrap(),
            p,
            "{}",
            f.name
        );
        assert_eq!(p.header.router_id, r("10.0.0.2"), "{}", f.name);
        assert_eq!(p.trailer.is_some(), AUTH.contains(&f.name), "{}", f.name);
    }
}

/// Without authentication the kernel fills in BIRD's checksum
/// (IPV6_CHECKSUM) and ours agrees; with it BIRD, like FRR, sends zero.
#[test]
fn packet_checksum_matches_bird() {
    for f in fixtures::bird() {
        let p = Packet::decode(&f.bytes).unwrap();
        let want = if AUTH.contains(&f.name) {
            0
        } else {
            checksum(f.src, f.dst, &f.bytes)
        };
        assert_eq!(p.header.checksum, want, "{}", f.name);
    }
}

#[test]
fn bird_lsa_checksums_verify_and_recompute() {
    let mut n = 0;
    for f in fixtures::bird() {
        let lsas = match Packet::decode(&f.bytes).unwrap().body {
            Body::LsUpdate(lsas) => lsas,
            _ => continue,
        };
        for l in lsas {
            assert!(l.checksum_ok(), "{}: {:?}", f.name, l.header);
            let mut bytes = l.to_bytes();
            assert_eq!(lsa_checksum(&mut bytes), l.header.checksum, "{}", f.name);
            let mut resealed = l.clone();
            resealed.seal();
            assert_eq!(resealed, l, "{}", f.name);
            n += 1;
        }
    }
    assert_eq!(n, 5 + 4 + 5, "LSAs checked");
}

/// BIRD prepares the key as RFC 7166 §4.5 says (K || 0x00 0x01), so its
/// trailers verify only with [`KeyPrep::Rfc7166`], and sealing the decoded
/// packet with the same key and sequence number gives BIRD's octets back.
#[test]
fn bird_trailers_verify_the_rfc_way() {
    let ring = Keyring::new(vec![bird_key()]);
    for name in AUTH {
        let f = fixtures::get(name);
        let p = Packet::decode(&f.bytes).unwrap();
        let t = verify(&f.bytes, f.src, &ring, KeyPrep::Rfc7166)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Some(&t), p.trailer.as_ref(), "{name}");
        assert_eq!(t.sa_id, 1, "{name}");
        assert_eq!(
            verify(&f.bytes, f.src, &ring, KeyPrep::FrrLegacy),
            Err(AuthError::BadDigest),
            "{name}"
        );
        assert_eq!(f.bytes.len(), p.encode().len() + TRAILER_LEN, "{name}");

        let mut bytes = p.encode();
        seal(&mut bytes, f.src, &bird_key(), t.seq, KeyPrep::Rfc7166);
        assert_eq!(bytes, f.bytes, "{name}");
    }
    // BIRD's sequence numbers grow per packet sent.
    let seq = |name| decode(name).trailer.unwrap().seq;
    assert_eq!((seq("bird-auth-hello"), seq("bird-auth-ls-update")), (2, 9));
    let Body::Hello(h) = decode("bird-auth-hello").body else {
        panic!()
    };
    assert_eq!(h.options, Options(BIRD_OPTIONS.0 | Options::AT));
}

#[test]
fn bird_hellos() {
    let first = decode("bird-hello-first");
    let Body::Hello(h) = first.body else {
        panic!("{first:?}")
    };
    assert!(h.neighbors.is_empty());
    assert_eq!((h.dr, h.bdr), (r("0.0.0.0"), r("0.0.0.0")));

    let f = fixtures::get("bird-hello");
    assert_eq!(f.dst, ALL_SPF_ROUTERS);
    assert_eq!(
        Packet::decode(&f.bytes).unwrap(),
        Packet {
            header: Header {
                router_id: r("10.0.0.2"),
                area_id: r("0.0.0.0"),
                checksum: 0xf673,
                instance_id: 0,
            },
            body: Body::Hello(Hello {
                interface_id: 2,
                priority: 1,
                options: BIRD_OPTIONS,
                hello_interval: 1,
                dead_interval: 4,
                dr: r("10.0.0.2"),
                bdr: r("10.0.0.1"),
                neighbors: vec![r("10.0.0.1")],
            }),
            trailer: None,
        }
    );
}

#[test]
fn bird_database_descriptions() {
    let Body::DbDesc(init) = decode("bird-dd-init").body else {
        panic!()
    };
    assert_eq!(
        init,
        DbDesc {
            options: BIRD_OPTIONS,
            mtu: 1500,
            flags: DD_I | DD_M | DD_MS,
            seq: 0x24dc_40c6,
            headers: vec![],
        }
    );
    let Body::DbDesc(d) = decode("bird-dd-headers").body else {
        panic!()
    };
    // BIRD, the master (higher router id), goes on from its own sequence.
    assert_eq!((d.flags, d.seq), (DD_MS, 0x24dc_40c7));
    let types: Vec<LsaType> = d.headers.iter().map(|h| h.ls_type).collect();
    assert_eq!(
        types,
        [
            LsaType::AS_EXTERNAL,
            LsaType::AS_EXTERNAL,
            LsaType::ROUTER,
            LsaType::INTRA_AREA_PREFIX,
            LsaType::LINK
        ]
    );
    assert!(d.headers.iter().all(|h| h.seq == INITIAL_SEQ));
    assert!(d.headers.iter().all(|h| h.adv_router == r("10.0.0.2")));
}

#[test]
fn bird_ls_request() {
    let req = |t, id: &str| LsRequest {
        ls_type: t,
        id: r(id),
        adv_router: r("10.0.0.1"),
    };
    assert_eq!(
        decode("bird-ls-request").body,
        Body::LsRequest(vec![
            req(LsaType::LINK, "0.0.0.2"),
            req(LsaType::ROUTER, "0.0.0.0"),
            req(LsaType::INTRA_AREA_PREFIX, "0.0.0.0"),
            req(LsaType::AS_EXTERNAL, "0.0.0.1"),
            req(LsaType::AS_EXTERNAL, "0.0.0.2"),
        ])
    );
}

fn prefix(len: u8, addr: &str) -> Prefix {
    Prefix {
        len,
        options: 0,
        field: 0,
        addr: a(addr),
    }
}

#[test]
fn bird_ls_update() {
    let Body::LsUpdate(lsas) = decode("bird-ls-update").body else {
        panic!()
    };
    let bodies: Vec<&LsaBody> = lsas.iter().map(|l| &l.body).collect();
    assert_eq!(
        bodies,
        [
            &LsaBody::Link(LinkLsa {
                priority: 1,
                options: BIRD_OPTIONS,
                link_local: a("fe80::1c05:19ff:fe5b:a9d8"),
                prefixes: vec![prefix(64, "2001:db8:fb::")],
            }),
            &LsaBody::Router(RouterLsa {
                flags: ROUTER_E,
                options: BIRD_OPTIONS,
                links: vec![],
            }),
            &LsaBody::IntraAreaPrefix(IntraAreaPrefixLsa {
                ref_ls_type: LsaType::ROUTER,
                ref_id: r("0.0.0.0"),
                ref_adv_router: r("10.0.0.2"),
                prefixes: vec![Prefix {
                    field: 10,
                    ..prefix(64, "2001:db8:fb::")
                }],
            }),
            // BIRD's direct routes, type 2 at its default metric 10000,
            // no forwarding address, tag or referenced LSA.
            &LsaBody::AsExternal(AsExternalLsa {
                type2: true,
                metric: 10000,
                prefix: prefix(128, "2001:db8:bb::1"),
                forwarding: None,
                tag: None,
                ref_id: None,
            }),
            &LsaBody::AsExternal(AsExternalLsa {
                type2: true,
                metric: 10000,
                prefix: prefix(64, "2001:db8:fb::"),
                forwarding: None,
                tag: None,
                ref_id: None,
            }),
        ]
    );
    assert!(lsas.iter().all(|l| l.header.seq == INITIAL_SEQ));
}

#[test]
fn bird_ls_update_as_dr() {
    let f = fixtures::get("bird-ls-update-network");
    assert_eq!(f.dst, ALL_SPF_ROUTERS);
    let Body::LsUpdate(lsas) = Packet::decode(&f.bytes).unwrap().body else {
        panic!()
    };
    assert_eq!(
        lsas[0].body,
        LsaBody::Router(RouterLsa {
            flags: ROUTER_E,
            options: BIRD_OPTIONS,
            links: vec![RouterLink {
                link_type: LINK_TRANSIT,
                metric: 10,
                interface_id: 2,
                neighbor_interface_id: 2,
                neighbor_router_id: r("10.0.0.2"),
            }],
        })
    );
    // The Router-LSA's prefix moved to the Network-LSA's: an
    // Intra-Area-Prefix-LSA with no prefixes is sent, not flushed.
    assert_eq!(
        lsas[1].body,
        LsaBody::IntraAreaPrefix(IntraAreaPrefixLsa {
            ref_ls_type: LsaType::ROUTER,
            ref_id: r("0.0.0.0"),
            ref_adv_router: r("10.0.0.2"),
            prefixes: vec![],
        })
    );
    assert_eq!(lsas[1].header.length, 32);
    // Only the options every attached router has: FRR's 0x13.
    assert_eq!(
        lsas[2].body,
        LsaBody::Network(NetworkLsa {
            options: Options(Options::V6 | Options::E | Options::R),
            attached: vec![r("10.0.0.2"), r("10.0.0.1")],
        })
    );
    assert_eq!(
        lsas[3].body,
        LsaBody::IntraAreaPrefix(IntraAreaPrefixLsa {
            ref_ls_type: LsaType::NETWORK,
            ref_id: r("0.0.0.2"),
            ref_adv_router: r("10.0.0.2"),
            prefixes: vec![prefix(64, "2001:db8:fb::")],
        })
    );
}

#[test]
fn bird_ls_ack() {
    let f = fixtures::get("bird-ls-ack");
    assert_eq!(f.dst, ALL_SPF_ROUTERS);
    let Body::LsAck(h) = Packet::decode(&f.bytes).unwrap().body else {
        panic!()
    };
    assert_eq!(h.len(), 5);
    assert!(h.iter().all(|h| h.adv_router == r("10.0.0.1")));
}

#[test]
fn wrong_key_is_refused() {
    let f = fixtures::get("bird-auth-ls-update");
    let other = Keyring::new(vec![Key::new(1, "not-the-key")]);
    assert_eq!(
        verify(&f.bytes, f.src, &other, KeyPrep::Rfc7166),
        Err(AuthError::BadDigest)
    );
    let mut v = f.bytes.clone();
    v[40] ^= 1;
    let ring = Keyring::new(vec![bird_key()]);
    assert_eq!(
        verify(&v, f.src, &ring, KeyPrep::Rfc7166),
        Err(AuthError::BadDigest)
    );
}

/// tshark reads every BIRD packet as we re-encode it: no malformed packet,
/// no error-level expert info. Skipped where tshark is missing.
#[test]
fn tshark_decodes_bird_packets() {
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("tshark not installed: skipped");
        return;
    }
    let frames: Vec<Vec<u8>> = fixtures::bird()
        .iter()
        .map(|f| {
            let p = Packet::decode(&f.bytes).unwrap();
            super::pcap::frame(f.src, f.dst, &p.encode_with_trailer())
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("aospf-tshark-bird-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bird.pcap");
    super::pcap::write(&mut std::fs::File::create(&file).unwrap(), &frames).unwrap();
    let out = std::process::Command::new("tshark")
        .args(["-n", "-V", "-r"])
        .arg(&file)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let text = String::from_utf8_lossy(&out.stdout);
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
        "Network-LSA",
        "Intra-Area-Prefix-LSA",
        "2001:db8:bb::1",
    ] {
        assert!(text.contains(want), "tshark output lacks {want:?}:\n{text}");
    }
}
