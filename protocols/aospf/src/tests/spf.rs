//! SPF and the route table on hand-built LSDBs: lines, rings, diamonds, a
//! transit network, one-way links, anycast prefixes from several routers,
//! externals, and a 1000-router grid.

use crate::set::Set;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::packet::lsa::*;
use crate::packet::{Lsa, LsaBody, Options};
use crate::spf::synth::{self, link_lsa, lsa, p2p, router_lsa, router_prefixes};
use crate::spf::*;

fn r(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, n)
}

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// Router `n`'s link-local address on its interface `ifid`.
fn ll(n: u8, ifid: u32) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, u16::from(n), ifid as u16)
}

fn pfx(s: &str, metric: u16, options: u8) -> Prefix {
    let (addr, len) = s.split_once('/').unwrap();
    Prefix {
        len: len.parse().unwrap(),
        options,
        field: metric,
        addr: a(addr),
    }
}

fn nh(ifindex: u32, addr: Option<Ipv6Addr>) -> NextHop {
    NextHop { ifindex, addr }
}

fn nhs(v: &[NextHop]) -> Set<NextHop> {
    v.iter().copied().collect()
}

fn ids(v: &[Ipv4Addr]) -> Set<Ipv4Addr> {
    v.iter().copied().collect()
}

/// An LSDB as the root sees it, built link by link. Interface ids are
/// given per router; the root's interface `i` has ifindex 100 + i.
#[derive(Clone)]
struct Net {
    root: Ipv4Addr,
    links: Vec<Vec<RouterLink>>,
    flags: Vec<u8>,
    options: Vec<Options>,
    area: Vec<Lsa>,
    link_lsas: Vec<(u32, Lsa)>,
    external: Vec<Lsa>,
    interfaces: Vec<LocalInterface>,
}

impl Net {
    /// Routers 10.0.0.1..=n, the root is 10.0.0.1.
    fn new(n: u8) -> Net {
        Net {
            root: r(1),
            links: vec![vec![]; usize::from(n) + 1],
            flags: vec![0; usize::from(n) + 1],
            options: vec![synth::OPTIONS; usize::from(n) + 1],
            area: vec![],
            link_lsas: vec![],
            external: vec![],
            interfaces: vec![],
        }
    }

    fn root_if(&mut self, ifid: u32) -> u32 {
        let ifindex = 100 + ifid;
        if !self.interfaces.iter().any(|i| i.interface_id == ifid) {
            self.interfaces.push(LocalInterface {
                ifindex,
                interface_id: ifid,
            });
        }
        ifindex
    }

    /// A one-way point-to-point link x -> y (x's interface x_if, y's
    /// y_if); the root gets y's Link-LSA when x is the root.
    fn half(&mut self, x: u8, x_if: u32, y: u8, y_if: u32, metric: u16) {
        self.links[usize::from(x)].push(p2p(x_if, r(y), y_if, metric));
        if r(x) == self.root {
            let ifindex = self.root_if(x_if);
            self.link_lsas
                .push((ifindex, link_lsa(r(y), y_if, ll(y, y_if))));
        }
    }

    /// A point-to-point link both ways; interface ids are the other end's
    /// router number.
    fn link(&mut self, x: u8, y: u8, metric: u16) {
        self.half(x, u32::from(y), y, u32::from(x), metric);
        self.half(y, u32::from(x), x, u32::from(y), metric);
    }

    /// A transit link from router x (its interface x_if) to the network
    /// of DR `dr`, whose interface there is dr_if.
    fn transit(&mut self, x: u8, x_if: u32, dr: u8, dr_if: u32, metric: u16) {
        self.links[usize::from(x)].push(RouterLink {
            link_type: LINK_TRANSIT,
            metric,
            interface_id: x_if,
            neighbor_interface_id: dr_if,
            neighbor_router_id: r(dr),
        });
    }

    fn prefixes(&mut self, x: u8, p: Vec<Prefix>) {
        self.area.push(router_prefixes(r(x), p));
    }

    fn external(&mut self, x: u8, p: &str, metric: u32, type2: bool, fwd: Option<&str>) {
        let body = LsaBody::AsExternal(AsExternalLsa {
            type2,
            metric,
            prefix: pfx(p, 0, 0),
            forwarding: fwd.map(a),
            tag: None,
            ref_id: None,
        });
        let id = self.external.len() as u32;
        self.external
            .push(lsa(LsaType::AS_EXTERNAL, id, r(x), body));
    }

    fn build(&self) -> Vec<Lsa> {
        let mut v = self.area.clone();
        for (n, links) in self.links.iter().enumerate().skip(1) {
            let mut l = router_lsa(r(n as u8), self.flags[n], links.clone());
            if let LsaBody::Router(b) = &mut l.body {
                b.options = self.options[n];
            }
            v.push(l);
        }
        v
    }

    fn run(&self) -> SpfResult {
        let area = self.build();
        compute(&SpfInput {
            root: self.root,
            area: area.iter().collect(),
            links: self.link_lsas.iter().map(|(i, l)| (*i, l)).collect(),
            external: self.external.iter().collect(),
            interfaces: self.interfaces.clone(),
        })
    }
}

fn cost(res: &SpfResult, n: u8) -> Option<u32> {
    res.node(VertexId::Router(r(n))).map(|x| x.cost)
}

fn hops(res: &SpfResult, n: u8) -> Set<NextHop> {
    res.node(VertexId::Router(r(n)))
        .map(|x| x.nexthops.clone())
        .unwrap_or_default()
}

fn route<'a>(res: &'a SpfResult, p: &str) -> &'a Route {
    let (addr, len) = p.split_once('/').unwrap();
    res.route(a(addr), len.parse().unwrap())
        .unwrap_or_else(|| panic!("no route for {p}"))
}

fn no_route(res: &SpfResult, p: &str) -> bool {
    let (addr, len) = p.split_once('/').unwrap();
    res.route(a(addr), len.parse().unwrap()).is_none()
}

/// Next hop from the root (router 1) straight to router n.
fn via(n: u8) -> NextHop {
    nh(100 + u32::from(n), Some(ll(n, 1)))
}

#[test]
fn line_of_three() {
    let mut net = Net::new(3);
    net.link(1, 2, 10);
    net.link(2, 3, 5);
    net.prefixes(3, vec![pfx("2001:db8:3::/64", 2, 0)]);
    let res = net.run();
    assert_eq!(cost(&res, 1), Some(0));
    assert_eq!(hops(&res, 1), nhs(&[]));
    assert_eq!(cost(&res, 2), Some(10));
    assert_eq!(hops(&res, 2), nhs(&[via(2)]));
    assert_eq!(cost(&res, 3), Some(15));
    assert_eq!(hops(&res, 3), nhs(&[via(2)]));
    let rt = route(&res, "2001:db8:3::/64");
    assert_eq!(rt.path_type, PathType::IntraArea);
    assert_eq!(rt.cost, 17);
    assert_eq!(rt.nexthops, nhs(&[via(2)]));
    assert_eq!(rt.originators, ids(&[r(3)]));
    assert!(!rt.local && !rt.anycast);
    assert_eq!(res.nodes.len(), 3);
}

#[test]
fn ring_of_five_splits_to_the_far_router() {
    // 1 -2- 2 -1- 3 -1- 4 -1- 5 -1- 1: router 3 is 3 away both ways.
    let mut net = Net::new(5);
    net.link(1, 2, 2);
    net.link(2, 3, 1);
    net.link(3, 4, 1);
    net.link(4, 5, 1);
    net.link(5, 1, 1);
    let res = net.run();
    assert_eq!(cost(&res, 2), Some(2));
    assert_eq!(hops(&res, 2), nhs(&[via(2)]));
    assert_eq!(cost(&res, 5), Some(1));
    assert_eq!(hops(&res, 5), nhs(&[via(5)]));
    assert_eq!(cost(&res, 4), Some(2));
    assert_eq!(hops(&res, 4), nhs(&[via(5)]));
    assert_eq!(cost(&res, 3), Some(3));
    assert_eq!(hops(&res, 3), nhs(&[via(2), via(5)]));
}

#[test]
fn diamond_ecmp_and_its_end() {
    let diamond = |m34: u16| {
        let mut net = Net::new(4);
        net.link(1, 2, 10);
        net.link(1, 3, 10);
        net.link(2, 4, 10);
        net.half(3, 4, 4, 3, m34);
        net.half(4, 3, 3, 4, 10);
        net.prefixes(4, vec![pfx("2001:db8:4::/64", 0, 0)]);
        net.run()
    };
    let res = diamond(10);
    assert_eq!(cost(&res, 4), Some(20));
    assert_eq!(hops(&res, 4), nhs(&[via(2), via(3)]));
    assert_eq!(
        route(&res, "2001:db8:4::/64").nexthops,
        nhs(&[via(2), via(3)])
    );
    // The cost that counts is the one out of router 3, towards 4.
    let res = diamond(11);
    assert_eq!(cost(&res, 4), Some(20));
    assert_eq!(hops(&res, 4), nhs(&[via(2)]));
    assert_eq!(route(&res, "2001:db8:4::/64").nexthops, nhs(&[via(2)]));
}

#[test]
fn transit_network_with_a_dr() {
    // Routers 1, 2, 3 on a LAN whose DR is 2 (interface 7 there); 4
    // hangs off 3.
    let mut net = Net::new(4);
    net.transit(1, 1, 2, 7, 10);
    net.transit(2, 7, 2, 7, 10);
    net.transit(3, 3, 2, 7, 10);
    net.link(3, 4, 5);
    let ifindex = net.root_if(1);
    net.link_lsas.push((ifindex, link_lsa(r(2), 7, ll(2, 7))));
    net.link_lsas.push((ifindex, link_lsa(r(3), 3, ll(3, 3))));
    // Router 3's Link-LSA on another of our links does not count.
    net.link_lsas.push((999, link_lsa(r(3), 3, ll(3, 99))));
    net.area.push(lsa(
        LsaType::NETWORK,
        7,
        r(2),
        LsaBody::Network(NetworkLsa {
            options: synth::OPTIONS,
            attached: vec![r(2), r(1), r(3)],
        }),
    ));
    net.area.push(lsa(
        LsaType::INTRA_AREA_PREFIX,
        1,
        r(2),
        LsaBody::IntraAreaPrefix(IntraAreaPrefixLsa {
            ref_ls_type: LsaType::NETWORK,
            ref_id: Ipv4Addr::from(7),
            ref_adv_router: r(2),
            prefixes: vec![pfx("2001:db8:1a::/64", 0, 0)],
        }),
    ));
    net.prefixes(4, vec![pfx("2001:db8:4::/64", 1, 0)]);
    let res = net.run();
    let lan = res
        .node(VertexId::Network {
            dr: r(2),
            interface_id: 7,
        })
        .unwrap();
    assert_eq!(lan.cost, 10);
    assert_eq!(lan.nexthops, nhs(&[nh(101, None)]));
    assert_eq!(cost(&res, 2), Some(10));
    assert_eq!(hops(&res, 2), nhs(&[nh(101, Some(ll(2, 7)))]));
    assert_eq!(cost(&res, 3), Some(10));
    assert_eq!(hops(&res, 3), nhs(&[nh(101, Some(ll(3, 3)))]));
    assert_eq!(cost(&res, 4), Some(15));
    assert_eq!(hops(&res, 4), nhs(&[nh(101, Some(ll(3, 3)))]));
    let lan_route = route(&res, "2001:db8:1a::/64");
    assert_eq!(lan_route.cost, 10);
    assert_eq!(lan_route.nexthops, nhs(&[nh(101, None)]));
    assert_eq!(lan_route.originators, ids(&[r(2)]));
    assert_eq!(route(&res, "2001:db8:4::/64").cost, 16);
}

#[test]
fn one_way_links_are_not_used() {
    // 1 says it has a cheap link to 3; 3 does not list 1.
    let mut net = Net::new(3);
    net.link(1, 2, 10);
    net.link(2, 3, 10);
    net.half(1, 3, 3, 1, 1);
    let res = net.run();
    assert_eq!(cost(&res, 3), Some(20));
    assert_eq!(hops(&res, 3), nhs(&[via(2)]));

    // A network that does not list a router is not reached from it.
    let mut net = Net::new(3);
    net.link(1, 2, 10);
    net.link(2, 3, 10);
    net.transit(1, 9, 3, 9, 1);
    net.transit(3, 9, 3, 9, 1);
    // Everything else for a path over it is there.
    let ifindex = net.root_if(9);
    net.link_lsas.push((ifindex, link_lsa(r(3), 9, ll(3, 9))));
    net.area.push(lsa(
        LsaType::NETWORK,
        9,
        r(3),
        LsaBody::Network(NetworkLsa {
            options: synth::OPTIONS,
            attached: vec![r(3)],
        }),
    ));
    let res = net.run();
    assert_eq!(cost(&res, 3), Some(20));
    assert_eq!(hops(&res, 3), nhs(&[via(2)]));

    // Nor is a router the network lists but which has no link to it.
    let mut net = Net::new(3);
    net.link(1, 2, 10);
    net.link(2, 3, 10);
    net.transit(1, 9, 2, 9, 1);
    net.transit(2, 9, 2, 9, 1);
    let ifindex = net.root_if(9);
    net.link_lsas.push((ifindex, link_lsa(r(2), 9, ll(2, 9))));
    net.link_lsas.push((ifindex, link_lsa(r(3), 9, ll(3, 9))));
    net.area.push(lsa(
        LsaType::NETWORK,
        9,
        r(2),
        LsaBody::Network(NetworkLsa {
            options: synth::OPTIONS,
            attached: vec![r(1), r(2), r(3)],
        }),
    ));
    let res = net.run();
    assert_eq!(cost(&res, 2), Some(1));
    assert_eq!(hops(&res, 2), nhs(&[nh(109, Some(ll(2, 9)))]));
    assert_eq!(cost(&res, 3), Some(11));
    assert_eq!(hops(&res, 3), nhs(&[nh(109, Some(ll(2, 9)))]));
}

#[test]
fn prefixes_count_only_from_the_router_they_reference() {
    // Router 3 advertises an Intra-Area-Prefix-LSA for router 2's
    // Router-LSA (nearer): ignored.
    let mut net = Net::new(3);
    net.link(1, 2, 1);
    net.link(1, 3, 10);
    net.area.push(lsa(
        LsaType::INTRA_AREA_PREFIX,
        5,
        r(3),
        LsaBody::IntraAreaPrefix(IntraAreaPrefixLsa {
            ref_ls_type: LsaType::ROUTER,
            ref_id: Ipv4Addr::UNSPECIFIED,
            ref_adv_router: r(2),
            prefixes: vec![pfx("2001:db8:3::/64", 0, 0)],
        }),
    ));
    assert!(no_route(&net.run(), "2001:db8:3::/64"));
}

/// 2 - 1 - 3, both 2 and 3 serving 2001:db8:a::1/128 with the AC bit.
fn anycast_pair(m12: u16, m13: u16, metric2: u16, metric3: u16) -> SpfResult {
    let mut net = Net::new(3);
    net.link(1, 2, m12);
    net.link(1, 3, m13);
    net.prefixes(2, vec![pfx("2001:db8:a::1/128", metric2, PREFIX_AC)]);
    net.prefixes(3, vec![pfx("2001:db8:a::1/128", metric3, PREFIX_AC)]);
    net.run()
}

#[test]
fn anycast_at_equal_cost_uses_both() {
    let res = anycast_pair(10, 10, 0, 0);
    let rt = route(&res, "2001:db8:a::1/128");
    assert_eq!(rt.cost, 10);
    assert_eq!(rt.nexthops, nhs(&[via(2), via(3)]));
    assert_eq!(rt.originators, ids(&[r(2), r(3)]));
    assert!(rt.anycast);
    assert!(!rt.local);
}

#[test]
fn anycast_at_unequal_cost_uses_the_nearer() {
    let res = anycast_pair(10, 20, 0, 0);
    let rt = route(&res, "2001:db8:a::1/128");
    assert_eq!(rt.cost, 10);
    assert_eq!(rt.nexthops, nhs(&[via(2)]));
    assert_eq!(rt.originators, ids(&[r(2)]));
    assert!(rt.anycast);
}

#[test]
fn prefix_metric_is_part_of_the_cost() {
    let res = anycast_pair(10, 10, 5, 1);
    let rt = route(&res, "2001:db8:a::1/128");
    assert_eq!(rt.cost, 11);
    assert_eq!(rt.nexthops, nhs(&[via(3)]));
    assert_eq!(rt.originators, ids(&[r(3)]));
}

#[test]
fn anycast_bit_from_any_best_instance() {
    // Only router 3 sets AC; the route is still anycast, with both.
    let mut net = Net::new(3);
    net.link(1, 2, 10);
    net.link(1, 3, 10);
    net.prefixes(2, vec![pfx("2001:db8:a::1/128", 0, 0)]);
    net.prefixes(3, vec![pfx("2001:db8:a::1/128", 0, PREFIX_AC)]);
    let rt = route(&net.run(), "2001:db8:a::1/128").clone();
    assert!(rt.anycast);
    assert_eq!(rt.nexthops, nhs(&[via(2), via(3)]));
    // ... unless that instance is not at the best cost.
    let mut net = Net::new(3);
    net.link(1, 2, 10);
    net.link(1, 3, 10);
    net.prefixes(2, vec![pfx("2001:db8:a::1/128", 0, 0)]);
    net.prefixes(3, vec![pfx("2001:db8:a::1/128", 1, PREFIX_AC)]);
    let rt = route(&net.run(), "2001:db8:a::1/128").clone();
    assert!(!rt.anycast);
    assert_eq!(rt.nexthops, nhs(&[via(2)]));
}

#[test]
fn prefixes_never_routed_are_skipped() {
    let mut net = Net::new(2);
    net.link(1, 2, 10);
    net.prefixes(
        2,
        vec![
            pfx("2001:db8:1::/64", 0, PREFIX_NU),
            pfx("fe80::/64", 0, 0),
            pfx("ff05::/16", 0, 0),
            // Bits past the length are not part of the route.
            pfx("2001:db8:2::ffff/64", 0, PREFIX_LA),
        ],
    );
    let res = net.run();
    assert!(no_route(&res, "2001:db8:1::/64"));
    assert!(no_route(&res, "fe80::/64"));
    assert!(no_route(&res, "ff05::/16"));
    let rt = route(&res, "2001:db8:2::/64");
    assert_eq!(rt.prefix, a("2001:db8:2::"));
    assert_eq!(res.routes.len(), 1);
}

#[test]
fn missing_link_lsa_means_no_next_hop() {
    // No Link-LSA from 2 on our link to it: 2 is unreachable.
    let mut net = Net::new(2);
    net.link(1, 2, 10);
    net.link_lsas.clear();
    net.prefixes(2, vec![pfx("2001:db8:2::/64", 0, 0)]);
    let res = net.run();
    assert_eq!(cost(&res, 2), None);
    assert!(no_route(&res, "2001:db8:2::/64"));

    // With a longer path through 3 that works, that one is used.
    let mut net = Net::new(3);
    net.link(1, 2, 10);
    net.link(1, 3, 10);
    net.link(3, 2, 10);
    net.link_lsas.retain(|(_, l)| l.header.adv_router != r(2));
    let res = net.run();
    assert_eq!(cost(&res, 2), Some(20));
    assert_eq!(hops(&res, 2), nhs(&[via(3)]));
}

#[test]
fn r_bit_clear_is_a_destination_not_transit() {
    // 1 - 2 - 3 and 1 - 4 - 3 (longer); 2 does not forward.
    let mut net = Net::new(4);
    net.link(1, 2, 1);
    net.link(2, 3, 1);
    net.link(1, 4, 5);
    net.link(4, 3, 5);
    net.options[2] = Options(Options::V6 | Options::E);
    net.prefixes(2, vec![pfx("2001:db8:2::/64", 0, 0)]);
    let res = net.run();
    assert_eq!(cost(&res, 2), Some(1));
    assert_eq!(route(&res, "2001:db8:2::/64").nexthops, nhs(&[via(2)]));
    assert_eq!(cost(&res, 3), Some(10));
    assert_eq!(hops(&res, 3), nhs(&[via(4)]));

    // V6 clear: not in IPv6 routing at all.
    net.options[2] = Options(Options::E | Options::R);
    let res = net.run();
    assert_eq!(cost(&res, 2), None);
    assert!(no_route(&res, "2001:db8:2::/64"));
}

#[test]
fn external_types_and_precedence() {
    // 1 - 2 (10), 1 - 3 (20); 2 and 3 are ASBRs, 4 (behind 2) is not.
    let mut net = Net::new(4);
    net.link(1, 2, 10);
    net.link(1, 3, 20);
    net.link(2, 4, 1);
    net.flags[2] = ROUTER_E;
    net.flags[3] = ROUTER_E;
    // Intra-area beats any external.
    net.prefixes(4, vec![pfx("2001:db8:10::/48", 100, 0)]);
    net.external(2, "2001:db8:10::/48", 1, false, None);
    // Type 1 beats type 2 whatever the metrics.
    net.external(2, "2001:db8:11::/48", 100, false, None);
    net.external(3, "2001:db8:11::/48", 1, true, None);
    // Type 2: the external metric first...
    net.external(2, "2001:db8:12::/48", 5, true, None);
    net.external(3, "2001:db8:12::/48", 3, true, None);
    // ... then the distance to the ASBR.
    net.external(2, "2001:db8:13::/48", 5, true, None);
    net.external(3, "2001:db8:13::/48", 5, true, None);
    // Type 1: distance plus metric; equal means both.
    net.external(2, "2001:db8:14::/48", 15, false, None);
    net.external(3, "2001:db8:14::/48", 5, false, None);
    // Not an ASBR (no E bit): ignored.
    net.external(4, "2001:db8:15::/48", 1, false, None);
    // LSInfinity: unreachable.
    net.external(2, "2001:db8:16::/48", 0x00ff_ffff, false, None);
    let res = net.run();

    let rt = route(&res, "2001:db8:10::/48");
    assert_eq!((rt.path_type, rt.cost), (PathType::IntraArea, 111));
    assert_eq!(rt.originators, ids(&[r(4)]));

    let rt = route(&res, "2001:db8:11::/48");
    assert_eq!((rt.path_type, rt.cost), (PathType::External1, 110));
    assert_eq!(rt.nexthops, nhs(&[via(2)]));

    let rt = route(&res, "2001:db8:12::/48");
    assert_eq!(rt.path_type, PathType::External2);
    assert_eq!((rt.type2_cost, rt.cost), (3, 20));
    assert_eq!(rt.nexthops, nhs(&[via(3)]));
    assert_eq!(rt.originators, ids(&[r(3)]));

    let rt = route(&res, "2001:db8:13::/48");
    assert_eq!((rt.type2_cost, rt.cost), (5, 10));
    assert_eq!(rt.nexthops, nhs(&[via(2)]));

    let rt = route(&res, "2001:db8:14::/48");
    assert_eq!((rt.path_type, rt.cost), (PathType::External1, 25));
    assert_eq!(rt.nexthops, nhs(&[via(2), via(3)]));
    assert_eq!(rt.originators, ids(&[r(2), r(3)]));

    assert!(no_route(&res, "2001:db8:15::/48"));
    assert!(no_route(&res, "2001:db8:16::/48"));
}

#[test]
fn external_forwarding_address() {
    // ASBR 3 (far) names a forwarding address on router 2's prefix.
    let mut net = Net::new(3);
    net.link(1, 2, 10);
    net.link(1, 3, 50);
    net.flags[3] = ROUTER_E;
    net.prefixes(2, vec![pfx("2001:db8:2::/64", 3, 0)]);
    net.external(3, "2001:db8:20::/48", 7, false, Some("2001:db8:2::9"));
    // A forwarding address no intra-area route covers: ignored.
    net.external(3, "2001:db8:21::/48", 7, false, Some("2001:db8:99::1"));
    // The unspecified address means no forwarding address.
    net.external(3, "2001:db8:22::/48", 7, false, Some("::"));
    let res = net.run();
    let rt = route(&res, "2001:db8:20::/48");
    assert_eq!((rt.path_type, rt.cost), (PathType::External1, 20));
    assert_eq!(rt.nexthops, nhs(&[via(2)]));
    assert_eq!(rt.originators, ids(&[r(3)]));
    assert!(no_route(&res, "2001:db8:21::/48"));
    let rt = route(&res, "2001:db8:22::/48");
    assert_eq!(rt.cost, 57);
    assert_eq!(rt.nexthops, nhs(&[via(3)]));
}

#[test]
fn roots_own_prefixes_are_local() {
    let mut net = Net::new(2);
    net.link(1, 2, 10);
    net.flags[1] = ROUTER_E;
    net.prefixes(1, vec![pfx("2001:db8:1::1/128", 0, PREFIX_AC)]);
    net.prefixes(2, vec![pfx("2001:db8:1::1/128", 0, PREFIX_AC)]);
    net.prefixes(1, vec![pfx("2001:db8:100::/64", 5, 0)]);
    net.external(1, "2001:db8:30::/48", 1, false, None);
    let res = net.run();
    let rt = route(&res, "2001:db8:1::1/128");
    assert!(rt.local && rt.anycast);
    assert_eq!(rt.cost, 0);
    assert_eq!(rt.nexthops, nhs(&[]));
    assert_eq!(rt.originators, ids(&[r(1)]));
    let rt = route(&res, "2001:db8:100::/64");
    assert!(rt.local);
    assert_eq!(rt.cost, 5);
    assert_eq!(rt.nexthops, nhs(&[]));
    // Our own external LSAs give no route.
    assert!(no_route(&res, "2001:db8:30::/48"));
}

#[test]
fn root_without_router_lsa_keeps_its_prefixes() {
    let mut net = Net::new(1);
    net.prefixes(1, vec![pfx("2001:db8:1::/64", 0, 0)]);
    let area: Vec<Lsa> = net.area.clone();
    let res = compute(&SpfInput {
        root: r(1),
        area: area.iter().collect(),
        links: vec![],
        external: vec![],
        interfaces: vec![],
    });
    assert_eq!(res.nodes.len(), 1);
    assert!(route(&res, "2001:db8:1::/64").local);
}

#[test]
fn input_order_does_not_matter() {
    let g = synth::grid(50, 200, 3);
    let forward = compute(&g.input());
    let mut input = g.input();
    input.area.reverse();
    input.links.reverse();
    input.interfaces.reverse();
    assert_eq!(compute(&input), forward);
}

#[test]
fn grid_of_1000_routers_and_10000_prefixes() {
    let (n, p, m) = (1000, 10_000, 3);
    let g = synth::grid(n, p, m);
    let res = compute(&g.input());
    let w = synth::grid_width(n);
    assert_eq!(w, 32);
    assert_eq!(res.nodes.len(), n as usize);
    assert_eq!(res.routes.len(), p as usize);
    let east = nh(
        synth::grid_ifindex(synth::EAST),
        Some(synth::link_local(1, synth::WEST)),
    );
    let south = nh(
        synth::grid_ifindex(synth::SOUTH),
        Some(synth::link_local(w, synth::NORTH)),
    );
    let expect = |i: u32| {
        let (row, col) = (i / w, i % w);
        let dist = (row + col) * u32::from(m);
        let mut hops = Set::new();
        if col > 0 {
            hops.insert(east);
        }
        if row > 0 {
            hops.insert(south);
        }
        (dist, hops)
    };
    for i in 0..n {
        let node = res.node(VertexId::Router(synth::router_id(i))).unwrap();
        assert_eq!((node.cost, node.nexthops.clone()), expect(i), "router {i}");
    }
    for k in 0..p {
        let rt = res.route(synth::prefix(k), 64).unwrap();
        let owner = k % n;
        let (dist, hops) = expect(owner);
        assert_eq!(rt.cost, dist + 1, "prefix {k}");
        assert_eq!(rt.local, owner == 0, "prefix {k}");
        if owner != 0 {
            assert_eq!(rt.nexthops, hops, "prefix {k}");
        }
        assert_eq!(rt.originators, ids(&[synth::router_id(owner)]));
    }
    // The far corner's last row is partial: 992..999 are row 31.
    assert_eq!(expect(999), (38 * 3, nhs(&[east, south])));
}

/// Not a check: prints how long the 1000-router grid takes. Run with
/// `cargo test --release -p anycast6-aospf spf_grid_timing -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn spf_grid_timing() {
    let g = synth::grid(1000, 10_000, 3);
    let input = g.input();
    let runs = 20;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        std::hint::black_box(compute(std::hint::black_box(&input)));
    }
    println!(
        "compute(): 1000 routers, 10000 prefixes: {:?} per run",
        start.elapsed() / runs
    );
}

#[test]
fn router_on_two_of_our_lans_gets_both() {
    // Router 2 is the DR of two LANs we are on (its interfaces 5 and 6,
    // ours 1 and 2): a path through each, both at cost 10.
    let mut net = Net::new(2);
    for (ours, dr_if) in [(1, 5), (2, 6)] {
        net.transit(1, ours, 2, dr_if, 10);
        net.transit(2, dr_if, 2, dr_if, 10);
        let ifindex = net.root_if(ours);
        net.link_lsas
            .push((ifindex, link_lsa(r(2), dr_if, ll(2, dr_if))));
        net.area.push(lsa(
            LsaType::NETWORK,
            dr_if,
            r(2),
            LsaBody::Network(NetworkLsa {
                options: synth::OPTIONS,
                attached: vec![r(2), r(1)],
            }),
        ));
    }
    net.prefixes(2, vec![pfx("2001:db8:2::/64", 0, 0)]);
    let res = net.run();
    let both = nhs(&[nh(101, Some(ll(2, 5))), nh(102, Some(ll(2, 6)))]);
    assert_eq!(cost(&res, 2), Some(10));
    assert_eq!(hops(&res, 2), both);
    assert_eq!(route(&res, "2001:db8:2::/64").nexthops, both);
}

/// `update_prefixes` over the old tree for the keys a change touched
/// gives what a full calculation gives.
fn assert_update_matches(before: &Net, after: &Net, keys: &[&str]) {
    let mut res = before.run();
    let area = after.build();
    let input = SpfInput {
        root: after.root,
        area: area.iter().collect(),
        links: after.link_lsas.iter().map(|(i, l)| (*i, l)).collect(),
        external: after.external.iter().collect(),
        interfaces: after.interfaces.clone(),
    };
    let keys = keys
        .iter()
        .map(|k| {
            let p = pfx(k, 0, 0);
            (p.addr, p.len)
        })
        .collect();
    update_prefixes(&mut res, &input, &keys);
    assert_eq!(res, compute(&input));
}

#[test]
fn prefix_update_equals_a_full_calculation() {
    // 1 - 2 (10), 1 - 3 (20), 2 - 4 (1); 2 and 3 are ASBRs.
    let mut base = Net::new(4);
    base.link(1, 2, 10);
    base.link(1, 3, 20);
    base.link(2, 4, 1);
    base.flags[2] = ROUTER_E;
    base.flags[3] = ROUTER_E;
    base.prefixes(4, vec![pfx("2001:db8:4::/64", 1, 0)]);
    base.prefixes(3, vec![pfx("2001:db8:a::1/128", 0, PREFIX_AC)]);
    base.prefixes(1, vec![pfx("2001:db8:1::/64", 0, 0)]);
    base.external(2, "2001:db8:20::/48", 5, true, None);

    // A second anycast originator at the same cost, then a nearer one.
    let mut next = base.clone();
    next.prefixes(4, vec![pfx("2001:db8:a::1/128", 9, PREFIX_AC)]);
    assert_update_matches(&base, &next, &["2001:db8:a::1/128"]);
    let mut nearer = base.clone();
    nearer.prefixes(2, vec![pfx("2001:db8:a::1/128", 0, PREFIX_AC)]);
    assert_update_matches(&base, &nearer, &["2001:db8:a::1/128"]);
    // The only originator withdraws; a prefix metric changes.
    let mut gone = base.clone();
    gone.area.retain(|l| l.header.adv_router != r(3));
    assert_update_matches(&base, &gone, &["2001:db8:a::1/128"]);
    let mut metric = base.clone();
    metric.area[0] = router_prefixes(r(4), vec![pfx("2001:db8:4::/64", 7, 0)]);
    assert_update_matches(&base, &metric, &["2001:db8:4::/64"]);
    // Our own prefix, and an external beside the same intra-area prefix.
    let mut own = base.clone();
    own.prefixes(1, vec![pfx("2001:db8:a::1/128", 0, PREFIX_AC)]);
    assert_update_matches(&base, &own, &["2001:db8:a::1/128"]);
    let mut ext = base.clone();
    ext.external(3, "2001:db8:4::/64", 1, false, None);
    ext.external(3, "2001:db8:20::/48", 2, true, None);
    ext.external(3, "2001:db8:21::/48", 2, false, None);
    assert_update_matches(
        &base,
        &ext,
        &["2001:db8:4::/64", "2001:db8:20::/48", "2001:db8:21::/48"],
    );
    // A key nothing advertises any more, and one that nothing changed.
    assert_update_matches(&base, &base, &["2001:db8:99::/48", "2001:db8:4::/64"]);
}

#[test]
fn prefix_update_on_a_grid_equals_a_full_calculation() {
    let g = synth::grid(100, 1000, 3);
    let mut res = compute(&g.input());
    let mut area = g.area.clone();
    // Router 57 starts to serve an anycast address router 3 serves too,
    // and one of router 80's prefixes goes.
    let any = pfx("2001:db8:a::1/128", 2, PREFIX_AC);
    area.push(router_prefixes(synth::router_id(57), vec![any]));
    area.push(router_prefixes(synth::router_id(3), vec![any]));
    let mut gone = None;
    for l in &mut area {
        if let LsaBody::IntraAreaPrefix(iap) = &mut l.body {
            if l.header.adv_router == synth::router_id(80) && gone.is_none() {
                gone = iap.prefixes.pop();
            }
        }
    }
    let gone = gone.expect("router 80 has prefixes");
    let mut input = g.input();
    input.area = area.iter().collect();
    let keys = [(any.addr, any.len), (gone.addr, gone.len)]
        .into_iter()
        .collect();
    update_prefixes(&mut res, &input, &keys);
    assert_eq!(res, compute(&input));
}
