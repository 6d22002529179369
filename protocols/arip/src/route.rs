//! The ARIP routing table: one [`Route`] per prefix, each with what this
//! router originates ([`Local`]) and the paths neighbours offered.
//!
//! Plain unicast routes keep RIPng's single best path (RFC 2080 §2.4.2).
//! Anycast routes (/128 with the anycast route tag, or a local anycast
//! address) keep EVERY path at the smallest metric: those are the group's
//! members as seen from here, and all of them go to the RIB.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::Instant;

use super::error::Error;
use super::packet::{self, METRIC_INFINITY};

/// An IPv6 prefix with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Prefix {
    pub addr: Ipv6Addr,
    pub len: u8,
}

impl Prefix {
    /// Masks `addr` to `len` bits; refuses lengths above 128 and prefixes
    /// RIPng may not carry (multicast, link-local: RFC 2080 §2.4.2).
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Prefix, Error> {
        if len > 128 {
            return Err(Error::PrefixLenInvalid(len));
        }
        if addr.is_multicast() || packet::is_link_local(&addr) {
            return Err(Error::PrefixInvalid(addr));
        }
        Ok(Prefix {
            addr: packet::mask(addr, len),
            len,
        })
    }

    pub fn host(addr: Ipv6Addr) -> Result<Prefix, Error> {
        Prefix::new(addr, 128)
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// What this router itself originates for a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Local {
    /// A connected or redistributed prefix: always preferred over learned
    /// paths (as FRR ripngd does with connected routes).
    Unicast { metric: u8, tag: u16 },
    /// An anycast member on this router's links (ARD or static): competes
    /// with learned paths on metric, equal metrics all count.
    Anycast { metric: u8 },
}

/// A path a neighbour offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    /// The neighbour's link-local source address.
    pub neighbor: Ipv6Addr,
    pub ifindex: u32,
    /// Where to forward: the next-hop RTE's address, or `neighbor`.
    pub next_hop: Ipv6Addr,
    /// Metric after adding the interface cost (1..=15).
    pub metric: u8,
    pub tag: u16,
    pub expires: Instant,
}

/// An offer parsed from a response RTE.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Offer {
    pub neighbor: Ipv6Addr,
    pub ifindex: u32,
    pub next_hop: Ipv6Addr,
    /// Already increased by the interface cost and capped at 16.
    pub metric: u8,
    pub tag: u16,
}

/// What the route looked like to neighbours, to tell whether a change
/// needs a triggered update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Advert {
    pub metric: u8,
    pub tag: u16,
    /// Whether the metric rests on the local origin.
    pub local: bool,
    /// Interfaces of the paths the metric rests on (split horizon).
    pub ifindexes: Vec<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub prefix: Prefix,
    pub local: Option<Local>,
    pub paths: Vec<Path>,
    /// Route change flag (RFC 2080 §2.5.1).
    pub changed: bool,
    /// Set while the route is advertised at metric 16 before deletion.
    pub garbage_until: Option<Instant>,
    /// What the RIB holds for this route: (next hop, ifindex) -> metric.
    pub installed_anycast: BTreeMap<(Ipv6Addr, u32), u8>,
    /// What the kernel holds for this route: (next hop, ifindex, metric).
    pub installed_unicast: Option<(Ipv6Addr, u32, u8)>,
    pub advert: Advert,
    /// Was anycast once: keeps the anycast tag on the poisoned announcements
    /// of a route with no paths left.
    pub anycast_seen: bool,
    /// The neighbours (ifindex, address) whose route limit counts this
    /// route: those it has a path from, as of the last `sync_route`.
    pub charged: Vec<(u32, Ipv6Addr)>,
}

impl Route {
    pub fn new(prefix: Prefix) -> Route {
        Route {
            prefix,
            local: None,
            paths: Vec::new(),
            changed: false,
            garbage_until: None,
            installed_anycast: BTreeMap::new(),
            installed_unicast: None,
            advert: Advert {
                metric: METRIC_INFINITY,
                ..Advert::default()
            },
            anycast_seen: false,
            charged: Vec::new(),
        }
    }

    pub fn is_anycast(&self, anycast_tag: u16) -> bool {
        matches!(self.local, Some(Local::Anycast { .. }))
            || (self.prefix.len == 128 && self.paths.iter().any(|p| p.tag == anycast_tag))
    }

    fn local_metric(&self) -> Option<u8> {
        match self.local {
            Some(Local::Unicast { metric, .. } | Local::Anycast { metric }) => Some(metric),
            None => None,
        }
    }

    pub fn best_learned(&self) -> Option<u8> {
        self.paths.iter().map(|p| p.metric).min()
    }

    /// The route's metric: the smaller of the local origin's and the best
    /// learned path's, 16 when neither exists.
    pub fn metric(&self) -> u8 {
        match self.local {
            Some(Local::Unicast { metric, .. }) => metric,
            _ => [self.local_metric(), self.best_learned()]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(METRIC_INFINITY),
        }
    }

    pub fn tag(&self, anycast_tag: u16) -> u16 {
        match self.local {
            Some(Local::Unicast { tag, .. }) => tag,
            Some(Local::Anycast { .. }) => anycast_tag,
            None if self.anycast_seen || self.is_anycast(anycast_tag) => anycast_tag,
            None => self.paths.first().map_or(0, |p| p.tag),
        }
    }

    /// The learned paths the metric rests on (the ones to install).
    pub fn best_paths(&self) -> impl Iterator<Item = &Path> {
        let m = self.metric();
        let usable = !matches!(self.local, Some(Local::Unicast { .. })) && m < METRIC_INFINITY;
        self.paths.iter().filter(move |p| usable && p.metric == m)
    }

    pub fn advert(&self, anycast_tag: u16) -> Advert {
        let metric = self.metric();
        let mut ifindexes: Vec<u32> = self.best_paths().map(|p| p.ifindex).collect();
        ifindexes.sort_unstable();
        ifindexes.dedup();
        Advert {
            metric,
            tag: self.tag(anycast_tag),
            local: metric < METRIC_INFINITY && self.local_metric() == Some(metric),
            ifindexes,
        }
    }

    /// The metric to announce on `ifindex` (RFC 2080 §2.6 split horizon),
    /// `None` to leave the route out. The metric stands if some origin of
    /// it (the local member, or a best path) is not behind `ifindex`:
    /// generalised to equal-cost paths, that keeps the rule's guarantee
    /// (the announced distance never rests on the neighbour it goes to).
    pub fn metric_on(&self, ifindex: u32, mode: super::SplitHorizon) -> Option<u8> {
        let a = &self.advert;
        if mode == super::SplitHorizon::Off
            || a.metric >= METRIC_INFINITY
            || a.local
            || a.ifindexes.iter().any(|&i| i != ifindex)
        {
            return Some(a.metric);
        }
        match mode {
            super::SplitHorizon::PoisonedReverse => Some(METRIC_INFINITY),
            _ => None,
        }
    }

    /// Whether the route holds a path from this neighbour.
    pub fn has_path_from(&self, neighbor: Ipv6Addr, ifindex: u32) -> bool {
        self.paths
            .iter()
            .any(|p| p.neighbor == neighbor && p.ifindex == ifindex)
    }

    /// Whether an offer from a neighbour the route has no path from would
    /// be taken (a new path: what a route limit must admit first).
    pub fn takes_new(&self, o: &Offer, now: Instant, timeout: Duration, anycast_tag: u16) -> bool {
        if matches!(self.local, Some(Local::Unicast { .. })) || o.metric >= METRIC_INFINITY {
            return false;
        }
        let anycast =
            self.is_anycast(anycast_tag) || (self.prefix.len == 128 && o.tag == anycast_tag);
        match self.best_learned() {
            None => true,
            Some(b) if o.metric < b => true,
            // Anycast keeps every equal path; unicast takes RFC 2080
            // §2.4.2's optional heuristic: switch to an equal route when
            // the current one is half expired.
            Some(b) if o.metric == b => {
                anycast || self.paths[0].expires.saturating_since(now) < timeout / 2
            }
            Some(_) => false,
        }
    }

    /// Applies an offer (RFC 2080 §2.4.2, with the anycast rule that equal
    /// metrics from different neighbours are all kept). Returns whether a
    /// path was added (its timeout must be armed).
    pub fn offer(&mut self, o: Offer, now: Instant, timeout: Duration, anycast_tag: u16) -> bool {
        if let Some(Local::Unicast { .. }) = self.local {
            return false;
        }
        let mut added = false;
        let expires = now + timeout;
        if let Some(i) = self
            .paths
            .iter()
            .position(|p| p.neighbor == o.neighbor && p.ifindex == o.ifindex)
        {
            // Same router: believe it, better or worse.
            if o.metric >= METRIC_INFINITY {
                self.paths.remove(i);
            } else {
                let p = &mut self.paths[i];
                p.metric = o.metric;
                p.next_hop = o.next_hop;
                p.tag = o.tag;
                p.expires = expires;
            }
        } else if self.takes_new(&o, now, timeout, anycast_tag) {
            let new = Path {
                neighbor: o.neighbor,
                ifindex: o.ifindex,
                next_hop: o.next_hop,
                metric: o.metric,
                tag: o.tag,
                expires,
            };
            let anycast =
                self.is_anycast(anycast_tag) || (self.prefix.len == 128 && o.tag == anycast_tag);
            match self.best_learned() {
                // A better path replaces the set.
                Some(b) if o.metric < b => self.paths.clear(),
                // An equal one joins an anycast set, or replaces the
                // half-expired unicast path.
                Some(_) if !anycast => self.paths.clear(),
                _ => {}
            }
            self.paths.push(new);
            added = true;
        }
        // Only the best learned metric is remembered (like RIPng; paths
        // that got worse drop out when a better one exists).
        if let Some(b) = self.best_learned() {
            self.paths.retain(|p| p.metric == b);
        }
        if !self.is_anycast(anycast_tag) {
            self.paths.truncate(1);
        }
        self.paths.sort_by_key(|p| (p.ifindex, p.neighbor));
        added
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: u16 = 0xa6a6;

    fn offer(n: u16, ifindex: u32, metric: u8, tag: u16) -> Offer {
        let neighbor = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, n);
        Offer {
            neighbor,
            ifindex,
            next_hop: neighbor,
            metric,
            tag,
        }
    }

    #[test]
    fn anycast_keeps_every_best_path_unicast_one() {
        let t = Duration::from_secs(180);
        let now = Instant::ZERO;
        let mut any = Route::new(Prefix::host("2001:db8::a".parse().unwrap()).unwrap());
        assert!(any.offer(offer(1, 1, 3, TAG), now, t, TAG));
        assert!(any.offer(offer(2, 2, 3, TAG), now, t, TAG));
        assert!(!any.offer(offer(3, 3, 4, TAG), now, t, TAG));
        assert_eq!(any.best_paths().count(), 2);
        // A better path replaces both; a worse report from a member drops it.
        any.offer(offer(3, 3, 2, TAG), now, t, TAG);
        assert_eq!(any.best_paths().count(), 1);

        let mut uni = Route::new(Prefix::new("2001:db8:1::".parse().unwrap(), 48).unwrap());
        uni.offer(offer(1, 1, 3, 0), now, t, TAG);
        uni.offer(offer(2, 2, 3, 0), now, t, TAG);
        assert_eq!(uni.paths.len(), 1);
        assert_eq!(uni.paths[0].ifindex, 1);
        // Same router reporting worse is believed.
        uni.offer(offer(1, 1, 7, 0), now, t, TAG);
        assert_eq!(uni.metric(), 7);
        // Infinity from it removes the path.
        uni.offer(offer(1, 1, 16, 0), now, t, TAG);
        assert_eq!(uni.metric(), 16);
    }

    #[test]
    fn local_anycast_competes_on_metric() {
        let t = Duration::from_secs(180);
        let mut r = Route::new(Prefix::host("2001:db8::a".parse().unwrap()).unwrap());
        r.local = Some(Local::Anycast { metric: 2 });
        r.offer(offer(1, 1, 2, TAG), Instant::ZERO, t, TAG);
        assert_eq!(r.metric(), 2);
        assert_eq!(
            r.best_paths().count(),
            1,
            "equal-metric learned member installed too"
        );
        r.local = Some(Local::Anycast { metric: 1 });
        assert_eq!(r.best_paths().count(), 0);
    }

    #[test]
    fn prefix_checks() {
        assert_eq!(
            Prefix::new("2001:db8::1".parse().unwrap(), 129),
            Err(Error::PrefixLenInvalid(129))
        );
        assert!(Prefix::new("ff02::1".parse().unwrap(), 128).is_err());
        assert!(Prefix::new("fe80::1".parse().unwrap(), 128).is_err());
        let p = Prefix::new("2001:db8:ffff::1".parse().unwrap(), 32).unwrap();
        assert_eq!(p.addr, "2001:db8::".parse::<Ipv6Addr>().unwrap());
    }
}
