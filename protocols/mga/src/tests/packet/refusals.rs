//! Every refusal of the decoder (docs/mga.md §3, §4): each
//! [`DecodeError`] variant, from a fixture with one thing changed (its
//! Header Len and checksum made right unless those are the point), the
//! field it names, its text and the counter it goes to.

use std::net::Ipv6Addr;

use super::{fixture, reseal};
use crate::packet::*;

/// What was changed, the octets as sent, the refusal, its counter.
type Case = (&'static str, Sent, DecodeError, &'static str);

struct Sent {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    bytes: Vec<u8>,
    dhaad: bool,
}

/// The fixture's octets, edited, then Header Len and checksum fixed.
fn mh(name: &str, f: impl FnOnce(&mut Vec<u8>)) -> Sent {
    let x = fixture(name);
    let mut b = x.bytes;
    f(&mut b);
    if b.len() >= 8 && b.len().is_multiple_of(8) {
        b[1] = (b.len() / 8 - 1) as u8;
    }
    if b.len() >= 6 {
        reseal(x.src, x.dst, &mut b);
    }
    Sent {
        src: x.src,
        dst: x.dst,
        bytes: b,
        dhaad: false,
    }
}

/// The fixture's octets, edited, nothing fixed.
fn raw(name: &str, f: impl FnOnce(&mut Vec<u8>)) -> Sent {
    let x = fixture(name);
    let mut b = x.bytes;
    f(&mut b);
    Sent {
        src: x.src,
        dst: x.dst,
        bytes: b,
        dhaad: name.starts_with("dhaad"),
    }
}

/// A DHAAD message, edited, checksum fixed.
fn dhaad(name: &str, f: impl FnOnce(&mut Vec<u8>)) -> Sent {
    let mut s = raw(name, f);
    if s.bytes.len() >= 4 {
        let c = checksum(s.src, s.dst, PROTO_ICMPV6, &s.bytes, 2);
        s.bytes[2..4].copy_from_slice(&c.to_be_bytes());
    }
    s
}

/// The Binding Update of `binding-update-deregister` (fixed part and Home
/// Network Prefix, 32 octets) with `options` after it, padded with PadN.
fn bu_with(options: &[u8]) -> Sent {
    mh("binding-update-deregister", |b| {
        b.extend_from_slice(options);
        let k = (8 - b.len() % 8) % 8;
        match k {
            0 => {}
            1 => b.push(0),
            k => {
                b.extend_from_slice(&[1, (k - 2) as u8]);
                b.resize(b.len() + k - 2, 0);
            }
        }
    })
}

fn truncated(field: &'static str, len: usize) -> DecodeError {
    DecodeError::Truncated { field, len }
}

fn header() -> Vec<Case> {
    vec![
        (
            "empty",
            raw("binding-refresh-request", |b| b.clear()),
            truncated("mh.payload_proto", 0),
            "bad_length",
        ),
        (
            "five octets",
            raw("binding-refresh-request", |b| b.truncate(5)),
            truncated("mh.checksum", 5),
            "bad_length",
        ),
        (
            "Header Len 4 in 48 octets",
            raw("binding-update-home", |b| b[1] = 4),
            DecodeError::HeaderLen {
                header_len: 4,
                len: 48,
            },
            "bad_length",
        ),
        (
            "one octet cut",
            raw("binding-update-home", |b| {
                b.pop();
            }),
            DecodeError::HeaderLen {
                header_len: 5,
                len: 47,
            },
            "bad_length",
        ),
        (
            "bad checksum",
            raw("binding-ack", |b| b[9] ^= 1),
            DecodeError::Checksum {
                field: "mh.checksum",
                found: 0x1b55,
                computed: 0x1b56,
            },
            "bad_checksum",
        ),
        (
            "Payload Proto 6",
            mh("binding-update-home", |b| b[0] = 6),
            DecodeError::PayloadProto(6),
            "bad_header",
        ),
        (
            "MH type 1 (Home Test Init)",
            mh("binding-refresh-request", |b| b[2] = 1),
            DecodeError::MhType(1),
            "unknown_type",
        ),
        (
            "MH type 200",
            mh("binding-update-home", |b| b[2] = 200),
            DecodeError::MhType(200),
            "unknown_type",
        ),
    ]
}

fn bodies() -> Vec<Case> {
    vec![
        (
            "Binding Update of 8 octets",
            mh("binding-update-home", |b| b.truncate(8)),
            truncated("bu.flags", 8),
            "bad_length",
        ),
        (
            "Binding Acknowledgement of 8 octets",
            mh("binding-ack", |b| b.truncate(8)),
            truncated("ba.sequence", 8),
            "bad_length",
        ),
        (
            "Binding Error of 16 octets",
            mh("binding-error", |b| b.truncate(16)),
            truncated("be.home_address", 16),
            "bad_length",
        ),
    ]
}

fn options() -> Vec<Case> {
    let cut = |option, field, at| DecodeError::OptionCut { option, field, at };
    let length = |option, len, want| DecodeError::OptionLength { option, len, want };
    vec![
        (
            "an option's length octet beyond the message",
            mh("binding-refresh-request", |b| {
                b.extend_from_slice(&[1, 4, 0, 0, 0, 0, 0, 22]);
            }),
            cut(22, "length", 15),
            "bad_option",
        ),
        (
            "an option longer than the message",
            mh("binding-refresh-request", |b| {
                b.extend_from_slice(&[22, 18, 0, 128, 0, 0, 0, 0]);
            }),
            cut(22, "data", 8),
            "bad_option",
        ),
        (
            "PadN longer than the message",
            mh("binding-ack", |b| b[37] = 3),
            cut(1, "data", 36),
            "bad_option",
        ),
        (
            "prefix length 64",
            mh("binding-update-home", |b| b[15] = 64),
            DecodeError::PrefixLength(64),
            "bad_option",
        ),
        (
            "Home Network Prefix of 17 octets",
            mh("binding-update-home", |b| {
                b[13] = 17;
                b.drain(31..32);
                b.insert(32, 0);
            }),
            length(22, 17, "18"),
            "bad_option",
        ),
        (
            "Refresh Advice of 3 octets",
            mh("binding-ack", |b| b[33] = 3),
            length(2, 3, "2"),
            "bad_option",
        ),
        (
            "Message Identifier of 6 octets",
            bu_with(&[10, 6, 0, 0, 0, 0, 0, 1]),
            length(10, 6, "8"),
            "bad_option",
        ),
        (
            "authentication option of 36 octets",
            bu_with(&[[9, 36].as_slice(), &[0; 36]].concat()),
            length(9, 36, "37"),
            "bad_option",
        ),
        (
            "Home Network Prefix twice",
            mh("binding-update-deregister", |b| {
                let hnp = b[12..32].to_vec();
                b.extend_from_slice(&[1, 2, 0, 0]);
                b.extend(hnp);
            }),
            DecodeError::OptionRepeated(22),
            "bad_option",
        ),
        (
            "PadN after the authentication option",
            mh("binding-update-home-keyed", |b| {
                b.extend_from_slice(&[1, 6, 0, 0, 0, 0, 0, 0]);
            }),
            DecodeError::OptionAfterAuth(1),
            "bad_option",
        ),
        (
            "Message Identifier after the authentication option",
            mh("binding-update-flow-keyed", |b| {
                let at = b.len() - 39;
                let id = b[at - 13..at - 3].to_vec();
                b.drain(at - 13..at - 3);
                b.extend(id);
            }),
            DecodeError::OptionAfterAuth(10),
            "bad_option",
        ),
        (
            "Pad1 after the authentication option",
            mh("binding-ack-keyed", |b| {
                // PadN 5 before it becomes PadN 4, a Pad1 after it.
                let at = b.len() - 39 - 7;
                b[at + 1] = 4;
                b.remove(at + 2);
                b.push(0);
            }),
            DecodeError::OptionAfterAuth(0),
            "bad_option",
        ),
    ]
}

fn experimental() -> Vec<Case> {
    let sub_cut = |sub_type, len| DecodeError::SubOptionCut { sub_type, len };
    vec![
        (
            "magic 0xa7",
            mh("binding-update-home", |b| b[34] = 0xa7),
            DecodeError::ExperimentalMagic(0xa7),
            "bad_option",
        ),
        (
            "version 2",
            mh("binding-update-home", |b| b[35] = 2),
            DecodeError::ExperimentalVersion(2),
            "bad_option",
        ),
        (
            "no room for magic and version",
            bu_with(&[18, 1, 0xa6]),
            DecodeError::OptionLength {
                option: 18,
                len: 1,
                want: "at least 2",
            },
            "bad_option",
        ),
        (
            "Metric twice",
            bu_with(&[18, 14, 0xa6, 1, 1, 4, 0, 0, 0, 1, 1, 4, 0, 0, 0, 2]),
            DecodeError::SubOptionRepeated(1),
            "bad_option",
        ),
        (
            "Draining twice",
            bu_with(&[18, 6, 0xa6, 1, 3, 0, 3, 0]),
            DecodeError::SubOptionRepeated(3),
            "bad_option",
        ),
        (
            "Metric cut short",
            bu_with(&[18, 7, 0xa6, 1, 3, 0, 1, 4, 0]),
            sub_cut(1, 3),
            "bad_option",
        ),
        (
            "a sub-type without its length",
            bu_with(&[18, 3, 0xa6, 1, 2]),
            sub_cut(2, 1),
            "bad_option",
        ),
        (
            "Flow of 37 octets",
            bu_with(&[[18, 41, 0xa6, 1, 2, 37].as_slice(), &[0; 37]].concat()),
            DecodeError::SubOptionLength {
                sub_type: 2,
                len: 37,
                want: 38,
            },
            "bad_option",
        ),
        (
            "Draining with a value",
            bu_with(&[18, 5, 0xa6, 1, 3, 1, 0]),
            DecodeError::SubOptionLength {
                sub_type: 3,
                len: 1,
                want: 0,
            },
            "bad_option",
        ),
    ]
}

fn dhaad_cases() -> Vec<Case> {
    vec![
        (
            "DHAAD Request of 7 octets",
            dhaad("dhaad-request", |b| b.truncate(7)),
            truncated("dhaad.reserved", 7),
            "bad_length",
        ),
        (
            "DHAAD Reply of 4 octets",
            dhaad("dhaad-reply", |b| b.truncate(4)),
            truncated("dhaad.identifier", 4),
            "bad_length",
        ),
        (
            "DHAAD Reply with half an address",
            dhaad("dhaad-reply", |b| b.truncate(16)),
            DecodeError::HomeAgents(8),
            "bad_length",
        ),
        (
            "DHAAD bad checksum",
            raw("dhaad-request", |b| b[5] = 0x35),
            DecodeError::Checksum {
                field: "icmpv6.checksum",
                found: u16::from_be_bytes([
                    fixture("dhaad-request").bytes[2],
                    fixture("dhaad-request").bytes[3],
                ]),
                computed: u16::from_be_bytes([
                    fixture("dhaad-request").bytes[2],
                    fixture("dhaad-request").bytes[3],
                ]) - 1,
            },
            "bad_checksum",
        ),
        (
            "ICMPv6 type 146",
            dhaad("dhaad-request", |b| b[0] = 146),
            DecodeError::IcmpType(146),
            "bad_header",
        ),
    ]
}

#[test]
fn every_refusal_names_its_field_and_counter() {
    let all: Vec<Case> = [header(), bodies(), options(), experimental(), dhaad_cases()]
        .into_iter()
        .flatten()
        .collect();
    assert!(all.len() >= 35, "{}", all.len());
    for (what, s, want, counter) in &all {
        let got = if s.dhaad {
            Dhaad::decode(s.src, s.dst, &s.bytes).map(|_| ())
        } else {
            Message::decode(s.src, s.dst, &s.bytes).map(|_| ())
        };
        assert_eq!(got.as_ref(), Err(want), "{what}");
        assert_eq!(want.counter(), *counter, "{what}");
    }
}

#[test]
fn refusals_read_as_the_brief_asks() {
    assert_eq!(
        DecodeError::PrefixLength(64).to_string(),
        "option 22 prefix length 64, MGA needs 128"
    );
    assert_eq!(
        truncated("bu.lifetime", 10).to_string(),
        "bu.lifetime: message ends at octet 10"
    );
    assert_eq!(
        DecodeError::HeaderLen {
            header_len: 5,
            len: 47
        }
        .to_string(),
        "mh.header_len 5 means 48 octets, the payload has 47"
    );
    assert_eq!(
        DecodeError::OptionAfterAuth(1).to_string(),
        "option 1 after option 9 (authentication), which must be last"
    );
}

/// Any octets: never a panic, from either decoder (a small deterministic
/// walk over lengths and values; the fuzz target goes further).
#[test]
fn no_input_panics() {
    let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for len in 0..200 {
        for _ in 0..50 {
            let mut b: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if len >= 8 && x.is_multiple_of(2) {
                b[0] = NO_NEXT_HEADER;
                b[1] = (len / 8 - 1) as u8;
                b[2] = [0, 5, 6, 7][(x >> 8) as usize % 4];
                if len % 8 == 0 {
                    reseal(src, dst, &mut b);
                }
            }
            let _ = Message::decode(src, dst, &b);
            let _ = Dhaad::decode(src, dst, &b);
        }
    }
}
