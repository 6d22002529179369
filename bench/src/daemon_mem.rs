//! anycast6d with big configs: its resident memory and how long it takes
//! to load the FIB, at 1k, 10k, 100k (and 1M) anycast addresses.
//!
//! The config has one `[[group]]` per 100 anycast addresses (`addresses =
//! [...]`, as the FIB scale scenario: 1M addresses in 10k groups), each with
//! 2–10 on-link members drawn from a pool of 16 servers, all reachable
//! (their neighbours resolve). anycast6d makes one FIB group per configured
//! group; capacities are sized to fit.
//!
//! A size whose load would take longer than the budget (extrapolated from
//! the previous size) is not attempted; the figure says so.

use std::io::{BufWriter, Write as _};
use std::time::Duration;

use anycast6_dataplane::{abi, blocks::blocks_for, maglev};
use anyhow::{Context, Result};

use crate::daemon::{self, Caps, Daemon, Paths, Topology};
use crate::figure::{at_most, Figure};
use crate::progress::Progress;
use crate::scale::{address, group_size, label, PER_GROUP};
use crate::Opts;

/// Members of group `i`: `group_size(i)` distinct pool servers.
fn members(i: usize) -> Vec<usize> {
    (0..group_size(i)).map(|k| (i + k) % daemon::POOL).collect()
}

/// Groups for `n` addresses.
fn group_count(n: usize) -> usize {
    n.div_ceil(PER_GROUP).max(1)
}

fn write_config(paths: &Paths, n: usize) -> Result<Caps> {
    let g_count = group_count(n);
    let mut member_ids = 0u32;
    let mut blocks = 0u32;
    for i in 0..g_count {
        let m = group_size(i);
        member_ids += m as u32;
        blocks += blocks_for(maglev::table_len(m));
    }
    let caps = Caps {
        fib_entries: n as u32,
        groups: g_count as u32,
        maglev_blocks: 2 * blocks + 64,
        member_ids,
    };
    let f = std::fs::File::create(&paths.config)?;
    let mut w = BufWriter::new(f);
    w.write_all(
        daemon::header(&paths.socket, paths.pins.path(), &paths.state, Some(caps)).as_bytes(),
    )?;
    for g in 0..g_count {
        let addrs = (g * PER_GROUP..((g + 1) * PER_GROUP).min(n)).map(address);
        daemon::group_of(&mut w, addrs, &members(g))?;
    }
    w.flush()?;
    Ok(caps)
}

/// bytes_memlock of the maps pinned in `pin_dir`, MiB.
fn map_memory(pin_dir: &std::path::Path) -> Result<f64> {
    let mut ids = Vec::new();
    for name in abi::map::XDP_ALL {
        let md = aya::maps::MapData::from_pin(pin_dir.join(name))
            .with_context(|| format!("opening pinned {name}"))?;
        ids.push(md.info()?.id());
    }
    let out = crate::cleanup::run_stdout(
        std::process::Command::new("bpftool").args(["-j", "map", "show"]),
    )?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .filter(|m| ids.contains(&(m["id"].as_u64().unwrap_or(0) as u32)))
        .map(|m| m["bytes_memlock"].as_f64().unwrap_or(0.0))
        .sum::<f64>()
        / (1024.0 * 1024.0))
}

struct Measured {
    n: usize,
    load_s: f64,
    reload_s: f64,
    /// The larger of the two below.
    rss: f64,
    rss_loaded: f64,
    rss_reloaded: f64,
    peak: f64,
    maps: f64,
    config_mib: f64,
}

fn measure(topo: &Topology, n: usize, budget: Duration, progress: &Progress) -> Result<Measured> {
    let paths = Paths::new("mem")?;
    progress.step(format!("{}: writing the config", label(n)));
    write_config(&paths, n)?;
    let config_mib = std::fs::metadata(&paths.config)?.len() as f64 / (1024.0 * 1024.0);
    let mut peak_seen = 0.0f64;
    let t = std::time::Instant::now();
    let d = Daemon::start(&topo.rt, paths, budget, progress, |pid| {
        if let Ok((r, _)) = daemon::rss_mib(pid) {
            peak_seen = peak_seen.max(r);
            progress.step(format!(
                "{}: anycast6d loading, {:.0} s, RSS {r:.0} MiB",
                label(n),
                t.elapsed().as_secs_f64()
            ));
        }
        Ok(())
    })
    .with_context(|| format!("anycast6d with {} addresses", label(n)))?;
    // Let the first resync settle (neighbour events right after start).
    crate::cleanup::sleep(Duration::from_secs(1))?;
    let (rss_loaded, _) = daemon::rss_mib(d.child.pid())?;
    // A reload re-reads the config and the whole FIB (as the periodic
    // resync does): memory must come back to the same level after it.
    progress.step(format!("{}: anycast6ctl reload", label(n)));
    let t = std::time::Instant::now();
    daemon::request(&d.socket, r#"{"cmd":"reload"}"#).context("reload")?;
    let reload_s = t.elapsed().as_secs_f64();
    crate::cleanup::sleep(Duration::from_secs(1))?;
    let (rss_reloaded, peak) = daemon::rss_mib(d.child.pid())?;
    let maps = map_memory(d.pin_dir())?;
    let m = Measured {
        n,
        load_s: d.ready_s,
        reload_s,
        rss: rss_loaded.max(rss_reloaded),
        rss_loaded,
        rss_reloaded,
        peak: peak.max(peak_seen),
        maps,
        config_mib,
    };
    progress.println(format!(
        "daemon {}: ready in {:.1} s, RSS {:.0} MiB (after a {:.1} s reload {:.0} MiB, peak {:.0}), maps {:.0} MiB",
        label(n),
        m.load_s,
        m.rss_loaded,
        m.reload_s,
        m.rss_reloaded,
        m.peak,
        m.maps
    ));
    drop(d);
    Ok(m)
}

/// Exponent k of load time ∝ addresses^k from the last two sizes (1 with
/// fewer than two).
fn growth(done: &[Measured]) -> f64 {
    match done {
        [.., a, b] if b.n > a.n && a.load_s > 0.0 => {
            ((b.load_s / a.load_s).ln() / (b.n as f64 / a.n as f64).ln()).max(1.0)
        }
        _ => 1.0,
    }
}

pub fn run(opts: Opts, progress: &Progress) -> Result<Vec<Figure>> {
    let sizes: &[usize] = if opts.quick {
        &[1_000]
    } else {
        &[1_000, 10_000, 100_000, 1_000_000]
    };
    let budget = Duration::from_secs(if opts.quick { 60 } else { 600 });
    progress.step("topology");
    let topo = Topology::new()?;
    let mut out = Vec::new();
    let mut done: Vec<Measured> = Vec::new();
    let mut skipped = None;
    for &n in sizes {
        progress.check()?;
        if let Some(prev) = done.last() {
            let est = prev.load_s * (n as f64 / prev.n as f64).powf(growth(&done));
            if est > budget.as_secs_f64() {
                skipped = Some((n, est, prev.load_s, prev.n));
                break;
            }
        }
        let m = measure(&topo, n, budget, progress)?;
        let note = format!(
            "anycast6d (release) started on a config of {} addresses in {} [[group]]s of up to \
             {PER_GROUP} `addresses` (2–10 on-link members from 16 servers; {:.0} MiB of TOML), \
             clock from spawn until its management socket answers (config parsed, FIB groups, \
             routes and Maglev tables written); VmRSS read from /proc 1 s later ({:.1} MiB) and \
             1 s after an `anycast6ctl reload` (config and FIB read again, took {:.2} s: {:.1} \
             MiB), the larger reported; peak VmHWM {:.1} MiB; its BPF maps hold {:.1} MiB \
             (bytes_memlock)",
            m.n,
            group_count(m.n),
            m.config_mib,
            m.rss_loaded,
            m.reload_s,
            m.rss_reloaded,
            m.peak,
            m.maps
        );
        out.push(Figure::from_samples(
            &format!("daemon.rss_mib.{n}"),
            &format!("anycast6d resident memory, {} addresses", label(n)),
            "MiB",
            vec![m.rss],
            None,
            &note,
        ));
        out.push(Figure::from_samples(
            &format!("daemon.load_s.{n}"),
            &format!("anycast6d start to FIB loaded, {} addresses", label(n)),
            "s",
            vec![m.load_s],
            None,
            &note,
        ));
        done.push(m);
    }
    if !opts.quick {
        let one_m = done.iter().find(|m| m.n == 1_000_000);
        let (samples, note) = match (one_m, skipped) {
            (Some(m), _) => (
                vec![m.rss],
                format!(
                    "VmRSS of anycast6d with 1M addresses in 10k groups loaded, the larger of \
                     after start ({:.0} MiB) and after a reload ({:.0} MiB); peak VmHWM {:.0} MiB \
                     (config parse and first plan; the allocator's free pages are handed back \
                     after every converge of a FIB of 4096 routes or more); load took {:.1} s",
                    m.rss_loaded, m.rss_reloaded, m.peak, m.load_s
                ),
            ),
            (None, Some((n, est, prev_s, prev_n))) => {
                let last = done.last();
                let per_addr = last.map_or(f64::NAN, |m| m.rss / m.n as f64);
                let k = growth(&done);
                (
                    Vec::new(),
                    format!(
                        "not measured: loading {} addresses would take about {est:.0} s \
                         (extrapolated from {prev_s:.1} s at {} with the growth exponent {k:.2} \
                         of the sizes measured), over the {} s budget. A linear extrapolation \
                         of the RSS measured at {} gives about {:.0} MiB at 1M",
                        label(n),
                        label(prev_n),
                        budget.as_secs(),
                        label(prev_n),
                        per_addr * 1e6
                    ),
                )
            }
            (None, None) => (Vec::new(), "1M was not in this run's sizes".to_string()),
        };
        out.push(Figure::from_samples(
            "daemon.rss_1m",
            "anycast6d resident memory with 1M addresses loaded",
            "MiB",
            samples,
            at_most(256.0),
            &note,
        ));
    }
    drop(topo);
    Ok(out)
}
