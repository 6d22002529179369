//! What a client remembers (docs/aarp.md §5.2): answers for their
//! lifetime, failures (nobody answered, or "no member") for a negative
//! time. Shared by the event-driven [`Resolver`](crate::resolver::Resolver)
//! and the blocking [`Cache`](crate::client::Cache). Pure: `now` is passed in.

use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use crate::resolver::{Answer, Unresolved};

/// Default bound on entries; past it the entry closest to expiry goes.
pub const DEFAULT_MAX_ENTRIES: usize = 4096;

#[derive(Debug, Clone)]
struct Entry {
    result: Result<Answer, Unresolved>,
    until: Instant,
}

#[derive(Debug, Clone)]
pub struct AnswerCache {
    entries: HashMap<Ipv6Addr, Entry>,
    max_entries: usize,
}

impl Default for AnswerCache {
    fn default() -> AnswerCache {
        AnswerCache::new(DEFAULT_MAX_ENTRIES)
    }
}

/// One cache entry as `show`/JSON sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CacheEntryView {
    pub anycast: Ipv6Addr,
    /// The answer, or `None` for a negative entry.
    pub answer: Option<Answer>,
    /// Why a negative entry is there.
    pub unresolved: Option<Unresolved>,
    pub expires_in_ms: u64,
}

impl AnswerCache {
    pub fn new(max_entries: usize) -> AnswerCache {
        AnswerCache {
            entries: HashMap::new(),
            max_entries: max_entries.max(1),
        }
    }

    /// The cached result for `anycast`, if still valid; a positive answer
    /// comes back with its remaining lifetime.
    pub fn get(&mut self, now: Instant, anycast: Ipv6Addr) -> Option<Result<Answer, Unresolved>> {
        let e = self.entries.get(&anycast)?;
        if now >= e.until {
            self.entries.remove(&anycast);
            return None;
        }
        let left = e.until - now;
        Some(e.result.clone().map(|mut a| {
            a.lifetime = left;
            a
        }))
    }

    /// Keeps `answer` for its lifetime (a zero lifetime means use once:
    /// nothing is stored, and an older entry is dropped).
    pub fn put_answer(&mut self, now: Instant, answer: &Answer) {
        if answer.lifetime.is_zero() {
            self.entries.remove(&answer.anycast);
            return;
        }
        self.insert(
            now,
            answer.anycast,
            Entry {
                result: Ok(answer.clone()),
                until: now + answer.lifetime,
            },
        );
    }

    /// Remembers that `anycast` did not resolve, for `ttl`.
    pub fn put_negative(
        &mut self,
        now: Instant,
        anycast: Ipv6Addr,
        why: Unresolved,
        ttl: Duration,
    ) {
        if ttl.is_zero() {
            self.entries.remove(&anycast);
            return;
        }
        self.insert(
            now,
            anycast,
            Entry {
                result: Err(why),
                until: now + ttl,
            },
        );
    }

    /// Forgets `anycast` (e.g. its member stopped answering a connect).
    pub fn remove(&mut self, anycast: Ipv6Addr) -> bool {
        self.entries.remove(&anycast).is_some()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn view(&self, now: Instant) -> Vec<CacheEntryView> {
        let mut v: Vec<CacheEntryView> = self
            .entries
            .iter()
            .filter(|(_, e)| e.until > now)
            .map(|(a, e)| CacheEntryView {
                anycast: *a,
                answer: e.result.clone().ok(),
                unresolved: e.result.clone().err(),
                expires_in_ms: (e.until - now).as_millis() as u64,
            })
            .collect();
        v.sort_by_key(|e| e.anycast);
        v
    }

    fn insert(&mut self, now: Instant, anycast: Ipv6Addr, entry: Entry) {
        if !self.entries.contains_key(&anycast) && self.entries.len() >= self.max_entries {
            self.entries.retain(|_, e| e.until > now);
            if self.entries.len() >= self.max_entries {
                let soonest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.until)
                    .map(|(a, _)| *a);
                if let Some(a) = soonest {
                    self.entries.remove(&a);
                }
            }
        }
        self.entries.insert(anycast, entry);
    }
}
