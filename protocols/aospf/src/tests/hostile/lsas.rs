//! LSAs refused one by one (bad checksum, MinLSArrival) and the sequence
//! number wrap (RFC 2328 §12.1.6, §13.4).

use super::*;

// ── LSAs refused one by one ──

#[test]
fn an_lsa_with_a_bad_checksum_is_dropped_alone() {
    let (mut b, p) = with_legit(1000, &[1]);
    let a = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 1);
    let bad = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 2);
    let c = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 3);
    let mut broken = prefix_lsa(LEGIT, 2, SEQ, vec![host_prefix(bad, 1)]);
    broken.header.checksum ^= 0x0101;
    let mut zero = prefix_lsa(LEGIT, 4, SEQ, vec![host_prefix(bad, 1)]);
    zero.header.checksum = 0;
    let from = b.sent.len();
    p.send(
        &mut b,
        Body::LsUpdate(vec![
            prefix_lsa(LEGIT, 1, SEQ, vec![host_prefix(a, 1)]),
            broken,
            prefix_lsa(LEGIT, 3, SEQ, vec![host_prefix(c, 1)]),
            zero,
        ]),
    );
    let cn = b.counters();
    assert_eq!(cn.bad_lsa_checksum, 2, "{cn:?}");
    assert_eq!(cn.bad_packets, 0);
    let held = |b: &Bench, id| b.lsa(LsaType::INTRA_AREA_PREFIX, id, LEGIT).is_some();
    assert!(held(&b, 1) && held(&b, 3));
    assert!(!held(&b, 2) && !held(&b, 4));
    b.keepalive(&[&p], Duration::from_secs(1));
    for x in [a, c] {
        assert!(b.kernel.contains_key(&(x, 128)), "{x} routed");
    }
    assert!(!b.kernel.contains_key(&(bad, 128)));
    assert_legit_route(&b);
    // Only the good ones are acknowledged.
    let acked: Vec<u32> = b
        .sent_since(from, 1)
        .into_iter()
        .filter_map(|p| match p.body {
            Body::LsAck(h) => Some(h),
            _ => None,
        })
        .flatten()
        .map(|h| u32::from(h.id))
        .collect();
    assert_eq!(acked, vec![1, 3]);
}

#[test]
fn a_newer_instance_within_min_ls_arrival_is_dropped() {
    let (mut b, p) = with_legit(1000, &[1]);
    let x = Ipv6Addr::new(0x2001, 0xdb8, 0xb, 0, 0, 0, 0, 1);
    let y = Ipv6Addr::new(0x2001, 0xdb8, 0xb, 0, 0, 0, 0, 2);
    p.send(
        &mut b,
        Body::LsUpdate(vec![prefix_lsa(LEGIT, 1, SEQ, vec![host_prefix(x, 1)])]),
    );
    b.run(Duration::from_millis(500));
    let newer = prefix_lsa(LEGIT, 1, SEQ + 1, vec![host_prefix(y, 1)]);
    p.send(&mut b, Body::LsUpdate(vec![newer.clone()]));
    assert_eq!(b.counters().lsas_too_soon, 1);
    let held = b.lsa(LsaType::INTRA_AREA_PREFIX, 1, LEGIT).unwrap();
    assert_eq!(held.lsa.header.seq, SEQ);
    b.keepalive(&[&p], Duration::from_millis(600));
    assert!(b.kernel.contains_key(&(x, 128)));
    assert!(!b.kernel.contains_key(&(y, 128)));
    // Resent after MinLSArrival: taken.
    p.send(&mut b, Body::LsUpdate(vec![newer]));
    assert_eq!(b.counters().lsas_too_soon, 1);
    let held = b.lsa(LsaType::INTRA_AREA_PREFIX, 1, LEGIT).unwrap();
    assert_eq!(held.lsa.header.seq, SEQ + 1);
    b.keepalive(&[&p], Duration::from_millis(200));
    assert!(!b.kernel.contains_key(&(x, 128)));
    assert!(b.kernel.contains_key(&(y, 128)));
    assert_legit_route(&b);
}

// ── sequence number wrap ──

/// Router `of`'s Router-LSA as router `at` holds it: (seq, age).
fn router_lsa_at(net: &Net, at: usize, of: usize) -> Option<(i32, u16)> {
    let k = crate::lsdb::LsaKey {
        ls_type: LsaType::ROUTER,
        id: Ipv4Addr::UNSPECIFIED,
        adv_router: sim::rid(of),
    };
    let now = net.clock.now();
    net.routers[at]
        .core
        .lsdb
        .get(crate::lsdb::ScopeKey::Area, &k)
        .map(|e| (e.lsa.header.seq, e.age(now)))
}

#[test]
fn our_lsa_at_max_sequence_number_is_flushed_then_starts_over() {
    let mut net = Net::new(3);
    net.link(&[0, 1], NetworkType::PointToPoint, 10);
    net.link(&[1, 2], NetworkType::PointToPoint, 10);
    net.start();
    net.run(Duration::from_secs(15));
    assert!(net.all_full());
    // Router 1 (or something claiming to be it) floods to 0 an instance
    // of 0's own Router-LSA at MaxSequenceNumber (RFC 2328 §13.4).
    let k = crate::lsdb::LsaKey {
        ls_type: LsaType::ROUTER,
        id: Ipv4Addr::UNSPECIFIED,
        adv_router: sim::rid(0),
    };
    let mut wrapped = net.routers[0]
        .core
        .lsdb
        .get(crate::lsdb::ScopeKey::Area, &k)
        .unwrap()
        .lsa
        .clone();
    wrapped.header.seq = crate::lsdb::MAX_SEQ;
    wrapped.header.age = 5;
    wrapped.seal();
    let (src, dst) = (sim::ll(1, 1), packet::ALL_SPF_ROUTERS);
    let p = Packet {
        header: Header {
            router_id: sim::rid(1),
            area_id: Ipv4Addr::UNSPECIFIED,
            checksum: 0,
            instance_id: 0,
        },
        body: Body::LsUpdate(vec![wrapped]),
        trailer: None,
    };
    let bytes = with_checksum(src, dst, p.encode());
    let now = net.clock.now();
    net.routers[0].core.handle_packet(now, 1, src, dst, &bytes);
    // Flushed at once: MaxAge, MaxSequenceNumber.
    assert_eq!(
        router_lsa_at(&net, 0, 0),
        Some((crate::lsdb::MAX_SEQ, MAX_AGE))
    );
    net.pump();
    // It leaves every database once acknowledged; then 0 starts over at
    // InitialSequenceNumber and everyone takes that.
    let start = net.clock.now();
    let mut gone = None;
    let mut fresh = None;
    while net.clock.now().saturating_since(start) < Duration::from_secs(30) && fresh.is_none() {
        net.run(Duration::from_millis(100));
        let at0 = router_lsa_at(&net, 0, 0);
        if gone.is_none() && at0.is_none_or(|(s, _)| s != crate::lsdb::MAX_SEQ) {
            gone = Some(net.clock.now().saturating_since(start));
        }
        let all: Vec<_> = (0..3)
            .map(|r| router_lsa_at(&net, r, 0).map(|l| l.0))
            .collect();
        if all == vec![Some(crate::packet::lsa::INITIAL_SEQ); 3] {
            fresh = Some(net.clock.now().saturating_since(start));
        }
    }
    let (gone, fresh) = (gone.unwrap(), fresh.expect("everyone on 0x80000001"));
    assert!(gone <= Duration::from_secs(3), "flushed in {gone:?}");
    assert!(fresh <= Duration::from_secs(10), "converged in {fresh:?}");
    let c = net.routers[0].core.view(net.clock.now()).counters;
    assert_eq!(c.lsas_too_soon, 0);
    net.run(Duration::from_secs(6));
    let now: Vec<_> = (0..3).map(|r| router_lsa_at(&net, r, 0)).collect();
    assert!(
        now.iter()
            .all(|l| l.is_some_and(|(s, age)| s == crate::packet::lsa::INITIAL_SEQ && age < 60)),
        "{now:x?}"
    );
    assert_eq!(net.hops(2, 0), vec![(sim::ll(1, 2), 1)]);
    assert_eq!(net.hops(0, 2), vec![(sim::ll(1, 1), 1)]);
}

#[test]
fn our_own_sequence_numbers_wrap_through_a_flush() {
    let mut net = Net::new(2);
    net.link(&[0, 1], NetworkType::PointToPoint, 10);
    net.start();
    net.run(Duration::from_secs(10));
    let k = crate::lsdb::LsaKey {
        ls_type: LsaType::INTRA_AREA_PREFIX,
        id: Ipv4Addr::UNSPECIFIED,
        adv_router: sim::rid(0),
    };
    let at = |net: &Net, r: usize| {
        net.routers[r]
            .core
            .lsdb
            .get(crate::lsdb::ScopeKey::Area, &k)
            .map(|e| (e.lsa.header.seq, crate::origin::prefixes_of(&e.lsa).len()))
    };
    // As if 0 had originated it 2^31 - 3 times.
    let t = net.routers[0].core.mine[&(crate::lsdb::ScopeKey::Area, k)].1;
    net.routers[0].core.mine.insert(
        (crate::lsdb::ScopeKey::Area, k),
        (crate::lsdb::MAX_SEQ - 1, t),
    );
    let extra = |n: u16| {
        (0..n)
            .map(|i| sim::host(Ipv6Addr::new(0x2001, 0xdb8, 0xe, 0, 0, 0, 0, i), 0, false))
            .chain([sim::host(sim::lo(0), 0, false)])
            .collect::<Vec<_>>()
    };
    let now = net.clock.now();
    net.routers[0].core.set_origination(now, extra(1));
    net.run(Duration::from_secs(1));
    assert_eq!(at(&net, 1), Some((crate::lsdb::MAX_SEQ, 2)));
    // The next change is the wrap: flushed, then InitialSequenceNumber.
    let now = net.clock.now();
    net.routers[0].core.set_origination(now, extra(2));
    net.run(Duration::from_secs(15));
    assert_eq!(at(&net, 0), Some((crate::packet::lsa::INITIAL_SEQ, 3)));
    assert_eq!(at(&net, 1), Some((crate::packet::lsa::INITIAL_SEQ, 3)));
    let routed = Ipv6Addr::new(0x2001, 0xdb8, 0xe, 0, 0, 0, 0, 1);
    assert!(net.routers[1].kernel.contains_key(&(routed, 128)));
}
