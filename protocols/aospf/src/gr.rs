//! Graceful restart (RFC 5187, OSPFv3's form of RFC 3623), both roles.
//!
//! Restarting (anycast6d restarts or is upgraded; the FIB stays pinned and
//! the kernel routes stay in place):
//! ```text
//!  old process: prepare_restart ─► Grace-LSA on every link (period, reason)
//!               acknowledged ─► exit, nothing flushed, no route removed
//!  new process: Instance::restarted(cfg, now, period)
//!               Hellos, exchanges; only Link-LSAs originated; our old LSAs
//!               taken back as they are (no §13.4 supersession); SPF runs
//!               but installs nothing
//!  exit when every neighbour our old Router-LSA lists is Full again (or
//!  the period ends): our LSAs originated (newer than the old ones), the
//!  Grace-LSAs flushed, the routes installed whole (`restarting()` turns
//!  false: the daemon then removes what the old process installed and the
//!  new one did not)
//! ```
//! Helper (a neighbour restarts): a Grace-LSA from a Full neighbour puts
//! it in helper mode until the grace period ends: it stays announced as
//! adjacent (`Neighbor::adjacent`) whatever its state machine goes
//! through, and its inactivity timer does not kill it. The flush of its
//! Grace-LSA, or the end of the period, ends helper mode.
//!
//! Grace-LSA (RFC 5187 §3): LS type 0x000b (link-local scope), link state
//! ID = the interface ID, body of TLVs: Grace Period (type 1, 4 octets,
//! seconds) and Restart Reason (type 2, 1 octet: 0 unknown, 1 software
//! restart, 2 software reload/upgrade, 3 switch to redundant).

use std::net::Ipv4Addr;
use std::time::Duration;

use anycast6_core::Instant;

use crate::config::Config;
use crate::instance::Instance;
use crate::lsdb::{LsaKey, ScopeKey};
use crate::neighbor::NState;
use crate::packet::lsa::{LINK_POINT_TO_POINT, LINK_TRANSIT};
use crate::packet::{LsaBody, LsaType};

pub const GRACE: LsaType = LsaType(0x000b);
pub const REASON_SOFTWARE_RESTART: u8 = 1;

/// The Grace-LSA body.
pub fn grace_body(period: Duration, reason: u8) -> LsaBody {
    let mut b = Vec::with_capacity(16);
    b.extend_from_slice(&1u16.to_be_bytes());
    b.extend_from_slice(&4u16.to_be_bytes());
    b.extend_from_slice(&(period.as_secs() as u32).to_be_bytes());
    b.extend_from_slice(&2u16.to_be_bytes());
    b.extend_from_slice(&1u16.to_be_bytes());
    b.extend_from_slice(&[reason, 0, 0, 0]);
    LsaBody::Other(b)
}

/// The grace period a Grace-LSA body announces.
pub fn grace_period(body: &LsaBody) -> Option<Duration> {
    let LsaBody::Other(b) = body else {
        return None;
    };
    let mut at = 0;
    while at + 4 <= b.len() {
        let t = u16::from_be_bytes([b[at], b[at + 1]]);
        let l = usize::from(u16::from_be_bytes([b[at + 2], b[at + 3]]));
        let v = b.get(at + 4..at + 4 + l)?;
        if t == 1 && l == 4 {
            return Some(Duration::from_secs(u64::from(u32::from_be_bytes([
                v[0], v[1], v[2], v[3],
            ]))));
        }
        at += 4 + l.div_ceil(4) * 4;
    }
    None
}

impl Instance {
    /// A new process after a graceful restart announced by the old one:
    /// in restarting mode for at most `period`.
    pub fn restarted(cfg: Config, now: Instant, period: Duration) -> Instance {
        let mut i = Instance::new(cfg, now);
        i.restarting = Some(now + period);
        i
    }

    /// Whether we are still restarting gracefully (nothing installed yet).
    pub fn restarting(&self) -> bool {
        self.restarting.is_some()
    }

    /// Planned restart: a Grace-LSA on every link to Full neighbours; our
    /// LSAs and routes stay. Then `poll_timeout` runs only until the
    /// Grace-LSAs are acknowledged (at most 2 s) and returns None.
    pub fn prepare_restart(&mut self, now: Instant) {
        let me = self.cfg.router_id;
        let period = self.cfg.grace_period;
        let links: Vec<(u32, u32)> = self
            .ifaces
            .values()
            .filter(|i| i.sends())
            .map(|i| (i.cfg.ifindex, i.id))
            .collect();
        for (ifindex, id) in links {
            let k = LsaKey {
                ls_type: GRACE,
                id: Ipv4Addr::from(id),
                adv_router: me,
            };
            self.originate_lsa(
                now,
                ScopeKey::Link(ifindex),
                k,
                grace_body(period, REASON_SOFTWARE_RESTART),
            );
        }
        self.counters.gr_restarts += 1;
        self.shutdown_until = Some(now + crate::instance::SHUTDOWN_GRACE);
        self.finish(now);
    }

    /// A Grace-LSA was installed (or flushed) on `ifindex`.
    pub(crate) fn grace_lsa(&mut self, now: Instant, s: ScopeKey, k: LsaKey) {
        let ScopeKey::Link(ifindex) = s else {
            return;
        };
        let Some(e) = self.lsdb.get(s, &k) else {
            return;
        };
        let flushed = e.is_max_age(now);
        let left = grace_period(&e.lsa.body)
            .unwrap_or_default()
            .saturating_sub(Duration::from_secs(u64::from(e.age(now))));
        let helper = self.cfg.gr_helper;
        let Some(n) = self
            .ifaces
            .get_mut(&ifindex)
            .and_then(|i| i.neighbors.get_mut(&k.adv_router))
        else {
            return;
        };
        if flushed {
            if n.helping.take().is_some() {
                self.helper_exit(now);
            }
        } else if helper
            && left > Duration::ZERO
            && (n.state == NState::Full || n.helping.is_some())
        {
            n.helping = Some(now + left);
            self.counters.gr_helped += 1;
        }
    }

    /// Helper mode ended for someone: announce what really is.
    fn helper_exit(&mut self, now: Instant) {
        self.originate_all(now);
        self.schedule_spf(now);
    }

    /// Helper timers: the period ended.
    pub(crate) fn helper_timers(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        let n = self.nbr(ifindex, rid);
        if n.helping.is_some_and(|t| t <= now) {
            n.helping = None;
            self.helper_exit(now);
        }
    }

    /// Restarting: done when every neighbour our old Router-LSA announced
    /// is Full again, or the period is over.
    pub(crate) fn check_restart_done(&mut self, now: Instant) {
        let Some(until) = self.restarting else {
            return;
        };
        let me = self.cfg.router_id;
        let old = LsaKey {
            ls_type: LsaType::ROUTER,
            id: Ipv4Addr::UNSPECIFIED,
            adv_router: me,
        };
        let done = now >= until
            || match self.lsdb.get(ScopeKey::Area, &old).map(|e| &e.lsa.body) {
                Some(LsaBody::Router(r)) => r.links.iter().all(|l| {
                    let Some(i) = self.ifaces.values().find(|i| i.id == l.interface_id) else {
                        // That interface is gone: nothing to wait for.
                        return true;
                    };
                    match l.link_type {
                        LINK_POINT_TO_POINT => i
                            .neighbors
                            .get(&l.neighbor_router_id)
                            .is_some_and(|n| n.state == NState::Full),
                        LINK_TRANSIT if l.neighbor_router_id == me => {
                            // We were DR: everyone our Network-LSA listed.
                            let net = LsaKey {
                                ls_type: LsaType::NETWORK,
                                id: Ipv4Addr::from(l.interface_id),
                                adv_router: me,
                            };
                            match self.lsdb.get(ScopeKey::Area, &net).map(|e| &e.lsa.body) {
                                Some(LsaBody::Network(n)) => n.attached.iter().all(|r| {
                                    *r == me
                                        || i.neighbors
                                            .get(r)
                                            .is_some_and(|n| n.state == NState::Full)
                                }),
                                _ => true,
                            }
                        }
                        LINK_TRANSIT => i
                            .neighbors
                            .get(&l.neighbor_router_id)
                            .is_some_and(|n| n.state == NState::Full),
                        _ => true,
                    }
                }),
                // Nobody gave our old Router-LSA back yet.
                _ => false,
            };
        if !done {
            return;
        }
        self.restarting = None;
        self.counters.gr_completed += u64::from(now < until);
        // Our LSAs, newer than the old ones; the Grace-LSAs flushed (no
        // longer wanted); then the routes installed whole.
        self.originate_all(now);
        self.run_spf(now);
    }
}
