//! AARP byte vectors both ways: each fixture under tests/fixtures/aarp/
//! (written from docs/aarp.md, digests computed independently of this
//! crate) decodes to the message written out here, and the message, signed
//! with the same key, sequence and source where it has a trailer, encodes
//! to the same bytes. The dissector test checks the same files in tshark.

mod common;

use std::time::Duration;

use anycast6_aarp::auth::{AuthError, Keyring, ALG_HMAC_SHA256};
use anycast6_aarp::packet::{
    decode, Answer, AnswerSource, Body, DecodeError, Message, MessageType, Query, Status,
    ANSWER_BODY_LEN, HEADER_LEN, MAX_LEN, QUERY_BODY_LEN, TRAILER_LEN,
};
use anycast6_aarp::sign::{check, sign, Verdict};
use common::*;

/// (fixture, body, the datagram's source address, signed)
fn cases() -> Vec<(&'static str, Body, std::net::Ipv6Addr, bool)> {
    let query = |member_only| {
        Body::Query(Query {
            nonce: NONCE,
            anycast: anycast(),
            member_only,
        })
    };
    let member_answer = Body::Answer(Answer {
        nonce: NONCE,
        anycast: anycast(),
        member: member(),
        lifetime: Duration::from_secs(30),
        preference: 10,
        source: AnswerSource::Member,
        status: Status::Ok,
    });
    vec![
        ("query.hex", query(false), client(), false),
        ("query_member_only_signed.hex", query(true), client(), true),
        ("answer_member.hex", member_answer, anycast(), false),
        ("answer_member_signed.hex", member_answer, anycast(), true),
        (
            "answer_router_signed.hex",
            Body::Answer(Answer {
                nonce: NONCE,
                anycast: anycast(),
                member: ip("2001:db8:2::20"),
                lifetime: Duration::from_millis(5000),
                preference: 0,
                source: AnswerSource::Router,
                status: Status::Ok,
            }),
            anycast(),
            true,
        ),
        (
            "answer_no_member_signed.hex",
            Body::Answer(Answer {
                nonce: NONCE,
                anycast: anycast(),
                member: ip("::"),
                lifetime: Duration::from_millis(2000),
                preference: 0,
                source: AnswerSource::Router,
                status: Status::NoMember,
            }),
            anycast(),
            true,
        ),
    ]
}

#[test]
fn fixtures_decode_to_the_expected_messages() {
    for (file, body, src, signed) in cases() {
        let bytes = load_hex(file);
        let m = decode(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(m.body, body, "{file}");
        assert_eq!(m.len(), bytes.len(), "{file}");
        match (signed, m.trailer) {
            (false, None) => {
                assert_eq!(check(&bytes, &m, src, &keyring()), Err(AuthError::Missing));
                assert_eq!(
                    check(&bytes, &m, src, &Keyring::none()),
                    Ok(Verdict::Unauthenticated)
                );
            }
            (true, Some(t)) => {
                assert_eq!((t.key_id, t.algorithm, t.seq), (7, ALG_HMAC_SHA256, SEQ));
                assert_eq!(
                    check(&bytes, &m, src, &keyring()),
                    Ok(Verdict::Verified {
                        key_id: 7,
                        seq: SEQ
                    }),
                    "{file}: digest"
                );
            }
            other => panic!("{file}: trailer {other:?}"),
        }
    }
}

#[test]
fn messages_encode_to_the_fixture_bytes() {
    for (file, body, src, signed) in cases() {
        let want = load_hex(file);
        let got = if signed {
            sign(&body, src, &key(), SEQ)
        } else {
            Message {
                body,
                trailer: None,
            }
            .encode()
        };
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn sizes() {
    assert_eq!(HEADER_LEN + QUERY_BODY_LEN, 36);
    assert_eq!(HEADER_LEN + ANSWER_BODY_LEN, 56);
    assert_eq!(TRAILER_LEN, 44);
    assert_eq!(MAX_LEN, 100);
    assert_eq!(load_hex("query_member_only_signed.hex").len(), 80);
}

#[test]
fn broken_fixtures_say_what_is_wrong() {
    let good = load_hex("answer_router_signed.hex");
    assert_eq!(decode(&good[..7]), Err(DecodeError::HeaderTruncated(7)));
    assert_eq!(
        decode(&good[..99]),
        Err(DecodeError::LengthMismatch {
            field: 100,
            actual: 99
        })
    );
    // The trailer flag cleared: the length no longer fits an Answer.
    let mut b = good.clone();
    b[2] = 0;
    assert_eq!(
        decode(&b),
        Err(DecodeError::BodyLength {
            kind: MessageType::Answer,
            expected: 56,
            actual: 100
        })
    );
    // A multicast anycast address in a query.
    let mut q = load_hex("query.hex");
    q[16] = 0xff;
    assert!(matches!(decode(&q), Err(DecodeError::AnycastInvalid(a)) if a.is_multicast()));
    // A changed byte under the digest.
    let mut b = good.clone();
    b[48] ^= 1;
    let m = decode(&b).unwrap();
    assert_eq!(
        check(&b, &m, anycast(), &keyring()),
        Err(AuthError::BadDigest)
    );
    // The right bytes from another source (not A): the digest covers it.
    let m = decode(&good).unwrap();
    assert_eq!(
        check(&good, &m, ip("2001:db8:666::1"), &keyring()),
        Err(AuthError::BadDigest)
    );
}
