//! The MGA programs through BPF_PROG_TEST_RUN, byte-exact (docs/mga.md 8):
//! the member's tc egress (reverse tunnel, Home Address option, flow
//! counts), the member decap program's type 2 routing header, and the
//! correspondent's tc egress (routing header) and XDP ingress (Home Address
//! option), each with its malformed inputs; and the round trips: what one
//! side's egress makes, the other side's ingress turns back into the packet
//! the sender's stack wrote.

mod common;

use std::net::Ipv6Addr;

use anycast6_dataplane::{
    loader::Decap,
    mga::{HomeEntry, MgaCorrespondent, MgaFlow, MgaMember},
    testrun::{TC_ACT_OK, TC_ACT_SHOT, XDP_DROP, XDP_PASS},
};
use common::{root_or_skip, PinDir};

const A: &str = "2001:db8:ac::1";
const CN: &str = "2001:db8:c::2";
const COA: &str = "2001:db8:3::10";
const HA: &str = "2001:db8:aa::2";
const CN_PORT: u16 = 40000;
const SVC_PORT: u16 = 7001;

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn eth(vlan: Option<u16>) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a];
    if let Some(tci) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&[0x86, 0xdd]);
    f
}

/// IPv6 header, traffic class 0xab, flow label 0x12345.
fn ipv6(next: u8, payload_len: usize, src: &str, dst: &str) -> Vec<u8> {
    let mut h = vec![0x6a, 0xb1, 0x23, 0x45];
    h.extend_from_slice(&(payload_len as u16).to_be_bytes());
    h.push(next);
    h.push(63);
    h.extend_from_slice(&a(src).octets());
    h.extend_from_slice(&a(dst).octets());
    h
}

/// A TCP segment (checksum field arbitrary: nothing here checks it, and
/// nothing may change it).
fn tcp(sport: u16, dport: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&[
        0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0xbe, 0xef, 0, 0,
    ]);
    t.extend_from_slice(b"mga fixture payload");
    t
}

fn udp(sport: u16, dport: u16) -> Vec<u8> {
    let payload = b"udp payload";
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0x12, 0x34]);
    u.extend_from_slice(payload);
    u
}

/// A frame: Ethernet, IPv6 (`next`), then `rest` (extension headers + L4).
fn frame(vlan: Option<u16>, next: u8, src: &str, dst: &str, rest: &[u8]) -> Vec<u8> {
    let mut f = eth(vlan);
    f.extend_from_slice(&ipv6(next, rest.len(), src, dst));
    f.extend_from_slice(rest);
    f
}

fn rh2(next: u8, home: &str) -> Vec<u8> {
    let mut h = vec![next, 2, 2, 1, 0, 0, 0, 0];
    h.extend_from_slice(&a(home).octets());
    h
}

fn hao(next: u8, home: &str) -> Vec<u8> {
    let mut h = vec![next, 2, 1, 2, 0, 0, 201, 16];
    h.extend_from_slice(&a(home).octets());
    h
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn tcp_flow() -> MgaFlow {
    MgaFlow {
        cn: a(CN),
        cn_port: CN_PORT,
        anycast: a(A),
        service_port: SVC_PORT,
        proto: 6,
    }
}

fn count(c: &[(&'static str, u64, u64)], name: &str) -> u64 {
    c.iter()
        .find(|e| e.0 == name)
        .unwrap_or_else(|| panic!("no counter {name}"))
        .1
}

#[test]
fn member_egress_tunnel_hao_and_flow_counts() {
    if !root_or_skip("member_egress_tunnel_hao_and_flow_counts: BPF_PROG_TEST_RUN") {
        return;
    }
    let pins = PinDir::new("mga-member");
    let mut m = MgaMember::open(&pins.path).expect("load the MGA member program");
    let home = HomeEntry {
        home_agent: a(HA),
        coa: a(COA),
        reverse_tunnel: true,
    };
    let other_a = a("2001:db8:ac::2");
    m.set_homes(&[
        (a(A), home),
        (
            other_a,
            HomeEntry {
                reverse_tunnel: false,
                ..home
            },
        ),
    ])
    .unwrap();
    assert_eq!(m.homes().unwrap().len(), 2);

    // Reply of the service, source A: the reverse tunnel to the home agent.
    let reply = frame(None, 6, A, CN, &tcp(SVC_PORT, CN_PORT));
    let r = m.test_run(&reply).unwrap();
    assert_eq!(r.action, TC_ACT_OK);
    let inner = &reply[14..];
    let mut outer = vec![0x6a, 0xb0, 0, 0];
    outer.extend_from_slice(&(inner.len() as u16).to_be_bytes());
    outer.extend_from_slice(&[41, 64]);
    outer.extend_from_slice(&a(COA).octets());
    outer.extend_from_slice(&a(HA).octets());
    assert_eq!(r.frame, cat(&[&eth(None), &outer, inner]), "reverse tunnel");

    // The flow bound (after the Acknowledgement): source CoA + Home Address option.
    m.set_ro_flow(&tcp_flow(), a(COA)).unwrap();
    assert_eq!(m.ro_flows().unwrap(), vec![(tcp_flow(), a(COA))]);
    let r = m.test_run(&reply).unwrap();
    assert_eq!(r.action, TC_ACT_OK);
    let want = frame(
        None,
        60,
        COA,
        CN,
        &cat(&[&hao(6, A), &tcp(SVC_PORT, CN_PORT)]),
    );
    assert_eq!(r.frame, want, "Home Address option");
    // Another flow of the same correspondent is not bound: tunnelled.
    let other_flow = frame(None, 6, A, CN, &tcp(SVC_PORT, CN_PORT + 1));
    let r = m.test_run(&other_flow).unwrap();
    assert_eq!(&r.frame[14 + 6..14 + 8], &[41, 64], "other flow tunnelled");
    // A Hop-by-Hop header must stay first: a bound flow with one is tunnelled.
    let hbh = [6u8, 0, 1, 4, 0, 0, 0, 0];
    let with_hbh = frame(None, 0, A, CN, &cat(&[&hbh, &tcp(SVC_PORT, CN_PORT)]));
    let r = m.test_run(&with_hbh).unwrap();
    assert_eq!(&r.frame[14 + 40..], &with_hbh[14..], "hbh: tunnelled whole");

    // Source A without reverse tunnelling: untouched.
    let direct = frame(None, 17, "2001:db8:ac::2", CN, &udp(53, 5353));
    let r = m.test_run(&direct).unwrap();
    assert_eq!((r.action, &r.frame), (TC_ACT_OK, &direct));
    // Not an MGA source, and not IPv6 (ARP): untouched. (A cut IPv6
    // header cannot be tested: the kernel refuses such a test run, and a
    // local stack never sends one.)
    let plain = frame(None, 6, COA, CN, &tcp(22, 50000));
    let r = m.test_run(&plain).unwrap();
    assert_eq!((r.action, &r.frame), (TC_ACT_OK, &plain));
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    let r = m.test_run(&arp).unwrap();
    assert_eq!((r.action, &r.frame), (TC_ACT_OK, &arp));
    assert_ne!(TC_ACT_OK, TC_ACT_SHOT);
    // A TCP header cut short: no ports, the flow keyed with ports 0, and
    // the packet tunnelled whole.
    let cut = frame(None, 6, A, CN, &tcp(SVC_PORT, CN_PORT)[..3]);
    let r = m.test_run(&cut).unwrap();
    assert_eq!(&r.frame[14 + 40..], &cut[14..], "cut TCP: tunnelled whole");

    // Flow counts, keyed as the correspondent sends: 2 of the bound flow.
    let flows = m.flows().unwrap();
    let c = flows
        .iter()
        .find(|f| f.0 == tcp_flow())
        .expect("bound flow counted");
    assert_eq!(c.1.packets, 3, "tunnelled once, optimised once, hbh once");
    assert!(c.1.last_ns >= c.1.first_ns && c.1.first_ns > 0);
    let udp_flow = MgaFlow {
        cn: a(CN),
        cn_port: 5353,
        anycast: other_a,
        service_port: 53,
        proto: 17,
    };
    assert!(flows.iter().any(|f| f.0 == udp_flow), "{flows:?}");
    let portless = MgaFlow {
        cn_port: 0,
        service_port: 0,
        ..tcp_flow()
    };
    assert!(flows.iter().any(|f| f.0 == portless), "{flows:?}");
    assert_eq!(flows.len(), 4, "{flows:?}");

    let c = m.counters().unwrap();
    assert_eq!(count(&c, "reverse_tunnel"), 4);
    assert_eq!(count(&c, "hao"), 1);
    assert_eq!(count(&c, "direct"), 1);
    assert_eq!(count(&c, "pass_other"), 2);
    assert_eq!(count(&c, "drop_adjust") + count(&c, "drop_too_big"), 0);

    // Ports only for TCP and UDP.
    let mut bad = tcp_flow();
    bad.proto = 58;
    assert!(m.set_ro_flow(&bad, a(COA)).is_err());

    // Pinned: a reopen sees the same maps and entries.
    let ids = m.map_ids().unwrap();
    m.remove_ro_flow(&tcp_flow()).unwrap();
    m.remove_ro_flow(&tcp_flow()).unwrap();
    drop(m);
    let mut m = MgaMember::open(&pins.path).unwrap();
    assert_eq!(m.map_ids().unwrap(), ids);
    assert!(m.ro_flows().unwrap().is_empty());
    m.set_homes(&[(a(A), home)]).unwrap();
    assert_eq!(m.homes().unwrap(), vec![(a(A), home)]);
}

#[test]
fn member_ingress_type2_routing_header() {
    if !root_or_skip("member_ingress_type2_routing_header: BPF_PROG_TEST_RUN") {
        return;
    }
    let pins = PinDir::new("mga-rh2");
    let mut d = Decap::open(&pins.path).expect("load decap");
    d.set_served(&[a(A)]).unwrap();
    let seg = tcp(CN_PORT, SVC_PORT);

    for vlan in [None, Some(0x0064)] {
        let f = frame(vlan, 43, CN, COA, &cat(&[&rh2(6, A), &seg]));
        let r = d.test_run(&f).unwrap();
        assert_eq!(r.action, XDP_PASS);
        assert_eq!(r.frame, frame(vlan, 6, CN, A, &seg), "vlan {vlan:?}");
    }
    // Not served: the kernel's.
    let f = frame(None, 43, CN, COA, &cat(&[&rh2(6, "2001:db8:ac::99"), &seg]));
    let r = d.test_run(&f).unwrap();
    assert_eq!((r.action, &r.frame), (XDP_PASS, &f));
    // Segments Left 0, and Hdr Ext Len 4: malformed type 2, dropped.
    let mut bad = rh2(6, A);
    bad[3] = 0;
    let f = frame(None, 43, CN, COA, &cat(&[&bad, &seg]));
    assert_eq!(d.test_run(&f).unwrap().action, XDP_DROP);
    let mut bad = rh2(6, A);
    bad[1] = 4;
    bad.extend_from_slice(&[0; 16]);
    let f = frame(None, 43, CN, COA, &cat(&[&bad, &seg]));
    assert_eq!(d.test_run(&f).unwrap().action, XDP_DROP);
    // Cut inside the routing header; payload length shorter than it.
    let f = frame(None, 43, CN, COA, &cat(&[&rh2(6, A), &seg]));
    assert_eq!(d.test_run(&f[..14 + 40 + 12]).unwrap().action, XDP_DROP);
    let mut short = f.clone();
    short[14 + 4..14 + 6].copy_from_slice(&16u16.to_be_bytes());
    assert_eq!(d.test_run(&short).unwrap().action, XDP_DROP);
    // Another routing type: untouched.
    let mut srh = rh2(6, A);
    srh[2] = 4;
    let f = frame(None, 43, CN, COA, &cat(&[&srh, &seg]));
    let r = d.test_run(&f).unwrap();
    assert_eq!((r.action, &r.frame), (XDP_PASS, &f));

    let c = d.counters().unwrap();
    assert_eq!(count(&c, "rh2"), 2);
    assert_eq!(count(&c, "pass_rh2_not_served"), 1);
    assert_eq!(count(&c, "drop_rh2_bad"), 2);
    assert_eq!(count(&c, "drop_trunc"), 2);
    assert_eq!(count(&c, "pass_not_tunnel"), 1);
}

#[test]
fn correspondent_egress_and_ingress() {
    if !root_or_skip("correspondent_egress_and_ingress: BPF_PROG_TEST_RUN") {
        return;
    }
    let pins = PinDir::new("mga-cn");
    let mut c = MgaCorrespondent::open(&pins.path).expect("load the MGA correspondent");
    let seg = tcp(CN_PORT, SVC_PORT);
    let request = frame(None, 6, CN, A, &seg);

    // Unbound: untouched.
    let r = c.test_run_egress(&request).unwrap();
    assert_eq!((r.action, &r.frame), (TC_ACT_OK, &request));
    c.set_flow(&tcp_flow(), a(COA)).unwrap();
    assert_eq!(c.flows().unwrap(), vec![(tcp_flow(), a(COA))]);
    let r = c.test_run_egress(&request).unwrap();
    assert_eq!(r.action, TC_ACT_OK);
    let routed = frame(None, 43, CN, COA, &cat(&[&rh2(6, A), &seg]));
    assert_eq!(r.frame, routed, "type 2 routing header");
    // Bound UDP flow: ports read after an extension header.
    let uflow = MgaFlow {
        cn_port: 5000,
        service_port: 53,
        proto: 17,
        ..tcp_flow()
    };
    c.set_flow(&uflow, a(COA)).unwrap();
    let dst_opts = [17u8, 0, 1, 4, 0, 0, 0, 0];
    let u = frame(None, 60, CN, A, &cat(&[&dst_opts, &udp(5000, 53)]));
    let r = c.test_run_egress(&u).unwrap();
    let want = frame(
        None,
        43,
        CN,
        COA,
        &cat(&[&rh2(60, A), &dst_opts, &udp(5000, 53)]),
    );
    assert_eq!(r.frame, want, "routing header before the other headers");
    // Hop-by-Hop first: left alone (it goes through the home agent).
    let hbh = [6u8, 0, 1, 4, 0, 0, 0, 0];
    let f = frame(None, 0, CN, A, &cat(&[&hbh, &seg]));
    let r = c.test_run_egress(&f).unwrap();
    assert_eq!((r.action, &r.frame), (TC_ACT_OK, &f));

    // Ingress: the member's reply with the Home Address option, from its CoA.
    let reply_seg = tcp(SVC_PORT, CN_PORT);
    let with_hao = frame(None, 60, COA, CN, &cat(&[&hao(6, A), &reply_seg]));
    for vlan in [None, Some(7)] {
        let f = frame(vlan, 60, COA, CN, &cat(&[&hao(6, A), &reply_seg]));
        let r = c.test_run_ingress(&f).unwrap();
        assert_eq!(r.action, XDP_PASS);
        assert_eq!(r.frame, frame(vlan, 6, A, CN, &reply_seg), "vlan {vlan:?}");
    }
    // From another source than the bound CoA; for an unbound flow: dropped.
    let forged = frame(None, 60, HA, CN, &cat(&[&hao(6, A), &reply_seg]));
    assert_eq!(c.test_run_ingress(&forged).unwrap().action, XDP_DROP);
    let unbound = frame(None, 60, COA, CN, &cat(&[&hao(6, A), &tcp(SVC_PORT, 1)]));
    assert_eq!(c.test_run_ingress(&unbound).unwrap().action, XDP_DROP);
    // Malformed: cut in the option; option length 8; two Home Address options.
    assert_eq!(
        c.test_run_ingress(&with_hao[..14 + 40 + 12])
            .unwrap()
            .action,
        XDP_DROP
    );
    let mut short_opt = hao(6, A);
    short_opt[7] = 8;
    short_opt[16..].fill(0);
    short_opt[16] = 1;
    short_opt[17] = 6;
    let f = frame(None, 60, COA, CN, &cat(&[&short_opt, &reply_seg]));
    assert_eq!(c.test_run_ingress(&f).unwrap().action, XDP_DROP);
    let mut two = vec![6u8, 5, 1, 2, 0, 0, 201, 16];
    two.extend_from_slice(&a(A).octets());
    two.extend_from_slice(&[1, 2, 0, 0, 201, 16]);
    two.extend_from_slice(&a(A).octets());
    two.extend_from_slice(&[1, 0]);
    assert_eq!(two.len(), 48);
    let f = frame(None, 60, COA, CN, &cat(&[&two, &reply_seg]));
    assert_eq!(c.test_run_ingress(&f).unwrap().action, XDP_DROP);
    // Destination Options without a Home Address option, plain TCP: untouched.
    let f = frame(None, 60, COA, CN, &cat(&[&dst_opts, &udp(53, 5000)]));
    let r = c.test_run_ingress(&f).unwrap();
    assert_eq!((r.action, &r.frame), (XDP_PASS, &f));
    let plain = frame(None, 6, COA, CN, &reply_seg);
    let r = c.test_run_ingress(&plain).unwrap();
    assert_eq!((r.action, &r.frame), (XDP_PASS, &plain));

    let k = c.counters().unwrap();
    assert_eq!(count(&k, "rh2"), 2);
    assert_eq!(count(&k, "pass_unbound"), 1);
    assert_eq!(count(&k, "pass_other"), 1);
    assert_eq!(count(&k, "hao"), 2);
    assert_eq!(count(&k, "hao_unknown"), 2);
    assert_eq!(count(&k, "drop_hao_bad"), 3);
    assert_eq!(count(&k, "pass_no_hao"), 2);

    c.remove_flow(&uflow).unwrap();
    c.remove_flow(&uflow).unwrap();
    let ids = c.map_ids().unwrap();
    drop(c);
    let c = MgaCorrespondent::open(&pins.path).unwrap();
    assert_eq!(c.map_ids().unwrap(), ids);
    assert_eq!(c.flows().unwrap(), vec![(tcp_flow(), a(COA))]);
}

/// What one side's egress makes, the other side's ingress turns back into
/// exactly what the sender's stack wrote (with the source or destination
/// the receiving socket expects: A).
#[test]
fn route_optimised_round_trips() {
    if !root_or_skip("route_optimised_round_trips: BPF_PROG_TEST_RUN") {
        return;
    }
    let pins = PinDir::new("mga-rt");
    let mut m = MgaMember::open(&pins.path).unwrap();
    let mut d = Decap::open(&pins.path).unwrap();
    let mut c = MgaCorrespondent::open(&pins.path).unwrap();
    m.set_homes(&[(
        a(A),
        HomeEntry {
            home_agent: a(HA),
            coa: a(COA),
            reverse_tunnel: true,
        },
    )])
    .unwrap();
    d.set_served(&[a(A)]).unwrap();
    m.set_ro_flow(&tcp_flow(), a(COA)).unwrap();
    c.set_flow(&tcp_flow(), a(COA)).unwrap();

    // Correspondent -> member.
    let request = frame(None, 6, CN, A, &tcp(CN_PORT, SVC_PORT));
    let wire = c.test_run_egress(&request).unwrap().frame;
    assert_ne!(wire, request);
    let r = d.test_run(&wire).unwrap();
    assert_eq!((r.action, &r.frame), (XDP_PASS, &request));
    // Member -> correspondent.
    let reply = frame(None, 6, A, CN, &tcp(SVC_PORT, CN_PORT));
    let wire = m.test_run(&reply).unwrap().frame;
    assert_ne!(wire, reply);
    let r = c.test_run_ingress(&wire).unwrap();
    assert_eq!((r.action, &r.frame), (XDP_PASS, &reply));
    // The reverse tunnel ends at the home agent, not at the correspondent:
    // an unbound flow's tunnelled reply is not the correspondent's to open.
    m.remove_ro_flow(&tcp_flow()).unwrap();
    let wire = m.test_run(&reply).unwrap().frame;
    let r = c.test_run_ingress(&wire).unwrap();
    assert_eq!((r.action, &r.frame), (XDP_PASS, &wire));
}

/// The tc and XDP links are pinned: they outlive the handles, a reopen's
/// attach keeps the link and switches it to the new program, detach and
/// destroy remove them.
#[test]
fn mga_links_pinned_kept_and_detached() {
    use anycast6_dataplane::{loader::AttachMode, Dataplane};
    use common::{in_netns, Netns};

    if !root_or_skip("mga_links_pinned_kept_and_detached: namespaces, TCX and XDP links") {
        return;
    }
    let ns = Netns::new("mgal");
    ns.ip(&[
        "link", "add", "a6v0", "type", "veth", "peer", "name", "a6v1",
    ]);
    let pins = PinDir::new("mga-links");
    let dir = pins.path.clone();
    let (m0, c0) = in_netns(&ns, {
        let dir = dir.clone();
        move || {
            let mut m = MgaMember::open(&dir).unwrap();
            let a = m.attach_egress("a6v0").unwrap();
            assert_eq!(a.ifname, "a6v0");
            assert_eq!(a.link_pin, dir.join("mgam_a6v0"));
            assert!(m.attach_egress("nonesuch0").is_err());
            let mut c = MgaCorrespondent::open(&dir).unwrap();
            let (t, x) = c.attach("a6v1", AttachMode::Native).unwrap();
            assert_eq!(x.mode, AttachMode::Native);
            assert_eq!(t.link_pin, dir.join("mgace_a6v1"));
            (a, t)
        }
    });
    assert!(ns.has_xdp("a6v1"), "XDP link survives the handles");
    in_netns(&ns, {
        let dir = dir.clone();
        move || {
            // The kernel still has the TCX link on a6v0 (bpf_link_info via
            // the pin: ifindex and program unchanged), though every handle
            // of the first process-like block is gone. (bpftool 7.1 here
            // does not list TCX links.)
            let mut m = MgaMember::open(&dir).unwrap();
            assert_eq!(m.attached().unwrap(), vec![m0.clone()]);
            let again = m.attach_egress("a6v0").unwrap();
            assert_eq!((again.ifindex, &again.link_pin), (m0.ifindex, &m0.link_pin));
            assert_ne!(
                again.prog_id, m0.prog_id,
                "the pinned link runs the new program"
            );
            m.detach("a6v0").unwrap();
            m.detach("a6v0").unwrap();
            assert!(m.attached().unwrap().is_empty());

            let mut c = MgaCorrespondent::open(&dir).unwrap();
            let (t, x) = c.attached().unwrap();
            assert_eq!((t.len(), x.len()), (1, 1));
            assert_eq!(t[0].prog_id, c0.prog_id);
            let (t2, _) = c.attach("a6v1", AttachMode::Native).unwrap();
            assert_ne!(t2.prog_id, c0.prog_id);
        }
    });
    Dataplane::destroy(&dir).unwrap();
    assert!(
        !ns.has_xdp("a6v1"),
        "destroy detaches the correspondent's XDP"
    );
    assert!(!dir.exists());
}
