//! Route limits (docs/arip.md §6) on one core and a simulated clock: what a
//! neighbour may make the router hold, per neighbour and in all.

use std::net::Ipv6Addr;
use std::time::Duration;

use crate::packet::{Command, Entry, Packet, Rte, PORT};
use crate::{Config, Instance, InterfaceConfig, KernelOp, Output};
use anycast6_core::{Instant, LimitConfig, RibChange};

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

const ME: &str = "fe80::1";
const P1: &str = "fe80::2";
const P2: &str = "fe80::3";
/// Second interface, where P3 speaks.
const ME2: &str = "fe80::1:1";
const P3: &str = "fe80::1:3";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn at(s: u64) -> Instant {
    Instant::ZERO + secs(s)
}

/// A core on interfaces 3 and 4 with route limits of `per` a neighbour
/// and `total` in all, warning at 75 %.
fn core(per: usize, total: usize) -> Instance {
    let cfg = Config {
        limit: LimitConfig::new(per, total, 75),
        ..Config::default()
    };
    let mut c = Instance::new(cfg, Instant::ZERO).unwrap();
    c.interface_up(Instant::ZERO, InterfaceConfig::new(3, "eth0", a(ME)))
        .unwrap();
    c.interface_up(Instant::ZERO, InterfaceConfig::new(4, "eth1", a(ME2)))
        .unwrap();
    drain(&mut c);
    c
}

/// `2001:db8:<i>::/48`.
fn prefix(i: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 0)
}

/// A response from `src` announcing prefixes `range` at `metric`.
fn announce(
    c: &mut Instance,
    now: Instant,
    ifindex: u32,
    src: &str,
    range: std::ops::Range<u16>,
    metric: u8,
) {
    let entries: Vec<Entry> = range
        .map(|i| {
            Entry::Route(Rte {
                prefix: prefix(i),
                tag: 0,
                plen: 48,
                metric,
            })
        })
        .collect();
    let bytes = Packet::new(Command::Response, entries).encode();
    c.handle_packet(now, ifindex, a(src), PORT, 255, &bytes);
}

fn drain(c: &mut Instance) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

/// (adds, removes) of kernel routes in `out`.
fn kernel_ops(out: &[Output]) -> (Vec<Ipv6Addr>, Vec<Ipv6Addr>) {
    let mut add = Vec::new();
    let mut rm = Vec::new();
    for o in out {
        if let Output::Kernel(k) = o {
            match k.op {
                KernelOp::Add => add.push(k.prefix),
                KernelOp::Remove => rm.push(k.prefix),
            }
        }
    }
    (add, rm)
}

/// (routes held, routes refused) of neighbour `src` in the view.
fn neighbour(c: &Instance, now: Instant, src: &str) -> (usize, u64) {
    let v = c.view(now);
    v.neighbors
        .iter()
        .find(|n| n.addr == a(src))
        .map_or((0, 0), |n| (n.routes_held, n.routes_refused))
}

#[test]
fn limit_reached_refuses_new_routes_and_keeps_the_installed() {
    let mut c = core(4, 100);
    announce(&mut c, at(1), 3, P1, 0..10, 1);
    let (add, rm) = kernel_ops(&drain(&mut c));
    assert_eq!(add, (0..4).map(prefix).collect::<Vec<_>>(), "first four");
    assert!(rm.is_empty());
    assert_eq!(neighbour(&c, at(1), P1), (4, 6));
    let cnt = c.counters();
    assert_eq!(
        (
            cnt.refused_routes.neighbor_limit,
            cnt.refused_routes.total_limit
        ),
        (6, 0)
    );
    // Refused prefixes are not in the table at all (no state kept).
    assert_eq!(c.view(at(1)).routes.len(), 4);
    assert_eq!(c.view(at(1)).route_limit.held, 4);
    // The whole set again (a periodic update): nothing new, nothing lost.
    announce(&mut c, at(2), 3, P1, 0..10, 1);
    let (add, rm) = kernel_ops(&drain(&mut c));
    assert!(add.is_empty() && rm.is_empty(), "{add:?} {rm:?}");
    assert_eq!(neighbour(&c, at(2), P1), (4, 12));
}

#[test]
fn warning_and_limit_are_logged_once_per_crossing() {
    let mut c = core(4, 100);
    // 3 = 75 % of 4: the warning; 4: the limit.
    announce(&mut c, at(1), 3, P1, 0..3, 1);
    assert_eq!(
        (
            c.counters().route_limit_warnings,
            c.counters().route_limit_reached
        ),
        (1, 0)
    );
    for t in 2..10 {
        announce(&mut c, at(t), 3, P1, 0..20, 1);
    }
    assert_eq!(
        (
            c.counters().route_limit_warnings,
            c.counters().route_limit_reached
        ),
        (1, 1),
        "eight floods, one warning and one limit"
    );
    // Hovering at the limit (one withdrawn, another taken) logs nothing.
    announce(&mut c, at(10), 3, P1, 0..1, 16);
    announce(&mut c, at(10), 3, P1, 10..11, 1);
    assert_eq!(neighbour(&c, at(10), P1).0, 4);
    assert_eq!(c.counters().route_limit_reached, 1);
    // Below the warning threshold, then back up: logged again.
    announce(&mut c, at(11), 3, P1, 1..3, 16);
    assert_eq!(neighbour(&c, at(11), P1).0, 2);
    announce(&mut c, at(12), 3, P1, 20..30, 1);
    assert_eq!(
        (
            c.counters().route_limit_warnings,
            c.counters().route_limit_reached
        ),
        (2, 2)
    );
}

#[test]
fn refresh_and_change_of_held_routes_go_through_at_the_limit() {
    let mut c = core(4, 100);
    announce(&mut c, at(1), 3, P1, 0..10, 1);
    drain(&mut c);
    // Refreshed every 100 s for 10 minutes: the 180 s timeout never fires.
    for t in (100..700).step_by(100) {
        announce(&mut c, at(t), 3, P1, 0..10, 1);
        c.handle_timeout(at(t));
    }
    let out = drain(&mut c);
    assert!(
        kernel_ops(&out).1.is_empty(),
        "refreshed routes must not time out"
    );
    assert_eq!(neighbour(&c, at(600), P1).0, 4);
    // A metric change of a held route is applied.
    announce(&mut c, at(601), 3, P1, 2..3, 5);
    let out = drain(&mut c);
    assert!(
        out.iter().any(|o| matches!(o, Output::Kernel(k)
            if k.op == KernelOp::Add && k.prefix == prefix(2) && k.metric == 6)),
        "{out:?}"
    );
}

#[test]
fn withdrawal_frees_room() {
    let mut c = core(4, 100);
    announce(&mut c, at(1), 3, P1, 0..4, 1);
    drain(&mut c);
    announce(&mut c, at(2), 3, P1, 10..11, 1);
    assert!(kernel_ops(&drain(&mut c)).0.is_empty());
    // Withdrawn (metric 16): out of the kernel at once, and room for one.
    announce(&mut c, at(3), 3, P1, 0..1, 16);
    assert_eq!(kernel_ops(&drain(&mut c)).1, [prefix(0)]);
    announce(&mut c, at(4), 3, P1, 10..12, 1);
    assert_eq!(kernel_ops(&drain(&mut c)).0, [prefix(10)]);
    assert_eq!(neighbour(&c, at(4), P1), (4, 2));
}

#[test]
fn neighbour_expiry_frees_room() {
    let mut c = core(4, 6);
    announce(&mut c, at(1), 3, P1, 0..4, 1);
    announce(&mut c, at(1), 3, P2, 100..104, 1);
    drain(&mut c);
    assert_eq!(neighbour(&c, at(1), P2), (2, 2), "total limit 6");
    // P1 falls silent; P2 keeps talking. After 180 s P1's paths time out.
    let mut t = at(1);
    while t < at(400) {
        t = c.poll_timeout().unwrap().min(t + secs(30));
        c.handle_timeout(t);
        announce(&mut c, t, 3, P2, 100..104, 1);
    }
    let out = drain(&mut c);
    let (_, rm) = kernel_ops(&out);
    assert_eq!(rm, (0..4).map(prefix).collect::<Vec<_>>());
    // P2 took the room as soon as it was free: a refused route is asked
    // for again in the neighbour's next update, as RIPng always does.
    assert_eq!(neighbour(&c, t, P2).0, 4);
    // And P1 is forgotten altogether (timeout + garbage = 300 s).
    assert!(c.view(t).neighbors.iter().all(|n| n.addr != a(P1)));
    assert_eq!(c.limit.held(&(3, a(P1))), 0);
    assert_eq!(c.limit.refused(&(3, a(P1))), 0);
    assert_eq!(c.view(t).route_limit.held, 4);
}

#[test]
fn total_limit_and_per_neighbour_limit_are_separate() {
    let mut c = core(4, 6);
    announce(&mut c, at(1), 3, P1, 0..10, 2);
    announce(&mut c, at(1), 3, P2, 100..110, 1);
    announce(&mut c, at(1), 4, P3, 200..210, 1);
    let (add, _) = kernel_ops(&drain(&mut c));
    assert_eq!(add.len(), 6);
    assert_eq!(neighbour(&c, at(1), P1), (4, 6));
    assert_eq!(neighbour(&c, at(1), P2), (2, 8));
    assert_eq!(neighbour(&c, at(1), P3), (0, 10));
    let r = &c.counters().refused_routes;
    assert_eq!((r.neighbor_limit, r.total_limit), (6, 18));
    let v = c.view(at(1)).route_limit;
    assert_eq!((v.held, v.refused, v.limit, v.per_key_limit), (6, 24, 6, 4));
    // A prefix P1 holds, offered by P2 at the same metric: unicast keeps
    // one path, so nothing new (no refusal either); offered better, it
    // would be a new path for P2 and is refused, leaving P1's in place.
    announce(&mut c, at(2), 3, P2, 0..1, 2);
    assert_eq!(neighbour(&c, at(2), P2), (2, 8));
    announce(&mut c, at(2), 3, P2, 0..1, 1);
    assert_eq!(neighbour(&c, at(2), P2), (2, 9));
    assert!(kernel_ops(&drain(&mut c)).0.is_empty(), "P1's path stays");
}

#[test]
fn anycast_paths_count_for_each_neighbour() {
    let mut c = core(2, 100);
    let anycast = |src: &str, c: &mut Instance, n: u16| {
        let entries = (0..n)
            .map(|i| {
                Entry::Route(Rte {
                    prefix: Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, i + 1),
                    tag: 0xa6a6,
                    plen: 128,
                    metric: 1,
                })
            })
            .collect();
        let bytes = Packet::new(Command::Response, entries).encode();
        c.handle_packet(at(1), 3, a(src), PORT, 255, &bytes);
    };
    anycast(P1, &mut c, 3);
    anycast(P2, &mut c, 3);
    let members = drain(&mut c)
        .into_iter()
        .filter(|o| matches!(o, Output::Rib(RibChange::Upsert(_))))
        .count();
    // Two addresses, each with both neighbours as members.
    assert_eq!(members, 4);
    assert_eq!(neighbour(&c, at(1), P1), (2, 1));
    assert_eq!(neighbour(&c, at(1), P2), (2, 1));
    assert_eq!(c.view(at(1)).route_limit.held, 4);
}

#[test]
fn interface_down_releases_its_neighbours() {
    let mut c = core(4, 6);
    announce(&mut c, at(1), 4, P3, 200..210, 1);
    announce(&mut c, at(1), 3, P1, 0..10, 1);
    assert_eq!(neighbour(&c, at(1), P1), (2, 8));
    c.interface_down(at(2), 4);
    assert_eq!(c.view(at(2)).route_limit.held, 2);
    assert_eq!(c.limit.held(&(4, a(P3))), 0);
    announce(&mut c, at(3), 3, P1, 0..10, 1);
    assert_eq!(neighbour(&c, at(3), P1).0, 4);
}

#[test]
fn bad_limits_are_refused() {
    let cfg = Config {
        limit: LimitConfig::new(0, 10, 75),
        ..Config::default()
    };
    assert!(Instance::new(cfg, Instant::ZERO).is_err());
    let d = Config::default().limit;
    assert_eq!((d.per_key, d.total, d.warn_percent), (5000, 10000, 75));
}
