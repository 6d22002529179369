//! Writes RIPng payloads as a pcap (raw IPv6 frames, fe80::1:521 ->
//! ff02::9:521, hop limit 255) for tshark to read, with the shared writer
//! (anycast6_core::pcap).

use std::io::{self, Write};
use std::net::Ipv6Addr;

use anycast6_core::pcap::{self, Udp6};

pub fn frame(payload: &[u8]) -> Vec<u8> {
    let h = Udp6 {
        src: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1),
        dst: crate::packet::GROUP,
        sport: 521,
        dport: 521,
        hop_limit: 255,
    };
    pcap::ipv6_udp(&h, payload)
}

pub fn write(w: &mut impl Write, payloads: &[&[u8]]) -> io::Result<()> {
    let frames: Vec<Vec<u8>> = payloads.iter().map(|p| frame(p)).collect();
    pcap::write(w, pcap::LINKTYPE_IPV6, &frames)
}
