//! Our LSAs (RFC 5340 §4.4.3): built whole from the interfaces, the
//! neighbours and what the daemon originates, compared with what the
//! database holds, and re-originated only where they differ — at most
//! once per MinLSInterval each, with sequence numbers that never repeat
//! (the wrap of RFC 2328 §12.1.6 included).
//!
//! | LSA | scope | id | content |
//! |---|---|---|---|
//! | Router | area | 0 | a point-to-point link per Full neighbour; a transit link per network with a DR we are adjacent to |
//! | Network | area | interface id | we are DR with a Full neighbour: us and them |
//! | Link | link | interface id | priority, link-local, the link's connected prefixes |
//! | Intra-Area-Prefix → Router | area | 0 | every other prefix we originate; anycast /128s with the AC bit and the member metric |
//! | Intra-Area-Prefix → Network | area | interface id | we are DR: the link's prefixes from every Full router's Link-LSA |

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use anycast6_core::Instant;

use crate::instance::Instance;
use crate::interface::IState;
use crate::lsdb::{LsaKey, ScopeKey, MAX_SEQ};
use crate::packet::lsa::{
    IntraAreaPrefixLsa, LinkLsa, NetworkLsa, Prefix, RouterLink, RouterLsa, INITIAL_SEQ,
    LINK_POINT_TO_POINT, LINK_TRANSIT, MAX_AGE,
};
use crate::packet::{Lsa, LsaBody, LsaHeader, LsaType, Options};
use crate::spf::PREFIX_AC;

/// Prefixes per Intra-Area-Prefix-LSA referencing our Router-LSA: 64
/// /128s make a 1312-octet LSA, one to a 1500-octet packet.
const PREFIXES_PER_LSA: usize = 64;
/// Link State IDs of the second and later of them: above every interface
/// id (an ifindex, below 2^31), which Network-referencing ones use.
const MORE_PREFIXES_ID: u32 = 0x8000_0000;

/// The prefixes an LSA carries (for show and SPF-free readers).
pub(crate) fn prefixes_of(l: &Lsa) -> Vec<Prefix> {
    match &l.body {
        LsaBody::Link(b) => b.prefixes.clone(),
        LsaBody::IntraAreaPrefix(b) => b.prefixes.clone(),
        LsaBody::AsExternal(b) => vec![b.prefix],
        _ => vec![],
    }
}

/// A prefix as we send it: bits past the length cleared.
fn prefix(addr: std::net::Ipv6Addr, len: u8, options: u8, field: u16) -> Prefix {
    let len = len.min(128);
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    Prefix {
        len,
        options,
        field,
        addr: (u128::from(addr) & mask).into(),
    }
}

fn is_link_local(p: &Prefix) -> bool {
    p.addr.segments()[0] & 0xffc0 == 0xfe80
}

impl Instance {
    /// What we should be originating now.
    fn desired(&self, now: Instant) -> BTreeMap<(ScopeKey, LsaKey), LsaBody> {
        let me = self.cfg.router_id;
        let key = |t: LsaType, id: u32| LsaKey {
            ls_type: t,
            id: Ipv4Addr::from(id),
            adv_router: me,
        };
        let options = Options(Options::V6 | Options::E | Options::R);
        let mut want = BTreeMap::new();
        let mut links = Vec::new();
        let mut transit = BTreeSet::new();
        for i in self.ifaces.values() {
            if !i.sends() {
                continue;
            }
            if i.is_p2p() {
                for n in i.full_neighbors() {
                    links.push(RouterLink {
                        link_type: LINK_POINT_TO_POINT,
                        metric: i.cfg.cost,
                        interface_id: i.id,
                        neighbor_interface_id: n.interface_id,
                        neighbor_router_id: n.router_id,
                    });
                }
            } else if i.is_transit(me) {
                transit.insert(i.cfg.ifindex);
                let dr_if = if i.dr == me {
                    i.id
                } else {
                    i.neighbors[&i.dr].interface_id
                };
                links.push(RouterLink {
                    link_type: LINK_TRANSIT,
                    metric: i.cfg.cost,
                    interface_id: i.id,
                    neighbor_interface_id: dr_if,
                    neighbor_router_id: i.dr,
                });
            }
            // Link-LSA.
            let prefixes = self
                .originated
                .iter()
                .filter(|o| o.ifindex == Some(i.cfg.ifindex) && !o.anycast)
                .map(|o| prefix(o.prefix, o.plen, 0, 0))
                .filter(|p| !is_link_local(p))
                .collect();
            want.insert(
                (ScopeKey::Link(i.cfg.ifindex), key(LsaType::LINK, i.id)),
                LsaBody::Link(LinkLsa {
                    priority: i.cfg.priority,
                    options,
                    link_local: i.cfg.link_local,
                    prefixes,
                }),
            );
            if i.state == IState::Dr && i.full_neighbors().next().is_some() {
                let mut attached = vec![me];
                attached.extend(i.full_neighbors().map(|n| n.router_id));
                want.insert(
                    (ScopeKey::Area, key(LsaType::NETWORK, i.id)),
                    LsaBody::Network(NetworkLsa { options, attached }),
                );
                // The link's prefixes, from every Full router's Link-LSA
                // and ours (RFC 5340 §4.4.3.9).
                let full: BTreeSet<Ipv4Addr> = i.full_neighbors().map(|n| n.router_id).collect();
                let mut ps = BTreeSet::new();
                for o in &self.originated {
                    if o.ifindex == Some(i.cfg.ifindex) && !o.anycast {
                        ps.insert((o.prefix, o.plen));
                    }
                }
                for (k, e) in self.lsdb.scope(ScopeKey::Link(i.cfg.ifindex)) {
                    if k.ls_type != LsaType::LINK
                        || !full.contains(&k.adv_router)
                        || e.is_max_age(now)
                    {
                        continue;
                    }
                    if let LsaBody::Link(l) = &e.lsa.body {
                        for p in &l.prefixes {
                            if p.options
                                & (crate::packet::lsa::PREFIX_NU | crate::packet::lsa::PREFIX_LA)
                                == 0
                                && !is_link_local(p)
                            {
                                ps.insert((p.addr, p.len));
                            }
                        }
                    }
                }
                if !ps.is_empty() {
                    want.insert(
                        (ScopeKey::Area, key(LsaType::INTRA_AREA_PREFIX, i.id)),
                        LsaBody::IntraAreaPrefix(IntraAreaPrefixLsa {
                            ref_ls_type: LsaType::NETWORK,
                            ref_id: Ipv4Addr::from(i.id),
                            ref_adv_router: me,
                            prefixes: ps.into_iter().map(|(a, l)| prefix(a, l, 0, 0)).collect(),
                        }),
                    );
                }
            }
        }
        want.insert(
            (ScopeKey::Area, key(LsaType::ROUTER, 0)),
            LsaBody::Router(RouterLsa {
                flags: 0,
                options,
                links,
            }),
        );
        let mut seen = BTreeSet::new();
        let prefixes: Vec<Prefix> = self
            .originated
            .iter()
            .filter(|o| o.ifindex.is_none_or(|i| !transit.contains(&i)) || o.anycast)
            .filter(|o| seen.insert((o.prefix, o.plen)))
            .map(|o| {
                let metric = match o.ifindex.and_then(|i| self.ifaces.get(&i)) {
                    Some(i) if !o.anycast => i.cfg.cost,
                    _ => o.metric,
                };
                let opts = if o.anycast { PREFIX_AC } else { 0 };
                prefix(o.prefix, o.plen, opts, metric)
            })
            .filter(|p| !is_link_local(p))
            .collect();
        // Several LSAs when one would not fit a packet (RFC 5340
        // §4.4.3.9 allows it): past about 3270 /128s the 16-bit LSA length
        // wraps and no neighbour could read it.
        for (n, chunk) in prefixes.chunks(PREFIXES_PER_LSA).enumerate() {
            let id = if n == 0 {
                0
            } else {
                MORE_PREFIXES_ID | n as u32
            };
            want.insert(
                (ScopeKey::Area, key(LsaType::INTRA_AREA_PREFIX, id)),
                LsaBody::IntraAreaPrefix(IntraAreaPrefixLsa {
                    ref_ls_type: LsaType::ROUTER,
                    ref_id: Ipv4Addr::UNSPECIFIED,
                    ref_adv_router: me,
                    prefixes: chunk.to_vec(),
                }),
            );
        }
        want
    }

    /// Brings our LSAs in line with what they should be.
    pub(crate) fn originate_all(&mut self, now: Instant) {
        if self.shutdown_until.is_some() {
            return;
        }
        let mut want = self.desired(now);
        if self.restarting.is_some() {
            // Restarting gracefully: Link-LSAs only (RFC 5187 §2).
            want.retain(|(_, k), _| k.ls_type == LsaType::LINK);
        }
        for ((s, k), body) in &want {
            let cur = self.lsdb.get(*s, k);
            let mine = self.mine.get(&(*s, *k)).copied();
            if let Some(e) = cur {
                let current = !self.forced.contains(&(*s, *k))
                    && !e.is_max_age(now)
                    && e.lsa.body == *body
                    && mine.is_some_and(|(seq, _)| seq == e.lsa.header.seq);
                if current {
                    continue;
                }
            }
            if let Some((_, at)) = mine.filter(|_| !self.forced.contains(&(*s, *k))) {
                if now.saturating_since(at) < self.cfg.min_ls_interval {
                    let when = at + self.cfg.min_ls_interval;
                    self.originate_at = Some(self.originate_at.map_or(when, |t| t.min(when)));
                    continue;
                }
            }
            self.originate_lsa(now, *s, *k, body.clone());
        }
        if self.restarting.is_some() {
            // Our old LSAs stay as they are until the restart is over.
            return;
        }
        let me = self.cfg.router_id;
        let stale: Vec<(ScopeKey, LsaKey)> = self
            .lsdb
            .iter()
            .filter(|(s, k, e)| {
                k.adv_router == me && !e.is_max_age(now) && !want.contains_key(&(*s, **k))
            })
            .map(|(s, k, _)| (s, *k))
            .collect();
        for (s, k) in stale {
            self.flush(now, s, k);
        }
    }

    /// A new instance of one of our LSAs with `body`: the next sequence
    /// number (after what the database holds and what we last used), or at
    /// MaxSequenceNumber the wrap (flush first; once it has left the
    /// database we start over at InitialSequenceNumber).
    pub(crate) fn originate_lsa(&mut self, now: Instant, s: ScopeKey, k: LsaKey, body: LsaBody) {
        let cur = self.lsdb.get(s, &k);
        let mine = self.mine.get(&(s, k)).copied();
        let last = cur
            .map(|e| e.lsa.header.seq)
            .into_iter()
            .chain(mine.map(|(s, _)| s))
            .max();
        let seq = match last {
            None => INITIAL_SEQ,
            Some(MAX_SEQ) => {
                let held = cur.is_some();
                if cur.is_some_and(|e| !e.is_max_age(now)) {
                    self.flush(now, s, k);
                } else if cur.is_none() {
                    self.mine.remove(&(s, k));
                    self.originate_at = Some(now);
                }
                if held {
                    // Received at MaxSequenceNumber (RFC 2328 §13.4), not
                    // reached by us: the flush is our wrap all the same,
                    // so once it has gone we start over too.
                    if let Some(m) = self.mine.get_mut(&(s, k)) {
                        m.0 = MAX_SEQ;
                    }
                }
                return;
            }
            Some(l) => l + 1,
        };
        let mut lsa = Lsa {
            header: LsaHeader {
                age: 0,
                ls_type: k.ls_type,
                id: k.id,
                adv_router: k.adv_router,
                seq,
                checksum: 0,
                length: 0,
            },
            body,
        };
        lsa.seal();
        self.lsdb.install(s, lsa, now);
        self.mine.insert((s, k), (seq, now));
        self.counters.lsas_originated += 1;
        self.unlist(s, k);
        self.flood(now, s, k, None);
        self.schedule_spf_lsdb(now);
    }

    /// Premature aging (RFC 2328 §14.1): the LSA goes out at MaxAge and
    /// leaves the database once acknowledged.
    pub(crate) fn flush(&mut self, now: Instant, s: ScopeKey, k: LsaKey) {
        let Some(e) = self.lsdb.get(s, &k) else {
            return;
        };
        let mut lsa = e.lsa.clone();
        lsa.header.age = MAX_AGE;
        self.lsdb.install(s, lsa, now);
        self.unlist(s, k);
        self.flood(now, s, k, None);
        self.schedule_spf_lsdb(now);
    }

    /// Ours at LSRefreshTime: a new instance of each, same content.
    pub(crate) fn refresh_own(&mut self, now: Instant) {
        let me = self.cfg.router_id;
        let old: Vec<(ScopeKey, LsaKey)> = self
            .lsdb
            .iter()
            .filter(|(_, k, e)| {
                k.adv_router == me
                    && !e.is_max_age(now)
                    && e.age(now) >= crate::lsdb::LS_REFRESH_TIME
            })
            .map(|(s, k, _)| (s, *k))
            .collect();
        self.forced.extend(old.iter().copied());
        self.originate_all(now);
        for k in old {
            self.forced.remove(&k);
        }
    }

    /// RFC 2328 §13.4: a newer instance of one of our LSAs arrived (from
    /// before a restart, most often): originate a newer one still, or
    /// flush it if we no longer want it. Its body may equal ours, so the
    /// "up to date" test is skipped for it.
    pub(crate) fn own_lsa_received(&mut self, now: Instant, s: ScopeKey, k: LsaKey) {
        self.forced.insert((s, k));
        self.originate_all(now);
        self.forced.remove(&(s, k));
    }

    /// Something SPF reads changed; if it was a neighbour's Link-LSA on a
    /// link we are DR for, the link's prefixes may have too.
    pub(crate) fn lsa_changed(&mut self, now: Instant, s: ScopeKey, k: LsaKey) {
        self.schedule_spf_lsdb(now);
        if k.adv_router == self.cfg.router_id {
            return;
        }
        if let ScopeKey::Link(ifindex) = s {
            if k.ls_type == LsaType::LINK
                && self
                    .ifaces
                    .get(&ifindex)
                    .is_some_and(|i| i.state == IState::Dr)
            {
                self.originate_all(now);
            }
        }
    }
}
