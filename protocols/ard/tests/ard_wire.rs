//! ARD byte vectors both ways: each fixture under tests/fixtures/ard/
//! decodes to the PDU written out here, and the PDU (signed with the same
//! key, sequence and source where it has a trailer) encodes to the same
//! bytes. The fixtures are annotated hex (`#` starts a comment); their
//! layout is checked independently by the Wireshark dissector
//! (ard_dissector.rs).

use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::time::Duration;

use anycast6_ard::auth::{check, sign, AuthVerdict};
use anycast6_ard::packet::{
    AuthTrailer, Decoded, Message, Packet, Query, Record, RecordError, RecordErrorKind, RecordType,
    Report,
};
use anycast6_core::auth::{Key, Keyring, ReplayGuard, ALG_HMAC_SHA256};

fn ip(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/ard")
}

/// Reads annotated hex: `#` to end of line is a comment, whitespace ignored.
pub fn load_hex(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap())
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    assert!(
        digits.len().is_multiple_of(2),
        "{name}: odd number of hex digits"
    );
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// The key every signed fixture uses.
fn key() -> Key {
    Key::new(7, b"ard-fixture-key".to_vec())
}

const SEQ: u64 = 0x0000_0186_a0b1_c2d3;

fn general_query() -> Query {
    Query {
        max_response_delay: Duration::from_millis(10_000),
        max_hold: Duration::from_millis(260_000),
        query_interval: Duration::from_millis(125_000),
        robustness: 2,
        anycast: None,
    }
}

fn report() -> Report {
    Report {
        hold_time: Duration::from_millis(300),
        member_unicast: ip("2001:db8:1::10"),
        complete: true,
        records: vec![
            Record {
                kind: RecordType::Current,
                draining: false,
                metric: 10,
                anycast: ip("2001:db8:a::1"),
            },
            Record {
                kind: RecordType::Change,
                draining: true,
                metric: 0x0001_0000,
                anycast: ip("2001:db8:a::2"),
            },
        ],
    }
}

fn leave() -> Report {
    Report {
        hold_time: Duration::from_millis(300),
        member_unicast: ip("2001:db8:1::10"),
        complete: false,
        records: vec![Record {
            kind: RecordType::Leave,
            draining: false,
            metric: 0,
            anycast: ip("2001:db8:a::1"),
        }],
    }
}

struct Case {
    file: &'static str,
    message: Message,
    /// Signed from this source with [`key`] and [`SEQ`].
    signed_from: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            file: "query_general.hex",
            message: Message::Query(general_query()),
            signed_from: None,
        },
        Case {
            file: "query_specific.hex",
            message: Message::Query(Query {
                max_response_delay: Duration::from_millis(250),
                max_hold: Duration::from_millis(900),
                query_interval: Duration::from_millis(500),
                robustness: 3,
                anycast: Some(ip("2001:db8:a::1")),
            }),
            signed_from: None,
        },
        Case {
            file: "query_general_signed.hex",
            message: Message::Query(general_query()),
            signed_from: Some("fe80::1"),
        },
        Case {
            file: "report.hex",
            message: Message::Report(report()),
            signed_from: None,
        },
        Case {
            file: "report_signed.hex",
            message: Message::Report(report()),
            signed_from: Some("fe80::10:1"),
        },
        Case {
            file: "report_leave.hex",
            message: Message::Report(leave()),
            signed_from: None,
        },
        Case {
            file: "report_leave_signed.hex",
            message: Message::Report(leave()),
            signed_from: Some("fe80::10:1"),
        },
    ]
}

fn encode(c: &Case) -> Vec<u8> {
    let p = Packet {
        message: c.message.clone(),
        auth: None,
    };
    match c.signed_from {
        Some(src) => sign(&p, ip(src), &key(), SEQ),
        None => p.encode(),
    }
}

/// Inside `ard` so that `cargo test -p anycast6-control ard` selects them.
mod ard {
    use super::*;

    /// `ARD_BLESS=1 cargo test --test ard_wire` rewrites the fixtures (plain
    /// hex; annotate by hand before committing).
    #[test]
    fn fixtures_both_ways() {
        let bless = std::env::var_os("ARD_BLESS").is_some();
        for c in cases() {
            let encoded = encode(&c);
            if bless {
                let hex: String = encoded.iter().map(|b| format!("{b:02x}")).collect();
                std::fs::write(dir().join(c.file), hex + "\n").unwrap();
            }
            let bytes = load_hex(c.file);
            assert_eq!(
                encoded, bytes,
                "{}: encoding differs from the fixture",
                c.file
            );
            let d = Packet::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", c.file));
            assert!(d.record_errors.is_empty(), "{}", c.file);
            assert_eq!(d.packet.message, c.message, "{}", c.file);
            match c.signed_from {
                None => assert_eq!(d.packet.auth, None),
                Some(src) => {
                    let t = d.packet.auth.unwrap();
                    assert_eq!((t.key_id, t.algorithm, t.seq), (7, ALG_HMAC_SHA256, SEQ));
                    let ring = Keyring::new(vec![key()]);
                    let v = check(&bytes, Some(&t), ip(src), &ring, &mut ReplayGuard::new());
                    assert_eq!(
                        v,
                        Ok(AuthVerdict::Verified {
                            key_id: 7,
                            seq: SEQ
                        })
                    );
                    // The decoded packet re-encodes to the same bytes too.
                    assert_eq!(d.packet.encode(), bytes);
                }
            }
        }
    }

    #[test]
    fn header_fields_where_the_spec_puts_them() {
        // Independent of the encoder: the documented offsets (docs/ard.md §3).
        let q = load_hex("query_general.hex");
        assert_eq!(&q[..8], &[1, 1, 0, 0, 0, 40, 0, 0]);
        assert_eq!(&q[8..12], &10_000u32.to_be_bytes());
        assert_eq!(q[20], 2);
        let r = load_hex("report_signed.hex");
        assert_eq!(r[1], 2, "type");
        assert_eq!(r[2], 0x80 | 0x40, "flags A and C");
        assert_eq!(
            usize::from(u16::from_be_bytes([r[4], r[5]])),
            8 + 24 + 2 * 24 + 44
        );
        assert_eq!(&r[8..12], &300u32.to_be_bytes());
        assert_eq!(&r[28..30], &[0, 2], "record count");
        assert_eq!(&r[32..36], &[1, 0, 0, 0], "record 1: Current");
        assert_eq!(&r[56..60], &[2, 0x80, 0, 0], "record 2: Change, D");
        assert_eq!(&r[60..64], &0x0001_0000u32.to_be_bytes());
        let t = &r[r.len() - 44..];
        assert_eq!(&t[..4], &[0, 7, 1, 0]);
        assert_eq!(&t[4..12], &SEQ.to_be_bytes());
    }

    #[test]
    fn bad_records_fixture() {
        let bytes = load_hex("report_bad_records.hex");
        let d = Packet::decode(&bytes).unwrap();
        let Decoded {
            packet,
            record_errors,
        } = d;
        assert_eq!(
            packet,
            Packet {
                message: Message::Report(Report {
                    hold_time: Duration::from_millis(30_000),
                    member_unicast: ip("2001:db8:1::10"),
                    complete: true,
                    records: vec![Record {
                        kind: RecordType::Current,
                        draining: false,
                        metric: 1,
                        anycast: ip("2001:db8:a::1"),
                    }],
                }),
                auth: None,
            }
        );
        assert_eq!(
            record_errors,
            vec![
                RecordError {
                    index: 1,
                    anycast: ip("ff05::1:3"),
                    kind: RecordErrorKind::AnycastAddressInvalid
                },
                RecordError {
                    index: 2,
                    anycast: ip("fe80::1"),
                    kind: RecordErrorKind::AnycastAddressInvalid
                },
                RecordError {
                    index: 3,
                    anycast: ip("2001:db8:a::2"),
                    kind: RecordErrorKind::MetricInvalid(0xffff_ffff)
                },
                RecordError {
                    index: 4,
                    anycast: ip("2001:db8:a::3"),
                    kind: RecordErrorKind::TypeUnknown(9)
                },
            ]
        );
    }

    #[test]
    fn trailer_fields_are_kept_by_decode_encode() {
        let bytes = load_hex("report_signed.hex");
        let p = Packet::decode(&bytes).unwrap().packet;
        assert!(matches!(
            p.auth,
            Some(AuthTrailer {
                key_id: 7,
                seq: SEQ,
                ..
            })
        ));
        // A wrong key or a changed byte fails.
        let other = Keyring::new(vec![Key::new(7, b"other".to_vec())]);
        assert!(check(
            &bytes,
            p.auth.as_ref(),
            ip("fe80::10:1"),
            &other,
            &mut ReplayGuard::new()
        )
        .is_err());
    }
}
