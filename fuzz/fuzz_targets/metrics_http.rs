//! The metrics listener's request-head handling must never panic: any
//! bytes give a head end inside them (or none) and an answer.
#![no_main]
use anycast6_control::metrics::http::{head_end, route, MAX_HEAD};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(2 * MAX_HEAD)];
    if let Some(end) = head_end(data) {
        assert!(end <= data.len());
        let _ = route(&data[..end]);
    }
    let _ = route(data);
});
