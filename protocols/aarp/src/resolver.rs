//! The client side of AARP as a pure state machine (docs/aarp.md §5), in
//! quinn-proto's style: no socket, no clock. The caller feeds
//! `start(now, ..)`, `handle_datagram(now, ..)` and `handle_timeout(now)`,
//! sends what `poll_transmit()` yields to `[dst]:PORT`, reads results from
//! `poll_resolution()` and sleeps until `poll_timeout()`.
//!
//! ```text
//!  start(A) ──cache hit──────────────────────────────► Resolution (cached)
//!     │ miss: Query{nonce} ─► try 1 ─timeout─► try 2 … try 1+retries ─timeout─► NoAnswer (negative cache)
//!     │                        │ Answer: nonce matches, digest verifies (when keyed)
//!     └────────────────────────┴──► Ok(member) cached for its lifetime | NoMember (negative cache)
//! ```
//!
//! Every try of one resolution carries the same nonce, so a late answer to
//! an earlier try still counts. Answers are accepted from any source
//! address (the member or a router may answer); the nonce and, with a key,
//! the digest are what bind an answer to the query.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use crate::cache::{AnswerCache, CacheEntryView, DEFAULT_MAX_ENTRIES};
use crate::packet::{self, AnswerSource, BadPacket, Body, Query, Status};
use crate::sign::{self, AuthFailure};
use anycast6_core::auth::{Keyring, SeqCounter};

/// A resolved anycast address: the member to talk to, for how long.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Answer {
    pub anycast: Ipv6Addr,
    pub member: Ipv6Addr,
    /// Remaining lifetime (shrinks when served from a cache).
    pub lifetime: Duration,
    /// Lower is preferred.
    pub preference: u16,
    pub source: AnswerSource,
    /// The answer's digest verified with a configured key.
    pub authenticated: bool,
}

/// Why an address did not resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unresolved {
    /// No acceptable answer after this many tries.
    NoAnswer { tries: u32 },
    /// A responder said no member serves the address.
    NoMember,
}

#[derive(Debug, Clone)]
pub struct ResolverConfig {
    /// How long each try waits for an answer.
    pub timeout: Duration,
    /// Tries after the first.
    pub retries: u32,
    /// How long a failure is remembered.
    pub negative_ttl: Duration,
    /// With a key, only answers signed with one of these are accepted.
    pub keyring: Keyring,
    /// Ask for an answer from a member only (routers forward the query).
    pub member_only: bool,
    pub max_entries: usize,
}

impl Default for ResolverConfig {
    fn default() -> ResolverConfig {
        ResolverConfig {
            timeout: Duration::from_millis(300),
            retries: 2,
            negative_ttl: Duration::from_secs(5),
            keyring: Keyring::none(),
            member_only: false,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

/// A query datagram to send to `[dst]:PORT` (`dst` is the anycast address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub dst: Ipv6Addr,
    pub bytes: Vec<u8>,
}

/// The end of one resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub anycast: Ipv6Addr,
    pub result: Result<Answer, Unresolved>,
    /// How long the result may be reused (what the cache keeps it for).
    pub cache_for: Duration,
}

/// What [`Resolver::start`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Answered from the cache (positive or negative); nothing sent.
    Cached(Result<Answer, Unresolved>),
    /// A query was queued; a [`Resolution`] follows.
    Sent,
    /// A resolution of this address is already under way.
    Pending,
    /// Not an address AARP resolves (unspecified, multicast, IPv4-mapped).
    Invalid,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResolverCounters {
    /// Resolutions that went to the wire.
    pub queries: u64,
    /// Query datagrams sent, retries included.
    pub transmits: u64,
    pub retries: u64,
    pub cache_hits: u64,
    pub negative_hits: u64,
    /// Answers accepted (status ok).
    pub answered: u64,
    /// No-member answers accepted.
    pub no_member: u64,
    /// Resolutions that ran out of tries.
    pub no_answer: u64,
    /// ICMP unreachable for a try (the caller reported it).
    pub unreachable: u64,
    /// Well-formed answers for no pending query and no recent nonce.
    pub unmatched: u64,
    pub bad_packets: BTreeMap<BadPacket, u64>,
    /// Rejected answers; `replay` counts answers for an already answered nonce.
    pub auth_failures: BTreeMap<AuthFailure, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PendingView {
    pub anycast: Ipv6Addr,
    pub nonce: u64,
    pub tries: u32,
    pub next_deadline_in_ms: u64,
}

/// The resolver as `show`/JSON sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResolverView {
    pub cache: Vec<CacheEntryView>,
    pub pending: Vec<PendingView>,
    pub counters: ResolverCounters,
}

#[derive(Debug, Clone)]
struct Pending {
    nonce: u64,
    local: Ipv6Addr,
    tries: u32,
    deadline: Instant,
}

/// How many answered (anycast, nonce) pairs are remembered to tell a
/// replayed or duplicated answer from an unmatched one.
const ANSWERED_MEMORY: usize = 64;

#[derive(Debug)]
pub struct Resolver {
    config: ResolverConfig,
    seq: SeqCounter,
    cache: AnswerCache,
    pending: HashMap<Ipv6Addr, Pending>,
    answered: VecDeque<(Ipv6Addr, u64)>,
    transmits: VecDeque<Transmit>,
    resolutions: VecDeque<Resolution>,
    counters: ResolverCounters,
}

impl Resolver {
    /// `seq_start` seeds the sequence of signed queries (wall-clock
    /// nanoseconds, as ARD's senders).
    pub fn new(config: ResolverConfig, seq_start: u64) -> Resolver {
        Resolver {
            cache: AnswerCache::new(config.max_entries),
            config,
            seq: SeqCounter::starting_at(seq_start),
            pending: HashMap::new(),
            answered: VecDeque::new(),
            transmits: VecDeque::new(),
            resolutions: VecDeque::new(),
            counters: ResolverCounters::default(),
        }
    }

    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    /// Resolves `anycast`: from the cache, or by sending a query with
    /// `nonce` (random, never reused) from `local`, the source address the
    /// caller's socket will use (covered by the digest of a signed query;
    /// `::` if unknown, which makes the query unsigned).
    pub fn start(&mut self, now: Instant, anycast: Ipv6Addr, nonce: u64, local: Ipv6Addr) -> Start {
        if !packet::address_valid(anycast) {
            return Start::Invalid;
        }
        if let Some(r) = self.cache.get(now, anycast) {
            match r {
                Ok(_) => self.counters.cache_hits += 1,
                Err(_) => self.counters.negative_hits += 1,
            }
            return Start::Cached(r);
        }
        if self.pending.contains_key(&anycast) {
            return Start::Pending;
        }
        self.counters.queries += 1;
        self.pending.insert(
            anycast,
            Pending {
                nonce,
                local,
                tries: 0,
                deadline: now,
            },
        );
        self.send_try(now, anycast);
        Start::Sent
    }

    /// Drops what is known about `anycast` (cache entry and any query in
    /// flight), e.g. when connecting to the member failed.
    pub fn forget(&mut self, anycast: Ipv6Addr) {
        self.cache.remove(anycast);
        self.pending.remove(&anycast);
    }

    /// A datagram received from `src` on the client's socket.
    pub fn handle_datagram(&mut self, now: Instant, src: Ipv6Addr, bytes: &[u8]) {
        let msg = match packet::decode(bytes) {
            Ok(m) => m,
            Err(e) => return self.bad(e.reason()),
        };
        let Body::Answer(a) = msg.body else {
            return self.bad(BadPacket::UnexpectedType);
        };
        let matches = self
            .pending
            .get(&a.anycast)
            .is_some_and(|p| p.nonce == a.nonce);
        if !matches {
            if self.answered.contains(&(a.anycast, a.nonce)) {
                self.auth_failed(AuthFailure::Replay);
            } else {
                self.counters.unmatched += 1;
            }
            return;
        }
        let verdict = match sign::check(bytes, &msg, src, &self.config.keyring) {
            Ok(v) => v,
            Err(e) => return self.auth_failed(AuthFailure::from(&e)),
        };
        self.pending.remove(&a.anycast);
        if self.answered.len() == ANSWERED_MEMORY {
            self.answered.pop_front();
        }
        self.answered.push_back((a.anycast, a.nonce));
        let resolution = match a.status {
            Status::Ok => {
                self.counters.answered += 1;
                let answer = Answer {
                    anycast: a.anycast,
                    member: a.member,
                    lifetime: a.lifetime,
                    preference: a.preference,
                    source: a.source,
                    authenticated: verdict.authenticated(),
                };
                self.cache.put_answer(now, &answer);
                Resolution {
                    anycast: a.anycast,
                    cache_for: answer.lifetime,
                    result: Ok(answer),
                }
            }
            Status::NoMember => {
                self.counters.no_member += 1;
                // The responder's hint may shorten the client's negative time, never lengthen it.
                let ttl = match a.lifetime {
                    d if d.is_zero() => self.config.negative_ttl,
                    d => d.min(self.config.negative_ttl),
                };
                self.cache
                    .put_negative(now, a.anycast, Unresolved::NoMember, ttl);
                Resolution {
                    anycast: a.anycast,
                    result: Err(Unresolved::NoMember),
                    cache_for: ttl,
                }
            }
        };
        self.resolutions.push_back(resolution);
    }

    /// The current try for `anycast` met an ICMP unreachable: move on to
    /// the next try now instead of waiting out the timeout.
    pub fn handle_unreachable(&mut self, now: Instant, anycast: Ipv6Addr) {
        if let Some(p) = self.pending.get_mut(&anycast) {
            self.counters.unreachable += 1;
            p.deadline = now;
            self.advance(now, anycast);
        }
    }

    /// Retries or gives up every query whose try timed out by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<Ipv6Addr> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(a, _)| *a)
            .collect();
        for a in due {
            self.advance(now, a);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_resolution(&mut self) -> Option<Resolution> {
        self.resolutions.pop_front()
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    pub fn counters(&self) -> &ResolverCounters {
        &self.counters
    }

    pub fn view(&self, now: Instant) -> ResolverView {
        let mut pending: Vec<PendingView> = self
            .pending
            .iter()
            .map(|(a, p)| PendingView {
                anycast: *a,
                nonce: p.nonce,
                tries: p.tries,
                next_deadline_in_ms: p.deadline.saturating_duration_since(now).as_millis() as u64,
            })
            .collect();
        pending.sort_by_key(|p| p.anycast);
        ResolverView {
            cache: self.cache.view(now),
            pending,
            counters: self.counters.clone(),
        }
    }

    /// The try for `anycast` is over: send the next one or give up.
    fn advance(&mut self, now: Instant, anycast: Ipv6Addr) {
        let Some(p) = self.pending.get(&anycast) else {
            return;
        };
        if p.tries <= self.config.retries {
            self.counters.retries += 1;
            self.send_try(now, anycast);
            return;
        }
        let tries = p.tries;
        self.pending.remove(&anycast);
        self.counters.no_answer += 1;
        let why = Unresolved::NoAnswer { tries };
        let ttl = self.config.negative_ttl;
        self.cache.put_negative(now, anycast, why, ttl);
        self.resolutions.push_back(Resolution {
            anycast,
            result: Err(why),
            cache_for: ttl,
        });
    }

    fn send_try(&mut self, now: Instant, anycast: Ipv6Addr) {
        let timeout = self.config.timeout;
        let member_only = self.config.member_only;
        let Some(p) = self.pending.get_mut(&anycast) else {
            return;
        };
        p.tries += 1;
        p.deadline = now + timeout;
        let body = Body::Query(Query {
            nonce: p.nonce,
            anycast,
            member_only,
        });
        let keyring = if p.local.is_unspecified() {
            &Keyring::none()
        } else {
            &self.config.keyring
        };
        let seq = &mut self.seq;
        let bytes = sign::seal(&body, p.local, keyring, || seq.take());
        self.counters.transmits += 1;
        self.transmits.push_back(Transmit {
            dst: anycast,
            bytes,
        });
    }

    fn bad(&mut self, reason: BadPacket) {
        *self.counters.bad_packets.entry(reason).or_default() += 1;
    }

    fn auth_failed(&mut self, why: AuthFailure) {
        *self.counters.auth_failures.entry(why).or_default() += 1;
    }
}
