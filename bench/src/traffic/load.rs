//! Running the generator in the background while something is measured.
//!
//! The generator thread enters the gen namespace, pins itself to
//! `GEN_CPU` and calls BPF_PROG_TEST_RUN (live frames) until told to stop,
//! paced to a frame rate: the program itself drops frames whose time has
//! not come (a token bucket of 64 frames, a quarter of a veth ring of 256).
//!
//! [`measure_max`] measures a DUT's capacity: it searches the offered rate
//! up to just above what the DUT forwards, then counts a window there.
//! Flat out is not the DUT's best: the frames the generator's veth ring
//! drops go back to the generator's page pool through the same locked ring
//! as the frames the DUT forwards, and the lock contention takes up to a
//! third of the DUT's CPU (perf: __pv_queued_spin_lock_slowpath 17%,
//! _raw_spin_lock 9%); anycast6 forwarded 2.5 Mpps flat out, 3.1 Mpps at
//! 3.9 Mpps offered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anycast6_testsupport::sys;
use anyhow::{bail, Context, Result};

use super::ns::{self, GEN_CPU};
use super::progs::{Generator, Sink};
use super::topo::Topo;
use crate::cleanup;

/// Frames run per BPF_PROG_TEST_RUN call (~10-30 ms flat out); each call
/// costs ~100 us of setup, so calls are long and pacing happens inside the
/// program (gap_ps), not by spacing calls.
const BURST: u32 = 1 << 18;
/// Live-frames batch: frames run before the kernel flushes redirects.
const BATCH: u32 = 64;

/// What the body of [`with_load`] sees of the running generator.
pub struct Running {
    /// Set when the generator stopped (it failed, or the body returned).
    pub stop: AtomicBool,
}

/// Sets the flag when dropped, so the generator stops on every way out.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn generate(topo: &Topo, gen: &Generator, run: &Running) -> Result<()> {
    let path = topo.gen.path();
    sys::setns_net(&path).with_context(|| format!("setns into {}", path.display()))?;
    ns::pin_thread(GEN_CPU)?;
    while !run.stop.load(Ordering::Relaxed) {
        gen.burst(BURST, BATCH)?;
    }
    Ok(())
}

/// Runs `body` while the generator sends, paced to `pps`; stops it
/// afterwards (also when `body` fails) and reports the generator's error
/// first.
pub fn with_load<T>(
    topo: &Topo,
    gen: &Generator,
    pps: f64,
    body: impl FnOnce(&Running) -> Result<T>,
) -> Result<T> {
    gen.set_rate(Some(pps))?;
    let run = Running {
        stop: AtomicBool::new(false),
    };
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            let r = generate(topo, gen, &run);
            // A failed generator must not leave `body` waiting for traffic.
            run.stop.store(true, Ordering::SeqCst);
            r
        });
        let r = {
            let _stop = StopOnDrop(&run.stop);
            body(&run)
        };
        match h.join() {
            Ok(Ok(())) => r,
            Ok(Err(e)) => Err(e.context("traffic generator")),
            Err(_) => bail!("traffic generator thread panicked"),
        }
    })
}

/// Other tasks may use at most this much CPU (1.0 = one CPU) during a
/// window.
pub const MAX_FOREIGN: f64 = 0.05;
/// Windows retried when other processes took more.
const RETRIES: u32 = 4;
/// The search aims this far above what the DUT forwards.
pub const OVERDRIVE: f64 = 1.05;
/// Loss below which the offered rate is raised.
const LOW_LOSS: f64 = 0.01;
/// Offered rates, as multiples of the coarse search's result, of the fine
/// search.
pub const FINE: [f64; 3] = [1.0, 1.1, 1.2];

/// What [`measure_max`] is told.
#[derive(Debug, Clone, Copy)]
pub struct Search {
    /// Steps of the rate search (also the warm-up).
    pub steps: u32,
    pub step: Duration,
    /// The counted window at the rate found.
    pub window: Duration,
    /// First rate tried (e.g. the last repetition's result).
    pub start_pps: f64,
    /// Longest wait for a quiet machine before a window.
    pub max_wait: Duration,
    /// How long the machine must be quiet.
    pub idle_probe: Duration,
}

/// A window measured at the rate [`measure_max`] settled on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub secs: f64,
    /// Frames the generator sent.
    pub sent: u64,
    /// Frames that arrived at the sinks.
    pub received: u64,
    /// The pacing rate of the window.
    pub target_pps: f64,
    /// CPU other tasks used during the window (1.0 = one CPU).
    pub foreign: f64,
    /// Windows thrown away before this one because others took CPU.
    pub retries: u32,
}

impl Window {
    pub fn pps(&self) -> f64 {
        self.received as f64 / self.secs
    }
    pub fn offered_pps(&self) -> f64 {
        self.sent as f64 / self.secs
    }
    pub fn loss(&self) -> f64 {
        1.0 - self.received as f64 / self.sent.max(1) as f64
    }
    /// The generator could not send what was asked: the DUT was not the
    /// bottleneck.
    pub fn generator_bound(&self) -> bool {
        self.offered_pps() < 0.9 * self.target_pps && self.loss() < LOW_LOSS
    }
}

fn received(sinks: &[&Sink]) -> Result<u64> {
    sinks.iter().map(|s| Ok(s.received()?.packets)).sum()
}

/// Counters at one instant.
struct Mark {
    t: Instant,
    received: u64,
    sent: u64,
}

fn mark(gen: &Generator, sinks: &[&Sink]) -> Result<Mark> {
    Ok(Mark {
        t: Instant::now(),
        received: received(sinks)?,
        sent: gen.sent()?,
    })
}

/// The DUT's capacity, the most it forwards: the offered rate is searched
/// (coarse: up by 1.25 while loss stays under 1%, else 1.05 x what
/// arrived; fine: the best of 1.0, 1.1, 1.2 x that), then a window is counted at
/// the rate found. A window during which other
/// processes used the CPUs is thrown away and measured again (a few times
/// at most; the share is kept in the window for the notes).
pub fn measure_max(topo: &Topo, gen: &Generator, sinks: &[&Sink], s: &Search) -> Result<Window> {
    let mut retries = 0;
    loop {
        ns::wait_idle(s.max_wait, s.idle_probe)?;
        let mut w = with_load(topo, gen, s.start_pps, |run| {
            let napi = topo.napi_pids();
            // (rate asked, what arrived per second) of one step.
            let step = |rate: f64| -> Result<(f64, f64)> {
                gen.set_rate(Some(rate))?;
                let a = mark(gen, sinks)?;
                cleanup::sleep(s.step)?;
                let b = mark(gen, sinks)?;
                let secs = (b.t - a.t).as_secs_f64();
                Ok((
                    (b.sent - a.sent) as f64 / secs,
                    (b.received - a.received) as f64 / secs,
                ))
            };
            // Coarse: up by 1.25 while nothing is lost, else just above
            // what arrived.
            let mut rate = s.start_pps;
            let mut got: f64 = 0.0;
            for _ in 0..s.steps {
                let (sent, g) = step(rate)?;
                got = got.max(g);
                // Nothing sent, or nothing arrived yet (a step of 50 ms in
                // quick mode can end before the path carries its first
                // frame): no rate to go by, so keep this one (a rate of
                // 0 would stop the search).
                if sent == 0.0 || g == 0.0 {
                    continue;
                }
                rate = if 1.0 - g / sent < LOW_LOSS {
                    rate.max(sent) * 1.25
                } else {
                    g * OVERDRIVE
                };
            }
            // Fine: what arrives keeps rising a little past the knee (some
            // loss), then falls (the generator's dropped frames contend
            // with the DUT's for the page pool): keep the best of a few.
            if s.steps > 0 && got > 0.0 {
                let mut best = (got, rate);
                for k in FINE {
                    let (_, g) = step(got * k)?;
                    if g > best.0 {
                        best = (g, got * k);
                    }
                }
                rate = best.1;
            }
            gen.set_rate(Some(rate))?;
            cleanup::sleep(s.step.min(Duration::from_millis(50)))?;
            let c = ns::Others::read(&napi);
            let a = mark(gen, sinks)?;
            cleanup::sleep(s.window)?;
            let b = mark(gen, sinks)?;
            let foreign = ns::Others::read(&napi).cpus_since(&c);
            if run.stop.load(Ordering::SeqCst) {
                bail!("the generator stopped during the window");
            }
            Ok(Window {
                secs: (b.t - a.t).as_secs_f64(),
                sent: b.sent - a.sent,
                received: b.received - a.received,
                target_pps: rate,
                foreign,
                retries,
            })
        })?;
        w.retries = retries;
        if w.foreign <= MAX_FOREIGN || retries >= RETRIES {
            return Ok(w);
        }
        retries += 1;
    }
}
