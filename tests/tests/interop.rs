//! ARIP interop: anycast6d routers with FRR ripngd in the middle and BIRD
//! beside, all speaking RIPng on the wire.
//!
//! ```text
//!  client ── a2 ─────── F (FRR ripngd) ─────── a1 ── m1 (ARD member)
//!            │  \
//!            m2  B (BIRD rip ng, stub 2001:db8:b1::/64)
//! ```
//! - unicast routes both ways: a2 learns BIRD's stub, BIRD learns a2's
//!   connected prefixes, FRR learns both sides', a1 learns the client's;
//! - the anycast /128 reaches FRR and BIRD as an ordinary host route;
//! - FRR carries it (route tag kept) from a1 to a2, where it is still
//!   anycast (an ARIP path, installed when the nearer member goes);
//! - the client reaches its nearest member, m2; when m2 fails (hard, then
//!   a clean leave) traffic moves to m1 across FRR; the gaps are printed;
//! - every RIPng packet on a2's links decodes in tshark, none malformed.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::{Duration, Instant};

use anycast6_tests::bird::{Bird, RIP_PROTOCOL};
use anycast6_tests::daemon::DaemonCfg;
use anycast6_tests::frr::Frr;
use anycast6_tests::proto;
use anycast6_tests::traffic::{self, Server};
use anycast6_tests::{require_root, wait_for, Daemon, Netns, Proc, TempDir, UdpStream};

const ANYCAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0xb);
const CLIENT: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 2);
const PORT: u16 = 7000;
const FRR_TIMERS: (u32, u32, u32) = (1, 6, 4);

fn link(a: &Netns, a_if: &str, a_addr: &str, b: &Netns, b_if: &str, b_addr: &str) {
    proto::link(a, a_if, a_addr, b, b_if, b_addr).expect("link");
}

fn router(xdp: &[&str], ard_if: &str, arip_ifs: &[&str]) -> DaemonCfg {
    proto::ard_arip_router(xdp, ard_if, arip_ifs, 6000, 4000)
}

fn member(unicast: &str, iface: &str) -> DaemonCfg {
    proto::ard_member_host(ANYCAST, unicast, iface)
}

#[test]
fn arip_interoperates_with_frr_and_bird() {
    if !require_root("arip_interoperates_with_frr_and_bird") {
        return;
    }
    let tmp = TempDir::new("iop").expect("tmp");
    let ns = |r: &str| Netns::new(&format!("iop{r}")).expect("netns");
    let (client, a1, a2, f, b, m1, m2) = (
        ns("c"),
        ns("a"),
        ns("z"),
        ns("f"),
        ns("b"),
        ns("1"),
        ns("2"),
    );
    for n in [&a1, &a2, &f, &b] {
        n.enable_forwarding().unwrap();
    }
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
        "a2-f",
        "2001:db8:2f::2/64",
        &f,
        "f-a2",
        "2001:db8:2f::1/64",
    );
    link(
        &f,
        "f-a1",
        "2001:db8:1f::1/64",
        &a1,
        "a1-f",
        "2001:db8:1f::2/64",
    );
    link(
        &a2,
        "a2-b",
        "2001:db8:2b::2/64",
        &b,
        "b-a2",
        "2001:db8:2b::1/64",
    );
    link(
        &a1,
        "a1-m1",
        "2001:db8:1::1/64",
        &m1,
        "m-r",
        "2001:db8:1::10/64",
    );
    link(
        &a2,
        "a2-m2",
        "2001:db8:2::1/64",
        &m2,
        "m-r",
        "2001:db8:2::10/64",
    );
    // BIRD's stub network (a veth pair inside B: no dummy links here).
    b.ip(&[
        "link", "add", "b-stub", "type", "veth", "peer", "name", "b-stubp",
    ])
    .unwrap();
    b.ip(&["link", "set", "b-stub", "up"]).unwrap();
    b.ip(&["link", "set", "b-stubp", "up"]).unwrap();
    b.add_addr("b-stub", "2001:db8:b1::1/64").unwrap();
    client.add_route("default", "2001:db8:c::1").unwrap();
    m1.add_route("default", "2001:db8:1::1").unwrap();
    m2.add_route("default", "2001:db8:2::1").unwrap();
    client.xdp_pass("c-a2").unwrap();
    let mut servers = Vec::new();
    for (name, m) in [("m1", &m1), ("m2", &m2)] {
        m.add_addr("lo", &format!("{ANYCAST}/128")).unwrap();
        servers.push(Server::udp(m, name, SocketAddrV6::new(ANYCAST, PORT, 0, 0)).unwrap());
    }

    // Capture a2's side of both third-party links while everything starts.
    let cap = |label: &str, dev: &str| {
        let file = tmp.join(format!("{label}.pcap"));
        let mut cmd = a2.command("tshark");
        cmd.args([
            "-n",
            "-q",
            "-i",
            dev,
            "-f",
            "udp port 521",
            "-a",
            "duration:8",
            "-w",
        ])
        .arg(&file);
        (
            Proc::spawn(label, cmd, tmp.join(format!("{label}.log"))).expect("tshark"),
            file,
        )
    };
    let mut caps = vec![cap("cap-f", "a2-f"), cap("cap-b", "a2-b")];
    std::thread::sleep(Duration::from_millis(1500));

    let frr = Frr::start(
        &f,
        &tmp,
        "f",
        &Frr::ripng_config(&["f-a2", "f-a1"], FRR_TIMERS),
    )
    .expect("FRR");
    let bird = Bird::start(
        &b,
        &tmp,
        "b",
        &Bird::ripng_config("10.0.0.2", &["b-a2"], &["b-stub", "b-a2"], (1, 6, 4)),
    )
    .expect("BIRD");
    let _r1 = Daemon::start(
        &a1,
        &tmp,
        "a1",
        &router(&["a1-f", "a1-m1"], "a1-m1", &["a1-f"]),
    )
    .expect("a1");
    let r2 = Daemon::start(
        &a2,
        &tmp,
        "a2",
        &router(
            &["a2-c", "a2-f", "a2-b", "a2-m2"],
            "a2-m2",
            &["a2-f", "a2-b"],
        ),
    )
    .expect("a2");
    let _m1d = Daemon::start(&m1, &tmp, "m1", &member("2001:db8:1::10", "m-r")).expect("m1");
    let mut m2d = Daemon::start(&m2, &tmp, "m2", &member("2001:db8:2::10", "m-r")).expect("m2");

    let any = format!("{ANYCAST}/128");
    // Host routes at FRR and BIRD; unicast both ways.
    wait_for(
        "FRR has the anycast host route and both sides' prefixes",
        Duration::from_secs(20),
        || {
            frr.has_route(&any, "ripng")
                && frr.has_route("2001:db8:c::/64", "ripng")
                && frr.has_route("2001:db8:1::/64", "ripng")
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", frr.logs(30), r2.log()));
    wait_for(
        "BIRD has the anycast host route and a2's prefixes",
        Duration::from_secs(20),
        || {
            bird.has_route_from(&any, RIP_PROTOCOL)
                && bird.has_route_from("2001:db8:c::/64", RIP_PROTOCOL)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", bird.show_route().unwrap_or_default()));
    wait_for(
        "a2 has BIRD's stub, a1 the client's prefix (kernel, proto 0xa6)",
        Duration::from_secs(20),
        || {
            a2.ip(&["-6", "route", "show", "proto", "166"])
                .is_ok_and(|r| r.contains("2001:db8:b1::/64"))
                && a1
                    .ip(&["-6", "route", "show", "proto", "166"])
                    .is_ok_and(|r| r.contains("2001:db8:c::/64"))
        },
    )
    .expect("unicast routes from ARIP into the kernels");
    // FRR kept the anycast tag: a2 sees the route through F as anycast.
    wait_for(
        "a2 holds an anycast path through FRR",
        // FRR's periodic update (30 s) covers a triggered one lost under load.
        Duration::from_secs(40),
        || proto::arip_has_anycast_path(&r2, ANYCAST),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", r2.ctl(&["show", "arip"]).unwrap_or_default()));
    let route = frr.vtysh("show ipv6 ripng").unwrap_or_default();
    eprintln!("FRR's RIPng table:\n{route}");
    let bird_route = bird.route(&any).unwrap_or_default();
    eprintln!("BIRD's route to the anycast address:\n{bird_route}");
    // Both keep the anycast tag (0xa6a6 = 42662) on the host route.
    let anycast_line = route
        .split("R(")
        .find(|r| r.contains(&any))
        .unwrap_or_default()
        .to_string();
    assert!(
        anycast_line.contains("42662"),
        "FRR's entry: {anycast_line}"
    );
    assert!(bird_route.contains("a6a6"), "{bird_route}");

    let dst = SocketAddrV6::new(ANYCAST, PORT, 0, 0);
    let answering = |port: u16| {
        client
            .run_in(move || traffic::udp_flows(CLIENT, dst, port, 1))
            .ok()
            .and_then(|c| c.members().first().map(|m| m.to_string()))
    };
    wait_for("m2 (nearest) answers", Duration::from_secs(20), || {
        answering(61000).as_deref() == Some("m2")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", r2.log()));

    for p in caps.iter_mut() {
        wait_for("capture ends", Duration::from_secs(20), || !p.0.running()).unwrap();
    }
    for (_, file) in &caps {
        let out = std::process::Command::new("tshark")
            .args(["-n", "-V", "-r"])
            .arg(file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.matches("RIPng").count() >= 2,
            "{}: {text}",
            file.display()
        );
        assert!(!text.contains("Malformed"), "{text}");
    }

    // Hard failure of m2: its anycast6d killed and its address gone; a2
    // expires it and forwards to m1 across FRR.
    let interval = Duration::from_millis(1);
    let stream = UdpStream::start(
        &client,
        SocketAddrV6::new(CLIENT, 40001, 0, 0),
        dst,
        interval,
    );
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    m2d.kill9();
    m2.ip(&["-6", "addr", "del", &any, "dev", "lo"]).unwrap();
    wait_for("m1 answers across FRR", Duration::from_secs(10), || {
        answering(61100).as_deref() == Some("m1")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", r2.log()));
    let seen = t.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let rep = stream.stop().unwrap();
    eprintln!(
        "hard failure: gap {} ms ({} of {} probes lost), new flows on m1 after {seen:?}",
        proto::longest_gap(&rep.lost),
        rep.lost.len(),
        rep.sent
    );
    assert!(rep.members.contains_key("m1"), "{:?}", rep.members);

    // m2 back, then a clean leave.
    m2.add_addr("lo", &any).unwrap();
    m2d.spawn().unwrap();
    wait_for("m2 answers again", Duration::from_secs(10), || {
        answering(61200).as_deref() == Some("m2")
    })
    .unwrap();
    let stream = UdpStream::start(
        &client,
        SocketAddrV6::new(CLIENT, 40002, 0, 0),
        dst,
        interval,
    );
    std::thread::sleep(Duration::from_millis(300));
    m2d.signal(libc::SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    m2.ip(&["-6", "addr", "del", &any, "dev", "lo"]).unwrap();
    wait_for(
        "m1 answers after m2's leave",
        Duration::from_secs(10),
        || answering(61300).as_deref() == Some("m1"),
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
    assert!(rep.members.contains_key("m1"), "{:?}", rep.members);
    drop(servers);
}
