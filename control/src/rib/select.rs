//! Member selection for one group: the members at the best distance, each
//! with the state the fast path should see.
//!
//! - A candidate is *usable* when its L2 next hop is known: resolved now, or
//!   still being resolved but installed with a MAC already (a restarted
//!   daemon keeps forwarding with what is pinned until the kernel answers).
//! - Candidates are ranked by (administrative distance of their source,
//!   metric): the best source's candidates at their best metric win, and
//!   the others wait in the RIB until it withdraws or becomes unusable.
//! - The best rank is the smallest rank of a usable candidate; when none is
//!   usable, the smallest rank of all (installed `down`, so the group
//!   exists and comes up as soon as a neighbour resolves).
//! - Every candidate at that rank is installed (ties are kept): usable
//!   ones with their administrative state, the others `down`.

use std::collections::HashSet;

use anycast6_dataplane::abi::MAX_MEMBERS;
use anycast6_dataplane::{MemberSpec, MemberState};

use super::{Candidate, Placement, Reach, RibError, RibGroup};
use crate::config::AdminState;

pub(super) struct Selection {
    /// (administrative distance, metric) of the installed candidates.
    pub best: Option<(u8, u32)>,
    /// (candidate index, spec without member id)
    pub chosen: Vec<(usize, MemberSpec)>,
    pub placements: Vec<Placement>,
}

/// The MAC to use for `c`, if it has one.
fn dmac(c: &Candidate, installed: Option<&[MemberSpec]>) -> Option<[u8; 6]> {
    match c.reach {
        Reach::Ready { dmac, .. } => Some(dmac),
        Reach::Pending { ifindex, .. } => installed?
            .iter()
            .find(|m| m.unicast == c.unicast && m.ifindex == ifindex)
            .filter(|m| m.state != MemberState::Down && m.dmac != [0; 6])
            .map(|m| m.dmac),
        Reach::Unreachable { .. } => None,
    }
}

pub(super) fn select(
    g: &RibGroup,
    installed: Option<&[MemberSpec]>,
) -> Result<Selection, RibError> {
    let mut placements = vec![Placement::NotBest; g.candidates.len()];
    let rank = |c: &Candidate| (c.admin_distance, c.distance);
    // The same member offered twice (by two sources, or config and a
    // protocol) counts once, with its best-ranked offer.
    let mut order: Vec<usize> = (0..g.candidates.len()).collect();
    order.sort_by_key(|&i| rank(&g.candidates[i]));
    let mut seen = HashSet::new();
    let mut live: Vec<(usize, &Candidate, Option<[u8; 6]>)> = Vec::new();
    for i in order {
        let c = &g.candidates[i];
        if !seen.insert((c.unicast, c.reach.ifindex())) {
            placements[i] = Placement::Duplicate;
            continue;
        }
        live.push((i, c, dmac(c, installed)));
    }
    live.sort_by_key(|(i, _, _)| *i);
    let best = live
        .iter()
        .filter(|(_, _, mac)| mac.is_some())
        .map(|(_, c, _)| rank(c))
        .min()
        .or_else(|| live.iter().map(|(_, c, _)| rank(c)).min());
    let mut chosen = Vec::new();
    if let Some(best) = best {
        for (i, c, mac) in live.iter().filter(|(_, c, _)| rank(c) == best) {
            let (ifindex, smac, mtu) = match c.reach {
                Reach::Ready {
                    ifindex, smac, mtu, ..
                }
                | Reach::Pending { ifindex, smac, mtu }
                | Reach::Unreachable { ifindex, smac, mtu } => (ifindex, smac, mtu),
            };
            let state = match (mac, c.admin) {
                (None, _) => MemberState::Down,
                (Some(_), AdminState::Active) => MemberState::Active,
                (Some(_), AdminState::Draining) => MemberState::Draining,
            };
            chosen.push((
                *i,
                MemberSpec {
                    member_id: 0,
                    unicast: c.unicast,
                    encap_src: c.encap_src,
                    ifindex,
                    dmac: mac.unwrap_or([0; 6]),
                    smac,
                    mtu,
                    action: c.action,
                    state,
                    weight: c.weight,
                },
            ));
        }
        if chosen.len() > MAX_MEMBERS {
            return Err(RibError::GroupTooLarge {
                route: g.route,
                admin_distance: best.0,
                distance: best.1,
                count: chosen.len(),
                max: MAX_MEMBERS,
            });
        }
    }
    Ok(Selection {
        best,
        chosen,
        placements,
    })
}
