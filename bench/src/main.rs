//! anycast6-bench: the benchmark suite (issue 4).
//!
//! ```text
//!  main: CLI ─► wait for a quiet machine ─► scenarios, in order ─► report
//!   traffic   live-frames traffic through gen → DUT → sink (traffic/)
//!   maglev    table build time, spread, flows moved (maglev_bench)
//!   scale     FIB of 1k..1M addresses: load rate, lookup cost, map memory (scale)
//!   latency   member change → visible in the pinned map, via anycast6d (latency)
//!   daemon    anycast6d's resident memory and load time with big configs (daemon_mem)
//!   failover  member failure → traffic moved, anycast6 vs FRR ripngd; ARIP convergence (failover)
//!   aospf     AOSPF vs FRR ospf6d: adjacency, chain convergence, SPF at 1k routers, memory (aospf/)
//!   piasm     PIA-SM: join latency, path stretch, failover gaps, state at 10k addresses (piasm/)
//!   mga       MGA: RTT via the home agent / route-optimised, its forwarding rate, registration, member death (mga/)
//!   stream    anycast6-stream: failover gap and stall over kills of the serving server, hold 300 ms / 1 s (stream)
//!  report: results/<date>-<sha>.json, PNG plots, REPORT.md (report, plots)
//! ```
//! Every scenario returns figures (figure.rs); a scenario that fails is
//! listed in the report and makes the exit status non-zero, a missed target
//! never does. Ctrl-C cleans up (cleanup.rs) and exits 130.

mod aospf;
mod batch;
mod cleanup;
mod convergence;
mod daemon;
mod daemon_mem;
mod failover;
mod figure;
mod latency;
mod machine;
mod maglev_bench;
mod mga;
mod piasm;
mod plots;
mod progress;
mod report;
mod scale;
mod stream;
mod traffic;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Parser;

use figure::Figure;
use progress::Progress;
use report::{Report, ScenarioError};

/// Every scenario, in the order they run.
pub const SCENARIOS: [&str; 10] = [
    "traffic", "maglev", "scale", "latency", "daemon", "failover", "aospf", "piasm", "mga",
    "stream",
];

/// Runs the anycast6 benchmark suite and writes results/<date>-<sha>.json,
/// PNG plots and REPORT.md. Needs root (namespaces, XDP, BPF maps).
#[derive(Parser, Debug)]
#[command(name = "anycast6-bench", version)]
struct Args {
    /// CI smoke mode: fewer sizes, flows and repetitions; under 2 minutes.
    #[arg(long)]
    quick: bool,
    /// Run only these scenarios (comma-separated): traffic, maglev, scale, latency, daemon, failover, aospf, piasm, mga, stream.
    #[arg(long, value_delimiter = ',', value_name = "SCENARIO,...")]
    only: Vec<String>,
    /// Directory of the results JSON and plots.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// The Markdown report to write.
    #[arg(long, default_value = "bench/REPORT.md")]
    report: PathBuf,
    /// Wait at most this many seconds for other test suites to finish,
    /// before the run and again before the traffic scenario (default 900
    /// and 1800; 60 and 10 with --quick). Figures timed while they still
    /// ran say so in their notes.
    #[arg(long, value_name = "SECS")]
    max_wait: Option<u64>,
}

/// What every scenario is told.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    pub quick: bool,
    /// `--max-wait`: the longest wait for a quiet machine, if not the default.
    pub max_wait: Option<Duration>,
}

fn run_scenario(name: &str, opts: Opts, progress: &Progress) -> Result<Vec<Figure>> {
    match name {
        "traffic" => traffic(opts, progress),
        "maglev" => maglev_bench::run(opts, progress),
        "scale" => scale::run(opts, progress),
        "latency" => latency::run(opts, progress),
        "daemon" => daemon_mem::run(opts, progress),
        "failover" => failover::run(opts, progress),
        "aospf" => aospf::run(opts, progress),
        "piasm" => piasm::run(opts, progress),
        "mga" => mga::run(opts, progress),
        "stream" => stream::run(opts, progress),
        other => bail!("unknown scenario {other}"),
    }
}

/// The traffic half (bench/src/traffic/).
fn traffic(opts: Opts, progress: &Progress) -> Result<Vec<Figure>> {
    let t = traffic::TrafficOpts {
        quick: opts.quick,
        reps: if opts.quick { 3 } else { 5 },
        max_wait: opts.max_wait,
        ..traffic::TrafficOpts::default()
    };
    traffic::run(&t, &|msg: &str| progress.step(msg))
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("A6B_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match real_main(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("anycast6-bench: {e:#}");
            if cleanup::interrupted() {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn real_main(args: Args) -> Result<ExitCode> {
    if let Some(bad) = args.only.iter().find(|s| !SCENARIOS.contains(&s.as_str())) {
        bail!("unknown scenario {bad:?}; known: {}", SCENARIOS.join(", "));
    }
    if !anycast6_testsupport::sys::is_root() {
        bail!("must run as root (network namespaces, XDP, BPF maps): sudo scripts/bench.sh");
    }
    cleanup::install_handler()?;
    cleanup::sweep_stale();

    let chosen: Vec<&str> = SCENARIOS
        .iter()
        .copied()
        .filter(|s| args.only.is_empty() || args.only.iter().any(|o| o == s))
        .collect();
    let opts = Opts {
        quick: args.quick,
        max_wait: args.max_wait.map(Duration::from_secs),
    };
    let progress = Progress::new(chosen.len() as u64);
    let start = Instant::now();
    let busy = machine::wait_quiet(
        &progress,
        opts.max_wait
            .unwrap_or(Duration::from_secs(if args.quick { 60 } else { 900 })),
    )?;

    let mut figures: Vec<Figure> = Vec::new();
    let mut errors = Vec::new();
    for name in &chosen {
        progress.scenario(name);
        let t = Instant::now();
        match run_scenario(name, opts, &progress) {
            Ok(mut f) => {
                progress.println(format!(
                    "{name}: {} figures in {:.1} s",
                    f.len(),
                    t.elapsed().as_secs_f64()
                ));
                figures.append(&mut f);
            }
            Err(e) => {
                if cleanup::interrupted() {
                    progress.finish();
                    bail!("interrupted during {name}; cleaned up, no report written");
                }
                progress.println(format!("{name}: FAILED: {e:#}"));
                errors.push(ScenarioError {
                    scenario: name.to_string(),
                    error: format!("{e:#}"),
                });
            }
        }
        progress.scenario_done();
    }
    progress.finish();
    if let Some(what) = busy {
        for f in &mut figures {
            f.note
                .push_str(&format!(" (timed while other jobs ran: {what})"));
        }
    }

    let mut rep = Report {
        facts: machine::run_facts(args.quick),
        scenarios: chosen.iter().map(|s| s.to_string()).collect(),
        duration_s: start.elapsed().as_secs_f64(),
        figures,
        errors,
        plots: Vec::new(),
    };
    let w = rep.write(&args.out, &args.report)?;
    print_summary(&rep);
    eprintln!(
        "wrote {}, {}{}",
        w.json.display(),
        w.markdown.display(),
        w.plots
            .iter()
            .map(|p| format!(", {}", p.display()))
            .collect::<String>()
    );
    Ok(if rep.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_summary(rep: &Report) {
    for f in &rep.figures {
        let verdict = match f.pass {
            Some(true) => "pass",
            Some(false) => "MISSED",
            None => "",
        };
        println!(
            "{:<34} {:>14} {:<10} {verdict}",
            f.id,
            report::num(f.median, &f.unit),
            f.unit
        );
    }
    for e in &rep.errors {
        println!("FAILED {}: {}", e.scenario, e.error);
    }
}
