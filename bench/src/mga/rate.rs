//! The home agent's forwarding rate: one UDP flow flooded from C to A
//! (only M2 registered, so the home agent's fast path encapsulates every
//! datagram to M2's care-of address), against the same flood to Y, which
//! crosses the same links and which the home agent forwards by its kernel
//! (its XDP program passes Y, not in the FIB). Delivered packets/s are
//! counted on M2's interface; windows alternate.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::net::{group_packets, link_stat, Net, Shape, Y};
use super::A;
use crate::progress::Progress;

pub struct RateRun {
    /// Delivered at M2, packets/s, per window.
    pub encap_pps: Vec<f64>,
    pub kernel_pps: Vec<f64>,
    /// Sent by C, packets/s, per window.
    pub encap_sent_pps: Vec<f64>,
    pub kernel_sent_pps: Vec<f64>,
    /// Packets the home agent's fast path counted for A's group during
    /// the encapsulation windows, over those delivered at M2.
    pub counted_share: f64,
    /// Datagrams R2 could not hand to the home agent (tx dropped on
    /// r2-ha), over those C sent, in each case's windows.
    pub encap_dropped_share: f64,
    pub kernel_dropped_share: f64,
}

pub fn run(reps: usize, window: Duration, progress: &Progress) -> Result<RateRun> {
    let mut net = Net::build(
        "mgf",
        Shape {
            lifetime_s: 60,
            ro: false,
        },
    )?;
    net.start_member(1, "")?;
    net.wait_bindings(1, Duration::from_secs(20))?;
    let mut run = RateRun {
        encap_pps: Vec::new(),
        kernel_pps: Vec::new(),
        encap_sent_pps: Vec::new(),
        kernel_sent_pps: Vec::new(),
        counted_share: f64::NAN,
        encap_dropped_share: f64::NAN,
        kernel_dropped_share: f64::NAN,
    };
    let (mut counted, mut delivered) = (0u64, 0u64);
    // (dropped, sent) per case: encap, kernel.
    let mut drops = [(0u64, 0u64); 2];
    for rep in 0..reps {
        for (encap, dst) in [(true, A), (false, Y)] {
            crate::cleanup::check()?;
            progress.step(format!(
                "MGA forwarding rate, {} (rep {}/{reps})",
                if encap {
                    "home agent encapsulating"
                } else {
                    "home agent kernel forwarding"
                },
                rep + 1
            ));
            let g0 = group_packets(&net.ha);
            let rx0 = link_stat(&net.m[1], "m2-r2", "rx", "packets")?;
            let d0 = link_stat(&net.r2, "r2-ha", "tx", "dropped")?;
            let t = Instant::now();
            let sent = super::probe::flood(&net.c, dst, 33000 + rep as u16, window)?;
            let secs = t.elapsed().as_secs_f64();
            std::thread::sleep(Duration::from_millis(200));
            let rx = link_stat(&net.m[1], "m2-r2", "rx", "packets")? - rx0;
            let d = &mut drops[usize::from(!encap)];
            d.0 += link_stat(&net.r2, "r2-ha", "tx", "dropped")? - d0;
            d.1 += sent;
            if rx < sent / 100 {
                bail!("the flood to {dst} hardly arrived at M2: {rx} of {sent}");
            }
            let (got, offered) = (rx as f64 / secs, sent as f64 / secs);
            if encap {
                counted += group_packets(&net.ha).saturating_sub(g0);
                delivered += rx;
                run.encap_pps.push(got);
                run.encap_sent_pps.push(offered);
            } else {
                run.kernel_pps.push(got);
                run.kernel_sent_pps.push(offered);
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    run.counted_share = counted as f64 / delivered.max(1) as f64;
    run.encap_dropped_share = drops[0].0 as f64 / drops[0].1.max(1) as f64;
    run.kernel_dropped_share = drops[1].0 as f64 / drops[1].1.max(1) as f64;
    net.members = [None, None];
    Ok(run)
}
