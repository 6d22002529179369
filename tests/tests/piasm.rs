//! anycast6d runs PIA-SM (`[piasm]`): the control plane in real
//! namespaces, between anycast6d processes, with a plain router between
//! the core and one first-hop router.
//!
//! ```text
//!   M1 ── m-f / f-m ── FHR (ARD, PIA-SM) ── f-p / p-f ── P (plain: kernel forwarding, static routes)
//!                                                            │ p-c
//!   M2 ── m-b / b-m ── B (ARD, PIA-SM) ══ b-c / c-b ══ CORE (PIA-SM, core of A at C)
//! ```
//!
//! - `tree_through_plain_and_pia_sm_routers`: B and the core are PIM
//!   neighbours (Hellos both ways, each other's router address and the C
//!   flag); B joins on-link, the FHR (behind P) joins by unicast to C with
//!   the Router Alert; the core has both branches, weight 1 each (one ARD
//!   member behind each), in its RIB as A's members from `pia-sm` (rewrite
//!   to B's link-local on c-b, encapsulation to the FHR's router address);
//!   tshark decodes every PIA-SM packet captured on c-b and on p-c as
//!   PIMv2 with a correct checksum and no malformed field; M1's ARD leave
//!   prunes the FHR's branch at once (well within the 35 s holdtime); B's
//!   clean stop (Hello Holdtime 0, prune) removes it and its branch at once.
//!
//! - `a_pia_sm_router_on_the_way_takes_the_join`: a PIA-SM router between
//!   plain routers takes the tunnelled join (Router Alert) and becomes the
//!   first-hop router's upstream; the leave prunes both hops.
//! - `two_cores_relay_and_one_takes_over`: two cores share C and relay
//!   their branches to each other; the preferred one is killed and C moves:
//!   the other keeps the branch throughout.
//! - `hostile_peer_is_bounded_and_counted`: junk, a bad checksum, a forged
//!   core, 100 000 unknown anycast addresses and 200 end points against
//!   `max_branches = 64`: one tree, 64 branches, each refusal counted;
//!   `anycast6d --check` describes the section.
//!
//! Data down the tree, the shortcut and failover with traffic:
//! tests/tests/piasm_data.rs.

use std::time::Duration;

use anycast6_tests::proto::{
    ard_member_host, ard_router, link, piasm_branches as branches, piasm_tree as tree,
};
use anycast6_tests::{require_root, wait_for, Capture, Daemon, DaemonCfg, Netns, TempDir};
use serde_json::Value;

const A: &str = "2001:db8:ac::6f";
const C: &str = "2001:db8:c0::1";
const R_CORE: &str = "2001:db8:ff::1";
const R_FHR: &str = "2001:db8:ff::3";
const R_B: &str = "2001:db8:ff::4";

/// `[piasm]` with 1 s Hellos and 10 s joins (holdtime 35 s).
fn piasm(router: &str, ifs: &[&str], core_here: bool) -> String {
    let mut s = format!(
        "[piasm]\nrouter_address = \"{router}\"\nhello_interval_s = 1\njoin_interval_s = 10\n"
    );
    for i in ifs {
        s.push_str(&format!("[[piasm.interface]]\nname = \"{i}\"\n"));
    }
    s.push_str(&format!(
        "[[piasm.anycast]]\naddress = \"{A}\"\ncore = \"{C}\"\ncore_here = {core_here}\n"
    ));
    s
}

/// Router addresses on `lo`, forwarding on: the routers of a topology.
fn routers(nodes: &[(&Netns, &[&str])]) {
    for (n, addrs) in nodes {
        for a in *addrs {
            n.add_addr("lo", &format!("{a}/128")).unwrap();
        }
        n.enable_forwarding().unwrap();
    }
}

/// A first-hop router: ARD on `member_if`, PIA-SM on `up_if`.
fn fhr_cfg(router: &str, member_if: &str, up_if: &str) -> DaemonCfg {
    DaemonCfg {
        extra: format!(
            "{}\n{}",
            ard_router(&[member_if], None),
            piasm(router, &[up_if], false)
        ),
        ..DaemonCfg::default()
    }
}

/// The link-local address of `dev` in `ns` (the kernel adds it shortly
/// after the link comes up).
fn link_local(ns: &Netns, dev: &str) -> String {
    let mut found = None;
    wait_for("a link-local address", Duration::from_secs(10), || {
        let out = ns
            .ip(&["-6", "addr", "show", "dev", dev, "scope", "link"])
            .unwrap_or_default();
        found = out
            .split_whitespace()
            .skip_while(|w| *w != "inet6")
            .nth(1)
            .and_then(|a| a.split('/').next())
            .map(str::to_string);
        found.is_some()
    })
    .unwrap_or_else(|e| {
        panic!(
            "{dev}: {e}\n{}",
            ns.ip(&["-6", "addr", "show"]).unwrap_or_default()
        )
    });
    found.unwrap()
}

/// A's RIB candidates from PIA-SM.
fn piasm_members(d: &Daemon) -> Vec<Value> {
    d.ctl_json(&["show", "rib"])
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["group"] == A && m["source"] == "pia-sm")
        .collect()
}

/// tshark on `dev` of `ns` for PIM; waits until it captures.
fn capture(ns: &Netns, tmp: &TempDir, label: &str, dev: &str) -> Capture {
    Capture::start(ns, tmp.path(), label, dev, "ip6", &[]).expect("tshark")
}

/// `tshark -V` of the PIM packets in `file`; asserts they decode cleanly.
fn pim_decode(file: &std::path::Path) -> String {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(["-Y", "pim", "-V", "-z", "expert,warn"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "tshark -r {}", file.display());
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("Errors ("), "expert errors: {text}");
    assert!(!text.contains("Warnings ("), "expert warnings: {text}");
    assert!(!text.contains("[incorrect"), "a bad checksum: {text}");
    text
}

/// Whether `file` (perhaps still being written) holds a PIM Join/Prune.
fn has_join_prune(file: &std::path::Path) -> bool {
    std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(["-Y", "pim.type == 3", "-T", "fields", "-e", "frame.number"])
        .output()
        .is_ok_and(|o| !String::from_utf8_lossy(&o.stdout).trim().is_empty())
}

/// One line per packet of `file`.
fn summary(file: &std::path::Path) -> String {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tree_through_plain_and_pia_sm_routers() {
    if !require_root("tree_through_plain_and_pia_sm_routers") {
        return;
    }
    let tmp = TempDir::new("pim1").expect("tmp");
    let ns = |n: &str| Netns::new(&format!("pim1{n}")).expect("netns");
    let (core, p, fhr, b, m1, m2) = (ns("c"), ns("p"), ns("f"), ns("b"), ns("m1"), ns("m2"));
    link(
        &core,
        "c-p",
        "2001:db8:1::1/64",
        &p,
        "p-c",
        "2001:db8:1::2/64",
    )
    .unwrap();
    link(
        &p,
        "p-f",
        "2001:db8:2::2/64",
        &fhr,
        "f-p",
        "2001:db8:2::1/64",
    )
    .unwrap();
    link(
        &fhr,
        "f-m",
        "2001:db8:3::1/64",
        &m1,
        "m-f",
        "2001:db8:3::2/64",
    )
    .unwrap();
    link(
        &core,
        "c-b",
        "2001:db8:4::1/64",
        &b,
        "b-c",
        "2001:db8:4::2/64",
    )
    .unwrap();
    link(
        &b,
        "b-m",
        "2001:db8:5::1/64",
        &m2,
        "m-b",
        "2001:db8:5::2/64",
    )
    .unwrap();
    routers(&[(&core, &[R_CORE, C]), (&fhr, &[R_FHR]), (&b, &[R_B])]);
    p.enable_forwarding().unwrap();
    // P, the plain router, knows the core's and the FHR's addresses.
    for dst in [R_CORE, C] {
        p.add_route(&format!("{dst}/128"), "2001:db8:1::1").unwrap();
    }
    p.add_route(&format!("{R_FHR}/128"), "2001:db8:2::1")
        .unwrap();
    fhr.add_route("default", "2001:db8:2::2").unwrap();
    core.add_route(&format!("{R_FHR}/128"), "2001:db8:1::2")
        .unwrap();
    // B reaches C over c-b by the core's link-local (as a routing protocol
    // would install it).
    let core_ll = link_local(&core, "c-b");
    b.ip(&[
        "-6",
        "route",
        "add",
        &format!("{C}/128"),
        "via",
        &core_ll,
        "dev",
        "b-c",
    ])
    .unwrap();
    core.ip(&[
        "-6",
        "route",
        "add",
        &format!("{R_B}/128"),
        "via",
        "2001:db8:4::2",
    ])
    .unwrap();

    let cap_cb = capture(&core, &tmp, "cap-cb", "c-b");
    let cap_pc = capture(&p, &tmp, "cap-pc", "p-c");

    let core_cfg = DaemonCfg {
        extra: piasm(R_CORE, &["c-b", "c-p"], true),
        ..DaemonCfg::default()
    };
    let dc = Daemon::start(&core, &tmp, "pim1c", &core_cfg).expect("core");
    let df = Daemon::start(&fhr, &tmp, "pim1f", &fhr_cfg(R_FHR, "f-m", "f-p")).expect("fhr");
    let mut db = Daemon::start(&b, &tmp, "pim1b", &fhr_cfg(R_B, "b-m", "b-c")).expect("b");
    let mut dm1 = Daemon::start(
        &m1,
        &tmp,
        "pim1m1",
        &ard_member_host(A.parse().unwrap(), "2001:db8:3::2", "m-f"),
    )
    .expect("m1");
    let _dm2 = Daemon::start(
        &m2,
        &tmp,
        "pim1m2",
        &ard_member_host(A.parse().unwrap(), "2001:db8:5::2", "m-b"),
    )
    .expect("m2");

    // Neighbours: B and the core, with router addresses and the C flag.
    wait_for(
        "core and B are PIA-SM neighbours",
        Duration::from_secs(20),
        || {
            let n = dc
                .ctl_json(&["show", "piasm", "neighbors"])
                .unwrap_or_default();
            n.as_array().is_some_and(|n| {
                n.iter().any(|x| {
                    x["router_address"] == R_B && x["piasm"] == true && x["interface"] == "c-b"
                })
            })
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", dc.log()));
    let bn = db.ctl_json(&["show", "piasm", "neighbors"]).unwrap();
    assert!(
        bn.as_array()
            .unwrap()
            .iter()
            .any(|x| x["router_address"] == R_CORE && x["core"] == true),
        "{bn:#}"
    );

    // Both branches at the core, weight 1 each.
    // B joins on its link once it has the core as a PIM neighbour; until
    // then its join may come through a tunnel, as A's does.
    let b_ll = link_local(&b, "b-c");
    wait_for("two branches at the core", Duration::from_secs(30), || {
        let bs = branches(&dc);
        bs.len() == 2 && bs.iter().any(|x| x["on-link"]["neighbor"] == b_ll.as_str())
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}\ncore: {:#}\nfhr: {:#}\nb: {:#}\n{}",
            tree(&dc),
            tree(&df),
            tree(&db),
            df.log()
        )
    });
    let bs = branches(&dc);
    let on_link = bs
        .iter()
        .find(|x| x["on-link"]["neighbor"] == b_ll.as_str())
        .unwrap_or_else(|| panic!("B's on-link branch: {bs:#?}"));
    let cnt = |d: &Daemon| {
        let c = d.ctl_json(&["show", "piasm"]).unwrap()["counters"].clone();
        c.as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| *v != 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        on_link["weight"],
        1,
        "core: {}\nb: {}\nfhr: {}\nfhr tree {:#}",
        cnt(&dc),
        cnt(&db),
        cnt(&df),
        tree(&df)
    );
    let tunnel = bs
        .iter()
        .find(|x| x["tunnel"]["endpoint"] == R_FHR)
        .unwrap_or_else(|| panic!("the FHR's tunnelled branch: {bs:#?}"));
    assert_eq!(tunnel["weight"], 1);
    // The first-hop routers' view of their upstream.
    assert_eq!(
        tree(&df)["upstream"]["tunnel"]["core"],
        C,
        "{:#}",
        tree(&df)
    );
    assert_eq!(
        tree(&db)["upstream"]["on-link"]["neighbor"],
        core_ll.as_str()
    );
    assert_eq!(tree(&df)["weight"], 1);
    // B's on-link join is in c-b's capture before B goes: a capture that
    // got going late on a loaded machine has the next periodic join (10 s
    // on). Checked below, once the capture is whole.
    let seen =
        anycast6_tests::wait_until(Duration::from_secs(25), || has_join_prune(cap_cb.file()));
    eprintln!("an on-link Join/Prune in the c-b capture while B runs: {seen}");

    // The core's RIB: A's members from PIA-SM, one per branch.
    wait_for(
        "A's PIA-SM members in the core's RIB",
        Duration::from_secs(10),
        || piasm_members(&dc).len() == 2,
    )
    .unwrap_or_else(|e| panic!("{e}\n{:#?}", piasm_members(&dc)));
    let ms = piasm_members(&dc);
    let enc = ms
        .iter()
        .find(|m| m["address"] == R_FHR)
        .expect("FHR member");
    assert_eq!(enc["action"], "encap", "{enc:#}");
    let rw = ms.iter().find(|m| m["address"] == R_B).expect("B member");
    assert_eq!(rw["action"], "rewrite", "{rw:#}");
    assert_eq!(rw["interface"], "c-b", "{rw:#}");
    assert_eq!(rw["next_hop"], b_ll.as_str(), "{rw:#}");

    // M1 leaves (its clean stop sends ARD leaves): the FHR prunes at once.
    dm1.signal(libc::SIGTERM).unwrap();
    let t = std::time::Instant::now();
    wait_for("the FHR's branch pruned", Duration::from_secs(8), || {
        branches(&dc).len() == 1
    })
    .unwrap_or_else(|e| panic!("{e}\n{:#}", tree(&dc)));
    eprintln!("prune after the member's leave: {:?}", t.elapsed());
    assert!(branches(&dc)[0]["on-link"].is_object());

    // B stops cleanly: its last Hello (Holdtime 0) and prune take it and
    // its branch away at once.
    db.signal(libc::SIGTERM).unwrap();
    wait_for("B gone from the core", Duration::from_secs(8), || {
        branches(&dc).is_empty()
            && dc
                .ctl_json(&["show", "piasm", "neighbors"])
                .is_ok_and(|n| n.as_array().is_some_and(Vec::is_empty))
    })
    .unwrap_or_else(|e| panic!("{e}\n{:#}", tree(&dc)));
    wait_for("no PIA-SM members left", Duration::from_secs(10), || {
        piasm_members(&dc).is_empty()
    })
    .unwrap();

    // What was captured decodes as PIMv2: Hellos and on-link joins on c-b,
    // the FHR's unicast joins (Router Alert) on p-c.
    let cap_cb_file = cap_cb.finish();
    let cap_pc_file = cap_pc.finish();
    let cb = pim_decode(&cap_cb_file);
    assert!(cb.contains("Type: Hello (0)"), "{cb}");
    assert!(
        cb.contains("Type: Join/Prune (3)"),
        "{}",
        summary(&cap_cb_file)
    );
    assert!(cb.contains("Checksum Status: Good"), "{cb}");
    let pc = pim_decode(&cap_pc_file);
    assert!(pc.contains("Type: Join/Prune (3)"), "{pc}");
    assert!(pc.contains("Router Alert"), "{pc}");
    assert!(pc.contains(&format!("Destination Address: {C}")), "{pc}");
    assert!(pc.contains(&format!("Source Address: {R_FHR}")), "{pc}");
}

/// A PIA-SM router between plain routers takes the tunnelled join on its
/// way to C (Router Alert) and joins the core itself: the tree is
/// core → M → FHR, not core → FHR.
///
/// ```text
///   M1 ── FHR ── P1 (plain) ── M (PIA-SM) ── P2 (plain) ── CORE
/// ```
#[test]
fn a_pia_sm_router_on_the_way_takes_the_join() {
    if !require_root("a_pia_sm_router_on_the_way_takes_the_join") {
        return;
    }
    const R_M: &str = "2001:db8:ff::5";
    let tmp = TempDir::new("pim2").expect("tmp");
    let ns = |n: &str| Netns::new(&format!("pim2{n}")).expect("netns");
    let (core, p2, m, p1, fhr, m1) = (ns("c"), ns("p2"), ns("m"), ns("p1"), ns("f"), ns("m1"));
    link(
        &core,
        "c-q",
        "2001:db8:21::1/64",
        &p2,
        "q-c",
        "2001:db8:21::2/64",
    )
    .unwrap();
    link(
        &p2,
        "q-m",
        "2001:db8:22::2/64",
        &m,
        "m-q",
        "2001:db8:22::1/64",
    )
    .unwrap();
    link(
        &m,
        "m-p",
        "2001:db8:23::1/64",
        &p1,
        "p-m",
        "2001:db8:23::2/64",
    )
    .unwrap();
    link(
        &p1,
        "p-f",
        "2001:db8:24::2/64",
        &fhr,
        "f-p",
        "2001:db8:24::1/64",
    )
    .unwrap();
    link(
        &fhr,
        "f-m",
        "2001:db8:25::1/64",
        &m1,
        "m-f",
        "2001:db8:25::2/64",
    )
    .unwrap();
    routers(&[(&core, &[R_CORE, C]), (&m, &[R_M]), (&fhr, &[R_FHR])]);
    p2.enable_forwarding().unwrap();
    p1.enable_forwarding().unwrap();
    core.add_route("default", "2001:db8:21::2").unwrap();
    for dst in [R_CORE, C] {
        p2.add_route(&format!("{dst}/128"), "2001:db8:21::1")
            .unwrap();
    }
    p2.add_route("default", "2001:db8:22::1").unwrap();
    m.add_route("default", "2001:db8:22::2").unwrap();
    m.add_route(&format!("{R_FHR}/128"), "2001:db8:23::2")
        .unwrap();
    p1.add_route("default", "2001:db8:23::1").unwrap();
    p1.add_route(&format!("{R_FHR}/128"), "2001:db8:24::1")
        .unwrap();
    fhr.add_route("default", "2001:db8:24::2").unwrap();

    let dc = Daemon::start(
        &core,
        &tmp,
        "pim2c",
        &DaemonCfg {
            extra: piasm(R_CORE, &["c-q"], true),
            ..DaemonCfg::default()
        },
    )
    .expect("core");
    let dm = Daemon::start(
        &m,
        &tmp,
        "pim2m",
        &DaemonCfg {
            extra: piasm(R_M, &["m-q", "m-p"], false),
            ..DaemonCfg::default()
        },
    )
    .expect("m");
    let df = Daemon::start(&fhr, &tmp, "pim2f", &fhr_cfg(R_FHR, "f-m", "f-p")).expect("fhr");
    let mut dm1 = Daemon::start(
        &m1,
        &tmp,
        "pim2m1",
        &ard_member_host(A.parse().unwrap(), "2001:db8:25::2", "m-f"),
    )
    .expect("member");

    wait_for(
        "the core's one branch is M",
        Duration::from_secs(30),
        || {
            let b = branches(&dc);
            b.len() == 1 && b[0]["tunnel"]["endpoint"] == R_M && b[0]["weight"] == 1
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\ncore: {:#}\nm: {:#}\nfhr: {:#}\n{}",
            tree(&dc),
            tree(&dm),
            tree(&df),
            dm.log()
        )
    });
    let mb = branches(&dm);
    assert_eq!(mb.len(), 1, "{mb:#?}");
    assert_eq!(mb[0]["tunnel"]["endpoint"], R_FHR);
    assert_eq!(tree(&dm)["upstream"]["tunnel"]["core"], C);
    assert_eq!(tree(&df)["upstream"]["tunnel"]["core"], C);
    wait_for(
        "M's RIB member: the FHR by encapsulation",
        Duration::from_secs(10),
        || {
            piasm_members(&dm)
                .iter()
                .any(|x| x["address"] == R_FHR && x["action"] == "encap")
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{:#?}", piasm_members(&dm)));

    // The member leaves: the FHR's prune stops at M, and M prunes too.
    dm1.signal(libc::SIGTERM).unwrap();
    wait_for(
        "the tree gone at M and at the core",
        Duration::from_secs(8),
        || branches(&dm).is_empty() && branches(&dc).is_empty(),
    )
    .unwrap_or_else(|e| panic!("{e}\ncore: {:#}\nm: {:#}", tree(&dc), tree(&dm)));
}

/// Two cores share C (Anycast-RP-like): each relays its branches to the
/// other, so when the core the unicast routing prefers dies and C moves
/// to the other, that one already has the branch and keeps it, and the
/// first-hop router's next join reaches it directly.
///
/// ```text
///   M1 ── FHR ── P (plain) ─┬─ CORE1 (C, preferred)
///                           └─ CORE2 (C)
/// ```
#[test]
fn two_cores_relay_and_one_takes_over() {
    if !require_root("two_cores_relay_and_one_takes_over") {
        return;
    }
    const R_CORE2: &str = "2001:db8:ff::2";
    let tmp = TempDir::new("pim3").expect("tmp");
    let ns = |n: &str| Netns::new(&format!("pim3{n}")).expect("netns");
    let (c1, c2, p, fhr, m1) = (ns("c1"), ns("c2"), ns("p"), ns("f"), ns("m1"));
    link(
        &c1,
        "c-p",
        "2001:db8:31::1/64",
        &p,
        "p-c1",
        "2001:db8:31::2/64",
    )
    .unwrap();
    link(
        &c2,
        "c-p",
        "2001:db8:32::1/64",
        &p,
        "p-c2",
        "2001:db8:32::2/64",
    )
    .unwrap();
    link(
        &p,
        "p-f",
        "2001:db8:33::2/64",
        &fhr,
        "f-p",
        "2001:db8:33::1/64",
    )
    .unwrap();
    link(
        &fhr,
        "f-m",
        "2001:db8:34::1/64",
        &m1,
        "m-f",
        "2001:db8:34::2/64",
    )
    .unwrap();
    routers(&[(&c1, &[R_CORE, C]), (&c2, &[R_CORE2, C]), (&fhr, &[R_FHR])]);
    p.enable_forwarding().unwrap();
    c1.add_route("default", "2001:db8:31::2").unwrap();
    c2.add_route("default", "2001:db8:32::2").unwrap();
    fhr.add_route("default", "2001:db8:33::2").unwrap();
    p.add_route(&format!("{R_CORE}/128"), "2001:db8:31::1")
        .unwrap();
    p.add_route(&format!("{R_CORE2}/128"), "2001:db8:32::1")
        .unwrap();
    p.add_route(&format!("{C}/128"), "2001:db8:31::1").unwrap();
    p.add_route(&format!("{R_FHR}/128"), "2001:db8:33::1")
        .unwrap();

    let core = |me: &str, peer: &str| DaemonCfg {
        extra: format!("{}peers = [\"{peer}\"]\n", piasm(me, &["c-p"], true)),
        ..DaemonCfg::default()
    };
    let mut d1 = Daemon::start(&c1, &tmp, "pim3c1", &core(R_CORE, R_CORE2)).expect("core 1");
    let d2 = Daemon::start(&c2, &tmp, "pim3c2", &core(R_CORE2, R_CORE)).expect("core 2");
    let _df = Daemon::start(&fhr, &tmp, "pim3f", &fhr_cfg(R_FHR, "f-m", "f-p")).expect("fhr");
    let _dm1 = Daemon::start(
        &m1,
        &tmp,
        "pim3m1",
        &ard_member_host(A.parse().unwrap(), "2001:db8:34::2", "m-f"),
    )
    .expect("member");

    let fhr_branch = |d: &Daemon| {
        branches(d)
            .into_iter()
            .find(|b| b["tunnel"]["endpoint"] == R_FHR)
    };
    wait_for(
        "the branch at core 1, relayed to core 2",
        Duration::from_secs(30),
        || {
            fhr_branch(&d1).is_some_and(|b| b["relayed"] == false)
                && fhr_branch(&d2).is_some_and(|b| b["relayed"] == true && b["weight"] == 1)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\ncore 1: {:#}\ncore 2: {:#}", tree(&d1), tree(&d2)));
    wait_for("core 2's RIB member", Duration::from_secs(10), || {
        piasm_members(&d2).iter().any(|m| m["address"] == R_FHR)
    })
    .unwrap();

    // Core 1 dies; the unicast routing moves C to core 2.
    d1.kill9();
    p.ip(&[
        "-6",
        "route",
        "replace",
        &format!("{C}/128"),
        "via",
        "2001:db8:32::1",
    ])
    .unwrap();
    let t = std::time::Instant::now();
    let mut direct = None;
    while t.elapsed() < Duration::from_secs(20) {
        let b = fhr_branch(&d2).unwrap_or_else(|| {
            panic!(
                "core 2 lost the branch after {:?}: {:#}",
                t.elapsed(),
                tree(&d2)
            )
        });
        assert!(
            piasm_members(&d2).iter().any(|m| m["address"] == R_FHR),
            "core 2's member gone after {:?}",
            t.elapsed()
        );
        if b["relayed"] == false {
            direct = Some(t.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let direct = direct.unwrap_or_else(|| panic!("never joined core 2 directly: {:#}", tree(&d2)));
    eprintln!("core 2 had the branch throughout; the FHR's own join reached it after {direct:?}");
}

/// A hostile host next to the core: garbage, forged joins and a join
/// flood of 100 000 anycast addresses, then 200 end points for the one
/// address the core knows (`max_branches = 64`). Nothing crashes, state
/// stays bounded, every refusal is counted, the daemon still answers.
#[test]
fn hostile_peer_is_bounded_and_counted() {
    use anycast6_control::piasm::packet::{Action, Entry, Join, JoinPrune, Message, Packet};
    if !require_root("hostile_peer_is_bounded_and_counted") {
        return;
    }
    const EVIL: &str = "2001:db8:41::66";
    let tmp = TempDir::new("pim4").expect("tmp");
    let core = Netns::new("pim4c").expect("netns");
    let evil = Netns::new("pim4e").expect("netns");
    link(
        &core,
        "c-e",
        "2001:db8:41::1/64",
        &evil,
        "e-c",
        &format!("{EVIL}/64"),
    )
    .unwrap();
    for a in [R_CORE, C] {
        core.add_addr("lo", &format!("{a}/128")).unwrap();
    }
    evil.add_route("default", "2001:db8:41::1").unwrap();
    let dc = Daemon::start(
        &core,
        &tmp,
        "pim4c",
        &DaemonCfg {
            extra: piasm(R_CORE, &["c-e"], true).replace(
                "join_interval_s = 10\n",
                "join_interval_s = 10\nmax_branches = 64\n",
            ),
            ..DaemonCfg::default()
        },
    )
    .expect("core");
    wait_for("PIA-SM running", Duration::from_secs(10), || {
        dc.ctl_json(&["show", "piasm"]).is_ok_and(|v| !v.is_null())
    })
    .unwrap();

    let src: std::net::Ipv6Addr = EVIL.parse().unwrap();
    let c: std::net::Ipv6Addr = C.parse().unwrap();
    let join = |anycast: std::net::Ipv6Addr, endpoint: std::net::Ipv6Addr| Entry {
        anycast,
        action: Action::Join(Join {
            core: c,
            weight: 1,
            endpoint: Some(endpoint),
            relayed: false,
        }),
    };
    let msg = |entries: Vec<Entry>| {
        Packet::encode(
            &Message::JoinPrune(JoinPrune {
                upstream: c,
                holdtime: 210,
                entries,
            }),
            src,
            c,
        )
    };
    let base = u128::from("2001:db8:bad::".parse::<std::net::Ipv6Addr>().unwrap());
    let flood: Vec<Vec<u8>> = (0..2000u128)
        .map(|m| {
            msg((0..50u128)
                .map(|k| join((base + m * 50 + k).into(), src))
                .collect())
        })
        .collect();
    let ep = u128::from("2001:db8:e00::".parse::<std::net::Ipv6Addr>().unwrap());
    let any: std::net::Ipv6Addr = A.parse().unwrap();
    let endpoints: Vec<Vec<u8>> = (0..4u128)
        .map(|m| {
            msg((0..50u128)
                .map(|k| join(any, (ep + m * 50 + k).into()))
                .collect())
        })
        .collect();
    let mut forged = join(any, src);
    if let Action::Join(j) = &mut forged.action {
        j.core = src;
    }
    let forged = msg(vec![forged]);
    let mut bad_sum = msg(vec![join(any, src)]);
    bad_sum[3] ^= 0xff;
    let mut all: Vec<Vec<u8>> = (0..200usize)
        .map(|len| (0..len).map(|i| (i * 37 + len) as u8).collect())
        .collect();
    all.push(bad_sum);
    all.push(forged);
    all.extend(flood);
    all.extend(endpoints);
    assert_eq!(all.len(), 200 + 2 + 2000 + 4);
    let counters = || dc.ctl_json(&["show", "piasm"]).unwrap()["counters"].clone();
    // Sent 20 at a time, each batch once the core has counted the one
    // before: the core's socket buffer is not what is tested.
    let s = evil
        .run_in(|| {
            Ok(socket2::Socket::new(
                socket2::Domain::IPV6,
                socket2::Type::RAW,
                Some(socket2::Protocol::from(103)),
            )?)
        })
        .expect("a raw socket on the hostile host");
    let to: socket2::SockAddr = std::net::SocketAddrV6::new(c, 0, 0, 0).into();
    for (n, batch) in all.chunks(20).enumerate() {
        for b in batch {
            s.send_to(b, &to).expect("send");
        }
        let want = (n * 20 + batch.len()) as u64;
        wait_for("the batch counted", Duration::from_secs(30), || {
            counters()["rx_packets"].as_u64() >= Some(want)
        })
        .unwrap_or_else(|e| panic!("{e} ({want} sent)\n{:#}", counters()));
    }
    let k = counters();
    assert_eq!(k["unknown_anycast"], 100_000, "{k:#}");
    assert_eq!(k["wrong_core"], 1, "{k:#}");
    assert_eq!(k["branches_refused"], 200 - 64, "{k:#}");
    let refused = ["bad_packets", "bad_checksum", "bad_version"]
        .iter()
        .map(|f| k[*f].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(
        refused, 201,
        "the 200 pieces of junk and the bad checksum: {k:#}"
    );
    // State: one tree (the configured one), 64 branches, nothing else.
    let trees = dc.ctl_json(&["show", "piasm", "trees"]).unwrap();
    assert_eq!(trees.as_array().unwrap().len(), 1);
    assert_eq!(branches(&dc).len(), 64);
    assert!(
        dc.ctl(&["show", "piasm"]).is_ok(),
        "the daemon still answers"
    );

    // `--check` describes the section.
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", core.path().display()))
        .arg("--")
        .arg(anycast6_tests::bin("anycast6d"))
        .arg("--check")
        .arg(&dc.config)
        .output()
        .expect("anycast6d --check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "piasm: router {R_CORE}, 1 interfaces, 1 anycast addresses (1 with this router as core)"
        )),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
