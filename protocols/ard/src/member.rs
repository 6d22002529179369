//! The member role (docs/ard.md §5): report the anycast addresses this host
//! serves to the routers of each link, answer queries, leave at once.
//!
//! Every report a member sends on an interface is a *full* one (every
//! address it serves, plus Leave records for addresses it dropped lately),
//! so one lost datagram is repaired by the next. Per interface:
//!
//! | event                                  | action                                        |
//! |----------------------------------------|-----------------------------------------------|
//! | start, address added/changed, healthy  | triggered report now, repeated robustness-1 × |
//! | address removed, unhealthy, shutdown   | same, with Leave records                      |
//! | report interval elapsed                | full report (refresh)                         |
//! | general query                          | full report after a random delay ≤ max delay  |
//! | query for an address it serves        | that record after a random delay              |

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::auth::{Keyring, ReplayGuard, SeqCounter};
use anycast6_core::Instant;

use super::counters::{Counters, Reject};
use super::packet::{
    anycast_valid, is_link_local, member_unicast_valid, Message, Packet, Query, Record, RecordType,
    Report, MAX_RECORDS, METRIC_MAX,
};
use super::rng::Rng;
use super::{ConfigError, Transmit, ALL_ROUTERS};

/// One interface the member reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberInterface {
    pub ifindex: u32,
    pub link_local: Ipv6Addr,
}

#[derive(Debug, Clone)]
pub struct MemberConfig {
    pub interfaces: Vec<MemberInterface>,
    /// Carried in every report (the routers use it to tunnel and for AARP).
    pub unicast: Ipv6Addr,
    /// (anycast address, metric); lower metrics are preferred.
    pub addresses: Vec<(Ipv6Addr, u32)>,
    /// Between unsolicited full reports; below `hold_time` (hold / 3 is
    /// the usual choice: two reports may be lost).
    pub report_interval: Duration,
    /// How long routers keep an address after a report (they bound it).
    pub hold_time: Duration,
    /// How many times a triggered report or a leave is sent.
    pub robustness: u8,
    pub keyring: Keyring,
    /// First sequence number (the daemon: ns since the Unix epoch).
    pub seq_start: u64,
    /// Seeds the query-response delays (the daemon: random).
    pub rng_seed: u64,
}

impl MemberConfig {
    /// Defaults for everything but who and what: hold 30 s, reports every
    /// 10 s, robustness 2, no key.
    pub fn new(
        interfaces: Vec<MemberInterface>,
        unicast: Ipv6Addr,
        addresses: Vec<(Ipv6Addr, u32)>,
    ) -> MemberConfig {
        MemberConfig {
            interfaces,
            unicast,
            addresses,
            report_interval: Duration::from_secs(10),
            hold_time: Duration::from_secs(30),
            robustness: 2,
            keyring: Keyring::none(),
            seq_start: 1,
            rng_seed: 0,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.report_interval.is_zero() {
            return Err(ConfigError::DurationZero {
                what: "report_interval",
            });
        }
        if self.report_interval >= self.hold_time {
            return Err(ConfigError::DurationOrder {
                what: "report_interval",
                value: self.report_interval,
                limit_name: "hold_time",
                limit: self.hold_time,
            });
        }
        if self.robustness == 0 {
            return Err(ConfigError::RobustnessZero);
        }
        if !member_unicast_valid(self.unicast) {
            return Err(ConfigError::UnicastInvalid(self.unicast));
        }
        for i in &self.interfaces {
            if !is_link_local(i.link_local) {
                return Err(ConfigError::LinkLocalInvalid(i.link_local));
            }
        }
        for &(a, m) in &self.addresses {
            check_address(a, m)?;
        }
        Ok(())
    }
}

fn check_address(a: Ipv6Addr, metric: u32) -> Result<(), ConfigError> {
    if !anycast_valid(a) {
        return Err(ConfigError::AnycastInvalid(a));
    }
    if metric > METRIC_MAX {
        return Err(ConfigError::MetricInvalid(metric));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
struct Served {
    metric: u32,
    draining: bool,
}

#[derive(Debug, Clone)]
struct PendingResponse {
    at: Instant,
    /// `None`: a full report; `Some`: only these addresses.
    only: Option<BTreeSet<Ipv6Addr>>,
}

#[derive(Debug)]
struct Iface {
    ifindex: u32,
    link_local: Ipv6Addr,
    guard: ReplayGuard,
    /// Lowest maximum hold time heard in a query on this link.
    router_max_hold: Option<Duration>,
    next_periodic: Option<Instant>,
    triggered_left: u8,
    next_triggered: Option<Instant>,
    /// Addresses sent as Change records until the triggered reports end.
    changed: BTreeSet<Ipv6Addr>,
    /// Addresses sent as Leave records, with the sends left.
    leaving: BTreeMap<Ipv6Addr, u8>,
    response: Option<PendingResponse>,
}

pub struct ArdMember {
    cfg: MemberConfig,
    addresses: BTreeMap<Ipv6Addr, Served>,
    healthy: bool,
    shut_down: bool,
    ifaces: Vec<Iface>,
    seq: SeqCounter,
    rng: Rng,
    out: VecDeque<Transmit>,
    counters: Counters,
}

impl ArdMember {
    /// Starts reporting at once on every interface (when there is anything
    /// to report).
    pub fn new(cfg: MemberConfig, now: Instant) -> Result<ArdMember, ConfigError> {
        cfg.validate()?;
        let addresses = cfg
            .addresses
            .iter()
            .map(|&(a, metric)| {
                (
                    a,
                    Served {
                        metric,
                        draining: false,
                    },
                )
            })
            .collect::<BTreeMap<_, _>>();
        let ifaces = cfg
            .interfaces
            .iter()
            .map(|i| Iface {
                ifindex: i.ifindex,
                link_local: i.link_local,
                guard: ReplayGuard::new(),
                router_max_hold: None,
                next_periodic: None,
                triggered_left: 0,
                next_triggered: None,
                changed: BTreeSet::new(),
                leaving: BTreeMap::new(),
                response: None,
            })
            .collect();
        let mut m = ArdMember {
            seq: SeqCounter::starting_at(cfg.seq_start),
            rng: Rng::new(cfg.rng_seed),
            cfg,
            addresses,
            healthy: true,
            shut_down: false,
            ifaces,
            out: VecDeque::new(),
            counters: Counters::default(),
        };
        let all: Vec<_> = m.addresses.keys().copied().collect();
        m.trigger(now, &all, &[]);
        Ok(m)
    }

    /// Healthy and not shut down: announcing its addresses.
    pub fn active(&self) -> bool {
        self.healthy && !self.shut_down
    }

    /// Adds an address or changes its metric; a triggered report follows
    /// when something changed.
    pub fn set_address(
        &mut self,
        now: Instant,
        anycast: Ipv6Addr,
        metric: u32,
    ) -> Result<(), ConfigError> {
        check_address(anycast, metric)?;
        let draining = self.addresses.get(&anycast).is_some_and(|s| s.draining);
        let new = Served { metric, draining };
        if self.addresses.insert(anycast, new) != Some(new) && self.active() {
            self.trigger(now, &[anycast], &[]);
        }
        Ok(())
    }

    /// Marks an address draining (routers keep its flows, send no new ones).
    pub fn set_draining(&mut self, now: Instant, anycast: Ipv6Addr, draining: bool) {
        if let Some(s) = self.addresses.get_mut(&anycast) {
            if s.draining != draining {
                s.draining = draining;
                if self.active() {
                    self.trigger(now, &[anycast], &[]);
                }
            }
        }
    }

    /// Stops serving an address: Leave records now (repeated).
    pub fn remove_address(&mut self, now: Instant, anycast: Ipv6Addr) {
        if self.addresses.remove(&anycast).is_some() && self.active() {
            self.trigger(now, &[], &[anycast]);
        }
    }

    /// The local health check: failing leaves every address, recovering
    /// reports them all again.
    pub fn set_healthy(&mut self, now: Instant, healthy: bool) {
        if self.healthy == healthy || self.shut_down {
            return;
        }
        let all: Vec<_> = self.addresses.keys().copied().collect();
        if healthy {
            self.healthy = true;
            self.trigger(now, &all, &[]);
        } else {
            self.healthy = false;
            self.trigger(now, &[], &all);
        }
    }

    /// Clean exit: leaves for every address; the core then only repeats
    /// them and answers nothing.
    pub fn shutdown(&mut self, now: Instant) {
        if self.shut_down {
            return;
        }
        let all: Vec<_> = if self.healthy {
            self.addresses.keys().copied().collect()
        } else {
            Vec::new()
        };
        self.shut_down = true;
        self.trigger(now, &[], &all);
        for i in &mut self.ifaces {
            i.next_periodic = None;
            i.response = None;
        }
    }

    /// A change: send a full report on every interface now, and again
    /// `robustness - 1` times. Callers check [`Self::active`] first, but
    /// for leaves (sent just after going inactive).
    fn trigger(&mut self, now: Instant, changed: &[Ipv6Addr], left: &[Ipv6Addr]) {
        if changed.is_empty() && left.is_empty() {
            return;
        }
        let robustness = self.cfg.robustness;
        for idx in 0..self.ifaces.len() {
            let i = &mut self.ifaces[idx];
            for a in changed {
                i.leaving.remove(a);
                i.changed.insert(*a);
            }
            for a in left {
                i.changed.remove(a);
                i.leaving.insert(*a, robustness);
            }
            i.triggered_left = robustness;
            self.send_triggered(now, idx);
        }
    }

    fn send_triggered(&mut self, now: Instant, idx: usize) {
        self.send_full(now, idx);
        let retransmit = self.retransmit_interval(idx);
        let i = &mut self.ifaces[idx];
        i.triggered_left = i.triggered_left.saturating_sub(1);
        if i.triggered_left == 0 {
            i.changed.clear();
            i.next_triggered = None;
        } else {
            i.next_triggered = Some(now + retransmit);
        }
    }

    /// The hold time this member announces on interface `idx`: its own,
    /// lowered to what the link's routers accept.
    fn hold(&self, idx: usize) -> Duration {
        match self.ifaces[idx].router_max_hold {
            Some(r) => self.cfg.hold_time.min(r),
            None => self.cfg.hold_time,
        }
    }

    fn report_interval(&self, idx: usize) -> Duration {
        let hold = self.hold(idx);
        if self.cfg.report_interval < hold {
            self.cfg.report_interval
        } else {
            hold / 3
        }
    }

    /// Spacing of triggered repeats: half a report interval, at most 1 s.
    fn retransmit_interval(&self, idx: usize) -> Duration {
        (self.report_interval(idx) / 2).min(Duration::from_secs(1))
    }

    /// Every served address plus pending leaves, `complete` when it fits
    /// one datagram; resets the periodic timer and answers pending queries.
    fn send_full(&mut self, now: Instant, idx: usize) {
        let active = self.active();
        let i = &mut self.ifaces[idx];
        let mut records: Vec<Record> = Vec::new();
        if active {
            for (&a, s) in &self.addresses {
                records.push(Record {
                    kind: if i.changed.contains(&a) {
                        RecordType::Change
                    } else {
                        RecordType::Current
                    },
                    draining: s.draining,
                    metric: s.metric,
                    anycast: a,
                });
            }
        }
        let serving = records.len();
        for (&a, left) in i.leaving.iter_mut() {
            *left -= 1;
            records.push(Record {
                kind: RecordType::Leave,
                draining: false,
                metric: 0,
                anycast: a,
            });
        }
        i.leaving.retain(|_, left| *left > 0);
        i.response = None;
        let interval = self.report_interval(idx);
        self.ifaces[idx].next_periodic = (active && serving > 0).then(|| now + interval);
        if records.is_empty() {
            return;
        }
        let complete = records.len() <= MAX_RECORDS;
        self.send_records(idx, records, complete);
    }

    fn send_records(&mut self, idx: usize, records: Vec<Record>, complete: bool) {
        let hold = self.hold(idx);
        let i = &self.ifaces[idx];
        for chunk in records.chunks(MAX_RECORDS) {
            let p = Packet {
                message: Message::Report(Report {
                    hold_time: hold,
                    member_unicast: self.cfg.unicast,
                    complete,
                    records: chunk.to_vec(),
                }),
                auth: None,
            };
            self.counters.tx_report += 1;
            self.counters.tx_records_leave +=
                chunk.iter().filter(|r| r.kind == RecordType::Leave).count() as u64;
            let bytes = super::seal(&p, i.link_local, &self.cfg.keyring, &mut self.seq);
            self.out.push_back(Transmit {
                ifindex: i.ifindex,
                src: i.link_local,
                dst: ALL_ROUTERS,
                bytes,
            });
        }
    }

    /// One received datagram (queries; anything else is counted and ignored).
    pub fn handle_packet(
        &mut self,
        now: Instant,
        ifindex: u32,
        src: Ipv6Addr,
        hop_limit: u8,
        bytes: &[u8],
    ) {
        let Some(idx) = self.ifaces.iter().position(|i| i.ifindex == ifindex) else {
            self.counters
                .rejected
                .count(Reject::InterfaceUnknown(ifindex));
            return;
        };
        let Some(d) = super::receive(
            bytes,
            src,
            hop_limit,
            &self.cfg.keyring,
            &mut self.ifaces[idx].guard,
            &mut self.counters,
        ) else {
            return;
        };
        match d.packet.message {
            Message::Report(_) => self.counters.rx_report += 1,
            Message::Query(q) => {
                self.counters.rx_query += 1;
                self.on_query(now, idx, q);
            }
        }
    }

    fn on_query(&mut self, now: Instant, idx: usize, q: Query) {
        if !q.max_hold.is_zero() {
            let i = &mut self.ifaces[idx];
            let lowest = i.router_max_hold.map_or(q.max_hold, |h| h.min(q.max_hold));
            i.router_max_hold = Some(lowest);
            // A lower hold may need an earlier refresh.
            let soonest = now + self.report_interval(idx);
            let i = &mut self.ifaces[idx];
            i.next_periodic = i.next_periodic.map(|t| t.min(soonest));
        }
        if !self.active() {
            return;
        }
        let only = match q.anycast {
            None => None,
            Some(a) if self.addresses.contains_key(&a) => Some(BTreeSet::from([a])),
            Some(_) => return,
        };
        if only.is_none() && self.addresses.is_empty() {
            return;
        }
        let at = now + self.rng.up_to(q.max_response_delay);
        let i = &mut self.ifaces[idx];
        i.response = Some(match i.response.take() {
            None => PendingResponse { at, only },
            Some(p) => PendingResponse {
                at: p.at.min(at),
                only: match (p.only, only) {
                    (Some(mut a), Some(b)) => {
                        a.extend(b);
                        Some(a)
                    }
                    _ => None,
                },
            },
        });
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for idx in 0..self.ifaces.len() {
            let i = &self.ifaces[idx];
            if i.next_triggered.is_some_and(|t| t <= now) {
                self.send_triggered(now, idx);
            }
            let i = &self.ifaces[idx];
            if i.next_periodic.is_some_and(|t| t <= now) {
                self.send_full(now, idx);
            }
            let i = &mut self.ifaces[idx];
            if i.response.as_ref().is_some_and(|r| r.at <= now) {
                match i.response.take().and_then(|r| r.only) {
                    None => self.send_full(now, idx),
                    Some(only) => {
                        let records = only
                            .iter()
                            .filter_map(|a| {
                                let s = self.addresses.get(a)?;
                                Some(Record {
                                    kind: RecordType::Current,
                                    draining: s.draining,
                                    metric: s.metric,
                                    anycast: *a,
                                })
                            })
                            .collect::<Vec<_>>();
                        if !records.is_empty() && self.active() {
                            self.send_records(idx, records, false);
                        }
                    }
                }
            }
        }
    }

    pub fn poll_output(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ifaces
            .iter()
            .flat_map(|i| {
                [
                    i.next_triggered,
                    i.next_periodic,
                    i.response.as_ref().map(|r| r.at),
                ]
            })
            .flatten()
            .min()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn view(&self) -> MemberView {
        MemberView {
            unicast: self.cfg.unicast,
            healthy: self.healthy,
            shut_down: self.shut_down,
            addresses: self
                .addresses
                .iter()
                .map(|(&anycast, s)| MemberAddressView {
                    anycast,
                    metric: s.metric,
                    draining: s.draining,
                })
                .collect(),
            interfaces: self
                .ifaces
                .iter()
                .enumerate()
                .map(|(idx, i)| MemberInterfaceView {
                    ifindex: i.ifindex,
                    link_local: i.link_local,
                    hold_ms: self.hold(idx).as_millis() as u64,
                    report_interval_ms: self.report_interval(idx).as_millis() as u64,
                    leaving: i.leaving.keys().copied().collect(),
                })
                .collect(),
        }
    }
}

/// The member's state, for the management API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberView {
    pub unicast: Ipv6Addr,
    pub healthy: bool,
    pub shut_down: bool,
    pub addresses: Vec<MemberAddressView>,
    pub interfaces: Vec<MemberInterfaceView>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberAddressView {
    pub anycast: Ipv6Addr,
    pub metric: u32,
    pub draining: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemberInterfaceView {
    pub ifindex: u32,
    pub link_local: Ipv6Addr,
    pub hold_ms: u64,
    pub report_interval_ms: u64,
    pub leaving: Vec<Ipv6Addr>,
}
