//! Zero-copy views of the headers the fast path reads, and the parser that
//! mirrors `ebpf/include/parse.h` rule for rule.
//!
//! smoltcp style: a view is built with `new_checked`, which is the one
//! bounds check; after it no accessor can panic (every field lies inside
//! the checked length). The extension-header walk reads through `get`, so
//! a malformed chain yields a reason, never a panic.

use crate::abi::{FlowKey, Reason, MAX_EXT_HDRS, MAX_HBH_OPTS};

pub const ETH_HLEN: usize = 14;
pub const VLAN_HLEN: usize = 4;
pub const IP6_HLEN: usize = 40;

pub const ETH_P_IPV6: u16 = 0x86dd;
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88a8;

pub const NH_HOPOPTS: u8 = 0;
pub const NH_TCP: u8 = 6;
pub const NH_UDP: u8 = 17;
pub const NH_IPV6: u8 = 41;
pub const NH_ROUTING: u8 = 43;
pub const NH_FRAGMENT: u8 = 44;
pub const NH_AH: u8 = 51;
pub const NH_ICMPV6: u8 = 58;
pub const NH_DSTOPTS: u8 = 60;

/// Hop-by-Hop option types (RFC 8200 4.2, RFC 2675).
pub const OPT_PAD1: u8 = 0;
pub const OPT_PADN: u8 = 1;
pub const OPT_JUMBO: u8 = 0xc2;
/// A Jumbo Payload Length is more than 65535.
pub const JUMBO_MIN: usize = 65536;

pub const ICMPV6_PKT_TOOBIG: u8 = 2;
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
pub const ICMPV6_ECHO_REPLY: u8 = 129;

/// Ethernet header (RFC 894 / IEEE 802.3), 14 bytes.
///
/// ```text
///  0                   6                  12      14
/// +-------------------+-------------------+-------+
/// |  destination MAC  |    source MAC     | type  |
/// +-------------------+-------------------+-------+
/// ```
#[derive(Debug)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

mod eth_field {
    use std::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// `None` when shorter than an Ethernet header.
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() >= ETH_HLEN).then_some(EthernetFrame { buffer })
    }

    pub fn dst(&self) -> [u8; 6] {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[eth_field::DST]);
        a
    }

    pub fn src(&self) -> [u8; 6] {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[eth_field::SRC]);
        a
    }

    pub fn ethertype(&self) -> u16 {
        let b = &self.buffer.as_ref()[eth_field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Writes every byte of the header (frames are recycled).
    pub fn emit(&mut self, dst: [u8; 6], src: [u8; 6], ethertype: u16) {
        let b = self.buffer.as_mut();
        b[eth_field::DST].copy_from_slice(&dst);
        b[eth_field::SRC].copy_from_slice(&src);
        b[eth_field::ETHERTYPE].copy_from_slice(&ethertype.to_be_bytes());
    }
}

/// IPv6 header (RFC 8200 section 3), 40 bytes.
///
/// ```text
/// +-------+---------------+---------------------------------------+
/// |Version| Traffic Class |              Flow Label               |
/// +-------+---------------+-------+---------------+---------------+
/// |         Payload Length        |  Next Header  |   Hop Limit   |
/// +-------------------------------+---------------+---------------+
/// |                     Source Address (16)                       |
/// |                  Destination Address (16)                     |
/// +---------------------------------------------------------------+
/// ```
#[derive(Debug)]
pub struct Ipv6Header<T: AsRef<[u8]>> {
    buffer: T,
}

mod ip6_field {
    use std::ops::Range;
    pub const VER_TC_FL: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

impl<T: AsRef<[u8]>> Ipv6Header<T> {
    /// `None` when shorter than an IPv6 header. Nothing else is checked
    /// here: the version and payload length are the caller's rules.
    pub fn new_checked(buffer: T) -> Option<Self> {
        (buffer.as_ref().len() >= IP6_HLEN).then_some(Ipv6Header { buffer })
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The traffic class (the 8 bits after the version).
    pub fn traffic_class(&self) -> u8 {
        let b = self.buffer.as_ref();
        ((b[0] & 0x0f) << 4) | (b[1] >> 4)
    }

    pub fn payload_len(&self) -> u16 {
        let b = &self.buffer.as_ref()[ip6_field::PAYLOAD_LEN];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[ip6_field::NEXT_HEADER]
    }

    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[ip6_field::HOP_LIMIT]
    }

    pub fn src(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buffer.as_ref()[ip6_field::SRC]);
        a
    }

    pub fn dst(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buffer.as_ref()[ip6_field::DST]);
        a
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Header<T> {
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[ip6_field::HOP_LIMIT] = v;
    }

    /// Writes every byte of the header.
    #[allow(clippy::too_many_arguments)]
    pub fn emit(
        &mut self,
        traffic_class: u8,
        flow_label: u32,
        payload_len: u16,
        next_header: u8,
        hop_limit: u8,
        src: &[u8; 16],
        dst: &[u8; 16],
    ) {
        let w0 = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0xfffff);
        let b = self.buffer.as_mut();
        b[ip6_field::VER_TC_FL].copy_from_slice(&w0.to_be_bytes());
        b[ip6_field::PAYLOAD_LEN].copy_from_slice(&payload_len.to_be_bytes());
        b[ip6_field::NEXT_HEADER] = next_header;
        b[ip6_field::HOP_LIMIT] = hop_limit;
        b[ip6_field::SRC].copy_from_slice(src);
        b[ip6_field::DST].copy_from_slice(dst);
    }
}

/// What the first parsing step learned: where the IPv6 header is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2L3 {
    /// 14, or 18 with one 802.1Q/802.1ad tag.
    pub l2_len: usize,
    /// Bytes from the IPv6 header to the end of the frame.
    pub l3_len: usize,
}

/// Step 1 (`a6_parse_l2_l3`): Ethernet, one optional tag, an IPv6 header's
/// worth of bytes. Err is the reason the frame stops here.
pub fn parse_l2_l3(frame: &[u8]) -> Result<L2L3, Reason> {
    let eth = EthernetFrame::new_checked(frame).ok_or(Reason::DropTruncEth)?;
    let mut proto = eth.ethertype();
    let mut l2_len = ETH_HLEN;
    if proto == ETH_P_8021Q || proto == ETH_P_8021AD {
        let tag = frame
            .get(ETH_HLEN..ETH_HLEN + VLAN_HLEN)
            .ok_or(Reason::DropTruncVlan)?;
        proto = u16::from_be_bytes([tag[2], tag[3]]);
        l2_len = ETH_HLEN + VLAN_HLEN;
    }
    if proto != ETH_P_IPV6 {
        return Err(Reason::PassNotIpv6);
    }
    if frame.len() < l2_len + IP6_HLEN {
        return Err(Reason::DropTruncIpv6);
    }
    Ok(L2L3 {
        l2_len,
        l3_len: frame.len() - l2_len,
    })
}

/// What the second step learned about a packet the FIB owns (`struct a6_pkt`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Owned {
    pub key: FlowKey,
    /// Upper-layer protocol after the extension headers.
    pub l4_proto: u8,
    /// Offset of the upper-layer header from the frame start.
    pub l4_off: usize,
    /// ICMPv6 type when `l4_proto` is 58 and the header was readable.
    pub icmp_type: u8,
    pub is_frag: bool,
    /// A fragment with a non-zero offset (no upper-layer header).
    pub later_frag: bool,
    /// TCP header octet 13 (the flags) when `l4_proto` is 6.
    pub tcp_flags: u8,
}

/// `a6_parse_hbh`: the Hop-by-Hop Options header at `off` (the first
/// extension header). Ok(len) when the packet goes on through the fast
/// path: only Pad1/PadN inside. A Jumbo Payload option must be valid
/// (RFC 2675: Payload Length 0, option length 4, a length over 65535 the
/// frame carries — never true of a single-buffer frame); another option,
/// or more than `MAX_HBH_OPTS`, makes the packet the kernel's. With
/// Payload Length 0 the header is read against the frame; no valid Jumbo
/// Payload option there means it lies outside the payload.
fn parse_hbh(
    frame: &[u8],
    l: L2L3,
    off: usize,
    end: usize,
    payload: usize,
) -> Result<usize, Reason> {
    let limit = if payload != 0 {
        end
    } else {
        l.l2_len + l.l3_len
    };
    let read = |off: usize, n: usize| -> Option<&[u8]> {
        if off + n > limit {
            return None;
        }
        frame.get(off..off + n)
    };
    let h = read(off, 2).ok_or(Reason::DropTruncExt)?;
    let len = (usize::from(h[1]) + 1) * 8;
    let oend = off + len;
    if oend > limit {
        return Err(Reason::DropTruncExt);
    }
    let mut o = off + 2;
    let mut other = false;
    let mut walked = false;
    for _ in 0..MAX_HBH_OPTS {
        if o >= oend {
            walked = true;
            break;
        }
        let t = read(o, 1).ok_or(Reason::DropTruncExt)?[0];
        if t == OPT_PAD1 {
            o += 1;
            continue;
        }
        if o + 2 > oend {
            return Err(Reason::DropTruncExt);
        }
        let olen = usize::from(read(o, 2).ok_or(Reason::DropTruncExt)?[1]);
        if o + 2 + olen > oend {
            return Err(Reason::DropTruncExt);
        }
        if t == OPT_JUMBO {
            if payload != 0 || olen != 4 {
                return Err(Reason::DropBadJumbo);
            }
            let j = read(o + 2, 4).ok_or(Reason::DropBadJumbo)?;
            let jumbo = u32::from_be_bytes([j[0], j[1], j[2], j[3]]) as usize;
            if jumbo < JUMBO_MIN || jumbo > l.l3_len - IP6_HLEN {
                return Err(Reason::DropBadJumbo);
            }
            other = true; // a real jumbogram: the kernel's
        } else if t != OPT_PADN {
            other = true;
        }
        o += 2 + olen;
    }
    if !walked && o < oend {
        other = true; // more options than the walk covers
    }
    if payload == 0 && !other {
        return Err(Reason::DropTruncExt);
    }
    if other {
        return Err(Reason::PassHbhOptions);
    }
    Ok(len)
}

/// Step 2 (`a6_parse_owned`): validates the IPv6 header, walks at most
/// `MAX_EXT_HDRS` extension headers and fills the flow key. Every read is
/// bounded by both the frame and the IPv6 payload length.
pub fn parse_owned(frame: &[u8], l: L2L3) -> Result<Owned, Reason> {
    let ip6 = frame
        .get(l.l2_len..)
        .and_then(Ipv6Header::new_checked)
        .ok_or(Reason::DropTruncIpv6)?;
    let payload = usize::from(ip6.payload_len());
    if ip6.version() != 6 {
        return Err(Reason::DropBadIpv6);
    }
    if payload + IP6_HLEN > l.l3_len {
        return Err(Reason::DropBadIpv6);
    }
    let mut p = Owned::default();
    p.key.src = ip6.src();
    p.key.dst = ip6.dst();

    let mut off = l.l2_len + IP6_HLEN;
    let end = off + payload;
    // Bytes [off, off + n) readable within both the frame and the payload.
    let read = |off: usize, n: usize| -> Option<&[u8]> {
        if off + n > end {
            return None;
        }
        frame.get(off..off + n)
    };
    let mut nh = ip6.next_header();
    let mut reached_upper = false;
    for i in 0..MAX_EXT_HDRS {
        match nh {
            NH_HOPOPTS => {
                // RFC 8200 4.1: only immediately after the IPv6 header.
                if i != 0 {
                    return Err(Reason::DropBadHbh);
                }
                let len = parse_hbh(frame, l, off, end, payload)?;
                nh = frame.get(off).copied().ok_or(Reason::DropTruncExt)?;
                off += len;
            }
            NH_ROUTING | NH_DSTOPTS | NH_AH => {
                let h = read(off, 2).ok_or(Reason::DropTruncExt)?;
                let len = if nh == NH_AH {
                    (usize::from(h[1]) + 2) * 4
                } else {
                    (usize::from(h[1]) + 1) * 8
                };
                if off + len > end {
                    return Err(Reason::DropTruncExt);
                }
                nh = h[0];
                off += len;
            }
            NH_FRAGMENT => {
                let h = read(off, 8).ok_or(Reason::DropTruncExt)?;
                // Hop-by-Hop Options belong before the Fragment header.
                if h[0] == NH_HOPOPTS {
                    return Err(Reason::DropBadHbh);
                }
                // RFC 8200 4.5: every fragment's Next Header names the
                // first header of the fragmentable part; the
                // identification keeps datagrams apart.
                let fo = u16::from_be_bytes([h[2], h[3]]);
                // RFC 8200 4.5: a fragment with M = 1 whose fragmentable
                // part is not a multiple of 8 octets must be discarded.
                if fo & 1 == 1 && !(end - (off + 8)).is_multiple_of(8) {
                    return Err(Reason::DropBadFrag);
                }
                p.is_frag = true;
                p.later_frag = (fo >> 3) != 0;
                p.key.frag = 1;
                p.key.proto = h[0];
                p.key.sport_be = u16::from_ne_bytes([h[4], h[5]]);
                p.key.dport_be = u16::from_ne_bytes([h[6], h[7]]);
                p.l4_proto = h[0];
                p.l4_off = off + 8;
                if !p.later_frag && h[0] == NH_ICMPV6 {
                    if let Some(t) = read(off + 8, 1) {
                        p.icmp_type = t[0];
                    }
                }
                return Ok(p);
            }
            _ => {
                reached_upper = true;
                break;
            }
        }
    }
    if !reached_upper {
        // Valid IPv6 the fast path does not parse: the kernel's.
        return Err(Reason::PassExtChain);
    }

    p.l4_proto = nh;
    p.l4_off = off;
    p.key.proto = nh;
    match nh {
        NH_TCP => {
            let l4 = read(off, 20).ok_or(Reason::DropTruncL4)?;
            p.key.sport_be = u16::from_ne_bytes([l4[0], l4[1]]);
            p.key.dport_be = u16::from_ne_bytes([l4[2], l4[3]]);
            p.tcp_flags = l4[13];
        }
        NH_UDP => {
            let l4 = read(off, 8).ok_or(Reason::DropTruncL4)?;
            p.key.sport_be = u16::from_ne_bytes([l4[0], l4[1]]);
            p.key.dport_be = u16::from_ne_bytes([l4[2], l4[3]]);
        }
        NH_ICMPV6 => {
            let l4 = read(off, 4).ok_or(Reason::DropTruncL4)?;
            p.icmp_type = l4[0];
            // Echo request/reply: the identifier tells pings apart.
            if l4[0] == ICMPV6_ECHO_REQUEST || l4[0] == ICMPV6_ECHO_REPLY {
                let l4 = read(off, 8).ok_or(Reason::DropTruncL4)?;
                p.key.sport_be = u16::from_ne_bytes([l4[4], l4[5]]);
            }
        }
        _ => {}
    }
    Ok(p)
}

/// RFC 1071 Internet checksum over `parts` (one's-complement sum of 16-bit
/// big-endian words, odd tails padded with zero), folded and inverted.
pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u64 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(2);
        for c in &mut chunks {
            sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u64::from(*last) << 8;
        }
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_frames_give_reasons() {
        assert_eq!(parse_l2_l3(&[0; 13]), Err(Reason::DropTruncEth));
        let mut f = vec![0u8; 16];
        f[12] = 0x81;
        assert_eq!(parse_l2_l3(&f), Err(Reason::DropTruncVlan));
        let mut f = vec![0u8; 30];
        f[12] = 0x86;
        f[13] = 0xdd;
        assert_eq!(parse_l2_l3(&f), Err(Reason::DropTruncIpv6));
    }

    #[test]
    fn checksum_of_rfc1071_example() {
        // RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        assert_eq!(
            checksum(&[&[0x00, 0x01, 0xf2, 0x03], &[0xf4, 0xf5, 0xf6, 0xf7]]),
            !0xddf2
        );
    }
}
