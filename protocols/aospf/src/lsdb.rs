//! The link-state database (RFC 2328 §12, §13, §14 as RFC 5340 §4.4
//! scopes it): one table per flooding scope, ages kept as "age when
//! installed + time since", never ticked.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use anycast6_core::Instant;

use crate::packet::lsa::{Scope, MAX_AGE};
use crate::packet::{Lsa, LsaHeader, LsaType};

/// Largest sequence number (RFC 2328 §12.1.6).
pub const MAX_SEQ: i32 = 0x7fff_ffff;
/// Our LSAs are refreshed at this age (LSRefreshTime).
pub const LS_REFRESH_TIME: u16 = 1800;
/// Ages differing by more than this tell two instances apart (MaxAgeDiff).
pub const MAX_AGE_DIFF: u16 = 900;
/// Least time between two originations of one LSA (MinLSInterval), by
/// default (`Config::min_ls_interval`).
pub const MIN_LS_INTERVAL: Duration = Duration::from_secs(5);
/// Least time between accepting two instances of one LSA from flooding
/// (MinLSArrival).
pub const MIN_LS_ARRIVAL: Duration = Duration::from_secs(1);

/// Where an LSA floods: one link (by ifindex), the area, or the AS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum ScopeKey {
    Link(u32),
    Area,
    As,
}

impl ScopeKey {
    /// The scope of an LSA of `t` received on (or originated for) `ifindex`.
    /// Reserved scopes are treated as link-local (RFC 5340 §4.5.1 floods
    /// an unknown LSA with the U bit clear on the link only).
    pub fn of(t: LsaType, ifindex: u32) -> ScopeKey {
        match t.scope() {
            Scope::Area => ScopeKey::Area,
            Scope::As => ScopeKey::As,
            _ => ScopeKey::Link(ifindex),
        }
    }
}

/// An LSA's identity within its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct LsaKey {
    pub ls_type: LsaType,
    pub id: Ipv4Addr,
    pub adv_router: Ipv4Addr,
}

impl LsaKey {
    pub fn of(h: &LsaHeader) -> LsaKey {
        LsaKey {
            ls_type: h.ls_type,
            id: h.id,
            adv_router: h.adv_router,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub lsa: Lsa,
    /// When installed, and its age then.
    pub installed: Instant,
    age0: u16,
}

impl Entry {
    pub fn new(lsa: Lsa, now: Instant) -> Entry {
        let age0 = lsa.header.age.min(MAX_AGE);
        Entry {
            lsa,
            installed: now,
            age0,
        }
    }

    pub fn age(&self, now: Instant) -> u16 {
        let s = now.saturating_since(self.installed).as_secs();
        (u64::from(self.age0) + s).min(u64::from(MAX_AGE)) as u16
    }

    pub fn is_max_age(&self, now: Instant) -> bool {
        self.age(now) >= MAX_AGE
    }

    /// The header with the current age.
    pub fn header(&self, now: Instant) -> LsaHeader {
        LsaHeader {
            age: self.age(now),
            ..self.lsa.header
        }
    }

    /// The LSA as it goes out on a link: its age now plus `delay` seconds
    /// (InfTransDelay), at most MaxAge.
    pub fn to_send(&self, now: Instant, delay: u16) -> Lsa {
        let mut l = self.lsa.clone();
        l.header.age = self.age(now).saturating_add(delay).min(MAX_AGE);
        l
    }

    /// When it reaches MaxAge.
    pub fn max_age_at(&self) -> Instant {
        let left = MAX_AGE.saturating_sub(self.age0);
        Instant::from_micros(self.installed.as_micros() + u64::from(left) * 1_000_000)
    }
}

/// Which of two instances of one LSA is newer (RFC 2328 §13.1), ages as
/// they are now: `Greater` if `a` is.
pub fn compare(a: &LsaHeader, b: &LsaHeader) -> Ordering {
    if a.seq != b.seq {
        return a.seq.cmp(&b.seq);
    }
    if a.checksum != b.checksum {
        return a.checksum.cmp(&b.checksum);
    }
    let (am, bm) = (a.age >= MAX_AGE, b.age >= MAX_AGE);
    if am != bm {
        return am.cmp(&bm);
    }
    if a.age.abs_diff(b.age) > MAX_AGE_DIFF {
        // The younger is newer.
        return b.age.cmp(&a.age);
    }
    Ordering::Equal
}

/// Whether installing `new` over `old` changes what SPF sees (RFC 2328
/// §13.2: options, MaxAge-ness or the body).
pub fn content_differs(old: &Lsa, new: &Lsa) -> bool {
    (old.header.age >= MAX_AGE) != (new.header.age >= MAX_AGE) || old.body != new.body
}

#[derive(Debug, Default)]
pub struct Lsdb {
    tables: BTreeMap<ScopeKey, BTreeMap<LsaKey, Entry>>,
    len: usize,
}

impl Lsdb {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, s: ScopeKey, k: &LsaKey) -> Option<&Entry> {
        self.tables.get(&s)?.get(k)
    }

    /// Installs `lsa` (replacing any instance); returns the one replaced.
    pub fn install(&mut self, s: ScopeKey, lsa: Lsa, now: Instant) -> Option<Entry> {
        let k = LsaKey::of(&lsa.header);
        let old = self
            .tables
            .entry(s)
            .or_default()
            .insert(k, Entry::new(lsa, now));
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub fn remove(&mut self, s: ScopeKey, k: &LsaKey) -> Option<Entry> {
        let t = self.tables.get_mut(&s)?;
        let e = t.remove(k);
        if e.is_some() {
            self.len -= 1;
        }
        if t.is_empty() {
            self.tables.remove(&s);
        }
        e
    }

    /// Drops a whole link scope (the interface went away).
    pub fn remove_scope(&mut self, s: ScopeKey) {
        if let Some(t) = self.tables.remove(&s) {
            self.len -= t.len();
        }
    }

    pub fn scope(&self, s: ScopeKey) -> impl Iterator<Item = (&LsaKey, &Entry)> {
        self.tables.get(&s).into_iter().flat_map(|t| t.iter())
    }

    pub fn iter(&self) -> impl Iterator<Item = (ScopeKey, &LsaKey, &Entry)> {
        self.tables
            .iter()
            .flat_map(|(s, t)| t.iter().map(move |(k, e)| (*s, k, e)))
    }

    /// Every scope an interface's neighbours share: the link's, the
    /// area's, the AS's.
    pub fn scopes_for(ifindex: u32) -> [ScopeKey; 3] {
        [ScopeKey::Link(ifindex), ScopeKey::Area, ScopeKey::As]
    }
}
