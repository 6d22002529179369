//! A cheap hasher for the engine's per-packet maps, whose keys the control
//! plane chooses (addresses of the FIB, group, member and interface ids):
//! std's SipHash-1-3 resists keys chosen to collide, which these are not,
//! and cost about 15–20 ns per lookup; the engine made seven of them per
//! frame (FIB on the destination and on the source, group, interface, tx
//! port, group and member counters). The affinity table, keyed by what a
//! packet carries, keeps SipHash.
//!
//! Words are mixed by a folded multiply and finished with Murmur3's 64-bit
//! finaliser, so hashbrown's control bits (the top seven) depend on every
//! input bit.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

const K: u64 = 0x517c_c1b7_2722_0a95;

#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    /// A folded multiply (the high and low halves of the 128-bit product
    /// xored, as foldhash and wyhash do): every input bit reaches the whole
    /// state. FxHash's rotate-xor-multiply let keys differing in one byte
    /// of either half of an address collide in all 64 bits (38 of 1021 in
    /// the test below).
    fn add(&mut self, w: u64) {
        let m = u128::from(self.0 ^ w) * u128::from(K);
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

pub type FastBuild = BuildHasherDefault<FastHasher>;
/// A `HashMap` with [`FastHasher`]; make one with `FastMap::default()`.
pub type FastMap<K, V> = HashMap<K, V, FastBuild>;
/// A `HashSet` with [`FastHasher`].
pub type FastSet<K> = HashSet<K, FastBuild>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn addresses_that_differ_in_one_byte_hash_apart() {
        let b = FastBuild::default();
        let mut seen = std::collections::HashSet::new();
        for i in 0..=255u8 {
            for pos in [0usize, 7, 8, 15] {
                let mut a = [0x20u8; 16];
                a[pos] = i;
                seen.insert(b.hash_one(a));
            }
        }
        // 4 positions x 256 values, minus the 4 equal to the base address.
        assert_eq!(seen.len(), 4 * 255 + 1);
    }

    #[test]
    fn control_bits_spread_over_small_ids() {
        let b = FastBuild::default();
        let tops: std::collections::HashSet<u64> =
            (0..1024u32).map(|i| b.hash_one(i) >> 57).collect();
        assert_eq!(tops.len(), 128, "every top-7-bit value is reached");
    }
}
