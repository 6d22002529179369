//! `[kernel_import]` end to end: BIRD 2 in the router's namespace exports a
//! static multipath /128 for the anycast address (via m1 and m2) into the
//! kernel (protocol bird); anycast6d imports it as two members of source
//! `kernel` and its XDP fast path spreads flows over both. BIRD's config
//! then keeps only m2: m2's flows stay, m1's move to m2, m2 keeps its
//! member id (BIRD's delete-and-add of the route settles into one change).
//! A bad `[kernel_import]` is refused on reload with file:line:col and
//! changes nothing; removing the section withdraws what it imported,
//! putting it back imports it again; BIRD removing the route empties the
//! RIB's kernel members and the FIB entry.

use std::net::{SocketAddrV6, UdpSocket};
use std::time::Duration;

use anycast6_tests::bird::Bird;
use anycast6_tests::topology::{Options, ANYCAST, CLIENT, M1, M2, ROUTER_C};
use anycast6_tests::traffic::udp_ask;
use anycast6_tests::{require_root, wait_for, Daemon, DaemonCfg, Topology};

const IMPORT: &str = "[kernel_import]\nprotocols = [\"bird\"]\nprefixes = [\"2001:db8:ac::/48\"]\n";

fn config(import: &str) -> DaemonCfg {
    let mut cfg = DaemonCfg {
        router_address: Some(ROUTER_C.to_string()),
        ..Default::default()
    }
    .interface("to-c", "native")
    .interface("to-m1", "native")
    .interface("to-m2", "native")
    .interface("to-r2", "native");
    cfg.extra = import.to_string();
    cfg
}

/// BIRD exporting a static route to the anycast /128 via `via` into the
/// kernel (no route with none).
fn bird_config(via: &[std::net::Ipv6Addr]) -> String {
    let route = if via.is_empty() {
        String::new()
    } else {
        let hops: Vec<String> = via.iter().map(|a| format!("via {a}")).collect();
        format!("  route {ANYCAST}/128 {};\n", hops.join(" "))
    };
    format!(
        "router id 10.0.0.1;\n\
         protocol device {{ }}\n\
         protocol kernel k6 {{\n  ipv6 {{ import none; export all; }};\n}}\n\
         protocol static s6 {{\n  ipv6;\n{route}}}\n"
    )
}

/// The kernel rows of `show rib --json`: (member address, installed, member id).
fn kernel_rows(d: &Daemon) -> Vec<(String, bool, Option<u64>)> {
    let rib = d.ctl_json(&["show", "rib"]).expect("show rib");
    rib.as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["source"] == "kernel" && r["group"] == ANYCAST.to_string())
        .map(|r| {
            (
                r["address"].as_str().unwrap_or_default().to_string(),
                r["installed"] == true,
                r["member_id"].as_u64(),
            )
        })
        .collect()
}

fn fib_has_anycast(d: &Daemon) -> bool {
    let fib = d.ctl_json(&["show", "fib"]).expect("show fib");
    fib["routes"].as_array().into_iter().flatten().any(|r| {
        r["route"].as_str().and_then(|s| s.split('/').next()) == Some(&ANYCAST.to_string())
    })
}

/// Which member answers each of `n` UDP flows (source ports `base..`).
fn flows(topo: &Topology, base: u16, n: u16) -> Vec<Option<String>> {
    let dst = topo.udp_dst();
    topo.client
        .run_in(move || {
            (0..n)
                .map(|i| {
                    let sock = UdpSocket::bind(SocketAddrV6::new(CLIENT, base + i, 0, 0))?;
                    sock.connect(dst)?;
                    udp_ask(
                        &sock,
                        format!("flow {i}").as_bytes(),
                        3,
                        Duration::from_millis(500),
                    )
                })
                .collect()
        })
        .expect("flows")
}

fn count(f: &[Option<String>], member: &str) -> usize {
    f.iter().filter(|m| m.as_deref() == Some(member)).count()
}

fn kernel_route(topo: &Topology) -> String {
    let out = topo
        .router
        .command("ip")
        .args(["-6", "route", "show", &format!("{ANYCAST}/128")])
        .output()
        .expect("ip route");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write_config(d: &Daemon, topo: &Topology, import: &str) {
    let text = config(import).to_toml(&d.socket, d.pin_dir(), &topo.tmp.join("router.state.json"));
    std::fs::write(&d.config, text).expect("write config");
}

/// What the router holds, for a failure message: members, counters, the
/// kernel's neighbours and link counters.
fn diagnostics(d: &Daemon, topo: &Topology) -> String {
    let ip = |args: &[&str]| topo.router.ip(args).unwrap_or_default();
    format!(
        "members:\n{}\nfib:\n{}\ncounters: {}\nneighbours:\n{}\nlinks:\n{}\nlog:\n{}",
        d.ctl(&["show", "members"]).unwrap_or_default(),
        d.ctl(&["show", "fib"]).unwrap_or_default(),
        d.ctl_json(&["show", "counters"]).unwrap_or_default(),
        ip(&["-6", "neigh"]),
        ip(&["-s", "-br", "link"]),
        d.log()
    )
}

#[test]
fn bgp_style_kernel_routes_become_members() {
    if !require_root("bgp_style_kernel_routes_become_members") {
        return;
    }
    let topo = Topology::build("kimp", Options::default()).expect("topology");
    let mut d =
        Daemon::start(&topo.router, &topo.tmp, "router", &config(IMPORT)).expect("anycast6d");
    let bird =
        Bird::start(&topo.router, &topo.tmp, "router", &bird_config(&[M1, M2])).expect("BIRD");
    wait_for(
        "BIRD's multipath route in the kernel",
        Duration::from_secs(15),
        || {
            let r = kernel_route(&topo);
            r.contains("proto bird") && r.contains(&M1.to_string()) && r.contains(&M2.to_string())
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {}", kernel_route(&topo)));
    eprintln!("kernel route:\n{}", kernel_route(&topo));
    // Installed and usable: in the FIB with a next hop resolved.
    wait_for(
        "two kernel members installed and active",
        Duration::from_secs(10),
        || {
            let rows = kernel_rows(&d);
            let active = d
                .ctl_json(&["show", "rib"])
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter(|r| r["source"] == "kernel" && r["state"] == "active")
                .count();
            rows.len() == 2 && rows.iter().all(|r| r.1) && active == 2
        },
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", kernel_rows(&d), diagnostics(&d, &topo)));
    let rib = d.ctl(&["show", "rib"]).expect("show rib");
    eprintln!("{rib}");
    assert!(rib.contains("kernel"), "{rib}");
    let view = d
        .ctl(&["show", "kernel-import"])
        .expect("show kernel-import");
    eprintln!("{view}");
    let v = d
        .ctl_json(&["show", "kernel_import"])
        .expect("show kernel_import --json");
    assert_eq!(v["imported"], 1, "{v}");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");

    // Both members answer (one probe each way is not enough: the ready
    // check above needs one member only).
    wait_for("both members answer", Duration::from_secs(15), || {
        let f = flows(&topo, 10000, 40);
        count(&f, "m1") > 0 && count(&f, "m2") > 0
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", diagnostics(&d, &topo)));

    // 1000 flows over both members.
    let before = flows(&topo, 20000, 1000);
    let (m1, m2) = (count(&before, "m1"), count(&before, "m2"));
    eprintln!("1000 flows: m1 {m1}, m2 {m2}");
    assert_eq!(
        m1 + m2,
        1000,
        "every flow on m1 or m2: {} unanswered\n{}",
        before.iter().filter(|f| f.is_none()).count(),
        diagnostics(&d, &topo)
    );
    assert!(m1 >= 300 && m2 >= 300, "spread m1 {m1}, m2 {m2}");

    // A bad section: refused with file:line:col, nothing changes.
    let fib0 = d.ctl_json(&["show", "fib"]).expect("show fib");
    write_config(
        &d,
        &topo,
        "[kernel_import]\nprotocols = [\"bird\", \"birb\"]\n",
    );
    let out = d.ctl_output(&["reload"]).expect("reload");
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("bad reload: {}", msg.trim());
    assert!(
        !out.status.success(),
        "a bad [kernel_import] reloaded: {msg}"
    );
    let file = d.config.display().to_string();
    assert!(
        msg.contains(&format!("{file}:"))
            && msg.contains("protocol \"birb\" is not a route protocol name"),
        "the error names file:line:col and the mistake: {msg}"
    );
    let line = msg
        .split(&format!("{file}:"))
        .nth(1)
        .and_then(|s| s.split(':').next())
        .and_then(|l| l.parse::<u32>().ok());
    assert!(line.is_some(), "no line number: {msg}");
    assert_eq!(
        d.ctl_json(&["show", "fib"]).expect("show fib"),
        fib0,
        "a refused reload changed the FIB"
    );
    assert_eq!(kernel_rows(&d).len(), 2);
    write_config(&d, &topo, IMPORT);

    // BIRD keeps only m2: its flows stay, m1's move to it, same member id.
    let m2_id = kernel_rows(&d)
        .into_iter()
        .find(|r| r.0 == M2.to_string())
        .and_then(|r| r.2)
        .expect("m2's member id");
    std::fs::write(bird.conf_path(), bird_config(&[M2])).expect("BIRD config");
    let out = bird.birdc("configure").expect("birdc configure");
    eprintln!("birdc configure: {}", out.trim());
    wait_for("only m2 left", Duration::from_secs(10), || {
        let rows = kernel_rows(&d);
        rows.len() == 1 && rows[0].0 == M2.to_string() && rows[0].1
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", kernel_rows(&d), kernel_route(&topo)));
    eprintln!("kernel route:\n{}", kernel_route(&topo));
    let v = d
        .ctl_json(&["show", "kernel_import"])
        .expect("show kernel_import");
    eprintln!("after BIRD's change: counters {}", v["counters"]);
    assert_eq!(
        kernel_rows(&d)[0].2,
        Some(m2_id),
        "m2 kept its member id (no withdraw-and-add in between)"
    );
    let after = flows(&topo, 20000, 1000);
    let (mut stayed, mut moved) = (0, 0);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert_eq!(
            a.as_deref(),
            Some("m2"),
            "flow {i} (was on {b:?}) not on m2"
        );
        match b.as_deref() {
            Some("m2") => stayed += 1,
            _ => moved += 1,
        }
    }
    eprintln!("after m1 went: {stayed} flows stayed on m2, {moved} moved from m1 to m2");
    assert_eq!((stayed, moved), (m2, m1));

    // The section removed: what it imported goes; back: imported again.
    write_config(&d, &topo, "");
    d.ctl(&["reload"]).expect("reload without [kernel_import]");
    wait_for(
        "no kernel member after the section went",
        Duration::from_secs(10),
        || kernel_rows(&d).is_empty() && !fib_has_anycast(&d),
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}", kernel_rows(&d)));
    write_config(&d, &topo, IMPORT);
    d.ctl(&["reload"]).expect("reload with [kernel_import]");
    wait_for("m2 imported again", Duration::from_secs(10), || {
        kernel_rows(&d).len() == 1 && fib_has_anycast(&d)
    })
    .unwrap_or_else(|e| panic!("{e}: {:?}", kernel_rows(&d)));
    topo.wait_anycast_ready(Duration::from_secs(10))
        .expect("anycast answers again");

    // BIRD withdraws the route: no kernel member, no FIB entry.
    std::fs::write(bird.conf_path(), bird_config(&[])).expect("BIRD config");
    bird.birdc("configure").expect("birdc configure");
    wait_for(
        "the route gone from the kernel",
        Duration::from_secs(10),
        || kernel_route(&topo).trim().is_empty(),
    )
    .unwrap_or_else(|e| panic!("{e}: {}", kernel_route(&topo)));
    wait_for(
        "no kernel member, no FIB entry",
        Duration::from_secs(10),
        || kernel_rows(&d).is_empty() && !fib_has_anycast(&d),
    )
    .unwrap_or_else(|e| panic!("{e}: {:?}", kernel_rows(&d)));
    let v = d
        .ctl_json(&["show", "kernel_import"])
        .expect("show kernel_import");
    eprintln!("{v}");
    assert_eq!(v["imported"], 0, "{v}");
    drop(bird);
    d.signal(libc::SIGTERM).ok();
}
