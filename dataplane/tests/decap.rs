//! The member-side decap program through BPF_PROG_TEST_RUN: IPv6-in-IPv6 to
//! a served anycast address is stripped to Ethernet + the inner packet,
//! everything else passes untouched, truncated tunnels are dropped, and
//! every verdict is counted.

mod common;

use std::net::Ipv6Addr;

use anycast6_dataplane::{
    loader::Decap,
    testrun::{XDP_DROP, XDP_PASS},
};
use common::{root_or_skip, PinDir};

const SERVED: &str = "2001:db8:ac::1";
const OTHER: &str = "2001:db8:ac::99";

fn eth(vlan: Option<u16>) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a];
    if let Some(tci) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&[0x86, 0xdd]);
    f
}

fn ipv6(next: u8, payload_len: u16, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let mut h = vec![0x60, 0x01, 0x23, 0x45];
    h.extend_from_slice(&payload_len.to_be_bytes());
    h.push(next);
    h.push(63);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h
}

/// Inner UDP packet from a client to `dst`.
fn inner(dst: &str) -> Vec<u8> {
    let payload = b"anycast6 decap test payload";
    let mut udp = vec![0x9c, 0x40, 0x1b, 0x58];
    udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut p = ipv6(
        17,
        udp.len() as u16,
        "2001:db8:c::2".parse().unwrap(),
        dst.parse().unwrap(),
    );
    p.extend_from_slice(&udp);
    p
}

fn tunnelled(vlan: Option<u16>, inner_pkt: &[u8]) -> Vec<u8> {
    let mut f = eth(vlan);
    f.extend_from_slice(&ipv6(
        41,
        inner_pkt.len() as u16,
        "2001:db8:ffff::1".parse().unwrap(),
        "2001:db8:a::5".parse().unwrap(),
    ));
    f.extend_from_slice(inner_pkt);
    f
}

#[test]
fn decap_verdicts_and_counters() {
    if !root_or_skip("decap_verdicts_and_counters: BPF_PROG_TEST_RUN") {
        return;
    }
    let pins = PinDir::new("decap");
    let mut d = Decap::open(&pins.path).expect("load decap");
    d.set_served(&[SERVED.parse().unwrap(), "2001:db8:ac::2".parse().unwrap()])
        .unwrap();
    d.set_served(&[SERVED.parse().unwrap()]).unwrap();
    assert_eq!(
        d.served().unwrap(),
        vec![SERVED.parse::<Ipv6Addr>().unwrap()]
    );

    // Served: Ethernet kept, outer header gone, inner packet intact.
    for vlan in [None, Some(0x0064)] {
        let inner_pkt = inner(SERVED);
        let f = tunnelled(vlan, &inner_pkt);
        let r = d.test_run(&f).unwrap();
        assert_eq!(r.action, XDP_PASS);
        let mut want = eth(vlan);
        want.extend_from_slice(&inner_pkt);
        assert_eq!(r.frame, want, "vlan {vlan:?}");
    }
    // Tunnelled to an address this member does not serve: untouched.
    let f = tunnelled(None, &inner(OTHER));
    let r = d.test_run(&f).unwrap();
    assert_eq!((r.action, &r.frame), (XDP_PASS, &f));
    // Plain IPv6 to the served address: not a tunnel, untouched.
    let mut plain = eth(None);
    plain.extend_from_slice(&inner(SERVED));
    let r = d.test_run(&plain).unwrap();
    assert_eq!((r.action, &r.frame), (XDP_PASS, &plain));
    // Not IPv6 at all (ARP).
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    let r = d.test_run(&arp).unwrap();
    assert_eq!((r.action, &r.frame), (XDP_PASS, &arp));
    // Tunnel cut inside the inner header, and outer header cut short.
    let f = tunnelled(None, &inner(SERVED));
    let r = d.test_run(&f[..14 + 40 + 20]).unwrap();
    assert_eq!(r.action, XDP_DROP);
    let r = d.test_run(&f[..14 + 30]).unwrap();
    assert_eq!(r.action, XDP_DROP);

    let c = d.counters().unwrap();
    let get = |n: &str| c.iter().find(|e| e.0 == n).map(|e| e.1).unwrap();
    assert_eq!(get("decap"), 2);
    assert_eq!(get("pass_not_served"), 1);
    assert_eq!(get("pass_not_tunnel"), 2);
    assert_eq!(get("drop_trunc"), 2);
    assert_eq!(get("drop_adjust"), 0);

    // Reopen: the served set and the counters live in the pinned maps.
    let ids = d.map_ids().unwrap();
    drop(d);
    let d = Decap::open(&pins.path).unwrap();
    assert_eq!(d.map_ids().unwrap(), ids);
    assert_eq!(
        d.served().unwrap(),
        vec![SERVED.parse::<Ipv6Addr>().unwrap()]
    );
    assert_eq!(d.counters().unwrap(), c);
}
