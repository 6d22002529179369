//! `[piasm]`: defaults, every key, and one check per error with its
//! position (tests.rs's style; a file of its own so neither grows past
//! reading).

use std::net::Ipv6Addr;
use std::time::Duration;

use super::*;
use crate::proto::auth::Key;

fn errors(text: &str) -> Vec<String> {
    match parse("a6.toml", text) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

fn piasm_cfg(text: &str) -> PiasmConfig {
    match parse("a6.toml", text) {
        Ok(c) => c.piasm.expect("[piasm] given"),
        Err(e) => panic!("{e}"),
    }
}

fn ip(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// Lines 1–7; what a test appends goes into the `[[piasm.anycast]]`.
const ONE: &str = "[piasm]\nrouter_address = \"2001:db8:ff::1\"\n\
                   [[piasm.interface]]\nname = \"eth0\"\n\
                   [[piasm.anycast]]\naddress = \"2001:db8:ac::1\"\ncore = \"2001:db8:c0::1\"\n";

/// `ONE` with `key = value` lines added to its `[[piasm.anycast]]` (from
/// line 8 on).
fn one_with(lines: &str) -> Vec<String> {
    errors(&format!("{ONE}{lines}"))
}

#[test]
fn defaults_are_the_cores() {
    let c = piasm_cfg(ONE);
    let d = crate::piasm::Config::new(c.router_address);
    assert_eq!(c.router_address, ip("2001:db8:ff::1"));
    assert_eq!(
        (c.hello_interval, c.join_interval, c.max_branches),
        (d.hello_interval, d.join_interval, d.max_branches)
    );
    assert_eq!(
        (c.hello_interval, c.join_interval, c.max_branches),
        (Duration::from_secs(30), Duration::from_secs(60), 1024),
        "docs/piasm.md §10"
    );
    assert!(c.keys.is_empty());
    let i = crate::piasm::InterfaceConfig::new(0, "", Ipv6Addr::UNSPECIFIED);
    assert_eq!(
        c.interfaces,
        [PiasmInterface {
            name: "eth0".into(),
            dr_priority: i.dr_priority,
            keys: vec![],
        }]
    );
    assert_eq!(c.interfaces[0].dr_priority, 1);
    assert_eq!(
        c.anycast,
        [PiasmAnycast {
            address: ip("2001:db8:ac::1"),
            core: ip("2001:db8:c0::1"),
            core_here: false,
            peers: vec![],
            shortcut: false,
        }]
    );
    assert_eq!(parse("a6.toml", "").unwrap().piasm, None);
}

/// The example of docs/config.md, every key set.
const EXAMPLE: &str = r#"
[piasm]
router_address = "2001:db8:ff::1"
hello_interval_s = 10
join_interval_s = 20
max_branches = 4096
keys = [{ id = 1, secret = "unicast-key-of-16-bytes" }]

[[piasm.interface]]
name = "eth0"
dr_priority = 10
keys = [{ id = 7, secret = "link-key-of-16-bytes" }]

[[piasm.interface]]
name = "eth1"

# This router is one of two cores of 2001:db8:ac::1; the other is
# 2001:db8:ff::2. Both own the core address 2001:db8:c0::1.
[[piasm.anycast]]
address = "2001:db8:ac::1"
core = "2001:db8:c0::1"
core_here = true
peers = ["2001:db8:ff::2"]

# Only a first-hop or ingress router for this one: near senders, it takes
# the shortcut.
[[piasm.anycast]]
address = "2001:db8:ac::2"
core = "2001:db8:c0::2"
shortcut = true
"#;

#[test]
fn every_key() {
    let c = piasm_cfg(EXAMPLE);
    assert_eq!(
        c,
        PiasmConfig {
            router_address: ip("2001:db8:ff::1"),
            hello_interval: Duration::from_secs(10),
            join_interval: Duration::from_secs(20),
            max_branches: 4096,
            keys: vec![Key::new(1, "unicast-key-of-16-bytes")],
            interfaces: vec![
                PiasmInterface {
                    name: "eth0".into(),
                    dr_priority: 10,
                    keys: vec![Key::new(7, "link-key-of-16-bytes")],
                },
                PiasmInterface {
                    name: "eth1".into(),
                    dr_priority: 1,
                    keys: vec![],
                },
            ],
            anycast: vec![
                PiasmAnycast {
                    address: ip("2001:db8:ac::1"),
                    core: ip("2001:db8:c0::1"),
                    core_here: true,
                    peers: vec![ip("2001:db8:ff::2")],
                    shortcut: false,
                },
                PiasmAnycast {
                    address: ip("2001:db8:ac::2"),
                    core: ip("2001:db8:c0::2"),
                    core_here: false,
                    peers: vec![],
                    shortcut: true,
                },
            ],
        }
    );
}

#[test]
fn the_documented_example_is_this_one() {
    let doc = include_str!("../../../docs/config.md");
    let start = doc
        .find("```toml\n[piasm]\n")
        .expect("docs/config.md has a [piasm] example")
        + "```toml\n".len();
    let len = doc[start..].find("```").expect("the example ends");
    assert_eq!(&doc[start..start + len], EXAMPLE.trim_start());
}

#[test]
fn what_is_allowed_at_the_edges() {
    // Bounds of every range.
    let c = piasm_cfg(&ONE.replace(
        "[[piasm.interface]]\nname = \"eth0\"\n",
        "hello_interval_s = 18000\njoin_interval_s = 1\nmax_branches = 65535\n\
         [[piasm.interface]]\nname = \"eth0\"\ndr_priority = 4294967295\n\
         [[piasm.interface]]\nname = \"eth1\"\ndr_priority = 0\n",
    ));
    assert_eq!(
        (c.hello_interval, c.join_interval, c.max_branches),
        (Duration::from_secs(18000), Duration::from_secs(1), 65535)
    );
    assert_eq!(
        (c.interfaces[0].dr_priority, c.interfaces[1].dr_priority),
        (u32::MAX, 0)
    );
    // A single core may use its router address as the core address.
    let c = piasm_cfg(&format!(
        "{}core_here = true\n",
        ONE.replace("2001:db8:c0::1", "2001:db8:ff::1")
    ));
    assert!(c.anycast[0].core_here && c.anycast[0].core == c.router_address);
    // Two addresses on one core, a unique local router address, an empty
    // peer list.
    let c = piasm_cfg(&format!(
        "{}core_here = true\npeers = []\n[[piasm.anycast]]\naddress = \"2001:db8:ac::2\"\n\
         core = \"2001:db8:c0::1\"\ncore_here = true\n",
        ONE.replace("2001:db8:ff::1", "fd00::1")
    ));
    assert_eq!(c.router_address, ip("fd00::1"));
    assert_eq!(c.anycast.len(), 2);
}

#[test]
fn section_errors_point_at_the_value() {
    let with = |lines: &str| {
        errors(&ONE.replace(
            "[[piasm.interface]]",
            &format!("{lines}[[piasm.interface]]"),
        ))
    };
    assert_eq!(
        with("hello_interval_s = 0\njoin_interval_s = 18001\nmax_branches = 0\n"),
        [
            "a6.toml:3:20: hello_interval_s 0 is out of range 1..=18000",
            "a6.toml:4:19: join_interval_s 18001 is out of range 1..=18000",
            "a6.toml:5:16: max_branches 0 is out of range 1..=65535",
        ]
    );
    assert_eq!(
        with("max_branches = 65536\n"),
        ["a6.toml:3:16: max_branches 65536 is out of range 1..=65535"]
    );
    assert_eq!(
        with("keys = [{ id = 1, secret = \"short\" }, { id = 70000, secret = \"long-enough-secret\" }]\n"),
        [
            "a6.toml:3:28: key secret is shorter than 16 bytes (too easy to guess)",
            "a6.toml:3:46: key id 70000 is out of range 0..=65535",
        ]
    );
    assert_eq!(
        with(
            "keys = [{ id = 1, secret = \"long-enough-secret\" }, \
             { id = 1, secret = \"another-long-secret\" }]\n"
        ),
        ["a6.toml:3:59: key id 1 is listed twice"]
    );
}

#[test]
fn router_address_must_be_global_unicast() {
    for (given, why) in [
        ("2001:db8::zz", "router_address: \"2001:db8::zz\" is not an IPv6 address"),
        (
            "::",
            "router_address ::: the unspecified address :: is not a unicast address",
        ),
        (
            "ff02::d",
            "router_address ff02::d: a multicast address (ff00::/8) is not a unicast address",
        ),
        (
            "::1",
            "router_address ::1: the loopback address ::1 is not a global unicast address",
        ),
        (
            "fe80::1",
            "router_address fe80::1: a link-local address (fe80::/10) is not a global unicast address",
        ),
        (
            "::ffff:192.0.2.1",
            "router_address ::ffff:192.0.2.1: an IPv4-mapped address (::ffff:0:0/96) is not a \
             global unicast address",
        ),
    ] {
        assert_eq!(
            errors(&ONE.replace("2001:db8:ff::1", given)),
            [format!("a6.toml:2:18: {why}")],
            "{given}"
        );
    }
}

#[test]
fn a_section_needs_its_entries() {
    assert_eq!(
        errors("[piasm]\nrouter_address = \"2001:db8:ff::1\"\n"),
        [
            "a6.toml:2:18: [piasm] has no interface: add [[piasm.interface]] entries",
            "a6.toml:2:18: [piasm] has no anycast address: add [[piasm.anycast]] entries",
        ]
    );
    let e = errors("[piasm]\n[[piasm.interface]]\nname = \"eth0\"\n");
    assert!(
        e.len() == 1 && e[0].starts_with("a6.toml:1:1:") && e[0].contains("router_address"),
        "{e:?}"
    );
    // The entries without the section: router_address is still missing
    // (said so, not a type error of the implicit table).
    assert_eq!(
        errors("[[piasm.interface]]\nname = \"eth0\"\n"),
        ["a6.toml:1:3: missing field `router_address`"]
    );
    let e = errors(&ONE.replace("core = \"2001:db8:c0::1\"\n", ""));
    assert!(
        e.len() == 1 && e[0].starts_with("a6.toml:5:1:") && e[0].contains("missing field `core`"),
        "{e:?}"
    );
    let e = errors(&ONE.replace("name = \"eth0\"\n", ""));
    assert!(
        e.len() == 1 && e[0].starts_with("a6.toml:3:1:") && e[0].contains("missing field `name`"),
        "{e:?}"
    );
}

#[test]
fn interface_errors_point_at_the_value() {
    let with = |lines: &str| {
        errors(&ONE.replace("name = \"eth0\"\n", &format!("name = \"eth0\"\n{lines}")))
    };
    assert_eq!(
        with("dr_priority = -1\n"),
        ["a6.toml:5:15: dr_priority -1 is out of range 0..=4294967295"]
    );
    assert_eq!(
        with("dr_priority = 4294967296\n"),
        ["a6.toml:5:15: dr_priority 4294967296 is out of range 0..=4294967295"]
    );
    assert_eq!(
        with("keys = [{ id = 1, secret = \"short\" }]\n"),
        ["a6.toml:5:28: key secret is shorter than 16 bytes (too easy to guess)"]
    );
    assert_eq!(
        with("[[piasm.interface]]\nname = \"eth1\"\n[[piasm.interface]]\nname = \"eth0\"\n"),
        ["a6.toml:8:8: interface \"eth0\" is listed twice (first at line 3)"]
    );
    assert_eq!(
        errors(&ONE.replace("\"eth0\"", "\"a/b\"")),
        ["a6.toml:4:8: \"a/b\" is not a valid interface name (1..=15 bytes, no '/', ':' or spaces)"]
    );
}

#[test]
fn anycast_address_as_a_group_address() {
    for (given, why) in [
        (
            "2001:db8:ac::zz",
            "address: \"2001:db8:ac::zz\" is not an IPv6 address",
        ),
        ("::1", "address ::1 cannot be an anycast address"),
        ("ff0e::1", "address ff0e::1 cannot be an anycast address"),
        ("::", "address :: cannot be an anycast address"),
    ] {
        assert_eq!(
            errors(&ONE.replace("2001:db8:ac::1", given)),
            [format!("a6.toml:6:11: {why}")],
            "{given}"
        );
    }
    // The [[group]] check is the same one.
    assert_eq!(
        errors("[[group]]\naddress = \"::1\"\n"),
        ["a6.toml:2:11: group address ::1 cannot be an anycast address"]
    );
    assert_eq!(
        one_with("[[piasm.anycast]]\naddress = \"2001:db8:ac::1\"\ncore = \"2001:db8:c0::9\"\n"),
        ["a6.toml:9:11: anycast 2001:db8:ac::1 is listed twice (first at line 5)"]
    );
    assert_eq!(
        errors(&ONE.replace("2001:db8:ac::1", "2001:db8:ff::1")),
        [
            "a6.toml:6:11: address 2001:db8:ff::1 is [piasm] router_address: an anycast address \
             is not one router's own"
        ]
    );
}

#[test]
fn core_errors_point_at_the_core() {
    assert_eq!(
        errors(&ONE.replace("2001:db8:c0::1", "fe80::c")),
        ["a6.toml:7:8: core fe80::c: a link-local address (fe80::/10) is not a global unicast address"]
    );
    assert_eq!(
        errors(&ONE.replace("2001:db8:c0::1", "2001:db8:ac::1")),
        ["a6.toml:7:8: core 2001:db8:ac::1 is the anycast address itself: joins need a core address of their own"]
    );
    assert_eq!(
        one_with("[[piasm.anycast]]\naddress = \"2001:db8:ac::2\"\ncore = \"2001:db8:ac::1\"\n"),
        [
            "a6.toml:10:8: core 2001:db8:ac::1 is the anycast address of the [[piasm.anycast]] at \
             line 5: a core address is a unicast address of the cores"
        ]
    );
    assert_eq!(
        errors(&ONE.replace("2001:db8:c0::1", "2001:db8:ff::1")),
        [
            "a6.toml:7:8: core 2001:db8:ff::1 is [piasm] router_address, but core_here is false: \
             this router owns that address, so set core_here = true or name the core's address"
        ]
    );
    assert_eq!(
        errors(&format!(
            "{}core_here = true\npeers = [\"2001:db8:ff::2\"]\n",
            ONE.replace("2001:db8:c0::1", "2001:db8:ff::1")
        )),
        [
            "a6.toml:7:8: core 2001:db8:ff::1 is [piasm] router_address, but the peers share the \
             core address: a router address is one router's alone"
        ]
    );
    assert_eq!(
        one_with(
            "core_here = true\n[[piasm.anycast]]\naddress = \"2001:db8:ac::2\"\n\
             core = \"2001:db8:c0::1\"\ncore_here = false\n"
        ),
        [
            "a6.toml:12:13: core_here = false contradicts core_here = true for the same core \
             2001:db8:c0::1 at line 5 (a router owns a core address or not)"
        ]
    );
    // Unwritten, it is false: the error is at the core.
    assert_eq!(
        one_with(
            "core_here = true\n[[piasm.anycast]]\naddress = \"2001:db8:ac::2\"\n\
             core = \"2001:db8:c0::1\"\n"
        ),
        [
            "a6.toml:11:8: core_here = false contradicts core_here = true for the same core \
             2001:db8:c0::1 at line 5 (a router owns a core address or not)"
        ]
    );
}

#[test]
fn peer_errors_point_at_the_peer() {
    assert_eq!(
        one_with("peers = [\"2001:db8:ff::2\"]\n"),
        ["a6.toml:8:9: peers are the other cores of this address: only with core_here = true"]
    );
    let core = |peers: &str| one_with(&format!("core_here = true\npeers = [{peers}]\n"));
    assert_eq!(
        core("\"2001:db8:ff::1\""),
        ["a6.toml:9:10: peer 2001:db8:ff::1 is [piasm] router_address: peers are the other cores"]
    );
    assert_eq!(
        core("\"2001:db8:c0::1\""),
        [
            "a6.toml:9:10: peer 2001:db8:c0::1 is the core address: peers are the other cores' \
             router addresses"
        ]
    );
    assert_eq!(
        core("\"2001:db8:ff::2\", \"2001:db8:ff::2\""),
        ["a6.toml:9:28: peer 2001:db8:ff::2 is listed twice"]
    );
    assert_eq!(
        core("\"fe80::2\", \"x\""),
        [
            "a6.toml:9:10: peer fe80::2: a link-local address (fe80::/10) is not a global unicast address",
            "a6.toml:9:21: peer: \"x\" is not an IPv6 address",
        ]
    );
    assert_eq!(
        one_with(
            "core_here = true\npeers = [\"2001:db8:ac::2\"]\n[[piasm.anycast]]\n\
             address = \"2001:db8:ac::2\"\ncore = \"2001:db8:c0::2\"\n"
        ),
        [
            "a6.toml:9:10: peer 2001:db8:ac::2 is the anycast address of the [[piasm.anycast]] at \
             line 10: peers are the other cores' router addresses"
        ]
    );
}

#[test]
fn shortcut_not_at_a_core() {
    assert_eq!(
        one_with("core_here = true\nshortcut = true\n"),
        [
            "a6.toml:9:12: shortcut is for ingress routers, not with core_here = true (a core has \
             the branches itself)"
        ]
    );
    assert!(one_with("core_here = true\nshortcut = false\n").is_empty());
}

#[test]
fn piasm_unknown_fields_point_at_the_key() {
    for (text, at, field) in [
        (
            ONE.replace(
                "[[piasm.interface]]",
                "hello_interval = 5\n[[piasm.interface]]",
            ),
            "a6.toml:3:1:",
            "hello_interval",
        ),
        (
            ONE.replace("name = \"eth0\"", "name = \"eth0\"\npriority = 5"),
            "a6.toml:5:1:",
            "priority",
        ),
        (format!("{ONE}is_core = true\n"), "a6.toml:8:1:", "is_core"),
        (format!("{ONE}peer = []\n"), "a6.toml:8:1:", "peer"),
    ] {
        let e = errors(&text);
        assert!(
            e.len() == 1
                && e[0].starts_with(at)
                && e[0].contains(&format!("unknown field `{field}`")),
            "{text}: {e:?}"
        );
    }
    let e = errors(&format!("{ONE}core_here = \"yes\"\n"));
    assert!(
        e.len() == 1 && e[0].starts_with("a6.toml:8:13:") && e[0].contains("invalid type"),
        "{e:?}"
    );
}
