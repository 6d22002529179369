//! anycast6d under test: its config, its pin directory, the process, and
//! anycast6ctl against its socket.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::netns::Netns;
use crate::process::{Proc, TempDir};
use crate::util::{self, cmdline, wait_until};

/// Path of a workspace binary (`anycast6d`, `anycast6ctl`, `a6-traffic`).
///
/// `A6T_BIN_DIR` wins if set. Otherwise the binaries next to this test
/// executable's profile directory are used, after one
/// `cargo build --bins` per test process (a no-op when up to date), so
/// a test never runs a stale daemon.
pub fn bin(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("A6T_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        // target/<profile>/deps/<test>-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable lives in target/<profile>/deps")
            .to_path_buf();
        if std::env::var_os("A6T_NO_BUILD").is_none() {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
            let mut cmd = Command::new(env!("CARGO"));
            // --lib too: libanycast6_aarp.so (the preload cdylib) lives here.
            cmd.args([
                "build",
                "--quiet",
                "--bins",
                "--lib",
                "--workspace",
                "--manifest-path",
            ])
            .arg(&manifest);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            if let Err(e) = util::run(&mut cmd) {
                panic!("building the workspace binaries failed: {e:#}");
            }
        }
        profile_dir
    });
    dir.join(name)
}

/// A pin directory of our own under bpffs, `/sys/fs/bpf/a6t-<..>/v1`.
/// On Drop everything in it is detached and unpinned
/// (`anycast6ctl destroy --pin-dir`, [`crate::Tests`]), then the directory
/// is removed.
pub type PinDir = anycast6_testsupport::PinDir<crate::Tests>;

/// `anycast6ctl destroy --pin-dir <dir>`: detaches and unpins everything
/// anycast6d pinned there; a failure is only reported.
pub(crate) fn destroy_pins(dir: &Path) {
    let out = Command::new(bin("anycast6ctl"))
        .arg("destroy")
        .arg("--pin-dir")
        .arg(dir)
        .output();
    if let Ok(o) = &out {
        if !o.status.success() {
            eprintln!(
                "anycast6ctl destroy --pin-dir {} failed: {}",
                dir.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            );
        }
    }
}

/// `[[interface]]`.
#[derive(Debug, Clone)]
pub struct IfaceCfg {
    pub name: String,
    pub xdp_mode: String,
    /// `mode` (xdp | afxdp); None leaves the default (xdp).
    pub mode: Option<String>,
}

/// `[[group.member]]`.
#[derive(Debug, Clone)]
pub struct MemberCfg {
    pub address: String,
    pub interface: Option<String>,
    pub next_hop: Option<String>,
    pub distance: u32,
    pub weight: u16,
    pub action: String,
    pub state: String,
}

impl MemberCfg {
    /// An on-link member, rewritten and redirected, distance 1.
    pub fn on_link(address: &str, interface: &str) -> MemberCfg {
        MemberCfg {
            address: address.into(),
            interface: Some(interface.into()),
            next_hop: None,
            distance: 1,
            weight: 100,
            action: "rewrite".into(),
            state: "active".into(),
        }
    }

    pub fn via(mut self, next_hop: &str) -> MemberCfg {
        self.next_hop = Some(next_hop.into());
        self
    }

    pub fn distance(mut self, d: u32) -> MemberCfg {
        self.distance = d;
        self
    }

    pub fn action(mut self, a: &str) -> MemberCfg {
        self.action = a.into();
        self
    }
}

/// `[[group]]`.
#[derive(Debug, Clone)]
pub struct GroupCfg {
    pub address: String,
    pub members: Vec<MemberCfg>,
}

/// `[member]`: this node serves anycast addresses, receiving tunnelled
/// packets through the decap program on `decap_interfaces`.
#[derive(Debug, Clone)]
pub struct MemberRoleCfg {
    pub addresses: Vec<String>,
    pub decap_interfaces: Vec<String>,
}

/// A whole anycast6d config. Paths (socket, pins, state) are filled in by
/// [`Daemon::start`] so they are unique to the test.
#[derive(Debug, Clone, Default)]
pub struct DaemonCfg {
    pub router_address: Option<String>,
    pub interfaces: Vec<IfaceCfg>,
    pub groups: Vec<GroupCfg>,
    pub member: Option<MemberRoleCfg>,
    /// Appended verbatim (protocol sections: `[ard]`, `[member.ard]` after
    /// `[member]`, ...).
    pub extra: String,
}

impl DaemonCfg {
    pub fn interface(mut self, name: &str, xdp_mode: &str) -> DaemonCfg {
        self.interfaces.push(IfaceCfg {
            name: name.into(),
            xdp_mode: xdp_mode.into(),
            mode: None,
        });
        self
    }

    /// Sets `mode` (xdp | afxdp) on every interface listed so far.
    pub fn fast_path(mut self, mode: &str) -> DaemonCfg {
        for i in &mut self.interfaces {
            i.mode = Some(mode.into());
        }
        self
    }

    pub fn group(mut self, address: &str, members: Vec<MemberCfg>) -> DaemonCfg {
        self.groups.push(GroupCfg {
            address: address.into(),
            members,
        });
        self
    }

    /// The TOML text (see docs/config.md).
    pub fn to_toml(&self, socket: &Path, pin_dir: &Path, state_file: &Path) -> String {
        let mut s = String::new();
        let q = |v: &str| format!("{v:?}");
        let _ = writeln!(s, "[daemon]");
        let _ = writeln!(s, "socket = {}", q(&socket.display().to_string()));
        let _ = writeln!(s, "pin_dir = {}", q(&pin_dir.display().to_string()));
        let _ = writeln!(s, "state_file = {}", q(&state_file.display().to_string()));
        if let Some(r) = &self.router_address {
            let _ = writeln!(s, "router_address = {}", q(r));
        }
        for i in &self.interfaces {
            let _ = writeln!(
                s,
                "\n[[interface]]\nname = {}\nxdp_mode = {}",
                q(&i.name),
                q(&i.xdp_mode)
            );
            if let Some(m) = &i.mode {
                let _ = writeln!(s, "mode = {}", q(m));
            }
        }
        for g in &self.groups {
            let _ = writeln!(s, "\n[[group]]\naddress = {}", q(&g.address));
            for m in &g.members {
                let _ = writeln!(s, "\n[[group.member]]\naddress = {}", q(&m.address));
                if let Some(i) = &m.interface {
                    let _ = writeln!(s, "interface = {}", q(i));
                }
                if let Some(n) = &m.next_hop {
                    let _ = writeln!(s, "next_hop = {}", q(n));
                }
                let _ = writeln!(
                    s,
                    "distance = {}\nweight = {}\naction = {}\nstate = {}",
                    m.distance,
                    m.weight,
                    q(&m.action),
                    q(&m.state)
                );
            }
        }
        if let Some(m) = &self.member {
            let list = |v: &[String]| v.iter().map(|x| q(x)).collect::<Vec<_>>().join(", ");
            let _ = writeln!(
                s,
                "\n[member]\naddresses = [{}]\ndecap_interfaces = [{}]",
                list(&m.addresses),
                list(&m.decap_interfaces)
            );
        }
        if !self.extra.is_empty() {
            s.push('\n');
            s.push_str(&self.extra);
        }
        s
    }
}

/// How a [`Daemon`] is started, besides its config.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// More environment (NOTIFY_SOCKET, WATCHDOG_USEC, JOURNAL_STREAM ...).
    pub env: Vec<(String, String)>,
    /// A command anycast6d runs under, inside the namespace (`setpriv ...`).
    pub prefix: Vec<String>,
    /// Run as this uid = gid: the temp dir, the config and the pin
    /// directory's parent are made theirs first (as a package's unit
    /// prepares them for the anycast6 user).
    pub owner: Option<u32>,
}

/// A running (or killed, restartable) anycast6d in a namespace.
pub struct Daemon {
    label: String,
    launch: Launch,
    ns_path: PathBuf,
    pub config: PathBuf,
    pub socket: PathBuf,
    state: PathBuf,
    log: PathBuf,
    proc: Option<Proc>,
    // Dropped after `proc`: the daemon dies before its pins are destroyed.
    pins: PinDir,
}

impl Daemon {
    /// Writes `cfg` (with unique socket, pin and state paths under `tmp`
    /// and bpffs) and starts anycast6d in `ns`; returns once its socket
    /// answers `show groups`.
    pub fn start(ns: &Netns, tmp: &TempDir, label: &str, cfg: &DaemonCfg) -> Result<Daemon> {
        Daemon::start_with(ns, tmp, label, cfg, Launch::default())
    }

    /// [`Daemon::start`] as `launch` says.
    pub fn start_with(
        ns: &Netns,
        tmp: &TempDir,
        label: &str,
        cfg: &DaemonCfg,
        launch: Launch,
    ) -> Result<Daemon> {
        let pins = PinDir::new(label);
        let socket = tmp.join(format!("{label}.sock"));
        let config = tmp.join(format!("{label}.toml"));
        let state = tmp.join(format!("{label}.state.json"));
        std::fs::write(&config, cfg.to_toml(&socket, pins.path(), &state))?;
        if let Some(id) = launch.owner {
            let own = |p: &Path| {
                std::os::unix::fs::chown(p, Some(id), Some(id))
                    .with_context(|| format!("chown {}", p.display()))
            };
            own(tmp.path())?;
            own(&config)?;
            let parent = pins.path().parent().unwrap_or(pins.path());
            std::fs::create_dir_all(parent)?;
            own(parent)?;
        }
        let mut d = Daemon {
            label: label.to_string(),
            launch,
            ns_path: ns.path(),
            config,
            socket,
            state,
            log: tmp.join(format!("{label}.log")),
            proc: None,
            pins,
        };
        d.spawn()?;
        Ok(d)
    }

    pub fn pin_dir(&self) -> &Path {
        self.pins.path()
    }

    /// `cfg` as this daemon's config text (its own socket, pin and state
    /// paths), not yet written.
    pub fn config_text(&self, cfg: &DaemonCfg) -> String {
        cfg.to_toml(&self.socket, self.pins.path(), &self.state)
    }

    /// Writes `text` as the config file and runs `anycast6ctl reload`:
    /// Ok with its output, or Err with what it printed when refused.
    pub fn reload_text(&self, text: &str) -> Result<String> {
        std::fs::write(&self.config, text)?;
        let out = self.ctl_output(&["reload"])?;
        let msg = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(msg)
        } else {
            bail!("{msg}")
        }
    }

    /// [`Daemon::reload_text`] of `cfg`.
    pub fn reload(&self, cfg: &DaemonCfg) -> Result<String> {
        self.reload_text(&self.config_text(cfg))
    }

    /// (Re)starts the process with the current config file.
    pub fn spawn(&mut self) -> Result<()> {
        let _ = std::fs::remove_file(&self.socket);
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.ns_path.display()))
            .arg("--")
            .args(&self.launch.prefix)
            .arg(bin("anycast6d"))
            .arg("--config")
            .arg(&self.config)
            .envs(self.launch.env.iter().map(|(k, v)| (k, v)))
            .env(
                "RUST_LOG",
                std::env::var("A6T_LOG").unwrap_or_else(|_| "info".into()),
            )
            // Plain text in the log file (tracing colours by default).
            .env("NO_COLOR", "1");
        let mut p = Proc::spawn(&self.label, cmd, self.log.clone())?;
        let ready = wait_until(Duration::from_secs(20), || {
            if !p.running() {
                return true;
            }
            self.socket.exists()
                && self
                    .ctl_quiet(&["show", "groups"])
                    .is_ok_and(|o| o.status.success())
        });
        if !p.running() {
            bail!(
                "anycast6d ({}) exited with {:?} while starting:\n{}",
                self.label,
                p.exit_status(),
                p.log_tail(40)
            );
        }
        if !ready {
            bail!(
                "anycast6d ({}) did not answer on {} within 20 s:\n{}",
                self.label,
                self.socket.display(),
                p.log_tail(40)
            );
        }
        self.proc = Some(p);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(Proc::pid)
    }

    pub fn running(&mut self) -> bool {
        self.proc.as_mut().is_some_and(Proc::running)
    }

    /// SIGKILL: no chance to clean anything up.
    pub fn kill9(&mut self) {
        if let Some(p) = self.proc.as_mut() {
            p.kill();
        }
    }

    /// Sends a signal (SIGHUP = reload, SIGTERM = stop).
    pub fn signal(&mut self, sig: i32) -> Result<()> {
        match self.proc.as_mut() {
            Some(p) => p.signal(sig),
            None => bail!("anycast6d ({}) is not running", self.label),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn ctl_quiet(&self, args: &[&str]) -> std::io::Result<Output> {
        Command::new(bin("anycast6ctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
    }

    /// `anycast6ctl --socket S <args>`: the raw output, whatever the status.
    pub fn ctl_output(&self, args: &[&str]) -> Result<Output> {
        self.ctl_quiet(args).context("running anycast6ctl")
    }

    /// `anycast6ctl --socket S <args>`, which must succeed; stdout.
    pub fn ctl(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(bin("anycast6ctl"));
        cmd.arg("--socket").arg(&self.socket).args(args);
        let line = cmdline(&cmd);
        let out = util::run(&mut cmd).with_context(|| format!("anycast6ctl for {}", self.label))?;
        let s =
            String::from_utf8(out.stdout).with_context(|| format!("`{line}` printed non-UTF-8"))?;
        Ok(s)
    }

    /// `anycast6ctl --socket S --json <args>`, parsed.
    pub fn ctl_json(&self, args: &[&str]) -> Result<Value> {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.ctl(&full)?;
        serde_json::from_str(&out)
            .with_context(|| format!("anycast6ctl --json {args:?} printed: {out}"))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The Proc guard prints the end of the log if the test failed.
        if let Some(mut p) = self.proc.take() {
            p.terminate(Duration::from_secs(3));
        }
    }
}
