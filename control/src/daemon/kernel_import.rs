//! `[kernel_import]` inside anycast6d: the netlink edge of the kernel
//! import (the pure core is control/src/kernel_import). One task reads
//! the table once, then follows RTNLGRP_IPV6_ROUTE; the core turns what it
//! reads into member sets, which reach the RIB as whole sets of source
//! `kernel` once the changes have settled.
//!
//! ```text
//!  route dump ──────────────┐                 ┌─ settle (quiet, bounded) ─► ProtoEvent::whole ─► RIB
//!  RTNLGRP_IPV6_ROUTE ──────┼─► task ─► Importer ┤
//!  daemon: interfaces ──────┘  (overrun, limit room, interfaces changed: dump again, ≤ 1/s)
//! ```
//!
//! The first batch a task sends says `restarted`: the daemon drops what a
//! previous task (an older config) imported and takes the new batch in
//! the same step, so a reload that changes the section moves no member
//! that stays. A removed section sends only that, and withdraws all.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use netlink_packet_core::{NetlinkPayload, NLM_F_REPLACE};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::MulticastGroup;
use serde_json::Value;
use tokio::sync::{mpsc, Notify};

use super::speaker::{lock, AbortOnDrop, ProtoEvent};
use super::Daemon;
use crate::config::{Config, KernelImportConfig};
use crate::kernel_import::{ImportEvent, Importer, KernelRoute, NextHop, RouteMsg};
use crate::neigh::{LinkInfo, Netlink};
use crate::proto::limit::LimitEvent;
use crate::proto::Source;
use crate::ControlError;

/// Changes wait at most this many settle periods after the first one.
const SETTLE_BOUND: u32 = 5;
/// The table is read again at most this often.
const DUMP_EVERY: Duration = Duration::from_secs(1);

/// The route `m` describes, if it is an IPv6 one.
pub fn kernel_route(m: &RouteMessage) -> Option<KernelRoute> {
    if m.header.address_family != AddressFamily::Inet6 {
        return None;
    }
    let mut r = KernelRoute {
        table: u32::from(m.header.table),
        protocol: u8::from(m.header.protocol),
        unicast: m.header.kind == RouteType::Unicast,
        dst: Ipv6Addr::UNSPECIFIED,
        plen: m.header.destination_prefix_length,
        metric: 0,
        hops: Vec::new(),
    };
    let (mut gateway, mut oif) = (None, 0);
    for a in &m.attributes {
        match a {
            RouteAttribute::Table(t) => r.table = *t,
            RouteAttribute::Destination(RouteAddress::Inet6(d)) => r.dst = *d,
            RouteAttribute::Priority(p) => r.metric = *p,
            RouteAttribute::Gateway(RouteAddress::Inet6(g)) => gateway = Some(*g),
            RouteAttribute::Oif(i) => oif = *i,
            RouteAttribute::MultiPath(hops) => r.hops.extend(hops.iter().map(|h| NextHop {
                gateway: h.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Gateway(RouteAddress::Inet6(g)) => Some(*g),
                    _ => None,
                }),
                ifindex: h.interface_index,
                weight: u16::from(h.hops) + 1,
            })),
            _ => {}
        }
    }
    if r.hops.is_empty() && (gateway.is_some() || oif != 0) {
        r.hops.push(NextHop {
            gateway,
            ifindex: oif,
            weight: 1,
        });
    }
    Some(r)
}

/// The forwarding interfaces of `cfg` present in `links`: ifindex → name.
fn listed(cfg: &Config, links: &[LinkInfo]) -> BTreeMap<u32, String> {
    links
        .iter()
        .filter(|l| cfg.interface(&l.name).is_some())
        .map(|l| (l.ifindex, l.name.clone()))
        .collect()
}

/// A running import.
pub struct KernelImportTask {
    core: Arc<Mutex<Importer>>,
    wake: Arc<Notify>,
    settle: Duration,
    _task: AbortOnDrop,
    _conn: AbortOnDrop,
}

impl KernelImportTask {
    /// Subscribes to route changes, then starts the task, which reads the
    /// table and follows it.
    pub fn start(
        cfg: &KernelImportConfig,
        nl: &Netlink,
        interfaces: BTreeMap<u32, String>,
        events: mpsc::UnboundedSender<ProtoEvent>,
    ) -> Result<KernelImportTask, ControlError> {
        // Subscribed before the dump, so no change falls in between (one
        // both in the dump and notified applies twice, to the same end).
        let (conn, _handle, messages) =
            rtnetlink::new_multicast_connection(&[MulticastGroup::Ipv6Route])
                .map_err(ControlError::NetlinkSocket)?;
        let conn = AbortOnDrop(tokio::spawn(conn));
        let mut importer = Importer::new(cfg.import.clone());
        importer.set_interfaces(interfaces);
        let core = Arc::new(Mutex::new(importer));
        let wake = Arc::new(Notify::new());
        let task = AbortOnDrop(tokio::spawn(run(
            core.clone(),
            wake.clone(),
            nl.clone(),
            messages,
            events,
            cfg.settle,
        )));
        Ok(KernelImportTask {
            core,
            wake,
            settle: cfg.settle,
            _task: task,
            _conn: conn,
        })
    }

    /// The forwarding interfaces as they are now.
    pub fn set_interfaces(&self, interfaces: BTreeMap<u32, String>) {
        let mut c = lock(&self.core);
        c.set_interfaces(interfaces);
        if c.wants_dump() {
            self.wake.notify_one();
        }
    }

    pub fn view(&self) -> Value {
        let mut v = lock(&self.core).view();
        v["settle_ms"] = (self.settle.as_millis() as u64).into();
        v
    }
}

async fn run<A>(
    core: Arc<Mutex<Importer>>,
    wake: Arc<Notify>,
    nl: Netlink,
    mut messages: impl futures_util::Stream<Item = (netlink_packet_core::NetlinkMessage<RouteNetlinkMessage>, A)>
        + Unpin,
    events: mpsc::UnboundedSender<ProtoEvent>,
    settle: Duration,
) {
    let mut first_batch = true;
    let mut last_dump: Option<tokio::time::Instant> = None;
    let mut need_dump = true;
    // (first, last) change waiting to settle.
    let mut pending: Option<(tokio::time::Instant, tokio::time::Instant)> = None;
    loop {
        need_dump |= lock(&core).wants_dump();
        let now = tokio::time::Instant::now();
        let dump_at = need_dump.then(|| last_dump.map_or(now, |t| t + DUMP_EVERY));
        if dump_at.is_some_and(|t| t <= now) {
            need_dump = false;
            last_dump = Some(now);
            match nl.ipv6_routes().await {
                Ok(msgs) => {
                    let routes: Vec<KernelRoute> = msgs.iter().filter_map(kernel_route).collect();
                    let n = routes.len();
                    lock(&core).dump(routes);
                    tracing::info!(routes = n, "kernel import: table read");
                    // The first reading goes to the RIB at once.
                    if first_batch {
                        flush(&core, &events, &mut first_batch);
                    } else {
                        pending.get_or_insert((now, now));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "kernel import: cannot read the routes; trying again");
                    need_dump = true;
                }
            }
            continue;
        }
        let flush_at =
            pending.map(|(first, last)| (last + settle).min(first + settle * SETTLE_BOUND));
        let deadline = [flush_at, dump_at].into_iter().flatten().min();
        tokio::select! {
            m = messages.next() => {
                let Some((msg, _)) = m else {
                    tracing::error!("kernel import: the route subscription closed; routes are no longer followed");
                    return;
                };
                let replace = msg.header.flags & NLM_F_REPLACE != 0;
                let rm = match msg.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(r)) => {
                        kernel_route(&r).map(|route| RouteMsg::New { route, replace })
                    }
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(r)) => {
                        kernel_route(&r).map(|route| RouteMsg::Del { route })
                    }
                    NetlinkPayload::Overrun(_) => {
                        tracing::warn!("kernel import: route notifications lost; reading the table again");
                        need_dump = true;
                        None
                    }
                    _ => None,
                };
                if let Some(rm) = rm {
                    let mut c = lock(&core);
                    c.handle(rm);
                    if c.has_changes() {
                        let now = tokio::time::Instant::now();
                        let first = pending.map_or(now, |p| p.0);
                        pending = Some((first, now));
                    }
                    log_events(c.take_events());
                }
            }
            _ = wake.notified() => {}
            _ = sleep_until(deadline) => {
                if flush_at.is_some_and(|t| t <= tokio::time::Instant::now()) {
                    pending = None;
                    flush(&core, &events, &mut first_batch);
                }
            }
        }
    }
}

async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Hands what changed to the daemon.
fn flush(
    core: &Mutex<Importer>,
    events: &mpsc::UnboundedSender<ProtoEvent>,
    first_batch: &mut bool,
) {
    let (changes, evs, imported) = {
        let mut c = lock(core);
        (c.take_changes(), c.take_events(), c.imported())
    };
    log_events(evs);
    if changes.is_empty() && !*first_batch {
        return;
    }
    for (a, m) in &changes {
        tracing::info!(anycast = %a, members = m.len(), "kernel import: members");
    }
    tracing::debug!(
        changed = changes.len(),
        imported,
        "kernel import: to the RIB"
    );
    let restarted = std::mem::take(first_batch).then_some(Source::Kernel);
    let _ = events.send(ProtoEvent {
        learn: Vec::new(),
        kernel: Vec::new(),
        whole: changes
            .into_iter()
            .map(|(a, m)| (a, Source::Kernel, m, None))
            .collect(),
        restarted,
    });
}

fn log_events(evs: Vec<ImportEvent>) {
    for e in evs {
        match e {
            ImportEvent::Refused {
                why,
                dst,
                plen,
                protocol,
                gateway,
                ifindex,
            } => tracing::warn!(
                reason = why.as_str(),
                route = %format!("{dst}/{plen}"),
                protocol,
                gateway = ?gateway,
                ifindex,
                "kernel import: refused"
            ),
            ImportEvent::Limit(LimitEvent::Warning { held, limit, .. }) => {
                tracing::warn!(held, limit, "kernel import: near max_routes")
            }
            ImportEvent::Limit(LimitEvent::Reached { held, limit, .. }) => tracing::warn!(
                held,
                limit,
                "kernel import: max_routes reached; new addresses are refused"
            ),
            ImportEvent::Limit(LimitEvent::Cleared { held, limit, .. }) => {
                tracing::info!(held, limit, "kernel import: below max_routes again")
            }
        }
    }
}

impl Daemon {
    /// Starts, restarts or stops the import to match `cfg`.
    pub(super) async fn sync_kernel_import(&mut self, cfg: &Config) {
        let interfaces = listed(cfg, &self.links);
        if self.kernel_import.as_ref().map(|(_, c)| c) != cfg.kernel_import.as_ref() {
            let was = self.kernel_import.take().is_some();
            match cfg.kernel_import.clone() {
                Some(kc) => match KernelImportTask::start(
                    &kc,
                    &self.nl,
                    interfaces.clone(),
                    self.proto_tx.clone(),
                ) {
                    Ok(t) => {
                        tracing::info!(
                            table = kc.import.table,
                            protocols = ?kc.import.protocols,
                            "kernel import started"
                        );
                        self.kernel_import = Some((t, kc));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "kernel import not started");
                        self.withdraw_kernel_import();
                    }
                },
                None if was => {
                    tracing::info!("kernel import stopped; what it imported is withdrawn");
                    self.withdraw_kernel_import();
                }
                None => {}
            }
        }
        if let Some((t, _)) = &self.kernel_import {
            t.set_interfaces(interfaces);
        }
    }

    /// Every member of source `kernel` goes (through the event loop, so a
    /// converge follows at once).
    fn withdraw_kernel_import(&mut self) {
        let _ = self.proto_tx.send(ProtoEvent {
            learn: Vec::new(),
            kernel: Vec::new(),
            whole: Vec::new(),
            restarted: Some(Source::Kernel),
        });
    }

    /// The interfaces as the kernel shows them now.
    pub(super) fn kernel_import_links(&mut self) {
        if let Some((t, _)) = &self.kernel_import {
            t.set_interfaces(listed(&self.cfg, &self.links));
        }
    }

    pub(super) fn kernel_import_view(&self) -> Value {
        self.kernel_import
            .as_ref()
            .map_or(Value::Null, |(t, _)| t.view())
    }

    pub(super) fn stop_kernel_import(&mut self) {
        // What it imported stays in the pinned FIB, as every source's does
        // when anycast6d exits: forwarding goes on.
        self.kernel_import = None;
    }
}

#[cfg(test)]
mod tests {
    use netlink_packet_route::route::{RouteNextHop, RouteProtocol};

    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn a_multipath_route_message_becomes_a_kernel_route() {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet6;
        m.header.destination_prefix_length = 128;
        m.header.table = 254;
        m.header.protocol = RouteProtocol::Bird;
        m.header.kind = RouteType::Unicast;
        let hop = |gw: &str, ifindex: u32, hops: u8| {
            let mut h = RouteNextHop::default();
            h.interface_index = ifindex;
            h.hops = hops;
            h.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet6(a(gw)))];
            h
        };
        m.attributes = vec![
            RouteAttribute::Table(254),
            RouteAttribute::Destination(RouteAddress::Inet6(a("2001:db8:ac::1"))),
            RouteAttribute::Priority(32),
            RouteAttribute::MultiPath(vec![hop("2001:db8:1::10", 3, 0), hop("fe80::2", 4, 2)]),
        ];
        let r = kernel_route(&m).unwrap();
        assert_eq!(
            r,
            KernelRoute {
                table: 254,
                protocol: 12,
                unicast: true,
                dst: a("2001:db8:ac::1"),
                plen: 128,
                metric: 32,
                hops: vec![
                    NextHop {
                        gateway: Some(a("2001:db8:1::10")),
                        ifindex: 3,
                        weight: 1
                    },
                    NextHop {
                        gateway: Some(a("fe80::2")),
                        ifindex: 4,
                        weight: 3
                    },
                ],
            }
        );
        // One path: RTA_GATEWAY and RTA_OIF; a table above 255 in RTA_TABLE.
        m.attributes = vec![
            RouteAttribute::Table(1000),
            RouteAttribute::Destination(RouteAddress::Inet6(a("2001:db8:ac::1"))),
            RouteAttribute::Gateway(RouteAddress::Inet6(a("fe80::9"))),
            RouteAttribute::Oif(7),
            RouteAttribute::Priority(1024),
        ];
        m.header.table = 252;
        let r = kernel_route(&m).unwrap();
        assert_eq!((r.table, r.metric), (1000, 1024));
        assert_eq!(
            r.hops,
            vec![NextHop {
                gateway: Some(a("fe80::9")),
                ifindex: 7,
                weight: 1
            }]
        );
        m.header.address_family = AddressFamily::Inet;
        assert!(kernel_route(&m).is_none());
    }
}
