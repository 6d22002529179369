//! ARD end to end: members announce an anycast address to the router with
//! anycast6d's member role; the router installs the best member from the
//! reports alone (no `[[group]]` in its config), and moves traffic to the
//! next one when that member leaves (clean shutdown) or falls silent
//! (SIGKILL: expiry after the hold time).

use std::net::SocketAddrV6;
use std::time::{Duration, Instant};

use anycast6_tests::daemon::DaemonCfg;
use anycast6_tests::proto;
use anycast6_tests::topology::{Options, ANYCAST, CLIENT, M1, M2, ROUTER_C};
use anycast6_tests::{require_root, wait_for, Daemon, Topology, UdpStream};

const HOLD_MS: u64 = 300;

const KEY: &str = "ard test key 0123456789";

fn router_cfg(key: bool) -> DaemonCfg {
    let mut cfg = DaemonCfg {
        router_address: Some(ROUTER_C.to_string()),
        ..Default::default()
    }
    .interface("to-c", "native")
    .interface("to-m1", "native")
    .interface("to-m2", "native");
    cfg.extra = proto::ard_router(&["to-m1", "to-m2"], key.then_some(KEY));
    cfg
}

fn member_cfg(unicast: &str, metric: u32, key: Option<&str>) -> DaemonCfg {
    proto::member_role(
        ANYCAST,
        proto::ard_member(&proto::ArdMember {
            iface: "to-r1",
            unicast,
            metric,
            hold_ms: HOLD_MS,
            report_ms: 100,
            key,
        }),
    )
}

/// Who answers a UDP flow to the anycast address now (None: nobody).
fn answering(topo: &Topology, port: u16) -> Option<String> {
    let c = topo.udp_census(port, 1).ok()?;
    c.members().first().map(|m| m.to_string())
}

#[test]
fn members_register_by_ard_and_failover_follows_leave_and_expiry() {
    if !require_root("members_register_by_ard_and_failover_follows_leave_and_expiry") {
        return;
    }
    let topo = Topology::build("ard", Options { m4: false }).expect("topology");
    let router = Daemon::start(&topo.router, &topo.tmp, "router", &router_cfg(false))
        .expect("router anycast6d");
    // m1 is preferred (metric 1 < 3).
    let mut m1 = Daemon::start(
        &topo.m1,
        &topo.tmp,
        "m1",
        &member_cfg(&M1.to_string(), 1, None),
    )
    .expect("m1 anycast6d");
    let mut m2 = Daemon::start(
        &topo.m2,
        &topo.tmp,
        "m2",
        &member_cfg(&M2.to_string(), 3, None),
    )
    .expect("m2 anycast6d");

    wait_for(
        "m1 answers the anycast address",
        Duration::from_secs(15),
        || answering(&topo, 61000) == Some("m1".into()),
    )
    .unwrap_or_else(|e| panic!("{e}\nrouter log:\n{}", router.log()));
    let rib = router.ctl_json(&["show", "rib"]).expect("show rib");
    let rows = rib.as_array().expect("rib rows");
    assert_eq!(rows.len(), 2, "both members in the RIB: {rib:#}");
    for r in rows {
        assert_eq!(r["source"], "ard", "{rib:#}");
    }
    let m1_row = rows
        .iter()
        .find(|r| r["address"] == M1.to_string())
        .unwrap();
    assert_eq!(m1_row["state"], "active", "{rib:#}");
    let m2_row = rows
        .iter()
        .find(|r| r["address"] == M2.to_string())
        .unwrap();
    assert_eq!(m2_row["state"], "not-installed", "{rib:#}");
    let human = router.ctl(&["show", "ard"]).expect("show ard");
    assert!(human.contains(&ANYCAST.to_string()), "{human}");
    // A real TCP connection to the anycast address reaches the member ARD
    // installed (the member role put the address on its lo).
    assert_eq!(topo.tcp_probe(256 << 10).expect("TCP probe"), "m1");

    // Clean leave: SIGTERM on m1's daemon sends ARD leaves; traffic moves
    // to m2 at once (no hold time to wait out).
    let interval = Duration::from_millis(1);
    let dst = SocketAddrV6::new(ANYCAST, anycast6_tests::topology::UDP_PORT, 0, 0);
    let src = SocketAddrV6::new(CLIENT, 40001, 0, 0);
    let stream = UdpStream::start(&topo.client, src, dst, interval);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    m1.signal(libc::SIGTERM).expect("SIGTERM m1");
    wait_for(
        "m2 answers after m1's leave",
        Duration::from_secs(5),
        || answering(&topo, 61100) == Some("m2".into()),
    )
    .expect("failover after leave");
    eprintln!(
        "leave: m2 answers new flows {:?} after SIGTERM",
        t.elapsed()
    );
    std::thread::sleep(Duration::from_millis(300));
    let rep = stream.stop().expect("stream");
    let leave_gap = interval * proto::longest_gap(&rep.lost) as u32;
    eprintln!(
        "leave: {} sent, {} lost, longest gap {leave_gap:?}, members {:?}",
        rep.sent,
        rep.lost.len(),
        rep.members
    );
    assert!(rep.members.contains_key("m2"), "{:?}", rep.members);

    // m1 comes back, is preferred again; then a hard failure: SIGKILL,
    // no leave: the router expires it after the hold time.
    m1.spawn().expect("m1 again");
    wait_for("m1 answers again", Duration::from_secs(10), || {
        answering(&topo, 61200) == Some("m1".into())
    })
    .expect("m1 back");
    let src = SocketAddrV6::new(CLIENT, 40002, 0, 0);
    let stream = UdpStream::start(&topo.client, src, dst, interval);
    std::thread::sleep(Duration::from_millis(300));
    m1.kill9();
    // The anycast address stays on m1's lo and its server keeps answering:
    // only the router's expiry of m1 moves the traffic.
    wait_for(
        "m2 answers after m1's expiry",
        Duration::from_secs(5),
        || answering(&topo, 61300) == Some("m2".into()),
    )
    .expect("failover after expiry");
    std::thread::sleep(Duration::from_millis(300));
    let rep = stream.stop().expect("stream");
    eprintln!("expiry: {} sent, members {:?}", rep.sent, rep.members);
    assert!(rep.members.contains_key("m2"), "{:?}", rep.members);
    let log = router.log();
    assert!(log.contains("learned"), "{log}");
    drop(m2.signal(libc::SIGTERM));
}

/// With a key on the router, a member without it is rejected and counted;
/// one with the key is installed.
#[test]
fn ard_reports_without_the_key_are_rejected() {
    if !require_root("ard_reports_without_the_key_are_rejected") {
        return;
    }
    let topo = Topology::build("ardk", Options { m4: false }).expect("topology");
    let router = Daemon::start(&topo.router, &topo.tmp, "router", &router_cfg(true))
        .expect("router anycast6d");
    let _m1 = Daemon::start(
        &topo.m1,
        &topo.tmp,
        "m1",
        &member_cfg(&M1.to_string(), 1, None),
    )
    .expect("m1 anycast6d (no key)");
    let _m2 = Daemon::start(
        &topo.m2,
        &topo.tmp,
        "m2",
        &member_cfg(&M2.to_string(), 3, Some(KEY)),
    )
    .expect("m2 anycast6d (key)");
    wait_for("m2 answers", Duration::from_secs(15), || {
        answering(&topo, 62000) == Some("m2".into())
    })
    .unwrap_or_else(|e| panic!("{e}\nrouter log:\n{}", router.log()));
    wait_for("unsigned reports counted", Duration::from_secs(5), || {
        router
            .ctl_json(&["show", "ard"])
            .map(|v| v["router"]["counters"]["rejected"]["auth_missing"].as_u64() > Some(0))
            .unwrap_or(false)
    })
    .expect("auth_missing counted");
    let rib = router.ctl_json(&["show", "rib"]).expect("show rib");
    let rows = rib.as_array().unwrap();
    assert_eq!(rows.len(), 1, "only the keyed member: {rib:#}");
    assert_eq!(rows[0]["address"], M2.to_string());
    for p in 62100..62120 {
        assert_eq!(answering(&topo, p).as_deref(), Some("m2"));
    }
}

/// A member whose health check fails withdraws its addresses (ARD leave)
/// and reports them again when the check passes.
#[test]
fn failing_health_check_withdraws_the_member() {
    if !require_root("failing_health_check_withdraws_the_member") {
        return;
    }
    let topo = Topology::build("ardh", Options { m4: false }).expect("topology");
    let flag = topo.tmp.join("m1-healthy");
    std::fs::write(&flag, b"ok").unwrap();
    let _router = Daemon::start(&topo.router, &topo.tmp, "router", &router_cfg(false))
        .expect("router anycast6d");
    let mut m1cfg = member_cfg(&M1.to_string(), 1, None);
    m1cfg.extra.push_str(&format!(
        "health_check = {{ command = \"test -e {}\", interval_ms = 50 }}\n",
        flag.display()
    ));
    let _m1 = Daemon::start(&topo.m1, &topo.tmp, "m1", &m1cfg).expect("m1 anycast6d");
    let _m2 = Daemon::start(
        &topo.m2,
        &topo.tmp,
        "m2",
        &member_cfg(&M2.to_string(), 3, None),
    )
    .expect("m2 anycast6d");
    wait_for("m1 answers", Duration::from_secs(15), || {
        answering(&topo, 63000) == Some("m1".into())
    })
    .expect("m1 first");
    std::fs::remove_file(&flag).unwrap();
    wait_for(
        "m2 answers while m1 is unhealthy",
        Duration::from_secs(5),
        || answering(&topo, 63100) == Some("m2".into()),
    )
    .expect("health failure withdraws m1");
    std::fs::write(&flag, b"ok").unwrap();
    wait_for(
        "m1 answers again once healthy",
        Duration::from_secs(5),
        || answering(&topo, 63200) == Some("m1".into()),
    )
    .expect("health recovery reports m1 again");
}

/// `[member] draining = true`: the member's ARD reports carry the D flag;
/// the router keeps it installed as draining and new flows go to the
/// other member of the same metric.
#[test]
fn a_draining_member_gets_no_new_flows() {
    if !require_root("a_draining_member_gets_no_new_flows") {
        return;
    }
    let topo = Topology::build("ardd", Options { m4: false }).expect("topology");
    let router = Daemon::start(&topo.router, &topo.tmp, "router", &router_cfg(false))
        .expect("router anycast6d");
    let mut m1cfg = member_cfg(&M1.to_string(), 1, None);
    m1cfg.extra = format!("draining = true\n{}", m1cfg.extra);
    let _m1 = Daemon::start(&topo.m1, &topo.tmp, "m1", &m1cfg).expect("m1 anycast6d");
    let _m2 = Daemon::start(
        &topo.m2,
        &topo.tmp,
        "m2",
        &member_cfg(&M2.to_string(), 1, None),
    )
    .expect("m2 anycast6d");
    wait_for(
        "both members in the RIB, m1 draining",
        Duration::from_secs(15),
        || {
            router.ctl_json(&["show", "rib"]).is_ok_and(|v| {
                let rows = v.as_array().cloned().unwrap_or_default();
                rows.len() == 2
                    && rows
                        .iter()
                        .any(|r| r["address"] == M1.to_string() && r["state"] == "draining")
                    && rows
                        .iter()
                        .any(|r| r["address"] == M2.to_string() && r["state"] == "active")
            })
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", router.ctl(&["show", "rib"]).unwrap_or_default()));
    let c = topo.udp_census(64000, 200).expect("flows");
    assert_eq!(c.count("m1"), 0, "{c}");
    assert_eq!(c.count("m2"), 200, "{c}");
}
