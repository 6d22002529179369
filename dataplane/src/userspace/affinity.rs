//! A bounded flow → member table with approximately-LRU eviction, the
//! userspace twin of the `a6_affinity` LRU hash.
//!
//! Two generations: lookups and inserts go to `young`; an entry found only
//! in `old` is promoted. When `young` fills half the capacity, `old` is
//! dropped whole and `young` becomes `old`. So an entry used within the
//! last half-capacity of insertions is never evicted, memory is bounded by
//! the capacity, and every operation is O(1) with no per-entry list.
//!
//! One table per worker, not shared. The XDP LRU is shared by all CPUs
//! because the kernel may run a flow's packets on any CPU; an AF_XDP worker
//! owns one RX queue, and the NIC's RSS hash sends every packet of a flow
//! to the same queue (for IPv6 fragments, RSS hashes the addresses only,
//! so all fragments of a datagram still share a queue). A per-worker table
//! therefore sees every packet of its flows, with no lock or atomic on the
//! packet path. The price: when RSS is re-steered (`ethtool -X`) or a
//! queue's worker restarts, its flows start over from Maglev, like flows
//! evicted from the XDP LRU.

use std::collections::HashMap;

use crate::abi::{Affinity, FlowKey};

#[derive(Debug, Clone)]
pub struct AffinityTable {
    young: HashMap<FlowKey, Affinity>,
    old: HashMap<FlowKey, Affinity>,
    /// Entries per generation.
    half: usize,
}

impl AffinityTable {
    /// A table holding at least `capacity / 2` and at most `capacity` flows.
    pub fn new(capacity: usize) -> Self {
        let half = (capacity / 2).max(1);
        AffinityTable {
            young: HashMap::with_capacity(half),
            old: HashMap::new(),
            half,
        }
    }

    /// The entry of `key`, promoted to the young generation if needed.
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Affinity> {
        if !self.young.contains_key(key) {
            let a = self.old.remove(key)?;
            self.insert(*key, a);
        }
        self.young.get_mut(key)
    }

    /// Inserts or replaces (BPF_ANY).
    pub fn insert(&mut self, key: FlowKey, a: Affinity) {
        if self.young.len() >= self.half && !self.young.contains_key(&key) {
            self.old = std::mem::replace(&mut self.young, HashMap::with_capacity(self.half));
        }
        self.young.insert(key, a);
    }

    pub fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> FlowKey {
        let mut k = FlowKey::default();
        k.src[..4].copy_from_slice(&i.to_be_bytes());
        k
    }

    fn aff(i: u32) -> Affinity {
        Affinity {
            member_id: i,
            ..Affinity::default()
        }
    }

    #[test]
    fn bounded_and_recently_used_entries_survive() {
        let mut t = AffinityTable::new(100);
        for i in 0..10_000 {
            t.insert(key(i), aff(i));
            // Flow 0 stays in use.
            assert_eq!(t.get_mut(&key(0)).map(|a| a.member_id), Some(0));
            assert!(t.len() <= 100);
        }
        // The last 50 insertions are all there.
        for i in 9_950..10_000 {
            assert_eq!(t.get_mut(&key(i)).map(|a| a.member_id), Some(i));
        }
        assert!(t.get_mut(&key(5)).is_none());
    }
}
