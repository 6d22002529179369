//! The PIA-SM data-plane topology of tests/tests/piasm_data.rs, built for
//! measurements: `build` returns errors instead of panicking, members and
//! their servers are optional, and the anycast addresses are a parameter
//! (one for traffic, 10 000 for the state figure).
//!
//! ```text
//!  S ─ P1 ─ CORE ─ P2 ─┬─ FHR1 ─ M1          (plain: P1, P2)
//!  │            │      └─ FHR2 ─ M2
//!  └ with the ingress: S ─ I ─ P1 …, and I ─ P2 (the shortcut side)
//! ```

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::Duration;

use anycast6_tests::proto::{ard_member, link, member_role, ArdMember};
use anycast6_tests::{wait_until, Daemon, DaemonCfg, Netns, Server, TempDir};
use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::{A, C, PORT};

pub const R_CORE: &str = "2001:db8:ff::1";
pub const R_F: [&str; 2] = ["2001:db8:ff::3", "2001:db8:ff::4"];
pub const R_I: &str = "2001:db8:ff::5";
pub const S_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 2);
/// The members' unicast addresses (on their link to the first-hop router).
pub const M_ADDR: [&str; 2] = ["2001:db8:15::2", "2001:db8:16::2"];

/// What to build.
#[derive(Debug, Clone)]
pub struct Shape {
    /// The sender behind an ingress PIA-SM router (linked to P1 and P2).
    pub ingress: bool,
    /// The ingress's `shortcut`.
    pub shortcut: bool,
    /// The `[[piasm.anycast]]` addresses of every PIA-SM router, served by
    /// every member.
    pub anycast: Vec<Ipv6Addr>,
    /// Start the members' anycast6d (else the caller does).
    pub start_members: bool,
    /// ARD report interval / hold of the members (ms).
    pub report_ms: u64,
    pub hold_ms: u64,
}

impl Shape {
    /// One anycast address, members up, no ingress, ARD 100 / 300 ms.
    pub fn traffic() -> Shape {
        Shape {
            ingress: false,
            shortcut: false,
            anycast: vec![A],
            start_members: true,
            report_ms: 100,
            hold_ms: super::ARD_HOLD_MS,
        }
    }
}

/// Dropped in field order: daemons, servers, namespaces, files.
pub struct Tree {
    pub ingress: Option<Daemon>,
    pub core: Daemon,
    pub fhr: [Daemon; 2],
    pub members: [Option<Daemon>; 2],
    /// Each member's UDP servers on A and on its unicast address.
    pub udp: [Vec<Server>; 2],
    pub s: Netns,
    pub m: [Netns; 2],
    pub f: [Netns; 2],
    pub _others: Vec<Netns>,
    pub tmp: TempDir,
    pub shape: Shape,
}

/// `[piasm]` with 1 s Hellos and 1 s joins (holdtime 4 s).
pub fn piasm(router: &str, ifs: &[&str], anycast: &[Ipv6Addr], core: bool, sc: bool) -> String {
    anycast6_tests::proto::piasm_router(router, ifs, anycast, C, core, sc)
}

/// `[ard]` with fast queries and room for `n` addresses of one member.
pub fn ard_router(ifs: &[&str], n: usize) -> String {
    let list = ifs
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut s = format!(
        "[ard]\ninterfaces = [{list}]\nquery_interval_ms = 1000\nmax_response_delay_ms = 100\n\
         min_hold_ms = 100\n"
    );
    if n > 1024 {
        let total = n.max(8192);
        s.push_str(&format!(
            "max_addresses = {total}\nmax_addresses_per_member = {n}\nmax_addresses_per_interface = {n}\n"
        ));
    }
    s
}

/// Map sizes for `n` anycast groups of up to two members each (a Maglev
/// table of 211 entries is 4 blocks; twice that for republishing).
pub fn capacities(n: usize) -> String {
    if n <= 1000 {
        return String::new();
    }
    format!("[capacities]\nmaglev_blocks = {}\n", 8 * n + 1024)
}

/// A member host serving `anycast` by ARD on `iface`.
pub fn member(anycast: &[Ipv6Addr], unicast: &str, iface: &str, sh: &Shape) -> DaemonCfg {
    let mut cfg = member_role(
        anycast[0],
        ard_member(&ArdMember {
            iface,
            unicast,
            metric: 0,
            hold_ms: sh.hold_ms,
            report_ms: sh.report_ms,
            key: None,
        }),
    );
    if let Some(m) = cfg.member.as_mut() {
        m.addresses = anycast.iter().map(|a| a.to_string()).collect();
    }
    cfg
}

/// The first-hop router `i`'s config (ARD down, PIA-SM up).
pub fn fhr_cfg(i: usize, sh: &Shape) -> DaemonCfg {
    let (up, down) = (format!("f{}-p2", i + 1), format!("f{}-m", i + 1));
    DaemonCfg {
        extra: format!(
            "{}\n{}\n{}",
            capacities(sh.anycast.len()),
            ard_router(&[&down], sh.anycast.len()),
            piasm(R_F[i], &[&up], &sh.anycast, false, false)
        ),
        ..DaemonCfg::default()
    }
    .interface(&up, "native")
    .interface(&down, "native")
}

type LinkSpec<'a> = (&'a Netns, &'a str, &'a str, &'a Netns, &'a str, &'a str);

impl Tree {
    pub fn build(short: &str, sh: Shape) -> Result<Tree> {
        let tmp = TempDir::new(short)?;
        let ns = |n: &str| Netns::new(&format!("{short}{n}"));
        let (s, p1, core, p2) = (ns("s")?, ns("p1")?, ns("c")?, ns("p2")?);
        let (fhr1, fhr2, m1, m2) = (ns("f1")?, ns("f2")?, ns("m1")?, ns("m2")?);
        let ing = ns("i")?;
        for n in [&s, &p1, &core, &p2, &fhr1, &fhr2, &m1, &m2, &ing] {
            n.sysctl("net.ipv6.conf.all.accept_dad", "0")?;
            n.sysctl("net.ipv6.conf.default.accept_dad", "0")?;
        }
        let mut links: Vec<LinkSpec> = if sh.ingress {
            vec![
                (
                    &s,
                    "s-i",
                    "2001:db8:10::2/64",
                    &ing,
                    "i-s",
                    "2001:db8:10::1/64",
                ),
                (
                    &ing,
                    "i-p1",
                    "2001:db8:17::1/64",
                    &p1,
                    "p1-i",
                    "2001:db8:17::2/64",
                ),
                (
                    &ing,
                    "i-p2",
                    "2001:db8:18::1/64",
                    &p2,
                    "p2-i",
                    "2001:db8:18::2/64",
                ),
            ]
        } else {
            vec![(
                &s,
                "s-p",
                "2001:db8:10::2/64",
                &p1,
                "p-s",
                "2001:db8:10::1/64",
            )]
        };
        links.extend([
            (
                &p1,
                "p1-c",
                "2001:db8:11::1/64",
                &core,
                "c-p1",
                "2001:db8:11::2/64",
            ),
            (
                &core,
                "c-p2",
                "2001:db8:12::1/64",
                &p2,
                "p2-c",
                "2001:db8:12::2/64",
            ),
            (
                &p2,
                "p2-f1",
                "2001:db8:13::2/64",
                &fhr1,
                "f1-p2",
                "2001:db8:13::1/64",
            ),
            (
                &p2,
                "p2-f2",
                "2001:db8:14::2/64",
                &fhr2,
                "f2-p2",
                "2001:db8:14::1/64",
            ),
            (
                &fhr1,
                "f1-m",
                "2001:db8:15::1/64",
                &m1,
                "m-f1",
                "2001:db8:15::2/64",
            ),
            (
                &fhr2,
                "f2-m",
                "2001:db8:16::1/64",
                &m2,
                "m-f2",
                "2001:db8:16::2/64",
            ),
        ]);
        for (a, ai, aa, b, bi, ba) in links {
            link(a, ai, aa, b, bi, ba)?;
        }
        for (n, addrs) in [
            (&core, &[R_CORE, C][..]),
            (&fhr1, &[R_F[0]][..]),
            (&fhr2, &[R_F[1]][..]),
        ] {
            for a in addrs {
                n.add_addr("lo", &format!("{a}/128"))?;
            }
        }
        for n in [&p1, &core, &p2, &fhr1, &fhr2] {
            n.enable_forwarding()?;
        }
        s.add_route("default", "2001:db8:10::1")?;
        p1.add_route("default", "2001:db8:11::2")?;
        core.add_route("2001:db8:10::/64", "2001:db8:11::1")?;
        core.add_route("default", "2001:db8:12::2")?;
        p2.add_route("default", "2001:db8:12::1")?;
        for (r, lan, via) in [
            (R_F[0], "2001:db8:15::/64", "2001:db8:13::1"),
            (R_F[1], "2001:db8:16::/64", "2001:db8:14::1"),
        ] {
            p2.add_route(&format!("{r}/128"), via)?;
            p2.add_route(lan, via)?;
        }
        fhr1.add_route("default", "2001:db8:13::2")?;
        fhr2.add_route("default", "2001:db8:14::2")?;
        m1.add_route("default", "2001:db8:15::1")?;
        m2.add_route("default", "2001:db8:16::1")?;
        if sh.ingress {
            ing.add_addr("lo", &format!("{R_I}/128"))?;
            ing.enable_forwarding()?;
            ing.add_route("default", "2001:db8:17::2")?;
            for dst in [
                &format!("{}/128", R_F[0]),
                &format!("{}/128", R_F[1]),
                "2001:db8:15::/64",
                "2001:db8:16::/64",
            ] {
                ing.add_route(dst, "2001:db8:18::2")?;
            }
            for (n, via) in [(&p1, "2001:db8:17::1"), (&p2, "2001:db8:18::1")] {
                n.add_route("2001:db8:10::/64", via)?;
                n.add_route(&format!("{R_I}/128"), via)?;
            }
        }

        // The members serve A (traffic figures); the state figure's
        // addresses need no server.
        let mut udp = [Vec::new(), Vec::new()];
        if sh.anycast.len() == 1 {
            for (k, (name, m)) in [("m1", &m1), ("m2", &m2)].into_iter().enumerate() {
                m.add_addr("lo", &format!("{A}/128"))?;
                udp[k].push(Server::udp(m, name, SocketAddrV6::new(A, PORT, 0, 0))?);
                let uni: Ipv6Addr = M_ADDR[k].parse()?;
                udp[k].push(Server::udp(m, name, SocketAddrV6::new(uni, PORT, 0, 0))?);
            }
        }

        let core_cfg = DaemonCfg {
            extra: format!(
                "{}\n{}",
                capacities(sh.anycast.len()),
                piasm(R_CORE, &["c-p2"], &sh.anycast, true, false)
            ),
            ..DaemonCfg::default()
        }
        .interface("c-p1", "native")
        .interface("c-p2", "native");
        let core_d = Daemon::start(&core, &tmp, &format!("{short}c"), &core_cfg).context("core")?;
        let f1 =
            Daemon::start(&fhr1, &tmp, &format!("{short}f1"), &fhr_cfg(0, &sh)).context("fhr1")?;
        let f2 =
            Daemon::start(&fhr2, &tmp, &format!("{short}f2"), &fhr_cfg(1, &sh)).context("fhr2")?;
        let ingress = if sh.ingress {
            let cfg = DaemonCfg {
                extra: piasm(R_I, &["i-p1"], &sh.anycast, false, sh.shortcut),
                ..DaemonCfg::default()
            }
            .interface("i-s", "native")
            .interface("i-p1", "native")
            .interface("i-p2", "native");
            Some(Daemon::start(&ing, &tmp, &format!("{short}i"), &cfg).context("ingress")?)
        } else {
            None
        };
        let mut t = Tree {
            ingress,
            core: core_d,
            fhr: [f1, f2],
            members: [None, None],
            udp,
            s,
            m: [m1, m2],
            f: [fhr1, fhr2],
            _others: vec![ing, p1, core, p2],
            tmp,
            shape: sh,
        };
        if t.shape.start_members {
            for k in 0..2 {
                t.start_member(k)?;
            }
        }
        Ok(t)
    }

    pub fn member_cfg(&self, k: usize) -> DaemonCfg {
        member(
            &self.shape.anycast,
            M_ADDR[k],
            if k == 0 { "m-f1" } else { "m-f2" },
            &self.shape,
        )
    }

    /// Starts member `k`'s anycast6d (returns once its socket answers).
    pub fn start_member(&mut self, k: usize) -> Result<()> {
        let label = format!("m{}-{}", k + 1, std::process::id());
        let d = Daemon::start(&self.m[k], &self.tmp, &label, &self.member_cfg(k))
            .with_context(|| format!("member {}", k + 1))?;
        self.members[k] = Some(d);
        Ok(())
    }

    /// Waits until the core's tree of A has `n` branches.
    pub fn wait_branches(&self, n: usize, timeout: Duration) -> Result<()> {
        if !wait_until(timeout, || branches(&self.core).len() == n) {
            bail!(
                "the core has not {n} branches after {timeout:?}: {:#}",
                tree(&self.core)
            );
        }
        Ok(())
    }
}

/// The first tree of `show piasm trees` at `d`.
pub fn tree(d: &Daemon) -> Value {
    d.ctl_json(&["show", "piasm", "trees"])
        .ok()
        .and_then(|v| v.as_array().and_then(|t| t.first().cloned()))
        .unwrap_or(Value::Null)
}

pub fn branches(d: &Daemon) -> Vec<Value> {
    tree(d)["branches"].as_array().cloned().unwrap_or_default()
}
