//! Data down a PIA-SM tree (docs/piasm.md §7): senders' packets reach the
//! core by plain unicast routing, the core sends each flow down ONE branch
//! in an IPv6-in-IPv6 tunnel through plain routers, and the first-hop
//! router strips the tunnel in its fast path and hands the packet to one of
//! its ARD members.
//!
//! ```text
//!                                                        ┌─ p2-f1 ─ FHR1 (ARD, PIA-SM) ─ f1-m ─ M1
//!  S ─ s-p ─ P1 (plain) ─ p1-c ─ CORE (PIA-SM core) ─ c-p2 ─ P2 (plain)
//!                                                        └─ p2-f2 ─ FHR2 (ARD, PIA-SM) ─ f2-m ─ M2
//! ```
//!
//! P1 and P2 are kernel routers with static routes and know nothing of
//! anycast: P1 routes A and C to the core (the core's host routes), P2
//! carries only unicast between the core and the first-hop routers. No
//! router but the core has a route for A toward the members: a packet for
//! A reaches a member only through the core's tunnel and the first-hop
//! router's decapsulation.
//!
//! - `flows_go_down_one_branch_each`: 1000 UDP flows spread over both
//!   members, each flow answered by one member, the same one when asked
//!   again; a real TCP transfer byte-exact; the first-hop routers count
//!   decapsulations.
//! - `the_shortcut_skips_the_core_and_keeps_the_member`: the sender sits
//!   behind an ingress PIA-SM router (`shortcut = true`) linked both
//!   toward the core and toward the first-hop routers. A flow's first
//!   packets go through the core (member sees hop limit 61); the ingress
//!   asks the core for its branches and then tunnels the flow straight to
//!   the first-hop router (hop limit 62, one PIA-SM hop less, two links
//!   less), to the same member; the core sees none of it any more.
//! - `member_and_first_hop_router_failures_move_traffic`: a UDP stream on
//!   a flow of M1; M1 dies (its anycast6d is killed, its server stops):
//!   FHR1's ARD expiry prunes the branch, the core sends the flow to M2;
//!   the gap is measured. Then FHR2's links
//!   go down and its daemon is killed: the core's branch to it expires
//!   with the join holdtime and its flows come back to M1; gap measured.

use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::time::{Duration, Instant};

use anycast6_tests::proto::{
    ard_member_host, ard_router, link, longest_gap, piasm_branches as branches, piasm_router,
    piasm_tree as tree,
};
use anycast6_tests::traffic::udp_ask;
use anycast6_tests::{
    require_root, wait_for, Capture, Daemon, DaemonCfg, Netns, Server, TcpTransfer, TempDir,
    UdpStream,
};

const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0x6f);
const C: &str = "2001:db8:c0::1";
const R_CORE: &str = "2001:db8:ff::1";
const R_F1: &str = "2001:db8:ff::3";
const R_F2: &str = "2001:db8:ff::4";
const R_I: &str = "2001:db8:ff::5";
const S_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 2);
const UDP_PORT: u16 = 7000;
const TCP_PORT: u16 = 7001;

/// `[piasm]` with 1 s Hellos and 1 s joins (holdtime 3 s).
fn piasm(router: &str, ifs: &[&str], core_here: bool) -> String {
    piasm_with(router, ifs, core_here, false)
}

fn piasm_with(router: &str, ifs: &[&str], core_here: bool, shortcut: bool) -> String {
    piasm_router(router, ifs, &[A], C, core_here, shortcut)
}

/// The whole topology, its daemons and the members' servers (dropped in
/// this order: processes first, then the namespaces, then the files).
struct Tree {
    ingress: Option<Daemon>,
    core: Daemon,
    fhr: [Daemon; 2],
    members: [Daemon; 2],
    /// Each member's UDP server (None: stopped, as the member died).
    udp: [Option<Server>; 2],
    _tcp: Vec<Server>,
    s: Netns,
    m1: Netns,
    m2: Netns,
    fhr2: Netns,
    _others: Vec<Netns>,
    tmp: TempDir,
    tries: std::sync::atomic::AtomicU32,
}

/// The member side both topologies share: P2 — {FHR1 — M1, FHR2 — M2}.
/// Links, addresses and static routes ([`MemberSide::wire`]; P2's way
/// toward the core is the caller's), the members' servers, and the
/// first-hop routers' and members' daemons ([`MemberSide::start`]).
struct MemberSide;

impl MemberSide {
    fn wire(p2: &Netns, fhr1: &Netns, fhr2: &Netns, m1: &Netns, m2: &Netns) {
        for (a, ai, aa, b, bi, ba) in [
            (
                p2,
                "p2-f1",
                "2001:db8:13::2/64",
                fhr1,
                "f1-p2",
                "2001:db8:13::1/64",
            ),
            (
                p2,
                "p2-f2",
                "2001:db8:14::2/64",
                fhr2,
                "f2-p2",
                "2001:db8:14::1/64",
            ),
            (
                fhr1,
                "f1-m",
                "2001:db8:15::1/64",
                m1,
                "m-f1",
                "2001:db8:15::2/64",
            ),
            (
                fhr2,
                "f2-m",
                "2001:db8:16::1/64",
                m2,
                "m-f2",
                "2001:db8:16::2/64",
            ),
        ] {
            link(a, ai, aa, b, bi, ba).unwrap();
        }
        for (n, r) in [(fhr1, R_F1), (fhr2, R_F2)] {
            n.add_addr("lo", &format!("{r}/128")).unwrap();
        }
        for n in [p2, fhr1, fhr2] {
            n.enable_forwarding().unwrap();
        }
        for (r, lan, via) in [
            (R_F1, "2001:db8:15::/64", "2001:db8:13::1"),
            (R_F2, "2001:db8:16::/64", "2001:db8:14::1"),
        ] {
            p2.add_route(&format!("{r}/128"), via).unwrap();
            p2.add_route(lan, via).unwrap();
        }
        fhr1.add_route("default", "2001:db8:13::2").unwrap();
        fhr2.add_route("default", "2001:db8:14::2").unwrap();
        m1.add_route("default", "2001:db8:15::1").unwrap();
        m2.add_route("default", "2001:db8:16::1").unwrap();
    }

    /// A on the members' `lo` and their servers: (UDP, TCP).
    fn servers(m1: &Netns, m2: &Netns) -> ([Option<Server>; 2], Vec<Server>) {
        let mut tcp = Vec::new();
        for (name, m) in [("m1", m1), ("m2", m2)] {
            m.add_addr("lo", &format!("{A}/128")).unwrap();
            tcp.push(Server::tcp(m, name, SocketAddrV6::new(A, TCP_PORT, 0, 0)).unwrap());
        }
        (
            [Some(udp_server(m1, "m1")), Some(udp_server(m2, "m2"))],
            tcp,
        )
    }

    /// The first-hop routers (ARD on the member link, PIA-SM upstream)
    /// and the members' anycast6d (ARD member role): ([FHR1, FHR2], [M1, M2]).
    fn start(
        tmp: &TempDir,
        short: &str,
        fhr: [&Netns; 2],
        m: [&Netns; 2],
    ) -> ([Daemon; 2], [Daemon; 2]) {
        let fhr_cfg = |r: &str, up: &str, down: &str| {
            DaemonCfg {
                extra: format!("{}\n{}", ard_router(&[down], None), piasm(r, &[up], false)),
                ..DaemonCfg::default()
            }
            .interface(up, "native")
            .interface(down, "native")
        };
        let f = |i: usize, r: &str| {
            let n = i + 1;
            Daemon::start(
                fhr[i],
                tmp,
                &format!("{short}f{n}"),
                &fhr_cfg(r, &format!("f{n}-p2"), &format!("f{n}-m")),
            )
            .expect("first-hop router")
        };
        let d = |i: usize| {
            let n = i + 1;
            Daemon::start(
                m[i],
                tmp,
                &format!("{short}m{n}"),
                &ard_member_host(A, &format!("2001:db8:1{}::2", 4 + n), &format!("m-f{n}")),
            )
            .expect("member")
        };
        ([f(0, R_F1), f(1, R_F2)], [d(0), d(1)])
    }
}

impl Tree {
    fn build(short: &str) -> Tree {
        Tree::build_with(short, false)
    }

    /// With `ingress`, the sender sits behind I, a PIA-SM ingress router
    /// with `shortcut = true` linked to P1 (toward the core) and to P2
    /// (toward the first-hop routers): the shortcut path skips the core.
    fn build_with(short: &str, ingress: bool) -> Tree {
        let tmp = TempDir::new(short).expect("tmp");
        let ns = |n: &str| Netns::new(&format!("{short}{n}")).expect("netns");
        let (s, p1, core, p2) = (ns("s"), ns("p1"), ns("c"), ns("p2"));
        let (fhr1, fhr2, m1, m2) = (ns("f1"), ns("f2"), ns("m1"), ns("m2"));
        let ing = ns("i");
        let mut links: Vec<(&Netns, &str, &str, &Netns, &str, &str)> = if ingress {
            vec![
                (
                    &s,
                    "s-i",
                    "2001:db8:10::2/64",
                    &ing,
                    "i-s",
                    "2001:db8:10::1/64",
                ),
                (
                    &ing,
                    "i-p1",
                    "2001:db8:17::1/64",
                    &p1,
                    "p1-i",
                    "2001:db8:17::2/64",
                ),
                (
                    &ing,
                    "i-p2",
                    "2001:db8:18::1/64",
                    &p2,
                    "p2-i",
                    "2001:db8:18::2/64",
                ),
            ]
        } else {
            vec![(
                &s,
                "s-p",
                "2001:db8:10::2/64",
                &p1,
                "p-s",
                "2001:db8:10::1/64",
            )]
        };
        links.extend([
            (
                &p1,
                "p1-c",
                "2001:db8:11::1/64",
                &core,
                "c-p1",
                "2001:db8:11::2/64",
            ),
            (
                &core,
                "c-p2",
                "2001:db8:12::1/64",
                &p2,
                "p2-c",
                "2001:db8:12::2/64",
            ),
        ]);
        for (a, ai, aa, b, bi, ba) in links {
            link(a, ai, aa, b, bi, ba).unwrap();
        }
        MemberSide::wire(&p2, &fhr1, &fhr2, &m1, &m2);
        for a in [R_CORE, C] {
            core.add_addr("lo", &format!("{a}/128")).unwrap();
        }
        for n in [&p1, &core] {
            n.enable_forwarding().unwrap();
        }
        // Unicast routing, as a plain network would have it: P1 sends A
        // and C (the core's host routes) and everything not local to the
        // core; P2 knows the first-hop routers and their member links.
        s.add_route("default", "2001:db8:10::1").unwrap();
        p1.add_route("default", "2001:db8:11::2").unwrap();
        core.add_route("2001:db8:10::/64", "2001:db8:11::1")
            .unwrap();
        core.add_route("default", "2001:db8:12::2").unwrap();
        p2.add_route("default", "2001:db8:12::1").unwrap();
        if ingress {
            ing.add_addr("lo", &format!("{R_I}/128")).unwrap();
            ing.enable_forwarding().unwrap();
            ing.add_route("default", "2001:db8:17::2").unwrap();
            for dst in [
                &format!("{R_F1}/128"),
                &format!("{R_F2}/128"),
                "2001:db8:15::/64",
                "2001:db8:16::/64",
            ] {
                ing.add_route(dst, "2001:db8:18::2").unwrap();
            }
            for (n, via) in [(&p1, "2001:db8:17::1"), (&p2, "2001:db8:18::1")] {
                n.add_route("2001:db8:10::/64", via).unwrap();
                n.add_route(&format!("{R_I}/128"), via).unwrap();
            }
        }

        let (udp, tcp) = MemberSide::servers(&m1, &m2);

        let core_cfg = DaemonCfg {
            extra: piasm(R_CORE, &["c-p2"], true),
            ..DaemonCfg::default()
        }
        .interface("c-p1", "native")
        .interface("c-p2", "native");
        let core_d = Daemon::start(&core, &tmp, &format!("{short}c"), &core_cfg).expect("core");
        let ([f1, f2], [d1, d2]) = MemberSide::start(&tmp, short, [&fhr1, &fhr2], [&m1, &m2]);
        let ingress_d = ingress.then(|| {
            let cfg = DaemonCfg {
                extra: piasm_with(R_I, &["i-p1"], false, true),
                ..DaemonCfg::default()
            }
            .interface("i-s", "native")
            .interface("i-p1", "native")
            .interface("i-p2", "native");
            Daemon::start(&ing, &tmp, &format!("{short}i"), &cfg).expect("ingress")
        });
        let t = Tree {
            ingress: ingress_d,
            core: core_d,
            fhr: [f1, f2],
            members: [d1, d2],
            udp,
            _tcp: tcp,
            s,
            m1,
            fhr2,
            m2,
            _others: vec![ing, p1, core, p2, fhr1],
            tmp,
            tries: Default::default(),
        };
        wait_for("two branches at the core", Duration::from_secs(30), || {
            branches(&t.core).len() == 2
        })
        .unwrap_or_else(|e| panic!("{e}\n{:#}\n{}", tree(&t.core), t.core.log()));
        t
    }

    /// Which member answers each of `n` UDP flows from the sender (source
    /// ports `base..`); None: no answer after three tries.
    fn flows(&self, base: u16, n: u16) -> Vec<Option<String>> {
        let dst = SocketAddrV6::new(A, UDP_PORT, 0, 0);
        self.s
            .run_in(move || {
                (0..n)
                    .map(|i| {
                        let sock = UdpSocket::bind(SocketAddrV6::new(S_ADDR, base + i, 0, 0))?;
                        sock.connect(dst)?;
                        udp_ask(&sock, b"which", 3, Duration::from_millis(300))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .expect("udp flows")
    }

    /// Whether fresh flows reach both members. A new UDP flow in a Maglev
    /// entry that changed counts as old for the fast path's grace window
    /// (10 s, docs/flow-hash.md §3) and keeps the entry's previous member:
    /// after the second branch arrives every flow stays at the first one
    /// that long, so each try takes new source ports.
    fn both_answer(&self) -> bool {
        let k = self
            .tries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % 500;
        std::thread::sleep(Duration::from_millis(200));
        census(&self.flows(40000 + 20 * k as u16, 20)).len() == 2
    }

    /// The member answering one flow, once both branches carry traffic.
    fn answering(&self, sport: u16) -> Option<String> {
        self.flows(sport, 1).pop().flatten()
    }
}

fn udp_server(m: &Netns, name: &str) -> Server {
    Server::udp(m, name, SocketAddrV6::new(A, UDP_PORT, 0, 0)).unwrap()
}

/// Flows per member.
fn census(f: &[Option<String>]) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for m in f {
        *c.entry(m.clone().unwrap_or_else(|| "none".into()))
            .or_insert(0) += 1;
    }
    c
}

/// The fast path's decapsulation count at a router (`show counters`).
fn decapsulated(d: &Daemon) -> u64 {
    let v = d.ctl_json(&["show", "counters"]).unwrap_or_default();
    v["tunnel"]
        .as_array()
        .and_then(|t| t.iter().find(|r| r["reason"] == "decap"))
        .and_then(|r| r["packets"].as_u64())
        .unwrap_or(0)
}

/// A source port whose flow `member` serves now.
fn port_of(t: &Tree, member: &str, from: u16) -> u16 {
    (from..from + 200)
        .find(|p| t.answering(*p).as_deref() == Some(member))
        .unwrap_or_else(|| panic!("no flow of {member} in {from}..{}", from + 200))
}

#[test]
fn flows_go_down_one_branch_each() {
    if !require_root("flows_go_down_one_branch_each") {
        return;
    }
    let t = Tree::build("pid1");
    wait_for("both members answer", Duration::from_secs(40), || {
        t.both_answer()
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{:?}\ncore: {:#}\nrib: {}\nfib: {}\n{}",
            census(&t.flows(29000, 20)),
            tree(&t.core),
            t.core.ctl(&["show", "rib"]).unwrap_or_default(),
            t.core.ctl(&["show", "fib"]).unwrap_or_default(),
            t.core.log()
        )
    });

    // 1000 flows: both members, none lost, each flow on one member (the
    // same answer when asked again).
    let first = t.flows(31000, 1000);
    let c = census(&first);
    eprintln!("1000 flows: {c:?}");
    assert_eq!(c.get("none"), None, "{c:?}");
    for m in ["m1", "m2"] {
        let n = c.get(m).copied().unwrap_or(0);
        assert!((300..=700).contains(&n), "{m}: {n} of 1000: {c:?}");
    }
    let again = t.flows(31000, 1000);
    let moved = first.iter().zip(&again).filter(|(a, b)| a != b).count();
    assert_eq!(moved, 0, "flows answered by another member the second time");

    // A real TCP transfer, byte-exact (full-size segments do not fit the
    // tunnel on these 1500-octet links: the core answers Packet Too Big
    // and the sender's path MTU discovery adapts).
    let tr = TcpTransfer::start(&t.s, SocketAddrV6::new(A, TCP_PORT, 0, 0), 4 << 20, None);
    let rep = tr.join().expect("TCP transfer");
    eprintln!(
        "TCP: {} bytes to {} in {:?}, {} verified",
        rep.sent, rep.member, rep.elapsed, rep.verified
    );
    assert_eq!(rep.verified, 4 << 20);
    assert!(["m1", "m2"].contains(&rep.member.as_str()));

    // The first-hop routers decapsulated what they delivered.
    for f in &t.fhr {
        assert!(
            decapsulated(f) > 0,
            "{}",
            f.ctl(&["show", "counters"]).unwrap_or_default()
        );
    }
}

#[test]
fn member_and_first_hop_router_failures_move_traffic() {
    if !require_root("member_and_first_hop_router_failures_move_traffic") {
        return;
    }
    let mut t = Tree::build("pid2");
    wait_for("both members answer", Duration::from_secs(40), || {
        t.both_answer()
    })
    .unwrap_or_else(|e| panic!("{e}\ncore: {:#}\n{}", tree(&t.core), t.core.log()));
    let dst = SocketAddrV6::new(A, UDP_PORT, 0, 0);
    let interval = Duration::from_millis(1);

    // A member dies: its daemon is killed (no ARD leave) and its server
    // stops. The flow moves after FHR1's ARD hold (300 ms) and the prune
    // up to the core.
    let p = port_of(&t, "m1", 32000);
    let stream = UdpStream::start(&t.s, SocketAddrV6::new(S_ADDR, p, 0, 0), dst, interval);
    std::thread::sleep(Duration::from_millis(500));
    let k = Instant::now();
    t.members[0].kill9();
    t.udp[0] = None;
    wait_for("FHR1's branch pruned", Duration::from_secs(10), || {
        branches(&t.core).len() == 1
    })
    .unwrap_or_else(|e| panic!("{e}\n{:#}", tree(&t.core)));
    eprintln!(
        "member killed: FHR1's branch gone at the core {:?} later",
        k.elapsed()
    );
    std::thread::sleep(Duration::from_millis(500));
    let rep = stream.stop().expect("stream");
    let gap = interval * longest_gap(&rep.lost) as u32;
    eprintln!(
        "member failure: {} sent, {} lost, longest gap {gap:?}, members {:?}",
        rep.sent,
        rep.lost.len(),
        rep.members
    );
    assert!(rep.members.contains_key("m2"), "{:?}", rep.members);
    assert_eq!(branches(&t.core).len(), 1, "{:#}", tree(&t.core));

    // M1 comes back; then a first-hop router dies: FHR2's links go down
    // and its daemon is killed. The core's branch to it expires with the
    // join holdtime; its flows go to M1.
    t.udp[0] = Some(udp_server(&t.m1, "m1"));
    t.members[0].spawn().expect("m1 again");
    wait_for("two branches again", Duration::from_secs(20), || {
        branches(&t.core).len() == 2
    })
    .unwrap_or_else(|e| panic!("{e}\n{:#}", tree(&t.core)));
    let p = port_of(&t, "m2", 33000);
    let stream = UdpStream::start(&t.s, SocketAddrV6::new(S_ADDR, p, 0, 0), dst, interval);
    std::thread::sleep(Duration::from_millis(500));
    let k = Instant::now();
    t.fhr[1].kill9();
    t.fhr2.ip(&["link", "set", "f2-p2", "down"]).unwrap();
    wait_for("FHR2's branch expired", Duration::from_secs(15), || {
        branches(&t.core).len() == 1
    })
    .unwrap_or_else(|e| panic!("{e}\n{:#}\n{}", tree(&t.core), t.core.log()));
    eprintln!(
        "first-hop router down: its branch gone at the core {:?} later",
        k.elapsed()
    );
    std::thread::sleep(Duration::from_millis(500));
    let rep = stream.stop().expect("stream");
    let gap = interval * longest_gap(&rep.lost) as u32;
    eprintln!(
        "first-hop router failure: {} sent, {} lost, longest gap {gap:?}, members {:?}",
        rep.sent,
        rep.lost.len(),
        rep.members
    );
    assert!(rep.members.contains_key("m1"), "{:?}", rep.members);
}

/// tshark on `dev` of `ns`, UDP to the service port; waits until it captures.
fn capture(ns: &Netns, tmp: &TempDir, label: &str, dev: &str) -> Capture {
    let filter = format!("udp dst port {UDP_PORT}");
    Capture::start(ns, tmp.path(), label, dev, &filter, &[]).expect("tshark")
}

/// The hop limits of the datagrams from source port `sport` in `file`, in
/// order.
fn hop_limits(file: &std::path::Path, sport: u16) -> Vec<u8> {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args([
            "-Y",
            &format!("udp.srcport == {sport}"),
            "-T",
            "fields",
            "-e",
            "ipv6.hlim",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// A's Maglev table at `d` as the pinned maps hold it, each entry the
/// unicast address of its member (the members' identities, equal on every
/// router that has them), and the table's length.
fn table(d: &Daemon) -> Vec<Ipv6Addr> {
    let fib = anycast6_dataplane::FibWriter::from_pins(d.pin_dir()).expect("pins");
    let Some(gid) = fib.route_group(A).expect("route") else {
        return Vec::new();
    };
    let g = fib.group(gid).expect("group").expect("group present");
    let t = fib.maglev_table(gid).expect("table").unwrap_or_default();
    t.iter().map(|i| g.members[*i as usize].unicast).collect()
}

/// Packets the fast path counted for A's group at `d`.
fn group_packets(d: &Daemon) -> u64 {
    let v = d.ctl_json(&["show", "counters"]).unwrap_or_default();
    v["groups"]
        .as_array()
        .and_then(|g| {
            g.iter()
                .find(|x| x["group"] == A.to_string() || x["group"] == format!("{A}/128"))
        })
        .and_then(|x| x["packets"].as_u64())
        .unwrap_or(0)
}

#[test]
fn the_shortcut_skips_the_core_and_keeps_the_member() {
    if !require_root("the_shortcut_skips_the_core_and_keeps_the_member") {
        return;
    }
    let t = Tree::build_with("pid3", true);
    let ing = t.ingress.as_ref().expect("ingress");
    let cap1 = capture(&t.m1, &t.tmp, "cap-m1", "m-f1");
    let cap2 = capture(&t.m2, &t.tmp, "cap-m2", "m-f2");
    let dst = SocketAddrV6::new(A, UDP_PORT, 0, 0);
    let sport = 34567;
    let core_before = group_packets(&t.core);
    let stream = UdpStream::start(
        &t.s,
        SocketAddrV6::new(S_ADDR, sport, 0, 0),
        dst,
        Duration::from_millis(2),
    );
    wait_for(
        "the ingress takes the shortcut",
        Duration::from_secs(10),
        || tree(ing)["shortcut_version"].is_u64(),
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\ningress: {:#}\ncore: {:#}\n{}",
            tree(ing),
            tree(&t.core),
            ing.log()
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    // From now on nothing of the flow passes the core.
    let core_mid = group_packets(&t.core);
    std::thread::sleep(Duration::from_secs(1));
    let core_after = group_packets(&t.core);
    let rep = stream.stop().expect("stream");
    let f1 = cap1.finish();
    let f2 = cap2.finish();
    eprintln!(
        "shortcut: {} sent, {} lost, members {:?}; core counted {} before the shortcut, {} after",
        rep.sent,
        rep.lost.len(),
        rep.members,
        core_mid - core_before,
        core_after - core_mid
    );
    assert_eq!(
        rep.members.len(),
        1,
        "the flow changed members: {:?}",
        rep.members
    );
    assert!(
        core_mid > core_before,
        "the first packets did not go through the core"
    );
    assert_eq!(
        core_after, core_mid,
        "packets still through the core after the shortcut"
    );

    // The ingress's table is the core's, entry for entry: every flow goes
    // where the core would send it.
    let (ti, tc) = (table(ing), table(&t.core));
    assert_eq!(ti.len(), tc.len(), "table lengths");
    let differ = ti.iter().zip(&tc).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{differ} of {} entries differ", tc.len());
    eprintln!(
        "the ingress's Maglev table equals the core's ({} entries)",
        tc.len()
    );

    let member = rep.members.keys().next().unwrap().clone();
    let file = if member == "m1" { &f1 } else { &f2 };
    let mut hl = Vec::new();
    wait_for("the capture written out", Duration::from_secs(15), || {
        hl = hop_limits(file, sport);
        hl.len() as u64 + 5 >= rep.answered
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}: {} of {} in {}",
            hl.len(),
            rep.answered,
            file.display()
        )
    });
    let via_core = hl.iter().take_while(|h| **h == 61).count();
    let direct = hl.iter().skip(via_core).filter(|h| **h == 62).count();
    eprintln!(
        "hop limit at {member}: {via_core} packets at 61 (through the core), then {direct} at 62 (shortcut), {} others",
        hl.len() - via_core - direct
    );
    assert!(via_core > 0, "{hl:?}");
    assert!(direct > 0, "{hl:?}");
    assert_eq!(via_core + direct, hl.len(), "{hl:?}");
}

/// Two cores of A sharing C, FRR ospf6d as the unicast routing of the
/// plain routers and of the cores (each core redistributes its `lo`: its
/// router address, C and A, as RFC 2328 connected /128s a plain routing
/// daemon carries; core 1 at metric 20, core 2 at 100, so core 1 is
/// nearest for everyone):
///
/// ```text
///        ┌─ CORE1 ─┐
///  S ─ P1          P2 ─┬─ FHR1 ─ M1
///        └─ CORE2 ─┘   └─ FHR2 ─ M2
/// ```
///
/// Core 1 dies (its links go down, its processes are killed): OSPF moves A
/// and C to core 2, which has every branch already (relayed, §6); the
/// stream's gap is the unicast convergence. Then the first-hop routers'
/// own joins reach core 2 directly.
#[test]
fn the_second_core_takes_over_when_the_first_dies() {
    use anycast6_tests::frr::Frr;
    use anycast6_tests::ospf::{OspfIf, OspfNetwork};
    if !require_root("the_second_core_takes_over_when_the_first_dies") {
        return;
    }
    let short = "pid4";
    let tmp = TempDir::new(short).expect("tmp");
    let ns = |n: &str| Netns::new(&format!("{short}{n}")).expect("netns");
    let (s, p1, c1, c2, p2) = (ns("s"), ns("p1"), ns("c1"), ns("c2"), ns("p2"));
    let (fhr1, fhr2, m1, m2) = (ns("f1"), ns("f2"), ns("m1"), ns("m2"));
    for (a, ai, aa, b, bi, ba) in [
        (
            &s,
            "s-p",
            "2001:db8:10::2/64",
            &p1,
            "p-s",
            "2001:db8:10::1/64",
        ),
        (
            &p1,
            "p1-c1",
            "2001:db8:21::1/64",
            &c1,
            "c1-p1",
            "2001:db8:21::2/64",
        ),
        (
            &p1,
            "p1-c2",
            "2001:db8:22::1/64",
            &c2,
            "c2-p1",
            "2001:db8:22::2/64",
        ),
        (
            &c1,
            "c1-p2",
            "2001:db8:23::1/64",
            &p2,
            "p2-c1",
            "2001:db8:23::2/64",
        ),
        (
            &c2,
            "c2-p2",
            "2001:db8:24::1/64",
            &p2,
            "p2-c2",
            "2001:db8:24::2/64",
        ),
    ] {
        link(a, ai, aa, b, bi, ba).unwrap();
    }
    const R_C2: &str = "2001:db8:ff::2";
    MemberSide::wire(&p2, &fhr1, &fhr2, &m1, &m2);
    for (n, addrs) in [
        (&c1, [R_CORE, C, &*A.to_string()]),
        (&c2, [R_C2, C, &*A.to_string()]),
    ] {
        for a in addrs {
            n.add_addr("lo", &format!("{a}/128")).unwrap();
        }
    }
    for n in [&p1, &c1, &c2] {
        n.enable_forwarding().unwrap();
    }
    s.add_route("default", "2001:db8:10::1").unwrap();

    // OSPF: point-to-point links, 1 s hellos; the cores' lo addresses and
    // P2's static routes (kernel) as externals.
    let ptp = OspfIf {
        network: OspfNetwork::PointToPoint,
        ..OspfIf::default()
    };
    let ospf = |id: &str, ifs: &[&str], extra: &str| {
        let list: Vec<(&str, OspfIf)> = ifs.iter().map(|i| (*i, ptp.clone())).collect();
        Frr::ospf6_config(id, &list, false).replace(
            &format!(" ospf6 router-id {id}\n"),
            &format!(" ospf6 router-id {id}\n{extra}"),
        )
    };
    let frr_p1 = Frr::start_ospf6d(
        &p1,
        &tmp,
        "p1",
        &ospf("10.0.0.1", &["p1-c1", "p1-c2"], " redistribute connected\n"),
    )
    .expect("FRR p1");
    let frr_c1 = Frr::start_ospf6d(
        &c1,
        &tmp,
        "c1",
        &ospf(
            "10.0.0.11",
            &["c1-p1", "c1-p2"],
            " redistribute connected metric 20\n",
        ),
    )
    .expect("FRR c1");
    let frr_c2 = Frr::start_ospf6d(
        &c2,
        &tmp,
        "c2",
        &ospf(
            "10.0.0.12",
            &["c2-p1", "c2-p2"],
            " redistribute connected metric 100\n",
        ),
    )
    .expect("FRR c2");
    let frr_p2 = Frr::start_ospf6d(
        &p2,
        &tmp,
        "p2",
        &ospf(
            "10.0.0.2",
            &["p2-c1", "p2-c2"],
            " redistribute connected\n redistribute kernel\n",
        ),
    )
    .expect("FRR p2");
    let routes_to = |n: &Netns, dst: &str| n.ip(&["-6", "route", "get", dst]).unwrap_or_default();
    wait_for(
        "OSPF carries A and C to core 1",
        Duration::from_secs(60),
        || {
            routes_to(&p1, C).contains("p1-c1")
                && routes_to(&p2, C).contains("p2-c1")
                && routes_to(&p1, &A.to_string()).contains("p1-c1")
                && routes_to(&c1, R_F1).contains("c1-p2")
                && routes_to(&c2, R_F2).contains("c2-p2")
                && routes_to(&c1, R_C2).contains("dev")
                && routes_to(&p2, "2001:db8:10::2").contains("dev p2-c")
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\np1: {}\np2: {}\nc1: {}",
            p1.ip(&["-6", "route"]).unwrap_or_default(),
            p2.ip(&["-6", "route"]).unwrap_or_default(),
            c1.ip(&["-6", "route"]).unwrap_or_default()
        )
    });

    let (_udp, _tcp) = MemberSide::servers(&m1, &m2);
    let core_cfg = |me: &str, peer: &str, pim_if: &str| DaemonCfg {
        extra: format!("{}peers = [\"{peer}\"]\n", piasm(me, &[pim_if], true)),
        ..DaemonCfg::default()
    };
    let mut d1 = Daemon::start(
        &c1,
        &tmp,
        "pid4c1",
        &core_cfg(R_CORE, R_C2, "c1-p2")
            .interface("c1-p1", "native")
            .interface("c1-p2", "native"),
    )
    .expect("core 1");
    let d2 = Daemon::start(
        &c2,
        &tmp,
        "pid4c2",
        &core_cfg(R_C2, R_CORE, "c2-p2")
            .interface("c2-p1", "native")
            .interface("c2-p2", "native"),
    )
    .expect("core 2");
    let (_fhr, _members) = MemberSide::start(&tmp, short, [&fhr1, &fhr2], [&m1, &m2]);
    for d in [&d1, &d2] {
        wait_for("two branches at each core", Duration::from_secs(30), || {
            branches(d).len() == 2
        })
        .unwrap_or_else(|e| panic!("{e}\n{:#}\n{}", tree(d), d.log()));
    }
    // Core 2 has them relayed.
    assert!(
        branches(&d2).iter().all(|b| b["relayed"] == true),
        "{:#}",
        tree(&d2)
    );

    let dst = SocketAddrV6::new(A, UDP_PORT, 0, 0);
    let ask = |sport: u16| {
        s.run_in(move || {
            let sock = UdpSocket::bind(SocketAddrV6::new(S_ADDR, sport, 0, 0))?;
            sock.connect(dst)?;
            udp_ask(&sock, b"which", 3, Duration::from_millis(300))
        })
        .expect("udp")
    };
    wait_for("A answers through core 1", Duration::from_secs(20), || {
        ask(35000).is_some()
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d1.log()));
    // The cores' tables agree entry for entry (same branches, weights and
    // length), so a flow without affinity state goes to the same branch
    // at either.
    let (t1, t2) = (table(&d1), table(&d2));
    assert_eq!(t1, t2, "the cores' Maglev tables differ");
    let interval = Duration::from_millis(1);
    let stream = UdpStream::start(&s, SocketAddrV6::new(S_ADDR, 35001, 0, 0), dst, interval);
    // A TCP connection open across the failure (8 MiB at 1 MiB/s).
    let across = TcpTransfer::start(
        &s,
        SocketAddrV6::new(A, TCP_PORT, 0, 0),
        8 << 20,
        Some(1 << 20),
    );
    std::thread::sleep(Duration::from_millis(1500));
    let before2 = group_packets(&d2);

    // Core 1 dies.
    let k = Instant::now();
    for i in ["c1-p1", "c1-p2"] {
        c1.ip(&["link", "set", i, "down"]).unwrap();
    }
    d1.kill9();
    drop(frr_c1);
    wait_for("core 2 forwards A", Duration::from_secs(20), || {
        group_packets(&d2) > before2 + 100
    })
    .unwrap_or_else(|e| panic!("{e}\np1: {}\n{}", routes_to(&p1, &A.to_string()), d2.log()));
    eprintln!("core 1 down: core 2 forwarding {:?} later", k.elapsed());
    // And the answers' way back (unicast routing, FRR's to converge: slower
    // on a loaded machine) before the stream's tail is judged.
    let mut port = 35100u16;
    wait_for(
        "answers come back after the failure",
        Duration::from_secs(20),
        || {
            port += 1;
            ask(port).is_some()
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}
p1: {}
{}",
            routes_to(&p1, &A.to_string()),
            d2.log()
        )
    });
    std::thread::sleep(Duration::from_millis(1000));
    let rep = stream.stop().expect("stream");
    let gap = interval * longest_gap(&rep.lost) as u32;
    eprintln!(
        "core failure: {} sent, {} lost, longest gap {gap:?}, members {:?}",
        rep.sent,
        rep.lost.len(),
        rep.members
    );
    let last = rep.sent_at.len().saturating_sub(200) as u64;
    assert!(
        rep.lost.iter().filter(|l| **l >= last).count() < 10,
        "the stream did not recover: {} of the last 200 lost",
        rep.lost.iter().filter(|l| **l >= last).count()
    );
    // The connection open across the failure is whole: core 2 (a standby
    // until then, its group without change periods) gave it the branch
    // core 1 did.
    let t = across.join().expect("TCP transfer across the core failure");
    eprintln!(
        "TCP across the core failure: {} bytes verified to {} in {:?}",
        t.verified, t.member, t.elapsed
    );
    assert_eq!(t.verified, 8 << 20);
    // New connections go through core 2, byte-exact.
    let t = TcpTransfer::start(&s, SocketAddrV6::new(A, TCP_PORT, 0, 0), 4 << 20, None)
        .join()
        .expect("TCP transfer through core 2");
    eprintln!(
        "TCP through core 2: {} bytes verified to {}",
        t.verified, t.member
    );
    assert_eq!(t.verified, 4 << 20);

    // The first-hop routers' next joins reach core 2 directly.
    wait_for("direct branches at core 2", Duration::from_secs(15), || {
        let b = branches(&d2);
        b.len() == 2 && b.iter().all(|x| x["relayed"] == false)
    })
    .unwrap_or_else(|e| panic!("{e}\n{:#}", tree(&d2)));
    drop((frr_p1, frr_c2, frr_p2));
}
