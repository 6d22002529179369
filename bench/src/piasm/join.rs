//! Join latency: a member's anycast6d starts behind FHR1 → a UDP probe
//! from S to A is first answered by it. Baseline: the same member behind a
//! plain ARD router that S reaches directly.
//!
//! ```text
//!  PIA-SM:  S ─ P1 ─ CORE ─ P2 ─ FHR1 ─ M1      (FHR2 without a member)
//!  ARD:     S ─ R (anycast6d, ARD) ─ M
//! ```

use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::time::{Duration, Instant};

use anycast6_tests::proto::link;
use anycast6_tests::{Daemon, DaemonCfg, Netns, Server, TempDir};
use anyhow::{bail, Context, Result};

use super::tree::{self, Shape, Tree, S_ADDR};
use super::{A, PORT};
use crate::progress::Progress;

/// A probe every this often, each from a fresh source port.
pub const PROBE_EVERY: Duration = Duration::from_millis(5);
const BUDGET: Duration = Duration::from_secs(15);

/// Probes A from `src` (fresh ports from `*port`) in `ns` on a thread
/// until one is answered; returns when the answer came.
fn start_probe(
    ns: &Netns,
    src: Ipv6Addr,
    port: u16,
) -> std::thread::JoinHandle<Result<(Instant, String)>> {
    let dst = SocketAddrV6::new(A, PORT, 0, 0);
    ns.spawn("join-probe", move || {
        let end = Instant::now() + BUDGET;
        let mut p = port;
        let mut buf = [0u8; 256];
        while Instant::now() < end {
            let due = Instant::now() + PROBE_EVERY;
            p = if p >= 60000 { 20000 } else { p + 1 };
            let sock = UdpSocket::bind(SocketAddrV6::new(src, p, 0, 0))?;
            sock.connect(dst)?;
            sock.set_read_timeout(Some(PROBE_EVERY))?;
            let _ = sock.send(b"join");
            while Instant::now() < due {
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        let at = Instant::now();
                        let name = String::from_utf8_lossy(&buf[..n]);
                        let name = name.split('\n').next().unwrap_or("").to_string();
                        return Ok((at, name));
                    }
                    // Timeout or an ICMPv6 error: wait for the next tick.
                    Err(_) => std::thread::sleep(Duration::from_micros(200)),
                }
            }
        }
        bail!("no answer from A within {BUDGET:?}")
    })
}

/// One join: `start` starts the member; ms from just before it to the
/// first answered probe.
fn one(ns: &Netns, port: u16, who: &str, start: impl FnOnce() -> Result<()>) -> Result<f64> {
    let probe = start_probe(ns, S_ADDR, port);
    std::thread::sleep(Duration::from_millis(20));
    let t0 = Instant::now();
    start()?;
    let (at, name) = probe
        .join()
        .map_err(|_| anyhow::anyhow!("probe thread panicked"))??;
    if name != who {
        bail!("the probe was answered by {name:?}, not {who}");
    }
    Ok(at.duration_since(t0).as_secs_f64() * 1e3)
}

/// PIA-SM join latencies (ms).
pub fn piasm(reps: usize, progress: &Progress) -> Result<Vec<f64>> {
    let mut t = Tree::build(
        "pjn",
        Shape {
            start_members: false,
            ..Shape::traffic()
        },
    )?;
    let mut out = Vec::new();
    for rep in 0..reps {
        crate::cleanup::check()?;
        progress.step(format!("PIA-SM join latency (rep {}/{reps})", rep + 1));
        let port = 20000 + (rep as u16) * 3000;
        let ms = {
            let s = &t.s;
            let mut started = None;
            let ms = one(s, port, "m1", || {
                started = Some(
                    Daemon::start(&t.m[0], &t.tmp, &format!("pjm{rep}"), &t.member_cfg(0))
                        .context("member")?,
                );
                Ok(())
            })?;
            t.members[0] = started;
            ms
        };
        out.push(ms);
        // A clean stop (ARD leave, prune up); the tree empties before the next.
        t.members[0] = None;
        t.wait_branches(0, Duration::from_secs(10))?;
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(out)
}

/// ARD-only join latencies (ms).
pub fn ard(reps: usize, progress: &Progress) -> Result<Vec<f64>> {
    let tmp = TempDir::new("ajn")?;
    let ns = |n: &str| Netns::new(&format!("ajn{n}"));
    let (s, r, m) = (ns("s")?, ns("r")?, ns("m")?);
    for n in [&s, &r, &m] {
        n.sysctl("net.ipv6.conf.all.accept_dad", "0")?;
        n.sysctl("net.ipv6.conf.default.accept_dad", "0")?;
    }
    link(
        &s,
        "s-r",
        "2001:db8:10::2/64",
        &r,
        "r-s",
        "2001:db8:10::1/64",
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
    s.add_route("default", "2001:db8:10::1")?;
    m.add_route("default", "2001:db8:15::1")?;
    m.add_addr("lo", &format!("{A}/128"))?;
    let _srv = Server::udp(&m, "m1", SocketAddrV6::new(A, PORT, 0, 0))?;
    let cfg = DaemonCfg {
        extra: tree::ard_router(&["r-m"], 1),
        ..DaemonCfg::default()
    }
    .interface("r-s", "native")
    .interface("r-m", "native");
    let router = Daemon::start(&r, &tmp, "ajnr", &cfg)?;
    let mcfg = tree::member(&[A], "2001:db8:15::2", "m-r", &Shape::traffic());
    let mut out = Vec::new();
    for rep in 0..reps {
        crate::cleanup::check()?;
        progress.step(format!("ARD-only join latency (rep {}/{reps})", rep + 1));
        let mut d = None;
        out.push(one(&s, 40000 + (rep as u16) * 2000, "m1", || {
            d = Some(Daemon::start(&m, &tmp, &format!("ajm{rep}"), &mcfg)?);
            Ok(())
        })?);
        drop(d);
        let gone = anycast6_tests::wait_until(Duration::from_secs(10), || {
            router
                .ctl_json(&["show", "rib"])
                .is_ok_and(|v| v.as_array().is_none_or(|a| a.is_empty()))
        });
        if !gone {
            bail!(
                "the ARD router kept A after the member stopped: {}",
                router.ctl(&["show", "rib"]).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(out)
}
