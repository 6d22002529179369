//! Everything a benchmark creates is undone, also on failure and Ctrl-C.
//!
//! - Names: `a6b-<what>-<pid>x<n>`, unique per process; a later run sweeps
//!   what a killed run left (its pid is dead) with [`sweep_stale`].
//! - Guards: [`Netns`], [`PinDir`], [`ChildGuard`] undo on Drop.
//! - Ctrl-C / SIGTERM: [`install_handler`] sets a flag that scenarios poll
//!   ([`interrupted`], [`check`]); they return an error, their guards drop on
//!   the way out and `main` exits 130. Code that does not poll (a long
//!   system call) is covered by a watchdog: if the process has not finished
//!   [`GRACE`] after the signal, every object named with this process's id is
//!   removed by name ([`sweep_own`]) and the process exits.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// Prefix of every object the bench creates (namespaces, pin dirs, /tmp files).
pub const PREFIX: &str = "a6b-";
pub const NETNS_DIR: &str = "/run/netns";
pub const BPFFS: &str = "/sys/fs/bpf";

/// How long after Ctrl-C the guards get before the watchdog sweeps by name.
pub const GRACE: Duration = Duration::from_secs(15);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static SEQ: AtomicU32 = AtomicU32::new(0);

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

/// `a6b-<short>-<pid>x<n>`: unique in this process, and the pid tells a
/// later run whether its owner is gone. Short enough for an interface or
/// namespace name when `short` is at most 4 bytes.
pub fn unique_name(short: &str) -> String {
    format!(
        "{PREFIX}{short}-{}x{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// The pid inside a name made by [`unique_name`].
fn pid_of(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let tail = rest.rsplit('-').next()?;
    tail.split('x').next()?.parse().ok()
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes namespaces, pin directories and /tmp entries named by a bench
/// process that no longer runs.
pub fn sweep_stale() {
    sweep(|pid| !pid_alive(pid));
}

/// Removes everything named with this process's id (watchdog, second Ctrl-C).
pub fn sweep_own() {
    let me = std::process::id();
    kill_children();
    sweep(|pid| pid == me);
}

fn sweep(select: impl Fn(u32) -> bool) {
    let entries = |dir: &str| -> Vec<(String, PathBuf)> {
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                    .filter(|(n, _)| n.starts_with(PREFIX))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (name, _) in entries(NETNS_DIR) {
        if pid_of(&name).is_some_and(&select) {
            delete_netns(&name);
        }
    }
    for (name, path) in entries(BPFFS) {
        if pid_of(&name).is_some_and(&select) {
            remove_pins(&path);
        }
    }
    let tmp = std::env::temp_dir();
    for (name, path) in entries(&tmp.to_string_lossy()) {
        if pid_of(&name).is_some_and(&select) {
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

/// SIGKILL to every direct child of this process (daemons, ctl clients).
fn kill_children() {
    let me = std::process::id().to_string();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if ppid == Some(me.as_str()) {
            kill(pid, libc::SIGKILL);
        }
    }
}

fn kill(pid: i32, sig: i32) {
    #[allow(unsafe_code)]
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    unsafe {
        libc::kill(pid, sig);
    }
}

fn delete_netns(name: &str) {
    // Processes still inside die with it.
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(p) = pid.parse() {
                kill(p, libc::SIGKILL);
            }
        }
    }
    let _ = Command::new("ip").args(["netns", "del", name]).output();
}

/// Unpins everything under a bench pin directory (links first: a pinned
/// link keeps its program attached) and removes it.
fn remove_pins(dir: &Path) {
    if let Err(e) = anycast6_dataplane::Dataplane::destroy(dir) {
        tracing::debug!(dir = %dir.display(), error = %e, "destroy; removing the tree");
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Runs a command; fails with its stderr when it exits non-zero.
pub fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A network namespace, deleted (with whatever runs in it) on Drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `a6b-<short>-<pid>x<n>` with `lo` up and DAD off.
    pub fn new(short: &str) -> Result<Netns> {
        let name = unique_name(short);
        run(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        for (k, v) in [
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_ra", "0"),
        ] {
            ns.exec("sysctl", &["-q", "-w", &format!("{k}={v}")])?;
        }
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// `ip -n <name> args...`
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut c = Command::new("ip");
        c.arg("-n").arg(&self.name).args(args);
        run(&mut c)
    }

    /// A command run inside the namespace by `nsenter --net=` (never `ip
    /// netns exec`: it remounts /sys and hides bpffs).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(program);
        c
    }

    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String> {
        run(self.command(program).args(args))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        delete_netns(&self.name);
    }
}

/// A veth pair `a_if` (in `a`) — `b_if` (in `b`), both up.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> Result<()> {
    a.ip(&[
        "link",
        "add",
        a_if,
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ])?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])?;
    Ok(())
}

/// A bench pin directory `/sys/fs/bpf/a6b-<short>-<pid>x<n>`: everything
/// under it is detached and unpinned on Drop. Drop the Dataplane that uses
/// it first (its fds keep the maps alive, not pinned).
#[derive(Debug)]
pub struct PinDir {
    path: PathBuf,
}

impl PinDir {
    pub fn new(short: &str) -> PinDir {
        PinDir {
            path: Path::new(BPFFS).join(unique_name(short)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        remove_pins(&self.path);
    }
}

/// A child process, SIGTERMed (then SIGKILLed) and reaped on Drop.
#[derive(Debug)]
pub struct ChildGuard {
    child: Option<Child>,
    what: String,
}

impl ChildGuard {
    pub fn spawn(cmd: &mut Command, what: &str) -> Result<ChildGuard> {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {what}"))?;
        Ok(ChildGuard {
            child: Some(child),
            what: what.into(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Fails if the process has exited.
    pub fn alive(&mut self) -> Result<()> {
        if let Some(c) = self.child.as_mut() {
            if let Some(st) = c.try_wait()? {
                bail!("{} exited: {st}", self.what);
            }
        }
        Ok(())
    }

    /// SIGTERM, wait up to `timeout`, then SIGKILL.
    pub fn stop(&mut self, timeout: Duration) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        kill(c.id() as i32, libc::SIGTERM);
        let end = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < end {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// A scratch directory `/tmp/a6b-<short>-<pid>x<n>`, removed on Drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(short: &str) -> Result<TempDir> {
        let path = std::env::temp_dir().join(unique_name(short));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_pid() {
        let n = unique_name("x");
        assert!(n.starts_with(PREFIX));
        assert_eq!(pid_of(&n), Some(std::process::id()));
        assert_eq!(pid_of("a6b-x-12x3"), Some(12));
        assert_eq!(pid_of("a6t-x-12x3"), None);
    }
}
