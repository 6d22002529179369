//! anycast6d runs AOSPF (`[aospf]`): the daemon side of the protocol.
//!
//! - `one_router_on_a_veth`: a router with an `[aospf]` section on a veth
//!   (and `lo` passive) starts, joins ff02::5 and ff02::6 on the veth only
//!   (the kernel's /proc/net/igmp6), `show aospf interfaces --json` lists
//!   both interfaces with their index, link-local and state, its own LSAs
//!   carry its connected prefixes (lo's /128 and the veth's /64), every
//!   sub-view answers, and `anycast6d --check` describes the section.
//! - `two_routers_multipath_and_clean_stop`: routers A and B joined by two
//!   veths reach Full on both (the first with RFC 7166 authentication, the
//!   key from the config), A installs B's lo /128 as one kernel route
//!   (proto 0xa6) with a next hop on each link; B serves an anycast address
//!   (a configured group), which A learns with the AC bit into its RIB
//!   (source `aospf`, one candidate per link); when B stops (SIGTERM) its
//!   routes and members leave A and B leaves no route of its own behind.
//!
//! ```text
//!   A (10.0.0.1) ══ a-b1 / b1-a ══ B (10.0.0.2)
//!     lo 2001:db8:a0::1  a-b2 / b2-a   lo 2001:db8:b0::1
//! ```

use std::time::Duration;

use anycast6_tests::{
    bin, require_root, veth, wait_for, Daemon, DaemonCfg, MemberCfg, Netns, TempDir,
};
use serde_json::Value;

/// `[[aospf.interface]]` with 1 s hellos (dead 4 s): adjacencies within
/// seconds.
fn aospf_iface(name: &str, extra: &str) -> String {
    format!(
        "[[aospf.interface]]\nname = \"{name}\"\nhello_interval_s = 1\ndead_interval_s = 4\n{extra}"
    )
}

/// RFC 7166 authentication (HMAC-SHA-256, SA ID 1).
const AUTH: &str = "auth = { key_id = 1, key = \"anycast6-test-key\" }\n";

/// `[aospf]` on `ifaces` (name, extra keys), `lo` passive.
fn aospf_router(router_id: &str, ifaces: &[(&str, &str)]) -> DaemonCfg {
    let mut s = format!("[aospf]\nrouter_id = \"{router_id}\"\nspf_delay_ms = 10\n");
    for (i, extra) in ifaces {
        s.push_str(&aospf_iface(i, extra));
    }
    s.push_str(&aospf_iface("lo", "passive = true\n"));
    DaemonCfg {
        extra: s,
        ..Default::default()
    }
}

/// An anycast address B serves (a group with a local member).
const ANYCAST: &str = "2001:db8:ac::1";

/// A's RIB candidates for ANYCAST learned by AOSPF.
fn aospf_candidates(d: &Daemon) -> Vec<Value> {
    d.ctl_json(&["show", "rib"])
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["group"] == ANYCAST && m["source"] == "aospf")
        .collect()
}

/// The routes of protocol 0xa6 in `ns`.
fn our_routes(ns: &Netns) -> String {
    ns.ip(&["-6", "route", "show", "proto", "166"])
        .unwrap_or_default()
}

#[test]
fn one_router_on_a_veth() {
    if !require_root("one_router_on_a_veth") {
        return;
    }
    let tmp = TempDir::new("aod1").expect("tmp");
    let r = Netns::new("aod1r").expect("netns");
    let p = Netns::new("aod1p").expect("netns");
    veth(&r, "r-p", &p, "p-r").expect("veth");
    r.add_addr("r-p", "2001:db8:51::1/64").unwrap();
    r.add_addr("lo", "2001:db8:99::1/128").unwrap();
    let cfg = aospf_router("10.0.0.1", &[("r-p", "")]);
    let d = Daemon::start(&r, &tmp, "aod1", &cfg).expect("anycast6d");

    let ifindex = r.ifindex("r-p").unwrap();
    let ifs = d
        .ctl_json(&["show", "aospf", "interfaces"])
        .expect("show aospf interfaces --json");
    let ifs = ifs.as_array().expect("a list");
    let veth = ifs
        .iter()
        .find(|i| i["name"] == "r-p")
        .unwrap_or_else(|| panic!("r-p missing: {ifs:#?}"));
    assert_eq!(veth["ifindex"], ifindex, "{veth:#}");
    assert_eq!(veth["link_up"], true, "{veth:#}");
    assert_eq!(veth["passive"], false, "{veth:#}");
    assert!(
        veth["link_local"]
            .as_str()
            .is_some_and(|a| a.starts_with("fe80:")),
        "{veth:#}"
    );
    assert_eq!(
        veth["joined"],
        serde_json::json!(["ff02::5", "ff02::6"]),
        "{veth:#}"
    );
    let lo = ifs
        .iter()
        .find(|i| i["name"] == "lo")
        .unwrap_or_else(|| panic!("lo missing: {ifs:#?}"));
    assert_eq!(
        (&lo["passive"], &lo["joined"]),
        (&Value::Bool(true), &serde_json::json!([])),
        "{lo:#}"
    );
    // The core runs on both: the veth alone on its link, lo as a stub.
    wait_for("the interfaces' states", Duration::from_secs(10), || {
        d.ctl_json(&["show", "aospf", "interfaces"]).is_ok_and(|v| {
            v.as_array().into_iter().flatten().all(|i| {
                i["state"]
                    .as_str()
                    .is_some_and(|s| ["DR", "Waiting", "Loopback", "PointToPoint"].contains(&s))
            })
        })
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", d.log()));

    // The socket joined AllSPFRouters and AllDRouters on the veth, not on lo.
    let igmp6 = r.exec("cat", &["/proc/net/igmp6"]).unwrap();
    for g in [
        "ff020000000000000000000000000005",
        "ff020000000000000000000000000006",
    ] {
        assert!(
            igmp6.lines().any(|l| l.contains("r-p") && l.contains(g)),
            "{g} not joined on r-p:\n{igmp6}"
        );
        assert!(
            !igmp6.lines().any(|l| l.contains(" lo ") && l.contains(g)),
            "{g} joined on lo:\n{igmp6}"
        );
    }

    // Origination: lo's /128 and the veth's /64 are in our own LSAs.
    wait_for(
        "own LSAs with the connected prefixes",
        Duration::from_secs(10),
        || {
            d.ctl_json(&["show", "aospf", "database"]).is_ok_and(|v| {
                let own: Vec<String> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|l| l["own"] == true)
                    .flat_map(|l| l["prefixes"].as_array().cloned().unwrap_or_default())
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect();
                own.iter().any(|p| p.starts_with("2001:db8:99::1/128"))
                    && own.iter().any(|p| p.starts_with("2001:db8:51::/64"))
            })
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{}\n{}",
            d.ctl(&["show", "aospf", "database"]).unwrap_or_default(),
            d.log()
        )
    });

    // Every view answers; text and JSON.
    let n = d.ctl_json(&["show", "aospf", "neighbors"]).unwrap();
    assert_eq!(n, serde_json::json!([]), "no neighbour on r-p");
    let routes = d.ctl_json(&["show", "aospf", "routes"]).unwrap();
    assert!(routes.is_array(), "{routes:#}");
    let all = d.ctl_json(&["show", "aospf"]).unwrap();
    assert_eq!(all["view"]["router_id"], "10.0.0.1", "{all:#}");
    assert!(
        all["originated"]
            .as_array()
            .is_some_and(|o| o.iter().any(|x| x["prefix"] == "2001:db8:99::1/128")),
        "{all:#}"
    );
    let text = d.ctl(&["show", "aospf"]).unwrap();
    assert!(
        text.starts_with("AOSPF router 10.0.0.1, area 0.0.0.0\n"),
        "{text}"
    );
    let text = d.ctl(&["show", "aospf", "interfaces"]).unwrap();
    assert!(text.contains("r-p is up, type BROADCAST"), "{text}");
    assert!(text.contains("Joined: ff02::5 ff02::6"), "{text}");
    let text = d.ctl(&["show", "aospf", "database"]).unwrap();
    assert!(
        text.contains("Area Scoped Link State Database") && text.contains("Rtr"),
        "{text}"
    );
    assert_eq!(
        d.ctl(&["show", "aospf", "neighbors"]).unwrap(),
        "no AOSPF neighbours\n"
    );
    // A part arip does not have is refused by anycast6ctl, an unknown one
    // by its argument parser.
    for args in [
        &["show", "arip", "neighbors"][..],
        &["show", "aospf", "lsdb"],
    ] {
        let o = d.ctl_output(args).unwrap();
        assert!(!o.status.success(), "{args:?} accepted");
    }

    // `--check` describes the section.
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net={}", r.path().display()))
        .arg("--")
        .arg(bin("anycast6d"))
        .arg("--check")
        .arg(&d.config)
        .output()
        .expect("anycast6d --check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "aospf: router 10.0.0.1, area 0.0.0.0, 2 interfaces (1 passive, 0 authenticated)"
        ),
        "{stdout}"
    );
    drop(p);
}

#[test]
fn two_routers_multipath_and_clean_stop() {
    if !require_root("two_routers_multipath_and_clean_stop") {
        return;
    }
    let tmp = TempDir::new("aod2").expect("tmp");
    let a = Netns::new("aod2a").expect("netns");
    let b = Netns::new("aod2b").expect("netns");
    for (ai, bi) in [("a-b1", "b1-a"), ("a-b2", "b2-a")] {
        veth(&a, ai, &b, bi).expect("veth");
    }
    a.add_addr("a-b1", "2001:db8:61::1/64").unwrap();
    b.add_addr("b1-a", "2001:db8:61::2/64").unwrap();
    a.add_addr("a-b2", "2001:db8:62::1/64").unwrap();
    b.add_addr("b2-a", "2001:db8:62::2/64").unwrap();
    a.add_addr("lo", "2001:db8:a0::1/128").unwrap();
    b.add_addr("lo", "2001:db8:b0::1/128").unwrap();
    for ns in [&a, &b] {
        ns.enable_forwarding().unwrap();
    }
    let da = Daemon::start(
        &a,
        &tmp,
        "aod2a",
        &aospf_router("10.0.0.1", &[("a-b1", AUTH), ("a-b2", "")]),
    )
    .expect("anycast6d A");
    // B itself is the member (delivered locally), at distance 3.
    let local = MemberCfg {
        interface: None,
        ..MemberCfg::on_link("2001:db8:b0::1", "lo")
            .action("local")
            .distance(3)
    };
    let b_cfg =
        aospf_router("10.0.0.2", &[("b1-a", AUTH), ("b2-a", "")]).group(ANYCAST, vec![local]);
    let mut db = Daemon::start(&b, &tmp, "aod2b", &b_cfg).expect("anycast6d B");

    let full = |d: &Daemon| {
        d.ctl_json(&["show", "aospf", "neighbors"]).is_ok_and(|v| {
            v.as_array()
                .is_some_and(|n| n.len() == 2 && n.iter().all(|n| n["state"] == "Full"))
        })
    };
    wait_for(
        "Full on both links, at both ends",
        Duration::from_secs(40),
        || full(&da) && full(&db),
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nA:\n{}\nB:\n{}\nA log:\n{}",
            da.ctl(&["show", "aospf", "neighbors"]).unwrap_or_default(),
            db.ctl(&["show", "aospf", "neighbors"]).unwrap_or_default(),
            da.log()
        )
    });
    // The first link authenticates (the key from the config), the second
    // does not; nothing was refused on either.
    let ifs = da.ctl_json(&["show", "aospf", "interfaces"]).unwrap();
    let authenticated = |name: &str| {
        ifs.as_array()
            .into_iter()
            .flatten()
            .find(|i| i["name"] == name)
            .map(|i| i["authenticated"].clone())
    };
    assert_eq!(authenticated("a-b1"), Some(Value::Bool(true)), "{ifs:#}");
    assert_eq!(authenticated("a-b2"), Some(Value::Bool(false)), "{ifs:#}");
    let counters = da.ctl_json(&["show", "aospf"]).unwrap()["view"]["counters"].clone();
    assert_eq!(counters["auth_failures"], 0, "{counters:#}");
    let text = da.ctl(&["show", "aospf", "neighbors"]).unwrap();
    assert!(
        text.starts_with("Neighbor ID") && text.contains("10.0.0.2") && text.contains("Full/"),
        "{text}"
    );

    // B's lo /128 at A: one kernel route, a next hop on each link.
    wait_for(
        "B's /128 over both links at A",
        Duration::from_secs(20),
        || {
            let r = our_routes(&a);
            r.contains("2001:db8:b0::1")
                && r.contains("nexthop via fe80:")
                && r.contains("dev a-b1")
                && r.contains("dev a-b2")
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{}\n{}\n{}",
            our_routes(&a),
            da.ctl(&["show", "aospf", "routes"]).unwrap_or_default(),
            da.log()
        )
    });
    let routes = da.ctl_json(&["show", "aospf", "routes"]).unwrap();
    let r = routes
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["prefix"] == "2001:db8:b0::1" && r["plen"] == 128)
        .unwrap_or_else(|| panic!("{routes:#}"));
    assert_eq!(r["installed"], true, "{r:#}");
    assert_eq!(r["nexthops"].as_array().map(Vec::len), Some(2), "{r:#}");
    // B installs A's /128 on its own SPF run, which may come a moment
    // after A's.
    wait_for("A's /128 at B", Duration::from_secs(20), || {
        our_routes(&b).contains("2001:db8:a0::1")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", our_routes(&b), db.log()));

    // B's anycast address: with the AC bit in B's LSAs, a member at A
    // behind each link (B's link-local addresses), from AOSPF.
    wait_for(
        "A learned the anycast address",
        Duration::from_secs(20),
        || aospf_candidates(&da).len() == 2,
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\n{}\n{}\n{}",
            da.ctl(&["show", "rib"]).unwrap_or_default(),
            da.ctl(&["show", "aospf", "routes"]).unwrap_or_default(),
            da.log()
        )
    });
    for m in aospf_candidates(&da) {
        assert!(
            m["next_hop"]
                .as_str()
                .is_some_and(|n| n.starts_with("fe80:")),
            "{m:#}"
        );
    }
    let routes = da.ctl_json(&["show", "aospf", "routes"]).unwrap();
    assert!(
        routes
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["prefix"] == ANYCAST && r["anycast"] == true),
        "{routes:#}"
    );
    let db_text = db.ctl(&["show", "aospf", "database"]).unwrap();
    assert!(
        db_text.contains(&format!("{ANYCAST}/128 metric 3 +ac")),
        "{db_text}"
    );

    // B stops cleanly: its LSAs are flushed, so A drops the route at once
    // (not after the dead interval), and B leaves no route of its own.
    db.signal(libc::SIGTERM).unwrap();
    wait_for("B exits", Duration::from_secs(10), || !db.running())
        .unwrap_or_else(|e| panic!("{e}\n{}", db.log()));
    assert_eq!(our_routes(&b), "", "B left kernel routes:\n{}", db.log());
    wait_for("B's /128 gone at A", Duration::from_secs(10), || {
        !our_routes(&a).contains("2001:db8:b0::1")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", our_routes(&a), da.log()));
    wait_for(
        "B's anycast member gone at A",
        Duration::from_secs(10),
        || aospf_candidates(&da).is_empty(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", da.ctl(&["show", "rib"]).unwrap_or_default()));
    let log = db.log();
    assert!(log.contains("AOSPF stopped"), "{log}");
}
