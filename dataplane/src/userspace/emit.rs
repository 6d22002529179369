//! Frame rewriting, byte for byte as `ebpf/include/encap.h`: Ethernet
//! rewrite, IPv6-in-IPv6 encapsulation (RFC 2473) and ICMPv6 Packet Too Big
//! (RFC 4443 3.2). Each returns `Err(reason)` where the C helper would fail
//! (`A6_R_DROP_ADJUST`: the buffer has no room).

use crate::abi::{self, Reason};

use super::frame::Frame;
use super::wire::{
    self, EthernetFrame, Ipv6Header, ETH_HLEN, ETH_P_IPV6, ICMPV6_PKT_TOOBIG, IP6_HLEN, L2L3,
    NH_ICMPV6, NH_IPV6,
};

/// Most of the offending packet a Packet Too Big quotes: the minimum MTU
/// minus our IPv6 and ICMPv6 headers.
pub const PTB_MAX_QUOTE: usize = 1280 - IP6_HLEN - 8;
pub const ENCAP_HOP_LIMIT: u8 = 64;
pub const PTB_HOP_LIMIT: u8 = 255;

/// `a6_rewrite_l2`: an untagged Ethernet header toward the member in place
/// of the 14 or 18 bytes of L2 (frames leave untagged: the egress is the
/// member link).
pub fn rewrite_l2(frame: &mut Frame<'_>, l: L2L3, m: &abi::Member) -> Result<(), Reason> {
    if l.l2_len != ETH_HLEN && !frame.pop_front(l.l2_len - ETH_HLEN) {
        return Err(Reason::DropAdjust);
    }
    let mut eth = EthernetFrame::new_checked(frame.data_mut()).ok_or(Reason::DropAdjust)?;
    eth.emit(m.dmac, m.smac, ETH_P_IPV6);
    Ok(())
}

/// `a6_encap`: Ethernet + outer IPv6 (next header 41) before the IPv6
/// packet. Outer traffic class = inner (RFC 2473 6.5), flow label = the
/// flow hash's low 20 bits (so ECMP on the way keeps a flow on one path).
pub fn encap(
    frame: &mut Frame<'_>,
    l: L2L3,
    m: &abi::Member,
    flow_hash: u32,
) -> Result<(), Reason> {
    let inner_len = l.l3_len;
    let grow = ETH_HLEN + IP6_HLEN;
    if grow >= l.l2_len {
        if !frame.push_front(grow - l.l2_len) {
            return Err(Reason::DropAdjust);
        }
    } else if !frame.pop_front(l.l2_len - grow) {
        return Err(Reason::DropAdjust);
    }
    let data = frame.data_mut();
    let (head, inner) = data.split_at_mut(grow.min(data.len()));
    let tc = Ipv6Header::new_checked(&*inner)
        .ok_or(Reason::DropAdjust)?
        .traffic_class();
    let (eth, outer) = head.split_at_mut(ETH_HLEN.min(head.len()));
    EthernetFrame::new_checked(eth)
        .ok_or(Reason::DropAdjust)?
        .emit(m.dmac, m.smac, ETH_P_IPV6);
    Ipv6Header::new_checked(outer)
        .ok_or(Reason::DropAdjust)?
        .emit(
            tc,
            flow_hash & 0xfffff,
            inner_len as u16,
            NH_IPV6,
            ENCAP_HOP_LIMIT,
            &m.encap_src,
            &m.unicast,
        );
    Ok(())
}

/// `a6_build_ptb`: turns the frame into an ICMPv6 Packet Too Big for its
/// sender, quoting as much of the packet as fits in 1280 bytes. The L2
/// header (and a VLAN tag) is kept with the MAC addresses swapped; the
/// source is `router_addr`, or the packet's destination when that is `::`.
pub fn packet_too_big(
    frame: &mut Frame<'_>,
    l: L2L3,
    mtu: u32,
    router_addr: &[u8; 16],
) -> Result<(), Reason> {
    let quote = l.l3_len.min(PTB_MAX_QUOTE);
    let hdrs = IP6_HLEN + 8;
    let total = l.l2_len + hdrs + quote;
    if total > frame.capacity() || frame.len() < l.l2_len + IP6_HLEN {
        return Err(Reason::DropAdjust);
    }
    let (orig_src, orig_dst) = {
        let ip6 = frame
            .data()
            .get(l.l2_len..)
            .and_then(Ipv6Header::new_checked)
            .ok_or(Reason::DropAdjust)?;
        (ip6.src(), ip6.dst())
    };
    // With a tag, bytes 12..14 are the TPID: kept as they are.
    let (dmac, smac, ethertype) = {
        let eth = EthernetFrame::new_checked(frame.data()).ok_or(Reason::DropAdjust)?;
        (eth.dst(), eth.src(), eth.ethertype())
    };
    let buf = frame.buffer_mut();
    // The quote moves up by the two new headers; the L2 header stays.
    buf.copy_within(l.l2_len..l.l2_len + quote, l.l2_len + hdrs);
    let (l2, rest) = buf.split_at_mut(l.l2_len);
    EthernetFrame::new_checked(&mut *l2)
        .ok_or(Reason::DropAdjust)?
        .emit(smac, dmac, ethertype);
    let (ip, rest) = rest.split_at_mut(IP6_HLEN);
    let (icmp, quoted) = rest.split_at_mut(8);
    let src = if router_addr.iter().all(|b| *b == 0) {
        orig_dst
    } else {
        *router_addr
    };
    let plen = (8 + quote) as u16;
    Ipv6Header::new_checked(&mut *ip)
        .ok_or(Reason::DropAdjust)?
        .emit(0, 0, plen, NH_ICMPV6, PTB_HOP_LIMIT, &src, &orig_src);
    icmp[0] = ICMPV6_PKT_TOOBIG;
    icmp[1] = 0;
    icmp[2] = 0;
    icmp[3] = 0;
    icmp[4..8].copy_from_slice(&mtu.to_be_bytes());
    // Pseudo-header (RFC 8200 8.1), ICMPv6 header, quote.
    let pseudo_len = (8 + quote as u32).to_be_bytes();
    let pseudo_nh = u32::from(NH_ICMPV6).to_be_bytes();
    let sum = wire::checksum(&[
        &src,
        &orig_src,
        &pseudo_len,
        &pseudo_nh,
        icmp,
        quoted.get(..quote).ok_or(Reason::DropAdjust)?,
    ]);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    if !frame.set_len(total) {
        return Err(Reason::DropAdjust);
    }
    Ok(())
}
