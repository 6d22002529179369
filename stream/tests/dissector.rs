//! contrib/wireshark/stream.lua decodes every message anycast6-stream's
//! encoder emits with no malformed field (scripts/check-dissector.sh), and
//! flags the broken ones: the dissector is written from docs/stream.md, so
//! this checks the encoder against the spec.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anycast6_core::auth::Key;
use anycast6_core::pcap::{self, Udp6};
use anycast6_stream::wire::{self, Data, End, EndReason, Range, Request};

const CLIENT: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 0x10);
const ANYCAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 1);
const SERVER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, 1);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn frame(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    pcap::ipv6_udp(
        &Udp6 {
            src,
            dst,
            sport,
            dport,
            hop_limit: 64,
        },
        payload,
    )
}

fn write_pcap(name: &str, frames: &[Vec<u8>]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("a6-stream-{name}-{}.pcap", std::process::id()));
    let mut f = std::fs::File::create(&path).unwrap();
    // LINKTYPE_RAW (101): IPv6 packets with no link header.
    pcap::write(&mut f, 101, frames).unwrap();
    path
}

fn request(flags: u8, ranges: Vec<Range>) -> Request {
    Request {
        session: 0x5e55_1011_2233_4455,
        flags,
        position: 500,
        play_position: 380,
        rate: 250_000,
        datagram_size: 1200,
        buffer_ms: 1000,
        client_port: 40000,
        client: CLIENT,
        content: "gen:8M".into(),
        ranges,
    }
}

fn every_message() -> Vec<Vec<u8>> {
    let key = Key::new(7, b"0123456789abcdef".to_vec());
    let to_server = |b: Vec<u8>| frame(CLIENT, ANYCAST, 40000, wire::DEFAULT_PORT, &b);
    let to_client = |b: Vec<u8>| frame(SERVER, CLIENT, wire::DEFAULT_PORT, 40000, &b);
    let mut v = vec![
        to_server(request(wire::REQ_START, vec![]).encode(None)),
        to_server(
            request(
                wire::REQ_STALL,
                vec![
                    Range { first: 3, count: 2 },
                    Range {
                        first: 99,
                        count: 1,
                    },
                ],
            )
            .encode(Some((&key, 1_800_000_000_000))),
        ),
        to_server(
            request(wire::REQ_FEEDBACK | wire::REQ_PLAYING, vec![])
                .encode(Some((&key, 1_800_000_000_001))),
        ),
        frame(
            CLIENT,
            SERVER,
            40000,
            wire::DEFAULT_PORT,
            &wire::encode_stop(9, None),
        ),
        frame(
            CLIENT,
            SERVER,
            40000,
            wire::DEFAULT_PORT,
            &wire::encode_stop(9, Some((&key, 1_800_000_000_002))),
        ),
    ];
    let payload = vec![0x5a; 1200];
    for (flags, seq, len) in [
        (0, 0, 1200),
        (wire::DATA_RETRANSMIT, 3, 1200),
        (wire::DATA_LAST, 6990, 16),
    ] {
        v.push(to_client(wire::encode_data(&Data {
            session: 0x5e55_1011_2233_4455,
            flags,
            seq,
            total_len: 8 << 20,
            server_id: 2,
            payload: &payload[..len],
        })));
    }
    for reason in [
        EndReason::Stopping,
        EndReason::NoSuchContent,
        EndReason::Refused,
        EndReason::BadRequest,
    ] {
        v.push(to_client(wire::encode_end(&End {
            session: 9,
            reason,
            server_id: 2,
            position: 77,
        })));
    }
    v
}

#[test]
fn the_dissector_reads_every_message_cleanly() {
    let frames = every_message();
    let pcap = write_pcap("all", &frames);
    let out = Command::new(root().join("scripts/check-dissector.sh"))
        .arg(root().join("contrib/wireshark/stream.lua"))
        .arg(&pcap)
        .arg(wire::DEFAULT_PORT.to_string())
        .output()
        .expect("scripts/check-dissector.sh (needs tshark)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    // And the fields say what was encoded.
    let fields = Command::new("tshark")
        .args(["-n", "-X"])
        .arg(format!(
            "lua_script:{}",
            root().join("contrib/wireshark/stream.lua").display()
        ))
        .arg("-r")
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "a6stream.type",
            "-e",
            "a6stream.content",
            "-e",
            "a6stream.range.first",
        ])
        .args([
            "-e",
            "a6stream.auth.key_id",
            "-e",
            "a6stream.seq",
            "-e",
            "a6stream.end.reason",
            "-e",
            "a6stream.flags.playing",
        ])
        .output()
        .expect("tshark");
    let lines = String::from_utf8_lossy(&fields.stdout).into_owned();
    let rows: Vec<&str> = lines.lines().collect();
    assert_eq!(rows.len(), frames.len(), "{lines}");
    assert_eq!(rows[0], "1\tgen:8M\t\t\t\t\t0", "{lines}");
    assert_eq!(rows[1], "1\tgen:8M\t3,99\t7\t\t\t0", "{lines}");
    assert_eq!(rows[2], "1\tgen:8M\t\t7\t\t\t1", "{lines}");
    assert_eq!(rows[4], "4\t\t\t7\t\t\t", "{lines}");
    assert_eq!(rows[7], "2\t\t\t\t6990\t\t", "{lines}");
    assert_eq!(rows[11], "3\t\t\t\t\t4\t", "{lines}");
    let _ = std::fs::remove_file(pcap);
}

#[test]
fn the_dissector_flags_broken_messages() {
    let good = request(wire::REQ_STALL, vec![Range { first: 3, count: 2 }]).encode(None);
    let mut bad_range = good.clone();
    // First Sequence 499, count 2: reaches past Position 500.
    let at = bad_range.len() - 12;
    bad_range[at..at + 8].copy_from_slice(&499u64.to_be_bytes());
    let frames: Vec<Vec<u8>> = [good[..good.len() - 3].to_vec(), bad_range]
        .iter()
        .map(|b| frame(CLIENT, ANYCAST, 40000, wire::DEFAULT_PORT, b))
        .collect();
    // The decoder refuses both too.
    for f in &frames {
        assert!(wire::decode(&f[48..]).is_err());
    }
    let pcap = write_pcap("bad", &frames);
    let out = Command::new("tshark")
        .args(["-n", "-X"])
        .arg(format!(
            "lua_script:{}",
            root().join("contrib/wireshark/stream.lua").display()
        ))
        .arg("-r")
        .arg(&pcap)
        .args([
            "-Y",
            "_ws.expert.severity == error",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ])
        .output()
        .expect("tshark");
    let flagged = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(flagged.lines().collect::<Vec<_>>(), ["1", "2"], "{flagged}");
    let _ = std::fs::remove_file(pcap);
}
