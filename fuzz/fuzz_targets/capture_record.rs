//! The capture ring buffer record decoder (docs/capture.md section 3) must
//! never panic, and what it accepts must survive a round trip:
//! decode(encode(decode(x))) == decode(x). What anycast6ctl makes of an
//! accepted record (the line, the JSON object, the pcapng comment and
//! packet block) must not panic either: a record's frame is whatever
//! arrived on the wire.
#![no_main]
use anycast6_control::ctl::capture::{self, pcapng};
use anycast6_dataplane::abi::{cap, CapRecHeader};
use anycast6_dataplane::capture::decode_record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(r) = decode_record(data) else {
        return;
    };
    let h = CapRecHeader {
        ts_ns: r.ts_ns,
        session: r.session,
        ifindex: r.ifindex,
        wire_len: r.wire_len,
        pkt_len: r.pkt_len,
        cap_len: r.frame.len() as u32,
        member_id: r.member_id.unwrap_or(cap::NO_MEMBER),
        egress_ifindex: r.egress_ifindex,
        rx_queue: r.rx_queue,
        reason: r.reason as u16,
        verdict: r.verdict,
        _pad: 0,
    };
    let again = anycast6_dataplane::capture::encode_record(&h, r.frame);
    assert_eq!(decode_record(&again).as_ref(), Ok(&r), "round trip");
    let _ = capture::summarize(r.frame);
    let _ = capture::line(&r, r.ts_ns, "if0", Some("if1"));
    let _ = capture::json_of(&r, r.ts_ns, "if0", None);
    let c = capture::comment(&r, Some("if1"));
    let b = pcapng::enhanced_packet(0, r.ts_ns, r.frame, r.pkt_len, &c);
    assert_eq!(b.len() % 4, 0, "pcapng blocks are 32-bit aligned");
});
