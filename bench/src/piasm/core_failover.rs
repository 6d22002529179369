//! The primary core dies (tests/tests/piasm_data.rs
//! `the_second_core_takes_over_when_the_first_dies`, measured): two cores
//! share C, FRR ospf6d routes A and C (each core redistributes them as
//! connected /128s, core 1 at metric 20, core 2 at 100); core 1's links go
//! down and its processes are killed. Two 1 ms UDP streams run across the
//! same failure: one to A through the tree, one — the baseline — to X, a
//! plain unicast service both cores hold and redistribute the same way (an
//! anycast by routing alone, as operators run it with BGP or OSPF). The
//! gap of A's stream against X's is what PIA-SM adds to the unicast
//! convergence, which both wait for.
//!
//! ```text
//!        ┌─ CORE1 ─┐
//!  S ─ P1          P2 ─┬─ FHR1 ─ M1
//!        └─ CORE2 ─┘   └─ FHR2 ─ M2
//! ```

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::Duration;

use anycast6_tests::frr::Frr;
use anycast6_tests::ospf::{OspfIf, OspfNetwork};
use anycast6_tests::proto::{link, longest_gap};
use anycast6_tests::{wait_until, Daemon, DaemonCfg, Netns, Server, TempDir, UdpStream};
use anyhow::{bail, Context, Result};

use super::tree::{branches, fhr_cfg, member, piasm, Shape, M_ADDR, R_CORE, R_F, S_ADDR};
use super::{A, C, PORT};
use crate::progress::Progress;

const R_C2: &str = "2001:db8:ff::2";
/// The baseline's plain unicast service, on both cores.
pub const X: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc1, 0, 0, 0, 0, 1);
const PROBE: Duration = Duration::from_millis(1);

/// One repetition: (gap of A's stream, gap of X's), ms.
fn once(short: &str) -> Result<(f64, f64)> {
    let tmp = TempDir::new(short)?;
    let ns = |n: &str| Netns::new(&format!("{short}{n}"));
    let (s, p1, c1, c2, p2) = (ns("s")?, ns("p1")?, ns("c1")?, ns("c2")?, ns("p2")?);
    let (f1, f2, m1, m2) = (ns("f1")?, ns("f2")?, ns("m1")?, ns("m2")?);
    let links: [(&Netns, &str, &str, &Netns, &str, &str); 9] = [
        (
            &s,
            "s-p",
            "2001:db8:10::2/64",
            &p1,
            "p-s",
            "2001:db8:10::1/64",
        ),
        (
            &p1,
            "p1-c1",
            "2001:db8:21::1/64",
            &c1,
            "c1-p1",
            "2001:db8:21::2/64",
        ),
        (
            &p1,
            "p1-c2",
            "2001:db8:22::1/64",
            &c2,
            "c2-p1",
            "2001:db8:22::2/64",
        ),
        (
            &c1,
            "c1-p2",
            "2001:db8:23::1/64",
            &p2,
            "p2-c1",
            "2001:db8:23::2/64",
        ),
        (
            &c2,
            "c2-p2",
            "2001:db8:24::1/64",
            &p2,
            "p2-c2",
            "2001:db8:24::2/64",
        ),
        (
            &p2,
            "p2-f1",
            "2001:db8:13::2/64",
            &f1,
            "f1-p2",
            "2001:db8:13::1/64",
        ),
        (
            &p2,
            "p2-f2",
            "2001:db8:14::2/64",
            &f2,
            "f2-p2",
            "2001:db8:14::1/64",
        ),
        (
            &f1,
            "f1-m",
            "2001:db8:15::1/64",
            &m1,
            "m-f1",
            "2001:db8:15::2/64",
        ),
        (
            &f2,
            "f2-m",
            "2001:db8:16::1/64",
            &m2,
            "m-f2",
            "2001:db8:16::2/64",
        ),
    ];
    for (a, ai, aa, b, bi, ba) in links {
        link(a, ai, aa, b, bi, ba)?;
    }
    let (a, x) = (A.to_string(), X.to_string());
    for (n, addrs) in [
        (&c1, vec![R_CORE, C, &a, &x]),
        (&c2, vec![R_C2, C, &a, &x]),
        (&f1, vec![R_F[0]]),
        (&f2, vec![R_F[1]]),
    ] {
        for ad in addrs {
            n.add_addr("lo", &format!("{ad}/128"))?;
        }
    }
    for n in [&p1, &c1, &c2, &p2, &f1, &f2] {
        n.enable_forwarding()?;
    }
    s.add_route("default", "2001:db8:10::1")?;
    for (r, lan, via) in [
        (R_F[0], "2001:db8:15::/64", "2001:db8:13::1"),
        (R_F[1], "2001:db8:16::/64", "2001:db8:14::1"),
    ] {
        p2.add_route(&format!("{r}/128"), via)?;
        p2.add_route(lan, via)?;
    }
    f1.add_route("default", "2001:db8:13::2")?;
    f2.add_route("default", "2001:db8:14::2")?;
    m1.add_route("default", "2001:db8:15::1")?;
    m2.add_route("default", "2001:db8:16::1")?;

    let ptp = OspfIf {
        network: OspfNetwork::PointToPoint,
        ..OspfIf::default()
    };
    let ospf = |id: &str, ifs: &[&str], extra: &str| {
        let list: Vec<(&str, OspfIf)> = ifs.iter().map(|i| (*i, ptp.clone())).collect();
        Frr::ospf6_config(id, &list, false).replace(
            &format!(" ospf6 router-id {id}\n"),
            &format!(" ospf6 router-id {id}\n{extra}"),
        )
    };
    let redis = " redistribute connected\n";
    let _frr_p1 = Frr::start_ospf6d(
        &p1,
        &tmp,
        "p1",
        &ospf("10.0.0.1", &["p1-c1", "p1-c2"], redis),
    )?;
    let frr_c1 = Frr::start_ospf6d(
        &c1,
        &tmp,
        "c1",
        &ospf(
            "10.0.0.11",
            &["c1-p1", "c1-p2"],
            " redistribute connected metric 20\n",
        ),
    )?;
    let _frr_c2 = Frr::start_ospf6d(
        &c2,
        &tmp,
        "c2",
        &ospf(
            "10.0.0.12",
            &["c2-p1", "c2-p2"],
            " redistribute connected metric 100\n",
        ),
    )?;
    let _frr_p2 = Frr::start_ospf6d(
        &p2,
        &tmp,
        "p2",
        &ospf(
            "10.0.0.2",
            &["p2-c1", "p2-c2"],
            " redistribute connected\n redistribute kernel\n",
        ),
    )?;
    let via = |n: &Netns, dst: &str| n.ip(&["-6", "route", "get", dst]).unwrap_or_default();
    if !wait_until(Duration::from_secs(60), || {
        via(&p1, C).contains("p1-c1")
            && via(&p1, &x).contains("p1-c1")
            && via(&p2, C).contains("p2-c1")
            && via(&c1, R_F[0]).contains("c1-p2")
            && via(&c2, R_F[1]).contains("c2-p2")
            && via(&c1, R_C2).contains("dev")
            && via(&p2, "2001:db8:10::2").contains("dev p2-c")
    }) {
        bail!("OSPF did not converge: p1 {}", p1.ip(&["-6", "route"])?);
    }

    // Servers: the members on A, both cores on X (the baseline's echo).
    let mut servers = Vec::new();
    for (name, m) in [("m1", &m1), ("m2", &m2)] {
        m.add_addr("lo", &format!("{A}/128"))?;
        servers.push(Server::udp(m, name, SocketAddrV6::new(A, PORT, 0, 0))?);
    }
    for (name, c) in [("c1", &c1), ("c2", &c2)] {
        servers.push(Server::udp(c, name, SocketAddrV6::new(X, PORT, 0, 0))?);
    }
    let core_cfg = |me: &str, peer: &str, up: &str, down: &str| {
        DaemonCfg {
            extra: format!(
                "{}peers = [\"{peer}\"]\n",
                piasm(me, &[down], &[A], true, false)
            ),
            ..DaemonCfg::default()
        }
        .interface(up, "native")
        .interface(down, "native")
    };
    let mut d1 = Daemon::start(
        &c1,
        &tmp,
        &format!("{short}c1"),
        &core_cfg(R_CORE, R_C2, "c1-p1", "c1-p2"),
    )?;
    let d2 = Daemon::start(
        &c2,
        &tmp,
        &format!("{short}c2"),
        &core_cfg(R_C2, R_CORE, "c2-p1", "c2-p2"),
    )?;
    let sh = Shape::traffic();
    let _fhr: Vec<Daemon> = [&f1, &f2]
        .iter()
        .enumerate()
        .map(|(i, n)| Daemon::start(n, &tmp, &format!("{short}f{}", i + 1), &fhr_cfg(i, &sh)))
        .collect::<Result<_>>()?;
    let _members: Vec<Daemon> = [&m1, &m2]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Daemon::start(
                n,
                &tmp,
                &format!("{short}m{}", i + 1),
                &member(&[A], M_ADDR[i], &format!("m-f{}", i + 1), &sh),
            )
        })
        .collect::<Result<_>>()?;
    for d in [&d1, &d2] {
        if !wait_until(Duration::from_secs(30), || branches(d).len() == 2) {
            bail!("the cores did not get both branches");
        }
    }
    let a_dst = SocketAddrV6::new(A, PORT, 0, 0);
    let x_dst = SocketAddrV6::new(X, PORT, 0, 0);
    let sa = UdpStream::start(&s, SocketAddrV6::new(S_ADDR, 35001, 0, 0), a_dst, PROBE);
    let sx = UdpStream::start(&s, SocketAddrV6::new(S_ADDR, 35002, 0, 0), x_dst, PROBE);
    std::thread::sleep(Duration::from_millis(1500));
    for i in ["c1-p1", "c1-p2"] {
        c1.ip(&["link", "set", i, "down"])?;
    }
    d1.kill9();
    drop(frr_c1);
    std::thread::sleep(Duration::from_secs(3));
    let (ra, rx) = (sa.stop()?, sx.stop()?);
    if !rx.members.contains_key("c2") || ra.members.is_empty() {
        bail!(
            "a stream did not come back: A {:?}, X {:?}",
            ra.members,
            rx.members
        );
    }
    let tail = |r: &anycast6_tests::traffic::StreamReport| {
        let last = r.sent_at.len().saturating_sub(500) as u64;
        r.lost.iter().filter(|l| **l >= last).count()
    };
    if tail(&ra) > 10 {
        bail!("A's stream lost {} of its last 500 datagrams", tail(&ra));
    }
    let ms = |r: &anycast6_tests::traffic::StreamReport| {
        longest_gap(&r.lost) as f64 * PROBE.as_secs_f64() * 1e3
    };
    Ok((ms(&ra), ms(&rx)))
}

/// (A's gaps, X's gaps), ms, one pair per repetition (a fresh topology each).
pub fn run(reps: usize, progress: &Progress) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut a, mut x) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        crate::cleanup::check()?;
        progress.step(format!(
            "PIA-SM failover: the primary core dies (rep {}/{reps})",
            rep + 1
        ));
        let (ga, gx) = once(&format!("pcf{rep}")).context("core failover")?;
        a.push(ga);
        x.push(gx);
    }
    Ok((a, x))
}
