//! A hostile RIPng peer cannot make anycast6d hold unbounded state
//! (docs/arip.md §6): a sender in namespace `h` floods router `r` with
//! 100 000 distinct routes, over and over, while a well-behaved ARIP router
//! `g` announces a few prefixes and an anycast /128 whose member sits
//! behind it.
//!
//! ```text
//!   h (python3: RIPng responses, 72 RTEs each, from fe80::…:521 to ff02::9)
//!   │ h-r
//!   r  anycast6d, ARIP on r-h and r-g, max_routes_per_neighbor 1000
//!   │ r-g
//!   g  anycast6d, ARIP on g-r; group ANYCAST with member m; connected
//!   │ g-m         2001:db8:72..75::/64 announced
//!   m  2001:db8:72::10
//! ```
//!
//! What must hold: r keeps exactly 1000 of h's routes (the per-neighbour
//! limit) plus g's in its kernel table, g's routes and the anycast FIB
//! entry stay right, `show arip` answers throughout, the refusals are
//! counted and the limit is logged once; anycast6d's resident memory is
//! measured before, during and after the flood and stays far below what
//! 100 000 routes would take.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use anycast6_tests::daemon::DaemonCfg;
use anycast6_tests::proto;
use anycast6_tests::{require_root, wait_for, Daemon, MemberCfg, Netns, Proc, TempDir};

const ANYCAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0x71);
const MEMBER: &str = "2001:db8:72::10";
/// What g announces besides the anycast address (its connected prefixes
/// but the one it shares with r, which r originates itself).
const GOOD_PREFIXES: [&str; 4] = [
    "2001:db8:72::/64",
    "2001:db8:73::/64",
    "2001:db8:74::/64",
    "2001:db8:75::/64",
];
const FLOOD_ROUTES: u32 = 100_000;
const PER_NEIGHBOR: usize = 1000;
const TOTAL: usize = 4000;
const FLOOD_FOR: Duration = Duration::from_secs(12);
/// Datagrams per second: 144 000 RTEs/s, a whole flood every 0.7 s (about
/// what a debug build of anycast6d parses; what it cannot, the kernel drops
/// at the socket, counted in Udp6RcvbufErrors and printed).
const FLOOD_PPS: u32 = 2000;
/// Generous bound on what the flood may add to anycast6d's resident
/// memory. Measured here (debug build): +4 MiB for the 1000 routes kept and
/// the `show` answers in flight; the same flood for 30 s with the limits
/// raised to 100 000 grew anycast6d from 22 to 377 MiB (the table, and the
/// `show arip` answers that list it), `show arip` taking up to 9 s.
const RSS_GROWTH_BOUND_KIB: u64 = 48 * 1024;

/// The hostile sender: valid RIPng responses (RFC 2080 §2.1), 72 RTEs per
/// packet (MTU 1500), `n` distinct /64s in 2001:db8:8000::/31, metric 1,
/// tag 0, from the interface's link-local address and port 521 to
/// ff02::9:521 with hop limit 255, repeated for `seconds` at `rate`
/// packets per second.
const SENDER: &str = r#"
import socket, struct, sys, time
ifname, src, n, seconds, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
ifindex = socket.if_nametoindex(ifname)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind((src, 521, 0, ifindex))
def rte(i):
    prefix = struct.pack("!HHHH", 0x2001, 0x0db8, 0x8000 | (i >> 16), i & 0xffff) + bytes(8)
    return prefix + struct.pack("!HBB", 0, 64, 1)
packets = []
for first in range(0, n, 72):
    body = b"".join(rte(i) for i in range(first, min(n, first + 72)))
    packets.append(b"\x02\x01\x00\x00" + body)
dst = ("ff02::9", 521, 0, ifindex)
start = time.monotonic()
sent = errors = sweeps = 0
while time.monotonic() - start < seconds:
    for p in packets:
        ahead = start + sent / rate - time.monotonic()
        if ahead > 0.002:
            time.sleep(ahead)
        try:
            s.sendto(p, dst)
        except OSError:
            errors += 1
        sent += 1
    sweeps += 1
print(f"routes={n} packets_per_sweep={len(packets)} sweeps={sweeps} packets={sent} errors={errors} rtes={sweeps * n}", flush=True)
"#;

struct Net {
    tmp: TempDir,
    h: Netns,
    r: Netns,
    g: Netns,
    _m: Netns,
}

fn build(short: &str) -> Net {
    let tmp = TempDir::new(short).expect("tmp");
    let ns = |x: &str| Netns::new(&format!("{short}{x}")).expect("netns");
    let (h, r, g, m) = (ns("h"), ns("r"), ns("g"), ns("m"));
    r.enable_forwarding().unwrap();
    g.enable_forwarding().unwrap();
    let link = |a: &Netns, ai: &str, aa: &str, b: &Netns, bi: &str, ba: &str| {
        proto::link(a, ai, aa, b, bi, ba).expect("link")
    };
    link(
        &h,
        "h-r",
        "2001:db8:70::2/64",
        &r,
        "r-h",
        "2001:db8:70::1/64",
    );
    link(
        &g,
        "g-r",
        "2001:db8:71::2/64",
        &r,
        "r-g",
        "2001:db8:71::1/64",
    );
    link(
        &g,
        "g-m",
        "2001:db8:72::1/64",
        &m,
        "m-g",
        &format!("{MEMBER}/64"),
    );
    for p in [
        "2001:db8:73::1/64",
        "2001:db8:74::1/64",
        "2001:db8:75::1/64",
    ] {
        g.add_addr("g-m", p).unwrap();
    }
    m.add_route("default", "2001:db8:72::1").unwrap();
    Net {
        tmp,
        h,
        r,
        g,
        _m: m,
    }
}

/// The link-local address of `dev` (the kernel adds it shortly after the
/// link comes up).
fn link_local(ns: &Netns, dev: &str) -> Ipv6Addr {
    let read = || -> Option<Ipv6Addr> {
        let out = ns
            .ip(&["-6", "-j", "addr", "show", "dev", dev, "scope", "link"])
            .ok()?;
        let v: serde_json::Value = serde_json::from_str(&out).ok()?;
        // Filtered-out addresses leave `{}` in the list.
        v[0]["addr_info"]
            .as_array()?
            .iter()
            .find_map(|a| a["local"].as_str()?.parse().ok())
    };
    let mut found = None;
    wait_for(
        &format!("link-local address on {dev}"),
        Duration::from_secs(5),
        || {
            found = read();
            found.is_some()
        },
    )
    .unwrap();
    found.unwrap()
}

/// anycast6d's resident set, KiB (/proc/<pid>/status VmRSS).
fn rss_kib(d: &Daemon) -> u64 {
    let pid = d.pid().expect("running");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// r's ARIP kernel routes (protocol 0xa6): (hostile, the others).
fn kernel_routes(r: &Netns) -> (usize, Vec<String>) {
    let out = r.ip(&["-6", "route", "show", "proto", "166"]).unwrap();
    let hostile = out
        .lines()
        .filter(|l| l.starts_with("2001:db8:8000:") || l.starts_with("2001:db8:8001:"))
        .count();
    let others = out
        .lines()
        .filter(|l| !(l.starts_with("2001:db8:8000:") || l.starts_with("2001:db8:8001:")))
        .map(str::to_string)
        .collect();
    (hostile, others)
}

/// g's prefixes are in r's kernel table, each via g's link-local on r-g.
fn good_routes_ok(others: &[String], g_ll: Ipv6Addr) -> Result<(), String> {
    for p in GOOD_PREFIXES {
        let want = format!("{p} via {g_ll} dev r-g ");
        if !others.iter().any(|l| l.starts_with(&want)) {
            return Err(format!("no `{want}` in {others:#?}"));
        }
    }
    if others.len() != GOOD_PREFIXES.len() {
        return Err(format!("unexpected ARIP kernel routes: {others:#?}"));
    }
    Ok(())
}

/// The anycast address is in r's RIB (learned by ARIP from g) and its FIB
/// entry sends to g: one member on r-g with g's MAC.
fn anycast_ok(rd: &Daemon, g_ll: Ipv6Addr, r_g_ifindex: u32, g_mac: &str) -> Result<(), String> {
    let rib = rd
        .ctl_json(&["show", "rib"])
        .map_err(|e| format!("{e:#}"))?;
    let rows: Vec<&serde_json::Value> = rib
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["group"] == ANYCAST.to_string())
        .collect();
    let ll = g_ll.to_string();
    let ok = rows.len() == 1
        && rows[0]["source"] == "arip"
        && rows[0]["ifindex"] == r_g_ifindex
        && (rows[0]["next_hop"] == ll || rows[0]["address"] == ll)
        && rows[0]["state"] == "active";
    if !ok {
        return Err(format!("RIB rows of {ANYCAST}: {rows:#?}"));
    }
    let fib = rd
        .ctl_json(&["show", "fib"])
        .map_err(|e| format!("{e:#}"))?;
    let gid = fib["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["route"] == ANYCAST.to_string() || r["route"] == format!("{ANYCAST}/128"))
        .and_then(|r| r["group_id"].as_u64())
        .ok_or_else(|| format!("{ANYCAST} not in the FIB: {fib:#}"))?;
    let group = fib["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["group_id"] == gid)
        .ok_or_else(|| format!("group {gid} not in the FIB: {fib:#}"))?;
    let members = group["members"].as_array().cloned().unwrap_or_default();
    let ok = members.len() == 1
        && members[0]["ifindex"] == r_g_ifindex
        && members[0]["dmac"].as_str().map(str::to_lowercase) == Some(g_mac.to_lowercase());
    if !ok {
        return Err(format!("FIB group of {ANYCAST}: {group:#}"));
    }
    Ok(())
}

/// Datagrams the kernel dropped in `ns` because a UDP socket's receive
/// buffer was full.
fn udp_rcvbuf_errors(ns: &Netns) -> u64 {
    ns.exec("cat", &["/proc/net/snmp6"])
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Udp6RcvbufErrors"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn neighbour(arip: &serde_json::Value, addr: Ipv6Addr) -> Option<&serde_json::Value> {
    arip["view"]["neighbors"]
        .as_array()?
        .iter()
        .find(|n| n["addr"] == addr.to_string())
}

#[test]
fn a_hostile_ripng_peer_cannot_make_the_router_hold_unbounded_state() {
    if !require_root("a_hostile_ripng_peer_cannot_make_the_router_hold_unbounded_state") {
        return;
    }
    let net = build("rlim");
    // Paths time out after 10 s: g's updates (every second) must get
    // through the flood at least once in that time.
    let arip = |ifs: &[&str]| proto::arip_router(ifs, 10_000, 2000);
    let gcfg = DaemonCfg {
        extra: arip(&["g-r"]),
        ..DaemonCfg::default()
    }
    .interface("g-r", "native")
    .interface("g-m", "native")
    .group(
        &ANYCAST.to_string(),
        vec![MemberCfg::on_link(MEMBER, "g-m")],
    );
    let rcfg = DaemonCfg {
        extra: format!(
            "{}max_routes = {TOTAL}\nmax_routes_per_neighbor = {PER_NEIGHBOR}\n\
             routes_warn_percent = 75\n",
            arip(&["r-h", "r-g"])
        ),
        ..DaemonCfg::default()
    }
    .interface("r-g", "native");
    let gd = Daemon::start(&net.g, &net.tmp, "g", &gcfg).expect("g");
    let rd = Daemon::start(&net.r, &net.tmp, "r", &rcfg).expect("r");
    let g_ll = link_local(&net.g, "g-r");
    let h_ll = link_local(&net.h, "h-r");
    let g_mac = net.g.mac("g-r").unwrap();
    let r_g_ifindex = net.r.ifindex("r-g").unwrap();

    // Converged on the good neighbour's routes before anything hostile.
    wait_for("r learned g's routes", Duration::from_secs(30), || {
        good_routes_ok(&kernel_routes(&net.r).1, g_ll).is_ok()
            && anycast_ok(&rd, g_ll, r_g_ifindex, &g_mac).is_ok()
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nkernel: {:#?}\nanycast: {:?}\nr log:\n{}\ng log:\n{}",
            kernel_routes(&net.r).1,
            anycast_ok(&rd, g_ll, r_g_ifindex, &g_mac),
            rd.log(),
            gd.log()
        )
    });
    std::thread::sleep(Duration::from_secs(1));
    let rss_before = rss_kib(&rd);

    // The flood: 100 000 distinct routes, again and again.
    let script = net.tmp.join("ripng_flood.py");
    std::fs::write(&script, SENDER).unwrap();
    let mut cmd = net.h.command("python3");
    cmd.arg(&script).args([
        "h-r",
        &h_ll.to_string(),
        &FLOOD_ROUTES.to_string(),
        &FLOOD_FOR.as_secs().to_string(),
        &FLOOD_PPS.to_string(),
    ]);
    let flood_log = net.tmp.join("flood.log");
    let mut flood = Proc::spawn("flood", cmd, flood_log.clone()).expect("python3 sender");
    let t0 = Instant::now();

    // While it runs: `show arip` answers, memory, kernel table, g's routes.
    let (mut worst, mut answers, mut rss_during, mut most_hostile) =
        (Duration::ZERO, 0u32, 0u64, 0usize);
    let mut reached_at = None;
    while flood.running() {
        let t = Instant::now();
        let v = rd
            .ctl_json(&["show", "arip"])
            .expect("show arip during the flood");
        let took = t.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "show arip took {took:?} during the flood"
        );
        worst = worst.max(took);
        answers += 1;
        rss_during = rss_during.max(rss_kib(&rd));
        let (hostile, others) = kernel_routes(&net.r);
        assert!(
            hostile <= PER_NEIGHBOR,
            "{hostile} hostile kernel routes, limit {PER_NEIGHBOR}"
        );
        most_hostile = most_hostile.max(hostile);
        if hostile == PER_NEIGHBOR && reached_at.is_none() {
            reached_at = Some(t0.elapsed());
        }
        if let Err(e) = good_routes_ok(&others, g_ll) {
            panic!("g's routes during the flood: {e}");
        }
        let held = neighbour(&v, h_ll).and_then(|n| n["routes_held"].as_u64());
        assert!(
            held.is_none_or(|h| h <= PER_NEIGHBOR as u64),
            "held {held:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let flood_took = t0.elapsed();
    let sender = std::fs::read_to_string(&flood_log).unwrap_or_default();
    assert!(
        flood.exit_status().is_some_and(|s| s.success()),
        "sender: {sender}"
    );
    eprintln!("sender: {}", sender.trim());

    // Right after the flood: exactly the limit from h, plus g's routes.
    let (hostile, others) = kernel_routes(&net.r);
    eprintln!(
        "kernel routes of r (proto 0xa6): {hostile} from h (most seen {most_hostile}, the \
         limit held after {reached_at:?}), {} from g",
        others.len()
    );
    assert_eq!(hostile, PER_NEIGHBOR, "h's routes in r's kernel table");
    good_routes_ok(&others, g_ll).unwrap();
    anycast_ok(&rd, g_ll, r_g_ifindex, &g_mac).unwrap();
    let v = rd.ctl_json(&["show", "arip"]).unwrap();
    let hn = neighbour(&v, h_ll).expect("h is a neighbour").clone();
    let gn = neighbour(&v, g_ll).expect("g is a neighbour").clone();
    let refused = hn["routes_refused"].as_u64().unwrap();
    let counters = &v["counters"]["refused_routes"];
    let limit = &v["view"]["route_limit"];
    eprintln!(
        "show arip: h holds {} refused {refused}; g holds {} refused {}; in all {limit}; \
         counters {counters}",
        hn["routes_held"], gn["routes_held"], gn["routes_refused"]
    );
    assert_eq!(hn["routes_held"], PER_NEIGHBOR);
    assert!(
        refused >= u64::from(FLOOD_ROUTES) - PER_NEIGHBOR as u64,
        "at least one whole flood refused: {refused}"
    );
    assert_eq!(gn["routes_refused"], 0, "nothing of g refused");
    assert_eq!(counters["neighbor_limit"], refused);
    assert_eq!(counters["total_limit"], 0);
    assert_eq!(limit["refused"], refused);
    assert_eq!(
        limit["held"].as_u64(),
        Some(PER_NEIGHBOR as u64 + gn["routes_held"].as_u64().unwrap())
    );
    let text = rd.ctl(&["show", "arip"]).unwrap();
    assert!(
        text.contains(&format!(
            "route limit: {} held of max_routes {TOTAL}",
            limit["held"]
        )) && text.contains(&refused.to_string()),
        "{text}"
    );

    eprintln!(
        "r's UDP receive buffer drops (Udp6RcvbufErrors): {}",
        udp_rcvbuf_errors(&net.r)
    );

    // h stops: its paths time out (10 s) and are collected (2 s); the room
    // comes back, g's routes and the anycast entry never moved.
    wait_for("h's routes gone", Duration::from_secs(30), || {
        kernel_routes(&net.r).0 == 0
    })
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let rss_after = rss_kib(&rd);
    good_routes_ok(&kernel_routes(&net.r).1, g_ll).unwrap();
    anycast_ok(&rd, g_ll, r_g_ifindex, &g_mac).unwrap();
    let v = rd.ctl_json(&["show", "arip"]).unwrap();
    assert_eq!(
        v["view"]["route_limit"]["held"], gn["routes_held"],
        "{:#}",
        v["view"]["route_limit"]
    );

    // The log said it once: one warning, one limit, then back below.
    let log = rd.log();
    let lines = |needle: &str| log.lines().filter(|l| l.contains(needle)).count();
    let warned = lines("ARIP route limit: warning threshold reached");
    let reached = lines("ARIP route limit reached");
    let cleared = lines("ARIP route limit: back below the warning threshold");
    eprintln!("log: {warned} warning, {reached} limit reached, {cleared} back below");
    assert_eq!((warned, reached, cleared), (1, 1, 1), "r log:\n{log}");
    assert!(
        log.lines().any(|l| l.contains("ARIP route limit reached")
            && l.contains(&h_ll.to_string())
            && l.contains("max_routes_per_neighbor")),
        "the limit line names the neighbour and the key"
    );

    // Memory: what the flood added.
    let grew = rss_during.saturating_sub(rss_before);
    eprintln!(
        "anycast6d VmRSS: before {rss_before} KiB, during the flood (max) {rss_during} KiB \
         (+{grew} KiB, bound {RSS_GROWTH_BOUND_KIB} KiB), after {rss_after} KiB"
    );
    eprintln!(
        "show arip --json during the flood: {answers} answers, worst {worst:?} (flood \
         {flood_took:?})"
    );
    assert!(
        grew < RSS_GROWTH_BOUND_KIB,
        "anycast6d grew by {grew} KiB during the flood (bound {RSS_GROWTH_BOUND_KIB} KiB)"
    );
    assert!(
        rss_after < rss_before + RSS_GROWTH_BOUND_KIB,
        "after: {rss_after} KiB"
    );
    drop(gd);
}
