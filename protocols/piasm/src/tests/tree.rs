//! Simulated-clock tests of PIA-SM networks: neighbours and DR election,
//! joins, refresh and expiry, prunes, weights up the tree, branch loss,
//! neighbour restarts, core relays and failover, the shortcut,
//! authentication and hostile peers.

use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::auth::{Key, Keyring};

use super::sim::*;
use crate::instance::Via;
use crate::packet::{Action, Entry, Join, JoinPrune, Message, Packet, ALL_PIM_ROUTERS};

const S: Duration = Duration::from_secs(1);

#[test]
fn neighbours_and_dr_election_on_a_lan() {
    let mut net = Net::new(3, |i| config(i, vec![member_of(false)]));
    net.link(&[0, 1, 2]);
    // Router 1 at priority 5.
    let mut c = crate::InterfaceConfig::new(1, "l0", ll(1, 1));
    c.dr_priority = 5;
    net.iface(1, c);
    net.run(3 * S);
    for i in 0..3 {
        let v = net.routers[i].core.view(net.now());
        assert_eq!(v.neighbors.len(), 2, "router {i}: {:?}", v.neighbors);
        assert!(v
            .neighbors
            .iter()
            .all(|n| n.piasm && n.router_address.is_some()));
        let dr: Vec<_> = v
            .neighbors
            .iter()
            .filter(|n| n.is_dr)
            .map(|n| n.address)
            .collect();
        if i == 1 {
            assert!(dr.is_empty(), "router 1 is the DR itself");
        } else {
            assert_eq!(dr, vec![ll(1, 1)], "priority 5 wins");
        }
    }
    // Equal priorities: the highest address.
    let c = crate::InterfaceConfig::new(1, "l0", ll(1, 1));
    net.iface(1, c);
    net.run(3 * S);
    let v = net.routers[0].core.view(net.now());
    let dr: Vec<_> = v
        .neighbors
        .iter()
        .filter(|n| n.is_dr)
        .map(|n| n.address)
        .collect();
    assert_eq!(dr, vec![ll(2, 1)]);
}

/// Core 0; first-hop routers 1 and 2 behind plain routers (tunnelled).
fn two_fhrs() -> Net {
    let mut net = Net::new(3, |i| config(i, vec![member_of(i == 0)]));
    // Each has a members' link and an uplink to a plain router.
    for i in 0..3 {
        net.link(&[i]);
    }
    net.rpf(1, 1, None);
    net.rpf(2, 1, None);
    net.run(2 * S);
    net
}

#[test]
fn tunnelled_joins_make_weighted_branches_at_the_core() {
    let mut net = two_fhrs();
    assert!(net.group(0).is_empty());
    net.members(1, 1, 3);
    net.members(2, 1, 1);
    net.pump();
    // At once, no timer needed.
    assert_eq!(net.group(0), vec![(r(1), 3), (r(2), 1)]);
    let g = &net.routers[0].groups[&A];
    assert!(g.members.iter().all(|m| m.via == Via::Tunnel));
    // The joins went unicast to C with the Router Alert and the Endpoint.
    let v = net.routers[1].core.view(net.now());
    assert_eq!(
        v.trees[0].upstream,
        Some(crate::Upstream::Tunnel { core: C })
    );
    assert!(net.routers[1].sent.iter().any(|m| matches!(m,
        Message::JoinPrune(j) if j.upstream == C && matches!(j.entries[0].action,
            Action::Join(Join { weight: 3, endpoint: Some(e), .. }) if e == r(1)))));
    // Kept by refreshes.
    net.run(20 * S);
    assert_eq!(net.group(0), vec![(r(1), 3), (r(2), 1)]);
    // A member leaves: the weight follows at once; the last one: a prune.
    net.members(1, 1, 2);
    net.pump();
    assert_eq!(net.group(0), vec![(r(1), 2), (r(2), 1)]);
    net.run(S);
    net.members(1, 1, 0);
    net.pump();
    assert_eq!(net.group(0), vec![(r(2), 1)], "pruned at once");
}

#[test]
fn a_dead_first_hop_router_expires_with_its_holdtime() {
    let mut net = two_fhrs();
    net.members(1, 1, 1);
    net.members(2, 1, 1);
    net.run(5 * S);
    net.routers[1].up = false;
    net.run(3 * S);
    assert_eq!(net.group(0).len(), 2, "kept within the 4 s holdtime");
    net.run(2 * S);
    assert_eq!(net.group(0), vec![(r(2), 1)]);
    assert_eq!(net.counters(0).branches_expired, 1);
}

#[test]
fn weights_add_up_the_tree_over_pia_sm_neighbours() {
    // 0 core ─ 1 branch router ─┬─ 2 (2 members)
    //                           └─ 3 (3 members)
    let mut net = Net::new(4, |i| config(i, vec![member_of(i == 0)]));
    net.link(&[0, 1]); // 0:1, 1:1
    net.link(&[1, 2]); // 1:2, 2:1
    net.link(&[1, 3]); // 1:3, 3:1
    net.link(&[2]); // members' links
    net.link(&[3]);
    net.run(2 * S);
    net.rpf(1, 1, Some((0, 1)));
    net.rpf(2, 1, Some((1, 2)));
    net.rpf(3, 1, Some((1, 3)));
    net.members(2, 2, 2);
    net.members(3, 2, 3);
    net.run(S);
    assert_eq!(net.group(1), vec![(r(2), 2), (r(3), 3)]);
    assert_eq!(net.group(0), vec![(r(1), 5)], "the members behind 1");
    let g = &net.routers[0].groups[&A];
    assert_eq!(
        g.members[0].via,
        Via::OnLink {
            ifindex: 1,
            next_hop: ll(1, 1)
        }
    );
    let v = net.routers[2].core.view(net.now());
    assert_eq!(
        v.trees[0].upstream,
        Some(crate::Upstream::OnLink {
            ifindex: 1,
            neighbor: ll(1, 2)
        })
    );
    // A branch router's link to one FHR goes: that branch goes with the
    // neighbour's holdtime, the weight above follows.
    net.link_up[1] = false;
    net.run(5 * S);
    assert_eq!(net.group(1), vec![(r(3), 3)]);
    // Router 2 still routes toward C over the dead link's next hop, which
    // no longer speaks PIA-SM: it joins by tunnel, straight to the core.
    assert_eq!(net.group(0), vec![(r(1), 3), (r(2), 2)]);
    assert_eq!(net.routers[0].groups[&A].members[1].via, Via::Tunnel);
    // Its route goes too: no upstream, nothing sent up; the core lets the
    // tunnelled branch expire.
    let now = net.now();
    net.routers[2].core.set_rpf(now, C, None);
    net.run(5 * S);
    assert_eq!(net.group(0), vec![(r(1), 3)]);
}

#[test]
fn only_the_dr_counts_a_lans_members() {
    // Core 0 behind plain routers; 1 and 2 share the members' LAN.
    let mut net = Net::new(3, |i| config(i, vec![member_of(i == 0)]));
    net.link(&[0]);
    net.link(&[1]); // uplinks
    net.link(&[2]);
    net.link(&[1, 2]); // the LAN: 1:2, 2:2
    net.rpf(1, 1, None);
    net.rpf(2, 1, None);
    net.run(3 * S);
    net.members(1, 2, 4);
    net.members(2, 2, 4);
    net.run(S);
    // 2 has the higher address: the DR.
    assert_eq!(net.group(0), vec![(r(2), 4)]);
    // The DR dies: 1 takes over when 2's Hello holdtime runs out.
    net.routers[2].up = false;
    net.run(6 * S);
    assert_eq!(net.group(0), vec![(r(1), 4)]);
}

#[test]
fn a_neighbour_restart_drops_its_branches_and_joins_again() {
    let mut net = Net::new(2, |i| config(i, vec![member_of(i == 0)]));
    net.link(&[0, 1]);
    net.link(&[1]);
    net.run(2 * S);
    net.rpf(1, 1, Some((0, 1)));
    net.members(1, 2, 1);
    net.run(S);
    assert_eq!(net.group(0), vec![(r(1), 1)]);
    // Router 1 restarts with a new Generation ID and no state: its first
    // Hello (within 500 ms) tells router 0, which drops its branch at once
    // rather than after the 4 s holdtime.
    let mut c = config(1, vec![member_of(false)]);
    c.generation_id = 77;
    net.routers[1].core = crate::Instance::new(c, net.now());
    for c in net.routers[1].ifaces.clone() {
        net.iface(1, c);
    }
    net.run(Duration::from_millis(600));
    assert_eq!(net.counters(0).neighbor_restarts, 1);
    assert!(net.group(0).is_empty());
    net.rpf(1, 1, Some((0, 1)));
    net.members(1, 2, 1);
    net.run(S);
    assert_eq!(net.group(0), vec![(r(1), 1)]);
}

#[test]
fn two_cores_share_the_tree_and_fail_over() {
    // Cores 0 and 1 share C (C reaches 0 first); FHRs 2 and 3 tunnel.
    let core = |i: usize| AnycastConfig {
        is_core: true,
        peers: vec![r(1 - i)],
        ..member_of(true)
    };
    use crate::config::AnycastConfig;
    let mut net = Net::new(4, |i| {
        config(i, vec![if i < 2 { core(i) } else { member_of(false) }])
    });
    for i in 0..4 {
        net.link(&[i]);
    }
    net.rpf(2, 1, None);
    net.rpf(3, 1, None);
    net.members(2, 1, 1);
    net.members(3, 1, 2);
    net.run(2 * S);
    assert_eq!(net.owner[&C], 0);
    assert_eq!(net.group(0), vec![(r(2), 1), (r(3), 2)]);
    assert_eq!(
        net.group(1),
        vec![(r(2), 1), (r(3), 2)],
        "relayed to the peer"
    );
    assert!(net.counters(0).tx_relays > 0);
    // Core 0 dies; unicast routing moves C to core 1.
    net.routers[0].up = false;
    net.owner.insert(C, 1);
    for _ in 0..10 {
        net.run(S);
        assert_eq!(
            net.group(1),
            vec![(r(2), 1), (r(3), 2)],
            "core 1 keeps every branch throughout"
        );
    }
    // A member leaves: core 1 learns it directly now.
    net.members(3, 1, 0);
    net.pump();
    assert_eq!(net.group(1), vec![(r(2), 1)]);
}

#[test]
fn the_shortcut_mirrors_the_cores_branches_at_the_ingress() {
    // Core 0, FHRs 1 and 2, ingress 3 (all behind plain routers).
    let mut net = Net::new(4, |i| {
        let mut a = member_of(i == 0);
        a.shortcut = i == 3;
        config(i, vec![a])
    });
    for i in 0..4 {
        net.link(&[i]);
    }
    for i in 1..4 {
        net.rpf(i, 1, None);
    }
    net.members(1, 1, 2);
    net.members(2, 1, 1);
    net.run(2 * S);
    // Through the core until the shortcut.
    assert_eq!(net.group(3), vec![(C, 1)]);
    let now = net.now();
    net.routers[0].core.group_published(now, A, 251);
    net.routers[3].core.traffic_seen(now, A);
    net.pump();
    assert_eq!(
        net.group(3),
        net.group(0),
        "the core's branches, same weights"
    );
    assert_eq!(net.routers[3].groups[&A].table_len, Some(251));
    // The core's set changes: the ingress follows at once.
    net.members(2, 1, 0);
    net.pump();
    assert_eq!(net.group(3), vec![(r(1), 2)]);
    // Traffic keeps coming: the request is refreshed, the shortcut holds.
    for _ in 0..10 {
        let now = net.now();
        net.routers[3].core.traffic_seen(now, A);
        net.run(S);
        assert_eq!(net.group(3), vec![(r(1), 2)]);
    }
    // It stops: after the holdtime, back through the core, request cancelled.
    net.run(6 * S);
    assert_eq!(net.group(3), vec![(C, 1)]);
    let v = net.routers[0].core.view(net.now());
    assert!(v.trees[0].shortcut_requests.is_empty());
    // A core with another flow hash seed: no shortcut.
    let mut net2 = Net::new(2, |i| {
        let mut a = member_of(i == 0);
        a.shortcut = i == 1;
        let mut c = config(i, vec![a]);
        c.hash_seed = i as u32;
        c
    });
    net2.link(&[0]);
    net2.link(&[1]);
    let now = net2.now();
    net2.routers[0].core.group_published(now, A, 13);
    net2.routers[1].core.traffic_seen(now, A);
    net2.pump();
    assert_eq!(net2.group(1), vec![(C, 1)]);
    assert_eq!(net2.counters(1).shortcut_seed_mismatch, 1);
}

#[test]
fn authentication_failures_are_refused_and_counted() {
    let key = Key::new(7, b"pia-sm secret".to_vec());
    let mut net = Net::new(2, |i| config(i, vec![member_of(i == 0)]));
    net.link(&[0, 1]);
    let mut c = crate::InterfaceConfig::new(1, "l0", ll(0, 1));
    c.keys = Keyring::new(vec![key.clone()]);
    net.iface(0, c);
    net.run(3 * S);
    // Router 1 signs nothing: router 0 refuses it.
    assert!(net.routers[0].core.view(net.now()).neighbors.is_empty());
    assert!(net.counters(0).auth_missing > 0);
    // Router 1 with another key.
    let mut c = crate::InterfaceConfig::new(1, "l0", ll(1, 1));
    c.keys = Keyring::new(vec![Key::new(8, b"other".to_vec())]);
    net.iface(1, c);
    net.run(2 * S);
    assert!(net.counters(0).auth_unknown_key > 0);
    // Same key id, wrong secret.
    let mut c = crate::InterfaceConfig::new(1, "l0", ll(1, 1));
    c.keys = Keyring::new(vec![Key::new(7, b"wrong".to_vec())]);
    net.iface(1, c);
    net.run(2 * S);
    assert!(net.counters(0).auth_bad_digest > 0);
    // The right key: neighbours.
    let mut c = crate::InterfaceConfig::new(1, "l0", ll(1, 1));
    c.keys = Keyring::new(vec![key.clone()]);
    net.iface(1, c);
    net.run(2 * S);
    assert_eq!(net.routers[0].core.view(net.now()).neighbors.len(), 1);
    // A replayed Hello.
    let hello = Message::Hello(crate::packet::Hello {
        holdtime: 100,
        dr_priority: Some(1),
        generation_id: Some(1001),
        addresses: vec![r(1)],
        piasm: Some(crate::packet::Capability {
            version: 1,
            core: false,
        }),
    });
    let bytes = Packet::encode_signed(&hello, ll(1, 1), ALL_PIM_ROUTERS, &key, u64::MAX - 1);
    let now = net.now();
    net.routers[0]
        .core
        .handle_packet(now, 1, ll(1, 1), ALL_PIM_ROUTERS, &bytes);
    net.routers[0]
        .core
        .handle_packet(now, 1, ll(1, 1), ALL_PIM_ROUTERS, &bytes);
    assert_eq!(net.counters(0).auth_replay, 1);
}

fn join(anycast: Ipv6Addr, endpoint: Ipv6Addr) -> Entry {
    Entry {
        anycast,
        action: Action::Join(Join {
            core: C,
            weight: 1,
            endpoint: Some(endpoint),
            relayed: false,
        }),
    }
}

#[test]
fn join_floods_are_bounded_and_counted() {
    let mut net = Net::new(1, |i| config(i, vec![member_of(true)]));
    net.link(&[0]);
    let now = net.now();
    let src = Ipv6Addr::new(0x2001, 0xdb8, 0xbad, 0, 0, 0, 0, 1);
    // 100 000 unknown anycast addresses, 50 per message.
    let mut n = 0u32;
    for m in 0..2000u32 {
        let entries = (0..50)
            .map(|k| {
                n += 1;
                join(
                    Ipv6Addr::from(
                        0x2001_0db8_0bad_0000_0000_0000_0000_0000u128 + u128::from(m * 50 + k),
                    ),
                    src,
                )
            })
            .collect();
        let bytes = Packet::encode(
            &Message::JoinPrune(JoinPrune {
                upstream: C,
                holdtime: 100,
                entries,
            }),
            src,
            C,
        );
        net.routers[0].core.handle_packet(now, 1, src, C, &bytes);
    }
    assert_eq!(net.counters(0).unknown_anycast, u64::from(n));
    assert_eq!(n, 100_000);
    assert_eq!(net.routers[0].core.view(now).trees.len(), 1);
    // 2000 end points for the one configured address: 1024 kept.
    for m in 0..40u128 {
        let entries = (0..50u128)
            .map(|k| {
                join(
                    A,
                    Ipv6Addr::from(0x2001_0db8_0e00_0000_0000_0000_0000_0000u128 + m * 50 + k),
                )
            })
            .collect();
        let bytes = Packet::encode(
            &Message::JoinPrune(JoinPrune {
                upstream: C,
                holdtime: 100,
                entries,
            }),
            src,
            C,
        );
        net.routers[0].core.handle_packet(now, 1, src, C, &bytes);
    }
    net.pump();
    assert_eq!(net.group(0).len(), 1024);
    assert_eq!(net.counters(0).branches_refused, 2000 - 1024);
    // Garbage of every length: refused, counted, nothing changes.
    for len in 0..200usize {
        let junk: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
        net.routers[0].core.handle_packet(now, 1, src, C, &junk);
    }
    assert_eq!(net.group(0).len(), 1024);
    let c = net.counters(0);
    assert!(
        c.bad_packets + c.bad_checksum + c.bad_version >= 200,
        "{c:?}"
    );
}

#[test]
fn joins_that_would_loop_or_lie_are_refused() {
    let mut net = Net::new(2, |i| config(i, vec![member_of(i == 0)]));
    net.link(&[0, 1]);
    net.run(2 * S);
    let now = net.now();
    // A unicast join naming the core's own address as its end point.
    let src = r(1);
    let bytes = Packet::encode(
        &Message::JoinPrune(JoinPrune {
            upstream: C,
            holdtime: 100,
            entries: vec![join(A, r(0))],
        }),
        src,
        C,
    );
    net.routers[0].core.handle_packet(now, 1, src, C, &bytes);
    assert_eq!(net.counters(0).loops, 1);
    // Another core address; a relay from no peer; Upstream not the destination.
    let mut e = join(A, r(1));
    if let Action::Join(j) = &mut e.action {
        j.core = r(9);
    }
    let mut relay = join(A, r(1));
    if let Action::Join(j) = &mut relay.action {
        j.relayed = true;
    }
    for (up, e) in [(C, e), (C, relay), (r(5), join(A, r(1)))] {
        let bytes = Packet::encode(
            &Message::JoinPrune(JoinPrune {
                upstream: up,
                holdtime: 100,
                entries: vec![e],
            }),
            src,
            C,
        );
        net.routers[0].core.handle_packet(now, 1, src, C, &bytes);
    }
    let c = net.counters(0);
    assert_eq!((c.wrong_core, c.bad_relay, c.wrong_upstream), (1, 1, 1));
    assert!(net.group(0).is_empty());
}

#[test]
fn a_clean_exit_prunes_and_says_goodbye() {
    let mut net = Net::new(2, |i| config(i, vec![member_of(i == 0)]));
    net.link(&[0, 1]);
    net.link(&[1]);
    net.run(2 * S);
    net.rpf(1, 1, Some((0, 1)));
    net.members(1, 2, 1);
    net.run(S);
    assert_eq!(net.group(0), vec![(r(1), 1)]);
    let now = net.now();
    net.routers[1].core.shutdown(now);
    net.pump();
    assert!(net.group(0).is_empty(), "pruned at once");
    assert!(
        net.routers[0].core.view(net.now()).neighbors.is_empty(),
        "Holdtime 0: forgotten at once"
    );
}

#[test]
fn members_on_a_link_without_pia_sm_count_at_their_router() {
    // Router 1's members sit on an interface PIA-SM does not run on
    // (ifindex 9): nobody else can count them, so router 1 does.
    let mut net = Net::new(2, |i| config(i, vec![member_of(i == 0)]));
    net.link(&[0]);
    net.link(&[1]);
    net.rpf(1, 1, None);
    net.members(1, 9, 2);
    net.run(S);
    assert_eq!(net.group(0), vec![(r(1), 2)]);
}
