//! The standard topology of the topology tests:
//!
//! ```text
//!                                   ┌── to-m1 ── m1   2001:db8:1::10   distance 1
//!   client ── to-c ── router (XDP, ─┼── to-m2 ── m2   2001:db8:2::10   distance 1
//!   2001:db8:c::2     anycast6d)    ├── to-m4 ── m4   2001:db8:4::10   (optional, not configured)
//!                                   └── to-r2 ── r2 ── to-m3 ── m3   2001:db8:3::10   distance 2
//!                                           (kernel forwarding)
//! ```
//!
//! Every member holds the anycast address `2001:db8:ac::1` on `lo` and runs
//! a UDP echo (port 7000) and a TCP echo (port 7001) that name the member.
//! r2 routes the anycast address to m3, so m3 is at distance 2 from the
//! router. Members and r2 route back through the router with plain kernel
//! forwarding: only client→anycast traffic takes the XDP fast path.
//!
//! GRO is turned on at every veth end: a veth end that receives
//! XDP_REDIRECTed frames (members, r2) or XDP_TX frames (the client, for
//! Packet Too Big) drops them silently without GRO or an XDP program.
//! The client's end also gets a pass-everything XDP program: the router
//! answers oversized packets with an ICMPv6 Packet Too Big sent by XDP_TX,
//! and XDP_TX into a veth is dropped unless the peer has an XDP program
//! (GRO is not enough there).
//! Transmit checksum offload is turned off at every veth end that sends
//! into the router: a veth sender leaves TCP/UDP checksums partial, and a
//! frame redirected by XDP arrives with a bad checksum.

use std::net::{Ipv6Addr, SocketAddrV6};

use anyhow::{Context, Result};

use crate::daemon::{DaemonCfg, MemberCfg};
use crate::netns::{veth, Netns};
use crate::process::TempDir;
use crate::traffic::{self, FlowCensus, Server};

pub const ANYCAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 1);
pub const CLIENT: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 2);
pub const ROUTER_C: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 1);
pub const M1: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
pub const M2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x10);
pub const M3: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x10);
pub const M4: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 4, 0, 0, 0, 0, 0x10);
pub const R2: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x12, 0, 0, 0, 0, 2);
pub const UDP_PORT: u16 = 7000;
pub const TCP_PORT: u16 = 7001;

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Add m4 (on-link, distance 1) to the network but not to the config,
    /// for `member add`.
    pub m4: bool,
}

pub struct Topology {
    // Field order is drop order: servers stop before their namespaces go.
    servers: Vec<Server>,
    pub client: Netns,
    pub router: Netns,
    pub m1: Netns,
    pub m2: Netns,
    pub r2: Netns,
    pub m3: Netns,
    pub m4: Option<Netns>,
    /// Configs, sockets and logs of this test.
    pub tmp: TempDir,
}

impl Topology {
    /// Builds the topology; `short` names the test in namespace names.
    pub fn build(short: &str, opts: Options) -> Result<Topology> {
        let tmp = TempDir::new(short)?;
        let ns = |role: &str| Netns::new(&format!("{short}{role}"));
        let client = ns("c")?;
        let router = ns("r")?;
        let m1 = ns("1")?;
        let m2 = ns("2")?;
        let r2 = ns("q")?;
        let m3 = ns("3")?;
        let m4 = if opts.m4 { Some(ns("4")?) } else { None };

        router.enable_forwarding()?;
        r2.enable_forwarding()?;

        veth(&client, "to-r1", &router, "to-c")?;
        client.add_addr("to-r1", &format!("{CLIENT}/64"))?;
        router.add_addr("to-c", &format!("{ROUTER_C}/64"))?;
        client.add_route("default", &ROUTER_C.to_string())?;

        let mut on_link: Vec<(&Netns, &str, u16)> = vec![(&m1, "to-m1", 1), (&m2, "to-m2", 2)];
        if let Some(m4) = &m4 {
            on_link.push((m4, "to-m4", 4));
        }
        for (m, rif, net) in on_link {
            veth(&router, rif, m, "to-r1")?;
            router.add_addr(rif, &format!("2001:db8:{net:x}::1/64"))?;
            m.add_addr("to-r1", &format!("2001:db8:{net:x}::10/64"))?;
            m.add_route("default", &format!("2001:db8:{net:x}::1"))?;
            m.gro_on("to-r1")?;
            m.tx_checksum_off("to-r1")?;
            router.gro_on(rif)?;
        }

        veth(&router, "to-r2", &r2, "to-r1")?;
        router.add_addr("to-r2", "2001:db8:12::1/64")?;
        r2.add_addr("to-r1", &format!("{R2}/64"))?;
        r2.add_route("default", "2001:db8:12::1")?;
        router.add_route("2001:db8:3::/64", &R2.to_string())?;
        veth(&r2, "to-m3", &m3, "to-r2")?;
        r2.add_addr("to-m3", "2001:db8:3::1/64")?;
        m3.add_addr("to-r2", &format!("{M3}/64"))?;
        m3.add_route("default", "2001:db8:3::1")?;
        r2.add_route(&format!("{ANYCAST}/128"), &M3.to_string())?;
        client.tx_checksum_off("to-r1")?;
        client.xdp_pass("to-r1")?;
        r2.tx_checksum_off("to-r1")?;
        for (n, dev) in [
            (&client, "to-r1"),
            (&router, "to-c"),
            (&router, "to-r2"),
            (&r2, "to-r1"),
            (&r2, "to-m3"),
            (&m3, "to-r2"),
        ] {
            n.gro_on(dev)?;
        }

        let mut topo = Topology {
            servers: Vec::new(),
            client,
            router,
            m1,
            m2,
            r2,
            m3,
            m4,
            tmp,
        };
        let mut servers = Vec::new();
        for (name, m) in topo.members() {
            m.add_addr("lo", &format!("{ANYCAST}/128"))?;
            servers.push(Server::udp(
                m,
                name,
                SocketAddrV6::new(ANYCAST, UDP_PORT, 0, 0),
            )?);
            servers.push(Server::tcp(
                m,
                name,
                SocketAddrV6::new(ANYCAST, TCP_PORT, 0, 0),
            )?);
        }
        topo.servers = servers;

        // Fill neighbour caches (anycast6d reads MACs from the kernel) and
        // prove plain reachability before any XDP is involved.
        topo.client
            .ping(&ROUTER_C.to_string())
            .context("client → router")?;
        for a in [M1, M2, R2] {
            topo.router
                .ping(&a.to_string())
                .with_context(|| format!("router → {a}"))?;
        }
        if topo.m4.is_some() {
            topo.router.ping(&M4.to_string()).context("router → m4")?;
        }
        topo.r2.ping(&M3.to_string()).context("r2 → m3")?;
        topo.client
            .ping(&M3.to_string())
            .context("client → m3 through both routers")?;
        Ok(topo)
    }

    /// (name, namespace) of every member.
    pub fn members(&self) -> Vec<(&'static str, &Netns)> {
        let mut v = vec![("m1", &self.m1), ("m2", &self.m2), ("m3", &self.m3)];
        if let Some(m4) = &self.m4 {
            v.push(("m4", m4));
        }
        v
    }

    /// The router's config: XDP on every router interface; one group,
    /// m1 and m2 on-link at distance 1, m3 behind r2 at distance 2.
    pub fn router_config(&self) -> DaemonCfg {
        let mut cfg = DaemonCfg {
            router_address: Some(ROUTER_C.to_string()),
            ..Default::default()
        };
        cfg = cfg
            .interface("to-c", "native")
            .interface("to-m1", "native")
            .interface("to-m2", "native")
            .interface("to-r2", "native");
        if self.m4.is_some() {
            cfg = cfg.interface("to-m4", "native");
        }
        cfg.group(
            &ANYCAST.to_string(),
            vec![
                MemberCfg::on_link(&M1.to_string(), "to-m1"),
                MemberCfg::on_link(&M2.to_string(), "to-m2"),
                MemberCfg::on_link(&M3.to_string(), "to-r2")
                    .via(&R2.to_string())
                    .distance(2),
            ],
        )
    }

    pub fn udp_dst(&self) -> SocketAddrV6 {
        SocketAddrV6::new(ANYCAST, UDP_PORT, 0, 0)
    }

    pub fn tcp_dst(&self) -> SocketAddrV6 {
        SocketAddrV6::new(ANYCAST, TCP_PORT, 0, 0)
    }

    /// `n` UDP flows from the client (source ports `sport_base..`).
    pub fn udp_census(&self, sport_base: u16, n: u16) -> Result<FlowCensus> {
        let dst = self.udp_dst();
        self.client
            .run_in(move || traffic::udp_flows(CLIENT, dst, sport_base, n))
    }

    /// `n` new TCP connections from the client: who served them. After a
    /// member change this is the census of new flows: a SYN is never taken
    /// for an old flow, where a new UDP flow inside the change's grace
    /// window is (docs/flow-hash.md section 3).
    pub fn tcp_census(&self, n: usize) -> Result<FlowCensus> {
        let dst = self.tcp_dst();
        self.client.run_in(move || traffic::tcp_flows(dst, n))
    }

    /// One short TCP exchange from the client: the member that served it.
    pub fn tcp_probe(&self, bytes: u64) -> Result<String> {
        let dst = self.tcp_dst();
        self.client.run_in(move || traffic::tcp_probe(dst, bytes))
    }
}

impl Topology {
    /// Waits until a UDP flow to the anycast address is answered (the
    /// daemon has attached and published its FIB). Source ports from
    /// 60000 up are used for these probes, never by the tests' own flows.
    pub fn wait_anycast_ready(&self, timeout: std::time::Duration) -> Result<()> {
        let mut port = 60000u16;
        let mut last = None;
        let ok = crate::util::wait_until(timeout, || {
            port = port.wrapping_add(1).max(60000);
            match self.udp_census(port, 1) {
                Ok(c) if c.unanswered == 0 => true,
                Ok(c) => {
                    last = Some(c.to_string());
                    false
                }
                Err(e) => {
                    last = Some(format!("{e:#}"));
                    false
                }
            }
        });
        if ok {
            Ok(())
        } else {
            anyhow::bail!("anycast address not answering after {timeout:?} (last: {last:?})")
        }
    }
}

/// Ids of every object pinned in `dir` (file name → map, program or link
/// id), read with bpftool: what a restart must not change.
pub fn pinned_ids(dir: &std::path::Path) -> Result<std::collections::BTreeMap<String, String>> {
    let mut ids = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let path = e.path();
        if path.is_dir() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let p = path.display().to_string();
        let mut id = None;
        for kind in ["map", "prog", "link"] {
            if let Ok(out) = crate::util::run_str("bpftool", ["-j", kind, "show", "pinned", &p]) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&out) {
                    if let Some(i) = v["id"].as_u64() {
                        id = Some(format!("{kind} {i}"));
                        break;
                    }
                }
            }
        }
        ids.insert(name, id.unwrap_or_else(|| "unknown".into()));
    }
    Ok(ids)
}

/// `show fib` without what a harmless republish changes (generation,
/// Maglev block range): routes, members and their states.
pub fn fib_content(v: &serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    if let Some(groups) = v.get_mut("groups").and_then(|g| g.as_array_mut()) {
        for g in groups {
            if let Some(o) = g.as_object_mut() {
                o.remove("gen");
                o.remove("maglev_block");
            }
        }
    }
    v
}
