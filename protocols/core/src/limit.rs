//! Route limits in the spirit of BGP's maximum-prefix: how many routes
//! each key (a neighbour, a reporting member) may make this router hold,
//! and how many all of them together may.
//!
//! The protocol core owns one [`RouteLimit`] and tells it what it holds:
//! before it takes a route it holds nothing of from that key, it asks
//! [`RouteLimit::admit`] (a refusal is counted there); then it reports
//! every route taken or dropped with [`RouteLimit::add`] /
//! [`RouteLimit::remove`]. Updates and withdrawals of routes already held
//! never ask: a limit refuses only what is new, so nothing installed is
//! flushed and nothing flaps.
//!
//! Crossings are events ([`RouteLimit::poll_event`]) the core logs, each
//! once: [`LimitEvent::Warning`] when a count reaches the warning threshold,
//! [`LimitEvent::Reached`] when it reaches the limit. Both are re-armed (and
//! [`LimitEvent::Cleared`] is reported) only when the count falls back below
//! the warning threshold, so a neighbour that hovers at its limit — one
//! route out, another refused — logs once, not once per route.
//!
//! ```text
//!   count ──► 0 ········ warn_at ········ limit
//!             Normal ───► Warning ───────► Full       (Warning / Reached, once)
//!             ◄──────────────────── below warn_at     (Cleared; both re-armed)
//! ```

use std::collections::{BTreeMap, VecDeque};

/// Upper bound of every limit a config may set.
pub const MAX_LIMIT: usize = 1_000_000;

/// The limits of one protocol instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LimitConfig {
    /// Most routes one key may hold (1..=[`MAX_LIMIT`]).
    pub per_key: usize,
    /// Most routes all keys together may hold (1..=[`MAX_LIMIT`]).
    pub total: usize,
    /// Warn when a count reaches this percentage of its limit (1..=100;
    /// 100: no warning before the limit itself).
    pub warn_percent: u8,
}

impl LimitConfig {
    pub const fn new(per_key: usize, total: usize, warn_percent: u8) -> LimitConfig {
        LimitConfig {
            per_key,
            total,
            warn_percent,
        }
    }

    pub fn validate(&self) -> Result<(), LimitConfigError> {
        for (what, v) in [("per-key limit", self.per_key), ("total limit", self.total)] {
            if v == 0 || v > MAX_LIMIT {
                return Err(LimitConfigError::OutOfRange { what, value: v });
            }
        }
        if !(1..=100).contains(&self.warn_percent) {
            return Err(LimitConfigError::WarnPercent(self.warn_percent));
        }
        Ok(())
    }

    /// The count at which `limit` warns: `warn_percent` of it, rounded
    /// up, at least 1.
    pub fn warn_at(&self, limit: usize) -> usize {
        (limit * usize::from(self.warn_percent))
            .div_ceil(100)
            .clamp(1, limit.max(1))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitConfigError {
    #[error("{what} {value} is out of range 1..={MAX_LIMIT}", MAX_LIMIT = MAX_LIMIT)]
    OutOfRange { what: &'static str, value: usize },
    #[error("warning threshold {0}% is out of range 1..=100")]
    WarnPercent(u8),
}

/// Which count an event or refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<K> {
    /// One key's routes.
    Key(K),
    /// All routes together.
    Total,
}

/// Why [`RouteLimit::admit`] refused a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The key holds its `per_key` routes.
    KeyLimit,
    /// All keys together hold `total` routes.
    TotalLimit,
}

/// A crossing, reported once (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitEvent<K> {
    /// The count reached the warning threshold `warn_at`.
    Warning {
        scope: Scope<K>,
        held: usize,
        limit: usize,
    },
    /// The count reached the limit: new routes are refused from now on.
    Reached {
        scope: Scope<K>,
        held: usize,
        limit: usize,
    },
    /// After a warning or the limit, the count fell below the warning
    /// threshold again: both are re-armed.
    Cleared {
        scope: Scope<K>,
        held: usize,
        limit: usize,
    },
}

/// Where a count stands against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    #[default]
    Normal,
    /// At or above the warning threshold.
    Warning,
    /// At the limit: new routes are refused.
    Full,
}

/// One count against one limit, with what was logged of it.
#[derive(Debug, Clone, Default)]
struct Count {
    held: usize,
    refused: u64,
    /// What has been reported (moves with hysteresis, see module docs).
    logged: Level,
}

impl Count {
    fn level(&self, cfg: &LimitConfig, limit: usize) -> Level {
        if self.held >= limit {
            Level::Full
        } else if self.held >= cfg.warn_at(limit) {
            Level::Warning
        } else {
            Level::Normal
        }
    }

    /// Moves `logged` after the count changed; the event to report, if any.
    fn crossing<K>(
        &mut self,
        cfg: &LimitConfig,
        limit: usize,
        scope: Scope<K>,
    ) -> Option<LimitEvent<K>> {
        let held = self.held;
        let now = self.level(cfg, limit);
        match (self.logged, now) {
            (Level::Full, Level::Normal) | (Level::Warning, Level::Normal) => {
                self.logged = Level::Normal;
                Some(LimitEvent::Cleared { scope, held, limit })
            }
            (Level::Normal | Level::Warning, Level::Full) => {
                self.logged = Level::Full;
                Some(LimitEvent::Reached { scope, held, limit })
            }
            (Level::Normal, Level::Warning) => {
                self.logged = Level::Warning;
                Some(LimitEvent::Warning { scope, held, limit })
            }
            _ => None,
        }
    }
}

/// Per-key and total route accounting against a [`LimitConfig`].
#[derive(Debug, Clone)]
pub struct RouteLimit<K> {
    cfg: LimitConfig,
    keys: BTreeMap<K, Count>,
    total: Count,
    events: VecDeque<LimitEvent<K>>,
}

impl<K: Ord + Clone> RouteLimit<K> {
    pub fn new(cfg: LimitConfig) -> RouteLimit<K> {
        RouteLimit {
            cfg,
            keys: BTreeMap::new(),
            total: Count::default(),
            events: VecDeque::new(),
        }
    }

    pub fn config(&self) -> &LimitConfig {
        &self.cfg
    }

    /// Whether `key` may take one route more (one it holds nothing of);
    /// a refusal is counted for `key` and in the total.
    pub fn admit(&mut self, key: &K) -> Result<(), Refused> {
        let held = self.keys.get(key).map_or(0, |c| c.held);
        let why = if held >= self.cfg.per_key {
            Refused::KeyLimit
        } else if self.total.held >= self.cfg.total {
            Refused::TotalLimit
        } else {
            return Ok(());
        };
        self.keys.entry(key.clone()).or_default().refused += 1;
        self.total.refused += 1;
        Err(why)
    }

    /// `key` holds one route more.
    pub fn add(&mut self, key: &K) {
        let c = self.keys.entry(key.clone()).or_default();
        c.held += 1;
        if let Some(e) = c.crossing(&self.cfg, self.cfg.per_key, Scope::Key(key.clone())) {
            self.events.push_back(e);
        }
        self.total.held += 1;
        if let Some(e) = self.total.crossing(&self.cfg, self.cfg.total, Scope::Total) {
            self.events.push_back(e);
        }
    }

    /// `key` holds one route less.
    pub fn remove(&mut self, key: &K) {
        let Some(c) = self.keys.get_mut(key) else {
            debug_assert!(false, "a route removed that was never added");
            return;
        };
        debug_assert!(c.held > 0, "a route removed that was never added");
        c.held = c.held.saturating_sub(1);
        if let Some(e) = c.crossing(&self.cfg, self.cfg.per_key, Scope::Key(key.clone())) {
            self.events.push_back(e);
        }
        self.total.held = self.total.held.saturating_sub(1);
        if let Some(e) = self.total.crossing(&self.cfg, self.cfg.total, Scope::Total) {
            self.events.push_back(e);
        }
    }

    /// Drops what is known of `key` (its neighbour expired, its member left)
    /// if it holds nothing: its refusal count goes with it (the total keeps
    /// it), so keys that come and go cannot grow this table. A key still
    /// holding routes is kept.
    pub fn forget(&mut self, key: &K) {
        if self.keys.get(key).is_some_and(|c| c.held == 0) {
            self.keys.remove(key);
        }
    }

    /// Routes `key` holds.
    pub fn held(&self, key: &K) -> usize {
        self.keys.get(key).map_or(0, |c| c.held)
    }

    /// New routes of `key` refused since it was last forgotten.
    pub fn refused(&self, key: &K) -> u64 {
        self.keys.get(key).map_or(0, |c| c.refused)
    }

    /// Where `key` stands against the per-key limit.
    pub fn level(&self, key: &K) -> Level {
        self.keys
            .get(key)
            .map_or(Level::Normal, |c| c.level(&self.cfg, self.cfg.per_key))
    }

    pub fn total_held(&self) -> usize {
        self.total.held
    }

    /// Every refusal, of every key, ever.
    pub fn total_refused(&self) -> u64 {
        self.total.refused
    }

    /// The next crossing to log, in order.
    pub fn poll_event(&mut self) -> Option<LimitEvent<K>> {
        self.events.pop_front()
    }

    /// The totals, for `anycast6ctl show`.
    pub fn view(&self) -> LimitView {
        LimitView {
            limit: self.cfg.total,
            per_key_limit: self.cfg.per_key,
            warn_percent: self.cfg.warn_percent,
            held: self.total.held,
            refused: self.total.refused,
            state: self.total.level(&self.cfg, self.cfg.total),
        }
    }
}

/// The totals of a [`RouteLimit`] (serialised by the management API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LimitView {
    /// Most routes held in all.
    pub limit: usize,
    /// Most routes held per key (neighbour, member).
    pub per_key_limit: usize,
    pub warn_percent: u8,
    /// Routes held now, in all.
    pub held: usize,
    /// New routes refused, in all, since the instance started.
    pub refused: u64,
    /// `held` against `limit`.
    pub state: Level,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(l: &mut RouteLimit<u8>) -> Vec<LimitEvent<u8>> {
        std::iter::from_fn(|| l.poll_event()).collect()
    }

    fn fill(l: &mut RouteLimit<u8>, key: u8, n: usize) -> usize {
        (0..n)
            .filter(|_| {
                let ok = l.admit(&key).is_ok();
                if ok {
                    l.add(&key);
                }
                ok
            })
            .count()
    }

    #[test]
    fn thresholds_round_up() {
        let c = LimitConfig::new(10, 10, 75);
        assert_eq!(c.warn_at(4), 3);
        assert_eq!(c.warn_at(100), 75);
        assert_eq!(c.warn_at(1), 1);
        assert_eq!(LimitConfig::new(1, 1, 1).warn_at(10), 1);
        assert!(LimitConfig::new(0, 1, 50).validate().is_err());
        assert!(LimitConfig::new(1, MAX_LIMIT + 1, 50).validate().is_err());
        assert_eq!(
            LimitConfig::new(1, 1, 0).validate(),
            Err(LimitConfigError::WarnPercent(0))
        );
        assert!(LimitConfig::new(5, 3, 100).validate().is_ok());
    }

    #[test]
    fn per_key_limit_refuses_and_logs_once() {
        let mut l = RouteLimit::new(LimitConfig::new(4, 100, 75));
        assert_eq!(fill(&mut l, 1, 10), 4);
        assert_eq!((l.held(&1), l.refused(&1), l.total_refused()), (4, 6, 6));
        assert_eq!(l.admit(&1), Err(Refused::KeyLimit));
        assert_eq!(l.level(&1), Level::Full);
        assert_eq!(
            drain(&mut l),
            [
                LimitEvent::Warning {
                    scope: Scope::Key(1),
                    held: 3,
                    limit: 4
                },
                LimitEvent::Reached {
                    scope: Scope::Key(1),
                    held: 4,
                    limit: 4
                },
            ]
        );
        // Hovering at the limit: one out, one in, nothing logged again.
        for _ in 0..5 {
            l.remove(&1);
            assert_eq!(fill(&mut l, 1, 2), 1);
        }
        assert_eq!(drain(&mut l), []);
        // Below the warning threshold: re-armed, and reported.
        l.remove(&1);
        l.remove(&1);
        assert_eq!(
            drain(&mut l),
            [LimitEvent::Cleared {
                scope: Scope::Key(1),
                held: 2,
                limit: 4
            }]
        );
        assert_eq!(fill(&mut l, 1, 2), 2);
        assert!(matches!(
            drain(&mut l)[..],
            [LimitEvent::Warning { .. }, LimitEvent::Reached { .. }]
        ));
        // Another key is not concerned.
        assert_eq!(fill(&mut l, 2, 1), 1);
        assert_eq!(l.refused(&2), 0);
    }

    #[test]
    fn total_limit_binds_across_keys() {
        let mut l = RouteLimit::new(LimitConfig::new(5, 8, 100));
        assert_eq!(fill(&mut l, 1, 5), 5);
        assert_eq!(fill(&mut l, 2, 5), 3);
        assert_eq!(l.admit(&3), Err(Refused::TotalLimit));
        assert_eq!((l.refused(&2), l.refused(&3), l.total_refused()), (2, 1, 3));
        let ev = drain(&mut l);
        assert_eq!(
            ev,
            [
                // warn_percent 100: no warning before the limit.
                LimitEvent::Reached {
                    scope: Scope::Key(1),
                    held: 5,
                    limit: 5
                },
                LimitEvent::Reached {
                    scope: Scope::Total,
                    held: 8,
                    limit: 8
                },
            ]
        );
        assert_eq!(l.view().state, Level::Full);
        // Room freed by one key is room for another.
        l.remove(&1);
        assert_eq!(fill(&mut l, 3, 2), 1);
        assert_eq!(l.view().held, 8);
    }

    #[test]
    fn forget_only_what_holds_nothing() {
        let mut l = RouteLimit::new(LimitConfig::new(1, 10, 50));
        assert_eq!(fill(&mut l, 1, 3), 1);
        l.forget(&1);
        assert_eq!((l.held(&1), l.refused(&1)), (1, 2), "still holding: kept");
        l.remove(&1);
        l.forget(&1);
        assert_eq!((l.held(&1), l.refused(&1), l.total_refused()), (0, 0, 2));
        assert_eq!(l.keys.len(), 0);
    }
}
