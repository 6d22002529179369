//! Processes started by a test or a benchmark, killed by pid when their
//! guard drops, and the scratch directories they write into.

use std::fs::{self, File};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::names::{unique_name, Owner};
use crate::netns::Netns;
use crate::sys;
use crate::util;

/// A scratch directory `/tmp/<prefix><short>-<pid>x<n>`, removed on Drop
/// (kept when the thread is panicking, a test failing, and `A6T_KEEP=1`
/// is set, so its logs can be read).
#[derive(Debug)]
pub struct TempDir<O: Owner> {
    path: PathBuf,
    owner: PhantomData<fn() -> O>,
}

impl<O: Owner> TempDir<O> {
    pub fn new(short: &str) -> Result<TempDir<O>> {
        let path = std::env::temp_dir().join(unique_name::<O>(short));
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir {
            path,
            owner: PhantomData,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.path.join(p)
    }
}

impl<O: Owner> Drop for TempDir<O> {
    fn drop(&mut self) {
        if util::panicking() && std::env::var_os("A6T_KEEP").is_some() {
            eprintln!("kept {} (A6T_KEEP)", self.path.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A child process (usually in a namespace through `nsenter --net=`, which
/// execs, so the pid is the program's). Output goes to a log file; on Drop
/// the process is killed by pid with SIGKILL (or first asked with SIGTERM,
/// see [`Proc::terminate_on_drop`]) and reaped, and if the thread is
/// panicking (a test failing) the end of its log is printed.
#[derive(Debug)]
pub struct Proc {
    label: String,
    child: Child,
    log: PathBuf,
    exited: Option<ExitStatus>,
    drop_grace: Option<Duration>,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(label: &str, mut cmd: Command, log: PathBuf) -> Result<Proc> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = out.try_clone()?;
        let line = util::cmdline(&cmd);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("spawning `{line}`"))?;
        Ok(Proc {
            label: label.to_string(),
            child,
            log,
            exited: None,
            drop_grace: None,
        })
    }

    /// On Drop, SIGTERM first and SIGKILL only if it has not exited within
    /// `grace` (a daemon that cleans up on SIGTERM).
    pub fn terminate_on_drop(mut self, grace: Duration) -> Proc {
        self.drop_grace = Some(grace);
        self
    }

    /// Spawns `program args` inside `ns`.
    pub fn spawn_in<O: Owner>(
        ns: &Netns<O>,
        label: &str,
        program: &Path,
        args: &[&str],
        log: PathBuf,
    ) -> Result<Proc> {
        let mut cmd = ns.command(program);
        cmd.args(args);
        Proc::spawn(label, cmd, log)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether the process still runs (reaps it if it exited).
    pub fn running(&mut self) -> bool {
        if self.exited.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(st)) => {
                self.exited = Some(st);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Exit status, if it exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.running();
        self.exited
    }

    /// Sends `sig` to this one process.
    pub fn signal(&mut self, sig: i32) -> Result<()> {
        if !self.running() {
            return Ok(());
        }
        sys::kill(self.pid(), sig)
            .with_context(|| format!("signal {sig} to {} ({})", self.label, self.pid()))
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            if let Ok(st) = self.child.wait() {
                self.exited = Some(st);
            }
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub fn terminate(&mut self, grace: Duration) {
        if self.signal(libc::SIGTERM).is_ok() && util::wait_until(grace, || !self.running()) {
            return;
        }
        self.kill();
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        match self.drop_grace {
            Some(grace) => self.terminate(grace),
            None => self.kill(),
        }
        if util::panicking() {
            eprintln!(
                "---- {} (pid {}, {:?}) log tail ----\n{}\n---- end {} ----",
                self.label,
                self.pid(),
                self.exited,
                self.log_tail(40),
                self.label
            );
        }
    }
}
