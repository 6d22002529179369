//! RFC 7166 authentication between two instances: the adjacency, a wrong
//! key, replays, tampering, unsigned packets.

use super::*;

// ── authentication ──

fn keyed(secret: &str) -> InterfaceAuth {
    InterfaceAuth {
        keys: Keyring::new(vec![Key::new(1, secret)]),
        prep: KeyPrep::Rfc7166,
        seq_start: 1,
    }
}

/// Packets as sent: (router, bytes).
type Recorded = Rc<RefCell<Vec<(usize, Vec<u8>)>>>;

/// Two routers on a point-to-point link, keys as given, their packets
/// recorded as (from, bytes).
fn auth_net(k0: &str, k1: &str) -> (Net, Recorded) {
    let mut net = Net::new(2);
    net.link(&[0, 1], NetworkType::PointToPoint, 10);
    net.cfg_mut(0, 1).auth = Some(keyed(k0));
    net.cfg_mut(1, 1).auth = Some(keyed(k1));
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    net.filter = Some(Box::new(move |from, bytes| {
        log.borrow_mut().push((from, bytes.to_vec()));
        false
    }));
    net.start();
    net.run(Duration::from_secs(10));
    (net, seen)
}

#[test]
fn authenticated_routers_reach_full_and_route() {
    let (net, seen) = auth_net("shared", "shared");
    assert_eq!(net.state(0, 1).as_deref(), Some("Full"));
    assert_eq!(net.state(1, 0).as_deref(), Some("Full"));
    assert_eq!(net.hops(0, 1), vec![(sim::ll(1, 1), 1)]);
    // Every packet carried a trailer, and Hellos and DDs the AT bit.
    for (from, bytes) in seen.borrow().iter() {
        let p = Packet::decode(bytes).unwrap();
        let t = p.trailer.as_ref().expect("a trailer");
        assert_eq!(t.sa_id, 1);
        assert_eq!(p.header.checksum, 0, "from {from}");
        match p.body {
            Body::Hello(h) => assert!(h.options.has(Options::AT)),
            Body::DbDesc(d) => assert!(d.options.has(Options::AT)),
            _ => {}
        }
    }
    for r in 0..2 {
        let c = net.routers[r].core.view(net.clock.now()).counters;
        assert_eq!((c.auth_failures, c.auth_replays), (0, 0), "{r}: {c:?}");
    }
}

#[test]
fn a_different_key_forms_no_adjacency() {
    let (net, _) = auth_net("shared", "not-shared");
    for r in 0..2 {
        let v = net.routers[r].core.view(net.clock.now());
        assert!(v.neighbors.is_empty(), "{r}: {:?}", v.neighbors);
        assert!(v.counters.auth_failures >= 10, "{r}: {:?}", v.counters);
        assert_eq!(v.counters.rx_hello, 0);
        assert!(net.routers[r].kernel.is_empty());
    }
}

#[test]
fn replayed_tampered_and_unsigned_packets_are_refused() {
    let (mut net, seen) = auth_net("shared", "shared");
    let now = net.clock.now();
    let at1 = |net: &Net| net.routers[1].core.view(net.clock.now()).counters;
    let before = at1(&net);
    // Everything 0 sent, delivered to 1 again: each one a replay.
    let old: Vec<Vec<u8>> = seen
        .borrow()
        .iter()
        .filter(|(from, _)| *from == 0)
        .map(|(_, b)| b.clone())
        .collect();
    assert!(old.len() > 10);
    let src = sim::ll(0, 1);
    for bytes in &old {
        let dst = match Packet::decode(bytes).unwrap().body {
            Body::Hello(_) => packet::ALL_SPF_ROUTERS,
            _ => sim::ll(1, 1),
        };
        net.routers[1].core.handle_packet(now, 1, src, dst, bytes);
    }
    let c = at1(&net);
    assert_eq!(c.auth_replays - before.auth_replays, old.len() as u64);
    assert_eq!(c.auth_failures, before.auth_failures);
    // The last Hello, one octet changed: the digest fails.
    let mut tampered = old.iter().rev().find(|b| b[1] == 1).cloned().unwrap();
    tampered[20] ^= 0x80;
    let dst = packet::ALL_SPF_ROUTERS;
    net.routers[1]
        .core
        .handle_packet(now, 1, src, dst, &tampered);
    // Signed by 0 but arriving from another source: Apad differs.
    let fresh_seq = u64::MAX / 2;
    let mut hello = Packet::decode(old.last().unwrap()).unwrap();
    hello.trailer = None;
    let mut resigned = hello.encode();
    crate::packet::auth::seal(
        &mut resigned,
        src,
        &Key::new(1, "shared"),
        fresh_seq,
        KeyPrep::Rfc7166,
    );
    let other = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x66);
    net.routers[1]
        .core
        .handle_packet(now, 1, other, dst, &resigned);
    // No trailer at all, checksum right.
    let plain = with_checksum(src, dst, hello.encode());
    net.routers[1].core.handle_packet(now, 1, src, dst, &plain);
    let c = at1(&net);
    assert_eq!(c.auth_failures - before.auth_failures, 3, "{c:?}");
    assert_eq!(c.auth_replays - before.auth_replays, old.len() as u64);
    assert_eq!(c.rx_hello, before.rx_hello, "none taken for a Hello");
    // None of it moved the replay window: 0's next packets are taken.
    net.pump();
    net.run(Duration::from_secs(5));
    assert!(at1(&net).rx_hello > before.rx_hello);
    assert_eq!(net.state(1, 0).as_deref(), Some("Full"));
    assert_eq!(net.hops(1, 0), vec![(sim::ll(0, 1), 1)]);
}
