//! UDP traffic from C: which member answers fresh flows (all asked at
//! once, so a dead member costs one short wait, not one per flow), echo
//! round trips on one flow, the first answer after a start, and a flood.

use std::collections::BTreeMap;
use std::net::{Ipv6Addr, SocketAddrV6, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anycast6_tests::Netns;
use anyhow::{bail, Result};

use super::net::C_ADDR;
use super::{A, PORT, SINK_PORT};

/// Fresh source ports, wrapping in 20000..60000.
pub struct Ports(pub u16);

impl Ports {
    pub fn next(&mut self) -> u16 {
        self.0 = if self.0 >= 60000 { 20000 } else { self.0 + 1 };
        self.0
    }
}

fn name_of(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.split('\n').next().unwrap_or("").to_string()
}

/// Asks `n` fresh flows to A at once; member name → flows answered by it
/// ("none": no answer within `wait`).
pub fn census(
    c: &Netns,
    ports: &mut Ports,
    n: usize,
    wait: Duration,
) -> Result<BTreeMap<String, usize>> {
    let list: Vec<u16> = (0..n).map(|_| ports.next()).collect();
    let dst = SocketAddrV6::new(A, PORT, 0, 0);
    c.run_in(move || {
        let mut socks = Vec::new();
        for p in list {
            let s = UdpSocket::bind(SocketAddrV6::new(C_ADDR, p, 0, 0))?;
            s.connect(dst)?;
            s.set_nonblocking(true)?;
            let _ = s.send(b"which");
            socks.push((s, None::<String>));
        }
        let end = Instant::now() + wait;
        let mut buf = [0u8; 512];
        while Instant::now() < end && socks.iter().any(|(_, m)| m.is_none()) {
            for (s, m) in socks.iter_mut().filter(|(_, m)| m.is_none()) {
                if let Ok(k) = s.recv(&mut buf) {
                    *m = Some(name_of(&buf[..k]));
                }
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        let mut out = BTreeMap::new();
        for (_, m) in socks {
            *out.entry(m.unwrap_or_else(|| "none".into())).or_insert(0) += 1;
        }
        Ok(out)
    })
}

/// A source port whose flow to A `member` answers. New flows keep an
/// entry's previous member for the grace window (10 s, docs/flow-hash.md
/// §3) after a member joined: this may take that long.
pub fn port_of(c: &Netns, member: &str, ports: &mut Ports) -> Result<u16> {
    let dst = SocketAddrV6::new(A, PORT, 0, 0);
    let end = Instant::now() + Duration::from_secs(30);
    let mut seen = BTreeMap::new();
    while Instant::now() < end {
        crate::cleanup::check()?;
        let p = ports.next();
        let who = c.run_in(move || {
            let s = UdpSocket::bind(SocketAddrV6::new(C_ADDR, p, 0, 0))?;
            s.connect(dst)?;
            anycast6_tests::traffic::udp_ask(&s, b"which", 3, Duration::from_millis(200))
        })?;
        if who.as_deref() == Some(member) {
            return Ok(p);
        }
        *seen
            .entry(who.unwrap_or_else(|| "none".into()))
            .or_insert(0) += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!("no fresh flow reaches {member} within 30 s (answered by: {seen:?})")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// `n` echo round trips on the flow `sport` → `dst`, one every ~1 ms;
/// their median (µs) and the answering member.
pub fn echo(c: &Netns, sport: u16, dst: SocketAddrV6, n: usize) -> Result<(f64, String)> {
    let (mut rtts, member) = c.run_in(move || {
        let sock = UdpSocket::bind(SocketAddrV6::new(C_ADDR, sport, 0, 0))?;
        sock.connect(dst)?;
        sock.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut buf = [0u8; 256];
        let mut rtts = Vec::with_capacity(n);
        let mut member = String::new();
        for i in 0..n {
            let payload = format!("{i}");
            let t = Instant::now();
            sock.send(payload.as_bytes())?;
            while let Ok(k) = sock.recv(&mut buf) {
                let ans = String::from_utf8_lossy(&buf[..k]).into_owned();
                let mut parts = ans.splitn(2, '\n');
                let name = parts.next().unwrap_or("").to_string();
                if parts.next() == Some(payload.as_str()) {
                    rtts.push(t.elapsed().as_secs_f64() * 1e6);
                    member = name;
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok((rtts, member))
    })?;
    if rtts.len() < n / 2 {
        bail!("{} of {n} echoes to {dst} answered", rtts.len());
    }
    Ok((median(&mut rtts), member))
}

/// Probes A from C every `every` (a fresh source port each) on a thread
/// until one is answered or `budget` runs out; when the answer came and
/// who gave it.
pub fn first_answer(
    c: &Netns,
    port: u16,
    every: Duration,
    budget: Duration,
) -> std::thread::JoinHandle<Result<(Instant, String)>> {
    let dst = SocketAddrV6::new(A, PORT, 0, 0);
    c.spawn("mga-probe", move || {
        let end = Instant::now() + budget;
        let mut ports = Ports(port);
        let mut buf = [0u8; 256];
        while Instant::now() < end {
            let due = Instant::now() + every;
            let sock = UdpSocket::bind(SocketAddrV6::new(C_ADDR, ports.next(), 0, 0))?;
            sock.connect(dst)?;
            sock.set_read_timeout(Some(every))?;
            let _ = sock.send(b"join");
            while Instant::now() < due {
                match sock.recv(&mut buf) {
                    Ok(n) => return Ok((Instant::now(), name_of(&buf[..n]))),
                    // Timeout or an ICMPv6 error: wait for the next tick.
                    Err(_) => std::thread::sleep(Duration::from_micros(200)),
                }
            }
        }
        bail!("no answer from A within {budget:?}")
    })
}

/// Floods `dst`:SINK_PORT from C on one flow for `secs` (64-octet
/// payloads, as fast as one thread sends); datagrams sent.
pub fn flood(c: &Netns, dst: Ipv6Addr, sport: u16, secs: Duration) -> Result<u64> {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let h = c.spawn("mga-flood", move || {
        let sock = UdpSocket::bind(SocketAddrV6::new(C_ADDR, sport, 0, 0))?;
        sock.connect(SocketAddrV6::new(dst, SINK_PORT, 0, 0))?;
        let payload = [0x5au8; 64];
        let mut sent = 0u64;
        while !s2.load(Ordering::Relaxed) {
            for _ in 0..64 {
                if sock.send(&payload).is_ok() {
                    sent += 1;
                }
            }
        }
        Ok(sent)
    });
    std::thread::sleep(secs);
    stop.store(true, Ordering::Relaxed);
    h.join()
        .map_err(|_| anyhow::anyhow!("flood thread panicked"))?
}
