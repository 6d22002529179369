//! RTT and path stretch: one UDP flow from C to A that M2 serves, through
//! the home agent (reverse tunnel on, no route optimisation) and after
//! route optimisation (the correspondent daemon on C holds the flow's
//! binding), each against C → M2's own address in the same build.
//!
//! ```text
//!  through the home agent:  C ─ R1 ─ R2 ─ HA ═ R2 ═ M2     5 links (answers M2 ═ R2 ═ HA ─ R2 ─ R1 ─ C)
//!  route-optimised:         C ─ R1 ─ R2 ─ M2                3 links (both ways)
//!  unicast to M2:           C ─ R1 ─ R2 ─ M2                3 links
//! ```

use std::net::SocketAddrV6;
use std::time::Duration;

use anycast6_tests::wait_until;
use anyhow::{bail, Result};

use super::net::{flow_bindings, group_packets, Net, Shape, M_ADDR};
use super::probe::{echo, port_of, Ports};
use super::{A, PORT};
use crate::progress::Progress;

/// Links C → M2 by construction (the diagram), one way.
pub const LINKS_HA: u32 = 5;
pub const LINKS_RO: u32 = 3;
pub const LINKS_DIRECT: u32 = 3;

/// One build's measurements.
pub struct PathRun {
    /// Median RTT of each round, µs: on the flow to A, and to M2's
    /// unicast address (rounds interleaved).
    pub anycast_us: Vec<f64>,
    pub unicast_us: Vec<f64>,
    /// Packets the home agent's fast path counted during the rounds to A.
    pub ha_packets: u64,
}

/// `ro`: the route-optimised build.
pub fn run(ro: bool, rounds: usize, n: usize, progress: &Progress) -> Result<PathRun> {
    let mut net = Net::build(if ro { "mgr" } else { "mgh" }, Shape { lifetime_s: 60, ro })?;
    net.start_both()?;
    let mut ports = Ports(30000);
    let sport = port_of(&net.c, "m2", &mut ports)?;
    let dst = SocketAddrV6::new(A, PORT, 0, 0);
    if ro {
        // The flow becomes old and busy enough (300 ms, 10 packets), the
        // member binds it at the correspondent.
        let cn = net.cn.as_ref().expect("ro build has a correspondent");
        let mut bound = false;
        for _ in 0..20 {
            echo(&net.c, sport, dst, 100)?;
            if wait_until(Duration::from_millis(200), || flow_bindings(cn) >= 1) {
                bound = true;
                break;
            }
        }
        if !bound {
            bail!(
                "no flow binding at the correspondent: {}",
                cn.ctl(&["show", "mga"]).unwrap_or_default()
            );
        }
    }
    let uni = SocketAddrV6::new(M_ADDR[1], PORT, 0, 0);
    let mut run = PathRun {
        anycast_us: Vec::new(),
        unicast_us: Vec::new(),
        ha_packets: 0,
    };
    for r in 0..rounds {
        crate::cleanup::check()?;
        progress.step(format!(
            "MGA RTT, {}: round {}/{rounds} of {n} echoes",
            if ro {
                "route-optimised"
            } else {
                "through the home agent"
            },
            r + 1
        ));
        let before = group_packets(&net.ha);
        let (a, m) = echo(&net.c, sport, dst, n)?;
        run.ha_packets += group_packets(&net.ha).saturating_sub(before);
        if m != "m2" {
            bail!("the flow moved to {m}");
        }
        let (u, _) = echo(&net.c, sport + 1, uni, n)?;
        run.anycast_us.push(a);
        run.unicast_us.push(u);
    }
    if ro && net.cn.as_ref().is_some_and(|cn| flow_bindings(cn) == 0) {
        bail!("the flow binding lapsed during the rounds");
    }
    net.members = [None, None];
    Ok(run)
}
