//! The real anycast6d (target/release) in a bench topology: a router
//! namespace running the daemon, a server namespace holding the members'
//! addresses on one veth link (so their neighbours resolve), a generated
//! config, and anycast6ctl / the management socket against it.
//!
//! ```text
//!  a6b-rt-* [anycast6d, XDP on m0] m0 ──veth── r0 [a6b-srv-*: 2001:db8:1::10..]
//! ```

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::cleanup::{self, Netns, PinDir, Proc, TempDir};
use crate::progress::Progress;

/// Member addresses the server namespace holds: 2001:db8:1::10 + i.
pub const POOL: usize = 16;
pub const ROUTER_IF: &str = "m0";
pub const ROUTER_ADDR: &str = "2001:db8:1::1";

pub fn pool_addr(i: usize) -> String {
    format!("2001:db8:1::{:x}", 0x10 + i)
}

/// A workspace binary next to this one (target/release), built by
/// scripts/bench.sh.
pub fn bin(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let p = exe
        .parent()
        .context("the bench binary has no directory")?
        .join(name);
    if !p.exists() {
        bail!(
            "{} not found: build the workspace binaries first (cargo build --release --workspace --bins)",
            p.display()
        );
    }
    Ok(p)
}

/// Router and server namespaces joined by one veth link; the server holds
/// [`POOL`] member addresses.
pub struct Topology {
    pub rt: Netns,
    /// Holds the member addresses (kept alive, never read).
    pub _srv: Netns,
}

impl Topology {
    pub fn new() -> Result<Topology> {
        let rt = Netns::new("rt")?;
        let srv = Netns::new("srv")?;
        cleanup::veth(&rt, ROUTER_IF, &srv, "r0")?;
        rt.ip(&[
            "-6",
            "addr",
            "add",
            &format!("{ROUTER_ADDR}/64"),
            "dev",
            ROUTER_IF,
            "nodad",
        ])?;
        for i in 0..POOL {
            srv.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{}/64", pool_addr(i)),
                "dev",
                "r0",
                "nodad",
            ])?;
        }
        // The router's redirected frames land on r0: it needs GRO (or an
        // XDP program) to accept them; no traffic here, but keep it sane.
        let _ = srv.exec("ethtool", &["-K", "r0", "gro", "on"]);
        Ok(Topology { rt, _srv: srv })
    }
}

/// Capacities for the `[capacities]` table.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caps {
    pub fib_entries: u32,
    pub groups: u32,
    pub maglev_blocks: u32,
    pub member_ids: u32,
}

/// The `[daemon]`, `[capacities]` and `[[interface]]` part of a config.
pub fn header(socket: &Path, pin_dir: &Path, state: &Path, caps: Option<Caps>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "[daemon]\nsocket = {:?}\npin_dir = {:?}\nstate_file = {:?}\nrouter_address = {ROUTER_ADDR:?}\n",
        socket.display().to_string(),
        pin_dir.display().to_string(),
        state.display().to_string()
    );
    if let Some(c) = caps {
        let _ = writeln!(
            s,
            "[capacities]\nfib_entries = {}\ngroups = {}\nmaglev_blocks = {}\nmember_ids = {}\n",
            c.fib_entries, c.groups, c.maglev_blocks, c.member_ids
        );
    }
    let _ = writeln!(
        s,
        "[[interface]]\nname = {ROUTER_IF:?}\nxdp_mode = \"native\"\n"
    );
    s
}

/// One `[[group]]` with on-link members from the pool.
pub fn group(out: &mut impl std::io::Write, address: &str, members: &[usize]) -> Result<()> {
    writeln!(out, "[[group]]\naddress = \"{address}\"")?;
    group_members(out, members)
}

/// A `[[group]]` of several addresses sharing `members` (one FIB group).
pub fn group_of(
    out: &mut impl std::io::Write,
    addresses: impl Iterator<Item = std::net::Ipv6Addr>,
    members: &[usize],
) -> Result<()> {
    write!(out, "[[group]]\naddresses = [")?;
    for (i, a) in addresses.enumerate() {
        write!(out, "{}\"{a}\"", if i == 0 { "" } else { ",\n  " })?;
    }
    writeln!(out, "]")?;
    group_members(out, members)
}

fn group_members(out: &mut impl std::io::Write, members: &[usize]) -> Result<()> {
    for &m in members {
        writeln!(
            out,
            "[[group.member]]\naddress = \"{}\"\ninterface = \"{ROUTER_IF}\"",
            pool_addr(m)
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// A running anycast6d. Drop order: the process first (SIGTERM, SIGKILL
/// after 5 s), then its pins, then the scratch directory (config, socket,
/// log).
pub struct Daemon {
    pub child: Proc,
    pub socket: PathBuf,
    pub log: PathBuf,
    pub pins: PinDir,
    pub _dir: TempDir,
    /// Seconds from spawn until the socket answered (the first converge,
    /// FIB written, is done before the daemon listens).
    pub ready_s: f64,
}

/// Paths a daemon will use, chosen before its config is written.
pub struct Paths {
    pub dir: TempDir,
    pub pins: PinDir,
    pub socket: PathBuf,
    pub state: PathBuf,
    pub config: PathBuf,
    pub log: PathBuf,
}

impl Paths {
    pub fn new(label: &str) -> Result<Paths> {
        let dir = TempDir::new(label)?;
        let pins = PinDir::new(label);
        let p = dir.path().to_path_buf();
        Ok(Paths {
            socket: p.join("d.sock"),
            state: p.join("state.json"),
            config: p.join("anycast6.toml"),
            log: p.join("anycast6d.log"),
            dir,
            pins,
        })
    }
}

impl Daemon {
    /// Starts anycast6d in `ns` on the config at `paths.config`; returns
    /// once its socket answers (or fails after `timeout`, with the log's
    /// tail). `on_wait` is called about every second while it starts.
    pub fn start(
        ns: &Netns,
        paths: Paths,
        timeout: Duration,
        progress: &Progress,
        mut on_wait: impl FnMut(u32) -> Result<()>,
    ) -> Result<Daemon> {
        let mut cmd = ns.command(bin("anycast6d")?);
        cmd.arg("--config")
            .arg(&paths.config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        let t = Instant::now();
        let mut child = Proc::spawn("anycast6d", cmd, paths.log.clone())?
            .terminate_on_drop(Duration::from_secs(5));
        let mut next_report = Instant::now();
        loop {
            progress.check()?;
            if let Some(st) = child.exit_status() {
                bail!("anycast6d exited: {st}:\n{}", child.log_tail(15));
            }
            if paths.socket.exists()
                && request(&paths.socket, r#"{"cmd":"show","what":"groups"}"#).is_ok()
            {
                break;
            }
            if t.elapsed() > timeout {
                bail!(
                    "anycast6d did not answer within {timeout:?}; log tail:\n{}",
                    child.log_tail(15)
                );
            }
            if Instant::now() >= next_report {
                on_wait(child.pid())?;
                next_report = Instant::now() + Duration::from_secs(1);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Daemon {
            child,
            socket: paths.socket,
            log: paths.log,
            pins: paths.pins,
            _dir: paths.dir,
            ready_s: t.elapsed().as_secs_f64(),
        })
    }

    pub fn pin_dir(&self) -> &Path {
        self.pins.path()
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// One request line on the management socket; the reply's `data`.
pub fn request(socket: &Path, line: &str) -> Result<Value> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    s.write_all(line.as_bytes())?;
    s.write_all(b"\n")?;
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply)?;
    let v: Value = serde_json::from_str(&reply).with_context(|| format!("reply {reply:?}"))?;
    if v["ok"] != Value::Bool(true) {
        bail!("anycast6d: {}", v["error"]);
    }
    Ok(v["data"].clone())
}

/// VmRSS and VmHWM (peak) of a process, MiB.
pub fn rss_mib(pid: u32) -> Result<(f64, f64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(r), Some(h)) => Ok((r, h)),
        _ => bail!("no VmRSS/VmHWM for pid {pid}"),
    }
}
