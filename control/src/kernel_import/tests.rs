use super::*;

const BIRD: u8 = 12;
const ZEBRA: u8 = 11;

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn cfg(protocols: &[u8], prefixes: &[&str], max_routes: usize) -> ImportConfig {
    ImportConfig {
        protocols: protocols.iter().copied().collect(),
        table: MAIN_TABLE,
        prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
        limit: LimitConfig::new(max_routes, max_routes, 75),
    }
}

fn importer(c: ImportConfig) -> Importer {
    let mut i = Importer::new(c);
    i.set_interfaces(BTreeMap::from([
        (3, "r-m".to_string()),
        (4, "r-n".to_string()),
    ]));
    // As the daemon starts it: interfaces, then the table read once.
    i.dump(Vec::new());
    i
}

fn hop(gw: &str, ifindex: u32, weight: u16) -> NextHop {
    NextHop {
        gateway: Some(a(gw)),
        ifindex,
        weight,
    }
}

fn route(dst: &str, protocol: u8, metric: u32, hops: Vec<NextHop>) -> KernelRoute {
    let (dst, plen) = match dst.split_once('/') {
        Some((d, l)) => (a(d), l.parse().unwrap()),
        None => (a(dst), 128),
    };
    KernelRoute {
        table: MAIN_TABLE,
        protocol,
        unicast: true,
        dst,
        plen,
        metric,
        hops,
    }
}

fn new(r: KernelRoute) -> RouteMsg {
    RouteMsg::New {
        route: r,
        replace: false,
    }
}

fn replace(r: KernelRoute) -> RouteMsg {
    RouteMsg::New {
        route: r,
        replace: true,
    }
}

fn del(r: KernelRoute) -> RouteMsg {
    RouteMsg::Del { route: r }
}

/// (gateway, interface, weight, distance) of each member.
fn summary(m: &[MemberConfig]) -> Vec<(Ipv6Addr, String, u16, u32)> {
    m.iter()
        .map(|m| {
            assert_eq!(m.next_hop, Some(m.address));
            assert_eq!(m.action, Action::Rewrite);
            (
                m.address,
                m.interface.clone().unwrap(),
                m.weight,
                m.distance,
            )
        })
        .collect()
}

const ANY: &str = "2001:db8:ac::1";

#[test]
fn a_multipath_route_gives_one_member_per_next_hop_with_its_weight() {
    let mut i = importer(cfg(&[BIRD], &[], 100));
    i.handle(new(route(
        ANY,
        BIRD,
        32,
        vec![hop("2001:db8:1::10", 3, 1), hop("2001:db8:1::11", 3, 3)],
    )));
    let ch = i.take_changes();
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].0, a(ANY));
    assert_eq!(
        summary(&ch[0].1),
        vec![
            (a("2001:db8:1::10"), "r-m".into(), 100, 32),
            (a("2001:db8:1::11"), "r-m".into(), 300, 32),
        ]
    );
    // Nothing changed, nothing to say.
    i.handle(new(route(ANY, BIRD, 32, vec![hop("2001:db8:1::10", 3, 1)])));
    assert!(i.take_changes().is_empty());
    assert_eq!(i.imported(), 1);
}

#[test]
fn birds_add_then_append_builds_the_set_and_a_replace_shrinks_it() {
    let mut i = importer(cfg(&[BIRD], &[], 100));
    i.handle(new(route(ANY, BIRD, 32, vec![hop("2001:db8:1::10", 3, 1)])));
    i.handle(new(route(ANY, BIRD, 32, vec![hop("2001:db8:1::11", 3, 1)])));
    let ch = i.take_changes();
    assert_eq!(ch[0].1.len(), 2);
    i.handle(replace(route(
        ANY,
        BIRD,
        32,
        vec![hop("2001:db8:1::11", 3, 1)],
    )));
    let ch = i.take_changes();
    assert_eq!(
        summary(&ch[0].1),
        vec![(a("2001:db8:1::11"), "r-m".into(), 100, 32)]
    );
}

#[test]
fn deleting_one_next_hop_withdraws_only_that_member() {
    let mut i = importer(cfg(&[BIRD], &[], 100));
    i.handle(new(route(
        ANY,
        BIRD,
        32,
        vec![hop("2001:db8:1::10", 3, 1), hop("2001:db8:1::11", 3, 1)],
    )));
    i.take_changes();
    i.handle(del(route(ANY, BIRD, 32, vec![hop("2001:db8:1::10", 3, 1)])));
    let ch = i.take_changes();
    assert_eq!(
        summary(&ch[0].1),
        vec![(a("2001:db8:1::11"), "r-m".into(), 100, 32)]
    );
    // The whole route (no next hop named, or all of them): gone.
    i.handle(del(route(ANY, BIRD, 32, vec![])));
    assert_eq!(i.take_changes(), vec![(a(ANY), vec![])]);
    assert_eq!(i.imported(), 0);
}

#[test]
fn delete_and_add_between_two_takes_are_one_change_or_none() {
    // BIRD updates an IPv6 route by deleting it and adding the new one:
    // taken together, only the difference reaches the RIB.
    let mut i = importer(cfg(&[BIRD], &[], 100));
    let both = vec![hop("2001:db8:1::10", 3, 1), hop("2001:db8:1::11", 3, 1)];
    i.handle(new(route(ANY, BIRD, 32, both.clone())));
    i.take_changes();
    i.handle(del(route(ANY, BIRD, 32, both.clone())));
    i.handle(new(route(ANY, BIRD, 32, both)));
    assert!(i.take_changes().is_empty());
    i.handle(del(route(ANY, BIRD, 32, vec![])));
    i.handle(new(route(ANY, BIRD, 32, vec![hop("2001:db8:1::11", 3, 1)])));
    let ch = i.take_changes();
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].1.len(), 1);
}

#[test]
fn the_smallest_metric_wins_and_the_next_takes_over() {
    let mut i = importer(cfg(&[BIRD, ZEBRA], &[], 100));
    i.handle(new(route(ANY, ZEBRA, 20, vec![hop("fe80::1", 4, 1)])));
    i.handle(new(route(ANY, BIRD, 32, vec![hop("2001:db8:1::10", 3, 1)])));
    let ch = i.take_changes();
    assert_eq!(
        summary(&ch[0].1),
        vec![(a("fe80::1"), "r-n".into(), 100, 20)]
    );
    i.handle(del(route(ANY, ZEBRA, 20, vec![])));
    let ch = i.take_changes();
    assert_eq!(
        summary(&ch[0].1),
        vec![(a("2001:db8:1::10"), "r-m".into(), 100, 32)]
    );
}

#[test]
fn a_replace_by_a_protocol_not_imported_removes_ours() {
    let mut i = importer(cfg(&[BIRD], &[], 100));
    i.handle(new(route(ANY, BIRD, 32, vec![hop("2001:db8:1::10", 3, 1)])));
    i.take_changes();
    i.handle(replace(route(
        ANY,
        4,
        32,
        vec![hop("2001:db8:1::99", 3, 1)],
    )));
    assert_eq!(i.take_changes(), vec![(a(ANY), vec![])]);
    // Another metric is another route: a replace there leaves ours alone.
    i.handle(new(route(ANY, BIRD, 32, vec![hop("2001:db8:1::10", 3, 1)])));
    i.take_changes();
    i.handle(replace(route(
        ANY,
        4,
        1024,
        vec![hop("2001:db8:1::99", 3, 1)],
    )));
    assert!(i.take_changes().is_empty());
}

#[test]
fn other_tables_protocols_and_our_own_routes_are_ignored() {
    let mut i = importer(cfg(&[BIRD, KERNEL_PROTO], &[], 100));
    let mut other_table = route(ANY, BIRD, 32, vec![hop("2001:db8:1::10", 3, 1)]);
    other_table.table = 100;
    i.handle(new(other_table));
    i.handle(new(route(
        ANY,
        ZEBRA,
        32,
        vec![hop("2001:db8:1::10", 3, 1)],
    )));
    i.handle(new(route(
        ANY,
        KERNEL_PROTO,
        32,
        vec![hop("2001:db8:1::10", 3, 1)],
    )));
    assert!(i.take_changes().is_empty());
    assert_eq!(i.counters().messages, 3);
    assert_eq!(i.counters().matched, 0);
    assert!(i.counters().refused.is_empty());
}

#[test]
fn refusals_are_counted_by_reason_and_logged() {
    let mut i = importer(cfg(&[BIRD], &["2001:db8:ac::/48"], 100));
    i.handle(new(route(
        "2001:db8:ac::/64",
        BIRD,
        32,
        vec![hop("2001:db8:1::10", 3, 1)],
    )));
    i.handle(new(route(
        "2001:db8:ad::/64",
        BIRD,
        32,
        vec![hop("2001:db8:1::10", 3, 1)],
    )));
    i.handle(new(route(
        "2001:db8:ff::1",
        BIRD,
        32,
        vec![hop("2001:db8:1::10", 3, 1)],
    )));
    let mut unreachable = route(ANY, BIRD, 32, vec![]);
    unreachable.unicast = false;
    i.handle(new(unreachable));
    i.handle(new(route(
        ANY,
        BIRD,
        32,
        vec![
            NextHop {
                gateway: None,
                ifindex: 3,
                weight: 1,
            },
            hop("2001:db8:1::10", 0, 1),
            hop("2001:db8:1::11", 9, 1),
            hop("2001:db8:1::12", 3, 1),
        ],
    )));
    let refused = &i.counters().refused;
    assert_eq!(refused.get(&Refusal::NotHostRoute), Some(&2));
    assert_eq!(refused.get(&Refusal::OutsidePrefixes), Some(&1));
    assert_eq!(refused.get(&Refusal::NotUnicast), Some(&1));
    assert_eq!(refused.get(&Refusal::NoGateway), Some(&1));
    assert_eq!(refused.get(&Refusal::NoInterface), Some(&1));
    assert_eq!(refused.get(&Refusal::InterfaceNotListed), Some(&1));
    // Prefixes that are no candidates are logged once, not per route.
    let ev = i.take_events();
    let not_host = ev
        .iter()
        .filter(|e| {
            matches!(
                e,
                ImportEvent::Refused {
                    why: Refusal::NotHostRoute,
                    ..
                }
            )
        })
        .count();
    assert_eq!(not_host, 1);
    assert_eq!(ev.len(), 6, "{ev:?}");
    // The good next hop of the mixed route is imported.
    let ch = i.take_changes();
    assert_eq!(
        summary(&ch[0].1),
        vec![(a("2001:db8:1::12"), "r-m".into(), 100, 32)]
    );
}

#[test]
fn at_most_32_next_hops() {
    let mut i = importer(cfg(&[BIRD], &[], 100));
    let hops = (1..=40)
        .map(|n| hop(&format!("2001:db8:1::{n:x}"), 3, 1))
        .collect();
    i.handle(new(route(ANY, BIRD, 32, hops)));
    assert_eq!(i.take_changes()[0].1.len(), MAX_MEMBERS);
    assert_eq!(
        i.counters().refused.get(&Refusal::TooManyNextHops),
        Some(&8)
    );
}

#[test]
fn the_route_limit_refuses_new_addresses_and_a_dump_retries_them() {
    let mut i = importer(cfg(&[BIRD], &[], 2));
    for n in 1..=3 {
        i.handle(new(route(
            &format!("2001:db8:ac::{n}"),
            BIRD,
            32,
            vec![hop("2001:db8:1::10", 3, 1)],
        )));
    }
    assert_eq!(i.take_changes().len(), 2);
    assert_eq!(i.counters().refused.get(&Refusal::RouteLimit), Some(&1));
    assert!(i
        .take_events()
        .iter()
        .any(|e| matches!(e, ImportEvent::Limit(LimitEvent::Reached { .. }))));
    // A held address's changes are not new: taken.
    i.handle(new(route(
        "2001:db8:ac::1",
        BIRD,
        32,
        vec![hop("2001:db8:1::11", 3, 1)],
    )));
    assert_eq!(i.take_changes()[0].1.len(), 2);
    assert!(!i.wants_dump());
    // Room again: the table is read again, the refused one fits now, and
    // those held before keep their place.
    i.handle(del(route("2001:db8:ac::2", BIRD, 32, vec![])));
    assert!(i.wants_dump());
    i.dump(vec![
        route(
            "2001:db8:ac::3",
            BIRD,
            32,
            vec![hop("2001:db8:1::10", 3, 1)],
        ),
        route(
            "2001:db8:ac::1",
            BIRD,
            32,
            vec![hop("2001:db8:1::10", 3, 1), hop("2001:db8:1::11", 3, 1)],
        ),
    ]);
    assert!(!i.wants_dump());
    let ch = i.take_changes();
    let addrs: Vec<Ipv6Addr> = ch.iter().map(|c| c.0).collect();
    // ::1 unchanged (not reported), ::2 gone, ::3 new.
    assert_eq!(addrs, vec![a("2001:db8:ac::2"), a("2001:db8:ac::3")]);
    assert!(ch[0].1.is_empty());
}

#[test]
fn a_dump_replaces_what_was_held() {
    let mut i = importer(cfg(&[BIRD], &[], 100));
    i.handle(new(route(ANY, BIRD, 32, vec![hop("2001:db8:1::10", 3, 1)])));
    i.take_changes();
    i.dump(vec![route(
        "2001:db8:ac::2",
        BIRD,
        32,
        vec![hop("2001:db8:1::10", 3, 1)],
    )]);
    let ch = i.take_changes();
    assert_eq!(ch.len(), 2);
    assert_eq!(ch[0], (a(ANY), vec![]));
    assert_eq!(ch[1].0, a("2001:db8:ac::2"));
}

#[test]
fn interfaces_name_the_members_and_their_change_asks_for_a_dump() {
    let mut i = importer(cfg(&[BIRD], &[], 100));
    i.handle(new(route(
        ANY,
        BIRD,
        32,
        vec![hop("2001:db8:1::10", 3, 1), hop("2001:db8:2::10", 7, 1)],
    )));
    assert_eq!(i.take_changes()[0].1.len(), 1);
    i.set_interfaces(BTreeMap::from([
        (3, "r-m".to_string()),
        (7, "r-x".to_string()),
    ]));
    assert!(i.wants_dump());
    i.dump(vec![route(
        ANY,
        BIRD,
        32,
        vec![hop("2001:db8:1::10", 3, 1), hop("2001:db8:2::10", 7, 1)],
    )]);
    let ch = i.take_changes();
    assert_eq!(ch[0].1.len(), 2);
    assert_eq!(ch[0].1[1].interface.as_deref(), Some("r-x"));
}
