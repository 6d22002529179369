//! Evidence for missed traffic targets: where the DUT's CPU goes.
//!
//! For each packets/s case, traffic is paced at the rate the case reached
//! and, for one second:
//! - the kernel's BPF run-time statistics (BPF_ENABLE_STATS, held only for
//!   that second) give the DUT program's own ns per packet;
//! - `perf record -C <DUT CPU>` (cpu-clock: this VM has no hardware
//!   counters, so `bpftool prog profile` cannot run) gives the share of the
//!   DUT CPU per kernel symbol.
//!
//! The programs' sizes (translated and verified instructions) are read too.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use aya::programs::ProgramInfo;

use super::dut::Dut;
use super::load;
use super::ns::DUT_CPU;
use super::progs::Generator;
use super::topo::Topo;
use crate::cleanup::{self, TempDir};

/// What one case costs the DUT.
#[derive(Debug, Clone, Default)]
pub struct Cost {
    pub id: String,
    /// ns per run of the DUT's XDP program (None: kernel forwarding).
    pub prog_ns: Option<f64>,
    /// (symbol, share of the DUT CPU's samples).
    pub perf_top: Vec<(String, f64)>,
}

/// Sizes of the two XDP programs.
#[derive(Debug, Clone, Default)]
pub struct Sizes {
    pub minimal: (u32, u32),
    pub anycast6: (u32, u32),
}

fn info(id: u32) -> Result<ProgramInfo> {
    for p in aya::programs::loaded_programs() {
        let p = p?;
        if p.id() == id {
            return Ok(p);
        }
    }
    anyhow::bail!("program id {id} not loaded")
}

/// (translated instructions, verified instructions) of a program.
pub fn size(id: u32) -> Result<(u32, u32)> {
    let i = info(id)?;
    Ok((
        i.size_translated().unwrap_or(0) / 8,
        i.verified_instruction_count().unwrap_or(0),
    ))
}

fn perf_available() -> bool {
    Command::new("perf")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Top symbols of `perf report` over a recording of the DUT CPU.
fn perf_top(data: &std::path::Path, n: usize) -> Result<Vec<(String, f64)>> {
    let out = cleanup::run_stdout(Command::new("perf").args([
        "report",
        "-i",
        &data.to_string_lossy(),
        "--no-children",
        "--sort",
        "sym",
        "--stdio",
        "-q",
    ]))?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let pct = f.next()?.strip_suffix('%')?.parse::<f64>().ok()?;
            let _kind = f.next()?;
            Some((f.collect::<Vec<_>>().join(" "), pct))
        })
        .take(n)
        .collect())
}

/// Profiles the DUT in `mode` with the generator configured by the
/// caller, paced at `pps`.
pub fn cost(
    topo: &Topo,
    gen: &Generator,
    dut: &Dut,
    id: &str,
    pps: f64,
    tmp: &TempDir,
) -> Result<Cost> {
    let prog = dut.prog_id()?;
    let data = tmp.path().join(format!("{id}.perf"));
    let perf = perf_available();
    load::with_load(topo, gen, pps, |_| {
        cleanup::sleep(Duration::from_millis(300))?;
        // perf first, without the run-time statistics: they read the clock
        // twice per program run (pvclock, ~20 ns here) and would show up.
        if perf {
            cleanup::run_stdout(
                Command::new("perf")
                    .args(["record", "-q", "-o", &data.to_string_lossy(), "-C"])
                    .arg(DUT_CPU.to_string())
                    .args(["--", "sleep", "1"]),
            )?;
        }
        let stats = aya::sys::enable_stats(aya::sys::Stats::RunTime)
            .context("BPF_ENABLE_STATS (run time)")?;
        let before = prog.map(info).transpose()?;
        cleanup::sleep(Duration::from_millis(500))?;
        let after = prog.map(info).transpose()?;
        drop(stats);
        let prog_ns = match (before, after) {
            (Some(b), Some(a)) if a.run_count() > b.run_count() => Some(
                (a.run_time() - b.run_time()).as_nanos() as f64
                    / (a.run_count() - b.run_count()) as f64,
            ),
            _ => None,
        };
        Ok(Cost {
            id: id.to_string(),
            prog_ns,
            perf_top: if perf {
                perf_top(&data, 10)?
            } else {
                Vec::new()
            },
        })
    })
}

impl Cost {
    pub fn describe(&self) -> String {
        let prog = self
            .prog_ns
            .map_or("kernel forwarding, no XDP program".to_string(), |ns| {
                format!(
                    "{ns:.0} ns per packet inside the XDP program (BPF run-time stats, which \
                     add two clock reads per run)"
                )
            });
        let top: Vec<String> = self
            .perf_top
            .iter()
            .map(|(s, p)| format!("{s} {p:.1}%"))
            .collect();
        if top.is_empty() {
            format!("{}: {prog}", self.id)
        } else {
            format!(
                "{}: {prog}; DUT CPU by symbol (perf, cpu-clock): {}",
                self.id,
                top.join(", ")
            )
        }
    }
}
