//! Writes RIPng payloads as a pcap (raw IPv6 frames, fe80::1:521 ->
//! ff02::9:521, hop limit 255) for tshark to read.

use std::io::{self, Write};
use std::net::Ipv6Addr;

const LINKTYPE_RAW: u32 = 101;

pub fn frame(payload: &[u8]) -> Vec<u8> {
    let src: Ipv6Addr = "fe80::1".parse().unwrap();
    let dst = crate::arip::packet::GROUP;
    let udp_len = (8 + payload.len()) as u16;
    let mut f = Vec::with_capacity(48 + payload.len());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.push(17);
    f.push(255);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    let mut udp = Vec::with_capacity(udp_len as usize);
    udp.extend_from_slice(&521u16.to_be_bytes());
    udp.extend_from_slice(&521u16.to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    // Checksum over the IPv6 pseudo-header (RFC 8200 §8.1).
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&u32::from(udp_len).to_be_bytes());
    add(&[0, 0, 0, 17]);
    add(&udp);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = match !(sum as u16) {
        0 => 0xffff,
        c => c,
    };
    udp[6..8].copy_from_slice(&ck.to_be_bytes());
    f.extend_from_slice(&udp);
    f
}

pub fn write(w: &mut impl Write, payloads: &[&[u8]]) -> io::Result<()> {
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&4u16.to_le_bytes())?;
    w.write_all(&0i32.to_le_bytes())?;
    w.write_all(&0u32.to_le_bytes())?;
    w.write_all(&65535u32.to_le_bytes())?;
    w.write_all(&LINKTYPE_RAW.to_le_bytes())?;
    for (i, p) in payloads.iter().enumerate() {
        let f = frame(p);
        w.write_all(&(i as u32).to_le_bytes())?;
        w.write_all(&0u32.to_le_bytes())?;
        w.write_all(&(f.len() as u32).to_le_bytes())?;
        w.write_all(&(f.len() as u32).to_le_bytes())?;
        w.write_all(&f)?;
    }
    Ok(())
}
