//! OSPFv3 interop smoke test of the harness, with no anycast6 code: FRR
//! 8.4 ospf6d and BIRD 2 in two namespaces, F and B, joined by a veth.
//! Each has a /128 on its lo and redistributes (FRR) or exports (BIRD) its
//! connected prefixes; each must reach Full with the other and install the
//! other's /128 in its kernel table (`proto ospf` from zebra, `proto bird`).
//!
//! - broadcast: DR election (BIRD, the higher router id, is DR);
//! - point-to-point;
//! - HMAC-SHA-256 (RFC 7166) with the same key id and key at both ends:
//!   they never reach Full. FRR 8.4 keys its HMAC with the Cryptographic
//!   Protocol ID in host order (K || 01 00, fixed upstream by
//!   FRRouting/frr#14146), BIRD as the RFC says (K || 00 01), so each
//!   drops all of the other's packets (docs/aospf.md §2). The same configs
//!   do reach Full FRR with FRR and BIRD with BIRD, which this test shows
//!   beside it, so the failure is the key preparation, not the config.

use std::time::{Duration, Instant};

use anycast6_tests::bird::{Bird, OSPF_PROTOCOL};
use anycast6_tests::frr::Frr;
use anycast6_tests::ospf::{OspfIf, OspfNetwork};
use anycast6_tests::{require_root, veth, wait_until, Netns, TempDir};

const F_ID: &str = "10.0.0.1";
const B_ID: &str = "10.0.0.2";
const F_LO: &str = "2001:db8:f0::1";
const B_LO: &str = "2001:db8:b0::1";
const KEY: (u16, &str) = (1, "anycast6-test-key");
/// Full and both kernel routes, from starting the daemons (hello 1 s,
/// dead 4 s; FRR waits the dead interval on broadcast links before the
/// election, then MinLSInterval).
const CONVERGE: Duration = Duration::from_secs(40);

/// Two namespaces joined by a veth `<a>-<b>` / `<b>-<a>`, 2001:db8:fb::1
/// and ::2/64 on it, `lo_a` and `lo_b` on the two lo.
struct Pair {
    a: Netns,
    b: Netns,
    a_if: String,
    b_if: String,
}

fn pair(short: &str, lo_a: &str, lo_b: &str) -> Pair {
    let a = Netns::new(&format!("{short}a")).expect("netns");
    let b = Netns::new(&format!("{short}b")).expect("netns");
    let (a_if, b_if) = ("a-b".to_string(), "b-a".to_string());
    veth(&a, &a_if, &b, &b_if).expect("veth");
    a.add_addr(&a_if, "2001:db8:fb::1/64").unwrap();
    b.add_addr(&b_if, "2001:db8:fb::2/64").unwrap();
    a.add_addr("lo", &format!("{lo_a}/128")).unwrap();
    b.add_addr("lo", &format!("{lo_b}/128")).unwrap();
    for ns in [&a, &b] {
        ns.enable_forwarding().unwrap();
    }
    Pair { a, b, a_if, b_if }
}

fn iface(network: OspfNetwork, auth: bool) -> OspfIf {
    OspfIf {
        network,
        auth: auth.then(|| (KEY.0, KEY.1.to_string())),
        ..OspfIf::default()
    }
}

fn start_frr(ns: &Netns, tmp: &TempDir, label: &str, rid: &str, i: &str, o: &OspfIf) -> Frr {
    let conf = Frr::ospf6_config(rid, &[(i, o.clone())], true);
    Frr::start_ospf6d(ns, tmp, label, &conf).unwrap_or_else(|e| panic!("FRR {label}: {e:#}"))
}

fn start_bird(ns: &Netns, tmp: &TempDir, label: &str, rid: &str, i: &str, o: &OspfIf) -> Bird {
    let conf = Bird::ospf_config(rid, &[(i, o.clone())], true);
    Bird::start(ns, tmp, label, &conf).unwrap_or_else(|e| panic!("BIRD {label}: {e:#}"))
}

/// The kernel route to `dst` through a link-local next hop by `proto`.
fn kernel_route(ns: &Netns, dst: &str, proto: &str) -> Option<String> {
    let out = ns.ip(&["-6", "route", "show", dst]).ok()?;
    out.lines()
        .find(|l| l.contains("via fe80::") && l.contains(&format!("proto {proto}")))
        .map(|l| l.trim().to_string())
}

fn diag(p: &Pair, frr: &Frr, bird: &Bird) -> String {
    let e = |r: anyhow::Result<String>| r.unwrap_or_else(|e| format!("{e:#}"));
    format!(
        "FRR neighbours:\n{}\nFRR database:\n{}\n{}\nBIRD:\n{}\n{}\n{}\nF kernel:\n{}\nB kernel:\n{}",
        e(frr.vtysh("show ipv6 ospf6 neighbor")),
        e(frr.vtysh("show ipv6 ospf6 database")),
        frr.logs(20),
        e(bird.birdc("show ospf neighbors")),
        e(bird.birdc(&format!("show ospf state {OSPF_PROTOCOL}"))),
        bird.log_tail(20),
        e(p.a.ip(&["-6", "route"])),
        e(p.b.ip(&["-6", "route"])),
    )
}

/// FRR in a, BIRD in b: Full both ways and each other's /128 in the
/// kernel; prints what each shows and when.
fn frr_and_bird_converge(short: &str, network: OspfNetwork) {
    let tmp = TempDir::new(short).expect("tmp");
    let p = pair(short, F_LO, B_LO);
    let o = iface(network, false);
    let t0 = Instant::now();
    let frr = start_frr(&p.a, &tmp, "f", F_ID, &p.a_if, &o);
    let bird = start_bird(&p.b, &tmp, "b", B_ID, &p.b_if, &o);

    let (mut frr_full, mut bird_full, mut f_kernel, mut b_kernel) = (None, None, None, None);
    let converged = wait_until(CONVERGE, || {
        let now = t0.elapsed();
        if frr_full.is_none() && frr.ospf6_neighbor_state(B_ID).as_deref() == Some("Full") {
            frr_full = Some(now);
        }
        if bird_full.is_none() && bird.ospf_neighbor(F_ID).is_some_and(|n| n.is_full()) {
            bird_full = Some(now);
        }
        if f_kernel.is_none() && kernel_route(&p.a, B_LO, "ospf").is_some() {
            f_kernel = Some(now);
        }
        if b_kernel.is_none() && kernel_route(&p.b, F_LO, "bird").is_some() {
            b_kernel = Some(now);
        }
        frr_full.is_some() && bird_full.is_some() && f_kernel.is_some() && b_kernel.is_some()
    });
    assert!(
        converged,
        "{network:?}: no convergence in {CONVERGE:?} (FRR Full {frr_full:?}, BIRD Full \
         {bird_full:?}, F kernel {f_kernel:?}, B kernel {b_kernel:?})\n{}",
        diag(&p, &frr, &bird)
    );

    // What each shows: the neighbour's role on the link, the route type.
    let nbrs = frr.ospf6_neighbors_json().unwrap();
    let n = &nbrs["neighbors"][0];
    let b_nbr = bird.ospf_neighbor(F_ID).unwrap();
    let routes = frr.ospf6_route_json().unwrap();
    let r = &routes["routes"][format!("{B_LO}/128")];
    match network {
        OspfNetwork::Broadcast => {
            // Equal priorities: the higher router id, BIRD, is DR.
            assert_eq!(n["ifState"], "DR", "{nbrs:#}");
            assert_eq!(n["interfaceState"], "BDR", "{nbrs:#}");
            assert_eq!(b_nbr.state, "Full/BDR", "{b_nbr:?}");
        }
        OspfNetwork::PointToPoint => {
            assert_eq!(n["interfaceState"], "PointToPoint", "{nbrs:#}");
            assert_eq!(b_nbr.state, "Full/PtP", "{b_nbr:?}");
        }
    }
    // BIRD's lo /128 is a direct route it exports: an AS-External-LSA.
    assert_eq!(r["pathType"], "E2", "{routes:#}");
    let bird_route = bird.route(&format!("{F_LO}/128")).unwrap();
    assert!(
        bird_route.contains(&format!("[{OSPF_PROTOCOL} ")) && bird_route.contains(" E2 "),
        "{bird_route}"
    );
    eprintln!("{network:?}: FRR sees {n}");
    eprintln!("{network:?}: BIRD sees {b_nbr:?}");
    eprintln!("{network:?}: FRR route {B_LO}/128 {r}");
    // birdc's banner and table name go; the route and its attributes stay.
    let bird_route: Vec<&str> = bird_route
        .lines()
        .filter(|l| !l.starts_with("BIRD ") && !l.starts_with("Table "))
        .collect();
    eprintln!("{network:?}: BIRD route:\n{}", bird_route.join("\n"));
    let learned: Vec<&String> = routes["routes"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    eprintln!("{network:?}: FRR's OSPF routes: {learned:?}");
    eprintln!(
        "{network:?}: F kernel: {}",
        kernel_route(&p.a, B_LO, "ospf").unwrap()
    );
    eprintln!(
        "{network:?}: B kernel: {}",
        kernel_route(&p.b, F_LO, "bird").unwrap()
    );
    let ms = |d: Option<Duration>| d.unwrap().as_millis();
    eprintln!(
        "{network:?}: from starting the daemons (FRR up {:?}, BIRD up {:?}): FRR Full at {} ms, \
         BIRD Full at {} ms, F kernel route at {} ms, B kernel route at {} ms",
        frr.startup,
        bird.startup,
        ms(frr_full),
        ms(bird_full),
        ms(f_kernel),
        ms(b_kernel)
    );
}

#[test]
fn frr_and_bird_ospf6_broadcast() {
    if !require_root("frr_and_bird_ospf6_broadcast") {
        return;
    }
    frr_and_bird_converge("o6bc", OspfNetwork::Broadcast);
}

#[test]
fn frr_and_bird_ospf6_point_to_point() {
    if !require_root("frr_and_bird_ospf6_point_to_point") {
        return;
    }
    frr_and_bird_converge("o6pp", OspfNetwork::PointToPoint);
}

/// FRR↔BIRD with the same HMAC-SHA-256 key never reach Full (see the
/// module notes); FRR↔FRR and BIRD↔BIRD with the same interface settings
/// do, and learn each other's /128.
#[test]
fn frr_and_bird_ospf6_auth_do_not_interoperate() {
    if !require_root("frr_and_bird_ospf6_auth_do_not_interoperate") {
        return;
    }
    let tmp = TempDir::new("o6au").expect("tmp");
    let o = iface(OspfNetwork::PointToPoint, true);
    // FRR↔BIRD, and the two controls.
    let x = pair("o6ax", F_LO, B_LO);
    let ff = pair("o6af", F_LO, B_LO);
    let bb = pair("o6ab", F_LO, B_LO);
    let t0 = Instant::now();
    let frr = start_frr(&x.a, &tmp, "xf", F_ID, &x.a_if, &o);
    let bird = start_bird(&x.b, &tmp, "xb", B_ID, &x.b_if, &o);
    let frr1 = start_frr(&ff.a, &tmp, "f1", F_ID, &ff.a_if, &o);
    let frr2 = start_frr(&ff.b, &tmp, "f2", B_ID, &ff.b_if, &o);
    let bird1 = start_bird(&bb.a, &tmp, "b1", F_ID, &bb.a_if, &o);
    let bird2 = start_bird(&bb.b, &tmp, "b2", B_ID, &bb.b_if, &o);

    // The controls converge: Full, and each /128 in the other's kernel.
    let (mut ff_done, mut bb_done) = (None, None);
    let controls = wait_until(CONVERGE, || {
        if ff_done.is_none()
            && frr1.ospf6_neighbor_state(B_ID).as_deref() == Some("Full")
            && frr2.ospf6_neighbor_state(F_ID).as_deref() == Some("Full")
            && kernel_route(&ff.a, B_LO, "ospf").is_some()
            && kernel_route(&ff.b, F_LO, "ospf").is_some()
        {
            ff_done = Some(t0.elapsed());
        }
        if bb_done.is_none()
            && bird1.ospf_neighbor(B_ID).is_some_and(|n| n.is_full())
            && bird2.ospf_neighbor(F_ID).is_some_and(|n| n.is_full())
            && kernel_route(&bb.a, B_LO, "bird").is_some()
            && kernel_route(&bb.b, F_LO, "bird").is_some()
        {
            bb_done = Some(t0.elapsed());
        }
        ff_done.is_some() && bb_done.is_some()
    });
    assert!(
        controls,
        "authenticated controls did not converge in {CONVERGE:?} (FRR↔FRR {ff_done:?}, \
         BIRD↔BIRD {bb_done:?})\nFRR 1:\n{}\nFRR 2:\n{}\nBIRD 1:\n{}\nBIRD 2:\n{}",
        frr1.logs(20),
        frr2.logs(20),
        bird1.log_tail(20),
        bird2.log_tail(20)
    );
    eprintln!(
        "auth controls: FRR↔FRR Full with routes at {} ms, BIRD↔BIRD at {} ms",
        ff_done.unwrap().as_millis(),
        bb_done.unwrap().as_millis()
    );

    // FRR↔BIRD has had as long as both controls needed, and three dead
    // intervals more: no adjacency, no routes, each side refusing the
    // other's digests.
    let until = t0.elapsed() + Duration::from_secs(3 * u64::from(o.dead));
    while t0.elapsed() < until {
        let f_state = frr.ospf6_neighbor_state(B_ID);
        let b_state = bird.ospf_neighbor(F_ID);
        assert!(
            f_state.is_none() && b_state.is_none(),
            "FRR↔BIRD authenticated neighbours appeared (FRR sees {f_state:?}, BIRD sees \
             {b_state:?}): has FRR's key preparation been fixed?\n{}",
            diag(&x, &frr, &bird)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(kernel_route(&x.a, B_LO, "ospf").is_none());
    assert!(kernel_route(&x.b, F_LO, "bird").is_none());
    let drops = frr.ospf6_auth_rx_drops(&x.a_if);
    assert!(
        drops.is_some_and(|d| d >= 3),
        "FRR's authentication drops on {}: {drops:?}\n{}",
        x.a_if,
        diag(&x, &frr, &bird)
    );
    let log = bird.log_tail(400);
    let refusals = log
        .lines()
        .filter(|l| {
            l.contains(&format!("Authentication failed for nbr {F_ID}"))
                && l.contains("wrong authentication code")
        })
        .count();
    assert!(refusals >= 3, "BIRD's log:\n{log}");
    eprintln!(
        "FRR↔BIRD with HMAC-SHA-256: no adjacency after {} ms; FRR dropped {} of BIRD's packets \
         (authInfo.rxPktDrop), BIRD logged {refusals} times: {}",
        t0.elapsed().as_millis(),
        drops.unwrap(),
        log.lines()
            .rfind(|l| l.contains("Authentication failed"))
            .unwrap_or_default()
            .trim()
    );
}
