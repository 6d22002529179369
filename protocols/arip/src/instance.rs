//! The ARIP instance: configuration, state, and the daemon-facing API
//! (inputs in events.rs, outputs built in output.rs).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::auth::{Keyring, ReplayGuard, SeqCounter};
use anycast6_core::{Instant, LimitConfig, RouteLimit};

use super::counters::Counters;
use super::error::Error;
use super::interface::Interface;
use super::neighbor::Neighbor;
use super::route::{Prefix, Route};
use super::timers::{Rng, Timer, TimerTable};
use super::view::View;
use super::Output;

/// Route tag that marks an anycast /128 (docs/arip.md §3): 0xA6A6.
pub const DEFAULT_ANYCAST_TAG: u16 = 0xa6a6;

/// Most routes one neighbour may make this router hold (docs/arip.md §6).
pub const DEFAULT_MAX_ROUTES_PER_NEIGHBOR: usize = 5_000;
/// Most routes all neighbours together may make this router hold.
pub const DEFAULT_MAX_ROUTES: usize = 10_000;
/// Warn when a neighbour (or all) holds this share of its limit.
pub const DEFAULT_ROUTES_WARN_PERCENT: u8 = 75;

/// Split horizon (RFC 2080 §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitHorizon {
    Off,
    /// Leave routes out of updates sent where they were learned.
    Simple,
    /// Announce them there with metric 16 (the RFC's recommendation).
    PoisonedReverse,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Period of unsolicited updates (RFC 2080: 30 s).
    pub update_interval: Duration,
    /// Each period is offset by a uniform random amount in ±this
    /// (RFC 2080 §2.5: ±15 s). Must be below `update_interval`.
    pub update_jitter: Duration,
    /// A learned path not refreshed for this long is removed (180 s).
    pub timeout: Duration,
    /// A route at metric 16 is announced that long, then deleted (120 s).
    pub garbage: Duration,
    /// Hold-down after a triggered update, uniform in [min, max] (1-5 s).
    pub triggered_min: Duration,
    pub triggered_max: Duration,
    /// Route tag that marks anycast /128s on the wire (non-zero).
    pub anycast_tag: u16,
    pub split_horizon: SplitHorizon,
    /// Refuse responses whose hop limit is not 255 (RFC 2080 §2.4.2).
    /// BIRD sends hop limit 1 unless `ttl security` is on for the interface.
    pub check_hop_limit: bool,
    /// Keys: when non-empty every packet is signed and every packet
    /// received must carry a valid trailer (docs/arip.md §4).
    pub keyring: Keyring,
    /// First sequence number sent (the daemon passes ns since the epoch,
    /// so a restart never goes backwards).
    pub seq_start: u64,
    /// Seed of the jitter generator (the daemon passes something random).
    pub seed: u64,
    /// Route limits (docs/arip.md §6): learned paths per neighbour
    /// (`per_key`) and in all (`total`); new ones beyond are refused.
    pub limit: LimitConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            update_interval: Duration::from_secs(30),
            update_jitter: Duration::from_secs(15),
            timeout: Duration::from_secs(180),
            garbage: Duration::from_secs(120),
            triggered_min: Duration::from_secs(1),
            triggered_max: Duration::from_secs(5),
            anycast_tag: DEFAULT_ANYCAST_TAG,
            split_horizon: SplitHorizon::PoisonedReverse,
            check_hop_limit: true,
            keyring: Keyring::none(),
            seq_start: 1,
            seed: 0,
            limit: LimitConfig::new(
                DEFAULT_MAX_ROUTES_PER_NEIGHBOR,
                DEFAULT_MAX_ROUTES,
                DEFAULT_ROUTES_WARN_PERCENT,
            ),
        }
    }
}

impl Config {
    /// Every timer divided by `factor` (for sub-second setups and tests).
    pub fn scaled(mut self, factor: u32) -> Config {
        for d in [
            &mut self.update_interval,
            &mut self.update_jitter,
            &mut self.timeout,
            &mut self.garbage,
            &mut self.triggered_min,
            &mut self.triggered_max,
        ] {
            *d /= factor.max(1);
        }
        self
    }

    fn validate(&self) -> Result<(), Error> {
        if self.update_interval.is_zero() {
            return Err(Error::ConfigInvalid("update_interval must be above zero"));
        }
        if self.update_jitter >= self.update_interval {
            return Err(Error::ConfigInvalid(
                "update_jitter must be below update_interval",
            ));
        }
        if self.timeout <= self.update_interval {
            return Err(Error::ConfigInvalid("timeout must exceed update_interval"));
        }
        if self.triggered_min > self.triggered_max {
            return Err(Error::ConfigInvalid("triggered_min above triggered_max"));
        }
        if self.anycast_tag == 0 {
            return Err(Error::ConfigInvalid(
                "anycast_tag 0 would mark every host route",
            ));
        }
        self.limit.validate().map_err(Error::LimitInvalid)?;
        Ok(())
    }
}

/// One ARIP routing instance. See the module documentation for the loop
/// that drives it.
#[derive(Debug)]
pub struct Instance {
    pub(crate) config: Config,
    pub(crate) interfaces: BTreeMap<u32, Interface>,
    pub(crate) neighbors: BTreeMap<(u32, Ipv6Addr), Neighbor>,
    pub(crate) table: BTreeMap<Prefix, Route>,
    pub(crate) timers: TimerTable,
    pub(crate) rng: Rng,
    pub(crate) seq: SeqCounter,
    /// Per interface: link-local addresses are only unique per link.
    pub(crate) replay: HashMap<u32, ReplayGuard>,
    pub(crate) counters: Counters,
    pub(crate) outputs: VecDeque<Output>,
    /// A route changed since the last update (RFC 2080 §2.5.1).
    pub(crate) trigger_pending: bool,
    /// Learned paths per neighbour (ifindex, address) and in all.
    pub(crate) limit: RouteLimit<(u32, Ipv6Addr)>,
}

impl Instance {
    pub fn new(config: Config, now: Instant) -> Result<Instance, Error> {
        config.validate()?;
        let mut i = Instance {
            rng: Rng::new(config.seed),
            seq: SeqCounter::starting_at(config.seq_start),
            limit: RouteLimit::new(config.limit),
            config,
            interfaces: BTreeMap::new(),
            neighbors: BTreeMap::new(),
            table: BTreeMap::new(),
            timers: TimerTable::default(),
            replay: HashMap::new(),
            counters: Counters::default(),
            outputs: VecDeque::new(),
            trigger_pending: false,
        };
        i.arm_update(now);
        Ok(i)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces the keyring (key rotation); replay state is kept.
    pub fn set_keyring(&mut self, keyring: Keyring) {
        self.config.keyring = keyring;
    }

    /// The next thing to send or to tell the RIB/kernel, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call [`Instance::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// A read-only snapshot for `anycast6ctl show` (times relative to `now`).
    pub fn view(&self, now: Instant) -> View {
        View::build(self, now)
    }

    pub(crate) fn arm_update(&mut self, now: Instant) {
        let c = &self.config;
        let d = self.rng.between(
            c.update_interval - c.update_jitter,
            c.update_interval + c.update_jitter,
        );
        self.timers.set(Timer::Update, now + d);
    }

    pub(crate) fn is_own_address(&self, a: &Ipv6Addr) -> bool {
        self.interfaces.values().any(|i| i.config.link_local == *a)
    }
}
