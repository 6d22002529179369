//! The FRR 8.4 ospf6d and BIRD 2.0.12 captures under tests/fixtures/aospf/
//! (annotated hex: `#` comments, with `# src` and `# dst` naming the IPv6
//! addresses). [`all`] gives FRR's, [`bird`] BIRD's; [`get`] finds either.

use std::net::Ipv6Addr;

pub struct Fixture {
    pub name: &'static str,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub bytes: Vec<u8>,
}

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../../tests/fixtures/aospf/", $name, ".hex")),
        )
    };
}

const ALL: &[(&str, &str)] = &[
    fixture!("frr-hello-first"),
    fixture!("frr-hello"),
    fixture!("frr-dd-init"),
    fixture!("frr-dd-headers"),
    fixture!("frr-ls-request"),
    fixture!("frr-ls-update"),
    fixture!("frr-ls-update-network"),
    fixture!("frr-ls-ack"),
    fixture!("frr-auth-hello"),
    fixture!("frr-auth-dd"),
    fixture!("frr-auth-ls-update"),
];

const BIRD: &[(&str, &str)] = &[
    fixture!("bird-hello-first"),
    fixture!("bird-hello"),
    fixture!("bird-dd-init"),
    fixture!("bird-dd-headers"),
    fixture!("bird-ls-request"),
    fixture!("bird-ls-update"),
    fixture!("bird-ls-update-network"),
    fixture!("bird-ls-ack"),
    fixture!("bird-auth-hello"),
    fixture!("bird-auth-ls-update"),
];

pub fn parse(name: &'static str, text: &str) -> Fixture {
    let addr = |tag: &str| -> Ipv6Addr {
        text.lines()
            .find_map(|l| l.strip_prefix(tag))
            .unwrap_or_else(|| panic!("{name}: no `{tag}` line"))
            .trim()
            .parse()
            .unwrap()
    };
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap())
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    let bytes = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect();
    Fixture {
        name,
        src: addr("# src "),
        dst: addr("# dst "),
        bytes,
    }
}

pub fn get(name: &str) -> Fixture {
    let (n, text) = ALL
        .iter()
        .chain(BIRD)
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    parse(n, text)
}

/// The FRR captures.
pub fn all() -> Vec<Fixture> {
    ALL.iter().map(|(n, t)| parse(n, t)).collect()
}

/// The BIRD captures.
pub fn bird() -> Vec<Fixture> {
    BIRD.iter().map(|(n, t)| parse(n, t)).collect()
}
