//! Live-frames traffic through gen → DUT → sink (issue 4, "Traffic").
//!
//! Entry point for the framework: [`run`] with [`TrafficOpts`].

use anyhow::Result;

use crate::figure::Figure;

/// What the framework asks of the traffic scenarios.
#[allow(dead_code)] // until main.rs calls run()
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficOpts {
    /// CI smoke mode: fewer and shorter repetitions, fewer flow counts.
    pub quick: bool,
    /// Distinct established flows of the generator (at least 1).
    pub flows: u32,
    /// Ethernet frame size in bytes, without FCS (at least 64).
    pub frame_size: u32,
    /// Repetitions per measured figure (at least 5 outside quick mode).
    pub reps: usize,
}

impl Default for TrafficOpts {
    fn default() -> Self {
        TrafficOpts {
            quick: false,
            flows: 4096,
            frame_size: 64,
            reps: 5,
        }
    }
}

/// Runs every traffic scenario and returns its figures.
#[allow(dead_code)] // until main.rs calls it
pub fn run(opts: &TrafficOpts, progress: &dyn Fn(&str)) -> Result<Vec<Figure>> {
    let _ = opts;
    progress("traffic: not implemented yet");
    Ok(Vec::new())
}
