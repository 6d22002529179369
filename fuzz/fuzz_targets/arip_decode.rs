//! The ARIP decoder must never panic, and what it accepts must survive a
//! round trip: encode(decode(x)) decodes to the same packet, with no
//! entry errors left (refused entries are not re-encoded). The same bytes
//! then go through a core's packet handler, which must not panic either.
#![no_main]
use std::net::Ipv6Addr;

use anycast6_arip::packet::{Packet, PORT};
use anycast6_arip::{Config, Instance, InterfaceConfig};
use anycast6_core::Instant;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::decode(data) {
        let bytes = p.encode();
        let again = Packet::decode(&bytes).expect("re-encoded packet decodes");
        assert!(again.errors.is_empty(), "{:?}", again.errors);
        assert_eq!(
            again,
            Packet {
                errors: Vec::new(),
                ..p
            }
        );
        assert_eq!(again.encode(), bytes);
    }
    let mut core = Instance::new(Config::default(), Instant::ZERO).expect("default config");
    let me: Ipv6Addr = "fe80::1".parse().unwrap();
    let peer: Ipv6Addr = "fe80::2".parse().unwrap();
    core.interface_up(Instant::ZERO, InterfaceConfig::new(1, "fuzz0", me))
        .unwrap();
    core.handle_packet(Instant::ZERO, 1, peer, PORT, 255, data);
    while core.poll_output().is_some() {}
    core.handle_timeout(Instant::from_micros(u64::MAX / 2));
    while core.poll_output().is_some() {}
});
