//! Convergence of a chain of 10 routers in namespaces after a member
//! joins at one end: anycast6d with `[aospf]` on every router, and FRR
//! ospf6d on every router (the baseline), measured alike.
//!
//! ```text
//!  r0 ══ r1 ══ … ══ r9      veth e (east) / w (west), point-to-point, cost 10
//!  lo: passive in area 0     the member: a /128 added to r0's lo
//! ```
//! r0's lo is an OSPF interface (passive) for ospf6d, and anycast6d
//! originates its connected prefixes ([aospf.originate] connected, lo's
//! /128s included), so the /128 goes into r0's Intra-Area-Prefix-LSA in
//! both, as AOSPF carries a served anycast address (the same LSA, flooding
//! and SPF; only the installation differs, RIB instead of kernel). The time runs
//! from `ip addr add` on r0 to the kernel route of the /128 appearing in
//! r9's table, read every 0.5 ms from /proc/thread-self/net/ipv6_route by a
//! thread inside r9's namespace (no process per poll). The address goes
//! again, and r9 forgets it, before the next repetition.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use anycast6_tests::daemon::DaemonCfg;
use anycast6_tests::frr::Frr;
use anycast6_tests::{veth, Daemon, Netns, TempDir};
use anyhow::{bail, Result};

use super::ospf6d;
use super::Timers;
use crate::progress::Progress;

pub const N: usize = 10;
pub const MEMBER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0x99);

/// Whether /proc/net/ipv6_route, as this thread sees it, has `addr`/128.
fn has_host_route(addr: Ipv6Addr) -> bool {
    let hex: String = addr.octets().iter().map(|b| format!("{b:02x}")).collect();
    std::fs::read_to_string("/proc/thread-self/net/ipv6_route").is_ok_and(|t| {
        t.lines()
            .any(|l| l.starts_with(&hex) && l.get(33..35) == Some("80"))
    })
}

/// Inside `ns`: waits until `addr`/128 is in (`present`) or out of the
/// kernel's table; returns when it saw it, or None after `timeout`.
pub fn watch_route(
    ns: &Netns,
    addr: Ipv6Addr,
    present: bool,
    timeout: Duration,
) -> Result<Option<Instant>> {
    ns.run_in(|| {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if has_host_route(addr) == present {
                return Ok(Some(Instant::now()));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        Ok(None)
    })
}

/// Ten namespaces in a line, DAD off, `e`/`w` veths.
pub fn line(short: &str) -> Result<Vec<Netns>> {
    let rs: Vec<Netns> = (0..N)
        .map(|i| Netns::new(&format!("{short}{i}")))
        .collect::<Result<_>>()?;
    for r in &rs {
        r.sysctl("net.ipv6.conf.all.accept_dad", "0")?;
        r.sysctl("net.ipv6.conf.default.accept_dad", "0")?;
        r.enable_forwarding()?;
    }
    for i in 0..N - 1 {
        veth(&rs[i], "e", &rs[i + 1], "w")?;
    }
    Ok(rs)
}

/// ms from the member's address appearing on r0 to r9's kernel route,
/// `reps` times, anycast6d with `[aospf]` on all ten.
pub fn anycast6(t: &Timers, reps: usize, progress: &Progress) -> Result<Vec<f64>> {
    let tmp = TempDir::new("cha")?;
    let rs = line("cha")?;
    let mut ds = Vec::new();
    for (i, r) in rs.iter().enumerate() {
        let mut links = Vec::new();
        if i > 0 {
            links.push(("w", 10));
        }
        if i + 1 < N {
            links.push(("e", 10));
        }
        let cfg = DaemonCfg {
            extra: super::aospf_section(&format!("10.9.0.{}", i + 1), &links, t),
            ..Default::default()
        };
        ds.push(Daemon::start(r, &tmp, &format!("r{i}"), &cfg)?);
    }
    let full = |d: &Daemon, n: usize| {
        d.ctl_json(&["show", "aospf", "neighbors"]).is_ok_and(|v| {
            v.as_array()
                .is_some_and(|l| l.iter().filter(|x| x["state"] == "Full").count() >= n)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    for (i, d) in ds.iter().enumerate() {
        let want = if i == 0 || i + 1 == N { 1 } else { 2 };
        while !full(d, want) {
            if Instant::now() > deadline {
                bail!(
                    "anycast6d chain: r{i} not Full:\n{}\n{}",
                    d.ctl(&["show", "aospf", "neighbors"]).unwrap_or_default(),
                    d.log()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    joins(
        &rs,
        reps,
        "10 anycast6d (AOSPF) in a chain",
        progress,
        &|| {
            format!(
                "--- r0 ---\n{}\n--- r9 ---\n{}",
                ds[0].log(),
                ds[N - 1].log()
            )
        },
    )
}

/// ms from the member's address appearing on r0 to r9's kernel route,
/// `reps` times, FRR ospf6d on all ten.
pub fn frr(t: &Timers, reps: usize, progress: &Progress) -> Result<Vec<f64>> {
    let tmp = TempDir::new("ch6")?;
    let rs = line("ch6")?;
    let mut frrs = Vec::new();
    for (i, r) in rs.iter().enumerate() {
        let mut ifs = vec![ospf6d::Iface {
            passive: true,
            ..ospf6d::Iface::new("lo")
        }];
        if i > 0 {
            ifs.push(ospf6d::Iface::new("w"));
        }
        if i + 1 < N {
            ifs.push(ospf6d::Iface::new("e"));
        }
        let conf = ospf6d::config(&format!("10.9.0.{}", i + 1), &ifs, t);
        frrs.push(Frr::start_ospf6d(r, &tmp, &format!("r{i}"), &conf)?);
    }
    // Every adjacency Full: r0..r8 see their east neighbour.
    let deadline = Instant::now() + Duration::from_secs(60);
    for (i, f) in frrs.iter().enumerate().take(N - 1) {
        let east = format!("10.9.0.{}", i + 2);
        while f.ospf6_neighbor_state(&east).as_deref() != Some("Full") {
            if Instant::now() > deadline {
                bail!(
                    "ospf6d chain: r{i} not Full with r{}:\n{}",
                    i + 1,
                    f.logs(20)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    joins(&rs, reps, "10 FRR ospf6d in a chain", progress, &|| {
        format!(
            "--- r0 ---\n{}\n--- r9 ---\n{}",
            frrs[0].logs(15),
            frrs[N - 1].logs(15)
        )
    })
}

/// The member joins at r0 `reps` times: ms until r9's kernel route.
fn joins(
    rs: &[Netns],
    reps: usize,
    what: &str,
    progress: &Progress,
    logs: &dyn Fn() -> String,
) -> Result<Vec<f64>> {
    // Every Router-LSA of the start re-originated and flooded (both
    // stacks are left alone as long).
    std::thread::sleep(super::SETTLE);
    let cidr = format!("{MEMBER}/128");
    let mut out = Vec::new();
    for rep in 0..reps {
        crate::cleanup::check()?;
        progress.step(format!("{what}, member joins (rep {}/{reps})", rep + 1));
        let far = &rs[N - 1];
        let watcher = std::thread::scope(|sc| -> Result<(Instant, Option<Instant>)> {
            let w = sc.spawn(|| watch_route(far, MEMBER, true, Duration::from_secs(30)));
            // The watcher is polling before the address goes on.
            std::thread::sleep(Duration::from_millis(50));
            rs[0].add_addr("lo", &cidr)?;
            // The address exists once `ip` has returned.
            let t0 = Instant::now();
            let seen = w
                .join()
                .map_err(|_| anyhow::anyhow!("watcher panicked"))??;
            Ok((t0, seen))
        })?;
        let (t0, seen) = watcher;
        let Some(t9) = seen else {
            bail!("{what}: r9 never installed {MEMBER}/128:\n{}", logs());
        };
        out.push((t9 - t0).as_secs_f64() * 1e3);
        rs[0].ip(&["-6", "addr", "del", &cidr, "dev", "lo"])?;
        if watch_route(far, MEMBER, false, Duration::from_secs(30))?.is_none() {
            bail!("{what}: r9 never removed {MEMBER}/128:\n{}", logs());
        }
        // r0's next origination of the LSA is not held by MinLSInterval.
        std::thread::sleep(super::SETTLE);
    }
    Ok(out)
}
