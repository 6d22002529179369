//! ARD inside anycast6d: the router side (`[ard]`) and the member side
//! (`[member.ard]`), each a speaker task (daemon/speaker.rs) owning one UDP
//! socket on port 5359 and a pure core (control/src/ard).

use std::net::Ipv6Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use super::speaker::{lock, AbortOnDrop, Datagram, Outputs, ProtoEvent, Speaker, Task};
use super::udp::{LinkUdp, Received};
use crate::ard::{self, ArdMember, ArdRouter, MemberInterface, RouterOutput};
use crate::config::{ArdMemberConfig, ArdRouterConfig, HealthProbe};
use crate::neigh::{LinkInfo, Netlink};
use crate::proto::auth::Keyring;
use crate::proto::clock::MonoClock;
use crate::proto::{Instant, RibChange};
use crate::ControlError;

pub enum Core {
    Router(ArdRouter),
    Member(ArdMember),
}

fn datagram(t: ard::Transmit) -> Datagram {
    Datagram {
        ifindex: t.ifindex,
        src: t.src,
        dst: t.dst,
        dst_port: ard::PORT,
        bytes: t.bytes,
        hop_limit: None,
        router_alert: None,
    }
}

impl Speaker for Core {
    fn handle_packet(&mut self, now: Instant, r: &Received, b: &[u8]) {
        match self {
            Core::Router(c) => c.handle_packet(now, r.ifindex, r.src, r.hop_limit, b),
            Core::Member(c) => c.handle_packet(now, r.ifindex, r.src, r.hop_limit, b),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Core::Router(c) => c.handle_timeout(now),
            Core::Member(c) => c.handle_timeout(now),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Core::Router(c) => c.poll_timeout(),
            Core::Member(c) => c.poll_timeout(),
        }
    }
    fn drain(&mut self, out: &mut Outputs) {
        match self {
            Core::Router(c) => {
                while let Some(o) = c.poll_output() {
                    match o {
                        RouterOutput::Send(t) => out.send.push(datagram(t)),
                        RouterOutput::Rib(ch) => {
                            let draining = match &ch {
                                RibChange::Upsert(e) => c.draining(e).unwrap_or(false),
                                RibChange::Withdraw { .. } => false,
                            };
                            out.learn.push((ch, draining));
                        }
                    }
                }
            }
            Core::Member(c) => {
                while let Some(t) = c.poll_output() {
                    out.send.push(datagram(t));
                }
            }
        }
    }
}

/// A running ARD speaker (router or member).
pub struct ArdTask {
    task: Task<Core>,
    health: Option<AbortOnDrop>,
}

pub(super) fn seq_start() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

pub(super) fn keyring(keys: &[crate::proto::auth::Key]) -> Keyring {
    if keys.is_empty() {
        Keyring::none()
    } else {
        Keyring::new(keys.to_vec())
    }
}

/// How long a protocol start waits for an interface's link-local address
/// (the kernel assigns it shortly after the link comes up).
const LINK_LOCAL_WAIT: Duration = Duration::from_secs(3);

/// The interface called `name`.
pub(super) fn link_named<'l>(links: &'l [LinkInfo], name: &str) -> Result<&'l LinkInfo, String> {
    links
        .iter()
        .find(|l| l.name == name)
        .ok_or_else(|| format!("interface {name} not found"))
}

/// (ifindex, link-local address) of each named interface; the error says
/// which interface lacks what. An address still tentative (duplicate
/// address detection running: the kernel refuses it as a source) is
/// waited for, and taken at the end of the wait if it is all there is.
pub(super) async fn link_locals(
    nl: &Netlink,
    links: &[LinkInfo],
    names: &[String],
) -> Result<Vec<(String, u32, Ipv6Addr)>, String> {
    let mut out = Vec::new();
    for n in names {
        let l = link_named(links, n)?;
        let deadline = tokio::time::Instant::now() + LINK_LOCAL_WAIT;
        let ll = loop {
            let candidates: Vec<_> = nl
                .all_addresses()
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|a| {
                    a.ifindex == l.ifindex
                        && a.addr.segments()[0] & 0xffc0 == 0xfe80
                        && !a.flags.dadfailed
                })
                .collect();
            let waited = tokio::time::Instant::now() >= deadline;
            let usable = candidates.iter().find(|a| !a.flags.tentative);
            match usable.or(candidates.first().filter(|_| waited)) {
                Some(a) => break a.addr,
                None if !waited => tokio::time::sleep(Duration::from_millis(50)).await,
                None => {
                    return Err(format!(
                        "interface {n} has no link-local address (waited {LINK_LOCAL_WAIT:?})"
                    ))
                }
            }
        };
        out.push((n.clone(), l.ifindex, ll));
    }
    Ok(out)
}

/// The IPv6 MTU the kernel reports for `ifindex` (1500 if it does not say),
/// within the 16 bits the protocols carry it in.
pub(super) fn link_mtu(links: &[LinkInfo], ifindex: u32) -> u16 {
    links
        .iter()
        .find(|l| l.ifindex == ifindex)
        .map_or(1500, |l| l.mtu.min(u32::from(u16::MAX)) as u16)
}

impl ArdTask {
    /// The router side on `cfg.interfaces`; RIB changes go to `rib`.
    pub async fn router(
        cfg: &ArdRouterConfig,
        nl: &Netlink,
        links: &[LinkInfo],
        events: mpsc::UnboundedSender<ProtoEvent>,
    ) -> Result<ArdTask, ControlError> {
        let ifs = link_locals(nl, links, &cfg.interfaces)
            .await
            .map_err(ControlError::ArdSetup)?;
        let sock = LinkUdp::bind(ard::PORT).map_err(|e| ControlError::ArdSetup(e.to_string()))?;
        let clock = MonoClock::new();
        let rc = ard::RouterConfig {
            query_interval: cfg.query_interval,
            max_response_delay: cfg.max_response_delay,
            min_hold: cfg.min_hold,
            max_hold: cfg.max_hold,
            max_addresses_per_interface: cfg.max_addresses_per_interface,
            limit: cfg.limit,
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
        Ok(ArdTask {
            task: Task::spawn(Core::Router(core), sock, clock, Some(events)),
            health: None,
        })
    }

    /// The member side: announces `addresses` on `cfg.interfaces`.
    pub async fn member(
        cfg: &ArdMemberConfig,
        addresses: &[Ipv6Addr],
        nl: &Netlink,
        links: &[LinkInfo],
    ) -> Result<ArdTask, ControlError> {
        let ifs = link_locals(nl, links, &cfg.interfaces)
            .await
            .map_err(ControlError::ArdSetup)?;
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
        let task = Task::spawn(Core::Member(core), sock, clock, None);
        let health = cfg.health_check.as_ref().map(|h| {
            let (core, wake) = task.shared();
            AbortOnDrop(tokio::spawn(health_loop(h.clone(), core, wake, clock)))
        });
        Ok(ArdTask { task, health })
    }

    /// `show ard`.
    pub fn view(&self) -> serde_json::Value {
        let now = self.task.clock.now();
        let c = self.task.core();
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

    /// Member: reports `addresses` draining or not (a triggered report
    /// when that changes).
    pub fn set_draining(&self, addresses: &[Ipv6Addr], draining: bool) {
        let now = self.task.clock.now();
        if let Core::Member(m) = &mut *self.task.core() {
            for a in addresses {
                m.set_draining(now, *a, draining);
            }
        }
        self.task.wake();
    }

    /// Member: announcing (healthy, not shut down). A router: true.
    pub fn member_active(&self) -> bool {
        match &*self.task.core() {
            Core::Member(m) => m.active(),
            Core::Router(_) => true,
        }
    }

    /// Member: leaves every address (repeated as the core says), waits up
    /// to `grace` for the leaves to go out, then stops.
    pub async fn shutdown(self, grace: Duration) {
        drop(self.health);
        if let Core::Member(m) = &mut *self.task.core() {
            m.shutdown(self.task.clock.now());
        }
        self.task.stop_when_idle(grace).await;
    }
}

/// Runs the member's health check; reports changes to the core.
async fn health_loop(
    h: crate::config::HealthCheck,
    core: std::sync::Arc<std::sync::Mutex<Core>>,
    wake: std::sync::Arc<tokio::sync::Notify>,
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
            if let Core::Member(m) = &mut *lock(&core) {
                m.set_healthy(clock.now(), ok);
            }
            wake.notify_one();
            last = Some(ok);
        }
    }
}

pub(super) async fn probe(p: &HealthProbe) -> bool {
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
