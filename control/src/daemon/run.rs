//! Start, the event loop, shutdown and destroy.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use anycast6_dataplane::Dataplane;
use tokio::signal::unix::{signal, SignalKind};

use super::handle::After;
use super::{state_file, Daemon};
use crate::config::{self, Config};
use crate::mgmt::views::{DestroyView, GracefulRestartView, ShutdownView};
use crate::mgmt::{server, Response};
use crate::neigh::{self, NeighTable, Netlink};
use crate::ControlError;

/// Full resync period (routes of encap members, interface MTUs/MACs, and
/// anything a lost netlink notification hid).
const RESYNC: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct DaemonArgs {
    pub config: Config,
}

/// `anycast6d --check`: the config is valid and its interfaces exist.
/// Returns the line to print.
pub async fn check(path: &Path) -> Result<String, ControlError> {
    let cfg = config::load(path)?;
    let nl = Netlink::connect()?;
    let links = nl.links().await?;
    config::check_environment(&cfg, |n| links.iter().any(|l| l.name == n))?;
    let mut out = format!(
        "{}: ok ({} groups, {} members)\nruns: {}\ncapabilities: {}",
        cfg.file,
        cfg.groups.len(),
        cfg.member_count(),
        mechanisms(&cfg),
        crate::caps::names(&crate::caps::needed(&cfg))
    );
    if let Some(k) = &cfg.kernel_import {
        let i = &k.import;
        out.push_str(&format!(
            "\nkernel_import: table {}, route protocols {}, {}, settle {} ms",
            i.table,
            i.protocols
                .iter()
                .map(|&p| crate::kernel_import::protocol_name(p)
                    .map_or_else(|| p.to_string(), String::from))
                .collect::<Vec<_>>()
                .join(", "),
            if i.prefixes.is_empty() {
                "any /128".to_string()
            } else {
                format!(
                    "/128s inside {}",
                    i.prefixes
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            k.settle.as_millis()
        ));
    }
    if let Some(a) = &cfg.aospf {
        // Not an error: AOSPF starts once they exist (retried at every resync).
        let missing: Vec<&str> = a
            .interfaces
            .iter()
            .map(|i| i.name.as_str())
            .filter(|n| !links.iter().any(|l| l.name == *n))
            .collect();
        out.push_str(&format!(
            "\naospf: router {}, area {}, {} interfaces ({} passive, {} authenticated)",
            a.router_id,
            a.area,
            a.interfaces.len(),
            a.interfaces.iter().filter(|i| i.passive).count(),
            a.interfaces.iter().filter(|i| i.auth.is_some()).count(),
        ));
        if !missing.is_empty() {
            out.push_str(&format!(
                "; not present yet (AOSPF waits for them): {}",
                missing.join(", ")
            ));
        }
    }
    if let Some(p) = &cfg.piasm {
        let cores = p.anycast.iter().filter(|a| a.core_here).count();
        out.push_str(&format!(
            "\npiasm: router {}, {} interfaces, {} anycast addresses ({} with this router as core)",
            p.router_address,
            p.interfaces.len(),
            p.anycast.len(),
            cores,
        ));
        let missing: Vec<&str> = p
            .interfaces
            .iter()
            .map(|i| i.name.as_str())
            .filter(|n| !links.iter().any(|l| l.name == *n))
            .collect();
        if !missing.is_empty() {
            out.push_str(&format!(
                "; not present yet (PIA-SM waits for them): {}",
                missing.join(", ")
            ));
        }
    }
    Ok(out)
}

/// What a config makes anycast6d do, in one line: the mechanisms of the
/// migration model that are on (docs/migration.md).
fn mechanisms(cfg: &Config) -> String {
    let mut on: Vec<String> = Vec::new();
    if !cfg.interfaces.is_empty() {
        on.push(format!("fast path on {} interfaces", cfg.interfaces.len()));
    }
    if !cfg.groups.is_empty() {
        on.push("static groups".into());
    }
    if let Some(m) = &cfg.member_role {
        on.push(format!(
            "member of {} addresses{}",
            m.addresses.len(),
            if m.ard.is_some() { " (ARD)" } else { "" }
        ));
    }
    let flags = [
        (cfg.ard.is_some(), "ARD router"),
        (cfg.arip.is_some(), "ARIP"),
        (cfg.aospf.is_some(), "AOSPF"),
        (cfg.kernel_import.is_some(), "kernel import"),
    ];
    on.extend(flags.iter().filter(|f| f.0).map(|f| f.1.to_string()));
    if let Some(p) = &cfg.piasm {
        let core = p.anycast.iter().any(|a| a.core_here);
        on.push(if core { "PIA-SM core" } else { "PIA-SM" }.into());
    }
    if let Some(m) = &cfg.mga {
        let roles: Vec<&str> = [
            (m.home_agent.is_some(), "home agent"),
            (m.member.is_some(), "member"),
            (m.correspondent.is_some(), "correspondent"),
        ]
        .iter()
        .filter(|r| r.0)
        .map(|r| r.1)
        .collect();
        on.push(format!("MGA {}", roles.join(" + ")));
    }
    if let Some(a) = &cfg.aarp {
        on.push(
            if a.answer_for_members {
                "AARP (answering for members)"
            } else {
                "AARP"
            }
            .into(),
        );
    }
    if let Some(m) = &cfg.metrics {
        on.push(format!("Prometheus metrics on {}", m.listen));
    }
    if on.is_empty() {
        "nothing yet (an empty config: reload one that adds a mechanism)".into()
    } else {
        on.join(", ")
    }
}

/// Detaches and unpins everything under `pin_dir` and removes the managed
/// neighbour entries and `lo` addresses anycast6 made in this network
/// namespace. Works without a running daemon.
pub async fn destroy(pin_dir: &Path) -> Result<DestroyView, ControlError> {
    Dataplane::destroy(pin_dir)?;
    let nl = Netlink::connect()?;
    let n = nl.remove_ours().await?;
    tracing::info!(pin_dir = %pin_dir.display(), kernel_objects = n, "destroyed");
    Ok(DestroyView {
        pin_dir: pin_dir.display().to_string(),
        kernel_objects_removed: n,
    })
}

async fn start(cfg: Config) -> Result<Daemon, ControlError> {
    let nl = Netlink::connect()?;
    let links = nl.links().await?;
    config::check_environment(&cfg, |n| links.iter().any(|l| l.name == n))?;
    // Before anything is touched: a listener that cannot bind fails the start.
    let metrics = super::metrics::MetricsSide::start(&cfg).map_err(ControlError::MetricsListen)?;
    // Subscribe before the first dump so no change falls in between.
    let kernel_rx = neigh::netlink::monitor()?;
    let dp = Dataplane::open(&cfg.dataplane_options())?;
    tracing::info!(pin_dir = %cfg.daemon.pin_dir.display(), "dataplane open (pinned maps reused)");
    let saved = state_file::load(&cfg.daemon.state_file).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "runtime overlays not restored");
        Default::default()
    });
    let overlays = saved.overlays;
    // A graceful restart the previous process announced, if it is still
    // on: AOSPF resumes it (its routes stay, its members are restored).
    let had_restart = saved.graceful_restart.is_some();
    let gr_pending = saved.graceful_restart.filter(|g| {
        let on = g.remaining(std::time::SystemTime::now()).is_some();
        if !on {
            tracing::warn!(
                until_unix = g.until_unix,
                "graceful restart: the grace period is over; an ordinary start"
            );
        } else if cfg.aospf.is_none() {
            tracing::warn!("graceful restart: [aospf] is no longer configured; an ordinary start");
        }
        on && cfg.aospf.is_some()
    });
    let shared = std::sync::Arc::new(anycast6_dataplane::userspace::SharedFib::default());
    let (proto_tx, proto_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut d = Daemon {
        cfg: cfg.clone(),
        overlays,
        dp,
        decap: None,
        nl,
        kernel_rx,
        neigh: NeighTable::default(),
        ours: BTreeSet::new(),
        lost_neigh: BTreeSet::new(),
        links,
        resolved: Vec::new(),
        planned: Vec::new(),
        dirty: false,
        retired: None,
        snap: None,
        shared,
        afxdp: None,
        afxdp_key: Vec::new(),
        learned: Default::default(),
        table_lens: Default::default(),
        core_seen: Default::default(),
        proto_tx,
        proto_rx,
        ard_router: None,
        ard_member: None,
        arip: None,
        aospf: None,
        piasm: None,
        mga: None,
        kernel_import: None,
        gr_pending,
        aarp: None,
        aarp_lo: Vec::new(),
        confirm: None,
        last_rollback: None,
        loaded_unix: super::confirm::unix_now(),
        metrics,
    };
    for dropped in d.overlays.retain_valid(&cfg) {
        tracing::warn!(overlay = %dropped, "saved runtime change dropped");
    }
    d.attach_interfaces(&cfg)?;
    d.detach_unlisted(&cfg)?;
    d.apply_member_role(&cfg.daemon.pin_dir, cfg.member_role.as_ref())
        .await;
    // Each protocol removes its own kernel routes when it stops; what a
    // run that crashed left goes here, before any protocol installs some —
    // but for those a graceful restart hands over to AOSPF.
    let keep = d
        .gr_pending
        .as_ref()
        .map(state_file::GracefulRestart::routes)
        .unwrap_or_default();
    match d.nl.remove_our_routes(&keep).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(routes = n, "stale kernel routes of a previous run removed"),
        Err(e) => tracing::warn!(error = %e, "cannot list stale kernel routes"),
    }
    d.sync_protocols(&cfg).await;
    let overlays = d.overlays.clone();
    let ops = d.converge(&cfg, &overlays).await?;
    if had_restart {
        // Read once: a later start (after a crash) is an ordinary one.
        d.save_state();
    }
    d.sync_afxdp(&cfg)?;
    tracing::info!(
        groups = cfg.groups.len(),
        members = overlays
            .effective(&cfg)
            .iter()
            .map(|g| g.members.len())
            .sum::<usize>(),
        runtime_overlays = !overlays.is_empty(),
        operations = ops,
        "FIB in sync"
    );
    Ok(d)
}

/// Runs anycast6d until SIGTERM/SIGINT or a `shutdown` request (pins and
/// links stay: forwarding goes on; `shutdown --graceful` also leaves
/// AOSPF's routes for the next process), or a `destroy` request
/// (everything is taken down).
pub async fn run(args: DaemonArgs) -> Result<(), ControlError> {
    let socket = args.config.daemon.socket.clone();
    let sig = |k: SignalKind| signal(k).map_err(ControlError::NetlinkSocket);
    let (mut hup, mut term, mut int) = (
        sig(SignalKind::hangup())?,
        sig(SignalKind::terminate())?,
        sig(SignalKind::interrupt())?,
    );
    let sd = crate::notify::Notifier::from_env();
    crate::caps::check(&args.config).map_err(ControlError::Privilege)?;
    let mut d = start(args.config).await?;
    let mut mgmt = server::serve(&socket)?;
    tracing::info!(socket = %socket.display(), "listening");
    sd.ready(&d.status_line());
    // systemd's watchdog, when it asks for one (else a timer that never fires).
    let mut watchdog =
        tokio::time::interval(sd.watchdog_interval().unwrap_or(Duration::from_secs(3600)));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tick = tokio::time::interval(RESYNC);
    let mut shortcut = tokio::time::interval(super::piasm::SHORTCUT_POLL);
    shortcut.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut monitor_open = true;
    let mut aarp_buf = vec![0u8; 2048];
    tick.reset();
    loop {
        let confirm_at = d.confirm_deadline();
        tokio::select! {
            Some((req, reply)) = mgmt.recv() => {
                tracing::debug!(request = ?req, "mgmt");
                let (resp, after) = d.handle(req).await;
                match after {
                    After::Nothing => { let _ = reply.send(resp); }
                    After::Destroy => {
                        sd.send("STOPPING=1");
                        let resp = match d.destroy().await {
                            Ok(v) => Response::ok(v),
                            Err(e) => Response::error(e.to_string()),
                        };
                        let _ = reply.send(resp);
                        // let the connection task write the reply
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let _ = std::fs::remove_file(&socket);
                        return Ok(());
                    }
                    After::Shutdown { graceful } => {
                        tracing::info!(graceful, "shutdown requested");
                        sd.send("STOPPING=1");
                        let v = d.shutdown(graceful).await;
                        // Nobody reaches this process any more: the next
                        // one may listen at once.
                        let _ = std::fs::remove_file(&socket);
                        let _ = reply.send(Response::ok(v));
                        // let the connection task write the reply; the
                        // client waits until the connection closes, i.e.
                        // this process is gone
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        return Ok(());
                    }
                }
            }
            ev = d.kernel_rx.recv(), if monitor_open => {
                let Some(ev) = ev else {
                    match neigh::netlink::monitor() {
                        Ok(rx) => {
                            tracing::warn!("netlink monitor closed; subscribed again");
                            d.kernel_rx = rx;
                            d.resync().await;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "netlink monitor closed; resync by timer only");
                            monitor_open = false;
                        }
                    }
                    continue;
                };
                let mut dirty = d.kernel_event(ev);
                while let Ok(ev) = d.kernel_rx.try_recv() {
                    dirty |= d.kernel_event(ev);
                }
                if dirty || d.dirty {
                    d.resync().await;
                }
            }
            r = async {
                match &d.aarp {
                    Some(a) => a.sock.recv(&mut aarp_buf).await,
                    None => std::future::pending().await,
                }
            } => match r {
                Ok(r) => {
                    let len = r.len.min(aarp_buf.len());
                    let bytes = aarp_buf[..len].to_vec();
                    d.handle_aarp(r, &bytes).await;
                }
                Err(e) => tracing::warn!(error = %e, "AARP receive failed"),
            },
            Some(ev) = d.proto_rx.recv() => {
                let mut changed = d.proto_event(ev).await;
                while let Ok(more) = d.proto_rx.try_recv() {
                    changed |= d.proto_event(more).await;
                }
                if changed || d.dirty {
                    d.resync().await;
                }
            }
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading");
                sd.send("RELOADING=1");
                match d.reload_counted(None).await {
                    Ok(v) => tracing::info!(operations = v.operations, dropped_overlays = v.overlays_dropped.len(), "reload done"),
                    Err(e) => {
                        tracing::error!(error = %e, "reload rejected; the running config stays");
                        sd.status(&format!("reload rejected: {e}"));
                    }
                }
                sd.ready(&d.status_line());
            }
            _ = async {
                match confirm_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => d.rollback().await,
            _ = watchdog.tick(), if sd.watchdog_interval().is_some() => sd.send("WATCHDOG=1"),
            Some(reply) = d.metrics.scrape_rx.recv() => {
                let text = d.scrape();
                let _ = reply.send(text);
            }
            _ = tick.tick() => d.resync().await,
            _ = shortcut.tick(), if d.piasm_polls() => d.piasm_poll_traffic(),
            _ = term.recv() => { tracing::info!("SIGTERM"); break; }
            _ = int.recv() => { tracing::info!("SIGINT"); break; }
        }
    }
    sd.send("STOPPING=1");
    d.shutdown(false).await;
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

impl Daemon {
    /// One line for systemd's STATUS=: what runs.
    fn status_line(&self) -> String {
        let members: usize = self
            .overlays
            .effective(&self.cfg)
            .iter()
            .map(|g| g.members.len())
            .sum();
        format!(
            "FIB in sync: {} groups, {} configured members, {} interfaces",
            self.cfg.groups.len(),
            members,
            self.cfg.interfaces.len()
        )
    }

    /// Clean exit: the pins and links stay (forwarding goes on with the
    /// last FIB); the managed neighbour entries go. Graceful: AOSPF
    /// announces a graceful restart and leaves its kernel routes, the
    /// state file says so (with the members AOSPF taught, for the next
    /// process to restore), and the neighbour entries stay for the next
    /// process to take over; the other protocols stop as usual (ARD
    /// members send their leaves, ARIP removes its routes).
    async fn shutdown(&mut self, graceful: bool) -> ShutdownView {
        if self.confirm.is_some() {
            tracing::warn!(
                "exiting with a reload that was never confirmed: it stays applied, and the next \
                 start reads the file"
            );
        }
        let gr = if graceful {
            self.restart_aospf().await
        } else {
            None
        };
        if let Err(e) = state_file::save(
            &self.cfg.daemon.state_file,
            &self.overlays,
            gr.as_ref().map(|(g, _)| g),
        ) {
            tracing::error!(error = %e, "cannot save the runtime overlays");
        }
        self.stop_protocols().await;
        let ours: Vec<_> = std::mem::take(&mut self.ours).into_iter().collect();
        if !graceful {
            for k in &ours {
                if let Err(e) = self.nl.delete_neighbour(*k).await {
                    tracing::debug!(neighbour = %k.addr, error = %e, "removing a managed neighbour entry");
                }
            }
        }
        tracing::info!(
            graceful,
            neighbours_removed = if graceful { 0 } else { ours.len() },
            "exiting; pinned program, maps and links stay: forwarding goes on"
        );
        ShutdownView {
            graceful,
            state_file: self.cfg.daemon.state_file.display().to_string(),
            aospf: gr.map(|(g, acknowledged)| GracefulRestartView {
                until_unix: g.until_unix,
                grace_period_s: self
                    .cfg
                    .aospf
                    .as_ref()
                    .map_or(0, |a| a.grace_period.as_secs()),
                acknowledged,
                kernel_routes: g.aospf_routes.len(),
                members: g.aospf_members.len(),
            }),
            neighbours_kept: if graceful { ours.len() } else { 0 },
        }
    }

    async fn destroy(self) -> Result<DestroyView, ControlError> {
        let pin_dir = self.cfg.daemon.pin_dir.clone();
        let state_file = self.cfg.daemon.state_file.clone();
        // Close our map and link fds before unpinning.
        drop(self);
        let v = destroy(&pin_dir).await?;
        let _ = std::fs::remove_file(state_file);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::mechanisms;

    fn of(text: &str) -> String {
        mechanisms(&crate::config::parse("t.toml", text).expect("config"))
    }

    #[test]
    fn check_names_each_mechanism_a_config_turns_on() {
        assert_eq!(
            of(""),
            "nothing yet (an empty config: reload one that adds a mechanism)"
        );
        let stage3_router = r#"
[[interface]]
name = "eth0"
[[interface]]
name = "eth1"
[ard]
interfaces = ["eth1"]
[piasm]
router_address = "2001:db8:ff::1"
[[piasm.interface]]
name = "eth0"
[[piasm.anycast]]
address = "2001:db8:1::a"
core = "2001:db8:1::10"
"#;
        assert_eq!(
            of(stage3_router),
            "fast path on 2 interfaces, ARD router, PIA-SM"
        );
        let home_agent_and_core = r#"
[[interface]]
name = "ha0"
[mga.home_agent]
address = "2001:db8:1::10"
interface = "ha0"
anycast = ["2001:db8:1::a"]
[piasm]
router_address = "2001:db8:1::10"
[[piasm.interface]]
name = "ha0"
[[piasm.anycast]]
address = "2001:db8:1::a"
core = "2001:db8:1::10"
core_here = true
"#;
        assert_eq!(
            of(home_agent_and_core),
            "fast path on 1 interfaces, PIA-SM core, MGA home agent"
        );
        let member = r#"
[member]
addresses = ["2001:db8:1::a"]
[member.ard]
interfaces = ["eth0"]
unicast = "2001:db8:2::2"
[aarp]
unicast = "2001:db8:2::2"
"#;
        assert_eq!(of(member), "member of 1 addresses (ARD), AARP");
        assert_eq!(
            of("[metrics]\nlisten = \"[::1]:9464\"\n"),
            "Prometheus metrics on [::1]:9464"
        );
    }
}
