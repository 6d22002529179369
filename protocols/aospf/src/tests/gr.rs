//! Graceful restart (RFC 5187) on a simulated clock, both roles.

use std::time::Duration;

use super::sim::*;
use crate::NetworkType;

/// Runs `d` in 100 ms steps; returns the steps at which `check` failed.
fn watch(net: &mut Net, d: Duration, check: impl Fn(&Net) -> bool) -> usize {
    let mut bad = 0;
    let steps = (d.as_millis() / 100) as usize;
    for _ in 0..steps {
        net.run(Duration::from_millis(100));
        if !check(net) {
            bad += 1;
        }
    }
    bad
}

fn graceful_restart_of_the_middle_router(network: NetworkType) {
    let mut net = Net::new(3);
    net.link(&[0, 1], network, 10);
    net.link(&[1, 2], network, 10);
    net.start();
    net.run(Duration::from_secs(20));
    assert_eq!(net.hops(0, 2), vec![(ll(1, 1), 1)]);
    let kernel_before = net.routers[1].kernel.clone();
    assert!(!kernel_before.is_empty());
    // The old process announces the restart and goes.
    let now = net.clock.now();
    net.routers[1].core.prepare_restart(now);
    net.run(Duration::from_secs(3));
    assert!(
        net.routers[1].core.poll_timeout().is_none(),
        "acknowledged, done"
    );
    assert_eq!(net.routers[1].kernel, kernel_before, "nothing removed");
    net.crash(1);
    // Down for longer than the dead interval (4 s): the helpers hold on.
    let flaps = watch(&mut net, Duration::from_secs(6), |n| {
        n.hops(0, 2) == vec![(ll(1, 1), 1)] && n.hops(2, 0) == vec![(ll(1, 2), 1)]
    });
    assert_eq!(flaps, 0, "routes through the restarting router held");
    net.restart_with(1, Some(Duration::from_secs(60)));
    let flaps = watch(&mut net, Duration::from_secs(15), |n| {
        n.hops(0, 2) == vec![(ll(1, 1), 1)] && n.hops(2, 0) == vec![(ll(1, 2), 1)]
    });
    assert_eq!(flaps, 0, "no flap while it resynchronises");
    assert!(!net.routers[1].core.restarting(), "restart over");
    let v = net.routers[1].core.view(net.clock.now());
    assert_eq!(
        v.counters.gr_completed, 1,
        "ended by adjacencies, not timeout"
    );
    assert_eq!(
        net.routers[1].kernel, kernel_before,
        "routes reinstalled the same"
    );
    let v0 = net.routers[0].core.view(net.clock.now());
    assert!(v0.counters.gr_helped >= 1);
    assert!(
        v0.database
            .iter()
            .all(|l| l.ls_type != "Grace" || l.age >= 3600),
        "Grace-LSAs flushed: {:?}",
        v0.database
    );
}

#[test]
fn graceful_restart_point_to_point() {
    graceful_restart_of_the_middle_router(NetworkType::PointToPoint);
}

#[test]
fn graceful_restart_broadcast() {
    graceful_restart_of_the_middle_router(NetworkType::Broadcast);
}

#[test]
fn without_graceful_restart_the_routes_go() {
    let mut net = Net::new(3);
    net.link(&[0, 1], NetworkType::PointToPoint, 10);
    net.link(&[1, 2], NetworkType::PointToPoint, 10);
    net.start();
    net.run(Duration::from_secs(20));
    net.crash(1);
    let lost = watch(&mut net, Duration::from_secs(6), |n| {
        !n.hops(0, 2).is_empty()
    });
    assert!(lost > 0, "the dead interval ends the adjacency");
}

#[test]
fn a_helper_gives_up_when_the_grace_period_ends() {
    let mut net = Net::new(3);
    net.link(&[0, 1], NetworkType::PointToPoint, 10);
    net.link(&[1, 2], NetworkType::PointToPoint, 10);
    net.start();
    net.run(Duration::from_secs(20));
    net.routers[1].core.config_mut().grace_period = Duration::from_secs(10);
    let now = net.clock.now();
    net.routers[1].core.prepare_restart(now);
    net.run(Duration::from_secs(3));
    net.crash(1);
    net.run(Duration::from_secs(5));
    assert!(!net.hops(0, 2).is_empty(), "within the period");
    net.run(Duration::from_secs(10));
    assert!(net.hops(0, 2).is_empty(), "period over: it is gone");
}
