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
