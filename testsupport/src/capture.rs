//! Packet captures on one interface of a namespace, with tshark.
//!
//! tshark buffers what it writes: a capture killed with SIGKILL loses the
//! packets still in its buffer (a test then reads a file that stops
//! seconds early). [`Capture::finish`] and Drop stop it with SIGTERM and
//! wait for it to exit, so the file on disk is whole.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};

use crate::names::Owner;
use crate::netns::Netns;
use crate::process::Proc;
use crate::util::wait_until;

/// How long tshark may take to start capturing: seconds of CPU, many on a
/// loaded machine.
const START: Duration = Duration::from_secs(90);
/// How long tshark may take to write out and exit after SIGTERM.
const STOP: Duration = Duration::from_secs(20);

/// A running tshark writing `<dir>/<label>.pcap`.
#[derive(Debug)]
pub struct Capture {
    proc: Proc,
    file: PathBuf,
}

impl Capture {
    /// Starts tshark on `dev` of `ns` with capture filter `filter` (and
    /// any further tshark options in `extra`, such as `-a duration:8`);
    /// returns once it captures.
    pub fn start<O: Owner>(
        ns: &Netns<O>,
        dir: &Path,
        label: &str,
        dev: &str,
        filter: &str,
        extra: &[&str],
    ) -> Result<Capture> {
        let file = dir.join(format!("{label}.pcap"));
        let mut cmd = ns.command("tshark");
        cmd.args(["-n", "-q", "-i", dev, "-f", filter])
            .args(extra)
            .arg("-w")
            .arg(&file);
        let proc =
            Proc::spawn(label, cmd, dir.join(format!("{label}.log")))?.terminate_on_drop(STOP);
        let mut cap = Capture { proc, file };
        // tshark says when dumpcap has the interface open; a capture that
        // starts later misses what the test does next.
        if !wait_until(START, || {
            cap.proc.log().contains("Capturing on") || !cap.proc.running()
        }) || !cap.proc.running() && !cap.proc.log().contains("Capturing on")
        {
            bail!(
                "tshark on {dev} did not start capturing:\n{}",
                cap.proc.log_tail(20)
            );
        }
        Ok(cap)
    }

    /// The capture file (still being written while tshark runs).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Whether tshark still runs (a `-a`/`-c` limit ends it by itself).
    pub fn running(&mut self) -> bool {
        self.proc.running()
    }

    /// Waits up to `timeout` for tshark to end by itself (its `-a` or `-c`
    /// limit), then stops it as [`Capture::finish`] does.
    pub fn finish_within(mut self, timeout: Duration) -> PathBuf {
        wait_until(timeout, || !self.proc.running());
        self.finish()
    }

    /// Stops tshark (SIGTERM: it writes out what it buffered) and waits for
    /// it to exit; returns the file, now whole.
    pub fn finish(mut self) -> PathBuf {
        self.proc.terminate(STOP);
        self.file.clone()
    }
}
