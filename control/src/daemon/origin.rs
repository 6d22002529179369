//! What a routing protocol originates (`[<protocol>.originate]`,
//! anycast6_core::originate), followed at run time the same way for every
//! protocol (ARIP, AOSPF): the kernel's addresses, the state of the links
//! and the anycast addresses this router serves feed the speaker's
//! [`Originator`], and each difference is pushed into the core.
//!
//! ```text
//!  start: address dump ─┐                        ┌─► Originating::originate(diff)
//!  KernelEvent::Address ┼─► Originator (policy) ─┤     (under the core's lock)
//!  links (converge) ────┤                        └─► wake the speaker task
//!  served anycast ──────┘
//!  Address(Lost) ─► dump again (a task of its own), events meanwhile replayed
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::speaker::{lock, Speaker, Task};
use crate::neigh::{LinkInfo, Netlink};
use crate::proto::clock::MonoClock;
use crate::proto::originate::{AddressEvent, Diff, Originated, Originator, Policy};
use crate::proto::Instant;

/// A speaker whose core originates prefixes.
pub trait Originating: Speaker {
    /// The protocol in logs (`ARIP`, `AOSPF`).
    const LABEL: &'static str;
    fn origin(&mut self) -> &mut Originator;
    /// Pushes a change of what is originated into the core.
    fn originate(&mut self, now: Instant, d: &Diff);
}

/// An originator for `policy` that knows which links are down already.
pub fn originator(policy: Policy, links: &[LinkInfo]) -> Originator {
    let mut o = Originator::new(policy);
    o.set_down(links_down(links));
    o
}

/// What is originated, for `show <protocol>`: prefix, metric, kind, origin.
pub fn originated_json(o: &Originated) -> Vec<serde_json::Value> {
    o.iter()
        .map(|(p, o)| {
            serde_json::json!({
                "prefix": p, "metric": o.metric, "kind": o.kind, "origin": o.origin,
            })
        })
        .collect()
}

/// Indexes of the interfaces whose link is not up.
pub fn links_down(links: &[LinkInfo]) -> BTreeSet<u32> {
    links.iter().filter(|l| !l.up).map(|l| l.ifindex).collect()
}

/// Feeds one speaker's originator; owns the task that reads the addresses
/// again after lost notifications (aborted with it).
pub struct Follower {
    nl: Netlink,
    dump: Option<JoinHandle<()>>,
}

impl Follower {
    /// Reads every address and applies the link states. The daemon
    /// subscribed to address events before: whatever changes from here on
    /// reaches [`Follower::address_event`].
    pub async fn start<S: Originating>(
        task: &Task<S>,
        nl: &Netlink,
        links: &[LinkInfo],
    ) -> Follower {
        let (core, wake) = task.shared();
        read_addresses(nl.clone(), core, wake, task.clock).await;
        let mut f = Follower {
            nl: nl.clone(),
            dump: None,
        };
        f.set_links(task, links);
        f
    }

    /// The interfaces as the kernel shows them now: addresses on a link
    /// that is down (no carrier, or set down) originate nothing until it
    /// comes back.
    pub fn set_links<S: Originating>(&mut self, task: &Task<S>, links: &[LinkInfo]) {
        let d = self.apply(task, |o| o.set_down(links_down(links)));
        if !d.is_empty() {
            tracing::info!(
                withdrawn = d.withdraw.len(),
                added = d.add.len(),
                "{}: origination follows a link change",
                S::LABEL
            );
        }
    }

    /// An address appeared, changed or went (the daemon's netlink monitor).
    pub fn address_event<S: Originating>(&mut self, task: &Task<S>, ev: AddressEvent) {
        self.apply(task, |o| o.address_event(ev));
    }

    /// The anycast addresses served now (address → metric).
    pub fn set_served<S: Originating>(&mut self, task: &Task<S>, served: BTreeMap<Ipv6Addr, u32>) {
        self.apply(task, |o| o.set_served(served));
    }

    fn apply<S: Originating>(
        &mut self,
        task: &Task<S>,
        change: impl FnOnce(&mut Originator) -> Diff,
    ) -> Diff {
        let now = task.clock.now();
        let mut core = task.core();
        let d = change(core.origin());
        core.originate(now, &d);
        let stale = core.origin().needs_dump();
        drop(core);
        if !d.is_empty() {
            task.wake();
        }
        if stale {
            self.read_addresses_again(task);
        }
        d
    }

    /// Notifications were lost (or the last reading failed): read every
    /// address again, in a task of its own (the daemon loop does not wait).
    fn read_addresses_again<S: Originating>(&mut self, task: &Task<S>) {
        if self.dump.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        tracing::info!("{}: reading the interface addresses again", S::LABEL);
        let (core, wake) = task.shared();
        self.dump = Some(tokio::spawn(read_addresses(
            self.nl.clone(),
            core,
            wake,
            task.clock,
        )));
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Some(d) = &self.dump {
            d.abort();
        }
    }
}

/// Reads every IPv6 address and makes it what is originated from; events
/// arriving meanwhile are replayed on top (`Originator::begin_dump`).
async fn read_addresses<S: Originating>(
    nl: Netlink,
    core: Arc<Mutex<S>>,
    wake: Arc<Notify>,
    clock: MonoClock,
) {
    lock(&core).origin().begin_dump();
    let addrs = nl.all_addresses().await;
    let mut c = lock(&core);
    match addrs {
        Ok(addrs) => {
            let n = addrs.len();
            let d = c.origin().finish_dump(addrs);
            c.originate(clock.now(), &d);
            tracing::debug!(
                addresses = n,
                originated = c.origin().originated().len(),
                "{}: addresses read",
                S::LABEL
            );
        }
        Err(e) => {
            // Read again at the next address event or resync.
            c.origin().abort_dump();
            tracing::warn!(error = %e, "{}: cannot read the interface addresses", S::LABEL);
        }
    }
    drop(c);
    wake.notify_one();
}
