//! The routing table calculation for one area (RFC 5340 §4.8, RFC 2328
//! §16): Dijkstra over the Router- and Network-LSAs with equal-cost
//! multipath, the intra-area prefixes of the Intra-Area-Prefix-LSAs, then
//! the AS-External-LSAs.
//!
//! A pure function of the LSDB: [`compute`] takes the LSAs and our
//! interfaces and returns the tree and the routes; it keeps no state, does
//! no I/O and installs nothing. Anycast is plain OSPFv3 here: the same
//! prefix from several routers at the best cost is one route with the next
//! hops of all of them, and the AC bit (RFC 9513) only marks it.

use std::cmp::Reverse;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};

use crate::set::Set;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::packet::lsa::{
    AsExternalLsa, IntraAreaPrefixLsa, LsaType, Prefix, RouterLink, RouterLsa, LINK_POINT_TO_POINT,
    LINK_TRANSIT, PREFIX_NU, ROUTER_E,
};
use crate::packet::{Lsa, LsaBody, Options};

/// The anycast (AC) bit of OSPFv3 PrefixOptions (RFC 9513).
pub const PREFIX_AC: u8 = 0x80;

/// LSInfinity (RFC 2328 appendix B): an external metric meaning
/// unreachable.
const LS_INFINITY: u32 = 0x00ff_ffff;

/// One of our OSPF interfaces: the interface id our LSAs carry and the
/// kernel's ifindex routes go out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalInterface {
    pub ifindex: u32,
    pub interface_id: u32,
}

/// What the calculation reads: the LSDB of one area and our interfaces.
#[derive(Debug, Clone)]
pub struct SpfInput<'a> {
    /// Our router id, the root of the tree.
    pub root: Ipv4Addr,
    /// Area-scope LSAs; Router, Network and Intra-Area-Prefix are read,
    /// the others ignored. MaxAge LSAs must already be left out.
    pub area: Vec<&'a Lsa>,
    /// Link-scope LSAs (Link-LSAs), each with the ifindex of the link it
    /// was received on.
    pub links: Vec<(u32, &'a Lsa)>,
    /// AS-scope LSAs; AS-External ones are read.
    pub external: Vec<&'a Lsa>,
    /// Our OSPF interfaces.
    pub interfaces: Vec<LocalInterface>,
}

/// A next hop: the interface out and the neighbour's link-local address,
/// or `None` for a directly connected destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct NextHop {
    pub ifindex: u32,
    pub addr: Option<Ipv6Addr>,
}

/// Route types, in order of preference (RFC 2328 §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathType {
    IntraArea,
    External1,
    External2,
}

/// A routing table entry for an IPv6 prefix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Route {
    /// The prefix, bits past `plen` cleared.
    pub prefix: Ipv6Addr,
    pub plen: u8,
    pub path_type: PathType,
    /// The distance; for a type 2 external, the distance to the ASBR (or
    /// forwarding address).
    pub cost: u32,
    /// The type 2 external metric, 0 for other types.
    pub type2_cost: u32,
    /// Union of the next hops of every originator at the best cost; empty
    /// when `local`.
    pub nexthops: Set<NextHop>,
    /// The AC bit was set in at least one advertisement at the best cost.
    pub anycast: bool,
    /// Routers advertising the prefix at the best cost.
    pub originators: Set<Ipv4Addr>,
    /// We advertise the prefix ourselves at the best cost: the route is
    /// not installed (it has no next hops even if others tie with us).
    pub local: bool,
}

/// A vertex of the tree (RFC 5340 §4.8.1): a router, or a transit network
/// named by its Designated Router and the DR's interface id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VertexId {
    Router(Ipv4Addr),
    Network { dr: Ipv4Addr, interface_id: u32 },
}

/// A vertex reached by the calculation, for show commands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SpfNode {
    pub id: VertexId,
    pub cost: u32,
    /// Empty for the root.
    pub nexthops: Set<NextHop>,
    /// A router's flags (B, E, V bits), 0 for a network.
    #[serde(skip)]
    pub flags: u8,
}

/// The shortest-path tree and the routing table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpfResult {
    /// Reached vertices, sorted by id.
    pub nodes: Vec<SpfNode>,
    /// Routes by (prefix, length).
    pub routes: BTreeMap<(Ipv6Addr, u8), Route>,
}

impl SpfResult {
    /// The vertex `id`, if it was reached.
    pub fn node(&self, id: VertexId) -> Option<&SpfNode> {
        self.nodes
            .binary_search_by(|n| n.id.cmp(&id))
            .ok()
            .map(|i| &self.nodes[i])
    }

    /// The route for exactly `prefix`/`plen` (`prefix` is masked first).
    pub fn route(&self, prefix: Ipv6Addr, plen: u8) -> Option<&Route> {
        self.routes.get(&(mask(prefix, plen), plen))
    }
}

/// Runs the calculation.
pub fn compute(input: &SpfInput) -> SpfResult {
    let g = Graph::new(input);
    let tree = g.dijkstra(input);
    let mut routes = BTreeMap::new();
    intra_area(input, &g, &tree, &mut routes);
    external(input, &g, &tree, &mut routes);
    SpfResult {
        nodes: g.nodes(&tree),
        routes,
    }
}

/// Routes `keys` anew over the tree of `result` (computed from the same
/// Router-, Network- and Link-LSAs as `input` holds): what [`compute`]
/// would give for them, without the Dijkstra run. For changes of
/// Intra-Area-Prefix- and AS-External-LSAs only; the caller runs a full
/// calculation when an external's forwarding address could resolve
/// through one of `keys`.
pub fn update_prefixes(result: &mut SpfResult, input: &SpfInput, keys: &BTreeSet<(Ipv6Addr, u8)>) {
    for k in keys {
        result.routes.remove(k);
    }
    let root = VertexId::Router(input.root);
    for lsa in &input.area {
        let LsaBody::IntraAreaPrefix(iap) = &lsa.body else {
            continue;
        };
        if lsa.header.adv_router != iap.ref_adv_router {
            continue;
        }
        let id = match iap.ref_ls_type {
            LsaType::ROUTER => VertexId::Router(iap.ref_adv_router),
            LsaType::NETWORK => VertexId::Network {
                dr: iap.ref_adv_router,
                interface_id: u32::from(iap.ref_id),
            },
            _ => continue,
        };
        let Some(node) = result.node(id) else {
            continue;
        };
        let (cost, nexthops) = (node.cost, node.nexthops.clone());
        for p in &iap.prefixes {
            let Some(key) = routable(p).filter(|k| keys.contains(k)) else {
                continue;
            };
            offer(
                &mut result.routes,
                Candidate {
                    key,
                    path_type: PathType::IntraArea,
                    cost: cost.saturating_add(u32::from(p.field)),
                    type2_cost: 0,
                    nexthops: &nexthops,
                    anycast: p.options & PREFIX_AC != 0,
                    originator: lsa.header.adv_router,
                    local: id == root,
                },
            );
        }
    }
    for lsa in &input.external {
        let LsaBody::AsExternal(e) = &lsa.body else {
            continue;
        };
        let Some(key) = routable(&e.prefix).filter(|k| keys.contains(k)) else {
            continue;
        };
        let asbr = lsa.header.adv_router;
        if asbr == input.root || e.metric >= LS_INFINITY {
            continue;
        }
        let Some(node) = result.node(VertexId::Router(asbr)) else {
            continue;
        };
        if node.flags & ROUTER_E == 0 {
            continue;
        }
        let via = (node.cost, node.nexthops.clone());
        offer_external(&mut result.routes, key, e, asbr, (via.0, &via.1));
    }
}

struct RouterVertex<'a> {
    id: Ipv4Addr,
    flags: u8,
    options: Options,
    links: Vec<&'a RouterLink>,
}

struct NetworkVertex<'a> {
    dr: Ipv4Addr,
    interface_id: u32,
    attached: &'a [Ipv4Addr],
}

/// The LSDB indexed for the calculation. Vertex `i` is `routers[i]` below
/// `routers.len()` and `networks[i - routers.len()]` from there on; both
/// are sorted, so ties are broken the same way whatever the input order.
struct Graph<'a> {
    routers: Vec<RouterVertex<'a>>,
    router_ix: HashMap<Ipv4Addr, usize>,
    networks: Vec<NetworkVertex<'a>>,
    network_ix: HashMap<(Ipv4Addr, u32), usize>,
    /// (from, to) of every point-to-point link, for the check that a link
    /// has one back (RFC 2328 §16.1 step 2b).
    p2p: HashSet<(Ipv4Addr, Ipv4Addr)>,
    /// (router, DR, DR interface id) -> the router's interface id on that
    /// network: its transit links.
    transit: HashMap<(Ipv4Addr, Ipv4Addr, u32), u32>,
    /// (network vertex, attached router), from the Network-LSAs.
    attached: HashSet<(usize, Ipv4Addr)>,
    /// (ifindex, advertising router, its interface id) -> link-local
    /// address, from the Link-LSAs.
    link_local: HashMap<(u32, Ipv4Addr, u32), Ipv6Addr>,
    /// Interface id -> ifindex.
    ifindex: HashMap<u32, u32>,
}

/// Distances and next hops per vertex index; `u32::MAX` is unreached.
struct Tree {
    root: usize,
    dist: Vec<u32>,
    nexthops: Vec<Set<NextHop>>,
}

impl Tree {
    fn reached(&self, v: usize) -> bool {
        self.dist[v] != u32::MAX
    }
}

impl<'a> Graph<'a> {
    fn new(input: &SpfInput<'a>) -> Graph<'a> {
        let mut fragments: HashMap<Ipv4Addr, Vec<(Ipv4Addr, &'a RouterLsa)>> = HashMap::new();
        let mut nets = Vec::new();
        for lsa in &input.area {
            match &lsa.body {
                LsaBody::Router(r) => fragments
                    .entry(lsa.header.adv_router)
                    .or_default()
                    .push((lsa.header.id, r)),
                LsaBody::Network(n) => nets.push(NetworkVertex {
                    dr: lsa.header.adv_router,
                    interface_id: u32::from(lsa.header.id),
                    attached: &n.attached,
                }),
                _ => {}
            }
        }
        // The root is a vertex even before its own Router-LSA exists, so
        // that its prefixes are still local.
        fragments.entry(input.root).or_default();

        let mut routers: Vec<RouterVertex> = fragments
            .into_iter()
            .filter_map(|(id, mut frags)| {
                // All Router-LSAs of a router are one (RFC 5340 §4.8.1);
                // flags and options are read from the lowest link state id.
                frags.sort_by_key(|(lsid, _)| *lsid);
                let (flags, options) = frags
                    .first()
                    .map_or((0, Options(Options::V6 | Options::R)), |(_, r)| {
                        (r.flags, r.options)
                    });
                // V6 clear: the router takes no part in IPv6 routing
                // (RFC 5340 §4.8.1); the root always does.
                if id != input.root && !options.has(Options::V6) {
                    return None;
                }
                Some(RouterVertex {
                    id,
                    flags,
                    options,
                    links: frags.iter().flat_map(|(_, r)| r.links.iter()).collect(),
                })
            })
            .collect();
        routers.sort_by_key(|r| r.id);
        nets.sort_by_key(|n| (n.dr, n.interface_id));
        nets.dedup_by_key(|n| (n.dr, n.interface_id));

        let router_ix = routers.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
        let base = routers.len();
        let network_ix = nets
            .iter()
            .enumerate()
            .map(|(i, n)| ((n.dr, n.interface_id), base + i))
            .collect();
        let mut p2p = HashSet::new();
        let mut transit = HashMap::new();
        for r in &routers {
            for l in &r.links {
                match l.link_type {
                    LINK_POINT_TO_POINT => {
                        p2p.insert((r.id, l.neighbor_router_id));
                    }
                    LINK_TRANSIT => {
                        transit.insert(
                            (r.id, l.neighbor_router_id, l.neighbor_interface_id),
                            l.interface_id,
                        );
                    }
                    _ => {}
                }
            }
        }
        let attached = nets
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.attached.iter().map(move |a| (base + i, *a)))
            .collect();
        let link_local = input
            .links
            .iter()
            .filter_map(|(ifindex, lsa)| match &lsa.body {
                LsaBody::Link(l) => Some((
                    (*ifindex, lsa.header.adv_router, u32::from(lsa.header.id)),
                    l.link_local,
                )),
                _ => None,
            })
            .collect();
        let ifindex = input
            .interfaces
            .iter()
            .map(|i| (i.interface_id, i.ifindex))
            .collect();
        Graph {
            routers,
            router_ix,
            networks: nets,
            network_ix,
            p2p,
            transit,
            attached,
            link_local,
            ifindex,
        }
    }

    fn vertex_id(&self, v: usize) -> VertexId {
        match self.routers.get(v) {
            Some(r) => VertexId::Router(r.id),
            None => {
                let n = &self.networks[v - self.routers.len()];
                VertexId::Network {
                    dr: n.dr,
                    interface_id: n.interface_id,
                }
            }
        }
    }

    /// RFC 2328 §16.1 with the next hops of §16.1.1 (RFC 5340 §4.8.2).
    fn dijkstra(&self, input: &SpfInput) -> Tree {
        let n = self.routers.len() + self.networks.len();
        let root = self.router_ix[&input.root];
        let mut t = Tree {
            root,
            dist: vec![u32::MAX; n],
            nexthops: vec![Set::new(); n],
        };
        let mut done = vec![false; n];
        // Among candidates at the same distance, networks come out first:
        // a router behind a network at distance d is reached at d too, and
        // must collect that path before it leaves the candidate list.
        let mut heap = BinaryHeap::new();
        t.dist[root] = 0;
        heap.push(Reverse((0u32, 1u8, root)));
        while let Some(Reverse((d, _, v))) = heap.pop() {
            if done[v] || d > t.dist[v] {
                continue;
            }
            done[v] = true;
            let parent_nh = std::mem::take(&mut t.nexthops[v]);
            let mut relax = |w: usize, cost: u32, nh: Set<NextHop>| {
                // A path with no usable next hop (a neighbour whose
                // Link-LSA has not arrived) is no path.
                if done[w] || nh.is_empty() || cost == u32::MAX {
                    return;
                }
                if cost < t.dist[w] {
                    t.dist[w] = cost;
                    t.nexthops[w] = nh;
                    let kind = u8::from(w < self.routers.len());
                    heap.push(Reverse((cost, kind, w)));
                } else if cost == t.dist[w] {
                    t.nexthops[w].extend(nh);
                }
            };
            if let Some(r) = self.routers.get(v) {
                // R clear: a destination, never transit (RFC 5340 §4.8.1).
                if v != root && !r.options.has(Options::R) {
                    t.nexthops[v] = parent_nh;
                    continue;
                }
                for l in &r.links {
                    let cost = d.saturating_add(u32::from(l.metric));
                    match l.link_type {
                        LINK_POINT_TO_POINT => {
                            let nbr = l.neighbor_router_id;
                            let Some(&w) = self.router_ix.get(&nbr) else {
                                continue;
                            };
                            if !self.p2p.contains(&(nbr, r.id)) {
                                continue;
                            }
                            let nh = if v == root {
                                self.ifindex
                                    .get(&l.interface_id)
                                    .and_then(|&ifindex| {
                                        let key = (ifindex, nbr, l.neighbor_interface_id);
                                        self.link_local.get(&key).map(|&a| NextHop {
                                            ifindex,
                                            addr: Some(a),
                                        })
                                    })
                                    .into_iter()
                                    .collect()
                            } else {
                                parent_nh.clone()
                            };
                            relax(w, cost, nh);
                        }
                        LINK_TRANSIT => {
                            let key = (l.neighbor_router_id, l.neighbor_interface_id);
                            let Some(&w) = self.network_ix.get(&key) else {
                                continue;
                            };
                            if !self.attached.contains(&(w, r.id)) {
                                continue;
                            }
                            let nh = if v == root {
                                self.ifindex
                                    .get(&l.interface_id)
                                    .map(|&ifindex| NextHop {
                                        ifindex,
                                        addr: None,
                                    })
                                    .into_iter()
                                    .collect()
                            } else {
                                parent_nh.clone()
                            };
                            relax(w, cost, nh);
                        }
                        // Virtual links need a backbone and transit
                        // areas; AOSPF runs one area.
                        _ => {}
                    }
                }
            } else {
                let net = &self.networks[v - self.routers.len()];
                for a in net.attached {
                    let Some(&w) = self.router_ix.get(a) else {
                        continue;
                    };
                    let Some(&w_ifid) = self.transit.get(&(*a, net.dr, net.interface_id)) else {
                        continue;
                    };
                    // A network we are attached to: the next hop is the
                    // router's own address on it (RFC 2328 §16.1.1); any
                    // path from farther away keeps its next hops.
                    let nh = parent_nh
                        .iter()
                        .filter_map(|p| match p.addr {
                            Some(_) => Some(*p),
                            None => {
                                self.link_local
                                    .get(&(p.ifindex, *a, w_ifid))
                                    .map(|&addr| NextHop {
                                        ifindex: p.ifindex,
                                        addr: Some(addr),
                                    })
                            }
                        })
                        .collect();
                    relax(w, d, nh);
                }
            }
            t.nexthops[v] = parent_nh;
        }
        t
    }

    fn nodes(&self, t: &Tree) -> Vec<SpfNode> {
        (0..t.dist.len())
            .filter(|&v| t.reached(v))
            .map(|v| SpfNode {
                id: self.vertex_id(v),
                cost: t.dist[v],
                nexthops: t.nexthops[v].clone(),
                flags: self.routers.get(v).map_or(0, |r| r.flags),
            })
            .collect()
    }
}

/// Clears the bits past `plen`.
fn mask(addr: Ipv6Addr, plen: u8) -> Ipv6Addr {
    let m = match plen {
        0 => 0,
        1..=127 => u128::MAX << (128 - u32::from(plen)),
        _ => u128::MAX,
    };
    Ipv6Addr::from(u128::from(addr) & m)
}

/// The prefix as a route key, or `None` for what is never routed: NU set
/// (RFC 5340 A.4.1.1), link-local or multicast space.
pub(crate) fn routable(p: &Prefix) -> Option<(Ipv6Addr, u8)> {
    if p.options & PREFIX_NU != 0 || p.len > 128 {
        return None;
    }
    let a = mask(p.addr, p.len);
    if a.is_unicast_link_local() || a.is_multicast() {
        return None;
    }
    Some((a, p.len))
}

/// One advertisement of a prefix, offered to the table.
struct Candidate<'n> {
    key: (Ipv6Addr, u8),
    path_type: PathType,
    cost: u32,
    type2_cost: u32,
    nexthops: &'n Set<NextHop>,
    anycast: bool,
    originator: Ipv4Addr,
    local: bool,
}

/// Lower is better: intra-area before type 1 before type 2, type 2 by
/// its external metric first (RFC 2328 §16.4 step 6), then distance.
fn rank(path_type: PathType, type2_cost: u32, cost: u32) -> (PathType, u32, u32) {
    (path_type, type2_cost, cost)
}

fn offer(routes: &mut BTreeMap<(Ipv6Addr, u8), Route>, c: Candidate) {
    let fresh = |c: &Candidate| Route {
        prefix: c.key.0,
        plen: c.key.1,
        path_type: c.path_type,
        cost: c.cost,
        type2_cost: c.type2_cost,
        nexthops: if c.local {
            Set::new()
        } else {
            c.nexthops.clone()
        },
        anycast: c.anycast,
        originators: Set::from([c.originator]),
        local: c.local,
    };
    match routes.entry(c.key) {
        Entry::Vacant(e) => {
            e.insert(fresh(&c));
        }
        Entry::Occupied(mut e) => {
            let r = e.get_mut();
            let new = rank(c.path_type, c.type2_cost, c.cost);
            match new.cmp(&rank(r.path_type, r.type2_cost, r.cost)) {
                std::cmp::Ordering::Less => *r = fresh(&c),
                std::cmp::Ordering::Equal => {
                    // Equal-cost paths to the same prefix, from one router
                    // or several (anycast), keep all their next hops, as
                    // equal-cost stub networks do (RFC 2328 §16.1).
                    r.originators.insert(c.originator);
                    r.anycast |= c.anycast;
                    if c.local {
                        r.local = true;
                        r.nexthops.clear();
                    } else if !r.local {
                        r.nexthops.extend(c.nexthops.iter().copied());
                    }
                }
                std::cmp::Ordering::Greater => {}
            }
        }
    }
}

/// The vertex an Intra-Area-Prefix-LSA hangs its prefixes on.
fn referenced(lsa: &Lsa, iap: &IntraAreaPrefixLsa, g: &Graph) -> Option<usize> {
    // Only the router itself, or the network's DR, speaks for it
    // (RFC 5340 §4.4.3.9).
    if lsa.header.adv_router != iap.ref_adv_router {
        return None;
    }
    match iap.ref_ls_type {
        LsaType::ROUTER => g.router_ix.get(&iap.ref_adv_router).copied(),
        LsaType::NETWORK => g
            .network_ix
            .get(&(iap.ref_adv_router, u32::from(iap.ref_id)))
            .copied(),
        _ => None,
    }
}

/// Intra-area routes: the prefixes of the Intra-Area-Prefix-LSAs, each at
/// the distance of the vertex it references plus its metric (RFC 5340
/// §4.8.1, in place of RFC 2328 §16.1 step 2's stub links).
fn intra_area(input: &SpfInput, g: &Graph, t: &Tree, routes: &mut BTreeMap<(Ipv6Addr, u8), Route>) {
    for lsa in &input.area {
        let LsaBody::IntraAreaPrefix(iap) = &lsa.body else {
            continue;
        };
        let Some(v) = referenced(lsa, iap, g).filter(|&v| t.reached(v)) else {
            continue;
        };
        for p in &iap.prefixes {
            let Some(key) = routable(p) else {
                continue;
            };
            offer(
                routes,
                Candidate {
                    key,
                    path_type: PathType::IntraArea,
                    cost: t.dist[v].saturating_add(u32::from(p.field)),
                    type2_cost: 0,
                    nexthops: &t.nexthops[v],
                    anycast: p.options & PREFIX_AC != 0,
                    originator: lsa.header.adv_router,
                    local: v == t.root,
                },
            );
        }
    }
}

/// The longest intra-area route covering `addr`.
fn lookup_intra(routes: &BTreeMap<(Ipv6Addr, u8), Route>, addr: Ipv6Addr) -> Option<&Route> {
    (0..=128u8)
        .rev()
        .filter_map(|plen| routes.get(&(mask(addr, plen), plen)))
        .find(|r| r.path_type == PathType::IntraArea)
}

/// AS external routes (RFC 2328 §16.4 as RFC 5340 §4.8.5 adapts it). Run
/// after the intra-area routes: forwarding addresses resolve through them,
/// and they win over any external for the same prefix.
fn external(input: &SpfInput, g: &Graph, t: &Tree, routes: &mut BTreeMap<(Ipv6Addr, u8), Route>) {
    for lsa in &input.external {
        let LsaBody::AsExternal(e) = &lsa.body else {
            continue;
        };
        let asbr = lsa.header.adv_router;
        // Unreachable (step 1), or our own redistribution (step 2).
        if asbr == input.root || e.metric >= LS_INFINITY {
            continue;
        }
        let Some(key) = routable(&e.prefix) else {
            continue;
        };
        // The ASBR must be reached and say it is one (step 3).
        let Some(&v) = g.router_ix.get(&asbr) else {
            continue;
        };
        if !t.reached(v) || g.routers[v].flags & ROUTER_E == 0 {
            continue;
        }
        offer_external(routes, key, e, asbr, (t.dist[v], &t.nexthops[v]));
    }
}

/// Offers the route of one AS-External-LSA of `asbr` (reached at
/// `via`: its distance and next hops) for `key`: through its forwarding
/// address when it has one (resolved over the intra-area routes already
/// in `routes`), type 1 or type 2 (RFC 2328 §16.4 steps 4–6).
fn offer_external(
    routes: &mut BTreeMap<(Ipv6Addr, u8), Route>,
    key: (Ipv6Addr, u8),
    e: &AsExternalLsa,
    asbr: Ipv4Addr,
    via: (u32, &Set<NextHop>),
) {
    let (dist, nexthops) = match e.forwarding.filter(|f| !f.is_unspecified()) {
        Some(f) => match lookup_intra(routes, f) {
            Some(r) if !r.nexthops.is_empty() => (r.cost, r.nexthops.clone()),
            _ => return,
        },
        None => (via.0, via.1.clone()),
    };
    let (path_type, cost, type2_cost) = if e.type2 {
        (PathType::External2, dist, e.metric)
    } else {
        (PathType::External1, dist.saturating_add(e.metric), 0)
    };
    offer(
        routes,
        Candidate {
            key,
            path_type,
            cost,
            type2_cost,
            nexthops: &nexthops,
            anycast: e.prefix.options & PREFIX_AC != 0,
            originator: asbr,
            local: false,
        },
    );
}

/// Synthetic LSDBs for tests and benchmarks.
#[doc(hidden)]
pub mod synth {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::{LocalInterface, SpfInput};
    use crate::packet::lsa::*;
    use crate::packet::{Lsa, LsaBody, LsaHeader, Options};

    /// V6, E, R, as FRR sets them.
    pub const OPTIONS: Options = Options(Options::V6 | Options::E | Options::R);

    /// Owned LSAs; [`SynthLsdb::input`] borrows them as an [`SpfInput`].
    pub struct SynthLsdb {
        pub root: Ipv4Addr,
        pub area: Vec<Lsa>,
        pub links: Vec<(u32, Lsa)>,
        pub external: Vec<Lsa>,
        pub interfaces: Vec<LocalInterface>,
    }

    impl SynthLsdb {
        /// The LSAs as the calculation's input.
        pub fn input(&self) -> SpfInput<'_> {
            SpfInput {
                root: self.root,
                area: self.area.iter().collect(),
                links: self.links.iter().map(|(i, l)| (*i, l)).collect(),
                external: self.external.iter().collect(),
                interfaces: self.interfaces.clone(),
            }
        }
    }

    /// A sealed LSA (length and checksum set), sequence number initial.
    pub fn lsa(ls_type: LsaType, id: u32, adv_router: Ipv4Addr, body: LsaBody) -> Lsa {
        let mut l = Lsa {
            header: LsaHeader {
                age: 1,
                ls_type,
                id: Ipv4Addr::from(id),
                adv_router,
                seq: INITIAL_SEQ,
                checksum: 0,
                length: 0,
            },
            body,
        };
        l.seal();
        l
    }

    /// A Router-LSA (link state id 0) with [`OPTIONS`].
    pub fn router_lsa(adv: Ipv4Addr, flags: u8, links: Vec<RouterLink>) -> Lsa {
        let body = LsaBody::Router(RouterLsa {
            flags,
            options: OPTIONS,
            links,
        });
        lsa(LsaType::ROUTER, 0, adv, body)
    }

    /// A point-to-point link to `nbr`.
    pub fn p2p(interface_id: u32, nbr: Ipv4Addr, nbr_interface_id: u32, metric: u16) -> RouterLink {
        RouterLink {
            link_type: LINK_POINT_TO_POINT,
            metric,
            interface_id,
            neighbor_interface_id: nbr_interface_id,
            neighbor_router_id: nbr,
        }
    }

    /// `adv`'s Link-LSA for its interface `interface_id`.
    pub fn link_lsa(adv: Ipv4Addr, interface_id: u32, link_local: Ipv6Addr) -> Lsa {
        let body = LsaBody::Link(LinkLsa {
            priority: 1,
            options: OPTIONS,
            link_local,
            prefixes: vec![],
        });
        lsa(LsaType::LINK, interface_id, adv, body)
    }

    /// An Intra-Area-Prefix-LSA for `adv`'s Router-LSA.
    pub fn router_prefixes(adv: Ipv4Addr, prefixes: Vec<Prefix>) -> Lsa {
        let body = LsaBody::IntraAreaPrefix(IntraAreaPrefixLsa {
            ref_ls_type: LsaType::ROUTER,
            ref_id: Ipv4Addr::UNSPECIFIED,
            ref_adv_router: adv,
            prefixes,
        });
        lsa(LsaType::INTRA_AREA_PREFIX, 0, adv, body)
    }

    /// Router `i` of a synthetic network: 10.0.0.0 + i + 1.
    pub fn router_id(i: u32) -> Ipv4Addr {
        Ipv4Addr::from(0x0a00_0001 + i)
    }

    /// Router `i`'s link-local address on its interface `interface_id`.
    pub fn link_local(i: u32, interface_id: u32) -> Ipv6Addr {
        Ipv6Addr::new(
            0xfe80,
            0,
            0,
            0,
            0,
            (i >> 16) as u16,
            i as u16,
            interface_id as u16,
        )
    }

    /// Prefix `k` of a synthetic network: 2001:db8:k/32-bits::/64.
    pub fn prefix(k: u32) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, (k >> 16) as u16, k as u16, 0, 0, 0, 0)
    }

    /// Interface ids of a grid router, one per direction.
    pub const EAST: u32 = 1;
    pub const WEST: u32 = 2;
    pub const SOUTH: u32 = 3;
    pub const NORTH: u32 = 4;

    /// Our ifindex for our interface `interface_id` in [`grid`].
    pub fn grid_ifindex(interface_id: u32) -> u32 {
        10 + interface_id
    }

    /// Width of the grid of `routers` routers: ceil(sqrt(routers)).
    pub fn grid_width(routers: u32) -> u32 {
        (1..).find(|w| w * w >= routers).unwrap_or(1)
    }

    /// `routers` routers in rows of [`grid_width`], each joined to its
    /// east, west, south and north neighbours by point-to-point links of
    /// `metric`; router 0 (top left) is the root. Prefix `k` (of
    /// `prefixes`, each a /64 with metric 1) belongs to router
    /// `k % routers`. The root has the Link-LSAs of its neighbours.
    pub fn grid(routers: u32, prefixes: u32, metric: u16) -> SynthLsdb {
        let w = grid_width(routers);
        let neighbours = |i: u32| {
            let (row, col) = (i / w, i % w);
            let mut v = Vec::with_capacity(4);
            if col + 1 < w && i + 1 < routers {
                v.push((EAST, i + 1, WEST));
            }
            if col > 0 {
                v.push((WEST, i - 1, EAST));
            }
            if i + w < routers {
                v.push((SOUTH, i + w, NORTH));
            }
            if row > 0 {
                v.push((NORTH, i - w, SOUTH));
            }
            v
        };
        let mut area = Vec::new();
        let mut own: Vec<Vec<Prefix>> = vec![Vec::new(); routers as usize];
        for k in 0..prefixes {
            own[(k % routers) as usize].push(Prefix {
                len: 64,
                options: 0,
                field: 1,
                addr: prefix(k),
            });
        }
        for (i, pfx) in (0..routers).zip(own) {
            let links = neighbours(i)
                .into_iter()
                .map(|(ifid, j, nbr_ifid)| p2p(ifid, router_id(j), nbr_ifid, metric))
                .collect();
            area.push(router_lsa(router_id(i), 0, links));
            if !pfx.is_empty() {
                area.push(router_prefixes(router_id(i), pfx));
            }
        }
        let root_links = neighbours(0);
        SynthLsdb {
            root: router_id(0),
            area,
            links: root_links
                .iter()
                .map(|&(ifid, j, nbr_ifid)| {
                    let l = link_lsa(router_id(j), nbr_ifid, link_local(j, nbr_ifid));
                    (grid_ifindex(ifid), l)
                })
                .collect(),
            external: vec![],
            interfaces: root_links
                .iter()
                .map(|&(ifid, _, _)| LocalInterface {
                    ifindex: grid_ifindex(ifid),
                    interface_id: ifid,
                })
                .collect(),
        }
    }
}
