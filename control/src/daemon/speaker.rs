//! One task per protocol speaker (ARD router, ARD member, ARIP, AOSPF): it
//! owns the socket and drives the pure core, which sits behind a std Mutex
//! held only for one call (the management handler reads views, the health
//! checker and the daemon's RIB feed call in between).
//!
//! ```text
//!   LinkSocket ──recv──► task ──handle_packet──► core ──drain──► LinkSocket::send
//!                      ▲ sleep until poll_timeout     └──► Learned (RIB) / KernelRoute
//!   daemon / health ───┘ (lock, call, wake)                 ──mpsc──► daemon loop
//! ```

use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use super::link::{LinkSocket, Received};
use crate::arip::KernelRoute;
use crate::proto::clock::MonoClock;
use crate::proto::{Instant, RibChange, Source};

/// A RIB change with the draining flag beside it (ARD reports it).
pub type Learn = (RibChange, bool);

/// A datagram a core wants sent.
#[derive(Debug, Clone)]
pub struct Datagram {
    pub ifindex: u32,
    /// The link-local source (`::`: the kernel's choice).
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub dst_port: u16,
    pub bytes: Vec<u8>,
    /// This datagram's hop limit (None: the socket's).
    pub hop_limit: Option<u8>,
    /// A Router Alert option of this value (RFC 2711).
    pub router_alert: Option<u16>,
}

/// What the cores ask of the daemon, batched per wake-up.
#[derive(Debug, Default)]
pub struct Outputs {
    pub send: Vec<Datagram>,
    pub learn: Vec<Learn>,
    pub kernel: Vec<KernelRoute>,
    /// Whole member sets per anycast address (PIA-SM's groups).
    pub whole: Vec<Whole>,
    /// The core's graceful restart ended with this drain (its whole table
    /// is in `learn`): set by the speaker, passed on as
    /// [`ProtoEvent::restarted`].
    pub restarted: Option<Source>,
}

/// Every member a source gives one anycast address (none: it gives none),
/// and the Maglev table length its group must have (a PIA-SM shortcut
/// copies the core's table, docs/piasm.md §8).
pub type Whole = (
    Ipv6Addr,
    Source,
    Vec<crate::config::MemberConfig>,
    Option<u32>,
);

/// What reaches the daemon loop.
#[derive(Debug)]
pub struct ProtoEvent {
    pub learn: Vec<Learn>,
    pub kernel: Vec<KernelRoute>,
    pub whole: Vec<Whole>,
    /// This protocol's graceful restart is over: what the daemon restored
    /// for it goes, `learn` (its whole table) takes its place.
    pub restarted: Option<Source>,
}

/// A pure protocol core as the task drives it.
pub trait Speaker: Send + 'static {
    fn handle_packet(&mut self, now: Instant, r: &Received, bytes: &[u8]);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_timeout(&self) -> Option<Instant>;
    /// Moves every pending output into `out`.
    fn drain(&mut self, out: &mut Outputs);
}

pub struct Task<S: Speaker> {
    core: Arc<Mutex<S>>,
    wake: Arc<Notify>,
    pub clock: MonoClock,
    handle: JoinHandle<()>,
}

impl<S: Speaker> Task<S> {
    pub fn spawn(
        core: S,
        sock: LinkSocket,
        clock: MonoClock,
        events: Option<mpsc::UnboundedSender<ProtoEvent>>,
    ) -> Task<S> {
        let core = Arc::new(Mutex::new(core));
        let wake = Arc::new(Notify::new());
        let handle = tokio::spawn(run(core.clone(), wake.clone(), sock, clock, events));
        Task {
            core,
            wake,
            clock,
            handle,
        }
    }

    /// The core, for one call; call [`Task::wake`] after changing it.
    pub fn core(&self) -> MutexGuard<'_, S> {
        lock(&self.core)
    }

    pub fn shared(&self) -> (Arc<Mutex<S>>, Arc<Notify>) {
        (self.core.clone(), self.wake.clone())
    }

    /// Makes the task drain the core's output and re-arm its timer.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits (up to `grace`) until the core has no timer left, then stops;
    /// true if it got there.
    pub async fn stop_when_idle(self, grace: Duration) -> bool {
        self.wake();
        let deadline = tokio::time::Instant::now() + grace;
        let mut idle = false;
        while tokio::time::Instant::now() < deadline {
            idle = self.core().poll_timeout().is_none();
            if idle {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Let the last drain go out.
        tokio::time::sleep(Duration::from_millis(20)).await;
        idle
    }
}

impl<S: Speaker> Drop for Task<S> {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// A helper task (poller, health check, second socket) that dies with
/// whatever holds it.
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub fn lock<S>(m: &Mutex<S>) -> MutexGuard<'_, S> {
    // A panic inside a core call poisons the lock; the core's state is
    // still the best there is.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Most packet handling in a row before the speaker lets the others run.
const SLICE: Duration = Duration::from_millis(2);

async fn run<S: Speaker>(
    core: Arc<Mutex<S>>,
    wake: Arc<Notify>,
    sock: LinkSocket,
    clock: MonoClock,
    events: Option<mpsc::UnboundedSender<ProtoEvent>>,
) {
    let mut buf = vec![0u8; 65536];
    let mut slice = std::time::Instant::now();
    loop {
        let mut out = Outputs::default();
        let deadline = {
            let mut c = lock(&core);
            c.drain(&mut out);
            c.poll_timeout()
        };
        for d in out.send {
            let dst = SocketAddrV6::new(d.dst, d.dst_port, 0, 0);
            if let Err(e) = sock
                .send_with(&d.bytes, d.src, d.ifindex, dst, d.hop_limit, d.router_alert)
                .await
            {
                tracing::warn!(transport = %sock.transport().label(), ifindex = d.ifindex, dst = %d.dst, error = %e, "send failed");
            }
        }
        if !out.learn.is_empty()
            || !out.kernel.is_empty()
            || !out.whole.is_empty()
            || out.restarted.is_some()
        {
            if let Some(ev) = &events {
                let _ = ev.send(ProtoEvent {
                    learn: out.learn,
                    kernel: out.kernel,
                    whole: out.whole,
                    restarted: out.restarted,
                });
            }
        }
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(clock.to_std(at).into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = sock.recv(&mut buf) => match r {
                Ok(r) => {
                    let len = r.len.min(buf.len());
                    lock(&core).handle_packet(clock.now(), &r, &buf[..len]);
                    // The daemon is one thread. A peer flooding us keeps this
                    // socket readable, so the task would run a whole coop
                    // budget of packets at a time and the I/O driver
                    // (management requests, netlink answers) would wait
                    // seconds in between: after a slice of work, yield_now
                    // lets the driver and the other tasks run first.
                    if slice.elapsed() >= SLICE {
                        tokio::task::yield_now().await;
                        slice = std::time::Instant::now();
                    }
                }
                Err(e) => {
                    tracing::warn!(transport = %sock.transport().label(), error = %e, "receive failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = sleep => lock(&core).handle_timeout(clock.now()),
            _ = wake.notified() => {}
        }
    }
}
