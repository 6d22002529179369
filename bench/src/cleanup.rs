//! Everything a benchmark creates is undone, also on failure and Ctrl-C.
//!
//! - Names: `a6b-<what>-<pid>x<n>`, unique per process; a later run sweeps
//!   what a killed run left (its pid is dead) with [`sweep_stale`].
//! - Guards: [`Netns`], [`PinDir`], [`TempDir`], [`Proc`] undo on Drop.
//!   They are `anycast6-testsupport`'s, shared with the tests, named for
//!   the owner [`Bench`].
//! - Ctrl-C / SIGTERM: [`install_handler`] sets a flag that scenarios poll
//!   ([`interrupted`], [`check`]); they return an error, their guards drop on
//!   the way out and `main` exits 130. Code that does not poll (a long
//!   system call) is covered by a watchdog: if the process has not finished
//!   [`GRACE`] after the signal, every object named with this process's id is
//!   removed by name ([`sweep_own`]) and the process exits.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anycast6_testsupport::names::{self, Owner};
use anyhow::{bail, Context, Result};

pub use anycast6_testsupport::netns::veth;
pub use anycast6_testsupport::process::Proc;
pub use anycast6_testsupport::util::run_stdout;

/// The owner of every object the bench creates (namespaces, pin dirs, /tmp
/// files): names start with `a6b-`, and pins are destroyed in-process
/// (links first: a pinned link keeps its program attached).
#[derive(Debug)]
pub struct Bench;

impl Owner for Bench {
    const PREFIX: &'static str = "a6b-";

    fn unpin(dir: &Path) {
        if let Err(e) = anycast6_dataplane::Dataplane::destroy(dir) {
            tracing::debug!(dir = %dir.display(), error = %e, "destroy; removing the tree");
        }
    }
}

/// A network namespace `a6b-<short>-<pid>x<n>`, deleted (with whatever runs
/// in it) on Drop.
pub type Netns = anycast6_testsupport::Netns<Bench>;
/// A pin directory `/sys/fs/bpf/a6b-<short>-<pid>x<n>`: everything under it
/// is detached and unpinned on Drop. Drop the Dataplane that uses it first
/// (its fds keep the maps alive, not pinned).
pub type PinDir = anycast6_testsupport::PinDir<Bench>;
/// A scratch directory `/tmp/a6b-<short>-<pid>x<n>`, removed on Drop.
pub type TempDir = anycast6_testsupport::TempDir<Bench>;

/// How long after Ctrl-C the guards get before the watchdog sweeps by name.
pub const GRACE: Duration = Duration::from_secs(15);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Sets the Ctrl-C / SIGTERM handler (once, from main).
pub fn install_handler() -> Result<()> {
    ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            // Second Ctrl-C: do not wait for the guards.
            eprintln!("\nanycast6-bench: interrupted again; removing what this run created");
            sweep_own();
            std::process::exit(130);
        }
        eprintln!("\nanycast6-bench: interrupted; cleaning up (Ctrl-C again to force)");
        std::thread::spawn(|| {
            std::thread::sleep(GRACE);
            eprintln!("anycast6-bench: cleanup did not finish in {GRACE:?}; removing by name");
            sweep_own();
            std::process::exit(130);
        });
    })
    .context("installing the Ctrl-C handler")
}

/// True once Ctrl-C (or SIGTERM) arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Fails once Ctrl-C arrived: call it between steps (`cleanup::check()?`).
pub fn check() -> Result<()> {
    if interrupted() {
        bail!("interrupted");
    }
    Ok(())
}

/// Sleeps up to `d`, returning early (with an error) on Ctrl-C.
pub fn sleep(d: Duration) -> Result<()> {
    let end = std::time::Instant::now() + d;
    loop {
        check()?;
        let now = std::time::Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// Removes namespaces, pin directories and /tmp entries named by a bench
/// process that no longer runs.
pub fn sweep_stale() {
    names::sweep_stale::<Bench>();
}

/// Removes everything named with this process's id, after SIGKILL to its
/// children (watchdog, second Ctrl-C).
pub fn sweep_own() {
    names::sweep_own::<Bench>();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_pid() {
        let n = names::unique_name::<Bench>("x");
        assert!(n.starts_with(Bench::PREFIX));
        assert_eq!(names::pid_of::<Bench>(&n), Some(std::process::id()));
        assert_eq!(names::pid_of::<Bench>("a6b-x-12x3"), Some(12));
        assert_eq!(names::pid_of::<Bench>("a6t-x-12x3"), None);
    }
}
