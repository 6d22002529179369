//! `reload --confirm SECS` and `confirm` (BIRD's `configure timeout`,
//! "commit confirmed" elsewhere), and `reload --diff`.
//!
//! A reload with a confirmation time is applied as any reload; the config
//! and runtime overlays that ran before it are kept. Unless `confirm`
//! arrives within the time, they are applied again, as a reload would
//! (all or nothing). A second `reload --confirm` before the first is
//! confirmed keeps the first one's rollback point and restarts the clock;
//! a plain reload (or SIGHUP) confirms the waiting one and applies the file.
//! Runtime member changes are refused while a reload waits: the rollback
//! would undo them without a word.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use super::Daemon;
use crate::config::{self, diff, Config};
use crate::mgmt::views::{ConfirmPendingView, ConfirmView, ReloadDiffView};
use crate::rib::overlay::{EffectiveGroup, Overlays};

/// Longest confirmation time a reload may ask for.
pub const MAX_CONFIRM_S: u32 = 86_400;

/// A reload that rolls back unless confirmed.
pub(super) struct Pending {
    deadline: Instant,
    rollback_at_unix: u64,
    timeout_s: u32,
    /// What runs again on rollback.
    cfg: Config,
    overlays: Overlays,
    loaded_unix: u64,
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Daemon {
    /// Starts (or restarts) the clock after a `reload --confirm`; `prior`
    /// is what ran before this reload.
    pub(super) fn await_confirm(
        &mut self,
        timeout_s: u32,
        prior: (Config, Overlays, u64),
    ) -> ConfirmPendingView {
        let (cfg, overlays, loaded_unix) = match self.confirm.take() {
            Some(p) => (p.cfg, p.overlays, p.loaded_unix),
            None => prior,
        };
        let rollback_at_unix = unix_now() + u64::from(timeout_s);
        tracing::warn!(
            timeout_s,
            "reload applied; it rolls back unless confirmed (anycast6ctl confirm)"
        );
        self.confirm = Some(Pending {
            deadline: Instant::now() + Duration::from_secs(timeout_s.into()),
            rollback_at_unix,
            timeout_s,
            cfg,
            overlays,
            loaded_unix,
        });
        ConfirmPendingView {
            timeout_s,
            rollback_at_unix,
            rollback_to_loaded_unix: loaded_unix,
        }
    }

    /// A plain reload confirms the one waiting, if any.
    pub(super) fn confirm_taken(&mut self) -> bool {
        let taken = self.confirm.take().is_some();
        if taken {
            tracing::info!("a plain reload confirms the reload that awaited confirmation");
        }
        taken
    }

    /// When the waiting reload rolls back.
    pub(super) fn confirm_deadline(&self) -> Option<Instant> {
        self.confirm.as_ref().map(|p| p.deadline)
    }

    pub(super) fn confirm(&mut self) -> Result<ConfirmView, String> {
        match self.confirm.take() {
            Some(p) => {
                let left = p.rollback_at_unix.saturating_sub(unix_now());
                tracing::info!(seconds_left = left, "reload confirmed");
                Ok(ConfirmView {
                    config: self.cfg.file.clone(),
                    seconds_left: left,
                })
            }
            None => Err(match &self.last_rollback {
                Some(r) => format!("no reload awaits confirmation (the last one {r})"),
                None => "no reload awaits confirmation".into(),
            }),
        }
    }

    pub(super) fn refuse_while_unconfirmed(&self) -> String {
        let left = self
            .confirm
            .as_ref()
            .map_or(0, |p| p.rollback_at_unix.saturating_sub(unix_now()));
        format!(
            "a reload awaits confirmation (it rolls back in {left} s, which would undo this change): \
             run `anycast6ctl confirm` first, or wait for the rollback"
        )
    }

    /// The confirmation time ran out: what ran before the reload runs again.
    pub(super) async fn rollback(&mut self) {
        let Some(p) = self.confirm.take() else {
            return;
        };
        let file = self.cfg.file.clone();
        let loaded = p.loaded_unix;
        match self.apply_config(p.cfg, p.overlays, Vec::new()).await {
            Ok(v) => {
                self.loaded_unix = loaded;
                let what = format!(
                    "was rolled back at unix time {} after {} s unconfirmed",
                    unix_now(),
                    p.timeout_s
                );
                tracing::warn!(
                    config = %file,
                    timeout_s = p.timeout_s,
                    operations = v.operations,
                    "reload not confirmed in time: rolled back to the config that ran before it \
                     (the file still holds the unconfirmed text; a reload reads it again)"
                );
                self.last_rollback = Some(what);
            }
            Err(e) => {
                tracing::error!(config = %file, error = %e, "rollback failed: the unconfirmed config stays");
                self.last_rollback = Some(format!("could not be rolled back: {e}"));
            }
        }
    }

    /// What `reload` would do with the file as it is now; nothing applied.
    pub(super) async fn reload_diff(&mut self) -> Result<ReloadDiffView, String> {
        let file = self.cfg.file.clone();
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{file}: cannot read: {e}"))?;
        let mut v = ReloadDiffView {
            config: file.clone(),
            refused: None,
            // A file that is not TOML has no keys to compare: the
            // refusal below says where it breaks.
            keys: diff::diff(&self.cfg.text, &text).unwrap_or_default(),
            interfaces_attach: Vec::new(),
            interfaces_detach: Vec::new(),
            groups_added: Vec::new(),
            groups_removed: Vec::new(),
            members_added: Vec::new(),
            members_removed: Vec::new(),
            members_changed: Vec::new(),
            sections: Vec::new(),
            overlays_dropped: Vec::new(),
            unconfirmed: self.confirm.is_some(),
        };
        let new = match config::parse(&file, &text) {
            Ok(n) => n,
            Err(e) => {
                v.refused = Some(e.to_string());
                return Ok(v);
            }
        };
        if let Err(e) = self.check_reload(&new).await {
            v.refused = Some(e);
        }
        let names = |c: &Config| -> BTreeSet<String> {
            c.interfaces.iter().map(|i| i.name.clone()).collect()
        };
        let (a, b) = (names(&self.cfg), names(&new));
        v.interfaces_attach = b.difference(&a).cloned().collect();
        v.interfaces_detach = a.difference(&b).cloned().collect();
        let mut overlays = self.overlays.clone();
        v.overlays_dropped = overlays.retain_valid(&new);
        members_diff(
            &self.overlays.effective(&self.cfg),
            &overlays.effective(&new),
            &mut v,
        );
        v.sections = sections_diff(&self.cfg, &new);
        Ok(v)
    }
}

type MemberKey = (std::net::Ipv6Addr, Option<String>);

fn member_name(group: &str, k: &MemberKey) -> String {
    match &k.1 {
        Some(i) => format!("{group} {}%{i}", k.0),
        None => format!("{group} {}", k.0),
    }
}

fn members_diff(old: &[EffectiveGroup], new: &[EffectiveGroup], v: &mut ReloadDiffView) {
    let index = |gs: &[EffectiveGroup]| -> BTreeMap<String, BTreeMap<MemberKey, String>> {
        gs.iter()
            .map(|g| {
                let ms = g
                    .members
                    .iter()
                    .map(|m| {
                        let k = (m.member.address, m.member.interface.clone());
                        (k, format!("{:?}", m.member))
                    })
                    .collect();
                (g.route.to_string(), ms)
            })
            .collect()
    };
    let (a, b) = (index(old), index(new));
    let empty = BTreeMap::new();
    for (g, ms) in &a {
        if !b.contains_key(g) {
            v.groups_removed.push(g.clone());
        }
        let nb = b.get(g).unwrap_or(&empty);
        for (k, m) in ms {
            match nb.get(k) {
                None => v.members_removed.push(member_name(g, k)),
                Some(n) if n != m => v.members_changed.push(member_name(g, k)),
                Some(_) => {}
            }
        }
    }
    for (g, ms) in &b {
        let na = a.get(g);
        if na.is_none() {
            v.groups_added.push(g.clone());
        }
        let na = na.unwrap_or(&empty);
        for k in ms.keys() {
            if !na.contains_key(k) {
                v.members_added.push(member_name(g, k));
            }
        }
    }
}

/// `[section]: start|stop|change` for every mechanism a reload starts,
/// stops or restarts with new settings.
fn sections_diff(a: &Config, b: &Config) -> Vec<String> {
    fn one<T: PartialEq>(name: &str, x: &Option<T>, y: &Option<T>) -> Option<String> {
        let what = match (x, y) {
            (None, Some(_)) => "start",
            (Some(_), None) => "stop",
            (Some(x), Some(y)) if x != y => "change",
            _ => return None,
        };
        Some(format!("[{name}]: {what}"))
    }
    let mut out: Vec<String> = [
        one("member", &a.member_role, &b.member_role),
        one("ard", &a.ard, &b.ard),
        one("arip", &a.arip, &b.arip),
        one("aarp", &a.aarp, &b.aarp),
        one("aospf", &a.aospf, &b.aospf),
        one("piasm", &a.piasm, &b.piasm),
        one("mga", &a.mga, &b.mga),
        one("kernel_import", &a.kernel_import, &b.kernel_import),
    ]
    .into_iter()
    .flatten()
    .collect();
    if a.distances != b.distances {
        out.push("[rib.distance]: change".into());
    }
    out
}
