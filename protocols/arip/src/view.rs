//! Read-only snapshots for `anycast6ctl show rib` / `show arip`.

use std::net::Ipv6Addr;

use anycast6_core::{Instant, LimitView};

use super::counters::Counters;
use super::instance::Instance;
use super::interface::InterfaceConfig;
use super::route::{Local, Prefix};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct View {
    pub routes: Vec<RouteView>,
    pub neighbors: Vec<NeighborView>,
    pub interfaces: Vec<InterfaceConfig>,
    pub counters: Counters,
    /// Learned paths held and new ones refused, in all (docs/arip.md §6).
    pub route_limit: LimitView,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteView {
    pub prefix: Prefix,
    pub anycast: bool,
    /// 16 while the route waits for garbage collection.
    pub metric: u8,
    pub tag: u16,
    /// Metric of what this router originates, if it does.
    pub local_metric: Option<u8>,
    pub paths: Vec<PathView>,
    /// Milliseconds until deletion, while at metric 16.
    pub garbage_in_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathView {
    pub neighbor: Ipv6Addr,
    pub next_hop: Ipv6Addr,
    pub ifindex: u32,
    pub metric: u8,
    pub tag: u16,
    /// In the RIB (anycast) or the kernel (unicast).
    pub installed: bool,
    pub expires_in_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NeighborView {
    pub ifindex: u32,
    pub addr: Ipv6Addr,
    pub last_heard_ms_ago: u64,
    pub rx_responses: u64,
    pub rx_requests: u64,
    pub bad_packets: u64,
    pub bad_entries: u64,
    pub last_seq: Option<u64>,
    /// Paths this neighbour gave us that we hold (against
    /// `max_routes_per_neighbor`).
    pub routes_held: usize,
    /// New routes of this neighbour refused by a route limit.
    pub routes_refused: u64,
}

fn ms(d: std::time::Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

impl View {
    pub(crate) fn build(i: &Instance, now: Instant) -> View {
        let tag = i.config.anycast_tag;
        let routes = i
            .table
            .values()
            .map(|r| RouteView {
                prefix: r.prefix,
                anycast: r.is_anycast(tag),
                metric: r.metric(),
                tag: r.advert.tag,
                local_metric: match r.local {
                    Some(Local::Unicast { metric, .. } | Local::Anycast { metric }) => Some(metric),
                    None => None,
                },
                paths: r
                    .paths
                    .iter()
                    .map(|p| PathView {
                        neighbor: p.neighbor,
                        next_hop: p.next_hop,
                        ifindex: p.ifindex,
                        metric: p.metric,
                        tag: p.tag,
                        installed: r.installed_anycast.contains_key(&(p.next_hop, p.ifindex))
                            || r.installed_unicast == Some((p.next_hop, p.ifindex, p.metric)),
                        expires_in_ms: ms(p.expires.saturating_since(now)),
                    })
                    .collect(),
                garbage_in_ms: r.garbage_until.map(|g| ms(g.saturating_since(now))),
            })
            .collect();
        let neighbors = i
            .neighbors
            .values()
            .map(|n| NeighborView {
                ifindex: n.ifindex,
                addr: n.addr,
                last_heard_ms_ago: ms(now.saturating_since(n.last_heard)),
                rx_responses: n.rx_responses,
                rx_requests: n.rx_requests,
                bad_packets: n.bad_packets,
                bad_entries: n.bad_entries,
                last_seq: n.last_seq,
                routes_held: i.limit.held(&(n.ifindex, n.addr)),
                routes_refused: i.limit.refused(&(n.ifindex, n.addr)),
            })
            .collect();
        View {
            routes,
            neighbors,
            interfaces: i.interfaces.values().map(|x| x.config.clone()).collect(),
            counters: i.counters.clone(),
            route_limit: i.limit.view(),
        }
    }
}
