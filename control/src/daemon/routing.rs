//! What the routing protocols (ARIP, AOSPF) share inside anycast6d beyond
//! the speaker runner: a [`RoutingTask`] is a speaker task, the writer of
//! its kernel routes (daemon/kernel_routes.rs) and the follower of what it
//! originates (daemon/origin.rs), started, fed and stopped the same way.
//!
//! ```text
//!  daemon ─ links ─────────► RoutingSpeaker::follow_links (interfaces) + origination
//!         ─ address event ─► origination
//!         ─ served anycast ► origination
//!         ─ stop ──────────► RoutingSpeaker::shutdown, idle (bounded) ─► routes removed
//!         ─ stop_for_restart ► RoutingSpeaker::prepare_restart, idle (bounded) ─► routes left, listed
//!  core outputs ─ drain ───► packets, RIB changes (runner) / kernel routes (writer)
//! ```

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::MutexGuard;
use std::time::Duration;

use tokio::sync::mpsc;

use super::kernel_routes::{Change, Installed, RouteTx, RouteWriter};
use super::link::LinkSocket;
use super::origin::{Follower, Originating};
use super::speaker::{Datagram, Outputs, ProtoEvent, Task};
use crate::neigh::{LinkInfo, Netlink};
use crate::proto::clock::MonoClock;
use crate::proto::originate::AddressEvent;
use crate::proto::{Instant, RibChange};

/// A clean stop waits this long at most for the core to finish what it
/// sends on the way out (AOSPF: until its flushed LSAs are acknowledged).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// And this long for its kernel routes to be removed.
const ROUTES_GRACE: Duration = Duration::from_secs(10);
/// A planned restart waits this long at most for its announcement to be
/// acknowledged (AOSPF's Grace-LSAs): FRR's ospf6d delays its
/// acknowledgements of them by a fixed 3 s, so 3 s would race it.
const RESTART_GRACE: Duration = Duration::from_millis(4000);

/// A speaker whose core routes: it originates, and may follow the links
/// and say goodbye on a clean stop.
pub trait RoutingSpeaker: Originating {
    /// The links as the kernel shows them now; true if the core was called
    /// (the task is then woken).
    fn follow_links(&mut self, _now: Instant, _links: &[LinkInfo]) -> bool {
        false
    }
    /// A clean stop begins; true if the core has something to send first
    /// (its timer then runs until it has none, at most [`SHUTDOWN_GRACE`]).
    fn shutdown(&mut self, _now: Instant) -> bool {
        false
    }
    /// A planned restart begins (the routes stay); true if the core
    /// supports it and has something to send first (as for `shutdown`).
    fn prepare_restart(&mut self, _now: Instant) -> bool {
        false
    }
}

/// What a planned restart leaves for the next process.
#[derive(Debug, Clone, Default)]
pub struct Handover {
    /// The core got to the end of what it had to send (AOSPF: every
    /// Grace-LSA acknowledged) within the bound.
    pub acknowledged: bool,
    /// The kernel routes it leaves in place (None: the writer did not
    /// answer; they stay, unlisted).
    pub routes: Option<Installed>,
}

pub struct RoutingTask<S: RoutingSpeaker> {
    task: Task<S>,
    /// Stopped after the task.
    writer: RouteWriter,
    follow: Follower,
}

impl<S: RoutingSpeaker> RoutingTask<S> {
    /// Runs `speaker` on `sock`, its kernel routes going through `writer`
    /// (whose sender it holds), and reads the addresses it originates from.
    pub async fn spawn(
        speaker: S,
        sock: LinkSocket,
        clock: MonoClock,
        events: mpsc::UnboundedSender<ProtoEvent>,
        writer: RouteWriter,
        nl: &Netlink,
        links: &[LinkInfo],
    ) -> RoutingTask<S> {
        let task = Task::spawn(speaker, sock, clock, Some(events));
        let follow = Follower::start(&task, nl, links).await;
        RoutingTask {
            task,
            writer,
            follow,
        }
    }

    /// The core, for one call (views).
    pub fn core(&self) -> MutexGuard<'_, S> {
        self.task.core()
    }

    pub fn now(&self) -> Instant {
        self.task.clock.now()
    }

    /// The interfaces as the kernel shows them now: the core follows them
    /// if it does, and origination does.
    pub fn set_links(&mut self, links: &[LinkInfo]) {
        let now = self.now();
        if self.task.core().follow_links(now, links) {
            self.task.wake();
        }
        self.follow.set_links(&self.task, links);
    }

    /// An address appeared, changed or went (the daemon's netlink monitor).
    pub fn address_event(&mut self, ev: AddressEvent) {
        self.follow.address_event(&self.task, ev);
    }

    /// The anycast addresses served now (address → metric).
    pub fn set_served(&mut self, served: BTreeMap<Ipv6Addr, u32>) {
        self.follow.set_served(&self.task, served);
    }

    /// Clean exit: the core says goodbye (bounded wait), then every kernel
    /// route it installed is removed.
    pub async fn stop(self) {
        let (_, writer) = self.wind_down(S::shutdown, SHUTDOWN_GRACE).await;
        writer.stop(ROUTES_GRACE).await;
    }

    /// Planned restart: the core announces it (bounded wait, at most
    /// [`RESTART_GRACE`]), then the task ends leaving every kernel route
    /// it installed in place, and says which they are.
    pub async fn stop_for_restart(self) -> Handover {
        let (acknowledged, writer) = self.wind_down(S::prepare_restart, RESTART_GRACE).await;
        Handover {
            acknowledged,
            routes: writer.detach(ROUTES_GRACE).await,
        }
    }

    /// Ends the task: `begin` tells the core why; if it has something to
    /// send first, its timer runs until it has none (at most `grace`).
    /// Returns whether it got there, and the writer, still running.
    async fn wind_down(
        self,
        begin: fn(&mut S, Instant) -> bool,
        grace: Duration,
    ) -> (bool, RouteWriter) {
        let RoutingTask {
            task,
            writer,
            follow,
        } = self;
        drop(follow);
        let now = task.clock.now();
        let busy = begin(&mut task.core(), now);
        let done = if busy {
            task.stop_when_idle(grace).await
        } else {
            drop(task);
            false
        };
        (done, writer)
    }
}

/// What a routing core asks for, in the runner's terms.
pub enum Routed {
    Send(Datagram),
    /// An anycast member learned or withdrawn (never draining).
    Learn(RibChange),
    Kernel(Change),
}

/// Moves a routing core's outputs (`next` until None) into `out`, and its
/// kernel route changes, in order, to its writer.
pub fn drain(mut next: impl FnMut() -> Option<Routed>, out: &mut Outputs, kernel: &RouteTx) {
    let mut routes = Vec::new();
    while let Some(o) = next() {
        match o {
            Routed::Send(d) => out.send.push(d),
            Routed::Learn(ch) => out.learn.push((ch, false)),
            Routed::Kernel(c) => routes.push(c),
        }
    }
    kernel.send(routes);
}
