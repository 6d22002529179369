//! anycast6d: owns the dataplane handle, the config, the runtime overlays
//! and the neighbour table, and keeps the FIB equal to what they say.
//!
//! ```text
//!  SIGHUP/SIGTERM/SIGINT ─┐
//!  mgmt socket ──(Request, reply)──┐     ┌─► Dataplane (aya, pinned maps)
//!  netlink NEIGH/LINK/IFADDR ──────┼─► event loop (run.rs) ─► converge()
//!  timer (resync every 30 s) ──────┘     └─► Netlink (links, routes, managed neighbours, lo)
//! ```
//! Every change goes through [`Daemon::converge`]: resolve members, plan
//! against what the maps hold, apply all or nothing.
//!
//! - [`fib`]: applying a plan, with rollback.
//! - [`resolve`]: members → egress, next hop, neighbour → RIB candidates.
//! - [`links`]: XDP attachment of interfaces, the member role (lo, decap).
//! - [`handle`]: management requests (reload, member changes, shutdown,
//!   destroy).
//! - [`show`]: the views of `show ...`.
//! - [`run`]: start, the event loop, signals, shutdown (plain or graceful).
//! - [`state_file`]: runtime overlays saved across restarts, and a
//!   graceful restart in progress.

pub mod aarp;
mod afxdp;
pub mod aospf;
pub mod ard;
pub mod arip;
pub mod confirm;
pub mod fib;
mod handle;
pub mod kernel_import;
pub mod kernel_routes;
pub mod link;
mod links;
mod metrics;
pub mod mga;
mod origin;
pub mod piasm;
pub mod protocol;
pub mod resolve;
mod routing;
pub mod run;
mod show;
pub mod speaker;
pub mod state_file;
pub mod udp;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anycast6_dataplane::loader::{Capacities, Decap};
use anycast6_dataplane::userspace::{SharedFib, SnapshotBuilder};
use anycast6_dataplane::Dataplane;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::neigh::{KernelEvent, LinkInfo, NeighKey, NeighStatus, NeighTable, Netlink};
use crate::rib::overlay::Overlays;
use crate::rib::{self, FibState, PlannedGroup};
use crate::ControlError;

pub use run::{run, DaemonArgs};

/// How long a change waits for new neighbours to resolve before it is
/// applied (members still unresolved then are installed `down` and come up
/// when the kernel resolves them).
const SETTLE: Duration = Duration::from_millis(1500);

/// How long each phase of a FIB change took, for the "FIB updated" line
/// (`links 0.4ms, egress 1.2ms, …`): a slow failover shows where it waits.
struct Phases {
    last: std::time::Instant,
    done: Vec<(&'static str, Duration)>,
}

impl Phases {
    fn start() -> Phases {
        Phases {
            last: std::time::Instant::now(),
            done: Vec::new(),
        }
    }

    fn mark(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        self.done.push((name, now - self.last));
        self.last = now;
    }
}

impl std::fmt::Display for Phases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (n, d)) in self.done.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n} {:.1}ms", d.as_secs_f64() * 1e3)?;
        }
        Ok(())
    }
}

/// A converge over a FIB (or a change) of at least this many routes is
/// followed by handing the allocator's free pages back to the kernel.
const BIG_FIB: usize = 4096;

pub struct Daemon {
    cfg: Config,
    overlays: Overlays,
    dp: Dataplane,
    /// The decap program (member role), once needed.
    decap: Option<Decap>,
    nl: Netlink,
    kernel_rx: mpsc::UnboundedReceiver<KernelEvent>,
    neigh: NeighTable,
    /// Managed neighbour entries of ours in the kernel (removed when no
    /// longer needed, and at shutdown).
    ours: BTreeSet<NeighKey>,
    /// Wanted neighbours whose entry the kernel deleted (a link went down
    /// and flushed it): created again at the next convergence.
    lost_neigh: BTreeSet<NeighKey>,
    links: Vec<LinkInfo>,
    resolved: Vec<resolve::ResolvedGroup>,
    planned: Vec<PlannedGroup>,
    /// A kernel event asked for a resync that has not run yet.
    dirty: bool,
    /// Member ids out of the FIB that carry history (counters), avoided
    /// for new members while others are free. Read from the counters once
    /// (None), then kept up to date from what each change removes: reading
    /// every member's per-CPU counters on each change cost tens of
    /// milliseconds of every failover.
    retired: Option<BTreeSet<u32>>,
    /// The userspace FIB while the AF_XDP path runs: fed the same
    /// operations as the maps (fib::Tee), published to the workers after
    /// every change. None otherwise (a 1M-route copy is not kept for nothing).
    snap: Option<SnapshotBuilder>,
    shared: Arc<SharedFib>,
    /// The AF_XDP path, while some interface is in `afxdp` mode.
    afxdp: Option<anycast6_afxdp::Afxdp>,
    /// (interface, afxdp?) the running AF_XDP path was started for.
    afxdp_key: Vec<(String, bool)>,
    /// Members and next hops the protocols taught (merged before planning).
    learned: crate::rib::learned::Learned,
    /// Maglev table lengths a protocol asks for (a PIA-SM shortcut: the
    /// core's), by anycast address and the source that asked: another
    /// source's table for the same address leaves it alone.
    table_lens: BTreeMap<(std::net::Ipv6Addr, crate::proto::Source), u32>,
    /// PIA-SM core-set groups: the packets each had carried when last
    /// published (fn standby_core_groups).
    core_seen: BTreeMap<u32, u64>,
    proto_tx: mpsc::UnboundedSender<speaker::ProtoEvent>,
    proto_rx: mpsc::UnboundedReceiver<speaker::ProtoEvent>,
    /// `[ard]`, with the config it runs.
    ard_router: Option<(ard::ArdTask, crate::config::ArdRouterConfig)>,
    /// `[aarp]`: the AARP socket and responder.
    aarp: Option<aarp::AarpSide>,
    /// Owned /128s this router answers AARP for (on `lo` besides the
    /// member role's addresses).
    aarp_lo: Vec<std::net::Ipv6Addr>,
    /// `[arip]`, with the config it runs.
    arip: Option<(arip::AripTask, crate::config::AripConfig)>,
    /// `[aospf]`, with the config it runs.
    aospf: Option<(aospf::AospfTask, crate::config::AospfConfig)>,
    /// `[piasm]`, with the config it runs.
    piasm: Option<(piasm::PiasmTask, crate::config::PiasmConfig)>,
    /// `[mga]`, with the config it runs.
    mga: Option<(mga::MgaTask, crate::config::MgaConfig)>,
    /// `[kernel_import]`, with the config it runs.
    kernel_import: Option<(
        kernel_import::KernelImportTask,
        crate::config::KernelImportConfig,
    )>,
    /// A graceful restart the previous process announced, until AOSPF
    /// has started with it (daemon/aospf.rs).
    gr_pending: Option<state_file::GracefulRestart>,
    /// A `reload --confirm` waiting for `confirm` (daemon/confirm.rs).
    confirm: Option<confirm::Pending>,
    /// What became of the last reload that was not confirmed.
    last_rollback: Option<String>,
    /// Unix time the running config was loaded.
    loaded_unix: u64,
    /// `[member.ard]`, with the config and addresses it announces.
    ard_member: Option<(
        ard::ArdTask,
        crate::config::ArdMemberConfig,
        Vec<std::net::Ipv6Addr>,
    )>,
    /// `[metrics]`: the listener, the exposition, failovers and reloads.
    metrics: metrics::MetricsSide,
}

impl Daemon {
    /// Applies a netlink event; true if the FIB may need to change.
    fn kernel_event(&mut self, ev: KernelEvent) -> bool {
        match ev {
            KernelEvent::Neigh(u) => {
                if u.ours && u.state.is_some() {
                    self.ours.insert(u.key);
                }
                // The kernel flushes neighbour entries, managed ones too,
                // when their link goes down; nothing re-creates them but us.
                let lost = u.state.is_none() && self.neigh.keys().any(|k| *k == u.key);
                if u.state.is_none() {
                    self.ours.remove(&u.key);
                }
                if lost {
                    self.lost_neigh.insert(u.key);
                }
                let changed = self.neigh.update(&u) || lost;
                if changed {
                    tracing::info!(
                        neighbour = %u.key.addr,
                        ifindex = u.key.ifindex,
                        status = u.status().name(),
                        mac = ?match u.status() { NeighStatus::Resolved(m) => Some(crate::util::mac_str(&m)), _ => None },
                        "neighbour changed"
                    );
                }
                changed
            }
            KernelEvent::Address(ev) => {
                // What the protocols originate follows the addresses; the
                // FIB does not.
                for r in protocol::REGISTRY {
                    (r.address)(self, ev);
                }
                false
            }
            KernelEvent::Link | KernelEvent::Overrun => true,
        }
    }

    /// Brings the kernel's managed neighbours in line with what `wanted`
    /// needs: creates the missing ones, removes ours that are unused.
    async fn manage_neighbours(
        &mut self,
        wanted: Vec<NeighKey>,
    ) -> Result<Vec<NeighKey>, ControlError> {
        let new = self.neigh.set_wanted(wanted.iter().copied());
        let lost = std::mem::take(&mut self.lost_neigh);
        let mut create: BTreeSet<NeighKey> = new.iter().copied().collect();
        create.extend(lost.into_iter().filter(|k| wanted.contains(k)));
        if !create.is_empty() {
            let dump = self.nl.neighbours().await?;
            for u in &dump {
                if u.ours {
                    self.ours.insert(u.key);
                }
                self.neigh.update(u);
            }
            for k in &create {
                let existing = dump.iter().find(|u| u.key == *k);
                if existing.is_some_and(|u| u.is_static() || (u.ours && u.managed)) {
                    continue;
                }
                match self.nl.ensure_managed(*k).await {
                    Ok(()) => {
                        self.ours.insert(*k);
                        tracing::debug!(neighbour = %k.addr, ifindex = k.ifindex, "managed neighbour entry created");
                    }
                    Err(e) => {
                        // Tried again at the next convergence.
                        self.lost_neigh.insert(*k);
                        tracing::warn!(neighbour = %k.addr, ifindex = k.ifindex, error = %e, "cannot create a managed neighbour entry")
                    }
                }
            }
        }
        let wanted: BTreeSet<NeighKey> = wanted.into_iter().collect();
        let unused: Vec<NeighKey> = self.ours.difference(&wanted).copied().collect();
        for k in unused {
            if let Err(e) = self.nl.delete_neighbour(k).await {
                tracing::debug!(neighbour = %k.addr, error = %e, "removing an unused managed neighbour");
            }
            self.ours.remove(&k);
        }
        Ok(new)
    }

    /// Waits (up to SETTLE) for the neighbours in `keys` to leave `pending`.
    async fn settle(&mut self, keys: &[NeighKey]) {
        let deadline = tokio::time::Instant::now() + SETTLE;
        while keys
            .iter()
            .any(|k| self.neigh.status(k) == NeighStatus::Pending)
        {
            match tokio::time::timeout_at(deadline, self.kernel_rx.recv()).await {
                Ok(Some(ev)) => {
                    if self.kernel_event(ev) {
                        self.dirty = true;
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
    }

    /// Makes the FIB what `cfg` + `overlays` say, all or nothing. On
    /// success the daemon's view (`show members`) follows; on failure the
    /// FIB is as before. Returns the number of FIB operations applied.
    async fn converge(&mut self, cfg: &Config, overlays: &Overlays) -> Result<usize, ControlError> {
        let mut phases = Phases::start();
        self.links = self.nl.links().await?;
        phases.mark("links");
        for r in protocol::REGISTRY {
            (r.links)(self);
        }
        let mut groups = overlays.effective(cfg);
        let links = &self.links;
        self.learned.merge(&mut groups, |i| {
            links
                .iter()
                .find(|l| l.ifindex == i)
                .map(|l| l.name.clone())
        });
        phases.mark("merge");
        let egress = resolve::egress(&self.nl, &groups, &self.links).await?;
        phases.mark("egress");
        let new = self.manage_neighbours(resolve::neigh_keys(&egress)).await?;
        if !new.is_empty() {
            self.settle(&new).await;
        }
        phases.mark("neighbours");
        self.dirty = false;
        let resolved = resolve::resolve(&groups, &egress, &self.links, &self.neigh);
        self.sync_ifaces(cfg)?;
        let installed = self.dp.fib().installed()?;
        let current = FibState::from(&installed);
        phases.mark("read FIB");
        let attached = self.dp.attached()?;
        // Egress ports: interfaces with the forwarding program, and those in
        // afxdp mode (their AF_XDP sockets transmit; XDP may redirect there).
        let tx_ports: BTreeSet<u32> = attached
            .iter()
            .filter(|a| cfg.interface(&a.ifname).is_some())
            .map(|a| a.ifindex)
            .chain(cfg.afxdp_interfaces().filter_map(|i| {
                self.links
                    .iter()
                    .find(|l| l.name == i.name)
                    .map(|l| l.ifindex)
            }))
            .collect();
        // Ids must fit the maps as the kernel created them (a pinned map
        // keeps its size whatever the config says now).
        let mc = self.dp.fib().capacities();
        let caps = Capacities {
            groups: mc.groups,
            member_ids: mc.member_ids,
            ..cfg.capacities
        };
        // Members gone from the FIB whose ids still carry counters.
        let in_use: BTreeSet<u32> = current
            .groups
            .values()
            .flatten()
            .map(|m| m.member_id)
            .collect();
        let retired: BTreeSet<u32> = match self.retired.take() {
            Some(r) => r.difference(&in_use).copied().collect(),
            None => self
                .dp
                .fib()
                .counters()?
                .members
                .iter()
                .map(|c| c.0)
                .filter(|id| !in_use.contains(id))
                .collect(),
        };
        phases.mark("retired ids");
        let plan = rib::plan_avoiding(
            &resolve::rib_groups(cfg, &cfg.distances, &resolved),
            &tx_ports,
            &current,
            &caps,
            &retired,
        )
        .map_err(|e| ControlError::RibInvalid(e.to_string()))?;
        phases.mark("plan");
        // This router's tunnel end points (PIA-SM: its router address, and
        // the core addresses it is core for): the fast path decapsulates
        // what is tunnelled to them and forwards the inner packet.
        let endpoints: BTreeSet<std::net::Ipv6Addr> = cfg
            .piasm
            .iter()
            .flat_map(|p| {
                std::iter::once(p.router_address)
                    .chain(p.anycast.iter().filter(|a| a.core_here).map(|a| a.core))
            })
            // MGA: a home agent's address ends its members' reverse tunnels.
            // and the Home-Agents anycast address of each A's prefix, where
            // members send them (docs/mga.md §6.3).
            .chain(
                cfg.mga
                    .iter()
                    .filter_map(|m| m.home_agent.as_ref())
                    .flat_map(|h| {
                        std::iter::once(h.address).chain(
                            h.anycast
                                .iter()
                                .map(|a| crate::mga::instance::home_agents_anycast(*a)),
                        )
                    }),
            )
            .collect();
        self.dp.fib().set_tunnel_endpoints(&endpoints)?;
        if let Some(snap) = &mut self.snap {
            snap.sync_tunnel_endpoints(&endpoints);
        }
        // Table lengths asked for, by the group id each address has now.
        let lens: BTreeMap<u32, u32> = self
            .table_lens
            .iter()
            .filter_map(|((a, _), l)| {
                let gid = plan
                    .target
                    .routes
                    .get(&anycast6_dataplane::Route::Host(*a))?;
                Some((*gid, *l))
            })
            .collect();
        let standby = self.standby_core_groups(cfg, &plan.target.routes);
        let quiet: BTreeSet<u32> = standby
            .iter()
            .filter(|(_, q)| q.1)
            .map(|(g, _)| *g)
            .collect();
        self.dp.fib().set_table_lens(lens.clone());
        self.dp.fib().set_quiet_groups(quiet.clone());
        if let Some(snap) = &mut self.snap {
            snap.set_table_lens(lens.clone());
            snap.set_quiet_groups(quiet);
        }
        let applied = match &mut self.snap {
            Some(snap) => {
                // Attach and detach write tx ports and interfaces straight
                // to the maps: bring the snapshot's to what they hold.
                snap.sync_tx_ports(&current.tx_ports);
                snap.sync_ifaces(&installed.ifaces);
                let r = fib::apply(
                    &mut fib::Tee {
                        fib: self.dp.fib(),
                        snap,
                    },
                    &plan.ops,
                    &current,
                );
                // Published also after a rollback: the builder followed the maps.
                self.shared.publish(snap);
                r
            }
            None => fib::apply(self.dp.fib(), &plan.ops, &current),
        };
        drop(current);
        drop(installed);
        applied.map_err(|e| ControlError::FibApply(e.to_string()))?;
        phases.mark("apply");
        // Ids this change took out join the retired ones; those it reused
        // leave. (A failed apply leaves `retired` None: read again next time.)
        let now_used: BTreeSet<u32> = plan
            .target
            .groups
            .values()
            .flatten()
            .map(|m| m.member_id)
            .collect();
        self.retired = Some(
            retired
                .union(&in_use)
                .copied()
                .filter(|id| !now_used.contains(id))
                .collect(),
        );
        // What a core-set group had carried when it was published.
        for op in &plan.ops {
            if let rib::FibOp::PublishGroup { group_id, .. } = op {
                if let Some((packets, _)) = standby.get(group_id) {
                    self.core_seen.insert(*group_id, *packets);
                }
            }
        }
        // A length asked for when the members stayed: published again.
        for (gid, len) in &lens {
            let fib = self.dp.fib();
            let Ok(Some(g)) = fib.group(*gid) else {
                continue;
            };
            if g.maglev_len == *len || g.members.is_empty() {
                continue;
            }
            if let Err(e) = fib.publish_group(*gid, &g.members) {
                tracing::warn!(group_id = gid, error = %e, "group not published with its table length");
            } else if let Some(snap) = &mut self.snap {
                if let Err(e) = snap.publish_group(*gid, &g.members) {
                    tracing::error!(group_id = gid, error = %e, "userspace snapshot refused a group the maps took");
                }
                self.shared.publish(snap);
            }
        }
        if !plan.ops.is_empty() {
            tracing::info!(operations = plan.ops.len(), took = %phases, "FIB updated");
            for op in &plan.ops {
                tracing::debug!(op = %op, "applied");
            }
        }
        self.metrics_plan(&resolved, &plan.groups);
        self.resolved = resolved;
        self.planned = plan.groups;
        if !plan.ops.is_empty() {
            self.piasm_published();
        }
        let owned = self.aarp_owned(cfg, &plan.target);
        if owned != self.aarp_lo {
            self.aarp_lo = owned;
            let served: Vec<std::net::Ipv6Addr> = cfg
                .member_role
                .as_ref()
                .map(|m| m.addresses.clone())
                .unwrap_or_default();
            if let Err(e) = self.lo_addresses(&served).await {
                tracing::warn!(error = %e, "AARP: owned addresses on lo");
            }
        }
        let n = plan.ops.len();
        let big = n.max(plan.target.routes.len()) >= BIG_FIB;
        drop(plan.ops);
        drop(plan.target);
        if big {
            // The plan, the FIB read back and (at start or reload) the
            // parsed config were freed in small pieces among what stays.
            anycast6_dataplane::release_free_memory();
        }
        Ok(n)
    }

    /// The groups of anycast addresses this router is one of several cores
    /// of (PIA-SM `core_here` with `peers`), by group id: (packets carried
    /// so far, quiet). Quiet: no packet since the group was last published
    /// — a standby core. It is published without a change period
    /// (docs/flow-hash.md §3): the previous member of an entry means
    /// nothing for flows this core never carried, and at a failover the
    /// flows it takes over must find the branch the other core's table
    /// gives them (docs/piasm.md §6).
    fn standby_core_groups(
        &mut self,
        cfg: &Config,
        routes: &BTreeMap<anycast6_dataplane::Route, u32>,
    ) -> BTreeMap<u32, (u64, bool)> {
        let mut out = BTreeMap::new();
        let Some(p) = &cfg.piasm else {
            return out;
        };
        let engine = self.afxdp_counters().map(|(e, _)| e);
        for a in p
            .anycast
            .iter()
            .filter(|a| a.core_here && !a.peers.is_empty())
        {
            let Some(gid) = routes.get(&anycast6_dataplane::Route::Host(a.address)) else {
                continue;
            };
            let Ok((mut packets, _)) = self.dp.fib().group_counter(*gid) else {
                continue;
            };
            if let Some(c) = engine.as_ref().and_then(|e| e.groups.get(gid)) {
                packets = packets.wrapping_add(c.packets);
            }
            let quiet = self.core_seen.get(gid).copied().unwrap_or(0) == packets;
            out.insert(*gid, (packets, quiet));
        }
        out
    }

    /// Takes what the protocols learned; true if the RIB changed.
    fn learn(&mut self, batch: Vec<speaker::Learn>) -> bool {
        let mut changed = false;
        for (ch, draining) in &batch {
            let c = self.learned.apply(ch, *draining);
            if c {
                tracing::info!(change = ?ch, draining, "learned");
            }
            changed |= c;
        }
        changed
    }

    /// What a protocol task reported: RIB changes (true if the learned
    /// table changed) and kernel routes (applied here). At the end of a
    /// graceful restart the candidates restored for it are replaced by
    /// its whole table in one go (the converge after sees only the result:
    /// a member in both never leaves the FIB).
    async fn proto_event(&mut self, ev: speaker::ProtoEvent) -> bool {
        let mut changed = false;
        if let Some(src) = ev.restarted {
            changed |= self.learned.forget(src);
            tracing::info!(source = ?src, members = ev.learn.len(), "graceful restart over: restored candidates replaced by the protocol's table");
        }
        for k in ev.kernel {
            let r = match k.op {
                crate::arip::KernelOp::Add => {
                    self.nl
                        .route_replace(k.prefix, k.plen, k.next_hop, k.ifindex, k.metric.into())
                        .await
                }
                crate::arip::KernelOp::Remove => self.nl.route_delete(k.prefix, k.plen).await,
            };
            match r {
                Ok(()) => tracing::info!(route = ?k, "kernel route"),
                Err(e) => tracing::warn!(route = ?k, error = %e, "kernel route not applied"),
            }
        }
        for (anycast, source, members, table_len) in ev.whole {
            let n = members.len();
            let len_changed = match table_len.filter(|_| n > 0) {
                Some(l) => self.table_lens.insert((anycast, source), l) != Some(l),
                None => self.table_lens.remove(&(anycast, source)).is_some(),
            };
            if len_changed {
                tracing::info!(%anycast, table_len = ?table_len, "Maglev table length set by the protocol");
                changed = true;
            }
            if self.learned.set_whole(anycast, source, members) {
                tracing::info!(%anycast, source = source.as_str(), members = n, "learned");
                changed = true;
            }
        }
        self.learn(ev.learn) || changed
    }

    /// The anycast addresses this router serves itself (configured groups
    /// with members, ARD-learned members), each with its best distance
    /// (the metric the routing protocols announce, within their ranges).
    fn served_anycast(&self, cfg: &Config) -> BTreeMap<std::net::Ipv6Addr, u32> {
        let mut want = BTreeMap::new();
        let mut offer = |a: std::net::Ipv6Addr, d: u32| {
            let e = want.entry(a).or_insert(d);
            *e = (*e).min(d);
        };
        for g in &cfg.groups {
            let Some(d) = g.members.iter().map(|m| m.distance).min() else {
                continue;
            };
            if let anycast6_dataplane::Route::Host(a) = g.route {
                offer(a, d);
            }
            for r in g.also.iter() {
                if let anycast6_dataplane::Route::Host(a) = r {
                    offer(*a, d);
                }
            }
        }
        for (a, d) in self.learned.local_members(crate::proto::Source::Ard) {
            offer(a, d);
        }
        want
    }

    /// `show arip`.
    fn arip_view(&self) -> serde_json::Value {
        self.arip
            .as_ref()
            .map_or(serde_json::Value::Null, |(t, _)| t.view())
    }

    /// `show ard`: the router side, the member side.
    fn ard_view(&self) -> serde_json::Value {
        serde_json::json!({
            "router": self.ard_router.as_ref().map(|(t, _)| t.view()),
            "member": self.ard_member.as_ref().map(|(t, _, _)| t.view()),
        })
    }

    /// Clean exit of ARD: a member sends its leaves.
    async fn stop_ard(&mut self) {
        if let Some((t, _, _)) = self.ard_member.take() {
            t.shutdown(std::time::Duration::from_millis(500)).await;
            tracing::info!("ARD leaves sent");
        }
        self.ard_router = None;
    }

    /// Clean exit of ARIP: its kernel routes go with it.
    async fn stop_arip(&mut self) {
        if let Some((t, _)) = self.arip.take() {
            t.stop().await;
            tracing::info!("ARIP stopped; its kernel routes removed");
        }
    }

    /// Starts, restarts or stops ARIP to match `cfg`.
    async fn sync_arip(&mut self, cfg: &Config) {
        if self.arip.as_ref().map(|(_, c)| c) != cfg.arip.as_ref() {
            if let Some((t, _)) = self.arip.take() {
                t.stop().await;
                tracing::info!("ARIP stopped");
                if self.learned.forget(crate::proto::Source::Arip) {
                    self.dirty = true;
                }
            }
            if let Some(ac) = cfg.arip.clone() {
                match arip::AripTask::start(&ac, &self.nl, &self.links, self.proto_tx.clone()).await
                {
                    Ok(t) => self.arip = Some((t, ac)),
                    Err(e) => tracing::error!(error = %e, "ARIP not started"),
                }
            }
        }
        // RIPng metrics: 1..=15.
        let want = self
            .served_anycast(cfg)
            .into_iter()
            .map(|(a, d)| (a, d.clamp(1, 15) as u8))
            .collect();
        if let Some((t, _)) = &mut self.arip {
            t.set_local_anycast(want);
        }
    }

    /// Starts, restarts or stops the ARD speakers to match `cfg`.
    async fn sync_ard(&mut self, cfg: &Config) {
        let want_router = cfg.ard.clone();
        if self.ard_router.as_ref().map(|(_, c)| c) != want_router.as_ref() {
            if self.ard_router.take().is_some() {
                tracing::info!("ARD router stopped");
                if self.learned.forget(crate::proto::Source::Ard) {
                    self.dirty = true;
                }
            }
            if let Some(rc) = want_router {
                match ard::ArdTask::router(&rc, &self.nl, &self.links, self.proto_tx.clone()).await
                {
                    Ok(t) => self.ard_router = Some((t, rc)),
                    Err(e) => tracing::error!(error = %e, "ARD router not started"),
                }
            }
        }
        let want_member = cfg
            .member_role
            .as_ref()
            .and_then(|m| m.ard.clone().map(|a| (a, m.addresses.clone())));
        let running = self.ard_member.as_ref().map(|(_, c, a)| (c, a));
        if running != want_member.as_ref().map(|(c, a)| (c, a)) {
            if let Some((t, _, _)) = self.ard_member.take() {
                t.shutdown(Duration::from_millis(500)).await;
                tracing::info!("ARD member stopped (leaves sent)");
            }
            if let Some((mc, addrs)) = want_member {
                match ard::ArdTask::member(&mc, &addrs, &self.nl, &self.links).await {
                    Ok(t) => self.ard_member = Some((t, mc, addrs)),
                    Err(e) => tracing::error!(error = %e, "ARD member not started"),
                }
            }
        }
        if let (Some((t, _, addrs)), Some(role)) = (&self.ard_member, &cfg.member_role) {
            t.set_draining(addrs, role.draining);
        }
    }

    /// Resync with the running config (timer, kernel events).
    async fn resync(&mut self) {
        // A protocol that could not start (an interface without its
        // link-local address yet) is tried again.
        let cfg = self.cfg.clone();
        self.sync_protocols(&cfg).await;
        let cfg = self.cfg.clone();
        let overlays = self.overlays.clone();
        if let Err(e) = self.converge(&cfg, &overlays).await {
            tracing::error!(error = %e, "resync failed; the FIB is unchanged, will retry");
        }
    }

    fn save_state(&self) {
        if let Err(e) = state_file::save(&self.cfg.daemon.state_file, &self.overlays, None) {
            tracing::error!(error = %e, "cannot save the runtime overlays");
        }
    }
}
