//! Time as protocol cores see it: a monotonic instant with microsecond
//! resolution, counted from an origin the caller chooses (daemon start, or
//! zero in simulations).

use std::ops::{Add, Sub};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub const fn from_micros(us: u64) -> Instant {
        Instant(us)
    }

    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(d.as_micros().min(u64::MAX as u128) as u64),
        )
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_since(earlier)
    }
}

/// The daemon's real clock: [`Instant`]s since it was made.
#[derive(Debug, Clone, Copy)]
pub struct MonoClock(std::time::Instant);

impl MonoClock {
    pub fn new() -> MonoClock {
        MonoClock(std::time::Instant::now())
    }

    pub fn now(&self) -> Instant {
        Instant::ZERO + self.0.elapsed()
    }

    /// The real instant `at` stands for (to arm a tokio timer).
    pub fn to_std(&self, at: Instant) -> std::time::Instant {
        self.0 + Duration::from_micros(at.as_micros())
    }
}

impl Default for MonoClock {
    fn default() -> Self {
        MonoClock::new()
    }
}

/// A clock for tests: it only moves when told to, usually straight to the
/// next deadline of the cores under test.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimClock {
    now: Instant,
}

impl SimClock {
    pub fn new() -> SimClock {
        SimClock::default()
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn advance(&mut self, d: Duration) -> Instant {
        self.now = self.now + d;
        self.now
    }

    /// Moves to `at` (never backwards).
    pub fn jump_to(&mut self, at: Instant) -> Instant {
        self.now = self.now.max(at);
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_micros(5);
        assert_eq!(t - Instant::from_micros(9), Duration::ZERO);
        assert_eq!((t + Duration::from_millis(1)).as_micros(), 1005);
        let mut c = SimClock::new();
        c.jump_to(Instant::from_micros(10));
        c.jump_to(Instant::from_micros(3));
        assert_eq!(c.now(), Instant::from_micros(10));
    }
}
