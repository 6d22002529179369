//! Keyed-digest authentication between cores: accepted when keys match,
//! every failure counted and the packet's routes ignored.

use std::net::Ipv6Addr;
use std::time::Duration;

use super::sim::{ll, Net};
use crate::packet::{self, Packet, PORT, TRAILER_LEN};
use crate::Config;
use anycast6_core::auth::{Key, Keyring};

const ANY: &str = "2001:db8:a6::1";

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn keyed(id: u16) -> Config {
    Config {
        keyring: Keyring::new(vec![Key::new(id, b"secret".to_vec())]),
        ..Config::default()
    }
}

/// Router 0 (keyring `k0`) originates; router 1 (keyring `k1`) listens.
fn pair(k0: Config, k1: Config) -> Net {
    let cfgs = [k0, k1];
    let mut net = Net::new(2, |i| cfgs[i].clone());
    net.link(&[0, 1]);
    let now = net.now();
    net.routers[0]
        .core
        .set_local_anycast(now, a(ANY), 1)
        .unwrap();
    net
}

#[test]
fn matching_keys_converge() {
    let mut net = pair(keyed(1), keyed(1));
    net.run_for(Duration::from_secs(100));
    assert_eq!(net.metric(1, a(ANY), 128), Some(2));
    assert_eq!(
        net.routers[1].core.counters().auth_failures,
        Default::default()
    );
    let v = net.routers[1].core.view(net.now());
    assert!(v.neighbors[0].last_seq.is_some());
    // Every packet on the wire carries the trailer.
    assert!(net
        .log
        .iter()
        .all(|s| Packet::decode(&s.bytes).unwrap().auth.is_some()));
}

#[test]
fn unsigned_packets_are_refused() {
    let mut net = pair(Config::default(), keyed(1));
    net.run_for(Duration::from_secs(100));
    assert_eq!(net.metric(1, a(ANY), 128), None);
    assert!(net.routers[1].core.counters().auth_failures.missing >= 3);
    // The other way round a plain router just ignores the trailer.
    assert!(net.routers[0].core.counters().auth_failures.missing == 0);
}

#[test]
fn unknown_key_is_refused() {
    let mut net = pair(keyed(2), keyed(1));
    net.run_for(Duration::from_secs(100));
    assert_eq!(net.metric(1, a(ANY), 128), None);
    assert!(net.routers[1].core.counters().auth_failures.unknown_key >= 3);
}

#[test]
fn bad_digest_is_refused() {
    let mut net = pair(keyed(1), keyed(1));
    // Flip one bit of the route's metric in flight: the digest no longer matches.
    net.tamper = Some(Box::new(|s| {
        let mut b = s.bytes.clone();
        if s.from == 0 && b.len() > 4 + TRAILER_LEN {
            b[4 + 19] ^= 0x02;
        }
        Some(b)
    }));
    net.run_for(Duration::from_secs(100));
    assert_eq!(net.metric(1, a(ANY), 128), None);
    assert!(net.routers[1].core.counters().auth_failures.bad_digest >= 3);
}

#[test]
fn unknown_algorithm_is_refused() {
    let mut net = pair(keyed(1), keyed(1));
    net.tamper = Some(Box::new(|s| {
        let mut b = s.bytes.clone();
        let t = b.len() - TRAILER_LEN;
        b[t + 2] = 9; // algorithm octet of the trailer
        Some(b)
    }));
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.metric(1, a(ANY), 128), None);
    assert!(
        net.routers[1]
            .core
            .counters()
            .auth_failures
            .unknown_algorithm
            >= 2
    );
}

#[test]
fn replay_is_refused() {
    let mut net = pair(keyed(1), keyed(1));
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.metric(1, a(ANY), 128), Some(2));
    // An old announcement of the route, replayed after the member left.
    let old = net
        .log
        .iter()
        .find(|s| s.from == 0 && !Packet::decode(&s.bytes).unwrap().entries.is_empty())
        .unwrap()
        .clone();
    let now = net.now();
    net.routers[0]
        .core
        .remove_local_anycast(now, a(ANY))
        .unwrap();
    net.run_for(Duration::from_secs(200));
    assert_eq!(net.metric(1, a(ANY), 128), None);
    let now = net.now();
    let ifindex = net.ifindex(0, 1);
    net.routers[1]
        .core
        .handle_packet(now, ifindex, ll(0, old.ifindex), PORT, 255, &old.bytes);
    net.settle();
    assert_eq!(net.metric(1, a(ANY), 128), None);
    assert_eq!(net.routers[1].core.counters().auth_failures.replay, 1);
    // And a forged copy from another sender fails on the digest (the
    // sender's address is covered).
    net.routers[1]
        .core
        .handle_packet(now, ifindex, a("fe80::99"), PORT, 255, &old.bytes);
    assert_eq!(net.routers[1].core.counters().auth_failures.bad_digest, 1);
    let _ = packet::GROUP;
}
