//! The plain unicast routes a routing protocol (ARIP, AOSPF) puts in the
//! kernel's main table (protocol 0xa6): one writer task per protocol applies
//! them on the daemon's netlink connection, in the order the core emitted
//! them, and remembers what it installed, so that stopping the protocol
//! removes exactly its own routes — never another protocol's.
//!
//! ```text
//!  speaker task ──RouteTx::send(Vec<Change>)──► writer ──netlink──► kernel
//!  RouteWriter::stop ──Stop──────────────────►  └─ removes what it installed, ends
//!  RouteWriter::detach ──Detach──────────────►  └─ leaves them, says which, ends
//!  speaker task ──RouteTx::sweep──────────────►  └─ removes inherited ones not taken over
//! ```
//!
//! Graceful restart (AOSPF): the old process's writer is detached, not
//! stopped, and the routes it installed are saved (daemon/state_file.rs);
//! the new process's writer inherits them ([`RouteWriter::inherit`]): they
//! count as installed, so a change to one of them replaces it in place (no
//! delete, no gap) or removes it, and once the new table is complete a
//! sweep removes those it did not name.
//!
//! The daemon is one thread, and a neighbour flooding us keeps the speaker
//! busy: requests are pipelined (a chunk is handed to the connection at
//! once, in order, and the kernel answers them in that order), so a burst
//! costs a few scheduler turns, not one per route; of several changes of
//! one prefix waiting together only the last is applied. Routes left by a
//! previous run that crashed are removed once when the daemon starts
//! (`Netlink::remove_our_routes`), but for those a graceful restart hands
//! over. Routes of one protocol are told apart from another's (both are
//! protocol 0xa6) by the writer's own record, saved with the restart —
//! not by metric, which ARIP's and AOSPF's ranges share.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::neigh::Netlink;

/// Most kernel route requests in flight at once.
const PIPELINE: usize = 256;

/// A route to install, replacing whatever this protocol installed for its
/// prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub prefix: Ipv6Addr,
    pub plen: u8,
    /// (next hop, ifindex); several make one multipath route.
    pub nexthops: Vec<(Ipv6Addr, u32)>,
    pub metric: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Install(Route),
    Remove { prefix: Ipv6Addr, plen: u8 },
}

impl Change {
    /// Install (`add`) or remove this protocol's route to prefix/plen.
    pub fn new(
        add: bool,
        prefix: Ipv6Addr,
        plen: u8,
        nexthops: Vec<(Ipv6Addr, u32)>,
        metric: u32,
    ) -> Change {
        if add {
            Change::Install(Route {
                prefix,
                plen,
                nexthops,
                metric,
            })
        } else {
            Change::Remove { prefix, plen }
        }
    }

    fn key(&self) -> (Ipv6Addr, u8) {
        match self {
            Change::Install(r) => (r.prefix, r.plen),
            Change::Remove { prefix, plen } => (*prefix, *plen),
        }
    }
}

/// The kernel stores metric 0 as 1024 (IP6_RT_PRIO_USER); what is
/// remembered must be what a delete has to name.
fn kernel_metric(m: u32) -> u32 {
    if m == 0 {
        1024
    } else {
        m
    }
}

/// What a writer holds in the kernel: (prefix, plen) → kernel metric.
pub type Installed = BTreeMap<(Ipv6Addr, u8), u32>;

enum Msg {
    Changes(Vec<Change>),
    /// Removes the inherited routes no change has named since.
    Sweep,
    /// Ends, leaving every route in place; answers with what they are.
    Detach(oneshot::Sender<Installed>),
    Stop,
}

/// Where a speaker sends its kernel route changes.
#[derive(Clone)]
pub struct RouteTx(mpsc::UnboundedSender<Msg>);

impl RouteTx {
    pub fn send(&self, changes: Vec<Change>) {
        if !changes.is_empty() {
            // Only fails once the writer is gone, i.e. the protocol stops.
            let _ = self.0.send(Msg::Changes(changes));
        }
    }

    /// Once the changes sent so far are applied, removes the inherited
    /// routes none of them named (the new table is complete).
    pub fn sweep(&self) {
        let _ = self.0.send(Msg::Sweep);
    }
}

/// One protocol's writer task.
pub struct RouteWriter {
    tx: RouteTx,
    handle: Option<JoinHandle<()>>,
    label: &'static str,
}

impl RouteWriter {
    /// `label` names the protocol in logs (`ARIP`, `AOSPF`).
    pub fn spawn(nl: Netlink, label: &'static str) -> RouteWriter {
        RouteWriter::inherit(nl, label, Installed::new())
    }

    /// A writer that takes over `inherited`, the routes this protocol's
    /// writer in the previous process left in the kernel (graceful
    /// restart): they count as installed until a sweep
    /// ([`RouteTx::sweep`]) removes those no change named.
    pub fn inherit(nl: Netlink, label: &'static str, inherited: Installed) -> RouteWriter {
        let (tx, rx) = mpsc::unbounded_channel();
        RouteWriter {
            tx: RouteTx(tx),
            handle: Some(tokio::spawn(write(nl, rx, label, inherited))),
            label,
        }
    }

    pub fn sender(&self) -> RouteTx {
        self.tx.clone()
    }

    /// Removes every route this writer installed and ends it. Changes sent
    /// before are not applied any more (what they would install goes
    /// anyway); call it once the speaker is stopped, so nothing is sent
    /// after. Waits at most `grace`.
    pub async fn stop(mut self, grace: Duration) {
        let Some(mut h) = self.handle.take() else {
            return;
        };
        let _ = self.tx.0.send(Msg::Stop);
        if tokio::time::timeout(grace, &mut h).await.is_err() {
            h.abort();
            tracing::warn!(
                protocol = self.label,
                "kernel routes not all removed within {grace:?}"
            );
        }
    }

    /// Applies the changes sent so far, then ends leaving every route in
    /// the kernel; returns them (what a graceful restart saves). Waits at
    /// most `grace` (None after that: the routes stay, unnamed).
    pub async fn detach(mut self, grace: Duration) -> Option<Installed> {
        let h = self.handle.take()?;
        let (tx, rx) = oneshot::channel();
        let _ = self.tx.0.send(Msg::Detach(tx));
        let r = tokio::time::timeout(grace, rx).await;
        h.abort();
        match r {
            Ok(Ok(installed)) => Some(installed),
            _ => {
                tracing::warn!(
                    protocol = self.label,
                    "kernel routes not handed over within {grace:?}"
                );
                None
            }
        }
    }
}

impl Drop for RouteWriter {
    /// Without [`RouteWriter::stop`] (the daemon exiting): abort, do not wait.
    fn drop(&mut self) {
        if let Some(h) = &self.handle {
            h.abort();
        }
    }
}

async fn write(
    nl: Netlink,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    label: &'static str,
    inherited: Installed,
) {
    let mut installed = inherited.clone();
    // Inherited routes no change has named yet.
    let mut untouched = inherited;
    if !untouched.is_empty() {
        tracing::info!(
            protocol = label,
            routes = untouched.len(),
            "kernel routes of the previous process taken over"
        );
    }
    while let Some(first) = rx.recv().await {
        // The last change of each prefix among all that wait, up to the
        // first message that is not a change.
        let mut batch: BTreeMap<(Ipv6Addr, u8), Change> = BTreeMap::new();
        let mut next = Some(first);
        let mut end = None;
        while let Some(m) = next.take() {
            match m {
                Msg::Changes(cs) => batch.extend(cs.into_iter().map(|c| (c.key(), c))),
                other => {
                    end = Some(other);
                    break;
                }
            }
            next = rx.try_recv().ok();
        }
        if matches!(end, Some(Msg::Stop)) {
            remove_all(&nl, installed, label).await;
            return;
        }
        for k in batch.keys() {
            untouched.remove(k);
        }
        apply(&nl, &mut installed, batch.into_values().collect(), label).await;
        match end {
            Some(Msg::Sweep) => {
                let gone = std::mem::take(&mut untouched);
                for k in gone.keys() {
                    installed.remove(k);
                }
                let n = gone.len();
                delete(&nl, gone.into_iter().collect(), label).await;
                tracing::info!(
                    protocol = label,
                    removed = n,
                    kept = installed.len(),
                    "kernel routes of the previous process no longer wanted removed"
                );
            }
            Some(Msg::Detach(tx)) => {
                tracing::info!(
                    protocol = label,
                    routes = installed.len(),
                    "kernel routes left in place (graceful restart)"
                );
                let _ = tx.send(installed);
                return;
            }
            _ => {}
        }
    }
}

async fn apply(nl: &Netlink, installed: &mut Installed, changes: Vec<Change>, label: &'static str) {
    // Routes replaced at another metric: the old one is another kernel
    // route (IPv6 keys routes by prefix and metric) and goes after.
    let mut stale = Vec::new();
    for chunk in changes.chunks(PIPELINE) {
        let results = {
            let held = &*installed;
            futures_util::future::join_all(chunk.iter().map(|c| async move {
                match c {
                    Change::Install(r) => {
                        nl.route_replace_via(r.prefix, r.plen, &r.nexthops, kernel_metric(r.metric))
                            .await
                    }
                    Change::Remove { prefix, plen } => match held.get(&(*prefix, *plen)) {
                        Some(m) => nl.route_delete_metric(*prefix, *plen, Some(*m)).await,
                        // Never installed (or refused): nothing of ours to delete.
                        None => Ok(()),
                    },
                }
            }))
            .await
        };
        for (c, r) in chunk.iter().zip(results) {
            match (c, r) {
                (Change::Install(route), Ok(())) => {
                    let m = kernel_metric(route.metric);
                    if let Some(old) = installed.insert(c.key(), m).filter(|o| *o != m) {
                        stale.push((c.key(), old));
                    }
                    tracing::info!(protocol = label, route = ?route, "kernel route");
                }
                (Change::Remove { .. }, Ok(())) => {
                    if installed.remove(&c.key()).is_some() {
                        tracing::info!(protocol = label, change = ?c, "kernel route");
                    }
                }
                (c, Err(e)) => {
                    tracing::warn!(protocol = label, change = ?c, error = %e, "kernel route not applied")
                }
            }
        }
    }
    delete(nl, stale, label).await;
}

async fn remove_all(nl: &Netlink, installed: Installed, label: &'static str) {
    let n = installed.len();
    delete(nl, installed.into_iter().collect(), label).await;
    tracing::info!(protocol = label, routes = n, "kernel routes removed");
}

async fn delete(nl: &Netlink, routes: Vec<((Ipv6Addr, u8), u32)>, label: &'static str) {
    for chunk in routes.chunks(PIPELINE) {
        let results = futures_util::future::join_all(
            chunk
                .iter()
                .map(|((p, l), m)| nl.route_delete_metric(*p, *l, Some(*m))),
        )
        .await;
        for (((p, l), m), r) in chunk.iter().zip(results) {
            if let Err(e) = r {
                tracing::warn!(protocol = label, prefix = %p, plen = l, metric = m, error = %e, "kernel route not removed");
            }
        }
    }
}
