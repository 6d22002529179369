//! `process`: one frame through the anycast fast path, in userspace, with
//! exactly the rules of `ebpf/anycast6_xdp.bpf.c` (`a6_process`,
//! `a6_choose`, `a6_too_big`). Each step names the C function it mirrors;
//! change one side and the fixtures (run through both) fail.

use std::net::Ipv6Addr;

use crate::abi::{self, Affinity, Counter, Reason, Verdict};
use crate::flowhash;

use super::affinity::AffinityTable;
use super::emit;
use super::fasthash::FastMap;
use super::frame::Frame;
use super::snapshot::{FibSnapshot, SnapGroup};
use super::wire::{self, EthernetFrame, Ipv6Header, NH_ICMPV6, NH_UDP};

/// Load-time settings (`struct a6_config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    pub hash_seed: u32,
    /// Source of Packet Too Big; `::` answers from the packet's destination.
    pub router_addr: Ipv6Addr,
    /// Packet Too Big budget per second per worker (0 = 100).
    pub ptb_per_sec: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            hash_seed: 0x5eed_1234,
            router_addr: Ipv6Addr::UNSPECIFIED,
            ptb_per_sec: 100,
        }
    }
}

const PTB_DEFAULT_RATE: u64 = 100;
const NS_PER_SEC: u64 = 1_000_000_000;

/// What happened to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub reason: Reason,
    /// Where a redirected frame leaves: the member's egress, or the ingress
    /// for a Packet Too Big. 0 when not redirected.
    pub egress_ifindex: u32,
}

/// Counters of one worker, by reason, group and member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineCounters {
    pub reasons: [Counter; abi::REASON_MAX as usize],
    pub groups: FastMap<u32, Counter>,
    pub members: FastMap<u32, Counter>,
    /// Tunnel end point decapsulations by `abi::tun_reason` (`a6_tun_stats`).
    pub tunnel: [Counter; abi::tun_reason::MAX as usize],
}

// By hand: arrays implement Default only up to 32 elements.
impl Default for EngineCounters {
    fn default() -> Self {
        EngineCounters {
            reasons: [Counter::default(); abi::REASON_MAX as usize],
            groups: FastMap::default(),
            members: FastMap::default(),
            tunnel: [Counter::default(); abi::tun_reason::MAX as usize],
        }
    }
}

fn bump(c: &mut Counter, bytes: u64) {
    c.packets = c.packets.wrapping_add(1);
    c.bytes = c.bytes.wrapping_add(bytes);
}

/// `bump` on the counter of `id`; a lookup first, as an entry costs more
/// and the counter is there from the group's or member's first frame on.
fn bump_id(map: &mut FastMap<u32, Counter>, id: u32, bytes: u64) {
    match map.get_mut(&id) {
        Some(c) => bump(c, bytes),
        None => bump(map.entry(id).or_default(), bytes),
    }
}

impl EngineCounters {
    /// Adds `other` into `self` (summing workers).
    pub fn merge(&mut self, other: &EngineCounters) {
        for (a, b) in self
            .reasons
            .iter_mut()
            .zip(&other.reasons)
            .chain(self.tunnel.iter_mut().zip(&other.tunnel))
        {
            a.packets = a.packets.wrapping_add(b.packets);
            a.bytes = a.bytes.wrapping_add(b.bytes);
        }
        for (map, from) in [
            (&mut self.groups, &other.groups),
            (&mut self.members, &other.members),
        ] {
            for (id, c) in from {
                let e = map.entry(*id).or_default();
                e.packets = e.packets.wrapping_add(c.packets);
                e.bytes = e.bytes.wrapping_add(c.bytes);
            }
        }
    }
}

/// Per-worker mutable state: the affinity table, the Packet Too Big
/// budget (per worker, as the XDP one is per CPU) and the counters.
#[derive(Debug, Clone)]
pub struct FlowState {
    pub affinity: AffinityTable,
    pub counters: EngineCounters,
    ptb_window_start_ns: u64,
    ptb_sent: u64,
}

impl FlowState {
    pub fn new(affinity_capacity: usize) -> Self {
        FlowState {
            affinity: AffinityTable::new(affinity_capacity),
            counters: EngineCounters::default(),
            ptb_window_start_ns: 0,
            ptb_sent: 0,
        }
    }

    /// `a6_ptb_allowed`.
    fn ptb_allowed(&mut self, cfg: &EngineConfig, now_ns: u64) -> bool {
        let budget = if cfg.ptb_per_sec != 0 {
            u64::from(cfg.ptb_per_sec)
        } else {
            PTB_DEFAULT_RATE
        };
        if now_ns.wrapping_sub(self.ptb_window_start_ns) >= NS_PER_SEC {
            self.ptb_window_start_ns = now_ns;
            self.ptb_sent = 0;
        }
        if self.ptb_sent >= budget {
            return false;
        }
        self.ptb_sent += 1;
        true
    }
}

fn usable(m: &abi::Member) -> bool {
    m.state == abi::STATE_ACTIVE || m.state == abi::STATE_DRAINING
}

const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;

fn gen_at_or_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

/// `a6_pin_fresh`: written in the current change period, and while its
/// member has been usable without a break.
fn pin_fresh(a: &Affinity, g: &SnapGroup, m: &abi::Member) -> bool {
    gen_at_or_after(a.gen, g.mark_gen) && gen_at_or_after(a.gen, m.since_gen)
}

/// `a6_choose`: the member index for this flow, or None. The common case
/// is the Maglev table alone; only a marked entry during the hold looks at
/// (or writes) the affinity table.
fn choose(
    g: &SnapGroup,
    group_id: u32,
    pkt: &wire::Owned,
    hash: u32,
    aff: &mut AffinityTable,
    now_ns: u64,
) -> Option<usize> {
    let n = g.members.len();
    if g.table.is_empty() {
        return None;
    }
    let pos = flowhash::maglev_index(hash, g.table.len() as u32) as usize;
    let idx = usize::from(*g.table.get(pos)?);
    let mark = g.marks.get(pos).copied().unwrap_or(0);
    if idx >= n || idx >= abi::MAX_MEMBERS {
        return None;
    }
    if g.members[idx].state != abi::STATE_ACTIVE {
        return None;
    }
    if mark & abi::MG_MARKED == 0 || now_ns >= g.hold_until_ns {
        return Some(idx);
    }
    Some(choose_marked(
        g, group_id, pkt, hash, idx, mark, aff, now_ns,
    ))
}

/// `a6_choose_marked`.
#[allow(clippy::too_many_arguments)]
fn choose_marked(
    g: &SnapGroup,
    group_id: u32,
    pkt: &wire::Owned,
    hash: u32,
    idx: usize,
    mark: u8,
    aff: &mut AffinityTable,
    now_ns: u64,
) -> usize {
    let n = g.members.len();
    let key = &pkt.key;
    if let Some(a) = aff.get_mut(key) {
        if a.group_id == group_id && gen_at_or_after(a.gen, g.mark_gen) {
            let i = usize::from(a.idx);
            if a.gen == g.gen && i < n && i < abi::MAX_MEMBERS {
                let m = &g.members[i];
                if m.member_id == a.member_id && usable(m) && pin_fresh(a, g, m) {
                    return i;
                }
            } else if let Some(i) = g.members.iter().position(|m| m.member_id == a.member_id) {
                // Republished within the period: found again by id.
                let m = &g.members[i];
                if usable(m) && pin_fresh(a, g, m) {
                    a.gen = g.gen;
                    a.idx = i as u16;
                    return i;
                }
            }
        }
    }

    // The member the entry had when the period began.
    let mut prev = usize::from(mark & abi::MG_PREV_MASK);
    if mark & abi::MG_PREV_TABLE != 0 {
        prev = usize::from(abi::MG_NONE);
        if !g.prev_table.is_empty() {
            let ppos = flowhash::maglev_index(hash, g.prev_table.len() as u32) as usize;
            prev = usize::from(g.prev_table[ppos]);
        }
    }
    if prev >= n || prev >= abi::MAX_MEMBERS || !usable(&g.members[prev]) {
        prev = idx;
    }
    let old = if key.proto == wire::NH_TCP && key.frag == 0 {
        pkt.tcp_flags & (TCP_SYN | TCP_ACK) != TCP_SYN
    } else {
        mark & abi::MG_GRACE != 0 && now_ns < g.grace_until_ns
    };
    let pick = if old { prev } else { idx };
    if prev != idx {
        aff.insert(
            *key,
            Affinity {
                member_id: g.members[pick].member_id,
                group_id,
                gen: g.gen,
                idx: pick as u16,
                _pad: 0,
            },
        );
    }
    pick
}

/// One frame through the fast path. `ingress_ifindex` is where it came in
/// (a Packet Too Big goes back there); `now_ns` is CLOCK_MONOTONIC in ns
/// ([`crate::changes::monotonic_ns`], the clock of the group deadlines and
/// of `bpf_ktime_get_ns`), also for the Packet Too Big budget. The frame is rewritten in place for
/// redirects and left as it came for passes, less the outer header when it
/// was tunnelled to one of this router's end points (`tun_decap`).
pub fn process(
    frame: &mut Frame<'_>,
    ingress_ifindex: u32,
    snap: &FibSnapshot,
    state: &mut FlowState,
    cfg: &EngineConfig,
    now_ns: u64,
) -> Outcome {
    let bytes = frame.len() as u64;
    let (reason, egress) = process_inner(frame, ingress_ifindex, snap, state, cfg, now_ns);
    bump(&mut state.counters.reasons[reason as usize], bytes);
    let verdict = reason.verdict();
    Outcome {
        verdict,
        reason,
        egress_ifindex: if verdict == Verdict::Redirect {
            egress
        } else {
            0
        },
    }
}

/// What `tun_match` found (`A6_TUN_*` in classify.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tunnel {
    None,
    /// To an end point; the L2 header's length.
    Decap(usize),
    /// To an end point, the inner header cut short.
    Trunc,
}

/// `a6_tun_match`: Ethernet [+ one tag], outer IPv6 with next header 41
/// itself, outer destination a tunnel end point of this router, a whole
/// inner header of version 6. The outer hop limit is not looked at.
fn tun_match(frame: &[u8], snap: &FibSnapshot) -> Tunnel {
    let Some(eth) = EthernetFrame::new_checked(frame) else {
        return Tunnel::None;
    };
    let mut l2 = wire::ETH_HLEN;
    let mut proto = eth.ethertype();
    if proto == wire::ETH_P_8021Q || proto == wire::ETH_P_8021AD {
        let Some(p) = frame.get(wire::ETH_HLEN + 2..wire::ETH_HLEN + 4) else {
            return Tunnel::None;
        };
        proto = u16::from_be_bytes([p[0], p[1]]);
        l2 += wire::VLAN_HLEN;
    }
    if proto != wire::ETH_P_IPV6 {
        return Tunnel::None;
    }
    let Some(outer) = frame.get(l2..).and_then(Ipv6Header::new_checked) else {
        return Tunnel::None;
    };
    if outer.version() != 6
        || outer.next_header() != wire::NH_IPV6
        || !snap.is_tunnel_endpoint(&outer.dst())
    {
        return Tunnel::None;
    }
    match frame
        .get(l2 + wire::IP6_HLEN..)
        .and_then(Ipv6Header::new_checked)
    {
        None => Tunnel::Trunc,
        Some(inner) if inner.version() != 6 => Tunnel::None,
        Some(_) => Tunnel::Decap(l2),
    }
}

/// `a6_tun_decap`: the outer header of a packet tunnelled to this router
/// removed, the L2 header moved forward; `Err` with the reason when the
/// frame goes no further. Counted in `counters.tunnel`.
fn tun_decap(
    frame: &mut Frame<'_>,
    snap: &FibSnapshot,
    counters: &mut EngineCounters,
) -> Result<(), Reason> {
    let bytes = frame.len() as u64;
    match tun_match(frame.data(), snap) {
        Tunnel::None => Ok(()),
        Tunnel::Trunc => {
            bump(
                &mut counters.tunnel[abi::tun_reason::DROP_TRUNC as usize],
                bytes,
            );
            Err(Reason::DropTruncIpv6)
        }
        Tunnel::Decap(l2) => {
            frame.data_mut().copy_within(..l2, wire::IP6_HLEN);
            if !frame.pop_front(wire::IP6_HLEN) {
                return Err(Reason::DropAdjust);
            }
            bump(&mut counters.tunnel[abi::tun_reason::DECAP as usize], bytes);
            Ok(())
        }
    }
}

/// `a6_process`.
fn process_inner(
    frame: &mut Frame<'_>,
    ingress_ifindex: u32,
    snap: &FibSnapshot,
    state: &mut FlowState,
    cfg: &EngineConfig,
    now_ns: u64,
) -> (Reason, u32) {
    if let Err(r) = tun_decap(frame, snap, &mut state.counters) {
        return (r, 0);
    }
    let l = match wire::parse_l2_l3(frame.data()) {
        Ok(l) => l,
        Err(r) => return (r, 0),
    };
    let Some(ip6) = frame
        .data()
        .get(l.l2_len..)
        .and_then(Ipv6Header::new_checked)
    else {
        return (Reason::DropTruncIpv6, 0);
    };
    if ip6.version() != 6 {
        return (Reason::DropBadIpv6, 0);
    }
    let dst = ip6.dst();
    let src = ip6.src();
    let hop_limit = ip6.hop_limit();
    if dst[0] == 0xff {
        return (Reason::PassMulticast, 0);
    }

    // FIB: exact /128 first, then the anycast prefixes.
    let Some(group_id) = snap.lookup(&dst) else {
        return (Reason::PassNotAnycast, 0);
    };
    let Some(g) = snap.group(group_id) else {
        return (Reason::PassNoGroup, 0);
    };
    if let Err(r) = check_dmac(frame.data(), ingress_ifindex, snap) {
        return (r, 0);
    }

    let pkt = match wire::parse_owned(frame.data(), l) {
        Ok(p) => p,
        Err(r) => return (r, 0),
    };
    if pkt.l4_proto == NH_ICMPV6 && !pkt.later_frag && (133..=137).contains(&pkt.icmp_type) {
        return (Reason::PassNd, 0);
    }
    if let Err(r) = check_src(&src, snap) {
        return (r, 0);
    }
    // An AARP query (never a fragment) when this router answers them.
    if snap.aarp_answer()
        && pkt.l4_proto == NH_UDP
        && pkt.key.frag == 0
        && pkt.key.dport_be == crate::abi::AARP_PORT.to_be()
    {
        return (Reason::PassAarp, 0);
    }

    let hash = flowhash::flow_hash(&pkt.key, cfg.hash_seed);
    let Some(idx) = choose(g, group_id, &pkt, hash, &mut state.affinity, now_ns) else {
        return (Reason::PassNoMember, 0);
    };
    let m = g.members[idx];

    let bytes = frame.len() as u64;
    bump_id(&mut state.counters.groups, group_id, bytes);
    bump_id(&mut state.counters.members, m.member_id, bytes);

    if m.action == abi::ACT_LOCAL {
        return (Reason::PassLocal, 0);
    }
    if hop_limit <= 1 {
        return (Reason::PassHopLimit, 0);
    }
    if !snap.has_tx_port(m.ifindex) {
        return (Reason::PassNoPort, 0);
    }
    let mtu = usize::from(m.mtu);
    let ip = wire::IP6_HLEN;

    if m.action == abi::ACT_ENCAP {
        if l.l3_len + ip > mtu {
            // No fragmenting the outer packet; a packet of at most the
            // IPv6 minimum MTU cannot be asked to shrink.
            if l.l3_len <= 1280 || mtu < 1280 + ip {
                return (Reason::DropTooBig, 0);
            }
            let r = too_big(frame, l, &pkt, &src, (mtu - ip) as u32, state, cfg, now_ns);
            return (r, ingress_ifindex);
        }
        set_hop_limit(frame, l.l2_len, hop_limit - 1);
        if let Err(r) = emit::encap(frame, l, &m, hash) {
            return (r, 0);
        }
        return (Reason::FwdEncap, m.ifindex);
    }

    if l.l3_len > mtu {
        let r = too_big(frame, l, &pkt, &src, mtu as u32, state, cfg, now_ns);
        return (r, ingress_ifindex);
    }
    set_hop_limit(frame, l.l2_len, hop_limit - 1);
    if let Err(r) = emit::rewrite_l2(frame, l, &m) {
        return (r, 0);
    }
    (Reason::FwdRewrite, m.ifindex)
}

/// `a6_check_dmac`: only frames sent to the ingress interface are
/// forwarded; broadcast is dropped, other multicast MACs go to the kernel,
/// and so does every frame of an interface the snapshot does not know.
fn check_dmac(frame: &[u8], ingress_ifindex: u32, snap: &FibSnapshot) -> Result<(), Reason> {
    let dst = EthernetFrame::new_checked(frame)
        .ok_or(Reason::DropTruncEth)?
        .dst();
    if dst[0] & 1 == 1 {
        return Err(if dst == [0xff; 6] {
            Reason::DropNotOurMac
        } else {
            Reason::PassL2Multicast
        });
    }
    match snap.iface_mac(ingress_ifindex) {
        None => Err(Reason::PassUnknownIface),
        Some(mac) if mac != dst => Err(Reason::DropNotOurMac),
        Some(_) => Ok(()),
    }
}

/// `a6_check_src`: multicast, `::` and `::1` sources are dropped; a
/// link-local source goes to the kernel; a source that is an anycast
/// address of the FIB (/128, then the prefixes) is dropped.
fn check_src(src: &[u8; 16], snap: &FibSnapshot) -> Result<(), Reason> {
    let a = Ipv6Addr::from(*src);
    if a.is_multicast() || a.is_unspecified() || a.is_loopback() {
        return Err(Reason::DropBadSrc);
    }
    if a.is_unicast_link_local() {
        return Err(Reason::PassLinkLocalSrc);
    }
    if snap.lookup(src).is_some() {
        return Err(Reason::DropSrcAnycast);
    }
    Ok(())
}

fn set_hop_limit(frame: &mut Frame<'_>, l2_len: usize, v: u8) {
    if let Some(mut ip6) = frame
        .data_mut()
        .get_mut(l2_len..)
        .and_then(Ipv6Header::new_checked)
    {
        ip6.set_hop_limit(v);
    }
}

/// `a6_too_big`: RFC 4443 2.4(e) — no ICMPv6 error in answer to an ICMPv6
/// error, nor to a multicast or unspecified source — then the budget,
/// then the message.
#[allow(clippy::too_many_arguments)]
fn too_big(
    frame: &mut Frame<'_>,
    l: wire::L2L3,
    pkt: &wire::Owned,
    src: &[u8; 16],
    mtu: u32,
    state: &mut FlowState,
    cfg: &EngineConfig,
    now_ns: u64,
) -> Reason {
    if src[0] == 0xff || src.iter().all(|b| *b == 0) {
        return Reason::DropTooBig;
    }
    if pkt.l4_proto == NH_ICMPV6 && !pkt.later_frag && pkt.icmp_type < 128 {
        return Reason::DropTooBig;
    }
    if !state.ptb_allowed(cfg, now_ns) {
        return Reason::DropPtbRate;
    }
    match emit::packet_too_big(frame, l, mtu, &cfg.router_addr.octets()) {
        Ok(()) => Reason::TxPtb,
        Err(r) => r,
    }
}
