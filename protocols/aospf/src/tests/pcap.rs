//! OSPFv3 payloads as raw IPv6 frames (next header 89, hop limit 1) in a
//! pcap, written with the shared writer (anycast6_core::pcap), with the
//! packet checksum filled in as the kernel would.

use std::io::{self, Write};
use std::net::Ipv6Addr;

use anycast6_core::pcap;

use crate::packet::{checksum, CHECKSUM_OFFSET, PROTOCOL};

pub fn frame(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let mut payload = payload.to_vec();
    let ck = checksum(src, dst, &payload);
    payload[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 2].copy_from_slice(&ck.to_be_bytes());
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[PROTOCOL, 1]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&payload);
    p
}

pub fn write(w: &mut impl Write, frames: &[Vec<u8>]) -> io::Result<()> {
    pcap::write(w, pcap::LINKTYPE_IPV6, frames)
}
