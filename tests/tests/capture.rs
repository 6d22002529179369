//! `anycast6ctl capture` on a router running anycast6d with XDP
//! (docs/capture.md): while the client sends forwarded UDP flows, frames
//! whose UDP header is cut short (`drop_trunc_l4`) and datagrams to a
//! unicast address (`pass_not_anycast`), a capture of one reason holds
//! those frames and no other, tshark reads the pcapng back with the reason
//! in every packet comment, sampling takes 1 in N, the JSON output names
//! the member of forwarded packets, and the capture is disarmed when ctl
//! exits, or within its lease when ctl is SIGKILLed.
//!
//! ```text
//!   client ── to-c ── router (XDP, anycast6d) ── m1, m2 (members), r2 ── m3
//!   send.py: AF_PACKET on to-r1 (crafted frames); UDP flows to the anycast address
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anycast6_dataplane::abi::CapCfg;
use anycast6_dataplane::capture::CaptureMaps;
use anycast6_dataplane::fixtures::frames::{concat, eth, hex, ipv6, udp, ETH_P_IPV6, NH_UDP};
use anycast6_tests::daemon::bin;
use anycast6_tests::topology::{Options, ANYCAST, CLIENT, M1, UDP_PORT};
use anycast6_tests::{require_root, wait_for, Daemon, Proc, Topology};
use serde_json::Value;

/// Sends each hex frame given on the command line out of one interface.
const SEND_PY: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
    time.sleep(0.002)
"#;

fn mac(s: &str) -> [u8; 6] {
    let mut m = [0u8; 6];
    for (o, p) in m.iter_mut().zip(s.split(':')) {
        *o = u8::from_str_radix(p, 16).expect("MAC");
    }
    m
}

struct Rig {
    topo: Topology,
    d: Daemon,
    router_mac: [u8; 6],
    client_mac: [u8; 6],
    dir: PathBuf,
}

fn rig(short: &str) -> Rig {
    let topo = Topology::build(short, Options::default()).expect("topology");
    let d =
        Daemon::start(&topo.router, &topo.tmp, "router", &topo.router_config()).expect("anycast6d");
    topo.wait_anycast_ready(Duration::from_secs(15))
        .expect("anycast ready");
    let dir = topo.tmp.path().to_path_buf();
    std::fs::write(dir.join("send.py"), SEND_PY).expect("send.py");
    let router_mac = mac(&topo.router.mac("to-c").expect("router MAC"));
    let client_mac = mac(&topo.client.mac("to-r1").expect("client MAC"));
    Rig {
        topo,
        d,
        router_mac,
        client_mac,
        dir,
    }
}

impl Rig {
    /// A frame to the anycast address whose UDP header stops after the
    /// ports (4 of 8 bytes): the router drops it as `drop_trunc_l4`.
    fn truncated(&self, sport: u16) -> Vec<u8> {
        let mut ports = sport.to_be_bytes().to_vec();
        ports.extend_from_slice(&UDP_PORT.to_be_bytes());
        concat(&[
            &eth(self.router_mac, self.client_mac, ETH_P_IPV6),
            &ipv6(0, 0, 4, NH_UDP, 64, CLIENT, ANYCAST),
            &ports,
        ])
    }

    /// A whole UDP datagram to m1's unicast address: `pass_not_anycast`.
    fn unicast(&self, sport: u16) -> Vec<u8> {
        let l4 = udp(CLIENT, M1, sport, 9, b"not anycast");
        concat(&[
            &eth(self.router_mac, self.client_mac, ETH_P_IPV6),
            &ipv6(0, 0, l4.len() as u16, NH_UDP, 64, CLIENT, M1),
            &l4,
        ])
    }

    fn send(&self, frames: &[Vec<u8>]) {
        let hexes: Vec<String> = frames.iter().map(|f| hex(f)).collect();
        let mut cmd = self.topo.client.command("python3");
        cmd.arg(self.dir.join("send.py")).arg("to-r1").args(&hexes);
        let out = cmd.output().expect("send.py");
        assert!(
            out.status.success(),
            "send.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn maps(&self) -> CaptureMaps {
        CaptureMaps::open(self.d.pin_dir()).expect("pinned capture maps")
    }

    fn config(&self) -> CapCfg {
        self.maps().config().expect("a6_cap_cfg")
    }

    /// `anycast6ctl capture <args> --pin-dir <daemon's>` in the router's
    /// namespace (interface names are looked up there); returns once armed.
    fn capture(&self, label: &str, args: &[&str]) -> Proc {
        let mut cmd = self.topo.router.command(bin("anycast6ctl"));
        cmd.arg("capture")
            .args(args)
            .arg("--pin-dir")
            .arg(self.d.pin_dir());
        let mut p = Proc::spawn(label, cmd, self.dir.join(format!("{label}.log")))
            .expect("anycast6ctl capture");
        let armed = wait_for(&format!("{label} armed"), Duration::from_secs(10), || {
            self.config().reason_mask != 0 || !p.running()
        });
        assert!(
            armed.is_ok() && p.running(),
            "{label} did not arm: {}",
            p.log()
        );
        p
    }
}

/// Waits for ctl to exit by itself; its exit status and log.
fn finished(p: &mut Proc) -> (bool, String) {
    let done = wait_for(
        &format!("{} exits", p.label()),
        Duration::from_secs(20),
        || !p.running(),
    );
    if done.is_err() {
        p.kill();
        panic!("{} did not exit: {}", p.label(), p.log());
    }
    (p.exit_status().is_some_and(|s| s.success()), p.log())
}

/// `tshark -r FILE -T fields` with these fields, one Vec per packet.
fn tshark(file: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-T", "fields", "-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark");
    assert!(
        out.status.success(),
        "tshark -r {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

#[test]
fn capture_one_reason_to_pcapng_read_back_by_tshark() {
    if !require_root("capture_one_reason_to_pcapng_read_back_by_tshark") {
        return;
    }
    let r = rig("capt");
    assert_eq!(r.config(), CapCfg::default(), "disarmed before any capture");
    let file = r.dir.join("trunc.pcapng");
    let f = file.to_str().unwrap();
    let mut p = r.capture(
        "cap-trunc",
        &["--reason", "drop_trunc_l4", "-w", f, "--count", "5"],
    );

    // Every kind at once: forwarded flows, unicast datagrams, cut frames
    // (eight of them: the capture stops at five).
    let flows = std::thread::scope(|s| {
        let census = s.spawn(|| r.topo.udp_census(20000, 40));
        let mut frames = Vec::new();
        for i in 0..8u16 {
            frames.push(r.unicast(3000 + i));
            frames.push(r.truncated(4000 + i));
        }
        r.send(&frames);
        census.join().expect("census thread")
    })
    .expect("udp flows");
    assert_eq!(flows.unanswered, 0, "{flows}");
    let (ok, log) = finished(&mut p);
    assert!(ok, "capture failed: {log}");
    assert!(log.contains("5 packets captured"), "{log}");
    assert_eq!(r.config().reason_mask, 0, "ctl left the capture armed");

    let pkts = tshark(
        &file,
        &[
            "frame.comment",
            "frame.interface_name",
            "ipv6.src",
            "ipv6.dst",
            "udp.srcport",
            "frame.len",
        ],
    );
    assert_eq!(pkts.len(), 5, "{pkts:?}");
    let sports: Vec<String> = (4000..4005).map(|p: u16| p.to_string()).collect();
    for (i, p) in pkts.iter().enumerate() {
        assert!(
            p[0].starts_with("anycast6 reason=drop_trunc_l4 verdict=drop"),
            "packet {i} comment {:?}",
            p[0]
        );
        assert_eq!(p[1], "to-c", "packet {i} interface");
        assert_eq!(p[2], CLIENT.to_string(), "packet {i} source");
        assert_eq!(p[3], ANYCAST.to_string(), "packet {i} destination");
        // The frames as sent, in order: 14 + 40 + 4 bytes.
        assert_eq!(p[4], sports[i], "packet {i} source port");
        assert_eq!(p[5], "58", "packet {i} length");
    }

    // The counters agree that the other kinds went by meanwhile.
    let c = r.d.ctl(&["show", "counters"]).expect("show counters");
    assert!(
        c.contains("fwd_rewrite") && c.contains("pass_not_anycast"),
        "{c}"
    );
}

#[test]
fn capture_samples_one_in_n_and_prints_json() {
    if !require_root("capture_samples_one_in_n_and_prints_json") {
        return;
    }
    let r = rig("caps");
    let file = r.dir.join("sample.pcapng");
    let f = file.to_str().unwrap();
    let mut p = r.capture(
        "cap-sample",
        &[
            "--reason",
            "drop_trunc_l4",
            "--sample",
            "3",
            "--count",
            "4",
            "-w",
            f,
        ],
    );
    let frames: Vec<Vec<u8>> = (0..12u16).map(|i| r.truncated(5000 + i)).collect();
    r.send(&frames);
    let (ok, log) = finished(&mut p);
    assert!(ok, "capture failed: {log}");
    assert!(log.contains("4 packets captured"), "{log}");
    assert_eq!(r.config().reason_mask, 0);
    let pkts = tshark(&file, &["udp.srcport", "frame.comment"]);
    let got: Vec<&str> = pkts.iter().map(|p| p[0].as_str()).collect();
    // Matching packets 0, 3, 6, 9 of the session.
    assert_eq!(got, ["5000", "5003", "5006", "5009"], "{pkts:?}");

    // JSON, one object per line, forwarded packets with their member.
    let mut p = r.capture(
        "cap-json",
        &["--json", "--reason", "fwd_rewrite", "--count", "6"],
    );
    let flows = r.topo.udp_census(21000, 30).expect("udp flows");
    assert_eq!(flows.unanswered, 0, "{flows}");
    let (ok, log) = finished(&mut p);
    assert!(ok, "capture failed: {log}");
    let objs: Vec<Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(objs.len(), 6, "{log}");
    for o in &objs {
        assert_eq!(o["reason"], "fwd_rewrite", "{o}");
        assert_eq!(o["verdict"], "redirect", "{o}");
        assert_eq!(o["interface"], "to-c", "{o}");
        assert_eq!(o["dst"], ANYCAST.to_string(), "{o}");
        assert_eq!(o["dport"], UDP_PORT, "{o}");
        assert!(o["member"].is_u64(), "{o}");
        let egress = o["egress"].as_str().unwrap_or_default();
        assert!(egress == "to-m1" || egress == "to-m2", "{o}");
    }
    assert_eq!(r.config().reason_mask, 0);
}

#[test]
fn capture_lease_ends_a_killed_capture_and_bad_reasons_are_listed() {
    if !require_root("capture_lease_ends_a_killed_capture_and_bad_reasons_are_listed") {
        return;
    }
    let r = rig("capk");
    // An unknown reason: an error naming the valid ones, nothing armed.
    let out = r
        .topo
        .router
        .command(bin("anycast6ctl"))
        .args(["capture", "--reason", "drop_bogus", "--pin-dir"])
        .arg(r.d.pin_dir())
        .output()
        .expect("anycast6ctl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("drop_bogus") && err.contains("drop_trunc_l4"),
        "{err}"
    );
    assert_eq!(r.config().reason_mask, 0);

    // Without privilege: the error says what is missing.
    let out = r
        .topo
        .router
        .command("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(bin("anycast6ctl"))
        .args(["capture", "--reason", "drop_trunc_l4", "--pin-dir"])
        .arg(r.d.pin_dir())
        .output()
        .expect("setpriv anycast6ctl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("needs CAP_BPF"),
        "{err}"
    );

    let mut p = r.capture("cap-kill", &["--reason", "drop_trunc_l4"]);
    // A second capture is refused while the first holds its lease.
    let out = r
        .topo
        .router
        .command(bin("anycast6ctl"))
        .args([
            "capture",
            "--reason",
            "pass_nd",
            "--count",
            "1",
            "--pin-dir",
        ])
        .arg(r.d.pin_dir())
        .output()
        .expect("anycast6ctl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("a capture is running"),
        "{err}"
    );

    p.kill();
    let held = r.config();
    assert_ne!(held.reason_mask, 0, "SIGKILL leaves the config armed");
    // Past the lease the program samples nothing, armed mask or not.
    let lease_end = Duration::from_nanos(
        held.expires_ns
            .saturating_sub(anycast6_dataplane::capture::monotonic_ns()),
    );
    std::thread::sleep(lease_end + Duration::from_millis(200));
    let before = r.maps().stats().expect("a6_cap_stats");
    r.send(&[r.truncated(6000), r.truncated(6001)]);
    let after = r.maps().stats().expect("a6_cap_stats");
    assert_eq!(after, before, "an expired lease still sampled");

    // The next capture takes over the expired one.
    let mut p = r.capture("cap-next", &["--reason", "drop_trunc_l4", "--count", "2"]);
    r.send(&[r.truncated(6002), r.truncated(6003)]);
    let (ok, log) = finished(&mut p);
    assert!(ok, "{log}");
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" drop_trunc_l4 "))
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains(&format!("[{CLIENT}]:6002 > [{ANYCAST}]:{UDP_PORT} udp")),
        "{log}"
    );
    assert_eq!(r.config().reason_mask, 0);

    // SIGTERM (and SIGINT, the same handler): ctl exits 0, disarmed.
    let mut p = r.capture("cap-term", &["--reason", "drop_trunc_l4"]);
    p.signal(libc::SIGTERM).expect("SIGTERM");
    let (ok, log) = finished(&mut p);
    assert!(ok && log.contains("0 packets captured"), "{log}");
    assert_eq!(r.config().reason_mask, 0, "SIGTERM left the capture armed");
}
