//! The issue-3 topology with the router's interfaces in `afxdp` mode:
//! the steering program hands owned anycast traffic to AF_XDP sockets and
//! anycast6d's workers forward it with the userspace engine (copy mode on
//! veth). UDP flows and a real TCP transfer reach the nearest members; a
//! transfer survives a member joining and its own member draining,
//! byte-exact; the counters show the workers did the forwarding.

use std::time::Duration;

use anycast6_tests::topology::{Options, M4};
use anycast6_tests::{require_root, wait_for, Daemon, TcpTransfer, Topology};

const GROUP: &str = "2001:db8:ac::1";

#[test]
fn afxdp_router_forwards_udp_and_tcp_across_member_changes() {
    if !require_root("afxdp_router_forwards_udp_and_tcp_across_member_changes") {
        return;
    }
    let topo = Topology::build("afx", Options { m4: true }).expect("topology");
    let cfg = topo.router_config().fast_path("afxdp");
    let d = Daemon::start(&topo.router, &topo.tmp, "router", &cfg).expect("anycast6d");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");

    let dp = d.ctl_json(&["show", "dataplane"]).expect("show dataplane");
    let modes = dp["interfaces"].as_array().expect("interfaces").clone();
    assert_eq!(modes.len(), 5, "{dp}");
    for m in &modes {
        assert_eq!(m["mode"], "afxdp copy", "veth binds in copy mode: {dp}");
    }
    eprintln!("{}", d.ctl(&["show", "dataplane"]).unwrap_or_default());

    let census = topo.udp_census(20000, 300).expect("udp flows");
    eprintln!("{census}");
    assert_eq!(census.unanswered, 0, "{census}");
    assert_eq!(census.count("m3"), 0, "{census}");
    assert!(census.count("m1") > 0 && census.count("m2") > 0, "{census}");

    // 24 MiB at 4 MiB/s: about 6 s, time enough for both changes mid-stream.
    let total: u64 = 24 << 20;
    let t = TcpTransfer::start(&topo.client, topo.tcp_dst(), total, Some(4 << 20));
    wait_for("4 MiB echoed", Duration::from_secs(20), || {
        t.verified() >= 4 << 20
    })
    .expect("transfer under way");
    let member = t.member().expect("greeted");
    assert!(member == "m1" || member == "m2", "transfer on {member}");

    d.ctl(&[
        "member",
        "add",
        GROUP,
        &M4.to_string(),
        "--interface",
        "to-m4",
        "--distance",
        "1",
    ])
    .expect("member add m4");
    // New flows are TCP connections: a new UDP flow in a changed entry
    // inside the change's grace window counts as old and keeps the entry's
    // old member (docs/flow-hash.md section 3).
    let census = topo.tcp_census(60).expect("connections after add");
    eprintln!("after add: {census}");
    assert_eq!(census.unanswered, 0, "{census}");
    assert!(census.count("m4") > 0, "{census}");
    let census = topo.udp_census(21000, 300).expect("flows after add");
    eprintln!("after add, UDP: {census}");
    assert_eq!(census.unanswered, 0, "{census}");
    assert!(
        !t.finished(),
        "transfer ended before the drain: make it longer"
    );

    let drained = if member == "m1" {
        "2001:db8:1::10"
    } else {
        "2001:db8:2::10"
    };
    d.ctl(&["member", "drain", GROUP, drained])
        .expect("member drain");
    let census = topo.tcp_census(60).expect("connections after drain");
    eprintln!("after drain of {member}: {census}");
    assert_eq!(census.unanswered, 0, "{census}");
    assert_eq!(census.count(&member), 0, "{census}");
    assert!(!t.finished(), "transfer ended before the drain took effect");

    let r = t.join().expect("transfer across add and drain");
    assert_eq!(r.member, member);
    assert_eq!(r.verified, total);
    eprintln!(
        "{} bytes echoed byte-exact by {} in {:?}",
        r.verified, r.member, r.elapsed
    );

    // The workers forwarded it, not the kernel.
    let c = d.ctl_json(&["show", "counters"]).expect("show counters");
    let afx = &c["afxdp"];
    let tx = afx["io"]["tx_packets"].as_u64().unwrap_or(0);
    assert!(tx > 10_000, "AF_XDP transmitted {tx}: {afx}");
    let fwd = c["reasons"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["reason"] == "fwd_rewrite"))
        .and_then(|x| x["packets"].as_u64())
        .unwrap_or(0);
    assert!(fwd >= tx, "fwd_rewrite {fwd} < AF_XDP tx {tx}");
    eprintln!("{}", d.ctl(&["show", "counters"]).unwrap_or_default());
}
