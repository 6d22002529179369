//! Receiving: checks every packet passes (RFC 5340 §4.2.2, RFC 7166
//! §4.5), then Hello (RFC 2328 §10.5), Database Description (§10.6),
//! LS Request (§10.7), LS Update (§13) and LS Ack (§13.7); and the
//! neighbour state machine's transitions (neighbor.rs has the table).

use std::cmp::Ordering;
use std::net::{Ipv4Addr, Ipv6Addr};

use anycast6_core::Instant;

use crate::instance::Instance;
use crate::interface::IState;
use crate::lsdb::{self, compare, LsaKey, Lsdb, ScopeKey};
use crate::neighbor::{LastDd, NState, Neighbor};
use crate::packet::lsa::MAX_AGE;
use crate::packet::{
    self, Body, DbDesc, Hello, LsRequest, Lsa, LsaHeader, Options, Packet, DD_I, DD_M, DD_MS,
};

fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

impl Instance {
    pub(crate) fn receive(
        &mut self,
        now: Instant,
        ifindex: u32,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        bytes: &[u8],
    ) {
        let Some(ifc) = self.ifaces.get_mut(&ifindex) else {
            return;
        };
        if !ifc.sends() {
            return;
        }
        if !is_link_local(src) {
            self.counters.bad_source += 1;
            return;
        }
        if dst == packet::ALL_D_ROUTERS && !matches!(ifc.state, IState::Dr | IState::Backup) {
            // Not for us (RFC 5340 §4.2.2): only the DR and BDR listen.
            return;
        }
        match &ifc.cfg.auth {
            Some(a) => match packet::auth::verify(bytes, src, &a.keys, a.prep) {
                Ok(t) => {
                    if ifc.replay.check_and_update(src, t.sa_id, t.seq).is_err() {
                        self.counters.auth_replays += 1;
                        return;
                    }
                }
                Err(_) => {
                    self.counters.auth_failures += 1;
                    return;
                }
            },
            None => {
                if bytes.len() >= packet::HEADER_LEN {
                    let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
                    if len < bytes.len() {
                        // A trailer we have no key for (RFC 7166 §4.5).
                        self.counters.auth_failures += 1;
                        return;
                    }
                    let got = u16::from_be_bytes([bytes[12], bytes[13]]);
                    if got != packet::checksum(src, dst, bytes) {
                        self.counters.bad_checksum += 1;
                        return;
                    }
                }
            }
        }
        let p = match Packet::decode(bytes) {
            Ok(p) => p,
            Err(_) => {
                self.counters.bad_packets += 1;
                return;
            }
        };
        if p.header.instance_id != self.cfg.instance_id {
            self.counters.wrong_instance += 1;
            return;
        }
        if p.header.area_id != self.cfg.area {
            self.counters.wrong_area += 1;
            return;
        }
        let rid = p.header.router_id;
        if rid == self.cfg.router_id {
            self.counters.own_router_id += 1;
            return;
        }
        match p.body {
            Body::Hello(h) => {
                self.counters.rx_hello += 1;
                self.rx_hello(now, ifindex, src, rid, h);
            }
            Body::DbDesc(d) => {
                self.counters.rx_dd += 1;
                self.rx_dd(now, ifindex, rid, d);
            }
            Body::LsRequest(r) => {
                self.counters.rx_ls_request += 1;
                self.rx_ls_request(now, ifindex, rid, r);
            }
            Body::LsUpdate(u) => {
                self.counters.rx_ls_update += 1;
                self.rx_ls_update(now, ifindex, rid, u);
            }
            Body::LsAck(a) => {
                self.counters.rx_ls_ack += 1;
                self.rx_ls_ack(now, ifindex, rid, a);
            }
        }
    }

    fn rx_hello(&mut self, now: Instant, ifindex: u32, src: Ipv6Addr, rid: Ipv4Addr, h: Hello) {
        let me = self.cfg.router_id;
        let ifc = self.ifaces.get_mut(&ifindex).unwrap();
        if u64::from(h.hello_interval) != ifc.cfg.hello_interval.as_secs()
            || u64::from(h.dead_interval) != ifc.cfg.dead_interval.as_secs()
            || !h.options.has(Options::E)
        {
            self.counters.hello_mismatch += 1;
            return;
        }
        let dead = ifc.cfg.dead_interval;
        let p2p = ifc.is_p2p();
        let waiting = ifc.state == IState::Waiting;
        let n = ifc
            .neighbors
            .entry(rid)
            .or_insert_with(|| Neighbor::new(rid, src, now));
        let (old_pri, old_dr, old_bdr) = (n.priority, n.declares_dr(), n.declares_bdr());
        n.addr = src;
        n.interface_id = h.interface_id;
        n.priority = h.priority;
        n.options = h.options;
        n.dr = h.dr;
        n.bdr = h.bdr;
        // HelloReceived.
        n.dead_at = now + dead;
        if n.state == NState::Down {
            n.state = NState::Init;
            n.up_since = now;
        }
        let (new_dr, new_bdr) = (n.declares_dr(), n.declares_bdr());
        if h.neighbors.contains(&me) {
            self.two_way_received(now, ifindex, rid);
        } else {
            self.one_way_received(now, ifindex, rid);
            return;
        }
        if p2p {
            return;
        }
        let backup_seen = waiting && ((new_dr && h.bdr == Ipv4Addr::UNSPECIFIED) || new_bdr);
        if backup_seen {
            self.ifaces.get_mut(&ifindex).unwrap().wait_until = None;
            self.elect(now, ifindex);
        } else if old_pri != h.priority || old_dr != new_dr || old_bdr != new_bdr {
            self.neighbor_change(now, ifindex);
        }
    }

    /// 2-WayReceived.
    fn two_way_received(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        let me = self.cfg.router_id;
        let ifc = self.ifaces.get_mut(&ifindex).unwrap();
        let n = &ifc.neighbors[&rid];
        if n.state != NState::Init {
            return;
        }
        let adj = ifc.should_be_adjacent(me, n);
        ifc.neighbors.get_mut(&rid).unwrap().state = NState::TwoWay;
        if adj {
            self.start_exstart(now, ifindex, rid);
        }
        if !self.ifaces[&ifindex].is_p2p() {
            self.neighbor_change(now, ifindex);
        }
    }

    /// 1-WayReceived.
    fn one_way_received(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        let ifc = self.ifaces.get_mut(&ifindex).unwrap();
        let n = ifc.neighbors.get_mut(&rid).unwrap();
        if n.state < NState::TwoWay {
            return;
        }
        let was_full = n.state == NState::Full;
        n.state = NState::Init;
        n.clear_lists();
        if !ifc.is_p2p() {
            self.neighbor_change(now, ifindex);
        }
        if was_full {
            self.originate_all(now);
        }
    }

    /// Enter ExStart: a new DD sequence number, we claim master.
    pub(crate) fn start_exstart(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        let seq = self.next_dd_seq();
        let was_full = {
            let n = self.nbr(ifindex, rid);
            let was = n.state == NState::Full;
            n.clear_lists();
            n.state = NState::ExStart;
            n.master = true;
            n.dd_seq = seq;
            was
        };
        self.send_dd(now, ifindex, rid, DD_I | DD_M | DD_MS, vec![]);
        if was_full {
            self.originate_all(now);
        }
    }

    pub(crate) fn nbr(&mut self, ifindex: u32, rid: Ipv4Addr) -> &mut Neighbor {
        self.ifaces
            .get_mut(&ifindex)
            .unwrap()
            .neighbors
            .get_mut(&rid)
            .unwrap()
    }

    /// Sends one DD to the neighbour, remembers it for retransmission.
    fn send_dd(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr, flags: u8, h: Vec<LsaHeader>) {
        let options = self.options(ifindex);
        let mtu = self.ifaces[&ifindex].cfg.mtu;
        let rxmt = self.ifaces[&ifindex].cfg.retransmit_interval;
        let n = self.nbr(ifindex, rid);
        let dd = DbDesc {
            options,
            mtu,
            flags,
            seq: n.dd_seq,
            headers: h,
        };
        let dst = n.addr;
        n.sent_more = flags & DD_M != 0;
        n.dd_rxmt_at = if n.master { Some(now + rxmt) } else { None };
        n.last_tx_dd = Some(dd.clone());
        self.send(ifindex, dst, Body::DbDesc(dd));
    }

    /// Resends the last DD as it was, but for the MTU.
    pub(crate) fn resend_dd(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        let rxmt = self.ifaces[&ifindex].cfg.retransmit_interval;
        let mtu = self.ifaces[&ifindex].cfg.mtu;
        let n = self.nbr(ifindex, rid);
        let Some(mut last) = n.last_tx_dd.clone() else {
            return;
        };
        // The MTU as it is now: one a neighbour refused may have been
        // lowered since, and the exchange would never start otherwise.
        last.mtu = mtu;
        if n.master {
            n.dd_rxmt_at = Some(now + rxmt);
        }
        let dst = n.addr;
        self.counters.retransmissions += 1;
        self.send(ifindex, dst, Body::DbDesc(last));
    }

    fn rx_dd(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr, d: DbDesc) {
        let me = self.cfg.router_id;
        let our_mtu = self.ifaces[&ifindex].cfg.mtu;
        let Some(state) = self.ifaces[&ifindex].neighbors.get(&rid).map(|n| n.state) else {
            self.counters.bad_state += 1;
            return;
        };
        if d.mtu > our_mtu {
            // RFC 2328 §10.6: an MTU above ours is refused.
            self.counters.mtu_mismatch += 1;
            return;
        }
        let this = LastDd {
            flags: d.flags,
            seq: d.seq,
            options: d.options,
        };
        match state {
            NState::Down | NState::Init | NState::TwoWay => {
                if state == NState::Init {
                    self.two_way_received(now, ifindex, rid);
                    if self.ifaces[&ifindex].neighbors[&rid].state == NState::ExStart {
                        return self.rx_dd(now, ifindex, rid, d);
                    }
                }
                self.counters.bad_state += 1;
            }
            NState::ExStart => {
                let init = d.flags & (DD_I | DD_M | DD_MS) == DD_I | DD_M | DD_MS;
                let n = self.nbr(ifindex, rid);
                if init && d.headers.is_empty() && rid > me {
                    // We are the slave; take its sequence number.
                    n.master = false;
                    n.dd_seq = d.seq;
                    n.dd_rxmt_at = None;
                } else if d.flags & (DD_I | DD_MS) == 0 && d.seq == n.dd_seq && rid < me {
                    // We are the master.
                } else {
                    if init && rid < me {
                        // It claims master too, and will answer ours: send
                        // it again now rather than at RxmtInterval (a
                        // neighbour that restarted the exchange, such as a
                        // graceful-restart helper, may have dropped it).
                        self.resend_dd(now, ifindex, rid);
                    }
                    return;
                }
                n.options = d.options;
                self.negotiation_done(now, ifindex, rid);
                self.exchange_dd(now, ifindex, rid, this, d);
            }
            NState::Exchange => {
                let n = self.nbr(ifindex, rid);
                if n.last_rx_dd == Some(this) {
                    if !n.master {
                        self.resend_dd(now, ifindex, rid);
                    }
                    return;
                }
                let master_bit = d.flags & DD_MS != 0;
                let ok = master_bit != n.master
                    && d.flags & DD_I == 0
                    && d.options == n.options
                    && if n.master {
                        d.seq == n.dd_seq
                    } else {
                        d.seq == n.dd_seq.wrapping_add(1)
                    };
                if !ok {
                    return self.seq_number_mismatch(now, ifindex, rid);
                }
                self.exchange_dd(now, ifindex, rid, this, d);
            }
            NState::Loading | NState::Full => {
                let n = self.nbr(ifindex, rid);
                if n.last_rx_dd == Some(this) {
                    if !n.master {
                        self.resend_dd(now, ifindex, rid);
                    }
                    return;
                }
                self.seq_number_mismatch(now, ifindex, rid);
            }
        }
    }

    /// NegotiationDone: the database summary is everything we hold in the
    /// scopes this neighbour shares (RFC 2328 §10.3; MaxAge LSAs go on
    /// the retransmission list instead).
    fn negotiation_done(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        let mut summary = Vec::new();
        let mut maxage = Vec::new();
        for s in Lsdb::scopes_for(ifindex) {
            for (k, e) in self.lsdb.scope(s) {
                if e.is_max_age(now) {
                    maxage.push((s, *k));
                } else {
                    summary.push((s, e.header(now)));
                }
            }
        }
        let rxmt = self.ifaces[&ifindex].cfg.retransmit_interval;
        let n = self.nbr(ifindex, rid);
        n.state = NState::Exchange;
        n.summary = summary.into();
        for k in maxage {
            n.rxmt.insert(k, ());
        }
        if !n.rxmt.is_empty() && n.rxmt_at.is_none() {
            n.rxmt_at = Some(now + rxmt);
        }
    }

    /// The exchange proper, once a DD is accepted in Exchange (or ends
    /// ExStart).
    fn exchange_dd(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr, this: LastDd, d: DbDesc) {
        for h in &d.headers {
            let s = ScopeKey::of(h.ls_type, ifindex);
            let k = LsaKey::of(h);
            let held = self.lsdb.get(s, &k).map(|e| e.header(now));
            let want = held.is_none_or(|c| compare(h, &c) == Ordering::Greater);
            if want {
                // A full database refuses what is new (as rx_lsa would),
                // so a neighbour describing millions of LSAs cannot grow
                // the request list past max_lsas either.
                let room = self.cfg.max_lsas.saturating_sub(self.lsdb.len());
                let n = self.nbr(ifindex, rid);
                if held.is_none() && n.requests.len() >= room {
                    self.counters.lsas_refused += 1;
                    continue;
                }
                n.requests.insert((s, k), *h);
            }
        }
        let per_dd = (self.budget(ifindex) - packet::HEADER_LEN - 12) / packet::lsa::LSA_HEADER_LEN;
        let n = self.nbr(ifindex, rid);
        n.last_rx_dd = Some(this);
        let their_more = d.flags & DD_M != 0;
        if n.master {
            n.dd_rxmt_at = None;
            if !n.sent_more && !their_more {
                return self.exchange_done(now, ifindex, rid);
            }
            n.dd_seq = n.dd_seq.wrapping_add(1);
        } else {
            n.dd_seq = d.seq;
        }
        let take = per_dd.min(n.summary.len());
        let headers: Vec<LsaHeader> = n.summary.drain(..take).map(|(_, h)| h).collect();
        let more = !n.summary.is_empty();
        let master = n.master;
        let flags = if more { DD_M } else { 0 } | if master { DD_MS } else { 0 };
        self.send_dd(now, ifindex, rid, flags, headers);
        if !master && !more && !their_more {
            self.exchange_done(now, ifindex, rid);
        }
    }

    /// ExchangeDone: Loading if we still want LSAs, else Full.
    fn exchange_done(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        let n = self.nbr(ifindex, rid);
        if n.requests.is_empty() {
            n.state = NState::Full;
            self.became_full(now, ifindex);
        } else {
            n.state = NState::Loading;
            self.send_ls_request(now, ifindex, rid);
        }
    }

    fn became_full(&mut self, now: Instant, _ifindex: u32) {
        self.originate_all(now);
        self.schedule_spf(now);
        self.check_restart_done(now);
    }

    /// SeqNumberMismatch / BadLSReq: start the exchange over.
    pub(crate) fn seq_number_mismatch(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        self.counters.bad_state += 1;
        self.start_exstart(now, ifindex, rid);
    }

    pub(crate) fn send_ls_request(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        let per = (self.budget(ifindex) - packet::HEADER_LEN) / 12;
        let rxmt = self.ifaces[&ifindex].cfg.retransmit_interval;
        let n = self.nbr(ifindex, rid);
        if n.requests.is_empty() {
            n.req_rxmt_at = None;
            return;
        }
        let reqs: Vec<LsRequest> = n
            .requests
            .keys()
            .take(per)
            .map(|(_, k)| LsRequest {
                ls_type: k.ls_type,
                id: k.id,
                adv_router: k.adv_router,
            })
            .collect();
        n.req_rxmt_at = Some(now + rxmt);
        let dst = n.addr;
        self.send(ifindex, dst, Body::LsRequest(reqs));
    }

    /// The neighbour's address if it may send us LS Requests, Updates and
    /// Acks (Exchange or later, RFC 2328 §10.7, §13, §13.7); else counted.
    fn exchanging(&mut self, ifindex: u32, rid: Ipv4Addr) -> Option<Ipv6Addr> {
        let n = self.ifaces[&ifindex]
            .neighbors
            .get(&rid)
            .filter(|n| n.state >= NState::Exchange);
        if n.is_none() {
            self.counters.bad_state += 1;
        }
        n.map(|n| n.addr)
    }

    fn rx_ls_request(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr, reqs: Vec<LsRequest>) {
        let Some(dst) = self.exchanging(ifindex, rid) else {
            return;
        };
        let delay = self.ifaces[&ifindex].cfg.transmit_delay;
        let mut lsas = Vec::new();
        for r in &reqs {
            let k = LsaKey {
                ls_type: r.ls_type,
                id: r.id,
                adv_router: r.adv_router,
            };
            match self.lsdb.get(ScopeKey::of(r.ls_type, ifindex), &k) {
                Some(e) => lsas.push(e.to_send(now, delay)),
                None => {
                    // BadLSReq.
                    return self.seq_number_mismatch(now, ifindex, rid);
                }
            }
        }
        self.send_lsas(ifindex, dst, lsas);
    }

    /// Sends LSAs in as many LS Updates as the link's MTU needs.
    pub(crate) fn send_lsas(&mut self, ifindex: u32, dst: Ipv6Addr, lsas: Vec<Lsa>) {
        let budget = self.budget(ifindex) - packet::HEADER_LEN - 4;
        let mut batch = Vec::new();
        let mut size = 0;
        for l in lsas {
            let len = usize::from(l.header.length.max(20));
            if !batch.is_empty() && size + len > budget {
                self.send(ifindex, dst, Body::LsUpdate(std::mem::take(&mut batch)));
                size = 0;
            }
            size += len;
            batch.push(l);
        }
        if !batch.is_empty() {
            self.send(ifindex, dst, Body::LsUpdate(batch));
        }
    }

    fn rx_ls_update(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr, lsas: Vec<Lsa>) {
        if self.exchanging(ifindex, rid).is_none() {
            return;
        }
        for lsa in lsas {
            if !self.rx_lsa(now, ifindex, rid, lsa) {
                // BadLSReq: the exchange restarted; the rest is moot.
                break;
            }
        }
        self.check_loading(now, ifindex, rid);
    }

    /// One LSA of an LS Update (RFC 2328 §13 steps 1-8). False when the
    /// neighbour's exchange had to restart.
    fn rx_lsa(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr, lsa: Lsa) -> bool {
        let me = self.cfg.router_id;
        if !lsa.checksum_ok() {
            self.counters.bad_lsa_checksum += 1;
            return true;
        }
        let h = lsa.header;
        let s = ScopeKey::of(h.ls_type, ifindex);
        let k = LsaKey::of(&h);
        let cur = self.lsdb.get(s, &k).map(|e| (e.header(now), e.installed));
        // Step 4: a MaxAge LSA we do not hold, with nobody exchanging.
        if h.age >= MAX_AGE && cur.is_none() && !self.anyone_exchanging() {
            self.direct_ack(ifindex, rid, h);
            return true;
        }
        let newer = cur.is_none_or(|(c, _)| compare(&h, &c) == Ordering::Greater);
        if newer {
            // Step 5a: MinLSArrival.
            if let Some((_, at)) = cur {
                if now.saturating_since(at) < lsdb::MIN_LS_ARRIVAL && k.adv_router != me {
                    self.counters.lsas_too_soon += 1;
                    return true;
                }
            }
            // Ours included: flushed, one claiming to be ours would stay
            // until every neighbour acknowledged it, past the limit.
            if cur.is_none() && self.lsdb.len() >= self.cfg.max_lsas {
                self.counters.lsas_refused += 1;
                // Not asked for again: Loading would never end, and each
                // LS Update would bring another request for it.
                if let Some(n) = self
                    .ifaces
                    .get_mut(&ifindex)
                    .unwrap()
                    .neighbors
                    .get_mut(&rid)
                {
                    n.requests.remove(&(s, k));
                }
                return true;
            }
            let old = self.lsdb.install(s, lsa, now);
            let changed = old
                .as_ref()
                .is_none_or(|o| lsdb::content_differs(&o.lsa, &self.lsdb.get(s, &k).unwrap().lsa));
            // Step 5c: the old instance leaves every retransmission list.
            self.unlist(s, k);
            if let Some(req) = self
                .ifaces
                .get_mut(&ifindex)
                .unwrap()
                .neighbors
                .get_mut(&rid)
            {
                req.requests.remove(&(s, k));
            }
            let back = self.flood(now, s, k, Some((ifindex, rid)));
            if changed {
                self.lsa_changed(now, s, k);
            }
            // Step 5e: acknowledge (RFC 2328 §13.5 table 19).
            if !back {
                let ifc = &self.ifaces[&ifindex];
                if ifc.state != IState::Backup || ifc.dr == rid {
                    self.delayed_ack(now, ifindex, h);
                }
            }
            if k.ls_type == crate::gr::GRACE {
                self.grace_lsa(now, s, k);
            }
            // Step 5f: one of ours from an earlier life (taken as it is
            // while restarting gracefully, RFC 3623 §2.2).
            if (k.adv_router == me || self.is_our_network_lsa(&k)) && self.restarting.is_none() {
                self.own_lsa_received(now, s, k);
            }
            return true;
        }
        let (c, _) = cur.unwrap();
        // Step 6: on the request list yet not newer: BadLSReq.
        if self.ifaces[&ifindex].neighbors[&rid]
            .requests
            .contains_key(&(s, k))
        {
            self.seq_number_mismatch(now, ifindex, rid);
            return false;
        }
        if compare(&h, &c) == Ordering::Equal {
            // Step 7: a duplicate; an implied acknowledgement.
            let n = self.nbr(ifindex, rid);
            if n.rxmt.remove(&(s, k)).is_some() {
                let ifc = &self.ifaces[&ifindex];
                if ifc.state == IState::Backup && ifc.dr == rid {
                    self.delayed_ack(now, ifindex, h);
                }
            } else {
                self.direct_ack(ifindex, rid, h);
            }
            return true;
        }
        // Step 8: ours is newer; send it back unless it is MaxAge at the
        // wrap.
        if c.age >= MAX_AGE && c.seq == lsdb::MAX_SEQ {
            return true;
        }
        let delay = self.ifaces[&ifindex].cfg.transmit_delay;
        let back = self.lsdb.get(s, &k).unwrap().to_send(now, delay);
        let dst = self.ifaces[&ifindex].neighbors[&rid].addr;
        self.send_lsas(ifindex, dst, vec![back]);
        true
    }

    fn is_our_network_lsa(&self, k: &LsaKey) -> bool {
        k.ls_type == packet::LsaType::NETWORK && k.adv_router == self.cfg.router_id
    }

    pub(crate) fn anyone_exchanging(&self) -> bool {
        self.ifaces
            .values()
            .flat_map(|i| i.neighbors.values())
            .any(|n| matches!(n.state, NState::Exchange | NState::Loading))
    }

    /// Loading → Full once nothing is left to request.
    fn check_loading(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        let Some(n) = self
            .ifaces
            .get_mut(&ifindex)
            .and_then(|i| i.neighbors.get_mut(&rid))
        else {
            return;
        };
        if n.state == NState::Loading {
            if n.requests.is_empty() {
                n.state = NState::Full;
                n.req_rxmt_at = None;
                self.became_full(now, ifindex);
            } else if n.req_rxmt_at.is_none_or(|t| t > now) {
                // Ask for the next batch at once.
                self.send_ls_request(now, ifindex, rid);
            }
        }
    }

    fn rx_ls_ack(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr, acks: Vec<LsaHeader>) {
        if self.exchanging(ifindex, rid).is_none() {
            return;
        }
        for h in acks {
            let s = ScopeKey::of(h.ls_type, ifindex);
            let k = LsaKey::of(&h);
            let same = self
                .lsdb
                .get(s, &k)
                .is_some_and(|e| compare(&h, &e.header(now)) == Ordering::Equal);
            let n = self.nbr(ifindex, rid);
            if same || !n.rxmt.contains_key(&(s, k)) {
                n.rxmt.remove(&(s, k));
            }
        }
        let n = self.nbr(ifindex, rid);
        if n.rxmt.is_empty() {
            n.rxmt_at = None;
        }
    }

    /// Neighbour timers: inactivity, DD / request / LSA retransmission.
    pub(crate) fn neighbor_timers(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        self.helper_timers(now, ifindex, rid);
        let n = &self.ifaces[&ifindex].neighbors[&rid];
        if n.dead_at <= now {
            if let Some(until) = n.helping {
                // Restarting with our help: it keeps its place.
                self.nbr(ifindex, rid).dead_at = until;
                return;
            }
            return self.kill_neighbor(now, ifindex, rid);
        }
        let (dd, req, rx) = (
            n.dd_rxmt_at.is_some_and(|t| t <= now),
            n.req_rxmt_at.is_some_and(|t| t <= now),
            n.rxmt_at.is_some_and(|t| t <= now),
        );
        if dd {
            self.resend_dd(now, ifindex, rid);
        }
        if req {
            self.counters.retransmissions += 1;
            self.send_ls_request(now, ifindex, rid);
        }
        if rx {
            self.retransmit(now, ifindex, rid);
        }
    }

    /// InactivityTimer / KillNbr / LLDown.
    pub(crate) fn kill_neighbor(&mut self, now: Instant, ifindex: u32, rid: Ipv4Addr) {
        let ifc = self.ifaces.get_mut(&ifindex).unwrap();
        let Some(n) = ifc.neighbors.remove(&rid) else {
            return;
        };
        ifc.replay.forget(n.addr);
        if !ifc.is_p2p() {
            self.neighbor_change(now, ifindex);
        }
        self.originate_all(now);
        self.schedule_spf(now);
    }

    /// NeighborChange: elect again if the interface has elected before.
    fn neighbor_change(&mut self, now: Instant, ifindex: u32) {
        if matches!(
            self.ifaces[&ifindex].state,
            IState::Dr | IState::Backup | IState::DrOther
        ) {
            self.elect(now, ifindex);
        }
    }

    /// The DR election and what follows from it (RFC 2328 §9.4 last
    /// paragraphs): new state, adjacencies made or broken, our LSAs.
    pub(crate) fn elect(&mut self, now: Instant, ifindex: u32) {
        let me = self.cfg.router_id;
        let ifc = self.ifaces.get_mut(&ifindex).unwrap();
        let (dr, bdr) = ifc.elect(me);
        let changed = (dr, bdr) != (ifc.dr, ifc.bdr) || ifc.state == IState::Waiting;
        ifc.dr = dr;
        ifc.bdr = bdr;
        ifc.state = if dr == me {
            IState::Dr
        } else if bdr == me {
            IState::Backup
        } else {
            IState::DrOther
        };
        if !changed {
            return;
        }
        let mut start = Vec::new();
        let mut stop = Vec::new();
        for n in ifc.neighbors.values() {
            let adj = ifc.should_be_adjacent(me, n);
            if n.state == NState::TwoWay && adj {
                start.push(n.router_id);
            } else if n.state >= NState::ExStart && !adj {
                stop.push(n.router_id);
            }
        }
        for rid in start {
            self.start_exstart(now, ifindex, rid);
        }
        for rid in stop {
            let n = self.nbr(ifindex, rid);
            n.state = NState::TwoWay;
            n.clear_lists();
        }
        // Hellos carry the new DR/BDR at once.
        self.send_hello(now, ifindex);
        self.originate_all(now);
        self.schedule_spf(now);
    }
}
