//! What an ARIP router originates (`[arip.originate]`), seen from a plain
//! FRR ripngd neighbour.
//!
//! ```text
//!   S (stub) ── r-s ── R (anycast6d, ARIP on r-f) ── r-f ──── F (FRR ripngd)
//!                      lo: 2001:db8:99::1/128 (the router's loopback)
//!                          2001:db8:ac::99 (member role, anycast6's own, not served)
//!                          2001:db8:ac::7  (AARP's own: a group R serves)
//!                      r-s: 2001:db8:51::1/64, 2001:db8:52::1/128
//!                      static 2001:db8:5a::/48 metric 3
//! ```
//! - F learns the lo /128, the interface /128, the connected /64 and the
//!   static prefix (its metric + 1), and the served group address as an
//!   anycast host route (route tag 42662) — never the anycast6-owned lo
//!   addresses as unicast, and never the member role's address at all;
//! - addresses added to `lo` and to an interface while anycast6d runs
//!   appear at F; removed, they are poisoned (metric 16) and then gone;
//! - with duplicate address detection on r-s, an address is announced only
//!   once DAD passed, and one that failed DAD (S has it) never;
//! - when r-s loses carrier its prefixes are withdrawn (the kernel keeps
//!   the addresses), and they come back with the carrier.
//!
//! FRR's table is printed at each step.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use anycast6_tests::daemon::{DaemonCfg, MemberCfg, MemberRoleCfg};
use anycast6_tests::frr::Frr;
use anycast6_tests::proto;
use anycast6_tests::{require_root, wait_for, Daemon, Netns, TempDir};

/// FRR's RIPng timers: update, timeout, garbage (s).
const FRR_TIMERS: (u32, u32, u32) = (1, 6, 4);
const ANYCAST_TAG: u32 = 0xa6a6;
const SERVED: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 7);
const MEMBER_ROLE: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0x99);

/// F's RIPng entry for `prefix` (`show ipv6 ripng`): (metric, tag).
fn ripng_entry(table: &str, prefix: &str) -> Option<(u32, u32)> {
    // An entry: `R(n) PREFIX` then next hop, interface, metric, tag, time
    // (on the same line or the next, by the prefix's length).
    let mut words = table.split_whitespace();
    while let Some(w) = words.next() {
        if w.starts_with("R(") && words.next() == Some(prefix) {
            let rest: Vec<&str> = words.by_ref().take(4).collect();
            let metric = rest.get(2)?.parse().ok()?;
            let tag = rest.get(3)?.parse().ok()?;
            return Some((metric, tag));
        }
    }
    None
}

fn ripng(frr: &Frr) -> String {
    frr.vtysh("show ipv6 ripng").unwrap_or_default()
}

/// What R says it originates (`show arip --json`): prefix → (kind, origin, metric).
fn originated(r: &Daemon) -> Vec<(String, String, String, u64)> {
    let v = r.ctl_json(&["show", "arip"]).unwrap_or_default();
    v["originated"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    (
                        o["prefix"].as_str().unwrap_or_default().to_string(),
                        o["kind"].as_str().unwrap_or_default().to_string(),
                        o["origin"].as_str().unwrap_or_default().to_string(),
                        o["metric"].as_u64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until F's entry for `prefix` is poisoned (metric 16) and then
/// gone, from its table and zebra's; returns how long each took.
fn poisoned_then_gone(frr: &Frr, prefix: &str) -> (Duration, Duration) {
    let t0 = Instant::now();
    wait_for(
        &format!("FRR holds {prefix} at metric 16"),
        Duration::from_secs(10),
        || ripng_entry(&ripng(frr), prefix).is_some_and(|(m, _)| m == 16),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", ripng(frr)));
    let poisoned = t0.elapsed();
    eprintln!("FRR, {prefix} poisoned after {poisoned:?}:\n{}", ripng(frr));
    assert!(
        !frr.has_route(prefix, "ripng"),
        "zebra still routes {prefix}"
    );
    wait_for(
        &format!("FRR forgot {prefix}"),
        Duration::from_secs(15),
        || ripng_entry(&ripng(frr), prefix).is_none(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", ripng(frr)));
    (poisoned, t0.elapsed())
}

#[test]
fn arip_originates_lo_host_connected_and_static_prefixes_followed_at_run_time() {
    if !require_root("arip_originates_lo_host_connected_and_static_prefixes_followed_at_run_time") {
        return;
    }
    let tmp = TempDir::new("orig").expect("tmp");
    let ns = |r: &str| Netns::new(&format!("or{r}")).expect("netns");
    let (r, f, s) = (ns("r"), ns("f"), ns("s"));
    for n in [&r, &f] {
        n.enable_forwarding().unwrap();
    }
    proto::link(&r, "r-f", "2001:db8:f::2/64", &f, "f-r", "2001:db8:f::1/64").expect("link");
    proto::link(
        &r,
        "r-s",
        "2001:db8:51::1/64",
        &s,
        "s-r",
        "2001:db8:51::10/64",
    )
    .expect("link");
    r.add_addr("r-s", "2001:db8:52::1/128").unwrap();
    r.add_addr("lo", "2001:db8:99::1/128").unwrap();

    let frr = Frr::start(&f, &tmp, "f", &Frr::ripng_config(&["f-r"], FRR_TIMERS)).expect("FRR");
    let cfg = DaemonCfg {
        member: Some(MemberRoleCfg {
            addresses: vec![MEMBER_ROLE.to_string()],
            decap_interfaces: vec![],
        }),
        extra: format!(
            "{}[arip.originate]\nconnected = true\nconnected_metric = 1\n\
             static = [{{ prefix = \"2001:db8:5a::/48\", metric = 3 }}]\n\
             [aarp]\nanswer_for_members = true\n",
            proto::arip_router(&["r-f"], 6000, 4000)
        ),
        ..DaemonCfg::default()
    }
    .interface("r-s", "native")
    .group(
        &SERVED.to_string(),
        vec![MemberCfg::on_link("2001:db8:51::10", "r-s").distance(2)],
    );
    let rd = Daemon::start(&r, &tmp, "r", &cfg).expect("anycast6d");

    // anycast6's own addresses are on R's lo (protocol 0xa6).
    wait_for(
        "anycast6d put its addresses on lo",
        Duration::from_secs(10),
        || {
            r.ip(&["-6", "addr", "show", "dev", "lo"]).is_ok_and(|a| {
                a.contains(&format!("{SERVED}/128")) && a.contains(&format!("{MEMBER_ROLE}/128"))
            })
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", rd.log()));

    // F's view: the lo /128, the interface /128, the connected /64 at
    // metric 2 (1 + F's link), the static at 4, the served address as anycast.
    let unicast = [
        ("2001:db8:99::1/128", 2),
        ("2001:db8:52::1/128", 2),
        ("2001:db8:51::/64", 2),
        ("2001:db8:5a::/48", 4),
    ];
    let served = format!("{SERVED}/128");
    wait_for(
        "FRR learned what R originates",
        Duration::from_secs(20),
        || {
            let t = ripng(&frr);
            unicast
                .iter()
                .all(|(p, m)| ripng_entry(&t, p) == Some((*m, 0)) && frr.has_route(p, "ripng"))
                && ripng_entry(&t, &served) == Some((3, ANYCAST_TAG))
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nFRR:\n{}\nR originates {:#?}\n{}",
            ripng(&frr),
            originated(&rd),
            rd.log()
        )
    });
    let before = ripng(&frr);
    eprintln!("FRR's RIPng table, R started:\n{before}");
    eprintln!(
        "FRR's kernel routes from RIPng:\n{}",
        f.ip(&["-6", "route", "show", "proto", "ripng"])
            .unwrap_or_default()
    );
    eprintln!("R originates: {:#?}", originated(&rd));
    // Never anycast6's own lo addresses as unicast; the member role's not at all.
    assert_eq!(
        ripng_entry(&before, &served),
        Some((3, ANYCAST_TAG)),
        "the served address is announced as anycast only"
    );
    assert_eq!(
        ripng_entry(&before, &format!("{MEMBER_ROLE}/128")),
        None,
        "{before}"
    );
    assert!(!frr.has_route(&format!("{MEMBER_ROLE}/128"), "ripng"));
    let mine = originated(&rd);
    assert!(mine.contains(&(
        "2001:db8:99::1/128".into(),
        "unicast".into(),
        "connected".into(),
        1
    )));
    assert!(mine.contains(&(
        "2001:db8:5a::/48".into(),
        "unicast".into(),
        "static".into(),
        3
    )));
    assert!(mine.contains(&(served.clone(), "anycast".into(), "served".into(), 2)));
    assert!(
        !mine.iter().any(|o| o.0 == format!("{MEMBER_ROLE}/128")),
        "{mine:#?}"
    );
    assert!(
        !mine
            .iter()
            .any(|o| o.0.starts_with("fe80") || o.0 == "::1/128"),
        "{mine:#?}"
    );

    // An address added to lo, one to an interface, while anycast6d runs.
    let t = Instant::now();
    r.add_addr("lo", "2001:db8:99::2/128").unwrap();
    r.add_addr("r-s", "2001:db8:53::1/64").unwrap();
    for p in ["2001:db8:99::2/128", "2001:db8:53::/64"] {
        wait_for(
            &format!("FRR learned {p}, added at run time"),
            Duration::from_secs(10),
            || ripng_entry(&ripng(&frr), p) == Some((2, 0)) && frr.has_route(p, "ripng"),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", ripng(&frr), rd.log()));
    }
    eprintln!(
        "FRR's RIPng table {:?} after two addresses were added:\n{}",
        t.elapsed(),
        ripng(&frr)
    );

    // Removed again: poisoned, then gone; the others stay.
    r.ip(&["-6", "addr", "del", "2001:db8:99::2/128", "dev", "lo"])
        .unwrap();
    let (poisoned, gone) = poisoned_then_gone(&frr, "2001:db8:99::2/128");
    eprintln!("lo address removed: poisoned at FRR after {poisoned:?}, gone after {gone:?}");
    r.ip(&["-6", "addr", "del", "2001:db8:53::1/64", "dev", "r-s"])
        .unwrap();
    let (poisoned, gone) = poisoned_then_gone(&frr, "2001:db8:53::/64");
    eprintln!("interface address removed: poisoned at FRR after {poisoned:?}, gone after {gone:?}");

    // Duplicate address detection on r-s: an address is announced once it
    // passed (not while tentative), never when another node has it (S).
    r.sysctl("net.ipv6.conf.r-s.accept_dad", "1").unwrap();
    r.sysctl("net.ipv6.conf.r-s.dad_transmits", "1").unwrap();
    s.add_addr("s-r", "2001:db8:54::1/64").unwrap();
    let t = Instant::now();
    r.ip(&["-6", "addr", "add", "2001:db8:55::1/64", "dev", "r-s"])
        .unwrap();
    r.ip(&["-6", "addr", "add", "2001:db8:54::1/64", "dev", "r-s"])
        .unwrap();
    let tentative = r.ip(&["-6", "addr", "show", "dev", "r-s"]).unwrap();
    let early = originated(&rd);
    assert!(
        tentative.contains("tentative"),
        "DAD running on r-s: {tentative}"
    );
    assert!(
        !early
            .iter()
            .any(|o| o.0 == "2001:db8:55::/64" || o.0 == "2001:db8:54::/64"),
        "tentative addresses originated: {early:#?}"
    );
    wait_for(
        "FRR learned 2001:db8:55::/64 once DAD passed",
        Duration::from_secs(10),
        || ripng_entry(&ripng(&frr), "2001:db8:55::/64") == Some((2, 0)),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", ripng(&frr), rd.log()));
    let dad = t.elapsed();
    let addrs = r.ip(&["-6", "addr", "show", "dev", "r-s"]).unwrap();
    assert!(addrs.contains("dadfailed"), "{addrs}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        ripng_entry(&ripng(&frr), "2001:db8:54::/64"),
        None,
        "an address that failed DAD is not announced"
    );
    eprintln!(
        "DAD: 2001:db8:55::1/64 announced after {dad:?} (not while tentative); \
         2001:db8:54::1/64 (S has it) dadfailed, never announced:\n{addrs}"
    );

    // S's end goes down: r-s loses carrier, the kernel keeps R's addresses
    // there, but what they originate is withdrawn (as zebra withdraws a
    // connected route on a down link), and comes back with the carrier.
    s.ip(&["link", "set", "s-r", "down"]).unwrap();
    let (poisoned, gone) = poisoned_then_gone(&frr, "2001:db8:51::/64");
    assert!(
        ripng_entry(&ripng(&frr), "2001:db8:99::1/128") == Some((2, 0)),
        "lo's /128 stays while r-s has no carrier: {}",
        ripng(&frr)
    );
    s.ip(&["link", "set", "s-r", "up"]).unwrap();
    wait_for(
        "FRR relearns r-s's prefixes with the carrier",
        Duration::from_secs(15),
        || {
            let t = ripng(&frr);
            ripng_entry(&t, "2001:db8:51::/64") == Some((2, 0))
                && ripng_entry(&t, "2001:db8:52::1/128") == Some((2, 0))
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", ripng(&frr), rd.log()));
    eprintln!(
        "carrier lost on r-s: 2001:db8:51::/64 poisoned at FRR after {poisoned:?}, gone after {gone:?}; back with the carrier"
    );
    wait_for("the served group is back", Duration::from_secs(15), || {
        ripng_entry(&ripng(&frr), &served) == Some((3, ANYCAST_TAG))
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", ripng(&frr)));

    let after = ripng(&frr);
    eprintln!("FRR's RIPng table at the end:\n{after}");
    for (p, m) in unicast {
        assert_eq!(ripng_entry(&after, p), Some((m, 0)), "{p} stays: {after}");
    }
    assert_eq!(ripng_entry(&after, &served), Some((3, ANYCAST_TAG)));
    let mine = originated(&rd);
    assert!(
        !mine
            .iter()
            .any(|o| o.0 == "2001:db8:99::2/128" || o.0 == "2001:db8:53::/64"),
        "{mine:#?}"
    );
    drop(rd);
    drop(frr);
}
