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
