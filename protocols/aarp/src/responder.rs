//! The answering side of AARP as a pure function of (query, decision)
//! (docs/aarp.md §4). The daemon owns the socket and the decision:
//!
//! - member role: answer with its own unicast address, unless it is
//!   draining A or failing its health check (then `decide` returns `None`
//!   and the query goes unanswered, so the client retries or times out
//!   rather than being sent to a member that wants no new flows);
//! - router role: answer with the member the fast path would choose for
//!   this client's traffic to A (the flow hash of the client's address).
//!
//! A keyed responder signs every answer, also to queries that carry no
//! trailer: the client decides whether it needs a signature. A query that
//! does carry a trailer must verify, or it is dropped (and counted).
//! Queries have no replay window: answering a replayed query only sends
//! its original source an answer for a nonce it no longer waits for.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use crate::packet::{self, Answer, AnswerSource, BadPacket, Body, Status};
use crate::sign::{self, AuthFailure};
use anycast6_core::auth::{Keyring, SeqCounter};

/// What the daemon learns about a query before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryInfo {
    /// The client (the query's IPv6 source address).
    pub client: Ipv6Addr,
    pub nonce: u64,
    /// The client wants a member's own answer; routers must not answer.
    pub member_only: bool,
    /// The query's trailer verified with a configured key.
    pub authenticated: bool,
}

/// The daemon's decision for one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerSpec {
    pub source: AnswerSource,
    pub status: Status,
    /// `::` for [`Status::NoMember`].
    pub member: Ipv6Addr,
    /// How long the client may use the member (for no-member: at most how
    /// long it should remember that there is none; 0 leaves it to the client).
    pub lifetime: Duration,
    pub preference: u16,
}

impl AnswerSpec {
    pub fn member(
        source: AnswerSource,
        member: Ipv6Addr,
        lifetime: Duration,
        preference: u16,
    ) -> AnswerSpec {
        AnswerSpec {
            source,
            status: Status::Ok,
            member,
            lifetime,
            preference,
        }
    }

    pub fn no_member(source: AnswerSource, lifetime: Duration) -> AnswerSpec {
        AnswerSpec {
            source,
            status: Status::NoMember,
            member: Ipv6Addr::UNSPECIFIED,
            lifetime,
            preference: 0,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResponderCounters {
    /// Well-formed queries received (before authentication).
    pub queries: u64,
    /// Queries without a trailer answered by a keyed responder.
    pub unsigned_queries: u64,
    /// Answers sent with status ok.
    pub answered: u64,
    /// Answers sent with status no-member.
    pub no_member: u64,
    /// Queries `decide` left unanswered (draining, unhealthy, not ours).
    pub refused: u64,
    /// Member-only queries a router decision was not sent for.
    pub member_only_skipped: u64,
    /// Decisions that named an invalid member address (a daemon bug).
    pub bad_decisions: u64,
    pub rate_limited: u64,
    pub bad_packets: BTreeMap<BadPacket, u64>,
    pub auth_failures: BTreeMap<AuthFailure, u64>,
}

/// A token bucket over all answers: AARP answers are larger than queries
/// (56 or 100 octets for 36), so an unlimited responder is a small
/// reflection amplifier for spoofed queries.
#[derive(Debug, Clone)]
struct RateLimit {
    per_sec: u32,
    burst: u32,
    tokens: f64,
    last: Option<Instant>,
}

impl RateLimit {
    fn allow(&mut self, now: Instant) -> bool {
        let refill = match self.last {
            Some(t) => now.saturating_duration_since(t).as_secs_f64() * f64::from(self.per_sec),
            None => f64::from(self.burst),
        };
        self.last = Some(now);
        self.tokens = (self.tokens + refill).min(f64::from(self.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug, Clone)]
pub struct Responder {
    keyring: Keyring,
    seq: SeqCounter,
    limit: Option<RateLimit>,
    counters: ResponderCounters,
}

impl Responder {
    /// `seq_start` seeds the answers' sequence numbers (the daemon passes
    /// wall-clock nanoseconds so a restart never goes backwards).
    pub fn new(keyring: Keyring, seq_start: u64) -> Responder {
        Responder {
            keyring,
            seq: SeqCounter::starting_at(seq_start),
            limit: None,
            counters: ResponderCounters::default(),
        }
    }

    /// At most `per_sec` answers a second on average, `burst` at once.
    pub fn with_rate_limit(mut self, per_sec: u32, burst: u32) -> Responder {
        self.limit = Some(RateLimit {
            per_sec,
            burst: burst.max(1),
            tokens: 0.0,
            last: None,
        });
        self
    }

    /// Handles one datagram received on port 5360 from `src` to `dst`. The
    /// returned answer must be sent from `[dst]:PORT` to the query's source
    /// address and port (a client's connected socket takes nothing else;
    /// the answer's digest covers `dst`).
    ///
    /// `decide(anycast, info)` names the member, or returns `None` to stay
    /// silent; it is called only for well-formed, authentic (when signed)
    /// queries sent to the address they ask for.
    pub fn handle_query(
        &mut self,
        now: Instant,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        bytes: &[u8],
        decide: impl FnOnce(Ipv6Addr, &QueryInfo) -> Option<AnswerSpec>,
    ) -> Option<Vec<u8>> {
        let msg = match packet::decode(bytes) {
            Ok(m) => m,
            Err(e) => return self.bad(e.reason()),
        };
        let Body::Query(q) = msg.body else {
            return self.bad(BadPacket::UnexpectedType);
        };
        self.counters.queries += 1;
        if dst != q.anycast {
            return self.bad(BadPacket::Misdirected);
        }
        let authenticated = match msg.trailer {
            Some(_) if self.keyring.enabled() => {
                match sign::check(bytes, &msg, src, &self.keyring) {
                    Ok(v) => v.authenticated(),
                    Err(e) => {
                        *self
                            .counters
                            .auth_failures
                            .entry(AuthFailure::from(&e))
                            .or_default() += 1;
                        return None;
                    }
                }
            }
            Some(_) => false,
            None => {
                if self.keyring.enabled() {
                    self.counters.unsigned_queries += 1;
                }
                false
            }
        };
        let info = QueryInfo {
            client: src,
            nonce: q.nonce,
            member_only: q.member_only,
            authenticated,
        };
        let Some(spec) = decide(q.anycast, &info) else {
            self.counters.refused += 1;
            return None;
        };
        if q.member_only && spec.source == AnswerSource::Router {
            self.counters.member_only_skipped += 1;
            return None;
        }
        let spec_ok = match spec.status {
            Status::Ok => packet::address_valid(spec.member),
            Status::NoMember => spec.member.is_unspecified(),
        };
        if !spec_ok {
            self.counters.bad_decisions += 1;
            return None;
        }
        if let Some(l) = &mut self.limit {
            if !l.allow(now) {
                self.counters.rate_limited += 1;
                return None;
            }
        }
        match spec.status {
            Status::Ok => self.counters.answered += 1,
            Status::NoMember => self.counters.no_member += 1,
        }
        let body = Body::Answer(Answer {
            nonce: q.nonce,
            anycast: q.anycast,
            member: spec.member,
            lifetime: spec.lifetime,
            preference: spec.preference,
            source: spec.source,
            status: spec.status,
        });
        let seq = &mut self.seq;
        Some(sign::seal(&body, dst, &self.keyring, || seq.take()))
    }

    pub fn counters(&self) -> &ResponderCounters {
        &self.counters
    }

    fn bad(&mut self, reason: BadPacket) -> Option<Vec<u8>> {
        *self.counters.bad_packets.entry(reason).or_default() += 1;
        None
    }
}
