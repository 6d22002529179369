//! The link-state database (RFC 2328 §12, §13, §14 as RFC 5340 §4.4
//! scopes it): one table per flooding scope, ages kept as "age when
//! installed + time since", never ticked.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use anycast6_core::Instant;

use crate::packet::lsa::{Scope, MAX_AGE};
use crate::packet::{Lsa, LsaBody, LsaHeader, LsaType};

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

/// Past this many changed prefixes a full SPF is cheaper than updating
/// them one by one.
pub const MAX_PREFIX_CHANGES: usize = 4096;

/// What changed for SPF since the last calculation: the graph (Router-,
/// Network- or Link-LSAs, or the local interfaces), or only prefixes
/// (Intra-Area-Prefix- and AS-External-LSAs), which the tree of the last
/// run can route without a new one (routes.rs).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub topology: bool,
    pub prefixes: BTreeSet<(Ipv6Addr, u8)>,
}

impl Changes {
    /// Notes `old` replaced by `new` (either absent, or at MaxAge: the
    /// same for SPF).
    fn note(&mut self, old: Option<&Lsa>, new: Option<&Lsa>) {
        if self.topology {
            return;
        }
        let (old, new) = (live(old), live(new));
        if let (Some(o), Some(n)) = (old, new) {
            if o.body == n.body {
                return;
            }
        }
        for lsa in [old, new].into_iter().flatten() {
            match &lsa.body {
                LsaBody::Router(_) | LsaBody::Network(_) | LsaBody::Link(_) => self.topology = true,
                LsaBody::IntraAreaPrefix(iap) => {
                    let keys = iap.prefixes.iter().filter_map(crate::spf::routable);
                    self.prefixes.extend(keys);
                }
                LsaBody::AsExternal(e) => self.prefixes.extend(crate::spf::routable(&e.prefix)),
                // Grace, Inter-Area, NSSA, unknown: SPF does not read them.
                _ => {}
            }
        }
        if self.prefixes.len() > MAX_PREFIX_CHANGES {
            self.topology = true;
        }
        if self.topology {
            self.prefixes.clear();
        }
    }
}

/// Absent and at MaxAge are the same for SPF.
fn live(l: Option<&Lsa>) -> Option<&Lsa> {
    l.filter(|l| l.header.age < MAX_AGE)
}

#[derive(Debug, Default)]
pub struct Lsdb {
    tables: BTreeMap<ScopeKey, BTreeMap<LsaKey, Entry>>,
    len: usize,
    /// Since the last SPF ([`Lsdb::take_changes`]).
    changes: Changes,
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
        let t = self.tables.entry(s).or_default();
        let old = t.insert(k, Entry::new(lsa, now));
        self.changes
            .note(old.as_ref().map(|e| &e.lsa), t.get(&k).map(|e| &e.lsa));
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub fn remove(&mut self, s: ScopeKey, k: &LsaKey) -> Option<Entry> {
        let t = self.tables.get_mut(&s)?;
        let e = t.remove(k);
        if let Some(e) = &e {
            self.len -= 1;
            self.changes.note(Some(&e.lsa), None);
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
            for e in t.values() {
                self.changes.note(Some(&e.lsa), None);
            }
        }
    }

    /// What changed since the last call.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// Something outside the database changed the graph (an interface,
    /// a neighbour): the next SPF must be a full one.
    pub fn topology_changed(&mut self) {
        self.changes.topology = true;
        self.changes.prefixes.clear();
    }

    /// Returns what changed since the last call and starts over.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
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
