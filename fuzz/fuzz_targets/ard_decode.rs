//! The ARD decoder never panics, and whatever it accepts survives
//! encode → decode unchanged (bad records were left out, so the second
//! decode finds none).
#![no_main]
use anycast6_ard::packet::Packet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(d) = Packet::decode(data) else { return };
    let bytes = d.packet.encode();
    let again = Packet::decode(&bytes).expect("an encoded packet decodes");
    assert_eq!(again.packet, d.packet);
    assert!(again.record_errors.is_empty());
    assert_eq!(again.packet.encode(), bytes);
});
