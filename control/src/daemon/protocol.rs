//! The protocols anycast6d runs, each registered once.
//!
//! A protocol is a pure core in its own crate under `protocols/` (packets
//! and time in; packets, RIB offers and kernel routes out), driven by the
//! runner in [`super::speaker`] over a [`super::link::LinkSocket`] — the
//! one place sockets are opened, for link-scope UDP and raw IPv6 alike.
//! What the daemon needs beyond that is one [`Registration`]:
//!
//! ```text
//!   config [name] ──► sync(daemon, cfg) ──► start / restart / stop its task(s)
//!   mgmt show name ─► view(daemon) ───────► state + counters (JSON)
//!   anycast6ctl ────► render(json) ───────► the text form
//!   exit ───────────► stop(daemon) ───────► leaves sent, kernel routes removed
//! ```
//!
//! Adding a protocol touches its crate, its config section
//! (control/src/config), its glue module beside this one (the socket, the
//! core's task and its fields on the daemon), one line in [`REGISTRY`],
//! and its docs. Names are its config section, its `show` name and its
//! management API name at once.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use super::Daemon;
use crate::config::Config;
use crate::ctl::render;

type Boxed<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

pub struct Registration {
    /// Its config section `[name]`, `anycast6ctl show name`, `show` in the
    /// management API.
    pub name: &'static str,
    /// One line for `anycast6ctl show --help` and the docs.
    pub about: &'static str,
    /// Brings what runs in line with `cfg` (idempotent: also called to
    /// retry a protocol that could not start, and after RIB changes).
    pub(crate) sync: for<'a> fn(&'a mut Daemon, &'a Config) -> Boxed<'a>,
    /// `show <name>`: state and counters.
    pub(crate) view: fn(&Daemon) -> Value,
    /// Clean exit: what must happen before the process goes.
    pub(crate) stop: for<'a> fn(&'a mut Daemon) -> Boxed<'a>,
    /// The text form of its view.
    pub render: fn(&Value) -> String,
}

/// Every protocol anycast6d runs, in the order they are synced.
pub static REGISTRY: &[Registration] = &[
    Registration {
        name: "ard",
        about: "Anycast Receiver Discovery: members register with their first-hop router",
        sync: |d, cfg| Box::pin(d.sync_ard(cfg)),
        view: |d| d.ard_view(),
        stop: |d| Box::pin(d.stop_ard()),
        render: render::ard,
    },
    Registration {
        name: "arip",
        about: "ARIP: anycast routing by distance vector, RIPng-compatible",
        sync: |d, cfg| Box::pin(d.sync_arip(cfg)),
        view: |d| d.arip_view(),
        stop: |d| Box::pin(d.stop_arip()),
        render: render::arip,
    },
    Registration {
        name: "aarp",
        about: "AARP: answers resolving an anycast address to a member's unicast address",
        sync: |d, cfg| {
            d.sync_aarp(cfg);
            Box::pin(std::future::ready(()))
        },
        view: |d| d.aarp_view(),
        stop: |d| {
            d.aarp = None;
            Box::pin(std::future::ready(()))
        },
        render: render::aarp,
    },
];

/// The registration called `name`.
pub fn find(name: &str) -> Option<&'static Registration> {
    REGISTRY.iter().find(|r| r.name == name)
}

/// Every registered name, for help texts and errors.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|r| r.name).collect()
}

impl Daemon {
    /// Every protocol in line with `cfg`.
    pub(super) async fn sync_protocols(&mut self, cfg: &Config) {
        for r in REGISTRY {
            (r.sync)(self, cfg).await;
        }
    }

    /// Every protocol stopped cleanly, last registered first.
    pub(super) async fn stop_protocols(&mut self) {
        for r in REGISTRY.iter().rev() {
            (r.stop)(self).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_are_config_sections() {
        let mut seen = std::collections::BTreeSet::new();
        for r in REGISTRY {
            assert!(seen.insert(r.name), "{} registered twice", r.name);
            assert!(
                crate::mgmt::ShowWhat::BUILTIN
                    .iter()
                    .all(|b| b.name() != r.name),
                "{} shadows a built-in view",
                r.name
            );
            // `[name]` is a section the config knows: an unknown one would
            // be rejected as an unknown field.
            let text = format!("[{}]\n", r.name);
            if let Err(e) = crate::config::parse("t.toml", &text) {
                assert!(
                    !e.to_string().contains("unknown field"),
                    "[{}] is not a config section: {e}",
                    r.name
                );
            }
        }
    }
}
