//! Encapsulated delivery: the router tunnels (IPv6-in-IPv6) to a member
//! two hops away, whose anycast6d (member role) strips the tunnel with the
//! decap program. This kernel has no ip6_tnl, so only the decap program
//! can deliver these packets; and r2 has no route for the anycast address
//! in this test, so nothing reaches m3 unless it was tunnelled.

use std::time::Duration;

use anycast6_tests::topology::{Options, ANYCAST, M3, R2, ROUTER_C};
use anycast6_tests::{
    require_root, Daemon, DaemonCfg, MemberCfg, MemberRoleCfg, TcpTransfer, Topology,
};

#[test]
fn encap_delivery_through_member_decap() {
    if !require_root("encap_delivery_through_member_decap") {
        return;
    }
    let topo = Topology::build("encap", Options::default()).expect("topology");
    topo.r2
        .ip(&["-6", "route", "del", &format!("{ANYCAST}/128")])
        .expect("remove r2's anycast route");

    // The member role, not the harness, makes m3 a member: anycast6d puts
    // the anycast address on lo itself (the servers are already bound to it).
    topo.m3
        .ip(&["-6", "addr", "del", &format!("{ANYCAST}/128"), "dev", "lo"])
        .expect("remove the harness's anycast address from m3");
    let member_cfg = DaemonCfg {
        member: Some(MemberRoleCfg {
            addresses: vec![ANYCAST.to_string()],
            decap_interfaces: vec!["to-r2".into()],
        }),
        ..Default::default()
    };
    let md = Daemon::start(&topo.m3, &topo.tmp, "m3", &member_cfg)
        .expect("anycast6d on m3 (member role)");

    let router_cfg = DaemonCfg {
        router_address: Some(ROUTER_C.to_string()),
        ..Default::default()
    }
    .interface("to-c", "native")
    .interface("to-r2", "native")
    .group(
        &ANYCAST.to_string(),
        vec![MemberCfg::on_link(&M3.to_string(), "to-r2")
            .via(&R2.to_string())
            .action("encap")],
    );
    let rd = Daemon::start(&topo.router, &topo.tmp, "router", &router_cfg)
        .expect("anycast6d on the router");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready through the tunnel");

    let census = topo.udp_census(20000, 100).expect("udp flows");
    assert_eq!(census.count("m3"), 100, "{census}");

    // Full-size TCP segments do not fit the tunnel on a 1500-byte path: the
    // router answers Packet Too Big and the client's PMTU discovery adapts.
    let t = TcpTransfer::start(&topo.client, topo.tcp_dst(), 4 << 20, None);
    let r = t.join().expect("4 MiB over the tunnel");
    assert_eq!((r.member.as_str(), r.verified), ("m3", 4 << 20));
    eprintln!(
        "4 MiB echoed byte-exact by m3 through the tunnel in {:?}",
        r.elapsed
    );

    let rc = rd.ctl(&["show", "counters"]).expect("router counters");
    eprintln!("router:\n{rc}");
    assert!(rc.contains("fwd_encap"), "{rc}");
    let mc = md.ctl(&["show", "counters"]).expect("member counters");
    eprintln!("member:\n{mc}");
}
