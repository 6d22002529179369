//! The migration model (MISSION.md part 5, docs/migration.md): one network
//! goes through the four stages by config reloads on its routers and
//! hosts, every node running one anycast6d from the start, while a long
//! TCP transfer through the preload library and an anycast6-stream
//! session keep running.
//!
//! ```text
//!   C ─ c-r1 ─ R1 ─ r1-r2 ─ R2 ─ r2-ha ─ H (home link 2001:db8:1::/64, A = 2001:db8:1::a)
//!              │            │
//!            r1-m1        r2-m2
//!              M1           M2     (2001:db8:2::2, 2001:db8:3::2: A on lo)
//! ```
//!
//! 1. AARP: no anycast router. R1 routes A/128 to M1 (a static route);
//!    the members answer AARP; the client's TCP goes through the preload
//!    library to M1's unicast address.
//! 2. MGA: H becomes the home agent of A, the members register with it;
//!    the static route goes, A follows the home prefix to H, whose fast
//!    path tunnels each flow to one member.
//! 3. PIA-SM: H adds the core of A, R1 and R2 become first-hop routers
//!    (ARD on the member links, PIA-SM upstream), the members add ARD; H's
//!    RIB prefers PIA-SM to MGA, so the tree carries A's flows: H tunnels
//!    to R1 or R2, they decapsulate and hand the packet to their member.
//! 4. ARIP: R1 and R2 speak ARIP and R1 forwards A from the client link
//!    itself: flows from C reach M1 with no detour through H.
//! 5. Cleanup: PIA-SM and MGA removed everywhere; R1 and R2 go on with
//!    ARD and ARIP, and R1's FIB holds A at every look on the way.
//!
//! At every change a reload that fails validation is tried first on the
//! node about to change: refused with file:line:col, nothing applied. A
//! UDP probe (one flow, a datagram every 10 ms) measures the stall of each
//! change; the TCP transfer's progress and the stream's failovers give
//! theirs; all three are printed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anycast6_tests::daemon::bin;
use anycast6_tests::home_line::{HomeLine, H_ADDR as HA, M_ADDR as M, M_IF};
use anycast6_tests::proto::{
    ard_member, ard_router, arip_has_anycast_path, arip_router, longest_gap, member_role,
    piasm_router, piasm_tree, ArdMember,
};
use anycast6_tests::stream::{Play, PlayOpts, PORT as STREAM_PORT};
use anycast6_tests::traffic::udp_flows;
use anycast6_tests::{
    require_root, wait_for, Daemon, DaemonCfg, Netns, Proc, Server, TempDir, UdpStream,
};

const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xa);
const C_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 2);
const R1: &str = "2001:db8:11::1";
const R2: &str = "2001:db8:11::2";
const UDP_PORT: u16 = 7000;
const TCP_PORT: u16 = 7201;
const SECRET: &str = "migration test secret of 32 byte";
/// The stream: 16 MiB at 200 KiB/s, 80 s: longer than the stages (about
/// 30 s on an idle machine).
const STREAM_CONTENT: &str = "gen:16M";
const STREAM_RATE: &str = "200k";
/// The preload transfer: paced, ended by the test after stage 4.
const TCP_RATE: u64 = 1 << 20;

fn keys() -> String {
    format!("[mga]\nkeys = [{{ id = 7, secret = \"{SECRET}\" }}]\n")
}

/// `[piasm]` with 1 s Hellos and joins: the core of A is H.
fn piasm(router: &str, ifs: &[&str], core_here: bool) -> String {
    piasm_router(router, ifs, &[A], HA, core_here, false)
}

/// Member `i`'s config at `stage` (MGA in stages 2 to 4).
fn member_cfg(i: usize, stage: u8) -> DaemonCfg {
    let (coa, iface) = (M[i], M_IF[i]);
    let mut extra = format!("[aarp]\nunicast = \"{coa}\"\n");
    let mga = (2..=4).contains(&stage);
    if mga {
        extra.push_str(&keys());
        extra.push_str(&format!(
            "[mga.member]\ncare_of = \"{coa}\"\ninterface = \"{iface}\"\nhome_agents = [\"{HA}\"]\n\
             lifetime_s = 30\nreverse_tunnel = false\n"
        ));
    }
    if stage >= 3 {
        extra.push_str(&ard_member(&ArdMember {
            iface,
            unicast: coa,
            metric: 0,
            hold_ms: 300,
            report_ms: 100,
            key: None,
        }));
    }
    let mut cfg = member_role(A, extra);
    if mga {
        if let Some(r) = cfg.member.as_mut() {
            r.decap_interfaces = vec![iface.into()];
        }
    }
    cfg
}

/// H's config at `stage`: nothing, then the home agent, then the core too,
/// then nothing again (stage 5: the earlier stages removed).
fn home_cfg(stage: u8) -> DaemonCfg {
    if !(2..=4).contains(&stage) {
        return DaemonCfg::default();
    }
    let mut extra = format!(
        "{}[mga.home_agent]\naddress = \"{HA}\"\ninterface = \"ha-r2\"\nanycast = [\"{A}\"]\n",
        keys()
    );
    if stage >= 3 {
        extra.push_str(&piasm(HA, &["ha-r2"], true));
    }
    DaemonCfg {
        extra,
        ..DaemonCfg::default()
    }
    .interface("ha-r2", "native")
}

/// Router `i`'s (0: R1, 1: R2) config at `stage`: nothing until the
/// PIA-SM first-hop role (XDP upstream and on the member link), then
/// ARIP and XDP on the link toward the client, then (stage 5) without
/// PIA-SM.
fn router_cfg(i: usize, stage: u8) -> DaemonCfg {
    let (me, up, down, client_side) = if i == 0 {
        (R1, "r1-r2", "r1-m1", "r1-c")
    } else {
        (R2, "r2-ha", "r2-m2", "r2-r1")
    };
    let mut cfg = DaemonCfg::default();
    if stage < 3 {
        return cfg;
    }
    cfg = cfg.interface(up, "native").interface(down, "native");
    let mut extra = ard_router(&[down], None);
    if stage <= 4 {
        extra.push_str(&piasm(me, &[up], false));
    }
    if stage >= 4 {
        cfg = cfg.interface(client_side, "native");
        // Unicast stays with the static routes: ARIP carries A only.
        let arip_if = if i == 0 { "r1-r2" } else { "r2-r1" };
        extra.push_str(&arip_router(&[arip_if], 3500, 2000));
        extra.push_str("[arip.originate]\nconnected = false\n");
    }
    cfg.extra = extra;
    cfg
}

struct Net {
    // Field order is drop order: clients, servers and daemons before the
    // namespaces, the namespaces before the files.
    _stream_servers: Vec<Proc>,
    _servers: Vec<Server>,
    members: [Daemon; 2],
    routers: [Daemon; 2],
    home: Daemon,
    c: Netns,
    r1: Netns,
    m: [Netns; 2],
    _others: Vec<Netns>,
    tmp: TempDir,
    next_port: std::sync::atomic::AtomicU16,
}

impl Net {
    fn build(short: &str) -> Net {
        let tmp = TempDir::new(short).expect("tmp");
        // Plain unicast routing by static routes, as before any anycast.
        let line = HomeLine::build(short, "h", true).expect("topology");
        line.member_routes().unwrap();
        let HomeLine {
            c,
            r1,
            r2,
            h,
            m1,
            m2,
        } = line;
        // Stage 1's only anycast routing: A is routed to M1.
        r1.add_route(&format!("{A}/128"), M[0]).unwrap();

        let start = |n: &Netns, label: &str, cfg: &DaemonCfg| {
            Daemon::start(n, &tmp, &format!("{short}{label}"), cfg).expect(label)
        };
        let home = start(&h, "h", &home_cfg(1));
        let routers = [
            start(&r1, "r1", &router_cfg(0, 1)),
            start(&r2, "r2", &router_cfg(1, 1)),
        ];
        let members = [
            start(&m1, "m1", &member_cfg(0, 1)),
            start(&m2, "m2", &member_cfg(1, 1)),
        ];
        let mut servers = Vec::new();
        let mut stream_servers = Vec::new();
        for (i, m) in [&m1, &m2].into_iter().enumerate() {
            let name = format!("m{}", i + 1);
            servers.push(Server::udp(m, &name, SocketAddrV6::new(A, UDP_PORT, 0, 0)).unwrap());
            servers.push(
                Server::tcp(
                    m,
                    &name,
                    SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, TCP_PORT, 0, 0),
                )
                .unwrap(),
            );
            let p = Proc::spawn_in(
                m,
                &format!("stream-{name}"),
                &bin("anycast6-stream"),
                &[
                    "server",
                    "--listen",
                    &format!("[::]:{STREAM_PORT}"),
                    "--id",
                    &(i + 1).to_string(),
                    "--json",
                ],
                tmp.join(format!("stream-{name}.log")),
            )
            .unwrap()
            .terminate_on_drop(Duration::from_secs(5));
            stream_servers.push(p);
        }
        for p in &stream_servers {
            wait_for("the stream server listens", Duration::from_secs(30), || {
                p.log().contains("listening on")
            })
            .unwrap();
        }
        Net {
            _stream_servers: stream_servers,
            _servers: servers,
            members,
            routers,
            home,
            c,
            r1,
            m: [m1, m2],
            _others: vec![r2, h],
            tmp,
            next_port: 20000.into(),
        }
    }

    /// Which member answers each of `n` new UDP flows (source ports never
    /// used before: a flow seen in a change's grace window keeps its
    /// member for the hold, docs/flow-hash.md §3).
    fn flows(&self, n: u16) -> BTreeMap<String, usize> {
        let base = self
            .next_port
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        assert!(base < 60000, "out of fresh source ports");
        let dst = SocketAddrV6::new(A, UDP_PORT, 0, 0);
        let census = self
            .c
            .run_in(move || udp_flows(C_ADDR, dst, base, n))
            .expect("udp flows");
        let mut c: BTreeMap<String, usize> = census.per_member.into_iter().collect();
        if census.unanswered > 0 {
            c.insert("none".into(), census.unanswered);
        }
        c
    }

    /// Waits until fresh flows reach both members (40 new ones a try).
    fn wait_both(&self, what: &str) {
        wait_for(what, Duration::from_secs(30), || {
            let c = self.flows(40);
            std::thread::sleep(Duration::from_millis(200));
            c.get("m1").is_some_and(|n| *n >= 8) && c.get("m2").is_some_and(|n| *n >= 8)
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()));
    }

    fn all(&self) -> Vec<&Daemon> {
        let mut v = vec![&self.home];
        v.extend(self.routers.iter());
        v.extend(self.members.iter());
        v
    }

    /// Every daemon's log tail and the routers' kernel state, for a
    /// failure message.
    fn logs(&self) -> String {
        let kernel: String = [&self.c, &self.r1]
            .into_iter()
            .chain(self._others.iter())
            .map(|n| {
                format!(
                    "--- {}: routes\n{}neighbours\n{}addresses\n{}counters\n{}",
                    n.name(),
                    n.ip(&["-6", "route"]).unwrap_or_default(),
                    n.ip(&["-6", "neigh"]).unwrap_or_default(),
                    n.ip(&["-6", "-br", "addr"]).unwrap_or_default(),
                    n.exec("nstat", &["-a"]).unwrap_or_default()
                )
            })
            .collect();
        let counters: String = self
            .all()
            .iter()
            .map(|d| {
                format!(
                    "--- {} counters: {}\n--- rib:\n{}--- fib:\n{}",
                    d.config.display(),
                    d.ctl_json(&["show", "counters"]).unwrap_or_default(),
                    d.ctl(&["show", "rib"]).unwrap_or_default(),
                    d.ctl(&["show", "fib"]).unwrap_or_default()
                )
            })
            .collect();
        let logs = self
            .all()
            .iter()
            .map(|d| {
                let l = d.log();
                let tail: Vec<&str> = l.lines().rev().take(15).collect();
                format!(
                    "--- {}\n{}",
                    d.config.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        format!("{kernel}{counters}{logs}")
    }
}

/// `anycast6ctl resolve A` from C (AARP, at every stage): who answered.
fn resolved(net: &Net) -> String {
    let o = net
        .c
        .command(bin("anycast6ctl"))
        .args(["--json", "resolve", &A.to_string()])
        .output()
        .expect("anycast6ctl resolve");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| {
        panic!(
            "resolve: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let member = v["member"].as_str().unwrap_or_default().to_string();
    assert!(
        M.contains(&member.as_str()),
        "A resolved to {member}, not a member: {v}"
    );
    format!("{A} -> {member} (from {})", v["source"])
}

/// Whether a view's group names A (`2001:db8:1::a`, or with `/128`).
fn is_a(g: &str) -> bool {
    g.strip_suffix("/128").unwrap_or(g) == A.to_string()
}

/// The sources of `d`'s RIB entries for A that are in the FIB.
fn installed_sources(d: &Daemon) -> BTreeSet<String> {
    let rib = d.ctl_json(&["show", "rib"]).unwrap_or_default();
    rib.as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["group"].as_str().is_some_and(is_a) && r["installed"] == true)
        .filter_map(|r| r["source"].as_str().map(String::from))
        .collect()
}

/// Packets the fast path of `d` counted for A's group.
fn group_packets(d: &Daemon) -> u64 {
    let v = d.ctl_json(&["show", "counters"]).unwrap_or_default();
    v["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["group"].as_str().is_some_and(is_a))
        .filter_map(|g| g["packets"].as_u64())
        .sum()
}

/// Packets of `d`'s fast path by member (source: address) for A.
fn member_packets(d: &Daemon) -> BTreeMap<String, u64> {
    let v = d.ctl_json(&["show", "counters"]).unwrap_or_default();
    let mut out = BTreeMap::new();
    for m in v["members"].as_array().into_iter().flatten() {
        if !m["group"].as_str().is_some_and(is_a) {
            continue;
        }
        let key = format!(
            "{}#{}",
            m["address"].as_str().unwrap_or("?"),
            m["member_id"]
        );
        *out.entry(key).or_insert(0) += m["packets"].as_u64().unwrap_or(0);
    }
    out
}

/// Packets of `d`'s fast path by reason.
fn reasons(d: &Daemon) -> BTreeMap<String, u64> {
    let v = d.ctl_json(&["show", "counters"]).unwrap_or_default();
    v["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["reason"].as_str()?.to_string(), r["packets"].as_u64()?)))
        .collect()
}

/// Tunnelled packets the fast path of `d` stripped and forwarded.
fn decapsulated(d: &Daemon) -> u64 {
    let v = d.ctl_json(&["show", "counters"]).unwrap_or_default();
    v["tunnel"]
        .as_array()
        .and_then(|t| t.iter().find(|r| r["reason"] == "decap"))
        .and_then(|r| r["packets"].as_u64())
        .unwrap_or(0)
}

fn mga_bindings(d: &Daemon) -> usize {
    let v = d.ctl_json(&["show", "mga"]).unwrap_or_default();
    v["home_agent"]["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| h["bindings"].as_array().map_or(0, Vec::len))
        .sum()
}

/// What a refused reload must leave as it was: the FIB, the RIB's
/// installed entries and every protocol's view but its timers.
fn snapshot(d: &Daemon) -> String {
    let fib = d.ctl_json(&["show", "fib"]).unwrap_or_default();
    let groups = d.ctl_json(&["show", "groups"]).unwrap_or_default();
    let on: Vec<String> = ["ard", "arip", "aarp", "piasm", "mga"]
        .into_iter()
        .map(|p| {
            let v = d.ctl_json(&["show", p]).unwrap_or_default();
            format!("{p}: {}", if v.is_null() { "off" } else { "on" })
        })
        .collect();
    format!("{fib}\n{groups}\n{on:?}")
}

/// Writes `bad` (the next stage's config with one mistake) to `d`, asks
/// for a reload: refused with the file, line and column, and nothing
/// changed.
fn refused(d: &Daemon, bad: &str, what: &str) {
    let before = snapshot(d);
    let good = std::fs::read_to_string(&d.config).expect("config");
    let err = d
        .reload_text(bad)
        .err()
        .unwrap_or_else(|| panic!("a reload with {what} was taken"))
        .to_string();
    let file = d.config.display().to_string();
    let at = err.split(&format!("{file}:")).nth(1).map(|rest| {
        let mut it = rest.split(':');
        (
            it.next().map(str::parse::<u32>),
            it.next().map(|c| {
                c.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse::<u32>()
            }),
        )
    });
    assert!(
        matches!(at, Some((Some(Ok(_)), Some(Ok(_))))),
        "{what}: the error does not name file:line:col: {err}"
    );
    // The running config stays; so does the file, put back as it was.
    std::fs::write(&d.config, good).expect("config");
    assert_eq!(
        snapshot(d),
        before,
        "{what}: the refused reload changed something"
    );
    println!("  refused ({what}): {}", err.trim());
}

/// Reloads `d` with `cfg` and prints what the reload added: the config
/// sections and the interfaces the fast path goes on.
fn apply(d: &Daemon, who: &str, cfg: &DaemonCfg) {
    let old = std::fs::read_to_string(&d.config).unwrap_or_default();
    let new = d.config_text(cfg);
    d.reload_text(&new)
        .unwrap_or_else(|e| panic!("{who}: reload refused: {e}"));
    let parts = |t: &str| -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut in_iface = false;
        for l in t.lines() {
            if l.starts_with('[') {
                in_iface = l == "[[interface]]";
                if !in_iface {
                    out.insert(l.to_string());
                }
            } else if let Some(n) = l.strip_prefix("name = ").filter(|_| in_iface) {
                out.insert(format!("XDP on {}", n.trim_matches('"')));
            }
        }
        out
    };
    let (was, now) = (parts(&old), parts(&new));
    let added: Vec<&String> = now.difference(&was).collect();
    println!(
        "  {who}: reloaded, + {}",
        added
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// The stage's config with an unknown key in `section`.
fn with_typo(text: &str, section: &str) -> String {
    let head = format!("[{section}]\n");
    assert!(text.contains(&head), "no {head} in the config");
    text.replacen(&head, &format!("{head}hello_intervl_s = 1\n"), 1)
}

/// Polls a daemon's FIB for A while reloads run: how often A was absent.
struct FibWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<(u64, u64)>,
}

impl FibWatch {
    fn start(d: &Daemon) -> FibWatch {
        let socket = d.socket.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let st = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut looks, mut missing) = (0, 0);
            while !st.load(std::sync::atomic::Ordering::Relaxed) {
                let out = std::process::Command::new(bin("anycast6ctl"))
                    .arg("--socket")
                    .arg(&socket)
                    .args(["--json", "show", "fib"])
                    .output();
                let Ok(out) = out else { continue };
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
                    continue;
                };
                looks += 1;
                let has = v["routes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r["route"].as_str().is_some_and(is_a));
                if !has {
                    missing += 1;
                }
            }
            (looks, missing)
        });
        FibWatch { stop, handle }
    }

    /// (looks, looks without A).
    fn stop(self) -> (u64, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.join().unwrap_or((0, 0))
    }
}

/// A stall probe: one UDP flow, a datagram every 10 ms.
struct Probe {
    stream: UdpStream,
}

impl Probe {
    fn start(c: &Netns, port: u16) -> Probe {
        let stream = UdpStream::start(
            c,
            SocketAddrV6::new(C_ADDR, port, 0, 0),
            SocketAddrV6::new(A, UDP_PORT, 0, 0),
            Duration::from_millis(10),
        );
        std::thread::sleep(Duration::from_millis(300));
        Probe { stream }
    }

    /// (longest stall in ms, datagrams answered by each member).
    fn stop(self) -> (u64, BTreeMap<String, u64>) {
        let r = self.stream.stop().expect("probe");
        (longest_gap(&r.lost) * 10, r.members)
    }
}

/// Packets `dev` of `n` has sent.
fn tx_packets(n: &Netns, dev: &str) -> u64 {
    n.ip(&["-s", "-j", "link", "show", "dev", dev])
        .ok()
        .and_then(|j| serde_json::from_str::<serde_json::Value>(&j).ok())
        .and_then(|v| v[0]["stats64"]["tx"]["packets"].as_u64())
        .unwrap_or(0)
}

fn stream_opts() -> PlayOpts {
    PlayOpts {
        rate: STREAM_RATE.into(),
        buffer: "1s".into(),
        nack_interval: "100ms".into(),
        give_up: "10s".into(),
    }
}

/// A stream session that member `i` serves: client ports are tried until
/// member `i`'s link carries the stream (another member's session is
/// dropped).
fn start_served_by(net: &Net, i: usize, label: &str) -> Play {
    for port in 34000..34020 {
        let from = SocketAddrV6::new(C_ADDR, port, 0, 0);
        let p = Play::start_bound(
            &net.c,
            &net.tmp,
            label,
            A,
            STREAM_CONTENT,
            &stream_opts(),
            Some(from),
        )
        .expect("stream client");
        p.wait_written("the session plays", 50_000).unwrap();
        let t0 = tx_packets(&net.m[i], M_IF[i]);
        std::thread::sleep(Duration::from_millis(500));
        // 200 KiB/s in 1200-octet datagrams: about 85 in half a second.
        if tx_packets(&net.m[i], M_IF[i]) - t0 > 40 {
            println!(
                "  {label}: a session from port {port}, served by M{}",
                i + 1
            );
            return p;
        }
        p.kill();
    }
    panic!("no client port of 20 gave M{} the stream", i + 1);
}

fn net_streams_running(streams: &[Play], late: &Play) -> bool {
    streams.iter().all(|s| !s.ended()) && !late.ended()
}

/// The preload transfer's longest stall (ms) in [from, to] (ms since it
/// started), from its progress file.
fn tcp_stall(samples: &[(u64, u64)], from: u64, to: u64) -> u64 {
    samples
        .windows(2)
        .filter(|w| w[1].0 >= from && w[0].0 <= to)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or(0)
}

/// The preload library's transfer: `a6-traffic tcp-transfer` under
/// LD_PRELOAD, to A, ended by a stop file.
struct PreloadTcp {
    child: Child,
    started: Instant,
    stop_file: PathBuf,
    progress: PathBuf,
}

impl PreloadTcp {
    fn start(net: &Net) -> PreloadTcp {
        let stop_file = net.tmp.join("tcp.stop");
        let progress = net.tmp.join("tcp.progress");
        let mut cmd = net.c.command(bin("a6-traffic"));
        cmd.args([
            "tcp-transfer",
            "--dst",
            &A.to_string(),
            "--port",
            &TCP_PORT.to_string(),
            "--bytes",
            &(1u64 << 36).to_string(),
            "--rate",
            &TCP_RATE.to_string(),
            "--stop-file",
        ])
        .arg(&stop_file)
        .arg("--progress")
        .arg(&progress)
        .env("LD_PRELOAD", bin("libanycast6_aarp.so"))
        .env("ANYCAST6_AARP_ANYCAST", format!("{A}/128"))
        .env("ANYCAST6_AARP_FALLBACK", "fail")
        .env("ANYCAST6_AARP_DEBUG", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        PreloadTcp {
            child: cmd.spawn().expect("a6-traffic"),
            started: Instant::now(),
            stop_file,
            progress,
        }
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }

    /// Ends it: (succeeded, what it printed, its progress samples).
    fn finish(mut self) -> (bool, String, Vec<(u64, u64)>) {
        std::fs::write(&self.stop_file, b"").unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.running() {
            let _ = self.child.kill();
        }
        let out = self.child.wait_with_output().expect("a6-traffic");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let samples = std::fs::read_to_string(&self.progress)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (t, v) = l.split_once(' ')?;
                Some((t.parse().ok()?, v.parse().ok()?))
            })
            .collect();
        (out.status.success(), text, samples)
    }
}

/// One stage change as measured.
struct Change {
    name: &'static str,
    from: Instant,
    to: Instant,
    probe_ms: u64,
    probe_members: BTreeMap<String, u64>,
}

impl Change {
    /// The change `name`, begun at `from`, is over now: its probe runs on
    /// for half a second more and stops.
    fn end(name: &'static str, from: Instant, probe: Probe) -> Change {
        let to = Instant::now();
        std::thread::sleep(Duration::from_millis(500));
        let (probe_ms, probe_members) = probe.stop();
        Change {
            name,
            from,
            to,
            probe_ms,
            probe_members,
        }
    }
}

#[test]
fn four_stages_by_reloads_keep_tcp_and_the_stream_whole() {
    if !require_root("four_stages_by_reloads_keep_tcp_and_the_stream_whole") {
        return;
    }
    let net = Net::build("mig");
    let mut changes: Vec<Change> = Vec::new();

    // ---- Stage 1: AARP, no anycast router.
    println!("stage 1: AARP (R1 routes A to M1; no anycast router)");
    wait_for("M1 answers AARP for A", Duration::from_secs(15), || {
        net.c
            .command(bin("anycast6ctl"))
            .args(["resolve", &A.to_string()])
            .output()
            .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(M[0]))
    })
    .unwrap();
    let mut tcp = PreloadTcp::start(&net);
    // Two sessions (two flows): each change may move either to the
    // other member, or not.
    let streams_started = Instant::now();
    let streams: Vec<Play> = (1..=2)
        .map(|i| {
            Play::start_in(
                &net.c,
                &net.tmp,
                &format!("stream{i}"),
                A,
                STREAM_CONTENT,
                &stream_opts(),
            )
            .expect("stream client")
        })
        .collect();
    for s in &streams {
        s.wait_written("the stream plays", 100_000).unwrap();
    }
    let f = net.flows(50);
    assert_eq!(f.get("m1"), Some(&50), "stage 1 flows: {f:?}");
    let aarp = net.members[0]
        .ctl_json(&["show", "aarp"])
        .unwrap_or_default();
    println!(
        "  50 new UDP flows: {f:?}; M1 answered {} of {} AARP queries (the preload library's)",
        aarp["counters"]["answered"], aarp["counters"]["queries"]
    );
    assert!(tcp.running(), "the preload transfer ended early");

    // ---- 1 -> 2: MGA.
    println!(
        "stage 2: MGA (H becomes the home agent, the members register, the static route goes)"
    );
    let probe = Probe::start(&net.c, 33001);
    let from = Instant::now();
    let bad = net.home.config_text(&home_cfg(2)).replacen(
        &format!("address = \"{HA}\""),
        "address = \"2001:db8:1::10::\"",
        1,
    );
    refused(&net.home, &bad, "a home agent address that is not one");
    apply(&net.home, "H", &home_cfg(2));
    for (i, m) in net.members.iter().enumerate() {
        apply(m, ["M1", "M2"][i], &member_cfg(i, 2));
    }
    wait_for("both members bound at H", Duration::from_secs(20), || {
        mga_bindings(&net.home) == 2
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", net.logs()));
    net.r1
        .ip(&["-6", "route", "del", &format!("{A}/128")])
        .unwrap();
    println!("  R1: the static route {A}/128 via M1 deleted: A follows the home prefix to H");
    let h0 = group_packets(&net.home);
    net.wait_both("new flows reach both members through H");
    changes.push(Change::end("1 -> 2 (MGA)", from, probe));
    let f = net.flows(100);
    let h1 = group_packets(&net.home);
    assert_eq!(f.get("none"), None, "stage 2: {f:?}");
    assert!(
        h1 >= h0 + 100,
        "H's fast path did not carry the flows: {h0} -> {h1}"
    );
    assert_eq!(
        installed_sources(&net.home),
        BTreeSet::from(["mga".to_string()])
    );
    // A third session, started now, past the change, from a source port
    // whose flow H gives M2: the later changes have to move it.
    let late = start_served_by(&net, 1, "stream3");
    let late_started = Instant::now();

    println!(
        "  100 new UDP flows: {f:?}; H's fast path counted {} packets for A",
        h1 - h0
    );
    println!("  AARP still answers: {}", resolved(&net));

    // ---- 2 -> 3: PIA-SM core.
    println!(
        "stage 3: PIA-SM (H adds the core, R1 and R2 become first-hop routers, members add ARD)"
    );
    let probe = Probe::start(&net.c, 33002);
    let from = Instant::now();
    let bad = with_typo(&net.home.config_text(&home_cfg(3)), "piasm");
    refused(&net.home, &bad, "an unknown [piasm] key");
    apply(&net.home, "H", &home_cfg(3));
    for (i, r) in net.routers.iter().enumerate() {
        apply(r, ["R1", "R2"][i], &router_cfg(i, 3));
    }
    for (i, m) in net.members.iter().enumerate() {
        apply(m, ["M1", "M2"][i], &member_cfg(i, 3));
    }
    wait_for(
        "H's tree holds both members",
        Duration::from_secs(30),
        || {
            piasm_tree(&net.home)["weight"] == 2
                && installed_sources(&net.home) == BTreeSet::from(["pia-sm".to_string()])
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{}\n{}",
            net.home.ctl(&["show", "piasm"]).unwrap_or_default(),
            net.logs()
        )
    });
    // The tree: R1's join, sent toward the core with Router Alert, is taken
    // by R2 on its way (docs/piasm.md §5): H -> R2 (on link) -> R1
    // (tunnelled). R2 forwards A's packets from H to M2 or down the tunnel
    // to R1, which strips it and hands them to M1.
    let d0 = decapsulated(&net.routers[0]);
    let g0 = group_packets(&net.routers[1]);
    net.wait_both("new flows reach both members down the tree");
    changes.push(Change::end("2 -> 3 (PIA-SM)", from, probe));
    let f = net.flows(100);
    let (d1, g1) = (
        decapsulated(&net.routers[0]),
        group_packets(&net.routers[1]),
    );
    assert_eq!(f.get("none"), None, "stage 3: {f:?}");
    assert!(d1 > d0, "R1 did not decapsulate: {d0} -> {d1}");
    assert!(
        g1 >= g0 + 100,
        "R2 did not forward A down the tree: {g0} -> {g1}"
    );
    println!(
        "  100 new UDP flows: {f:?}; R2 forwarded {} packets of A down the tree, R1 decapsulated {}; \
         H still holds {} MGA bindings (RIB: {:?} installed)",
        g1 - g0,
        d1 - d0,
        mga_bindings(&net.home),
        installed_sources(&net.home)
    );
    println!("  AARP still answers: {}", resolved(&net));
    println!("{}", net.home.ctl(&["show", "piasm"]).unwrap_or_default());

    // ---- 3 -> 4: ARIP on every router.
    println!("stage 4: ARIP (R1 and R2 speak ARIP; R1 forwards A from the client link)");
    let probe = Probe::start(&net.c, 33003);
    let from = Instant::now();
    let bad = with_typo(&net.routers[0].config_text(&router_cfg(0, 4)), "arip");
    refused(&net.routers[0], &bad, "an unknown [arip] key");
    for (i, r) in net.routers.iter().enumerate() {
        apply(r, ["R1", "R2"][i], &router_cfg(i, 4));
    }
    wait_for(
        "R1 and R2 learn A from each other",
        Duration::from_secs(30),
        || arip_has_anycast_path(&net.routers[0], A) && arip_has_anycast_path(&net.routers[1], A),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", net.logs()));
    let h0 = group_packets(&net.home);
    let r0 = group_packets(&net.routers[0]);
    let f = net.flows(100);
    changes.push(Change::end("3 -> 4 (ARIP)", from, probe));
    let (h1, r1) = (group_packets(&net.home), group_packets(&net.routers[0]));
    assert_eq!(
        f.get("m1"),
        Some(&100),
        "stage 4: the nearest member is M1: {f:?}"
    );
    assert_eq!(h1, h0, "A's packets still went through H");
    assert!(
        r1 >= r0 + 100,
        "R1's fast path did not carry the flows: {r0} -> {r1}"
    );
    println!(
        "  100 new UDP flows: {f:?}; R1's fast path counted {} packets for A, H's {}",
        r1 - r0,
        h1 - h0
    );
    println!("  AARP still answers: {}", resolved(&net));
    assert!(
        streams.iter().all(|s| !s.ended()) && !late.ended(),
        "a stream ended before the last stage: make it longer"
    );

    // ---- 4 -> 5: the earlier stages removed.
    println!("stage 5: cleanup (PIA-SM off the routers and H, MGA off the members and H)");
    let probe = Probe::start(&net.c, 33005);
    let from = Instant::now();
    let watch = FibWatch::start(&net.routers[0]);
    let reasons0 = reasons(&net.routers[0]);
    let members0 = member_packets(&net.routers[0]);
    let bad = with_typo(&net.routers[0].config_text(&router_cfg(0, 5)), "ard");
    refused(&net.routers[0], &bad, "an unknown [ard] key");
    for (i, r) in net.routers.iter().enumerate() {
        apply(r, ["R1", "R2"][i], &router_cfg(i, 5));
    }
    for (i, m) in net.members.iter().enumerate() {
        apply(m, ["M1", "M2"][i], &member_cfg(i, 5));
    }
    apply(&net.home, "H", &home_cfg(5));
    wait_for(
        "R1 and R2 install their ARD members again",
        Duration::from_secs(15),
        || {
            let ard = BTreeSet::from(["ard".to_string()]);
            installed_sources(&net.routers[0]) == ard && installed_sources(&net.routers[1]) == ard
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", net.logs()));
    let f = net.flows(100);
    let change = Change::end("4 -> 5 (cleanup)", from, probe);
    let passed: Vec<(String, u64)> = reasons(&net.routers[0])
        .into_iter()
        .filter(|(r, _)| r.starts_with("pass_no_") || r.starts_with("drop"))
        .map(|(r, n)| (r.clone(), n - reasons0.get(&r).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    println!("  R1's fast path during the cleanup, packets not forwarded by reason: {passed:?}");
    let to_members: Vec<(String, u64)> = member_packets(&net.routers[0])
        .into_iter()
        .map(|(m, n)| (m.clone(), n - members0.get(&m).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    println!("  R1's fast path during the cleanup, packets by member: {to_members:?}");
    for (who, d) in [("R1", &net.routers[0]), ("R2", &net.routers[1])] {
        let log = d.log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("XDP") || l.contains("FIB updated") || l.contains("learned"))
            .collect();
        println!(
            "  {who}'s log, fast path and FIB:\n    {}",
            lines.join("\n    ")
        );
    }
    let (looks, missing) = watch.stop();
    changes.push(change);
    assert_eq!(f.get("m1"), Some(&100), "stage 5: {f:?}");
    assert_eq!(
        missing, 0,
        "R1's FIB was without A in {missing} of {looks} looks while the stages went"
    );
    for (who, d) in [
        ("H", &net.home),
        ("R1", &net.routers[0]),
        ("M1", &net.members[0]),
    ] {
        for p in ["piasm", "mga"] {
            let v = d.ctl_json(&["show", p]).unwrap_or_default();
            assert!(v.is_null(), "{who} still runs {p}: {v}");
        }
    }
    assert!(installed_sources(&net.home).is_empty());
    println!(
        "  100 new UDP flows: {f:?}; R1's FIB held A in all {looks} looks during the reloads; \
         no PIA-SM or MGA left anywhere"
    );
    println!("  AARP still answers: {}", resolved(&net));
    assert!(
        net_streams_running(&streams, &late),
        "a stream ended before the last stage: make it longer"
    );

    // ---- The long sessions, through all five.
    let tcp_started = tcp.started;
    let ms = |at: Instant| at.saturating_duration_since(tcp_started).as_millis() as u64;
    let (ok, text, samples) = tcp.finish();
    assert!(ok, "the preload transfer failed: {text}");
    assert!(text.contains("byte-exact by m1"), "{text}");
    assert!(text.contains(&format!("-> member {}", M[0])), "{text}");
    let verified = samples.last().map_or(0, |s| s.1);
    let reference = net.tmp.join("reference.bin");
    let out = std::process::Command::new(bin("anycast6-stream"))
        .args(["content", STREAM_CONTENT, "-o"])
        .arg(&reference)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = std::fs::read(&reference).unwrap();
    println!(
        "preload TCP: {verified} octets echoed byte-exact by M1 over {:.1} s",
        samples.last().map_or(0, |s| s.0) as f64 / 1e3,
    );
    let mut failovers = Vec::new();
    let mut streams = streams;
    streams.push(late);
    // When each session started, from the first two's start.
    let began = [
        0.0,
        0.0,
        late_started
            .saturating_duration_since(streams_started)
            .as_secs_f64(),
    ];
    for (i, s) in streams.into_iter().enumerate() {
        let out = s.out.clone();
        let played = s
            .finish_within(Duration::from_secs(150))
            .expect("stream client");
        assert_eq!(
            played.code,
            Some(0),
            "stream {}: {}\n{}",
            i + 1,
            played.report,
            played.stderr
        );
        assert!(
            std::fs::read(&out).unwrap() == reference,
            "stream {}: the content differs",
            i + 1
        );
        println!(
            "stream {}: {STREAM_CONTENT} byte-exact, unplayed {}, failovers {}",
            i + 1,
            played.count("unplayed"),
            played.failovers().len()
        );
        if i == 2 {
            assert!(
                !played.failovers().is_empty(),
                "stream 3, on M2 in stage 2, never changed server: {}",
                played.report
            );
        }
        for (from, to, gap, seq) in played.failovers_at() {
            // Data goes out at the stream rate: sequence number to time.
            let at = began[i] + seq as f64 * 1200.0 / (200u64 << 10) as f64;
            failovers.push((i + 1, from, to, gap, at));
        }
    }
    println!("longest stall at each change:");
    for c in &changes {
        let (a, b) = (ms(c.from), ms(c.to));
        println!(
            "  {:<16} probe flow {:>4} ms (answered by {:?}); preload TCP {:>4} ms",
            c.name,
            c.probe_ms,
            c.probe_members,
            tcp_stall(&samples, a, b + 500)
        );
    }
    let t = |at: Instant| at.saturating_duration_since(streams_started).as_secs_f64();
    for c in &changes {
        println!(
            "  {:<16} from {:.1} s to {:.1} s of the streams",
            c.name,
            t(c.from),
            t(c.to)
        );
    }
    for (i, from, to, gap, at) in &failovers {
        println!("  stream {i}: server {from} -> {to} at about {at:.1} s, gap {gap:.1} ms");
    }
    if failovers.is_empty() {
        println!("  streams: no change of server");
    }
}
