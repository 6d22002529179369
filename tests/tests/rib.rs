//! Administrative distance end to end: the RIB installs the best source's
//! candidates whatever the metrics say, keeps the others waiting, and a
//! reload of `[rib.distance]` or a withdrawal moves real traffic.
//!
//! The group's configured member is m3, two hops away (metric 2); m4 is
//! added at run time on-link (metric 1). With `runtime = 50` the config
//! (1) wins and m3 serves despite the worse metric; with `runtime = 1`
//! the tie on administrative distance goes to the metric and m4 serves;
//! when m4 is removed, m3 takes over again.

use std::time::Duration;

use anycast6_tests::topology::{Options, ANYCAST, M3, M4, R2, ROUTER_C};
use anycast6_tests::{require_root, wait_for, Daemon, DaemonCfg, MemberCfg, Topology};

fn config(runtime_distance: u8) -> DaemonCfg {
    let mut cfg = DaemonCfg {
        router_address: Some(ROUTER_C.to_string()),
        ..Default::default()
    }
    .interface("to-c", "native")
    .interface("to-m1", "native")
    .interface("to-m2", "native")
    .interface("to-m4", "native")
    .interface("to-r2", "native")
    .group(
        &ANYCAST.to_string(),
        vec![MemberCfg::on_link(&M3.to_string(), "to-r2")
            .via(&R2.to_string())
            .distance(2)],
    );
    cfg.extra = format!("[rib.distance]\nruntime = {runtime_distance}\n");
    cfg
}

/// The `show rib --json` row of `member`.
fn row(d: &Daemon, member: std::net::Ipv6Addr) -> serde_json::Value {
    let rib = d.ctl_json(&["show", "rib"]).expect("show rib");
    rib.as_array()
        .and_then(|a| {
            a.iter()
                .find(|r| r["address"] == member.to_string())
                .cloned()
        })
        .unwrap_or_else(|| panic!("{member} not in show rib: {rib}"))
}

#[test]
fn administrative_distance_decides_before_the_metric() {
    if !require_root("administrative_distance_decides_before_the_metric") {
        return;
    }
    let topo = Topology::build("ribad", Options { m4: true }).expect("topology");
    let mut d = Daemon::start(&topo.router, &topo.tmp, "router", &config(50)).expect("anycast6d");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");
    let census = topo.udp_census(20000, 50).expect("flows");
    assert_eq!(census.count("m3"), 50, "config member only: {census}");

    d.ctl(&[
        "member",
        "add",
        &ANYCAST.to_string(),
        &M4.to_string(),
        "--interface",
        "to-m4",
        "--distance",
        "1",
    ])
    .expect("member add m4");
    let (m3, m4) = (row(&d, M3), row(&d, M4));
    eprintln!("runtime = 50: m3 {m3}\nm4 {m4}");
    assert_eq!(
        (m4["source"].as_str(), m4["admin_distance"].as_u64()),
        (Some("runtime"), Some(50))
    );
    assert_eq!(
        m4["installed"], false,
        "runtime (50) must wait behind config (1)"
    );
    assert_eq!(m3["installed"], true);
    let census = topo.udp_census(21000, 50).expect("flows");
    assert_eq!(
        census.count("m3"),
        50,
        "metric 1 at distance 50 must not beat metric 2 at distance 1: {census}"
    );

    // The operator makes runtime members as good as configured ones: the
    // metric decides now, m4 (1) beats m3 (2).
    let text = config(1).to_toml(&d.socket, d.pin_dir(), &topo.tmp.join("router.state.json"));
    std::fs::write(&d.config, text).expect("write config");
    d.ctl(&["reload"]).expect("reload");
    assert_eq!(row(&d, M4)["installed"], true);
    assert_eq!(row(&d, M3)["installed"], false);
    let census = topo.udp_census(22000, 50).expect("flows");
    assert_eq!(census.count("m4"), 50, "{census}");

    // m4 goes: the waiting candidate takes over.
    d.ctl(&["member", "remove", &ANYCAST.to_string(), &M4.to_string()])
        .expect("member remove");
    wait_for("m3 installed again", Duration::from_secs(5), || {
        row(&d, M3)["installed"] == true
    })
    .expect("m3 back");
    let census = topo.udp_census(23000, 50).expect("flows");
    assert_eq!(census.count("m3"), 50, "{census}");
    let text = d.ctl(&["show", "rib"]).expect("show rib");
    eprintln!("{text}");
    assert!(
        text.contains("AD"),
        "show rib names the administrative distance: {text}"
    );
    d.signal(libc::SIGTERM).ok();
}
