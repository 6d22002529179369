//! The MGA topology of tests/tests/mga.rs, built for measurements: errors
//! instead of panics, members started on demand, servers on A and on each
//! member's own address, and a unicast destination Y that the home agent
//! forwards by its kernel (the forwarding-rate baseline).
//!
//! ```text
//!   C ─ R1 (plain) ─ R2 (plain) ─ HA (home agent, home link 2001:db8:1::/64)
//!       │            │
//!       M1           M2           members, care-of 2001:db8:2::2 / 2001:db8:3::2
//! ```
//! R1 and R2 route prefixes only; nobody routes A: plain routing takes it
//! to the home link. R2 sends Y (an address on M2's lo) to the home agent,
//! and what comes back from the home agent (policy rule on `iif r2-ha`) to
//! M2, so Y's packets cross exactly the links of A's tunnelled ones.

use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::time::Duration;

use anycast6_tests::home_line::HomeLine;
use anycast6_tests::proto::member_role;
use anycast6_tests::{wait_until, Daemon, DaemonCfg, Netns, Server, TempDir};
use anyhow::{bail, Context, Result};

use super::{A, PORT, SINK_PORT};

pub const HA: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
pub const C_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 2);
/// The members' care-of (unicast) addresses.
pub const M_ADDR: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2),
    Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 2),
];
const M_IF: [&str; 2] = ["m1-r1", "m2-r2"];
/// Y: on M2's lo, routed by R2 through the home agent's kernel.
pub const Y: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x99);
const SECRET: &str = "mga benchmark secret of 32 bytes";

fn keys() -> String {
    format!("[mga]\nkeys = [{{ id = 7, secret = \"{SECRET}\" }}]\n")
}

/// What to build.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// `[mga.member] lifetime_s`.
    pub lifetime_s: u32,
    /// Members optimise routes and C runs a correspondent.
    pub ro: bool,
}

/// Dropped in field order: daemons, servers, namespaces, files.
pub struct Net {
    pub cn: Option<Daemon>,
    pub ha: Daemon,
    pub members: [Option<Daemon>; 2],
    /// Each member's echo servers (on A and on its care-of address).
    pub servers: [Vec<Server>; 2],
    /// M2's sinks (never read) on A and on Y, for the flood.
    _sinks: Vec<UdpSocket>,
    pub c: Netns,
    pub m: [Netns; 2],
    _ha_ns: Netns,
    pub r2: Netns,
    _r1: Netns,
    pub tmp: TempDir,
    pub shape: Shape,
    label: String,
}

impl Net {
    /// The topology with the home agent up and no member running.
    pub fn build(short: &str, shape: Shape) -> Result<Net> {
        let tmp = TempDir::new(short)?;
        let HomeLine {
            c,
            r1,
            r2,
            h: ha,
            m1,
            m2,
        } = HomeLine::build(short, "ha", true)?;
        // Y: to the home agent first, then (coming back from it) to M2.
        r2.add_route(&format!("{Y}/128"), "2001:db8:1::10")?;
        r2.ip(&[
            "-6", "rule", "add", "iif", "r2-ha", "lookup", "100", "pref", "100",
        ])?;
        r2.ip(&[
            "-6",
            "route",
            "add",
            &format!("{Y}/128"),
            "via",
            "2001:db8:3::2",
            "dev",
            "r2-m2",
            "table",
            "100",
        ])?;
        m2.add_addr("lo", &format!("{Y}/128"))?;
        // Replies from A leave in a 40-octet tunnel or with a 24-octet Home
        // Address option (docs/mga.md §8.3).
        for (m, via) in [(&m1, "2001:db8:2::1"), (&m2, "2001:db8:3::1")] {
            m.ip(&["-6", "route", "add", "default", "via", via, "mtu", "1436"])?;
            // The servers bind to A before the member role puts it on lo.
            m.sysctl("net.ipv6.ip_nonlocal_bind", "1")?;
        }
        let mut servers: [Vec<Server>; 2] = [Vec::new(), Vec::new()];
        for (k, m) in [&m1, &m2].into_iter().enumerate() {
            servers[k] = echo_servers(m, k)?;
        }
        let sinks = m2.run_in(|| {
            Ok(vec![
                UdpSocket::bind(SocketAddrV6::new(A, SINK_PORT, 0, 0))?,
                UdpSocket::bind(SocketAddrV6::new(Y, SINK_PORT, 0, 0))?,
            ])
        })?;

        let ha_cfg = DaemonCfg {
            extra: format!(
                "{}[mga.home_agent]\naddress = \"{HA}\"\ninterface = \"ha-r2\"\nanycast = [\"{A}\"]\n",
                keys()
            ),
            ..DaemonCfg::default()
        }
        .interface("ha-r2", "native");
        let label = format!("{short}{}", std::process::id());
        let ha_d =
            Daemon::start(&ha, &tmp, &format!("{label}ha"), &ha_cfg).context("home agent")?;
        let cn = if shape.ro {
            let cfg = DaemonCfg {
                extra: format!(
                    "{}[mga.correspondent]\ninterface = \"c-r1\"\noptimise = [\"{A}\"]\n",
                    keys()
                ),
                ..DaemonCfg::default()
            };
            Some(Daemon::start(&c, &tmp, &format!("{label}c"), &cfg).context("correspondent")?)
        } else {
            None
        };
        Ok(Net {
            cn,
            ha: ha_d,
            members: [None, None],
            servers,
            _sinks: sinks,
            c,
            m: [m1, m2],
            _ha_ns: ha,
            r2,
            _r1: r1,
            tmp,
            shape,
            label,
        })
    }

    pub fn member_cfg(&self, k: usize) -> DaemonCfg {
        let mut cfg = member_role(
            A,
            format!(
                "{}[mga.member]\ncare_of = \"{}\"\ninterface = \"{}\"\nhome_agents = [\"{HA}\"]\n\
                 lifetime_s = {}\nroute_optimisation = {}\nro_after_ms = 300\n",
                keys(),
                M_ADDR[k],
                M_IF[k],
                self.shape.lifetime_s,
                self.shape.ro
            ),
        );
        if let Some(r) = cfg.member.as_mut() {
            r.decap_interfaces = vec![M_IF[k].into()];
        }
        cfg
    }

    /// Starts member `k`'s anycast6d (returns once its socket answers).
    pub fn start_member(&mut self, k: usize, tag: &str) -> Result<()> {
        let d = Daemon::start(
            &self.m[k],
            &self.tmp,
            &format!("{}m{}{tag}", self.label, k + 1),
            &self.member_cfg(k),
        )
        .with_context(|| format!("member {}", k + 1))?;
        self.members[k] = Some(d);
        Ok(())
    }

    /// Starts both members and waits until the home agent binds both.
    pub fn start_both(&mut self) -> Result<()> {
        self.start_member(0, "")?;
        self.start_member(1, "")?;
        self.wait_bindings(2, Duration::from_secs(20))
    }

    /// Waits until the home agent holds `n` bindings for A.
    pub fn wait_bindings(&self, n: usize, timeout: Duration) -> Result<()> {
        if !wait_until(timeout, || bindings(&self.ha).len() == n) {
            bail!(
                "the home agent has not {n} bindings after {timeout:?}: {}",
                self.ha.ctl(&["show", "mga"]).unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Member `k`'s echo servers back.
    pub fn restore_servers(&mut self, k: usize) -> Result<()> {
        self.servers[k] = echo_servers(&self.m[k], k)?;
        Ok(())
    }
}

fn echo_servers(m: &Netns, k: usize) -> Result<Vec<Server>> {
    let name = format!("m{}", k + 1);
    Ok(vec![
        Server::udp(m, &name, SocketAddrV6::new(A, PORT, 0, 0))?,
        Server::udp(m, &name, SocketAddrV6::new(M_ADDR[k], PORT, 0, 0))?,
    ])
}

/// The care-of addresses bound for A at the home agent (`show mga`).
pub fn bindings(d: &Daemon) -> Vec<String> {
    let v = d.ctl_json(&["show", "mga"]).unwrap_or_default();
    v["home_agent"]["bindings"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|h| h["bindings"].as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["coa"].as_str().map(String::from))
        .collect()
}

/// Packets the fast path counted for every group (`show counters`).
pub fn group_packets(d: &Daemon) -> u64 {
    let v = d.ctl_json(&["show", "counters"]).unwrap_or_default();
    v["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["packets"].as_u64())
        .sum()
}

/// The flow bindings a correspondent holds.
pub fn flow_bindings(d: &Daemon) -> usize {
    let v = d.ctl_json(&["show", "mga"]).unwrap_or_default();
    v["correspondent"]["flow_bindings"]
        .as_array()
        .map_or(0, Vec::len)
}

/// A counter of `dev` in `ns` (`ip -s link`): `dir` rx or tx, `what`
/// packets, dropped, ...
pub fn link_stat(ns: &Netns, dev: &str, dir: &str, what: &str) -> Result<u64> {
    let out = ns.ip(&["-j", "-s", "link", "show", "dev", dev])?;
    let v: serde_json::Value = serde_json::from_str(&out).context("ip -j -s link")?;
    v[0]["stats64"][dir][what]
        .as_u64()
        .with_context(|| format!("no {dir} {what} for {dev} in {out}"))
}
