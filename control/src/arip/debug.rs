//! Every log event of the ARIP core, in one enum, logged with structured
//! fields (target `anycast6::arip`).

use std::net::Ipv6Addr;

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
        }
    }
}
