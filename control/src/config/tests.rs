use super::*;

fn errors(text: &str) -> Vec<String> {
    match parse("a6.toml", text) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

const IFACES: &str = r#"
[[interface]]
name = "eth0"
[[interface]]
name = "eth1"
xdp_mode = "native"
"#;

#[test]
fn full_example_parses() {
    let text = r#"
[daemon]
socket = "/run/anycast6/anycast6d.sock"
pin_dir = "/sys/fs/bpf/anycast6/v1"
router_address = "2001:db8::1"
hash_seed = 0x5eed1234
ptb_per_sec = 100
[capacities]
fib_entries = 65536
[[interface]]
name = "eth0"
xdp_mode = "native"
[[interface]]
name = "eth1"
[[group]]
address = "2001:db8:ac::1"
[[group.member]]
address = "2001:db8:1::10"
interface = "eth1"
next_hop = "fe80::1"
distance = 1
weight = 100
action = "rewrite"
state = "active"
[[group.member]]
address = "2001:db8:2::10"
action = "encap"
distance = 2
[[group]]
prefix = "2001:db8:ad::/64"
[member]
addresses = ["2001:db8:ac::1"]
decap_interfaces = ["eth2"]
"#;
    let cfg = parse("a6.toml", text).unwrap();
    assert_eq!(cfg.daemon.hash_seed, 0x5eed1234);
    assert_eq!(cfg.groups.len(), 2);
    assert_eq!(cfg.member_count(), 2);
    assert_eq!(cfg.interfaces[0].xdp_mode, AttachMode::Native);
    assert_eq!(cfg.interfaces[1].xdp_mode, AttachMode::NativeOrGeneric);
    assert_eq!(
        cfg.groups[1].route,
        parse_route("2001:db8:ad::/64").unwrap()
    );
    let m = &cfg.groups[0].members[1];
    assert_eq!(
        (m.action, m.distance, m.weight, m.interface.as_deref()),
        (Action::Encap, 2, 100, None)
    );
    assert_eq!(
        cfg.member_role.as_ref().unwrap().decap_interfaces[0].name,
        "eth2"
    );
}

#[test]
fn empty_file_is_valid_with_defaults() {
    let cfg = parse("a6.toml", "").unwrap();
    assert_eq!(cfg.daemon, DaemonConfig::default());
    assert!(cfg.groups.is_empty());
}

#[test]
fn unknown_key_points_at_the_key() {
    let e = errors("[daemon]\nsocket = \"/x\"\nsockt = \"/y\"\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("a6.toml:3:1: unknown field `sockt`"),
        "{e:?}"
    );
}

#[test]
fn bad_address_points_at_the_value() {
    let text = format!("{IFACES}[[group]]\naddress = \"2001:db8:ac::1\"\n[[group.member]]\naddress = \"2001:db8::zz\"\ninterface = \"eth0\"\n");
    let e = errors(&text);
    assert_eq!(
        e,
        vec!["a6.toml:10:11: member address: \"2001:db8::zz\" is not an IPv6 address"]
    );
}

#[test]
fn duplicate_group_names_the_first() {
    let text =
        "[[group]]\naddress = \"2001:db8:ac::1\"\n[[group]]\naddress = \"2001:db8:ac:0::1\"\n";
    let e = errors(text);
    assert_eq!(
        e,
        vec!["a6.toml:4:11: anycast 2001:db8:ac::1 is already in a group (line 2)"]
    );
    // The same across `addresses` lists, and inside one.
    let text = "[[group]]\naddresses = [\"2001:db8:ac::1\", \"2001:db8:ac::2\"]\n\
                [[group]]\naddresses = [\"2001:db8:ac::3\",\n  \"2001:db8:ac::2\", \"2001:db8:ac::3\"]\n";
    assert_eq!(
        errors(text),
        vec![
            "a6.toml:5:3: anycast 2001:db8:ac::2 is already in a group (line 2)",
            "a6.toml:5:21: anycast 2001:db8:ac::3 is already in a group (line 4)",
        ]
    );
}

#[test]
fn member_on_unlisted_interface() {
    let text = format!("{IFACES}[[group]]\naddress = \"2001:db8:ac::1\"\n[[group.member]]\naddress = \"2001:db8::10\"\ninterface = \"eth9\"\n");
    let e = errors(&text);
    assert_eq!(
        e,
        vec![
            "a6.toml:11:13: interface \"eth9\" is not listed in [[interface]] (listed: eth0, eth1)"
        ]
    );
}

#[test]
fn ranges_and_enums_collect_every_error() {
    let text = format!(
        "{IFACES}[[group]]\naddress = \"2001:db8:ac::1\"\n[[group.member]]\naddress = \"2001:db8::10\"\n\
         interface = \"eth0\"\nweight = 0\ndistance = 70000\naction = \"tunnel\"\nstate = \"up\"\n"
    );
    let e = errors(&text);
    assert_eq!(
        e,
        vec![
            "a6.toml:12:10: weight 0 is out of range 1..=65535",
            "a6.toml:13:12: distance 70000 is out of range 1..=65535",
            "a6.toml:14:10: action \"tunnel\" is not one of \"rewrite\", \"encap\", \"local\"",
            "a6.toml:15:9: state \"up\" is not one of \"active\", \"draining\"",
        ]
    );
}

#[test]
fn missing_required_field() {
    let e = errors("[[interface]]\nxdp_mode = \"native\"\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("a6.toml:1:1: missing field `name`"),
        "{e:?}"
    );
}

#[test]
fn encap_without_source() {
    let text = "[[group]]\naddress = \"2001:db8:ac::1\"\n[[group.member]]\naddress = \"2001:db8::10\"\naction = \"encap\"\n";
    let e = errors(text);
    assert_eq!(
        e,
        vec!["a6.toml:4:11: a member with action \"encap\" needs `encap_source` or [daemon] router_address"]
    );
    let with_router = format!("[daemon]\nrouter_address = \"2001:db8::1\"\n{text}");
    assert!(errors(&with_router).is_empty());
}

#[test]
fn too_many_members_at_one_distance() {
    let mut text = format!("{IFACES}[[group]]\naddress = \"2001:db8:ac::1\"\n");
    for i in 0..33 {
        text += &format!(
            "[[group.member]]\naddress = \"2001:db8::{:x}\"\ninterface = \"eth0\"\n",
            i + 1
        );
    }
    // a 33rd member at another distance is fine
    let ok = text.replace(
        "2001:db8::21\"\ninterface = \"eth0\"",
        "2001:db8::21\"\ninterface = \"eth0\"\ndistance = 2",
    );
    assert!(errors(&ok).is_empty());
    let e = errors(&text);
    assert_eq!(e.len(), 1);
    // member 33 starts on line 8 + 32 * 3 + 1 (its [[group.member]] header)
    assert!(
        e[0].starts_with("a6.toml:105:1: more than 32 members at distance 1"),
        "{e:?}"
    );
}

#[test]
fn prefix_checks() {
    assert_eq!(
        errors("[[group]]\nprefix = \"2001:db8:ac::1/64\"\n"),
        vec!["a6.toml:2:10: prefix 2001:db8:ac::1/64 has host bits set (did you mean 2001:db8:ac::/64?)"]
    );
    assert_eq!(
        errors("[[group]]\naddress = \"2001:db8:ac::1\"\nprefix = \"2001:db8:ac::/64\"\n"),
        vec!["a6.toml:3:10: a group has one of `address`, `addresses` and `prefix`, not several"]
    );
    assert_eq!(
        errors("[[group]]\naddresses = []\n"),
        vec!["a6.toml:2:13: `addresses` lists no address"]
    );
    assert_eq!(
        errors("[[group]]\naddresses = [\"2001:db8::1\", \"ff02::1\", \"x\"]\n"),
        vec![
            "a6.toml:2:29: group address ff02::1 cannot be an anycast address",
            "a6.toml:2:40: group address: \"x\" is not an IPv6 address",
        ]
    );
    assert_eq!(
        errors("[[group]]\n[[group.member]]\naddress = \"2001:db8::1\"\naction = \"local\"\n"),
        vec!["a6.toml:1:1: a group needs `address` (a /128 anycast address), `addresses` (several, sharing the members) or `prefix`"]
    );
}

#[test]
fn syntax_error_has_position() {
    let e = errors("[daemon]\nsocket = \"/x\n");
    assert_eq!(e.len(), 1);
    assert!(e[0].starts_with("a6.toml:2:"), "{e:?}");
}

#[test]
fn decap_interface_conflicts_with_forwarding() {
    let text = format!("{IFACES}[member]\naddresses = [\"2001:db8:ac::1\", \"2001:db8:ac::1\"]\ndecap_interfaces = [\"eth0\"]\n");
    let e = errors(&text);
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(
        e[0],
        "a6.toml:8:32: address 2001:db8:ac::1 is listed twice (first at line 8)"
    );
    assert!(
        e[1].starts_with("a6.toml:9:21: interface \"eth0\" is both"),
        "{e:?}"
    );
}

#[test]
fn environment_check_names_missing_interfaces() {
    let cfg = parse("a6.toml", IFACES).unwrap();
    let e = check_environment(&cfg, |n| n == "eth0").unwrap_err();
    assert_eq!(
        e.to_string(),
        "a6.toml:5:8: interface \"eth1\" does not exist"
    );
}

#[test]
fn pos_counts_characters() {
    assert_eq!(Pos::of("ab\ncé x", 6), Pos { line: 2, col: 3 });
    assert_eq!(Pos::of("", 0), Pos { line: 1, col: 1 });
}

#[test]
fn interface_mode_xdp_or_afxdp() {
    let cfg = parse(
        "a6.toml",
        "[[interface]]\nname = \"eth0\"\n[[interface]]\nname = \"eth1\"\nmode = \"afxdp\"\n",
    )
    .expect("valid");
    assert_eq!(cfg.interfaces[0].mode, IfaceMode::Xdp);
    assert_eq!(cfg.interfaces[1].mode, IfaceMode::Afxdp);
    assert_eq!(
        cfg.afxdp_interfaces()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        ["eth1"]
    );
    assert_eq!(
        errors("[[interface]]\nname = \"eth0\"\nmode = \"dpdk\"\n"),
        ["a6.toml:3:8: mode \"dpdk\" is not one of \"xdp\", \"afxdp\""]
    );
}

#[test]
fn route_limits_default_and_explicit() {
    let cfg = parse(
        "a6.toml",
        "[arip]\ninterfaces = [\"eth0\"]\n[ard]\ninterfaces = [\"eth1\"]\n",
    )
    .unwrap();
    let l = cfg.arip.unwrap().limit;
    assert_eq!((l.per_key, l.total, l.warn_percent), (5000, 10000, 75));
    let ard = cfg.ard.unwrap();
    assert_eq!(
        (
            ard.limit.per_key,
            ard.limit.total,
            ard.limit.warn_percent,
            ard.max_addresses_per_interface
        ),
        (1024, 8192, 75, 4096)
    );
    let cfg = parse(
        "a6.toml",
        "[arip]\ninterfaces = [\"eth0\"]\nmax_routes = 300\nmax_routes_per_neighbor = 100\n\
         routes_warn_percent = 90\n[ard]\ninterfaces = [\"eth1\"]\nmax_addresses = 50\n\
         max_addresses_per_member = 5\nmax_addresses_per_interface = 20\naddresses_warn_percent = 100\n",
    )
    .unwrap();
    let l = cfg.arip.unwrap().limit;
    assert_eq!((l.per_key, l.total, l.warn_percent), (100, 300, 90));
    let ard = cfg.ard.unwrap();
    assert_eq!(
        (
            ard.limit.per_key,
            ard.limit.total,
            ard.limit.warn_percent,
            ard.max_addresses_per_interface
        ),
        (5, 50, 100, 20)
    );
    // A total below a default per-key limit lowers it.
    let cfg = parse(
        "a6.toml",
        "[arip]\ninterfaces = [\"eth0\"]\nmax_routes = 10\n",
    )
    .unwrap();
    assert_eq!(cfg.arip.unwrap().limit.per_key, 10);
}

#[test]
fn route_limit_errors_point_at_the_value() {
    assert_eq!(
        errors(
            "[arip]\ninterfaces = [\"eth0\"]\nmax_routes = 0\nmax_routes_per_neighbor = 2000000\n\
             routes_warn_percent = 101\n"
        ),
        [
            "a6.toml:3:14: max_routes 0 is out of range 1..=1000000",
            "a6.toml:4:27: max_routes_per_neighbor 2000000 is out of range 1..=1000000",
            "a6.toml:5:23: routes_warn_percent 101 is out of range 1..=100",
        ]
    );
    assert_eq!(
        errors(
            "[arip]\ninterfaces = [\"eth0\"]\nmax_routes = 100\nmax_routes_per_neighbor = 200\n"
        ),
        ["a6.toml:4:27: max_routes_per_neighbor 200 is above max_routes 100"]
    );
    assert_eq!(
        errors(
            "[ard]\ninterfaces = [\"eth0\"]\nmax_addresses = 10\nmax_addresses_per_member = 11\n\
             max_addresses_per_interface = 12\naddresses_warn_percent = 0\n"
        ),
        [
            "a6.toml:4:28: max_addresses_per_member 11 is above max_addresses 10",
            "a6.toml:5:31: max_addresses_per_interface 12 is above max_addresses 10",
            "a6.toml:6:26: addresses_warn_percent 0 is out of range 1..=100",
        ]
    );
}

#[test]
fn rib_distances_default_and_override() {
    use crate::proto::Source;
    let cfg = parse("a6.toml", "").unwrap();
    assert_eq!(cfg.distances.get(Source::Config), 1);
    assert_eq!(cfg.distances.get(Source::Arip), 120);
    let cfg = parse(
        "a6.toml",
        "[rib.distance]\narip = 90\n\"pia-sm\" = 100\nruntime = 50\n",
    )
    .unwrap();
    assert_eq!(cfg.distances.get(Source::Arip), 90);
    assert_eq!(cfg.distances.get(Source::PiaSm), 100);
    assert_eq!(cfg.distances.get(Source::Runtime), 50);
    assert_eq!(cfg.distances.get(Source::Aospf), 110, "unnamed: default");
}

#[test]
fn rib_distance_errors_point_at_the_value_or_key() {
    assert_eq!(
        errors("[rib.distance]\nard = 0\narip = 256\n"),
        vec![
            "a6.toml:2:7: rib.distance.ard 0 is out of range 1..=255".to_string(),
            "a6.toml:3:8: rib.distance.arip 256 is out of range 1..=255".to_string(),
        ]
    );
    let e = errors("[rib.distance]\nbgp = 20\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("a6.toml:2:1:") && e[0].contains("bgp"),
        "{e:?}"
    );
}

// ---- [aospf]

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::aospf::packet::auth::KeyPrep;
use crate::aospf::NetworkType;

fn aospf_cfg(text: &str) -> AospfConfig {
    parse("a6.toml", text).unwrap().aospf.unwrap()
}

const AOSPF_ONE: &str = "[aospf]\nrouter_id = \"1.1.1.1\"\n[[aospf.interface]]\nname = \"eth0\"\n";

#[test]
fn defaults_are_the_cores() {
    let c = aospf_cfg(AOSPF_ONE);
    let d = crate::aospf::Config::new(c.router_id);
    assert_eq!(c.router_id, Ipv4Addr::new(1, 1, 1, 1));
    assert_eq!(
        (c.area, c.instance_id, c.spf_delay, c.spf_hold, c.max_lsas),
        (
            Ipv4Addr::UNSPECIFIED,
            0,
            d.spf_delay,
            d.spf_hold,
            d.max_lsas
        )
    );
    assert!(c.graceful_restart_helper);
    assert_eq!(c.grace_period, d.grace_period);
    assert_eq!(
        c.originate,
        crate::proto::originate::Policy::default(),
        "[aospf.originate] defaults as [arip.originate]"
    );
    let i = &c.interfaces[0];
    assert_eq!(
        (
            i.name.as_str(),
            i.network,
            i.cost,
            i.priority,
            i.hello_interval.as_secs(),
            i.dead_interval.as_secs(),
            i.retransmit_interval.as_secs(),
            i.transmit_delay,
            i.passive,
            i.auth.is_none()
        ),
        (
            "eth0",
            NetworkType::Broadcast,
            10,
            1,
            10,
            40,
            5,
            1,
            false,
            true
        )
    );
}

#[test]
fn every_key() {
    let dir = std::env::temp_dir().join(format!("a6-aospf-key-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("k");
    std::fs::write(&key_file, "a-key-of-16-bytes-or-more\n").unwrap();
    let c = aospf_cfg(&format!(
        "[aospf]\nrouter_id = \"10.0.0.1\"\narea = 7\ninstance_id = 3\nspf_delay_ms = 10\n\
         spf_hold_ms = 100\nmax_lsas = 5000\ngraceful_restart_helper = false\n\
         grace_period_s = 60\n\
         [[aospf.interface]]\nname = \"eth0\"\nnetwork = \"point-to-point\"\ncost = 65535\n\
         priority = 0\nhello_interval_s = 1\ndead_interval_s = 3\nretransmit_interval_s = 2\n\
         transmit_delay_s = 4\nauth = {{ key_id = 9, key = \"anycast6-test-key\", key_prep = \"frr-legacy\" }}\n\
         [[aospf.interface]]\nname = \"lo\"\npassive = true\n\
         auth = {{ key_id = 2, key_file = {:?} }}\n\
         [aospf.originate]\nconnected_metric = 0\nstatic = [{{ prefix = \"::/0\", metric = 65535 }}]\n",
        key_file.display().to_string()
    ));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(c.area, Ipv4Addr::new(0, 0, 0, 7));
    assert_eq!((c.instance_id, c.max_lsas), (3, 5000));
    assert_eq!(
        (c.spf_delay, c.spf_hold, c.grace_period),
        (
            Duration::from_millis(10),
            Duration::from_millis(100),
            Duration::from_secs(60)
        )
    );
    assert!(!c.graceful_restart_helper);
    let (e, lo) = (&c.interfaces[0], &c.interfaces[1]);
    assert_eq!(
        (e.network, e.cost, e.priority, e.transmit_delay),
        (NetworkType::PointToPoint, 65535, 0, 4)
    );
    assert_eq!(
        (
            e.hello_interval.as_secs(),
            e.dead_interval.as_secs(),
            e.retransmit_interval.as_secs()
        ),
        (1, 3, 2)
    );
    let a = e.auth.as_ref().unwrap();
    assert_eq!(
        (a.key.id, a.key.secret.as_slice(), a.prep),
        (9, &b"anycast6-test-key"[..], KeyPrep::FrrLegacy)
    );
    assert!(lo.passive);
    let a = lo.auth.as_ref().unwrap();
    assert_eq!(
        (a.key.id, a.key.secret.as_slice(), a.prep),
        (2, &b"a-key-of-16-bytes-or-more"[..], KeyPrep::Rfc7166),
        "the key file's newline is not part of the key"
    );
    assert_eq!(c.originate.connected_metric, 0);
    assert_eq!(c.originate.statics[0].metric, 65535);
    // The area as a dotted quad.
    let c = aospf_cfg(&AOSPF_ONE.replace("\n[[", "\narea = \"0.0.0.1\"\n[["));
    assert_eq!(c.area, Ipv4Addr::new(0, 0, 0, 1));
}

#[test]
fn section_errors_point_at_the_value() {
    assert_eq!(
        errors(
            "[aospf]\nrouter_id = \"1.1.1\"\narea = \"zero\"\ninstance_id = 256\n\
             grace_period_s = 0\nmax_lsas = 0\n[[aospf.interface]]\nname = \"eth0\"\n"
        ),
        [
            "a6.toml:2:13: router_id \"1.1.1\" is not a dotted quad (like \"1.1.1.1\")",
            "a6.toml:3:8: area \"zero\" is not a dotted quad or an integer (like \"0.0.0.0\" or 0)",
            "a6.toml:4:15: instance_id 256 is out of range 0..=255",
            "a6.toml:5:18: grace_period_s 0 is out of range 1..=1800",
            "a6.toml:6:12: max_lsas 0 is out of range 1..=1000000",
        ]
    );
    assert_eq!(
        errors(&AOSPF_ONE.replace("1.1.1.1", "0.0.0.0")),
        ["a6.toml:2:13: router_id 0.0.0.0 is not a router id"]
    );
    assert_eq!(
        errors(&AOSPF_ONE.replace("\n[[", "\narea = -1\n[[")),
        ["a6.toml:3:8: area -1 is out of range 0..=4294967295"]
    );
    assert_eq!(
        errors("[aospf]\nrouter_id = \"1.1.1.1\"\n"),
        ["a6.toml:1:1: [aospf] has no interface: add [[aospf.interface]] entries"]
    );
    let e = errors("[aospf]\ninterface = []\n");
    assert!(
        e.len() == 1 && e[0].starts_with("a6.toml:1:1:") && e[0].contains("router_id"),
        "{e:?}"
    );
    let e = errors(&format!(
        "{AOSPF_ONE}[aospf.originate]\nconnected_metric = 65536\n"
    ));
    assert_eq!(
        e,
        ["a6.toml:6:20: connected_metric 65536 is out of range 0..=65535"]
    );
}

#[test]
fn interface_errors_point_at_the_value() {
    assert_eq!(
        errors(&format!(
            "{AOSPF_ONE}network = \"nbma\"\ncost = 0\npriority = 256\nhello_interval_s = 0\n\
             retransmit_interval_s = 70000\ntransmit_delay_s = 0\n"
        )),
        [
            "a6.toml:5:11: network \"nbma\" is not one of \"broadcast\", \"point-to-point\"",
            "a6.toml:6:8: cost 0 is out of range 1..=65535",
            "a6.toml:7:12: priority 256 is out of range 0..=255",
            "a6.toml:8:20: hello_interval_s 0 is out of range 1..=65535",
            "a6.toml:9:25: retransmit_interval_s 70000 is out of range 1..=65535",
            "a6.toml:10:20: transmit_delay_s 0 is out of range 1..=3600",
        ]
    );
    assert_eq!(
        errors(&format!(
            "{AOSPF_ONE}hello_interval_s = 10\ndead_interval_s = 10\n"
        )),
        ["a6.toml:6:19: dead_interval_s 10 must be above hello_interval_s 10"]
    );
    assert_eq!(
        errors(&format!("{AOSPF_ONE}dead_interval_s = 5\n")),
        ["a6.toml:5:19: dead_interval_s 5 must be above hello_interval_s 10"]
    );
    // The default dead interval is 4 × hello, bounded by its 16 bits.
    assert_eq!(
        errors(&format!("{AOSPF_ONE}hello_interval_s = 65535\n")),
        ["a6.toml:5:20: dead_interval_s 65535 must be above hello_interval_s 65535"]
    );
    assert_eq!(
        errors(&format!(
            "{AOSPF_ONE}[[aospf.interface]]\nname = \"eth0\"\n"
        )),
        ["a6.toml:6:8: interface \"eth0\" is listed twice (first at line 3)"]
    );
    assert_eq!(
        errors(&format!("{AOSPF_ONE}[[aospf.interface]]\nname = \"a/b\"\n")),
        ["a6.toml:6:8: \"a/b\" is not a valid interface name (1..=15 bytes, no '/', ':' or spaces)"]
    );
}

#[test]
fn auth_errors_point_at_the_value() {
    let with = |auth: &str| errors(&format!("{AOSPF_ONE}auth = {auth}\n"));
    assert_eq!(
        with("{ key_id = 1, key = \"short\" }"),
        ["a6.toml:5:28: key secret is shorter than 16 bytes (too easy to guess)"]
    );
    assert_eq!(
        with("{ key_id = 65536, key = \"anycast6-test-key\" }"),
        ["a6.toml:5:19: key id 65536 is out of range 0..=65535"]
    );
    assert_eq!(
        with("{ key_id = 1 }"),
        ["a6.toml:5:8: auth needs exactly one of `key` and `key_file`"]
    );
    assert_eq!(
        with("{ key_id = 1, key = \"anycast6-test-key\", key_file = \"/k\" }"),
        ["a6.toml:5:8: auth needs exactly one of `key` and `key_file`"]
    );
    assert_eq!(
        with("{ key_id = 1, key = \"anycast6-test-key\", key_prep = \"frr\" }"),
        ["a6.toml:5:60: key_prep \"frr\" is not one of \"rfc7166\", \"frr-legacy\""]
    );
    assert_eq!(
        with("{ key_id = 1, key_file = \"k.txt\" }"),
        ["a6.toml:5:33: key_file \"k.txt\" must be an absolute path"]
    );
    let e = with("{ key_id = 1, key_file = \"/nonexistent/a6-key\" }");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "a6.toml:5:33: key_file \"/nonexistent/a6-key\": cannot read: No such file"
        ),
        "{e:?}"
    );
    let e = with("{ key_id = 1, key = \"anycast6-test-key\", algo = \"md5\" }");
    assert!(
        e.len() == 1 && e[0].starts_with("a6.toml:5:") && e[0].contains("unknown field `algo`"),
        "{e:?}"
    );
}

#[test]
fn aospf_unknown_fields_point_at_the_key() {
    for (text, at, field) in [
        (format!("{AOSPF_ONE}costs = 5\n"), "a6.toml:5:1:", "costs"),
        (
            AOSPF_ONE.replace("router_id", "routerid"),
            "a6.toml:2:1:",
            "routerid",
        ),
        (
            AOSPF_ONE.replace("\n[[", "\nhello_interval_s = 5\n[["),
            "a6.toml:3:1:",
            "hello_interval_s",
        ),
        (
            format!("{AOSPF_ONE}[aospf.originate]\nconected = true\n"),
            "a6.toml:6:1:",
            "conected",
        ),
    ] {
        let e = errors(&text);
        assert!(
            e.len() == 1
                && e[0].starts_with(at)
                && e[0].contains(&format!("unknown field `{field}`")),
            "{text}: {e:?}"
        );
    }
}

#[test]
fn metrics_listener_is_parsed_with_its_position() {
    let cfg = parse("a6.toml", "[metrics]\nlisten = \"[::1]:9464\"\n").unwrap();
    let m = cfg.metrics.expect("[metrics]");
    assert_eq!(m.listen, "[::1]:9464".parse().unwrap());
    assert_eq!(m.pos.to_string(), "2:10");
    assert_eq!(parse("a6.toml", "").unwrap().metrics, None);
}

#[test]
fn metrics_errors_name_the_place() {
    assert_eq!(
        errors("[metrics]\nlisten = \"::1:9464\"\n"),
        vec!["a6.toml:2:10: metrics.listen: \"::1:9464\" is not an address and port (like \"[::1]:9464\" or \"127.0.0.1:9464\")"]
    );
    assert_eq!(
        errors("[metrics]\nlisten = \"127.0.0.1:0\"\n"),
        vec!["a6.toml:2:10: metrics.listen \"127.0.0.1:0\": port 0 is not a port Prometheus can scrape"]
    );
    assert_eq!(
        errors("[metrics]\nlisten = \"[ff02::1]:9464\"\n"),
        vec!["a6.toml:2:10: metrics.listen \"[ff02::1]:9464\": a multicast address cannot be listened on"]
    );
    let unknown = errors("[metrics]\nlisten = \"[::1]:9464\"\nport = 1\n");
    assert_eq!(unknown.len(), 1);
    assert!(
        unknown[0].starts_with("a6.toml:3:1: unknown field `port`, expected `listen`"),
        "{unknown:?}"
    );
    let missing = errors("[metrics]\n");
    assert_eq!(missing.len(), 1);
    assert!(
        missing[0].starts_with("a6.toml:1:1: missing field `listen`"),
        "{missing:?}"
    );
}
