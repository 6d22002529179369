//! Prometheus metrics (docs/metrics.md), scraped by a real Prometheus
//! server (Debian's 2.42) from anycast6d's `[metrics]` listener:
//!
//! ```text
//!   client ── UDP flows, raw malformed frames ──► router (XDP, anycast6d) ──► m1, m2 (m3 farther)
//!                                                 [metrics] [::1]:9464 ◄── prometheus (router netns,
//!                                                                          scrape every 1 s)
//!   test ── /api/v1/query ──► prometheus;  anycast6ctl show counters ──► anycast6d
//! ```
//! The series Prometheus stored must carry the numbers `show counters`
//! gives (per member, per group, per reason), the drop reasons of the
//! malformed frames sent, the members by state, reloads (applied and
//! refused) and the failover a reload causes; the listener moves and
//! goes with reloads, and a reload whose listener cannot bind is refused.
//! The Grafana dashboard (contrib/grafana/anycast6.json) queries only
//! series the daemon exposes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use anycast6_control::metrics::{sample_name, SERIES};
use anycast6_dataplane::fixtures::frames::{concat, eth, ipv6, udp, ETH_P_IPV6, NH_UDP};
use anycast6_tests::prometheus::{http_get, Prometheus, Sample};
use anycast6_tests::topology::{Options, ANYCAST, CLIENT, M1, M3, R2, UDP_PORT};
use anycast6_tests::{require_root, wait_for, Daemon, MemberCfg, Netns, Topology};
const LISTEN: &str = "[::1]:9464";

/// Sends each hex frame given on the command line out of one interface.
const SEND_PY: &str = r#"
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
"#;

fn mac(s: &str) -> [u8; 6] {
    let mut m = [0u8; 6];
    for (o, p) in m.iter_mut().zip(s.split(':')) {
        *o = u8::from_str_radix(p, 16).expect("MAC");
    }
    m
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The samples of `q`, waiting (up to a minute: scrapes are every second)
/// until `ok` holds for them; the last answer is in the panic otherwise.
fn until(
    p: &Prometheus,
    ns: &Netns,
    q: &str,
    what: &str,
    ok: impl Fn(&[Sample]) -> bool,
) -> Vec<Sample> {
    let mut last = Vec::new();
    let done = anycast6_tests::wait_until(Duration::from_secs(60), || match p.query(ns, q) {
        Ok(s) => {
            let good = ok(&s);
            last = s;
            good
        }
        Err(_) => false,
    });
    assert!(
        done,
        "{what}: `{q}` gave {last:?}\nprometheus:\n{}",
        p.log_tail(20)
    );
    last
}

/// The one value of `q` once it equals `want`.
fn value_is(p: &Prometheus, ns: &Netns, q: &str, want: f64) {
    until(p, ns, q, &format!("{q} == {want}"), |s| {
        s.len() == 1 && s[0].value == want
    });
}

/// `show counters`: per member address (packets, bytes), per group, and
/// per reason (verdict, packets).
struct Counters {
    members: BTreeMap<String, (u64, u64)>,
    groups: BTreeMap<String, (u64, u64)>,
    reasons: BTreeMap<String, (String, u64)>,
}

fn counters(d: &Daemon) -> Counters {
    let c = d.ctl_json(&["show", "counters"]).expect("show counters");
    let pb = |x: &serde_json::Value| {
        (
            x["packets"].as_u64().unwrap_or(0),
            x["bytes"].as_u64().unwrap_or(0),
        )
    };
    let s = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_string();
    Counters {
        members: c["members"]
            .as_array()
            .expect("members")
            .iter()
            .map(|m| (s(&m["address"]), pb(m)))
            .collect(),
        groups: c["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| (s(&g["group"]), pb(g)))
            .collect(),
        reasons: c["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .map(|r| {
                (
                    s(&r["reason"]),
                    (s(&r["verdict"]), r["packets"].as_u64().unwrap_or(0)),
                )
            })
            .collect(),
    }
}

fn scrape(ns: &Netns, addr: SocketAddr) -> anyhow::Result<(u16, String)> {
    ns.run_in(move || http_get(addr, "/metrics"))
}

#[test]
fn prometheus_scrapes_what_the_fast_path_and_the_control_plane_count() {
    if !require_root("prometheus_scrapes_what_the_fast_path_and_the_control_plane_count") {
        return;
    }
    let topo = Topology::build("prom", Options::default()).expect("topology");
    let mut cfg = topo.router_config();
    let metrics = |listen: &str| format!("\n[metrics]\nlisten = \"{listen}\"\n");
    let ard = anycast6_tests::proto::ard_router(&["to-m1"], None);
    cfg.extra = format!("{ard}{}", metrics(LISTEN));
    let d = Daemon::start(&topo.router, &topo.tmp, "router", &cfg).expect("anycast6d");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");
    let ns = &topo.router;
    let prom = Prometheus::start(ns, &topo.tmp, "prometheus", LISTEN).expect("prometheus");
    eprintln!("prometheus pid {}", prom.pid());
    value_is(&prom, ns, "up{job=\"anycast6d\"}", 1.0);

    // Traffic: UDP flows to both on-link members, then malformed frames.
    let census = topo.udp_census(20000, 60).expect("flows");
    assert_eq!(census.unanswered, 0, "{census}");
    assert!(census.count("m1") > 0 && census.count("m2") > 0, "{census}");
    let dir = topo.tmp.path().to_path_buf();
    std::fs::write(dir.join("send.py"), SEND_PY).expect("send.py");
    let router_mac = mac(&topo.router.mac("to-c").expect("router MAC"));
    let client_mac = mac(&topo.client.mac("to-r1").expect("client MAC"));
    // An IPv6 header cut after 20 of its 40 bytes (drop_trunc_ipv6), and
    // whole packets from a multicast source (drop_bad_src).
    let truncated = concat(&[&eth(router_mac, client_mac, ETH_P_IPV6), &[0x60; 20]]);
    let src: Ipv6Addr = "ff0e::1".parse().expect("address");
    let l4 = udp(src, ANYCAST, 40000, UDP_PORT, b"bad source");
    let bad_src = concat(&[
        &eth(router_mac, client_mac, ETH_P_IPV6),
        &ipv6(0, 0, l4.len() as u16, NH_UDP, 64, src, ANYCAST),
        &l4,
    ]);
    let mut frames = vec![hex(&truncated); 4];
    frames.extend(vec![hex(&bad_src); 3]);
    let mut cmd = topo.client.command("python3");
    cmd.arg(dir.join("send.py")).arg("to-r1").args(&frames);
    let out = cmd.output().expect("send.py");
    assert!(out.status.success(), "send.py: {out:?}");
    let _ = CLIENT;

    // What the daemon counts, and what Prometheus stored from its scrapes.
    let drops_seen = wait_for(
        "the malformed frames counted",
        Duration::from_secs(10),
        || {
            let c = counters(&d);
            c.reasons.get("drop_trunc_ipv6").map(|r| r.1) == Some(4)
                && c.reasons.get("drop_bad_src").map(|r| r.1) == Some(3)
        },
    );
    drops_seen.expect("drop reasons counted by the fast path");
    let c = counters(&d);
    for (reason, n) in [("drop_trunc_ipv6", 4.0), ("drop_bad_src", 3.0)] {
        value_is(
            &prom,
            ns,
            &format!("anycast6_fastpath_packets_total{{reason=\"{reason}\",verdict=\"drop\"}}"),
            n,
        );
    }
    let fwd = c.reasons["fwd_rewrite"].clone();
    assert_eq!(fwd.0, "redirect");
    value_is(
        &prom,
        ns,
        "anycast6_fastpath_packets_total{reason=\"fwd_rewrite\"}",
        fwd.1 as f64,
    );
    let members = until(
        &prom,
        ns,
        "anycast6_member_packets_total",
        "per-member packets as show counters gives them",
        |s| {
            let got: BTreeMap<String, u64> = s
                .iter()
                .map(|x| (x.labels["member"].clone(), x.value as u64))
                .collect();
            let want: BTreeMap<String, u64> = c
                .members
                .iter()
                .map(|(a, (p, _))| (a.clone(), *p))
                .collect();
            got == want
        },
    );
    let mut flows = 0;
    for m in &members {
        assert_eq!(m.labels["group"], ANYCAST.to_string(), "{m:?}");
        assert!(!m.labels["member_id"].is_empty(), "{m:?}");
        assert_eq!(m.labels["job"], "anycast6d");
        flows += m.value as u64;
    }
    // Every flow's request was forwarded (the readiness probes too).
    assert!(flows >= 60, "{members:?}");
    assert!(members.iter().any(|m| m.labels["member"] == M1.to_string()));
    for (a, (_, bytes)) in &c.members {
        value_is(
            &prom,
            ns,
            &format!("anycast6_member_bytes_total{{member=\"{a}\"}}"),
            *bytes as f64,
        );
    }
    let (gp, gb) = c.groups[&ANYCAST.to_string()];
    value_is(
        &prom,
        ns,
        &format!("anycast6_group_packets_total{{group=\"{ANYCAST}\"}}"),
        gp as f64,
    );
    value_is(
        &prom,
        ns,
        &format!("anycast6_group_bytes_total{{group=\"{ANYCAST}\"}}"),
        gb as f64,
    );
    assert_eq!(gp, flows, "a group counts what its members count");
    // m1 and m2 at distance 1 are installed; m3 (distance 2) is not.
    let active = format!("anycast6_group_members{{group=\"{ANYCAST}\",state=\"active\"}}");
    value_is(&prom, ns, &active, 2.0);
    value_is(
        &prom,
        ns,
        "anycast6_protocol_running{protocol=\"ard\"}",
        1.0,
    );
    value_is(
        &prom,
        ns,
        "anycast6_protocol_running{protocol=\"arip\"}",
        0.0,
    );
    value_is(&prom, ns, "anycast6_ard_members", 0.0);
    // m1 registers by ARD (its own anycast6d, member role): the router
    // knows one member with one address.
    let m1 = Daemon::start(
        &topo.m1,
        &topo.tmp,
        "m1",
        &anycast6_tests::proto::member_role(
            ANYCAST,
            anycast6_tests::proto::ard_member(&anycast6_tests::proto::ArdMember {
                iface: "to-r1",
                unicast: &M1.to_string(),
                metric: 1,
                hold_ms: 3000,
                report_ms: 500,
                key: None,
            }),
        ),
    )
    .expect("m1 anycast6d");
    value_is(&prom, ns, "anycast6_ard_members", 1.0);
    value_is(&prom, ns, "anycast6_ard_addresses", 1.0);
    drop(m1);
    value_is(&prom, ns, "anycast6_reloads_total{result=\"ok\"}", 0.0);

    // A reload whose listener cannot bind is refused, naming the place;
    // the running listener stays.
    let held = ns
        .run_in(|| Ok(std::net::TcpListener::bind("[::1]:9465")?))
        .expect("a listener holding [::1]:9465");
    let base = d.config_text(&cfg);
    let taken = base.replace(LISTEN, "[::1]:9465");
    let err = d
        .reload_text(&taken)
        .expect_err("a reload onto a taken port");
    let msg = format!("{err:#}");
    let file = d.config.display().to_string();
    assert!(
        msg.contains(&format!("{file}:"))
            && msg.contains("metrics.listen [::1]:9465: cannot listen"),
        "{msg}"
    );
    drop(held);
    value_is(&prom, ns, "anycast6_reloads_total{result=\"refused\"}", 1.0);
    value_is(&prom, ns, "up{job=\"anycast6d\"}", 1.0);

    // m2 leaves the group by a reload: one failover, one reload applied.
    let mut without_m2 = cfg.clone();
    without_m2.groups[0].members = vec![
        MemberCfg::on_link(&M1.to_string(), "to-m1"),
        MemberCfg::on_link(&M3.to_string(), "to-r2")
            .via(&R2.to_string())
            .distance(2),
    ];
    d.reload(&without_m2).expect("reload without m2");
    value_is(&prom, ns, "anycast6_reloads_total{result=\"ok\"}", 1.0);
    value_is(
        &prom,
        ns,
        &format!("anycast6_failovers_total{{group=\"{ANYCAST}\"}}"),
        1.0,
    );
    value_is(&prom, ns, &active, 1.0);

    // The listener moves with a reload, and goes when [metrics] does.
    let old: SocketAddr = LISTEN.parse().expect("address");
    let new: SocketAddr = "[::1]:9466".parse().expect("address");
    let mut moved = without_m2.clone();
    moved.extra = format!("{ard}{}", metrics(&new.to_string()));
    d.reload(&moved).expect("reload moving the listener");
    let (status, text) = scrape(ns, new).expect("scrape at the new address");
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("anycast6_reloads_total{result=\"ok\"} 2\n"),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"));
    assert!(scrape(ns, old).is_err(), "the old address still answers");
    let (status, _) = ns
        .run_in(move || http_get(new, "/other"))
        .expect("GET /other");
    assert_eq!(status, 404);
    // Every family the daemon renders, with these sections on, is there.
    for (name, t) in SERIES {
        let present = text.contains(&format!("# TYPE {name} "));
        let optional = ["arip", "aospf", "piasm", "mga", "decap"]
            .iter()
            .any(|p| name.starts_with(&format!("anycast6_{p}_")));
        assert!(
            present || optional,
            "{} missing from the scrape",
            sample_name(name, t)
        );
    }
    let mut gone = moved.clone();
    gone.extra = ard.clone();
    d.reload(&gone).expect("reload without [metrics]");
    assert!(scrape(ns, new).is_err(), "[metrics] removed, still answers");
    drop(prom);
}

/// Every series the dashboard queries is one the daemon renders.
#[test]
fn grafana_dashboard_queries_exposed_series_only() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contrib/grafana/anycast6.json"
    );
    let text = std::fs::read_to_string(path).expect("contrib/grafana/anycast6.json");
    let dash: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                        _ => walk(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&dash, &mut exprs);
    assert!(exprs.len() >= 8, "the dashboard has few queries: {exprs:?}");
    let exposed: BTreeSet<String> = SERIES.iter().map(|(n, t)| sample_name(n, t)).collect();
    let mut queried = BTreeSet::new();
    for e in &exprs {
        let mut rest = e.as_str();
        while let Some(i) = rest.find("anycast6_") {
            let tail = &rest[i..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            queried.insert(tail[..end].to_string());
            rest = &tail[end..];
        }
    }
    let unknown: Vec<&String> = queried.difference(&exposed).collect();
    assert!(unknown.is_empty(), "not exposed: {unknown:?}");
    for must in [
        "anycast6_fastpath_packets_total",
        "anycast6_member_packets_total",
        "anycast6_group_packets_total",
        "anycast6_failovers_total",
        "anycast6_reloads_total",
        "anycast6_aospf_neighbors",
    ] {
        assert!(queried.contains(must), "the dashboard does not show {must}");
    }
}

/// The cost of a scrape with 10k groups (docs/metrics.md gives the
/// figures): 10,000 anycast addresses, each its own group of two on-link
/// members, one UDP datagram sent to each so every group and one member of
/// each carry counts; then 20 scrapes over HTTP, timed from the request to
/// the last byte. A measurement, not a check of speed: run it by hand,
/// `cargo test -p anycast6-tests --test metrics scrape_cost -- --ignored --nocapture`
/// (with `A6T_BIN_DIR=target/release` for the release daemon). It checks
/// that every group's counters are in the scrape.
#[test]
#[ignore = "a measurement (docs/metrics.md), run by hand"]
fn scrape_cost_at_10k_groups() {
    if !require_root("scrape_cost_at_10k_groups") {
        return;
    }
    const GROUPS: usize = 10_000;
    let topo = Topology::build("prmk", Options::default()).expect("topology");
    let mut cfg = anycast6_tests::DaemonCfg {
        router_address: Some(anycast6_tests::topology::ROUTER_C.to_string()),
        ..Default::default()
    }
    .interface("to-c", "native")
    .interface("to-m1", "native")
    .interface("to-m2", "native");
    let addr = |i: usize| format!("2001:db8:ad::{:x}", i + 1);
    for i in 0..GROUPS {
        cfg = cfg.group(
            &addr(i),
            vec![
                MemberCfg::on_link(&M1.to_string(), "to-m1"),
                MemberCfg::on_link(&anycast6_tests::topology::M2.to_string(), "to-m2"),
            ],
        );
    }
    let blocks = anycast6_dataplane::blocks::blocks_for(anycast6_dataplane::maglev::table_len(2));
    cfg.extra = format!(
        "[capacities]\ngroups = {}\nmember_ids = {}\nmaglev_blocks = {}\n{}",
        GROUPS + 64,
        2 * GROUPS + 64,
        2 * blocks as usize * GROUPS + 64,
        format_args!("\n[metrics]\nlisten = \"{LISTEN}\"\n"),
    );
    let d = Daemon::start(&topo.router, &topo.tmp, "router", &cfg).expect("anycast6d");
    let ns = &topo.router;
    let listen: SocketAddr = LISTEN.parse().expect("address");
    let (status, first) = scrape(ns, listen).expect("scrape");
    assert_eq!(status, 200);
    eprintln!("idle scrape: {} bytes", first.len());
    // One datagram to each address (the members drop them: nothing
    // listens there; the router counts them).
    let dsts: Vec<Ipv6Addr> = (0..GROUPS).map(|i| addr(i).parse().unwrap()).collect();
    topo.client
        .run_in(move || {
            let s = std::net::UdpSocket::bind("[::]:0")?;
            for a in dsts {
                s.send_to(b"count me", (a, UDP_PORT))?;
            }
            Ok(())
        })
        .expect("send");
    wait_for("every group counted", Duration::from_secs(30), || {
        counters(&d).groups.len() >= GROUPS
    })
    .expect("counted");
    let mut times = Vec::new();
    let mut body = String::new();
    for _ in 0..20 {
        let t = std::time::Instant::now();
        let (status, text) = scrape(ns, listen).expect("scrape");
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(status, 200);
        body = text;
    }
    times.sort_by(f64::total_cmp);
    let samples = body.lines().filter(|l| !l.starts_with('#')).count();
    let groups = body
        .lines()
        .filter(|l| l.starts_with("anycast6_group_packets_total{"))
        .count();
    assert!(groups >= GROUPS, "{groups} groups in the scrape");
    let t = std::time::Instant::now();
    let _ = counters(&d);
    let show = t.elapsed().as_secs_f64() * 1e3;
    eprintln!(
        "scrape at {GROUPS} groups: {samples} samples, {} bytes; median {:.1} ms, min {:.1}, max {:.1} (20 scrapes); `anycast6ctl --json show counters` {:.1} ms",
        body.len(),
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        show
    );
}
