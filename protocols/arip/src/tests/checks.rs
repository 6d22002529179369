//! RFC 2080 §2.4 checks and request handling on a single core.

use std::net::Ipv6Addr;
use std::time::Duration;

use crate::packet::{Command, Entry, Packet, Rte, GROUP, PORT};
use crate::{Config, Error, Instance, InterfaceConfig, KernelOp, Output};
use anycast6_core::{Instant, RibChange, Source};

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

const PEER: &str = "fe80::2";
const ME: &str = "fe80::1";

fn core(cfg: Config) -> Instance {
    let mut c = Instance::new(cfg, Instant::ZERO).unwrap();
    c.interface_up(Instant::ZERO, InterfaceConfig::new(3, "eth0", a(ME)))
        .unwrap();
    while c.poll_output().is_some() {}
    c
}

fn route(prefix: &str, tag: u16, plen: u8, metric: u8) -> Entry {
    Entry::Route(Rte {
        prefix: a(prefix),
        tag,
        plen,
        metric,
    })
}

fn response(entries: Vec<Entry>) -> Vec<u8> {
    Packet::new(Command::Response, entries).encode()
}

fn drain(c: &mut Instance) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

#[test]
fn response_validity_checks_are_counted() {
    let mut c = core(Config::default());
    let t = Instant::ZERO + Duration::from_secs(1);
    let good = response(vec![route("2001:db8:1::", 0, 48, 1)]);
    c.handle_packet(t, 3, a(PEER), 5000, 255, &good);
    c.handle_packet(t, 3, a("2001:db8::2"), PORT, 255, &good);
    c.handle_packet(t, 3, a(ME), PORT, 255, &good);
    c.handle_packet(t, 3, a(PEER), PORT, 64, &good);
    c.handle_packet(t, 9, a(PEER), PORT, 255, &good);
    c.handle_packet(t, 3, a(PEER), PORT, 255, &[2, 1, 0]);
    c.handle_packet(t, 3, a(PEER), PORT, 255, &[2, 1, 0, 0, 0]);
    c.handle_packet(t, 3, a(PEER), PORT, 255, &[7, 1, 0, 0]);
    c.handle_packet(t, 3, a(PEER), PORT, 255, &[2, 0, 0, 0]);
    let b = &c.counters().bad_packets;
    assert_eq!(
        [
            b.source_port,
            b.source_not_link_local,
            b.source_own_address,
            b.hop_limit,
            b.interface_unknown,
            b.too_short,
            b.length_invalid,
            b.command_unknown,
            b.version_invalid
        ],
        [1; 9]
    );
    assert!(
        drain(&mut c).is_empty(),
        "nothing learned from refused packets"
    );
    assert_eq!(c.counters().rx_packets, 9);
    // Hop limit not checked when configured so (BIRD without ttl security).
    let mut c = core(Config {
        check_hop_limit: false,
        ..Config::default()
    });
    c.handle_packet(t, 3, a(PEER), PORT, 1, &good);
    assert!(drain(&mut c)
        .iter()
        .any(|o| matches!(o, Output::Kernel(k) if k.op == KernelOp::Add && k.metric == 2)));
}

#[test]
fn bad_entries_are_counted_good_ones_used() {
    let mut c = core(Config::default());
    let t = Instant::ZERO + Duration::from_secs(1);
    let mut bytes = response(vec![
        route("2001:db8:1::", 0, 48, 1),
        Entry::NextHop(a("fe80::77")),
        route("2001:db8:a6::1", 0xa6a6, 128, 2),
    ]);
    // Append raw bad entries: prefix length 129, metric 0, metric 17,
    // a global next hop (then a route using it: next hop = the source).
    for (plen, metric, addr) in [
        (129u8, 1u8, "2001:db8:2::"),
        (48, 0, "2001:db8:3::"),
        (48, 17, "2001:db8:4::"),
        (0, 0xff, "2001:db8::1"),
        (128, 1, "2001:db8:a6::2"),
    ] {
        bytes.extend_from_slice(&a(addr).octets());
        bytes.extend_from_slice(&0xa6a6u16.to_be_bytes());
        bytes.push(plen);
        bytes.push(metric);
    }
    c.handle_packet(t, 3, a(PEER), PORT, 255, &bytes);
    let e = &c.counters().bad_entries;
    assert_eq!([e.prefix_len, e.metric, e.next_hop, e.prefix], [1, 2, 1, 0]);
    let out = drain(&mut c);
    let rib: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Rib(RibChange::Upsert(e)) => {
                Some((e.anycast, e.next_hop, e.ifindex, e.metric, e.source))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        rib,
        vec![
            // The next-hop RTE applies to the routes after it.
            (a("2001:db8:a6::1"), a("fe80::77"), 3, 3, Source::Arip),
            // A non-link-local next hop counts as :: (the sender).
            (a("2001:db8:a6::2"), a(PEER), 3, 2, Source::Arip),
        ]
    );
    assert!(out.iter().any(
        |o| matches!(o, Output::Kernel(k) if k.prefix == a("2001:db8:1::") && k.next_hop == a(PEER))
    ));
    assert_eq!(c.view(t).neighbors[0].bad_entries, 4);
}

#[test]
fn whole_table_request_from_a_monitor() {
    let mut c = core(Config::default());
    let t = Instant::ZERO + Duration::from_secs(1);
    c.set_local_unicast(t, a("2001:db8:1::"), 48, 1, 7).unwrap();
    c.set_local_anycast(t, a("2001:db8:a6::1"), 2).unwrap();
    drain(&mut c);
    let req = Packet::whole_table_request().encode();
    c.handle_packet(t, 3, a("2001:db8::99"), 40000, 64, &req);
    let out = drain(&mut c);
    let [Output::Send {
        ifindex: 3,
        dst,
        dst_port: 40000,
        bytes,
    }] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert_eq!(*dst, a("2001:db8::99"));
    let p = Packet::decode(bytes).unwrap();
    assert_eq!(
        p.entries,
        vec![
            route("2001:db8:1::", 7, 48, 1),
            route("2001:db8:a6::1", 0xa6a6, 128, 2)
        ]
    );
}

#[test]
fn specific_request_answered_as_is() {
    let mut c = core(Config::default());
    let t = Instant::ZERO + Duration::from_secs(1);
    c.set_local_anycast(t, a("2001:db8:a6::1"), 2).unwrap();
    drain(&mut c);
    let req = Packet::new(
        Command::Request,
        vec![
            route("2001:db8:a6::1", 0, 128, 0),
            route("2001:db8:9::", 0, 48, 0),
        ],
    )
    .encode();
    c.handle_packet(t, 3, a(PEER), PORT, 255, &req);
    let out = drain(&mut c);
    let [Output::Send {
        dst,
        dst_port: PORT,
        bytes,
        ..
    }] = out.as_slice()
    else {
        panic!("{out:?}")
    };
    assert_eq!(*dst, a(PEER));
    assert_eq!(
        Packet::decode(bytes).unwrap().entries,
        vec![
            route("2001:db8:a6::1", 0xa6a6, 128, 2),
            route("2001:db8:9::", 0, 48, 16)
        ]
    );
}

#[test]
fn interface_up_requests_and_announces() {
    let mut c = Instance::new(Config::default(), Instant::ZERO).unwrap();
    c.set_local_anycast(Instant::ZERO, a("2001:db8:a6::1"), 1)
        .unwrap();
    c.interface_up(Instant::ZERO, InterfaceConfig::new(3, "eth0", a(ME)))
        .unwrap();
    let sends: Vec<Packet> = drain(&mut c)
        .into_iter()
        .filter_map(|o| match o {
            Output::Send { dst, bytes, .. } if dst == GROUP => {
                Some(Packet::decode(&bytes).unwrap())
            }
            _ => None,
        })
        .collect();
    assert!(sends[0].is_whole_table_request());
    assert_eq!(
        sends[1].entries,
        vec![route("2001:db8:a6::1", 0xa6a6, 128, 1)]
    );
}

#[test]
fn many_routes_split_to_the_mtu() {
    let mut c = core(Config::default());
    let t = Instant::ZERO;
    for i in 0..200u16 {
        c.set_local_anycast(t, Ipv6Addr::new(0x2001, 0xdb8, 0xa6, 0, 0, 0, 0, i + 1), 1)
            .unwrap();
    }
    drain(&mut c);
    c.handle_timeout(t + Duration::from_secs(46));
    let sizes: Vec<usize> = drain(&mut c)
        .into_iter()
        .filter_map(|o| match o {
            Output::Send { bytes, .. } => Some(bytes.len()),
            _ => None,
        })
        .collect();
    // 72 RTEs fit in 1500 octets (RFC 2080 §2.1 formula): 72 + 72 + 56.
    assert_eq!(sizes, vec![4 + 72 * 20, 4 + 72 * 20, 4 + 56 * 20]);
    assert!(sizes.iter().all(|s| s + 48 <= 1500));
}

#[test]
fn api_refuses_bad_input() {
    let mut c = core(Config::default());
    let t = Instant::ZERO;
    assert_eq!(
        c.set_local_anycast(t, a("2001:db8::1"), 16),
        Err(Error::MetricInvalid(16))
    );
    assert_eq!(
        c.set_local_anycast(t, a("2001:db8::1"), 0),
        Err(Error::MetricInvalid(0))
    );
    assert_eq!(
        c.set_local_unicast(t, a("2001:db8::"), 129, 1, 0),
        Err(Error::PrefixLenInvalid(129))
    );
    assert_eq!(
        c.set_local_anycast(t, a("ff05::1"), 1),
        Err(Error::PrefixInvalid(a("ff05::1")))
    );
    let mut bad = InterfaceConfig::new(4, "x", a("2001:db8::1"));
    assert!(c.interface_up(t, bad.clone()).is_err());
    bad.link_local = a("fe80::4");
    bad.cost = 0;
    assert_eq!(c.interface_up(t, bad), Err(Error::InterfaceCostInvalid(0)));
    assert!(Instance::new(
        Config {
            anycast_tag: 0,
            ..Config::default()
        },
        t
    )
    .is_err());
}

#[test]
fn view_serialises() {
    let mut c = core(Config::default());
    let t = Instant::ZERO + Duration::from_secs(1);
    c.handle_packet(
        t,
        3,
        a(PEER),
        PORT,
        255,
        &response(vec![route("2001:db8:a6::1", 0xa6a6, 128, 1)]),
    );
    let v = serde_json::to_value(c.view(t)).unwrap();
    assert_eq!(v["routes"][0]["anycast"], true);
    assert_eq!(v["routes"][0]["paths"][0]["installed"], true);
    assert_eq!(v["routes"][0]["paths"][0]["next_hop"], "fe80::2");
    assert_eq!(v["counters"]["rx_responses"], 1);
}
