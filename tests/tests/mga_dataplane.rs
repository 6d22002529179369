//! MGA's data plane end to end, with the programs driven directly (no
//! anycast6d): docs/mga.md sections 5.2, 6.3 and 8.
//!
//! ```text
//!   cn 2001:db8:c::2 ── r (plain kernel router) ── m  CoA 2001:db8:3::10, A on lo
//!                        │  2001:db8:ac::/64 (A's home prefix) via ha
//!                        └── ha 2001:db8:aa::2 (anycast6 XDP: A -> encap to m; tunnel end point)
//! ```
//!
//! r has no route for A but its home prefix, toward ha. (a) A TCP transfer
//! from cn to A: requests cn → r → ha (encapsulated to the CoA) → r → m
//! (decap program); replies from A are reverse-tunnelled by m's tc egress
//! program to ha, whose fast path ends the tunnel and whose kernel forwards
//! them to cn. (b) The same flow route-optimised mid-transfer: cn's tc
//! egress adds the type 2 routing header, m's decap program removes it; m's
//! tc egress adds the Home Address option, cn's XDP program removes it; a
//! capture on ha's link shows the flow no longer passes ha. Forged Home
//! Address options are dropped at cn (`hao_unknown`).
//! Both transfers are checked byte-exact in both directions.

use std::collections::BTreeSet;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anycast6_dataplane::{
    loader::{AttachMode, Capacities, Decap},
    mga::{HomeEntry, MgaCorrespondent, MgaFlow, MgaMember},
    Action, Dataplane, DataplaneOptions, FibWriter, MemberSpec, MemberState, Route,
};
use anycast6_tests::{require_root, util, veth, Netns, Server, TcpTransfer, TempDir};
use anyhow::{bail, Context, Result};

const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 1);
const CN: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 2);
const COA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x10);
const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xaa, 0, 0, 0, 0, 2);
const R_HA: &str = "2001:db8:aa::1";
const PORT: u16 = 7001;

/// A pin directory of this test, destroyed (links detached, pins removed)
/// on drop.
struct Pins {
    path: PathBuf,
}

impl Pins {
    fn new(role: &str) -> Pins {
        let base = Path::new(anycast6_tests::BPFFS).join(util::unique_name(&format!("mga{role}")));
        Pins {
            path: base.join("v1"),
        }
    }
}

impl Drop for Pins {
    fn drop(&mut self) {
        if let Err(e) = Dataplane::destroy(&self.path) {
            eprintln!("destroy {}: {e}", self.path.display());
        }
        if let Some(p) = self.path.parent() {
            let _ = std::fs::remove_dir(p);
        }
    }
}

struct Net {
    // Drop order: servers, then the pins, then the namespaces.
    _servers: Vec<Server>,
    ha_pins: Pins,
    m_pins: Pins,
    cn_pins: Pins,
    cn: Netns,
    r: Netns,
    m: Netns,
    ha: Netns,
    tmp: TempDir,
}

fn mac_bytes(s: &str) -> Result<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|x| u8::from_str_radix(x, 16))
        .collect::<Result<_, _>>()?;
    v.try_into().map_err(|_| anyhow::anyhow!("bad MAC {s}"))
}

/// `tx off` on every veth end (a veth sender leaves checksums partial,
/// which XDP cannot carry, DESIGN.md) unless `csum_offload`; GRO on at r's
/// end toward ha (it receives ha's XDP_REDIRECTs).
fn build(short: &str, member_route_mtu: Option<u32>, csum_offload: bool) -> Result<Net> {
    let tmp = TempDir::new(short)?;
    let cn = Netns::new(&format!("{short}c"))?;
    let r = Netns::new(&format!("{short}r"))?;
    let m = Netns::new(&format!("{short}m"))?;
    let ha = Netns::new(&format!("{short}h"))?;
    r.enable_forwarding()?;
    ha.enable_forwarding()?;
    veth(&cn, "to-r", &r, "to-c")?;
    veth(&m, "to-r", &r, "to-m")?;
    veth(&ha, "to-r", &r, "to-ha")?;
    cn.add_addr("to-r", &format!("{CN}/64"))?;
    r.add_addr("to-c", "2001:db8:c::1/64")?;
    m.add_addr("to-r", &format!("{COA}/64"))?;
    r.add_addr("to-m", "2001:db8:3::1/64")?;
    ha.add_addr("to-r", &format!("{HA}/64"))?;
    r.add_addr("to-ha", &format!("{R_HA}/64"))?;
    cn.add_route("default", "2001:db8:c::1")?;
    ha.add_route("default", R_HA)?;
    match member_route_mtu {
        Some(mtu) => {
            m.ip(&[
                "-6",
                "route",
                "add",
                "default",
                "via",
                "2001:db8:3::1",
                "mtu",
                &mtu.to_string(),
            ])?;
        }
        None => m.add_route("default", "2001:db8:3::1")?,
    }
    // A's home prefix goes to the home agent; nothing else knows A.
    r.add_route("2001:db8:ac::/64", &HA.to_string())?;
    m.add_addr("lo", &format!("{A}/128"))?;
    for (n, dev) in [
        (&cn, "to-r"),
        (&r, "to-c"),
        (&r, "to-m"),
        (&r, "to-ha"),
        (&m, "to-r"),
        (&ha, "to-r"),
    ] {
        n.gro_on(dev)?;
        // With `csum_offload` the end hosts (whose tc programs insert the
        // headers) leave checksums partial; r finalises them on its way out
        // (its ends have tx off: ha's XDP and the end hosts' XDP programs
        // cannot carry a partial checksum, DESIGN.md).
        let end_host = dev == "to-r" && n.name() != ha.name();
        if !(csum_offload && end_host) {
            n.tx_checksum_off(dev)?;
        }
    }
    // Neighbour caches, plain reachability.
    cn.ping("2001:db8:c::1")?;
    r.ping(&COA.to_string())?;
    r.ping(&HA.to_string())?;
    ha.ping(R_HA)?;
    cn.ping(&COA.to_string()).context("cn → m")?;
    cn.ping(&HA.to_string()).context("cn → ha")?;

    let servers = vec![Server::tcp(&m, "m", SocketAddrV6::new(A, PORT, 0, 0))?];
    Ok(Net {
        _servers: servers,
        ha_pins: Pins::new("h"),
        m_pins: Pins::new("m"),
        cn_pins: Pins::new("c"),
        cn,
        r,
        m,
        ha,
        tmp,
    })
}

/// ha: the forwarding program on its link, its address a tunnel end point,
/// A's group one encap member (the CoA, outer source ha).
fn home_agent(net: &Net) -> Result<()> {
    let r_mac = mac_bytes(&net.r.mac("to-ha")?)?;
    let ha_mac = mac_bytes(&net.ha.mac("to-r")?)?;
    let ifindex = net.ha.ifindex("to-r")?;
    let opts = DataplaneOptions {
        pin_dir: net.ha_pins.path.clone(),
        capacities: Capacities {
            fib_entries: 64,
            prefix_entries: 16,
            groups: 16,
            maglev_blocks: 256,
            affinity_entries: 1024,
            tx_ports: 8,
            member_ids: 16,
        },
        hash_seed: 7,
        router_addr: HA,
        ptb_per_sec: 1000,
    };
    net.ha.run_in(move || {
        let mut dp = Dataplane::open(&opts)?;
        dp.attach("to-r", AttachMode::Native)?;
        let fib = dp.fib();
        fib.set_tunnel_endpoints(&BTreeSet::from([HA]))?;
        fib.publish_group(
            0,
            &[MemberSpec {
                member_id: 1,
                unicast: COA,
                encap_src: HA,
                ifindex,
                dmac: r_mac,
                smac: ha_mac,
                mtu: 1500,
                action: Action::Encap,
                state: MemberState::Active,
                weight: 1,
            }],
        )?;
        fib.set_route(Route::Host(A), 0)?;
        Ok(())
    })
}

/// m: the decap program (tunnel and type 2 routing header) and the member
/// egress program with A reverse-tunnelled to ha.
fn member(net: &Net) -> Result<()> {
    let pins = net.m_pins.path.clone();
    net.m.run_in(move || {
        Decap::attach(&pins, "to-r", AttachMode::Native, &[A])?;
        let mut mm = MgaMember::open(&pins)?;
        mm.set_homes(&[(
            A,
            HomeEntry {
                home_agent: HA,
                coa: COA,
                reverse_tunnel: true,
            },
        )])?;
        mm.attach_egress("to-r")?;
        Ok(())
    })
}

fn correspondent(net: &Net) -> Result<()> {
    let pins = net.cn_pins.path.clone();
    net.cn.run_in(move || {
        let mut c = MgaCorrespondent::open(&pins)?;
        c.attach("to-r", AttachMode::Native)?;
        Ok(())
    })
}

fn counter(c: &[(&'static str, u64, u64)], name: &str) -> u64 {
    c.iter()
        .find(|e| e.0 == name)
        .unwrap_or_else(|| panic!("no counter {name}"))
        .1
}

fn ha_counts(net: &Net) -> Result<(u64, u64)> {
    let fib = FibWriter::from_pins(&net.ha_pins.path)?;
    let decap = counter(&fib.tunnel_counters()?, "decap");
    let encap = fib
        .reason_counters()?
        .iter()
        .find(|r| r.0.name() == "fwd_encap")
        .map_or(0, |r| r.1);
    Ok((decap, encap))
}

/// Captures `secs` seconds on `dev` of `ns` into a file of `tmp`.
fn capture(ns: &Netns, tmp: &TempDir, dev: &str, secs: u32, tag: &str) -> Result<PathBuf> {
    let file = tmp.join(format!("{tag}.pcap"));
    let f = file.display().to_string();
    let _ = std::fs::remove_file(&file);
    ns.exec(
        "dumpcap",
        &["-q", "-i", dev, "-a", &format!("duration:{secs}"), "-w", &f],
    )?;
    Ok(file)
}

/// One line per packet of `file` matching `filter`: the `fields`,
/// tab-separated (tshark decodes a tunnel's inner packet, the type 2
/// routing header and the Home Address option, and checks TCP checksums).
fn tshark(file: &Path, filter: &str, fields: &[&str]) -> Result<Vec<String>> {
    let f = file.display().to_string();
    let mut args = vec![
        "-o",
        "tcp.check_checksum:TRUE",
        "-r",
        &f,
        "-Y",
        filter,
        "-T",
        "fields",
    ];
    for x in fields {
        args.extend_from_slice(&["-e", x]);
    }
    let out = util::run_str("tshark", args)?;
    Ok(out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

fn wait_verified(t: &TcpTransfer, bytes: u64, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    while t.verified() < bytes {
        if t.finished() || start.elapsed() > timeout {
            bail!("transfer at {} of {bytes} bytes verified", t.verified());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

#[test]
fn mga_reverse_tunnel_through_the_home_agent() {
    if !require_root("mga_reverse_tunnel_through_the_home_agent") {
        return;
    }
    let net = build("mgat", Some(1440), false).expect("topology");
    home_agent(&net).expect("home agent");
    member(&net).expect("member");

    let bytes = 6 << 20;
    let t = TcpTransfer::start(&net.cn, SocketAddrV6::new(A, PORT, 0, 0), bytes, None);
    let r = t.join().expect("6 MiB to A through the home agent");
    assert_eq!((r.member.as_str(), r.verified), ("m", bytes));
    eprintln!(
        "6 MiB echoed byte-exact through the home agent in {:?}",
        r.elapsed
    );

    let mm = MgaMember::open(&net.m_pins.path).unwrap();
    let mc = mm.counters().unwrap();
    eprintln!("member egress: {mc:?}");
    // tc counts skbs: a GSO packet of many segments counts once.
    assert!(counter(&mc, "reverse_tunnel") > 100, "{mc:?}");
    assert_eq!(
        counter(&mc, "drop_too_big") + counter(&mc, "drop_adjust"),
        0,
        "{mc:?}"
    );
    let d = Decap::open(&net.m_pins.path).unwrap();
    let dc = d.counters().unwrap();
    assert!(counter(&dc, "decap") > 1000, "{dc:?}");
    let (decap, encap) = ha_counts(&net).unwrap();
    eprintln!("home agent: tunnel decap {decap}, fwd_encap {encap}");
    assert!(decap > 1000 && encap > 1000);
    let flows = mm.flows().unwrap();
    let f = flows
        .iter()
        .find(|f| f.0.anycast == A && f.0.service_port == PORT && f.0.cn == CN)
        .expect("the flow counted");
    assert!(f.1.packets > 100 && f.1.last_ns > f.1.first_ns, "{f:?}");
}

#[test]
fn mga_route_optimisation_mid_transfer() {
    if !require_root("mga_route_optimisation_mid_transfer") {
        return;
    }
    route_optimisation("mgao", false);
}

/// The same with transmit checksum offload on at both end hosts: their tc
/// programs insert headers into CHECKSUM_PARTIAL (and GSO) packets, which r
/// finalises and segments on its way out. Byte-exact, and tshark finds
/// every checksum r sends correct.
#[test]
fn mga_route_optimisation_with_checksum_offload() {
    if !require_root("mga_route_optimisation_with_checksum_offload") {
        return;
    }
    route_optimisation("mgak", true);
}

fn route_optimisation(short: &str, csum_offload: bool) {
    let net = build(short, Some(1440), csum_offload).expect("topology");
    home_agent(&net).expect("home agent");
    member(&net).expect("member");
    correspondent(&net).expect("correspondent");

    let bytes = 8 << 20;
    let t = TcpTransfer::start(
        &net.cn,
        SocketAddrV6::new(A, PORT, 0, 0),
        bytes,
        Some(2 << 20),
    );
    wait_verified(&t, 1 << 20, Duration::from_secs(20)).expect("transfer through ha");

    // The member finds the flow in its counts, as its daemon would.
    let mut mm = MgaMember::open(&net.m_pins.path).unwrap();
    let flow: MgaFlow = mm
        .flows()
        .unwrap()
        .into_iter()
        .map(|f| f.0)
        .find(|f| f.anycast == A && f.service_port == PORT && f.cn == CN && f.proto == 6)
        .expect("flow counted at the member");
    let port_filter = format!("tcp.port == {}", flow.cn_port);
    let before = capture(&net.ha, &net.tmp, "to-r", 1, "ha-before").unwrap();
    let through_ha = tshark(&before, &port_filter, &["frame.number"])
        .unwrap()
        .len();
    assert!(
        through_ha > 50,
        "before: {through_ha} packets of the flow at ha"
    );

    // Bind: the correspondent first (so the Home Address option it will
    // see is expected), then the member.
    let mut c = MgaCorrespondent::open(&net.cn_pins.path).unwrap();
    c.set_flow(&flow, COA).unwrap();
    mm.set_ro_flow(&flow, COA).unwrap();
    let (ha_decap0, ha_encap0) = ha_counts(&net).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (at_ha, at_r) = std::thread::scope(|s| {
        let h = s.spawn(|| capture(&net.ha, &net.tmp, "to-r", 1, "ha-after"));
        let r = capture(&net.r, &net.tmp, "to-c", 1, "r-after");
        (h.join().unwrap().unwrap(), r.unwrap())
    });
    let after = tshark(&at_ha, &port_filter, &["frame.number"])
        .unwrap()
        .len();
    let (ha_decap1, ha_encap1) = ha_counts(&net).unwrap();
    // On cn's link: requests with the type 2 routing header, replies with
    // the Home Address option, both carrying A.
    let rh2 = tshark(
        &at_r,
        &format!("{port_filter} && ipv6.routing.type == 2 && ipv6.dst == {COA}"),
        &["ipv6.routing.segleft", "tcp.checksum.status"],
    )
    .unwrap();
    let hao = tshark(
        &at_r,
        &format!("{port_filter} && ipv6.opt.mipv6.home_address == {A} && ipv6.src == {COA}"),
        &["tcp.checksum.status"],
    )
    .unwrap();
    let plain = tshark(
        &at_r,
        &format!("{port_filter} && !ipv6.routing && !ipv6.opt.mipv6.home_address"),
        &["frame.number"],
    )
    .unwrap();
    eprintln!(
        "on cn's link in 1 s: {} with the routing header, {} with the Home Address option, {} \
         without either",
        rh2.len(),
        hao.len(),
        plain.len()
    );
    assert!(
        rh2.len() > 50 && hao.len() > 50,
        "{} {}",
        rh2.len(),
        hao.len()
    );
    assert!(plain.is_empty(), "{plain:?}");
    assert!(rh2.iter().all(|l| l.starts_with("1\t")), "segments left 1");
    // r sends the replies (its end has tx off: it wrote their checksums
    // from what the member's program left); tshark computes the pseudo
    // header with the home address as RFC 6275 says.
    assert!(
        hao.iter().all(|l| l.trim() == "1"),
        "bad checksums: {hao:?}"
    );
    if !csum_offload {
        assert!(
            rh2.iter().all(|l| l.ends_with("\t1")),
            "bad checksums: {rh2:?}"
        );
    }

    // Forged Home Address options from ha: for the bound flow from another
    // source than the CoA, and for an unbound flow from the CoA.
    let before_forged = counter(&c.counters().unwrap(), "hao_unknown");
    net.ha
        .run_in(|| {
            send_raw(&forged_hao(HA, CN, A, PORT, flow.cn_port))?;
            send_raw(&forged_hao(COA, CN, A, PORT, 9))
        })
        .expect("forged packets");

    let r = t.join().expect("8 MiB byte-exact across the switch");
    assert_eq!((r.member.as_str(), r.verified), ("m", bytes));
    eprintln!(
        "8 MiB byte-exact, route-optimised mid-transfer, in {:?}; flow packets at ha: \
         {through_ha} in 1 s before, {after} in 1 s after; ha tunnel decap +{}, encap +{} \
         after the switch",
        r.elapsed,
        ha_decap1 - ha_decap0,
        ha_encap1 - ha_encap0
    );
    assert_eq!(after, 0, "the route-optimised flow still passes ha");

    let cc = c.counters().unwrap();
    let mc = mm.counters().unwrap();
    let dc = Decap::open(&net.m_pins.path).unwrap().counters().unwrap();
    eprintln!("correspondent: {cc:?}\nmember egress: {mc:?}\nmember ingress: {dc:?}");
    // tc (egress) counts skbs, GSO packets once; XDP (ingress) wire packets.
    assert!(counter(&cc, "rh2") > 100, "{cc:?}");
    assert!(counter(&mc, "hao") > 100, "{mc:?}");
    assert!(counter(&cc, "hao") > 500, "{cc:?}");
    assert!(counter(&dc, "rh2") > 500, "{dc:?}");
    assert_eq!(counter(&cc, "hao_unknown") - before_forged, 2, "{cc:?}");
    assert_eq!(counter(&cc, "drop_hao_bad"), 0, "{cc:?}");
    assert_eq!(
        counter(&mc, "drop_too_big") + counter(&mc, "drop_adjust"),
        0
    );
    assert_eq!(
        counter(&cc, "drop_too_big") + counter(&cc, "drop_adjust"),
        0
    );
}

/// IPv6 + Destination Options (Home Address `home`) + a TCP header from
/// `home`:`sport` to `dst`:`dport` (checksum left 0: it never gets that far).
fn forged_hao(src: Ipv6Addr, dst: Ipv6Addr, home: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0, 0, 24 + 20, 60, 64];
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[6, 2, 1, 2, 0, 0, 201, 16]);
    p.extend_from_slice(&home.octets());
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    p
}

/// Sends a whole IPv6 packet from a raw socket (IPPROTO_RAW: the kernel
/// takes our header, routes by its destination).
fn send_raw(packet: &[u8]) -> Result<()> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let s = Socket::new(
        Domain::IPV6,
        Type::RAW,
        Some(Protocol::from(libc::IPPROTO_RAW)),
    )?;
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&packet[24..40])?);
    s.send_to(packet, &SockAddr::from(SocketAddrV6::new(dst, 0, 0, 0)))?;
    Ok(())
}
