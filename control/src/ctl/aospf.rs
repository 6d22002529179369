//! `anycast6ctl show aospf [neighbors | database | routes | interfaces]`:
//! the AOSPF view as text, in the spirit of FRR's `show ipv6 ospf6
//! neighbor | database | route | interface` (same columns where the view
//! has the data), so an operator reads both side by side.

use serde_json::Value;

use super::table::{cell, counters_line, Align::*, Table};

/// The text of `show aospf` (`view`: the part shown, None for the summary).
pub fn render(v: &Value, view: Option<&str>) -> String {
    if v.is_null() {
        return "AOSPF is not configured ([aospf])\n".into();
    }
    match view {
        Some("neighbors") => neighbors(v),
        Some("database") => database(v),
        Some("routes") => routes(v),
        Some("interfaces") => interfaces(v),
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
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The role a neighbour declares on its link, as FRR's `State/IfState`.
fn role(n: &Value) -> &'static str {
    if n["interface_state"] == "PointToPoint" {
        "PointToPoint"
    } else if n["router_id"] == n["dr"] {
        "DR"
    } else if n["router_id"] == n["bdr"] {
        "BDR"
    } else {
        "DROther"
    }
}

fn neighbors(v: &Value) -> String {
    let mut t = Table::new(&[
        ("Neighbor ID", Left),
        ("Pri", Right),
        ("DeadTime", Right),
        ("State/IfState", Left),
        ("Duration", Right),
        ("I/F[State]", Left),
    ]);
    for n in list(v) {
        t.row(vec![
            cell(&n["router_id"]),
            cell(&n["priority"]),
            hms(&n["dead_in_ms"]),
            format!("{}/{}", cell(&n["state"]), role(n)),
            hms(&n["up_for_ms"]),
            format!("{}[{}]", cell(&n["interface"]), cell(&n["interface_state"])),
        ]);
    }
    if t.is_empty() {
        return "no AOSPF neighbours\n".into();
    }
    t.render()
}

/// FRR's short names of LSA types.
fn lsa_type(t: &Value) -> String {
    match t.as_str().unwrap_or_default() {
        "Router" => "Rtr".into(),
        "Network" => "Net".into(),
        "Inter-Prefix" => "IAP".into(),
        "Inter-Router" => "IAR".into(),
        "AS-External" => "ASE".into(),
        "NSSA" => "NSSA".into(),
        "Link" => "Lnk".into(),
        "Intra-Prefix" => "INP".into(),
        "Grace" => "GR".into(),
        _ => cell(t),
    }
}

fn database(v: &Value) -> String {
    // FRR's order: the area's LSAs, each link's, the AS's.
    let rank = |scope: &str| match scope {
        "area" => 0,
        "as" => 2,
        _ => 1,
    };
    let mut scopes: Vec<&str> = list(v).iter().filter_map(|l| l["scope"].as_str()).collect();
    scopes.sort_by_key(|s| (rank(s), *s));
    scopes.dedup();
    if scopes.is_empty() {
        return "AOSPF database empty\n".into();
    }
    let mut out = String::new();
    for scope in scopes {
        let title = match scope {
            "area" => "Area Scoped Link State Database".to_string(),
            "as" => "AS Scoped Link State Database".to_string(),
            s => format!(
                "I/F Scoped Link State Database (I/F {})",
                s.strip_prefix("link ").unwrap_or(s)
            ),
        };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("        {title}\n\n"));
        let mut t = Table::new(&[
            ("Type", Left),
            ("LSId", Left),
            ("AdvRouter", Left),
            ("Age", Right),
            ("SeqNum", Left),
            ("Payload", Left),
        ]);
        for l in list(v).iter().filter(|l| l["scope"] == scope) {
            let payload: Vec<String> = list(&l["prefixes"]).iter().map(cell).collect();
            t.row(vec![
                lsa_type(&l["ls_type"]),
                cell(&l["id"]),
                cell(&l["adv_router"]),
                cell(&l["age"]),
                cell(&l["seq"]),
                payload.join(", "),
            ]);
        }
        out.push_str(&t.render());
    }
    out
}

fn routes(v: &Value) -> String {
    let mut t = Table::new(&[
        ("", Left),
        ("Type", Left),
        ("Prefix", Left),
        ("Cost", Right),
        ("Next hop", Left),
        ("I/F", Left),
        ("Anycast", Left),
        ("Originators", Left),
    ]);
    for r in list(v) {
        let path = match r["path_type"].as_str().unwrap_or_default() {
            "intra-area" => "IA".to_string(),
            "external-1" => "E1".to_string(),
            "external-2" => "E2".to_string(),
            _ => cell(&r["path_type"]),
        };
        let installed = if r["installed"] == true { "*" } else { "" };
        let originators: Vec<String> = list(&r["originators"]).iter().map(cell).collect();
        let hops = list(&r["nexthops"]);
        let none = [Value::Null];
        for (i, h) in hops
            .iter()
            .chain(hops.is_empty().then_some(&none[0]))
            .enumerate()
        {
            let first = i == 0;
            let via = match &h["addr"] {
                Value::Null if !h.is_null() => "connected".to_string(),
                a => cell(a),
            };
            t.row(vec![
                if first {
                    installed.into()
                } else {
                    String::new()
                },
                if first { path.clone() } else { String::new() },
                if first {
                    format!("{}/{}", cell(&r["prefix"]), cell(&r["plen"]))
                } else {
                    String::new()
                },
                if first {
                    cell(&r["cost"])
                } else {
                    String::new()
                },
                via,
                cell(&h["interface"]),
                if first && r["anycast"] == true {
                    "anycast".into()
                } else {
                    String::new()
                },
                if first {
                    originators.join(",")
                } else {
                    String::new()
                },
            ]);
        }
    }
    if t.is_empty() {
        return "no AOSPF routes\n".into();
    }
    t.render() + "* installed (kernel or RIB); IA intra-area, E1/E2 external type 1/2\n"
}

fn interfaces(v: &Value) -> String {
    let mut out = String::new();
    for i in list(v) {
        let state = &i["state"];
        let up = if i["link_up"] == true { "up" } else { "down" };
        let network = match i["network"].as_str() {
            Some("point-to-point") => "POINTOPOINT",
            _ => "BROADCAST",
        };
        out.push_str(&format!("{} is {up}, type {network}\n", cell(&i["name"])));
        out.push_str(&format!(
            "  Interface ID: {}, ifindex {}\n",
            cell(&i["interface_id"]),
            cell(&i["ifindex"])
        ));
        out.push_str(&format!(
            "  Internet Address:\n    inet6: {}\n",
            cell(&i["link_local"])
        ));
        out.push_str(&format!("  Interface MTU {}\n", cell(&i["mtu"])));
        out.push_str(&format!(
            "  State {}, Transmit Delay {} sec, Priority {}, Cost {}\n",
            cell(state),
            cell(&i["transmit_delay_s"]),
            cell(&i["priority"]),
            cell(&i["cost"])
        ));
        out.push_str(&format!(
            "  Timer intervals configured:\n   Hello {}, Dead {}, Retransmit {}\n",
            cell(&i["hello_interval_s"]),
            cell(&i["dead_interval_s"]),
            cell(&i["retransmit_interval_s"])
        ));
        out.push_str(&format!(
            "  DR: {} BDR: {}\n",
            cell(&i["dr"]),
            cell(&i["bdr"])
        ));
        let auth = if i["authenticated"] == true {
            "HMAC-SHA-256 trailer (RFC 7166)"
        } else {
            "none"
        };
        out.push_str(&format!("  Authentication: {auth}\n"));
        let joined: Vec<String> = list(&i["joined"]).iter().map(cell).collect();
        out.push_str(&format!(
            "  {}\n",
            if i["passive"] == true {
                "Passive: no packets sent or accepted".to_string()
            } else {
                format!("Joined: {}", joined.join(" "))
            }
        ));
        out.push_str(&format!(
            "  Neighbor Count is {}, Adjacent neighbor count is {}\n",
            cell(&i["neighbors"]),
            cell(&i["adjacent"])
        ));
    }
    if out.is_empty() {
        return "no AOSPF interfaces\n".into();
    }
    out
}

/// Seconds left, from milliseconds (rounded up: `0 s` only at the end).
fn secs_left(ms: &Value) -> String {
    ms.as_u64()
        .map_or_else(|| "-".into(), |ms| format!("{} s", ms.div_ceil(1000)))
}

/// `graceful restart: restarting, N s left (until Unix time T); helper
/// for …`.
fn graceful_restart(g: &Value) -> String {
    if g.is_null() {
        return String::new();
    }
    let mut out = if g["restarting"] == true {
        format!(
            "graceful restart: restarting, {} left (until Unix time {})",
            secs_left(&g["restarting_for_ms"]),
            cell(&g["until_unix"])
        )
    } else {
        "graceful restart: not restarting".to_string()
    };
    let helping: Vec<String> = list(&g["helping"])
        .iter()
        .map(|h| {
            format!(
                "{} on {} ({} left)",
                cell(&h["router_id"]),
                cell(&h["interface"]),
                secs_left(&h["for_ms"])
            )
        })
        .collect();
    if !helping.is_empty() {
        out.push_str(&format!("; helper for {}", helping.join(", ")));
    } else if g["helper"] == true {
        out.push_str("; helper enabled, helping nobody");
    } else {
        out.push_str("; helper disabled");
    }
    out.push('\n');
    out
}

fn summary(v: &Value) -> String {
    let view = &v["view"];
    let mut out = format!(
        "AOSPF router {}, area {}\n",
        cell(&view["router_id"]),
        cell(&view["area"])
    );
    let ifs: Vec<String> = list(&v["interfaces"])
        .iter()
        .map(|i| format!("{} {}", cell(&i["name"]), cell(&i["state"])))
        .collect();
    out.push_str(&format!("interfaces: {} ({})\n", ifs.len(), ifs.join(", ")));
    let nbrs = list(&view["neighbors"]);
    let full = nbrs.iter().filter(|n| n["state"] == "Full").count();
    out.push_str(&format!("neighbours: {}, {full} full\n", nbrs.len()));
    out.push_str(&format!(
        "LSAs: {} of at most {}\n",
        cell(&view["lsas"]),
        cell(&view["max_lsas"])
    ));
    let routes = list(&view["routes"]);
    let count = |f: &dyn Fn(&Value) -> bool| routes.iter().filter(|r| f(r)).count();
    out.push_str(&format!(
        "routes: {} ({} installed, {} anycast)\n",
        routes.len(),
        count(&|r| r["installed"] == true),
        count(&|r| r["anycast"] == true)
    ));
    let orig = list(&v["originated"]);
    let anycast = orig.iter().filter(|o| o["kind"] == "anycast").count();
    out.push_str(&format!(
        "originated: {} prefixes ({anycast} anycast)\n",
        orig.len()
    ));
    out.push_str(&graceful_restart(&v["graceful_restart"]));
    out.push_str(&counters_line(&view["counters"]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn neighbours_as_frr_prints_them() {
        let v = json!([{
            "router_id": "2.2.2.2", "interface": "eth0", "ifindex": 3, "addr": "fe80::2",
            "state": "Full", "priority": 1, "dr": "2.2.2.2", "bdr": "1.1.1.1",
            "dead_in_ms": 35_500, "retransmit_list": 0, "request_list": 0,
            "up_for_ms": 3_723_000, "interface_state": "BDR",
        }]);
        assert_eq!(
            render(&v, Some("neighbors")),
            "Neighbor ID  Pri  DeadTime  State/IfState  Duration  I/F[State]\n\
             2.2.2.2        1  00:00:35  Full/DR        01:02:03  eth0[BDR]\n"
        );
        assert_eq!(
            render(&json!([]), Some("neighbors")),
            "no AOSPF neighbours\n"
        );
    }

    #[test]
    fn database_by_scope() {
        let lsa = |scope: &str, t: &str, prefixes: Value| {
            json!({"scope": scope, "ls_type": t, "id": "0.0.0.3", "adv_router": "1.1.1.1",
                "age": 12, "seq": "0x80000001", "checksum": "0x1234", "length": 44,
                "own": true, "prefixes": prefixes})
        };
        let v = json!([
            lsa("link eth0", "Link", json!(["2001:db8:1::/64 metric 0"])),
            lsa("area", "Router", json!([])),
            lsa(
                "area",
                "Intra-Prefix",
                json!([
                    "2001:db8:ac::1/128 metric 1 +ac",
                    "2001:db8:1::/64 metric 10"
                ])
            ),
        ]);
        let out = render(&v, Some("database"));
        assert_eq!(
            out,
            "        Area Scoped Link State Database\n\n\
             Type  LSId     AdvRouter  Age  SeqNum      Payload\n\
             Rtr   0.0.0.3  1.1.1.1     12  0x80000001\n\
             INP   0.0.0.3  1.1.1.1     12  0x80000001  2001:db8:ac::1/128 metric 1 +ac, 2001:db8:1::/64 metric 10\n\
             \n        I/F Scoped Link State Database (I/F eth0)\n\n\
             Type  LSId     AdvRouter  Age  SeqNum      Payload\n\
             Lnk   0.0.0.3  1.1.1.1     12  0x80000001  2001:db8:1::/64 metric 0\n"
        );
    }

    #[test]
    fn routes_one_line_per_next_hop() {
        let v = json!([{
            "prefix": "2001:db8:ac::1", "plen": 128, "path_type": "intra-area", "cost": 20,
            "anycast": true, "originators": ["2.2.2.2", "3.3.3.3"], "installed": true,
            "nexthops": [
                {"interface": "eth0", "ifindex": 3, "addr": "fe80::2"},
                {"interface": "eth1", "ifindex": 4, "addr": "fe80::3"},
            ],
        }, {
            "prefix": "2001:db8:1::", "plen": 64, "path_type": "intra-area", "cost": 10,
            "anycast": false, "originators": ["1.1.1.1"], "installed": false,
            "nexthops": [{"interface": "eth0", "ifindex": 3, "addr": null}],
        }]);
        assert_eq!(
            render(&v, Some("routes")),
            "   Type  Prefix              Cost  Next hop   I/F   Anycast  Originators\n\
             *  IA    2001:db8:ac::1/128    20  fe80::2    eth0  anycast  2.2.2.2,3.3.3.3\n\
             \x20                                  fe80::3    eth1\n\
             \x20  IA    2001:db8:1::/64       10  connected  eth0           1.1.1.1\n\
             * installed (kernel or RIB); IA intra-area, E1/E2 external type 1/2\n"
        );
    }

    #[test]
    fn interfaces_before_and_after_the_core_knows_them() {
        let v = json!([{
            "name": "eth0", "ifindex": 3, "link_local": "fe80::1", "mtu": 1500, "link_up": true,
            "passive": false, "network": "broadcast", "cost": 10, "priority": 1,
            "hello_interval_s": 10, "dead_interval_s": 40, "retransmit_interval_s": 5,
            "transmit_delay_s": 1, "authenticated": true, "joined": ["ff02::5", "ff02::6"],
            "state": "DR", "interface_id": 3, "dr": "1.1.1.1", "bdr": "0.0.0.0",
            "neighbors": 1, "adjacent": 1,
        }, {
            "name": "lo", "ifindex": 1, "link_local": "::", "mtu": 65535, "link_up": false,
            "passive": true, "network": "broadcast", "cost": 10, "priority": 1,
            "hello_interval_s": 10, "dead_interval_s": 40, "retransmit_interval_s": 5,
            "transmit_delay_s": 1, "authenticated": false, "joined": [], "state": null,
        }]);
        let out = render(&v, Some("interfaces"));
        assert!(
            out.starts_with(
                "eth0 is up, type BROADCAST\n  Interface ID: 3, ifindex 3\n  Internet Address:\n    \
                 inet6: fe80::1\n  Interface MTU 1500\n  State DR, Transmit Delay 1 sec, \
                 Priority 1, Cost 10\n"
            ),
            "{out}"
        );
        assert!(out.contains("  DR: 1.1.1.1 BDR: 0.0.0.0\n  Authentication: HMAC-SHA-256 trailer (RFC 7166)\n  Joined: ff02::5 ff02::6\n  Neighbor Count is 1, Adjacent neighbor count is 1\n"), "{out}");
        assert!(
            out.contains("lo is down, type BROADCAST\n  Interface ID: -, ifindex 1\n"),
            "{out}"
        );
        assert!(out.contains("  State -, Transmit"), "{out}");
        assert!(
            out.contains("  Passive: no packets sent or accepted\n"),
            "{out}"
        );
    }

    #[test]
    fn summary_counts() {
        let v = json!({
            "view": {
                "router_id": "1.1.1.1", "area": "0.0.0.0", "lsas": 7, "max_lsas": 200000,
                "neighbors": [{"state": "Full"}, {"state": "Init"}],
                "routes": [{"installed": true, "anycast": true}, {"installed": false, "anycast": false}],
                "counters": {"rx_packets": 12, "tx_packets": 0, "auth_failures": 3},
            },
            "interfaces": [{"name": "eth0", "state": "DR"}, {"name": "lo", "state": "Loopback"}],
            "originated": [{"kind": "anycast"}, {"kind": "unicast"}],
        });
        assert_eq!(
            render(&v, None),
            "AOSPF router 1.1.1.1, area 0.0.0.0\n\
             interfaces: 2 (eth0 DR, lo Loopback)\n\
             neighbours: 2, 1 full\n\
             LSAs: 7 of at most 200000\n\
             routes: 2 (1 installed, 1 anycast)\n\
             originated: 2 prefixes (1 anycast)\n\
             counters: auth_failures 3, rx_packets 12\n"
        );
    }

    #[test]
    fn graceful_restart_line() {
        let base = |g: Value| {
            let v = json!({"view": {"neighbors": [], "routes": []}, "interfaces": [],
                "originated": [], "graceful_restart": g});
            render(&v, None)
                .lines()
                .find(|l| l.starts_with("graceful restart"))
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(
            base(json!({"restarting": true, "restarting_for_ms": 56_200,
                "until_unix": 1_700_000_120u64, "helper": true, "helping": []})),
            "graceful restart: restarting, 57 s left (until Unix time 1700000120); \
             helper enabled, helping nobody"
        );
        assert_eq!(
            base(
                json!({"restarting": false, "restarting_for_ms": null, "until_unix": null,
                "helper": true, "helping": [
                    {"router_id": "10.0.0.10", "interface": "f-a", "for_ms": 118_000}]})
            ),
            "graceful restart: not restarting; helper for 10.0.0.10 on f-a (118 s left)"
        );
        assert_eq!(
            base(json!({"restarting": false, "helper": false, "helping": []})),
            "graceful restart: not restarting; helper disabled"
        );
    }
}
