//! `resolve_blocking` and `Cache` over real sockets on [::1]: a thread runs
//! the Responder core on a std UdpSocket (the anycast address is ::1, the
//! port an ephemeral one). Includes an on-path attacker that sees the query
//! and races an unsigned answer naming its own address.

mod common;

use std::net::{Ipv6Addr, SocketAddr, UdpSocket};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anycast6_aarp::auth::Keyring;
use anycast6_aarp::client::{resolve_blocking, AnswerSource, Cache, ClientOptions, ResolveError};
use anycast6_aarp::packet::{decode, Answer, Body, Message, Status};
use anycast6_aarp::responder::{AnswerSpec, Responder, ResponderCounters};
use common::*;

const LO: Ipv6Addr = Ipv6Addr::LOCALHOST;

#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    /// Answer with `member()`.
    Member,
    /// Answer "no member".
    NoMember,
    /// Stay silent.
    Silent,
    /// First an unsigned forged answer naming the attacker, then (unless
    /// `Silent` follows) the genuine answer.
    SpoofThen(bool),
}

fn attacker() -> Ipv6Addr {
    ip("2001:db8:666::1")
}

/// Serves `queries` queries, then returns the responder's counters.
fn serve(
    keyring: Keyring,
    behaviour: Behaviour,
    queries: usize,
) -> (u16, JoinHandle<ResponderCounters>) {
    let sock = UdpSocket::bind((LO, 0)).unwrap();
    let port = sock.local_addr().unwrap().port();
    let h =
        std::thread::spawn(move || {
            let mut resp = Responder::new(keyring, 1);
            sock.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut buf = [0u8; 1500];
            for _ in 0..queries {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    break;
                };
                let SocketAddr::V6(from6) = from else {
                    continue;
                };
                if let Behaviour::SpoofThen(genuine) = behaviour {
                    let Ok(Message {
                        body: Body::Query(q),
                        ..
                    }) = decode(&buf[..n])
                    else {
                        continue;
                    };
                    let forged = Message {
                        body: Body::Answer(Answer {
                            nonce: q.nonce,
                            anycast: q.anycast,
                            member: attacker(),
                            lifetime: Duration::from_secs(3600),
                            preference: 0,
                            source: AnswerSource::Member,
                            status: Status::Ok,
                        }),
                        trailer: None,
                    };
                    sock.send_to(&forged.encode(), from).unwrap();
                    if !genuine {
                        continue;
                    }
                }
                let out = resp.handle_query(Instant::now(), *from6.ip(), LO, &buf[..n], |_, _| {
                    match behaviour {
                        Behaviour::Silent => None,
                        Behaviour::NoMember => {
                            Some(AnswerSpec::no_member(AnswerSource::Router, Duration::ZERO))
                        }
                        _ => Some(AnswerSpec::member(
                            AnswerSource::Member,
                            member(),
                            Duration::from_secs(30),
                            7,
                        )),
                    }
                });
                if let Some(bytes) = out {
                    sock.send_to(&bytes, from).unwrap();
                }
            }
            resp.counters().clone()
        });
    (port, h)
}

fn opts(port: u16, keyring: Keyring) -> ClientOptions {
    ClientOptions {
        port,
        timeout: Duration::from_millis(100),
        keyring,
        ..ClientOptions::default()
    }
}

#[test]
fn defaults() {
    let o = ClientOptions::default();
    assert_eq!(o.port, 5360);
    assert_eq!(o.timeout, Duration::from_millis(300));
    assert_eq!(o.retries, 2);
    assert_eq!(o.negative_ttl, Duration::from_secs(5));
    assert!(!o.keyring.enabled());
}

#[test]
fn resolves_to_the_member_over_udp() {
    let (port, h) = serve(Keyring::none(), Behaviour::Member, 1);
    let a = resolve_blocking(LO, &opts(port, Keyring::none())).unwrap();
    assert_eq!(a.anycast, LO);
    assert_eq!(a.member, member());
    assert_eq!(a.lifetime, Duration::from_secs(30));
    assert_eq!(a.preference, 7);
    assert_eq!(a.source, AnswerSource::Member);
    assert!(!a.authenticated);
    assert_eq!(h.join().unwrap().answered, 1);
}

#[test]
fn signed_exchange_is_authenticated() {
    let (port, h) = serve(keyring(), Behaviour::Member, 1);
    let a = resolve_blocking(LO, &opts(port, keyring())).unwrap();
    assert!(a.authenticated);
    let c = h.join().unwrap();
    assert_eq!(c.answered, 1);
    assert_eq!(c.unsigned_queries, 0, "the keyed client signs its query");
}

#[test]
fn a_keyed_client_rejects_a_spoofed_unsigned_answer() {
    // Without a key the forgery wins: this is what the key is for.
    let (port, h) = serve(keyring(), Behaviour::SpoofThen(true), 1);
    let a = resolve_blocking(LO, &opts(port, Keyring::none())).unwrap();
    assert_eq!(a.member, attacker());
    h.join().unwrap();

    // With the key: the forgery is dropped, the genuine answer is taken.
    let (port, h) = serve(keyring(), Behaviour::SpoofThen(true), 1);
    let a = resolve_blocking(LO, &opts(port, keyring())).unwrap();
    assert_eq!((a.member, a.authenticated), (member(), true));
    h.join().unwrap();

    // Only forgeries arrive: every try times out.
    let (port, h) = serve(keyring(), Behaviour::SpoofThen(false), 3);
    let e = resolve_blocking(LO, &opts(port, keyring())).unwrap_err();
    assert!(matches!(e, ResolveError::NoAnswer { tries: 3 }), "{e:?}");
    h.join().unwrap();
}

#[test]
fn a_silent_responder_costs_bounded_tries() {
    let (port, h) = serve(Keyring::none(), Behaviour::Silent, 3);
    let t0 = Instant::now();
    let e = resolve_blocking(LO, &opts(port, Keyring::none())).unwrap_err();
    let took = t0.elapsed();
    assert!(matches!(e, ResolveError::NoAnswer { tries: 3 }), "{e:?}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert_eq!(h.join().unwrap().refused, 3);
}

#[test]
fn nobody_listening_fails_fast() {
    // A port nobody listens on: ICMP port unreachable ends each try early.
    let port = {
        let s = UdpSocket::bind((LO, 0)).unwrap();
        s.local_addr().unwrap().port()
    };
    let t0 = Instant::now();
    let mut o = opts(port, Keyring::none());
    o.timeout = Duration::from_secs(2);
    let e = resolve_blocking(LO, &o).unwrap_err();
    assert!(matches!(e, ResolveError::NoAnswer { tries: 3 }), "{e:?}");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
}

#[test]
fn no_member_and_invalid_addresses() {
    let (port, h) = serve(Keyring::none(), Behaviour::NoMember, 1);
    let e = resolve_blocking(LO, &opts(port, Keyring::none())).unwrap_err();
    assert!(matches!(e, ResolveError::NoMember), "{e:?}");
    assert_eq!(h.join().unwrap().no_member, 1);
    let e = resolve_blocking(ip("ff02::1"), &ClientOptions::default()).unwrap_err();
    assert!(matches!(e, ResolveError::InvalidAddress(_)), "{e:?}");
}

#[test]
fn the_cache_answers_repeats_without_queries() {
    // One query served; the second resolve must come from the cache.
    let (port, h) = serve(Keyring::none(), Behaviour::Member, 1);
    let cache = Cache::new();
    let o = opts(port, Keyring::none());
    let first = cache.resolve(LO, &o).unwrap();
    let second = cache.resolve(LO, &o).unwrap();
    assert_eq!(second.member, first.member);
    assert!(second.lifetime <= first.lifetime);
    assert_eq!(h.join().unwrap().answered, 1);
    // Invalidated: asks again (nobody listens now, so it fails).
    cache.invalidate(LO);
    assert!(cache.resolve(LO, &o).is_err());
}

#[test]
fn the_cache_remembers_failures_for_the_negative_time() {
    let (port, h) = serve(Keyring::none(), Behaviour::Silent, 3);
    let cache = Cache::new();
    let mut o = opts(port, Keyring::none());
    o.timeout = Duration::from_millis(30);
    o.negative_ttl = Duration::from_millis(500);
    assert!(matches!(
        cache.resolve(LO, &o),
        Err(ResolveError::NoAnswer { tries: 3 })
    ));
    assert_eq!(h.join().unwrap().queries, 3);
    // Within the negative time: the same error at once, no query.
    let t0 = Instant::now();
    assert!(matches!(
        cache.resolve(LO, &o),
        Err(ResolveError::NoAnswer { tries: 3 })
    ));
    assert!(t0.elapsed() < Duration::from_millis(30));
    // After it: a new exchange (answered this time).
    std::thread::sleep(Duration::from_millis(500));
    let (port2, h2) = serve(Keyring::none(), Behaviour::Member, 1);
    o.port = port2;
    assert_eq!(cache.resolve(LO, &o).unwrap().member, member());
    h2.join().unwrap();
}

#[test]
fn the_cache_is_shared_across_threads() {
    let (port, h) = serve(Keyring::none(), Behaviour::Member, 1);
    let cache = std::sync::Arc::new(Cache::new());
    let o = opts(port, Keyring::none());
    cache.resolve(LO, &o).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (c, o) = (cache.clone(), o.clone());
            std::thread::spawn(move || c.resolve(LO, &o).unwrap().member)
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), member());
    }
    assert_eq!(h.join().unwrap().answered, 1);
}
