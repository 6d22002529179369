//! The AARP decoder never panics, and whatever it accepts survives
//! encode → decode unchanged (reserved bits are dropped on the way, so the
//! re-encoded bytes are a fixed point).
#![no_main]
use anycast6_aarp::packet::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = decode(data) else { return };
    assert_eq!(m.len(), data.len());
    let bytes = m.encode();
    let again = decode(&bytes).expect("an encoded message decodes");
    assert_eq!(again, m);
    assert_eq!(again.encode(), bytes);
});
