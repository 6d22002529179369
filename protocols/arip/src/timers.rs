//! Timers are data: what is due ([`Timer`]) and when, in one table the
//! daemon reads through `poll_timeout()`. Handlers re-check the state a
//! timer refers to when it fires, so a stale entry (a path refreshed or
//! removed since) costs one wake-up, never a wrong action.
//!
//! Randomness (update jitter, triggered-update hold-down) comes from a
//! seeded generator, so a simulation replays exactly.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::Instant;

use super::route::Prefix;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Timer {
    /// The periodic (30 s ± jitter) unsolicited response, RFC 2080 §2.5.
    Update,
    /// End of the 1-5 s hold-down after a triggered update (RFC 2080 §2.5.1).
    TriggeredHoldDown,
    /// A learned path's 180 s timeout (RFC 2080 §2.3 "timeout").
    PathTimeout {
        prefix: Prefix,
        ifindex: u32,
        neighbor: Ipv6Addr,
    },
    /// A route's 120 s deletion (garbage-collection) timer.
    RouteGarbage(Prefix),
    /// Forget a neighbour silent for timeout + garbage.
    NeighborExpiry { ifindex: u32, addr: Ipv6Addr },
}

#[derive(Debug, Default)]
pub(crate) struct TimerTable {
    by_deadline: BTreeSet<(Instant, Timer)>,
    by_timer: HashMap<Timer, Instant>,
}

impl TimerTable {
    /// Arms `timer` at `at`, replacing an earlier arming.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(old) = self.by_timer.insert(timer, at) {
            self.by_deadline.remove(&(old, timer));
        }
        self.by_deadline.insert((at, timer));
    }

    pub fn cancel(&mut self, timer: Timer) {
        if let Some(old) = self.by_timer.remove(&timer) {
            self.by_deadline.remove(&(old, timer));
        }
    }

    pub fn get(&self, timer: &Timer) -> Option<Instant> {
        self.by_timer.get(timer).copied()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest timer due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let &(at, timer) = self.by_deadline.first()?;
        if at > now {
            return None;
        }
        self.by_deadline.remove(&(at, timer));
        self.by_timer.remove(&timer);
        Some(timer)
    }
}

/// SplitMix64: small, seedable, good enough for jitter (not for secrets).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi]` at microsecond resolution.
    pub fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let lo_us = lo.as_micros() as u64;
        let hi_us = (hi.as_micros() as u64).max(lo_us);
        let span = hi_us - lo_us;
        let off = if span == u64::MAX {
            self.next_u64()
        } else {
            self.next_u64() % (span + 1)
        };
        Duration::from_micros(lo_us + off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_orders_and_replaces() {
        let mut t = TimerTable::default();
        t.set(Timer::Update, Instant::from_micros(30));
        t.set(Timer::TriggeredHoldDown, Instant::from_micros(10));
        t.set(Timer::Update, Instant::from_micros(5));
        assert_eq!(t.next_deadline(), Some(Instant::from_micros(5)));
        assert_eq!(t.pop_due(Instant::from_micros(4)), None);
        assert_eq!(t.pop_due(Instant::from_micros(20)), Some(Timer::Update));
        t.cancel(Timer::TriggeredHoldDown);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn rng_is_seeded_and_bounded() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..1000 {
            let d = a.between(Duration::from_secs(1), Duration::from_secs(5));
            assert_eq!(d, b.between(Duration::from_secs(1), Duration::from_secs(5)));
            assert!(d >= Duration::from_secs(1) && d <= Duration::from_secs(5));
        }
    }
}
