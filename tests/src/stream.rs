//! The anycast6-stream topology (tests/tests/stream.rs and the `stream`
//! benchmark): servers on one bridged segment share the anycast address
//! behind an anycast6d router with ARD; a client streams from the anycast
//! address.
//!
//! ```text
//!                                                  ┌─ l-s1 ── s1  2001:db8:5::11  ARD metric 1
//!   client ── c-r ── to-c  router  to-lan ── l-r ─ br0 (lan) ─ l-s2 ── s2  2001:db8:5::12  metric 2
//!   2001:db8:c::2          (XDP, ARD)                  └─ l-s3 ── s3  2001:db8:5::13  metric 3
//! ```
//!
//! Each server host runs anycast6d's member role (ARD: A on lo, reports
//! every 100 ms, the hold time asked for) and `anycast6-stream server`
//! (listening on [::]:4740, so Data leaves from the host's unicast
//! address); Data goes back to the client by plain kernel forwarding.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

use crate::daemon::{bin, Daemon, DaemonCfg};
use crate::netns::{veth, Netns};
use crate::process::{Proc, TempDir};
use crate::proto;
use crate::util::wait_for;

/// The anycast address the servers share.
pub const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0x5);
/// anycast6-stream's port.
pub const PORT: u16 = 4740;
/// The file every server has, in `content/` of the scratch directory.
pub const FILE: &str = "film.bin";
/// ARD reports from the members, every this often.
pub const REPORT_MS: u64 = 100;

/// Server `i`'s (1-based) unicast address.
pub fn server_addr(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 5, 0, 0, 0, 0, 0x10 + i as u16)
}

/// One server host: anycast6d (member role, ARD, metric = its number) and
/// the stream server.
pub struct Host {
    // Field order is drop order: processes before their namespace.
    pub server: Option<Proc>,
    pub daemon: Daemon,
    pub ns: Netns,
    id: usize,
    /// Servers started on this host (they share one log).
    starts: usize,
}

pub struct StreamNet {
    pub hosts: Vec<Host>,
    pub router: Daemon,
    pub client: Netns,
    _router_ns: Netns,
    _lan: Netns,
    pub tmp: TempDir,
    /// The streamed file (the servers' copy).
    pub content: PathBuf,
}

impl StreamNet {
    /// Builds the network with `servers` hosts (ARD hold `hold_ms`) and a
    /// `size`-octet file; returns once every server listens and s1 is the
    /// router's member.
    pub fn build(short: &str, servers: usize, hold_ms: u64, size: usize) -> Result<StreamNet> {
        let tmp = TempDir::new(short)?;
        let ns = |n: &str| Netns::new(&format!("{short}{n}"));
        let (client, router_ns, lan) = (ns("c")?, ns("r")?, ns("l")?);
        proto::link(
            &client,
            "c-r",
            "2001:db8:c::2/64",
            &router_ns,
            "to-c",
            "2001:db8:c::1/64",
        )?;
        client.add_route("default", "2001:db8:c::1")?;
        router_ns.enable_forwarding()?;

        // The segment: a bridge in its own namespace, the router and the
        // servers on its ports. No MLD snooping: ARD's multicast reaches
        // every port whatever the bridge has learnt.
        lan.ip(&[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ])?;
        lan.ip(&["link", "set", "br0", "up"])?;
        let port = |peer: &Netns, peer_if: &str, lan_if: &str| -> Result<()> {
            veth(peer, peer_if, &lan, lan_if)?;
            lan.ip(&["link", "set", lan_if, "master", "br0"])?;
            for (n, i) in [(peer, peer_if), (&lan, lan_if)] {
                n.gro_on(i)?;
                n.tx_checksum_off(i)?;
            }
            Ok(())
        };
        port(&router_ns, "to-lan", "l-r")?;
        router_ns.add_addr("to-lan", "2001:db8:5::1/64")?;

        let mut router_cfg = DaemonCfg {
            router_address: Some("2001:db8:c::1".into()),
            ..Default::default()
        }
        .interface("to-c", "native")
        .interface("to-lan", "native");
        router_cfg.extra = proto::ard_router(&["to-lan"], None);
        let router = Daemon::start(&router_ns, &tmp, &format!("{short}r"), &router_cfg)?;

        let dir = tmp.join("content");
        std::fs::create_dir(&dir)?;
        let content = dir.join(FILE);
        std::fs::write(&content, pattern(size))?;

        let mut hosts = Vec::new();
        for i in 1..=servers {
            let h = ns(&format!("s{i}"))?;
            port(&h, "s-lan", &format!("l-s{i}"))?;
            h.add_addr("s-lan", &format!("{}/64", server_addr(i)))?;
            h.add_route("default", "2001:db8:5::1")?;
            let unicast = server_addr(i).to_string();
            let cfg = proto::member_role(
                A,
                proto::ard_member(&proto::ArdMember {
                    iface: "s-lan",
                    unicast: &unicast,
                    metric: i as u32,
                    hold_ms,
                    report_ms: REPORT_MS,
                    key: None,
                }),
            );
            let daemon = Daemon::start(&h, &tmp, &format!("{short}s{i}"), &cfg)?;
            let mut host = Host {
                server: None,
                daemon,
                ns: h,
                id: i,
                starts: 0,
            };
            host.start_server(&tmp)?;
            hosts.push(host);
        }
        let net = StreamNet {
            hosts,
            router,
            client,
            _router_ns: router_ns,
            _lan: lan,
            tmp,
            content,
        };
        for h in &net.hosts {
            h.wait_listening()?;
        }
        net.wait_active(1, Duration::from_secs(20))?;
        Ok(net)
    }

    /// Waits until the router's RIB holds every member with server `i`
    /// the one installed.
    pub fn wait_active(&self, i: usize, timeout: Duration) -> Result<()> {
        let want = server_addr(i).to_string();
        let n = self.hosts.len();
        wait_for(&format!("s{i} the router's member"), timeout, || {
            let rib = self.router.ctl_json(&["show", "rib"]).unwrap_or_default();
            let rows = rib.as_array().cloned().unwrap_or_default();
            rows.len() == n
                && rows
                    .iter()
                    .any(|r| r["address"] == want.as_str() && r["state"] == "active")
        })
        .map_err(|e| anyhow!("{e}\n{}", self.router.log()))
    }

    /// The host whose segment port sends the most in `window` (the one
    /// streaming), if any sends more than a trickle (ARD reports).
    pub fn serving_host(&self, window: Duration) -> Option<usize> {
        let tx = |h: &Host| -> u64 {
            h.ns.ip(&["-s", "-j", "link", "show", "s-lan"])
                .ok()
                .and_then(|j| serde_json::from_str::<Value>(&j).ok())
                .and_then(|v| v[0]["stats64"]["tx"]["packets"].as_u64())
                .unwrap_or(0)
        };
        let before: Vec<u64> = self.hosts.iter().map(tx).collect();
        std::thread::sleep(window);
        let delta: Vec<u64> = self
            .hosts
            .iter()
            .zip(before)
            .map(|(h, b)| tx(h).saturating_sub(b))
            .collect();
        let (i, &most) = delta.iter().enumerate().max_by_key(|&(_, d)| *d)?;
        // ARD reports: ten a second; a stream at 1 MiB/s: ~870.
        let trickle = 2 * window.as_millis() as u64 * 10 / 1000 + 5;
        (most > trickle).then_some(i + 1)
    }

    /// Host `i` (1-based) dies: server and anycast6d SIGKILLed, no ARD
    /// leave.
    /// Both get SIGKILL back to back before either is reaped, so neither
    /// outlives the other by more than a system call (a member daemon that
    /// reports after its server died, or the reverse, would bias the gap).
    pub fn kill_host(&mut self, i: usize) {
        let h = &mut self.hosts[i - 1];
        let _ = h.daemon.signal(libc::SIGKILL);
        if let Some(s) = h.server.as_mut() {
            let _ = s.signal(libc::SIGKILL);
            s.kill();
        }
        h.daemon.kill9();
    }

    /// Host `i` stops cleanly: anycast6d first (its ARD leave moves the
    /// router at once), then the server (End "stopping" to its clients).
    /// Returns the server's log.
    pub fn stop_host(&mut self, i: usize) -> Result<String> {
        let h = &mut self.hosts[i - 1];
        h.daemon.signal(libc::SIGTERM)?;
        wait_for(
            &format!("s{i}'s anycast6d exits"),
            Duration::from_secs(10),
            || !h.daemon.running(),
        )?;
        let mut s = h.server.take().context("no server")?;
        s.terminate(Duration::from_secs(5));
        Ok(s.log())
    }

    /// Host `i` comes back: anycast6d and a new server.
    pub fn restart_host(&mut self, i: usize) -> Result<()> {
        let tmp = &self.tmp;
        let h = &mut self.hosts[i - 1];
        h.daemon.spawn()?;
        h.start_server(tmp)?;
        h.wait_listening()
    }
}

impl Host {
    fn start_server(&mut self, tmp: &TempDir) -> Result<()> {
        if let Some(mut old) = self.server.take() {
            old.kill();
        }
        let i = self.id;
        let dir = tmp.join("content");
        let server = Proc::spawn_in(
            &self.ns,
            &format!("server{i}"),
            &bin("anycast6-stream"),
            &[
                "server",
                "--listen",
                &format!("[::]:{PORT}"),
                "--dir",
                dir.to_str().context("scratch path")?,
                "--id",
                &i.to_string(),
                "--json",
            ],
            tmp.join(format!("server{i}.log")),
        )?
        .terminate_on_drop(Duration::from_secs(5));
        self.server = Some(server);
        self.starts += 1;
        Ok(())
    }

    /// Waits until the latest server says it listens.
    fn wait_listening(&self) -> Result<()> {
        let s = self.server.as_ref().context("no server")?;
        wait_for("the stream server listens", Duration::from_secs(30), || {
            s.log().matches("listening on").count() >= self.starts
        })
    }
}

/// A deterministic pseudo-random file of `size` octets.
fn pattern(size: usize) -> Vec<u8> {
    let mut data = vec![0u8; size];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in &mut data {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    data
}

/// How a client plays.
#[derive(Debug, Clone)]
pub struct PlayOpts {
    pub rate: String,
    pub buffer: String,
    pub nack_interval: String,
    pub give_up: String,
}

impl Default for PlayOpts {
    fn default() -> PlayOpts {
        PlayOpts {
            rate: "1M".into(),
            buffer: "2s".into(),
            nack_interval: "100ms".into(),
            give_up: "5s".into(),
        }
    }
}

/// A client run in the client namespace; its JSON report comes on stdout.
pub struct Play {
    pub out: PathBuf,
    pid: u32,
    handle: JoinHandle<std::io::Result<Output>>,
}

/// How a client ended.
#[derive(Debug)]
pub struct Played {
    pub code: Option<i32>,
    /// Its `--json` summary.
    pub report: Value,
    pub stderr: String,
}

impl Played {
    /// `(from server, to server, gap ms)` of each failover.
    pub fn failovers(&self) -> Vec<(u64, u64, f64)> {
        self.failovers_at()
            .into_iter()
            .map(|(from, to, gap, _)| (from, to, gap))
            .collect()
    }

    /// `(from server, to server, gap ms, first sequence number of the new
    /// server)` of each failover.
    pub fn failovers_at(&self) -> Vec<(u64, u64, f64, u64)> {
        self.report["failovers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| {
                        (
                            f["from_server"].as_u64().unwrap_or(0),
                            f["to_server"].as_u64().unwrap_or(0),
                            f["gap_ms"].as_f64().unwrap_or(f64::NAN),
                            f["at_seq"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn count(&self, field: &str) -> u64 {
        self.report[field].as_u64().unwrap_or(u64::MAX)
    }
}

impl Play {
    /// Starts `anycast6-stream client` toward `service` (the anycast
    /// address, or one server's), writing to `<tmp>/<label>.out`.
    pub fn start(net: &StreamNet, label: &str, service: Ipv6Addr, o: &PlayOpts) -> Result<Play> {
        Play::start_in(&net.client, &net.tmp, label, service, FILE, o)
    }

    /// The same from any namespace and for any content id (a file name
    /// on the servers, or `gen:<size>`).
    pub fn start_in(
        client: &Netns,
        tmp: &TempDir,
        label: &str,
        service: Ipv6Addr,
        content: &str,
        o: &PlayOpts,
    ) -> Result<Play> {
        Play::start_bound(client, tmp, label, service, content, o, None)
    }

    /// [`Play::start_in`] from a given client address and port (`--bind`):
    /// the session's flow is then known in advance.
    pub fn start_bound(
        client: &Netns,
        tmp: &TempDir,
        label: &str,
        service: Ipv6Addr,
        content: &str,
        o: &PlayOpts,
        bind: Option<std::net::SocketAddrV6>,
    ) -> Result<Play> {
        let out = tmp.join(format!("{label}.out"));
        let _ = std::fs::remove_file(&out);
        let mut cmd = client.command(bin("anycast6-stream"));
        cmd.args([
            "client",
            "--server",
            &format!("[{service}]:{PORT}"),
            "--content",
            content,
            "--rate",
            &o.rate,
            "--buffer",
            &o.buffer,
            "--nack-interval",
            &o.nack_interval,
            "--give-up",
            &o.give_up,
            "--json",
            "-q",
            "-o",
        ])
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if let Some(b) = bind {
            cmd.arg("--bind").arg(b.to_string());
        }
        let child = cmd.spawn().context("anycast6-stream client")?;
        let pid = child.id();
        let handle = std::thread::spawn(move || child.wait_with_output());
        Ok(Play { out, pid, handle })
    }

    /// Octets written so far.
    pub fn written(&self) -> u64 {
        std::fs::metadata(&self.out).map_or(0, |m| m.len())
    }

    pub fn wait_written(&self, what: &str, n: u64) -> Result<()> {
        wait_for(what, Duration::from_secs(30), || {
            self.written() >= n || self.handle.is_finished()
        })?;
        if self.written() < n {
            bail!("the client ended before {what}");
        }
        Ok(())
    }

    /// Ends the client at once (SIGKILL) and waits for it.
    pub fn kill(self) {
        let _ = crate::sys::kill(self.pid, libc::SIGKILL);
        let _ = self.handle.join();
    }

    /// Whether the client has ended.
    pub fn ended(&self) -> bool {
        self.handle.is_finished()
    }

    /// Waits (up to a minute) for the client to end.
    pub fn finish(self) -> Result<Played> {
        self.finish_within(Duration::from_secs(60))
    }

    /// Waits up to `limit` for the client to end.
    pub fn finish_within(self, limit: Duration) -> Result<Played> {
        let deadline = Instant::now() + limit;
        while !self.handle.is_finished() {
            if Instant::now() > deadline {
                // Stopped, so that what it printed (its progress and, on
                // SIGTERM, its summary) says where it was.
                let _ = crate::sys::kill(self.pid, libc::SIGTERM);
                let stop = Instant::now() + Duration::from_secs(5);
                while !self.handle.is_finished() && Instant::now() < stop {
                    std::thread::sleep(Duration::from_millis(50));
                }
                let said = match self.handle.is_finished() {
                    true => match self.handle.join() {
                        Ok(Ok(o)) => format!(
                            "{}{}",
                            String::from_utf8_lossy(&o.stdout),
                            String::from_utf8_lossy(&o.stderr)
                        ),
                        _ => String::new(),
                    },
                    false => String::new(),
                };
                bail!("the client did not end within {limit:?}; it said:\n{said}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let o = self.handle.join().map_err(|_| anyhow!("client thread"))??;
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let report: Value = serde_json::from_slice(&o.stdout).with_context(|| {
            format!(
                "client --json: {}\n{stderr}",
                String::from_utf8_lossy(&o.stdout)
            )
        })?;
        Ok(Played {
            code: o.status.code(),
            report,
            stderr,
        })
    }
}

/// `sha256sum` of `p`.
pub fn sha256(p: &Path) -> Result<String> {
    let out = std::process::Command::new("sha256sum").arg(p).output()?;
    if !out.status.success() {
        bail!("sha256sum {}", p.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}
