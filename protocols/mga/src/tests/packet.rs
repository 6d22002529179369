//! Byte vectors of every message and option, both ways: the annotated
//! octets under tests/fixtures/mga/ (computed from docs/mga.md §4 by
//! tests/fixtures/mga/make-fixtures.py, checksum and authenticator
//! included, not by this crate) decode to the expected message and the
//! encoder writes them back octet for octet. Every refusal of the decoder
//! is in `refusals`, the round trip over generated messages in `roundtrip`.

use std::net::Ipv6Addr;

use anycast6_core::auth::Key;

use crate::auth::{self, Keyring};
use crate::packet::option::*;
use crate::packet::*;

mod refusals;
mod roundtrip;

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
            include_str!(concat!("../../../../tests/fixtures/mga/", $name, ".hex")),
        )
    };
}

const FIXTURES: &[(&str, &str)] = &[
    fixture!("binding-update-home"),
    fixture!("binding-update-home-keyed"),
    fixture!("binding-update-deregister"),
    fixture!("binding-update-flow-keyed"),
    fixture!("binding-ack"),
    fixture!("binding-ack-keyed"),
    fixture!("binding-error"),
    fixture!("binding-refresh-request"),
    fixture!("dhaad-request"),
    fixture!("dhaad-reply"),
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

/// The key the keyed fixtures were made with.
pub(super) const SPI: u32 = 256;
pub(super) fn key() -> Key {
    Key::new(0, "mga-fixture-secret")
}
pub(super) fn keyring() -> Keyring {
    Keyring::new(vec![(SPI, key())])
}

pub(super) const A: &str = "2001:db8:a::1";
pub(super) const COA: &str = "2001:db8:10::1";
pub(super) const CN: &str = "2001:db8:20::1";

/// What a fixture holds: an MH message or a DHAAD one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Expected {
    Mh(Message),
    Dhaad(Dhaad),
}

fn metric(m: u32) -> Option<Experimental> {
    Some(Experimental {
        metric: Some(m),
        flow: None,
        draining: false,
    })
}

/// The message of each fixture; keyed ones with the Subtype and Message
/// Identifier they carry and an authenticator of zero (what [`auth::seal`]
/// fills in).
pub(super) fn expected(name: &str) -> Expected {
    let keyed = |subtype| {
        Some(Auth {
            subtype,
            spi: SPI,
            authenticator: [0; 32],
        })
    };
    let bu = |sequence, home, lifetime, options| {
        Expected::Mh(Message::Update(BindingUpdate {
            sequence,
            ack: true,
            home,
            link_local: false,
            key_mgmt: false,
            lifetime,
            options,
        }))
    };
    let ack = |status, sequence, lifetime, options| {
        Expected::Mh(Message::Ack(BindingAck {
            status,
            key_mgmt: false,
            sequence,
            lifetime,
            options,
        }))
    };
    let home_prefix = Some(a(A));
    match name {
        "binding-update-home" => bu(
            1,
            true,
            15,
            Options {
                home_prefix,
                experimental: metric(10),
                ..Options::default()
            },
        ),
        "binding-update-home-keyed" => bu(
            2,
            true,
            150,
            Options {
                home_prefix,
                experimental: Some(Experimental {
                    draining: true,
                    ..Experimental::default()
                }),
                message_id: Some(1_700_000_000_000_000_001),
                auth: keyed(AUTH_MN_HA),
                ..Options::default()
            },
        ),
        "binding-update-deregister" => bu(
            0xffff,
            true,
            0,
            Options {
                home_prefix,
                ..Options::default()
            },
        ),
        "binding-update-flow-keyed" => bu(
            7,
            false,
            4,
            Options {
                home_prefix,
                experimental: Some(Experimental {
                    metric: None,
                    flow: Some(Flow {
                        protocol: 6,
                        correspondent_port: 40000,
                        service_port: 443,
                        correspondent: a(CN),
                        care_of: a(COA),
                    }),
                    draining: false,
                }),
                message_id: Some(1_700_000_000_000_000_002),
                auth: keyed(AUTH_MN_CN),
                ..Options::default()
            },
        ),
        "binding-ack" => ack(
            STATUS_ACCEPTED,
            1,
            15,
            Options {
                home_prefix,
                refresh_advice: Some(7),
                ..Options::default()
            },
        ),
        "binding-ack-keyed" => ack(
            STATUS_SEQUENCE_OUT_OF_WINDOW,
            41,
            0,
            Options {
                home_prefix,
                message_id: Some(1_700_000_000_000_000_003),
                auth: keyed(AUTH_MN_HA),
                ..Options::default()
            },
        ),
        "binding-error" => Expected::Mh(Message::Error(BindingError {
            status: ERROR_UNKNOWN_BINDING,
            home_address: a(A),
            options: Options::default(),
        })),
        "binding-refresh-request" => Expected::Mh(Message::RefreshRequest(RefreshRequest {
            options: Options::default(),
        })),
        "dhaad-request" => Expected::Dhaad(Dhaad::Request { identifier: 0x1234 }),
        "dhaad-reply" => Expected::Dhaad(Dhaad::Reply {
            identifier: 0x1234,
            home_agents: vec![a("2001:db8:1::2"), a("2001:db8:2::2")],
        }),
        _ => panic!("no expectation for {name}"),
    }
}

/// The expected message as the sender builds it: sealed with [`key`] when
/// the fixture is keyed.
pub(super) fn sent(f: &Fixture) -> Expected {
    match expected(f.name) {
        Expected::Mh(mut m) => {
            if let Some(x) = m.options().auth {
                auth::seal(&key(), x.spi, x.subtype, f.src, f.dst, &mut m);
            }
            Expected::Mh(m)
        }
        d => d,
    }
}

/// The checksum of an MH message `b` as sent from `src` to `dst`, written
/// in.
pub(super) fn reseal(src: Ipv6Addr, dst: Ipv6Addr, b: &mut [u8]) {
    let c = checksum(src, dst, PROTO_MH, b, 4);
    b[4..6].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn every_fixture_decodes_and_encodes_back() {
    let all = fixtures();
    assert_eq!(all.len(), FIXTURES.len());
    for f in &all {
        match sent(f) {
            Expected::Mh(m) => {
                let got = Message::decode(f.src, f.dst, &f.bytes)
                    .unwrap_or_else(|e| panic!("{}: {e}", f.name));
                assert_eq!(got, m, "{}", f.name);
                assert_eq!(m.encode(f.src, f.dst), f.bytes, "{}", f.name);
                assert_eq!(f.bytes.len() % 8, 0, "{}", f.name);
                assert_eq!(usize::from(f.bytes[1]) * 8 + 8, f.bytes.len());
            }
            Expected::Dhaad(d) => {
                let got = Dhaad::decode(f.src, f.dst, &f.bytes)
                    .unwrap_or_else(|e| panic!("{}: {e}", f.name));
                assert_eq!(got, d, "{}", f.name);
                assert_eq!(d.encode(f.src, f.dst), f.bytes, "{}", f.name);
            }
        }
    }
}

#[test]
fn each_message_and_option_has_a_vector() {
    let mut types = Vec::new();
    let mut options = Options::default();
    let mut subs = Experimental::default();
    for f in fixtures() {
        if let Expected::Mh(m) = expected(f.name) {
            types.push(m.mh_type());
            let o = m.options();
            options.home_prefix = options.home_prefix.or(o.home_prefix);
            options.refresh_advice = options.refresh_advice.or(o.refresh_advice);
            options.message_id = options.message_id.or(o.message_id);
            options.auth = options.auth.or(o.auth);
            if let Some(e) = o.experimental {
                subs.metric = subs.metric.or(e.metric);
                subs.flow = subs.flow.or(e.flow);
                subs.draining |= e.draining;
            }
        }
    }
    types.sort();
    types.dedup();
    assert_eq!(types, [MH_REFRESH_REQUEST, MH_UPDATE, MH_ACK, MH_ERROR]);
    assert!(options.home_prefix.is_some() && options.refresh_advice.is_some());
    assert!(options.message_id.is_some() && options.auth.is_some());
    assert!(subs.metric.is_some() && subs.flow.is_some() && subs.draining);
    // Pad1 and PadN both appear in the vectors.
    let texts: String = FIXTURES.iter().map(|f| f.1).collect();
    assert!(texts.contains("# Pad1"));
    assert!(texts.contains("PadN, length 1"));
}

/// Any padding decodes the same: Pad1s, PadN of every length, between and
/// around the options (each message re-sized and its checksum fixed).
#[test]
fn any_padding_is_accepted() {
    let f = fixture("binding-update-home");
    let Expected::Mh(want) = expected(f.name) else {
        unreachable!()
    };
    // The fixed part (12 octets), then the options with pads around each.
    let hnp = &f.bytes[12..32];
    let exp = &f.bytes[32..42];
    for pads in [
        [0usize, 0, 6],
        [1, 1, 4],
        [2, 5, 1],
        [3, 0, 3],
        [7, 1, 0],
        [10, 9, 5],
    ] {
        let pad = |n: usize| -> Vec<u8> {
            match n {
                0 => vec![],
                1 => vec![0],
                // Pad1s and a PadN mixed.
                n if n % 2 == 1 => [vec![0], vec![1, (n - 3) as u8], vec![0; n - 3]].concat(),
                n => [vec![1, (n - 2) as u8], vec![0; n - 2]].concat(),
            }
        };
        let mut b = f.bytes[..12].to_vec();
        b.extend(pad(pads[0]));
        b.extend_from_slice(hnp);
        b.extend(pad(pads[1]));
        b.extend_from_slice(exp);
        b.extend(pad(pads[2]));
        let n = b.len().div_ceil(8) * 8;
        b.extend(pad(n - b.len()));
        b[1] = (b.len() / 8 - 1) as u8;
        reseal(f.src, f.dst, &mut b);
        assert_eq!(
            Message::decode(f.src, f.dst, &b),
            Ok(want.clone()),
            "{pads:?}"
        );
    }
}

/// Reserved fields, L/K and unknown options and sub-options: the first
/// ignored, the flags kept, the unknown skipped.
#[test]
fn reserved_fields_and_unknown_options_are_ignored() {
    let f = fixture("binding-update-home");
    let Expected::Mh(Message::Update(mut want)) = expected(f.name) else {
        unreachable!()
    };
    let mut b = f.bytes.clone();
    b[3] = 0xff; // MH reserved
    b[9] = 0xff; // BU reserved (low 12 bits of the flags word)
    b[8] |= 0x0f;
    b[14] = 0x5a; // HNP reserved
    reseal(f.src, f.dst, &mut b);
    assert_eq!(
        Message::decode(f.src, f.dst, &b),
        Ok(Message::Update(want.clone()))
    );
    b[8] |= 0x30;
    reseal(f.src, f.dst, &mut b);
    want.link_local = true;
    want.key_mgmt = true;
    assert_eq!(
        Message::decode(f.src, f.dst, &b),
        Ok(Message::Update(want.clone()))
    );
    // An unknown option 200 of 4 octets, an unknown sub-option 77 of 2,
    // the message's padding cut to fit.
    let mut b = f.bytes[..32].to_vec();
    b.extend_from_slice(&[200, 4, 1, 2, 3, 4]);
    b.extend_from_slice(&[18, 12, 0xa6, 1, 77, 2, 9, 9, 1, 4, 0, 0, 0, 10]);
    assert_eq!(b.len(), 52);
    b.extend_from_slice(&[1, 2, 0, 0]);
    b[1] = 6;
    reseal(f.src, f.dst, &mut b);
    want.link_local = false;
    want.key_mgmt = false;
    assert_eq!(Message::decode(f.src, f.dst, &b), Ok(Message::Update(want)));
    // DHAAD: Code and Reserved.
    let f = fixture("dhaad-request");
    let mut b = f.bytes.clone();
    b[1] = 9;
    b[6] = 0xff;
    let c = checksum(f.src, f.dst, PROTO_ICMPV6, &b, 2);
    b[2..4].copy_from_slice(&c.to_be_bytes());
    assert_eq!(
        Dhaad::decode(f.src, f.dst, &b),
        Ok(Dhaad::Request { identifier: 0x1234 })
    );
}
