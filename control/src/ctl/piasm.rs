//! `anycast6ctl show piasm [neighbors | trees]`: the PIA-SM view
//! (`anycast6_piasm::View` as JSON) as text. The neighbour table has the
//! columns of FRR's `show ipv6 pim neighbor` where the view has the data;
//! on-link neighbours are written `address%ifindex` (RFC 4007 §11), as the
//! view knows upstreams and branches by interface index.

use serde_json::Value;

use super::table::{cell, counters_line, Align::*, Table};

/// The text of `show piasm` (`view`: the part shown, None for the
/// summary). The daemon answers `null` when `[piasm]` is not configured,
/// the whole view for the summary, its `neighbors` or `trees` for a part.
pub fn render(v: &Value, view: Option<&str>) -> String {
    if v.is_null() {
        return "PIA-SM is not configured ([piasm])\n".into();
    }
    match view {
        Some("neighbors") => neighbors(v),
        Some("trees") => trees(v),
        _ => summary(v),
    }
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// FRR's times: `hh:mm:ss`.
fn hms(ms: &Value) -> String {
    let Some(ms) = ms.as_u64() else {
        return "-".into();
    };
    let s = ms.div_ceil(1000);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// An upstream, branch or group member's way (`Upstream`, `BranchKey`,
/// `Via`, externally tagged): `fe80::2%3` on-link, `tunnel 2001:db8::1`
/// through plain routers.
fn way(v: &Value) -> String {
    if let Some(o) = v.get("on-link") {
        let addr = o.get("neighbor").or_else(|| o.get("next_hop"));
        return format!(
            "{}%{}",
            cell(addr.unwrap_or(&Value::Null)),
            cell(&o["ifindex"])
        );
    }
    if let Some(t) = v.get("tunnel") {
        let to = t.get("core").or_else(|| t.get("endpoint"));
        return format!("tunnel {}", cell(to.unwrap_or(&Value::Null)));
    }
    match v {
        Value::String(s) => s.clone(),
        _ => cell(v),
    }
}

fn yes(v: &Value) -> &'static str {
    if *v == true {
        "yes"
    } else {
        "no"
    }
}

/// A neighbour's kind: a plain PIM router, a PIA-SM one, a core.
fn kind(n: &Value) -> &'static str {
    if n["core"] == true {
        "PIA-SM core"
    } else if n["piasm"] == true {
        "PIA-SM"
    } else {
        "PIM"
    }
}

fn neighbors(v: &Value) -> String {
    let mut t = Table::new(&[
        ("Interface", Left),
        ("Neighbor", Left),
        ("Router address", Left),
        ("DR Pri", Right),
        ("DR", Left),
        ("Speaks", Left),
        ("Gen ID", Left),
        ("Holdtime", Right),
    ]);
    for n in list(v) {
        t.row(vec![
            cell(&n["interface"]),
            cell(&n["address"]),
            cell(&n["router_address"]),
            cell(&n["dr_priority"]),
            if n["is_dr"] == true { "DR" } else { "" }.into(),
            kind(n).into(),
            n["generation_id"]
                .as_u64()
                .map_or_else(|| "-".into(), |g| format!("{g:08x}")),
            hms(&n["expires_in_ms"]),
        ]);
    }
    if t.is_empty() {
        return "no PIA-SM neighbours\n".into();
    }
    t.render()
}

/// Each line of `text` indented by `n` spaces.
fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

fn tree(t: &Value) -> String {
    let mut out = format!(
        "anycast {}, core {}, role {}\n  weight {} ({} local members), upstream {}\n",
        cell(&t["anycast"]),
        cell(&t["core"]),
        cell(&t["role"]),
        cell(&t["weight"]),
        cell(&t["local_members"]),
        way(&t["upstream"]),
    );
    let mut b = Table::new(&[
        ("Branch", Left),
        ("Weight", Right),
        ("Relayed", Left),
        ("Expires", Right),
    ]);
    for x in list(&t["branches"]) {
        b.row(vec![
            way(x),
            cell(&x["weight"]),
            yes(&x["relayed"]).into(),
            hms(&x["expires_in_ms"]),
        ]);
    }
    if b.is_empty() {
        out.push_str("  branches: none\n");
    } else {
        out.push_str("  branches:\n");
        out.push_str(&indent(&b.render(), 4));
    }
    let mut g = Table::new(&[("Member", Left), ("Via", Left), ("Weight", Right)]);
    for m in list(&t["group"]) {
        g.row(vec![
            cell(&m["address"]),
            way(&m["via"]),
            cell(&m["weight"]),
        ]);
    }
    if g.is_empty() {
        out.push_str("  group: none\n");
    } else {
        out.push_str("  group:\n");
        out.push_str(&indent(&g.render(), 4));
    }
    if let Some(n) = t["shortcut_version"].as_u64() {
        out.push_str(&format!(
            "  shortcut: in use (the core's announcement version {n})\n"
        ));
    } else if t["role"] == "ingress" {
        out.push_str("  shortcut: not in use (packets go to the core)\n");
    }
    let requests: Vec<String> = list(&t["shortcut_requests"]).iter().map(cell).collect();
    if !requests.is_empty() {
        out.push_str(&format!(
            "  shortcut requests from: {}\n",
            requests.join(", ")
        ));
    }
    out
}

fn trees(v: &Value) -> String {
    let blocks: Vec<String> = list(v).iter().map(tree).collect();
    if blocks.is_empty() {
        return "no PIA-SM trees\n".into();
    }
    blocks.join("\n")
}

fn summary(v: &Value) -> String {
    let mut out = format!("PIA-SM router {}\n", cell(&v["router_address"]));
    let nbrs = list(&v["neighbors"]);
    let count = |f: &dyn Fn(&Value) -> bool| nbrs.iter().filter(|n| f(n)).count();
    out.push_str(&format!(
        "neighbours: {}, {} PIA-SM, {} core\n",
        nbrs.len(),
        count(&|n| n["piasm"] == true),
        count(&|n| n["core"] == true)
    ));
    let trees = list(&v["trees"]);
    let branches: usize = trees.iter().map(|t| list(&t["branches"]).len()).sum();
    out.push_str(&format!("trees: {}, branches: {branches}\n", trees.len()));
    let mut t = Table::new(&[
        ("Anycast", Left),
        ("Core", Left),
        ("Role", Left),
        ("Weight", Right),
        ("Upstream", Left),
        ("Branches", Right),
    ]);
    for x in trees {
        t.row(vec![
            cell(&x["anycast"]),
            cell(&x["core"]),
            cell(&x["role"]),
            cell(&x["weight"]),
            way(&x["upstream"]),
            list(&x["branches"]).len().to_string(),
        ]);
    }
    if !t.is_empty() {
        out.push_str(&t.render());
    }
    out.push_str(&counters_line(&v["counters"]));
    out
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::piasm::{AnycastConfig, Config, Instance, InterfaceConfig, Output, Rpf};
    use crate::proto::Instant;

    const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 1);
    const A2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 2);
    const C: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc0, 0, 0, 0, 0, 1);
    const C2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc0, 0, 0, 0, 0, 2);

    /// Router `i`'s router address.
    fn r(i: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, i)
    }

    /// Router `i`'s link-local address on its interface `ifindex`.
    fn ll(i: u16, ifindex: u32) -> Ipv6Addr {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, i, ifindex as u16)
    }

    /// Real views, after one second of simulated time. Router 1 is a core
    /// of A (its peer core, router 3, is not simulated) and an ingress for
    /// A2; router 2 is a first-hop router with 3 members of A on its
    /// interface 4. `on_link`: they share a link (router 1's interface 1,
    /// router 2's interface 2) and router 2's route toward C goes over it;
    /// else through a plain router, so router 2's join reaches the core by
    /// unicast.
    fn views(on_link: bool) -> (Value, Value) {
        let mut now = Instant::ZERO;
        let mut cfg = Config::new(r(1));
        cfg.anycast = vec![
            AnycastConfig {
                is_core: true,
                peers: vec![r(3)],
                ..AnycastConfig::new(A, C)
            },
            AnycastConfig {
                shortcut: true,
                ..AnycastConfig::new(A2, C2)
            },
        ];
        let mut core = Instance::new(cfg, now);
        let mut cfg = Config::new(r(2));
        cfg.anycast = vec![AnycastConfig::new(A, C)];
        let mut fhr = Instance::new(cfg, now);
        fhr.interface_up(now, InterfaceConfig::new(4, "eth4", ll(2, 4)));
        let rpf = if on_link {
            core.interface_up(now, InterfaceConfig::new(1, "eth1", ll(1, 1)));
            fhr.interface_up(now, InterfaceConfig::new(2, "eth2", ll(2, 2)));
            Rpf {
                ifindex: 2,
                next_hop: Some(ll(1, 1)),
            }
        } else {
            let plain_router = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0xee, 0xee);
            Rpf {
                ifindex: 5,
                next_hop: Some(plain_router),
            }
        };
        fhr.set_rpf(now, C, Some(rpf));
        fhr.set_local_members(now, A, 4, 3);
        let end = now + Duration::from_secs(1);
        loop {
            while let Some(o) = fhr.poll_output() {
                match o {
                    Output::Send(s) if s.ifindex == Some(2) => {
                        core.handle_packet(now, 1, s.src, s.dst, &s.bytes)
                    }
                    Output::Send(s) if s.ifindex.is_none() && s.dst == C => {
                        core.handle_packet(now, 7, s.src, s.dst, &s.bytes)
                    }
                    _ => {}
                }
            }
            while let Some(o) = core.poll_output() {
                if let Output::Send(s) = o {
                    if s.ifindex == Some(1) {
                        fhr.handle_packet(now, 2, s.src, s.dst, &s.bytes);
                    }
                }
            }
            let next = [fhr.poll_timeout(), core.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    now = now.max(t);
                    fhr.handle_timeout(now);
                    core.handle_timeout(now);
                }
                _ => break,
            }
        }
        let json = |i: &Instance| serde_json::to_value(i.view(end)).expect("a view encodes");
        (json(&core), json(&fhr))
    }

    #[test]
    fn a_core_and_a_first_hop_router_by_tunnel() {
        let (core, fhr) = views(false);
        assert_eq!(
            render(&core, None),
            "PIA-SM router 2001:db8:ff::1\n\
             neighbours: 0, 0 PIA-SM, 0 core\n\
             trees: 2, branches: 1\n\
             Anycast         Core            Role     Weight  Upstream  Branches\n\
             2001:db8:ac::1  2001:db8:c0::1  core          3  -                1\n\
             2001:db8:ac::2  2001:db8:c0::2  ingress       0  -                0\n\
             counters: rx_join_prune 1, rx_joins 1, rx_packets 1, tx_packets 1, tx_relays 1\n"
        );
        assert_eq!(
            render(&core["trees"], Some("trees")),
            "anycast 2001:db8:ac::1, core 2001:db8:c0::1, role core\n\
             \x20 weight 3 (0 local members), upstream -\n\
             \x20 branches:\n\
             \x20   Branch                 Weight  Relayed   Expires\n\
             \x20   tunnel 2001:db8:ff::2       3  no       00:03:29\n\
             \x20 group:\n\
             \x20   Member          Via     Weight\n\
             \x20   2001:db8:ff::2  tunnel       3\n\
             \n\
             anycast 2001:db8:ac::2, core 2001:db8:c0::2, role ingress\n\
             \x20 weight 0 (0 local members), upstream -\n\
             \x20 branches: none\n\
             \x20 group:\n\
             \x20   Member          Via     Weight\n\
             \x20   2001:db8:c0::2  tunnel       1\n\
             \x20 shortcut: not in use (packets go to the core)\n"
        );
        assert_eq!(
            render(&fhr, None),
            "PIA-SM router 2001:db8:ff::2\n\
             neighbours: 0, 0 PIA-SM, 0 core\n\
             trees: 1, branches: 0\n\
             Anycast         Core            Role     Weight  Upstream               Branches\n\
             2001:db8:ac::1  2001:db8:c0::1  on-tree       3  tunnel 2001:db8:c0::1         0\n\
             counters: tx_hello 1, tx_join_prune 1, tx_packets 2\n"
        );
        assert_eq!(
            render(&fhr["trees"], Some("trees")),
            "anycast 2001:db8:ac::1, core 2001:db8:c0::1, role on-tree\n\
             \x20 weight 3 (3 local members), upstream tunnel 2001:db8:c0::1\n\
             \x20 branches: none\n\
             \x20 group: none\n"
        );
        assert_eq!(
            render(&fhr["neighbors"], Some("neighbors")),
            "no PIA-SM neighbours\n"
        );
    }

    /// The times depend on when the Hellos went (random offsets): only the
    /// rest is compared.
    #[test]
    fn on_link_neighbours_branches_and_upstream() {
        let (core, fhr) = views(true);
        let lines = |v: &Value, part: Option<&str>| -> Vec<String> {
            let v = part.map_or(v, |p| &v[p]);
            render(v, part)
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect()
        };
        let n = lines(&core, Some("neighbors"));
        assert_eq!(
            n[0],
            "Interface Neighbor Router address DR Pri DR Speaks Gen ID Holdtime"
        );
        assert!(
            n[1].starts_with("eth1 fe80::2:2 2001:db8:ff::2 1 DR PIA-SM 00000001 00:01:"),
            "{n:?}"
        );
        let n = lines(&fhr, Some("neighbors"));
        assert!(
            n[1].starts_with("eth2 fe80::1:1 2001:db8:ff::1 1 PIA-SM core 00000001 00:01:"),
            "{n:?}"
        );
        let t = lines(&core, Some("trees"));
        assert_eq!(t[3], "Branch Weight Relayed Expires");
        assert!(t[4].starts_with("fe80::2:2%1 3 no 00:03:"), "{t:?}");
        assert_eq!(t[7], "2001:db8:ff::2 fe80::2:2%1 3", "{t:?}");
        let s = lines(&fhr, None);
        assert_eq!(s[1], "neighbours: 1, 1 PIA-SM, 1 core");
        assert_eq!(
            s[4],
            "2001:db8:ac::1 2001:db8:c0::1 on-tree 3 fe80::1:1%2 0"
        );
        assert_eq!(lines(&core, None)[1], "neighbours: 1, 1 PIA-SM, 0 core");
    }

    #[test]
    fn plain_pim_neighbours_relayed_branches_and_the_shortcut() {
        let n = json!([{
            "interface": "eth0", "address": "fe80::9", "router_address": null,
            "dr_priority": 4294967295u32, "generation_id": null, "piasm": false,
            "core": false, "is_dr": true, "expires_in_ms": 3_600_500,
        }]);
        assert_eq!(
            render(&n, Some("neighbors")),
            "Interface  Neighbor  Router address      DR Pri  DR  Speaks  Gen ID  Holdtime\n\
             eth0       fe80::9   -               4294967295  DR  PIM     -       01:00:01\n"
        );
        let trees = json!([{
            "anycast": "2001:db8:ac::1", "core": "2001:db8:c0::1", "role": "core",
            "weight": 0, "local_members": 2, "upstream": null,
            "branches": [
                {"on-link": {"ifindex": 3, "neighbor": "fe80::2"}, "weight": 5,
                 "relayed": false, "expires_in_ms": 61_000},
                {"tunnel": {"endpoint": "2001:db8:ff::7"}, "weight": 65535,
                 "relayed": true, "expires_in_ms": 0},
            ],
            "group": [
                {"address": "2001:db8:ff::2", "via": {"on-link": {"ifindex": 3, "next_hop": "fe80::2"}},
                 "weight": 5},
                {"address": "2001:db8:ff::7", "via": "tunnel", "weight": 65535},
            ],
            "shortcut_version": null,
            "shortcut_requests": ["2001:db8:ff::8", "2001:db8:ff::9"],
        }, {
            "anycast": "2001:db8:ac::2", "core": "2001:db8:c0::2", "role": "ingress",
            "weight": 0, "local_members": 0, "upstream": null, "branches": [],
            "group": [{"address": "2001:db8:ff::7", "via": "tunnel", "weight": 1}],
            "shortcut_version": 3, "shortcut_requests": [],
        }]);
        assert_eq!(
            render(&trees, Some("trees")),
            "anycast 2001:db8:ac::1, core 2001:db8:c0::1, role core\n\
             \x20 weight 0 (2 local members), upstream -\n\
             \x20 branches:\n\
             \x20   Branch                 Weight  Relayed   Expires\n\
             \x20   fe80::2%3                   5  no       00:01:01\n\
             \x20   tunnel 2001:db8:ff::7   65535  yes      00:00:00\n\
             \x20 group:\n\
             \x20   Member          Via        Weight\n\
             \x20   2001:db8:ff::2  fe80::2%3       5\n\
             \x20   2001:db8:ff::7  tunnel      65535\n\
             \x20 shortcut requests from: 2001:db8:ff::8, 2001:db8:ff::9\n\
             \n\
             anycast 2001:db8:ac::2, core 2001:db8:c0::2, role ingress\n\
             \x20 weight 0 (0 local members), upstream -\n\
             \x20 branches: none\n\
             \x20 group:\n\
             \x20   Member          Via     Weight\n\
             \x20   2001:db8:ff::7  tunnel       1\n\
             \x20 shortcut: in use (the core's announcement version 3)\n"
        );
        let v = json!({"router_address": "2001:db8:ff::1", "neighbors": n, "trees": trees,
            "counters": {"rx_packets": 0, "unknown_anycast": 7}});
        let out = render(&v, None);
        assert!(out.contains("trees: 2, branches: 2\n"), "{out}");
        assert!(out.ends_with("counters: unknown_anycast 7\n"), "{out}");
        let v = json!({"router_address": "2001:db8:ff::1", "neighbors": [], "trees": [],
            "counters": {"rx_packets": 0}});
        assert_eq!(
            render(&v, None),
            "PIA-SM router 2001:db8:ff::1\nneighbours: 0, 0 PIA-SM, 0 core\n\
             trees: 0, branches: 0\ncounters: all 0\n"
        );
    }

    #[test]
    fn not_configured_and_empty_parts() {
        for part in [None, Some("neighbors"), Some("trees")] {
            assert_eq!(
                render(&Value::Null, part),
                "PIA-SM is not configured ([piasm])\n"
            );
        }
        assert_eq!(
            render(&json!([]), Some("neighbors")),
            "no PIA-SM neighbours\n"
        );
        assert_eq!(render(&json!([]), Some("trees")), "no PIA-SM trees\n");
    }
}
