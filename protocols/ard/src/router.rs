//! The router role (docs/ard.md §4): query each interface, learn which
//! member serves which anycast address at what metric, and tell the RIB.
//!
//! Per interface the router keeps, per member (keyed by its link-local
//! source), the addresses it serves, each with its own deadline
//! (last report + the member's hold time, bounded by config). Events:
//!
//! | event                              | action                                   |
//! |------------------------------------|------------------------------------------|
//! | Current/Change record, new address | Upsert                                   |
//! | ... known, metric/draining changed | Upsert                                   |
//! | ... known, unchanged               | deadline refreshed                       |
//! | Leave record                       | Withdraw now                             |
//! | complete Report omits an address   | Withdraw now                             |
//! | deadline passed                    | Withdraw (expired)                       |
//! | query timer                        | general Query to ff02::1                 |
//! | new address, a limit reached       | ignored, counted (`table_full`, `member_limit`, `total_limit`) |
//!
//! Limits (docs/ard.md §4.3): addresses per interface
//! (`max_addresses_per_interface`), and, through a
//! [`RouteLimit`] keyed by (interface, member), per member and in all.
//! Only new addresses are refused: refreshes, changes and leaves of what is
//! held always go through.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::auth::{Keyring, ReplayGuard, SeqCounter};
use anycast6_core::limit::{LimitEvent, Refused, Scope};
use anycast6_core::{Instant, LimitConfig, LimitView, RibChange, RibEntry, RouteLimit, Source};

use super::counters::{Counters, Reject};
use super::packet::{is_link_local, Message, Packet, Query, RecordType, Report};
use super::{ConfigError, Transmit, ALL_NODES};

/// Defaults of the router's limits (docs/ard.md §7).
pub const DEFAULT_MAX_ADDRESSES_PER_INTERFACE: usize = 4096;
pub const DEFAULT_MAX_ADDRESSES_PER_MEMBER: usize = 1024;
pub const DEFAULT_MAX_ADDRESSES: usize = 8192;
pub const DEFAULT_ADDRESSES_WARN_PERCENT: u8 = 75;

#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// Between general queries (MLD: 125 s). Sub-second is allowed.
    pub query_interval: Duration,
    /// Members answer a query after a random delay up to this (MLD: 10 s).
    pub max_response_delay: Duration,
    /// Startup queries sent (a quarter query interval apart); also carried
    /// in queries, for diagnosis (members use their own robustness).
    pub robustness: u8,
    /// A member's hold time is raised to at least this...
    pub min_hold: Duration,
    /// ...and lowered to at most this (also sent in queries).
    pub max_hold: Duration,
    /// Most addresses (over all members) one interface holds; beyond it new
    /// records are counted in `record_errors.table_full` and ignored.
    pub max_addresses_per_interface: usize,
    /// Most addresses one member (`per_key`) and all members together
    /// (`total`) may make the router hold; beyond, new records are counted
    /// in `record_errors.member_limit` / `total_limit` and ignored.
    pub limit: LimitConfig,
    pub keyring: Keyring,
    /// First sequence number of signed queries (the daemon: ns since epoch).
    pub seq_start: u64,
}

impl Default for RouterConfig {
    fn default() -> RouterConfig {
        RouterConfig {
            query_interval: Duration::from_secs(125),
            max_response_delay: Duration::from_secs(10),
            robustness: 2,
            min_hold: Duration::from_millis(100),
            max_hold: Duration::from_secs(260),
            max_addresses_per_interface: DEFAULT_MAX_ADDRESSES_PER_INTERFACE,
            limit: LimitConfig::new(
                DEFAULT_MAX_ADDRESSES_PER_MEMBER,
                DEFAULT_MAX_ADDRESSES,
                DEFAULT_ADDRESSES_WARN_PERCENT,
            ),
            keyring: Keyring::none(),
            seq_start: 1,
        }
    }
}

impl RouterConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (what, d) in [
            ("query_interval", self.query_interval),
            ("min_hold", self.min_hold),
        ] {
            if d.is_zero() {
                return Err(ConfigError::DurationZero { what });
            }
        }
        if self.max_response_delay >= self.query_interval {
            return Err(ConfigError::DurationOrder {
                what: "max_response_delay",
                value: self.max_response_delay,
                limit_name: "query_interval",
                limit: self.query_interval,
            });
        }
        if self.min_hold > self.max_hold {
            return Err(ConfigError::DurationOrder {
                what: "min_hold",
                value: self.min_hold,
                limit_name: "max_hold",
                limit: self.max_hold,
            });
        }
        if self.robustness == 0 {
            return Err(ConfigError::RobustnessZero);
        }
        if self.max_addresses_per_interface == 0 {
            return Err(ConfigError::LimitZero {
                what: "max_addresses_per_interface",
            });
        }
        self.limit.validate().map_err(ConfigError::LimitInvalid)?;
        Ok(())
    }
}

/// What the router asks of the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterOutput {
    Send(Transmit),
    Rib(RibChange),
}

#[derive(Debug, Clone)]
struct Served {
    metric: u32,
    draining: bool,
    expires: Instant,
}

#[derive(Debug, Clone)]
struct Member {
    unicast: Ipv6Addr,
    hold: Duration,
    last_report: Instant,
    addresses: BTreeMap<Ipv6Addr, Served>,
}

#[derive(Debug)]
struct Interface {
    link_local: Ipv6Addr,
    next_query: Instant,
    startup_left: u8,
    members: BTreeMap<Ipv6Addr, Member>,
    guard: ReplayGuard,
}

impl Interface {
    fn address_count(&self) -> usize {
        self.members.values().map(|m| m.addresses.len()).sum()
    }
}

pub struct ArdRouter {
    cfg: RouterConfig,
    interfaces: BTreeMap<u32, Interface>,
    seq: SeqCounter,
    out: VecDeque<RouterOutput>,
    counters: Counters,
    /// Addresses held per (interface, member link-local) and in all.
    limit: RouteLimit<(u32, Ipv6Addr)>,
}

/// RIB distance of a member's metric: one hop plus the metric.
pub fn rib_metric(metric: u32) -> u32 {
    metric.saturating_add(1)
}

fn entry(ifindex: u32, member_ll: Ipv6Addr, m: &Member, anycast: Ipv6Addr, s: &Served) -> RibEntry {
    RibEntry {
        anycast,
        next_hop: member_ll,
        ifindex,
        metric: rib_metric(s.metric),
        member_unicast: Some(m.unicast),
        source: Source::Ard,
    }
}

fn withdraw(ifindex: u32, member_ll: Ipv6Addr, anycast: Ipv6Addr) -> RibChange {
    RibChange::Withdraw {
        anycast,
        next_hop: member_ll,
        ifindex,
        source: Source::Ard,
    }
}

impl ArdRouter {
    pub fn new(cfg: RouterConfig, _now: Instant) -> Result<ArdRouter, ConfigError> {
        cfg.validate()?;
        Ok(ArdRouter {
            seq: SeqCounter::starting_at(cfg.seq_start),
            limit: RouteLimit::new(cfg.limit),
            cfg,
            interfaces: BTreeMap::new(),
            out: VecDeque::new(),
            counters: Counters::default(),
        })
    }

    pub fn config(&self) -> &RouterConfig {
        &self.cfg
    }

    /// Starts ARD on an interface: a first query now, then
    /// `robustness - 1` more a quarter query interval apart (MLD's startup
    /// queries), then one per query interval. Re-adding an interface only
    /// updates its link-local address.
    pub fn add_interface(
        &mut self,
        now: Instant,
        ifindex: u32,
        link_local: Ipv6Addr,
    ) -> Result<(), ConfigError> {
        if !is_link_local(link_local) {
            return Err(ConfigError::LinkLocalInvalid(link_local));
        }
        if let Some(i) = self.interfaces.get_mut(&ifindex) {
            i.link_local = link_local;
            return Ok(());
        }
        self.interfaces.insert(
            ifindex,
            Interface {
                link_local,
                next_query: now,
                startup_left: self.cfg.robustness,
                members: BTreeMap::new(),
                guard: ReplayGuard::new(),
            },
        );
        self.handle_timeout(now);
        Ok(())
    }

    /// Stops ARD on an interface and withdraws everything learned there.
    pub fn remove_interface(&mut self, ifindex: u32) {
        let Some(i) = self.interfaces.remove(&ifindex) else {
            return;
        };
        for (ll, m) in i.members {
            for a in m.addresses.keys() {
                self.counters.rib_withdrawals += 1;
                self.limit.remove(&(ifindex, ll));
                self.out
                    .push_back(RouterOutput::Rib(withdraw(ifindex, ll, *a)));
            }
            self.limit.forget(&(ifindex, ll));
        }
        self.log_limits();
    }

    /// Queries now, outside the schedule: `dst` is ff02::1 or one member's
    /// link-local address (a unicast query); `anycast` restricts it to the
    /// members serving that address.
    pub fn query(
        &mut self,
        ifindex: u32,
        dst: Ipv6Addr,
        anycast: Option<Ipv6Addr>,
    ) -> Result<(), ConfigError> {
        let src = self
            .interfaces
            .get(&ifindex)
            .ok_or(ConfigError::InterfaceUnknown(ifindex))?
            .link_local;
        if let Some(a) = anycast {
            if !super::packet::anycast_valid(a) {
                return Err(ConfigError::AnycastInvalid(a));
            }
        }
        self.send_query(ifindex, src, dst, anycast);
        Ok(())
    }

    fn send_query(
        &mut self,
        ifindex: u32,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        anycast: Option<Ipv6Addr>,
    ) {
        let p = Packet {
            message: Message::Query(Query {
                max_response_delay: self.cfg.max_response_delay,
                max_hold: self.cfg.max_hold,
                query_interval: self.cfg.query_interval,
                robustness: self.cfg.robustness,
                anycast,
            }),
            auth: None,
        };
        let bytes = super::seal(&p, src, &self.cfg.keyring, &mut self.seq);
        self.counters.tx_query += 1;
        self.out.push_back(RouterOutput::Send(Transmit {
            ifindex,
            src,
            dst,
            bytes,
        }));
    }

    /// One received datagram. `hop_limit` is the received hop limit.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        ifindex: u32,
        src: Ipv6Addr,
        hop_limit: u8,
        bytes: &[u8],
    ) {
        let Some(iface) = self.interfaces.get_mut(&ifindex) else {
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
            &mut iface.guard,
            &mut self.counters,
        ) else {
            return;
        };
        match d.packet.message {
            // Another router's query: every router learns from the
            // multicast reports, so there is no querier election.
            Message::Query(_) => self.counters.rx_query += 1,
            Message::Report(r) => {
                self.counters.rx_report += 1;
                let errors = !d.record_errors.is_empty();
                self.process_report(now, ifindex, src, r, errors);
            }
        }
    }

    fn process_report(
        &mut self,
        now: Instant,
        ifindex: u32,
        src: Ipv6Addr,
        r: Report,
        had_errors: bool,
    ) {
        let cfg = &self.cfg;
        let iface = self
            .interfaces
            .get_mut(&ifindex)
            .expect("checked by caller");
        let mut room = cfg
            .max_addresses_per_interface
            .saturating_sub(iface.address_count());
        let limit = &mut self.limit;
        let key = (ifindex, src);
        let hold = r.hold_time.clamp(cfg.min_hold, cfg.max_hold);
        let counters = &mut self.counters;
        let out = &mut self.out;
        let m = iface.members.entry(src).or_insert_with(|| Member {
            unicast: r.member_unicast,
            hold,
            last_report: now,
            addresses: BTreeMap::new(),
        });
        let unicast_changed = m.unicast != r.member_unicast;
        m.unicast = r.member_unicast;
        m.hold = hold;
        m.last_report = now;
        let mut listed = BTreeSet::new();
        let mut upsert = |m: &Member, a: Ipv6Addr, s: &Served, counters: &mut Counters| {
            counters.rib_upserts += 1;
            out.push_back(RouterOutput::Rib(RibChange::Upsert(entry(
                ifindex, src, m, a, s,
            ))));
        };
        let mut withdrawn = Vec::new();
        for rec in &r.records {
            counters.count_record(rec.kind);
            if rec.kind == RecordType::Leave {
                if m.addresses.remove(&rec.anycast).is_some() {
                    counters.left += 1;
                    limit.remove(&key);
                    withdrawn.push(rec.anycast);
                }
                continue;
            }
            listed.insert(rec.anycast);
            let expires = now + hold;
            match m.addresses.get_mut(&rec.anycast) {
                Some(s) => {
                    let changed = s.metric != rec.metric || s.draining != rec.draining;
                    s.metric = rec.metric;
                    s.draining = rec.draining;
                    s.expires = expires;
                    if changed || unicast_changed {
                        let s = s.clone();
                        upsert(m, rec.anycast, &s, counters);
                    }
                }
                None if room == 0 => counters.record_errors.table_full += 1,
                None => {
                    if let Err(why) = limit.admit(&key) {
                        match why {
                            Refused::KeyLimit => counters.record_errors.member_limit += 1,
                            Refused::TotalLimit => counters.record_errors.total_limit += 1,
                        }
                        tracing::debug!(ifindex, member = %src, anycast = %rec.anycast, ?why,
                            "ard: address refused by the address limit");
                        continue;
                    }
                    limit.add(&key);
                    room -= 1;
                    let s = Served {
                        metric: rec.metric,
                        draining: rec.draining,
                        expires,
                    };
                    upsert(m, rec.anycast, &s, counters);
                    m.addresses.insert(rec.anycast, s);
                }
            }
        }
        if unicast_changed {
            for (a, s) in m.addresses.iter().filter(|(a, _)| !listed.contains(a)) {
                upsert(m, *a, s, counters);
            }
        }
        // A complete report replaces the member's set; one with bad records
        // may have lost a listing, so it only adds.
        if r.complete && !had_errors {
            m.addresses.retain(|a, _| {
                let keep = listed.contains(a);
                if !keep {
                    counters.left += 1;
                    limit.remove(&key);
                    withdrawn.push(*a);
                }
                keep
            });
        }
        if m.addresses.is_empty() {
            iface.members.remove(&src);
            limit.forget(&key);
        }
        for a in withdrawn {
            counters.rib_withdrawals += 1;
            out.push_back(RouterOutput::Rib(withdraw(ifindex, src, a)));
        }
        self.log_limits();
    }

    /// Logs the address-limit crossings (each once, see proto::limit).
    fn log_limits(&mut self) {
        while let Some(e) = self.limit.poll_event() {
            let (scope, held, limit) = match &e {
                LimitEvent::Warning { scope, held, limit }
                | LimitEvent::Reached { scope, held, limit }
                | LimitEvent::Cleared { scope, held, limit } => (*scope, *held, *limit),
            };
            let (key, ifindex, member) = match scope {
                Scope::Key((i, ll)) => ("max_addresses_per_member", Some(i), Some(ll)),
                Scope::Total => ("max_addresses", None, None),
            };
            let member = member.map(tracing::field::display);
            match e {
                LimitEvent::Warning { .. } => {
                    self.counters.limit_warnings += 1;
                    tracing::warn!(
                        ifindex,
                        member,
                        held,
                        limit,
                        key,
                        "ARD address limit: warning threshold reached"
                    );
                }
                LimitEvent::Reached { .. } => {
                    self.counters.limit_reached += 1;
                    tracing::warn!(
                        ifindex,
                        member,
                        held,
                        limit,
                        key,
                        "ARD address limit reached: new addresses are refused, held ones stay"
                    );
                }
                LimitEvent::Cleared { .. } => tracing::info!(
                    ifindex,
                    member,
                    held,
                    limit,
                    key,
                    "ARD address limit: back below the warning threshold"
                ),
            }
        }
    }

    /// Sends due queries and withdraws expired addresses.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut queries = Vec::new();
        for (&ifindex, iface) in self.interfaces.iter_mut() {
            if iface.next_query <= now {
                queries.push((ifindex, iface.link_local));
                let gap = if iface.startup_left > 1 {
                    iface.startup_left -= 1;
                    self.cfg.query_interval / 4
                } else {
                    iface.startup_left = 0;
                    self.cfg.query_interval
                };
                iface.next_query = now + gap;
            }
            for (&ll, m) in iface.members.iter_mut() {
                m.addresses.retain(|&a, s| {
                    if s.expires > now {
                        return true;
                    }
                    tracing::debug!(ifindex, member = %ll, anycast = %a, "ard: hold time ran out");
                    self.counters.expired += 1;
                    self.counters.rib_withdrawals += 1;
                    self.limit.remove(&(ifindex, ll));
                    self.out
                        .push_back(RouterOutput::Rib(withdraw(ifindex, ll, a)));
                    false
                });
            }
            let limit = &mut self.limit;
            iface.members.retain(|&ll, m| {
                let keep = !m.addresses.is_empty();
                if !keep {
                    limit.forget(&(ifindex, ll));
                }
                keep
            });
        }
        for (ifindex, src) in queries {
            self.send_query(ifindex, src, ALL_NODES, None);
        }
        self.log_limits();
    }

    pub fn poll_output(&mut self) -> Option<RouterOutput> {
        self.out.pop_front()
    }

    /// The next deadline: a query or the earliest expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.interfaces
            .values()
            .flat_map(|i| {
                std::iter::once(i.next_query).chain(
                    i.members
                        .values()
                        .flat_map(|m| m.addresses.values().map(|s| s.expires)),
                )
            })
            .min()
    }

    /// Whether the member behind `e` (an ARD entry) is draining its address.
    pub fn draining(&self, e: &RibEntry) -> Option<bool> {
        let s = self
            .interfaces
            .get(&e.ifindex)?
            .members
            .get(&e.next_hop)?
            .addresses
            .get(&e.anycast)?;
        Some(s.draining)
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The members per interface, for the management API.
    pub fn view(&self, now: Instant) -> RouterView {
        let ms = |d: Duration| d.as_millis().min(u64::MAX as u128) as u64;
        RouterView {
            address_limit: self.limit.view(),
            max_addresses_per_interface: self.cfg.max_addresses_per_interface,
            interfaces: self
                .interfaces
                .iter()
                .map(|(&ifindex, i)| InterfaceView {
                    ifindex,
                    link_local: i.link_local,
                    next_query_ms: ms(i.next_query.saturating_since(now)),
                    members: i
                        .members
                        .iter()
                        .map(|(&ll, m)| LearnedMemberView {
                            link_local: ll,
                            unicast: m.unicast,
                            hold_ms: ms(m.hold),
                            last_report_ms_ago: ms(now.saturating_since(m.last_report)),
                            addresses_refused: self.limit.refused(&(ifindex, ll)),
                            addresses: m
                                .addresses
                                .iter()
                                .map(|(&a, s)| LearnedAddressView {
                                    anycast: a,
                                    metric: s.metric,
                                    draining: s.draining,
                                    expires_in_ms: ms(s.expires.saturating_since(now)),
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouterView {
    /// Addresses held and new ones refused, in all (`limit`: `max_addresses`,
    /// `per_key_limit`: `max_addresses_per_member`).
    pub address_limit: LimitView,
    pub max_addresses_per_interface: usize,
    pub interfaces: Vec<InterfaceView>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InterfaceView {
    pub ifindex: u32,
    pub link_local: Ipv6Addr,
    pub next_query_ms: u64,
    pub members: Vec<LearnedMemberView>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LearnedMemberView {
    pub link_local: Ipv6Addr,
    pub unicast: Ipv6Addr,
    pub hold_ms: u64,
    pub last_report_ms_ago: u64,
    /// New addresses of this member refused by the address limits
    /// (per member or in all) while it was known.
    pub addresses_refused: u64,
    pub addresses: Vec<LearnedAddressView>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LearnedAddressView {
    pub anycast: Ipv6Addr,
    /// As reported; the RIB metric is [`rib_metric`] of it.
    pub metric: u32,
    pub draining: bool,
    pub expires_in_ms: u64,
}
