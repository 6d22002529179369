//! Classic pcap files of IPv6/UDP datagrams, for the dissector tests that
//! check with tshark what the protocol encoders emit. It lives in this
//! crate, the lowest one every protocol crate depends on, so that each
//! protocol's test builds the same, correctly checksummed frames (ARD's and
//! ARIP's tests in control/ carry older copies that can move here).

use std::io::{self, Write};
use std::net::Ipv6Addr;

pub const LINKTYPE_ETHERNET: u32 = 1;
/// Raw IPv6 packets, no link header.
pub const LINKTYPE_IPV6: u32 = 229;

/// The IPv6 and UDP header fields of one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp6 {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub sport: u16,
    pub dport: u16,
    pub hop_limit: u8,
}

/// UDP checksum over the IPv6 pseudo-header (RFC 8200 §8.1) and `udp`
/// (header with a zero checksum field, then payload).
pub fn udp_checksum(src: Ipv6Addr, dst: Ipv6Addr, udp: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(udp.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 17]);
    add(udp);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // 0 means "no checksum" in UDP; IPv6 forbids it, so send all ones.
    match !(sum as u16) {
        0 => 0xffff,
        c => c,
    }
}

/// An IPv6 packet carrying `payload` in UDP with a correct checksum.
pub fn ipv6_udp(h: &Udp6, payload: &[u8]) -> Vec<u8> {
    let udp_len = (8 + payload.len()) as u16;
    let mut udp = Vec::with_capacity(usize::from(udp_len));
    udp.extend_from_slice(&h.sport.to_be_bytes());
    udp.extend_from_slice(&h.dport.to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let ck = udp_checksum(h.src, h.dst, &udp);
    udp[6..8].copy_from_slice(&ck.to_be_bytes());
    let mut p = Vec::with_capacity(40 + udp.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&[17, h.hop_limit]);
    p.extend_from_slice(&h.src.octets());
    p.extend_from_slice(&h.dst.octets());
    p.extend_from_slice(&udp);
    p
}

/// `packet` (IPv6) in an Ethernet frame.
pub fn ethernet(dst_mac: [u8; 6], src_mac: [u8; 6], packet: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + packet.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&0x86ddu16.to_be_bytes());
    f.extend_from_slice(packet);
    f
}

/// Writes a classic pcap (microsecond timestamps, one millisecond apart).
pub fn write(w: &mut impl Write, linktype: u32, frames: &[Vec<u8>]) -> io::Result<()> {
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&4u16.to_le_bytes())?;
    w.write_all(&0i32.to_le_bytes())?;
    w.write_all(&0u32.to_le_bytes())?;
    w.write_all(&65535u32.to_le_bytes())?;
    w.write_all(&linktype.to_le_bytes())?;
    for (i, f) in frames.iter().enumerate() {
        w.write_all(&1_700_000_000u32.to_le_bytes())?;
        w.write_all(&(i as u32 * 1000).to_le_bytes())?;
        w.write_all(&(f.len() as u32).to_le_bytes())?;
        w.write_all(&(f.len() as u32).to_le_bytes())?;
        w.write_all(f)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_verifies_to_zero() {
        let h = Udp6 {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            sport: 40000,
            dport: 5360,
            hop_limit: 64,
        };
        let p = ipv6_udp(&h, b"odd");
        // Summing the checked datagram, checksum included, gives all ones.
        let ck = udp_checksum(h.src, h.dst, &p[40..]);
        assert_eq!(ck, 0xffff);
    }
}
