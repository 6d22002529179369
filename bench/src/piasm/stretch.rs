//! Path stretch: a flow from S through the core (the ingress without the
//! shortcut) and via the shortcut (the ingress tunnels straight to the
//! first-hop router), against the shortest path (plain unicast from S to
//! the member's own address, the same links as the shortcut).
//!
//! ```text
//!  through the core:  S ─ I ─ P1 ─ CORE ═ P2 ═ FHR ─ M     6 links
//!  shortcut:          S ─ I ═ P2 ═ FHR ─ M                 4 links
//!  shortest:          S ─ I ─ P2 ─ FHR ─ M                 4 links
//! ```
//! (═ inside an IPv6-in-IPv6 tunnel: its routers do not touch the inner
//! hop limit.) The answers take the plain unicast path back in all three.

use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anycast6_tests::{wait_until, Netns, Proc, TempDir, UdpStream};
use anyhow::{bail, Context, Result};

use super::tree::{tree, Shape, Tree, M_ADDR, S_ADDR};
use super::{A, PORT};
use crate::progress::Progress;

/// Links S → member by construction (see the diagram).
pub const LINKS_CORE: u32 = 6;
pub const LINKS_SHORTCUT: u32 = 4;
pub const LINKS_SHORTEST: u32 = 4;
/// The inner hop limit the member sees by construction (S sends 64):
/// through the core, I and P1 route A by unicast, the core forwards it
/// into the tunnel (P2 hidden), FHR forwards it out of it; via the
/// shortcut, I forwards it into the tunnel (P2 hidden), FHR out of it.
pub const HLIM_CORE: u8 = 60;
pub const HLIM_SHORTCUT: u8 = 62;

/// One path's measurements.
pub struct PathRun {
    /// Median RTT of each round, µs: to A, and to the answering member's
    /// unicast address.
    pub anycast_us: Vec<f64>,
    pub unicast_us: Vec<f64>,
    /// The inner hop limits tshark saw at the member for the flow.
    pub hop_limits: Vec<u8>,
    pub member: String,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// `n` echo round trips on one flow; their median (µs) and the member.
fn echo(ns: &Netns, sport: u16, dst: SocketAddrV6, n: usize) -> Result<(f64, String)> {
    let (mut rtts, member) = ns.run_in(move || {
        let sock = UdpSocket::bind(SocketAddrV6::new(S_ADDR, sport, 0, 0))?;
        sock.connect(dst)?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut buf = [0u8; 256];
        let mut rtts = Vec::with_capacity(n);
        let mut member = String::new();
        for i in 0..n {
            let payload = format!("{i}");
            let t = Instant::now();
            sock.send(payload.as_bytes())?;
            while let Ok(k) = sock.recv(&mut buf) {
                let ans = String::from_utf8_lossy(&buf[..k]).into_owned();
                let mut parts = ans.splitn(2, '\n');
                let name = parts.next().unwrap_or("").to_string();
                if parts.next() == Some(payload.as_str()) {
                    rtts.push(t.elapsed().as_secs_f64() * 1e6);
                    member = name;
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok((rtts, member))
    })?;
    if rtts.len() < n / 2 {
        bail!("{} of {n} echoes to {dst} answered", rtts.len());
    }
    Ok((median(&mut rtts), member))
}

/// tshark on `dev` of `ns`, UDP to A's service port.
fn capture(ns: &Netns, tmp: &TempDir, label: &str, dev: &str) -> Result<(Proc, PathBuf)> {
    let file = tmp.join(format!("{label}.pcap"));
    let log = tmp.join(format!("{label}.log"));
    let mut cmd = ns.command("tshark");
    cmd.args([
        "-n",
        "-q",
        "-i",
        dev,
        "-f",
        &format!("udp dst port {PORT} and ip6 dst host {A}"),
        "-w",
    ])
    .arg(&file);
    let p = Proc::spawn(label, cmd, log.clone())?;
    if !wait_until(Duration::from_secs(90), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Capturing on"))
    }) {
        bail!("tshark on {dev} did not start");
    }
    Ok((p, file))
}

fn hop_limits(file: &Path, sport: u16) -> Vec<u8> {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args([
            "-Y",
            &format!("udp.srcport == {sport}"),
            "-T",
            "fields",
            "-e",
            "ipv6.hlim",
        ])
        .output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    })
    .unwrap_or_default()
}

/// One path: the topology with the ingress, `shortcut` or not; `rounds`
/// rounds of `n` echoes to A and to the member's unicast address.
pub fn path(shortcut: bool, rounds: usize, n: usize, progress: &Progress) -> Result<PathRun> {
    let short = if shortcut { "pss" } else { "psc" };
    let t = Tree::build(
        short,
        Shape {
            ingress: true,
            shortcut,
            ..Shape::traffic()
        },
    )?;
    t.wait_branches(2, Duration::from_secs(30))?;
    let dst = SocketAddrV6::new(A, PORT, 0, 0);
    if shortcut {
        let ing = t.ingress.as_ref().context("ingress")?;
        let stream = UdpStream::start(
            &t.s,
            SocketAddrV6::new(S_ADDR, 34567, 0, 0),
            dst,
            Duration::from_millis(2),
        );
        let ok = wait_until(Duration::from_secs(10), || {
            tree(ing)["shortcut_version"].is_u64()
        });
        std::thread::sleep(Duration::from_millis(500));
        drop(stream);
        if !ok {
            bail!("the ingress took no shortcut: {:#}", tree(ing));
        }
    }
    let caps = [
        capture(&t.m[0], &t.tmp, &format!("{short}-cap1"), "m-f1")?,
        capture(&t.m[1], &t.tmp, &format!("{short}-cap2"), "m-f2")?,
    ];
    let sport = 35000;
    let mut run = PathRun {
        anycast_us: Vec::new(),
        unicast_us: Vec::new(),
        hop_limits: Vec::new(),
        member: String::new(),
    };
    for r in 0..rounds {
        crate::cleanup::check()?;
        progress.step(format!(
            "path stretch, {}: round {}/{rounds} of {n} echoes",
            if shortcut {
                "shortcut"
            } else {
                "through the core"
            },
            r + 1
        ));
        let (a, m) = echo(&t.s, sport, dst, n)?;
        if !run.member.is_empty() && run.member != m {
            bail!("the flow moved from {} to {m}", run.member);
        }
        run.member = m;
        let k = if run.member == "m1" { 0 } else { 1 };
        let uni: Ipv6Addr = M_ADDR[k].parse()?;
        let (u, _) = echo(&t.s, sport + 1, SocketAddrV6::new(uni, PORT, 0, 0), n)?;
        run.anycast_us.push(a);
        run.unicast_us.push(u);
    }
    let k = if run.member == "m1" { 0 } else { 1 };
    let [(p1, f1), (p2, f2)] = caps;
    std::thread::sleep(Duration::from_millis(500));
    drop(p1);
    drop(p2);
    let file = if k == 0 { f1 } else { f2 };
    let want = rounds * n / 2;
    wait_until(Duration::from_secs(15), || {
        run.hop_limits = hop_limits(&file, sport);
        run.hop_limits.len() >= want
    });
    Ok(run)
}
