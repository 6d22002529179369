//! Every log event of the ARIP core, in one enum, logged with structured
//! fields (target `anycast6::arip`).

use std::net::Ipv6Addr;

use anycast6_core::limit::{LimitEvent, Refused, Scope};

use super::counters::Rejection;
use super::packet::RteError;
use super::route::Prefix;

#[derive(Debug)]
pub(crate) enum Debug<'a> {
    InterfaceUp {
        ifindex: u32,
        name: &'a str,
    },
    InterfaceDown {
        ifindex: u32,
    },
    PacketRejected {
        ifindex: u32,
        src: Ipv6Addr,
        reason: &'a Rejection,
    },
    EntryRejected {
        ifindex: u32,
        src: Ipv6Addr,
        error: &'a RteError,
    },
    PathTimeout {
        prefix: Prefix,
        neighbor: Ipv6Addr,
        ifindex: u32,
    },
    RouteGarbageCollected {
        prefix: Prefix,
    },
    RouteChanged {
        prefix: Prefix,
        metric: u8,
        paths: usize,
    },
    UpdateSent {
        kind: &'static str,
        ifindex: u32,
        entries: usize,
    },
    NeighborExpired {
        ifindex: u32,
        addr: Ipv6Addr,
    },
    /// A new route refused by a route limit (one per RTE: debug only).
    RouteRefused {
        prefix: Prefix,
        ifindex: u32,
        src: Ipv6Addr,
        why: Refused,
    },
    /// A route limit crossed its warning threshold or its limit, or fell
    /// back below the threshold (each once per crossing).
    Limit(&'a LimitEvent<(u32, Ipv6Addr)>),
}

impl Debug<'_> {
    pub fn log(&self) {
        match self {
            Debug::InterfaceUp { ifindex, name } => {
                tracing::debug!(target: "anycast6::arip", ifindex, name, "interface up")
            }
            Debug::InterfaceDown { ifindex } => {
                tracing::debug!(target: "anycast6::arip", ifindex, "interface down")
            }
            Debug::PacketRejected {
                ifindex,
                src,
                reason,
            } => {
                tracing::debug!(target: "anycast6::arip", ifindex, %src, ?reason, "packet rejected")
            }
            Debug::EntryRejected {
                ifindex,
                src,
                error,
            } => {
                tracing::debug!(target: "anycast6::arip", ifindex, %src, %error, "entry rejected")
            }
            Debug::PathTimeout {
                prefix,
                neighbor,
                ifindex,
            } => {
                tracing::debug!(target: "anycast6::arip", %prefix, %neighbor, ifindex, "path timed out")
            }
            Debug::RouteGarbageCollected { prefix } => {
                tracing::debug!(target: "anycast6::arip", %prefix, "route garbage-collected")
            }
            Debug::RouteChanged {
                prefix,
                metric,
                paths,
            } => {
                tracing::debug!(target: "anycast6::arip", %prefix, metric, paths, "route changed")
            }
            Debug::UpdateSent {
                kind,
                ifindex,
                entries,
            } => {
                tracing::trace!(target: "anycast6::arip", kind, ifindex, entries, "update sent")
            }
            Debug::NeighborExpired { ifindex, addr } => {
                tracing::debug!(target: "anycast6::arip", ifindex, %addr, "neighbour expired")
            }
            Debug::RouteRefused {
                prefix,
                ifindex,
                src,
                why,
            } => {
                tracing::debug!(target: "anycast6::arip", %prefix, ifindex, %src, ?why, "route refused by the route limit")
            }
            Debug::Limit(e) => log_limit(e),
        }
    }
}

/// Warnings name the neighbour (or "all neighbours"), what it holds and
/// the limit, so the log line alone says what to raise or whom to check.
fn log_limit(e: &LimitEvent<(u32, Ipv6Addr)>) {
    let (scope, held, limit) = match e {
        LimitEvent::Warning { scope, held, limit }
        | LimitEvent::Reached { scope, held, limit }
        | LimitEvent::Cleared { scope, held, limit } => (scope, *held, *limit),
    };
    let (key, neighbor, ifindex) = match scope {
        Scope::Key((ifindex, addr)) => ("max_routes_per_neighbor", Some(*addr), Some(*ifindex)),
        Scope::Total => ("max_routes", None, None),
    };
    let neighbor = neighbor.map(tracing::field::display);
    match e {
        LimitEvent::Warning { .. } => tracing::warn!(
            target: "anycast6::arip", neighbor, ifindex, held, limit, key,
            "ARIP route limit: warning threshold reached"
        ),
        LimitEvent::Reached { .. } => tracing::warn!(
            target: "anycast6::arip", neighbor, ifindex, held, limit, key,
            "ARIP route limit reached: new routes are refused, installed ones stay"
        ),
        LimitEvent::Cleared { .. } => tracing::info!(
            target: "anycast6::arip", neighbor, ifindex, held, limit, key,
            "ARIP route limit: back below the warning threshold"
        ),
    }
}
