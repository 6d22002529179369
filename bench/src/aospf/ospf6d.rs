//! FRR ospf6d as the AOSPF benchmark's baseline: its config with the
//! benchmark's timers, what its log says (neighbour state changes, SPF
//! runtimes, with microsecond timestamps), its resident memory, and bfdd
//! beside it.
//!
//! FRR 8.4 prints, with `debug ospf6 spf time` and `debug ospf6
//! neighbor state` at `log stdout debugging` and `log timestamp precision
//! 6`:
//!
//! ```text
//! 2026/11/24 10:00:00.123456 OSPF6: [XXXXX-XXXXX] SPF processing: # Areas: 1, SPF runtime: 0 sec 8123 usec, Reason: R+
//! 2026/11/24 10:00:00.123456 OSPF6: [XXXXX-XXXXX] Neighbor state change 10.0.0.1%g-d: [Down]->[Init] (HelloReceived)
//! ```
//!
//! The SPF runtime is ospf6d's own `ts_spf_duration` (also `show ipv6
//! ospf6`'s "Last SPF duration"): the tree, the intra-area prefix routes
//! and the border-router calculation of every area, not the zebra
//! installation that follows.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anycast6_tests::frr::{Frr, FRR_DIR, FRR_USER};
use anycast6_tests::{Netns, Proc, TempDir};
use anyhow::{bail, Context, Result};

use super::Timers;

/// One interface of an ospf6d config.
pub struct Iface<'a> {
    pub name: &'a str,
    pub cost: u16,
    /// Advertised, no adjacencies (a loopback's /128s).
    pub passive: bool,
    /// BFD on the interface (bfdd's profile [`BFD_PROFILE`]).
    pub bfd: bool,
}

impl<'a> Iface<'a> {
    pub fn new(name: &'a str) -> Iface<'a> {
        Iface {
            name,
            cost: 10,
            passive: false,
            bfd: false,
        }
    }
}

/// bfdd's profile name in [`bfdd_config`].
pub const BFD_PROFILE: &str = "a6b";

/// An ospf6d config: area 0, point-to-point links with the benchmark's
/// Hello/dead/retransmit intervals, SPF throttle = AOSPF's SPF delay and
/// hold, debug logs with microsecond timestamps.
pub fn config(router_id: &str, ifaces: &[Iface], t: &Timers) -> String {
    let mut s = String::from(
        "log stdout debugging\nlog timestamp precision 6\n\
         debug ospf6 neighbor state\ndebug ospf6 spf time\n!\n",
    );
    for i in ifaces {
        s.push_str(&format!(
            "interface {}\n ipv6 ospf6 area 0.0.0.0\n ipv6 ospf6 cost {}\n",
            i.name, i.cost
        ));
        if i.passive {
            s.push_str(" ipv6 ospf6 passive\n");
        } else {
            s.push_str(&format!(
                " ipv6 ospf6 network point-to-point\n ipv6 ospf6 hello-interval {}\n \
                 ipv6 ospf6 dead-interval {}\n ipv6 ospf6 retransmit-interval {}\n",
                t.hello.as_secs(),
                t.dead.as_secs(),
                t.retransmit.as_secs()
            ));
        }
        if i.bfd {
            s.push_str(&format!(
                " ipv6 ospf6 bfd\n ipv6 ospf6 bfd profile {BFD_PROFILE}\n"
            ));
        }
        s.push_str("!\n");
    }
    s.push_str(&format!(
        "router ospf6\n ospf6 router-id {router_id}\n timers throttle spf {} {} {}\n!\n",
        t.spf_delay.as_millis(),
        t.spf_hold.as_millis(),
        t.spf_hold.as_millis()
    ));
    s
}

/// Where [`Frr::start_ospf6d`] sends ospf6d's log.
pub fn log_path(tmp: &TempDir, label: &str) -> PathBuf {
    tmp.join(format!("frr-{label}-ospf6d.log"))
}

/// A log line's timestamp (`2026/11/24 10:00:00.123456`), seconds since
/// the epoch (the log's time zone: only differences are used).
fn timestamp(line: &str) -> Option<f64> {
    let mut it = line.split_whitespace();
    let date = it.next()?;
    let time = it.next()?;
    let d: Vec<i64> = date
        .split('/')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if d.len() != 3 || t.len() != 3 {
        return None;
    }
    let days = days_from_civil(d[0], d[1], d[2]);
    let frac: f64 = format!("0.{frac}").parse().ok()?;
    Some((days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) as f64 + frac)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One neighbour state change in ospf6d's log.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    /// Seconds (log clock).
    pub at: f64,
    pub from: String,
    pub to: String,
}

/// Every neighbour state change of the log text, in order.
pub fn state_changes(log: &str) -> Vec<StateChange> {
    log.lines()
        .filter(|l| l.contains("Neighbor state change"))
        .filter_map(|l| {
            let at = timestamp(l)?;
            let arrow = l.find("]->[")?;
            let from = l[..arrow].rsplit('[').next()?.to_string();
            let rest = &l[arrow + 4..];
            let to = rest.split(']').next()?.to_string();
            Some(StateChange { at, from, to })
        })
        .collect()
}

/// Every SPF runtime of the log text, in order, ms.
pub fn spf_runtimes(log: &str) -> Vec<f64> {
    log.lines()
        .filter_map(|l| {
            let rest = &l[l.find("SPF runtime:")? + "SPF runtime:".len()..];
            let w: Vec<&str> = rest.split_whitespace().collect();
            // "0 sec 8123 usec, Reason: ..."
            let s: f64 = w.first()?.parse().ok()?;
            let us: f64 = w.get(2)?.parse().ok()?;
            Some(s * 1e3 + us / 1e3)
        })
        .collect()
}

/// VmRSS of `pid`, KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")
}

/// bfdd's config: one profile, `interval_ms` both ways, `multiplier`
/// missed packets to declare the session down.
pub fn bfdd_config(interval_ms: u32, multiplier: u32) -> String {
    format!(
        "log stdout informational\n!\nbfd\n profile {BFD_PROFILE}\n  detect-multiplier {multiplier}\n  \
         receive-interval {interval_ms}\n  transmit-interval {interval_ms}\n !\n!\n"
    )
}

/// Starts bfdd beside a running [`Frr`] (its zebra, vty directory and a
/// control socket of its own under the instance directory), and waits
/// until it answers vtysh. Killed by pid when the returned guard drops.
pub fn start_bfdd(ns: &Netns, tmp: &TempDir, frr: &Frr, conf: &str) -> Result<Proc> {
    let dir = frr.dir();
    let conf_path = dir.join("bfdd.conf");
    std::fs::write(&conf_path, conf)?;
    anycast6_tests::util::run(
        Command::new("chown")
            .arg(format!("{FRR_USER}:{FRR_USER}"))
            .arg(&conf_path),
    )?;
    let mut cmd = ns.command(Path::new(FRR_DIR).join("bfdd"));
    cmd.args(["-u", FRR_USER, "-g", FRR_USER, "-P", "0", "--log", "stdout"])
        .arg("-f")
        .arg(&conf_path)
        .arg("-i")
        .arg(dir.join("bfdd.pid"))
        .arg("-z")
        .arg(dir.join("zserv.api"))
        .arg("--vty_socket")
        .arg(dir.join("vty"))
        .arg("--bfdctl")
        .arg(dir.join("bfdd.sock"));
    let mut p = Proc::spawn(
        &format!("{}-bfdd", frr.label()),
        cmd,
        tmp.join(format!("frr-{}-bfdd.log", frr.label())),
    )?
    .terminate_on_drop(Duration::from_secs(2));
    let ok = anycast6_tests::wait_until(Duration::from_secs(10), || {
        p.running() && frr.vtysh_daemon("bfdd", "show bfd peers").is_ok()
    });
    if !ok {
        bail!("bfdd in {} not ready:\n{}", ns.name(), p.log_tail(20));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_spf_runtimes_and_state_changes() {
        let log = "2026/11/24 10:00:00.500000 OSPF6: [AAAAA-BBBBB] Neighbor state change 10.0.0.1%g-d: [Down]->[Init] (HelloReceived)\n\
                   2026/11/24 10:00:01.250000 OSPF6: [AAAAA-BBBBB] Neighbor state change 10.0.0.1%g-d: [Loading]->[Full] (LoadingDone)\n\
                   2026/11/24 10:00:01.300000 OSPF6: [CCCCC-DDDDD] SPF processing: # Areas: 1, SPF runtime: 1 sec 8123 usec, Reason: R+\n";
        let s = state_changes(log);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].from.as_str(), s[0].to.as_str()), ("Down", "Init"));
        assert_eq!(s[1].to, "Full");
        assert!((s[1].at - s[0].at - 0.75).abs() < 1e-6);
        assert_eq!(spf_runtimes(log), vec![1008.123]);
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
