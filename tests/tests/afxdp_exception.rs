//! The AF_XDP path's kernel exception path, on the issue-3 topology with
//! the router in `afxdp` mode: what the engine passes to the kernel after
//! it reached a socket is written into anycast6d's TUN device (`a6x<N>`)
//! and the kernel delivers or forwards it as it would have from the
//! ingress interface.
//!
//! - A group whose only member is the router itself (`action = "local"`,
//!   the address on `lo` through `[member]`): UDP to it is answered by a
//!   server on the router (`pass_local_member`, reinjected), and a TCP
//!   transfer to it is echoed byte-exact.
//! - Hop limit 1 to an anycast address: ICMPv6 Time Exceeded from the
//!   router. The steering program hands such packets to the kernel with
//!   XDP_PASS before any socket (`pass_hop_limit` in the XDP counters), so
//!   they never need the exception path; the kernel's answer from a TUN
//!   write is shown in `afxdp/tests/exception.rs`.
//! - Both on-link members draining: new flows have no member
//!   (`pass_no_member`); the kernel forwards them on its own route (to m3
//!   through r2), as it does for the XDP path's XDP_PASS.
//! - The device goes with the daemon (SIGTERM, SIGKILL) and a restart
//!   makes exactly one.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::Duration;

use anycast6_tests::topology::{Options, ANYCAST, CLIENT, R2, ROUTER_C, TCP_PORT, UDP_PORT};
use anycast6_tests::traffic::{self, FlowCensus};
use anycast6_tests::{
    require_root, wait_until, Daemon, MemberCfg, MemberRoleCfg, Server, TcpTransfer, Topology,
};
use serde_json::Value;

/// A group served by the router alone.
const LOCAL_GROUP: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xad, 0, 0, 0, 0, 1);

fn reason(c: &Value, name: &str) -> u64 {
    c["reasons"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["reason"] == name))
        .and_then(|x| x["packets"].as_u64())
        .unwrap_or(0)
}

fn reinjected(c: &Value, name: &str) -> u64 {
    c["afxdp"]["exception"]["reinjected"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["reason"] == name))
        .and_then(|x| x["packets"].as_u64())
        .unwrap_or(0)
}

fn not_reinjected(c: &Value) -> u64 {
    c["afxdp"]["io"]["pass_not_reinjected"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

/// The router's exception devices (`a6x*`), by `ip -j link`.
fn exception_devices(topo: &Topology) -> Vec<String> {
    let out = topo.router.ip(&["-j", "link", "show"]).unwrap_or_default();
    let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l["ifname"].as_str())
                .filter(|n| n.starts_with("a6x"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn census(topo: &Topology, dst: Ipv6Addr, sport: u16, n: u16) -> FlowCensus {
    let dst = SocketAddrV6::new(dst, UDP_PORT, 0, 0);
    topo.client
        .run_in(move || traffic::udp_flows(CLIENT, dst, sport, n))
        .expect("udp flows")
}

#[test]
fn afxdp_hands_frames_for_the_kernel_to_it_through_a_tun_device() {
    if !require_root("afxdp_hands_frames_for_the_kernel_to_it_through_a_tun_device") {
        return;
    }
    let topo = Topology::build("afk", Options::default()).expect("topology");
    // The kernel's own route for the anycast address: what it uses for
    // whatever the fast path hands it (XDP_PASS or the exception device).
    topo.router
        .add_route(&format!("{ANYCAST}/128"), &R2.to_string())
        .expect("kernel route to the anycast address");
    let local = MemberCfg {
        interface: None,
        action: "local".into(),
        ..MemberCfg::on_link(&ROUTER_C.to_string(), "unused")
    };
    let mut cfg = topo
        .router_config()
        .fast_path("afxdp")
        .group(&LOCAL_GROUP.to_string(), vec![local]);
    cfg.member = Some(MemberRoleCfg {
        addresses: vec![LOCAL_GROUP.to_string()],
        decap_interfaces: vec![],
    });
    let mut d = Daemon::start(&topo.router, &topo.tmp, "router", &cfg).expect("anycast6d");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");

    // The device: up, IPv6 on, forwarding on, no addresses.
    let dp = d.ctl_json(&["show", "dataplane"]).expect("show dataplane");
    let dev = dp["exception_device"]
        .as_str()
        .expect("an exception device")
        .to_string();
    assert!(dev.starts_with("a6x"), "{dp}");
    assert_eq!(exception_devices(&topo), vec![dev.clone()]);
    let link = topo.router.ip(&["addr", "show", "dev", &dev]).unwrap();
    assert!(link.contains(",UP"), "{link}");
    assert!(!link.contains("inet"), "no address wanted: {link}");
    for (key, want) in [
        ("forwarding", "1"),
        ("disable_ipv6", "0"),
        ("accept_ra", "0"),
    ] {
        let got = topo
            .router
            .exec("sysctl", &["-n", &format!("net.ipv6.conf.{dev}.{key}")])
            .unwrap();
        assert_eq!(got.trim(), want, "{dev} {key}");
    }
    eprintln!("{}", d.ctl(&["show", "dataplane"]).unwrap_or_default());

    // (1) The local member: a server on the router answers.
    let server = Server::udp(
        &topo.router,
        "router",
        SocketAddrV6::new(LOCAL_GROUP, UDP_PORT, 0, 0),
    )
    .expect("UDP server on the router");
    let before = d.ctl_json(&["show", "counters"]).expect("counters");
    let c1 = census(&topo, LOCAL_GROUP, 23000, 200);
    eprintln!("local group: {c1}");
    assert_eq!(c1.unanswered, 0, "{c1}");
    assert_eq!(c1.count("router"), 200, "{c1}");
    let after = d.ctl_json(&["show", "counters"]).expect("counters");
    let local = reinjected(&after, "pass_local_member") - reinjected(&before, "pass_local_member");
    assert!(
        local >= 200,
        "reinjected pass_local_member {local}: {after}"
    );
    assert_eq!(
        reason(&after, "pass_local_member") - reason(&before, "pass_local_member"),
        local,
        "every pass_local_member frame reached the kernel"
    );
    assert_eq!(not_reinjected(&after), 0, "{after}");
    assert!(server.served() >= 200);
    // A TCP transfer to it, unthrottled, byte-exact.
    let _tcp = Server::tcp(
        &topo.router,
        "router",
        SocketAddrV6::new(LOCAL_GROUP, TCP_PORT, 0, 0),
    )
    .expect("TCP server on the router");
    let total: u64 = 16 << 20;
    let r = TcpTransfer::start(
        &topo.client,
        SocketAddrV6::new(LOCAL_GROUP, TCP_PORT, 0, 0),
        total,
        None,
    )
    .join()
    .expect("TCP transfer to the local member");
    assert_eq!(r.member, "router");
    assert_eq!(r.verified, total);
    let c = d.ctl_json(&["show", "counters"]).expect("counters");
    eprintln!(
        "{} bytes echoed byte-exact by the router in {:?} ({:.0} Mbit/s each way); \
         reinjected pass_local_member {}, not reinjected {}",
        r.verified,
        r.elapsed,
        r.verified as f64 * 8.0 / r.elapsed.as_secs_f64() / 1e6,
        reinjected(&c, "pass_local_member"),
        not_reinjected(&c)
    );

    // (2) Hop limit 1: Time Exceeded from the router.
    let before = after;
    let out = topo
        .client
        .command("ping")
        .args(["-6", "-n", "-c", "3", "-i", "0.2", "-W", "2", "-t", "1"])
        .arg(ANYCAST.to_string())
        .output()
        .expect("ping");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert!(
        text.contains(&format!("From {ROUTER_C}")) && text.contains("Time exceeded"),
        "no Time Exceeded from the router: {text}"
    );
    let after = d.ctl_json(&["show", "counters"]).expect("counters");
    let hop = reason(&after, "pass_hop_limit") - reason(&before, "pass_hop_limit");
    assert!(hop >= 3, "pass_hop_limit +{hop}");

    // (3) Both on-link members draining: no member for new flows; the
    // kernel forwards them on its route, to m3 through r2.
    for m in ["2001:db8:1::10", "2001:db8:2::10"] {
        d.ctl(&["member", "drain", &ANYCAST.to_string(), m])
            .expect("member drain");
    }
    let before = d.ctl_json(&["show", "counters"]).expect("counters");
    let c3 = census(&topo, ANYCAST, 24000, 100);
    eprintln!("on-link tier draining: {c3}");
    assert_eq!(c3.unanswered, 0, "{c3}");
    assert_eq!(c3.count("m3"), 100, "{c3}");
    let after = d.ctl_json(&["show", "counters"]).expect("counters");
    let none = reinjected(&after, "pass_no_member") - reinjected(&before, "pass_no_member");
    assert!(none >= 100, "reinjected pass_no_member {none}: {after}");
    assert_eq!(not_reinjected(&after), 0, "{after}");
    eprintln!("{}", d.ctl(&["show", "counters"]).unwrap_or_default());

    // (4) No device outlives the daemon; a restart makes one.
    d.signal(libc::SIGTERM).expect("SIGTERM");
    assert!(
        wait_until(Duration::from_secs(10), || !d.running()),
        "anycast6d did not stop"
    );
    assert!(
        exception_devices(&topo).is_empty(),
        "left after SIGTERM: {:?}",
        exception_devices(&topo)
    );
    d.spawn().expect("restart");
    assert_eq!(exception_devices(&topo).len(), 1);
    let mut sport = 25000;
    assert!(
        wait_until(Duration::from_secs(15), || {
            sport += 1;
            census(&topo, LOCAL_GROUP, sport, 1).count("router") == 1
        }),
        "the local member does not answer after a restart"
    );
    d.kill9();
    assert!(wait_until(Duration::from_secs(10), || !d.running()));
    assert!(
        wait_until(Duration::from_secs(5), || exception_devices(&topo)
            .is_empty()),
        "left after SIGKILL: {:?}",
        exception_devices(&topo)
    );
    d.spawn().expect("restart after SIGKILL");
    assert_eq!(exception_devices(&topo).len(), 1);
}
