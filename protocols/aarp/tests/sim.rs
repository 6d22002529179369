//! The resolver and responder cores on a simulated clock: nothing sleeps,
//! `now` jumps to the next deadline. Covers the client's cache (positive
//! for the answer's lifetime, negative for its negative time), bounded
//! retries with one nonce, nonce matching, and the keyed checks; and the
//! responder's decisions, checks and counters.

mod common;

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use anycast6_aarp::auth::{Key, Keyring};
use anycast6_aarp::packet::{
    decode, Answer as WireAnswer, AnswerSource, BadPacket, Body, Message, Query, Status,
};
use anycast6_aarp::resolver::{
    Answer, Resolution, Resolver, ResolverConfig, Start, Transmit, Unresolved,
};
use anycast6_aarp::responder::{AnswerSpec, QueryInfo, Responder};
use anycast6_aarp::sign::{self, AuthFailure};
use common::*;

const MS: Duration = Duration::from_millis(1);

fn resolver(keyring: Keyring) -> Resolver {
    Resolver::new(
        ResolverConfig {
            keyring,
            ..ResolverConfig::default()
        },
        1_000,
    )
}

/// A member that serves `anycast()` for 10 s, preference 3.
fn member_decides(_a: Ipv6Addr, _q: &QueryInfo) -> Option<AnswerSpec> {
    Some(AnswerSpec::member(
        AnswerSource::Member,
        member(),
        Duration::from_secs(10),
        3,
    ))
}

fn one_transmit(r: &mut Resolver) -> Transmit {
    let t = r.poll_transmit().expect("a query to send");
    assert_eq!(r.poll_transmit(), None);
    assert_eq!(t.dst, anycast());
    t
}

fn query_of(t: &Transmit) -> Query {
    match decode(&t.bytes).unwrap().body {
        Body::Query(q) => q,
        b => panic!("{b:?}"),
    }
}

/// An answer datagram for `nonce`, signed with `key` as sent from A.
fn answer_bytes(nonce: u64, member_addr: Ipv6Addr, key: Option<&Key>) -> Vec<u8> {
    let body = Body::Answer(WireAnswer {
        nonce,
        anycast: anycast(),
        member: member_addr,
        lifetime: Duration::from_secs(10),
        preference: 0,
        source: AnswerSource::Member,
        status: Status::Ok,
    });
    match key {
        Some(k) => sign::sign(&body, anycast(), k, 99),
        None => Message {
            body,
            trailer: None,
        }
        .encode(),
    }
}

#[test]
fn answer_is_cached_for_its_lifetime_then_expires() {
    let t0 = Instant::now();
    let mut r = resolver(Keyring::none());
    let mut resp = Responder::new(Keyring::none(), 1);
    assert_eq!(r.start(t0, anycast(), NONCE, client()), Start::Sent);
    let q = one_transmit(&mut r);
    let a = resp
        .handle_query(t0, client(), anycast(), &q.bytes, member_decides)
        .expect("the member answers");
    r.handle_datagram(t0 + MS, anycast(), &a);
    let want = Answer {
        anycast: anycast(),
        member: member(),
        lifetime: Duration::from_secs(10),
        preference: 3,
        source: AnswerSource::Member,
        authenticated: false,
    };
    assert_eq!(
        r.poll_resolution(),
        Some(Resolution {
            anycast: anycast(),
            result: Ok(want.clone()),
            cache_for: Duration::from_secs(10),
        })
    );
    assert_eq!(r.poll_timeout(), None);

    // Within the lifetime: from the cache, with the lifetime left.
    let hit = r.start(t0 + MS + Duration::from_secs(4), anycast(), 2, client());
    let left = Answer {
        lifetime: Duration::from_secs(6),
        ..want
    };
    assert_eq!(hit, Start::Cached(Ok(left)));
    assert_eq!(r.poll_transmit(), None);
    assert_eq!(r.counters().cache_hits, 1);

    // At expiry: a new query with the new nonce.
    let later = t0 + MS + Duration::from_secs(10);
    assert_eq!(r.start(later, anycast(), 3, client()), Start::Sent);
    assert_eq!(query_of(&one_transmit(&mut r)).nonce, 3);
    assert_eq!(r.start(later, anycast(), 4, client()), Start::Pending);
    assert_eq!(r.counters().queries, 2);
    assert_eq!(resp.counters().answered, 1);
}

#[test]
fn retries_with_one_nonce_then_no_answer_then_negative_cache() {
    let t0 = Instant::now();
    let mut r = resolver(Keyring::none());
    r.start(t0, anycast(), NONCE, client());
    let mut sent = vec![(t0, one_transmit(&mut r))];
    let (now, resolution) = loop {
        let now = r.poll_timeout().expect("a deadline while pending");
        r.handle_timeout(now);
        while let Some(t) = r.poll_transmit() {
            sent.push((now, t));
        }
        if let Some(res) = r.poll_resolution() {
            break (now, res);
        }
    };
    // 1 + retries tries, 300 ms apart, all with the same nonce.
    assert_eq!(sent.len(), 3);
    for (i, (at, t)) in sent.iter().enumerate() {
        assert_eq!(*at, t0 + 300 * MS * i as u32);
        assert_eq!(query_of(t).nonce, NONCE);
    }
    assert_eq!(now, t0 + 900 * MS);
    assert_eq!(resolution.result, Err(Unresolved::NoAnswer { tries: 3 }));
    assert_eq!(resolution.cache_for, Duration::from_secs(5));
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(r.counters().retries, 2);
    assert_eq!(r.counters().transmits, 3);
    assert_eq!(r.counters().no_answer, 1);

    // Negative cache for 5 s: no query.
    let soon = now + Duration::from_millis(4999);
    assert_eq!(
        r.start(soon, anycast(), 2, client()),
        Start::Cached(Err(Unresolved::NoAnswer { tries: 3 }))
    );
    assert_eq!(r.poll_transmit(), None);
    assert_eq!(r.counters().negative_hits, 1);
    assert_eq!(
        r.start(now + Duration::from_secs(5), anycast(), 2, client()),
        Start::Sent
    );
}

#[test]
fn a_late_answer_to_the_first_try_still_counts() {
    let t0 = Instant::now();
    let mut r = resolver(Keyring::none());
    r.start(t0, anycast(), NONCE, client());
    one_transmit(&mut r);
    r.handle_timeout(t0 + 300 * MS);
    one_transmit(&mut r);
    r.handle_datagram(
        t0 + 350 * MS,
        anycast(),
        &answer_bytes(NONCE, member(), None),
    );
    let res = r.poll_resolution().unwrap();
    assert_eq!(res.result.unwrap().member, member());
}

#[test]
fn an_unreachable_try_moves_on_at_once() {
    let t0 = Instant::now();
    let mut r = resolver(Keyring::none());
    r.start(t0, anycast(), NONCE, client());
    one_transmit(&mut r);
    r.handle_unreachable(t0 + MS, anycast());
    one_transmit(&mut r);
    r.handle_unreachable(t0 + 2 * MS, anycast());
    one_transmit(&mut r);
    r.handle_unreachable(t0 + 3 * MS, anycast());
    assert_eq!(r.poll_transmit(), None);
    assert_eq!(
        r.poll_resolution().unwrap().result,
        Err(Unresolved::NoAnswer { tries: 3 })
    );
    assert_eq!(r.counters().unreachable, 3);
}

#[test]
fn answers_with_another_nonce_are_ignored() {
    let t0 = Instant::now();
    let mut r = resolver(Keyring::none());
    r.start(t0, anycast(), NONCE, client());
    one_transmit(&mut r);
    r.handle_datagram(
        t0,
        anycast(),
        &answer_bytes(NONCE + 1, ip("2001:db8:666::1"), None),
    );
    assert_eq!(r.poll_resolution(), None);
    assert_eq!(r.counters().unmatched, 1);
    // Garbage and queries are counted by reason, not fatal.
    r.handle_datagram(t0, anycast(), &[1, 2, 0]);
    r.handle_datagram(t0, anycast(), &load_hex("query.hex"));
    assert_eq!(r.counters().bad_packets[&BadPacket::HeaderTruncated], 1);
    assert_eq!(r.counters().bad_packets[&BadPacket::UnexpectedType], 1);
    // The right nonce, from any source address, resolves.
    r.handle_datagram(
        t0,
        ip("2001:db8:ffff::1"),
        &answer_bytes(NONCE, member(), None),
    );
    assert_eq!(
        r.poll_resolution().unwrap().result.unwrap().member,
        member()
    );
    // The same answer again is a replay.
    r.handle_datagram(t0, anycast(), &answer_bytes(NONCE, member(), None));
    assert_eq!(r.counters().auth_failures[&AuthFailure::Replay], 1);
    assert_eq!(r.counters().answered, 1);
}

#[test]
fn with_a_key_unsigned_forged_replayed_and_unknown_key_answers_are_rejected() {
    let t0 = Instant::now();
    let mut r = resolver(keyring());
    r.start(t0, anycast(), NONCE, client());
    let q = one_transmit(&mut r);
    // The client signs its query (as sent from its own address).
    let qm = decode(&q.bytes).unwrap();
    assert!(qm.trailer.is_some());
    assert!(sign::check(&q.bytes, &qm, client(), &keyring())
        .unwrap()
        .authenticated());

    let spoof = ip("2001:db8:666::1");
    let forged_key = Key::new(7, b"guessed".to_vec());
    let other_key = Key::new(8, b"aarp-fixture-key".to_vec());
    r.handle_datagram(t0, anycast(), &answer_bytes(NONCE, spoof, None));
    r.handle_datagram(
        t0,
        anycast(),
        &answer_bytes(NONCE, spoof, Some(&forged_key)),
    );
    r.handle_datagram(t0, anycast(), &answer_bytes(NONCE, spoof, Some(&other_key)));
    // Genuine bytes, but from another source than the one they were signed for.
    r.handle_datagram(t0, spoof, &answer_bytes(NONCE, member(), Some(&key())));
    assert_eq!(r.poll_resolution(), None, "nothing accepted yet");
    let c = r.counters();
    assert_eq!(c.auth_failures[&AuthFailure::Missing], 1);
    assert_eq!(c.auth_failures[&AuthFailure::BadDigest], 2);
    assert_eq!(c.auth_failures[&AuthFailure::UnknownKey], 1);

    let genuine = answer_bytes(NONCE, member(), Some(&key()));
    r.handle_datagram(t0 + MS, anycast(), &genuine);
    let a = r.poll_resolution().unwrap().result.unwrap();
    assert_eq!((a.member, a.authenticated), (member(), true));
    r.handle_datagram(t0 + 2 * MS, anycast(), &genuine);
    assert_eq!(r.counters().auth_failures[&AuthFailure::Replay], 1);
    assert_eq!(r.poll_resolution(), None);
}

#[test]
fn no_member_is_cached_for_the_shorter_of_hint_and_negative_time() {
    let t0 = Instant::now();
    let mut r = resolver(Keyring::none());
    let mut resp = Responder::new(Keyring::none(), 1);
    r.start(t0, anycast(), NONCE, client());
    let q = one_transmit(&mut r);
    let a = resp
        .handle_query(t0, client(), anycast(), &q.bytes, |_, _| {
            Some(AnswerSpec::no_member(AnswerSource::Router, 2000 * MS))
        })
        .unwrap();
    r.handle_datagram(t0, anycast(), &a);
    let res = r.poll_resolution().unwrap();
    assert_eq!(res.result, Err(Unresolved::NoMember));
    assert_eq!(res.cache_for, 2000 * MS);
    assert_eq!(
        r.start(t0 + 1999 * MS, anycast(), 2, client()),
        Start::Cached(Err(Unresolved::NoMember))
    );
    assert_eq!(r.start(t0 + 2000 * MS, anycast(), 2, client()), Start::Sent);
    assert_eq!(resp.counters().no_member, 1);
}

#[test]
fn invalid_addresses_are_not_resolved() {
    let mut r = resolver(Keyring::none());
    let now = Instant::now();
    for a in ["::", "ff02::1", "::ffff:192.0.2.1"] {
        assert_eq!(r.start(now, ip(a), 1, client()), Start::Invalid, "{a}");
    }
    assert_eq!(r.poll_transmit(), None);
}

#[test]
fn view_and_counters_serialize() {
    let t0 = Instant::now();
    let mut r = resolver(Keyring::none());
    r.start(t0, anycast(), NONCE, client());
    one_transmit(&mut r);
    r.start(t0, ip("2001:db8:b::1"), 5, client());
    r.handle_datagram(t0, anycast(), &answer_bytes(NONCE, member(), None));
    r.handle_datagram(t0, anycast(), &[9]);
    let v = serde_json::to_value(r.view(t0 + MS)).unwrap();
    assert_eq!(v["cache"][0]["anycast"], "2001:db8:a::1");
    assert_eq!(v["cache"][0]["answer"]["member"], "2001:db8:1::10");
    assert_eq!(v["cache"][0]["answer"]["source"], "Member");
    assert_eq!(v["cache"][0]["expires_in_ms"], 9999);
    assert_eq!(v["pending"][0]["anycast"], "2001:db8:b::1");
    assert_eq!(v["pending"][0]["tries"], 1);
    assert_eq!(v["counters"]["answered"], 1);
    assert_eq!(v["counters"]["bad_packets"]["header_truncated"], 1);
}

mod responder {
    use super::*;

    fn query(member_only: bool) -> Vec<u8> {
        Message {
            body: Body::Query(Query {
                nonce: NONCE,
                anycast: anycast(),
                member_only,
            }),
            trailer: None,
        }
        .encode()
    }

    #[test]
    fn a_draining_member_does_not_answer() {
        let mut resp = Responder::new(Keyring::none(), 1);
        let draining = true;
        let out = resp.handle_query(
            Instant::now(),
            client(),
            anycast(),
            &query(false),
            |_, _| {
                (!draining).then(|| {
                    AnswerSpec::member(AnswerSource::Member, member(), Duration::from_secs(1), 0)
                })
            },
        );
        assert_eq!(out, None);
        assert_eq!(resp.counters().refused, 1);
        assert_eq!(resp.counters().queries, 1);
    }

    #[test]
    fn a_router_answers_with_its_choice_for_this_client() {
        let mut resp = Responder::new(keyring(), SEQ);
        let mut seen = None;
        let out = resp
            .handle_query(
                Instant::now(),
                client(),
                anycast(),
                &query(false),
                |a, q| {
                    seen = Some((a, *q));
                    Some(AnswerSpec::member(
                        AnswerSource::Router,
                        ip("2001:db8:2::20"),
                        Duration::from_millis(5000),
                        0,
                    ))
                },
            )
            .unwrap();
        let (a, q) = seen.unwrap();
        assert_eq!(a, anycast());
        assert_eq!(
            q,
            QueryInfo {
                client: client(),
                nonce: NONCE,
                member_only: false,
                authenticated: false,
            }
        );
        // Unsigned query, keyed responder: answered, signed as sent from A
        // (byte for byte the router fixture).
        assert_eq!(out, load_hex("answer_router_signed.hex"));
        assert_eq!(resp.counters().unsigned_queries, 1);
        assert_eq!(resp.counters().answered, 1);
    }

    #[test]
    fn member_only_queries_get_no_router_answer() {
        let mut resp = Responder::new(Keyring::none(), 1);
        let router = |_: Ipv6Addr, _: &QueryInfo| {
            Some(AnswerSpec::member(
                AnswerSource::Router,
                member(),
                Duration::from_secs(1),
                0,
            ))
        };
        assert_eq!(
            resp.handle_query(Instant::now(), client(), anycast(), &query(true), router),
            None
        );
        assert_eq!(resp.counters().member_only_skipped, 1);
        assert!(resp
            .handle_query(
                Instant::now(),
                client(),
                anycast(),
                &query(true),
                member_decides
            )
            .is_some());
    }

    #[test]
    fn misdirected_bad_and_forged_queries_are_dropped_and_counted() {
        let mut resp = Responder::new(keyring(), 1);
        let now = Instant::now();
        let never = |_: Ipv6Addr, _: &QueryInfo| -> Option<AnswerSpec> { panic!("not asked") };
        // Sent to a member's unicast address instead of A.
        assert_eq!(
            resp.handle_query(now, client(), member(), &query(false), never),
            None
        );
        assert_eq!(
            resp.handle_query(now, client(), anycast(), &[1, 1], never),
            None
        );
        let answer = load_hex("answer_member.hex");
        assert_eq!(
            resp.handle_query(now, client(), anycast(), &answer, never),
            None
        );
        // Signed by the client fixture's key, but arriving from elsewhere.
        let signed = load_hex("query_member_only_signed.hex");
        assert_eq!(
            resp.handle_query(now, ip("2001:db8:666::1"), anycast(), &signed, never),
            None
        );
        let c = resp.counters();
        assert_eq!(c.bad_packets[&BadPacket::Misdirected], 1);
        assert_eq!(c.bad_packets[&BadPacket::HeaderTruncated], 1);
        assert_eq!(c.bad_packets[&BadPacket::UnexpectedType], 1);
        assert_eq!(c.auth_failures[&AuthFailure::BadDigest], 1);
        // From the right source it verifies, and the daemon is told.
        let mut authenticated = false;
        resp.handle_query(now, client(), anycast(), &signed, |_, q| {
            authenticated = q.authenticated;
            None
        });
        assert!(authenticated);
    }

    #[test]
    fn bad_decisions_are_not_sent() {
        let mut resp = Responder::new(Keyring::none(), 1);
        let out = resp.handle_query(
            Instant::now(),
            client(),
            anycast(),
            &query(false),
            |_, _| {
                Some(AnswerSpec::member(
                    AnswerSource::Member,
                    ip("::"),
                    Duration::from_secs(1),
                    0,
                ))
            },
        );
        assert_eq!(out, None);
        assert_eq!(resp.counters().bad_decisions, 1);
    }

    #[test]
    fn the_rate_limit_bounds_answers() {
        let mut resp = Responder::new(Keyring::none(), 1).with_rate_limit(10, 3);
        let t0 = Instant::now();
        let mut answered = 0;
        for i in 0..20u32 {
            // 20 queries in 200 ms: burst 3, then one per 100 ms.
            let now = t0 + 10 * MS * i;
            if resp
                .handle_query(now, client(), anycast(), &query(false), member_decides)
                .is_some()
            {
                answered += 1;
            }
        }
        assert_eq!(answered, 3 + 1);
        assert_eq!(resp.counters().rate_limited, 16);
    }
}
