//! Many cores on a simulated clock: convergence, anycast members, failures.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::time::Duration;

use super::sim::{ll, Net};
use crate::packet::{Entry, Packet, METRIC_INFINITY};
use crate::{Config, SplitHorizon};

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

const ANY: &str = "2001:db8:a6::1";
const NET: &str = "2001:db8:100::";

/// 10 routers in a line; a unicast /48 at router 0; members of one
/// anycast address at both ends.
#[test]
fn line_of_ten() {
    let mut net = Net::new(10, |_| Config::default());
    let links: Vec<usize> = (0..9).map(|i| net.link(&[i, i + 1])).collect();
    let now = net.now();
    net.routers[0]
        .core
        .set_local_unicast(now, a(NET), 48, 1, 0)
        .unwrap();
    net.routers[0]
        .core
        .set_local_anycast(now, a(ANY), 1)
        .unwrap();
    net.routers[9]
        .core
        .set_local_anycast(now, a(ANY), 1)
        .unwrap();
    // Triggered updates alone carry it down the line: 9 hops of at most
    // 5 s hold-down each, well before the first periodic update matters.
    let took = net.run_until_cond(Duration::from_secs(60), |n| {
        (1..10).all(|k| n.metric(k, a(NET), 48) == Some(1 + k as u8))
    });
    assert!(took <= Duration::from_secs(50), "{took:?}");
    net.run_for(Duration::from_secs(300));
    for k in 1..10 {
        let up = links[k - 1];
        let kr = net.routers[k].kernel[&(a(NET), 48)];
        assert_eq!(
            (kr.next_hop, kr.ifindex, kr.metric),
            (
                ll(k - 1, net.ifindex(up, k - 1)),
                net.ifindex(up, k),
                1 + k as u8
            )
        );
    }
    for k in 0..10 {
        let members = net.members(k, a(ANY));
        match k {
            0 | 9 => assert!(
                members.is_empty(),
                "local member is ARD's to report: {members:?}"
            ),
            _ => {
                let (toward, link) = if k <= 4 {
                    (k - 1, links[k - 1])
                } else {
                    (k + 1, links[k])
                };
                let d = 1 + k.min(9 - k) as u32;
                let want = BTreeSet::from([(
                    ll(toward, net.ifindex(link, toward)),
                    net.ifindex(link, k),
                    d,
                )]);
                assert_eq!(members, want, "router {k}");
            }
        }
    }
    // Nothing anycast leaks into the kernel, nothing unicast into the RIB.
    assert!(net.routers[5].kernel.keys().all(|(p, _)| *p != a(ANY)));
    assert!(net.routers[5].rib.keys().all(|p| *p == a(ANY)));
}

/// A ring of 6 with one member at router 0: the router opposite has two
/// equal paths and installs both.
#[test]
fn ring_opposite_router_has_both_branches() {
    let mut net = Net::new(6, |_| Config::default());
    let links: Vec<usize> = (0..6).map(|i| net.link(&[i, (i + 1) % 6])).collect();
    let now = net.now();
    net.routers[0]
        .core
        .set_local_anycast(now, a(ANY), 1)
        .unwrap();
    net.run_for(Duration::from_secs(120));
    let m3 = net.members(3, a(ANY));
    let want = BTreeSet::from([
        (ll(2, net.ifindex(links[2], 2)), net.ifindex(links[2], 3), 4),
        (ll(4, net.ifindex(links[3], 4)), net.ifindex(links[3], 3), 4),
    ]);
    assert_eq!(m3, want);
    assert_eq!(net.members(1, a(ANY)).len(), 1);
    assert_eq!(net.members(5, a(ANY)).len(), 1);
    // Cut 0-1: router 3 keeps only the branch through 4, and the loop
    // 1-2-3 does not count to infinity for long.
    net.links[links[0]].up = false;
    net.run_for(Duration::from_secs(400));
    let m3 = net.members(3, a(ANY));
    assert_eq!(
        m3,
        BTreeSet::from([(ll(4, net.ifindex(links[3], 4)), net.ifindex(links[3], 3), 4)])
    );
    assert_eq!(
        net.members(1, a(ANY))
            .iter()
            .map(|m| m.2)
            .collect::<Vec<_>>(),
        vec![6]
    );
}

/// Two members on two branches at equal distance: both next hops are in
/// the RIB; one leaves and only the other stays; it comes back.
#[test]
fn equal_cost_members_on_two_branches() {
    let mut net = Net::new(3, |_| Config::default());
    let l1 = net.link(&[0, 1]);
    let l2 = net.link(&[0, 2]);
    let now = net.now();
    net.routers[1]
        .core
        .set_local_anycast(now, a(ANY), 1)
        .unwrap();
    net.routers[2]
        .core
        .set_local_anycast(now, a(ANY), 1)
        .unwrap();
    net.run_for(Duration::from_secs(10));
    let both = BTreeSet::from([
        (ll(1, net.ifindex(l1, 1)), net.ifindex(l1, 0), 2),
        (ll(2, net.ifindex(l2, 2)), net.ifindex(l2, 0), 2),
    ]);
    assert_eq!(net.members(0, a(ANY)), both);
    // Leave: withdrawn by a triggered update (poison), not after 180 s.
    let now = net.now();
    net.routers[2]
        .core
        .remove_local_anycast(now, a(ANY))
        .unwrap();
    let took = net.run_until_cond(Duration::from_secs(10), |n| n.members(0, a(ANY)).len() == 1);
    assert!(took <= Duration::from_secs(5), "{took:?}");
    // Join again at a better metric: it becomes the only member.
    let now = net.now();
    net.routers[2]
        .core
        .set_local_anycast(now, a(ANY), 1)
        .unwrap();
    net.routers[1]
        .core
        .set_local_anycast(now, a(ANY), 3)
        .unwrap();
    net.run_for(Duration::from_secs(10));
    assert_eq!(
        net.members(0, a(ANY)),
        BTreeSet::from([(ll(2, net.ifindex(l2, 2)), net.ifindex(l2, 0), 2)])
    );
}

/// A member router that goes silent: its path expires after the timeout,
/// the route is announced at 16 and garbage-collected 120 s later.
#[test]
fn member_expiry_timeout_and_garbage_collection() {
    let mut net = Net::new(3, |_| Config::default());
    let l01 = net.link(&[0, 1]);
    let l12 = net.link(&[1, 2]);
    let now = net.now();
    net.routers[2]
        .core
        .set_local_anycast(now, a(ANY), 1)
        .unwrap();
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.members(0, a(ANY)).len(), 1);
    assert_eq!(net.metric(0, a(ANY), 128), Some(3));
    // Router 2's link goes silent (no interface event: a dead peer).
    net.links[l12].up = false;
    let cut = net.now();
    let took = net.run_until_cond(Duration::from_secs(400), |n| {
        n.members(1, a(ANY)).is_empty()
    });
    // Last refresh was at most update + jitter (45 s) before the cut.
    assert!(
        took <= Duration::from_secs(181) && took >= Duration::from_secs(180 - 45),
        "{took:?}"
    );
    assert_eq!(net.routers[1].core.counters().path_timeouts, 1);
    // Router 0 hears the poison within one hold-down.
    net.run_for(Duration::from_secs(6));
    assert!(net.members(0, a(ANY)).is_empty());
    assert_eq!(net.metric(0, a(ANY), 128), Some(METRIC_INFINITY));
    assert_eq!(net.metric(1, a(ANY), 128), Some(METRIC_INFINITY));
    // Garbage collection: gone from the table 120 s after the timeout.
    net.run_for(Duration::from_secs(110));
    assert_eq!(net.metric(1, a(ANY), 128), Some(METRIC_INFINITY));
    net.run_for(Duration::from_secs(20));
    assert_eq!(net.metric(1, a(ANY), 128), None);
    assert_eq!(net.metric(0, a(ANY), 128), None);
    assert_eq!(net.routers[1].core.counters().routes_garbage_collected, 1);
    let _ = (l01, cut);
}

/// Without split horizon, a partition makes the two routers left count
/// to infinity; the count stops at 16 and the route is removed.
#[test]
fn count_to_infinity_is_bounded_after_partition() {
    let cfg = |_| Config {
        split_horizon: SplitHorizon::Off,
        ..Config::default()
    };
    let mut net = Net::new(3, cfg);
    net.link(&[0, 1]);
    let l12 = net.link(&[1, 2]);
    let now = net.now();
    net.routers[2]
        .core
        .set_local_unicast(now, a(NET), 48, 1, 0)
        .unwrap();
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.metric(0, a(NET), 48), Some(3));
    net.links[l12].up = false;
    // Router 1's poison (metric 16) is lost, the race that lets router 0's
    // stale metric 3 come back to it.
    net.tamper = Some(Box::new(|s| {
        let p = Packet::decode(&s.bytes).unwrap();
        let poison = p
            .entries
            .iter()
            .any(|e| matches!(e, Entry::Route(r) if r.metric == METRIC_INFINITY));
        (s.from != 1 || !poison).then(|| s.bytes.clone())
    }));
    let mut seen = BTreeSet::new();
    let limit = net.now() + Duration::from_secs(900);
    while net.now() < limit {
        net.run_for(Duration::from_secs(1));
        if let Some(m) = net.metric(0, a(NET), 48) {
            seen.insert(m);
        }
        if net.metric(0, a(NET), 48).is_none() && net.metric(1, a(NET), 48).is_none() {
            break;
        }
    }
    assert!(
        net.metric(0, a(NET), 48).is_none() && net.metric(1, a(NET), 48).is_none(),
        "still routed"
    );
    assert!(net.routers[0].kernel.is_empty() && net.routers[1].kernel.is_empty());
    // It did count (metrics above the real 3), and stopped at infinity.
    assert!(seen.contains(&15), "no counting seen: {seen:?}");
    assert_eq!(seen.last(), Some(&16));
}

/// The same partition with poisoned reverse: no counting at all.
#[test]
fn poisoned_reverse_prevents_counting() {
    let mut net = Net::new(3, |_| Config::default());
    net.link(&[0, 1]);
    let l12 = net.link(&[1, 2]);
    let now = net.now();
    net.routers[2]
        .core
        .set_local_unicast(now, a(NET), 48, 1, 0)
        .unwrap();
    net.run_for(Duration::from_secs(60));
    net.links[l12].up = false;
    let mut seen = BTreeSet::new();
    for _ in 0..400 {
        net.run_for(Duration::from_secs(1));
        if let Some(m) = net.metric(0, a(NET), 48) {
            seen.insert(m);
        }
    }
    assert_eq!(seen, BTreeSet::from([3, 16]));
    assert!(net.metric(0, a(NET), 48).is_none());
}

/// Updates sent back toward where a route was learned carry metric 16
/// (poisoned reverse) or leave it out (simple split horizon).
#[test]
fn split_horizon_visible_in_updates() {
    for (mode, want) in [
        (SplitHorizon::PoisonedReverse, Some(METRIC_INFINITY)),
        (SplitHorizon::Simple, None),
        (SplitHorizon::Off, Some(2)),
    ] {
        let mut net = Net::new(2, |_| Config {
            split_horizon: mode,
            ..Config::default()
        });
        net.link(&[0, 1]);
        let now = net.now();
        net.routers[0]
            .core
            .set_local_anycast(now, a(ANY), 1)
            .unwrap();
        net.run_for(Duration::from_secs(100));
        // Router 1's periodic updates to router 0 (after it learned the route).
        let from1: Vec<Option<u8>> = net
            .log
            .iter()
            .filter(|s| {
                s.from == 1 && s.at >= anycast6_core::Instant::ZERO + Duration::from_secs(10)
            })
            .map(|s| {
                let p = Packet::decode(&s.bytes).unwrap();
                p.entries.iter().find_map(|e| match e {
                    Entry::Route(r) if r.prefix == a(ANY) => Some(r.metric),
                    _ => None,
                })
            })
            .collect();
        // Simple split horizon leaves router 1 nothing to say at all.
        assert!(want.is_none() || !from1.is_empty(), "{mode:?}");
        assert!(from1.iter().all(|m| *m == want), "{mode:?}: {from1:?}");
        // Router 0 announces it at 1 with the anycast tag.
        let tagged = net.log.iter().filter(|s| s.from == 0).any(|s| {
            Packet::decode(&s.bytes).unwrap().entries.iter().any(|e| {
                matches!(e, Entry::Route(r) if r.prefix == a(ANY) && r.tag == 0xa6a6 && r.metric == 1 && r.plen == 128)
            })
        });
        assert!(tagged);
    }
}

/// Triggered updates: first change goes out at once, the next waits for
/// the 1-5 s hold-down; periodic updates come every 15-45 s.
#[test]
fn triggered_updates_are_rate_limited_and_periodic_jittered() {
    let mut net = Net::new(2, |_| Config::default());
    net.link(&[0, 1]);
    net.run_for(Duration::from_secs(20));
    let t0 = net.now();
    net.routers[0]
        .core
        .set_local_anycast(t0, a(ANY), 1)
        .unwrap();
    net.run_for(Duration::from_millis(100));
    let t1 = net.now();
    net.routers[0]
        .core
        .set_local_anycast(t1, a("2001:db8:a6::2"), 1)
        .unwrap();
    net.run_for(Duration::from_secs(6));
    let sent: Vec<_> = net
        .log
        .iter()
        .filter(|s| s.from == 0 && s.at >= t0)
        .map(|s| s.at)
        .collect();
    assert_eq!(sent[0], t0, "first change at once");
    let second = sent[1] - t0;
    assert!(
        second >= Duration::from_secs(1) && second <= Duration::from_secs(5),
        "{second:?}"
    );
    // The second change went out in that triggered update (or in a
    // periodic one that happened to fall inside the hold-down).
    let second_bytes = &net
        .log
        .iter()
        .find(|s| s.from == 0 && s.at == sent[1])
        .unwrap()
        .bytes;
    let p = Packet::decode(second_bytes).unwrap();
    assert!(p
        .entries
        .iter()
        .any(|e| matches!(e, Entry::Route(r) if r.prefix == a("2001:db8:a6::2"))));

    // Periodic spacing.
    net.run_for(Duration::from_secs(600));
    let c = net.routers[0].core.counters().tx_periodic_updates;
    assert!((600 / 45..=626 / 15).contains(&c), "{c}");
}

/// A router coming up learns the table at once through its request.
#[test]
fn late_joiner_learns_by_request() {
    let mut net = Net::new(3, |_| Config::default());
    net.link(&[0, 1]);
    let now = net.now();
    net.routers[0]
        .core
        .set_local_anycast(now, a(ANY), 1)
        .unwrap();
    net.run_for(Duration::from_secs(100));
    net.link(&[1, 2]);
    net.settle();
    assert_eq!(net.metric(2, a(ANY), 128), Some(3));
}
