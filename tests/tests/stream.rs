//! anycast6-stream end to end: three servers on one segment share the
//! anycast address behind an anycast6d router with ARD (hold 300 ms); a
//! client streams a file from the anycast address while the serving
//! server's host is SIGKILLed and then the next one stops cleanly. The
//! stream goes on from the next server each time, and the file arrives
//! whole, with nothing unplayed. The baseline, a client pointed at one
//! server's unicast address, breaks when that server dies.
//!
//! ```text
//!                                                 ┌─ l-s1 ── s1  2001:db8:5::11  ARD metric 1
//!   client ── c-r ── to-c  router  to-lan ── l-r ─ br0 (lan) ─ l-s2 ── s2  2001:db8:5::12  metric 2
//!   2001:db8:c::2          (XDP, ARD)                 └─ l-s3 ── s3  2001:db8:5::13  metric 3
//! ```
//!
//! Each server host runs anycast6d's member role (ARD: A on lo, reports
//! every 100 ms, hold 300 ms) and `anycast6-stream server`; data goes back
//! to the client by plain kernel forwarding.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anycast6_tests::proto;
use anycast6_tests::{bin, require_root, veth, wait_for, Daemon, DaemonCfg, Netns, Proc, TempDir};
use serde_json::Value;

const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0x5);
const PORT: u16 = 4740;
const HOLD_MS: u64 = 300;
/// The file streamed: 6 MiB at 1 MiB/s, about six seconds.
const SIZE: usize = 6 << 20;
const RATE: &str = "1M";
/// Well over the failover gap (hold time + a NACK interval: about 400 ms
/// here), so that a loaded machine's slower failover is still covered.
const BUFFER: &str = "2s";
const BUFFER_MS: f64 = 2000.0;

fn server_addr(i: usize) -> String {
    format!("2001:db8:5::1{i}")
}

/// One server host: its namespace, anycast6d (member role, ARD) and the
/// stream server.
struct Host {
    // Field order is drop order: processes before their namespace.
    server: Proc,
    daemon: Daemon,
    _ns: Netns,
}

struct Net {
    hosts: Vec<Host>,
    router: Daemon,
    client: Netns,
    _router_ns: Netns,
    _lan: Netns,
    tmp: TempDir,
    content: PathBuf,
}

fn build() -> Net {
    let tmp = TempDir::new("strm").expect("tmp");
    let ns = |n: &str| Netns::new(&format!("strm{n}")).expect("netns");
    let (client, router_ns, lan) = (ns("c"), ns("r"), ns("l"));
    proto::link(
        &client,
        "c-r",
        "2001:db8:c::2/64",
        &router_ns,
        "to-c",
        "2001:db8:c::1/64",
    )
    .unwrap();
    client.add_route("default", "2001:db8:c::1").unwrap();
    router_ns.enable_forwarding().unwrap();

    // The segment: a bridge in its own namespace, the router and the three
    // servers on its ports. No MLD snooping: ARD's multicast reaches every
    // port whatever the bridge has learnt.
    lan.ip(&[
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "mcast_snooping",
        "0",
    ])
    .unwrap();
    lan.ip(&["link", "set", "br0", "up"]).unwrap();
    let port = |peer: &Netns, peer_if: &str, lan_if: &str| {
        veth(peer, peer_if, &lan, lan_if).unwrap();
        lan.ip(&["link", "set", lan_if, "master", "br0"]).unwrap();
        for (n, i) in [(peer, peer_if), (&lan, lan_if)] {
            n.gro_on(i).unwrap();
            n.tx_checksum_off(i).unwrap();
        }
    };
    port(&router_ns, "to-lan", "l-r");
    router_ns.add_addr("to-lan", "2001:db8:5::1/64").unwrap();

    let mut router_cfg = DaemonCfg {
        router_address: Some("2001:db8:c::1".into()),
        ..Default::default()
    }
    .interface("to-c", "native")
    .interface("to-lan", "native");
    router_cfg.extra = proto::ard_router(&["to-lan"], None);
    let router = Daemon::start(&router_ns, &tmp, "strmr", &router_cfg).expect("router");

    let dir = tmp.join("content");
    std::fs::create_dir(&dir).unwrap();
    let content = dir.join("film.bin");
    let mut data = vec![0u8; SIZE];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in &mut data {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(&content, &data).unwrap();

    let mut hosts = Vec::new();
    for i in 1..=3 {
        let h = ns(&format!("s{i}"));
        port(&h, "s-lan", &format!("l-s{i}"));
        h.add_addr("s-lan", &format!("{}/64", server_addr(i)))
            .unwrap();
        h.add_route("default", "2001:db8:5::1").unwrap();
        let unicast = server_addr(i);
        let cfg = proto::member_role(
            A,
            proto::ard_member(&proto::ArdMember {
                iface: "s-lan",
                unicast: &unicast,
                metric: i as u32,
                hold_ms: HOLD_MS,
                report_ms: 100,
                key: None,
            }),
        );
        let daemon = Daemon::start(&h, &tmp, &format!("strms{i}"), &cfg).expect("member");
        let server = Proc::spawn_in(
            &h,
            &format!("server{i}"),
            &bin("anycast6-stream"),
            &[
                "server",
                "--listen",
                &format!("[::]:{PORT}"),
                "--dir",
                dir.to_str().unwrap(),
                "--id",
                &i.to_string(),
                "--json",
            ],
            tmp.join(format!("server{i}.log")),
        )
        .expect("stream server")
        .terminate_on_drop(Duration::from_secs(5));
        hosts.push(Host {
            server,
            daemon,
            _ns: h,
        });
    }
    wait_for("the servers listen", Duration::from_secs(30), || {
        hosts.iter().all(|h| h.server.log().contains("listening"))
    })
    .unwrap();
    // All three members known, s1 (metric 1) installed.
    wait_for(
        "three ARD members, s1 active",
        Duration::from_secs(20),
        || {
            let rib = router.ctl_json(&["show", "rib"]).unwrap_or_default();
            let rows = rib.as_array().cloned().unwrap_or_default();
            rows.len() == 3
                && rows
                    .iter()
                    .any(|r| r["address"] == server_addr(1).as_str() && r["state"] == "active")
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", router.log()));
    Net {
        hosts,
        router,
        client,
        _router_ns: router_ns,
        _lan: lan,
        tmp,
        content,
    }
}

/// A client run in the client namespace; its JSON report comes on stdout.
struct Play {
    out: PathBuf,
    handle: JoinHandle<Output>,
}

impl Play {
    fn start(net: &Net, label: &str, service: &str, give_up: &str) -> Play {
        let out = net.tmp.join(format!("{label}.out"));
        let mut cmd = net.client.command(bin("anycast6-stream"));
        cmd.args([
            "client",
            "--server",
            &format!("[{service}]:{PORT}"),
            "--content",
            "film.bin",
            "--rate",
            RATE,
            "--buffer",
            BUFFER,
            "--give-up",
            give_up,
            "--json",
            "-q",
            "-o",
        ])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let child = cmd.spawn().expect("anycast6-stream client");
        let handle = std::thread::spawn(move || child.wait_with_output().expect("client"));
        Play { out, handle }
    }

    /// Octets written so far.
    fn written(&self) -> u64 {
        std::fs::metadata(&self.out).map_or(0, |m| m.len())
    }

    fn wait_written(&self, what: &str, n: u64) {
        wait_for(what, Duration::from_secs(30), || self.written() >= n).unwrap();
    }

    /// Waits for the client to end: its exit code and JSON report.
    fn finish(self) -> (Option<i32>, Value, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.handle.is_finished() {
            assert!(Instant::now() < deadline, "the client did not end");
            std::thread::sleep(Duration::from_millis(50));
        }
        let o = self.handle.join().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let report: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "client --json: {e}\n{}\n{stderr}",
                String::from_utf8_lossy(&o.stdout)
            )
        });
        (o.status.code(), report, stderr)
    }
}

fn sha256(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn gaps(report: &Value) -> Vec<(u64, u64, f64)> {
    report["failovers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["from_server"].as_u64().unwrap(),
                f["to_server"].as_u64().unwrap(),
                f["gap_ms"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn stream_survives_a_killed_and_a_stopped_server() {
    if !require_root("stream_survives_a_killed_and_a_stopped_server") {
        return;
    }
    let mut net = build();

    let play = Play::start(&net, "anycast", &A.to_string(), "5s");
    play.wait_written("a quarter of the file played", SIZE as u64 / 4);

    // s1's host dies: server and anycast6d SIGKILLed, no ARD leave. The
    // router drops s1 when its hold time runs out; the client's stall
    // requests then reach s2, which takes the session over.
    let killed = Instant::now();
    net.hosts[0].server.kill();
    net.hosts[0].daemon.kill9();
    play.wait_written("half the file played", SIZE as u64 / 2);
    eprintln!("half the file {:?} after the kill", killed.elapsed());

    // s2 stops cleanly: anycast6d first (ARD leave: the router moves to s3
    // at once), then the server (End "stopping": the client asks again).
    net.hosts[1].daemon.signal(libc::SIGTERM).unwrap();
    wait_for("s2's anycast6d exits", Duration::from_secs(10), || {
        !net.hosts[1].daemon.running()
    })
    .unwrap();
    net.hosts[1].server.terminate(Duration::from_secs(5));
    let s2_log = net.hosts[1].server.log();

    let (code, report, stderr) = play.finish();
    let play_out = net.tmp.join("anycast.out");
    eprintln!("client report: {report:#}");
    assert_eq!(code, Some(0), "{report:#}\n{stderr}\n{s2_log}");
    assert_eq!(report["outcome"], "complete", "{report:#}");
    assert_eq!(
        sha256(&play_out),
        sha256(&net.content),
        "the file arrived byte-identical"
    );
    assert_eq!(report["written"], SIZE as u64, "{report:#}");
    let g = gaps(&report);
    eprintln!("failovers (from, to, gap ms): {g:?}");
    assert_eq!(
        g.iter().map(|&(f, t, _)| (f, t)).collect::<Vec<_>>(),
        vec![(1, 2), (2, 3)],
        "{report:#}"
    );
    // With a buffer at least the measured gap, nothing went unplayed.
    let longest = g.iter().map(|&(_, _, gap)| gap).fold(0.0, f64::max);
    if longest <= BUFFER_MS {
        assert_eq!(report["unplayed"], 0, "{report:#}");
    } else {
        eprintln!(
            "WARNING: a failover gap of {longest} ms exceeded the {BUFFER_MS} ms buffer \
             (a loaded machine); unplayed {} not judged",
            report["unplayed"]
        );
    }
    assert!(report["stall_requests"].as_u64().unwrap() > 0, "{report:#}");
    // s2 said it knew the session only by taking it over.
    assert!(s2_log.contains("1 taken over"), "{s2_log}");

    // The baseline: a client of s3's unicast address alone stalls for
    // good when s3 dies, and says the stream is broken.
    let play = Play::start(&net, "unicast", &server_addr(3), "2s");
    play.wait_written("a quarter of the file from s3", SIZE as u64 / 4);
    net.hosts[2].server.kill();
    let (code, report, _) = play.finish();
    eprintln!(
        "baseline: {} of {SIZE} octets, outcome {}",
        report["written"], report["outcome"]
    );
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["outcome"], "broken", "{report:#}");
    assert!(report["written"].as_u64().unwrap() < SIZE as u64);
    assert!(report["failovers"].as_array().unwrap().is_empty());
    drop(net.router);
}
