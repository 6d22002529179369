//! FRR (zebra + ripngd) as a real RIPng peer inside a test namespace.
//!
//! Each instance keeps every path of its own under the test's [`TempDir`]
//! (`frr-<label>/`): config files, pid files, the zebra API socket (`-z`)
//! and the vty socket directory (`--vty_socket`), so instances in parallel
//! namespaces never meet in FRR's default `/var/run/frr`. The daemons run
//! in the foreground as children of the test and are killed by pid on Drop.
//!
//! What FRR 8.4 (Debian) needs here:
//! - `-u root -g root` is refused: the build's vty group is `frrvty` and
//!   the daemons check that the run-as user belongs to it ("privs_init:
//!   user(root) is not part of vty group"). They therefore run as the
//!   packaged user `frr` (`-u frr -g frr`), and the instance directory is
//!   chowned to it so they can write pid files and sockets there. Root's
//!   vtysh still connects to the `frr:frrvty` 0770 vty sockets.
//! - `-P 0` turns the TCP vty off (sockets only); `--log stdout` sends the
//!   daemons' logs to their [`Proc`] log files.
//! - vtysh finds the daemons by `--vty_socket <dir>/<daemon>.vty`; it needs
//!   no namespace, but runs inside it anyway (like every command of a test).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::netns::Netns;
use crate::process::{Proc, TempDir};
use crate::util::{self, run};

/// Where Debian installs the FRR daemons.
pub const FRR_DIR: &str = "/usr/lib/frr";
/// The user the daemons run as (see the module notes).
pub const FRR_USER: &str = "frr";

/// zebra and ripngd of one namespace; both killed on Drop.
#[derive(Debug)]
pub struct Frr {
    label: String,
    netns: PathBuf,
    dir: PathBuf,
    vty_dir: PathBuf,
    // Dropped in this order: ripngd first, then zebra.
    ripngd: Proc,
    zebra: Proc,
    /// How long the start took until both daemons answered vtysh.
    pub startup: Duration,
}

impl Frr {
    /// Starts zebra (minimal config) and ripngd (`ripngd_conf`, see
    /// [`Frr::ripng_config`]) in `ns`, under `tmp/frr-<label>/`, and waits
    /// until both answer vtysh.
    pub fn start(ns: &Netns, tmp: &TempDir, label: &str, ripngd_conf: &str) -> Result<Frr> {
        let t0 = Instant::now();
        let dir = tmp.join(format!("frr-{label}"));
        let vty_dir = dir.join("vty");
        std::fs::create_dir_all(&vty_dir)
            .with_context(|| format!("creating {}", vty_dir.display()))?;
        let zebra_conf = dir.join("zebra.conf");
        let ripngd_path = dir.join("ripngd.conf");
        std::fs::write(
            &zebra_conf,
            format!("hostname {label}-zebra\nlog stdout informational\n"),
        )?;
        std::fs::write(&ripngd_path, ripngd_conf)?;
        run(Command::new("chown")
            .args(["-R", &format!("{FRR_USER}:{FRR_USER}")])
            .arg(&dir))?;

        let zserv = dir.join("zserv.api");
        let daemon = |name: &str, conf: &PathBuf| -> Result<Proc> {
            let mut cmd = ns.command(PathBuf::from(FRR_DIR).join(name));
            cmd.args(["-u", FRR_USER, "-g", FRR_USER, "-P", "0", "--log", "stdout"])
                .arg("-f")
                .arg(conf)
                .arg("-i")
                .arg(dir.join(format!("{name}.pid")))
                .arg("-z")
                .arg(&zserv)
                .arg("--vty_socket")
                .arg(&vty_dir);
            Proc::spawn(
                &format!("{label}-{name}"),
                cmd,
                tmp.join(format!("frr-{label}-{name}.log")),
            )
        };
        // zebra first: ripngd connects to its API socket (and retries).
        let mut zebra = daemon("zebra", &zebra_conf)?;
        // Wait for zebra's socket so ripngd does not start with a refused
        // connection and a retry delay.
        util::wait_until(Duration::from_secs(10), || {
            zserv.exists() || !zebra.running()
        });
        if !zebra.running() {
            bail!(
                "zebra in {} exited: {:?}\n{}",
                ns.name(),
                zebra.exit_status(),
                zebra.log_tail(20)
            );
        }
        // On any error below, the Procs' Drop kills what was started.
        let ripngd = daemon("ripngd", &ripngd_path)?;
        let mut frr = Frr {
            label: label.to_string(),
            netns: ns.path(),
            dir,
            vty_dir,
            ripngd,
            zebra,
            startup: Duration::ZERO,
        };
        let ready = |frr: &mut Frr| {
            frr.zebra.running()
                && frr.ripngd.running()
                && frr.vtysh_daemon("zebra", "show version").is_ok()
                && frr.vtysh_daemon("ripngd", "show ipv6 ripng status").is_ok()
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !ready(&mut frr) {
            if !frr.zebra.running() || !frr.ripngd.running() || Instant::now() >= deadline {
                bail!(
                    "FRR {label} in {} not ready (zebra {:?}, ripngd {:?})\nzebra:\n{}\nripngd:\n{}",
                    ns.name(),
                    frr.zebra.exit_status(),
                    frr.ripngd.exit_status(),
                    frr.zebra.log_tail(20),
                    frr.ripngd.log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        frr.startup = t0.elapsed();
        Ok(frr)
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The instance directory (configs, pid files, sockets).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Pids of (zebra, ripngd).
    pub fn pids(&self) -> (u32, u32) {
        (self.zebra.pid(), self.ripngd.pid())
    }

    /// `vtysh --vty_socket <dir> -c <cmd>` inside the namespace; returns
    /// stdout. Fails when vtysh fails or reports an unknown/incomplete
    /// command (vtysh exits 0 for some of those).
    pub fn vtysh(&self, cmd: &str) -> Result<String> {
        self.vtysh_args(&["-c", cmd])
    }

    /// Like [`Frr::vtysh`], but to one daemon only (`-d zebra|ripngd`).
    pub fn vtysh_daemon(&self, daemon: &str, cmd: &str) -> Result<String> {
        self.vtysh_args(&["-d", daemon, "-c", cmd])
    }

    fn vtysh_args(&self, args: &[&str]) -> Result<String> {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.netns.display()))
            .arg("--")
            .arg("vtysh")
            .arg("--vty_socket")
            .arg(&self.vty_dir)
            .args(args);
        let out = run(&mut c)?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        for bad in [
            "% Unknown command",
            "% Command incomplete",
            "is not running",
        ] {
            if text.contains(bad) {
                bail!("`{}`: {}", util::cmdline(&c), text.trim());
            }
        }
        Ok(text)
    }

    /// `show ipv6 route json`, parsed: an object from prefix to an array of
    /// route entries (`protocol`, `selected`, `installed`, `nexthops`, ...).
    pub fn routes_json(&self) -> Result<serde_json::Value> {
        let text = self.vtysh("show ipv6 route json")?;
        serde_json::from_str(&text).with_context(|| format!("show ipv6 route json: {text}"))
    }

    /// Whether zebra has `prefix` from `protocol` (e.g. "ripng"),
    /// selected and installed in the kernel.
    pub fn has_route(&self, prefix: &str, protocol: &str) -> bool {
        self.routes_json().is_ok_and(|v| {
            v[prefix].as_array().is_some_and(|entries| {
                entries.iter().any(|r| {
                    r["protocol"] == protocol && r["selected"] == true && r["installed"] == true
                })
            })
        })
    }

    /// A ripngd config: RIPng on `interfaces`, `timers basic update
    /// timeout garbage` (seconds), connected prefixes redistributed.
    pub fn ripng_config(interfaces: &[&str], timers: (u32, u32, u32)) -> String {
        let (u, t, g) = timers;
        let mut s = String::from("log stdout informational\n!\nrouter ripng\n");
        for i in interfaces {
            s.push_str(&format!(" network {i}\n"));
        }
        s.push_str(&format!(" timers basic {u} {t} {g}\n"));
        s.push_str(" redistribute connected\n!\n");
        s
    }

    /// Log tails of both daemons (for failure messages).
    pub fn logs(&self, lines: usize) -> String {
        format!(
            "---- zebra ----\n{}\n---- ripngd ----\n{}",
            self.zebra.log_tail(lines),
            self.ripngd.log_tail(lines)
        )
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        // SIGTERM (zebra withdraws its kernel routes), then SIGKILL; each
        // by the pid we started. Proc's own Drop reaps and reports.
        self.ripngd.terminate(Duration::from_secs(2));
        self.zebra.terminate(Duration::from_secs(2));
    }
}
