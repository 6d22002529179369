//! BIRD 2 as a real RIPng or OSPFv3 peer inside a test namespace.
//!
//! `bird -f -c <conf> -s <sock> -P <pid>` runs in the foreground as a child
//! of the test (as root: BIRD needs no user of its own), with every path
//! under the test's [`TempDir`] (`bird-<label>.*`), and is killed by pid on
//! Drop. `birdc -s <sock>` talks to it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::netns::Netns;
use crate::ospf::OspfIf;
use crate::process::{Proc, TempDir};
use crate::util::{self, run};

/// The name [`Bird::ripng_config`] gives its RIPng protocol.
pub const RIP_PROTOCOL: &str = "ripng1";

/// The name [`Bird::ospf_config`] gives its OSPFv3 protocol.
pub const OSPF_PROTOCOL: &str = "ospf1";

/// One line of `show ospf neighbors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OspfNeighbor {
    pub router_id: String,
    pub priority: u8,
    /// State and the neighbour's role on the link: `Full/DR`, `Full/PtP`,
    /// `Init/Other`, ...
    pub state: String,
    pub interface: String,
    /// The neighbour's link-local address.
    pub address: String,
}

impl OspfNeighbor {
    pub fn is_full(&self) -> bool {
        self.state.starts_with("Full/")
    }
}

/// One BIRD daemon; killed on Drop.
#[derive(Debug)]
pub struct Bird {
    label: String,
    netns: PathBuf,
    sock: PathBuf,
    conf: PathBuf,
    proc: Proc,
    /// How long the start took until birdc answered.
    pub startup: Duration,
}

impl Bird {
    /// Checks `conf` (`bird -p`), starts BIRD with it in `ns` and waits
    /// until birdc answers.
    pub fn start(ns: &Netns, tmp: &TempDir, label: &str, conf: &str) -> Result<Bird> {
        let t0 = Instant::now();
        let conf_path = tmp.join(format!("bird-{label}.conf"));
        let sock = tmp.join(format!("bird-{label}.ctl"));
        let pid = tmp.join(format!("bird-{label}.pid"));
        std::fs::write(&conf_path, conf)?;
        // Parse only: a config error is reported as such, not as a timeout.
        run(Command::new("bird").arg("-p").arg("-c").arg(&conf_path))
            .with_context(|| format!("BIRD config of {label}:\n{conf}"))?;
        let mut cmd = ns.command("bird");
        cmd.arg("-f")
            .arg("-c")
            .arg(&conf_path)
            .arg("-s")
            .arg(&sock)
            .arg("-P")
            .arg(&pid);
        let proc = Proc::spawn(
            &format!("{label}-bird"),
            cmd,
            tmp.join(format!("bird-{label}.log")),
        )?;
        let mut bird = Bird {
            label: label.to_string(),
            netns: ns.path(),
            sock,
            conf: conf_path,
            proc,
            startup: Duration::ZERO,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if !bird.proc.running() {
                bail!(
                    "BIRD {label} in {} exited: {:?}\n{}",
                    ns.name(),
                    bird.proc.exit_status(),
                    bird.proc.log_tail(20)
                );
            }
            if bird
                .birdc("show status")
                .is_ok_and(|s| s.contains("Daemon is up and running"))
            {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "BIRD {label} in {} does not answer birdc\n{}",
                    ns.name(),
                    bird.proc.log_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bird.startup = t0.elapsed();
        Ok(bird)
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn conf_path(&self) -> &Path {
        &self.conf
    }

    /// `birdc -s <sock> <cmd>` inside the namespace; returns stdout. The
    /// command is split on whitespace (birdc joins its arguments again).
    pub fn birdc(&self, cmd: &str) -> Result<String> {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.netns.display()))
            .arg("--")
            .arg("birdc")
            .arg("-s")
            .arg(&self.sock)
            .args(cmd.split_whitespace());
        let out = run(&mut c)?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // birdc exits 0 on a command BIRD rejects; its error replies are
        // lines starting with "syntax error" or a 8xxx/9xxx code.
        if text.contains("syntax error") || text.lines().any(|l| l.starts_with("Unknown")) {
            bail!("`{}`: {}", util::cmdline(&c), text.trim());
        }
        Ok(text)
    }

    /// `show route` as text.
    pub fn show_route(&self) -> Result<String> {
        self.birdc("show route")
    }

    /// The `show route` lines of `prefix` (its route and its attribute
    /// lines), or None when BIRD has no route for it.
    pub fn route(&self, prefix: &str) -> Option<String> {
        let text = self.birdc(&format!("show route {prefix} all")).ok()?;
        text.contains(prefix).then_some(text)
    }

    /// Whether BIRD has `prefix` from the protocol named `protocol`
    /// (`show route` lines read `<prefix> unicast [<protocol> <time>] ...`).
    pub fn has_route_from(&self, prefix: &str, protocol: &str) -> bool {
        self.route(prefix)
            .is_some_and(|t| t.contains(&format!("[{protocol} ")))
    }

    /// A BIRD config for RIPng: `protocol device`; `protocol direct` on
    /// `direct` (the prefixes to originate); `protocol kernel` exporting
    /// everything (so learned routes reach the namespace's kernel table);
    /// `protocol rip ng` ([`RIP_PROTOCOL`]) on `rip_interfaces` with
    /// `update time`, `timeout time`, `garbage time` = `timers` (seconds)
    /// and `ttl security on` (send hop limit 255, drop anything less, as
    /// RFC 2080 asks).
    pub fn ripng_config(
        router_id: &str,
        rip_interfaces: &[&str],
        direct: &[&str],
        timers: (u32, u32, u32),
    ) -> String {
        let (u, t, g) = timers;
        let quote = |ifs: &[&str]| {
            ifs.iter()
                .map(|i| format!("\"{i}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "router id {router_id};\n\
             log stderr all;\n\
             protocol device {{ scan time 10; }}\n\
             protocol direct {{ ipv6; interface {direct}; }}\n\
             protocol kernel {{ ipv6 {{ export all; }}; }}\n\
             protocol rip ng {RIP_PROTOCOL} {{\n\
             \tipv6 {{ import all; export all; }};\n\
             \tinterface {rip} {{ update time {u}; timeout time {t}; garbage time {g}; ttl security on; }};\n\
             }}\n",
            direct = quote(direct),
            rip = quote(rip_interfaces),
        )
    }

    /// A BIRD config for OSPFv3: `protocol device`; `protocol kernel`
    /// exporting every route that is not a direct one (learned routes
    /// reach the namespace's kernel table, connected ones are the
    /// kernel's already); `protocol ospf v3` ([`OSPF_PROTOCOL`]) importing
    /// everything, with `interfaces` in area 0. With `export_connected`,
    /// `protocol direct` on every interface and the OSPF protocol exporting
    /// its routes (AS-External-LSAs, type 2 at BIRD's default metric
    /// 10000). Authentication is `authentication cryptographic;` with
    /// `password "<key>" { id <key id>; algorithm hmac sha256; };`.
    pub fn ospf_config(
        router_id: &str,
        interfaces: &[(&str, OspfIf)],
        export_connected: bool,
    ) -> String {
        let mut s = format!(
            "router id {router_id};\n\
             log stderr all;\n\
             protocol device {{ scan time 10; }}\n\
             protocol kernel {{ ipv6 {{ export where source != RTS_DEVICE; }}; }}\n"
        );
        let export = if export_connected {
            s.push_str("protocol direct { ipv6; interface \"*\"; }\n");
            "where source = RTS_DEVICE"
        } else {
            "none"
        };
        s.push_str(&format!(
            "protocol ospf v3 {OSPF_PROTOCOL} {{\n\
             \tipv6 {{ import all; export {export}; }};\n\
             \tarea 0 {{\n"
        ));
        for (name, i) in interfaces {
            s.push_str(&format!(
                "\t\tinterface \"{name}\" {{\n\
                 \t\t\ttype {}; cost {}; priority {}; hello {}; dead {};\n",
                i.network.bird(),
                i.cost,
                i.priority,
                i.hello,
                i.dead
            ));
            if let Some((id, key)) = &i.auth {
                s.push_str(&format!(
                    "\t\t\tauthentication cryptographic;\n\
                     \t\t\tpassword \"{key}\" {{ id {id}; algorithm hmac sha256; }};\n"
                ));
            }
            s.push_str("\t\t};\n");
        }
        s.push_str("\t};\n}\n");
        s
    }

    /// `show ospf neighbors`, parsed (the lines under the column header
    /// `Router ID  Pri  State  DTime  Interface  Router IP`).
    pub fn ospf_neighbors(&self) -> Result<Vec<OspfNeighbor>> {
        let text = self.birdc("show ospf neighbors")?;
        let mut out = Vec::new();
        let mut in_table = false;
        for line in text.lines() {
            if line.starts_with("Router ID") {
                in_table = true;
                continue;
            }
            let cols: Vec<&str> = line.split_whitespace().collect();
            if !in_table || cols.is_empty() {
                continue;
            }
            let [id, pri, state, _dtime, interface, address] = cols[..] else {
                bail!("unexpected `show ospf neighbors` line {line:?} in\n{text}");
            };
            out.push(OspfNeighbor {
                router_id: id.to_string(),
                priority: pri
                    .parse()
                    .with_context(|| format!("priority in {line:?}"))?,
                state: state.to_string(),
                interface: interface.to_string(),
                address: address.to_string(),
            });
        }
        Ok(out)
    }

    /// The state BIRD shows for neighbour `router_id`, or None.
    pub fn ospf_neighbor(&self, router_id: &str) -> Option<OspfNeighbor> {
        self.ospf_neighbors()
            .ok()?
            .into_iter()
            .find(|n| n.router_id == router_id)
    }

    /// The end of BIRD's log.
    pub fn log_tail(&self, lines: usize) -> String {
        self.proc.log_tail(lines)
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        // SIGTERM (BIRD withdraws its kernel routes), then SIGKILL, by the
        // pid we started.
        self.proc.terminate(Duration::from_secs(2));
    }
}
