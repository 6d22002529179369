//! Root tests of the loader and the FIB writer against the real forwarding
//! program: what is published reads back exactly, a reopen keeps the same
//! maps with their content, the Maglev block allocator never hands out a
//! range in use, and destroy removes everything.

mod common;

use std::{collections::BTreeMap, net::Ipv6Addr, time::Duration};

use anycast6_dataplane::{
    abi, blocks::blocks_for, maglev, Dataplane, DataplaneError, InstalledFib, MemberSpec,
    MemberState, Route,
};
use common::{member, root_or_skip, PinDir};

fn publish_sample(dp: &mut Dataplane) -> BTreeMap<u32, Vec<MemberSpec>> {
    let mut want = BTreeMap::new();
    want.insert(
        1,
        vec![
            member(10, 1, MemberState::Active, 1),
            member(11, 2, MemberState::Active, 3),
        ],
    );
    want.insert(
        2,
        vec![
            member(20, 3, MemberState::Draining, 1),
            member(21, 4, MemberState::Active, 1),
            member(22, 5, MemberState::Down, 1),
        ],
    );
    // No active member: no table.
    want.insert(3, vec![member(30, 6, MemberState::Draining, 1)]);
    want.insert(
        4,
        (0..32)
            .map(|i| {
                member(
                    100 + i,
                    100 + i as u16,
                    MemberState::Active,
                    1 + (i % 3) as u16,
                )
            })
            .collect(),
    );
    for (id, ms) in &want {
        dp.fib().publish_group(*id, ms).expect("publish");
    }
    let fib = dp.fib();
    fib.set_route(Route::Host("2001:db8:ac::1".parse().unwrap()), 1)
        .unwrap();
    fib.set_route(Route::Host("2001:db8:ac::2".parse().unwrap()), 2)
        .unwrap();
    fib.set_route(Route::Prefix("2001:db8:ad::/48".parse().unwrap()), 3)
        .unwrap();
    fib.set_route(Route::Prefix("2001:db8:ae:1::/64".parse().unwrap()), 4)
        .unwrap();
    fib.set_tx_port(1).unwrap(); // lo exists in every namespace
    want
}

fn check_installed(fib: &InstalledFib, want: &BTreeMap<u32, Vec<MemberSpec>>) {
    let routes: Vec<(String, u32)> = fib
        .routes
        .iter()
        .map(|(r, g)| (r.to_string(), *g))
        .collect();
    assert_eq!(
        routes,
        vec![
            ("2001:db8:ac::1".to_string(), 1),
            ("2001:db8:ac::2".to_string(), 2),
            ("2001:db8:ad::/48".to_string(), 3),
            ("2001:db8:ae:1::/64".to_string(), 4),
        ]
    );
    assert_eq!(fib.tx_ports, vec![1]);
    let ids: Vec<u32> = fib.groups.iter().map(|g| g.group_id).collect();
    assert_eq!(ids, want.keys().copied().collect::<Vec<_>>());
    for g in &fib.groups {
        let w = &want[&g.group_id];
        assert_eq!(&g.members, w, "group {} members", g.group_id);
        let n_active = w
            .iter()
            .filter(|m| m.state == MemberState::Active && m.weight > 0)
            .count();
        if n_active == 0 {
            assert_eq!(g.maglev_len, 0);
        } else {
            assert_eq!(g.maglev_len, maglev::table_len(n_active));
        }
        assert!(g.gen >= 1);
    }
}

/// Live ranges of the installed groups never overlap and fit the map.
fn assert_ranges_disjoint(fib: &InstalledFib, capacity: u32) {
    let mut ranges: Vec<(u32, u32, u32)> = fib
        .groups
        .iter()
        .filter(|g| g.maglev_len > 0)
        .map(|g| (g.maglev_block, blocks_for(g.maglev_len), g.group_id))
        .collect();
    ranges.sort_unstable();
    for r in &ranges {
        assert!(
            r.0 + r.1 <= capacity,
            "range {r:?} past capacity {capacity}"
        );
    }
    for w in ranges.windows(2) {
        assert!(
            w[0].0 + w[0].1 <= w[1].0,
            "groups {} and {} share Maglev blocks: {:?} {:?}",
            w[0].2,
            w[1].2,
            w[0],
            w[1]
        );
    }
}

#[test]
fn publish_reopen_destroy() {
    if !root_or_skip("publish_reopen_destroy: loads XDP programs and pins maps") {
        return;
    }
    let pins = PinDir::new("roundtrip");
    let want;
    let ids_before;
    let installed_before;
    {
        let mut dp = Dataplane::open(&pins.opts()).expect("open");
        want = publish_sample(&mut dp);
        installed_before = dp.fib().installed().unwrap();
        check_installed(&installed_before, &want);
        assert_ranges_disjoint(&installed_before, 4096);

        // The table in the map is maglev::build over the active members,
        // with entries translated to positions in members[].
        let ms = &want[&2];
        let table = dp.fib().maglev_table(2).unwrap().unwrap();
        let keys = [(ms[1].unicast, ms[1].weight)];
        let direct = maglev::build(&keys, maglev::table_len(1));
        assert_eq!(table, direct.iter().map(|_| 1u8).collect::<Vec<_>>());
        let ms = &want[&4];
        let table = dp.fib().maglev_table(4).unwrap().unwrap();
        let keys: Vec<(Ipv6Addr, u16)> = ms.iter().map(|m| (m.unicast, m.weight)).collect();
        assert_eq!(table, maglev::build(&keys, maglev::table_len(32)));

        // Republishing bumps the generation and moves the table.
        let g1 = dp.fib().group(1).unwrap().unwrap();
        dp.fib().publish_group(1, &want[&1]).unwrap();
        let g1b = dp.fib().group(1).unwrap().unwrap();
        assert_eq!(g1b.gen, g1.gen + 1);
        assert_ne!(g1b.maglev_block, g1.maglev_block, "fresh blocks on publish");

        ids_before = dp.map_ids().unwrap();
        assert_eq!(ids_before.len(), abi::map::XDP_ALL.len());
    }
    // Reopen: same maps, same content, nothing flushed.
    {
        let mut dp = Dataplane::open(&pins.opts()).expect("reopen");
        assert_eq!(dp.map_ids().unwrap(), ids_before);
        let after = dp.fib().installed().unwrap();
        check_installed(&after, &want);
        assert_ranges_disjoint(&after, 4096);
        // The allocator was rebuilt from the installed groups: new publishes
        // never land on a live table.
        for round in 0..20 {
            let id = 50 + round;
            dp.fib()
                .publish_group(id, &[member(500 + round, 7, MemberState::Active, 1)])
                .unwrap();
        }
        let after = dp.fib().installed().unwrap();
        assert_ranges_disjoint(&after, 4096);
        // Generations continue across the reopen.
        let g1 = dp.fib().group(1).unwrap().unwrap();
        dp.fib().publish_group(1, &want[&1]).unwrap();
        assert_eq!(dp.fib().group(1).unwrap().unwrap().gen, g1.gen + 1);

        // Counters: every reason in ABI order, nothing else yet.
        let c = dp.fib().counters().unwrap();
        assert_eq!(
            c.reasons.iter().map(|r| r.0).collect::<Vec<_>>(),
            abi::Reason::ALL.to_vec()
        );
        assert!(c.groups.is_empty() && c.members.is_empty());
    }
    let (ids, parent) = (ids_before, pins.parent().to_path_buf());
    Dataplane::destroy(&pins.path).expect("destroy");
    assert!(!pins.path.exists(), "pin dir removed");
    assert!(!parent.exists(), "empty parent removed");
    Dataplane::destroy(&pins.path).expect("destroy twice is fine");
    // With no pin and no process holding them, the kernel frees the maps.
    let gone = (0..100).any(|_| {
        let all_gone = ids
            .iter()
            .all(|(_, id)| aya::maps::MapData::from_id(*id).is_err());
        if !all_gone {
            std::thread::sleep(Duration::from_millis(20));
        }
        all_gone
    });
    assert!(gone, "maps still exist after destroy");
}

#[test]
fn validation_errors() {
    if !root_or_skip("validation_errors: loads XDP programs and pins maps") {
        return;
    }
    let pins = PinDir::new("validate");
    let mut dp = Dataplane::open(&pins.opts()).expect("open");
    let fib = dp.fib();
    let too_many: Vec<MemberSpec> = (0..33)
        .map(|i| member(i, i as u16, MemberState::Active, 1))
        .collect();
    assert!(matches!(
        fib.publish_group(1, &too_many),
        Err(DataplaneError::GroupTooLarge {
            group_id: 1,
            count: 33,
            max: 32
        })
    ));
    assert!(matches!(
        fib.publish_group(256, &[member(1, 1, MemberState::Active, 1)]),
        Err(DataplaneError::GroupIdOutOfRange(256))
    ));
    assert!(matches!(
        fib.publish_group(1, &[member(1024, 1, MemberState::Active, 1)]),
        Err(DataplaneError::MemberIdOutOfRange(1024))
    ));
    assert!(matches!(
        fib.set_route(Route::Host(Ipv6Addr::LOCALHOST), 999),
        Err(DataplaneError::GroupIdOutOfRange(999))
    ));
    // Idempotent deletes.
    fib.delete_group(77).unwrap();
    fib.delete_route(Route::Host(Ipv6Addr::LOCALHOST)).unwrap();
    fib.delete_tx_port(12345).unwrap();
    assert_eq!(fib.installed().unwrap(), InstalledFib::default());
}

/// Many publishes and deletes over a small block map: live tables never
/// share blocks, and when space is short the writer waits for quarantined
/// ranges rather than reusing them early.
#[test]
fn allocator_under_churn() {
    if !root_or_skip("allocator_under_churn: loads XDP programs and pins maps") {
        return;
    }
    let pins = PinDir::new("churn");
    let mut opts = pins.opts();
    // 3 members -> 307 entries -> 5 blocks; 8 groups live need 40 of 64.
    opts.capacities.maglev_blocks = 64;
    let mut dp = Dataplane::open(&opts).expect("open");
    assert_eq!(dp.fib().capacities().maglev_blocks, 64);
    let mut tables: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    for round in 0u32..300 {
        let id = round % 8;
        if round % 37 == 36 {
            dp.fib().delete_group(id).unwrap();
            tables.remove(&id);
        } else {
            let n = 1 + (round % 3);
            // New member ids every round: no old member to keep, so no
            // period tables (docs/flow-hash.md) and the count above holds.
            let ms: Vec<MemberSpec> = (0..n)
                .map(|i| {
                    member(
                        id * 120 + ((round / 8) * 3 + i) % 120,
                        (round * 3 + i) as u16,
                        MemberState::Active,
                        1,
                    )
                })
                .collect();
            dp.fib().publish_group(id, &ms).unwrap();
            tables.insert(id, dp.fib().maglev_table(id).unwrap().unwrap());
        }
        let inst = dp.fib().installed().unwrap();
        assert_ranges_disjoint(&inst, 64);
        // Every live table still holds exactly what was written for it.
        for (id, t) in &tables {
            assert_eq!(
                &dp.fib().maglev_table(*id).unwrap().unwrap(),
                t,
                "group {id} table intact"
            );
        }
    }
    // Too big for the map even with everything back: a clear error.
    let big: Vec<MemberSpec> = (0..32)
        .map(|i| member(900 + i, 900 + i as u16, MemberState::Active, 1))
        .collect();
    assert!(matches!(
        dp.fib().publish_group(100, &big),
        Err(DataplaneError::MaglevSpaceExhausted { needed: 51, .. })
    ));
}

#[test]
fn forwarding_program_runs() {
    if !root_or_skip("forwarding_program_runs: BPF_PROG_TEST_RUN") {
        return;
    }
    use anycast6_dataplane::testrun::XDP_PASS;
    let pins = PinDir::new("testrun");
    let mut dp = Dataplane::open(&pins.opts()).expect("open");
    // An ARP frame is not IPv6: passed and counted.
    let mut arp = vec![0xffu8; 6];
    arp.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[0u8; 28]);
    let r = dp.test_run(&arp).unwrap();
    assert_eq!(r.action, XDP_PASS);
    assert_eq!(r.frame, arp);
    let c = dp.fib().counters().unwrap();
    let pass_not_ipv6 = c
        .reasons
        .iter()
        .find(|(r, _, _)| *r == abi::Reason::PassNotIpv6)
        .unwrap();
    assert_eq!((pass_not_ipv6.1, pass_not_ipv6.2), (1, arp.len() as u64));
    assert!(matches!(
        dp.test_run(&[0u8; 4]),
        Err(DataplaneError::TestRunFrameInvalid(_))
    ));

    // A UDP packet to an anycast address whose only member is on-link:
    // rewritten and redirected, counted for the group and the member.
    let m = member(42, 9, MemberState::Active, 1); // even id: Rewrite
    dp.fib().publish_group(7, &[m]).unwrap();
    let dst: Ipv6Addr = "2001:db8:ac::7".parse().unwrap();
    dp.fib().set_route(Route::Host(dst), 7).unwrap();
    dp.fib().set_tx_port(m.ifindex).unwrap();
    // Test runs arrive on lo (ifindex 1): its entry names the router's MAC.
    let router_mac = [0x02, 0xff, 0, 0, 0, 1];
    dp.fib().set_iface(1, router_mac).unwrap();
    let mut f = router_mac.to_vec();
    f.extend_from_slice(&[0x02, 0xcc, 0, 0, 0, 2, 0x86, 0xdd]);
    f.extend_from_slice(&[0x60, 0, 0, 0, 0, 12, 17, 64]);
    f.extend_from_slice(&"2001:db8:c::2".parse::<Ipv6Addr>().unwrap().octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&[0x9c, 0x40, 0x1b, 0x58, 0, 12, 0, 0, b'a', b'b', b'c', b'd']);
    let r = dp.test_run(&f).unwrap();
    assert_eq!(r.action, anycast6_dataplane::testrun::XDP_REDIRECT);
    assert_eq!(&r.frame[0..6], &m.dmac);
    assert_eq!(&r.frame[6..12], &m.smac);
    assert_eq!(r.frame[14 + 7], 63, "hop limit decremented");
    let c = dp.fib().counters().unwrap();
    assert_eq!(c.groups, vec![(7, 1, f.len() as u64)]);
    assert_eq!(c.members, vec![(42, 1, f.len() as u64)]);
    let fwd = c
        .reasons
        .iter()
        .find(|e| e.0 == abi::Reason::FwdRewrite)
        .unwrap();
    assert_eq!((fwd.1, fwd.2), (1, f.len() as u64));

    // A second writer over the pins (no program loaded) sees the same.
    let other = anycast6_dataplane::FibWriter::from_pins(&pins.path).unwrap();
    assert_eq!(other.installed().unwrap(), dp.fib().installed().unwrap());
    assert_eq!(other.counters().unwrap(), c);
}

#[test]
fn tunnel_endpoints_are_set_exactly_and_survive_a_reopen() {
    if !root_or_skip("tunnel_endpoints_are_set_exactly_and_survive_a_reopen") {
        return;
    }
    let pins = PinDir::new("tun-local");
    let opts = pins.opts();
    let a = |s: &str| s.parse::<Ipv6Addr>().unwrap();
    let first: std::collections::BTreeSet<Ipv6Addr> =
        [a("2001:db8:0:ff::1"), a("2001:db8:0:ff::2")].into();
    let second: std::collections::BTreeSet<Ipv6Addr> =
        [a("2001:db8:0:ff::2"), a("2001:db8:0:ff::3")].into();
    {
        let mut dp = Dataplane::open(&opts).expect("open");
        assert!(dp.fib().tunnel_endpoints().unwrap().is_empty());
        dp.fib().set_tunnel_endpoints(&first).unwrap();
        assert_eq!(dp.fib().tunnel_endpoints().unwrap(), first);
        // Insert the missing one, delete the extra one.
        dp.fib().set_tunnel_endpoints(&second).unwrap();
        assert_eq!(dp.fib().tunnel_endpoints().unwrap(), second);
        let c = dp.fib().tunnel_counters().unwrap();
        assert_eq!(
            c.iter().map(|x| x.0).collect::<Vec<_>>(),
            abi::tun_reason::NAMES
        );
        assert!(c.iter().all(|x| x.1 == 0 && x.2 == 0));
    }
    let mut dp = Dataplane::open(&opts).expect("reopen");
    assert_eq!(dp.fib().tunnel_endpoints().unwrap(), second, "pinned");
    dp.fib()
        .set_tunnel_endpoints(&std::collections::BTreeSet::new())
        .unwrap();
    assert!(dp.fib().tunnel_endpoints().unwrap().is_empty());
    assert!(dp
        .map_ids()
        .unwrap()
        .iter()
        .any(|(n, _)| n == abi::map::TUN_LOCAL));
}
