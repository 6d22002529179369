//! The AOSPF instance: state and the daemon-facing API. The packet
//! handlers are in rx.rs, flooding in flood.rs, our LSAs in origin.rs,
//! SPF and route installation in routes.rs.

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use anycast6_core::Instant;

use crate::config::{Config, InterfaceConfig, Originated};
use crate::counters::Counters;
use crate::interface::{IState, Interface};
use crate::lsdb::{LsaKey, Lsdb, ScopeKey};
use crate::neighbor::NState;
use crate::packet::lsa::MAX_AGE;
use crate::packet::{self, Body, Header, Options, Packet};
use crate::routes::Installed;
use crate::view::{InterfaceView, LsaView, NeighborView, NextHopView, RouteView, View};
use crate::Output;

/// How long after a change delayed acknowledgements wait (RFC 2328
/// §13.5: less than RxmtInterval).
pub(crate) const ACK_DELAY: Duration = Duration::from_millis(500);
/// Housekeeping period: aging, MaxAge removal, refresh.
pub(crate) const TICK: Duration = Duration::from_secs(1);
/// How long a clean exit waits for its flushed LSAs to be acknowledged.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

pub struct Instance {
    pub(crate) cfg: Config,
    pub(crate) ifaces: BTreeMap<u32, Interface>,
    pub(crate) lsdb: Lsdb,
    pub(crate) originated: Vec<Originated>,
    /// Sequence number and time of our last origination of each LSA.
    pub(crate) mine: BTreeMap<(ScopeKey, LsaKey), (i32, Instant)>,
    /// A deferred origination (MinLSInterval).
    pub(crate) originate_at: Option<Instant>,
    /// Keys to originate anew even if their content is current.
    pub(crate) forced: std::collections::BTreeSet<(ScopeKey, LsaKey)>,
    pub(crate) spf_at: Option<Instant>,
    pub(crate) spf_last: Option<Instant>,
    /// The last prefix update (routes.rs), held down like SPF.
    pub(crate) prefix_update_last: Option<Instant>,
    pub(crate) installed: BTreeMap<(Ipv6Addr, u8), Installed>,
    pub(crate) routes: crate::spf::SpfResult,
    pub(crate) tick_at: Instant,
    pub(crate) shutdown_until: Option<Instant>,
    /// Graceful restart in progress, until (gr.rs).
    pub(crate) restarting: Option<Instant>,
    pub(crate) dd_seed: u32,
    pub(crate) out: VecDeque<Output>,
    pub(crate) counters: Counters,
}

impl Instance {
    pub fn new(cfg: Config, now: Instant) -> Instance {
        Instance {
            dd_seed: (now.as_micros() as u32) | 1,
            cfg,
            ifaces: BTreeMap::new(),
            lsdb: Lsdb::default(),
            originated: Vec::new(),
            mine: BTreeMap::new(),
            originate_at: None,
            forced: Default::default(),
            spf_at: None,
            spf_last: None,
            prefix_update_last: None,
            installed: BTreeMap::new(),
            routes: crate::spf::SpfResult::default(),
            tick_at: now + TICK,
            shutdown_until: None,
            restarting: None,
            out: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// For settings read at run time (the grace period).
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.cfg
    }

    pub fn router_id(&self) -> Ipv4Addr {
        self.cfg.router_id
    }

    /// Starts OSPF on an interface (InterfaceUp), or applies a new config
    /// to it: a change of anything the neighbours check (intervals,
    /// network type, authentication) restarts it.
    pub fn interface_up(&mut self, now: Instant, ifc: InterfaceConfig) {
        if let Some(cur) = self.ifaces.get_mut(&ifc.ifindex) {
            let same = cur.cfg.network == ifc.network
                && cur.cfg.hello_interval == ifc.hello_interval
                && cur.cfg.dead_interval == ifc.dead_interval
                && cur.cfg.passive == ifc.passive
                && cur.cfg.link_local == ifc.link_local
                && cur.cfg.auth.is_some() == ifc.auth.is_some();
            if same {
                let reoriginate = cur.cfg.cost != ifc.cost || cur.cfg.priority != ifc.priority;
                cur.cfg = ifc;
                if reoriginate {
                    self.originate_all(now);
                }
                self.finish(now);
                return;
            }
            self.interface_down(now, ifc.ifindex);
        }
        let ifindex = ifc.ifindex;
        let mut i = Interface::new(ifc, now);
        i.state = if i.cfg.passive {
            IState::Loopback
        } else if i.is_p2p() {
            IState::PointToPoint
        } else if i.cfg.priority == 0 {
            IState::DrOther
        } else {
            i.wait_until = Some(now + i.cfg.dead_interval);
            IState::Waiting
        };
        self.ifaces.insert(ifindex, i);
        if self.ifaces[&ifindex].sends() {
            self.send_hello(now, ifindex);
        }
        self.originate_all(now);
        self.finish(now);
    }

    /// Stops OSPF on an interface (InterfaceDown): its neighbours go, its
    /// link-scope LSAs go, our LSAs change.
    pub fn interface_down(&mut self, now: Instant, ifindex: u32) {
        if self.ifaces.remove(&ifindex).is_none() {
            return;
        }
        self.lsdb.remove_scope(ScopeKey::Link(ifindex));
        self.mine.retain(|(s, _), _| *s != ScopeKey::Link(ifindex));
        self.originate_all(now);
        self.schedule_spf(now);
        self.finish(now);
    }

    /// Replaces what this router originates.
    pub fn set_origination(&mut self, now: Instant, mut prefixes: Vec<Originated>) {
        prefixes.sort();
        prefixes.dedup();
        if prefixes != self.originated {
            self.originated = prefixes;
            self.originate_all(now);
        }
        self.finish(now);
    }

    /// One IPv6 payload of next header 89 received on `ifindex`.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        ifindex: u32,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        bytes: &[u8],
    ) {
        self.counters.rx_packets += 1;
        self.receive(now, ifindex, src, dst, bytes);
        self.finish(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let ifindexes: Vec<u32> = self.ifaces.keys().copied().collect();
        for ifindex in ifindexes {
            self.interface_timers(now, ifindex);
        }
        if self.tick_at <= now {
            self.tick_at = now + TICK;
            self.housekeeping(now);
        }
        if self.shutdown_until.is_some_and(|t| t <= now) {
            // Leaving: what is still unacknowledged stays so.
            for n in self
                .ifaces
                .values_mut()
                .flat_map(|i| i.neighbors.values_mut())
            {
                n.rxmt.clear();
                n.rxmt_at = None;
            }
        }
        if self.originate_at.is_some_and(|t| t <= now) {
            self.originate_at = None;
            self.originate_all(now);
        }
        if self.spf_at.is_some_and(|t| t <= now) {
            self.run_spf(now);
        }
        self.check_restart_done(now);
        self.finish(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if let Some(until) = self.shutdown_until {
            let waiting = self
                .ifaces
                .values()
                .flat_map(|i| i.neighbors.values())
                .filter(|n| !n.rxmt.is_empty())
                .map(|n| n.next_timer())
                .min()?;
            return Some(waiting.min(until).max(Instant::ZERO));
        }
        let mut t = self.tick_at;
        for i in self.ifaces.values() {
            if i.sends() {
                t = t.min(i.hello_at);
            }
            for x in [i.wait_until, i.ack_at].into_iter().flatten() {
                t = t.min(x);
            }
            for n in i.neighbors.values() {
                t = t.min(n.next_timer());
            }
        }
        for x in [self.originate_at, self.spf_at, self.restarting]
            .into_iter()
            .flatten()
        {
            t = t.min(x);
        }
        Some(t)
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Clean exit: our LSAs flushed (MaxAge) so neighbours route around us
    /// at once, every route we installed removed. Then `poll_timeout`
    /// runs only until the flushes are acknowledged (at most 2 s) and
    /// returns None.
    pub fn shutdown(&mut self, now: Instant) {
        let own: Vec<(ScopeKey, LsaKey)> = self
            .lsdb
            .iter()
            .filter(|(_, k, e)| k.adv_router == self.cfg.router_id && !e.is_max_age(now))
            .map(|(s, k, _)| (s, *k))
            .collect();
        for (s, k) in own {
            self.flush(now, s, k);
        }
        self.originated.clear();
        self.uninstall_all();
        self.shutdown_until = Some(now + SHUTDOWN_GRACE);
        self.finish(now);
    }

    /// Test and benchmark hook: installs `lsa` (any advertising router) as
    /// if it had just been received, and floods it to every neighbour.
    /// A load generator uses it to hand a peer a synthetic database.
    #[doc(hidden)]
    pub fn inject(&mut self, now: Instant, ifindex: u32, mut lsa: crate::packet::Lsa) {
        let s = ScopeKey::of(lsa.header.ls_type, ifindex);
        let k = LsaKey::of(&lsa.header);
        lsa.seal();
        self.lsdb.install(s, lsa, now);
        self.unlist(s, k);
        self.flood(now, s, k, None);
        self.schedule_spf_lsdb(now);
        self.finish(now);
    }

    /// Where the LSDB and neighbours stand, for `show aospf`.
    pub fn view(&self, now: Instant) -> View {
        let me = self.cfg.router_id;
        let name = |ifindex: u32| {
            self.ifaces
                .get(&ifindex)
                .map_or_else(|| ifindex.to_string(), |i| i.cfg.name.clone())
        };
        let interfaces = self
            .ifaces
            .values()
            .map(|i| InterfaceView {
                name: i.cfg.name.clone(),
                ifindex: i.cfg.ifindex,
                interface_id: i.id,
                network: i.cfg.network,
                state: i.state.name().to_string(),
                cost: i.cfg.cost,
                priority: i.cfg.priority,
                passive: i.cfg.passive,
                dr: i.dr,
                bdr: i.bdr,
                hello_interval_s: i.cfg.hello_interval.as_secs(),
                dead_interval_s: i.cfg.dead_interval.as_secs(),
                authenticated: i.cfg.auth.is_some(),
                neighbors: i.neighbors.len(),
                adjacent: i.full_neighbors().count(),
            })
            .collect();
        let neighbors = self
            .ifaces
            .values()
            .flat_map(|i| i.neighbors.values().map(move |n| (i, n)))
            .map(|(i, n)| NeighborView {
                router_id: n.router_id,
                interface: i.cfg.name.clone(),
                ifindex: i.cfg.ifindex,
                addr: n.addr,
                state: n.state.name().to_string(),
                priority: n.priority,
                dr: n.dr,
                bdr: n.bdr,
                dead_in_ms: n.dead_at.saturating_since(now).as_millis() as u64,
                retransmit_list: n.rxmt.len(),
                request_list: n.requests.len(),
                up_for_ms: now.saturating_since(n.up_since).as_millis() as u64,
                helping_for_ms: n
                    .helping
                    .map(|t| t.saturating_since(now).as_millis() as u64),
            })
            .collect();
        let database = self
            .lsdb
            .iter()
            .map(|(s, k, e)| LsaView {
                scope: match s {
                    ScopeKey::Link(i) => format!("link {}", name(i)),
                    ScopeKey::Area => "area".into(),
                    ScopeKey::As => "as".into(),
                },
                ls_type: lsa_type_name(k.ls_type.0),
                id: k.id,
                adv_router: k.adv_router,
                age: e.age(now),
                seq: format!("{:#010x}", e.lsa.header.seq as u32),
                checksum: format!("{:#06x}", e.lsa.header.checksum),
                length: e.lsa.header.length,
                own: k.adv_router == me,
                prefixes: crate::origin::prefixes_of(&e.lsa)
                    .iter()
                    .map(|p| {
                        let ac = if p.options & crate::spf::PREFIX_AC != 0 {
                            " +ac"
                        } else {
                            ""
                        };
                        format!("{}/{} metric {}{ac}", p.addr, p.len, p.field)
                    })
                    .collect(),
            })
            .collect();
        let routes = self
            .routes
            .routes
            .values()
            .filter(|r| !r.local)
            .map(|r| RouteView {
                prefix: r.prefix,
                plen: r.plen,
                path_type: match r.path_type {
                    crate::spf::PathType::IntraArea => "intra-area",
                    crate::spf::PathType::External1 => "external-1",
                    crate::spf::PathType::External2 => "external-2",
                }
                .to_string(),
                cost: r.cost,
                anycast: r.anycast,
                originators: r.originators.iter().copied().collect(),
                nexthops: r
                    .nexthops
                    .iter()
                    .map(|h| NextHopView {
                        interface: name(h.ifindex),
                        ifindex: h.ifindex,
                        addr: h.addr,
                    })
                    .collect(),
                installed: self.installed.contains_key(&(r.prefix, r.plen)),
            })
            .collect();
        View {
            router_id: me,
            area: self.cfg.area,
            interfaces,
            neighbors,
            database,
            routes,
            counters: self.counters.clone(),
            lsas: self.lsdb.len(),
            max_lsas: self.cfg.max_lsas,
            restarting_for_ms: self
                .restarting
                .map(|t| t.saturating_since(now).as_millis() as u64),
        }
    }

    // ── internals shared by the other rooms ──

    /// After every entry point: batched floods and acks go out.
    pub(crate) fn finish(&mut self, now: Instant) {
        self.update_prefixes(now);
        self.send_pending_floods(now);
    }

    pub(crate) fn options(&self, ifindex: u32) -> Options {
        let mut o = Options::V6 | Options::E | Options::R;
        if self
            .ifaces
            .get(&ifindex)
            .is_some_and(|i| i.cfg.auth.is_some())
        {
            o |= Options::AT;
        }
        Options(o)
    }

    /// Encodes, checksums or signs, and queues one packet.
    pub(crate) fn send(&mut self, ifindex: u32, dst: Ipv6Addr, body: Body) {
        let Some(ifc) = self.ifaces.get_mut(&ifindex) else {
            return;
        };
        let src = ifc.cfg.link_local;
        let mut bytes = Packet {
            header: Header {
                router_id: self.cfg.router_id,
                area_id: self.cfg.area,
                checksum: 0,
                instance_id: self.cfg.instance_id,
            },
            body,
            trailer: None,
        }
        .encode();
        match &ifc.cfg.auth {
            Some(a) => {
                if let Some(key) = a.keys.send_key() {
                    let seq = ifc.seq.take();
                    packet::auth::seal(&mut bytes, src, key, seq, a.prep);
                }
            }
            None => {
                let c = packet::checksum(src, dst, &bytes);
                bytes[packet::CHECKSUM_OFFSET..packet::CHECKSUM_OFFSET + 2]
                    .copy_from_slice(&c.to_be_bytes());
            }
        }
        self.counters.tx_packets += 1;
        self.out.push_back(Output::Send {
            ifindex,
            src,
            dst,
            bytes,
        });
    }

    /// Largest OSPF packet (without trailer) that fits the link.
    pub(crate) fn budget(&self, ifindex: u32) -> usize {
        let i = &self.ifaces[&ifindex];
        let trailer = if i.cfg.auth.is_some() {
            packet::auth::TRAILER_LEN
        } else {
            0
        };
        usize::from(i.cfg.mtu).saturating_sub(40 + trailer).max(576)
    }

    pub(crate) fn send_hello(&mut self, now: Instant, ifindex: u32) {
        let options = self.options(ifindex);
        let Some(i) = self.ifaces.get_mut(&ifindex) else {
            return;
        };
        i.hello_at = now + i.cfg.hello_interval;
        let hello = packet::Hello {
            interface_id: i.id,
            priority: i.cfg.priority,
            options,
            hello_interval: i.cfg.hello_interval.as_secs() as u16,
            dead_interval: i.cfg.dead_interval.as_secs() as u16,
            dr: i.dr,
            bdr: i.bdr,
            neighbors: i
                .neighbors
                .values()
                .filter(|n| n.state >= NState::Init)
                .map(|n| n.router_id)
                .collect(),
        };
        self.send(ifindex, packet::ALL_SPF_ROUTERS, Body::Hello(hello));
    }

    fn interface_timers(&mut self, now: Instant, ifindex: u32) {
        let (hello, wait, ack) = {
            let i = &self.ifaces[&ifindex];
            (
                i.sends() && i.hello_at <= now,
                i.wait_until.is_some_and(|t| t <= now),
                i.ack_at.is_some_and(|t| t <= now),
            )
        };
        if hello {
            self.send_hello(now, ifindex);
        }
        if wait {
            // WaitTimer.
            self.ifaces.get_mut(&ifindex).unwrap().wait_until = None;
            self.elect(now, ifindex);
        }
        if ack {
            self.send_delayed_acks(ifindex);
        }
        let rids: Vec<Ipv4Addr> = self.ifaces[&ifindex].neighbors.keys().copied().collect();
        for rid in rids {
            self.neighbor_timers(now, ifindex, rid);
        }
    }

    /// Aging (RFC 2328 §14): LSAs that reached MaxAge are flooded, and
    /// removed once no neighbour still needs them; ours are refreshed at
    /// LSRefreshTime.
    fn housekeeping(&mut self, now: Instant) {
        let me = self.cfg.router_id;
        let mut aged = Vec::new();
        let mut refresh = false;
        for (s, k, e) in self.lsdb.iter() {
            if e.is_max_age(now) {
                aged.push((s, *k, e.lsa.header.age < MAX_AGE));
            } else if k.adv_router == me && e.age(now) >= crate::lsdb::LS_REFRESH_TIME {
                refresh = true;
            }
        }
        let exchanging = self
            .ifaces
            .values()
            .flat_map(|i| i.neighbors.values())
            .any(|n| matches!(n.state, NState::Exchange | NState::Loading));
        for (s, k, fresh) in aged {
            if fresh {
                // Reached MaxAge by aging: flood it as such.
                let mut lsa = self.lsdb.get(s, &k).unwrap().lsa.clone();
                lsa.header.age = MAX_AGE;
                self.lsdb.install(s, lsa, now);
                self.flood(now, s, k, None);
                self.schedule_spf_lsdb(now);
                continue;
            }
            let listed = self
                .ifaces
                .values()
                .flat_map(|i| i.neighbors.values())
                .any(|n| n.rxmt.contains_key(&(s, k)));
            if !listed && !exchanging {
                self.lsdb.remove(s, &k);
                if k.adv_router == me {
                    // Flushed or wrapped: a later origination starts over.
                    self.originate_at = Some(now);
                }
            }
        }
        if refresh {
            self.refresh_own(now);
        }
    }

    /// Something outside the database changed what SPF sees (an
    /// interface, a neighbour, an election): a full run, delayed.
    pub(crate) fn schedule_spf(&mut self, now: Instant) {
        self.lsdb.topology_changed();
        self.schedule_spf_lsdb(now);
    }

    /// The database changed; it knows how ([`crate::lsdb::Changes`]):
    /// the run is a prefix update at the end of this call if only
    /// prefixes did (routes.rs), else a full one, delayed.
    pub(crate) fn schedule_spf_lsdb(&mut self, now: Instant) {
        if self.spf_at.is_some() {
            return;
        }
        let mut at = now + self.cfg.spf_delay;
        if let Some(last) = self.spf_last {
            at = at.max(last + self.cfg.spf_hold);
        }
        self.spf_at = Some(at);
    }

    pub(crate) fn next_dd_seq(&mut self) -> u32 {
        self.dd_seed = self
            .dd_seed
            .wrapping_mul(1_103_515_245)
            .wrapping_add(12_345);
        self.dd_seed
    }
}

pub(crate) fn lsa_type_name(t: u16) -> String {
    match t {
        0x2001 => "Router".into(),
        0x2002 => "Network".into(),
        0x2003 => "Inter-Prefix".into(),
        0x2004 => "Inter-Router".into(),
        0x4005 => "AS-External".into(),
        0x2007 => "NSSA".into(),
        0x0008 => "Link".into(),
        0x2009 => "Intra-Prefix".into(),
        0x000b => "Grace".into(),
        t => format!("{t:#06x}"),
    }
}
