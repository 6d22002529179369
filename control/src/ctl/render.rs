//! The replies of anycast6d as text for people.

use super::table::{cell, opt, Align::*, Table};
use crate::mgmt::views::*;

pub fn groups(v: &[GroupView]) -> String {
    let mut t = Table::new(&[
        ("GROUP", Left),
        ("KIND", Left),
        ("ADDRS", Right),
        ("ID", Right),
        ("DISTANCE", Right),
        ("MEMBERS", Right),
        ("INSTALLED", Right),
        ("ACTIVE", Right),
        ("DRAINING", Right),
        ("DOWN", Right),
    ]);
    for g in v {
        t.row(vec![
            g.group.clone(),
            g.kind.clone(),
            g.addresses.to_string(),
            opt(&g.group_id),
            opt(&g.best_distance),
            g.members.to_string(),
            g.installed.to_string(),
            g.active.to_string(),
            g.draining.to_string(),
            g.down.to_string(),
        ]);
    }
    if t.is_empty() {
        return "no groups\n".into();
    }
    t.render()
}

pub fn members(v: &[MemberView]) -> String {
    let mut t = Table::new(&[
        ("GROUP", Left),
        ("MEMBER", Left),
        ("INTERFACE", Left),
        ("NEXT HOP", Left),
        ("NEIGHBOUR", Left),
        ("MAC", Left),
        ("DIST", Right),
        ("WEIGHT", Right),
        ("ACTION", Left),
        ("ADMIN", Left),
        ("STATE", Left),
        ("ID", Right),
        ("SOURCE", Left),
    ]);
    for m in v {
        t.row(vec![
            m.group.clone(),
            m.address.clone(),
            opt(&m.interface),
            opt(&m.next_hop),
            m.neighbour.clone(),
            opt(&m.mac),
            m.distance.to_string(),
            m.weight.to_string(),
            m.action.clone(),
            m.admin.clone(),
            m.state.clone(),
            opt(&m.member_id),
            m.source.clone(),
        ]);
    }
    if t.is_empty() {
        return "no members\n".into();
    }
    t.render()
}

pub fn fib(v: &FibView) -> String {
    let mut out = String::new();
    let mut routes = Table::new(&[("ROUTE", Left), ("GROUP", Right)]);
    for r in &v.routes {
        routes.row(vec![r.route.clone(), r.group_id.to_string()]);
    }
    if routes.is_empty() {
        out.push_str("no routes\n");
    } else {
        out.push_str(&routes.render());
    }
    for g in &v.groups {
        out.push_str(&format!(
            "\ngroup {}: generation {}, maglev table {} entries at block {}\n",
            g.group_id, g.gen, g.maglev_len, g.maglev_block
        ));
        let mut t = Table::new(&[
            ("ID", Right),
            ("UNICAST", Left),
            ("IFINDEX", Right),
            ("DMAC", Left),
            ("SMAC", Left),
            ("MTU", Right),
            ("ACTION", Left),
            ("STATE", Left),
            ("WEIGHT", Right),
            ("ENCAP SRC", Left),
        ]);
        for m in &g.members {
            t.row(vec![
                m.member_id.to_string(),
                m.unicast.clone(),
                m.ifindex.to_string(),
                m.dmac.clone(),
                m.smac.clone(),
                m.mtu.to_string(),
                m.action.clone(),
                m.state.clone(),
                m.weight.to_string(),
                if m.action == "encap" {
                    m.encap_src.clone()
                } else {
                    "-".into()
                },
            ]);
        }
        if t.is_empty() {
            out.push_str("  (no members)\n");
        } else {
            out.push_str(&t.render());
        }
    }
    let ports: Vec<String> = v.tx_ports.iter().map(|p| p.to_string()).collect();
    out.push_str(&format!(
        "\ntx ports (ifindex): {}\n",
        if ports.is_empty() {
            "none".into()
        } else {
            ports.join(" ")
        }
    ));
    out
}

pub fn counters(v: &CountersView) -> String {
    let mut out = String::new();
    let mut t = Table::new(&[
        ("REASON", Left),
        ("VERDICT", Left),
        ("PACKETS", Right),
        ("BYTES", Right),
    ]);
    for r in &v.reasons {
        t.row(vec![
            r.reason.clone(),
            r.verdict.clone(),
            r.packets.to_string(),
            r.bytes.to_string(),
        ]);
    }
    out.push_str(&t.render());
    if !v.groups.is_empty() {
        let mut t = Table::new(&[
            ("GROUP", Left),
            ("ID", Right),
            ("PACKETS", Right),
            ("BYTES", Right),
        ]);
        for g in &v.groups {
            t.row(vec![
                opt(&g.group),
                g.group_id.to_string(),
                g.packets.to_string(),
                g.bytes.to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    if !v.members.is_empty() {
        let mut t = Table::new(&[
            ("GROUP", Left),
            ("MEMBER", Left),
            ("ID", Right),
            ("PACKETS", Right),
            ("BYTES", Right),
        ]);
        for m in &v.members {
            t.row(vec![
                opt(&m.group),
                opt(&m.address),
                m.member_id.to_string(),
                m.packets.to_string(),
                m.bytes.to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    for (title, rows) in [("DECAP REASON", &v.decap), ("TUNNEL END POINT", &v.tunnel)] {
        if rows.is_empty() {
            continue;
        }
        let mut t = Table::new(&[(title, Left), ("PACKETS", Right), ("BYTES", Right)]);
        for d in rows {
            t.row(vec![
                d.reason.clone(),
                d.packets.to_string(),
                d.bytes.to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    if let Some(a) = &v.afxdp {
        let mut t = Table::new(&[("AF_XDP", Left), ("COUNT", Right)]);
        let io = &a.io;
        let x = &a.xdp;
        for (name, n) in [
            ("workers", a.workers as u64),
            ("rx_packets", io.rx_packets),
            ("rx_bytes", io.rx_bytes),
            ("tx_packets", io.tx_packets),
            ("tx_bytes", io.tx_bytes),
            ("tx_ring_full", io.tx_ring_full),
            ("tx_no_socket", io.tx_no_socket),
            ("pass_not_reinjected", io.pass_not_reinjected),
            ("fill_starved", io.fill_starved),
            ("xsk_rx_dropped", x.rx_dropped),
            ("xsk_rx_invalid_descs", x.rx_invalid_descs),
            ("xsk_tx_invalid_descs", x.tx_invalid_descs),
            ("xsk_rx_ring_full", x.rx_ring_full),
            ("xsk_rx_fill_ring_empty", x.rx_fill_ring_empty_descs),
            ("xsk_tx_ring_empty", x.tx_ring_empty_descs),
        ] {
            t.row(vec![name.to_string(), n.to_string()]);
        }
        out.push('\n');
        out.push_str(&t.render());
        if let Some(x) = &a.exception {
            let mut t = Table::new(&[("TO KERNEL", Left), ("PACKETS", Right), ("BYTES", Right)]);
            for r in &x.reinjected {
                t.row(vec![
                    r.reason.clone(),
                    r.packets.to_string(),
                    r.bytes.to_string(),
                ]);
            }
            t.row(vec![
                "write_errors".into(),
                x.write_errors.to_string(),
                "".into(),
            ]);
            out.push_str(&format!("\nexception device: {}\n", x.device));
            out.push_str(&t.render());
        }
    }
    out
}

pub fn interfaces(v: &[InterfaceView]) -> String {
    let mut t = Table::new(&[
        ("INTERFACE", Left),
        ("ROLE", Left),
        ("IFINDEX", Right),
        ("XDP MODE", Left),
        ("ATTACHED", Left),
        ("PROG", Right),
        ("MAC", Left),
        ("MTU", Right),
        ("LINK", Left),
        ("PIN", Left),
    ]);
    for i in v {
        t.row(vec![
            i.name.clone(),
            i.role.clone(),
            opt(&i.ifindex),
            i.xdp_mode.clone(),
            i.attached.clone().unwrap_or_else(|| "no".into()),
            opt(&i.prog_id),
            opt(&i.mac),
            opt(&i.mtu),
            if i.up { "up".into() } else { "down".into() },
            opt(&i.link_pin),
        ]);
    }
    if t.is_empty() {
        return "no interfaces\n".into();
    }
    t.render()
}

pub fn dataplane(v: &DataplaneView) -> String {
    let mut out = format!(
        "pin dir: {}\nprogram id: {}\n\n",
        v.pin_dir,
        opt(&v.program_id)
    );
    let mut maps = Table::new(&[("MAP", Left), ("ID", Right)]);
    for m in &v.maps {
        maps.row(vec![m.name.clone(), m.id.to_string()]);
    }
    out.push_str(&maps.render());
    let mut t = Table::new(&[
        ("ATTACHED", Left),
        ("PROGRAM", Left),
        ("IFINDEX", Right),
        ("MODE", Left),
        ("PROG", Right),
        ("LINK PIN", Left),
    ]);
    for a in &v.attached {
        t.row(vec![
            a.interface.clone(),
            a.role.clone(),
            a.ifindex.to_string(),
            a.mode.clone(),
            a.prog_id.to_string(),
            a.link_pin.clone(),
        ]);
    }
    out.push('\n');
    if t.is_empty() {
        out.push_str("no interface attached\n");
    } else {
        out.push_str(&t.render());
    }
    if !v.interfaces.is_empty() {
        let mut t = Table::new(&[("INTERFACE", Left), ("FAST PATH", Left), ("QUEUES", Right)]);
        for i in &v.interfaces {
            t.row(vec![i.interface.clone(), i.mode.clone(), opt(&i.queues)]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }
    if let Some(d) = &v.exception_device {
        out.push_str(&format!(
            "AF_XDP exception device (frames for the kernel): {d}\n"
        ));
    }
    out
}

pub fn reload(v: &ReloadView) -> String {
    let mut out = format!(
        "reloaded {}: {} groups, {} members, {} FIB operations\n",
        v.config, v.groups, v.members, v.operations
    );
    if !v.attached.is_empty() {
        out.push_str(&format!("attached: {}\n", v.attached.join(", ")));
    }
    if !v.detached.is_empty() {
        out.push_str(&format!("detached: {}\n", v.detached.join(", ")));
    }
    out.push_str(&format!("runtime changes kept: {}\n", v.overlays_kept));
    for d in &v.overlays_dropped {
        out.push_str(&format!("runtime change dropped: {d}\n"));
    }
    for w in &v.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    if let Some(c) = &v.confirm {
        out.push_str(&format!(
            "rolls back in {} s unless confirmed: anycast6ctl confirm\n",
            c.timeout_s
        ));
    }
    if v.confirmed_pending {
        out.push_str("the reload that awaited confirmation is confirmed\n");
    }
    out
}

pub fn confirm(v: &ConfirmView) -> String {
    format!(
        "confirmed {} ({} s were left before the rollback)\n",
        v.config, v.seconds_left
    )
}

pub fn reload_diff(v: &ReloadDiffView) -> String {
    let mut out = format!("{} against the running config", v.config);
    out.push_str(if v.unconfirmed {
        " (a reload awaiting confirmation):\n"
    } else {
        ":\n"
    });
    if v.keys.is_empty() {
        out.push_str("no change\n");
    } else {
        out.push_str(&crate::config::diff::render(&v.keys));
    }
    let lists = [
        ("attach", &v.interfaces_attach),
        ("detach", &v.interfaces_detach),
        ("group added", &v.groups_added),
        ("group removed", &v.groups_removed),
        ("member added", &v.members_added),
        ("member removed", &v.members_removed),
        ("member changed", &v.members_changed),
        ("runtime change dropped", &v.overlays_dropped),
    ];
    for (what, items) in lists {
        for i in items.iter() {
            out.push_str(&format!("{what}: {i}\n"));
        }
    }
    for s in &v.sections {
        out.push_str(&format!("{s}\n"));
    }
    match &v.refused {
        Some(e) => out.push_str(&format!("a reload would be refused:\n{e}\n")),
        None if v.keys.is_empty() => {}
        None => out.push_str("a reload would apply this (nothing applied)\n"),
    }
    out
}

pub fn member_change(v: &MemberChangeView) -> String {
    format!(
        "member {} of {}{}: {} ({} FIB operations)\n",
        v.address,
        v.group,
        v.interface
            .as_ref()
            .map(|i| format!(" on {i}"))
            .unwrap_or_default(),
        v.change,
        v.operations
    )
}

pub fn shutdown(v: &ShutdownView) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    shutdown_at(v, now)
}

/// [`shutdown`] at Unix time `now`.
fn shutdown_at(v: &ShutdownView, now: u64) -> String {
    let mut out = String::from("anycast6d stopped; forwarding goes on with the pinned FIB\n");
    match (&v.aospf, v.graceful) {
        (Some(a), _) => {
            out.push_str(&format!(
                "AOSPF graceful restart announced: Grace-LSAs {}\n",
                if a.acknowledged {
                    "acknowledged by every neighbour"
                } else {
                    "not all acknowledged within 4 s"
                }
            ));
            out.push_str(&format!(
                "start the new anycast6d within {} s (before Unix time {}; grace period {} s)\n",
                a.until_unix.saturating_sub(now),
                a.until_unix,
                a.grace_period_s
            ));
            out.push_str(&format!(
                "left for it: {} AOSPF kernel routes, {} AOSPF anycast members, {} neighbour entries ({})\n",
                a.kernel_routes, a.members, v.neighbours_kept, v.state_file
            ));
        }
        (None, true) => out.push_str("AOSPF not running: nothing to restart gracefully\n"),
        (None, false) => {}
    }
    out
}

pub fn destroy(v: &DestroyView) -> String {
    format!(
        "destroyed {}: programs detached, pins removed ({} kernel objects removed)\n",
        v.pin_dir, v.kernel_objects_removed
    )
}

/// `show rib`: per anycast address, every member or next hop with where it
/// came from and whether it is installed.
pub fn rib(v: &[MemberView]) -> String {
    let mut t = Table::new(&[
        ("ANYCAST", Left),
        ("SOURCE", Left),
        ("AD", Right),
        ("MEMBER", Left),
        ("NEXT HOP", Left),
        ("INTERFACE", Left),
        ("METRIC", Right),
        ("STATE", Left),
    ]);
    for m in v {
        t.row(vec![
            m.group.clone(),
            m.source.clone(),
            m.admin_distance.to_string(),
            m.address.clone(),
            m.next_hop.clone().unwrap_or_else(|| "-".into()),
            m.interface.clone().unwrap_or_else(|| "-".into()),
            m.distance.to_string(),
            m.state.clone(),
        ]);
    }
    if t.is_empty() {
        return "RIB empty\n".into();
    }
    t.render()
}

/// `show ard`: the members a router heard, or what a member announces.
pub fn ard(v: &serde_json::Value) -> String {
    let mut out = String::new();
    let s = cell;
    if let Some(r) = v.get("router").filter(|r| !r.is_null()) {
        let mut t = Table::new(&[
            ("INTERFACE", Right),
            ("MEMBER", Left),
            ("UNICAST", Left),
            ("ANYCAST", Left),
            ("METRIC", Right),
            ("DRAINING", Left),
            ("EXPIRES MS", Right),
        ]);
        let ifs = r["router"]["interfaces"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for i in &ifs {
            for m in i["members"].as_array().into_iter().flatten() {
                for a in m["addresses"].as_array().into_iter().flatten() {
                    t.row(vec![
                        s(&i["ifindex"]),
                        s(&m["link_local"]),
                        s(&m["unicast"]),
                        s(&a["anycast"]),
                        s(&a["metric"]),
                        s(&a["draining"]),
                        s(&a["expires_in_ms"]),
                    ]);
                }
            }
        }
        out.push_str(&format!("ARD router on {} interface(s)\n", ifs.len()));
        if t.is_empty() {
            out.push_str("no members heard\n");
        } else {
            out.push_str(&t.render());
        }
        let l = &r["router"]["address_limit"];
        out.push_str(&format!(
            "address limit: {} held of max_addresses {} ({}), max_addresses_per_member {}, \
             max_addresses_per_interface {}, refused {}\n",
            s(&l["held"]),
            s(&l["limit"]),
            s(&l["state"]),
            s(&l["per_key_limit"]),
            s(&r["router"]["max_addresses_per_interface"]),
            s(&l["refused"]),
        ));
        for i in &ifs {
            for m in i["members"].as_array().into_iter().flatten() {
                if m["addresses_refused"].as_u64().is_some_and(|n| n > 0) {
                    out.push_str(&format!(
                        "  member {} on ifindex {}: {} addresses refused\n",
                        s(&m["link_local"]),
                        s(&i["ifindex"]),
                        s(&m["addresses_refused"]),
                    ));
                }
            }
        }
        out.push_str(&format!("counters: {}\n", r["counters"]));
    }
    if let Some(m) = v.get("member").filter(|m| !m.is_null()) {
        out.push_str(&format!(
            "ARD member: {}\ncounters: {}\n",
            m["member"], m["counters"]
        ));
    }
    if out.is_empty() {
        out.push_str("ARD is not configured ([ard] or [member.ard])\n");
    }
    out
}

/// `resolve`: one line.
pub fn resolve(v: &serde_json::Value) -> String {
    let s = |k: &str| match &v[k] {
        serde_json::Value::String(s) => s.clone(),
        x => x.to_string(),
    };
    format!(
        "{} -> {} (from {}, lifetime {} ms, preference {}, {})\n",
        s("anycast"),
        s("member"),
        s("source"),
        s("lifetime_ms"),
        s("preference"),
        if v["authenticated"] == true {
            "authenticated"
        } else {
            "unsigned"
        }
    )
}

/// `show aarp`.
pub fn aarp(v: &serde_json::Value) -> String {
    if v.is_null() {
        return "AARP is not configured ([aarp])\n".into();
    }
    format!(
        "AARP: answer_for_members {}, unicast {}, lifetime {} ms, preference {}, keyed {}\ncounters: {}\n",
        v["answer_for_members"], v["unicast"], v["lifetime_ms"], v["preference"], v["authenticated"], v["counters"]
    )
}

/// `show arip`: the ARIP table, one row per path (or per origin).
pub fn arip(v: &serde_json::Value) -> String {
    if v.is_null() {
        return "ARIP is not configured ([arip])\n".into();
    }
    let s = cell;
    let mut t = Table::new(&[
        ("PREFIX", Left),
        ("KIND", Left),
        ("METRIC", Right),
        ("TAG", Right),
        ("VIA", Left),
        ("IFINDEX", Right),
        ("INSTALLED", Left),
        ("EXPIRES MS", Right),
    ]);
    for r in v["view"]["routes"].as_array().into_iter().flatten() {
        let prefix = match &r["prefix"] {
            serde_json::Value::Object(o) => format!(
                "{}/{}",
                s(o.get("addr").unwrap_or(&serde_json::Value::Null)),
                s(o.get("len").unwrap_or(&serde_json::Value::Null))
            ),
            p => s(p),
        };
        let kind = if r["anycast"] == true {
            "anycast"
        } else {
            "unicast"
        };
        if r["local_metric"].is_number() {
            t.row(vec![
                prefix.clone(),
                kind.into(),
                s(&r["local_metric"]),
                s(&r["tag"]),
                "local".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for p in r["paths"].as_array().into_iter().flatten() {
            t.row(vec![
                prefix.clone(),
                kind.into(),
                s(&p["metric"]),
                s(&p["tag"]),
                s(&p["next_hop"]),
                s(&p["ifindex"]),
                s(&p["installed"]),
                s(&p["expires_in_ms"]),
            ]);
        }
    }
    let mut out = if t.is_empty() {
        "no ARIP routes\n".to_string()
    } else {
        t.render()
    };
    let mut n = Table::new(&[
        ("NEIGHBOR", Left),
        ("IFINDEX", Right),
        ("ROUTES", Right),
        ("REFUSED", Right),
        ("BAD PACKETS", Right),
        ("BAD ENTRIES", Right),
        ("HEARD MS AGO", Right),
    ]);
    for x in v["view"]["neighbors"].as_array().into_iter().flatten() {
        n.row(vec![
            s(&x["addr"]),
            s(&x["ifindex"]),
            s(&x["routes_held"]),
            s(&x["routes_refused"]),
            s(&x["bad_packets"]),
            s(&x["bad_entries"]),
            s(&x["last_heard_ms_ago"]),
        ]);
    }
    if !n.is_empty() {
        out.push_str(&n.render());
    }
    let l = &v["view"]["route_limit"];
    out.push_str(&format!(
        "route limit: {} held of max_routes {} ({}), max_routes_per_neighbor {}, refused {}\n",
        s(&l["held"]),
        s(&l["limit"]),
        s(&l["state"]),
        s(&l["per_key_limit"]),
        s(&l["refused"]),
    ));
    out.push_str(&format!("counters: {}\n", v["counters"]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_says_what_to_do_next() {
        let v = ShutdownView {
            graceful: true,
            state_file: "/var/lib/anycast6/state.json".into(),
            aospf: Some(GracefulRestartView {
                until_unix: 1_700_000_120,
                grace_period_s: 120,
                acknowledged: true,
                kernel_routes: 3,
                members: 1,
            }),
            neighbours_kept: 2,
        };
        assert_eq!(
            shutdown_at(&v, 1_700_000_004),
            "anycast6d stopped; forwarding goes on with the pinned FIB\n\
             AOSPF graceful restart announced: Grace-LSAs acknowledged by every neighbour\n\
             start the new anycast6d within 116 s (before Unix time 1700000120; grace period 120 s)\n\
             left for it: 3 AOSPF kernel routes, 1 AOSPF anycast members, 2 neighbour entries \
             (/var/lib/anycast6/state.json)\n"
        );
        let plain = ShutdownView {
            graceful: false,
            aospf: None,
            neighbours_kept: 0,
            ..v
        };
        assert_eq!(
            shutdown(&plain),
            "anycast6d stopped; forwarding goes on with the pinned FIB\n"
        );
    }

    #[test]
    fn groups_table() {
        let v = vec![
            GroupView {
                group: "2001:db8:ac::1".into(),
                kind: "addresses".into(),
                addresses: 100,
                group_id: Some(0),
                best_distance: Some(1),
                members: 3,
                installed: 2,
                active: 1,
                draining: 1,
                down: 0,
            },
            GroupView {
                group: "2001:db8:ad::/64".into(),
                kind: "prefix".into(),
                addresses: 1,
                group_id: Some(12),
                best_distance: None,
                members: 0,
                installed: 0,
                active: 0,
                draining: 0,
                down: 0,
            },
        ];
        assert_eq!(
            groups(&v),
            "GROUP             KIND       ADDRS  ID  DISTANCE  MEMBERS  INSTALLED  ACTIVE  DRAINING  DOWN\n\
             2001:db8:ac::1    addresses    100   0         1        3          2       1         1     0\n\
             2001:db8:ad::/64  prefix         1  12         -        0          0       0         0     0\n"
        );
        assert_eq!(groups(&[]), "no groups\n");
    }

    #[test]
    fn counters_table_names_reasons() {
        let v = CountersView {
            reasons: vec![
                ReasonCount {
                    reason: "fwd_rewrite".into(),
                    verdict: "redirect".into(),
                    packets: 1500,
                    bytes: 2_100_000,
                },
                ReasonCount {
                    reason: "drop_trunc_ipv6".into(),
                    verdict: "drop".into(),
                    packets: 2,
                    bytes: 40,
                },
            ],
            groups: vec![],
            members: vec![MemberCount {
                member_id: 4,
                group: Some("2001:db8:ac::1".into()),
                address: Some("2001:db8:1::10".into()),
                packets: 1500,
                bytes: 2_100_000,
            }],
            decap: vec![],
            tunnel: vec![],
            afxdp: None,
        };
        assert_eq!(
            counters(&v),
            "REASON           VERDICT   PACKETS    BYTES\n\
             fwd_rewrite      redirect     1500  2100000\n\
             drop_trunc_ipv6  drop            2       40\n\
             \n\
             GROUP           MEMBER          ID  PACKETS    BYTES\n\
             2001:db8:ac::1  2001:db8:1::10   4     1500  2100000\n"
        );
    }

    #[test]
    fn member_change_line() {
        let v = MemberChangeView {
            group: "2001:db8:ac::1".into(),
            address: "2001:db8:1::10".into(),
            interface: Some("eth1".into()),
            change: "draining".into(),
            operations: 1,
        };
        assert_eq!(
            member_change(&v),
            "member 2001:db8:1::10 of 2001:db8:ac::1 on eth1: draining (1 FIB operations)\n"
        );
    }

    #[test]
    fn arip_shows_neighbours_and_the_route_limit() {
        let v = serde_json::json!({
            "view": {
                "routes": [],
                "neighbors": [{"addr": "fe80::2", "ifindex": 3, "routes_held": 1000,
                    "routes_refused": 99000, "bad_packets": 0, "bad_entries": 0,
                    "last_heard_ms_ago": 12}],
                "route_limit": {"limit": 4000, "per_key_limit": 1000, "warn_percent": 75,
                    "held": 1004, "refused": 99000, "state": "normal"},
            },
            "counters": {},
        });
        let out = arip(&v);
        assert!(out.contains("fe80::2         3    1000    99000"), "{out}");
        assert!(
            out.contains(
                "route limit: 1004 held of max_routes 4000 (normal), max_routes_per_neighbor 1000, refused 99000\n"
            ),
            "{out}"
        );
    }
}
