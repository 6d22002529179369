//! Failover gaps in the PIA-SM tree: a 1 ms UDP stream on one flow from S
//! to A, its longest run of unanswered datagrams when (a) its member dies
//! (anycast6d SIGKILLed, its UDP server stopped: FHR1's ARD hold runs out,
//! the branch is pruned up to the core, the core sends the flow to the
//! other branch), (b) its first-hop router dies (FHR2's anycast6d
//! SIGKILLed, its uplink down: the core's branch expires with the join
//! holdtime). Both come back before the next repetition.

use std::net::{SocketAddrV6, UdpSocket};
use std::time::Duration;

use anycast6_tests::proto::longest_gap;
use anycast6_tests::traffic::udp_ask;
use anycast6_tests::{wait_until, Server, UdpStream};
use anyhow::{bail, Context, Result};

use super::tree::{Shape, Tree, S_ADDR};
use super::{A, PORT};
use crate::progress::Progress;

const PROBE: Duration = Duration::from_millis(1);

/// Source ports for "which member serves a fresh flow" questions.
struct Ports(u16);

impl Ports {
    fn next(&mut self) -> u16 {
        self.0 = if self.0 >= 60000 { 20000 } else { self.0 + 1 };
        self.0
    }
}

fn answering(t: &Tree, sport: u16) -> Option<String> {
    let dst = SocketAddrV6::new(A, PORT, 0, 0);
    t.s.run_in(move || {
        let sock = UdpSocket::bind(SocketAddrV6::new(S_ADDR, sport, 0, 0))?;
        sock.connect(dst)?;
        udp_ask(&sock, b"which", 2, Duration::from_millis(200))
    })
    .ok()
    .flatten()
}

/// A fresh flow's source port that `member` serves. A new flow in a
/// Maglev entry that changed keeps the entry's previous member for the
/// fast path's grace window (10 s, docs/flow-hash.md §3), so this may take
/// that long after a branch came back.
fn port_of(t: &Tree, member: &str, ports: &mut Ports) -> Result<u16> {
    let mut found = None;
    wait_until(Duration::from_secs(30), || {
        let p = ports.next();
        if answering(t, p).as_deref() == Some(member) {
            found = Some(p);
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
        false
    });
    found.with_context(|| format!("no fresh flow reaches {member} within 30 s"))
}

/// Runs the stream across `fail`, until the core has one branch; the gap (ms).
fn gap(t: &mut Tree, sport: u16, fail: impl FnOnce(&mut Tree) -> Result<()>) -> Result<f64> {
    let dst = SocketAddrV6::new(A, PORT, 0, 0);
    let stream = UdpStream::start(&t.s, SocketAddrV6::new(S_ADDR, sport, 0, 0), dst, PROBE);
    std::thread::sleep(Duration::from_millis(500));
    fail(t)?;
    t.wait_branches(1, Duration::from_secs(15))?;
    std::thread::sleep(Duration::from_millis(500));
    let rep = stream.stop()?;
    if rep.members.len() != 2 {
        bail!(
            "the stream did not move to the other member: {:?}",
            rep.members
        );
    }
    Ok(longest_gap(&rep.lost) as f64 * PROBE.as_secs_f64() * 1e3)
}

/// (member death gaps, first-hop router death gaps), ms.
pub fn run(reps: usize, progress: &Progress) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut t = Tree::build("pfo", Shape::traffic())?;
    t.wait_branches(2, Duration::from_secs(30))?;
    let mut ports = Ports(20000);
    let (mut member, mut router) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        crate::cleanup::check()?;
        progress.step(format!(
            "PIA-SM failover: member dies (rep {}/{reps})",
            rep + 1
        ));
        let p = port_of(&t, "m1", &mut ports)?;
        member.push(gap(&mut t, p, |t| {
            if let Some(d) = t.members[0].as_mut() {
                d.kill9();
            }
            t.udp[0].clear();
            Ok(())
        })?);
        // M1 comes back.
        for srv in servers(&t, 0)? {
            t.udp[0].push(srv);
        }
        t.members[0].as_mut().context("m1")?.spawn()?;
        t.wait_branches(2, Duration::from_secs(20))?;

        crate::cleanup::check()?;
        progress.step(format!(
            "PIA-SM failover: first-hop router dies (rep {}/{reps})",
            rep + 1
        ));
        let p = port_of(&t, "m2", &mut ports)?;
        router.push(gap(&mut t, p, |t| {
            t.fhr[1].kill9();
            t.f[1].ip(&["link", "set", "f2-p2", "down"])?;
            Ok(())
        })?);
        // FHR2 comes back: its uplink, address and default route.
        t.f[1].ip(&["link", "set", "f2-p2", "up"])?;
        let _ = t.f[1].add_addr("f2-p2", "2001:db8:14::1/64");
        let _ = t.f[1].add_route("default", "2001:db8:14::2");
        t.fhr[1].spawn()?;
        t.wait_branches(2, Duration::from_secs(20))?;
    }
    Ok((member, router))
}

fn servers(t: &Tree, k: usize) -> Result<Vec<Server>> {
    let name = format!("m{}", k + 1);
    let uni: std::net::Ipv6Addr = super::tree::M_ADDR[k].parse()?;
    Ok(vec![
        Server::udp(&t.m[k], &name, SocketAddrV6::new(A, PORT, 0, 0))?,
        Server::udp(&t.m[k], &name, SocketAddrV6::new(uni, PORT, 0, 0))?,
    ])
}
