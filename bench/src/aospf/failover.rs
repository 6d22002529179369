//! Member failure → traffic moved, across a routed network: AOSPF
//! (anycast6d) against FRR ospf6d with the same OSPF timers, and against
//! ospf6d with BFD (FRR's bfdd) on the member links.
//!
//! ```text
//!  client ── u ══ r1 ── m1   (preferred: u–r1 cost 10)     probe: one UDP datagram per ms
//!            ╚═══ r2 ── m2   (u–r2 cost 20)                to the anycast address, answered
//!                                                           by the member's server
//! ```
//! ══ are OSPF links (point-to-point, the benchmark's timers), ── the
//! members' first hop. anycast6: u, r1, r2 run anycast6d with `[aospf]`
//! (XDP on every interface); m1 and m2 run anycast6d's member role and
//! announce the anycast address by ARD to r1 / r2 (hold 200 ms, reports
//! every 50 ms), which serve it and originate it into AOSPF with the AC
//! bit. FRR: zebra + ospf6d on all five, each member announcing the /128
//! on its lo (a passive OSPF interface); kernel forwarding; with BFD,
//! bfdd on r1, r2, m1, m2 and `ipv6 ospf6 bfd` on the member links, one
//! packet per [`ARD_REPORT_MS`] and a multiplier of [`BFD_MULT`] (the same
//! detection time as ARD's hold).
//!
//! A hard failure is a SIGKILL of m1's routing agent (anycast6d, or zebra
//! and ospf6d and bfdd) with its anycast address removed at once; the gap
//! is the longest run of unanswered probes. m1 comes back and traffic
//! returns to it before the next repetition.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::{Duration, Instant};

use anycast6_tests::daemon::DaemonCfg;
use anycast6_tests::frr::Frr;
use anycast6_tests::proto;
use anycast6_tests::traffic::{self, Server};
use anycast6_tests::{Daemon, Netns, Proc, TempDir, UdpStream};
use anyhow::{bail, Context, Result};

use super::ospf6d::{self, Iface};
use super::Timers;
use crate::progress::Progress;

const ANYCAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0x6f);
const CLIENT: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 2);
const PORT: u16 = 7000;
const PROBE: Duration = Duration::from_millis(1);
/// ARD timers of the anycast6 members (failover.rs's).
pub const ARD_HOLD_MS: u64 = 200;
pub const ARD_REPORT_MS: u64 = 50;
/// BFD: a packet every ARD report interval, down after this many missed
/// (ARD's hold, 200 ms).
pub const BFD_MULT: u64 = ARD_HOLD_MS / ARD_REPORT_MS;
/// OSPF costs of the two router links: m1 (through r1) is nearer.
const COST_R1: u16 = 10;
const COST_R2: u16 = 20;

struct Net {
    tmp: TempDir,
    client: Netns,
    u: Netns,
    r: [Netns; 2],
    m: [Netns; 2],
    _servers: Vec<Server>,
}

impl Net {
    fn build(short: &str) -> Result<Net> {
        let tmp = TempDir::new(short)?;
        let ns = |r: &str| Netns::new(&format!("{short}{r}"));
        let (client, u) = (ns("c")?, ns("u")?);
        let r = [ns("r1")?, ns("r2")?];
        let m = [ns("m1")?, ns("m2")?];
        for n in [&client, &u, &r[0], &r[1], &m[0], &m[1]] {
            n.sysctl("net.ipv6.conf.all.accept_dad", "0")?;
            n.sysctl("net.ipv6.conf.default.accept_dad", "0")?;
        }
        for n in [&u, &r[0], &r[1]] {
            n.enable_forwarding()?;
        }
        proto::link(
            &client,
            "c-u",
            "2001:db8:c::2/64",
            &u,
            "u-c",
            "2001:db8:c::1/64",
        )?;
        for i in 0..2 {
            let k = i + 1;
            proto::link(
                &u,
                &format!("u-r{k}"),
                &format!("2001:db8:1{k}::1/64"),
                &r[i],
                "r-u",
                &format!("2001:db8:1{k}::2/64"),
            )?;
            proto::link(
                &r[i],
                "r-m",
                &format!("2001:db8:2{k}::1/64"),
                &m[i],
                "m-r",
                &format!("2001:db8:2{k}::10/64"),
            )?;
            m[i].add_route("default", &format!("2001:db8:2{k}::1"))?;
        }
        client.add_route("default", "2001:db8:c::1")?;
        client.xdp_pass("c-u")?;
        let mut servers = Vec::new();
        for (name, mm) in [("m1", &m[0]), ("m2", &m[1])] {
            mm.add_addr("lo", &format!("{ANYCAST}/128"))?;
            servers.push(Server::udp(
                mm,
                name,
                SocketAddrV6::new(ANYCAST, PORT, 0, 0),
            )?);
        }
        Ok(Net {
            tmp,
            client,
            u,
            r,
            m,
            _servers: servers,
        })
    }

    /// The member answering a fresh flow now.
    fn answering(&self, sport: u16) -> Option<String> {
        let dst = SocketAddrV6::new(ANYCAST, PORT, 0, 0);
        let c = self
            .client
            .run_in(move || traffic::udp_flows(CLIENT, dst, sport, 1))
            .ok()?;
        c.members().first().map(|m| m.to_string())
    }

    fn wait_answering(&self, who: &str, timeout: Duration, sport: &mut u16) -> Result<()> {
        let t = Instant::now();
        while t.elapsed() < timeout {
            *sport = sport.wrapping_add(1).max(50000);
            if self.answering(*sport).as_deref() == Some(who) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("{who} not answering the anycast address after {timeout:?}")
    }

    fn address(&self, m: usize, add: bool) -> Result<()> {
        let verb = if add { "add" } else { "del" };
        self.m[m].ip(&["-6", "addr", verb, &format!("{ANYCAST}/128"), "dev", "lo"])?;
        Ok(())
    }

    /// Runs the probe across `fail` until m2 answers; the gap in ms.
    fn measure_gap(
        &self,
        sport: u16,
        fail: impl FnOnce() -> Result<()>,
        budget: Duration,
    ) -> Result<f64> {
        let dst = SocketAddrV6::new(ANYCAST, PORT, 0, 0);
        let stream = UdpStream::start(
            &self.client,
            SocketAddrV6::new(CLIENT, sport, 0, 0),
            dst,
            PROBE,
        );
        std::thread::sleep(Duration::from_millis(300));
        fail()?;
        let mut probe_port = 40000u16;
        let moved = self.wait_answering("m2", budget, &mut probe_port);
        std::thread::sleep(Duration::from_millis(300));
        let rep = stream.stop()?;
        moved?;
        if !rep.members.contains_key("m2") {
            bail!("the probe flow never reached m2: {:?}", rep.members);
        }
        Ok(proto::longest_gap(&rep.lost) as f64 * PROBE.as_secs_f64() * 1e3)
    }
}

/// Hard-failure gaps (ms) with anycast6d on every node.
fn anycast6(t: &Timers, reps: usize, progress: &Progress) -> Result<Vec<f64>> {
    let net = Net::build("afo")?;
    let mut u_cfg = DaemonCfg::default()
        .interface("u-c", "native")
        .interface("u-r1", "native")
        .interface("u-r2", "native");
    u_cfg.extra = super::aospf_section("10.8.0.1", &[("u-r1", COST_R1), ("u-r2", COST_R2)], t);
    let _u = Daemon::start(&net.u, &net.tmp, "u", &u_cfg)?;
    let mut routers = Vec::new();
    for i in 0..2 {
        let mut cfg = DaemonCfg::default()
            .interface("r-u", "native")
            .interface("r-m", "native");
        cfg.extra = format!(
            "{}\n{}",
            proto::ard_router(&["r-m"], None),
            super::aospf_section(&format!("10.8.0.{}", i + 2), &[("r-u", 10)], t)
        );
        routers.push(Daemon::start(
            &net.r[i],
            &net.tmp,
            &format!("r{}", i + 1),
            &cfg,
        )?);
    }
    let member = |i: usize| {
        proto::member_role(
            ANYCAST,
            proto::ard_member(&proto::ArdMember {
                iface: "m-r",
                unicast: &format!("2001:db8:2{}::10", i + 1),
                metric: 0,
                hold_ms: ARD_HOLD_MS,
                report_ms: ARD_REPORT_MS,
                key: None,
            }),
        )
    };
    let mut m1 = Daemon::start(&net.m[0], &net.tmp, "m1", &member(0))?;
    let _m2 = Daemon::start(&net.m[1], &net.tmp, "m2", &member(1))?;
    let mut sport = 50000;
    net.wait_answering("m1", Duration::from_secs(40), &mut sport)
        .with_context(|| {
            format!(
                "u:\n{}",
                _u.ctl(&["show", "aospf", "routes"]).unwrap_or_default()
            )
        })?;
    let mut hard = Vec::new();
    for rep in 0..reps {
        crate::cleanup::check()?;
        // r1's origination of the served address is not held by
        // MinLSInterval when m1 fails.
        std::thread::sleep(super::SETTLE);
        progress.step(format!(
            "AOSPF failover: anycast6d hard failure (rep {}/{reps})",
            rep + 1
        ));
        let gap = net.measure_gap(
            41000 + rep as u16,
            || {
                m1.kill9();
                net.address(0, false)
            },
            Duration::from_secs(20),
        )?;
        hard.push(gap);
        net.address(0, true)?;
        m1.spawn()?;
        net.wait_answering("m1", Duration::from_secs(20), &mut sport)?;
    }
    Ok(hard)
}

/// FRR zebra + ospf6d (+ bfdd) of one node.
struct FrrNode {
    frr: Frr,
    bfdd: Option<Proc>,
}

fn kill9(pid: u32) {
    let _ = anycast6_tests::sys::kill(pid, libc::SIGKILL);
}

/// Hard-failure gaps (ms) with FRR ospf6d on every node, with BFD on the
/// member links or not.
fn frr(t: &Timers, bfd: bool, reps: usize, progress: &Progress) -> Result<Vec<f64>> {
    let short = if bfd { "bfo" } else { "ffo" };
    let net = Net::build(short)?;
    let bfd_conf = ospf6d::bfdd_config(ARD_REPORT_MS as u32, BFD_MULT as u32);
    let start = |ns: &Netns, label: &str, rid: &str, ifs: &[Iface]| -> Result<FrrNode> {
        let frr = Frr::start_ospf6d(ns, &net.tmp, label, &ospf6d::config(rid, ifs, t))?;
        let bfdd = if bfd {
            Some(ospf6d::start_bfdd(ns, &net.tmp, &frr, &bfd_conf)?)
        } else {
            None
        };
        Ok(FrrNode { frr, bfdd })
    };
    let passive = |name| Iface {
        passive: true,
        ..Iface::new(name)
    };
    let with_bfd = |name| Iface {
        bfd,
        ..Iface::new(name)
    };
    let _u = start(
        &net.u,
        "u",
        "10.8.0.1",
        &[
            passive("u-c"),
            Iface {
                cost: COST_R1,
                ..Iface::new("u-r1")
            },
            Iface {
                cost: COST_R2,
                ..Iface::new("u-r2")
            },
        ],
    )?;
    let mut rs = Vec::new();
    for i in 0..2 {
        rs.push(start(
            &net.r[i],
            &format!("r{}", i + 1),
            &format!("10.8.0.{}", i + 2),
            &[Iface::new("r-u"), with_bfd("r-m")],
        )?);
    }
    let member_ifs = [passive("lo"), with_bfd("m-r")];
    let member_id = |i: usize| format!("10.8.0.{}", i + 4);
    let mut ms: Vec<Option<FrrNode>> = vec![
        Some(start(&net.m[0], "m1", &member_id(0), &member_ifs)?),
        Some(start(&net.m[1], "m2", &member_id(1), &member_ifs)?),
    ];
    let mut sport = 50000u16;
    net.wait_answering("m1", Duration::from_secs(60), &mut sport)
        .with_context(|| _u.frr.logs(10))?;
    let kind = if bfd {
        "FRR ospf6d + BFD"
    } else {
        "FRR ospf6d"
    };
    let mut hard = Vec::new();
    for rep in 0..reps {
        crate::cleanup::check()?;
        // Left alone as long as AOSPF's network is.
        std::thread::sleep(super::SETTLE);
        progress.step(format!(
            "AOSPF failover: {kind} hard failure (rep {}/{reps})",
            rep + 1
        ));
        let node = ms[0].take().context("m1's FRR")?;
        let gap = net
            .measure_gap(
                43000 + rep as u16,
                || {
                    let (z, o) = node.frr.pids();
                    if let Some(b) = &node.bfdd {
                        kill9(b.pid());
                    }
                    kill9(o);
                    kill9(z);
                    net.address(0, false)
                },
                Duration::from_secs(30),
            )
            .with_context(|| format!("{kind} hard failure"))?;
        drop(node);
        hard.push(gap);
        net.address(0, true)?;
        ms[0] = Some(start(
            &net.m[0],
            &format!("m1-{rep}"),
            &member_id(0),
            &member_ifs,
        )?);
        net.wait_answering("m1", Duration::from_secs(60), &mut sport)?;
    }
    drop(rs);
    Ok(hard)
}

/// (anycast6d, ospf6d, ospf6d with BFD) hard-failure gaps, ms.
pub fn run(t: &Timers, reps: usize, progress: &Progress) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let a = anycast6(t, reps, progress)?;
    let f = frr(t, false, reps, progress)?;
    let b = frr(t, true, reps, progress)?;
    Ok((a, f, b))
}
