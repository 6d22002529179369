//! Hostile and broken peers, on a simulated clock: one side is driven by
//! hand (packets built from `crate::packet` types, checksummed here), the
//! other is an [`Instance`] (or a [`Net`] of them, `filter` recording or
//! dropping). Every refusal must show up in its counter, and the routes
//! the instance hands out must stay right. This file is the bench and the
//! peer; the tests are by concern: `packets` (malformed, misdirected,
//! mismatched), `lsas` (one bad LSA, MinLSArrival, the sequence number
//! wrap), `flood` (max_lsas, big originations, memory), `auth` (RFC 7166).

mod auth;
mod flood;
mod lsas;
mod packets;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::time::Duration;

use anycast6_core::auth::{Key, Keyring};
use anycast6_core::{Instant, RibChange, SimClock};

use super::sim::{self, Net};
use crate::packet::auth::KeyPrep;
use crate::packet::lsa::{
    AsExternalLsa, IntraAreaPrefixLsa, Prefix, RouterLink, RouterLsa, LINK_POINT_TO_POINT, MAX_AGE,
    ROUTER_E,
};
use crate::packet::{
    self, Body, DbDesc, Header, Hello, Lsa, LsaBody, LsaHeader, LsaType, Options, Packet, DD_I,
    DD_M, DD_MS,
};
use crate::{
    Config, Counters, Instance, InterfaceAuth, InterfaceConfig, KernelOp, KernelRoute, NetworkType,
    Originated, Output,
};

const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const HOSTILE: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
const LEGIT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 5);
/// The legitimate peer's loopback, the route that must survive.
const LEGIT_LO: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 5);
const OPTIONS: Options = Options(Options::V6 | Options::E | Options::R);

fn my_ll(ifindex: u32) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 1, ifindex as u16)
}

/// The instance under attack, its outputs collected.
struct Bench {
    clock: SimClock,
    core: Instance,
    /// Every packet sent: (ifindex, dst, decoded).
    sent: Vec<(u32, Ipv6Addr, Packet)>,
    kernel: BTreeMap<(Ipv6Addr, u8), KernelRoute>,
    rib: BTreeMap<Ipv6Addr, BTreeMap<(Ipv6Addr, u32), u32>>,
    /// Outputs dropped instead of kept (to measure the instance alone).
    quiet: bool,
}

impl Bench {
    /// Router ME with a point-to-point interface per ifindex in `ifs`.
    fn new(max_lsas: usize, ifs: &[u32]) -> Bench {
        let clock = SimClock::new();
        let mut cfg = Config::new(ME);
        cfg.max_lsas = max_lsas;
        cfg.spf_delay = Duration::from_millis(10);
        cfg.spf_hold = Duration::from_millis(50);
        let mut b = Bench {
            core: Instance::new(cfg, clock.now()),
            clock,
            sent: vec![],
            kernel: BTreeMap::new(),
            rib: BTreeMap::new(),
            quiet: false,
        };
        for &i in ifs {
            let mut c =
                InterfaceConfig::new(i, &format!("h{i}"), my_ll(i), NetworkType::PointToPoint);
            sim::fast(&mut c);
            b.core.interface_up(b.clock.now(), c);
        }
        b.core.set_origination(
            b.clock.now(),
            vec![sim::host(
                Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 1),
                0,
                false,
            )],
        );
        b.drain();
        b
    }

    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn drain(&mut self) {
        while let Some(o) = self.core.poll_output() {
            if self.quiet {
                continue;
            }
            match o {
                Output::Send {
                    ifindex,
                    dst,
                    bytes,
                    ..
                } => {
                    let p = Packet::decode(&bytes).expect("what we send decodes");
                    self.sent.push((ifindex, dst, p));
                }
                Output::Kernel(k) => match k.op {
                    KernelOp::Add => {
                        self.kernel.insert((k.prefix, k.plen), k);
                    }
                    KernelOp::Remove => {
                        assert!(
                            self.kernel.remove(&(k.prefix, k.plen)).is_some(),
                            "removed a route never added: {k:?}"
                        );
                    }
                },
                Output::Rib(RibChange::Upsert(e)) => {
                    self.rib
                        .entry(e.anycast)
                        .or_default()
                        .insert((e.next_hop, e.ifindex), e.metric);
                }
                Output::Rib(RibChange::Withdraw {
                    anycast,
                    next_hop,
                    ifindex,
                    ..
                }) => {
                    let m = self.rib.get_mut(&anycast).expect("withdrawn unknown");
                    assert!(m.remove(&(next_hop, ifindex)).is_some());
                    if m.is_empty() {
                        self.rib.remove(&anycast);
                    }
                }
            }
        }
    }

    fn rx(&mut self, ifindex: u32, src: Ipv6Addr, dst: Ipv6Addr, bytes: &[u8]) {
        let now = self.now();
        self.core.handle_packet(now, ifindex, src, dst, bytes);
        self.drain();
    }

    /// Runs the instance's timers for `d` (nobody answers).
    fn run(&mut self, d: Duration) {
        let end = self.now() + d;
        while let Some(t) = self.core.poll_timeout().filter(|t| *t <= end) {
            let t = self.clock.jump_to(t);
            self.core.handle_timeout(t);
            self.drain();
        }
        self.clock.jump_to(end);
    }

    /// Runs for `d` with each of `peers` sending a Hello every second.
    fn keepalive(&mut self, peers: &[&Peer], d: Duration) {
        let end = self.now() + d;
        while self.now() < end {
            for p in peers {
                p.send(self, p.hello(&[ME]));
            }
            let step = end.saturating_since(self.now()).min(Duration::from_secs(1));
            self.run(step);
        }
    }

    fn counters(&self) -> Counters {
        self.core.view(self.now()).counters
    }

    fn state(&self, rid: Ipv4Addr) -> Option<String> {
        self.core
            .view(self.now())
            .neighbors
            .iter()
            .find(|n| n.router_id == rid)
            .map(|n| n.state.clone())
    }

    /// Packets sent out of `ifindex` since `from` (an index into `sent`).
    fn sent_since(&self, from: usize, ifindex: u32) -> Vec<Packet> {
        self.sent[from..]
            .iter()
            .filter(|(i, _, _)| *i == ifindex)
            .map(|(_, _, p)| p.clone())
            .collect()
    }

    fn lsa(&self, t: LsaType, id: u32, adv: Ipv4Addr) -> Option<crate::lsdb::Entry> {
        let k = crate::lsdb::LsaKey {
            ls_type: t,
            id: Ipv4Addr::from(id),
            adv_router: adv,
        };
        let s = crate::lsdb::ScopeKey::of(t, 1);
        self.core.lsdb.get(s, &k).cloned()
    }
}

/// Writes the right packet checksum into `bytes`.
fn with_checksum(src: Ipv6Addr, dst: Ipv6Addr, mut bytes: Vec<u8>) -> Vec<u8> {
    let c = packet::checksum(src, dst, &bytes);
    bytes[packet::CHECKSUM_OFFSET..packet::CHECKSUM_OFFSET + 2].copy_from_slice(&c.to_be_bytes());
    bytes
}

/// A neighbour driven by hand, on the victim's point-to-point `ifindex`.
struct Peer {
    rid: Ipv4Addr,
    ll: Ipv6Addr,
    ifindex: u32,
    area: Ipv4Addr,
    instance_id: u8,
    hello_interval: u16,
    dd_seq: u32,
}

impl Peer {
    fn new(rid: Ipv4Addr, ifindex: u32) -> Peer {
        Peer {
            rid,
            ll: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 2, rid.octets()[3].into()),
            ifindex,
            area: Ipv4Addr::UNSPECIFIED,
            instance_id: 0,
            hello_interval: 1,
            dd_seq: 0x4000,
        }
    }

    fn encode(&self, body: Body) -> Vec<u8> {
        Packet {
            header: Header {
                router_id: self.rid,
                area_id: self.area,
                checksum: 0,
                instance_id: self.instance_id,
            },
            body,
            trailer: None,
        }
        .encode()
    }

    /// `body` as a packet to `dst`, checksummed.
    fn bytes(&self, body: Body, dst: Ipv6Addr) -> Vec<u8> {
        with_checksum(self.ll, dst, self.encode(body))
    }

    fn send(&self, b: &mut Bench, body: Body) {
        let bytes = self.bytes(body, packet::ALL_SPF_ROUTERS);
        b.rx(self.ifindex, self.ll, packet::ALL_SPF_ROUTERS, &bytes);
    }

    fn hello(&self, seen: &[Ipv4Addr]) -> Body {
        Body::Hello(Hello {
            interface_id: 7,
            priority: 1,
            options: OPTIONS,
            hello_interval: self.hello_interval,
            dead_interval: 4 * self.hello_interval,
            dr: Ipv4Addr::UNSPECIFIED,
            bdr: Ipv4Addr::UNSPECIFIED,
            neighbors: seen.to_vec(),
        })
    }

    fn dd(&self, flags: u8, headers: Vec<LsaHeader>) -> Body {
        Body::DbDesc(DbDesc {
            options: OPTIONS,
            mtu: 1500,
            flags,
            seq: self.dd_seq,
            headers,
        })
    }

    /// Hello, then the database exchange as master, describing `db`, then
    /// every LS Request answered from `db`, until the victim asks no more
    /// (at most `rounds` requests). Returns how many requests it sent.
    fn adjacency(&mut self, b: &mut Bench, db: &[Lsa], rounds: usize) -> usize {
        self.exchange(b, db);
        self.answer(b, db, rounds)
    }

    /// Hello, then the database exchange as master, describing `db`.
    fn exchange(&mut self, b: &mut Bench, db: &[Lsa]) {
        self.send(b, self.hello(&[ME]));
        assert_eq!(b.state(self.rid).as_deref(), Some("ExStart"));
        self.send(b, self.dd(DD_I | DD_M | DD_MS, vec![]));
        assert_eq!(b.state(self.rid).as_deref(), Some("Exchange"));
        let headers: Vec<LsaHeader> = db.iter().map(|l| l.header).collect();
        let mut chunks = headers.chunks(50).peekable();
        loop {
            let from = b.sent.len();
            let chunk = chunks.next().map(<[_]>::to_vec).unwrap_or_default();
            let more = chunks.peek().is_some();
            self.dd_seq += 1;
            self.send(b, self.dd(DD_MS | if more { DD_M } else { 0 }, chunk));
            let reply = b
                .sent_since(from, self.ifindex)
                .into_iter()
                .find_map(|p| match p.body {
                    Body::DbDesc(d) => Some(d),
                    _ => None,
                })
                .expect("the slave answers every DD");
            assert_eq!(reply.seq, self.dd_seq);
            if !more && reply.flags & DD_M == 0 {
                break;
            }
        }
    }

    /// LS Requests answered from `db` until the victim asks no more (at
    /// most `rounds`); returns how many it sent.
    fn answer(&mut self, b: &mut Bench, db: &[Lsa], rounds: usize) -> usize {
        let by_key: BTreeMap<(LsaType, Ipv4Addr, Ipv4Addr), &Lsa> = db
            .iter()
            .map(|l| ((l.header.ls_type, l.header.id, l.header.adv_router), l))
            .collect();
        let mut asked = 0;
        let mut from = 0;
        while asked < rounds {
            let reqs: Vec<packet::LsRequest> = b
                .sent_since(from, self.ifindex)
                .into_iter()
                .filter_map(|p| match p.body {
                    Body::LsRequest(r) => Some(r),
                    _ => None,
                })
                .flatten()
                .collect();
            from = b.sent.len();
            if reqs.is_empty() {
                break;
            }
            asked += 1;
            let lsas = reqs
                .iter()
                .map(|r| by_key[&(r.ls_type, r.id, r.adv_router)].clone())
                .collect();
            self.send(b, Body::LsUpdate(lsas));
        }
        asked
    }
}

fn lsa(t: LsaType, id: u32, adv: Ipv4Addr, seq: i32, body: LsaBody) -> Lsa {
    let mut l = Lsa {
        header: LsaHeader {
            age: 1,
            ls_type: t,
            id: Ipv4Addr::from(id),
            adv_router: adv,
            seq,
            checksum: 0,
            length: 0,
        },
        body,
    };
    l.seal();
    l
}

const SEQ: i32 = 0x8000_0001_u32 as i32;

/// A peer's Router-LSA: one point-to-point link back to us on `ifindex`.
fn router_lsa(adv: Ipv4Addr, seq: i32, ifindex: u32, asbr: bool) -> Lsa {
    lsa(
        LsaType::ROUTER,
        0,
        adv,
        seq,
        LsaBody::Router(RouterLsa {
            flags: if asbr { ROUTER_E } else { 0 },
            options: OPTIONS,
            links: vec![RouterLink {
                link_type: LINK_POINT_TO_POINT,
                metric: 10,
                interface_id: 7,
                neighbor_interface_id: ifindex,
                neighbor_router_id: ME,
            }],
        }),
    )
}

/// A peer's Link-LSA for its interface 7 (where next hops come from).
fn link_lsa(p: &Peer, seq: i32) -> Lsa {
    lsa(
        LsaType::LINK,
        7,
        p.rid,
        seq,
        LsaBody::Link(crate::packet::lsa::LinkLsa {
            priority: 1,
            options: OPTIONS,
            link_local: p.ll,
            prefixes: vec![],
        }),
    )
}

fn host_prefix(a: Ipv6Addr, metric: u16) -> Prefix {
    Prefix {
        len: 128,
        options: 0,
        field: metric,
        addr: a,
    }
}

/// A peer's Intra-Area-Prefix-LSA `id` carrying `prefixes`.
fn prefix_lsa(adv: Ipv4Addr, id: u32, seq: i32, prefixes: Vec<Prefix>) -> Lsa {
    lsa(
        LsaType::INTRA_AREA_PREFIX,
        id,
        adv,
        seq,
        LsaBody::IntraAreaPrefix(IntraAreaPrefixLsa {
            ref_ls_type: LsaType::ROUTER,
            ref_id: Ipv4Addr::UNSPECIFIED,
            ref_adv_router: adv,
            prefixes,
        }),
    )
}

/// The `i`th of a flood of AS-External-LSAs: 2001:db8:1:<i>::/64.
fn external(adv: Ipv4Addr, i: u32) -> Lsa {
    let addr = Ipv6Addr::new(0x2001, 0xdb8, 1 + (i >> 16) as u16, i as u16, 0, 0, 0, 0);
    lsa(
        LsaType::AS_EXTERNAL,
        i,
        adv,
        SEQ,
        LsaBody::AsExternal(AsExternalLsa {
            type2: false,
            metric: 20,
            prefix: Prefix {
                len: 64,
                options: 0,
                field: 0,
                addr,
            },
            forwarding: None,
            tag: None,
            ref_id: None,
        }),
    )
}

/// A bench with a well-behaved neighbour LEGIT on ifindex 1, Full, whose
/// loopback is routed.
fn with_legit(max_lsas: usize, ifs: &[u32]) -> (Bench, Peer) {
    let mut b = Bench::new(max_lsas, ifs);
    let mut p = Peer::new(LEGIT, 1);
    let db = vec![
        link_lsa(&p, SEQ),
        router_lsa(LEGIT, SEQ, 1, false),
        prefix_lsa(LEGIT, 0, SEQ, vec![host_prefix(LEGIT_LO, 0)]),
    ];
    p.adjacency(&mut b, &db, 10);
    assert_eq!(b.state(LEGIT).as_deref(), Some("Full"));
    // Our Router-LSA with the link to it waits for MinLSInterval.
    b.keepalive(&[&p], Duration::from_secs(6));
    assert_legit_route(&b);
    (b, p)
}

fn assert_legit_route(b: &Bench) {
    let r = b
        .kernel
        .get(&(LEGIT_LO, 128))
        .unwrap_or_else(|| panic!("no route to LEGIT: {:?}", b.kernel));
    assert_eq!(r.nexthops, vec![(Peer::new(LEGIT, 1).ll, 1)]);
    assert_eq!(r.metric, 10);
}

/// Everything a packet handler counts as a refusal, zero.
fn refusals(c: &Counters) -> [u64; 12] {
    [
        c.bad_packets,
        c.bad_checksum,
        c.bad_source,
        c.wrong_area,
        c.wrong_instance,
        c.hello_mismatch,
        c.mtu_mismatch,
        c.own_router_id,
        c.auth_failures,
        c.auth_replays,
        c.bad_lsa_checksum,
        c.lsas_refused,
    ]
}
