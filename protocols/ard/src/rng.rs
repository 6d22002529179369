//! A seeded generator for response delays (SplitMix64): cores never draw
//! from the OS, so a simulation replays exactly. The daemon seeds it from
//! real randomness so members on one link do not answer in lockstep.

use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A duration uniformly drawn from [0, max] at microsecond resolution.
    pub(crate) fn up_to(&mut self, max: Duration) -> Duration {
        let us = max.as_micros().min(u64::MAX as u128 - 1) as u64;
        Duration::from_micros(self.next_u64() % (us + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_seeded() {
        let max = Duration::from_millis(10);
        let a: Vec<_> = {
            let mut r = Rng::new(1);
            (0..100).map(|_| r.up_to(max)).collect()
        };
        let mut r = Rng::new(1);
        assert!(a.iter().all(|d| *d <= max));
        assert_eq!(a, (0..100).map(|_| r.up_to(max)).collect::<Vec<_>>());
        assert!(a.iter().any(|d| *d != a[0]));
        assert_eq!(Rng::new(5).up_to(Duration::ZERO), Duration::ZERO);
    }
}
