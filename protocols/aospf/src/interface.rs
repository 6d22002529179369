//! An interface and its state machine (RFC 2328 §9.1-9.4, RFC 5340 §4.2).
//!
//! ```text
//!  state         event            next state (RFC 2328 §9.3)
//!  ───────────── ──────────────── ───────────────────────────────────────
//!  Down          InterfaceUp      point-to-point? PointToPoint
//!                                 : priority 0? DROther : Waiting (wait timer)
//!  Waiting       BackupSeen       DR election → DR | Backup | DROther
//!  Waiting       WaitTimer        DR election → DR | Backup | DROther
//!  DR|Backup|    NeighborChange   DR election → DR | Backup | DROther
//!  DROther
//!  any           InterfaceDown    neighbours killed → Down
//! ```
//! Passive interfaces stay in Loopback: their prefixes are advertised, no
//! packets are sent or accepted.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use anycast6_core::auth::{ReplayGuard, SeqCounter};
use anycast6_core::Instant;

use crate::config::{InterfaceConfig, NetworkType};
use crate::lsdb::{LsaKey, ScopeKey};
use crate::neighbor::{NState, Neighbor};
use crate::packet::LsaHeader;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IState {
    Down,
    Loopback,
    Waiting,
    PointToPoint,
    DrOther,
    Backup,
    Dr,
}

impl IState {
    pub fn name(self) -> &'static str {
        match self {
            IState::Down => "Down",
            IState::Loopback => "Loopback",
            IState::Waiting => "Waiting",
            IState::PointToPoint => "PointToPoint",
            IState::DrOther => "DROther",
            IState::Backup => "BDR",
            IState::Dr => "DR",
        }
    }
}

pub struct Interface {
    pub cfg: InterfaceConfig,
    /// Our Interface ID on this link: the ifindex (RFC 5340 §4.2.1.1).
    pub id: u32,
    pub state: IState,
    pub dr: Ipv4Addr,
    pub bdr: Ipv4Addr,
    pub neighbors: BTreeMap<Ipv4Addr, Neighbor>,
    pub hello_at: Instant,
    pub wait_until: Option<Instant>,
    /// Acknowledgements to send together (RFC 2328 §13.5).
    pub delayed_acks: Vec<LsaHeader>,
    pub ack_at: Option<Instant>,
    /// LSAs flooded here by the current call, sent when it returns.
    pub pending_flood: Vec<(ScopeKey, LsaKey)>,
    pub seq: SeqCounter,
    pub replay: ReplayGuard,
}

impl Interface {
    pub fn new(cfg: InterfaceConfig, now: Instant) -> Interface {
        let seq = SeqCounter::starting_at(cfg.auth.as_ref().map_or(1, |a| a.seq_start));
        Interface {
            id: cfg.ifindex,
            state: IState::Down,
            dr: Ipv4Addr::UNSPECIFIED,
            bdr: Ipv4Addr::UNSPECIFIED,
            neighbors: BTreeMap::new(),
            hello_at: now,
            wait_until: None,
            delayed_acks: Vec::new(),
            ack_at: None,
            pending_flood: Vec::new(),
            seq,
            replay: ReplayGuard::new(),
            cfg,
        }
    }

    pub fn is_p2p(&self) -> bool {
        self.cfg.network == NetworkType::PointToPoint
    }

    pub fn sends(&self) -> bool {
        !matches!(self.state, IState::Down | IState::Loopback)
    }

    /// Neighbours our LSAs announce: Full, or restarting with our help.
    pub fn full_neighbors(&self) -> impl Iterator<Item = &Neighbor> {
        self.neighbors.values().filter(|n| n.adjacent())
    }

    /// AdjOK? (RFC 2328 §10.4): point-to-point always; on a broadcast link
    /// only between the DR or BDR and everyone.
    pub fn should_be_adjacent(&self, me: Ipv4Addr, n: &Neighbor) -> bool {
        self.is_p2p()
            || self.dr == me
            || self.bdr == me
            || self.dr == n.router_id
            || self.bdr == n.router_id
    }

    /// The link is a transit network in our Router-LSA: we are DR with a
    /// full neighbour, or fully adjacent to the DR (RFC 2328 §12.4.1.2).
    pub fn is_transit(&self, me: Ipv4Addr) -> bool {
        if self.is_p2p() || !matches!(self.state, IState::Dr | IState::Backup | IState::DrOther) {
            return false;
        }
        if self.dr == me {
            self.full_neighbors().next().is_some()
        } else {
            self.neighbors.get(&self.dr).is_some_and(|n| n.adjacent())
        }
    }

    /// The DR election (RFC 2328 §9.4), run with what we and each
    /// neighbour in 2-Way or above declare. Returns (DR, BDR).
    pub fn elect(&self, me: Ipv4Addr) -> (Ipv4Addr, Ipv4Addr) {
        #[derive(Clone, Copy)]
        struct C {
            id: Ipv4Addr,
            pri: u8,
            dr: bool,
            bdr: bool,
        }
        let mut cands: Vec<C> = self
            .neighbors
            .values()
            .filter(|n| n.state >= NState::TwoWay && n.priority > 0)
            .map(|n| C {
                id: n.router_id,
                pri: n.priority,
                dr: n.declares_dr(),
                bdr: n.declares_bdr(),
            })
            .collect();
        let mine = self.cfg.priority > 0;
        let (mut my_dr, mut my_bdr) = (self.dr == me, self.bdr == me);
        let best = |v: &mut dyn Iterator<Item = C>| -> Option<C> {
            v.max_by(|a, b| (a.pri, a.id).cmp(&(b.pri, b.id)))
        };
        let mut round = |my_dr: bool, my_bdr: bool| -> (Ipv4Addr, Ipv4Addr) {
            cands.retain(|c| c.id != me);
            if mine {
                cands.push(C {
                    id: me,
                    pri: self.cfg.priority,
                    dr: my_dr,
                    bdr: my_bdr,
                });
            }
            // Step 2: the BDR, among those not declaring themselves DR.
            let not_dr = || cands.iter().copied().filter(|c| !c.dr);
            let bdr = best(&mut not_dr().filter(|c| c.bdr)).or_else(|| best(&mut not_dr()));
            // Step 3: the DR, among those declaring themselves DR.
            let dr = best(&mut cands.iter().copied().filter(|c| c.dr)).or(bdr);
            let id = |c: Option<C>| c.map_or(Ipv4Addr::UNSPECIFIED, |c| c.id);
            (id(dr), id(bdr))
        };
        let (dr, bdr) = round(my_dr, my_bdr);
        // Step 4: if we became, or stopped being, DR or BDR, once more with
        // our new declaration.
        if (dr == me) != my_dr || (bdr == me) != my_bdr {
            my_dr = dr == me;
            my_bdr = bdr == me;
            let (dr2, mut bdr2) = round(my_dr, my_bdr);
            if dr2 == bdr2 {
                bdr2 = Ipv4Addr::UNSPECIFIED;
            }
            return (dr2, bdr2);
        }
        if dr == bdr {
            return (dr, Ipv4Addr::UNSPECIFIED);
        }
        (dr, bdr)
    }
}
