//! MGA with no anycast router (docs/mga.md): members register the anycast
//! address A with a home agent, an end host on A's home link; plain
//! routers deliver packets for A to the home agent, whose fast path
//! tunnels each flow to one member's care-of address; the member's decap
//! program restores the packet for its socket bound to A.
//!
//! ```text
//!   C ─ c-r1 ─ R1 (plain) ─ r1-r2 ─ R2 (plain) ─ r2-ha ─ HA (home agent, home link 2001:db8:1::/64)
//!              │                    │
//!            r1-m1                r2-m2
//!              M1 (2001:db8:2::2)   M2 (2001:db8:3::2)
//! ```
//!
//! R1 and R2 are kernel routers with static routes to prefixes only: the
//! home prefix goes toward HA's link; nobody routes A anywhere else.
//!
//! - `flows_spread_over_members_through_the_home_agent`: both members
//!   register (keyed), 1000 UDP flows spread over them, each flow on one
//!   member and the same one when asked again; a TCP transfer byte-exact.
//! - `member_death_and_home_agent_restart`: M1's daemon is SIGKILLed and
//!   its servers stop: a stream on M2 is untouched, new flows all reach M2
//!   once M1's binding lapses (lifetime 8 s, measured); the home agent is
//!   SIGKILLed and restarted: it reads its bindings back, the pinned FIB
//!   forwarded throughout, and `show mga` has them at once.
//! - `forged_and_replayed_updates_are_refused`: a host on the path sends
//!   Binding Updates for A with a wrong key, without a key, and replays a
//!   keyed one: each refused and counted, the bindings unchanged.

use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::time::{Duration, Instant};

use anycast6_mga::auth;
use anycast6_mga::packet::option::AUTH_MN_HA;
use anycast6_mga::packet::{BindingUpdate, Experimental, Message, Options};
use anycast6_tests::home_line::HomeLine;
use anycast6_tests::proto::{longest_gap, member_role};
use anycast6_tests::traffic::udp_ask;
use anycast6_tests::{
    require_root, wait_for, Daemon, DaemonCfg, Netns, Server, TcpTransfer, TempDir, UdpStream,
};

const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xa);
const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
const HA2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x11);
const C_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 2);
const M1: &str = "2001:db8:2::2";
const M2: &str = "2001:db8:3::2";
const UDP_PORT: u16 = 7000;
const TCP_PORT: u16 = 7001;
const SECRET: &str = "mga topology test secret 32 byte";

fn keys() -> String {
    format!("[mga]\nkeys = [{{ id = 7, secret = \"{SECRET}\" }}]\n")
}

struct Net {
    /// The second home agent on the home link (two_home_agents).
    ha2: Option<(Daemon, Netns)>,
    cn: Option<Daemon>,
    ha: Daemon,
    members: [Daemon; 2],
    servers: [Vec<Server>; 2],
    c: Netns,
    m: [Netns; 2],
    ha_ns: Netns,
    _routers: Vec<Netns>,
    tmp: TempDir,
    tries: std::sync::atomic::AtomicU32,
}

impl Net {
    /// `ro`: the members optimise routes and C runs a correspondent.
    fn build(short: &str, lifetime_s: u32, ro: bool) -> Net {
        Net::build_with(short, lifetime_s, ro, false, false)
    }

    /// `two`: a second home agent HA2 on the home link (a bridge in R2),
    /// the members find both by discovery.
    /// `m2_direct`: M2 answers straight from A (`reverse_tunnel = false`).
    fn build_with(short: &str, lifetime_s: u32, ro: bool, two: bool, m2_direct: bool) -> Net {
        let tmp = TempDir::new(short).expect("tmp");
        let ns = |n: &str| Netns::new(&format!("{short}{n}")).expect("netns");
        let line = HomeLine::build(short, "ha", !two).expect("topology");
        // Replies from A leave in a 40-octet tunnel, or with a 24-octet
        // Home Address option: the members' route MTU leaves room for both
        // (docs/mga.md §8.3).
        line.member_routes().unwrap();
        let HomeLine {
            c,
            r1,
            r2,
            h: ha,
            m1,
            m2,
        } = line;
        // The home link: one home agent on a veth (built by HomeLine), or
        // two on a bridge.
        let ha2 = two.then(|| ns("ha2"));
        if let Some(h2) = &ha2 {
            r2.ip(&["link", "add", "br0", "type", "bridge"]).unwrap();
            r2.ip(&["link", "set", "br0", "up"]).unwrap();
            r2.add_addr("br0", "2001:db8:1::1/64").unwrap();
            for (h, port, dev, addr) in [
                (&ha, "r2-ha", "ha-r2", "2001:db8:1::10/64"),
                (h2, "r2-ha2", "ha2-r2", "2001:db8:1::11/64"),
            ] {
                anycast6_tests::veth(&r2, port, h, dev).unwrap();
                r2.ip(&["link", "set", port, "master", "br0"]).unwrap();
                h.add_addr(dev, addr).unwrap();
                for (n, i) in [(&r2, port), (h, dev)] {
                    n.gro_on(i).unwrap();
                    n.tx_checksum_off(i).unwrap();
                }
            }
            r2.tx_checksum_off("br0").unwrap();
            // A home agent gone is noticed in about a second (neighbour
            // unreachability detection), not half a minute.
            for (k, v) in [
                ("base_reachable_time_ms", "500"),
                ("delay_first_probe_time", "1"),
                ("retrans_time_ms", "200"),
            ] {
                r2.exec("sysctl", &["-qw", &format!("net.ipv6.neigh.br0.{k}={v}")])
                    .unwrap();
            }
            h2.enable_forwarding().unwrap();
            h2.add_route("default", "2001:db8:1::1").unwrap();
            ha.add_route("default", "2001:db8:1::1").unwrap();
        }
        let ha_cfg = |me: Ipv6Addr, peer: Option<Ipv6Addr>, dev: &str| {
            DaemonCfg {
                extra: format!(
                    "{}[mga.home_agent]\naddress = \"{me}\"\ninterface = \"{dev}\"\nanycast = [\"{A}\"]\n{}",
                    keys(),
                    peer.map(|p| format!("peers = [\"{p}\"]\n")).unwrap_or_default()
                ),
                ..DaemonCfg::default()
            }
            .interface(dev, "native")
        };
        let ha_d = Daemon::start(
            &ha,
            &tmp,
            &format!("{short}ha"),
            &ha_cfg(HA, two.then_some(HA2), "ha-r2"),
        )
        .expect("home agent");
        let ha2 = ha2.map(|h2| {
            let d = Daemon::start(
                &h2,
                &tmp,
                &format!("{short}hb"),
                &ha_cfg(HA2, Some(HA), "ha2-r2"),
            )
            .expect("second home agent");
            (d, h2)
        });
        let has = if two {
            "discover = true\n".to_string()
        } else {
            format!("home_agents = [\"{HA}\"]\n")
        };

        let mut servers: [Vec<Server>; 2] = [Vec::new(), Vec::new()];
        let mut members = Vec::new();
        for (i, (m, coa, iface)) in [(&m1, M1, "m1-r1"), (&m2, M2, "m2-r2")]
            .into_iter()
            .enumerate()
        {
            let name = format!("m{}", i + 1);
            // A on lo comes from the member role; the servers bind to it
            // once it is there.
            let down = tmp.join(format!("{name}.down"));
            let mut cfg = member_role(
                A,
                format!(
                    "{}[mga.member]\ncare_of = \"{coa}\"\ninterface = \"{iface}\"\n{has}\
                     lifetime_s = {lifetime_s}\nroute_optimisation = {ro}\nro_after_ms = 300\nreverse_tunnel = {}\n\
                     [mga.member.health_check]\ncommand = \"test ! -e {}\"\ninterval_ms = 200\n",
                    keys(),
                    !(m2_direct && i == 1),
                    down.display()
                ),
            );
            if let Some(r) = cfg.member.as_mut() {
                r.decap_interfaces = vec![iface.into()];
            }
            members.push(Daemon::start(m, &tmp, &format!("{short}{name}"), &cfg).expect("member"));
            servers[i].push(Server::udp(m, &name, SocketAddrV6::new(A, UDP_PORT, 0, 0)).unwrap());
            servers[i].push(Server::tcp(m, &name, SocketAddrV6::new(A, TCP_PORT, 0, 0)).unwrap());
        }
        let [d1, d2]: [Daemon; 2] = members.try_into().ok().unwrap();
        let cn = ro.then(|| {
            let cfg = DaemonCfg {
                extra: format!(
                    "{}[mga.correspondent]\ninterface = \"c-r1\"\noptimise = [\"{A}\"]\n",
                    keys()
                ),
                ..DaemonCfg::default()
            };
            Daemon::start(&c, &tmp, &format!("{short}c"), &cfg).expect("correspondent")
        });
        let net = Net {
            ha2,
            cn,
            ha: ha_d,
            members: [d1, d2],
            servers,
            c,
            m: [m1, m2],
            ha_ns: ha,
            _routers: vec![r1, r2],
            tmp,
            tries: Default::default(),
        };
        wait_for(
            "both members bound at the home agent",
            Duration::from_secs(20),
            || bindings(&net.ha).len() == 2,
        )
        .unwrap_or_else(|e| {
            panic!(
                "{e}\n{}\n{}\n{}",
                net.ha.ctl(&["show", "mga"]).unwrap_or_default(),
                net.ha.log(),
                net.members[0].log()
            )
        });
        net
    }

    /// Which member answers each of `n` UDP flows (source ports `base..`).
    fn flows(&self, base: u16, n: u16) -> Vec<Option<String>> {
        let dst = SocketAddrV6::new(A, UDP_PORT, 0, 0);
        self.c
            .run_in(move || {
                (0..n)
                    .map(|i| {
                        let sock = UdpSocket::bind(SocketAddrV6::new(C_ADDR, base + i, 0, 0))?;
                        sock.connect(dst)?;
                        udp_ask(&sock, b"which", 3, Duration::from_millis(300))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .expect("udp flows")
    }

    /// Whether fresh flows reach both members (each try new ports: a
    /// Maglev entry that changed keeps its previous member for the grace
    /// window, docs/flow-hash.md §3).
    fn both_answer(&self) -> bool {
        let k = self
            .tries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % 250;
        // Spread, not merely both present: until the grace window of the
        // entries that moved to the second member is over, fresh flows in
        // them still go to the first (and a second home agent, which never
        // saw them, would agree only once it is over too).
        let c = census(&self.flows(40000 + 40 * k as u16, 40));
        std::thread::sleep(Duration::from_millis(200));
        c.get("m1").copied().unwrap_or(0) >= 8 && c.get("m2").copied().unwrap_or(0) >= 8
    }
}

/// The care-of addresses bound for A at a home agent (`show mga`).
fn bindings(d: &Daemon) -> Vec<String> {
    let v = d.ctl_json(&["show", "mga"]).unwrap_or_default();
    v["home_agent"]["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|h| h["bindings"].as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["coa"].as_str().map(String::from))
        .collect()
}

fn counter(d: &Daemon, name: &str) -> u64 {
    let v = d.ctl_json(&["show", "mga"]).unwrap_or_default();
    v["counters"][name].as_u64().unwrap_or(0)
}

fn census(f: &[Option<String>]) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for m in f {
        *c.entry(m.clone().unwrap_or_else(|| "none".into()))
            .or_insert(0) += 1;
    }
    c
}

#[test]
fn flows_spread_over_members_through_the_home_agent() {
    if !require_root("flows_spread_over_members_through_the_home_agent") {
        return;
    }
    let net = Net::build("mgas", 60, false);
    let mut b = bindings(&net.ha);
    b.sort();
    assert_eq!(b, vec![M1.to_string(), M2.to_string()]);
    let text = net.ha.ctl(&["show", "mga"]).unwrap();
    assert!(text.contains("forwarding"), "{text}");
    let m = net.members[0].ctl(&["show", "mga"]).unwrap();
    assert!(m.contains("registered"), "{m}");
    wait_for(
        "fresh flows reach both members",
        Duration::from_secs(30),
        || net.both_answer(),
    )
    .unwrap();
    let first = net.flows(20000, 1000);
    let c = census(&first);
    assert_eq!(c.get("none"), None, "unanswered flows: {c:?}");
    assert!(
        c.get("m1").copied().unwrap_or(0) > 300 && c.get("m2").copied().unwrap_or(0) > 300,
        "{c:?}"
    );
    let again = net.flows(20000, 1000);
    let moved = first.iter().zip(&again).filter(|(a, b)| a != b).count();
    assert_eq!(moved, 0, "flows changed member: {c:?}");
    println!("1000 flows: {c:?}, 0 moved when asked again");
    // TCP, byte-exact, through the home agent's tunnel one way and
    // straight back.
    let t = TcpTransfer::start(&net.c, SocketAddrV6::new(A, TCP_PORT, 0, 0), 4 << 20, None);
    let r = t.join().expect("tcp transfer");
    assert_eq!(r.verified, 4 << 20);
    println!("TCP 4 MiB byte-exact via {} in {:?}", r.member, r.elapsed);
    // The replies came back reverse-tunnelled through the home agent.
    assert!(decapsulated(&net.ha) > 1000, "{}", decapsulated(&net.ha));
    // M1's health check fails: it deregisters, new flows all go to M2;
    // it passes again: M1 registers again.
    // The exchange is captured on the home link and read by tshark.
    let down = net.tmp.join("m1.down");
    let pcap = net.tmp.join("mh.pcap");
    let f = pcap.display().to_string();
    let gone = std::thread::scope(|sc| {
        let cap = sc.spawn(|| {
            net.ha_ns.exec(
                "dumpcap",
                &[
                    "-q",
                    "-i",
                    "ha-r2",
                    "-f",
                    "ip6 proto 135",
                    "-a",
                    "duration:4",
                    "-w",
                    &f,
                ],
            )
        });
        std::thread::sleep(Duration::from_millis(700));
        std::fs::write(&down, b"").unwrap();
        let t0 = Instant::now();
        wait_for("M1 deregistered", Duration::from_secs(5), || {
            bindings(&net.ha) == vec![M2.to_string()]
        })
        .unwrap();
        let gone = t0.elapsed();
        let c = census(&net.flows(61000, 50));
        assert_eq!(c.get("m2"), Some(&50), "{c:?}");
        std::fs::remove_file(&down).unwrap();
        wait_for("M1 registered again", Duration::from_secs(3), || {
            bindings(&net.ha).len() == 2
        })
        .unwrap();
        cap.join().unwrap().expect("dumpcap");
        gone
    });
    let fields = anycast6_tests::util::run_str(
        "tshark",
        [
            "-r",
            &f,
            "-Y",
            "mipv6",
            "-T",
            "fields",
            "-e",
            "mip6.mhtype",
            "-e",
            "mip6.bu.lifetime",
            "-e",
            "mip6.ba.status",
        ],
    )
    .unwrap();
    let types: Vec<&str> = fields
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect();
    println!("tshark on the home link: {fields}");
    assert!(types.iter().filter(|t| **t == "5").count() >= 2, "{fields}");
    assert!(types.iter().filter(|t| **t == "6").count() >= 2, "{fields}");
    let bad = anycast6_tests::util::run_str(
        "tshark",
        [
            "-r",
            &f,
            "-Y",
            "_ws.malformed || _ws.expert.severity >= warning",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ],
    )
    .unwrap();
    assert!(
        bad.trim().is_empty(),
        "tshark finds malformed MGA packets: {bad}"
    );
    println!("health check failing -> binding gone at the home agent in {gone:?}");
    let text = net.members[0].ctl(&["show", "mga"]).unwrap();
    assert!(text.contains("registered"), "{text}");
    let enc = net.ha.ctl_json(&["show", "counters"]).unwrap();
    println!("home agent fast path: {}", enc["groups"]);
}

#[test]
fn member_death_and_home_agent_restart() {
    if !require_root("member_death_and_home_agent_restart") {
        return;
    }
    let mut net = Net::build("mgad", 8, false);
    wait_for(
        "fresh flows reach both members",
        Duration::from_secs(30),
        || net.both_answer(),
    )
    .unwrap();
    // A flow of M2, streamed throughout.
    let f = net.flows(30000, 200);
    let port = 30000 + f.iter().position(|m| m.as_deref() == Some("m2")).unwrap() as u16;
    let stream = UdpStream::start(
        &net.c,
        SocketAddrV6::new(C_ADDR, port, 0, 0),
        SocketAddrV6::new(A, UDP_PORT, 0, 0),
        Duration::from_millis(10),
    );
    std::thread::sleep(Duration::from_millis(500));
    // M1 dies: daemon SIGKILLed (no deregistration), servers gone.
    let killed = Instant::now();
    net.members[0].kill9();
    net.servers[0].clear();
    let mut k = 0u16;
    wait_for("new flows all reach M2", Duration::from_secs(30), || {
        k += 1;
        // None left at M1; an answer lost on a loaded machine is not a
        // flow served elsewhere.
        let c = census(&net.flows(50000 + 20 * (k % 500), 20));
        !c.contains_key("m1") && c.get("m2").is_some_and(|n| *n >= 18)
    })
    .unwrap();
    let served = killed.elapsed();
    assert_eq!(bindings(&net.ha), vec![M2.to_string()]);
    println!("member death -> new flows all served by M2: {served:?} (binding lifetime 8 s)");
    assert!(served < Duration::from_secs(15), "{served:?}");

    // The home agent dies and comes back: the pinned FIB kept forwarding,
    // the bindings are read back from its state file.
    net.ha.kill9();
    std::thread::sleep(Duration::from_millis(300));
    net.ha.spawn().expect("home agent restart");
    assert_eq!(bindings(&net.ha), vec![M2.to_string()], "{}", net.ha.log());
    assert!(counter(&net.ha, "restored") >= 1);
    std::thread::sleep(Duration::from_millis(500));
    let r = stream.stop().unwrap();
    println!(
        "M2's stream: {} sent, {} lost, longest gap {} datagrams, members {:?}",
        r.sent,
        r.lost.len(),
        longest_gap(&r.lost),
        r.members
    );
    assert_eq!(r.members.keys().collect::<Vec<_>>(), vec!["m2"]);
    assert!(longest_gap(&r.lost) <= 5, "{:?}", r.lost);
    // And it keeps serving: M2 refreshes with it.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(bindings(&net.ha), vec![M2.to_string()]);
    let _ = (&net.m, &net.ha_ns);
}

#[test]
fn forged_and_replayed_updates_are_refused() {
    if !require_root("forged_and_replayed_updates_are_refused") {
        return;
    }
    let net = Net::build_with("mgah", 60, false, false, true);
    let update = |secret: Option<&str>, lifetime: u16, id: u64| -> Vec<u8> {
        let mut m = Message::Update(BindingUpdate {
            sequence: 1,
            ack: true,
            home: true,
            link_local: false,
            key_mgmt: false,
            lifetime,
            options: Options {
                home_prefix: Some(A),
                experimental: Some(Experimental {
                    metric: Some(0),
                    ..Experimental::default()
                }),
                message_id: Some(id),
                ..Options::default()
            },
        });
        if let Some(s) = secret {
            let key = anycast6_mga::auth::Keyring::new(vec![(
                7,
                anycast6_control::proto::auth::Key::new(7, s.as_bytes().to_vec()),
            )]);
            let (spi, k) = key.send_key().unwrap();
            let k = k.clone();
            auth::seal(&k, spi, AUTH_MN_HA, C_ADDR, HA, &mut m);
        }
        m.encode(C_ADDR, HA)
    };
    let s = net
        .c
        .run_in(|| {
            Ok(socket2::Socket::new(
                socket2::Domain::IPV6,
                socket2::Type::RAW,
                Some(socket2::Protocol::from(135)),
            )?)
        })
        .expect("raw socket");
    let to: socket2::SockAddr = SocketAddrV6::new(HA, 0, 0, 0).into();
    // A wrong key, no key: refused, nothing bound.
    s.send_to(
        &update(Some("not the secret of this deployment"), 15, 10),
        &to,
    )
    .unwrap();
    s.send_to(&update(None, 15, 11), &to).unwrap();
    // A keyed deregistration (nothing to remove: accepted), then replayed.
    let dereg = update(Some(SECRET), 0, 12);
    s.send_to(&dereg, &to).unwrap();
    s.send_to(&dereg, &to).unwrap();
    wait_for("each refusal counted", Duration::from_secs(5), || {
        counter(&net.ha, "auth_bad_digest") == 1
            && counter(&net.ha, "auth_missing") == 1
            && counter(&net.ha, "auth_replay") == 1
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", net.ha.ctl(&["show", "mga"]).unwrap_or_default()));
    let mut b = bindings(&net.ha);
    b.sort();
    assert_eq!(b, vec![M1.to_string(), M2.to_string()], "A was stolen");
    // Junk: counted by field, nothing else happens.
    s.send_to(&[59, 0, 5, 0, 0, 0, 0, 0], &to).unwrap();
    s.send_to(&[59, 3, 5, 0, 0, 0, 0, 0], &to).unwrap();
    wait_for("junk counted", Duration::from_secs(5), || {
        counter(&net.ha, "bad_checksum") + counter(&net.ha, "bad_length") >= 2
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", net.ha.ctl(&["show", "mga"]).unwrap_or_default()));
    println!("{}", net.ha.ctl(&["show", "mga"]).unwrap());
    // M2 answers straight from A (reverse_tunnel = false), M1 through
    // the home agent: both serve flows.
    wait_for(
        "fresh flows reach both members",
        Duration::from_secs(30),
        || net.both_answer(),
    )
    .unwrap();
    let (d1, d2) = (&net.members[0], &net.members[1]);
    assert!(member_program(d2, "direct") > 0 && member_program(d2, "reverse_tunnel") == 0);
    assert!(member_program(d1, "reverse_tunnel") > 0 && member_program(d1, "direct") == 0);
}

/// The fast path's decapsulations at a host (`show counters`): the home
/// agent's end of its members' reverse tunnels.
fn decapsulated(d: &Daemon) -> u64 {
    let v = d.ctl_json(&["show", "counters"]).unwrap_or_default();
    v["tunnel"]
        .as_array()
        .and_then(|t| t.iter().find(|r| r["reason"] == "decap"))
        .and_then(|r| r["packets"].as_u64())
        .unwrap_or(0)
}

/// Captures `secs` seconds on `dev` of `ns`; the packets of TCP port
/// `port` in it (tshark looks inside tunnels).
fn captured(ns: &Netns, tmp: &TempDir, dev: &str, secs: u32, port: u16, tag: &str) -> usize {
    let file = tmp.join(format!("{tag}.pcap"));
    let f = file.display().to_string();
    ns.exec(
        "dumpcap",
        &["-q", "-i", dev, "-a", &format!("duration:{secs}"), "-w", &f],
    )
    .expect("dumpcap");
    let out = anycast6_tests::util::run_str(
        "tshark",
        [
            "-r",
            &f,
            "-Y",
            &format!("tcp.port == {port}"),
            "-T",
            "fields",
            "-e",
            "frame.number",
        ],
    )
    .expect("tshark");
    out.lines().filter(|l| !l.trim().is_empty()).count()
}

#[test]
fn route_optimisation_mid_transfer_bypasses_the_home_agent() {
    if !require_root("route_optimisation_mid_transfer_bypasses_the_home_agent") {
        return;
    }
    let net = Net::build("mgar", 60, true);
    let cn = net.cn.as_ref().unwrap();
    // 6 MiB at 1 MiB/s: bound after 300 ms and 10 packets, mid-transfer.
    let t = TcpTransfer::start(
        &net.c,
        SocketAddrV6::new(A, TCP_PORT, 0, 0),
        6 << 20,
        Some(1 << 20),
    );
    // The first packets go through the home agent (tunnelled both ways).
    let before = captured(&net.ha_ns, &net.tmp, "ha-r2", 1, TCP_PORT, "before");
    wait_for(
        "the correspondent holds a flow binding",
        Duration::from_secs(10),
        || {
            let v = cn.ctl_json(&["show", "mga"]).unwrap_or_default();
            v["correspondent"]["flow_bindings"]
                .as_array()
                .is_some_and(|b| b.len() == 1)
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{}\n{}\n{}",
            cn.ctl(&["show", "mga"]).unwrap_or_default(),
            net.members[0].ctl(&["show", "mga"]).unwrap_or_default(),
            net.members[1].ctl(&["show", "mga"]).unwrap_or_default()
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    let after = captured(&net.ha_ns, &net.tmp, "ha-r2", 1, TCP_PORT, "after");
    let r = t.join().expect("transfer");
    assert_eq!(r.verified, 6 << 20, "not byte-exact");
    println!(
        "route optimisation mid-transfer: {before} packets of the flow at the home agent in 1 s before, \
         {after} in 1 s after the binding; 6 MiB byte-exact via {} in {:?}",
        r.member, r.elapsed
    );
    assert!(before > 50, "{before}");
    assert_eq!(
        after, 0,
        "route-optimised packets still pass the home agent"
    );
    let text = cn.ctl(&["show", "mga"]).unwrap();
    assert!(text.contains(&format!("-> [{A}]:{TCP_PORT}")), "{text}");
    assert!(
        decapsulated(&net.ha) > 0,
        "no reverse-tunnelled packet ended at the home agent"
    );

    // Unmodified applications: python3 -m http.server bound to A on both
    // members, curl on C (paced, and more than the socket buffers hold,
    // so the flow lives long enough to be bound), the file whole; the
    // correspondent bound its flow.
    let body: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let mut http = Vec::new();
    for (i, m) in net.m.iter().enumerate() {
        let dir = net.tmp.join(format!("www-m{}", i + 1));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("blob"), &body).unwrap();
        let mut cmd = m.command("python3");
        cmd.args([
            "-m",
            "http.server",
            "8080",
            "--bind",
            &A.to_string(),
            "--directory",
        ])
        .arg(&dir);
        http.push(
            anycast6_tests::Proc::spawn(
                &format!("http-m{}", i + 1),
                cmd,
                net.tmp.join(format!("http-m{}.log", i + 1)),
            )
            .unwrap(),
        );
    }
    let url = format!("http://[{A}]:8080/blob");
    let out = net.tmp.join("blob.curl");
    wait_for("http servers up", Duration::from_secs(10), || {
        let mut c = net.c.command("curl");
        c.args([
            "-s",
            "-g",
            "--max-time",
            "2",
            "-o",
            "/dev/null",
            "-r",
            "0-0",
            &url,
        ]);
        c.output().is_ok_and(|o| o.status.success())
    })
    .unwrap();
    let mut c = net.c.command("curl");
    c.args(["-s", "-g", "--max-time", "30", "--limit-rate", "4M", "-o"])
        .arg(&out)
        .arg(&url);
    let t0 = Instant::now();
    let o = c.output().unwrap();
    let curl_took = t0.elapsed();
    assert!(
        o.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        std::fs::read(&out).unwrap() == body,
        "the file arrived changed"
    );
    let v = cn.ctl_json(&["show", "mga"]).unwrap();
    let bound_http = v["correspondent"]["flow_bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|b| b["flow"]["service_port"] == 8080);
    assert!(
        bound_http,
        "curl's flow was not route-optimised: {v:#}\n{}\n{}",
        net.members[0].ctl(&["show", "mga"]).unwrap_or_default(),
        net.members[1].ctl(&["show", "mga"]).unwrap_or_default()
    );
    println!(
        "curl of 16 MiB from python3 http.server on A in {curl_took:?}: whole, flow route-optimised"
    );
}

#[test]
fn two_home_agents_found_by_discovery_each_hold_every_binding() {
    if !require_root("two_home_agents_found_by_discovery_each_hold_every_binding") {
        return;
    }
    let mut net = Net::build_with("mga2", 60, false, true, false);
    let (ha2, _) = net.ha2.as_ref().unwrap();
    wait_for(
        "both home agents hold both bindings",
        Duration::from_secs(20),
        || bindings(ha2).len() == 2,
    )
    .unwrap();
    let mut b = bindings(&net.ha);
    b.sort();
    assert_eq!(b, vec![M1.to_string(), M2.to_string()]);
    let v = net.members[0].ctl_json(&["show", "mga"]).unwrap();
    assert_eq!(v["member"]["discovered"], true, "{v:#}");
    assert_eq!(
        v["member"]["home_agents"].as_array().map(Vec::len),
        Some(2),
        "{v:#}"
    );
    wait_for(
        "fresh flows reach both members",
        Duration::from_secs(30),
        || net.both_answer(),
    )
    .unwrap();
    // Both home agents build the same table: a flow keeps its member
    // whichever of them the home link delivers it to.
    let f = net.flows(30000, 1);
    let member = f[0].clone().expect("an answer");
    let stream = UdpStream::start(
        &net.c,
        SocketAddrV6::new(C_ADDR, 30000, 0, 0),
        SocketAddrV6::new(A, UDP_PORT, 0, 0),
        Duration::from_millis(10),
    );
    std::thread::sleep(Duration::from_millis(500));
    // HA1 goes: its daemon is killed and its link taken down.
    net.ha.kill9();
    net.ha_ns.ip(&["link", "set", "ha-r2", "down"]).unwrap();
    std::thread::sleep(Duration::from_secs(6));
    let r = stream.stop().unwrap();
    let gap_ms = longest_gap(&r.lost) * 10;
    println!(
        "home agent 1 gone: the stream on {member} lost {} of {}, longest gap {gap_ms} ms, members {:?}",
        r.lost.len(),
        r.sent,
        r.members
    );
    assert_eq!(
        r.members.keys().collect::<Vec<_>>(),
        vec![&member],
        "the flow changed member"
    );
    assert!(r.answered > r.sent / 2, "{} of {}", r.answered, r.sent);
    let c = census(&net.flows(61100, 50));
    assert_eq!(c.get("none"), None, "new flows after HA1 went: {c:?}");
    // A TCP transfer through HA2 alone, replies reverse-tunnelled to the
    // Home-Agents anycast address, which HA2 now answers.
    let t = TcpTransfer::start(&net.c, SocketAddrV6::new(A, TCP_PORT, 0, 0), 1 << 20, None);
    assert_eq!(t.join().expect("transfer").verified, 1 << 20);
    let (ha2, _) = net.ha2.as_ref().unwrap();
    assert!(decapsulated(ha2) > 0);
}

/// A member's egress program counter (`show mga`, its programs).
fn member_program(d: &Daemon, reason: &str) -> u64 {
    let v = d.ctl_json(&["show", "mga"]).unwrap_or_default();
    v["dataplane"]["member"][reason]["packets"]
        .as_u64()
        .unwrap_or(0)
}
