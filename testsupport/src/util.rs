//! Small helpers: root check, polling, running commands.

use std::ffi::OsStr;
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::sys;

/// Returns true when running as root. Otherwise prints a loud line to
/// stderr and returns false: the caller returns early. `scripts/test.sh`
/// refuses to run as non-root, so CI never skips these silently.
pub fn require_root(test: &str) -> bool {
    if sys::is_root() {
        return true;
    }
    // Straight to the stderr handle, not eprintln!: libtest captures the
    // macros' output of passing tests, and a skip must always be seen.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED (needs root): {test}");
    false
}

/// Polls `cond` every 20 ms until it returns true or `timeout` passes.
/// Returns whether it became true.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Like [`wait_until`], but an error naming `what` on timeout.
pub fn wait_for(what: &str, timeout: Duration, cond: impl FnMut() -> bool) -> Result<()> {
    if wait_until(timeout, cond) {
        Ok(())
    } else {
        bail!("timed out after {timeout:?} waiting for {what}")
    }
}

/// Human-readable command line, for error messages.
pub fn cmdline(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command to completion; an error carries the command line,
/// status, stdout and stderr when it fails.
pub fn run(cmd: &mut Command) -> Result<Output> {
    let line = cmdline(cmd);
    let out = cmd.output().with_context(|| format!("spawning `{line}`"))?;
    if !out.status.success() {
        bail!(
            "`{line}` failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

/// Runs a command to completion and returns its stdout as a string.
pub fn run_stdout(cmd: &mut Command) -> Result<String> {
    let out = run(cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `program args...` and returns its stdout as a string.
pub fn run_str<I, S>(program: &str, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_stdout(Command::new(program).args(args))
}

/// True if we are unwinding from a panic (a failing test): guards then
/// print what they know before cleaning up.
pub fn panicking() -> bool {
    thread::panicking()
}
