//! AOSPF graceful restart (RFC 5187) of anycast6d between FRR ospf6d and
//! BIRD, both as helpers, with traffic through it the whole time.
//!
//! ```text
//!   F (FRR ospf6d) ── f-a ═ a-f ── A (anycast6d) ── a-b ═ b-a ── B (BIRD) ── b-c ═ c-b ── C (anycast6d)
//!   lo 2001:db8:ff::f              lo ff::a  │                 lo ff::b                    │
//!                                    a-m ═ m-a ── M: member of ANY                 c-n ═ n-c ── N: member of ANY2
//! ```
//! A serves ANY (a configured group, member M) and learns ANY2 from C
//! through BIRD (the AC bit rides in C's LSA): an AOSPF RIB candidate
//! whose next hop is BIRD, in A's pinned FIB. Probes from F's loopback,
//! 1 ms apart, to B's loopback (A's kernel routes, both ways), to ANY
//! (A's XDP to M) and to ANY2 (A's XDP to BIRD, on to C, N).
//!
//! - `graceful_restart_between_frr_and_bird`: `anycast6ctl shutdown
//!   --graceful`, A down 6 s (the dead interval is 4 s), the same config
//!   started again: no probe lost, F's and B's routes through A never
//!   left their kernels (polled every 100 ms, and `ip monitor` shows no
//!   deletion), A's kernel routes the same and never deleted, ANY2 in A's
//!   FIB throughout, FRR and BIRD Full with A again, `gr_completed` 1.
//! - `plain_restart_loses_the_routes`: the control, SIGTERM instead: the
//!   routes at F and B do go, probes are lost.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anycast6_tests::bird::Bird;
use anycast6_tests::frr::Frr;
use anycast6_tests::ospf::{aospf_interface, aospf_section, OspfIf, OspfNetwork};
use anycast6_tests::traffic::StreamReport;
use anycast6_tests::{proto, require_root, wait_for, wait_until, Daemon, DaemonCfg, MemberCfg};
use anycast6_tests::{Netns, Proc, Server, TempDir, UdpStream};
use serde_json::Value;

const ANY: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0xa);
const ANY2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0xc);
const F_LO: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 0xf);
const B_LO: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 0xb);
const PORT: u16 = 7000;
const A_ID: &str = "10.0.0.10";
/// Longer than the 4 s dead interval: without help the adjacencies die.
const DOWN: Duration = Duration::from_secs(6);

fn p2p() -> OspfIf {
    OspfIf {
        network: OspfNetwork::PointToPoint,
        ..OspfIf::default()
    }
}

/// Dropped in this order: the processes, then their namespaces, then the
/// directory with their logs.
struct Lab {
    d: Daemon,
    _c: Daemon,
    frr: Frr,
    bird: Bird,
    _servers: Vec<Server>,
    a: Netns,
    f: Netns,
    b: Netns,
    _ns: Vec<Netns>,
    tmp: TempDir,
}

/// An anycast6d config: XDP on `xdp`, `group` served by an on-link member,
/// AOSPF point-to-point on `ospf` (and `lo` passive).
fn router(id: &str, xdp: &[&str], group: (Ipv6Addr, &str, &str), ospf: &[&str]) -> DaemonCfg {
    let mut cfg = DaemonCfg::default();
    for i in xdp {
        cfg = cfg.interface(i, "native");
    }
    let (g, member, dev) = group;
    cfg = cfg.group(&g.to_string(), vec![MemberCfg::on_link(member, dev)]);
    let ifs: Vec<String> = ospf
        .iter()
        .map(|i| aospf_interface(i, &p2p(), ""))
        .collect();
    cfg.extra = aospf_section(id, &ifs);
    cfg
}

fn link(a: &Netns, a_if: &str, a_addr: &str, b: &Netns, b_if: &str, b_addr: &str) {
    proto::link(a, a_if, a_addr, b, b_if, b_addr).expect("link");
}

fn has_route(ns: &Netns, prefix: Ipv6Addr) -> bool {
    ns.ip(&["-6", "route", "show", &prefix.to_string()])
        .is_ok_and(|r| r.contains("via fe80"))
}

/// A's AOSPF neighbours in state Full.
fn a_full(d: &Daemon) -> usize {
    d.ctl_json(&["show", "aospf", "neighbors"])
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|n| n["state"] == "Full")
        .count()
}

fn frr_sees_a_full(frr: &Frr) -> bool {
    frr.ospf6_neighbor_state(A_ID).as_deref() == Some("Full")
}

/// FRR's helper role: whom it helps, why it last stopped.
fn frr_helper(frr: &Frr) -> String {
    frr.vtysh("show ipv6 ospf6 graceful-restart helper detail")
        .unwrap_or_default()
}

fn bird_sees_a_full(bird: &Bird) -> bool {
    bird.ospf_neighbor(A_ID).is_some_and(|n| n.is_full())
}

/// A's kernel routes of protocol anycast6 (0xa6), one line each, sorted.
fn a_kernel_routes(a: &Netns) -> Vec<String> {
    let mut v: Vec<String> = a
        .ip(&["-6", "route", "show", "proto", "0xa6"])
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// A's members of `group` active in the FIB.
fn fib_members(d: &Daemon, group: Ipv6Addr) -> usize {
    d.ctl_json(&["show", "members"])
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter(|m| m["group"] == group.to_string() && m["state"] == "active")
        .count()
}

fn setup(label: &str) -> Lab {
    let tmp = TempDir::new(label).expect("tmp");
    let ns = |r: &str| Netns::new(&format!("{label}{r}")).expect("netns");
    let (a, f, b, c, m, n) = (ns("a"), ns("f"), ns("b"), ns("c"), ns("m"), ns("n"));
    for x in [&a, &f, &b, &c] {
        x.enable_forwarding().unwrap();
    }
    link(
        &f,
        "f-a",
        "2001:db8:af::f/64",
        &a,
        "a-f",
        "2001:db8:af::a/64",
    );
    link(
        &a,
        "a-b",
        "2001:db8:ab::a/64",
        &b,
        "b-a",
        "2001:db8:ab::b/64",
    );
    link(
        &b,
        "b-c",
        "2001:db8:bc::b/64",
        &c,
        "c-b",
        "2001:db8:bc::c/64",
    );
    link(
        &a,
        "a-m",
        "2001:db8:a1::1/64",
        &m,
        "m-a",
        "2001:db8:a1::10/64",
    );
    link(
        &c,
        "c-n",
        "2001:db8:c1::1/64",
        &n,
        "n-c",
        "2001:db8:c1::10/64",
    );
    f.add_addr("lo", &format!("{F_LO}/128")).unwrap();
    b.add_addr("lo", &format!("{B_LO}/128")).unwrap();
    a.add_addr("lo", "2001:db8:ff::a/128").unwrap();
    m.add_addr("lo", &format!("{ANY}/128")).unwrap();
    n.add_addr("lo", &format!("{ANY2}/128")).unwrap();
    m.add_route("default", "2001:db8:a1::1").unwrap();
    n.add_route("default", "2001:db8:c1::1").unwrap();
    let servers = vec![
        Server::udp(&b, "b", SocketAddrV6::new(B_LO, PORT, 0, 0)).unwrap(),
        Server::udp(&m, "m", SocketAddrV6::new(ANY, PORT, 0, 0)).unwrap(),
        Server::udp(&n, "n", SocketAddrV6::new(ANY2, PORT, 0, 0)).unwrap(),
    ];
    // FRR 8.4 helps only when told to (`graceful-restart helper enable`
    // under `router ospf6`); BIRD 2.0.12 does by default.
    let frr_cfg = Frr::ospf6_config(
        "10.0.0.1",
        &[
            ("f-a", p2p()),
            (
                "lo",
                OspfIf {
                    network: OspfNetwork::Broadcast,
                    ..p2p()
                },
            ),
        ],
        false,
    )
    .replace(
        "router ospf6\n",
        "router ospf6\n graceful-restart helper enable\n",
    );
    let frr = Frr::start_ospf6d(&f, &tmp, "f", &frr_cfg).expect("FRR");
    let bird = Bird::start(
        &b,
        &tmp,
        "b",
        &Bird::ospf_config("10.0.0.2", &[("b-a", p2p()), ("b-c", p2p())], true),
    )
    .expect("BIRD");
    let c_d = Daemon::start(
        &c,
        &tmp,
        "c",
        &router(
            "10.0.0.30",
            &["c-b", "c-n"],
            (ANY2, "2001:db8:c1::10", "c-n"),
            &["c-b"],
        ),
    )
    .expect("anycast6d C");
    let d = Daemon::start(
        &a,
        &tmp,
        "a",
        &router(
            A_ID,
            &["a-f", "a-b", "a-m"],
            (ANY, "2001:db8:a1::10", "a-m"),
            &["a-f", "a-b"],
        ),
    )
    .expect("anycast6d A");
    let t = Instant::now();
    wait_for("A Full with FRR and BIRD", Duration::from_secs(40), || {
        a_full(&d) == 2 && frr_sees_a_full(&frr) && bird_sees_a_full(&bird)
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nA: {:?}\nFRR: {}\nBIRD: {:?}",
            d.ctl_json(&["show", "aospf", "neighbors"]),
            frr.logs(20),
            bird.ospf_neighbors()
        )
    });
    wait_for(
        "routes through A everywhere",
        Duration::from_secs(30),
        || {
            has_route(&f, B_LO)
                && has_route(&f, ANY)
                && has_route(&f, ANY2)
                && has_route(&b, F_LO)
                && has_route(&b, ANY)
                && has_route(&a, F_LO)
                && has_route(&a, B_LO)
                && has_route(&c, F_LO)
                && fib_members(&d, ANY2) == 1
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nA: {}\nF: {}\nB: {}\nA's members: {:?}",
            a.ip(&["-6", "route"]).unwrap_or_default(),
            f.ip(&["-6", "route"]).unwrap_or_default(),
            b.ip(&["-6", "route"]).unwrap_or_default(),
            d.ctl_json(&["show", "members"])
        )
    });
    eprintln!("converged after {:?}", t.elapsed());
    // FRR refuses to help while an LSA to A waits for acknowledgement
    // (strict LSA checking): let the database settle.
    std::thread::sleep(Duration::from_secs(2));
    Lab {
        tmp,
        a,
        f,
        b,
        frr,
        bird,
        d,
        _c: c_d,
        _servers: servers,
        _ns: vec![c, m, n],
    }
}

/// Whether each of [`WATCHED`] was there, at one time.
type Sample = [bool; 5];

/// Whether each watched route was there, every 100 ms, while running.
struct Watch {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Vec<Sample>>>,
    monitors: Vec<(String, Proc)>,
}

const WATCHED: [&str; 5] = [
    "F → B's loopback",
    "F → ANY",
    "F → ANY2",
    "B → F's loopback",
    "B → ANY",
];

impl Watch {
    fn start(lab: &Lab) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let (f, b) = (lab.f.name().to_string(), lab.b.name().to_string());
        let handle = std::thread::spawn(move || {
            let show = |ns: &str, p: Ipv6Addr| {
                std::process::Command::new("ip")
                    .args(["-n", ns, "-6", "route", "show", &p.to_string()])
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("via fe80"))
            };
            let mut samples = Vec::new();
            while !st.load(Ordering::Relaxed) {
                let t = Instant::now();
                samples.push([
                    show(&f, B_LO),
                    show(&f, ANY),
                    show(&f, ANY2),
                    show(&b, F_LO),
                    show(&b, ANY),
                ]);
                if let Some(d) = Duration::from_millis(100).checked_sub(t.elapsed()) {
                    std::thread::sleep(d);
                }
            }
            samples
        });
        // Every route deletion, however short, in the three kernels.
        let monitors = [("F", &lab.f), ("B", &lab.b), ("A", &lab.a)]
            .into_iter()
            .map(|(n, ns)| {
                let mut cmd = std::process::Command::new("ip");
                cmd.args(["-n", ns.name(), "-6", "monitor", "route"]);
                let log = lab.tmp.join(format!("monitor-{n}.log"));
                (
                    n.to_string(),
                    Proc::spawn(&format!("ip-monitor-{n}"), cmd, log).expect("ip monitor"),
                )
            })
            .collect();
        Watch {
            stop,
            handle: Some(handle),
            monitors,
        }
    }

    /// (samples, per router: the route deletions `ip monitor` printed).
    fn stop(mut self) -> (Vec<Sample>, Vec<(String, Vec<String>)>) {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.handle.take().unwrap().join().unwrap();
        let deleted = self
            .monitors
            .drain(..)
            .map(|(n, mut p)| {
                p.kill();
                let lines = p
                    .log()
                    .lines()
                    .filter(|l| l.starts_with("Deleted "))
                    .map(str::to_string)
                    .collect();
                (n, lines)
            })
            .collect();
        (samples, deleted)
    }
}

/// Deletions of a route to `prefix` among `lines` (`Deleted <prefix> ...`).
fn deletions_of(lines: &[String], prefix: Ipv6Addr) -> Vec<String> {
    let p = prefix.to_string();
    lines
        .iter()
        .filter(|l| l.split_whitespace().nth(1) == Some(p.as_str()))
        .cloned()
        .collect()
}

struct Streams(Vec<(&'static str, UdpStream)>);

impl Streams {
    fn start(f: &Netns) -> Streams {
        let to = |sport: u16, dst: Ipv6Addr| {
            UdpStream::start(
                f,
                SocketAddrV6::new(F_LO, sport, 0, 0),
                SocketAddrV6::new(dst, PORT, 0, 0),
                Duration::from_millis(1),
            )
        };
        Streams(vec![
            ("B's loopback", to(41001, B_LO)),
            ("ANY (A's member)", to(41002, ANY)),
            ("ANY2 (C's member, via BIRD)", to(41003, ANY2)),
        ])
    }

    fn stop(self) -> Vec<(&'static str, StreamReport)> {
        self.0
            .into_iter()
            .map(|(n, s)| (n, s.stop().expect("stream")))
            .collect()
    }
}

fn report(reps: &[(&str, StreamReport)]) -> String {
    reps.iter()
        .map(|(n, r)| {
            format!(
                "{n}: {} of {} lost (longest gap {} ms)",
                r.lost.len(),
                r.sent,
                proto::longest_gap(&r.lost)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn wait_exit(d: &mut Daemon, what: &str) {
    wait_for(what, Duration::from_secs(15), || !d.running())
        .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));
}

#[test]
fn graceful_restart_between_frr_and_bird() {
    if !require_root("graceful_restart_between_frr_and_bird") {
        return;
    }
    let mut lab = setup("grg");
    let helper = lab
        .frr
        .vtysh("show ipv6 ospf6 graceful-restart helper")
        .unwrap_or_default();
    assert!(
        helper.contains("Graceful restart helper support enabled"),
        "FRR's helper: {helper}"
    );
    let routes_before = a_kernel_routes(&lab.a);
    // F's and B's loopbacks, C's two links.
    assert_eq!(routes_before.len(), 4, "{routes_before:?}");
    let streams = Streams::start(&lab.f);
    let watch = Watch::start(&lab);
    std::thread::sleep(Duration::from_secs(1));

    let t0 = Instant::now();
    let v = lab
        .d
        .ctl_json(&["shutdown", "--graceful"])
        .unwrap_or_else(|e| panic!("{e:#}\n{}", lab.d.log()));
    let took = t0.elapsed();
    wait_exit(&mut lab.d, "the old anycast6d to exit");
    eprintln!(
        "shutdown --graceful returned after {took:?} (process gone after {:?}): {v}",
        t0.elapsed()
    );
    assert_eq!(v["graceful"], true, "{v}");
    assert_eq!(v["aospf"]["acknowledged"], true, "{v}");
    assert_eq!(v["aospf"]["kernel_routes"], 4, "{v}");
    assert_eq!(v["aospf"]["members"], 1, "ANY2 saved: {v}");
    assert_eq!(v["aospf"]["grace_period_s"], 120, "{v}");
    let state = lab.tmp.join("a.state.json");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(
        saved["graceful_restart"]["aospf_routes"]
            .as_array()
            .map(Vec::len),
        Some(4),
        "{saved}"
    );
    assert_eq!(
        a_kernel_routes(&lab.a),
        routes_before,
        "routes left in place"
    );

    std::thread::sleep(DOWN);
    // Both help: A is still Full at each, past the dead interval.
    let helping = frr_helper(&lab.frr);
    eprintln!("FRR while A is down: {helping}");
    assert!(
        helping.contains(&format!("Routerid : {A_ID}")),
        "FRR is not A's helper: {helping}"
    );
    assert!(
        frr_sees_a_full(&lab.frr),
        "FRR, helping, still lists A Full after {DOWN:?}: {:?}",
        lab.frr.ospf6_neighbor_state(A_ID)
    );
    // BIRD shows a neighbour it helps as Down, and keeps it (without
    // help it is gone at the dead interval).
    let at_bird = lab.bird.ospf_neighbor(A_ID);
    eprintln!("BIRD while A is down: {at_bird:?}");
    assert!(
        at_bird.is_some(),
        "BIRD, helping by default, still lists A after {DOWN:?}: {:?}",
        lab.bird.ospf_neighbors()
    );
    // Two proto-0xa6 routes besides: one the state file lists as the old
    // process's (the new table will not name it: swept when the restart
    // ends), one it does not (left by a crashed run: gone at start).
    let (listed, stale) = ("2001:db8:dead:1::", "2001:db8:dead:2::");
    for (p, metric) in [(listed, "77"), (stale, "78")] {
        lab.a
            .ip(&[
                "-6",
                "route",
                "add",
                &format!("{p}/64"),
                "via",
                "2001:db8:af::f",
                "dev",
                "a-f",
                "proto",
                "0xa6",
                "metric",
                metric,
            ])
            .unwrap();
    }
    let mut saved = saved;
    saved["graceful_restart"]["aospf_routes"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"prefix": listed, "plen": 64, "metric": 77}));
    std::fs::write(&state, saved.to_string()).unwrap();
    let has = |p: &str| {
        lab.a
            .ip(&["-6", "route", "show", &format!("{p}/64")])
            .is_ok_and(|r| r.contains("proto 0xa6") || r.contains("via"))
    };

    let t1 = Instant::now();
    lab.d.spawn().expect("anycast6d started again");
    let started = t1.elapsed();
    // The start's sweep spares what the state file lists: it removed the
    // unlisted route alone. The listed one goes when the restart ends —
    // which may be before this line runs (a restart takes tens of
    // milliseconds when the neighbours answer at once).
    let listed_there = has(listed);
    let over = |log: &str| log.contains("AOSPF graceful restart over");
    assert!(
        listed_there || wait_until(Duration::from_secs(5), || over(&lab.d.log())),
        "the listed route of the old process gone before the restart ended: {}\n{}",
        lab.a.ip(&["-6", "route"]).unwrap_or_default(),
        lab.d.log()
    );
    let log = lab.d.log();
    assert!(
        log.lines().any(
            |l| l.contains("stale kernel routes of a previous run removed")
                && l.trim_end().ends_with("routes=1")
        ),
        "the start's sweep removed one route (the unlisted one): {log}"
    );
    assert!(!has(stale), "an unlisted stale route removed at start");
    assert_eq!(
        fib_members(&lab.d, ANY2),
        1,
        "ANY2's member restored while restarting: {}",
        lab.d.log()
    );
    let mut seen_restarting = false;
    wait_for("A's graceful restart over", Duration::from_secs(60), || {
        let g = lab
            .d
            .ctl_json(&["show", "aospf"])
            .map(|v| v["graceful_restart"]["restarting"].clone())
            .unwrap_or(Value::Null);
        seen_restarting |= g == true;
        g == false
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.d.log()));
    let restart = t1.elapsed();
    // ANY2's member, restored from the state file, then AOSPF's again.
    assert_eq!(fib_members(&lab.d, ANY2), 1, "ANY2 in A's FIB");
    wait_for(
        "the route no one named swept",
        Duration::from_secs(5),
        || !has(listed),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", lab.d.log()));
    std::thread::sleep(Duration::from_secs(2));
    let (samples, deleted) = watch.stop();
    let reps = streams.stop();
    eprintln!(
        "A down {:?}, started in {started:?}, restart over {restart:?} after the start \
         (restarting seen: {seen_restarting}); {}",
        DOWN + started,
        report(&reps)
    );

    // Restarting, as `show aospf` said or (when the restart was over before
    // the first look) as the daemon logged it.
    assert!(
        seen_restarting || lab.d.log().contains("restarting=true"),
        "show aospf never said restarting"
    );
    let log = lab.d.log();
    assert!(log.contains("AOSPF resumes a graceful restart"), "{log}");
    assert!(
        log.contains("AOSPF graceful restart over: routes installed whole"),
        "{log}"
    );
    for (i, what) in WATCHED.iter().enumerate() {
        let missing = samples.iter().filter(|s| !s[i]).count();
        eprintln!(
            "{what}: present in {} of {} samples (100 ms apart)",
            samples.len() - missing,
            samples.len()
        );
        assert_eq!(missing, 0, "{what} left the kernel");
    }
    for (n, lines) in &deleted {
        eprintln!("route deletions at {n}: {lines:?}");
    }
    let at = |n: &str| &deleted.iter().find(|(m, _)| m == n).unwrap().1;
    for (router, prefix) in [
        ("F", B_LO),
        ("F", ANY),
        ("F", ANY2),
        ("B", F_LO),
        ("B", ANY),
        ("A", F_LO),
        ("A", B_LO),
    ] {
        assert_eq!(
            deletions_of(at(router), prefix),
            Vec::<String>::new(),
            "{router}'s route to {prefix} deleted"
        );
    }
    for (n, r) in &reps {
        assert!(r.sent > 8000, "{n}: {} sent", r.sent);
        assert!(
            r.lost.len() <= 5,
            "{n}: {} probes lost: {}",
            r.lost.len(),
            report(&reps)
        );
    }
    assert_eq!(a_kernel_routes(&lab.a), routes_before, "A's kernel routes");
    wait_for(
        "A Full with FRR and BIRD again",
        Duration::from_secs(10),
        || a_full(&lab.d) == 2 && frr_sees_a_full(&lab.frr) && bird_sees_a_full(&lab.bird),
    )
    .unwrap();
    let v = lab.d.ctl_json(&["show", "aospf"]).unwrap();
    let c = &v["view"]["counters"];
    assert_eq!(c["gr_completed"], 1, "{c}");
    assert_eq!(v["graceful_restart"]["until_unix"], Value::Null, "{v}");
    let helper = frr_helper(&lab.frr);
    eprintln!("FRR after: {helper}");
    assert!(
        helper.contains("Last Helper exit Reason :Successful graceful restart"),
        "{helper}"
    );
    // The restart was read once: a later crash starts afresh.
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert!(saved.get("graceful_restart").is_none(), "{saved}");
}

#[test]
fn plain_restart_loses_the_routes() {
    if !require_root("plain_restart_loses_the_routes") {
        return;
    }
    let mut lab = setup("grp");
    let streams = Streams::start(&lab.f);
    let watch = Watch::start(&lab);
    std::thread::sleep(Duration::from_secs(1));
    lab.d.signal(libc::SIGTERM).unwrap();
    wait_exit(&mut lab.d, "anycast6d to exit on SIGTERM");
    assert_eq!(a_kernel_routes(&lab.a), Vec::<String>::new(), "removed");
    std::thread::sleep(DOWN);
    lab.d.spawn().expect("anycast6d started again");
    wait_for(
        "A Full with FRR and BIRD again",
        Duration::from_secs(40),
        || a_full(&lab.d) == 2 && frr_sees_a_full(&lab.frr) && bird_sees_a_full(&lab.bird),
    )
    .unwrap();
    wait_for("routes back", Duration::from_secs(20), || {
        has_route(&lab.f, B_LO) && has_route(&lab.b, F_LO)
    })
    .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let (samples, _) = watch.stop();
    let reps = streams.stop();
    eprintln!("SIGTERM: {}", report(&reps));
    for (i, what) in WATCHED.iter().enumerate() {
        let missing = samples.iter().filter(|s| !s[i]).count();
        eprintln!("{what}: missing in {missing} of {} samples", samples.len());
    }
    // The routes through A went at F and at B.
    assert!(samples.iter().any(|s| !s[0]), "F kept B's loopback");
    assert!(samples.iter().any(|s| !s[3]), "B kept F's loopback");
    assert!(
        reps[0].1.lost.len() > 1000,
        "probes to B's loopback: {}",
        report(&reps)
    );
}
