//! The member's registrations (docs/mga.md §6.2): for every (home agent,
//! anycast address) one Binding Update in flight or a live binding,
//! retransmitted with back-off, refreshed before it lapses, resynchronised
//! on Status 135, withdrawn while the health check fails and on exit.
//! Pure: decoded acknowledgements and a clock in, updates to send out.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::clock::Instant;
use serde::Serialize;

/// First retransmission of an unanswered Binding Update (RFC 6275 §11.8:
/// INITIAL_BINDACK_TIMEOUT), doubled up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(32);

/// A Binding Update the member wants sent (the caller encodes, seals and
/// sends it from the care-of address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    pub home_agent: Ipv6Addr,
    pub home: Ipv6Addr,
    pub seq: u16,
    /// Zero: deregistration.
    pub lifetime: Duration,
    pub metric: u32,
    pub draining: bool,
}

/// A Binding Acknowledgement, decoded and authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub home_agent: Ipv6Addr,
    pub home: Ipv6Addr,
    pub status: u8,
    pub seq: u16,
    pub lifetime: Duration,
    /// Binding Refresh Advice, when the home agent gave one.
    pub refresh: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// An update is in flight; no live binding.
    Registering,
    /// Acknowledged; refreshed at `refresh_at`.
    Registered,
    /// A deregistration is in flight (health check failing, or exit).
    Deregistering,
    /// Deregistered and acknowledged (or given up at exit).
    Idle,
}

#[derive(Debug, Clone, Serialize)]
pub struct Registration {
    pub home_agent: Ipv6Addr,
    pub home: Ipv6Addr,
    pub state: State,
    pub seq: u16,
    pub lifetime_s: u64,
    pub last_status: Option<u8>,
    pub retransmits: u64,
    #[serde(skip)]
    expires: Option<Instant>,
    #[serde(skip)]
    next: Option<Instant>,
    #[serde(skip)]
    backoff: Duration,
    #[serde(skip)]
    in_flight: Option<Update>,
}

impl Registration {
    /// Live at `now`: acknowledged and not lapsed.
    pub fn live(&self, now: Instant) -> bool {
        self.expires.is_some_and(|e| e > now)
    }
}

#[derive(Debug, Clone)]
pub struct Member {
    lifetime: Duration,
    metric: u32,
    draining: bool,
    /// Health check passing (registrations wanted).
    healthy: bool,
    regs: BTreeMap<(Ipv6Addr, Ipv6Addr), Registration>,
    out: Vec<Update>,
}

impl Member {
    /// `home_agents` × `homes`, registered from `now` on; sequence
    /// numbers start at `seq_start` (random at start, so a restarted member
    /// is not refused for reusing numbers; RFC 6275 §11.7.1).
    pub fn new(
        now: Instant,
        home_agents: &[Ipv6Addr],
        homes: &[Ipv6Addr],
        lifetime: Duration,
        metric: u32,
        seq_start: u16,
    ) -> Member {
        let mut m = Member {
            lifetime,
            metric,
            draining: false,
            healthy: true,
            regs: BTreeMap::new(),
            out: Vec::new(),
        };
        m.set_home_agents(now, home_agents, homes, seq_start);
        m
    }

    /// The home agents now known (config, or a discovery reply): new ones
    /// are registered with at once, forgotten ones dropped.
    pub fn set_home_agents(
        &mut self,
        now: Instant,
        home_agents: &[Ipv6Addr],
        homes: &[Ipv6Addr],
        seq_start: u16,
    ) {
        self.regs
            .retain(|(ha, h), _| home_agents.contains(ha) && homes.contains(h));
        for ha in home_agents {
            for h in homes {
                self.regs.entry((*ha, *h)).or_insert(Registration {
                    home_agent: *ha,
                    home: *h,
                    state: State::Idle,
                    seq: seq_start.wrapping_sub(1),
                    lifetime_s: 0,
                    last_status: None,
                    retransmits: 0,
                    expires: None,
                    next: Some(now),
                    backoff: INITIAL_BACKOFF,
                    in_flight: None,
                });
            }
        }
        self.handle_timeout(now);
    }

    /// The health check's verdict (docs/mga.md §6.2): failing withdraws
    /// every registration, passing makes them again.
    pub fn set_healthy(&mut self, now: Instant, healthy: bool) {
        if self.healthy != healthy {
            self.healthy = healthy;
            for r in self.regs.values_mut() {
                r.next = Some(now);
                r.backoff = INITIAL_BACKOFF;
            }
            self.handle_timeout(now);
        }
    }

    /// Draining (wants no new flows): sent at once with the next update.
    pub fn set_draining(&mut self, now: Instant, draining: bool) {
        if self.draining != draining {
            self.draining = draining;
            for r in self.regs.values_mut() {
                r.next = Some(now);
            }
            self.handle_timeout(now);
        }
    }

    /// A Binding Refresh Request from `home_agent` (docs/mga.md §4.4):
    /// its registrations go out again now.
    pub fn refresh_now(&mut self, now: Instant, home_agent: Ipv6Addr) -> bool {
        let mut any = false;
        for r in self
            .regs
            .values_mut()
            .filter(|r| r.home_agent == home_agent)
        {
            if self.healthy {
                r.next = Some(now);
                r.in_flight = None;
                any = true;
            }
        }
        if any {
            self.handle_timeout(now);
        }
        any
    }

    /// The home agents whose registration for `home` is live now, in the
    /// order they were given.
    pub fn live_home_agents(&self, now: Instant, home: Ipv6Addr) -> Vec<Ipv6Addr> {
        self.regs
            .values()
            .filter(|r| r.home == home && r.live(now))
            .map(|r| r.home_agent)
            .collect()
    }

    /// Clean exit: one deregistration to every home agent where a binding
    /// may live (not waited for).
    pub fn shutdown(&mut self, now: Instant) {
        self.healthy = false;
        for r in self.regs.values_mut() {
            if r.live(now) || r.state == State::Registering {
                r.next = Some(now);
            } else {
                r.next = None;
            }
        }
        self.handle_timeout(now);
        for r in self.regs.values_mut() {
            r.next = None;
        }
    }

    pub fn handle_ack(&mut self, now: Instant, a: &Ack) -> bool {
        let Some(r) = self.regs.get_mut(&(a.home_agent, a.home)) else {
            return false;
        };
        let Some(sent) = r.in_flight else {
            return false;
        };
        r.last_status = Some(a.status);
        match a.status {
            0 | 1 if a.seq == sent.seq => {
                r.in_flight = None;
                r.backoff = INITIAL_BACKOFF;
                r.retransmits = 0;
                if sent.lifetime.is_zero() || a.lifetime.is_zero() {
                    r.state = State::Idle;
                    r.expires = None;
                    r.lifetime_s = 0;
                    r.next = self
                        .healthy
                        .then_some(now + INITIAL_BACKOFF)
                        .filter(|_| !sent.lifetime.is_zero());
                } else {
                    r.state = State::Registered;
                    r.expires = Some(now + a.lifetime);
                    r.lifetime_s = a.lifetime.as_secs();
                    let refresh = a
                        .refresh
                        .filter(|d| !d.is_zero() && *d < a.lifetime)
                        .unwrap_or(a.lifetime / 2);
                    r.next = Some(now + refresh);
                }
                true
            }
            135 => {
                // Out of window: continue after the home agent's number.
                r.seq = a.seq;
                r.in_flight = None;
                r.next = Some(now);
                self.handle_timeout(now);
                true
            }
            0 | 1 => false, // an answer to an older update
            _ => {
                // Refused (129 not served, 130 full, ...): try again later.
                r.in_flight = None;
                r.backoff = MAX_BACKOFF;
                r.next = Some(now + MAX_BACKOFF);
                if !r.live(now) {
                    r.state = State::Registering;
                }
                true
            }
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let want_lifetime = if self.healthy {
            self.lifetime
        } else {
            Duration::ZERO
        };
        for r in self.regs.values_mut() {
            if r.expires.is_some_and(|e| e <= now) {
                r.expires = None;
                r.lifetime_s = 0;
                if r.state == State::Registered {
                    r.state = State::Registering;
                }
            }
            let Some(at) = r.next else { continue };
            if at > now {
                continue;
            }
            // Nothing to withdraw, nothing wanted: stay idle.
            if want_lifetime.is_zero()
                && !r.live(now)
                && r.in_flight.is_none()
                && r.state != State::Registering
            {
                r.state = State::Idle;
                r.next = None;
                continue;
            }
            let retransmit = r.in_flight.is_some_and(|u| u.lifetime == want_lifetime);
            if retransmit {
                r.retransmits += 1;
            } else {
                r.backoff = INITIAL_BACKOFF;
            }
            r.seq = r.seq.wrapping_add(1);
            let u = Update {
                home_agent: r.home_agent,
                home: r.home,
                seq: r.seq,
                lifetime: want_lifetime,
                metric: self.metric,
                draining: self.draining,
            };
            r.in_flight = Some(u);
            r.state = if want_lifetime.is_zero() {
                State::Deregistering
            } else if r.live(now) {
                State::Registered
            } else {
                State::Registering
            };
            r.next = Some(now + r.backoff);
            r.backoff = (r.backoff * 2).min(MAX_BACKOFF);
            self.out.push(u);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.regs
            .values()
            .flat_map(|r| [r.next, r.expires])
            .flatten()
            .min()
    }

    pub fn poll_update(&mut self) -> Option<Update> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.remove(0))
        }
    }

    pub fn registrations(&self) -> impl Iterator<Item = &Registration> + '_ {
        self.regs.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn ha() -> Ipv6Addr {
        a("2001:db8:a0::1")
    }

    fn home() -> Ipv6Addr {
        a("2001:db8:a0::aa")
    }

    fn drain(m: &mut Member) -> Vec<Update> {
        std::iter::from_fn(|| m.poll_update()).collect()
    }

    fn ack(u: &Update, status: u8, lifetime_s: u64) -> Ack {
        Ack {
            home_agent: u.home_agent,
            home: u.home,
            status,
            seq: u.seq,
            lifetime: Duration::from_secs(lifetime_s),
            refresh: None,
        }
    }

    #[test]
    fn registers_retransmits_with_backoff_and_refreshes() {
        let t0 = Instant::ZERO;
        let mut m = Member::new(t0, &[ha()], &[home()], 60 * S, 7, 100);
        let u = drain(&mut m);
        assert_eq!(u.len(), 1);
        assert_eq!((u[0].seq, u[0].lifetime, u[0].metric), (100, 60 * S, 7));
        // No answer: 1 s, then 2 s, then 4 s later, each a new number.
        let mut t = t0;
        let mut gaps = Vec::new();
        for _ in 0..3 {
            let next = m.poll_timeout().unwrap();
            gaps.push(next.saturating_since(t));
            t = next;
            m.handle_timeout(t);
            assert_eq!(drain(&mut m).len(), 1);
        }
        assert_eq!(gaps, vec![S, 2 * S, 4 * S]);
        let last = m.registrations().next().unwrap().seq;
        assert_eq!(last, 103);
        // Acknowledged (the last one): refreshed at half the lifetime.
        let u = Update { seq: last, ..u[0] };
        assert!(m.handle_ack(t, &ack(&u, 0, 40)));
        assert_eq!(m.registrations().next().unwrap().state, State::Registered);
        assert_eq!(m.poll_timeout(), Some(t + 20 * S));
        m.handle_timeout(t + 20 * S);
        let r = drain(&mut m);
        assert_eq!((r.len(), r[0].seq), (1, 104));
        // Still live while the refresh is in flight.
        assert!(m.registrations().next().unwrap().live(t + 21 * S));
    }

    #[test]
    fn out_of_window_resynchronises_at_once() {
        let t = Instant::ZERO;
        let mut m = Member::new(t, &[ha()], &[home()], 60 * S, 1, 5);
        let u = drain(&mut m)[0];
        let mut a135 = ack(&u, 135, 0);
        a135.seq = 900;
        assert!(m.handle_ack(t, &a135));
        let again = drain(&mut m);
        assert_eq!(again[0].seq, 901);
        assert!(m.handle_ack(t, &ack(&again[0], 0, 60)));
        assert!(m.registrations().next().unwrap().live(t));
    }

    #[test]
    fn health_check_failure_deregisters_and_recovery_registers() {
        let t = Instant::ZERO;
        let mut m = Member::new(t, &[ha(), a("2001:db8:a1::1")], &[home()], 60 * S, 1, 1);
        let us = drain(&mut m);
        assert_eq!(us.len(), 2, "one per home agent");
        for u in &us {
            m.handle_ack(t, &ack(u, 0, 60));
        }
        m.set_healthy(t + S, false);
        let d = drain(&mut m);
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|u| u.lifetime.is_zero()));
        for u in &d {
            m.handle_ack(t + S, &ack(u, 0, 0));
        }
        assert!(m
            .registrations()
            .all(|r| r.state == State::Idle && !r.live(t + S)));
        // Nothing more goes out while unhealthy.
        m.handle_timeout(t + 100 * S);
        assert!(drain(&mut m).is_empty());
        m.set_healthy(t + 101 * S, true);
        let r = drain(&mut m);
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|u| u.lifetime == 60 * S));
    }

    #[test]
    fn refusals_wait_the_longest_backoff_and_a_lapsed_binding_registers_again() {
        let t = Instant::ZERO;
        let mut m = Member::new(t, &[ha()], &[home()], 8 * S, 1, 1);
        let u = drain(&mut m)[0];
        assert!(m.handle_ack(t, &ack(&u, 130, 0)));
        assert_eq!(m.poll_timeout(), Some(t + MAX_BACKOFF));
        m.handle_timeout(t + MAX_BACKOFF);
        let u = drain(&mut m)[0];
        let t1 = t + MAX_BACKOFF;
        m.handle_ack(t1, &ack(&u, 0, 8));
        // The refresh is lost and so are its retransmissions: the binding
        // lapses at its lifetime and the member says so.
        m.handle_timeout(t1 + 4 * S);
        drain(&mut m);
        m.handle_timeout(t1 + 8 * S);
        drain(&mut m);
        let r = m.registrations().next().unwrap();
        assert!(!r.live(t1 + 8 * S));
        assert_eq!(r.state, State::Registering);
    }

    #[test]
    fn exit_withdraws_every_live_binding_once() {
        let t = Instant::ZERO;
        let mut m = Member::new(t, &[ha()], &[home(), a("2001:db8:a0::bb")], 60 * S, 1, 1);
        for u in drain(&mut m) {
            m.handle_ack(t, &ack(&u, 0, 60));
        }
        m.shutdown(t + S);
        let d = drain(&mut m);
        assert_eq!(d.len(), 2);
        assert!(d.iter().all(|u| u.lifetime.is_zero()));
        assert_eq!(
            m.poll_timeout().map(|x| x > t + 59 * S),
            Some(true),
            "only the expiries remain"
        );
    }
}
