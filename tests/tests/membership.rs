//! Live flows keep their member while the member set changes.

use std::time::Duration;

use anycast6_tests::topology::{Options, M4};
use anycast6_tests::{require_root, wait_for, Daemon, TcpTransfer, Topology};

const GROUP: &str = "2001:db8:ac::1";

/// An established TCP transfer survives `member add` of a new member and
/// `member drain` of the very member it runs on: it completes byte-exact on
/// that member (a segment reaching any other member would reset the
/// connection). New connections see both changes: m4 gets some, the
/// drained member gets none.
#[test]
fn tcp_transfer_survives_member_add_and_drain() {
    if !require_root("tcp_transfer_survives_member_add_and_drain") {
        return;
    }
    let topo = Topology::build("memb", Options { m4: true }).expect("topology");
    let d =
        Daemon::start(&topo.router, &topo.tmp, "router", &topo.router_config()).expect("anycast6d");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");

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
    assert!(
        census.count("m4") > 0,
        "the added member gets new flows: {census}"
    );
    assert_eq!(census.count("m3"), 0, "{census}");
    let census = topo.udp_census(20000, 300).expect("flows after add");
    eprintln!("after add, UDP: {census}");
    assert_eq!(census.unanswered, 0, "{census}");
    assert_eq!(census.count("m3"), 0, "{census}");
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
    assert_eq!(
        census.count(&member),
        0,
        "a draining member gets no new flows: {census}"
    );
    assert!(
        !t.finished(),
        "transfer ended before the drain took effect: make it longer"
    );

    let r = t.join().expect("transfer across add and drain");
    assert_eq!(r.member, member);
    assert_eq!(r.verified, total);
    eprintln!(
        "{} bytes echoed byte-exact by {} in {:?}",
        r.verified, r.member, r.elapsed
    );
}
