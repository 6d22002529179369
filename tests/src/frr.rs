//! FRR (zebra + ripngd or ospf6d) as a real RIPng or OSPFv3 peer inside a
//! test namespace.
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
//! - ospf6d still writes two files of its own under `/run/frr`, shared by
//!   every instance: `ospf6d-at-seq-no.dat` (the high half of the RFC 7166
//!   sequence number, bumped at each start; parallel instances only make
//!   it grow faster) and `ospf6d-gr.json` (graceful restart, which the
//!   tests never use).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::netns::Netns;
use crate::ospf::OspfIf;
use crate::process::{Proc, TempDir};
use crate::util::{self, run};

/// Where Debian installs the FRR daemons.
pub const FRR_DIR: &str = "/usr/lib/frr";
/// The user the daemons run as (see the module notes).
pub const FRR_USER: &str = "frr";

/// The routing daemon an [`Frr`] runs beside zebra.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrrDaemon {
    Ripngd,
    Ospf6d,
}

impl FrrDaemon {
    /// The binary under [`FRR_DIR`], also vtysh's `-d` name.
    pub fn name(self) -> &'static str {
        match self {
            FrrDaemon::Ripngd => "ripngd",
            FrrDaemon::Ospf6d => "ospf6d",
        }
    }

    /// A vtysh command the daemon answers as soon as it is up.
    fn probe(self) -> &'static str {
        match self {
            FrrDaemon::Ripngd => "show ipv6 ripng status",
            FrrDaemon::Ospf6d => "show ipv6 ospf6",
        }
    }
}

/// zebra and one routing daemon (ripngd or ospf6d) of one namespace; both
/// killed on Drop.
#[derive(Debug)]
pub struct Frr {
    label: String,
    netns: PathBuf,
    dir: PathBuf,
    vty_dir: PathBuf,
    kind: FrrDaemon,
    // Dropped in this order: the routing daemon first, then zebra.
    daemon: Proc,
    zebra: Proc,
    /// How long the start took until both daemons answered vtysh.
    pub startup: Duration,
}

impl Frr {
    /// Starts zebra (minimal config) and ripngd (`ripngd_conf`, see
    /// [`Frr::ripng_config`]) in `ns`, under `tmp/frr-<label>/`, and waits
    /// until both answer vtysh.
    pub fn start(ns: &Netns, tmp: &TempDir, label: &str, ripngd_conf: &str) -> Result<Frr> {
        Frr::start_daemon(ns, tmp, label, FrrDaemon::Ripngd, ripngd_conf)
    }

    /// Like [`Frr::start`], with ospf6d (`ospf6d_conf`, see
    /// [`Frr::ospf6_config`]) instead of ripngd.
    pub fn start_ospf6d(ns: &Netns, tmp: &TempDir, label: &str, ospf6d_conf: &str) -> Result<Frr> {
        Frr::start_daemon(ns, tmp, label, FrrDaemon::Ospf6d, ospf6d_conf)
    }

    /// Starts zebra and `kind` with `conf` in `ns`, under
    /// `tmp/frr-<label>/`, and waits until both answer vtysh.
    pub fn start_daemon(
        ns: &Netns,
        tmp: &TempDir,
        label: &str,
        kind: FrrDaemon,
        conf: &str,
    ) -> Result<Frr> {
        let t0 = Instant::now();
        let name = kind.name();
        let dir = tmp.join(format!("frr-{label}"));
        let vty_dir = dir.join("vty");
        std::fs::create_dir_all(&vty_dir)
            .with_context(|| format!("creating {}", vty_dir.display()))?;
        let zebra_conf = dir.join("zebra.conf");
        let daemon_conf = dir.join(format!("{name}.conf"));
        std::fs::write(
            &zebra_conf,
            format!("hostname {label}-zebra\nlog stdout informational\n"),
        )?;
        std::fs::write(&daemon_conf, conf)?;
        run(Command::new("chown")
            .args(["-R", &format!("{FRR_USER}:{FRR_USER}")])
            .arg(&dir))?;

        let zserv = dir.join("zserv.api");
        let spawn = |name: &str, conf: &PathBuf| -> Result<Proc> {
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
        // zebra first: the routing daemon connects to its API socket (and
        // retries).
        let mut zebra = spawn("zebra", &zebra_conf)?;
        // Wait for zebra's socket so the daemon does not start with a
        // refused connection and a retry delay.
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
        let daemon = spawn(name, &daemon_conf)?;
        let mut frr = Frr {
            label: label.to_string(),
            netns: ns.path(),
            dir,
            vty_dir,
            kind,
            daemon,
            zebra,
            startup: Duration::ZERO,
        };
        let ready = |frr: &mut Frr| {
            frr.zebra.running()
                && frr.daemon.running()
                && frr.vtysh_daemon("zebra", "show version").is_ok()
                && frr.vtysh_daemon(name, kind.probe()).is_ok()
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !ready(&mut frr) {
            if !frr.zebra.running() || !frr.daemon.running() || Instant::now() >= deadline {
                bail!(
                    "FRR {label} in {} not ready (zebra {:?}, {name} {:?})\n{}",
                    ns.name(),
                    frr.zebra.exit_status(),
                    frr.daemon.exit_status(),
                    frr.logs(20)
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

    /// The routing daemon beside zebra.
    pub fn daemon(&self) -> FrrDaemon {
        self.kind
    }

    /// Pids of (zebra, the routing daemon).
    pub fn pids(&self) -> (u32, u32) {
        (self.zebra.pid(), self.daemon.pid())
    }

    /// `vtysh --vty_socket <dir> -c <cmd>` inside the namespace; returns
    /// stdout. Fails when vtysh fails or reports an unknown/incomplete
    /// command (vtysh exits 0 for some of those).
    pub fn vtysh(&self, cmd: &str) -> Result<String> {
        self.vtysh_args(&["-c", cmd])
    }

    /// Like [`Frr::vtysh`], but to one daemon only (`-d zebra|ripngd|ospf6d`).
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
        self.vtysh_json("show ipv6 route json")
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

    /// An ospf6d config: router id `router_id`, every interface of
    /// `interfaces` in area 0 with its settings (FRR 8.4 syntax: the area
    /// under the interface, `ipv6 ospf6 area`), connected prefixes
    /// redistributed (AS-External-LSAs, type 2) when asked.
    pub fn ospf6_config(
        router_id: &str,
        interfaces: &[(&str, OspfIf)],
        redistribute_connected: bool,
    ) -> String {
        let mut s = String::from("log stdout informational\n!\n");
        for (name, i) in interfaces {
            s.push_str(&format!(
                "interface {name}\n ipv6 ospf6 area 0.0.0.0\n ipv6 ospf6 network {}\n \
                 ipv6 ospf6 cost {}\n ipv6 ospf6 priority {}\n ipv6 ospf6 hello-interval {}\n \
                 ipv6 ospf6 dead-interval {}\n",
                i.network.frr(),
                i.cost,
                i.priority,
                i.hello,
                i.dead
            ));
            if let Some((id, key)) = &i.auth {
                s.push_str(&format!(
                    " ipv6 ospf6 authentication key-id {id} hash-algo hmac-sha-256 key {key}\n"
                ));
            }
            s.push_str("!\n");
        }
        s.push_str(&format!("router ospf6\n ospf6 router-id {router_id}\n"));
        if redistribute_connected {
            s.push_str(" redistribute connected\n");
        }
        s.push_str("!\n");
        s
    }

    /// `show ipv6 ospf6 neighbor json`: `{"neighbors": [{"neighborId",
    /// "state" ("Full", ...), "ifState", "interfaceName", ...}]}`.
    pub fn ospf6_neighbors_json(&self) -> Result<serde_json::Value> {
        self.vtysh_json("show ipv6 ospf6 neighbor json")
    }

    /// `show ipv6 ospf6 route json`: `{"routes": {prefix: {"pathType"
    /// ("IA", "E2", ...), "nextHops": [...], ...}}}`.
    pub fn ospf6_route_json(&self) -> Result<serde_json::Value> {
        self.vtysh_json("show ipv6 ospf6 route json")
    }

    /// The state ospf6d shows for neighbour `router_id` ("Full", "Init",
    /// ...), or None when it has no such neighbour.
    pub fn ospf6_neighbor_state(&self, router_id: &str) -> Option<String> {
        let v = self.ospf6_neighbors_json().ok()?;
        v["neighbors"]
            .as_array()?
            .iter()
            .find(|n| n["neighborId"] == router_id)
            .and_then(|n| n["state"].as_str())
            .map(str::to_string)
    }

    /// Packets `ifname` dropped for failing authentication (`show ipv6
    /// ospf6 interface <if> json`, `authInfo.rxPktDrop`); None without
    /// authentication on it.
    pub fn ospf6_auth_rx_drops(&self, ifname: &str) -> Option<u64> {
        let v = self
            .vtysh_json(&format!("show ipv6 ospf6 interface {ifname} json"))
            .ok()?;
        v[ifname]["authInfo"]["rxPktDrop"].as_u64()
    }

    fn vtysh_json(&self, cmd: &str) -> Result<serde_json::Value> {
        let text = self.vtysh(cmd)?;
        serde_json::from_str(&text).with_context(|| format!("{cmd}: {text}"))
    }

    /// Log tails of both daemons (for failure messages).
    pub fn logs(&self, lines: usize) -> String {
        format!(
            "---- zebra ----\n{}\n---- {} ----\n{}",
            self.zebra.log_tail(lines),
            self.kind.name(),
            self.daemon.log_tail(lines)
        )
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        // SIGTERM (zebra withdraws its kernel routes), then SIGKILL; each
        // by the pid we started. Proc's own Drop reaps and reports.
        self.daemon.terminate(Duration::from_secs(2));
        self.zebra.terminate(Duration::from_secs(2));
    }
}
