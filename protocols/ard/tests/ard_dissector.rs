//! What ARD sends, checked by tshark with contrib/wireshark/ard.lua: a pcap
//! of every fixture plus what live router and member cores emit (each in
//! Ethernet + IPv6 + UDP with a correct checksum) must decode with no
//! malformed packet, no expert error, the UDP checksums good, and the field
//! values the Rust side meant. tshark is part of the test environment: a
//! missing tshark fails the test.

use anycast6_core::pcap;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anycast6_ard::{
    ArdMember, ArdRouter, MemberConfig, MemberInterface, RouterConfig, RouterOutput, Transmit,
    ALL_NODES, PORT,
};
use anycast6_core::auth::{Key, Keyring};
use anycast6_core::Instant;

/// Annotated hex from tests/fixtures/ard (`#` comments, whitespace ignored).
fn load_hex(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/ard").join(name)).unwrap();
    let digits: String = text
        .lines()
        .flat_map(|l| l.split('#').next().unwrap().split_whitespace())
        .collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ip(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// 33:33 + the low 32 bits for multicast; a made-up unicast MAC otherwise.
fn mac_for(a: Ipv6Addr) -> [u8; 6] {
    let o = a.octets();
    if a.is_multicast() {
        [0x33, 0x33, o[12], o[13], o[14], o[15]]
    } else {
        [0x02, 0, o[12], o[13], o[14], o[15]]
    }
}

/// Ethernet + IPv6 (hop limit `hlim`) + UDP 5359 → 5359 around `payload`.
fn frame(src: Ipv6Addr, dst: Ipv6Addr, hlim: u8, payload: &[u8]) -> Vec<u8> {
    let h = pcap::Udp6 {
        src,
        dst,
        sport: PORT,
        dport: PORT,
        hop_limit: hlim,
    };
    pcap::ethernet(mac_for(dst), mac_for(src), &pcap::ipv6_udp(&h, payload))
}

/// Classic pcap, LINKTYPE_ETHERNET.
fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    pcap::write(&mut out, pcap::LINKTYPE_ETHERNET, frames).unwrap();
    std::fs::write(path, out).unwrap();
}

/// Datagrams live cores send: a router's startup queries and a unicast
/// address-specific query, a member's reports, metric change, leave and
/// shutdown, all signed.
fn live_transmits() -> Vec<Transmit> {
    let ring = || Keyring::new(vec![Key::new(3, b"live".to_vec())]);
    let t0 = Instant::ZERO;
    let mut router = ArdRouter::new(
        RouterConfig {
            keyring: ring(),
            seq_start: 1_700_000_000_000_000_000,
            ..RouterConfig::default()
        },
        t0,
    )
    .unwrap();
    router.add_interface(t0, 1, ip("fe80::1")).unwrap();
    router
        .query(1, ip("fe80::10:1"), Some(ip("2001:db8:a::1")))
        .unwrap();
    let mut cfg = MemberConfig::new(
        vec![MemberInterface {
            ifindex: 2,
            link_local: ip("fe80::10:1"),
        }],
        ip("2001:db8:1::10"),
        vec![(ip("2001:db8:a::1"), 10), (ip("2001:db8:a::2"), 20)],
    );
    cfg.keyring = ring();
    let mut member = ArdMember::new(cfg, t0).unwrap();
    let t1 = t0 + Duration::from_secs(1);
    member.set_address(t1, ip("2001:db8:a::1"), 5).unwrap();
    member.set_draining(t1, ip("2001:db8:a::2"), true);
    member.remove_address(t1, ip("2001:db8:a::2"));
    member.shutdown(t1);
    let mut v = Vec::new();
    while let Some(o) = router.poll_output() {
        if let RouterOutput::Send(t) = o {
            v.push(t);
        }
    }
    while let Some(t) = member.poll_output() {
        v.push(t);
    }
    v
}

fn tshark_fields(lua: &Path, pcap: &Path, filter: &str, fields: &[&str]) -> Vec<String> {
    let mut c = Command::new("tshark");
    c.arg("-n")
        .arg("-o")
        .arg("udp.check_checksum:TRUE")
        .arg("-X")
        .arg(format!("lua_script:{}", lua.display()))
        .arg("-r")
        .arg(pcap)
        .arg("-Y")
        .arg(filter)
        .arg("-T")
        .arg("fields")
        .arg("-E")
        .arg("separator=|");
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

fn tshark_present() {
    let ok = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tshark is not installed: the ARD dissector test needs it (apt-get install tshark)"
    );
}

/// Inside `ard` so that `cargo test -p anycast6-control ard` selects them.
mod ard {
    use super::*;

    #[test]
    fn every_message_decodes_in_tshark() {
        tshark_present();
        let lua = root().join("contrib/wireshark/ard.lua");
        let script = root().join("scripts/check-dissector.sh");
        let pcap = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ard_all.pcap");
        let fixtures = [
            ("query_general.hex", "fe80::1", "ff02::1"),
            ("query_specific.hex", "fe80::1", "fe80::10:1"),
            ("query_general_signed.hex", "fe80::1", "ff02::1"),
            ("report.hex", "fe80::10:1", "ff02::2"),
            ("report_signed.hex", "fe80::10:1", "ff02::2"),
            ("report_leave.hex", "fe80::10:1", "ff02::2"),
            ("report_leave_signed.hex", "fe80::10:1", "ff02::2"),
            ("report_bad_records.hex", "fe80::10:1", "ff02::2"),
        ];
        let mut frames: Vec<Vec<u8>> = fixtures
            .iter()
            .map(|(f, s, d)| frame(ip(s), ip(d), 255, &load_hex(f)))
            .collect();
        let live = live_transmits();
        assert!(live.len() >= 6, "{live:?}");
        assert!(live.iter().any(|t| t.dst == ALL_NODES));
        frames.extend(live.iter().map(|t| frame(t.src, t.dst, 255, &t.bytes)));
        write_pcap(&pcap, &frames);

        let out = Command::new(&script)
            .arg(&lua)
            .arg(&pcap)
            .output()
            .expect("scripts/check-dissector.sh runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "check-dissector failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let n = frames.len();
        assert!(
            stdout.contains(&format!("decoded {n} of {n} packets")),
            "{stdout}"
        );

        // UDP checksums good (the frames are well built) on every packet.
        let good = tshark_fields(&lua, &pcap, "udp.checksum.status == 1", &["frame.number"]);
        assert_eq!(good.len(), n);

        // Field values the dissector read are the ones the fixtures mean.
        let rows = tshark_fields(
            &lua,
            &pcap,
            "ard",
            &[
                "ard.type",
                "ard.flags.auth",
                "ard.flags.complete",
                "ard.query.max_response_delay",
                "ard.query.anycast",
                "ard.report.hold_time",
                "ard.report.member_unicast",
                "ard.record.type",
                "ard.record.metric",
                "ard.record.draining",
                "ard.record.anycast",
                "ard.auth.key_id",
                "ard.auth.seq",
            ],
        );
        assert_eq!(rows.len(), n);
        let norm = |s: &str| s.replace("True", "1").replace("False", "0");
        let want = [
        "1|0|0|10000|::||||||||",
        "1|0|0|250|2001:db8:a::1||||||||",
        "1|1|0|10000|::|||||||7|1677733249747",
        "2|0|1|||300|2001:db8:1::10|1,2|10,65536|0,1|2001:db8:a::1,2001:db8:a::2||",
        "2|1|1|||300|2001:db8:1::10|1,2|10,65536|0,1|2001:db8:a::1,2001:db8:a::2|7|1677733249747",
        "2|0|0|||300|2001:db8:1::10|3|0|0|2001:db8:a::1||",
        "2|1|0|||300|2001:db8:1::10|3|0|0|2001:db8:a::1|7|1677733249747",
    ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(norm(&rows[i]), *w, "frame {} ({})", i + 1, fixtures[i].0);
        }
        // The bad records are flagged as warnings (receivers skip them).
        let warned = tshark_fields(
        &lua,
        &pcap,
        "_ws.expert.message == \"Invalid anycast address\" || _ws.expert.message == \"Reserved metric\" || _ws.expert.message == \"Unknown record type\"",
        &["frame.number"],
    );
        assert_eq!(warned, vec!["8"]);
        // The live leave carries Leave records.
        let leaves = tshark_fields(&lua, &pcap, "ard.record.type == 3", &["frame.number"]);
        assert!(leaves.len() >= 3, "{leaves:?}");
    }

    #[test]
    fn the_check_fails_on_malformed_and_off_link_packets() {
        tshark_present();
        let lua = root().join("contrib/wireshark/ard.lua");
        let script = root().join("scripts/check-dissector.sh");
        let good = load_hex("report.hex");
        let mut truncated = good.clone();
        truncated.truncate(good.len() - 5);
        let mut bad_len = good.clone();
        bad_len[5] ^= 1;
        for (name, payload) in [
            ("short", vec![1u8, 2, 0]),
            ("truncated", truncated),
            ("length", bad_len),
            ("version", {
                let mut b = good.clone();
                b[0] = 9;
                b
            }),
        ] {
            let pcap =
                PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("ard_bad_{name}.pcap"));
            write_pcap(
                &pcap,
                &[
                    frame(ip("fe80::10:1"), ip("ff02::2"), 255, &good),
                    frame(ip("fe80::10:1"), ip("ff02::2"), 255, &payload),
                ],
            );
            let out = Command::new(&script).arg(&lua).arg(&pcap).output().unwrap();
            assert!(
                !out.status.success(),
                "{name}: the check passed a broken packet:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        // Hop limit 64 and a global source: decoded, with a security warning.
        let pcap = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ard_offlink.pcap");
        write_pcap(
            &pcap,
            &[
                frame(ip("fe80::10:1"), ip("ff02::2"), 64, &good),
                frame(ip("2001:db8::66"), ip("ff02::2"), 255, &good),
            ],
        );
        let warned = tshark_fields(
            &lua,
            &pcap,
            "_ws.expert.severity == warning",
            &["frame.number"],
        );
        assert_eq!(warned, vec!["1", "2"]);
    }
}
