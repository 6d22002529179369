//! Shared by the integration tests: the fixtures' key and addresses, and
//! the annotated-hex reader.
#![allow(dead_code)]

use std::net::Ipv6Addr;
use std::path::PathBuf;

use anycast6_aarp::auth::{Key, Keyring};

pub const NONCE: u64 = 0x0123_4567_89ab_cdef;
pub const SEQ: u64 = 0x0000_0186_a0b1_c2d3;

pub fn ip(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// The anycast address, its member and the client of the fixtures.
pub fn anycast() -> Ipv6Addr {
    ip("2001:db8:a::1")
}
pub fn member() -> Ipv6Addr {
    ip("2001:db8:1::10")
}
pub fn client() -> Ipv6Addr {
    ip("2001:db8:c::5")
}

/// The key every signed fixture uses.
pub fn key() -> Key {
    Key::new(7, b"aarp-fixture-key".to_vec())
}

pub fn keyring() -> Keyring {
    Keyring::new(vec![key()])
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Reads tests/fixtures/aarp/`name`: `#` to end of line is a comment,
/// whitespace is ignored.
pub fn load_hex(name: &str) -> Vec<u8> {
    let path = root().join("tests/fixtures/aarp").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap())
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    assert!(
        digits.len().is_multiple_of(2),
        "{name}: odd number of hex digits"
    );
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digit"))
        .collect()
}
