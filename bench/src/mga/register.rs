//! Registration → first packet, and member death → new flows served by
//! the other member.
//!
//! - join: the home agent up, no member; M1's anycast6d starts; a probe
//!   from C every 10 ms (a fresh flow each) until M1 answers one. M1 stops
//!   cleanly (deregistration at exit) and the home agent has no binding
//!   before the next repetition.
//! - death: both members registered, fresh flows reach both; M1's
//!   anycast6d is SIGKILLed (its binding lapses with the granted
//!   lifetime) or SIGTERMed (it deregisters at exit), and its servers stop
//!   at the same moment, at a random point of M1's refresh period; 20 fresh flows asked at once every ~100 ms until
//!   all 20 are answered by M2. M1 comes back and fresh flows reach both
//!   members again before the next repetition.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::net::{Net, Shape};
use super::probe::{census, first_answer, Ports};
use crate::progress::Progress;

pub const PROBE_EVERY: Duration = Duration::from_millis(10);
/// Fresh flows asked at once per poll, and how long their answers get.
pub const POLL_FLOWS: usize = 20;
pub const POLL_WAIT: Duration = Duration::from_millis(100);

/// Registration → first answered probe, ms.
pub fn join(reps: usize, progress: &Progress) -> Result<Vec<f64>> {
    let mut net = Net::build(
        "mgj",
        Shape {
            lifetime_s: 60,
            ro: false,
        },
    )?;
    let mut out = Vec::new();
    for rep in 0..reps {
        crate::cleanup::check()?;
        progress.step(format!(
            "MGA registration → first packet (rep {}/{reps})",
            rep + 1
        ));
        let probe = first_answer(
            &net.c,
            20000 + (rep as u16) * 2000,
            PROBE_EVERY,
            Duration::from_secs(15),
        );
        std::thread::sleep(Duration::from_millis(30));
        let t0 = Instant::now();
        net.start_member(0, &format!("j{rep}"))?;
        let (at, who) = probe
            .join()
            .map_err(|_| anyhow::anyhow!("probe thread panicked"))??;
        if who != "m1" {
            bail!("the probe was answered by {who:?}, not m1");
        }
        out.push(at.duration_since(t0).as_secs_f64() * 1e3);
        // A clean stop: the member deregisters at exit.
        net.members[0] = None;
        net.wait_bindings(0, Duration::from_secs(10))
            .context("after M1's clean stop")?;
        std::thread::sleep(Duration::from_millis(300));
    }
    Ok(out)
}

/// Fresh flows reach both members (a Maglev entry that changed keeps its
/// previous member for new flows during the grace window, 10 s).
fn wait_both(net: &Net, ports: &mut Ports) -> Result<()> {
    let end = Instant::now() + Duration::from_secs(40);
    while Instant::now() < end {
        crate::cleanup::check()?;
        let c = census(&net.c, ports, POLL_FLOWS, Duration::from_millis(300))?;
        if c.contains_key("m1") && c.contains_key("m2") && !c.contains_key("none") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("fresh flows do not reach both members within 40 s")
}

/// How M1 goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Death {
    Kill,
    Term,
}

/// Member death → all new flows answered by M2, ms, per repetition.
pub fn death(lifetime_s: u32, how: Death, reps: usize, progress: &Progress) -> Result<Vec<f64>> {
    let mut net = Net::build(
        &format!("mgd{lifetime_s}"),
        Shape {
            lifetime_s,
            ro: false,
        },
    )?;
    net.start_both()?;
    let mut ports = Ports(20000);
    let mut out = Vec::new();
    for rep in 0..reps {
        crate::cleanup::check()?;
        progress.step(format!(
            "MGA member {} → new flows on M2, lifetime {lifetime_s} s (rep {}/{reps})",
            if how == Death::Kill {
                "SIGKILL"
            } else {
                "SIGTERM"
            },
            rep + 1
        ));
        wait_both(&net, &mut ports)?;
        // At a random point of M1's refresh period (half the lifetime),
        // so its binding has between half and all of the lifetime left.
        let phase = rand::random::<f64>() * lifetime_s as f64 / 2.0;
        crate::cleanup::sleep(Duration::from_secs_f64(0.2 + phase))?;
        let d = net.members[0].as_mut().context("m1")?;
        let t0 = Instant::now();
        match how {
            Death::Kill => d.kill9(),
            Death::Term => d.signal(libc::SIGTERM)?,
        }
        net.servers[0].clear();
        let budget = Duration::from_secs(lifetime_s as u64 * 3 + 10);
        let mut served = None;
        while t0.elapsed() < budget {
            crate::cleanup::check()?;
            let c = census(&net.c, &mut ports, POLL_FLOWS, POLL_WAIT)?;
            if c.get("m2") == Some(&POLL_FLOWS) {
                served = Some(t0.elapsed());
                break;
            }
        }
        let served = served.with_context(|| {
            format!(
                "new flows not all on M2 {budget:?} after M1 went: {}",
                net.ha.ctl(&["show", "mga"]).unwrap_or_default()
            )
        })?;
        out.push(served.as_secs_f64() * 1e3);
        // M1 comes back.
        net.restore_servers(0)?;
        let d = net.members[0].as_mut().context("m1")?;
        if how == Death::Term {
            // Let it finish its exit before the restart.
            let _ = anycast6_tests::wait_until(Duration::from_secs(5), || !d.running());
        }
        d.spawn()?;
        net.wait_bindings(2, Duration::from_secs(20))?;
    }
    Ok(out)
}
