//! Simulated-clock tests of whole AOSPF networks.

use std::time::Duration;

use super::sim::*;
use crate::NetworkType;

#[test]
fn two_routers_point_to_point_reach_full_and_route() {
    let mut net = Net::new(2);
    net.link(&[0, 1], NetworkType::PointToPoint, 10);
    net.start();
    net.run(Duration::from_secs(10));
    assert_eq!(net.state(0, 1).as_deref(), Some("Full"));
    assert_eq!(net.state(1, 0).as_deref(), Some("Full"));
    assert_eq!(net.hops(0, 1), vec![(ll(1, 1), 1)]);
    assert_eq!(net.hops(1, 0), vec![(ll(0, 1), 1)]);
}

#[test]
fn broadcast_link_elects_the_highest_router_id() {
    let mut net = Net::new(3);
    net.link(&[0, 1, 2], NetworkType::Broadcast, 10);
    net.start();
    net.run(Duration::from_secs(15));
    let v = net.routers[0].core.view(net.clock.now());
    assert_eq!(v.interfaces[0].dr, rid(2), "{:?}", v.interfaces);
    assert_eq!(v.interfaces[0].bdr, rid(1));
    for r in 0..3 {
        for o in 0..3 {
            if r != o {
                assert_eq!(net.state(r, o).as_deref(), Some("Full"), "{r} -> {o}");
                assert_eq!(net.hops(r, o), vec![(ll(o, 1), 1)], "{r} -> {o}");
            }
        }
    }
}

/// A line 0 - 1 - ... - n-1 of point-to-point links.
fn line(n: usize) -> Net {
    let mut net = Net::new(n);
    for i in 0..n - 1 {
        net.link(&[i, i + 1], NetworkType::PointToPoint, 10);
    }
    net.start();
    net
}

#[test]
fn line_of_ten_routes_end_to_end() {
    let mut net = line(10);
    net.run(Duration::from_secs(20));
    assert!(net.all_full());
    // 0 reaches 9 through 1; 9 reaches 0 through 8.
    assert_eq!(net.hops(0, 9), vec![(ll(1, 1), 1)]);
    assert_eq!(net.hops(9, 0), vec![(ll(8, 2), 1)]);
    let v = net.routers[0].core.view(net.clock.now());
    let r = v.routes.iter().find(|r| r.prefix == lo(9)).unwrap();
    assert_eq!(r.cost, 90);
}

#[test]
fn ring_of_ten_splits_to_the_opposite_router() {
    let mut net = Net::new(10);
    for i in 0..10 {
        net.link(&[i, (i + 1) % 10], NetworkType::PointToPoint, 10);
    }
    net.start();
    net.run(Duration::from_secs(20));
    // Router 5 is 5 hops away both ways round.
    let mut h = net.hops(0, 5);
    h.sort();
    assert_eq!(h.len(), 2, "{h:?}");
    // Cut one link of the ring: everything goes the other way.
    net.links[0].up = false;
    net.run(Duration::from_secs(10));
    assert_eq!(net.hops(0, 5).len(), 1);
    assert_eq!(net.hops(0, 1).len(), 1);
    let v = net.routers[0].core.view(net.clock.now());
    let r = v.routes.iter().find(|r| r.prefix == lo(1)).unwrap();
    assert_eq!(r.cost, 90, "0 reaches 1 the long way round");
}

/// 0 -> {1, 2} -> 3, equal costs; 3 and a second member 4 behind 2 serve
/// the anycast address.
#[test]
fn anycast_keeps_every_equal_cost_originator_and_falls_back() {
    let mut net = Net::new(5);
    net.link(&[0, 1], NetworkType::PointToPoint, 10);
    net.link(&[0, 2], NetworkType::PointToPoint, 10);
    net.link(&[1, 3], NetworkType::PointToPoint, 10);
    net.link(&[2, 4], NetworkType::PointToPoint, 10);
    net.start();
    let now = net.clock.now();
    for m in [3, 4] {
        net.routers[m]
            .core
            .set_origination(now, vec![host(lo(m), 0, false), host(ANYCAST, 5, true)]);
    }
    net.run(Duration::from_secs(20));
    let rib = &net.routers[0].rib[&ANYCAST];
    assert_eq!(
        rib.keys().copied().collect::<Vec<_>>(),
        vec![(ll(1, 1), 1), (ll(2, 1), 2)],
        "both originators at cost 25"
    );
    assert!(rib.values().all(|m| *m == 25), "{rib:?}");
    // Not in the kernel: it is an anycast group's members.
    assert!(!net.routers[0].kernel.contains_key(&(ANYCAST, 128)));
    // A plain router in between carries it as an ordinary host route, and
    // the view says who originates it.
    let v = net.routers[0].core.view(net.clock.now());
    let r = v.routes.iter().find(|r| r.prefix == ANYCAST).unwrap();
    assert!(r.anycast);
    assert_eq!(r.originators, vec![rid(3), rid(4)]);
    // A worse member metric at 4: only 3 is left.
    let now = net.clock.now();
    net.routers[4]
        .core
        .set_origination(now, vec![host(lo(4), 0, false), host(ANYCAST, 9, true)]);
    net.run(Duration::from_secs(10));
    let rib = &net.routers[0].rib[&ANYCAST];
    assert_eq!(rib.keys().copied().collect::<Vec<_>>(), vec![(ll(1, 1), 1)]);
    // 3 withdraws: the next cost, 4, takes over.
    let now = net.clock.now();
    net.routers[3]
        .core
        .set_origination(now, vec![host(lo(3), 0, false)]);
    net.run(Duration::from_secs(10));
    let rib = &net.routers[0].rib[&ANYCAST];
    assert_eq!(rib.keys().copied().collect::<Vec<_>>(), vec![(ll(2, 1), 2)]);
    assert_eq!(rib[&(ll(2, 1), 2)], 29);
}

#[test]
fn dr_failure_moves_the_dr_to_the_backup() {
    let mut net = Net::new(4);
    net.link(&[0, 1, 2, 3], NetworkType::Broadcast, 10);
    net.start();
    net.run(Duration::from_secs(15));
    let dr = |net: &Net, r: usize| net.routers[r].core.view(net.clock.now()).interfaces[0].dr;
    assert_eq!(dr(&net, 0), rid(3));
    net.crash(3);
    net.run(Duration::from_secs(10));
    assert_eq!(dr(&net, 0), rid(2), "the BDR took over");
    for r in 0..3 {
        for o in 0..3 {
            if r != o {
                assert_eq!(net.state(r, o).as_deref(), Some("Full"), "{r} -> {o}");
            }
        }
        assert!(net.hops(r, 3).is_empty(), "3's loopback is gone at {r}");
    }
}

#[test]
fn a_router_restarting_with_its_lsas_still_in_the_database() {
    let mut net = line(3);
    net.run(Duration::from_secs(15));
    let seq_before = own_seq(&net, 2);
    net.crash(2);
    net.run(Duration::from_secs(1));
    // Back before the dead interval: neighbours still hold its LSAs with
    // a higher sequence number than a fresh start uses.
    net.restart(2);
    net.run(Duration::from_secs(15));
    assert_eq!(net.state(1, 2).as_deref(), Some("Full"));
    assert_eq!(net.hops(0, 2), vec![(ll(1, 1), 1)]);
    let seq_after = own_seq(&net, 2);
    assert!(seq_after > seq_before, "{seq_after:#x} > {seq_before:#x}");
    // Everyone holds the same instance of 2's Router-LSA.
    let at0 = router_lsa_seq(&net, 0, 2);
    assert_eq!(at0, Some(seq_after));
}

fn router_lsa_seq(net: &Net, at: usize, of: usize) -> Option<i32> {
    let v = net.routers[at].core.view(net.clock.now());
    v.database
        .iter()
        .find(|l| l.ls_type == "Router" && l.adv_router == rid(of))
        .map(|l| u32::from_str_radix(l.seq.trim_start_matches("0x"), 16).unwrap() as i32)
}

fn own_seq(net: &Net, r: usize) -> i32 {
    router_lsa_seq(net, r, r).unwrap()
}

#[test]
fn clean_shutdown_flushes_its_lsas_at_once() {
    let mut net = line(3);
    net.run(Duration::from_secs(15));
    assert!(!net.hops(0, 2).is_empty());
    let now = net.clock.now();
    net.routers[2].core.shutdown(now);
    net.run(Duration::from_millis(200));
    assert!(
        net.hops(0, 2).is_empty(),
        "gone within SPF delay, not the dead interval"
    );
    assert!(net.routers[2].kernel.is_empty(), "its own routes removed");
    net.run(Duration::from_secs(3));
    assert!(net.routers[2].core.poll_timeout().is_none());
    net.crash(2);
    // The flushed LSAs leave the neighbours' databases once acknowledged.
    net.run(Duration::from_secs(10));
    assert_eq!(router_lsa_seq(&net, 0, 2), None);
}

#[test]
fn lsas_are_refreshed_and_never_age_out() {
    let mut net = line(2);
    net.run(Duration::from_secs(10));
    let s0 = own_seq(&net, 0);
    net.run(Duration::from_secs(4000));
    assert_eq!(net.state(0, 1).as_deref(), Some("Full"));
    assert!(own_seq(&net, 0) >= s0 + 2, "refreshed twice in 4000 s");
    assert_eq!(net.hops(1, 0), vec![(ll(0, 1), 1)]);
    let v = net.routers[1].core.view(net.clock.now());
    assert!(
        v.database.iter().all(|l| l.age < 1800 + 60),
        "{:?}",
        v.database
    );
}

#[test]
fn a_crashed_neighbours_lsas_age_out_at_max_age() {
    let mut net = line(3);
    net.run(Duration::from_secs(15));
    net.crash(2);
    net.run(Duration::from_secs(10));
    assert!(net.hops(0, 2).is_empty());
    // Its LSAs stay in the database (unreachable) until MaxAge.
    assert!(router_lsa_seq(&net, 0, 2).is_some());
    net.run(Duration::from_secs(3700));
    assert_eq!(router_lsa_seq(&net, 0, 2), None, "flushed at MaxAge");
    assert_eq!(net.state(0, 1).as_deref(), Some("Full"));
}

#[test]
fn point_to_point_mtu_mismatch_stays_in_exstart() {
    let mut net = Net::new(2);
    net.link(&[0, 1], NetworkType::PointToPoint, 10);
    net.cfg_mut(1, 1).mtu = 9000;
    net.start();
    net.run(Duration::from_secs(20));
    assert_eq!(net.state(0, 1).as_deref(), Some("ExStart"));
    let v = net.routers[0].core.view(net.clock.now());
    assert!(v.counters.mtu_mismatch > 0);
}

#[test]
fn clean_shutdown_ends_even_when_nobody_acknowledges() {
    let mut net = line(2);
    net.run(Duration::from_secs(10));
    net.crash(1);
    let now = net.clock.now();
    net.routers[0].core.shutdown(now);
    net.run(Duration::from_secs(3));
    assert!(
        net.routers[0].core.poll_timeout().is_none(),
        "done after the 2 s grace, flushes unacknowledged"
    );
}

fn spf_runs(net: &Net, r: usize) -> u64 {
    net.routers[r].core.view(net.clock.now()).counters.spf_runs
}

/// A member joining or leaving changes only an Intra-Area-Prefix-LSA: each
/// router routes it over the tree it has the moment the LSA arrives (no
/// SPF delay, no SPF run); a second change within spf_hold waits for a
/// full run.
#[test]
fn a_prefix_change_is_routed_at_once_without_spf() {
    let mut net = line(10);
    net.run(Duration::from_secs(20));
    let runs = spf_runs(&net, 9);
    let now = net.clock.now();
    net.routers[0]
        .core
        .set_origination(now, vec![host(lo(0), 0, false), host(ANYCAST, 3, true)]);
    // Delivered with no simulated time passing: no SPF timer can have run.
    net.pump();
    let rib = &net.routers[9].rib[&ANYCAST];
    assert_eq!(rib.keys().copied().collect::<Vec<_>>(), vec![(ll(8, 2), 1)]);
    assert_eq!(rib[&(ll(8, 2), 1)], 93);
    let v = net.routers[9].core.view(net.clock.now());
    assert_eq!(v.counters.prefix_updates, 1);
    assert_eq!(v.counters.spf_runs, runs);
    assert!(net.routers[9].core.poll_timeout().is_some());

    // Withdrawn at once too, once spf_hold (50 ms) has passed.
    net.run(Duration::from_secs(6));
    let now = net.clock.now();
    net.routers[0]
        .core
        .set_origination(now, vec![host(lo(0), 0, false)]);
    net.pump();
    assert!(!net.routers[9].rib.contains_key(&ANYCAST));
    assert_eq!(spf_runs(&net, 9), runs);

    // Two changes within spf_hold (50 ms): the first at once, the
    // second by a full SPF after the hold.
    net.run(Duration::from_secs(6));
    let now = net.clock.now();
    net.routers[0]
        .core
        .set_origination(now, vec![host(lo(0), 0, false), host(ANYCAST, 3, true)]);
    net.pump();
    assert_eq!(net.routers[9].rib[&ANYCAST][&(ll(8, 2), 1)], 93);
    net.run(Duration::from_millis(10));
    let now = net.clock.now();
    net.routers[1]
        .core
        .set_origination(now, vec![host(lo(1), 0, false), host(ANYCAST, 3, true)]);
    net.pump();
    assert_eq!(
        net.routers[9].rib[&ANYCAST][&(ll(8, 2), 1)],
        93,
        "held down"
    );
    assert_eq!(spf_runs(&net, 9), runs);
    net.run(Duration::from_millis(200));
    assert_eq!(net.routers[9].rib[&ANYCAST][&(ll(8, 2), 1)], 83);
    assert_eq!(spf_runs(&net, 9), runs + 1);
}
