use super::*;

fn small() -> Snapshot {
    let mut s = Snapshot {
        reasons: vec![
            ReasonCount {
                reason: "fwd_rewrite",
                verdict: "redirect",
                packets: 10,
                bytes: 1000,
            },
            ReasonCount {
                reason: "drop_malformed",
                verdict: "drop",
                packets: 2,
                bytes: 120,
            },
        ],
        tunnel: vec![ReasonCount {
            reason: "decap_ok",
            verdict: "",
            packets: 0,
            bytes: 0,
        }],
        groups: vec![(1, 10, 1000), (7, 3, 30)],
        members: vec![(4, 10, 1000)],
        reloads: (2, 1),
        ..Default::default()
    };
    s.names.groups.insert(
        1,
        GroupName {
            group: "2001:db8:ac::1".into(),
            id: "1".into(),
            members: [1, 0, 1],
        },
    );
    s.names.members.insert(
        4,
        MemberName {
            group: "2001:db8:ac::1".into(),
            member: "2001:db8:1::10".into(),
            id: "4".into(),
        },
    );
    s.failovers.insert("2001:db8:ac::1".into(), 1);
    s.protocols.running = vec![("ard", true), ("arip", false)];
    s.protocols.ard = Some((2, 3));
    s
}

fn render(s: Snapshot) -> String {
    let m = Metrics::default();
    let mut out = String::new();
    m.render(&mut out, |x| *x = s);
    out
}

#[test]
fn renders_a_small_state_exactly() {
    let got = render(small());
    let want = r#"# HELP anycast6_fastpath_packets Frames the fast path (XDP and AF_XDP) counted, by reason and verdict (packets)
# TYPE anycast6_fastpath_packets counter
anycast6_fastpath_packets_total{reason="fwd_rewrite",verdict="redirect"} 10
anycast6_fastpath_packets_total{reason="drop_malformed",verdict="drop"} 2
# HELP anycast6_fastpath_bytes Frames the fast path (XDP and AF_XDP) counted, by reason and verdict (bytes)
# TYPE anycast6_fastpath_bytes counter
anycast6_fastpath_bytes_total{reason="fwd_rewrite",verdict="redirect"} 1000
anycast6_fastpath_bytes_total{reason="drop_malformed",verdict="drop"} 120
# HELP anycast6_tunnel_packets Tunnelled packets this router ended, by reason (packets)
# TYPE anycast6_tunnel_packets counter
anycast6_tunnel_packets_total{reason="decap_ok"} 0
# HELP anycast6_tunnel_bytes Tunnelled packets this router ended, by reason (bytes)
# TYPE anycast6_tunnel_bytes counter
anycast6_tunnel_bytes_total{reason="decap_ok"} 0
# HELP anycast6_group_packets Forwarded to a group's members (packets)
# TYPE anycast6_group_packets counter
anycast6_group_packets_total{group="2001:db8:ac::1",group_id="1"} 10
anycast6_group_packets_total{group="",group_id="7"} 3
# HELP anycast6_group_bytes Forwarded to a group's members (bytes)
# TYPE anycast6_group_bytes counter
anycast6_group_bytes_total{group="2001:db8:ac::1",group_id="1"} 1000
anycast6_group_bytes_total{group="",group_id="7"} 30
# HELP anycast6_member_packets Forwarded to one member (packets)
# TYPE anycast6_member_packets counter
anycast6_member_packets_total{group="2001:db8:ac::1",member="2001:db8:1::10",member_id="4"} 10
# HELP anycast6_member_bytes Forwarded to one member (bytes)
# TYPE anycast6_member_bytes counter
anycast6_member_bytes_total{group="2001:db8:ac::1",member="2001:db8:1::10",member_id="4"} 1000
# HELP anycast6_group_members Members installed in a group's FIB entry, by state
# TYPE anycast6_group_members gauge
anycast6_group_members{group="2001:db8:ac::1",group_id="1",state="active"} 1
anycast6_group_members{group="2001:db8:ac::1",group_id="1",state="draining"} 0
anycast6_group_members{group="2001:db8:ac::1",group_id="1",state="down"} 1
# HELP anycast6_failovers Members that left a group's active set while the group stayed
# TYPE anycast6_failovers counter
anycast6_failovers_total{group="2001:db8:ac::1"} 1
# HELP anycast6_reloads Config reloads (SIGHUP or anycast6ctl reload), applied or refused
# TYPE anycast6_reloads counter
anycast6_reloads_total{result="ok"} 2
anycast6_reloads_total{result="refused"} 1
# HELP anycast6_protocol_running 1 while a protocol's task runs
# TYPE anycast6_protocol_running gauge
anycast6_protocol_running{protocol="ard"} 1
anycast6_protocol_running{protocol="arip"} 0
# HELP anycast6_ard_members ARD router: members known on its interfaces
# TYPE anycast6_ard_members gauge
anycast6_ard_members 2
# HELP anycast6_ard_addresses ARD router: anycast addresses the members registered (one per member and address)
# TYPE anycast6_ard_addresses gauge
anycast6_ard_addresses 3
# EOF
"#;
    assert_eq!(got, want);
}

#[test]
fn every_rendered_family_is_listed_in_series() {
    let mut s = small();
    s.decap = s.tunnel.clone();
    s.protocols.arip = Some((1, 1, 1));
    s.protocols.aospf = Some((Default::default(), 1, 1));
    s.protocols.piasm = Some((1, Default::default()));
    s.protocols.mga = Some((Default::default(), 1, 1));
    let text = render(s);
    let typed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let listed: Vec<&str> = SERIES.iter().map(|(n, _)| *n).collect();
    assert_eq!(typed, listed, "families rendered (in order) = SERIES");
    for (name, want) in SERIES {
        assert!(
            text.contains(&format!("# TYPE {name} {want}\n")),
            "{name} is a {want}"
        );
    }
}

#[test]
fn label_values_are_escaped() {
    let mut s = Snapshot::default();
    s.failovers.insert("a\"b\\c\nd".into(), 1);
    let text = render(s);
    assert!(
        text.contains(r#"anycast6_failovers_total{group="a\"b\\c\nd"} 1"#),
        "{text}"
    );
}
