//! anycast6d can die: forwarding goes on from the pinned FIB, and a new
//! anycast6d resynchronises with the pins instead of flushing them.

use std::net::SocketAddrV6;
use std::time::Duration;

use anycast6_tests::topology::{fib_content, pinned_ids, Options, CLIENT};
use anycast6_tests::{require_root, wait_for, Daemon, TcpTransfer, Topology, UdpStream};

/// SIGKILL of anycast6d during a TCP transfer and a 1 kpps UDP stream:
/// not one datagram is lost, the transfer completes byte-exact, and a
/// restarted anycast6d finds the same pinned maps (same ids, same FIB).
#[test]
fn sigkill_loses_nothing_and_restart_resyncs() {
    if !require_root("sigkill_loses_nothing_and_restart_resyncs") {
        return;
    }
    let topo = Topology::build("kill", Options::default()).expect("topology");
    let mut d =
        Daemon::start(&topo.router, &topo.tmp, "router", &topo.router_config()).expect("anycast6d");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");

    let ids_before = pinned_ids(d.pin_dir()).expect("pinned ids");
    let dp_before = d.ctl_json(&["show", "dataplane"]).expect("show dataplane");
    let fib_before = d.ctl_json(&["show", "fib"]).expect("show fib");

    let stream = UdpStream::start(
        &topo.client,
        SocketAddrV6::new(CLIENT, 40000, 0, 0),
        topo.udp_dst(),
        Duration::from_millis(1),
    );
    let total: u64 = 16 << 20;
    let t = TcpTransfer::start(&topo.client, topo.tcp_dst(), total, Some(4 << 20));
    wait_for("2 MiB echoed", Duration::from_secs(20), || {
        t.verified() >= 2 << 20
    })
    .expect("transfer under way");

    d.kill9();
    assert!(!d.running());
    // Forwarding goes on with nobody at the wheel.
    let (v, s) = (t.verified(), stream.sent());
    wait_for(
        "progress without anycast6d",
        Duration::from_secs(20),
        || t.verified() >= v + (4 << 20) && stream.sent() >= s + 1000,
    )
    .expect("traffic flows while anycast6d is dead");

    d.spawn().expect("anycast6d restart");
    let ids_after = pinned_ids(d.pin_dir()).expect("pinned ids");
    assert_eq!(ids_before, ids_after, "pins changed across the restart");
    // The same maps, by id. The links stay too (their ids are in
    // `pinned_ids`); the new anycast6d may swap its freshly loaded program
    // into them (an atomic link update), so the program id may change.
    let dp_after = d.ctl_json(&["show", "dataplane"]).expect("show dataplane");
    assert_eq!(
        dp_before["maps"], dp_after["maps"],
        "map ids changed across the restart"
    );
    assert!(
        dp_after["maps"].as_array().is_some_and(|m| m.len() >= 10),
        "show dataplane lists too few maps: {dp_after}"
    );
    let links = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        let mut a = v["attached"].as_array().cloned().unwrap_or_default();
        for l in &mut a {
            if let Some(o) = l.as_object_mut() {
                o.remove("prog_id");
            }
        }
        a
    };
    assert_eq!(
        links(&dp_before),
        links(&dp_after),
        "attachments changed across the restart"
    );
    eprintln!(
        "program id before {} after {}",
        dp_before["program_id"], dp_after["program_id"]
    );
    let fib_after = d.ctl_json(&["show", "fib"]).expect("show fib");
    if fib_before != fib_after {
        eprintln!("show fib differs across the restart (republished?):\nbefore {fib_before}\nafter  {fib_after}");
    }
    assert_eq!(
        fib_content(&fib_before),
        fib_content(&fib_after),
        "the FIB's routes or members changed across the restart"
    );

    let r = t.join().expect("transfer across SIGKILL and restart");
    assert_eq!(r.verified, total);
    let s = stream.sent();
    wait_for("stream after restart", Duration::from_secs(10), || {
        stream.sent() >= s + 500
    })
    .expect("stream");
    let rep = stream.stop().expect("stream report");
    eprintln!(
        "stream: {} sent, {} answered, members {:?}; transfer: {} bytes by {} in {:?}",
        rep.sent, rep.answered, rep.members, r.verified, r.member, r.elapsed
    );
    assert!(rep.lost.is_empty(), "lost datagrams {:?}", rep.lost);
    assert_eq!(
        rep.members.len(),
        1,
        "one flow, one member: {:?}",
        rep.members
    );
}

/// `anycast6ctl destroy --pin-dir` detaches every program and removes
/// every pin: nothing of anycast6 is left on the router.
#[test]
fn destroy_detaches_and_unpins_everything() {
    if !require_root("destroy_detaches_and_unpins_everything") {
        return;
    }
    let topo = Topology::build("destr", Options::default()).expect("topology");
    let mut d =
        Daemon::start(&topo.router, &topo.tmp, "router", &topo.router_config()).expect("anycast6d");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");
    let links = topo.router.ip(&["-j", "link", "show"]).expect("ip link");
    assert!(
        links.contains("\"xdp\""),
        "no XDP attached on the router: {links}"
    );

    d.kill9();
    let pin_dir = d.pin_dir().to_path_buf();
    let out = d
        .ctl_output(&["destroy", "--pin-dir", &pin_dir.display().to_string()])
        .expect("destroy");
    assert!(
        out.status.success(),
        "destroy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!pin_dir.exists(), "{} still exists", pin_dir.display());
    let links = topo.router.ip(&["-j", "link", "show"]).expect("ip link");
    assert!(
        !links.contains("\"xdp\""),
        "XDP still attached after destroy: {links}"
    );
    let census = topo.udp_census(20000, 2).expect("flows");
    assert_eq!(
        census.unanswered, 2,
        "the anycast address still answers after destroy: {census}"
    );
}
