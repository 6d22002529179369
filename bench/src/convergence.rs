//! ARIP convergence of a 10-router chain after a member joins at one end,
//! on the protocol cores with a simulated clock (no sockets, no sleeping):
//! the time, in protocol time, until the router at the far end installs
//! the member (its core emits the RIB change). The same timers as the
//! namespace measurement in failover.rs.

use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_control::arip::{self, Instance, InterfaceConfig, Output};
use anycast6_control::proto::{Instant, RibChange, SimClock};
use anyhow::{anyhow, Result};

/// ARIP timers of both measurements (fast, as a sub-second deployment).
pub fn timers() -> arip::Config {
    arip::Config {
        update_interval: Duration::from_millis(1000),
        update_jitter: Duration::from_millis(200),
        timeout: Duration::from_millis(3000),
        garbage: Duration::from_millis(2000),
        triggered_min: Duration::from_millis(50),
        triggered_max: Duration::from_millis(100),
        ..arip::Config::default()
    }
}

/// One-way delay of every link (a LAN hop plus a daemon's reaction).
pub const LINK_DELAY: Duration = Duration::from_millis(1);

fn ll(router: usize, side: u32) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, router as u16 + 1, side as u16)
}

/// Protocol time until the far end of an `n`-router chain installs an
/// anycast member that joins at router 0, after the chain has settled.
pub fn chain(n: usize, seed: u64) -> Result<Duration> {
    let anycast: Ipv6Addr = "2001:db8:ac::1".parse()?;
    let mut clock = SimClock::new();
    let mut routers: Vec<Instance> = (0..n)
        .map(|i| {
            let cfg = arip::Config {
                seed: seed.wrapping_mul(31).wrapping_add(i as u64),
                ..timers()
            };
            Instance::new(cfg, clock.now()).map_err(|e| anyhow!("{e}"))
        })
        .collect::<Result<_>>()?;
    // Interface 1 faces router i-1, interface 2 faces router i+1.
    for (i, r) in routers.iter_mut().enumerate() {
        for side in [1u32, 2] {
            if (side == 1 && i == 0) || (side == 2 && i + 1 == n) {
                continue;
            }
            r.interface_up(
                clock.now(),
                InterfaceConfig {
                    ifindex: side,
                    name: format!("r{i}-{side}"),
                    link_local: ll(i, side),
                    cost: 1,
                    mtu: 1500,
                },
            )
            .map_err(|e| anyhow!("{e}"))?;
        }
    }
    let mut far_installed: Option<Instant> = None;
    // Datagrams in flight: (delivery time, sequence, router, interface, source, bytes).
    type Flight = std::collections::BTreeMap<(Instant, u64), (usize, u32, Ipv6Addr, Vec<u8>)>;
    let mut flight: Flight = Flight::new();
    let mut seq = 0u64;
    let run_until = |routers: &mut Vec<Instance>,
                     clock: &mut SimClock,
                     flight: &mut Flight,
                     seq: &mut u64,
                     end: Instant,
                     far: &mut Option<Instant>| {
        loop {
            for i in 0..routers.len() {
                while let Some(o) = routers[i].poll_output() {
                    match o {
                        Output::Send { ifindex, bytes, .. } => {
                            let peer = if ifindex == 1 {
                                i.checked_sub(1)
                            } else {
                                Some(i + 1)
                            };
                            if let Some(p) = peer.filter(|p| *p < routers.len()) {
                                let in_if = if ifindex == 1 { 2 } else { 1 };
                                *seq += 1;
                                flight.insert(
                                    (clock.now() + LINK_DELAY, *seq),
                                    (p, in_if, ll(i, ifindex), bytes),
                                );
                            }
                        }
                        Output::Rib(RibChange::Upsert(e))
                            if i + 1 == routers.len() && e.anycast == anycast =>
                        {
                            far.get_or_insert(clock.now());
                        }
                        _ => {}
                    }
                }
            }
            let next_timer = routers.iter().filter_map(|r| r.poll_timeout()).min();
            let next_packet = flight.keys().next().map(|k| k.0);
            let next = match (next_timer, next_packet) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match next {
                Some(t) if t <= end => {
                    clock.jump_to(t);
                    while let Some(e) = flight.first_entry() {
                        if e.key().0 > clock.now() {
                            break;
                        }
                        let (p, in_if, src, bytes) = e.remove();
                        routers[p].handle_packet(clock.now(), in_if, src, 521, 255, &bytes);
                    }
                    for r in routers.iter_mut() {
                        if r.poll_timeout().is_some_and(|d| d <= clock.now()) {
                            r.handle_timeout(clock.now());
                        }
                    }
                }
                _ => {
                    clock.jump_to(end);
                    return;
                }
            }
        }
    };
    // Let the chain settle (interfaces up, requests answered).
    let settle = clock.now() + Duration::from_secs(5);
    run_until(
        &mut routers,
        &mut clock,
        &mut flight,
        &mut seq,
        settle,
        &mut far_installed,
    );
    let join = clock.now();
    routers[0]
        .set_local_anycast(join, anycast, 1)
        .map_err(|e| anyhow!("{e}"))?;
    let end = join + Duration::from_secs(30);
    run_until(
        &mut routers,
        &mut clock,
        &mut flight,
        &mut seq,
        end,
        &mut far_installed,
    );
    let at = far_installed.ok_or_else(|| anyhow!("the far end never installed the member"))?;
    Ok(at - join)
}

#[cfg(test)]
mod tests {
    #[test]
    fn chain_converges_hop_by_hop() {
        let d = super::chain(10, 1).unwrap();
        // 9 hops of triggered updates at 50-100 ms hold-down at most.
        assert!(d <= std::time::Duration::from_millis(9 * 100), "{d:?}");
        assert_eq!(d, super::chain(10, 1).unwrap(), "same seed, same run");
    }
}
