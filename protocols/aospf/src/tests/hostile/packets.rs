//! Packets refused whole: malformed, misdirected (source, area, instance,
//! router id), mismatched (Hello intervals, MTU).

use super::*;

// ── malformed and misdirected packets ──

#[test]
fn malformed_packets_are_counted_and_change_nothing() {
    let (mut b, p) = with_legit(1000, &[1]);
    let before = b.counters();
    assert_eq!(refusals(&before), [0; 12], "{before:?}");
    let dst = packet::ALL_SPF_ROUTERS;
    let rx = |b: &mut Bench, bytes: &[u8]| b.rx(1, p.ll, dst, bytes);
    let hello = p.bytes(p.hello(&[ME]), dst);
    // Truncated below the header, and inside the body (length field
    // fixed to match, checksum right).
    rx(&mut b, &hello[..10]);
    rx(&mut b, &[]);
    let mut short = hello[..30].to_vec();
    short[2..4].copy_from_slice(&30u16.to_be_bytes());
    rx(&mut b, &with_checksum(p.ll, dst, short));
    // Version 2.
    let mut v2 = hello.clone();
    v2[0] = 2;
    rx(&mut b, &with_checksum(p.ll, dst, v2));
    // A length longer than the packet.
    let mut long = hello.clone();
    long[2..4].copy_from_slice(&200u16.to_be_bytes());
    rx(&mut b, &with_checksum(p.ll, dst, long));
    // A length below the header.
    let mut tiny = hello.clone();
    tiny[2..4].copy_from_slice(&8u16.to_be_bytes());
    let tiny = with_checksum(p.ll, dst, tiny);
    // Unknown packet type 9.
    let mut t9 = hello.clone();
    t9[1] = 9;
    rx(&mut b, &with_checksum(p.ll, dst, t9));
    // An LS Update announcing 3 LSAs and carrying 1; one whose LSA length
    // runs past the packet.
    let one = router_lsa(LEGIT, SEQ + 1, 1, false);
    let mut upd = p.encode(Body::LsUpdate(vec![one.clone()]));
    upd[16..20].copy_from_slice(&3u32.to_be_bytes());
    rx(&mut b, &with_checksum(p.ll, dst, upd));
    let mut upd = p.encode(Body::LsUpdate(vec![one]));
    upd[20 + 18..20 + 20].copy_from_slice(&400u16.to_be_bytes());
    rx(&mut b, &with_checksum(p.ll, dst, upd));
    // A DD whose body is not 12 + 20n octets.
    let mut dd = p.encode(p.dd(0, vec![]));
    dd.extend_from_slice(&[0; 7]);
    let n = dd.len() as u16;
    dd[2..4].copy_from_slice(&n.to_be_bytes());
    rx(&mut b, &with_checksum(p.ll, dst, dd));
    let c = b.counters();
    assert_eq!(c.bad_packets, 9, "{c:?}");
    assert_eq!(refusals(&c)[1..], [0; 11], "{c:?}");
    // Garbage with a right checksum and length, of every length up to
    // 64: each one refused by some check.
    let mut seed = 0x1234_5678_u32;
    for len in 16..64 {
        let mut g: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (seed >> 16) as u8
            })
            .collect();
        g[0] = 3;
        g[1] = 1 + (len % 5) as u8;
        g[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        rx(&mut b, &with_checksum(p.ll, dst, g));
    }
    let after = b.counters();
    let refused: u64 = refusals(&after).iter().sum::<u64>() - refusals(&c).iter().sum::<u64>();
    assert_eq!(refused, 48, "{after:?}");
    assert!(after.bad_packets > c.bad_packets);
    // A length shorter than the payload: octets after the packet are
    // taken for a trailer we have no key for.
    let before = b.counters().auth_failures;
    rx(&mut b, &tiny);
    assert_eq!(b.counters().auth_failures, before + 1);
    assert_eq!(b.state(LEGIT).as_deref(), Some("Full"));
    b.keepalive(&[&p], Duration::from_secs(1));
    assert_legit_route(&b);
}

#[test]
fn bad_checksum_bad_source_wrong_area_instance_and_router_id() {
    let (mut b, mut p) = with_legit(1000, &[1]);
    let dst = packet::ALL_SPF_ROUTERS;
    let hello = p.bytes(p.hello(&[ME]), dst);
    // One bit flipped after the checksum was computed.
    let mut bad = hello.clone();
    bad[20] ^= 0x01;
    b.rx(1, p.ll, dst, &bad);
    let mut zero = hello.clone();
    zero[12..14].fill(0);
    b.rx(1, p.ll, dst, &zero);
    // The same packet from a global source, and checksummed for it.
    let global: Ipv6Addr = "2001:db8::9".parse().unwrap();
    b.rx(1, global, dst, &with_checksum(global, dst, hello.clone()));
    // Checksummed for another destination.
    b.rx(
        1,
        p.ll,
        dst,
        &with_checksum(p.ll, packet::ALL_D_ROUTERS, hello),
    );
    let c = b.counters();
    assert_eq!((c.bad_checksum, c.bad_source), (3, 1), "{c:?}");
    p.area = Ipv4Addr::new(0, 0, 0, 1);
    p.send(&mut b, p.hello(&[ME]));
    p.area = Ipv4Addr::UNSPECIFIED;
    p.instance_id = 1;
    p.send(&mut b, p.hello(&[ME]));
    p.instance_id = 0;
    let rid = p.rid;
    p.rid = ME;
    p.send(&mut b, p.hello(&[ME]));
    p.rid = rid;
    let c = b.counters();
    assert_eq!(
        (c.wrong_area, c.wrong_instance, c.own_router_id),
        (1, 1, 1),
        "{c:?}"
    );
    assert_eq!(c.bad_packets, 0);
    // None of them was taken for a Hello.
    let view = b.core.view(b.now());
    assert_eq!(view.neighbors.len(), 1, "{:?}", view.neighbors);
    assert_eq!(b.state(LEGIT).as_deref(), Some("Full"));
    b.keepalive(&[&p], Duration::from_secs(1));
    assert_legit_route(&b);
}

#[test]
fn hello_interval_mismatch_forms_no_neighbour() {
    let mut b = Bench::new(1000, &[1]);
    let mut p = Peer::new(HOSTILE, 1);
    p.hello_interval = 10;
    for _ in 0..5 {
        p.send(&mut b, p.hello(&[ME]));
        b.run(Duration::from_secs(1));
    }
    assert_eq!(b.counters().hello_mismatch, 5);
    assert_eq!(b.state(HOSTILE), None);
    // Options without E (a stub-area router) do not match either.
    p.hello_interval = 1;
    let Body::Hello(mut h) = p.hello(&[ME]) else {
        unreachable!()
    };
    h.options = Options(Options::V6 | Options::R);
    p.send(&mut b, Body::Hello(h));
    assert_eq!(b.counters().hello_mismatch, 6);
    assert_eq!(b.state(HOSTILE), None);
    assert!(b.core.view(b.now()).neighbors.is_empty());
}

// ── MTU ──

#[test]
fn broadcast_mtu_mismatch_is_counted_and_clears_when_fixed() {
    let mut net = Net::new(2);
    net.link(&[0, 1], NetworkType::Broadcast, 10);
    net.cfg_mut(1, 1).mtu = 9000;
    net.start();
    net.run(Duration::from_secs(20));
    let v0 = net.routers[0].core.view(net.clock.now());
    let v1 = net.routers[1].core.view(net.clock.now());
    // The election happened (Hellos carry no MTU): 1 is DR.
    assert_eq!(
        (v0.interfaces[0].dr, v1.interfaces[0].dr),
        (sim::rid(1), sim::rid(1))
    );
    assert_eq!(v0.interfaces[0].bdr, sim::rid(0));
    // 0 refuses every DD of 1 (MTU 9000 above its 1500); 1 takes 0's.
    assert!(v0.counters.mtu_mismatch >= 5, "{:?}", v0.counters);
    assert_eq!(v1.counters.mtu_mismatch, 0);
    assert_eq!(net.state(0, 1).as_deref(), Some("ExStart"));
    assert_eq!(net.state(1, 0).as_deref(), Some("ExStart"));
    assert!(net.hops(0, 1).is_empty() && net.hops(1, 0).is_empty());
    assert!(net.routers[0].kernel.is_empty() && net.routers[1].kernel.is_empty());
    // MTUs made equal: the next DD goes through.
    let mut c = net.routers[1].ifaces[0].clone();
    c.mtu = 1500;
    net.routers[1].ifaces[0] = c.clone();
    let now = net.clock.now();
    net.routers[1].core.interface_up(now, c);
    let refused = v0.counters.mtu_mismatch;
    net.run(Duration::from_secs(10));
    assert_eq!(net.state(0, 1).as_deref(), Some("Full"));
    assert_eq!(net.hops(0, 1), vec![(sim::ll(1, 1), 1)]);
    let v0 = net.routers[0].core.view(net.clock.now());
    assert_eq!(v0.counters.mtu_mismatch, refused);
}
