//! Member failure → traffic moved (issue 6), and ARIP convergence.
//!
//! ```text
//!  client ── r ── m1   (preferred)        probe: one UDP datagram per ms from
//!            └─── m2   (next)             the client to the anycast address,
//!                                         answered by the member's server
//! ```
//! The gap is the longest run of probes that got no answer, times the
//! probe interval. A hard failure kills the member's routing agent with
//! SIGKILL and removes the anycast address from it at once (its service is
//! gone, and nothing says so); a clean leave withdraws first (anycast6:
//! SIGTERM makes anycast6d send ARD leaves; FRR: the address is deleted, so
//! ripngd's `redistribute connected` sends the route at metric 16) and
//! removes the address right after. Both stacks run in the same run, on
//! fresh namespaces each: anycast6 (ARD between members and router, XDP on
//! the router) and FRR ripngd on every node (kernel forwarding).
//!
//! Convergence: a member joins at one end of a chain of 10 ARIP routers;
//! the time until the router at the far end has it in its RIB, in protocol
//! time on the cores (convergence.rs) and with 10 anycast6d in namespaces.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::{Duration, Instant};

use anycast6_tests::daemon::DaemonCfg;
use anycast6_tests::proto;
use anycast6_tests::traffic::{self, Server};
use anycast6_tests::{veth, Daemon, Netns, TempDir, UdpStream};
use anyhow::{bail, Context, Result};

use crate::figure::{at_most, Figure};
use crate::progress::Progress;
use crate::Opts;

const ANYCAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0xf);
const CLIENT: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 2);
const PORT: u16 = 7000;
const PROBE: Duration = Duration::from_millis(1);
/// ARD timers of the anycast6 members (sub-second).
const ARD_HOLD_MS: u64 = 200;
const ARD_REPORT_MS: u64 = 50;

/// The binaries next to this one (target/release), for the test harness.
pub fn use_release_binaries() -> Result<()> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("bench binary has no directory")?;
    // SAFETY (not unsafe in edition 2021): set before any thread reads it.
    std::env::set_var("A6T_BIN_DIR", dir);
    std::env::set_var("A6T_NO_BUILD", "1");
    Ok(())
}

pub struct Net {
    pub tmp: TempDir,
    pub client: Netns,
    pub r: Netns,
    pub m: [Netns; 2],
    _servers: Vec<Server>,
}

impl Net {
    pub fn build(short: &str) -> Result<Net> {
        let tmp = TempDir::new(short)?;
        let ns = |r: &str| Netns::new(&format!("{short}{r}"));
        let (client, r, m1, m2) = (ns("c")?, ns("r")?, ns("1")?, ns("2")?);
        r.enable_forwarding()?;
        proto::link(
            &client,
            "c-r",
            "2001:db8:c::2/64",
            &r,
            "r-c",
            "2001:db8:c::1/64",
        )?;
        proto::link(
            &r,
            "r-m1",
            "2001:db8:1::1/64",
            &m1,
            "m-r",
            "2001:db8:1::10/64",
        )?;
        proto::link(
            &r,
            "r-m2",
            "2001:db8:2::1/64",
            &m2,
            "m-r",
            "2001:db8:2::10/64",
        )?;
        client.add_route("default", "2001:db8:c::1")?;
        m1.add_route("default", "2001:db8:1::1")?;
        m2.add_route("default", "2001:db8:2::1")?;
        client.xdp_pass("c-r")?;
        let mut servers = Vec::new();
        for (name, m) in [("m1", &m1), ("m2", &m2)] {
            m.add_addr("lo", &format!("{ANYCAST}/128"))?;
            servers.push(Server::udp(
                m,
                name,
                SocketAddrV6::new(ANYCAST, PORT, 0, 0),
            )?);
        }
        Ok(Net {
            tmp,
            client,
            r,
            m: [m1, m2],
            _servers: servers,
        })
    }

    /// The member answering a fresh flow now.
    pub fn answering(&self, sport: u16) -> Option<String> {
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
}

/// Runs the probe across `fail` (which breaks member `m`) until `next`
/// answers; returns the gap in ms.
fn measure_gap(
    net: &Net,
    sport: u16,
    next: &str,
    fail: impl FnOnce() -> Result<()>,
    budget: Duration,
) -> Result<f64> {
    let dst = SocketAddrV6::new(ANYCAST, PORT, 0, 0);
    let stream = UdpStream::start(
        &net.client,
        SocketAddrV6::new(CLIENT, sport, 0, 0),
        dst,
        PROBE,
    );
    std::thread::sleep(Duration::from_millis(300));
    fail()?;
    let mut probe_port = 40000u16;
    let moved = net.wait_answering(next, budget, &mut probe_port);
    std::thread::sleep(Duration::from_millis(300));
    let rep = stream.stop()?;
    moved?;
    if !rep.members.contains_key(next) {
        bail!("the probe flow never reached {next}: {:?}", rep.members);
    }
    Ok(proto::longest_gap(&rep.lost) as f64 * PROBE.as_secs_f64() * 1e3)
}

fn anycast6_router() -> DaemonCfg {
    let mut cfg = DaemonCfg::default()
        .interface("r-c", "native")
        .interface("r-m1", "native")
        .interface("r-m2", "native");
    cfg.extra = proto::ard_router(&["r-m1", "r-m2"], None);
    cfg
}

fn anycast6_member(unicast: &str, metric: u32) -> DaemonCfg {
    member_with_hold(unicast, metric, ARD_HOLD_MS, ARD_REPORT_MS)
}

fn member_with_hold(unicast: &str, metric: u32, hold_ms: u64, report_ms: u64) -> DaemonCfg {
    proto::member_role(
        ANYCAST,
        proto::ard_member(&proto::ArdMember {
            iface: "m-r",
            unicast,
            metric,
            hold_ms,
            report_ms,
            key: None,
        }),
    )
}

/// (hard-failure gaps, clean-leave gaps) for anycast6, ms.
fn anycast6(reps: usize, progress: &Progress) -> Result<(Vec<f64>, Vec<f64>)> {
    let net = Net::build("fo6")?;
    let _r = Daemon::start(&net.r, &net.tmp, "r", &anycast6_router())?;
    let mut m1 = Daemon::start(
        &net.m[0],
        &net.tmp,
        "m1",
        &anycast6_member("2001:db8:1::10", 0),
    )?;
    let _m2 = Daemon::start(
        &net.m[1],
        &net.tmp,
        "m2",
        &anycast6_member("2001:db8:2::10", 1),
    )?;
    let mut sport = 50000;
    net.wait_answering("m1", Duration::from_secs(20), &mut sport)?;
    let (mut hard, mut leave) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        progress.step(format!(
            "failover: anycast6 hard failure (rep {}/{reps})",
            rep + 1
        ));
        let gap = measure_gap(
            &net,
            41000 + rep as u16,
            "m2",
            || {
                m1.kill9();
                net.address(0, false)
            },
            Duration::from_secs(10),
        )?;
        hard.push(gap);
        net.address(0, true)?;
        m1.spawn()?;
        net.wait_answering("m1", Duration::from_secs(10), &mut sport)?;

        progress.step(format!(
            "failover: anycast6 clean leave (rep {}/{reps})",
            rep + 1
        ));
        let gap = measure_gap(
            &net,
            42000 + rep as u16,
            "m2",
            || {
                m1.signal(libc::SIGTERM)?;
                net.address(0, false)
            },
            Duration::from_secs(10),
        )?;
        leave.push(gap);
        net.address(0, true)?;
        // SIGTERM'd: wait for it to exit before starting again.
        let t = Instant::now();
        while m1.running() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        m1.spawn()?;
        net.wait_answering("m1", Duration::from_secs(10), &mut sport)?;
    }
    Ok((hard, leave))
}

pub fn run(opts: Opts, progress: &Progress) -> Result<Vec<Figure>> {
    use_release_binaries()?;
    let reps = if opts.quick { 1 } else { 5 };
    let mut out = Vec::new();

    progress.step("convergence: 10-router chain on the protocol cores");
    let sims: Vec<f64> = (0..if opts.quick { 5 } else { 20 })
        .map(|seed| crate::convergence::chain(10, seed).map(|d| d.as_secs_f64() * 1e3))
        .collect::<Result<_>>()?;
    out.push(Figure::from_samples(
        "convergence.chain10_sim_ms",
        "ARIP: member joins at one end of a 10-router chain → far end installs it (simulated clock)",
        "ms",
        sims,
        None,
        "10 ARIP cores (control/src/arip) in a line on a simulated clock that jumps to the next \
         deadline, 1 ms one-way delay per link (the first triggered update of a change goes out at \
         once, so this is 9 hops × the link delay unless hold-downs interfere); timers: update 1 s ± 0.2 s, timeout 3 s, garbage 2 s, \
         triggered-update hold-down 50–100 ms; the member is originated at router 0 after 5 s of \
         settling; one sample per jitter seed",
    ));

    let chain_ms = chain(reps, progress)?;
    out.push(Figure::from_samples(
        "convergence.chain10_ms",
        "ARIP: member joins at one end of a 10-router chain → far end installs it (anycast6d in namespaces)",
        "ms",
        chain_ms,
        None,
        "10 anycast6d routers (release) in 10 namespaces joined in a line by veth, ARIP on every \
         link with the timers of the simulated figure; a member's anycast6d ([member.ard]) starts \
         on a link of r0; time from r0's RIB holding the address (ARD) to r9's RIB holding it (9 \
         ARIP hops), both polled with `anycast6ctl --json show rib` (a poll costs a few ms); the member \
         leaves (SIGTERM) and r9 forgets it before the next repetition",
    ));

    let (hard, leave) = anycast6(reps, progress)?;
    let note = format!(
        "client → router (anycast6d, XDP) → m1 (preferred, ARD metric 0) and m2 (metric 1), each \
         running anycast6d's member role with [member.ard] hold {ARD_HOLD_MS} ms, reports every \
         {ARD_REPORT_MS} ms; probe: one UDP datagram per {} ms on one flow, answered by the \
         member; gap = longest run of unanswered probes × {} ms",
        PROBE.as_millis(),
        PROBE.as_millis()
    );
    out.push(Figure::from_samples(
        "failover.anycast6_hard_ms",
        "anycast6: hard member failure → traffic moved (ARD expiry)",
        "ms",
        hard.clone(),
        at_most(300.0),
        &format!("{note}; hard failure: SIGKILL of m1's anycast6d and its anycast address removed at once"),
    ));
    out.push(Figure::from_samples(
        "failover.anycast6_leave_ms",
        "anycast6: clean member leave → traffic moved (ARD leave)",
        "ms",
        leave,
        None,
        &format!("{note}; clean leave: SIGTERM to m1's anycast6d (ARD leaves), address removed right after"),
    ));
    out.extend(frr_figures(reps, progress, &hard)?);
    Ok(out)
}

fn arip_section(ifs: &[&str]) -> String {
    let t = crate::convergence::timers();
    proto::arip_router(
        ifs,
        t.timeout.as_millis() as u64,
        t.garbage.as_millis() as u64,
    )
}

/// Whether `d`'s RIB holds the anycast address.
fn has_route(d: &Daemon) -> bool {
    d.ctl_json(&["show", "rib"]).is_ok_and(|v| {
        v.as_array()
            .into_iter()
            .flatten()
            .any(|r| r["group"] == ANYCAST.to_string())
    })
}

/// A member joins at r0 of a chain r0 … r9 of anycast6d ARIP routers:
/// ms from r0 having it (ARD) to r9 having it (9 ARIP hops).
fn chain(reps: usize, progress: &Progress) -> Result<Vec<f64>> {
    const N: usize = 10;
    let tmp = TempDir::new("chain")?;
    let rs: Vec<Netns> = (0..N)
        .map(|i| Netns::new(&format!("ch{i}")))
        .collect::<Result<_>>()?;
    let m = Netns::new("chm")?;
    for i in 0..N - 1 {
        veth(&rs[i], "e", &rs[i + 1], "w")?;
    }
    veth(&m, "m-r", &rs[0], "r-m")?;
    let mut daemons = Vec::new();
    for (i, r) in rs.iter().enumerate() {
        let ifs: Vec<&str> = match i {
            0 => vec!["e"],
            i if i == N - 1 => vec!["w"],
            _ => vec!["w", "e"],
        };
        let mut cfg = DaemonCfg {
            extra: arip_section(&ifs),
            ..Default::default()
        };
        if i == 0 {
            cfg.extra.push('\n');
            cfg.extra.push_str(&proto::ard_router(&["r-m"], None));
        }
        daemons.push(Daemon::start(r, &tmp, &format!("r{i}"), &cfg)?);
    }
    // Let ARIP settle (requests answered, periodic updates running).
    std::thread::sleep(Duration::from_secs(2));
    let mut out = Vec::new();
    for rep in 0..reps {
        progress.step(format!(
            "convergence: 10 anycast6d in a chain (rep {}/{reps})",
            rep + 1
        ));
        let cfg = member_with_hold("2001:db8:99::10", 0, 1000, ARD_REPORT_MS);
        let mut md = Daemon::start(&m, &tmp, &format!("m{rep}"), &cfg)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut t0 = None;
        let t9 = loop {
            if Instant::now() > deadline {
                let tail = |d: &Daemon| {
                    let l = d.log();
                    let lines: Vec<&str> = l.lines().collect();
                    lines[lines.len().saturating_sub(15)..].join("\n")
                };
                bail!(
                    "the far end of the chain never learned the member (r0 has it: {})\n--- r0 ---\n{}\n--- r1 ---\n{}\n--- member ---\n{}",
                    t0.is_some(),
                    tail(&daemons[0]),
                    tail(&daemons[1]),
                    tail(&md)
                );
            }
            let now = Instant::now();
            if t0.is_none() && has_route(&daemons[0]) {
                t0 = Some(now);
            }
            if t0.is_some() && has_route(&daemons[N - 1]) {
                break Instant::now();
            }
        };
        out.push((t9 - t0.expect("set")).as_secs_f64() * 1e3);
        // Leave, and wait until the far end forgets it.
        md.signal(libc::SIGTERM)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while has_route(&daemons[N - 1]) {
            if Instant::now() > deadline {
                bail!("the far end of the chain never dropped the member");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(md);
    }
    Ok(out)
}

/// FRR's RIPng timers: update 1 s, timeout 3 s, garbage 2 s (as fast as
/// a RIPng timeout can sensibly be: three updates).
const FRR_TIMERS: (u32, u32, u32) = (1, 3, 2);

fn kill9(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
}

/// (hard-failure gaps, clean-leave gaps) for FRR ripngd on every node, ms.
fn frr(reps: usize, progress: &Progress) -> Result<(Vec<f64>, Vec<f64>)> {
    use anycast6_tests::frr::Frr;
    let net = Net::build("fof")?;
    let r_conf = Frr::ripng_config(&["r-c", "r-m1", "r-m2"], FRR_TIMERS);
    let m_conf = Frr::ripng_config(&["m-r"], FRR_TIMERS);
    let _r = Frr::start(&net.r, &net.tmp, "r", &r_conf)?;
    let mut ms: Vec<Option<Frr>> = vec![
        Some(Frr::start(&net.m[0], &net.tmp, "m1", &m_conf)?),
        Some(Frr::start(&net.m[1], &net.tmp, "m2", &m_conf)?),
    ];
    let mut sport = 50000u16;
    let names = ["m1", "m2"];
    let who = |sport: &mut u16| -> Result<usize> {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(30) {
            *sport = sport.wrapping_add(1).max(50000);
            match net.answering(*sport).as_deref() {
                Some("m1") => return Ok(0),
                Some("m2") => return Ok(1),
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        bail!("no member answers through FRR ripngd")
    };
    let (mut hard, mut leave) = (Vec::new(), Vec::new());
    let budget = Duration::from_secs(30);
    for rep in 0..reps {
        for hard_case in [true, false] {
            let kind = if hard_case {
                "hard failure"
            } else {
                "clean leave"
            };
            progress.step(format!(
                "failover: FRR ripngd {kind} (rep {}/{reps})",
                rep + 1
            ));
            let x = who(&mut sport)?;
            let other = names[1 - x];
            let port = if hard_case { 43000 } else { 44000 } + rep as u16;
            let frr_x = ms[x].take().context("member's FRR")?;
            let gap = measure_gap(
                &net,
                port,
                other,
                || {
                    if hard_case {
                        let (z, r) = frr_x.pids();
                        kill9(r);
                        kill9(z);
                        net.address(x, false)?;
                    } else {
                        // The address goes: redistribute connected sends
                        // it at metric 16 (a triggered update), then stop.
                        net.address(x, false)?;
                    }
                    Ok(())
                },
                budget,
            )
            .with_context(|| format!("FRR {kind}"))?;
            drop(frr_x);
            if hard_case {
                hard.push(gap);
            } else {
                leave.push(gap);
            }
            net.address(x, true)?;
            ms[x] = Some(Frr::start(
                &net.m[x],
                &net.tmp,
                &format!("{}-{rep}-{hard_case}", names[x]),
                &m_conf,
            )?);
            // Both members announced again before the next case.
            let t = Instant::now();
            while !_r.has_route(&format!("{ANYCAST}/128"), "ripng") && t.elapsed() < budget {
                std::thread::sleep(Duration::from_millis(100));
            }
            std::thread::sleep(Duration::from_millis(u64::from(FRR_TIMERS.0) * 2000));
        }
    }
    Ok((hard, leave))
}

fn frr_figures(reps: usize, progress: &Progress, anycast6_hard: &[f64]) -> Result<Vec<Figure>> {
    let (hard, leave) = frr(reps, progress)?;
    let (u, t, g) = FRR_TIMERS;
    let note = format!(
        "the same namespaces and probe as anycast6 (fresh ones), FRR 8.4 zebra + ripngd on the \
         router and both members (timers basic {u} {t} {g}, redistribute connected: each member \
         announces the anycast /128 on its lo), kernel forwarding on the router; the member the \
         router chose is failed"
    );
    let mut out = vec![
        Figure::from_samples(
            "failover.frr_hard_ms",
            "FRR ripngd: hard member failure → traffic moved (RIPng timeout)",
            "ms",
            hard.clone(),
            None,
            &format!("{note}; hard failure: SIGKILL of the member's ripngd and zebra, its anycast address removed at once"),
        ),
        Figure::from_samples(
            "failover.frr_leave_ms",
            "FRR ripngd: clean withdrawal → traffic moved (triggered update, metric 16)",
            "ms",
            leave,
            None,
            &format!("{note}; clean leave: the anycast address removed from the member's lo, ripngd withdraws it"),
        ),
    ];
    out.push(Figure::ratio(
        "ratio.failover_hard_vs_frr",
        "hard failure: anycast6 / FRR ripngd",
        anycast6_hard,
        &hard,
        at_most(1.0 / 3.0),
        "failover.anycast6_hard_ms / failover.frr_hard_ms, pairwise per repetition",
    ));
    Ok(out)
}
