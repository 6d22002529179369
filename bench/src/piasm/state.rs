//! State per router at many anycast addresses: a core and two first-hop
//! routers with N `[[piasm.anycast]]` entries (same core address), each
//! FHR with one ARD member serving all N. Time from the members' start
//! until the core has two branches for every address; VmRSS of the core
//! and of FHR1 then, against the same daemons with one address. Baseline:
//! one ARD router with the same N addresses from one member.

use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use anycast6_tests::proto::link;
use anycast6_tests::{wait_until, Daemon, DaemonCfg, Netns, TempDir};
use anyhow::{bail, Context, Result};

use super::tree::{self, Shape, Tree};
use crate::progress::Progress;

/// The state figure's i-th anycast address (2001:db8:ac:1::/64).
pub fn address(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(
        0x2001,
        0xdb8,
        0xac,
        1,
        0,
        0,
        (i >> 16) as u16,
        (i as u16).wrapping_add(1),
    )
}

/// Members report every second, hold 60 s: 10 000 addresses are 209 ARD
/// reports of 48 records each per interval, of which a first-hop router
/// received about 40 % on the 2-core test machine (its `rx_report`); with a
/// 3 s or 10 s hold its addresses expired and came back for ever.
pub const REPORT_MS: u64 = 1000;
pub const HOLD_MS: u64 = 60_000;

/// VmRSS of `pid` in KiB.
pub fn vm_rss_kib(pid: u32) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

fn rss(d: &Daemon) -> Result<u64> {
    vm_rss_kib(d.pid().context("daemon not running")?)
}

/// Trees at the core with two branches.
fn full_trees(core: &Daemon) -> usize {
    core.ctl_json(&["show", "piasm", "trees"])
        .ok()
        .and_then(|v| {
            v.as_array().map(|a| {
                a.iter()
                    .filter(|t| t["branches"].as_array().is_some_and(|b| b.len() == 2))
                    .count()
            })
        })
        .unwrap_or(0)
}

/// One PIA-SM run with `n` addresses.
pub struct PiasmRun {
    pub converge_ms: f64,
    pub core_kib: u64,
    pub fhr_kib: u64,
}

pub fn piasm(n: usize, rep: usize, progress: &Progress) -> Result<PiasmRun> {
    progress.step(format!(
        "PIA-SM state: {n} anycast addresses (rep {})",
        rep + 1
    ));
    let mut t = Tree::build(
        &format!("pst{}", rep % 10),
        Shape {
            anycast: (0..n).map(address).collect(),
            start_members: false,
            report_ms: REPORT_MS,
            hold_ms: HOLD_MS,
            ..Shape::traffic()
        },
    )?;
    let t0 = Instant::now();
    t.start_member(0)?;
    t.start_member(1)?;
    let budget = Duration::from_secs(300);
    let mut seen = 0;
    let ok = wait_until(budget, || {
        if crate::cleanup::interrupted() {
            return true;
        }
        seen = full_trees(&t.core);
        // The poll is a JSON of every tree: not too often for the core.
        seen == n || {
            std::thread::sleep(Duration::from_millis(200));
            false
        }
    });
    crate::cleanup::check()?;
    if !ok {
        bail!("after {budget:?} the core has two branches for {seen} of {n} addresses");
    }
    let converge_ms = t0.elapsed().as_secs_f64() * 1e3;
    // Let joins, ARD reports and the FIB settle before reading memory.
    std::thread::sleep(Duration::from_secs(3));
    Ok(PiasmRun {
        converge_ms,
        core_kib: rss(&t.core)?,
        fhr_kib: rss(&t.fhr[0])?,
    })
}

/// One ARD router's VmRSS (KiB) holding `n` addresses of one member.
pub fn ard(n: usize, rep: usize, progress: &Progress) -> Result<u64> {
    progress.step(format!(
        "ARD-only state: {n} anycast addresses (rep {})",
        rep + 1
    ));
    let short = format!("ast{}", rep % 10);
    let tmp = TempDir::new(&short)?;
    let (r, m) = (
        Netns::new(&format!("{short}r"))?,
        Netns::new(&format!("{short}m"))?,
    );
    for x in [&r, &m] {
        x.sysctl("net.ipv6.conf.all.accept_dad", "0")?;
        x.sysctl("net.ipv6.conf.default.accept_dad", "0")?;
    }
    link(
        &r,
        "r-s",
        "2001:db8:10::1/64",
        &m,
        "s-r",
        "2001:db8:10::2/64",
    )?;
    link(
        &r,
        "r-m",
        "2001:db8:15::1/64",
        &m,
        "m-r",
        "2001:db8:15::2/64",
    )?;
    r.enable_forwarding()?;
    let cfg = DaemonCfg {
        extra: format!("{}\n{}", tree::capacities(n), tree::ard_router(&["r-m"], n)),
        ..DaemonCfg::default()
    }
    .interface("r-s", "native")
    .interface("r-m", "native");
    let router = Daemon::start(&r, &tmp, &format!("{short}r"), &cfg)?;
    let addrs: Vec<Ipv6Addr> = (0..n).map(address).collect();
    let sh = Shape {
        report_ms: REPORT_MS,
        hold_ms: HOLD_MS,
        ..Shape::traffic()
    };
    let _member = Daemon::start(
        &m,
        &tmp,
        &format!("{short}m"),
        &tree::member(&addrs, "2001:db8:15::2", "m-r", &sh),
    )?;
    let mut have = 0;
    let ok = wait_until(Duration::from_secs(300), || {
        have = router
            .ctl_json(&["show", "groups"])
            .ok()
            .and_then(|v| v.as_array().map(Vec::len))
            .unwrap_or(0);
        have >= n || crate::cleanup::interrupted() || {
            std::thread::sleep(Duration::from_millis(200));
            false
        }
    });
    crate::cleanup::check()?;
    if !ok {
        bail!("the ARD router has {have} of {n} groups after 300 s");
    }
    std::thread::sleep(Duration::from_secs(3));
    rss(&router)
}
