//! `anycast6ctl show kernel_import`: what `[kernel_import]` reads from the
//! kernel's table — per anycast /128 the next hops of its best route (the
//! members it gives the RIB as source `kernel`) — and what it refused.

use serde_json::Value;

use super::table::{cell, Align::*, Table};

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn protocol(p: &Value) -> String {
    match p["name"].as_str() {
        Some(n) => format!("{n} ({})", cell(&p["number"])),
        None => cell(&p["number"]),
    }
}

pub fn render(v: &Value) -> String {
    if v.is_null() {
        return "the kernel import is not configured ([kernel_import])\n".into();
    }
    let prefixes: Vec<String> = list(&v["prefixes"]).iter().map(cell).collect();
    let mut out = format!(
        "table {}, protocols {}, prefixes {}; {} addresses imported (max_routes {}), settle {} ms\n",
        cell(&v["table"]),
        list(&v["protocols"])
            .iter()
            .map(protocol)
            .collect::<Vec<_>>()
            .join(", "),
        if prefixes.is_empty() {
            "any /128".to_string()
        } else {
            prefixes.join(", ")
        },
        cell(&v["imported"]),
        cell(&v["max_routes"]),
        cell(&v["settle_ms"]),
    );
    let mut t = Table::new(&[
        ("ANYCAST", Left),
        ("NEXT HOP", Left),
        ("INTERFACE", Left),
        ("WEIGHT", Right),
        ("METRIC", Right),
        ("PROTOCOL", Right),
        ("ROUTES", Right),
    ]);
    for r in list(&v["routes"]) {
        let routes = list(&r["routes"]).len().to_string();
        for h in list(&r["next_hops"]) {
            t.row(vec![
                cell(&r["anycast"]),
                cell(&h["gateway"]),
                h["interface"]
                    .as_str()
                    .map_or_else(|| format!("#{}", cell(&h["ifindex"])), str::to_string),
                cell(&h["weight"]),
                cell(&h["metric"]),
                cell(&h["protocol"]),
                routes.clone(),
            ]);
        }
    }
    if t.is_empty() {
        out += "no route imported\n";
    } else {
        out += &t.render();
    }
    let c = &v["counters"];
    out += &format!(
        "messages {}, matched {}, table read {} times\n",
        cell(&c["messages"]),
        cell(&c["matched"]),
        cell(&c["dumps"]),
    );
    let refused: Vec<String> = c["refused"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if !refused.is_empty() {
        out += &format!("refused: {}\n", refused.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_next_hops_and_refusals() {
        let v = serde_json::json!({
            "table": 254,
            "protocols": [{"number": 12, "name": "bird"}, {"number": 200, "name": null}],
            "prefixes": [],
            "max_routes": 4096,
            "imported": 1,
            "settle_ms": 200,
            "routes": [{
                "anycast": "2001:db8:ac::1",
                "imported": true,
                "next_hops": [
                    {"gateway": "2001:db8:1::10", "ifindex": 3, "interface": "r-m1", "weight": 1, "metric": 32, "protocol": 12},
                    {"gateway": "2001:db8:1::11", "ifindex": 4, "interface": null, "weight": 2, "metric": 32, "protocol": 12},
                ],
                "routes": [{"metric": 32, "protocol": 12}],
            }],
            "counters": {"messages": 9, "matched": 4, "dumps": 1, "refused": {"not_host_route": 2}},
        });
        let text = render(&v);
        assert!(text.starts_with(
            "table 254, protocols bird (12), 200, prefixes any /128; 1 addresses imported"
        ));
        assert!(
            text.contains("2001:db8:ac::1  2001:db8:1::10  r-m1"),
            "{text}"
        );
        assert!(text.contains("#4"), "{text}");
        assert!(text.contains("refused: not_host_route 2"), "{text}");
        assert_eq!(
            render(&Value::Null),
            "the kernel import is not configured ([kernel_import])\n"
        );
    }
}
