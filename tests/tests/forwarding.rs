//! Forwarding to the nearest members: client — router (XDP, anycast6d) —
//! m1, m2 on-link at distance 1, m3 behind r2 at distance 2.

use std::time::Duration;

use anycast6_tests::topology::{Options, M1, M2};
use anycast6_tests::{require_root, Daemon, TcpTransfer, Topology};

const GROUP: &str = "2001:db8:ac::1";

fn setup(short: &str) -> (Topology, Daemon) {
    let topo = Topology::build(short, Options::default()).expect("topology");
    let d =
        Daemon::start(&topo.router, &topo.tmp, "router", &topo.router_config()).expect("anycast6d");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");
    (topo, d)
}

/// UDP flows and real TCP transfers to the anycast address are served by
/// m1 or m2 (distance 1), never by m3 (distance 2) while they live; once
/// both are removed, m3 takes over.
#[test]
fn udp_and_tcp_reach_the_nearest_members() {
    if !require_root("udp_and_tcp_reach_the_nearest_members") {
        return;
    }
    let (topo, d) = setup("near");

    let census = topo.udp_census(20000, 200).expect("udp flows");
    assert_eq!(census.unanswered, 0, "{census}");
    assert_eq!(
        census.count("m3"),
        0,
        "the distance-2 member served flows: {census}"
    );
    assert!(census.count("m1") > 0 && census.count("m2") > 0, "{census}");

    for i in 0..10 {
        let m = topo
            .tcp_probe(64 << 10)
            .unwrap_or_else(|e| panic!("tcp probe {i}: {e:#}"));
        assert!(m == "m1" || m == "m2", "tcp probe {i} served by {m}");
    }
    let t = TcpTransfer::start(&topo.client, topo.tcp_dst(), 16 << 20, None);
    let r = t.join().expect("16 MiB transfer");
    assert!(
        r.member == "m1" || r.member == "m2",
        "transfer served by {}",
        r.member
    );
    assert_eq!(r.verified, 16 << 20);
    eprintln!(
        "16 MiB echoed byte-exact by {} in {:?}",
        r.member, r.elapsed
    );

    for m in [M1, M2] {
        d.ctl(&["member", "remove", GROUP, &m.to_string()])
            .expect("member remove");
    }
    let census = topo.udp_census(21000, 50).expect("udp flows after removal");
    assert_eq!(
        census.count("m3"),
        50,
        "with m1 and m2 removed, m3 is nearest: {census}"
    );
    assert_eq!(topo.tcp_probe(64 << 10).expect("tcp probe"), "m3");
}

/// 1000 flows (distinct source ports) spread over the two equal members,
/// each with at least 30%; none reaches m3; none is lost.
#[test]
fn thousand_flows_spread_over_equal_members() {
    if !require_root("thousand_flows_spread_over_equal_members") {
        return;
    }
    let (topo, d) = setup("spread");
    let census = topo.udp_census(30000, 1000).expect("udp flows");
    eprintln!("{census}");
    assert_eq!(census.unanswered, 0, "{census}");
    assert_eq!(census.count("m3"), 0, "{census}");
    assert!(census.share("m1") >= 0.30, "{census}");
    assert!(census.share("m2") >= 0.30, "{census}");

    // The fast path, not the kernel, forwarded them: its counters say so.
    let counters = d.ctl(&["show", "counters"]).expect("show counters");
    eprintln!("{counters}");
    assert!(counters.contains("fwd_rewrite"), "{counters}");
}
