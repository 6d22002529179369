//! Property tests of the RIB as a whole: configured groups plus what
//! several protocols offer and withdraw, in random interleavings, always
//! install what a from-scratch computation installs, and that is what an
//! independent statement of the rule says: per address, the candidates of
//! the source with the smallest administrative distance at their best
//! metric (usable ones first).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;

use anycast6_dataplane::loader::Capacities;
use anycast6_dataplane::{MemberState, Route};

use super::learned::Learned;
use super::overlay::{EffectiveGroup, EffectiveMember};
use super::tests::apply;
use super::{plan, Candidate, FibState, Reach, RibGroup};
use crate::config::{AdminState, MemberConfig};
use crate::proto::{Distances, RibChange, RibEntry, Source};

/// xorshift64*: deterministic, so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const ADDRS: [&str; 4] = [
    "2001:db8:ac::1",
    "2001:db8:ac::2",
    "2001:db8:ac::3",
    "2001:db8:ac::4",
];
const PROTOCOLS: [Source; 5] = [
    Source::Ard,
    Source::Arip,
    Source::Aospf,
    Source::Kernel,
    Source::PiaSm,
];

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn next_hop(i: u64) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x10 + i as u16)
}

/// Reachability as netlink would report it, a fixed function of the next
/// hop and egress: some neighbours never resolve, so fallbacks happen.
fn reach(unicast: Ipv6Addr, ifindex: u32) -> Reach {
    let smac = [2, 0, 0, 0, 0, ifindex as u8];
    let last = unicast.segments()[7];
    if last % 5 == 3 {
        Reach::Unreachable {
            ifindex,
            smac,
            mtu: 1500,
        }
    } else {
        Reach::Ready {
            ifindex,
            dmac: [2, 0, 0, 1, (last >> 8) as u8, last as u8],
            smac,
            mtu: 1500,
        }
    }
}

fn ifindex_of(name: &str) -> u32 {
    name.trim_start_matches("eth").parse().unwrap()
}

/// The daemon's resolve step, without netlink: effective groups to RIB input.
fn rib_groups(groups: &[EffectiveGroup], d: &Distances) -> Vec<RibGroup> {
    groups
        .iter()
        .map(|g| RibGroup {
            route: g.route,
            also: Default::default(),
            candidates: g
                .members
                .iter()
                .map(|m| {
                    let ifindex = ifindex_of(m.member.interface.as_deref().unwrap());
                    let via = m.member.next_hop.unwrap_or(m.member.address);
                    Candidate {
                        unicast: m.member.address,
                        source: m.source,
                        admin_distance: d.get(m.source),
                        distance: m.member.distance,
                        weight: m.member.weight,
                        action: m.member.action,
                        admin: m.member.state,
                        encap_src: Ipv6Addr::UNSPECIFIED,
                        reach: reach(via, ifindex),
                    }
                })
                .collect(),
        })
        .collect()
}

fn config_groups() -> Vec<EffectiveGroup> {
    let member = |addr: &str, ifname: &str, distance: u32| EffectiveMember {
        member: MemberConfig {
            distance,
            ..MemberConfig::new(a(addr), Some(ifname.into()))
        },
        source: Source::Config,
    };
    vec![
        // A configured group that protocols also offer members for.
        EffectiveGroup {
            route: Route::Host(a(ADDRS[0])),
            members: vec![member("2001:db8:1::10", "eth2", 1)],
        },
        // A configured group whose only member never resolves: the
        // protocols' usable candidates must win over it.
        EffectiveGroup {
            route: Route::Host(a(ADDRS[1])),
            members: vec![member("2001:db8:1::13", "eth3", 1)],
        },
    ]
}

/// What is installed, without ids: route → (unicast, ifindex, state).
fn content(s: &FibState) -> BTreeMap<Route, BTreeSet<(Ipv6Addr, u32, String)>> {
    s.routes
        .iter()
        .map(|(r, g)| {
            let m = s.groups[g]
                .iter()
                .map(|m| (m.unicast, m.ifindex, format!("{:?}", m.state)))
                .collect();
            (*r, m)
        })
        .collect()
}

/// The rule, stated on its own: per address, rank every distinct
/// candidate by (administrative distance, metric); the best rank among
/// usable ones (else among all) is installed, usable ones active or
/// draining, the others down.
fn oracle(groups: &[RibGroup]) -> BTreeMap<Route, BTreeSet<(Ipv6Addr, u32, String)>> {
    let mut out = BTreeMap::new();
    for g in groups {
        let rank = |c: &Candidate| (c.admin_distance, c.distance);
        // One offer per member: its best-ranked one.
        let mut best_offer: BTreeMap<(Ipv6Addr, u32), &Candidate> = BTreeMap::new();
        for c in &g.candidates {
            let e = best_offer
                .entry((c.unicast, c.reach.ifindex()))
                .or_insert(c);
            if rank(c) < rank(e) {
                *e = c;
            }
        }
        let cands: Vec<&Candidate> = best_offer.into_values().collect();
        let usable = |c: &Candidate| matches!(c.reach, Reach::Ready { .. });
        let best = cands
            .iter()
            .filter(|c| usable(c))
            .map(|c| rank(c))
            .min()
            .or_else(|| cands.iter().map(|c| rank(c)).min());
        let set = cands
            .iter()
            .filter(|c| Some(rank(c)) == best)
            .map(|c| {
                let st = match (usable(c), c.admin) {
                    (false, _) => MemberState::Down,
                    (true, AdminState::Active) => MemberState::Active,
                    (true, AdminState::Draining) => MemberState::Draining,
                };
                (c.unicast, c.reach.ifindex(), format!("{st:?}"))
            })
            .collect();
        out.insert(g.route, set);
    }
    out
}

fn random_change(rng: &mut Rng) -> (RibChange, bool) {
    let anycast = a(ADDRS[rng.below(ADDRS.len() as u64) as usize]);
    let nh = next_hop(rng.below(8));
    let ifindex = 2 + rng.below(3) as u32;
    let source = PROTOCOLS[rng.below(PROTOCOLS.len() as u64) as usize];
    if rng.below(3) == 0 {
        (
            RibChange::Withdraw {
                anycast,
                next_hop: nh,
                ifindex,
                source,
            },
            false,
        )
    } else {
        (
            RibChange::Upsert(RibEntry {
                anycast,
                next_hop: nh,
                ifindex,
                metric: 1 + rng.below(4) as u32,
                member_unicast: None,
                source,
            }),
            rng.below(6) == 0,
        )
    }
}

#[test]
fn random_offers_and_withdrawals_install_what_a_fresh_computation_does() {
    let caps = Capacities::default();
    let ports: BTreeSet<u32> = [2, 3, 4].into();
    let config = config_groups();
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut d = Distances::default();
        // Sometimes the operator reorders the sources.
        if seed % 3 == 0 {
            d.set(Source::Arip, 90);
            d.set(Source::Config, 150);
        }
        let mut learned = Learned::default();
        // The model: what each source currently offers, by key.
        let mut model: BTreeMap<(Ipv6Addr, Ipv6Addr, u32, Source), (u32, bool)> = BTreeMap::new();
        let mut fib = FibState::default();
        for step in 0..150 {
            let (ch, draining) = if rng.below(40) == 0 {
                // A protocol turned off: everything it taught goes.
                let s = PROTOCOLS[rng.below(PROTOCOLS.len() as u64) as usize];
                learned.forget(s);
                model.retain(|k, _| k.3 != s);
                (None, false)
            } else {
                let (c, dr) = random_change(&mut rng);
                (Some(c), dr)
            };
            if let Some(ch) = &ch {
                learned.apply(ch, draining);
                match ch {
                    RibChange::Upsert(e) => {
                        model.insert(
                            (e.anycast, e.next_hop, e.ifindex, e.source),
                            (e.metric, draining),
                        );
                    }
                    RibChange::Withdraw {
                        anycast,
                        next_hop,
                        ifindex,
                        source,
                    } => {
                        model.remove(&(*anycast, *next_hop, *ifindex, *source));
                    }
                }
            }
            let ifname = |i: u32| Some(format!("eth{i}"));

            let mut groups = config.clone();
            learned.merge(&mut groups, ifname);
            let rib = rib_groups(&groups, &d);
            let p = plan(&rib, &ports, &fib, &caps).expect("plan");
            apply(&mut fib, &p.ops);

            // From scratch: a table rebuilt from the model, planned on an
            // empty FIB.
            let mut fresh = Learned::default();
            for ((anycast, nh, ifindex, source), (metric, dr)) in &model {
                fresh.apply(
                    &RibChange::Upsert(RibEntry {
                        anycast: *anycast,
                        next_hop: *nh,
                        ifindex: *ifindex,
                        metric: *metric,
                        member_unicast: None,
                        source: *source,
                    }),
                    *dr,
                );
            }
            let mut fresh_groups = config.clone();
            fresh.merge(&mut fresh_groups, ifname);
            let fresh_rib = rib_groups(&fresh_groups, &d);
            let scratch = plan(&fresh_rib, &ports, &FibState::default(), &caps).expect("plan");

            let got = content(&fib);
            assert_eq!(
                got,
                content(&scratch.target),
                "seed {seed} step {step}: incremental and from-scratch FIBs differ"
            );
            assert_eq!(
                got,
                oracle(&fresh_rib),
                "seed {seed} step {step}: the FIB does not follow the rule"
            );
        }
    }
}

#[test]
fn a_better_source_takes_over_and_the_other_returns_when_it_withdraws() {
    let caps = Capacities::default();
    let ports: BTreeSet<u32> = [2, 3].into();
    let d = Distances::default();
    let anycast = a(ADDRS[2]);
    let offer = |src: Source, nh: u64, ifindex: u32, metric: u32| {
        RibChange::Upsert(RibEntry {
            anycast,
            next_hop: next_hop(nh),
            ifindex,
            metric,
            member_unicast: None,
            source: src,
        })
    };
    let mut learned = Learned::default();
    let mut fib = FibState::default();
    let step = |learned: &Learned, fib: &mut FibState| {
        let mut groups = Vec::new();
        learned.merge(&mut groups, |i| Some(format!("eth{i}")));
        let p = plan(&rib_groups(&groups, &d), &ports, fib, &caps).expect("plan");
        apply(fib, &p.ops);
        content(fib)[&Route::Host(anycast)]
            .iter()
            .map(|m| m.0)
            .collect::<Vec<_>>()
    };
    // ARIP: two hops away; AOSPF: cost 40. AOSPF (110) wins over ARIP
    // (120) whatever the metrics say.
    learned.apply(&offer(Source::Arip, 1, 2, 2), false);
    assert_eq!(step(&learned, &mut fib), vec![next_hop(1)]);
    learned.apply(&offer(Source::Aospf, 3, 3, 40), false);
    assert_eq!(step(&learned, &mut fib), vec![next_hop(3)]);
    // A member registers itself by ARD: first-hand, it wins.
    learned.apply(&offer(Source::Ard, 4, 2, 3), false);
    assert_eq!(step(&learned, &mut fib), vec![next_hop(4)]);
    // It leaves: AOSPF is back; AOSPF withdraws: ARIP is back.
    learned.apply(
        &RibChange::Withdraw {
            anycast,
            next_hop: next_hop(4),
            ifindex: 2,
            source: Source::Ard,
        },
        false,
    );
    assert_eq!(step(&learned, &mut fib), vec![next_hop(3)]);
    learned.forget(Source::Aospf);
    assert_eq!(step(&learned, &mut fib), vec![next_hop(1)]);
}
