//! What a router may forward (issue 11), with real frames: from the
//! client's namespace, raw Ethernet frames (AF_PACKET) go through the
//! router running anycast6d — XDP in one test, the AF_XDP path in the
//! other — toward the anycast address: one to another station's MAC, one
//! broadcast, and ones from sources a router never forwards (multicast,
//! `::`, `::1`, link-local, the anycast address itself). Captures on every
//! link toward a member (m1, m2, and r2 for m3) see none of them, while a
//! well-formed frame sent the same way, and ordinary UDP flows, still reach
//! a member; the router's counters name the reason of each drop or pass.
//!
//! ```text
//!   client ── raw frames ──► router (anycast6d) ──► m1, m2, r2 (captures)
//!   send.py: AF_PACKET on to-r1    cap.py: AF_PACKET on to-r1, counts the
//!                                  frames whose payload carries a tag
//! ```
//! The helpers are Python scripts in the test's scratch directory, run in
//! the namespaces through `nsenter`; the captures are child processes the
//! harness kills on Drop, and the namespaces go with the topology, so a
//! failing test leaves nothing behind.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::Path;
use std::time::Duration;

use anycast6_dataplane::fixtures::frames::{concat, eth, hex, ipv6, udp, ETH_P_IPV6, NH_UDP};
use anycast6_tests::topology::{Options, ANYCAST, CLIENT, UDP_PORT};
use anycast6_tests::{require_root, wait_for, Daemon, Netns, Proc, Topology};
use serde_json::Value;

/// Counts incoming frames that are UDP to port 7000 (IPv6, untagged) and
/// whose payload carries `A6RULE:<tag>.`, until a stop file appears (or a
/// deadline passes), then prints them as JSON. Outgoing frames (a member's
/// answers) and ICMPv6 errors quoting a frame (the client's port
/// unreachable for an echo it has no socket for) are not counted.
const CAPTURE_PY: &str = r#"
import json, os, socket, sys, time
ifname, stop = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((ifname, 0))
s.settimeout(0.1)
print("ready", flush=True)
counts = {}
end = time.monotonic() + 60
while time.monotonic() < end and not os.path.exists(stop):
    try:
        frame, addr = s.recvfrom(65535)
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING or len(frame) < 62:
        continue
    if frame[12:14] != b"\x86\xdd" or frame[20] != 17 or frame[56:58] != b"\x1b\x58":
        continue
    i = frame.find(b"A6RULE:")
    if i >= 0:
        tag = frame[i + 7:].split(b".")[0].decode(errors="replace")
        counts[tag] = counts.get(tag, 0) + 1
print("counts " + json.dumps(counts), flush=True)
"#;

/// Sends each hex frame given on the command line, as it is, out of one
/// interface.
const SEND_PY: &str = r#"
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
"#;

/// Copies of each frame sent.
const COPIES: u64 = 3;

/// One frame of the test: its tag, and what the router must do with it.
struct Case {
    tag: &'static str,
    dmac: [u8; 6],
    src: Ipv6Addr,
    /// The reason the router counts it under; None for the good frame.
    reason: Option<&'static str>,
}

fn mac(s: &str) -> [u8; 6] {
    let mut m = [0u8; 6];
    for (o, p) in m.iter_mut().zip(s.split(':')) {
        *o = u8::from_str_radix(p, 16).expect("MAC");
    }
    m
}

fn frame(c: &Case, client_mac: [u8; 6], sport: u16) -> Vec<u8> {
    let payload = format!("A6RULE:{}.", c.tag);
    let l4 = udp(c.src, ANYCAST, sport, UDP_PORT, payload.as_bytes());
    concat(&[
        &eth(c.dmac, client_mac, ETH_P_IPV6),
        &ipv6(0, 0, l4.len() as u16, NH_UDP, 64, c.src, ANYCAST),
        &l4,
    ])
}

/// A capture on `dev` in `ns`, ready once it returns.
fn capture(ns: &Netns, dev: &str, dir: &Path, label: &str, stop: &Path) -> Proc {
    let script = dir.join("cap.py");
    let mut cmd = ns.command("python3");
    cmd.arg(&script).arg(dev).arg(stop);
    let p = Proc::spawn(label, cmd, dir.join(format!("{label}.log"))).expect("capture");
    wait_for(
        &format!("capture {label} ready"),
        Duration::from_secs(10),
        || p.log().contains("ready"),
    )
    .unwrap_or_else(|e| panic!("{e:#}: {}", p.log()));
    p
}

/// The tag counts a finished capture printed.
fn counts(p: &mut Proc) -> BTreeMap<String, u64> {
    wait_for(
        &format!("capture {} done", p.label()),
        Duration::from_secs(10),
        || !p.running(),
    )
    .expect("capture stops");
    let log = p.log();
    let line = log
        .lines()
        .find_map(|l| l.strip_prefix("counts "))
        .unwrap_or_else(|| panic!("capture {} printed no counts: {log}", p.label()));
    serde_json::from_str(line).expect("counts JSON")
}

/// Packets per reason in `anycast6ctl --json show counters`.
fn reasons(d: &Daemon) -> BTreeMap<String, u64> {
    let c: Value = d.ctl_json(&["show", "counters"]).expect("show counters");
    c["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| {
            (
                r["reason"].as_str().unwrap_or_default().to_string(),
                r["packets"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn forbidden_frames_never_reach_a_member(short: &str, fast_path: &str) {
    let topo = Topology::build(short, Options::default()).expect("topology");
    let cfg = topo.router_config().fast_path(fast_path);
    let d = Daemon::start(&topo.router, &topo.tmp, "router", &cfg).expect("anycast6d");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");

    let dir = topo.tmp.path().to_path_buf();
    std::fs::write(dir.join("cap.py"), CAPTURE_PY).expect("cap.py");
    std::fs::write(dir.join("send.py"), SEND_PY).expect("send.py");
    let router_mac = mac(&topo.router.mac("to-c").expect("router MAC"));
    let client_mac = mac(&topo.client.mac("to-r1").expect("client MAC"));
    let a = |s: &str| s.parse::<Ipv6Addr>().expect("address");
    let cases = [
        Case {
            tag: "othermac",
            dmac: [0x02, 0xa6, 0, 0, 0, 0x99],
            src: CLIENT,
            reason: Some("drop_not_our_mac"),
        },
        Case {
            tag: "broadcast",
            dmac: [0xff; 6],
            src: CLIENT,
            reason: Some("drop_not_our_mac"),
        },
        Case {
            tag: "srcmcast",
            dmac: router_mac,
            src: a("ff0e::1"),
            reason: Some("drop_bad_src"),
        },
        Case {
            tag: "srcunspec",
            dmac: router_mac,
            src: Ipv6Addr::UNSPECIFIED,
            reason: Some("drop_bad_src"),
        },
        Case {
            tag: "srcloop",
            dmac: router_mac,
            src: Ipv6Addr::LOCALHOST,
            reason: Some("drop_bad_src"),
        },
        Case {
            tag: "srclinklocal",
            dmac: router_mac,
            src: a("fe80::c1"),
            reason: Some("pass_link_local_src"),
        },
        Case {
            tag: "srcanycast",
            dmac: router_mac,
            src: ANYCAST,
            reason: Some("drop_src_anycast"),
        },
        Case {
            tag: "good",
            dmac: router_mac,
            src: CLIENT,
            reason: None,
        },
    ];

    let stop = dir.join("stop");
    let mut caps = [
        capture(&topo.m1, "to-r1", &dir, "cap-m1", &stop),
        capture(&topo.m2, "to-r1", &dir, "cap-m2", &stop),
        capture(&topo.r2, "to-r1", &dir, "cap-r2", &stop),
    ];
    let before = reasons(&d);
    let mut hexes = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        for k in 0..COPIES {
            hexes.push(hex(&frame(
                c,
                client_mac,
                45000 + (i as u16) * 8 + k as u16,
            )));
        }
    }
    let sender = dir.join("send.py");
    let mut args: Vec<&str> = vec![sender.to_str().expect("path"), "to-r1"];
    args.extend(hexes.iter().map(String::as_str));
    topo.client
        .exec("python3", &args)
        .expect("sending raw frames");
    // Ordinary traffic still flows, with the fast path doing the work.
    let census = topo.udp_census(30000, 50).expect("udp flows");
    assert_eq!(census.unanswered, 0, "{census}");
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(&stop, b"").expect("stop file");
    let seen: Vec<(String, BTreeMap<String, u64>)> = caps
        .iter_mut()
        .map(|p| (p.label().to_string(), counts(p)))
        .collect();
    let after = reasons(&d);
    eprintln!("{fast_path}: captured {seen:?}");

    for (label, got) in &seen {
        for c in cases.iter().filter(|c| c.reason.is_some()) {
            assert_eq!(
                got.get(c.tag),
                None,
                "{fast_path}: {label} received the {} frames: {got:?}",
                c.tag
            );
        }
    }
    let good: u64 = seen.iter().filter_map(|(_, g)| g.get("good")).sum();
    assert_eq!(
        good, COPIES,
        "{fast_path}: each good frame reaches one member exactly once: {seen:?}"
    );
    assert_eq!(
        seen.iter()
            .find(|(l, _)| l == "cap-r2")
            .and_then(|(_, g)| g.get("good")),
        None,
        "{fast_path}: the good frames go to the nearest members, not toward m3"
    );

    let mut want: BTreeMap<&str, u64> = BTreeMap::new();
    for c in &cases {
        if let Some(r) = c.reason {
            *want.entry(r).or_default() += COPIES;
        }
    }
    for (reason, n) in &want {
        let delta =
            after.get(*reason).copied().unwrap_or(0) - before.get(*reason).copied().unwrap_or(0);
        assert_eq!(
            delta, *n,
            "{fast_path}: counter {reason} moved by {delta}, {n} frames were sent for it"
        );
    }
    let fwd = after.get("fwd_rewrite").copied().unwrap_or(0)
        - before.get("fwd_rewrite").copied().unwrap_or(0);
    assert!(
        fwd >= COPIES + 50,
        "{fast_path}: fwd_rewrite moved by {fwd}: the good frames and the flows were forwarded by the fast path"
    );
    eprintln!("{}", d.ctl(&["show", "counters"]).unwrap_or_default());
}

#[test]
fn xdp_router_forwards_only_frames_sent_to_it_from_forwardable_sources() {
    if !require_root("xdp_router_forwards_only_frames_sent_to_it_from_forwardable_sources") {
        return;
    }
    forbidden_frames_never_reach_a_member("fpx", "xdp");
}

#[test]
fn afxdp_router_forwards_only_frames_sent_to_it_from_forwardable_sources() {
    if !require_root("afxdp_router_forwards_only_frames_sent_to_it_from_forwardable_sources") {
        return;
    }
    forbidden_frames_never_reach_a_member("fpa", "afxdp");
}
