//! Config errors never reach the running FIB.

use std::time::Duration;

use anycast6_tests::topology::{Options, M1};
use anycast6_tests::{bin, require_root, Daemon, DaemonCfg, MemberCfg, TempDir, Topology};

const GROUP: &str = "2001:db8:ac::1";

/// `anycast6ctl reload` (and SIGHUP) after writing a broken file are
/// rejected with the file position; `show fib` is unchanged and traffic
/// keeps flowing. A good file is then applied, so the rejection meant
/// something.
#[test]
fn bad_config_reload_is_rejected_and_fib_unchanged() {
    if !require_root("bad_config_reload_is_rejected_and_fib_unchanged") {
        return;
    }
    let topo = Topology::build("reld", Options::default()).expect("topology");
    let mut d =
        Daemon::start(&topo.router, &topo.tmp, "router", &topo.router_config()).expect("anycast6d");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");
    let good = std::fs::read_to_string(&d.config).expect("config");
    let fib0 = d.ctl_json(&["show", "fib"]).expect("show fib");

    // A TOML syntax error on line 3, and a valid TOML file whose member
    // names an interface that is not listed.
    let syntax = good.replacen("pin_dir", "pin_dir = = ", 1);
    let semantic = good.replacen("interface = \"to-m2\"", "interface = \"nope0\"", 1);
    assert_ne!(semantic, good);
    for (what, text) in [("syntax error", syntax), ("unknown interface", semantic)] {
        std::fs::write(&d.config, &text).expect("write config");
        let out = d.ctl_output(&["reload"]).expect("reload");
        let msg = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "reload with a {what} succeeded: {msg}"
        );
        let file = d.config.display().to_string();
        assert!(
            msg.contains(&format!("{file}:")),
            "{what}: the error does not name the file: {msg}"
        );
        eprintln!("{what}: rejected: {}", msg.trim());
        assert_eq!(
            d.ctl_json(&["show", "fib"]).expect("show fib"),
            fib0,
            "{what} changed the FIB"
        );
        let census = topo.udp_census(20000, 50).expect("flows");
        assert_eq!(census.unanswered, 0, "{what}: {census}");
        assert_eq!(census.count("m3"), 0, "{what}: {census}");
    }

    // SIGHUP with the broken file: the daemon keeps running, FIB unchanged.
    d.signal(libc::SIGHUP).expect("SIGHUP");
    std::thread::sleep(Duration::from_millis(300));
    assert!(d.running(), "anycast6d died on SIGHUP with a bad config");
    assert_eq!(
        d.ctl_json(&["show", "fib"]).expect("show fib"),
        fib0,
        "SIGHUP changed the FIB"
    );

    // A good change applies: m2 leaves the group, everything goes to m1.
    let cfg = DaemonCfg {
        router_address: Some("2001:db8:c::1".into()),
        ..Default::default()
    }
    .interface("to-c", "native")
    .interface("to-m1", "native")
    .interface("to-m2", "native")
    .interface("to-r2", "native")
    .group(GROUP, vec![MemberCfg::on_link(&M1.to_string(), "to-m1")]);
    let mut text = cfg.to_toml(&d.socket, d.pin_dir(), &topo.tmp.join("router.state.json"));
    text.push('\n');
    std::fs::write(&d.config, text).expect("write config");
    d.ctl(&["reload"]).expect("reload of a good config");
    assert_ne!(
        d.ctl_json(&["show", "fib"]).expect("show fib"),
        fib0,
        "a good reload changed nothing"
    );
    let census = topo.udp_census(21000, 50).expect("flows");
    assert_eq!(census.count("m1"), 50, "{census}");
}

/// `anycast6d --check` rejects a broken file with file:line:col and
/// accepts a good one, applying nothing (no root needed).
#[test]
fn check_reports_the_position() {
    let tmp = TempDir::new("check").expect("tmp");
    let bad = tmp.join("bad.toml");
    std::fs::write(
        &bad,
        "[daemon]\nsocket = \"/tmp/x.sock\"\n\n[[group]]\naddress = \"2001:db8:ac::zz\"\n",
    )
    .expect("write");
    let out = std::process::Command::new(bin("anycast6d"))
        .arg("--check")
        .arg(&bad)
        .output()
        .expect("anycast6d --check");
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "a bad address passed --check: {msg}");
    assert!(
        msg.contains(&format!("{}:5:", bad.display())),
        "no file:line in: {msg}"
    );

    let good = tmp.join("good.toml");
    std::fs::write(
        &good,
        "[daemon]\nsocket = \"/tmp/x.sock\"\n\n[[group]]\naddress = \"2001:db8:ac::1\"\n\n[[group.member]]\naddress = \"2001:db8:1::10\"\naction = \"local\"\n",
    )
    .expect("write");
    let out = std::process::Command::new(bin("anycast6d"))
        .arg("--check")
        .arg(&good)
        .output()
        .expect("anycast6d --check");
    assert!(
        out.status.success(),
        "a good file failed --check: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The FIB's routes and each group's members (unicast, state), without
/// what a republish changes (generations, member ids, table blocks).
fn fib_members(d: &Daemon) -> Vec<String> {
    let v = d.ctl_json(&["show", "fib"]).expect("show fib");
    let mut out: Vec<String> = v["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| format!("route {}", r["route"]))
        .collect();
    for g in v["groups"].as_array().into_iter().flatten() {
        for m in g["members"].as_array().into_iter().flatten() {
            out.push(format!("member {} {}", m["unicast"], m["state"]));
        }
    }
    out.sort();
    out
}

/// Polls the FIB until it holds `want` (true) or `limit` passes.
fn wait_fib(d: &Daemon, want: &[String], limit: Duration) -> bool {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < limit {
        if fib_members(d) == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// `reload --diff` shows a change and applies nothing; `reload --confirm 3`
/// applies it and, unconfirmed, the FIB and the traffic go back to the
/// config that ran before (member changes are refused meanwhile); a
/// confirmed one stays past its time; a broken file's diff says the reload
/// would be refused, with file:line.
#[test]
fn reload_confirm_rolls_back_unless_confirmed() {
    if !require_root("reload_confirm_rolls_back_unless_confirmed") {
        return;
    }
    let topo = Topology::build("relcf", Options::default()).expect("topology");
    let d =
        Daemon::start(&topo.router, &topo.tmp, "router", &topo.router_config()).expect("anycast6d");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");
    let good = std::fs::read_to_string(&d.config).expect("config");
    let fib0 = fib_members(&d);
    let census = topo.udp_census(22000, 50).expect("flows");
    assert!(
        census.count("m2") > 0,
        "m2 gets no flows to start with: {census}"
    );

    // The change: m2 leaves the group.
    let m2 = format!("address = \"{}\"", anycast6_tests::topology::M2);
    let start = good.find(&m2).expect("m2 in the config");
    let block = good[..start].rfind("[[group.member]]").expect("m2's table");
    let end = good[start..]
        .find("[[group.member]]")
        .map_or(good.len(), |e| start + e);
    let without_m2 = format!("{}{}", &good[..block], &good[end..]);
    std::fs::write(&d.config, &without_m2).expect("write config");

    let diff = d.ctl(&["reload", "--diff"]).expect("reload --diff");
    eprintln!("reload --diff:\n{diff}");
    assert!(
        diff.contains(&format!(
            "member removed: {GROUP} {}%to-m2",
            anycast6_tests::topology::M2
        )),
        "{diff}"
    );
    assert!(diff.contains("- group[address="), "{diff}");
    assert!(diff.contains("a reload would apply this"), "{diff}");
    let dj = d
        .ctl_json(&["reload", "--diff"])
        .expect("reload --diff --json");
    assert_eq!(
        dj["members_removed"].as_array().map(Vec::len),
        Some(1),
        "{dj}"
    );
    assert_eq!(dj["keys"][0]["op"], "remove", "{dj}");
    assert_eq!(fib_members(&d), fib0, "--diff applied something");

    // Unconfirmed: rolled back.
    let out = d
        .ctl(&["reload", "--confirm", "3"])
        .expect("reload --confirm");
    assert!(out.contains("rolls back in 3 s unless confirmed"), "{out}");
    let fib1 = fib_members(&d);
    assert_ne!(fib1, fib0, "reload --confirm applied nothing");
    let census = topo.udp_census(23000, 50).expect("flows");
    assert_eq!(
        census.count("m2"),
        0,
        "m2 still gets flows after the reload: {census}"
    );
    let refused = d
        .ctl_output(&[
            "member",
            "drain",
            GROUP,
            &anycast6_tests::topology::M1.to_string(),
        ])
        .expect("member drain");
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && msg.contains("awaits confirmation"),
        "a member change while a reload awaits confirmation: {msg}"
    );
    assert!(
        wait_fib(&d, &fib0, Duration::from_secs(15)),
        "no rollback within 15 s of a 3 s confirmation time"
    );
    // New UDP flows count as old ones for the grace window (10 s,
    // docs/flow-hash.md 3.3) of the entries that moved back to m2, and old
    // ones keep m1: the census after it.
    std::thread::sleep(Duration::from_secs(11));
    let census = topo.udp_census(24000, 50).expect("flows");
    assert!(
        census.count("m2") > 0,
        "m2 gets no flows after the rollback: {census}"
    );
    assert_eq!(census.unanswered, 0, "{census}");
    let late = d.ctl_output(&["confirm"]).expect("confirm");
    let msg = String::from_utf8_lossy(&late.stderr);
    assert!(
        !late.status.success() && msg.contains("was rolled back"),
        "a confirm after the rollback: {msg}"
    );
    // The file still holds the change: the diff shows it again.
    let diff = d.ctl(&["reload", "--diff"]).expect("reload --diff");
    assert!(diff.contains("member removed"), "{diff}");

    // Confirmed: it stays past its time.
    d.ctl(&["reload", "--confirm", "2"])
        .expect("reload --confirm");
    let out = d.ctl(&["confirm"]).expect("confirm");
    assert!(out.starts_with("confirmed "), "{out}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(fib_members(&d), fib1, "a confirmed reload was rolled back");
    assert!(d
        .ctl(&["reload", "--diff"])
        .expect("diff")
        .contains("no change"));

    // A broken file: the diff says a reload would be refused, and where.
    std::fs::write(&d.config, without_m2.replacen("pin_dir", "pin_dir = = ", 1)).expect("write");
    let diff = d.ctl(&["reload", "--diff"]).expect("reload --diff");
    assert!(diff.contains("a reload would be refused"), "{diff}");
    assert!(diff.contains(&format!("{}:", d.config.display())), "{diff}");
    assert_eq!(fib_members(&d), fib1);
}
