//! Names of everything a run creates, and the sweep of what a killed run
//! left behind.
//!
//! Every namespace, pin directory and /tmp entry is named
//! `<prefix><short>-<pid>x<n>`: the prefix says whose it is (`a6t-` the
//! tests, `a6b-` the benchmarks), the counter makes it unique in the
//! process, and the pid tells a later run whether its creator is gone. A
//! process killed with SIGKILL cannot clean up after itself; the next one
//! sweeps what it left ([`sweep_stale`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use crate::{netns, pins, sys};

/// Who creates an object: the tests, the benchmarks. Each has its own
/// prefix, so one never sweeps the other's objects, and its own way of
/// unpinning a pin directory.
pub trait Owner: 'static {
    /// Starts every name this owner creates (`a6t-`).
    const PREFIX: &'static str;
    /// The directory a [`pins::PinDir`] hands out inside its own (`v1`,
    /// like `/sys/fs/bpf/anycast6/v<ABI>`); empty: the directory itself.
    const PIN_LEAF: &'static str = "";

    /// Detaches and unpins what was pinned under `dir` (links first: a
    /// pinned link keeps its program attached), when a pin directory is
    /// dropped or swept; the tree is removed afterwards whatever this did.
    /// Only called when `dir` exists. The default does nothing beyond that
    /// removal.
    fn unpin(dir: &Path) {
        let _ = dir;
    }
}

/// A name unique to this process and call: `<prefix><short>-<pid>x<n>`.
/// `short` is cut to its first 6 ASCII letters and digits, so the whole
/// stays short (bpffs and netns names have no 15-character limit, but
/// they show up in `ip` output and logs, where short is kind).
pub fn unique_name<O: Owner>(short: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let short: String = short
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(6)
        .collect();
    format!("{}{short}-{}x{n}", O::PREFIX, std::process::id())
}

/// The pid inside a name made by [`unique_name`] for `O`, if it is one.
pub fn pid_of<O: Owner>(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(O::PREFIX)?;
    let (_, suffix) = rest.rsplit_once('-')?;
    let (pid, n) = suffix.split_once('x')?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// Removes the namespaces (and what runs in them), pin directories and
/// /tmp entries `O` named in processes that no longer run. Once per owner
/// and process: later calls return at once.
pub fn sweep_stale<O: Owner>() {
    static SWEPT: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let first = SWEPT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(O::PREFIX);
    if first {
        sweep::<O>(|pid| !sys::pid_alive(pid));
    }
}

/// Removes everything `O` named in this process, after SIGKILL to every
/// child of it: the last resort when the guards cannot run (a watchdog
/// after Ctrl-C).
pub fn sweep_own<O: Owner>() {
    let me = std::process::id();
    for pid in sys::children(me) {
        let _ = sys::kill(pid, libc::SIGKILL);
    }
    sweep::<O>(|pid| pid == me);
}

/// Namespaces first: a pinned link whose device went with its namespace
/// dies with its last pin.
fn sweep<O: Owner>(select: impl Fn(u32) -> bool) {
    let ours = |dir: &Path| -> Vec<(String, PathBuf)> {
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                    .filter(|(name, _)| pid_of::<O>(name).is_some_and(&select))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (name, _) in ours(Path::new(netns::NETNS_DIR)) {
        netns::delete(&name);
    }
    for (_, path) in ours(Path::new(pins::BPFFS)) {
        pins::remove::<O>(&path);
    }
    for (_, path) in ours(&std::env::temp_dir()) {
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct T;
    impl Owner for T {
        const PREFIX: &'static str = "a6x-";
    }

    #[test]
    fn names_carry_the_pid() {
        let a = unique_name::<T>("some-long-name");
        assert_ne!(a, unique_name::<T>("some-long-name"));
        assert!(a.starts_with("a6x-somelo-"), "{a}");
        assert_eq!(pid_of::<T>(&a), Some(std::process::id()));
        assert_eq!(pid_of::<T>("a6x-x-12x3"), Some(12));
        assert_eq!(pid_of::<T>("a6t-x-12x3"), None);
        assert_eq!(pid_of::<T>("a6x-r1"), None);
    }
}
