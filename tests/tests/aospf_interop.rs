//! AOSPF interop: anycast6d speaking OSPFv3 with FRR ospf6d and BIRD.
//!
//! - `adjacencies_on_lans_and_point_to_point`: anycast6d (A) with FRR (F)
//!   and BIRD (B) on two broadcast LANs (A DR on the first, DROther on the
//!   second) and a point-to-point link to each: every adjacency Full both
//!   ways; loopbacks routed both ways into the kernels; A's anycast /128
//!   at FRR and BIRD as an ordinary host route; every packet A sends
//!   decodes in tshark, none malformed.
//! - `anycast_through_frr_with_failover`: two FRR routers in the middle,
//!   an AOSPF router beyond them choosing per flow, consistently, between
//!   two equal-cost members; the nearest one taking a TCP transfer once
//!   the costs differ; failover on a hard kill and a clean leave.
//! - `authentication_with_frr_and_bird`: RFC 7166 with each (FRR 8.4's key
//!   preparation for FRR), Full; a wrong key refused and counted.
//!
//! ```text
//!  adjacencies:      F ─┬─ lan1 ─┬─ B        anycast:   client ── a2 ──┬── f1 ── a1 ── m1
//!                       │   A    │                                    └── f2 ── a3 ── m3
//!                       └─ lan2 ─┘  + A–F, A–B point-to-point
//! ```

use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::{Duration, Instant};

use anycast6_tests::bird::Bird;
use anycast6_tests::frr::Frr;
use anycast6_tests::ospf::{aospf_interface, aospf_section, OspfIf, OspfNetwork};
use anycast6_tests::traffic::{self, Server};
use anycast6_tests::{proto, veth};
use anycast6_tests::{
    require_root, wait_for, Daemon, DaemonCfg, MemberCfg, Netns, Proc, TempDir, UdpStream,
};
use serde_json::Value;

const ANYCAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0xa);
const PORT: u16 = 7000;
const A_ID: &str = "10.0.0.10";

fn p2p() -> OspfIf {
    OspfIf {
        network: OspfNetwork::PointToPoint,
        ..OspfIf::default()
    }
}

fn lan(priority: u8) -> OspfIf {
    OspfIf {
        priority,
        ..OspfIf::default()
    }
}

/// One end of a veth link: namespace, interface, address.
type End<'a> = (&'a Netns, &'a str, &'a str);

/// Veth links, each between two ends.
fn links(list: &[(End, End)]) {
    for ((a, a_if, a_addr), (b, b_if, b_addr)) in list {
        proto::link(a, a_if, a_addr, b, b_if, b_addr).expect("link");
    }
}

/// anycast6d (A) with FRR (F) and BIRD (B) on point-to-point links a-f and
/// a-b, loopbacks 2001:db8:ff::{a,f,b}, forwarding on; namespaces named
/// `<tag>a`, `<tag>f`, `<tag>b`.
fn peers(tag: &str) -> (Netns, Netns, Netns) {
    let ns = |r: &str| Netns::new(&format!("{tag}{r}")).expect("netns");
    let (a, f, b) = (ns("a"), ns("f"), ns("b"));
    for (n, l) in [(&a, "a"), (&f, "f"), (&b, "b")] {
        n.enable_forwarding().unwrap();
        lo(n, &format!("2001:db8:ff::{l}/128"));
    }
    links(&[
        (
            (&a, "a-f", "2001:db8:af::a/64"),
            (&f, "f-a", "2001:db8:af::f/64"),
        ),
        (
            (&a, "a-b", "2001:db8:ab::a/64"),
            (&b, "b-a", "2001:db8:ab::b/64"),
        ),
    ]);
    (a, f, b)
}

/// A broadcast LAN: a bridge in `sw`, one veth port per member.
fn lan_link(sw: &Netns, members: &[(&Netns, &str, &str)]) {
    sw.ip(&["link", "add", "br0", "type", "bridge"]).unwrap();
    sw.ip(&["link", "set", "br0", "up"]).unwrap();
    for (k, (ns, ifname, addr)) in members.iter().enumerate() {
        let port = format!("p{k}");
        veth(sw, &port, ns, ifname).unwrap();
        sw.ip(&["link", "set", &port, "master", "br0"]).unwrap();
        sw.ip(&["link", "set", &port, "up"]).unwrap();
        ns.add_addr(ifname, addr).unwrap();
        ns.gro_on(ifname).unwrap();
        ns.tx_checksum_off(ifname).unwrap();
    }
}

fn lo(ns: &Netns, addr: &str) {
    ns.add_addr("lo", addr).unwrap();
}

/// The entries of `show aospf <what> --json`.
fn view_list(d: &Daemon, what: &str) -> Vec<Value> {
    let v = d.ctl_json(&["show", "aospf", what]).unwrap_or(Value::Null);
    v[what]
        .as_array()
        .or_else(|| v["view"][what].as_array())
        .or_else(|| v.as_array())
        .cloned()
        .unwrap_or_default()
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or("").to_string()
}

/// A's AOSPF neighbours: (router id, interface) → state.
fn neighbors(d: &Daemon) -> BTreeMap<(String, String), String> {
    view_list(d, "neighbors")
        .iter()
        .map(|n| {
            (
                (text(n, "router_id"), text(n, "interface")),
                text(n, "state"),
            )
        })
        .collect()
}

/// A's AOSPF interfaces: name → state.
fn interfaces(d: &Daemon) -> BTreeMap<String, String> {
    view_list(d, "interfaces")
        .iter()
        .map(|i| (text(i, "name"), text(i, "state")))
        .collect()
}

fn kernel_route(ns: &Netns, prefix: &str) -> String {
    ns.ip(&["-6", "route", "show", prefix]).unwrap_or_default()
}

/// Starts tshark on `dev` of `ns` for OSPF, waits until it captures.
fn capture(
    ns: &Netns,
    tmp: &TempDir,
    label: &str,
    dev: &str,
    secs: u32,
) -> (Proc, std::path::PathBuf) {
    let file = tmp.join(format!("{label}.pcap"));
    let log = tmp.join(format!("{label}.log"));
    let mut cmd = ns.command("tshark");
    cmd.args(["-n", "-q", "-i", dev, "-f", "ip6 proto 89", "-a"])
        .arg(format!("duration:{secs}"))
        .arg("-w")
        .arg(&file);
    let p = Proc::spawn(label, cmd, log.clone()).expect("tshark");
    // tshark takes seconds of CPU to start; on a loaded CI machine, many.
    wait_for("tshark captures", Duration::from_secs(90), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Capturing on"))
    })
    .expect("tshark did not start");
    (p, file)
}

/// Every OSPF packet of `file` sent from `src` decodes with no malformed
/// field and no expert error; returns how many there were.
fn decodes_cleanly(file: &std::path::Path, src: &str) -> usize {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args([
            "-Y",
            &format!("ospf && ipv6.src == {src}"),
            "-V",
            "-z",
            "expert,error",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark -r {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("Errors ("), "expert errors: {text}");
    let n = text.matches("Open Shortest Path First").count();
    if n == 0 {
        let all = std::process::Command::new("tshark")
            .args(["-n", "-r"])
            .arg(file)
            .output()
            .unwrap();
        eprintln!(
            "{}: no OSPF from {src}; all of it:\n{}",
            file.display(),
            String::from_utf8_lossy(&all.stdout)
        );
    }
    n
}

#[test]
fn adjacencies_on_lans_and_point_to_point() {
    if !require_root("adjacencies_on_lans_and_point_to_point") {
        return;
    }
    let tmp = TempDir::new("oiop").expect("tmp");
    let (a, f, b) = peers("oi");
    let ns = |r: &str| Netns::new(&format!("oi{r}")).expect("netns");
    let (l1, l2, m) = (ns("l1"), ns("l2"), ns("m"));
    lan_link(
        &l1,
        &[
            (&a, "a-l1", "2001:db8:11::a/64"),
            (&f, "f-l1", "2001:db8:11::f/64"),
            (&b, "b-l1", "2001:db8:11::b/64"),
        ],
    );
    lan_link(
        &l2,
        &[
            (&a, "a-l2", "2001:db8:12::a/64"),
            (&f, "f-l2", "2001:db8:12::f/64"),
            (&b, "b-l2", "2001:db8:12::b/64"),
        ],
    );
    links(&[(
        (&a, "a-m", "2001:db8:a1::1/64"),
        (&m, "m-a", "2001:db8:a1::10/64"),
    )]);
    lo(&m, &format!("{ANYCAST}/128"));

    // A is DR on lan1 (priority 100) and DROther on lan2 (priority 0,
    // FRR 50 is DR there, BIRD 10 BDR).
    let a_cfg = DaemonCfg::default().interface("a-m", "native").group(
        &ANYCAST.to_string(),
        vec![MemberCfg::on_link("2001:db8:a1::10", "a-m")],
    );
    let a_cfg = DaemonCfg {
        extra: aospf_section(
            A_ID,
            &[
                aospf_interface("a-l1", &lan(100), ""),
                aospf_interface("a-l2", &lan(0), ""),
                aospf_interface("a-f", &p2p(), ""),
                aospf_interface("a-b", &p2p(), ""),
            ],
        ),
        ..a_cfg
    };
    let caps: Vec<_> = ["a-l1", "a-l2", "a-f", "a-b"]
        .iter()
        .map(|d| capture(&a, &tmp, &format!("cap-{d}"), d, 300))
        .collect();
    // The DR election does not pre-empt: A comes up first, alone, so it is
    // DR on lan1 when FRR and BIRD arrive there.
    let d = Daemon::start(&a, &tmp, "a", &a_cfg).expect("anycast6d");
    wait_for("A is DR on lan1", Duration::from_secs(15), || {
        interfaces(&d).get("a-l1").map(String::as_str) == Some("DR")
    })
    .unwrap_or_else(|e| panic!("{e}\n{:?}", interfaces(&d)));
    let frr = Frr::start_ospf6d(
        &f,
        &tmp,
        "f",
        &Frr::ospf6_config(
            "10.0.0.1",
            &[
                ("f-l1", lan(1)),
                ("f-l2", lan(50)),
                ("f-a", p2p()),
                ("lo", lan(1)),
            ],
            false,
        ),
    )
    .expect("FRR");
    let bird = Bird::start(
        &b,
        &tmp,
        "b",
        &Bird::ospf_config(
            "10.0.0.2",
            // BIRD runs no OSPF on lo (no link-local there): its loopback
            // reaches the others as an AS-External-LSA.
            &[("b-l1", lan(1)), ("b-l2", lan(10)), ("b-a", p2p())],
            true,
        ),
    )
    .expect("BIRD");

    let want: BTreeMap<(String, String), String> = [
        ("10.0.0.1", "a-l1"),
        ("10.0.0.1", "a-l2"),
        ("10.0.0.1", "a-f"),
        ("10.0.0.2", "a-l1"),
        ("10.0.0.2", "a-l2"),
        ("10.0.0.2", "a-b"),
    ]
    .iter()
    .map(|(r, i)| ((r.to_string(), i.to_string()), "Full".to_string()))
    .collect();
    let t = Instant::now();
    wait_for("every adjacency of A Full", Duration::from_secs(30), || {
        let n = neighbors(&d);
        // On lan2 A is DROther: FRR (DR) and BIRD (BDR) are both adjacent.
        want.iter().all(|(k, v)| n.get(k) == Some(v))
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nA: {:?}\n{}\nFRR: {}\nBIRD: {:?}",
            neighbors(&d),
            d.log(),
            frr.logs(20),
            bird.ospf_neighbors()
        )
    });
    eprintln!("all six adjacencies Full after {:?}", t.elapsed());
    let ifs = interfaces(&d);
    assert_eq!(ifs.get("a-l1").map(String::as_str), Some("DR"), "{ifs:?}");
    assert_eq!(
        ifs.get("a-l2").map(String::as_str),
        Some("DROther"),
        "{ifs:?}"
    );
    assert_eq!(
        ifs.get("a-f").map(String::as_str),
        Some("PointToPoint"),
        "{ifs:?}"
    );
    wait_for("FRR sees A Full", Duration::from_secs(10), || {
        frr.ospf6_neighbors_json().is_ok_and(|v| {
            v["neighbors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|n| n["neighborId"] == A_ID && n["state"] == "Full")
                .count()
                == 3
        })
    })
    .unwrap_or_else(|e| panic!("{e}\n{:?}", frr.ospf6_neighbors_json()));
    wait_for("BIRD sees A Full", Duration::from_secs(10), || {
        bird.ospf_neighbors().is_ok_and(|v| {
            v.iter()
                .filter(|n| n.router_id == A_ID && n.state.starts_with("Full"))
                .count()
                == 3
        })
    })
    .unwrap_or_else(|e| panic!("{e}\n{:?}", bird.ospf_neighbors()));

    // Unicast both ways into the kernels, and the anycast /128 at FRR and
    // BIRD as an ordinary host route.
    let any = format!("{ANYCAST}");
    wait_for("routes in every kernel", Duration::from_secs(20), || {
        kernel_route(&a, "2001:db8:ff::f").contains("via fe80")
            && kernel_route(&a, "2001:db8:ff::b").contains("via fe80")
            && kernel_route(&f, "2001:db8:ff::a").contains("via fe80")
            && kernel_route(&b, "2001:db8:ff::a").contains("via fe80")
            && kernel_route(&f, &any).contains("via fe80")
            && kernel_route(&b, &any).contains("via fe80")
            && kernel_route(&f, "2001:db8:a1::/64").contains("via fe80")
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nA: {}\nF: {}\nB: {}",
            a.ip(&["-6", "route"]).unwrap_or_default(),
            f.ip(&["-6", "route"]).unwrap_or_default(),
            b.ip(&["-6", "route"]).unwrap_or_default()
        )
    });
    eprintln!(
        "FRR's route to the anycast address: {}",
        kernel_route(&f, &any)
    );
    eprintln!("BIRD's: {}", kernel_route(&b, &any));
    let frr_routes = frr.ospf6_route_json().unwrap_or(Value::Null);
    assert!(
        frr_routes.to_string().contains(&any),
        "FRR's OSPF table: {frr_routes}"
    );

    // What A sent decodes cleanly.
    for (mut p, file) in caps {
        // Stopped here, after everything was exchanged (SIGTERM: tshark
        // writes out what it has and exits).
        p.terminate(Duration::from_secs(10));
        let ll = a
            .ip(&[
                "-6",
                "addr",
                "show",
                "dev",
                file.file_stem()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .trim_start_matches("cap-"),
                "scope",
                "link",
            ])
            .unwrap_or_default();
        let src = ll
            .split_whitespace()
            .skip_while(|w| *w != "inet6")
            .nth(1)
            .unwrap_or("")
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        let n = decodes_cleanly(&file, &src);
        assert!(n >= 5, "{}: {n} OSPF packets from {src}", file.display());
    }
}

/// A router with the fast path on `xdp`, ARD toward its member on
/// `ard_if` (if any), AOSPF point-to-point on `ospf`.
fn router(id: &str, xdp: &[&str], ard_if: Option<&str>, ospf: &[&str]) -> DaemonCfg {
    let mut cfg = DaemonCfg::default();
    for i in xdp {
        cfg = cfg.interface(i, "native");
    }
    let ifs: Vec<String> = ospf
        .iter()
        .map(|i| aospf_interface(i, &p2p(), ""))
        .collect();
    cfg.extra = format!(
        "{}{}",
        ard_if
            .map(|i| proto::ard_router(&[i], None) + "\n")
            .unwrap_or_default(),
        aospf_section(id, &ifs)
    );
    cfg
}

/// Which member answers the flow from source port `sport`.
fn member_of(client: &Netns, src: Ipv6Addr, sport: u16) -> Option<String> {
    let dst = SocketAddrV6::new(ANYCAST, PORT, 0, 0);
    client
        .run_in(move || traffic::udp_flows(src, dst, sport, 1))
        .ok()
        .and_then(|c| c.members().first().map(|m| m.to_string()))
}

/// a2's RIB candidates for ANYCAST learned by AOSPF: next hops.
fn aospf_members(d: &Daemon) -> Vec<String> {
    let mut v: Vec<String> = d
        .ctl_json(&["show", "rib"])
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["group"] == ANYCAST.to_string() && m["source"] == "aospf")
        .map(|m| m["next_hop"].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn anycast_through_frr_with_failover() {
    if !require_root("anycast_through_frr_with_failover") {
        return;
    }
    const CLIENT: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 2);
    let tmp = TempDir::new("oany").expect("tmp");
    let ns = |r: &str| Netns::new(&format!("oa{r}")).expect("netns");
    let (client, a1, a2, a3, f1, f2, m1, m3) = (
        ns("c"),
        ns("1"),
        ns("2"),
        ns("3"),
        ns("f"),
        ns("g"),
        ns("m"),
        ns("n"),
    );
    for n in [&a1, &a2, &a3, &f1, &f2] {
        n.enable_forwarding().unwrap();
    }
    links(&[
        (
            (&client, "c-a2", "2001:db8:c::2/64"),
            (&a2, "a2-c", "2001:db8:c::1/64"),
        ),
        (
            (&a2, "a2-f1", "2001:db8:21::2/64"),
            (&f1, "f1-a2", "2001:db8:21::1/64"),
        ),
        (
            (&a2, "a2-f2", "2001:db8:22::2/64"),
            (&f2, "f2-a2", "2001:db8:22::1/64"),
        ),
        (
            (&f1, "f1-a1", "2001:db8:11::1/64"),
            (&a1, "a1-f1", "2001:db8:11::2/64"),
        ),
        (
            (&f2, "f2-a3", "2001:db8:33::1/64"),
            (&a3, "a3-f2", "2001:db8:33::2/64"),
        ),
        (
            (&a1, "a1-m", "2001:db8:1::1/64"),
            (&m1, "m-r", "2001:db8:1::10/64"),
        ),
        (
            (&a3, "a3-m", "2001:db8:3::1/64"),
            (&m3, "m-r", "2001:db8:3::10/64"),
        ),
    ]);
    client.add_route("default", "2001:db8:c::1").unwrap();
    m1.add_route("default", "2001:db8:1::1").unwrap();
    m3.add_route("default", "2001:db8:3::1").unwrap();
    client.xdp_pass("c-a2").unwrap();
    let any = format!("{ANYCAST}/128");
    let mut servers = Vec::new();
    for (name, m) in [("m1", &m1), ("m3", &m3)] {
        m.add_addr("lo", &any).unwrap();
        servers.push(Server::udp(m, name, SocketAddrV6::new(ANYCAST, PORT, 0, 0)).unwrap());
        servers.push(Server::tcp(m, name, SocketAddrV6::new(ANYCAST, PORT, 0, 0)).unwrap());
    }
    let frr_cfg = |id: &str, ifs: &[&str]| {
        let ifs: Vec<(&str, OspfIf)> = ifs.iter().map(|i| (*i, p2p())).collect();
        Frr::ospf6_config(id, &ifs, false)
    };
    let _f1 = Frr::start_ospf6d(&f1, &tmp, "f1", &frr_cfg("10.0.0.1", &["f1-a2", "f1-a1"]))
        .expect("FRR f1");
    let f2d = Frr::start_ospf6d(&f2, &tmp, "f2", &frr_cfg("10.0.0.2", &["f2-a2", "f2-a3"]))
        .expect("FRR f2");
    let _a1 = Daemon::start(
        &a1,
        &tmp,
        "a1",
        &router("10.0.1.1", &["a1-f1", "a1-m"], Some("a1-m"), &["a1-f1"]),
    )
    .expect("a1");
    let _a3 = Daemon::start(
        &a3,
        &tmp,
        "a3",
        &router("10.0.1.3", &["a3-f2", "a3-m"], Some("a3-m"), &["a3-f2"]),
    )
    .expect("a3");
    let a2d = Daemon::start(
        &a2,
        &tmp,
        "a2",
        &router(
            "10.0.1.2",
            &["a2-c", "a2-f1", "a2-f2"],
            None,
            &["a2-f1", "a2-f2"],
        ),
    )
    .expect("a2");
    let mut m1d = Daemon::start(
        &m1,
        &tmp,
        "m1",
        &proto::ard_member_host(ANYCAST, "2001:db8:1::10", "m-r"),
    )
    .expect("m1");
    let _m3d = Daemon::start(
        &m3,
        &tmp,
        "m3",
        &proto::ard_member_host(ANYCAST, "2001:db8:3::10", "m-r"),
    )
    .expect("m3");

    // a2 holds both originators (through f1 and through f2) as members.
    wait_for("a2 has two AOSPF members", Duration::from_secs(40), || {
        aospf_members(&a2d).len() == 2
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{:?}\n{}\n{}",
            aospf_members(&a2d),
            a2d.ctl(&["show", "aospf", "routes"]).unwrap_or_default(),
            a2d.log()
        )
    });
    // Per flow, consistently: the same flow lands on the same member
    // every time, and both members get flows. New UDP flows that start
    // within the grace window after a member change are taken for old
    // ones and stay on the old member (docs/flow-hash.md §3.4): the
    // probes start after it (10 s, the default).
    std::thread::sleep(Duration::from_secs(11));
    wait_for("every flow answered", Duration::from_secs(20), || {
        (0..8).all(|k| member_of(&client, CLIENT, 52000 + k).is_some())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", a2d.log()));
    let first: Vec<Option<String>> = (0..32)
        .map(|k| member_of(&client, CLIENT, 52000 + k))
        .collect();
    let again: Vec<Option<String>> = (0..32)
        .map(|k| member_of(&client, CLIENT, 52000 + k))
        .collect();
    assert_eq!(first, again, "each flow keeps its member");
    let used: std::collections::BTreeSet<_> = first.iter().flatten().collect();
    assert_eq!(used.len(), 2, "both members serve flows: {first:?}");

    // f2's link to a3 gets expensive: m1 is the nearest; a TCP transfer
    // lands there.
    f2d.vtysh("configure terminal\ninterface f2-a3\nipv6 ospf6 cost 100")
        .expect("vtysh");
    wait_for(
        "a2 keeps only the member through f1",
        Duration::from_secs(20),
        || aospf_members(&a2d).len() == 1,
    )
    .unwrap_or_else(|e| panic!("{e}\n{:?}", aospf_members(&a2d)));
    let dst = SocketAddrV6::new(ANYCAST, PORT, 0, 0);
    let who = client
        .run_in(move || traffic::tcp_probe(dst, 1 << 20))
        .expect("TCP transfer");
    assert_eq!(who, "m1", "the nearest member takes the transfer");

    // Hard failure of m1: its daemon killed and its address gone; a1's
    // ARD expires it, a1 withdraws the /128, a2 moves to m3 across f2.
    let stream = UdpStream::start(
        &client,
        SocketAddrV6::new(CLIENT, 40001, 0, 0),
        dst,
        Duration::from_millis(1),
    );
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    m1d.kill9();
    m1.ip(&["-6", "addr", "del", &any, "dev", "lo"]).unwrap();
    wait_for("m3 answers", Duration::from_secs(10), || {
        member_of(
            &client,
            CLIENT,
            53000 + (t.elapsed().as_millis() % 1000) as u16,
        )
        .as_deref()
            == Some("m3")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", a2d.log()));
    std::thread::sleep(Duration::from_millis(300));
    let rep = stream.stop().unwrap();
    eprintln!(
        "hard failure: gap {} ms ({} of {} probes lost), m3 after {:?}",
        proto::longest_gap(&rep.lost),
        rep.lost.len(),
        rep.sent,
        t.elapsed()
    );
    assert!(rep.members.contains_key("m3"), "{:?}", rep.members);

    // m1 back (nearest again), then a clean leave.
    m1.add_addr("lo", &any).unwrap();
    m1d.spawn().unwrap();
    wait_for("m1 answers again", Duration::from_secs(15), || {
        member_of(&client, CLIENT, 54000).as_deref() == Some("m1")
    })
    .unwrap();
    let stream = UdpStream::start(
        &client,
        SocketAddrV6::new(CLIENT, 40002, 0, 0),
        dst,
        Duration::from_millis(1),
    );
    std::thread::sleep(Duration::from_millis(300));
    m1d.signal(libc::SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    m1.ip(&["-6", "addr", "del", &any, "dev", "lo"]).unwrap();
    wait_for(
        "m3 answers after m1's leave",
        Duration::from_secs(10),
        || member_of(&client, CLIENT, 55000).as_deref() == Some("m3"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let rep = stream.stop().unwrap();
    eprintln!(
        "clean leave: gap {} ms ({} of {} probes lost)",
        proto::longest_gap(&rep.lost),
        rep.lost.len(),
        rep.sent
    );
    assert!(rep.members.contains_key("m3"), "{:?}", rep.members);
    drop(servers);
}

#[test]
fn authentication_with_frr_and_bird() {
    if !require_root("authentication_with_frr_and_bird") {
        return;
    }
    let tmp = TempDir::new("oauth").expect("tmp");
    let (a, f, b) = peers("ou");
    links(&[(
        (&a, "a-x", "2001:db8:a0::a/64"),
        (&b, "b-x", "2001:db8:a0::b/64"),
    )]);
    let key = |k: &str| OspfIf {
        auth: Some((1, k.to_string())),
        ..p2p()
    };
    let good = key("anycast6-test-key");
    let cfg = DaemonCfg {
        extra: aospf_section(
            A_ID,
            &[
                aospf_interface("a-f", &good, "frr-legacy"),
                aospf_interface("a-b", &good, "rfc7166"),
                aospf_interface("a-x", &good, "rfc7166"),
            ],
        ),
        ..Default::default()
    };
    let frr = Frr::start_ospf6d(
        &f,
        &tmp,
        "f",
        &Frr::ospf6_config("10.0.0.1", &[("f-a", good.clone()), ("lo", lan(1))], false),
    )
    .expect("FRR");
    let bird = Bird::start(
        &b,
        &tmp,
        "b",
        &Bird::ospf_config(
            "10.0.0.2",
            &[("b-a", good.clone()), ("b-x", key("not-the-key"))],
            true,
        ),
    )
    .expect("BIRD");
    let d = Daemon::start(&a, &tmp, "a", &cfg).expect("anycast6d");
    wait_for(
        "Full with FRR and BIRD, authenticated",
        Duration::from_secs(30),
        || {
            let n = neighbors(&d);
            n.get(&("10.0.0.1".into(), "a-f".into()))
                .map(String::as_str)
                == Some("Full")
                && n.get(&("10.0.0.2".into(), "a-b".into()))
                    .map(String::as_str)
                    == Some("Full")
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{:?}\n{}\n{}", neighbors(&d), d.log(), frr.logs(20)));
    wait_for(
        "routes through the authenticated links",
        Duration::from_secs(20),
        || {
            kernel_route(&a, "2001:db8:ff::f").contains("via fe80")
                && kernel_route(&a, "2001:db8:ff::b").contains("via fe80")
                && kernel_route(&f, "2001:db8:ff::a").contains("via fe80")
                && kernel_route(&b, "2001:db8:ff::a").contains("via fe80")
        },
    )
    .unwrap();
    assert_eq!(
        frr.ospf6_auth_rx_drops("f-a").unwrap_or(0),
        0,
        "FRR accepted ours"
    );
    // The wrong key: no adjacency, and counted.
    let n = neighbors(&d);
    assert_ne!(
        n.get(&("10.0.0.2".into(), "a-x".into()))
            .map(String::as_str),
        Some("Full"),
        "{n:?}"
    );
    let v = d.ctl_json(&["show", "aospf"]).unwrap_or(Value::Null);
    let failures = v
        .pointer("/counters/auth_failures")
        .or_else(|| v.pointer("/view/counters/auth_failures"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    assert!(failures > 0, "wrong-key packets counted: {v}");
    let _ = bird;
}
