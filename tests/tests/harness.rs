//! The harness checked on its own, with plain kernel forwarding and no
//! anycast6d: if these fail, the topology tests' failures mean nothing.

use std::net::SocketAddrV6;
use std::time::Duration;

use anycast6_tests::topology::{Options, CLIENT, M1};
use anycast6_tests::traffic::pattern_byte;
use anycast6_tests::util::{pid_of_unique_name, unique_name};
use anycast6_tests::{require_root, wait_for, TcpTransfer, Topology, UdpStream};

#[test]
fn unique_names_carry_the_pid() {
    let a = unique_name("some-long-test-name");
    let b = unique_name("some-long-test-name");
    assert_ne!(a, b);
    assert!(a.starts_with("a6t-somelo-"), "{a}");
    assert_eq!(pid_of_unique_name(&a), Some(std::process::id()));
    assert_eq!(pid_of_unique_name("a6demo-r1"), None);
}

#[test]
fn transfer_pattern_is_a_function_of_the_offset() {
    let a: Vec<u8> = (0..4096).map(pattern_byte).collect();
    let b: Vec<u8> = (0..4096).map(pattern_byte).collect();
    assert_eq!(a, b);
    // Not periodic at any small shift: a repeated or shifted segment is caught.
    for shift in 1..64 {
        assert!((0..1024).any(|i| a[i] != a[i + shift]), "period {shift}");
    }
}

/// Kernel forwarding only: the router routes the anycast address to m1.
#[test]
fn harness_topology_with_kernel_forwarding() {
    if !require_root("harness_topology_with_kernel_forwarding") {
        return;
    }
    let topo = Topology::build("hk", Options { m4: true }).expect("topology");
    topo.router
        .add_route(
            &format!("{}/128", anycast6_tests::topology::ANYCAST),
            &M1.to_string(),
        )
        .expect("route");

    let census = topo.udp_census(20000, 50).expect("udp flows");
    assert_eq!(census.count("m1"), 50, "{census}");

    assert_eq!(topo.tcp_probe(100_000).expect("tcp probe"), "m1");

    let t = TcpTransfer::start(&topo.client, topo.tcp_dst(), 4 << 20, Some(16 << 20));
    wait_for("transfer progress", Duration::from_secs(10), || {
        t.verified() > 1 << 20
    })
    .expect("progress");
    let r = t.join().expect("transfer");
    assert_eq!((r.member.as_str(), r.verified), ("m1", 4 << 20));

    let s = UdpStream::start(
        &topo.client,
        SocketAddrV6::new(CLIENT, 30000, 0, 0),
        topo.udp_dst(),
        Duration::from_millis(1),
    );
    wait_for("stream", Duration::from_secs(10), || s.sent() >= 300).expect("stream");
    let rep = s.stop().expect("stream report");
    assert!(rep.lost.is_empty(), "lost {:?}", rep.lost);
    assert_eq!(rep.members.keys().collect::<Vec<_>>(), vec!["m1"]);
}
