//! Inputs: packets, timers, interfaces, and what this router originates.
//! Every public handler ends with `Instance::finish`: route-limit
//! crossings are logged and a change is announced as soon as the hold-down
//! allows ([`Instance::flush_triggered`]).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use anycast6_core::{Instant, LimitEvent, RibChange, RibEntry, Source};

use super::counters::Rejection;
use super::debug::Debug;
use super::error::Error;
use super::instance::Instance;
use super::interface::{Interface, InterfaceConfig};
use super::neighbor::Neighbor;
use super::packet::{self, Command, Entry, Packet, GROUP, METRIC_INFINITY, PORT};
use super::route::{Local, Offer, Prefix, Route};
use super::timers::Timer;
use super::{KernelOp, KernelRoute, Output};

impl Instance {
    // ===== interfaces =====

    /// Starts (or re-describes) ARIP on an interface: asks the link for
    /// its neighbours' tables (RFC 2080 §2.4.1) and announces ours.
    pub fn interface_up(&mut self, now: Instant, config: InterfaceConfig) -> Result<(), Error> {
        config.validate()?;
        let ifindex = config.ifindex;
        Debug::InterfaceUp {
            ifindex,
            name: &config.name,
        }
        .log();
        self.interfaces.insert(ifindex, Interface { config });
        self.send_entries(
            ifindex,
            GROUP,
            PORT,
            Command::Request,
            Packet::whole_table_request().entries,
        );
        let entries = self.update_entries(ifindex, false);
        self.send_entries(ifindex, GROUP, PORT, Command::Response, entries);
        self.finish(now);
        Ok(())
    }

    /// Stops ARIP on an interface: paths through it are gone at once.
    pub fn interface_down(&mut self, now: Instant, ifindex: u32) {
        if self.interfaces.remove(&ifindex).is_none() {
            return;
        }
        Debug::InterfaceDown { ifindex }.log();
        let gone: Vec<(u32, Ipv6Addr)> = self
            .neighbors
            .keys()
            .filter(|(i, _)| *i == ifindex)
            .copied()
            .collect();
        self.neighbors.retain(|(i, _), _| *i != ifindex);
        self.replay.remove(&ifindex);
        let affected: Vec<Prefix> = self
            .table
            .values()
            .filter(|r| r.paths.iter().any(|p| p.ifindex == ifindex))
            .map(|r| r.prefix)
            .collect();
        for prefix in affected {
            if let Some(r) = self.table.get_mut(&prefix) {
                r.paths.retain(|p| p.ifindex != ifindex);
            }
            self.sync_route(now, prefix);
        }
        for key in &gone {
            self.limit.forget(key);
        }
        self.finish(now);
    }

    // ===== what this router originates =====

    /// Announces a connected or redistributed unicast prefix at `metric`
    /// (1..=15) with route tag `tag`. It wins over learned paths.
    pub fn set_local_unicast(
        &mut self,
        now: Instant,
        addr: Ipv6Addr,
        plen: u8,
        metric: u8,
        tag: u16,
    ) -> Result<(), Error> {
        check_metric(metric)?;
        let prefix = Prefix::new(addr, plen)?;
        let r = self
            .table
            .entry(prefix)
            .or_insert_with(|| Route::new(prefix));
        r.local = Some(Local::Unicast { metric, tag });
        r.paths.clear();
        self.sync_route(now, prefix);
        self.finish(now);
        Ok(())
    }

    pub fn remove_local_unicast(
        &mut self,
        now: Instant,
        addr: Ipv6Addr,
        plen: u8,
    ) -> Result<(), Error> {
        let prefix = Prefix::new(addr, plen)?;
        if let Some(r) = self.table.get_mut(&prefix) {
            if matches!(r.local, Some(Local::Unicast { .. })) {
                r.local = None;
                self.sync_route(now, prefix);
            }
        }
        self.finish(now);
        Ok(())
    }

    /// A member of anycast address `addr` is on this router's links (ARD
    /// or static) at `metric` (1..=15): ARIP originates the /128 with the
    /// anycast tag. Calling it again changes the metric.
    pub fn set_local_anycast(
        &mut self,
        now: Instant,
        addr: Ipv6Addr,
        metric: u8,
    ) -> Result<(), Error> {
        check_metric(metric)?;
        let prefix = Prefix::host(addr)?;
        let r = self
            .table
            .entry(prefix)
            .or_insert_with(|| Route::new(prefix));
        r.local = Some(Local::Anycast { metric });
        self.sync_route(now, prefix);
        self.finish(now);
        Ok(())
    }

    /// The last local member of `addr` left.
    pub fn remove_local_anycast(&mut self, now: Instant, addr: Ipv6Addr) -> Result<(), Error> {
        let prefix = Prefix::host(addr)?;
        if let Some(r) = self.table.get_mut(&prefix) {
            if matches!(r.local, Some(Local::Anycast { .. })) {
                r.local = None;
                self.sync_route(now, prefix);
            }
        }
        self.finish(now);
        Ok(())
    }

    // ===== packets =====

    /// A UDP datagram received on port 521. `src`/`src_port` are the
    /// sender's, `hop_limit` the IPv6 hop limit it arrived with
    /// (IPV6_RECVHOPLIMIT), `ifindex` the interface (IPV6_PKTINFO).
    pub fn handle_packet(
        &mut self,
        now: Instant,
        ifindex: u32,
        src: Ipv6Addr,
        src_port: u16,
        hop_limit: u8,
        bytes: &[u8],
    ) {
        self.counters.rx_packets += 1;
        match self.accept(ifindex, src, src_port, hop_limit, bytes) {
            Err(reason) => {
                self.counters.count_rejection(&reason);
                if let Some(n) = self.neighbors.get_mut(&(ifindex, src)) {
                    n.bad_packets += 1;
                }
                Debug::PacketRejected {
                    ifindex,
                    src,
                    reason: &reason,
                }
                .log();
            }
            Ok(packet) => {
                for error in &packet.errors {
                    self.counters.count_entry(&error.kind);
                    Debug::EntryRejected {
                        ifindex,
                        src,
                        error,
                    }
                    .log();
                }
                match packet.command {
                    Command::Request => self.process_request(now, ifindex, src, src_port, &packet),
                    Command::Response => self.process_response(now, ifindex, src, &packet),
                }
            }
        }
        self.finish(now);
    }

    /// RFC 2080 §2.4.2's checks on the packet as a whole, then the trailer.
    fn accept(
        &mut self,
        ifindex: u32,
        src: Ipv6Addr,
        src_port: u16,
        hop_limit: u8,
        bytes: &[u8],
    ) -> Result<Packet, Rejection> {
        if !self.interfaces.contains_key(&ifindex) {
            return Err(Rejection::InterfaceUnknown);
        }
        let packet = Packet::decode(bytes).map_err(Rejection::Decode)?;
        if self.is_own_address(&src) {
            return Err(Rejection::SourceOwnAddress);
        }
        if packet.command == Command::Response {
            if src_port != PORT {
                return Err(Rejection::SourcePort(src_port));
            }
            if !packet::is_link_local(&src) {
                return Err(Rejection::SourceNotLinkLocal);
            }
            if self.config.check_hop_limit && hop_limit != 255 {
                return Err(Rejection::HopLimit(hop_limit));
            }
        }
        if self.config.keyring.enabled() {
            let (key_id, seq) = packet::verify(bytes, &packet, src, &self.config.keyring)
                .map_err(Rejection::Auth)?;
            // Only after the digest verified, so forgeries cannot move it.
            self.replay
                .entry(ifindex)
                .or_default()
                .check_and_update(src, key_id, seq)
                .map_err(Rejection::Auth)?;
        }
        Ok(packet)
    }

    /// RFC 2080 §2.4.1.
    fn process_request(
        &mut self,
        now: Instant,
        ifindex: u32,
        src: Ipv6Addr,
        src_port: u16,
        p: &Packet,
    ) {
        self.counters.rx_requests += 1;
        if let Some(n) = self.neighbors.get_mut(&(ifindex, src)) {
            n.rx_requests += 1;
            n.last_heard = now;
        }
        if p.is_whole_table_request() {
            // "sent via the normal output process", split horizon included.
            let entries = self.update_entries(ifindex, false);
            self.send_entries(ifindex, src, src_port, Command::Response, entries);
            return;
        }
        // Specific entries: answered as they are, no split horizon.
        let tag = self.config.anycast_tag;
        let entries: Vec<Entry> = p
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Route(r) => {
                    let found = Prefix::new(r.prefix, r.plen)
                        .ok()
                        .and_then(|pfx| self.table.get(&pfx));
                    let mut r = *r;
                    r.metric = found.map_or(METRIC_INFINITY, |route| route.metric());
                    if let Some(route) = found {
                        r.tag = route.tag(tag);
                    }
                    Some(Entry::Route(r))
                }
                Entry::NextHop(_) => None,
            })
            .collect();
        if !entries.is_empty() {
            self.send_entries(ifindex, src, src_port, Command::Response, entries);
        }
    }

    /// RFC 2080 §2.4.2, per RTE.
    fn process_response(&mut self, now: Instant, ifindex: u32, src: Ipv6Addr, p: &Packet) {
        self.counters.rx_responses += 1;
        let key = (ifindex, src);
        let expiry = now + self.config.timeout + self.config.garbage;
        let n = self
            .neighbors
            .entry(key)
            .or_insert_with(|| Neighbor::new(ifindex, src, now));
        n.rx_responses += 1;
        n.last_heard = now;
        if self.config.keyring.enabled() {
            n.last_seq = p.auth.map(|t| t.seq);
        }
        n.bad_entries += p.errors.len() as u64;
        if self
            .timers
            .get(&Timer::NeighborExpiry { ifindex, addr: src })
            .is_none()
        {
            self.timers
                .set(Timer::NeighborExpiry { ifindex, addr: src }, expiry);
        }
        let cost = self.interfaces[&ifindex].config.cost;
        let mut next_hop = src;
        for e in &p.entries {
            match *e {
                Entry::NextHop(a) => next_hop = if a.is_unspecified() { src } else { a },
                Entry::Route(rte) => {
                    let Ok(prefix) = Prefix::new(rte.prefix, rte.plen) else {
                        continue;
                    };
                    let offer = Offer {
                        neighbor: src,
                        ifindex,
                        next_hop,
                        metric: rte.metric.saturating_add(cost).min(METRIC_INFINITY),
                        tag: rte.tag,
                    };
                    self.apply_offer(now, prefix, offer);
                }
            }
        }
    }

    fn apply_offer(&mut self, now: Instant, prefix: Prefix, offer: Offer) {
        let (timeout, tag) = (self.config.timeout, self.config.anycast_tag);
        // A path from a neighbour we hold nothing of for this prefix is a
        // new route: the route limit admits it or it is refused (counted).
        // Updates and withdrawals of held paths never ask.
        let new_path = match self.table.get(&prefix) {
            Some(r) => {
                !r.has_path_from(offer.neighbor, offer.ifindex)
                    && r.takes_new(&offer, now, timeout, tag)
            }
            None => offer.metric < METRIC_INFINITY,
        };
        if new_path {
            if let Err(why) = self.limit.admit(&(offer.ifindex, offer.neighbor)) {
                self.counters.count_refused(why);
                Debug::RouteRefused {
                    prefix,
                    ifindex: offer.ifindex,
                    src: offer.neighbor,
                    why,
                }
                .log();
                return;
            }
        }
        let r = match self.table.get_mut(&prefix) {
            Some(r) => r,
            None if offer.metric >= METRIC_INFINITY => return,
            None => self
                .table
                .entry(prefix)
                .or_insert_with(|| Route::new(prefix)),
        };
        if r.offer(offer, now, timeout, tag) {
            let t = Timer::PathTimeout {
                prefix,
                ifindex: offer.ifindex,
                neighbor: offer.neighbor,
            };
            self.timers.set(t, now + timeout);
        }
        self.sync_route(now, prefix);
    }

    // ===== timers =====

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(t) = self.timers.pop_due(now) {
            match t {
                Timer::Update => {
                    self.send_periodic_update();
                    self.arm_update(now);
                }
                // The hold-down is over; flush_triggered sends what waits.
                Timer::TriggeredHoldDown => {}
                Timer::PathTimeout {
                    prefix,
                    ifindex,
                    neighbor,
                } => self.path_timeout(now, prefix, ifindex, neighbor),
                Timer::RouteGarbage(prefix) => {
                    let due = self.table.get(&prefix).is_some_and(|r| {
                        r.metric() >= METRIC_INFINITY && r.garbage_until.is_some_and(|g| g <= now)
                    });
                    if due {
                        if let Some(r) = self.table.remove(&prefix) {
                            // Nothing left to charge (no path at metric 16),
                            // but never leave a count behind.
                            for key in &r.charged {
                                self.limit.remove(key);
                            }
                        }
                        self.counters.routes_garbage_collected += 1;
                        Debug::RouteGarbageCollected { prefix }.log();
                    }
                }
                Timer::NeighborExpiry { ifindex, addr } => {
                    let limit = self.config.timeout + self.config.garbage;
                    if let Some(n) = self.neighbors.get(&(ifindex, addr)) {
                        let until = n.last_heard + limit;
                        if until > now {
                            self.timers.set(t, until);
                        } else {
                            self.neighbors.remove(&(ifindex, addr));
                            if let Some(g) = self.replay.get_mut(&ifindex) {
                                g.forget(addr);
                            }
                            // Its paths timed out before it did: its
                            // routes are gone, and so is its count.
                            self.limit.forget(&(ifindex, addr));
                            Debug::NeighborExpired { ifindex, addr }.log();
                        }
                    }
                }
            }
        }
        self.finish(now);
    }

    fn path_timeout(&mut self, now: Instant, prefix: Prefix, ifindex: u32, neighbor: Ipv6Addr) {
        let Some(r) = self.table.get_mut(&prefix) else {
            return;
        };
        let Some(i) = r
            .paths
            .iter()
            .position(|p| p.ifindex == ifindex && p.neighbor == neighbor)
        else {
            return;
        };
        let expires = r.paths[i].expires;
        if expires > now {
            // Refreshed since the timer was armed.
            let t = Timer::PathTimeout {
                prefix,
                ifindex,
                neighbor,
            };
            self.timers.set(t, expires);
            return;
        }
        r.paths.remove(i);
        self.counters.path_timeouts += 1;
        Debug::PathTimeout {
            prefix,
            neighbor,
            ifindex,
        }
        .log();
        self.sync_route(now, prefix);
    }

    // ===== consequences of a route change =====

    /// Brings the RIB, the kernel, the change flag and the deletion timer
    /// in line with a route's paths.
    pub(crate) fn sync_route(&mut self, now: Instant, prefix: Prefix) {
        let tag = self.config.anycast_tag;
        let Some(r) = self.table.get_mut(&prefix) else {
            return;
        };
        let anycast = r.is_anycast(tag);
        r.anycast_seen |= anycast;
        let metric = r.metric();
        let want_any: BTreeMap<(Ipv6Addr, u32), u8> = if anycast {
            r.best_paths()
                .map(|p| ((p.next_hop, p.ifindex), p.metric))
                .collect()
        } else {
            BTreeMap::new()
        };
        let want_uni = if anycast {
            None
        } else {
            r.best_paths()
                .next()
                .map(|p| (p.next_hop, p.ifindex, p.metric))
        };
        for &(next_hop, ifindex) in r.installed_anycast.keys() {
            if !want_any.contains_key(&(next_hop, ifindex)) {
                self.outputs.push_back(Output::Rib(RibChange::Withdraw {
                    anycast: prefix.addr,
                    next_hop,
                    ifindex,
                    source: Source::Arip,
                }));
            }
        }
        for (&(next_hop, ifindex), &m) in &want_any {
            if r.installed_anycast.get(&(next_hop, ifindex)) != Some(&m) {
                self.outputs
                    .push_back(Output::Rib(RibChange::Upsert(RibEntry {
                        anycast: prefix.addr,
                        next_hop,
                        ifindex,
                        metric: u32::from(m),
                        member_unicast: None,
                        source: Source::Arip,
                    })));
            }
        }
        if want_uni != r.installed_unicast {
            let (op, (next_hop, ifindex, metric)) = match (want_uni, r.installed_unicast) {
                (Some(w), _) => (KernelOp::Add, w),
                (None, Some(old)) => (KernelOp::Remove, old),
                (None, None) => unreachable!("differ"),
            };
            self.outputs.push_back(Output::Kernel(KernelRoute {
                op,
                prefix: prefix.addr,
                plen: prefix.len,
                next_hop,
                ifindex,
                metric,
            }));
        }
        r.installed_anycast = want_any;
        r.installed_unicast = want_uni;

        // The route limit counts one route per neighbour with a path here.
        let mut charged: Vec<(u32, Ipv6Addr)> =
            r.paths.iter().map(|p| (p.ifindex, p.neighbor)).collect();
        charged.sort_unstable();
        charged.dedup();
        if charged != r.charged {
            for key in r.charged.iter().filter(|k| !charged.contains(k)) {
                self.limit.remove(key);
            }
            for key in charged.iter().filter(|k| !r.charged.contains(k)) {
                self.limit.add(key);
            }
            r.charged = charged;
        }

        let advert = r.advert(tag);
        if advert != r.advert {
            r.advert = advert;
            r.changed = true;
            self.trigger_pending = true;
            Debug::RouteChanged {
                prefix,
                metric,
                paths: r.paths.len(),
            }
            .log();
        }
        if metric >= METRIC_INFINITY {
            if r.garbage_until.is_none() {
                let until = now + self.config.garbage;
                r.garbage_until = Some(until);
                self.timers.set(Timer::RouteGarbage(prefix), until);
            }
        } else if r.garbage_until.take().is_some() {
            self.timers.cancel(Timer::RouteGarbage(prefix));
        }
    }

    /// The end of every public handler: route-limit crossings logged,
    /// then the triggered update if one may go.
    fn finish(&mut self, now: Instant) {
        while let Some(e) = self.limit.poll_event() {
            match e {
                LimitEvent::Warning { .. } => self.counters.route_limit_warnings += 1,
                LimitEvent::Reached { .. } => self.counters.route_limit_reached += 1,
                LimitEvent::Cleared { .. } => {}
            }
            Debug::Limit(&e).log();
        }
        self.flush_triggered(now);
    }

    /// Sends a triggered update now if one is pending and the hold-down
    /// (RFC 2080 §2.5.1) is not running, then starts the hold-down.
    pub(crate) fn flush_triggered(&mut self, now: Instant) {
        if !self.trigger_pending || self.timers.get(&Timer::TriggeredHoldDown).is_some() {
            return;
        }
        self.send_triggered_update();
        let c = &self.config;
        let hold = self.rng.between(c.triggered_min, c.triggered_max);
        self.timers.set(Timer::TriggeredHoldDown, now + hold);
    }
}

fn check_metric(metric: u8) -> Result<(), Error> {
    if (1..METRIC_INFINITY).contains(&metric) {
        Ok(())
    } else {
        Err(Error::MetricInvalid(metric))
    }
}
