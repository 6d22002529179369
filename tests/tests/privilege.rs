//! anycast6d as an unprivileged user with only the capabilities the
//! systemd unit grants (contrib/systemd/anycast6d.service): it starts,
//! loads the FIB, forwards, runs ARIP on UDP 521 and AOSPF on its raw
//! socket; without them it refuses to start and says which are missing.

use std::time::Duration;

use anycast6_tests::topology::Options;
use anycast6_tests::{require_root, Daemon, DaemonCfg, Launch, Topology};

/// What the unit grants (docs/operations.md says why each).
const CAPS: [&str; 5] = ["bpf", "perfmon", "net_admin", "net_raw", "net_bind_service"];

/// The test uses exactly the unit's AmbientCapabilities= and bounding set.
#[test]
fn the_units_capabilities_are_the_tested_ones() {
    let unit = include_str!("../../contrib/systemd/anycast6d.service");
    let want: Vec<String> = CAPS
        .iter()
        .map(|c| format!("CAP_{}", c.to_uppercase()))
        .collect();
    for key in ["AmbientCapabilities=", "CapabilityBoundingSet="] {
        let line = unit
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in the unit"));
        let got: Vec<String> = line.split_whitespace().map(String::from).collect();
        assert_eq!(got, want, "{key}");
    }
}
/// nobody / nogroup.
const UID: u32 = 65534;

fn setpriv(caps: &[&str]) -> Vec<String> {
    let set: String = caps.iter().map(|c| format!(",+{c}")).collect();
    vec![
        "setpriv".into(),
        format!("--reuid={UID}"),
        format!("--regid={UID}"),
        "--clear-groups".into(),
        format!("--inh-caps=-all{set}"),
        format!("--ambient-caps=-all{set}"),
        format!("--bounding-set=-all{set}"),
    ]
}

fn config(topo: &Topology) -> DaemonCfg {
    let mut cfg = topo.router_config();
    cfg.extra = "[arip]\ninterfaces = [\"to-r2\"]\n\n\
                 [aospf]\nrouter_id = \"10.0.0.1\"\n\n\
                 [[aospf.interface]]\nname = \"to-r2\"\n"
        .into();
    cfg
}

fn start(topo: &Topology, label: &str, caps: &[&str]) -> anyhow::Result<Daemon> {
    Daemon::start_with(
        &topo.router,
        &topo.tmp,
        label,
        &config(topo),
        Launch {
            prefix: setpriv(caps),
            owner: Some(UID),
            ..Default::default()
        },
    )
}

#[test]
fn unprivileged_with_the_units_capabilities() {
    if !require_root("unprivileged_with_the_units_capabilities") {
        return;
    }
    let topo = Topology::build("priv", Options::default()).expect("topology");
    let mut d = start(&topo, "router", &CAPS).expect("anycast6d with the unit's capabilities");
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid().unwrap_or(0)))
        .unwrap_or_default();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("");
    let eff = status
        .lines()
        .find(|l| l.starts_with("CapEff:"))
        .unwrap_or("");
    eprintln!("{uid} / {eff}");
    assert!(
        uid.split_whitespace().nth(1) == Some("65534"),
        "not unprivileged: {uid}"
    );
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");
    let census = topo.udp_census(25000, 50).expect("flows");
    assert_eq!(census.unanswered, 0, "{census}");
    let arip = d.ctl_json(&["show", "arip"]).expect("show arip");
    assert!(!arip.is_null(), "ARIP is not running: {arip}");
    let aospf = d.ctl_json(&["show", "aospf"]).expect("show aospf");
    assert!(!aospf.is_null(), "AOSPF is not running: {aospf}");
    let log = d.log();
    for bad in [
        "Permission denied",
        "Operation not permitted",
        "EPERM",
        "EACCES",
    ] {
        assert!(!log.contains(bad), "{bad} in the log:\n{log}");
    }
    d.signal(libc::SIGTERM).expect("SIGTERM");
}

/// Each capability taken away in turn, then all: anycast6d refuses to
/// start and names what is missing (before the change, the same runs
/// showed a verifier EPERM for CAP_PERFMON and CAP_NET_ADMIN, a map
/// EPERM for CAP_BPF, and ARIP / AOSPF not started, the daemon running
/// on, for CAP_NET_BIND_SERVICE / CAP_NET_RAW).
#[test]
fn a_missing_capability_is_named() {
    if !require_root("a_missing_capability_is_named") {
        return;
    }
    let topo = Topology::build("privm", Options::default()).expect("topology");
    let mut cases: Vec<(Vec<&str>, Vec<String>)> = CAPS
        .iter()
        .map(|drop| {
            let caps = CAPS.iter().copied().filter(|c| c != drop).collect();
            (caps, vec![format!("CAP_{}", drop.to_uppercase())])
        })
        .collect();
    cases.push((
        vec![],
        CAPS.iter()
            .map(|c| format!("CAP_{}", c.to_uppercase()))
            .collect(),
    ));
    for (i, (caps, named)) in cases.into_iter().enumerate() {
        let err = match start(&topo, &format!("router{i}"), &caps) {
            Ok(_) => panic!("anycast6d started with only {caps:?}"),
            Err(e) => format!("{e:#}"),
        };
        let line = err
            .lines()
            .find(|l| l.contains("missing capabilities"))
            .unwrap_or_else(|| panic!("with {caps:?}, no 'missing capabilities' in:\n{err}"));
        eprintln!("with {caps:?}: {line}");
        for n in &named {
            assert!(
                line.contains(n.as_str()),
                "with {caps:?}, {n} is not named: {line}"
            );
        }
        for c in caps {
            let n = format!("CAP_{}", c.to_uppercase());
            assert!(
                !line.contains(&format!("{n} ")),
                "with {c}, {n} named anyway: {line}"
            );
        }
    }
}
