//! Management requests that change something: reload, member changes,
//! shutdown. Each is all or nothing: the new config / overlays are
//! committed only once the FIB has taken them.

use super::Daemon;
use crate::config::{self, AdminState, Config, MemberConfig};
use crate::mgmt::views::{MemberChangeView, ReloadView};
use crate::mgmt::{MemberAdd, MemberSel, Request, Response};
use crate::rib::overlay::Overlays;

/// What a request asks of the event loop besides its reply.
pub(super) enum After {
    Nothing,
    Destroy,
    /// Exit (graceful: AOSPF restarts gracefully, see run.rs).
    Shutdown {
        graceful: bool,
    },
}

impl Daemon {
    pub(super) async fn handle(&mut self, req: Request) -> (Response, After) {
        let resp = match req {
            Request::Show { what } => match self.show(what) {
                Ok(v) => Response::ok(v),
                Err(e) => Response::error(e.to_string()),
            },
            Request::Reload { confirm_s } => match self.reload_counted(confirm_s).await {
                Ok(v) => Response::ok(v),
                Err(e) => Response::error(e),
            },
            Request::ReloadDiff => match self.reload_diff().await {
                Ok(v) => Response::ok(v),
                Err(e) => Response::error(e),
            },
            Request::Confirm => match self.confirm() {
                Ok(v) => Response::ok(v),
                Err(e) => Response::error(e),
            },
            Request::MemberAdd(_)
            | Request::MemberRemove(_)
            | Request::MemberDrain(_)
            | Request::MemberUndrain(_)
                if self.confirm.is_some() =>
            {
                Response::error(self.refuse_while_unconfirmed())
            }
            Request::MemberAdd(a) => self.member_add(a).await,
            Request::MemberRemove(s) => self.member_change(s, Change::Remove).await,
            Request::MemberDrain(s) => {
                self.member_change(s, Change::State(AdminState::Draining))
                    .await
            }
            Request::MemberUndrain(s) => {
                self.member_change(s, Change::State(AdminState::Active))
                    .await
            }
            Request::Destroy => return (Response::ok(serde_json::Value::Null), After::Destroy),
            Request::Shutdown { graceful } => {
                return (
                    Response::ok(serde_json::Value::Null),
                    After::Shutdown { graceful },
                )
            }
        };
        (resp, After::Nothing)
    }

    /// Re-reads the config file and applies it, all or nothing. A bad
    /// config, or one the FIB cannot take, leaves everything as it was.
    /// `confirm_s`: the reload is rolled back unless `confirm` arrives
    /// within that many seconds (daemon/confirm.rs); a plain reload while
    /// one awaits confirmation confirms it.
    pub(super) async fn reload(&mut self, confirm_s: Option<u32>) -> Result<ReloadView, String> {
        let path = std::path::PathBuf::from(&self.cfg.file);
        let new = config::load(&path).map_err(|e| e.to_string())?;
        self.check_reload(&new).await?;
        let mut overlays = self.overlays.clone();
        let dropped = overlays.retain_valid(&new);
        let prior = (self.cfg.clone(), self.overlays.clone(), self.loaded_unix);
        let mut view = self.apply_config(new, overlays, dropped).await?;
        match confirm_s {
            Some(s) => view.confirm = Some(self.await_confirm(s, prior)),
            None => view.confirmed_pending = self.confirm_taken(),
        }
        Ok(view)
    }

    /// What a reload refuses before it touches anything: interfaces that
    /// do not exist, settings only a restart changes.
    pub(super) async fn check_reload(&self, new: &Config) -> Result<(), String> {
        let links = self.nl.links().await.map_err(|e| e.to_string())?;
        config::check_environment(new, |n| links.iter().any(|l| l.name == n))
            .map_err(|e| e.to_string())?;
        crate::caps::check(new).map_err(|e| format!("{}: {e}; nothing was applied", new.file))?;
        if let Some(why) = restart_needed(&self.cfg, new) {
            return Err(format!(
                "{}: {why} changed: [daemon] and [capacities] take effect when anycast6d restarts; \
                 nothing was applied (put the old values back to reload the rest)",
                new.file
            ));
        }
        Ok(())
    }

    /// Applies a checked config with its overlays (a reload, or the
    /// rollback of an unconfirmed one): all or nothing for the FIB.
    pub(super) async fn apply_config(
        &mut self,
        new: Config,
        overlays: Overlays,
        dropped: Vec<String>,
    ) -> Result<ReloadView, String> {
        // Bound first: a listener that cannot bind refuses the reload.
        let listener = self.metrics.prepare(&new)?;
        let attached = self
            .attach_interfaces(&new)
            .map_err(|e| format!("reload: {e}; nothing was applied"))?;
        let operations = match self.converge(&new, &overlays).await {
            Ok(n) => n,
            Err(e) => {
                for n in &attached {
                    if let Err(e) = self.dp.detach(n) {
                        tracing::error!(interface = %n, error = %e, "undoing an attach");
                    }
                }
                return Err(format!("reload: {e}; the running config stays"));
            }
        };
        if let Err(e) = self.sync_afxdp(&new) {
            tracing::error!(error = %e, "AF_XDP path not (re)started");
        }
        self.sync_protocols(&new).await;
        let detached = match self.detach_unlisted(&new) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "detaching interfaces removed from the config");
                Vec::new()
            }
        };
        let pin_dir = new.daemon.pin_dir.clone();
        let warnings = self
            .apply_member_role(&pin_dir, new.member_role.as_ref())
            .await;
        for d in &dropped {
            tracing::warn!(overlay = %d, "runtime change dropped by reload");
        }
        let view = ReloadView {
            config: new.file.clone(),
            groups: new.groups.len(),
            members: overlays
                .effective(&new)
                .iter()
                .map(|g| g.members.len())
                .sum(),
            operations,
            attached,
            detached,
            overlays_kept: overlays.added.len() + overlays.removed.len() + overlays.states.len(),
            overlays_dropped: dropped,
            warnings,
            confirm: None,
            confirmed_pending: false,
        };
        self.metrics.commit(listener, &new);
        self.cfg = new;
        self.overlays = overlays;
        self.loaded_unix = super::confirm::unix_now();
        self.save_state();
        tracing::info!(
            groups = view.groups,
            members = view.members,
            operations,
            "config reloaded"
        );
        Ok(view)
    }

    async fn commit_overlays(&mut self, overlays: Overlays) -> Result<usize, String> {
        let cfg: Config = self.cfg.clone();
        let n = self
            .converge(&cfg, &overlays)
            .await
            .map_err(|e| e.to_string())?;
        self.overlays = overlays;
        self.save_state();
        Ok(n)
    }

    async fn member_add(&mut self, a: MemberAdd) -> Response {
        let route = match config::parse_route(&a.group) {
            Ok(r) => r,
            Err(e) => return Response::error(e),
        };
        let mut m = MemberConfig::new(a.address, a.interface.clone());
        m.next_hop = a.next_hop;
        m.encap_source = a.encap_source;
        if let Some(d) = a.distance {
            m.distance = d;
        }
        if let Some(w) = a.weight {
            m.weight = w;
        }
        if let Some(act) = a.action {
            m.action = act;
        }
        let mut overlays = self.overlays.clone();
        if let Err(e) = overlays.add(&self.cfg, route, m) {
            return Response::error(e.to_string());
        }
        match self.commit_overlays(overlays).await {
            Ok(operations) => {
                tracing::info!(group = %route, member = %a.address, "member added at run time");
                Response::ok(MemberChangeView {
                    group: route.to_string(),
                    address: a.address.to_string(),
                    interface: a.interface,
                    change: "added".into(),
                    operations,
                })
            }
            Err(e) => Response::error(e),
        }
    }

    async fn member_change(&mut self, s: MemberSel, change: Change) -> Response {
        let route = match config::parse_route(&s.group) {
            Ok(r) => r,
            Err(e) => return Response::error(e),
        };
        let mut overlays = self.overlays.clone();
        let iface = s.interface.as_deref();
        let res = match change {
            Change::Remove => overlays.remove(&self.cfg, route, s.address, iface),
            Change::State(st) => overlays.set_state(&self.cfg, route, s.address, iface, st),
        };
        let key = match res {
            Ok(k) => k,
            Err(e) => return Response::error(e.to_string()),
        };
        let name = match change {
            Change::Remove => "removed",
            Change::State(st) => st.name(),
        };
        match self.commit_overlays(overlays).await {
            Ok(operations) => {
                tracing::info!(group = %route, member = %s.address, change = name, "member changed at run time");
                Response::ok(MemberChangeView {
                    group: route.to_string(),
                    address: s.address.to_string(),
                    interface: key.interface,
                    change: name.into(),
                    operations,
                })
            }
            Err(e) => Response::error(e),
        }
    }
}

#[derive(Clone, Copy)]
enum Change {
    Remove,
    State(AdminState),
}

/// The first setting that only a restart can change, if any.
fn restart_needed(old: &Config, new: &Config) -> Option<String> {
    let (a, b) = (&old.daemon, &new.daemon);
    let diffs = [
        ("[daemon] socket", a.socket != b.socket),
        ("[daemon] pin_dir", a.pin_dir != b.pin_dir),
        ("[daemon] state_file", a.state_file != b.state_file),
        (
            "[daemon] router_address",
            a.router_address != b.router_address,
        ),
        ("[daemon] hash_seed", a.hash_seed != b.hash_seed),
        ("[daemon] ptb_per_sec", a.ptb_per_sec != b.ptb_per_sec),
        ("[capacities]", old.capacities != new.capacities),
    ];
    diffs.iter().find(|(_, d)| *d).map(|(k, _)| k.to_string())
}
