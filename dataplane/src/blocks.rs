//! Allocator of contiguous ranges of `a6_maglev` blocks.
//!
//! A group's Maglev table is written to a fresh range before the group is
//! published, and its old range is released only after a grace period: an
//! XDP program that looked the group up just before the publish may still
//! read the old table (RCU), so the old blocks must not be rewritten under
//! it. Released ranges wait in a quarantine; when space is short the caller
//! waits for them to age instead of reusing them early.
//!
//! Pure bookkeeping (the clock is a parameter), rebuilt at open from the
//! ranges of the installed groups so a restarted daemon never overwrites a
//! live table.

use std::{
    collections::{BTreeMap, VecDeque},
    time::{Duration, Instant},
};

/// How long a released range stays unusable. An XDP program runs for
/// microseconds; 50 ms covers any reader that saw the old group.
pub const GRACE: Duration = Duration::from_millis(50);

/// Why an allocation could not be served now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortage {
    /// Quarantined ranges will become free: retry after this long.
    Wait(Duration),
    /// Not enough space even with every quarantined range back.
    Exhausted { needed: u32, free: u32 },
}

#[derive(Debug, Clone)]
pub struct BlockAllocator {
    capacity: u32,
    /// start -> length, coalesced, non-overlapping.
    free: BTreeMap<u32, u32>,
    /// (released at, start, length), oldest first.
    quarantine: VecDeque<(Instant, u32, u32)>,
    grace: Duration,
}

impl BlockAllocator {
    /// An allocator over `capacity` blocks of which `used` ranges (start,
    /// length) are taken. Ranges outside the capacity are clipped; overlaps
    /// are tolerated (the union is taken).
    pub fn new(capacity: u32, used: impl IntoIterator<Item = (u32, u32)>) -> Self {
        Self::with_grace(capacity, used, GRACE)
    }

    pub fn with_grace(
        capacity: u32,
        used: impl IntoIterator<Item = (u32, u32)>,
        grace: Duration,
    ) -> Self {
        let mut used: Vec<(u32, u32)> = used
            .into_iter()
            .filter(|&(s, l)| l > 0 && s < capacity)
            .map(|(s, l)| (s, l.min(capacity - s)))
            .collect();
        used.sort_unstable();
        let mut free = BTreeMap::new();
        let mut cursor = 0u32;
        for (s, l) in used {
            if s > cursor {
                free.insert(cursor, s - cursor);
            }
            cursor = cursor.max(s + l);
        }
        if cursor < capacity {
            free.insert(cursor, capacity - cursor);
        }
        BlockAllocator {
            capacity,
            free,
            quarantine: VecDeque::new(),
            grace,
        }
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Blocks free now (not counting the quarantine).
    pub fn free_blocks(&self) -> u32 {
        self.free.values().sum()
    }

    /// Blocks waiting in the quarantine.
    pub fn quarantined_blocks(&self) -> u32 {
        self.quarantine.iter().map(|q| q.2).sum()
    }

    /// Moves ranges whose grace period has passed back to the free set.
    pub fn reclaim(&mut self, now: Instant) {
        while let Some(&(t, s, l)) = self.quarantine.front() {
            if now.duration_since(t) < self.grace {
                break;
            }
            self.quarantine.pop_front();
            self.insert_free(s, l);
        }
    }

    /// Takes `n` contiguous blocks (best fit: the smallest free range that
    /// holds them, lowest start on ties). `n == 0` takes nothing and
    /// returns 0.
    pub fn alloc(&mut self, n: u32, now: Instant) -> Result<u32, Shortage> {
        if n == 0 {
            return Ok(0);
        }
        self.reclaim(now);
        let best = self
            .free
            .iter()
            .filter(|(_, &l)| l >= n)
            .min_by_key(|(&s, &l)| (l, s))
            .map(|(&s, &l)| (s, l));
        if let Some((s, l)) = best {
            self.free.remove(&s);
            if l > n {
                self.free.insert(s + n, l - n);
            }
            return Ok(s);
        }
        match self.quarantine.front() {
            Some(&(t, _, _)) => Err(Shortage::Wait(
                (t + self.grace)
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
            )),
            None => Err(Shortage::Exhausted {
                needed: n,
                free: self.free_blocks(),
            }),
        }
    }

    /// Gives back a range that was never published: free at once.
    pub fn free_now(&mut self, start: u32, n: u32) {
        if n > 0 {
            self.insert_free(start, n);
        }
    }

    /// Releases a range that readers may still be using: it becomes
    /// reusable after the grace period.
    pub fn release(&mut self, start: u32, n: u32, now: Instant) {
        if n > 0 && start < self.capacity {
            self.quarantine
                .push_back((now, start, n.min(self.capacity - start)));
        }
    }

    fn insert_free(&mut self, mut start: u32, mut len: u32) {
        // Merge with the previous and the next range when adjacent.
        if let Some((&ps, &pl)) = self.free.range(..start).next_back() {
            if ps + pl == start {
                self.free.remove(&ps);
                start = ps;
                len += pl;
            }
        }
        if let Some(&nl) = self.free.get(&(start + len)) {
            self.free.remove(&(start + len));
            len += nl;
        }
        self.free.insert(start, len);
    }

    /// Every free and quarantined range (for invariant checks).
    pub fn unavailable_or_free(&self) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self.free.iter().map(|(&s, &l)| (s, l)).collect();
        v.extend(self.quarantine.iter().map(|&(_, s, l)| (s, l)));
        v.sort_unstable();
        v
    }
}

/// Number of `a6_maglev` blocks a table of `len` entries occupies.
pub fn blocks_for(len: u32) -> u32 {
    len.div_ceil(crate::abi::MAGLEV_BLOCK as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
        a.0 < b.0 + b.1 && b.0 < a.0 + a.1
    }

    #[test]
    fn rebuild_from_used_ranges() {
        let a = BlockAllocator::new(100, [(10, 5), (12, 10), (50, 0), (90, 20)]);
        assert_eq!(a.unavailable_or_free(), vec![(0, 10), (22, 68)]);
        assert_eq!(a.free_blocks(), 78);
    }

    #[test]
    fn best_fit_and_coalescing() {
        let t = Instant::now();
        let mut a = BlockAllocator::new(100, [(10, 10), (25, 75)]);
        // Free: [0,10) and [20,25): 4 blocks fit best in [20,25).
        assert_eq!(a.alloc(4, t), Ok(20));
        assert_eq!(a.alloc(10, t), Ok(0));
        assert!(matches!(
            a.alloc(2, t),
            Err(Shortage::Exhausted { needed: 2, free: 1 })
        ));
        a.free_now(0, 10);
        a.free_now(10, 10);
        assert_eq!(a.unavailable_or_free(), vec![(0, 20), (24, 1)]);
        assert_eq!(a.alloc(20, t), Ok(0));
        assert_eq!(a.alloc(0, t), Ok(0));
    }

    #[test]
    fn released_ranges_wait_for_the_grace_period() {
        let t0 = Instant::now();
        let mut a = BlockAllocator::with_grace(10, [], Duration::from_millis(50));
        let r = a.alloc(10, t0).unwrap_or(u32::MAX);
        assert_eq!(r, 0);
        a.release(0, 10, t0);
        assert_eq!(a.quarantined_blocks(), 10);
        match a.alloc(3, t0 + Duration::from_millis(20)) {
            Err(Shortage::Wait(d)) => assert_eq!(d, Duration::from_millis(30)),
            other => panic!("expected a wait, got {other:?}"),
        }
        assert_eq!(a.alloc(3, t0 + Duration::from_millis(50)), Ok(0));
        assert_eq!(a.quarantined_blocks(), 0);
    }

    /// Random publish/delete churn: no two live ranges ever overlap and a
    /// released range is not handed out within its grace period.
    #[test]
    fn churn_never_hands_out_a_live_range() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let grace = Duration::from_millis(50);
        let mut a = BlockAllocator::with_grace(400, [], grace);
        let mut now = Instant::now();
        let mut live: Vec<Option<(u32, u32)>> = vec![None; 40];
        let mut released: Vec<(Instant, u32, u32)> = Vec::new();
        for _ in 0..20_000 {
            now += Duration::from_millis(rng.random_range(0..5));
            let g = rng.random_range(0..live.len());
            let n = rng.random_range(0..20);
            match a.alloc(n, now) {
                Ok(s) => {
                    let r = (s, n);
                    if n > 0 {
                        assert!(s + n <= 400);
                        for other in live.iter().flatten() {
                            assert!(!overlaps(r, *other), "{r:?} overlaps live {other:?}");
                        }
                        for &(t, qs, ql) in &released {
                            if now.duration_since(t) < grace {
                                assert!(!overlaps(r, (qs, ql)), "{r:?} reuses a range in grace");
                            }
                        }
                    }
                    if let Some((os, ol)) = live[g].take() {
                        a.release(os, ol, now);
                        released.push((now, os, ol));
                    }
                    live[g] = (n > 0).then_some(r);
                }
                Err(Shortage::Wait(d)) => now += d,
                Err(Shortage::Exhausted { .. }) => {
                    if let Some((os, ol)) = live[g].take() {
                        a.release(os, ol, now);
                        released.push((now, os, ol));
                    }
                }
            }
            released.retain(|&(t, _, _)| now.duration_since(t) < grace);
        }
    }
}
