//! SPF runs (delayed and held down, so a burst of LSAs costs one) and
//! what their routes change: anycast /128s go to the RIB as members, one
//! per equal-cost next hop; other prefixes go to the kernel, multipath.

use std::collections::BTreeMap;

use crate::set::Set;
use std::net::Ipv6Addr;

use anycast6_core::{Instant, RibChange, RibEntry, Source};

use crate::instance::Instance;
use crate::lsdb::ScopeKey;
use crate::packet::LsaBody;
use crate::spf::{self, LocalInterface, SpfInput};
use crate::{KernelOp, KernelRoute, Output};

/// What one prefix has installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Installed {
    pub anycast: bool,
    pub cost: u32,
    pub hops: Set<(Ipv6Addr, u32)>,
}

impl Instance {
    /// The LSAs SPF reads: area scope, link scope by interface, AS scope
    /// (MaxAge ones are gone for it).
    fn spf_input(&self, now: Instant) -> SpfInput<'_> {
        let mut area = Vec::new();
        let mut links = Vec::new();
        let mut external = Vec::new();
        for (s, _, e) in self.lsdb.iter() {
            if e.is_max_age(now) {
                continue;
            }
            match s {
                ScopeKey::Area => area.push(&e.lsa),
                ScopeKey::Link(i) => links.push((i, &e.lsa)),
                ScopeKey::As => external.push(&e.lsa),
            }
        }
        let interfaces = self
            .ifaces
            .values()
            .filter(|i| i.sends())
            .map(|i| LocalInterface {
                ifindex: i.cfg.ifindex,
                interface_id: i.id,
            })
            .collect();
        SpfInput {
            root: self.cfg.router_id,
            area,
            links,
            external,
            interfaces,
        }
    }

    pub(crate) fn run_spf(&mut self, now: Instant) {
        self.spf_at = None;
        self.spf_last = Some(now);
        self.counters.spf_runs += 1;
        self.lsdb.take_changes();
        let result = spf::compute(&self.spf_input(now));
        let want = result
            .routes
            .iter()
            .filter_map(|(k, r)| Some((*k, installed(r)?)))
            .collect();
        self.routes = result;
        if self.restarting.is_none() {
            self.apply_routes(want);
        }
    }

    /// A pending SPF whose changes are only prefixes (Intra-Area-Prefix-
    /// and AS-External-LSAs) runs now as a prefix update over the last
    /// tree, with no delay: a member joining or leaving reaches the RIB
    /// as soon as its LSA arrives, as ospf6d's incremental intra-prefix
    /// calculation does. Held down like SPF (one per `spf_hold`), so a
    /// burst of prefix LSAs costs one update and then a delayed full run.
    pub(crate) fn update_prefixes(&mut self, now: Instant) {
        let c = self.lsdb.changes();
        if self.spf_at.is_none()
            || c.topology
            || self.restarting.is_some()
            || self.spf_last.is_none()
            || self
                .prefix_update_last
                .is_some_and(|t| now < t + self.cfg.spf_hold)
        {
            return;
        }
        let keys = c.prefixes.clone();
        let mut routes = std::mem::take(&mut self.routes);
        let input = self.spf_input(now);
        // An external whose forwarding address resolves through a changed
        // intra-area prefix: too tangled to update by key.
        let forwarded = input.external.iter().any(|l| match &l.body {
            LsaBody::AsExternal(e) => e.forwarding.is_some_and(|f| !f.is_unspecified()),
            _ => false,
        });
        if !forwarded || keys.is_empty() {
            spf::update_prefixes(&mut routes, &input, &keys);
        }
        drop(input);
        self.routes = routes;
        if forwarded && !keys.is_empty() {
            return;
        }
        self.lsdb.take_changes();
        self.spf_at = None;
        self.prefix_update_last = Some(now);
        self.counters.prefix_updates += 1;
        let mut want = BTreeMap::new();
        let mut had = BTreeMap::new();
        for k in &keys {
            if let Some(i) = self.routes.routes.get(k).and_then(installed) {
                want.insert(*k, i);
            }
            if let Some(i) = self.installed.remove(k) {
                had.insert(*k, i);
            }
        }
        let emit = self.route_changes(&had, &want);
        self.out.extend(emit);
        self.installed.extend(want);
    }

    fn apply_routes(&mut self, want: BTreeMap<(Ipv6Addr, u8), Installed>) {
        let old = std::mem::take(&mut self.installed);
        let emit = self.route_changes(&old, &want);
        self.out.extend(emit);
        self.installed = want;
    }

    /// What moves the RIB and the kernel from `old` to `new`: every
    /// removal first, then every addition.
    fn route_changes(
        &self,
        old: &BTreeMap<(Ipv6Addr, u8), Installed>,
        want: &BTreeMap<(Ipv6Addr, u8), Installed>,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        for ((p, l), o) in old {
            let n = want.get(&(*p, *l));
            if o.anycast {
                for (a, i) in &o.hops {
                    let keep = n.is_some_and(|n| n.anycast && n.hops.contains(&(*a, *i)));
                    if !keep {
                        out.push(Output::Rib(RibChange::Withdraw {
                            anycast: *p,
                            next_hop: *a,
                            ifindex: *i,
                            source: Source::Aospf,
                        }));
                    }
                }
            } else if n.is_none_or(|n| n.anycast) {
                out.push(Output::Kernel(KernelRoute {
                    op: KernelOp::Remove,
                    prefix: *p,
                    plen: *l,
                    nexthops: vec![],
                    metric: o.cost,
                }));
            }
        }
        for ((p, l), n) in want {
            let o = old.get(&(*p, *l));
            if o == Some(n) {
                continue;
            }
            if n.anycast {
                for (a, i) in &n.hops {
                    let same = o.is_some_and(|o| {
                        o.anycast && o.cost == n.cost && o.hops.contains(&(*a, *i))
                    });
                    if !same {
                        out.push(Output::Rib(RibChange::Upsert(RibEntry {
                            anycast: *p,
                            next_hop: *a,
                            ifindex: *i,
                            metric: n.cost,
                            member_unicast: None,
                            source: Source::Aospf,
                        })));
                    }
                }
            } else {
                out.push(Output::Kernel(KernelRoute {
                    op: KernelOp::Add,
                    prefix: *p,
                    plen: *l,
                    nexthops: n.hops.iter().copied().collect(),
                    metric: n.cost,
                }));
            }
        }
        out
    }

    /// Everything installed, removed (clean exit).
    pub(crate) fn uninstall_all(&mut self) {
        self.apply_routes(BTreeMap::new());
        self.routes = spf::SpfResult::default();
    }
}

/// What a route installs: nothing for our own prefixes and for those the
/// kernel has as connected (no next hop address).
fn installed(r: &spf::Route) -> Option<Installed> {
    if r.local {
        return None;
    }
    let hops: Set<(Ipv6Addr, u32)> = r
        .nexthops
        .iter()
        .filter_map(|h| h.addr.map(|a| (a, h.ifindex)))
        .collect();
    if hops.is_empty() {
        // Directly connected: the kernel has it.
        return None;
    }
    Some(Installed {
        anycast: r.anycast && r.plen == 128,
        cost: r.cost.saturating_add(r.type2_cost),
        hops,
    })
}
