//! SPF runs (delayed and held down, so a burst of LSAs costs one) and
//! what their routes change: anycast /128s go to the RIB as members, one
//! per equal-cost next hop; other prefixes go to the kernel, multipath.

use std::collections::BTreeMap;

use crate::set::Set;
use std::net::Ipv6Addr;

use anycast6_core::{Instant, RibChange, RibEntry, Source};

use crate::instance::Instance;
use crate::lsdb::ScopeKey;
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
    pub(crate) fn run_spf(&mut self, now: Instant) {
        self.spf_at = None;
        self.spf_last = Some(now);
        self.counters.spf_runs += 1;
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
        let result = spf::compute(&SpfInput {
            root: self.cfg.router_id,
            area,
            links,
            external,
            interfaces,
        });
        let mut want = BTreeMap::new();
        for r in result.routes.values() {
            if r.local {
                continue;
            }
            let hops: Set<(Ipv6Addr, u32)> = r
                .nexthops
                .iter()
                .filter_map(|h| h.addr.map(|a| (a, h.ifindex)))
                .collect();
            if hops.is_empty() {
                // Directly connected: the kernel has it.
                continue;
            }
            want.insert(
                (r.prefix, r.plen),
                Installed {
                    anycast: r.anycast && r.plen == 128,
                    cost: r.cost.saturating_add(r.type2_cost),
                    hops,
                },
            );
        }
        self.routes = result;
        if self.restarting.is_none() {
            self.apply_routes(want);
        }
    }

    fn apply_routes(&mut self, want: BTreeMap<(Ipv6Addr, u8), Installed>) {
        let old = std::mem::take(&mut self.installed);
        for ((p, l), o) in &old {
            let n = want.get(&(*p, *l));
            if o.anycast {
                for (a, i) in &o.hops {
                    let keep = n.is_some_and(|n| n.anycast && n.hops.contains(&(*a, *i)));
                    if !keep {
                        self.out.push_back(Output::Rib(RibChange::Withdraw {
                            anycast: *p,
                            next_hop: *a,
                            ifindex: *i,
                            source: Source::Aospf,
                        }));
                    }
                }
            } else if n.is_none_or(|n| n.anycast) {
                self.out.push_back(Output::Kernel(KernelRoute {
                    op: KernelOp::Remove,
                    prefix: *p,
                    plen: *l,
                    nexthops: vec![],
                    metric: o.cost,
                }));
            }
        }
        for ((p, l), n) in &want {
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
                        self.out.push_back(Output::Rib(RibChange::Upsert(RibEntry {
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
                self.out.push_back(Output::Kernel(KernelRoute {
                    op: KernelOp::Add,
                    prefix: *p,
                    plen: *l,
                    nexthops: n.hops.iter().copied().collect(),
                    metric: n.cost,
                }));
            }
        }
        self.installed = want;
    }

    /// Everything installed, removed (clean exit).
    pub(crate) fn uninstall_all(&mut self) {
        self.apply_routes(BTreeMap::new());
        self.routes = spf::SpfResult::default();
    }
}
