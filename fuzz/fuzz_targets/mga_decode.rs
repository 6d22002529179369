//! The MGA decoders (Mobility Header and DHAAD) must never panic, and what
//! they accept must survive a round trip: encode(decode(x)) decodes to the
//! same message and encodes to the same octets; sealed, it verifies. Each
//! input is tried as it is and with Header Len and checksum made right
//! (for the fixed addresses), so that the fuzzer reaches the options.
#![no_main]
use std::net::Ipv6Addr;

use anycast6_core::auth::Key;
use anycast6_mga::auth::{seal, verify, Keyring};
use anycast6_mga::packet::{checksum, Dhaad, Message, PROTO_ICMPV6, PROTO_MH};
use libfuzzer_sys::fuzz_target;

const SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 1);
const DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);

fuzz_target!(|data: &[u8]| {
    let keys = Keyring::new(vec![(256, Key::new(0, "mga-fixture-secret"))]);
    round_trip(data, &keys);
    if data.len() >= 8 {
        let mut fixed = data[..data.len() / 8 * 8].to_vec();
        fixed[1] = (fixed.len() / 8 - 1) as u8;
        let c = checksum(SRC, DST, PROTO_MH, &fixed, 4);
        fixed[4..6].copy_from_slice(&c.to_be_bytes());
        round_trip(&fixed, &keys);
    }
    if data.len() >= 4 {
        let mut fixed = data.to_vec();
        let c = checksum(SRC, DST, PROTO_ICMPV6, &fixed, 2);
        fixed[2..4].copy_from_slice(&c.to_be_bytes());
        dhaad(&fixed);
    }
    dhaad(data);
});

fn round_trip(data: &[u8], keys: &Keyring) {
    let Ok(m) = Message::decode(SRC, DST, data) else {
        return;
    };
    let _ = verify(keys, 1, SRC, DST, data, &m);
    let bytes = m.encode(SRC, DST);
    let again = Message::decode(SRC, DST, &bytes).expect("re-encoded message decodes");
    assert_eq!(again, m);
    assert_eq!(again.encode(SRC, DST), bytes);
    let mut sealed = m.clone();
    let (spi, key) = keys.send_key().unwrap();
    seal(key, spi, 2, SRC, DST, &mut sealed);
    let b = sealed.encode(SRC, DST);
    let s = Message::decode(SRC, DST, &b).expect("sealed message decodes");
    assert_eq!(s, sealed);
    assert!(verify(keys, 2, SRC, DST, &b, &s).is_ok());
}

fn dhaad(data: &[u8]) {
    let Ok(d) = Dhaad::decode(SRC, DST, data) else {
        return;
    };
    let bytes = d.encode(SRC, DST);
    assert_eq!(Dhaad::decode(SRC, DST, &bytes), Ok(d));
}
