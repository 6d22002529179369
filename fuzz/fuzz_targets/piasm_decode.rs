//! The PIA-SM decoder must never panic, and what it accepts must survive a
//! round trip: encode(decode(x)) decodes to the same message and encodes to
//! the same octets; signed, it decodes to the same message again and
//! verifies. Each input is tried as it is and with its checksum made right
//! (for the fixed addresses), so that the fuzzer reaches the bodies.
#![no_main]
use std::net::Ipv6Addr;

use anycast6_core::auth::Key;
use anycast6_piasm::packet::{checksum, Packet, ALL_PIM_ROUTERS};
use libfuzzer_sys::fuzz_target;

const SRC: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const DST: Ipv6Addr = ALL_PIM_ROUTERS;

fuzz_target!(|data: &[u8]| {
    let key = Key::new(7, "piasm-fixture-secret");
    let _ = Packet::verify(SRC, data, &key);
    round_trip(data, &key);
    if data.len() >= 4 {
        let mut fixed = data.to_vec();
        fixed[2] = 0;
        fixed[3] = 0;
        let c = checksum(SRC, DST, &fixed);
        fixed[2..4].copy_from_slice(&c.to_be_bytes());
        round_trip(&fixed, &key);
    }
});

fn round_trip(data: &[u8], key: &Key) {
    let Ok(p) = Packet::decode(SRC, DST, data) else {
        return;
    };
    let _ = Packet::verify(SRC, data, key);
    let bytes = Packet::encode(&p.message, SRC, DST);
    let again = Packet::decode(SRC, DST, &bytes).expect("re-encoded message decodes");
    assert_eq!(again.message, p.message);
    assert_eq!(again.trailer, None);
    assert_eq!(Packet::encode(&again.message, SRC, DST), bytes);
    let signed = Packet::encode_signed(&p.message, SRC, DST, key, 1);
    let s = Packet::decode(SRC, DST, &signed).expect("signed message decodes");
    assert_eq!(s.message, p.message);
    assert_eq!(s.trailer.map(|t| (t.key_id, t.seq)), Some((7, 1)));
    assert!(Packet::verify(SRC, &signed, key));
}
