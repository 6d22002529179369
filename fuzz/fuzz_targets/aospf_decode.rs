//! The AOSPF (OSPFv3) decoder must never panic, and what it accepts must
//! survive a round trip: encode(decode(x)) decodes to the same packet and
//! encodes to the same octets. The trailer check, the packet checksum and
//! the LSA checksum check take any octets without panicking too.
#![no_main]
use std::net::Ipv6Addr;

use anycast6_aospf::packet::auth::{verify, KeyPrep};
use anycast6_aospf::packet::lsa::lsa_checksum_ok;
use anycast6_aospf::packet::{checksum, Body, Packet, ALL_SPF_ROUTERS};
use anycast6_core::auth::{Key, Keyring};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::decode(data) {
        let bytes = p.encode_with_trailer();
        let again = Packet::decode(&bytes).expect("re-encoded packet decodes");
        assert_eq!(again, p);
        assert_eq!(again.encode_with_trailer(), bytes);
        if let Body::LsUpdate(lsas) = &p.body {
            for l in lsas {
                let _ = l.checksum_ok();
            }
        }
    }
    let src = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    let ring = Keyring::new(vec![Key::new(1, "fuzz")]);
    for prep in [KeyPrep::Rfc7166, KeyPrep::FrrLegacy] {
        let _ = verify(data, src, &ring, prep);
    }
    let _ = checksum(src, ALL_SPF_ROUTERS, data);
    let _ = lsa_checksum_ok(data);
});
