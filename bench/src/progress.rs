//! The progress display: one status line on stderr (an indicatif spinner on
//! a terminal; plain lines otherwise, e.g. in CI logs).
//!
//! Scenarios call [`Progress::step`] before each step; it is also where
//! they learn about Ctrl-C ([`Progress::check`]).

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

struct Inner {
    bar: Option<ProgressBar>,
    scenario: Mutex<String>,
    start: Instant,
}

impl Progress {
    /// `scenarios` is the number of scenarios that will run (the bar's length).
    pub fn new(scenarios: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(scenarios);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {pos}/{len} {prefix:.bold} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Progress {
            inner: Arc::new(Inner {
                bar,
                scenario: Mutex::new(String::new()),
                start: Instant::now(),
            }),
        }
    }

    /// A display that shows nothing (unit tests).
    #[allow(dead_code)]
    pub fn hidden() -> Progress {
        Progress {
            inner: Arc::new(Inner {
                bar: Some(ProgressBar::hidden()),
                scenario: Mutex::new(String::new()),
                start: Instant::now(),
            }),
        }
    }

    /// A scenario starts.
    pub fn scenario(&self, name: &str) {
        if let Ok(mut s) = self.inner.scenario.lock() {
            *s = name.to_string();
        }
        match &self.inner.bar {
            Some(b) => {
                b.set_prefix(name.to_string());
                b.set_message("");
            }
            None => eprintln!("[{:>6.1}s] == {name}", self.elapsed()),
        }
    }

    /// A scenario ended (advances the bar).
    pub fn scenario_done(&self) {
        if let Some(b) = &self.inner.bar {
            b.inc(1);
        }
    }

    /// What the running scenario is doing now.
    pub fn step(&self, msg: impl AsRef<str>) {
        let msg = msg.as_ref();
        match &self.inner.bar {
            Some(b) => b.set_message(msg.to_string()),
            None => {
                let sc = self
                    .inner
                    .scenario
                    .lock()
                    .map(|s| s.clone())
                    .unwrap_or_default();
                eprintln!("[{:>6.1}s] {sc}: {msg}", self.elapsed());
            }
        }
    }

    /// A line that stays (a result, a warning), printed above the status line.
    pub fn println(&self, msg: impl AsRef<str>) {
        match &self.inner.bar {
            Some(b) => b.println(msg.as_ref()),
            None => eprintln!("{}", msg.as_ref()),
        }
    }

    /// True once Ctrl-C arrived (for loops that cannot return an error).
    #[allow(dead_code)]
    pub fn interrupted(&self) -> bool {
        crate::cleanup::interrupted()
    }

    /// Fails once Ctrl-C arrived.
    pub fn check(&self) -> anyhow::Result<()> {
        crate::cleanup::check()
    }

    pub fn elapsed(&self) -> f64 {
        self.inner.start.elapsed().as_secs_f64()
    }

    pub fn finish(&self) {
        if let Some(b) = &self.inner.bar {
            b.finish_and_clear();
        }
    }
}
