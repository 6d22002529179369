//! The ARD router's address limits (docs/ard.md §4.3) on a simulated clock:
//! per member, in all, and per interface. Reports are built by hand so a
//! test says exactly what a (hostile) member sends.

use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_ard::packet::{Message, Packet, Record, RecordType, Report};
use anycast6_ard::{ArdRouter, RouterConfig, RouterOutput};
use anycast6_core::{Instant, LimitConfig, RibChange};

fn ip(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

const IF1: u32 = 1;
const IF2: u32 = 2;

fn at_ms(v: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(v)
}

fn member(i: u16) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0x10, i)
}

fn anycast(i: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, i)
}

/// Per member `per`, in all `total`, per interface `per_if`; warning at 75 %.
fn router(per: usize, total: usize, per_if: usize) -> ArdRouter {
    let cfg = RouterConfig {
        query_interval: Duration::from_secs(1),
        max_response_delay: Duration::from_millis(100),
        max_addresses_per_interface: per_if,
        limit: LimitConfig::new(per, total, 75),
        ..RouterConfig::default()
    };
    let mut r = ArdRouter::new(cfg, Instant::ZERO).unwrap();
    r.add_interface(Instant::ZERO, IF1, ip("fe80::1")).unwrap();
    r.add_interface(Instant::ZERO, IF2, ip("fe80::2")).unwrap();
    drain(&mut r);
    r
}

fn report(kind: RecordType, addrs: std::ops::Range<u16>, metric: u32, complete: bool) -> Vec<u8> {
    Packet {
        message: Message::Report(Report {
            hold_time: Duration::from_millis(3000),
            member_unicast: ip("2001:db8:1::10"),
            complete,
            records: addrs
                .map(|i| Record {
                    kind,
                    draining: false,
                    metric,
                    anycast: anycast(i),
                })
                .collect(),
        }),
        auth: None,
    }
    .encode()
}

fn send(r: &mut ArdRouter, now: Instant, ifindex: u32, m: u16, bytes: &[u8]) {
    r.handle_packet(now, ifindex, member(m), 255, bytes);
}

/// (upserts, withdrawals) the router emitted since the last drain.
fn drain(r: &mut ArdRouter) -> (Vec<Ipv6Addr>, Vec<Ipv6Addr>) {
    let (mut up, mut wd) = (Vec::new(), Vec::new());
    while let Some(o) = r.poll_output() {
        match o {
            RouterOutput::Rib(RibChange::Upsert(e)) => up.push(e.anycast),
            RouterOutput::Rib(RibChange::Withdraw { anycast, .. }) => wd.push(anycast),
            RouterOutput::Send(_) => {}
        }
    }
    (up, wd)
}

/// (addresses held, addresses refused) of member `m` on `ifindex`.
fn held(r: &ArdRouter, ifindex: u32, m: u16) -> (usize, u64) {
    r.view(Instant::ZERO)
        .interfaces
        .iter()
        .filter(|i| i.ifindex == ifindex)
        .flat_map(|i| i.members.iter())
        .find(|x| x.link_local == member(m))
        .map_or((0, 0), |x| (x.addresses.len(), x.addresses_refused))
}

#[test]
fn member_limit_refuses_new_addresses_and_logs_once() {
    let mut r = router(4, 100, 100);
    for t in 0..5 {
        send(
            &mut r,
            at_ms(t * 100),
            IF1,
            1,
            &report(RecordType::Current, 1..11, 0, true),
        );
    }
    let (up, wd) = drain(&mut r);
    assert_eq!(
        up,
        (1..5).map(anycast).collect::<Vec<_>>(),
        "the first four"
    );
    assert!(wd.is_empty(), "nothing held is withdrawn: {wd:?}");
    assert_eq!(held(&r, IF1, 1), (4, 30));
    let c = r.counters();
    assert_eq!(
        (
            c.record_errors.member_limit,
            c.record_errors.total_limit,
            c.limit_warnings,
            c.limit_reached
        ),
        (30, 0, 1, 1),
        "five reports, one warning, one limit"
    );
    let v = r.view(Instant::ZERO).address_limit;
    assert_eq!(
        (v.held, v.refused, v.per_key_limit, v.limit),
        (4, 30, 4, 100)
    );
}

#[test]
fn refresh_and_change_of_held_addresses_go_through() {
    let mut r = router(2, 100, 100);
    // Reported every second for 10 s with a 3 s hold: never expires.
    for t in 0..10 {
        send(
            &mut r,
            at_ms(t * 1000),
            IF1,
            1,
            &report(RecordType::Current, 1..5, 0, true),
        );
        r.handle_timeout(at_ms(t * 1000 + 500));
    }
    let (up, wd) = drain(&mut r);
    assert_eq!(up.len(), 2);
    assert!(wd.is_empty());
    // A metric change of a held address is an upsert; the refused stay out.
    send(
        &mut r,
        at_ms(10_000),
        IF1,
        1,
        &report(RecordType::Change, 1..5, 3, false),
    );
    assert_eq!(drain(&mut r).0, [anycast(1), anycast(2)]);
}

#[test]
fn leave_frees_room() {
    let mut r = router(2, 100, 100);
    send(
        &mut r,
        at_ms(0),
        IF1,
        1,
        &report(RecordType::Current, 1..4, 0, false),
    );
    send(
        &mut r,
        at_ms(10),
        IF1,
        1,
        &report(RecordType::Leave, 1..2, 0, false),
    );
    assert_eq!(
        drain(&mut r),
        (vec![anycast(1), anycast(2)], vec![anycast(1)])
    );
    send(
        &mut r,
        at_ms(20),
        IF1,
        1,
        &report(RecordType::Current, 3..4, 0, false),
    );
    assert_eq!(drain(&mut r).0, [anycast(3)]);
    // A complete report that lists fewer addresses frees their room too.
    send(
        &mut r,
        at_ms(30),
        IF1,
        1,
        &report(RecordType::Current, 3..4, 0, true),
    );
    assert_eq!(drain(&mut r).1, [anycast(2)]);
    send(
        &mut r,
        at_ms(40),
        IF1,
        1,
        &report(RecordType::Current, 5..7, 0, false),
    );
    assert_eq!(drain(&mut r).0, [anycast(5)]);
    assert_eq!(held(&r, IF1, 1).0, 2);
}

#[test]
fn member_expiry_frees_room_and_forgets_the_member() {
    let mut r = router(3, 5, 100);
    send(
        &mut r,
        at_ms(0),
        IF1,
        1,
        &report(RecordType::Current, 1..4, 0, true),
    );
    send(
        &mut r,
        at_ms(0),
        IF1,
        2,
        &report(RecordType::Current, 11..14, 0, true),
    );
    assert_eq!(held(&r, IF1, 2), (2, 1), "total 5");
    drain(&mut r);
    // Member 1 falls silent; member 2 reports every 500 ms.
    let mut t = 0;
    while t < 5000 {
        t += 500;
        r.handle_timeout(at_ms(t));
        send(
            &mut r,
            at_ms(t),
            IF1,
            2,
            &report(RecordType::Current, 11..14, 0, true),
        );
    }
    let (up, wd) = drain(&mut r);
    assert_eq!(wd, [anycast(1), anycast(2), anycast(3)]);
    assert_eq!(up, [anycast(13)], "member 2's refused address, asked again");
    assert_eq!(held(&r, IF1, 2).0, 3);
    assert_eq!(held(&r, IF1, 1), (0, 0), "member 1 forgotten");
    assert_eq!(r.view(Instant::ZERO).address_limit.held, 3);
}

#[test]
fn total_and_per_member_and_per_interface_limits() {
    let mut r = router(4, 6, 5);
    send(
        &mut r,
        at_ms(0),
        IF1,
        1,
        &report(RecordType::Current, 1..11, 0, true),
    );
    send(
        &mut r,
        at_ms(0),
        IF1,
        2,
        &report(RecordType::Current, 11..21, 0, true),
    );
    send(
        &mut r,
        at_ms(0),
        IF2,
        3,
        &report(RecordType::Current, 21..31, 0, true),
    );
    assert_eq!(held(&r, IF1, 1), (4, 6), "member limit");
    // Interface 1 holds 5: member 2 gets one, the rest is table_full
    // (not counted against the member: the interface was full).
    assert_eq!(held(&r, IF1, 2), (1, 0));
    assert_eq!(held(&r, IF2, 3), (1, 9), "total limit 6");
    let c = r.counters().record_errors;
    assert_eq!((c.member_limit, c.total_limit, c.table_full), (6, 9, 9));
    let v = r.view(Instant::ZERO);
    assert_eq!((v.address_limit.held, v.address_limit.refused), (6, 15));
    assert_eq!(v.max_addresses_per_interface, 5);
    // Removing the interface releases what its members held.
    r.remove_interface(IF1);
    assert_eq!(r.view(Instant::ZERO).address_limit.held, 1);
    send(
        &mut r,
        at_ms(10),
        IF2,
        3,
        &report(RecordType::Current, 21..31, 0, true),
    );
    assert_eq!(held(&r, IF2, 3).0, 4);
}

#[test]
fn bad_limits_are_refused() {
    let cfg = RouterConfig {
        limit: LimitConfig::new(1, 0, 75),
        ..RouterConfig::default()
    };
    assert!(ArdRouter::new(cfg, Instant::ZERO).is_err());
    let cfg = RouterConfig {
        max_addresses_per_interface: 0,
        ..RouterConfig::default()
    };
    assert!(ArdRouter::new(cfg, Instant::ZERO).is_err());
}
