//! `anycast6ctl show mga`: the MGA view (`anycast6_mga::instance::View`
//! as JSON, with the BPF maps' wanted state) as text — per role its
//! table: the home agent's bindings, the member's registrations and
//! route-optimised flows, the correspondent's flow bindings.

use serde_json::Value;

use super::table::{cell, counters_line, Align::*, Table};

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn flow(f: &Value) -> String {
    let proto = match f["protocol"].as_u64() {
        Some(6) => "tcp".to_string(),
        Some(17) => "udp".to_string(),
        Some(n) => format!("proto {n}"),
        None => "-".into(),
    };
    format!(
        "{proto} [{}]:{} -> [{}]:{}",
        cell(&f["local"]),
        cell(&f["local_port"]),
        cell(&f["home"]),
        cell(&f["service_port"])
    )
}

pub fn render(v: &Value) -> String {
    if v.is_null() {
        return "MGA is not configured ([mga])\n".into();
    }
    let mut out = String::new();
    if let Some(ha) = v.get("home_agent").filter(|h| !h.is_null()) {
        out += &format!("home agent {}\n", cell(&ha["address"]));
        let mut t = Table::new(&[
            ("Anycast", Left),
            ("Care-of address", Left),
            ("Seq", Right),
            ("Metric", Right),
            ("Lifetime", Right),
            ("Left", Right),
            ("State", Left),
        ]);
        for h in list(&ha["bindings"]) {
            for b in list(&h["bindings"]) {
                let state = if b["draining"] == true {
                    "draining"
                } else if b["forwarded"] == true {
                    "forwarding"
                } else {
                    "standby"
                };
                t.row(vec![
                    cell(&h["home"]),
                    cell(&b["coa"]),
                    cell(&b["seq"]),
                    cell(&b["metric"]),
                    format!("{}s", cell(&b["lifetime_s"])),
                    format!("{}s", cell(&b["remaining_s"])),
                    state.into(),
                ]);
            }
        }
        out += &if t.is_empty() {
            "  no bindings\n".to_string()
        } else {
            t.render()
        };
    }
    if let Some(m) = v.get("member").filter(|m| !m.is_null()) {
        out += &format!(
            "member, care-of address {}{}{}\n",
            cell(&m["care_of"]),
            if m["discovered"] == true {
                ", home agents discovered"
            } else {
                ""
            },
            if m["healthy"] == false {
                ", HEALTH CHECK FAILING"
            } else {
                ""
            }
        );
        let mut t = Table::new(&[
            ("Anycast", Left),
            ("Home agent", Left),
            ("State", Left),
            ("Seq", Right),
            ("Lifetime", Right),
            ("Status", Right),
            ("Retransmits", Right),
        ]);
        for r in list(&m["registrations"]) {
            t.row(vec![
                cell(&r["home"]),
                cell(&r["home_agent"]),
                cell(&r["state"]),
                cell(&r["seq"]),
                format!("{}s", cell(&r["lifetime_s"])),
                cell(&r["last_status"]),
                cell(&r["retransmits"]),
            ]);
        }
        out += &if t.is_empty() {
            "  no home agent known yet\n".to_string()
        } else {
            t.render()
        };
        for (a, ha) in m["reverse_tunnel"].as_object().into_iter().flatten() {
            out += &format!(
                "  replies from {a}: {}\n",
                if ha.is_null() {
                    "direct (no live registration)".to_string()
                } else {
                    format!("reverse-tunnelled to {}", cell(ha))
                }
            );
        }
        let mut f = Table::new(&[
            ("Route-optimised flow", Left),
            ("State", Left),
            ("Packets", Right),
        ]);
        for r in list(&m["route_optimised"]) {
            f.row(vec![
                flow(&r["flow"]),
                cell(&r["state"]),
                cell(&r["packets"]),
            ]);
        }
        if !f.is_empty() {
            out += &f.render();
        }
    }
    if let Some(c) = v.get("correspondent").filter(|c| !c.is_null()) {
        out += "correspondent\n";
        let mut t = Table::new(&[
            ("Flow", Left),
            ("Care-of address", Left),
            ("Seq", Right),
            ("Left", Right),
        ]);
        for b in list(&c["flow_bindings"]) {
            t.row(vec![
                flow(&b["flow"]),
                cell(&b["coa"]),
                cell(&b["seq"]),
                format!("{}s", cell(&b["remaining_s"])),
            ]);
        }
        out += &if t.is_empty() {
            "  no flow bindings\n".to_string()
        } else {
            t.render()
        };
    }
    out += &counters_line(&v["counters"]);
    for role in ["member", "correspondent"] {
        let Some(c) = v["dataplane"][role].as_object() else {
            continue;
        };
        let busy: Vec<String> = c
            .iter()
            .filter(|(_, x)| x["packets"].as_u64().is_some_and(|p| p > 0))
            .map(|(k, x)| format!("{k} {}", cell(&x["packets"])))
            .collect();
        out += &format!(
            "{role} programs: {}\n",
            if busy.is_empty() {
                "nothing counted yet".to_string()
            } else {
                busy.join(", ")
            }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_configured_says_so() {
        assert_eq!(render(&Value::Null), "MGA is not configured ([mga])\n");
    }

    #[test]
    fn home_agent_and_member_tables() {
        let v = serde_json::json!({
            "home_agent": {"address": "2001:db8:1::10", "bindings": [
                {"home": "2001:db8:1::a", "forwarding": 1, "bindings": [
                    {"coa": "2001:db8:2::2", "seq": 7, "metric": 10, "draining": false,
                     "lifetime_s": 60, "remaining_s": 41, "forwarded": true}]}]},
            "member": {"care_of": "2001:db8:2::2", "discovered": true, "healthy": true,
                "registrations": [{"home": "2001:db8:1::a", "home_agent": "2001:db8:1::10",
                    "state": "registered", "seq": 7, "lifetime_s": 60, "last_status": 0, "retransmits": 0}],
                "reverse_tunnel": {"2001:db8:1::a": "2001:db8:1::10"},
                "route_optimised": [{"flow": {"protocol": 6, "local": "2001:db8:9::5", "local_port": 40000,
                    "home": "2001:db8:1::a", "service_port": 80}, "state": "bound", "packets": 52}]},
            "correspondent": null,
            "counters": {"registered": 3, "auth_bad_digest": 0}
        });
        let t = render(&v);
        assert!(t.contains("home agent 2001:db8:1::10"), "{t}");
        assert!(
            t.contains("2001:db8:2::2") && t.contains("forwarding"),
            "{t}"
        );
        assert!(t.contains("home agents discovered"), "{t}");
        assert!(t.contains("reverse-tunnelled to 2001:db8:1::10"), "{t}");
        assert!(
            t.contains("tcp [2001:db8:9::5]:40000 -> [2001:db8:1::a]:80"),
            "{t}"
        );
        assert!(t.ends_with("counters: registered 3\n"), "{t}");
    }
}
