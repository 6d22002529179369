//! The config decoder must never panic: any text gives a Config or errors
//! that each carry a line and column inside the text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(errors) = anycast6_control::config::parse("fuzz.toml", text) {
        let shown = errors.to_string();
        assert!(shown.contains("fuzz.toml:"), "error without a position: {shown}");
    }
});
