//! ARD inside anycast6d: the router side (`[ard]`) and the member side
//! (`[member.ard]`), each a task owning one UDP socket (port 5359) and a
//! pure core (control/src/ard).
//!
//! ```text
//!   LinkUdp ──recv──► task ──handle_packet──► core (Mutex) ──poll_output──► LinkUdp::send
//!                      ▲ sleep until poll_timeout         └──► RibChange ──mpsc──► daemon loop
//!   mgmt / health ─────┘ (lock, call, notify)                                 (learned RIB, converge)
//! ```
//!
//! The core sits behind a std Mutex, held only for a call: the task, the
//! management handler (views) and the health checker use it in turn.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use super::udp::LinkUdp;
use crate::ard::{self, ArdMember, ArdRouter, MemberInterface, RouterOutput, Transmit};
use crate::config::{ArdMemberConfig, ArdRouterConfig, HealthProbe};
use crate::neigh::{LinkInfo, Netlink};
use crate::proto::auth::Keyring;
use crate::proto::clock::MonoClock;
use crate::proto::RibChange;
use crate::ControlError;

/// A RIB change with the draining flag ARD reported beside it.
pub type Learn = (RibChange, bool);

enum Core {
    Router(ArdRouter),
    Member(ArdMember),
}

impl Core {
    fn handle_packet(&mut self, now: crate::proto::Instant, r: &super::udp::Received, b: &[u8]) {
        match self {
            Core::Router(c) => c.handle_packet(now, r.ifindex, r.src, r.hop_limit, b),
            Core::Member(c) => c.handle_packet(now, r.ifindex, r.src, r.hop_limit, b),
        }
    }
    fn handle_timeout(&mut self, now: crate::proto::Instant) {
        match self {
            Core::Router(c) => c.handle_timeout(now),
            Core::Member(c) => c.handle_timeout(now),
        }
    }
    fn poll_timeout(&self) -> Option<crate::proto::Instant> {
        match self {
            Core::Router(c) => c.poll_timeout(),
            Core::Member(c) => c.poll_timeout(),
        }
    }
    /// Everything to send, and (router) the RIB changes.
    fn drain(&mut self) -> (Vec<Transmit>, Vec<Learn>) {
        let (mut tx, mut rib) = (Vec::new(), Vec::new());
        match self {
            Core::Router(c) => {
                while let Some(o) = c.poll_output() {
                    match o {
                        RouterOutput::Send(t) => tx.push(t),
                        RouterOutput::Rib(ch) => {
                            let draining = match &ch {
                                RibChange::Upsert(e) => c.draining(e).unwrap_or(false),
                                RibChange::Withdraw { .. } => false,
                            };
                            rib.push((ch, draining));
                        }
                    }
                }
            }
            Core::Member(c) => {
                while let Some(t) = c.poll_output() {
                    tx.push(t);
                }
            }
        }
        (tx, rib)
    }
}

/// A running ARD speaker (router or member).
pub struct ArdTask {
    core: Arc<Mutex<Core>>,
    wake: Arc<Notify>,
    clock: MonoClock,
    task: JoinHandle<()>,
    health: Option<JoinHandle<()>>,
}

fn seq_start() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

fn keyring(keys: &[crate::proto::auth::Key]) -> Keyring {
    if keys.is_empty() {
        Keyring::none()
    } else {
        Keyring::new(keys.to_vec())
    }
}

/// (ifindex, link-local address) of each named interface.
async fn link_locals(
    nl: &Netlink,
    links: &[LinkInfo],
    names: &[String],
) -> Result<Vec<(String, u32, Ipv6Addr)>, ControlError> {
    let mut out = Vec::new();
    for n in names {
        let l = links
            .iter()
            .find(|l| &l.name == n)
            .ok_or_else(|| ControlError::InterfaceMissing(n.clone()))?;
        let ll = nl
            .addresses(l.ifindex)
            .await?
            .into_iter()
            .map(|(a, _, _)| a)
            .find(|a| a.segments()[0] & 0xffc0 == 0xfe80)
            .ok_or_else(|| {
                ControlError::ArdSetup(format!("interface {n} has no link-local address yet"))
            })?;
        out.push((n.clone(), l.ifindex, ll));
    }
    Ok(out)
}

impl ArdTask {
    /// The router side on `cfg.interfaces`; RIB changes go to `rib`.
    pub async fn router(
        cfg: &ArdRouterConfig,
        nl: &Netlink,
        links: &[LinkInfo],
        rib: mpsc::UnboundedSender<Vec<Learn>>,
    ) -> Result<ArdTask, ControlError> {
        let ifs = link_locals(nl, links, &cfg.interfaces).await?;
        let sock = LinkUdp::bind(ard::PORT).map_err(|e| ControlError::ArdSetup(e.to_string()))?;
        let clock = MonoClock::new();
        let rc = ard::RouterConfig {
            query_interval: cfg.query_interval,
            max_response_delay: cfg.max_response_delay,
            min_hold: cfg.min_hold,
            max_hold: cfg.max_hold,
            keyring: keyring(&cfg.keys),
            seq_start: seq_start(),
            ..ard::RouterConfig::default()
        };
        let mut core =
            ArdRouter::new(rc, clock.now()).map_err(|e| ControlError::ArdSetup(e.to_string()))?;
        for (name, ifindex, ll) in &ifs {
            sock.join(ard::ALL_ROUTERS, *ifindex)
                .map_err(|e| ControlError::ArdSetup(format!("{name}: join ff02::2: {e}")))?;
            core.add_interface(clock.now(), *ifindex, *ll)
                .map_err(|e| ControlError::ArdSetup(format!("{name}: {e}")))?;
            tracing::info!(interface = %name, link_local = %ll, "ARD router listening");
        }
        Ok(ArdTask::spawn(
            Core::Router(core),
            sock,
            clock,
            Some(rib),
            None,
        ))
    }

    /// The member side: announces `addresses` on `cfg.interfaces`.
    pub async fn member(
        cfg: &ArdMemberConfig,
        addresses: &[Ipv6Addr],
        nl: &Netlink,
        links: &[LinkInfo],
    ) -> Result<ArdTask, ControlError> {
        let ifs = link_locals(nl, links, &cfg.interfaces).await?;
        let sock = LinkUdp::bind(ard::PORT).map_err(|e| ControlError::ArdSetup(e.to_string()))?;
        let clock = MonoClock::new();
        let mut mc = ard::MemberConfig::new(
            ifs.iter()
                .map(|(_, ifindex, ll)| MemberInterface {
                    ifindex: *ifindex,
                    link_local: *ll,
                })
                .collect(),
            cfg.unicast,
            addresses.iter().map(|a| (*a, cfg.metric)).collect(),
        );
        mc.hold_time = cfg.hold;
        mc.report_interval = cfg.report_interval;
        mc.keyring = keyring(&cfg.keys);
        mc.seq_start = seq_start();
        mc.rng_seed = seq_start() ^ u64::from(std::process::id());
        let core =
            ArdMember::new(mc, clock.now()).map_err(|e| ControlError::ArdSetup(e.to_string()))?;
        for (name, _, ll) in &ifs {
            tracing::info!(interface = %name, link_local = %ll, addresses = addresses.len(), "ARD member announcing");
        }
        let mut t = ArdTask::spawn(Core::Member(core), sock, clock, None, None);
        if let Some(h) = &cfg.health_check {
            t.health = Some(tokio::spawn(health_loop(
                h.clone(),
                t.core.clone(),
                t.wake.clone(),
                clock,
            )));
        }
        Ok(t)
    }

    fn spawn(
        core: Core,
        sock: LinkUdp,
        clock: MonoClock,
        rib: Option<mpsc::UnboundedSender<Vec<Learn>>>,
        health: Option<JoinHandle<()>>,
    ) -> ArdTask {
        let core = Arc::new(Mutex::new(core));
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(run(core.clone(), wake.clone(), sock, clock, rib));
        ArdTask {
            core,
            wake,
            clock,
            task,
            health,
        }
    }

    /// `show ard`.
    pub fn view(&self) -> serde_json::Value {
        let now = self.clock.now();
        let c = self.core.lock().expect("ARD core lock");
        match &*c {
            Core::Router(r) => serde_json::json!({
                "role": "router",
                "router": r.view(now),
                "counters": r.counters(),
            }),
            Core::Member(m) => serde_json::json!({
                "role": "member",
                "member": m.view(),
                "counters": m.counters(),
            }),
        }
    }

    /// Member: leaves every address (repeated as the core says), waits up
    /// to `grace` for the leaves to go out, then stops.
    pub async fn shutdown(mut self, grace: Duration) {
        if let Some(h) = self.health.take() {
            h.abort();
        }
        if let Core::Member(m) = &mut *self.core.lock().expect("ARD core lock") {
            m.shutdown(self.clock.now());
        }
        self.wake.notify_one();
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let pending = self
                .core
                .lock()
                .expect("ARD core lock")
                .poll_timeout()
                .is_some();
            if !pending || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.task.abort();
    }
}

impl Drop for ArdTask {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(h) = &self.health {
            h.abort();
        }
    }
}

async fn run(
    core: Arc<Mutex<Core>>,
    wake: Arc<Notify>,
    sock: LinkUdp,
    clock: MonoClock,
    rib: Option<mpsc::UnboundedSender<Vec<Learn>>>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (tx, learned, deadline) = {
            let mut c = core.lock().expect("ARD core lock");
            let (tx, learned) = c.drain();
            (tx, learned, c.poll_timeout())
        };
        for t in tx {
            let dst = SocketAddrV6::new(t.dst, ard::PORT, 0, 0);
            if let Err(e) = sock.send(&t.bytes, t.src, t.ifindex, dst).await {
                tracing::warn!(ifindex = t.ifindex, dst = %t.dst, error = %e, "ARD send failed");
            }
        }
        if !learned.is_empty() {
            if let Some(rib) = &rib {
                let _ = rib.send(learned);
            }
        }
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(clock.to_std(at).into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = sock.recv(&mut buf) => match r {
                Ok(r) => {
                    let len = r.len.min(buf.len());
                    core.lock().expect("ARD core lock").handle_packet(clock.now(), &r, &buf[..len]);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ARD receive failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = sleep => core.lock().expect("ARD core lock").handle_timeout(clock.now()),
            _ = wake.notified() => {}
        }
    }
}

/// Runs the member's health check; reports changes to the core.
async fn health_loop(
    h: crate::config::HealthCheck,
    core: Arc<Mutex<Core>>,
    wake: Arc<Notify>,
    clock: MonoClock,
) {
    let mut last: Option<bool> = None;
    let mut tick = tokio::time::interval(h.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // A probe that times out is a failure.
        let ok: bool = tokio::time::timeout(h.timeout, probe(&h.probe))
            .await
            .unwrap_or_default();
        if last != Some(ok) {
            tracing::info!(healthy = ok, probe = ?h.probe, "member health check");
            if let Core::Member(m) = &mut *core.lock().expect("ARD core lock") {
                m.set_healthy(clock.now(), ok);
            }
            wake.notify_one();
            last = Some(ok);
        }
    }
}

async fn probe(p: &HealthProbe) -> bool {
    match p {
        HealthProbe::Command(c) => tokio::process::Command::new("sh")
            .arg("-c")
            .arg(c)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .status()
            .await
            .is_ok_and(|s| s.success()),
        HealthProbe::Tcp(a) => tokio::net::TcpStream::connect(a).await.is_ok(),
    }
}
