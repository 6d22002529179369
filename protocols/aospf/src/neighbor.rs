//! A neighbour and its state machine (RFC 2328 §10.1-10.3; OSPFv3 names
//! neighbours by Router ID on every link type, RFC 5340 §4.2.2).
//!
//! ```text
//!  state        event               action / next state (RFC 2328 §10.3)
//!  ──────────── ─────────────────── ────────────────────────────────────────────
//!  Down         HelloReceived       inactivity timer started → Init
//!  ≥ Init       HelloReceived       inactivity timer restarted
//!  Init         2-WayReceived       AdjOK? ExStart (DD seq chosen, I|M|MS sent)
//!                                          : 2-Way
//!  ExStart      NegotiationDone     summary list filled → Exchange
//!  Exchange     ExchangeDone        request list empty? Full : Loading
//!  Loading      LoadingDone         → Full
//!  2-Way        AdjOK?              should be adjacent? → ExStart
//!  ≥ ExStart    AdjOK?              should not? lists cleared → 2-Way
//!  ≥ Exchange   SeqNumberMismatch   lists cleared → ExStart
//!  ≥ Exchange   BadLSReq            lists cleared → ExStart
//!  ≥ 2-Way      1-WayReceived       lists cleared → Init
//!  ≥ 2-Way      2-WayReceived       (nothing)
//!  Init         1-WayReceived       (nothing)
//!  any          KillNbr, LLDown,    lists cleared, timer stopped → Down (removed)
//!               InactivityTimer
//! ```
//! Attempt (NBMA only) is not used. Each transition is a method of
//! `Instance` in instance.rs named after its event.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr};

use anycast6_core::Instant;

use crate::lsdb::{LsaKey, ScopeKey};
use crate::packet::{DbDesc, LsaHeader, Options};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NState {
    Down,
    Init,
    TwoWay,
    ExStart,
    Exchange,
    Loading,
    Full,
}

impl NState {
    pub fn name(self) -> &'static str {
        match self {
            NState::Down => "Down",
            NState::Init => "Init",
            NState::TwoWay => "2-Way",
            NState::ExStart => "ExStart",
            NState::Exchange => "Exchange",
            NState::Loading => "Loading",
            NState::Full => "Full",
        }
    }
}

/// The last Database Description received, for duplicate detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastDd {
    pub flags: u8,
    pub seq: u32,
    pub options: Options,
}

#[derive(Debug, Clone)]
pub struct Neighbor {
    pub router_id: Ipv4Addr,
    pub addr: Ipv6Addr,
    pub interface_id: u32,
    pub priority: u8,
    pub options: Options,
    /// What its Hellos declare (Router IDs).
    pub dr: Ipv4Addr,
    pub bdr: Ipv4Addr,
    pub state: NState,
    pub dead_at: Instant,
    pub up_since: Instant,
    /// Database exchange (RFC 2328 §10.8).
    pub master: bool,
    pub dd_seq: u32,
    pub last_rx_dd: Option<LastDd>,
    /// The last DD sent: the master retransmits it, the slave answers a
    /// duplicate with it.
    pub last_tx_dd: Option<DbDesc>,
    pub dd_rxmt_at: Option<Instant>,
    /// Headers still to describe.
    pub summary: VecDeque<(ScopeKey, LsaHeader)>,
    /// Whether our last DD had the M bit (the slave's ExchangeDone test).
    pub sent_more: bool,
    /// LSAs to request, with the header that made us want them.
    pub requests: BTreeMap<(ScopeKey, LsaKey), LsaHeader>,
    pub req_rxmt_at: Option<Instant>,
    /// LSAs flooded to it and not yet acknowledged.
    pub rxmt: BTreeMap<(ScopeKey, LsaKey), ()>,
    pub rxmt_at: Option<Instant>,
    /// Graceful restart helper (RFC 5187): it restarts, and until then
    /// we keep announcing it as adjacent.
    pub helping: Option<Instant>,
}

impl Neighbor {
    pub fn new(router_id: Ipv4Addr, addr: Ipv6Addr, now: Instant) -> Neighbor {
        Neighbor {
            router_id,
            addr,
            interface_id: 0,
            priority: 0,
            options: Options::default(),
            dr: Ipv4Addr::UNSPECIFIED,
            bdr: Ipv4Addr::UNSPECIFIED,
            state: NState::Down,
            dead_at: now,
            up_since: now,
            master: false,
            dd_seq: 0,
            last_rx_dd: None,
            last_tx_dd: None,
            dd_rxmt_at: None,
            summary: VecDeque::new(),
            sent_more: true,
            requests: BTreeMap::new(),
            req_rxmt_at: None,
            rxmt: BTreeMap::new(),
            rxmt_at: None,
            helping: None,
        }
    }

    /// Every list emptied (SeqNumberMismatch, BadLSReq, 1-Way, AdjOK? no).
    pub fn clear_lists(&mut self) {
        self.summary.clear();
        self.requests.clear();
        self.rxmt.clear();
        self.last_rx_dd = None;
        self.last_tx_dd = None;
        self.dd_rxmt_at = None;
        self.req_rxmt_at = None;
        self.rxmt_at = None;
    }

    /// Full, or restarting gracefully with our help: announced as
    /// adjacent in our LSAs.
    pub fn adjacent(&self) -> bool {
        self.state == NState::Full || self.helping.is_some()
    }

    pub fn declares_dr(&self) -> bool {
        self.dr == self.router_id
    }

    pub fn declares_bdr(&self) -> bool {
        self.bdr == self.router_id
    }

    /// Earliest of its timers.
    pub fn next_timer(&self) -> Instant {
        [
            self.dd_rxmt_at,
            self.req_rxmt_at,
            self.rxmt_at,
            self.helping,
        ]
        .into_iter()
        .flatten()
        .fold(self.dead_at, |a, b| a.min(b))
    }
}
