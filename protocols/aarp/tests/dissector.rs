//! What AARP sends, checked by tshark with contrib/wireshark/aarp.lua: a
//! pcap (raw IPv6, UDP checksums correct) of every fixture plus what live
//! resolver and responder cores emit must decode with no malformed packet,
//! no expert error, good checksums, and the field values the Rust side
//! meant. tshark is part of the test environment: a missing tshark fails.

mod common;

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anycast6_aarp::auth::Keyring;
use anycast6_aarp::packet::{AnswerSource, PORT};
use anycast6_aarp::pcap::{self, Udp6, LINKTYPE_IPV6};
use anycast6_aarp::resolver::{Resolver, ResolverConfig};
use anycast6_aarp::responder::{AnswerSpec, Responder};
use common::*;

const CLIENT_PORT: u16 = 40000;

fn lua() -> PathBuf {
    root().join("contrib/wireshark/aarp.lua")
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn query_packet(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let h = Udp6 {
        src,
        dst,
        sport: CLIENT_PORT,
        dport: PORT,
        hop_limit: 64,
    };
    pcap::ipv6_udp(&h, payload)
}

fn answer_packet(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let h = Udp6 {
        src,
        dst,
        sport: PORT,
        dport: CLIENT_PORT,
        hop_limit: 64,
    };
    pcap::ipv6_udp(&h, payload)
}

fn write_pcap(path: &Path, packets: &[Vec<u8>]) {
    let mut f = std::fs::File::create(path).unwrap();
    pcap::write(&mut f, LINKTYPE_IPV6, packets).unwrap();
}

fn tshark_present() {
    let ok = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tshark is not installed: the AARP dissector test needs it (apt-get install tshark)"
    );
}

fn check_dissector(pcap: &Path) -> (bool, String) {
    let out = Command::new(root().join("scripts/check-dissector.sh"))
        .arg(lua())
        .arg(pcap)
        .arg(PORT.to_string())
        .output()
        .expect("scripts/check-dissector.sh runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn tshark_fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut c = Command::new("tshark");
    c.arg("-n")
        .args(["-o", "udp.check_checksum:TRUE"])
        .arg("-X")
        .arg(format!("lua_script:{}", lua().display()))
        .arg("-r")
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields", "-E", "separator=|"]);
    for f in fields {
        c.arg("-e").arg(f);
    }
    let out = c.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A keyed and an unkeyed exchange between live cores, and a no-member
/// answer: (query, answer) datagrams in the order sent.
fn live_packets() -> Vec<Vec<u8>> {
    let now = Instant::now();
    let mut v = Vec::new();
    for ring in [keyring(), Keyring::none()] {
        let mut r = Resolver::new(
            ResolverConfig {
                keyring: ring.clone(),
                ..ResolverConfig::default()
            },
            SEQ,
        );
        let mut resp = Responder::new(ring, SEQ + 1);
        for (i, a) in [anycast(), ip("2001:db8:b::1")].into_iter().enumerate() {
            r.start(now, a, NONCE + i as u64, client());
            let q = r.poll_transmit().unwrap();
            v.push(query_packet(client(), q.dst, &q.bytes));
            let answer = resp
                .handle_query(now, client(), a, &q.bytes, |a, _| {
                    Some(if a == anycast() {
                        AnswerSpec::member(
                            AnswerSource::Router,
                            member(),
                            Duration::from_secs(30),
                            1,
                        )
                    } else {
                        AnswerSpec::no_member(AnswerSource::Router, Duration::ZERO)
                    })
                })
                .unwrap();
            v.push(answer_packet(a, client(), &answer));
        }
    }
    v
}

#[test]
fn every_message_decodes_in_tshark() {
    tshark_present();
    let fixtures = [
        ("query.hex", true),
        ("query_member_only_signed.hex", true),
        ("answer_member.hex", false),
        ("answer_member_signed.hex", false),
        ("answer_router_signed.hex", false),
        ("answer_no_member_signed.hex", false),
    ];
    let mut packets: Vec<Vec<u8>> = fixtures
        .iter()
        .map(|(f, is_query)| {
            if *is_query {
                query_packet(client(), anycast(), &load_hex(f))
            } else {
                answer_packet(anycast(), client(), &load_hex(f))
            }
        })
        .collect();
    packets.extend(live_packets());
    let pcap = tmp("aarp_all.pcap");
    write_pcap(&pcap, &packets);

    let (ok, text) = check_dissector(&pcap);
    assert!(ok, "check-dissector failed:\n{text}");
    let n = packets.len();
    assert!(
        text.contains(&format!("decoded {n} of {n} packets")),
        "{text}"
    );
    let good = tshark_fields(&pcap, "udp.checksum.status == 1", &["frame.number"]);
    assert_eq!(good.len(), n);
    let warned = tshark_fields(&pcap, "_ws.expert", &["frame.number"]);
    assert!(warned.is_empty(), "expert info on frames {warned:?}");

    let rows = tshark_fields(
        &pcap,
        "aarp6",
        &[
            "aarp6.type",
            "aarp6.flags.trailer",
            "aarp6.nonce",
            "aarp6.anycast",
            "aarp6.query.member_only",
            "aarp6.answer.member",
            "aarp6.answer.lifetime",
            "aarp6.answer.preference",
            "aarp6.answer.source",
            "aarp6.answer.status",
            "aarp6.auth.key_id",
            "aarp6.auth.seq",
        ],
    );
    assert_eq!(rows.len(), n);
    let norm = |s: &str| s.replace("True", "1").replace("False", "0");
    let want = [
        "1|0|0x0123456789abcdef|2001:db8:a::1|0|||||||",
        "1|1|0x0123456789abcdef|2001:db8:a::1|1||||||7|1677733249747",
        "2|0|0x0123456789abcdef|2001:db8:a::1||2001:db8:1::10|30000|10|1|0||",
        "2|1|0x0123456789abcdef|2001:db8:a::1||2001:db8:1::10|30000|10|1|0|7|1677733249747",
        "2|1|0x0123456789abcdef|2001:db8:a::1||2001:db8:2::20|5000|0|2|0|7|1677733249747",
        "2|1|0x0123456789abcdef|2001:db8:a::1||::|2000|0|2|1|7|1677733249747",
    ];
    for (i, w) in want.iter().enumerate() {
        assert_eq!(norm(&rows[i]), *w, "frame {} ({})", i + 1, fixtures[i].0);
    }
    // Live: signed query and answers with the responder's own sequence.
    assert_eq!(
        norm(&rows[6]),
        "1|1|0x0123456789abcdef|2001:db8:a::1|0||||||7|1677733249747"
    );
    assert_eq!(
        norm(&rows[7]),
        "2|1|0x0123456789abcdef|2001:db8:a::1||2001:db8:1::10|30000|1|2|0|7|1677733249748"
    );
    assert_eq!(
        norm(&rows[9]),
        "2|1|0x0123456789abcdf0|2001:db8:b::1||::|0|0|2|1|7|1677733249749"
    );
    assert!(norm(&rows[11]).starts_with("2|0|"), "{}", rows[11]);
}

#[test]
fn the_check_fails_on_broken_packets_and_warns_on_misrouted_ones() {
    tshark_present();
    let good = load_hex("answer_router_signed.hex");
    let edit = |at: usize, v: u8| {
        let mut b = good.clone();
        b[at] = v;
        b
    };
    let mut truncated = good.clone();
    truncated.truncate(90);
    let mut multicast_member = good.clone();
    multicast_member[32] = 0xff;
    for (name, payload) in [
        ("short", vec![1u8, 2, 0]),
        ("truncated", truncated),
        ("length", edit(5, 99)),
        ("version", edit(0, 9)),
        ("type", edit(1, 7)),
        ("unsigned_length", edit(2, 0)),
        ("source", edit(8 + 46, 3)),
        ("status", edit(8 + 47, 5)),
        ("member", multicast_member),
    ] {
        let pcap = tmp(&format!("aarp_bad_{name}.pcap"));
        write_pcap(
            &pcap,
            &[
                answer_packet(anycast(), client(), &good),
                answer_packet(anycast(), client(), &payload),
            ],
        );
        let (ok, text) = check_dissector(&pcap);
        assert!(!ok, "{name}: the check passed a broken packet:\n{text}");
    }
    // An answer not from A, a query not to A: decoded, with a warning.
    let pcap = tmp("aarp_misrouted.pcap");
    write_pcap(
        &pcap,
        &[
            answer_packet(ip("2001:db8:666::1"), client(), &good),
            query_packet(client(), member(), &load_hex("query.hex")),
        ],
    );
    let (ok, text) = check_dissector(&pcap);
    assert!(ok, "{text}");
    let warned = tshark_fields(&pcap, "_ws.expert.severity == warning", &["frame.number"]);
    assert_eq!(warned, vec!["1", "2"]);
}
