use std::collections::BTreeSet;
use std::net::Ipv6Addr;

use anycast6_dataplane::loader::Capacities;
use anycast6_dataplane::{Action, InstalledFib, InstalledGroup, MemberState, Route};

use super::*;
use crate::config::AdminState;

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn host(s: &str) -> Route {
    Route::Host(a(s))
}

const SMAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn ready(ifindex: u32, last: u8) -> Reach {
    Reach::Ready {
        ifindex,
        dmac: [2, 0, 0, 0, 1, last],
        smac: SMAC,
        mtu: 1500,
    }
}

fn cand(unicast: &str, distance: u32, reach: Reach) -> Candidate {
    Candidate {
        unicast: a(unicast),
        source: crate::proto::Source::Config,
        admin_distance: 1,
        distance,
        weight: 100,
        action: Action::Rewrite,
        admin: AdminState::Active,
        encap_src: Ipv6Addr::UNSPECIFIED,
        reach,
    }
}

fn two_groups() -> Vec<RibGroup> {
    vec![
        RibGroup {
            also: Default::default(),
            route: host("2001:db8:ac::1"),
            candidates: vec![
                cand("2001:db8:1::10", 1, ready(3, 1)),
                cand("2001:db8:1::11", 1, ready(4, 2)),
                cand("2001:db8:2::10", 2, ready(5, 3)),
            ],
        },
        RibGroup {
            also: Default::default(),
            route: Route::from_network("2001:db8:ad::/64".parse().unwrap()),
            candidates: vec![cand("2001:db8:1::12", 1, ready(3, 4))],
        },
    ]
}

fn ports() -> BTreeSet<u32> {
    [3, 4, 5].into()
}

/// What the dataplane's `installed()` would return after applying `s`.
fn installed(s: &FibState) -> InstalledFib {
    InstalledFib {
        routes: s.routes.iter().map(|(r, g)| (*r, *g)).collect(),
        groups: s
            .groups
            .iter()
            .map(|(gid, m)| InstalledGroup {
                group_id: *gid,
                gen: 7,
                maglev_block: 0,
                maglev_len: 0,
                // read back in another order than written
                members: m.iter().rev().copied().collect(),
            })
            .collect(),
        tx_ports: s.tx_ports.iter().rev().copied().collect(),
        ifaces: Vec::new(),
    }
}

/// Applies ops to a state, as the FIB writer would.
pub(super) fn apply(s: &mut FibState, ops: &[FibOp]) {
    for op in ops {
        match op {
            FibOp::SetTxPort(p) => {
                s.tx_ports.insert(*p);
            }
            FibOp::PublishGroup { group_id, members } => {
                s.groups.insert(*group_id, members.clone());
            }
            FibOp::SetRoute { route, group_id } => {
                assert!(
                    s.groups.contains_key(group_id),
                    "route {route} set before its group {group_id}"
                );
                s.routes.insert(*route, *group_id);
            }
            FibOp::DeleteRoute(r) => {
                s.routes.remove(r);
            }
            FibOp::DeleteGroup(g) => {
                assert!(
                    !s.routes.values().any(|v| v == g),
                    "group {g} deleted while a route uses it"
                );
                s.groups.remove(g);
            }
            FibOp::DeleteTxPort(p) => {
                s.tx_ports.remove(p);
            }
        }
    }
}

#[test]
fn fresh_install_keeps_only_the_best_distance() {
    let p = plan(
        &two_groups(),
        &ports(),
        &FibState::default(),
        &Capacities::default(),
    )
    .unwrap();
    assert_eq!(p.target.routes.len(), 2);
    let g0 = &p.target.groups[&0];
    assert_eq!(
        g0.iter().map(|m| m.unicast).collect::<Vec<_>>(),
        vec![a("2001:db8:1::10"), a("2001:db8:1::11")]
    );
    assert!(g0.iter().all(|m| m.state == MemberState::Active));
    assert_eq!(p.groups[0].best_distance, Some(1));
    assert_eq!(p.groups[0].placements[2], Placement::NotBest);
    // ports first, then groups, then routes
    let kinds: Vec<&str> = p
        .ops
        .iter()
        .map(|o| match o {
            FibOp::SetTxPort(_) => "port",
            FibOp::PublishGroup { .. } => "group",
            FibOp::SetRoute { .. } => "route",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["port", "port", "port", "group", "group", "route", "route"]
    );
    // member ids unique across groups
    let ids: BTreeSet<u32> = p
        .target
        .groups
        .values()
        .flatten()
        .map(|m| m.member_id)
        .collect();
    assert_eq!(ids.len(), 3);
}

#[test]
fn restart_with_identical_config_is_zero_operations() {
    let caps = Capacities::default();
    let first = plan(&two_groups(), &ports(), &FibState::default(), &caps).unwrap();
    let mut fib = FibState::default();
    apply(&mut fib, &first.ops);
    assert_eq!(fib, first.target);
    // a restarted daemon sees only what the maps hold
    let current = FibState::from(&installed(&fib));
    let again = plan(&two_groups(), &ports(), &current, &caps).unwrap();
    assert_eq!(again.ops, vec![]);
    assert_eq!(again.target, fib);
}

#[test]
fn restart_before_neighbours_resolve_keeps_installed_macs() {
    let caps = Capacities::default();
    let first = plan(&two_groups(), &ports(), &FibState::default(), &caps).unwrap();
    let current = FibState::from(&installed(&first.target));
    let mut groups = two_groups();
    for c in &mut groups[0].candidates {
        if let Reach::Ready {
            ifindex, smac, mtu, ..
        } = c.reach
        {
            c.reach = Reach::Pending { ifindex, smac, mtu };
        }
    }
    let p = plan(&groups, &ports(), &current, &caps).unwrap();
    assert_eq!(p.ops, vec![]);
}

#[test]
fn restart_reuses_ids_from_the_maps_not_from_order() {
    let caps = Capacities::default();
    let first = plan(&two_groups(), &ports(), &FibState::default(), &caps).unwrap();
    let current = FibState::from(&installed(&first.target));
    let mut groups = two_groups();
    groups.reverse();
    groups[1].candidates.reverse();
    let p = plan(&groups, &ports(), &current, &caps).unwrap();
    assert_eq!(p.ops, vec![]);
}

#[test]
fn member_change_republishes_only_its_group() {
    let caps = Capacities::default();
    let first = plan(&two_groups(), &ports(), &FibState::default(), &caps).unwrap();
    let mut groups = two_groups();
    groups[0].candidates[1].admin = AdminState::Draining;
    let p = plan(&groups, &ports(), &first.target, &caps).unwrap();
    assert_eq!(p.ops.len(), 1);
    let FibOp::PublishGroup { group_id, members } = &p.ops[0] else {
        panic!("{:?}", p.ops)
    };
    assert_eq!(*group_id, first.target.routes[&host("2001:db8:ac::1")]);
    let states: Vec<MemberState> = members.iter().map(|m| m.state).collect();
    assert_eq!(states, vec![MemberState::Active, MemberState::Draining]);
    // ids did not move
    let ids = |s: &FibState| {
        s.groups[group_id]
            .iter()
            .map(|m| m.member_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&p.target), ids(&first.target));
}

#[test]
fn added_member_gets_a_fresh_id_and_others_keep_theirs() {
    let caps = Capacities::default();
    let first = plan(&two_groups(), &ports(), &FibState::default(), &caps).unwrap();
    let mut groups = two_groups();
    groups[0]
        .candidates
        .insert(0, cand("2001:db8:1::20", 1, ready(3, 9)));
    let p = plan(&groups, &ports(), &first.target, &caps).unwrap();
    let gid = first.target.routes[&host("2001:db8:ac::1")];
    let before: BTreeSet<u32> = first
        .target
        .groups
        .values()
        .flatten()
        .map(|m| m.member_id)
        .collect();
    let new = p.target.groups[&gid]
        .iter()
        .find(|m| m.unicast == a("2001:db8:1::20"))
        .unwrap();
    assert!(!before.contains(&new.member_id));
    for m in &first.target.groups[&gid] {
        assert!(p.target.groups[&gid].contains(m));
    }
    assert_eq!(p.ops.len(), 1);
}

#[test]
fn new_member_avoids_retired_ids_until_none_else_is_free() {
    let caps = Capacities::default();
    let first = plan(&two_groups(), &ports(), &FibState::default(), &caps).unwrap();
    let used: BTreeSet<u32> = first
        .target
        .groups
        .values()
        .flatten()
        .map(|m| m.member_id)
        .collect();
    // Ids 0..=9 belonged to members that are gone but still have counters.
    let retired: BTreeSet<u32> = (0..10).filter(|i| !used.contains(i)).collect();
    let mut groups = two_groups();
    groups[0]
        .candidates
        .insert(0, cand("2001:db8:1::20", 1, ready(3, 9)));
    let p = super::plan_avoiding(&groups, &ports(), &first.target, &caps, &retired).unwrap();
    let new = p
        .target
        .groups
        .values()
        .flatten()
        .find(|m| m.unicast == a("2001:db8:1::20"))
        .unwrap();
    assert!(!retired.contains(&new.member_id) && !used.contains(&new.member_id));
    // With every other id taken, a retired id is reused rather than failing.
    let small = Capacities {
        member_ids: used.len() as u32 + 1,
        ..caps
    };
    let retired_all: BTreeSet<u32> = (0..small.member_ids)
        .filter(|i| !used.contains(i))
        .collect();
    let p = super::plan_avoiding(&groups, &ports(), &first.target, &small, &retired_all).unwrap();
    assert!(p
        .target
        .groups
        .values()
        .flatten()
        .any(|m| m.unicast == a("2001:db8:1::20")));
}

#[test]
fn unresolved_best_tier_falls_back_then_returns() {
    let caps = Capacities::default();
    let mut groups = two_groups();
    for c in &mut groups[0].candidates[..2] {
        c.reach = Reach::Unreachable {
            ifindex: c.reach.ifindex(),
            smac: SMAC,
            mtu: 1500,
        };
    }
    let p = plan(&groups, &ports(), &FibState::default(), &caps).unwrap();
    let g = &p.target.groups[&p.target.routes[&host("2001:db8:ac::1")]];
    assert_eq!(p.groups[0].best_distance, Some(2));
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].unicast, a("2001:db8:2::10"));

    // one nearest member resolves: back to distance 1, the other one down
    groups[0].candidates[0].reach = ready(3, 1);
    let p2 = plan(&groups, &ports(), &p.target, &caps).unwrap();
    let g = &p2.target.groups[&p2.target.routes[&host("2001:db8:ac::1")]];
    let states: Vec<(Ipv6Addr, MemberState)> = g.iter().map(|m| (m.unicast, m.state)).collect();
    assert!(states.contains(&(a("2001:db8:1::10"), MemberState::Active)));
    assert!(states.contains(&(a("2001:db8:1::11"), MemberState::Down)));
    assert_eq!(states.len(), 2);
}

#[test]
fn nothing_usable_installs_best_tier_down() {
    let caps = Capacities::default();
    let groups = vec![RibGroup {
        also: Default::default(),
        route: host("2001:db8:ac::1"),
        candidates: vec![
            cand(
                "2001:db8:1::10",
                1,
                Reach::Pending {
                    ifindex: 3,
                    smac: SMAC,
                    mtu: 1500,
                },
            ),
            cand(
                "2001:db8:2::10",
                2,
                Reach::Pending {
                    ifindex: 3,
                    smac: SMAC,
                    mtu: 1500,
                },
            ),
        ],
    }];
    let p = plan(&groups, &ports(), &FibState::default(), &caps).unwrap();
    let g = &p.target.groups[&0];
    assert_eq!(g.len(), 1);
    assert_eq!((g[0].state, g[0].dmac), (MemberState::Down, [0; 6]));
}

#[test]
fn removed_route_goes_route_then_group_and_unused_port() {
    let caps = Capacities::default();
    let first = plan(&two_groups(), &ports(), &FibState::default(), &caps).unwrap();
    let mut groups = two_groups();
    groups.remove(0);
    let p = plan(&groups, &[3].into(), &first.target, &caps).unwrap();
    let gid = first.target.routes[&host("2001:db8:ac::1")];
    assert_eq!(
        p.ops,
        vec![
            FibOp::DeleteRoute(host("2001:db8:ac::1")),
            FibOp::DeleteGroup(gid),
            FibOp::DeleteTxPort(4),
            FibOp::DeleteTxPort(5),
        ]
    );
    let mut s = first.target.clone();
    apply(&mut s, &p.ops);
    assert_eq!(s, p.target);
}

#[test]
fn new_ids_never_reuse_installed_ones() {
    // Route A is installed with group 0; the new config drops A and adds B:
    // B must not get group 0 while A's route may still point at it.
    let caps = Capacities::default();
    let a_groups = vec![RibGroup {
        also: Default::default(),
        route: host("2001:db8:ac::a"),
        candidates: vec![cand("2001:db8:1::10", 1, ready(3, 1))],
    }];
    let first = plan(&a_groups, &ports(), &FibState::default(), &caps).unwrap();
    let b_groups = vec![RibGroup {
        also: Default::default(),
        route: host("2001:db8:ac::b"),
        candidates: vec![cand("2001:db8:1::10", 1, ready(3, 1))],
    }];
    let p = plan(&b_groups, &ports(), &first.target, &caps).unwrap();
    assert_ne!(
        p.target.routes[&host("2001:db8:ac::b")],
        first.target.routes[&host("2001:db8:ac::a")]
    );
    let old_ids: BTreeSet<u32> = first
        .target
        .groups
        .values()
        .flatten()
        .map(|m| m.member_id)
        .collect();
    assert!(p
        .target
        .groups
        .values()
        .flatten()
        .all(|m| !old_ids.contains(&m.member_id)));
    let mut s = first.target.clone();
    apply(&mut s, &p.ops);
    assert_eq!(s, p.target);
}

#[test]
fn capacities_bound_ids() {
    let caps = Capacities {
        groups: 1,
        ..Capacities::default()
    };
    assert_eq!(
        plan(&two_groups(), &ports(), &FibState::default(), &caps),
        Err(RibError::GroupIdsExhausted(1))
    );
    let caps = Capacities {
        member_ids: 2,
        ..Capacities::default()
    };
    assert_eq!(
        plan(&two_groups(), &ports(), &FibState::default(), &caps),
        Err(RibError::MemberIdsExhausted(2))
    );
}

#[test]
fn duplicate_candidate_is_not_installed_twice() {
    let groups = vec![RibGroup {
        also: Default::default(),
        route: host("2001:db8:ac::1"),
        candidates: vec![
            cand("2001:db8:1::10", 1, ready(3, 1)),
            cand("2001:db8:1::10", 1, ready(3, 1)),
        ],
    }];
    let p = plan(
        &groups,
        &ports(),
        &FibState::default(),
        &Capacities::default(),
    )
    .unwrap();
    assert_eq!(p.target.groups[&0].len(), 1);
    assert_eq!(p.groups[0].placements[1], Placement::Duplicate);
}

#[test]
fn rollback_is_a_diff_back() {
    let caps = Capacities::default();
    let first = plan(&two_groups(), &ports(), &FibState::default(), &caps).unwrap();
    let mut groups = two_groups();
    groups.remove(1);
    groups[0].candidates[0].weight = 5;
    let p = plan(&groups, &ports(), &first.target, &caps).unwrap();
    // half-applied, then rolled back by diffing toward the old state
    let mut s = first.target.clone();
    apply(&mut s, &p.ops[..p.ops.len() / 2]);
    let back = diff(&first.target, &s);
    apply(&mut s, &back);
    assert_eq!(s, first.target);
}

mod overlays {
    use super::super::overlay::*;
    use super::*;
    use crate::config::{parse, MemberConfig};

    fn cfg() -> crate::config::Config {
        parse(
            "t.toml",
            r#"
[[interface]]
name = "eth1"
[[interface]]
name = "eth2"
[[group]]
address = "2001:db8:ac::1"
[[group.member]]
address = "2001:db8:1::10"
interface = "eth1"
[[group.member]]
address = "2001:db8:1::11"
interface = "eth1"
[[group.member]]
address = "2001:db8:1::11"
interface = "eth2"
"#,
        )
        .unwrap()
    }

    fn addrs(
        o: &Overlays,
        c: &crate::config::Config,
    ) -> Vec<(String, Option<String>, AdminState, Source)> {
        o.effective(c)[0]
            .members
            .iter()
            .map(|m| {
                (
                    m.member.address.to_string(),
                    m.member.interface.clone(),
                    m.member.state,
                    m.source,
                )
            })
            .collect()
    }

    #[test]
    fn add_remove_drain() {
        let c = cfg();
        let g = host("2001:db8:ac::1");
        let mut o = Overlays::default();
        o.add(
            &c,
            g,
            MemberConfig::new(a("2001:db8:1::20"), Some("eth2".into())),
        )
        .unwrap();
        assert!(matches!(
            o.add(
                &c,
                g,
                MemberConfig::new(a("2001:db8:1::20"), Some("eth2".into()))
            ),
            Err(OverlayError::MemberExists { .. })
        ));
        assert!(matches!(
            o.add(
                &c,
                g,
                MemberConfig::new(a("2001:db8:1::21"), Some("eth9".into()))
            ),
            Err(OverlayError::MemberInvalid(_))
        ));
        assert!(matches!(
            o.add(
                &c,
                host("2001:db8:ac::2"),
                MemberConfig::new(a("2001:db8:1::21"), Some("eth1".into()))
            ),
            Err(OverlayError::GroupUnknown(_))
        ));
        o.remove(&c, g, a("2001:db8:1::10"), None).unwrap();
        let err = o
            .set_state(&c, g, a("2001:db8:1::11"), None, AdminState::Draining)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "group 2001:db8:ac::1 has member 2001:db8:1::11 on several interfaces (eth1, eth2): say which"
        );
        o.set_state(
            &c,
            g,
            a("2001:db8:1::11"),
            Some("eth2"),
            AdminState::Draining,
        )
        .unwrap();
        o.set_state(&c, g, a("2001:db8:1::20"), None, AdminState::Draining)
            .unwrap();
        let e = addrs(&o, &c);
        assert_eq!(e.len(), 3);
        assert_eq!(
            e[0],
            (
                "2001:db8:1::11".into(),
                Some("eth1".into()),
                AdminState::Active,
                Source::Config
            )
        );
        assert_eq!(
            e[1],
            (
                "2001:db8:1::11".into(),
                Some("eth2".into()),
                AdminState::Draining,
                Source::Config
            )
        );
        assert_eq!(
            e[2],
            (
                "2001:db8:1::20".into(),
                Some("eth2".into()),
                AdminState::Draining,
                Source::Runtime
            )
        );

        // re-adding a removed config member puts it back, with the new parameters
        let mut m = MemberConfig::new(a("2001:db8:1::10"), Some("eth1".into()));
        m.weight = 7;
        o.add(&c, g, m).unwrap();
        let e = o.effective(&c);
        assert_eq!(
            e[0].members
                .iter()
                .filter(|m| m.member.address == a("2001:db8:1::10"))
                .count(),
            1
        );
        o.remove(&c, g, a("2001:db8:1::10"), None).unwrap();
        assert_eq!(addrs(&o, &c).len(), 3);

        // the overlays survive a JSON round trip (the state file)
        let json = serde_json::to_string(&o).unwrap();
        assert_eq!(serde_json::from_str::<Overlays>(&json).unwrap(), o);
    }

    #[test]
    fn reload_keeps_what_still_applies() {
        let c = cfg();
        let g = host("2001:db8:ac::1");
        let mut o = Overlays::default();
        o.add(
            &c,
            g,
            MemberConfig::new(a("2001:db8:1::20"), Some("eth2".into())),
        )
        .unwrap();
        o.remove(&c, g, a("2001:db8:1::10"), None).unwrap();
        o.set_state(
            &c,
            g,
            a("2001:db8:1::11"),
            Some("eth1"),
            AdminState::Draining,
        )
        .unwrap();
        let before = o.clone();
        assert!(o.retain_valid(&c).is_empty());
        assert_eq!(o, before);

        // new config: eth2 gone, ::10 gone
        let c2 = parse(
            "t.toml",
            "[[interface]]\nname = \"eth1\"\n[[group]]\naddress = \"2001:db8:ac::1\"\n\
             [[group.member]]\naddress = \"2001:db8:1::11\"\ninterface = \"eth1\"\n",
        )
        .unwrap();
        let dropped = o.retain_valid(&c2);
        assert_eq!(dropped.len(), 2, "{dropped:?}");
        assert!(
            dropped[0].contains("2001:db8:1::10") && dropped[0].contains("no longer in the config")
        );
        assert!(dropped[1].contains("2001:db8:1::20") && dropped[1].contains("eth2"));
        assert_eq!(o.states.len(), 1);
    }
}

#[test]
fn addresses_share_one_group() {
    let caps = Capacities::default();
    let also: Vec<Route> = (2..=4)
        .map(|i| host(&format!("2001:db8:ac::{i}")))
        .collect();
    let mut groups = two_groups();
    groups[0].also = also.clone().into();
    let p = plan(&groups, &ports(), &FibState::default(), &caps).unwrap();
    let gid = p.target.routes[&host("2001:db8:ac::1")];
    for r in &also {
        assert_eq!(p.target.routes.get(r), Some(&gid), "{r}");
    }
    assert_eq!(p.target.groups.len(), 2, "one FIB group per config group");
    assert_eq!(p.target.routes.len(), 5);

    // Dropping one address deletes just its route; nothing is republished.
    let current = FibState::from(&installed(&p.target));
    groups[0].also = also[..2].to_vec().into();
    let p2 = plan(&groups, &ports(), &current, &caps).unwrap();
    assert_eq!(p2.ops, vec![FibOp::DeleteRoute(also[2])]);
}
