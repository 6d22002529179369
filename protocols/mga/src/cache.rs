//! The home agent's binding cache (docs/mga.md §5.1): MANY bindings per
//! home address, keyed by (home address, care-of address), each with its
//! lifetime, last sequence number, metric and draining flag. Pure: time
//! comes in as [`Instant`]s.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::clock::Instant;
use serde::Serialize;

/// A Binding Update for a home registration, decoded and authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration {
    pub home: Ipv6Addr,
    pub coa: Ipv6Addr,
    pub seq: u16,
    /// Zero: deregistration.
    pub lifetime: Duration,
    pub metric: u32,
    pub draining: bool,
}

/// Why a registration is refused, with its Binding Acknowledgement Status
/// (RFC 6275 §6.1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// 129: this home agent does not serve that home address.
    NotServed,
    /// 130: `max_bindings` reached for it.
    Full,
    /// 135: not above the last accepted (carried back so the member can
    /// resynchronise).
    SequenceOutOfWindow { last: u16 },
}

impl Refusal {
    pub fn status(self) -> u8 {
        match self {
            Refusal::NotServed => 129,
            Refusal::Full => 130,
            Refusal::SequenceOutOfWindow { .. } => 135,
        }
    }
}

/// What a home agent grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granted {
    pub lifetime: Duration,
    /// When the member should refresh (Binding Refresh Advice).
    pub refresh: Duration,
    /// The home address's forwarding set changed (a binding came, went,
    /// or changed metric or draining).
    pub changed: bool,
}

/// One binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Binding {
    pub coa: Ipv6Addr,
    pub seq: u16,
    pub metric: u32,
    pub draining: bool,
    pub lifetime_s: u32,
    #[serde(skip)]
    pub expires: Instant,
}

/// A binding as the state file keeps it: the time left, not an instant of
/// a process that is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Saved {
    pub home: Ipv6Addr,
    pub coa: Ipv6Addr,
    pub seq: u16,
    pub metric: u32,
    pub draining: bool,
    pub remaining_ms: u64,
}

#[derive(Debug, Clone)]
pub struct BindingCache {
    served: BTreeSet<Ipv6Addr>,
    max_bindings: usize,
    max_lifetime: Duration,
    by_home: BTreeMap<Ipv6Addr, BTreeMap<Ipv6Addr, Binding>>,
}

/// `a` comes after `b` in RFC 6275 §9.5.1's modulo 2^16 order.
pub fn seq_after(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

impl BindingCache {
    pub fn new(
        served: impl IntoIterator<Item = Ipv6Addr>,
        max_bindings: usize,
        max_lifetime: Duration,
    ) -> BindingCache {
        BindingCache {
            served: served.into_iter().collect(),
            max_bindings: max_bindings.max(1),
            max_lifetime,
            by_home: BTreeMap::new(),
        }
    }

    pub fn serves(&self, home: Ipv6Addr) -> bool {
        self.served.contains(&home)
    }

    /// Applies a registration (or a deregistration: lifetime 0).
    pub fn register(&mut self, now: Instant, r: &Registration) -> Result<Granted, Refusal> {
        if !self.served.contains(&r.home) {
            return Err(Refusal::NotServed);
        }
        let set = self.by_home.entry(r.home).or_default();
        if let Some(b) = set.get(&r.coa) {
            if b.expires > now && !seq_after(r.seq, b.seq) {
                return Err(Refusal::SequenceOutOfWindow { last: b.seq });
            }
        } else if r.lifetime.is_zero() {
            // Nothing to remove: accepted, nothing changes.
            if set.is_empty() {
                self.by_home.remove(&r.home);
            }
            return Ok(Granted {
                lifetime: Duration::ZERO,
                refresh: Duration::ZERO,
                changed: false,
            });
        } else if set.values().filter(|b| b.expires > now).count() >= self.max_bindings {
            return Err(Refusal::Full);
        }
        if r.lifetime.is_zero() {
            let gone = set.remove(&r.coa).is_some_and(|b| b.expires > now);
            if set.is_empty() {
                self.by_home.remove(&r.home);
            }
            return Ok(Granted {
                lifetime: Duration::ZERO,
                refresh: Duration::ZERO,
                changed: gone,
            });
        }
        // Lifetimes travel in units of 4 s: grant a whole number of them.
        let granted = r.lifetime.min(self.max_lifetime);
        let granted = Duration::from_secs((granted.as_secs() / 4).max(1) * 4);
        let nb = Binding {
            coa: r.coa,
            seq: r.seq,
            metric: r.metric,
            draining: r.draining,
            lifetime_s: granted.as_secs() as u32,
            expires: now + granted,
        };
        let changed = match set.insert(r.coa, nb) {
            None => true,
            Some(old) => {
                old.expires <= now || old.metric != nb.metric || old.draining != nb.draining
            }
        };
        Ok(Granted {
            lifetime: granted,
            refresh: granted / 2,
            changed,
        })
    }

    /// Drops what has expired by `now`; the home addresses whose
    /// forwarding set changed.
    pub fn expire(&mut self, now: Instant) -> Vec<Ipv6Addr> {
        let mut changed = Vec::new();
        self.by_home.retain(|home, set| {
            let before = set.len();
            set.retain(|_, b| b.expires > now);
            if set.len() != before {
                changed.push(*home);
            }
            !set.is_empty()
        });
        changed
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.by_home
            .values()
            .flat_map(|s| s.values())
            .map(|b| b.expires)
            .min()
    }

    /// The bindings packets for `home` go to, in care-of address order
    /// with their draining flag: the live ones at the smallest metric among
    /// those not draining (as ARD members at the smallest distance), and
    /// every draining one (it keeps its flows, gets no new ones).
    pub fn forwarding(&self, now: Instant, home: Ipv6Addr) -> Vec<(Ipv6Addr, bool)> {
        let live: Vec<&Binding> = self.bindings(home).filter(|b| b.expires > now).collect();
        let best = live.iter().filter(|b| !b.draining).map(|b| b.metric).min();
        live.iter()
            .filter(|b| b.draining || Some(b.metric) == best)
            .map(|b| (b.coa, b.draining))
            .collect()
    }

    pub fn bindings(&self, home: Ipv6Addr) -> impl Iterator<Item = &Binding> + '_ {
        self.by_home.get(&home).into_iter().flat_map(|s| s.values())
    }

    pub fn homes(&self) -> impl Iterator<Item = Ipv6Addr> + '_ {
        self.by_home.keys().copied()
    }

    /// Every live binding, for the state file.
    pub fn save(&self, now: Instant) -> Vec<Saved> {
        self.by_home
            .iter()
            .flat_map(|(h, s)| s.values().map(move |b| (*h, b)))
            .filter(|(_, b)| b.expires > now)
            .map(|(home, b)| Saved {
                home,
                coa: b.coa,
                seq: b.seq,
                metric: b.metric,
                draining: b.draining,
                remaining_ms: b.expires.saturating_since(now).as_millis() as u64,
            })
            .collect()
    }

    /// Takes back what [`BindingCache::save`] wrote (a restart): bindings of
    /// home addresses still served, with the time they had left.
    pub fn restore(&mut self, now: Instant, saved: &[Saved]) -> usize {
        let mut n = 0;
        for s in saved
            .iter()
            .filter(|s| self.served.contains(&s.home) && s.remaining_ms > 0)
        {
            let set = self.by_home.entry(s.home).or_default();
            if set.len() >= self.max_bindings {
                continue;
            }
            let left = Duration::from_millis(s.remaining_ms).min(self.max_lifetime);
            set.insert(
                s.coa,
                Binding {
                    coa: s.coa,
                    seq: s.seq,
                    metric: s.metric,
                    draining: s.draining,
                    lifetime_s: left.as_secs() as u32,
                    expires: now + left,
                },
            );
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn reg(coa: &str, seq: u16, lifetime_s: u64, metric: u32) -> Registration {
        Registration {
            home: a("2001:db8:a0::aa"),
            coa: a(coa),
            seq,
            lifetime: Duration::from_secs(lifetime_s),
            metric,
            draining: false,
        }
    }

    fn cache() -> BindingCache {
        BindingCache::new([a("2001:db8:a0::aa")], 3, Duration::from_secs(600))
    }

    #[test]
    fn many_bindings_per_home_address_at_the_best_metric() {
        let mut c = cache();
        let t = Instant::ZERO;
        let g = c.register(t, &reg("2001:db8:1::2", 1, 60, 5)).unwrap();
        assert_eq!((g.lifetime, g.refresh, g.changed), (60 * S, 30 * S, true));
        assert!(
            c.register(t, &reg("2001:db8:2::2", 9, 60, 5))
                .unwrap()
                .changed
        );
        assert!(
            c.register(t, &reg("2001:db8:3::2", 4, 60, 7))
                .unwrap()
                .changed
        );
        let home = a("2001:db8:a0::aa");
        assert_eq!(
            c.forwarding(t, home),
            vec![(a("2001:db8:1::2"), false), (a("2001:db8:2::2"), false)]
        );
        // The fourth is one too many; a refresh of a known one is not.
        assert_eq!(
            c.register(t, &reg("2001:db8:4::2", 1, 60, 5)),
            Err(Refusal::Full)
        );
        assert!(
            !c.register(t, &reg("2001:db8:1::2", 2, 60, 5))
                .unwrap()
                .changed
        );
        // Draining: keeps its place, leaves the best set.
        let mut d = reg("2001:db8:2::2", 10, 60, 5);
        d.draining = true;
        assert!(c.register(t, &d).unwrap().changed);
        assert_eq!(
            c.forwarding(t, home),
            vec![(a("2001:db8:1::2"), false), (a("2001:db8:2::2"), true)]
        );
        // Deregistration: at once.
        assert!(
            c.register(t, &reg("2001:db8:1::2", 3, 0, 5))
                .unwrap()
                .changed
        );
        assert_eq!(
            c.forwarding(t, home),
            vec![(a("2001:db8:2::2"), true), (a("2001:db8:3::2"), false)]
        );
    }

    #[test]
    fn sequence_numbers_in_modulo_order() {
        assert!(seq_after(1, 0));
        assert!(seq_after(0, 0xffff));
        assert!(!seq_after(5, 5));
        assert!(!seq_after(4, 5));
        assert!(!seq_after(0x8005, 5));
        let mut c = cache();
        let t = Instant::ZERO;
        c.register(t, &reg("2001:db8:1::2", 0xfffe, 60, 1)).unwrap();
        assert!(
            c.register(t, &reg("2001:db8:1::2", 1, 60, 1)).is_ok(),
            "wraps"
        );
        assert_eq!(
            c.register(t, &reg("2001:db8:1::2", 1, 60, 1)),
            Err(Refusal::SequenceOutOfWindow { last: 1 })
        );
        assert_eq!(Refusal::SequenceOutOfWindow { last: 1 }.status(), 135);
        // An expired binding takes any number again.
        let later = t + 61 * S;
        assert!(c.register(later, &reg("2001:db8:1::2", 0, 60, 1)).is_ok());
    }

    #[test]
    fn lifetimes_are_granted_in_4_s_units_bounded_and_expire() {
        let mut c = BindingCache::new([a("2001:db8:a0::aa")], 8, Duration::from_secs(100));
        let t = Instant::ZERO;
        assert_eq!(
            c.register(t, &reg("2001:db8:1::2", 1, 999, 1))
                .unwrap()
                .lifetime,
            100 * S
        );
        assert_eq!(
            c.register(t, &reg("2001:db8:2::2", 1, 6, 1))
                .unwrap()
                .lifetime,
            4 * S
        );
        assert_eq!(
            c.register(t, &reg("2001:db8:3::2", 1, 1, 1))
                .unwrap()
                .lifetime,
            4 * S
        );
        assert_eq!(c.next_expiry(), Some(t + 4 * S));
        assert_eq!(c.expire(t + 3 * S), Vec::<Ipv6Addr>::new());
        assert_eq!(c.expire(t + 4 * S), vec![a("2001:db8:a0::aa")]);
        assert_eq!(
            c.forwarding(t + 4 * S, a("2001:db8:a0::aa")),
            vec![(a("2001:db8:1::2"), false)]
        );
        assert_eq!(c.next_expiry(), Some(t + 100 * S));
        assert!(c.expire(t + 100 * S).len() == 1 && c.homes().count() == 0);
    }

    #[test]
    fn unknown_home_addresses_are_refused() {
        let mut c = cache();
        let mut r = reg("2001:db8:1::2", 1, 60, 1);
        r.home = a("2001:db8:a0::bb");
        assert_eq!(c.register(Instant::ZERO, &r), Err(Refusal::NotServed));
        assert_eq!(Refusal::NotServed.status(), 129);
        assert_eq!(c.homes().count(), 0);
    }

    #[test]
    fn a_restart_takes_back_what_was_left() {
        let mut c = cache();
        let t = Instant::ZERO;
        c.register(t, &reg("2001:db8:1::2", 1, 60, 1)).unwrap();
        c.register(t, &reg("2001:db8:2::2", 1, 8, 1)).unwrap();
        let saved = c.save(t + 4 * S);
        assert_eq!(saved.len(), 2);
        // A new process, its clock from zero, 10 s later: the short one
        // has gone meanwhile (the caller subtracts the time it was down).
        let mut n = cache();
        let down = 10_000;
        let left: Vec<Saved> = saved
            .iter()
            .filter(|s| s.remaining_ms > down)
            .map(|s| Saved {
                remaining_ms: s.remaining_ms - down,
                ..*s
            })
            .collect();
        assert_eq!(n.restore(Instant::ZERO, &left), 1);
        assert_eq!(
            n.forwarding(Instant::ZERO, a("2001:db8:a0::aa")),
            vec![(a("2001:db8:1::2"), false)]
        );
        assert_eq!(n.next_expiry(), Some(Instant::ZERO + 46 * S));
        // Its sequence number is known: an old update is refused.
        assert!(n
            .register(Instant::ZERO, &reg("2001:db8:1::2", 1, 60, 1))
            .is_err());
    }
}
