//! A big database: SPF time at 1k routers / 10k prefixes and memory at
//! 100k prefixes, AOSPF against FRR ospf6d on the same LSDB.
//!
//! ```text
//!  ns g: aospf-lsdb-gen --grid R:P:M ══ g-d / d-g ══ ns d: the peer under test
//!        (the grid's router 0)                          FRR ospf6d (+ zebra), or
//!                                                        aospf-lsdb-gen without --grid
//! ```
//! The generator reaches Full with the peer, then injects the synthetic
//! grid (`spf::synth::grid`); the peer learns it by ordinary flooding.
//! SPF: ospf6d's own SPF runtime from its log, once per SIGUSR1 to the
//! generator (one grid router's links change metric: a new Router-LSA and
//! a full SPF); AOSPF's is `spf::compute` in this process on
//! `synth::grid(R, P, M)` itself. Memory: the peer's VmRSS when Full
//! (nothing learned yet) and once the link has been quiet (everything
//! flooded and acknowledged, SPF run, routes computed).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anycast6_aospf::spf::{self, synth};
use anycast6_tests::frr::Frr;
use anycast6_tests::{bin, veth, Netns, Proc, TempDir};
use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::ospf6d;
use super::Timers;
use crate::progress::Progress;

/// The peer's router id (outside the grid's 10.0.0.0/16).
pub const PEER_ID: &str = "192.0.2.1";

/// The binary of bench/src/bin/aospf_lsdb_gen.rs.
pub const GENERATOR: &str = "aospf-lsdb-gen";

/// `spf::compute` on `synth::grid(routers, prefixes, metric)`, `reps`
/// times (after one warm-up run), ms each; checks the result's size.
pub fn spf_in_process(routers: u32, prefixes: u32, metric: u16, reps: usize) -> Result<Vec<f64>> {
    let g = synth::grid(routers, prefixes, metric);
    let input = g.input();
    let warm = spf::compute(&input);
    if warm.nodes.len() != routers as usize || warm.routes.len() != prefixes as usize {
        bail!(
            "spf::compute on the grid reached {} routers and {} routes, wanted {routers} and {prefixes}",
            warm.nodes.len(),
            warm.routes.len()
        );
    }
    Ok((0..reps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(spf::compute(std::hint::black_box(&input)));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect())
}

/// JSON events of a generator's log.
fn events(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits for the `nth` (from 0) event `ev` of a generator's log.
pub fn wait_event(
    p: &mut Proc,
    log: &Path,
    ev: &str,
    nth: usize,
    timeout: Duration,
) -> Result<Value> {
    let t = Instant::now();
    loop {
        if let Some(v) = events(log).into_iter().filter(|v| v["ev"] == ev).nth(nth) {
            return Ok(v);
        }
        if !p.running() {
            bail!("{} exited before {ev:?}:\n{}", p.label(), p.log_tail(20));
        }
        if t.elapsed() > timeout {
            bail!(
                "no {ev:?} from {} in {timeout:?}:\n{}",
                p.label(),
                p.log_tail(20)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the first event `then` after the first event `first` of a
/// generator's log (a "quiet" spell before the injection does not count).
pub fn wait_after(
    p: &mut Proc,
    log: &Path,
    first: &str,
    then: &str,
    timeout: Duration,
) -> Result<Value> {
    let t = Instant::now();
    loop {
        let ev = events(log);
        if let Some(i) = ev.iter().position(|v| v["ev"] == first) {
            if let Some(v) = ev[i..].iter().find(|v| v["ev"] == then) {
                return Ok(v.clone());
            }
        }
        if !p.running() {
            bail!("{} exited before {then:?}:\n{}", p.label(), p.log_tail(20));
        }
        if t.elapsed() > timeout {
            bail!(
                "no {then:?} after {first:?} from {} in {timeout:?}:\n{}",
                p.label(),
                p.log_tail(20)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Routes to the grid's /64s (2001:db8::/32) in the kernel table of `ns`,
/// read from /proc inside it: asking ospf6d for its table would grow its
/// memory (vtysh's JSON of 100k routes) before it is measured.
fn kernel_grid_routes(ns: &Netns) -> usize {
    ns.run_in(|| {
        Ok(std::fs::read_to_string("/proc/thread-self/net/ipv6_route")?
            .lines()
            .filter(|l| l.starts_with("20010db8") && l.get(33..35) == Some("40"))
            .count())
    })
    .unwrap_or(0)
}

/// Two namespaces joined by a veth, DAD off (link-locals usable at once).
pub struct Pair {
    pub tmp: TempDir,
    pub g: Netns,
    pub d: Netns,
}

/// The namespaces of one measurement, `short` naming them.
pub fn pair(short: &str) -> Result<Pair> {
    let tmp = TempDir::new(short)?;
    let g = Netns::new(&format!("{short}g"))?;
    let d = Netns::new(&format!("{short}d"))?;
    for ns in [&g, &d] {
        ns.sysctl("net.ipv6.conf.all.accept_dad", "0")?;
        ns.sysctl("net.ipv6.conf.default.accept_dad", "0")?;
    }
    veth(&g, "g-d", &d, "d-g")?;
    Ok(Pair { tmp, g, d })
}

/// The generator's arguments with the benchmark's timers.
pub fn generator_args(iface: &str, t: &Timers) -> Vec<String> {
    vec![
        "--iface".into(),
        iface.into(),
        "--hello-s".into(),
        t.hello.as_secs().to_string(),
        "--dead-s".into(),
        t.dead.as_secs().to_string(),
        "--retransmit-s".into(),
        t.retransmit.as_secs().to_string(),
        "--spf-delay-ms".into(),
        t.spf_delay.as_millis().to_string(),
        "--spf-hold-ms".into(),
        t.spf_hold.as_millis().to_string(),
    ]
}

/// Starts a generator in `ns`; its log is returned beside it.
pub fn start_generator(
    ns: &Netns,
    tmp: &TempDir,
    label: &str,
    args: &[String],
) -> Result<(Proc, PathBuf)> {
    let log = tmp.join(format!("{label}.log"));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let p = Proc::spawn_in(ns, label, &bin(GENERATOR), &a, log.clone())?;
    Ok((p, log))
}

/// The grid generator in `pair.g`: `--grid routers:prefixes:metric`, its
/// own SPF put off (`spf_delay_ms` 10 min) so it never competes with the
/// peer for the CPU.
fn start_grid(pair: &Pair, t: &Timers, grid: (u32, u32, u16)) -> Result<(Proc, PathBuf)> {
    let mut args = generator_args("g-d", t);
    let n = args.len();
    args[n - 3] = "600000".into();
    args.extend(["--grid".into(), format!("{}:{}:{}", grid.0, grid.1, grid.2)]);
    start_generator(&pair.g, &pair.tmp, "gen", &args)
}

/// Waits until `f` gives the same value for `still` in a row (ospf6d's
/// SPF and route installation have settled).
fn settle<T: PartialEq>(timeout: Duration, still: Duration, mut f: impl FnMut() -> T) -> Result<T> {
    let t = Instant::now();
    let mut last = f();
    let mut since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let v = f();
        if v != last {
            last = v;
            since = Instant::now();
        } else if since.elapsed() >= still {
            return Ok(last);
        }
        if t.elapsed() > timeout {
            bail!("did not settle in {timeout:?}");
        }
    }
}

/// ospf6d facing the generator: (SPF runtimes, ms, one per perturbation;
/// ospf6d's VmRSS delta, KiB; zebra's, KiB).
pub fn frr_peer(
    short: &str,
    t: &Timers,
    grid: (u32, u32, u16),
    perturbations: usize,
    progress: &Progress,
) -> Result<(Vec<f64>, u64, u64)> {
    let pair = pair(short)?;
    let conf = ospf6d::config(PEER_ID, &[ospf6d::Iface::new("d-g")], t);
    let frr = Frr::start_ospf6d(&pair.d, &pair.tmp, "d", &conf)?;
    let flog = ospf6d::log_path(&pair.tmp, "d");
    let (zebra, ospf6d_pid) = frr.pids();
    let (mut gen, glog) = start_grid(&pair, t, grid)?;
    wait_event(&mut gen, &glog, "full", 0, Duration::from_secs(30))
        .with_context(|| frr.logs(20))?;
    let before = (ospf6d::rss_kib(ospf6d_pid)?, ospf6d::rss_kib(zebra)?);
    progress.step(format!(
        "injecting {} routers / {} prefixes into FRR ospf6d",
        grid.0, grid.1
    ));
    // Everything flooded and acknowledged, then zebra done installing.
    wait_after(
        &mut gen,
        &glog,
        "injected",
        "quiet",
        Duration::from_secs(300),
    )?;
    let routes = settle(Duration::from_secs(300), Duration::from_secs(2), || {
        kernel_grid_routes(&pair.d)
    })?;
    if routes < grid.1 as usize {
        let db = frr
            .vtysh("show ipv6 ospf6 database")
            .unwrap_or_else(|e| format!("{e:#}"));
        let head: Vec<&str> = db.lines().take(40).collect();
        bail!(
            "ospf6d's zebra installed {routes} grid routes, wanted {}\n{}\n{}\n--- generator ---\n{}",
            grid.1,
            head.join("\n"),
            frr.logs(30),
            gen.log_tail(10)
        );
    }
    settle(Duration::from_secs(60), Duration::from_secs(2), || {
        std::fs::read_to_string(&flog)
            .map(|l| ospf6d::spf_runtimes(&l).len())
            .unwrap_or(0)
    })?;
    let after = (ospf6d::rss_kib(ospf6d_pid)?, ospf6d::rss_kib(zebra)?);
    let mut runtimes = Vec::new();
    for i in 0..perturbations {
        crate::cleanup::check()?;
        progress.step(format!(
            "FRR ospf6d SPF on {} routers / {} prefixes (run {}/{perturbations})",
            grid.0,
            grid.1,
            i + 1
        ));
        let n = ospf6d::spf_runtimes(&std::fs::read_to_string(&flog)?).len();
        gen.signal(libc::SIGUSR1)?;
        let ok = anycast6_tests::wait_until(Duration::from_secs(20), || {
            std::fs::read_to_string(&flog).is_ok_and(|l| ospf6d::spf_runtimes(&l).len() > n)
        });
        if !ok {
            bail!(
                "ospf6d ran no SPF after perturbation {}:\n{}",
                i + 1,
                frr.logs(20)
            );
        }
        // One run per change: wait for a second one (hold time) too.
        std::thread::sleep(t.spf_hold * 2);
        let all = ospf6d::spf_runtimes(&std::fs::read_to_string(&flog)?);
        runtimes.extend_from_slice(&all[n..]);
        // ospf6d drops a new instance of an LSA within MinLSArrival (1 s).
        std::thread::sleep(Duration::from_millis(1100));
    }
    if let Some(last) = runtimes.last() {
        // The log's figure is the one `show ipv6 ospf6` gives.
        let v: Value = serde_json::from_str(&frr.vtysh("show ipv6 ospf6 json")?)?;
        let shown = v["spfLastDurationSecs"].as_f64().unwrap_or(f64::NAN) * 1e3
            // FRR 8.4 names the microseconds "Msecs".
            + v["spfLastDurationMsecs"].as_f64().unwrap_or(f64::NAN) / 1e3;
        if (shown - last).abs() > 0.01 {
            bail!("ospf6d's log says the last SPF took {last} ms, show ipv6 ospf6 {shown} ms");
        }
    }
    Ok((
        runtimes,
        after.0.saturating_sub(before.0),
        after.1.saturating_sub(before.1),
    ))
}

/// An AOSPF core (the generator without --grid) facing the generator:
/// its VmRSS delta, KiB, from Full to quiet after the injection.
pub fn aospf_peer(
    short: &str,
    t: &Timers,
    grid: (u32, u32, u16),
    progress: &Progress,
) -> Result<u64> {
    let pair = pair(short)?;
    let mut args = generator_args("d-g", t);
    args.extend(["--router-id".into(), PEER_ID.into()]);
    let (mut peer, plog) = start_generator(&pair.d, &pair.tmp, "peer", &args)?;
    let (mut gen, glog) = start_grid(&pair, t, grid)?;
    let full = wait_event(&mut peer, &plog, "full", 0, Duration::from_secs(30))?;
    progress.step(format!(
        "injecting {} routers / {} prefixes into an AOSPF core",
        grid.0, grid.1
    ));
    wait_after(
        &mut gen,
        &glog,
        "injected",
        "quiet",
        Duration::from_secs(300),
    )?;
    // The first quiet spell after the routes of the whole grid (one
    // before the injection reached it would not count).
    let mut nth = 0;
    let quiet = loop {
        let q = wait_event(&mut peer, &plog, "quiet", nth, Duration::from_secs(300))?;
        if q["kernel_changes"].as_u64().unwrap_or(0) >= u64::from(grid.1) {
            break q;
        }
        nth += 1;
    };
    let (a, b) = (
        quiet["rss_kib"].as_u64().context("rss")?,
        full["rss_kib"].as_u64().context("rss")?,
    );
    drop(gen);
    Ok(a.saturating_sub(b))
}
