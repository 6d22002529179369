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
//!   link dump ──────► links(daemon) ──────► interfaces up / down, origination
//!   address event ──► address(daemon, ev) ► origination
//!   mgmt show name [view] ─► view(daemon, view) ─► state + counters (JSON)
//!   anycast6ctl ────► render(json, view) ─► the text form
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
use crate::proto::originate::AddressEvent;

type Boxed<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

pub struct Registration {
    /// Its config section `[name]`, `anycast6ctl show name`, `show` in the
    /// management API.
    pub name: &'static str,
    /// One line for `anycast6ctl show --help` and the docs.
    pub about: &'static str,
    /// Parts of its view that `show <name> <view>` shows alone (`show
    /// aospf neighbors`); empty: only the whole.
    pub views: &'static [&'static str],
    /// Brings what runs in line with `cfg` (idempotent: also called to
    /// retry a protocol that could not start, and after RIB changes).
    pub(crate) sync: for<'a> fn(&'a mut Daemon, &'a Config) -> Boxed<'a>,
    /// `show <name> [view]`: state and counters, or one of `views`.
    pub(crate) view: fn(&Daemon, Option<&str>) -> Value,
    /// The links as the kernel shows them now (`Daemon::links`, read at
    /// every convergence).
    pub(crate) links: fn(&mut Daemon),
    /// An IPv6 address appeared, changed or went.
    pub(crate) address: fn(&mut Daemon, AddressEvent),
    /// Clean exit: what must happen before the process goes.
    pub(crate) stop: for<'a> fn(&'a mut Daemon) -> Boxed<'a>,
    /// The text form of its view (or of one of `views`).
    pub render: fn(&Value, Option<&str>) -> String,
}

/// Every protocol anycast6d runs, in the order they are synced.
pub static REGISTRY: &[Registration] = &[
    Registration {
        name: "ard",
        about: "Anycast Receiver Discovery: members register with their first-hop router",
        views: &[],
        sync: |d, cfg| Box::pin(d.sync_ard(cfg)),
        view: |d, _| d.ard_view(),
        links: |_| {},
        address: |_, _| {},
        stop: |d| Box::pin(d.stop_ard()),
        render: |v, _| render::ard(v),
    },
    Registration {
        name: "arip",
        about: "ARIP: anycast routing by distance vector, RIPng-compatible",
        views: &[],
        sync: |d, cfg| Box::pin(d.sync_arip(cfg)),
        view: |d, _| d.arip_view(),
        links: |d| {
            if let Some((t, _)) = &mut d.arip {
                t.set_links(&d.links);
            }
        },
        address: |d, ev| {
            if let Some((t, _)) = &mut d.arip {
                t.address_event(ev);
            }
        },
        stop: |d| Box::pin(d.stop_arip()),
        render: |v, _| render::arip(v),
    },
    Registration {
        name: "aarp",
        about: "AARP: answers resolving an anycast address to a member's unicast address",
        views: &[],
        sync: |d, cfg| {
            d.sync_aarp(cfg);
            Box::pin(std::future::ready(()))
        },
        view: |d, _| d.aarp_view(),
        links: |_| {},
        address: |_, _| {},
        stop: |d| {
            d.aarp = None;
            Box::pin(std::future::ready(()))
        },
        render: |v, _| render::aarp(v),
    },
    Registration {
        name: "aospf",
        about: "AOSPF: anycast routing by link state, OSPFv3-compatible",
        views: super::aospf::VIEWS,
        sync: |d, cfg| Box::pin(d.sync_aospf(cfg)),
        view: |d, sub| d.aospf_view(sub),
        links: |d| {
            if let Some((t, _)) = &mut d.aospf {
                t.set_links(&d.links);
            }
        },
        address: |d, ev| {
            if let Some((t, _)) = &mut d.aospf {
                t.address_event(ev);
            }
        },
        stop: |d| Box::pin(d.stop_aospf()),
        render: crate::ctl::aospf::render,
    },
    Registration {
        name: "piasm",
        about: "PIA-SM: a core-based anycast tree from PIM-SM, for few anycast routers",
        views: super::piasm::VIEWS,
        sync: |d, cfg| Box::pin(d.sync_piasm(cfg)),
        view: |d, sub| d.piasm_view(sub),
        links: |_| {},
        address: |_, _| {},
        stop: |d| Box::pin(d.stop_piasm()),
        render: crate::ctl::piasm::render,
    },
    Registration {
        name: "mga",
        about: "MGA: global anycast with no anycast router, from Mobile IPv6 (home agent, member, correspondent)",
        views: &[],
        sync: |d, cfg| Box::pin(d.sync_mga(cfg)),
        view: |d, _| d.mga_view(),
        links: |_| {},
        address: |_, _| {},
        stop: |d| Box::pin(d.stop_mga()),
        render: |v, _| crate::ctl::mga::render(v),
    },
    Registration {
        name: "kernel_import",
        about: "kernel import: members from the kernel's /128 routes (BIRD, FRR, static), source kernel",
        views: &[],
        sync: |d, cfg| Box::pin(d.sync_kernel_import(cfg)),
        view: |d, _| d.kernel_import_view(),
        links: |d| d.kernel_import_links(),
        address: |_, _| {},
        stop: |d| {
            d.stop_kernel_import();
            Box::pin(std::future::ready(()))
        },
        render: |v, _| crate::ctl::kernel_import::render(v),
    },
];

/// The registration called `name` (`kernel-import` finds `kernel_import`:
/// the command line may spell a config section's `_` as `-`).
pub fn find(name: &str) -> Option<&'static Registration> {
    REGISTRY
        .iter()
        .find(|r| r.name == name || r.name.replace('_', "-") == name)
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
    fn aospf_is_registered_with_its_views() {
        let r = find("aospf").expect("aospf registered");
        assert_eq!(
            r.views,
            ["neighbors", "database", "routes", "interfaces"].as_slice()
        );
        assert!(names().contains(&"aospf"));
        assert!(crate::ctl::show_names().contains(&"aospf"));
        // Not running: the view is null and says so.
        assert_eq!(
            (r.render)(&Value::Null, None),
            "AOSPF is not configured ([aospf])\n"
        );
    }

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
