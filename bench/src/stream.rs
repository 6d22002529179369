//! The anycast6-stream benchmark (issue 16): the failover gap (last Data
//! from the dead server → first from its successor) and the longest stall
//! at the client, over repeated kills of the serving server, for ARD hold
//! times of 300 ms and 1 s; datagrams never played with a playout buffer
//! of hold + one NACK interval; a clean stop; and the baseline of the same
//! run, a client of one server's unicast address, which breaks.
//!
//! The topology is tests/tests/stream.rs's (`anycast6_tests::stream`):
//! three servers on one bridged segment behind an anycast6d router with
//! ARD. Every figure comes from the client's own `--json` report.

use std::time::Duration;

use anycast6_tests::stream::{server_addr, Play, PlayOpts, Played, StreamNet, A};
use anyhow::{bail, Context, Result};

use crate::figure::{at_most, equal, Figure};
use crate::progress::Progress;
use crate::Opts;

/// The file: 3 MiB at 1 MiB/s.
const SIZE: u64 = 3 << 20;
const RATE: &str = "1M";
const NACK_MS: u64 = 100;

const TOPO: &str = "client ─ anycast6d router (XDP native, ARD on the segment) ─ bridge ─ three \
                    hosts, each anycast6d's member role (ARD, metric 1/2/3, reports every 100 ms) \
                    and `anycast6-stream server` (release binaries), in namespaces (veth)";

pub fn run(opts: Opts, progress: &Progress) -> Result<Vec<Figure>> {
    crate::failover::use_release_binaries()?;
    let kills = if opts.quick { 3 } else { 10 };
    let mut out = Vec::new();
    for hold in [300u64, 1000] {
        let mut net = StreamNet::build(&format!("str{hold}"), 3, hold, SIZE as usize)?;
        let buffer = hold + NACK_MS;
        let mut runs = Vec::new();
        for k in 0..kills {
            progress.step(format!("stream: hold {hold} ms, kill {}/{kills}", k + 1));
            runs.push(one_kill(&mut net, buffer)?);
        }
        out.extend(kill_figures(hold, buffer, kills, &runs));
        if hold == 300 {
            let mut stops = Vec::new();
            for k in 0..(if opts.quick { 2 } else { 5 }) {
                progress.step(format!("stream: clean stop {}", k + 1));
                stops.push(one_stop(&mut net, buffer)?);
            }
            out.push(Figure::from_samples(
                "stream.stop_gap_ms",
                "anycast6-stream: serving server stops cleanly → first Data of its successor",
                "ms",
                stops,
                at_most(NACK_MS as f64),
                &format!(
                    "{TOPO}; ARD hold 300 ms; the serving host's anycast6d SIGTERMed (ARD \
                     leave), then its server (End \"stopping\": the client asks again at once); \
                     the gap between the last Data of the old server and the first of the new \
                     one, from the client's --json. Target ≤ one NACK interval ({NACK_MS} ms)"
                ),
            ));
            progress.step("stream: baseline (unicast client)");
            out.push(baseline(&mut net, buffer, if opts.quick { 1 } else { 3 })?);
        }
    }
    Ok(out)
}

/// What one killed server cost the client.
struct KillRun {
    gap_ms: f64,
    stall_ms: f64,
    unplayed: u64,
}

fn opts(buffer_ms: u64) -> PlayOpts {
    PlayOpts {
        rate: RATE.into(),
        buffer: format!("{buffer_ms}ms"),
        nack_interval: format!("{NACK_MS}ms"),
        give_up: "5s".into(),
    }
}

/// Streams the file; `fail` takes the serving host down a third of the way
/// in; the host comes back after the stream.
fn across(
    net: &mut StreamNet,
    buffer_ms: u64,
    fail: impl FnOnce(&mut StreamNet, usize) -> Result<()>,
) -> Result<Played> {
    let play = Play::start(net, "bench", A, &opts(buffer_ms))?;
    play.wait_written("a third of the file", SIZE / 3)?;
    let serving = net
        .serving_host(Duration::from_millis(300))
        .context("no server is streaming")?;
    fail(net, serving)?;
    let played = play.finish()?;
    net.restart_host(serving)?;
    net.wait_active(1, Duration::from_secs(30))?;
    if played.report["outcome"] != "complete" || played.count("written") != SIZE {
        bail!("the stream did not complete: {:#}", played.report);
    }
    if played.failovers().len() != 1 {
        bail!("want one failover: {:#}", played.report);
    }
    Ok(played)
}

fn one_kill(net: &mut StreamNet, buffer_ms: u64) -> Result<KillRun> {
    let p = across(net, buffer_ms, |n, i| {
        n.kill_host(i);
        Ok(())
    })?;
    Ok(KillRun {
        gap_ms: p.failovers()[0].2,
        stall_ms: p.report["longest_stall_ms"].as_f64().unwrap_or(f64::NAN),
        unplayed: p.count("unplayed"),
    })
}

fn one_stop(net: &mut StreamNet, buffer_ms: u64) -> Result<f64> {
    let p = across(net, buffer_ms, |n, i| n.stop_host(i).map(|_| ()))?;
    Ok(p.failovers()[0].2)
}

/// A client of s1's unicast address; s1 killed a third of the way in.
/// The share of runs the client reported broken (exit status 1).
fn baseline(net: &mut StreamNet, buffer_ms: u64, reps: usize) -> Result<Figure> {
    let mut broken = Vec::new();
    let mut written = Vec::new();
    for _ in 0..reps {
        let o = PlayOpts {
            give_up: "2s".into(),
            ..opts(buffer_ms)
        };
        let play = Play::start(net, "baseline", server_addr(1), &o)?;
        play.wait_written("a third of the file", SIZE / 3)?;
        net.kill_host(1);
        let p = play.finish()?;
        broken.push(if p.code == Some(1) && p.report["outcome"] == "broken" {
            1.0
        } else {
            0.0
        });
        written.push(p.count("written"));
        net.restart_host(1)?;
        net.wait_active(1, Duration::from_secs(30))?;
    }
    Ok(Figure::from_samples(
        "stream.baseline_broken",
        "baseline: a client of one server's unicast address, that server killed → stream broken",
        "share",
        broken,
        equal(1.0),
        &format!(
            "{TOPO}; the client streams the same {} MiB from s1's unicast address \
             ({}) with give-up 2 s; s1's host killed a third of the way in; 1 = the client \
             reported the stream broken (exit status 1). Octets written before: {written:?} of \
             {SIZE}. Target: always broken (the anycast runs above are the comparison)",
            SIZE >> 20,
            server_addr(1)
        ),
    ))
}

fn kill_figures(hold: u64, buffer: u64, kills: usize, runs: &[KillRun]) -> Vec<Figure> {
    let how = format!(
        "{TOPO}; ARD hold {hold} ms; {kills} runs: the client streams {} MiB at {RATE}/s from \
         the anycast address (playout buffer {buffer} ms = hold + one NACK interval, NACK \
         interval {NACK_MS} ms) and the serving host (server and anycast6d) is SIGKILLed a \
         third of the way in; from the client's --json",
        SIZE >> 20
    );
    let target = (hold + NACK_MS) as f64;
    let unplayed_max = runs.iter().map(|r| r.unplayed).max().unwrap_or(0);
    vec![
        Figure::from_samples(
            &format!("stream.gap_ms.hold_{hold}"),
            &format!(
                "anycast6-stream, ARD hold {hold} ms: last Data of the killed server → first \
                 of its successor"
            ),
            "ms",
            runs.iter().map(|r| r.gap_ms).collect(),
            at_most(target),
            &format!("{how}. Target ≤ hold + one NACK interval ({target} ms)"),
        ),
        Figure::from_samples(
            &format!("stream.stall_ms.hold_{hold}"),
            &format!("anycast6-stream, ARD hold {hold} ms: longest stall at the client"),
            "ms",
            runs.iter().map(|r| r.stall_ms).collect(),
            at_most(target),
            &format!(
                "{how}; the longest time without a new datagram while the content was \
                 unfinished. Target ≤ {target} ms"
            ),
        ),
        Figure::from_samples(
            &format!("stream.unplayed.hold_{hold}"),
            &format!(
                "anycast6-stream, ARD hold {hold} ms: datagrams never played, worst run, \
                 buffer {buffer} ms"
            ),
            "count",
            vec![unplayed_max as f64],
            equal(0.0),
            &format!(
                "{how}; per run: {:?}. Target 0 in every run",
                runs.iter().map(|r| r.unplayed).collect::<Vec<_>>()
            ),
        ),
    ]
}
