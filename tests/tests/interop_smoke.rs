//! Interop smoke test: FRR ripngd and BIRD RIPng as real routers in two
//! namespaces, F and B, joined by a veth. Each has a global /64 on the
//! link and one stub prefix of its own (a veth pair inside its namespace:
//! this kernel has no `dummy` links); each must learn the other's stub as a
//! RIPng route, in its protocol table and in its kernel table. A capture of
//! the link decodes in tshark as RIPng with no malformed field, every
//! packet at hop limit 255 (RFC 2080; BIRD runs with `ttl security on`).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use anycast6_tests::bird::{Bird, RIP_PROTOCOL};
use anycast6_tests::frr::Frr;
use anycast6_tests::{require_root, veth, wait_for, wait_until, Netns, Proc, TempDir};

const F_STUB: &str = "2001:db8:f1::/64";
const B_STUB: &str = "2001:db8:b1::/64";
/// RIPng timers (update, timeout, garbage), seconds.
const TIMERS: (u32, u32, u32) = (1, 6, 4);

/// A veth pair with both ends in `ns`, both up, `cidr` on `dev`: a
/// connected prefix that goes nowhere (a stub network).
fn stub(ns: &Netns, dev: &str, cidr: &str) {
    let peer = format!("{dev}p");
    ns.ip(&["link", "add", dev, "type", "veth", "peer", "name", &peer])
        .expect("stub veth");
    ns.ip(&["link", "set", dev, "up"]).unwrap();
    ns.ip(&["link", "set", &peer, "up"]).unwrap();
    ns.add_addr(dev, cidr).unwrap();
}

#[test]
fn frr_and_bird_exchange_ripng_routes() {
    if !require_root("frr_and_bird_exchange_ripng_routes") {
        return;
    }
    let tmp = TempDir::new("interop").expect("tmp");
    let f = Netns::new("frr").expect("ns F");
    let b = Netns::new("bird").expect("ns B");
    veth(&f, "f-b", &b, "b-f").expect("veth F-B");
    f.add_addr("f-b", "2001:db8:fb::1/64").unwrap();
    b.add_addr("b-f", "2001:db8:fb::2/64").unwrap();
    stub(&f, "f-stub", "2001:db8:f1::1/64");
    stub(&b, "b-stub", "2001:db8:b1::1/64");
    for ns in [&f, &b] {
        ns.enable_forwarding().unwrap();
    }

    // The capture starts first and runs 3 s over the routers' start.
    let pcap = tmp.join("f-b.pcap");
    let mut cmd = f.command("tshark");
    cmd.args([
        "-n",
        "-q",
        "-i",
        "f-b",
        "-f",
        "udp port 521",
        "-a",
        "duration:3",
        "-w",
    ])
    .arg(&pcap);
    let mut cap = Proc::spawn("tshark", cmd, tmp.join("tshark.log")).expect("tshark");
    wait_for("tshark capturing", Duration::from_secs(10), || {
        cap.log().contains("Capturing on") || !cap.running()
    })
    .expect("tshark starts");

    let t0 = Instant::now();
    let frr = Frr::start(&f, &tmp, "f", &Frr::ripng_config(&["f-b"], TIMERS)).expect("FRR");
    let bird = Bird::start(
        &b,
        &tmp,
        "b",
        &Bird::ripng_config("10.0.0.2", &["b-f"], &["b-f", "b-stub"], TIMERS),
    )
    .expect("BIRD");
    let started = t0.elapsed();

    // Each learns the other's stub, in its RIB and in the kernel.
    let diag = |frr: &Frr, bird: &Bird| {
        format!(
            "FRR:\n{}\n{}\nBIRD:\n{}\n{}\n{}\nF kernel:\n{}\nB kernel:\n{}",
            frr.vtysh("show ipv6 ripng")
                .unwrap_or_else(|e| format!("{e:#}")),
            frr.logs(20),
            bird.birdc(&format!("show protocols all {RIP_PROTOCOL}"))
                .unwrap_or_else(|e| format!("{e:#}")),
            bird.show_route().unwrap_or_else(|e| format!("{e:#}")),
            bird.log_tail(20),
            f.ip(&["-6", "route"]).unwrap_or_default(),
            b.ip(&["-6", "route"]).unwrap_or_default(),
        )
    };
    let mut frr_learned = None;
    let mut bird_learned = None;
    let mut f_kernel = None;
    let mut b_kernel = None;
    let in_kernel = |ns: &Netns, prefix: &str| {
        ns.ip(&["-6", "route", "show", prefix])
            .is_ok_and(|s| s.contains("via fe80::"))
    };
    // Each time is the poll that first saw it: at most one poll (`prev`,
    // a few vtysh/birdc/ip runs) after the fact.
    let mut prev = started;
    let mut polls = 0u32;
    let converged = wait_until(Duration::from_secs(30), || {
        let now = t0.elapsed();
        polls += 1;
        if frr_learned.is_none() && frr.has_route(B_STUB, "ripng") {
            frr_learned = Some(now);
        }
        if bird_learned.is_none() && bird.has_route_from(F_STUB, RIP_PROTOCOL) {
            bird_learned = Some(now);
        }
        if f_kernel.is_none() && in_kernel(&f, B_STUB) {
            f_kernel = Some(now);
        }
        if b_kernel.is_none() && in_kernel(&b, F_STUB) {
            b_kernel = Some(now);
        }
        let done = frr_learned.is_some()
            && bird_learned.is_some()
            && f_kernel.is_some()
            && b_kernel.is_some();
        if !done {
            prev = now;
        }
        done
    });
    assert!(
        converged,
        "no convergence in 30 s (FRR learned {frr_learned:?}, BIRD learned {bird_learned:?}, \
         F kernel {f_kernel:?}, B kernel {b_kernel:?})\n{}",
        diag(&frr, &bird)
    );

    // What each side shows.
    let routes = frr.routes_json().unwrap();
    let r = &routes[B_STUB][0];
    assert_eq!(r["protocol"], "ripng", "{routes:#}");
    let bird_route = bird.route(F_STUB).unwrap();
    assert!(bird_route.contains(RIP_PROTOCOL), "{bird_route}");
    let fk = f.ip(&["-6", "route", "show", B_STUB]).unwrap();
    let bk = b.ip(&["-6", "route", "show", F_STUB]).unwrap();
    eprintln!("FRR: {B_STUB} {r}");
    eprintln!("BIRD:\n{}", bird_route.trim());
    eprintln!("F kernel: {}", fk.trim());
    eprintln!("B kernel: {}", bk.trim());
    // BIRD marks its kernel routes `proto bird`.
    assert!(bk.contains("proto bird"), "{bk}");

    // The capture: RIPng from both routers, none malformed, hop limit 255.
    wait_for("capture done", Duration::from_secs(15), || !cap.running()).expect("tshark ends");
    let v = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(&pcap)
        .arg("-V")
        .output()
        .expect("tshark -r");
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(!text.contains("Malformed"), "{text}");
    let fields = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "ipv6.src",
            "-e",
            "ipv6.hlim",
            "-e",
            "ripng.cmd",
        ])
        .output()
        .expect("tshark fields");
    let fields = String::from_utf8_lossy(&fields.stdout);
    // (source, hop limit, command) -> packets
    let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for line in fields.lines() {
        let mut it = line.split('\t').map(str::to_string);
        let key = (
            it.next().unwrap_or_default(),
            it.next().unwrap_or_default(),
            it.next().unwrap_or_default(),
        );
        *seen.entry(key).or_default() += 1;
    }
    let ll = |ns: &Netns, dev: &str| -> String {
        let out = ns.ip(&["-j", "-6", "addr", "show", "dev", dev]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v[0]["addr_info"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["scope"] == "link")
            .and_then(|a| a["local"].as_str())
            .unwrap()
            .to_string()
    };
    let (f_ll, b_ll) = (ll(&f, "f-b"), ll(&b, "b-f"));
    let packets: usize = seen.values().sum();
    eprintln!("capture on f-b, 3 s: {packets} RIPng packets (command 1 = request, 2 = response)");
    for ((src, hlim, cmd), n) in &seen {
        let who = if *src == f_ll {
            "FRR"
        } else if *src == b_ll {
            "BIRD"
        } else {
            "?"
        };
        eprintln!("  {who:4} {src} hop limit {hlim} command {cmd}: {n}");
    }
    assert!(
        text.matches("RIPng").count() >= 2,
        "RIPng in the capture:\n{text}"
    );
    for who in [&f_ll, &b_ll] {
        assert!(
            seen.keys().any(|(s, _, c)| s == who && c == "2"),
            "no RIPng response from {who} in the capture: {seen:?}"
        );
    }
    assert!(
        seen.keys().all(|(_, h, _)| h == "255"),
        "RIPng sent at a hop limit other than 255: {seen:?}"
    );

    let ms = |d: Option<Duration>| d.map_or(0, |d| d.as_millis());
    eprintln!(
        "timings from starting the routers: FRR up {:?}, BIRD up {:?} (both at {:?}); \
         FRR learned {B_STUB} at {} ms (kernel {} ms), BIRD learned {F_STUB} at {} ms (kernel {} ms); \
         timers {TIMERS:?}; last poll before convergence at {} ms ({polls} polls)",
        frr.startup,
        bird.startup,
        started,
        ms(frr_learned),
        ms(f_kernel),
        ms(bird_learned),
        ms(b_kernel),
        prev.as_millis(),
    );
}
