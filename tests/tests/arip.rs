//! ARIP end to end between anycast6d routers: members register by ARD at
//! their first-hop router, ARIP carries the anycast address (tagged) and
//! the connected prefixes to the other router, and a client reaches the
//! nearest member; when it fails, traffic moves to the far one through
//! the ARIP route.
//!
//! ```text
//!  client ── a2 ──────── a1 ── m1 (ARD, metric 0)
//!            │
//!            m2 (ARD, metric 0)
//! ```

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::{Duration, Instant};

use anycast6_tests::daemon::DaemonCfg;
use anycast6_tests::proto;
use anycast6_tests::traffic::{self, Server};
use anycast6_tests::{require_root, wait_for, Daemon, Netns, Proc, TempDir, UdpStream};

const ANYCAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0xa);
const CLIENT: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 2);
const PORT: u16 = 7000;

pub struct Net {
    pub tmp: TempDir,
    pub client: Netns,
    pub a1: Netns,
    pub a2: Netns,
    pub m1: Netns,
    pub m2: Netns,
    _servers: Vec<Server>,
}

fn link(a: &Netns, a_if: &str, a_addr: &str, b: &Netns, b_if: &str, b_addr: &str) {
    proto::link(a, a_if, a_addr, b, b_if, b_addr).expect("link");
}

fn build(short: &str) -> Net {
    let tmp = TempDir::new(short).expect("tmp");
    let ns = |r: &str| Netns::new(&format!("{short}{r}")).expect("netns");
    let (client, a1, a2, m1, m2) = (ns("c"), ns("a"), ns("b"), ns("1"), ns("2"));
    a1.enable_forwarding().unwrap();
    a2.enable_forwarding().unwrap();
    link(
        &client,
        "c-a2",
        "2001:db8:c::2/64",
        &a2,
        "a2-c",
        "2001:db8:c::1/64",
    );
    link(
        &a2,
        "a2-a1",
        "2001:db8:21::2/64",
        &a1,
        "a1-a2",
        "2001:db8:21::1/64",
    );
    link(
        &a1,
        "a1-m1",
        "2001:db8:1::1/64",
        &m1,
        "m1-a1",
        "2001:db8:1::10/64",
    );
    link(
        &a2,
        "a2-m2",
        "2001:db8:2::1/64",
        &m2,
        "m2-a2",
        "2001:db8:2::10/64",
    );
    client.add_route("default", "2001:db8:c::1").unwrap();
    m1.add_route("default", "2001:db8:1::1").unwrap();
    m2.add_route("default", "2001:db8:2::1").unwrap();
    client.xdp_pass("c-a2").unwrap();
    let mut servers = Vec::new();
    for (name, m) in [("m1", &m1), ("m2", &m2)] {
        m.add_addr("lo", &format!("{ANYCAST}/128")).unwrap();
        servers.push(Server::udp(m, name, SocketAddrV6::new(ANYCAST, PORT, 0, 0)).unwrap());
    }
    Net {
        tmp,
        client,
        a1,
        a2,
        m1,
        m2,
        _servers: servers,
    }
}

fn router(xdp: &[&str], ard_if: &str, arip_ifs: &[&str]) -> DaemonCfg {
    proto::ard_arip_router(xdp, ard_if, arip_ifs, 3000, 2000)
}

fn member(unicast: &str, iface: &str) -> DaemonCfg {
    proto::ard_member_host(ANYCAST, unicast, iface)
}

fn answering(net: &Net, port: u16) -> Option<String> {
    let dst = SocketAddrV6::new(ANYCAST, PORT, 0, 0);
    let c = net
        .client
        .run_in(move || traffic::udp_flows(CLIENT, dst, port, 1))
        .ok()?;
    c.members().first().map(|m| m.to_string())
}

#[test]
fn arip_carries_anycast_members_between_routers_and_fails_over() {
    if !require_root("arip_carries_anycast_members_between_routers_and_fails_over") {
        return;
    }
    let net = build("arip");
    let r1 = Daemon::start(
        &net.a1,
        &net.tmp,
        "a1",
        &router(&["a1-a2", "a1-m1"], "a1-m1", &["a1-a2"]),
    )
    .expect("a1");
    let r2 = Daemon::start(
        &net.a2,
        &net.tmp,
        "a2",
        &router(&["a2-c", "a2-a1", "a2-m2"], "a2-m2", &["a2-a1"]),
    )
    .expect("a2");
    // Captures of what the routers and members send, decoded by tshark
    // below (ARIP is RIPng on the wire: tshark's own dissector; ARD: ours).
    let cap = |label: &str, ns: &Netns, dev: &str, filter: &str| {
        let file = net.tmp.join(format!("{label}.pcap"));
        let mut cmd = ns.command("tshark");
        cmd.args([
            "-n",
            "-q",
            "-i",
            dev,
            "-f",
            filter,
            "-a",
            "duration:6",
            "-w",
        ])
        .arg(&file);
        let p = Proc::spawn(label, cmd, net.tmp.join(format!("{label}.log"))).expect("tshark");
        (p, file)
    };
    let (mut arip_cap, arip_pcap) = cap("cap-arip", &net.a2, "a2-a1", "udp port 521");
    let (mut ard_cap, ard_pcap) = cap("cap-ard", &net.a2, "a2-m2", "udp port 5359");
    std::thread::sleep(Duration::from_millis(1500));
    let mut m1 =
        Daemon::start(&net.m1, &net.tmp, "m1", &member("2001:db8:1::10", "m1-a1")).expect("m1");
    let mut m2 =
        Daemon::start(&net.m2, &net.tmp, "m2", &member("2001:db8:2::10", "m2-a2")).expect("m2");

    // m2 is nearest to the client (on a2's own link).
    wait_for("m2 answers", Duration::from_secs(20), || {
        answering(&net, 61000).as_deref() == Some("m2")
    })
    .unwrap_or_else(|e| panic!("{e}\na2 log:\n{}", r2.log()));
    // a2 also knows the address through a1 (an ARIP path at metric 2,
    // kept but not in the RIB: only the smallest metric is installed).
    wait_for(
        "a2 heard the anycast route from a1",
        Duration::from_secs(10),
        || proto::arip_has_anycast_path(&r2, ANYCAST),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", r2.ctl(&["show", "arip"]).unwrap_or_default()));
    // a1 learned the client's prefix (a2's connected network) by ARIP
    // into the kernel: m1's answers can get back.
    let routes = net.a1.ip(&["-6", "route", "show", "proto", "166"]).unwrap();
    assert!(routes.contains("2001:db8:c::/64"), "{routes}");
    let arip = r2.ctl(&["show", "arip"]).expect("show arip");
    assert!(
        arip.contains(&ANYCAST.to_string()) && arip.contains("anycast"),
        "{arip}"
    );
    let rib = r2.ctl_json(&["show", "rib"]).unwrap();
    let rows = rib.as_array().unwrap();
    assert_eq!(rows.len(), 1, "only the nearest member in the RIB: {rib:#}");
    assert_eq!(rows[0]["source"], "ard", "{rib:#}");

    // Every ARIP and ARD packet of the captures decodes with no malformed field.
    for p in [&mut arip_cap, &mut ard_cap] {
        wait_for("capture done", Duration::from_secs(15), || !p.running()).expect("tshark ends");
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let v = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&arip_pcap)
        .arg("-V")
        .output()
        .expect("tshark -r");
    let text = String::from_utf8_lossy(&v.stdout);
    let packets = text.matches("RIPng").count();
    assert!(
        packets >= 2,
        "ARIP packets in the capture: {packets}\n{text}"
    );
    assert!(!text.contains("Malformed"), "{text}");
    let chk = std::process::Command::new(root.join("scripts/check-dissector.sh"))
        .arg(root.join("contrib/wireshark/ard.lua"))
        .arg(&ard_pcap)
        .output()
        .expect("check-dissector");
    let out =
        String::from_utf8_lossy(&chk.stdout).into_owned() + &String::from_utf8_lossy(&chk.stderr);
    assert!(chk.status.success(), "ARD capture: {out}");
    eprintln!(
        "captures: {} lines of RIPng decode; ARD: {}",
        packets,
        out.trim()
    );

    // Hard failure of m2's announcements: a2 expires it and sends the
    // anycast traffic to a1, which delivers to m1.
    let interval = Duration::from_millis(1);
    let dst = SocketAddrV6::new(ANYCAST, PORT, 0, 0);
    let stream = UdpStream::start(
        &net.client,
        SocketAddrV6::new(CLIENT, 40001, 0, 0),
        dst,
        interval,
    );
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    m2.kill9();
    wait_for(
        "m1 answers after m2 expired",
        Duration::from_secs(10),
        || answering(&net, 61100).as_deref() == Some("m1"),
    )
    .unwrap_or_else(|e| panic!("{e}\na2 log:\n{}", r2.log()));
    eprintln!(
        "expiry: new flows reach m1 {:?} after SIGKILL of m2's anycast6d",
        t.elapsed()
    );
    std::thread::sleep(Duration::from_millis(300));
    let rep = stream.stop().expect("stream");
    eprintln!(
        "expiry: sent {}, lost {}, members {:?}",
        rep.sent,
        rep.lost.len(),
        rep.members
    );
    assert!(rep.members.contains_key("m1"), "{:?}", rep.members);
    let rib = r2.ctl_json(&["show", "rib"]).unwrap();
    assert!(
        rib.as_array()
            .unwrap()
            .iter()
            .any(|r| r["source"] == "arip" && r["state"] == "active"),
        "the ARIP path to a1 is installed: {rib:#}"
    );

    // m2 back: nearest again. Then a clean leave.
    m2.spawn().expect("m2 again");
    wait_for("m2 answers again", Duration::from_secs(10), || {
        answering(&net, 61200).as_deref() == Some("m2")
    })
    .expect("m2 back");
    let t = Instant::now();
    m2.signal(libc::SIGTERM).expect("SIGTERM");
    wait_for(
        "m1 answers after m2's leave",
        Duration::from_secs(10),
        || answering(&net, 61300).as_deref() == Some("m1"),
    )
    .expect("failover after leave");
    eprintln!(
        "leave: new flows reach m1 {:?} after SIGTERM of m2's anycast6d",
        t.elapsed()
    );
    drop(m1.signal(libc::SIGTERM));
    let _ = r1;
}
