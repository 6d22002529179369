//! Traffic endpoints, run on threads that entered a namespace.
//!
//! Members run servers that say who they are: the UDP echo answers
//! `<name>\n<payload>`, the TCP server sends `<name>\n` and then echoes
//! every byte back until the client closes. Clients therefore learn which
//! member served each flow, and a TCP transfer is checked byte-exact in
//! both directions without storing it (the data is a pure function of the
//! offset, see [`pattern_byte`]). A TCP connection that moved to another
//! member mid-stream would be reset by that member's kernel, so a
//! completed transfer also proves it stayed on one member.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv6Addr, Shutdown, SocketAddr, SocketAddrV6, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::netns::Netns;

/// A member's server; stops (and closes its sockets) on Drop.
pub struct Server {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<()>>>,
    /// Datagrams answered (UDP) or connections accepted (TCP).
    pub served: Arc<AtomicU64>,
}

impl Server {
    /// A UDP server in `ns` bound to `bind` that answers every datagram
    /// with `<name>\n<payload>`, from the address it was sent to.
    pub fn udp(ns: &Netns, name: &str, bind: SocketAddrV6) -> Result<Server> {
        Server::start(
            ns,
            "udp",
            name,
            move || UdpSocket::bind(bind),
            |s, n, st, sv| serve_udp(s, n, st, sv),
        )
    }

    /// A TCP server in `ns` bound to `bind`: for each connection it sends
    /// `<name>\n`, then echoes everything until the client shuts down.
    pub fn tcp(ns: &Netns, name: &str, bind: SocketAddrV6) -> Result<Server> {
        Server::start(
            ns,
            "tcp",
            name,
            move || TcpListener::bind(bind),
            |s, n, st, sv| serve_tcp(s, n, st, sv),
        )
    }

    /// Binds on a thread inside `ns`, reports the bind result back, then
    /// serves until stopped.
    fn start<S: 'static>(
        ns: &Netns,
        kind: &str,
        name: &str,
        bind: impl FnOnce() -> std::io::Result<S> + Send + 'static,
        serve: impl FnOnce(&S, &str, &Arc<AtomicBool>, &Arc<AtomicU64>) -> Result<()> + Send + 'static,
    ) -> Result<Server> {
        let (stop, served) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let name = name.to_string();
        let what = format!("{kind} server {name}");
        let (st, sv) = (stop.clone(), served.clone());
        let handle = ns.spawn(&format!("{kind}-{name}"), move || {
            let sock = match bind() {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(anyhow!("bind: {e}")));
                    return Ok(());
                }
            };
            let _ = tx.send(Ok(()));
            serve(&sock, &name, &st, &sv)
        });
        rx.recv_timeout(Duration::from_secs(5))
            .with_context(|| format!("{what} did not start"))?
            .with_context(|| what.clone())?;
        Ok(Server {
            stop,
            handle: Some(handle),
            served,
        })
    }

    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The UDP echo loop (also used by the `a6-traffic` binary).
/// A receive buffer deep enough (4 MiB, past `rmem_max` as root) that a
/// test process starved of CPU for a second on a loaded 2-core machine
/// still finds every datagram queued when it runs again: the traffic tests
/// judge the network, not the scheduler.
pub fn deep_receive_buffer(sock: &UdpSocket) {
    // Best effort: without it the test still runs, only less tolerant.
    let _ = anycast6_testsupport::sys::force_receive_buffer(sock, 4 << 20);
}

pub fn serve_udp(
    sock: &UdpSocket,
    name: &str,
    stop: &AtomicBool,
    served: &AtomicU64,
) -> Result<()> {
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    deep_receive_buffer(sock);
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::with_capacity(65536 + name.len() + 1);
    while !stop.load(Ordering::Relaxed) {
        match sock.recv_from(&mut buf) {
            Ok((n, peer)) => {
                out.clear();
                out.extend_from_slice(name.as_bytes());
                out.push(b'\n');
                out.extend_from_slice(&buf[..n]);
                // A lost answer shows up as loss at the client.
                let _ = sock.send_to(&out, peer);
                served.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The TCP accept loop (also used by the `a6-traffic` binary).
pub fn serve_tcp(
    l: &TcpListener,
    name: &str,
    stop: &Arc<AtomicBool>,
    served: &AtomicU64,
) -> Result<()> {
    l.set_nonblocking(true)?;
    while !stop.load(Ordering::Relaxed) {
        match l.accept() {
            Ok((s, _)) => {
                served.fetch_add(1, Ordering::Relaxed);
                let (name, stop) = (name.to_string(), stop.clone());
                thread::spawn(move || {
                    let _ = echo_conn(s, &name, &stop);
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn echo_conn(mut s: TcpStream, name: &str, stop: &AtomicBool) -> Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    s.write_all(format!("{name}\n").as_bytes())?;
    let mut buf = vec![0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => s.write_all(&buf[..n])?,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    s.shutdown(Shutdown::Write)?;
    Ok(())
}

/// Which member answered each of `n` UDP flows.
#[derive(Debug, Clone, Default)]
pub struct FlowCensus {
    /// Member name → flows it answered.
    pub per_member: BTreeMap<String, usize>,
    /// Flows that got no answer after every try.
    pub unanswered: usize,
    pub flows: usize,
}

impl FlowCensus {
    pub fn count(&self, member: &str) -> usize {
        self.per_member.get(member).copied().unwrap_or(0)
    }

    /// Share of all flows answered by `member`.
    pub fn share(&self, member: &str) -> f64 {
        self.count(member) as f64 / self.flows.max(1) as f64
    }

    pub fn members(&self) -> Vec<&str> {
        self.per_member.keys().map(String::as_str).collect()
    }
}

impl std::fmt::Display for FlowCensus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} flows:", self.flows)?;
        for (m, c) in &self.per_member {
            write!(f, " {m}={c}")?;
        }
        write!(f, " unanswered={}", self.unanswered)
    }
}

/// Sends one datagram per flow from `[src]:(sport_base + i)` to `dst` and
/// records which member answered; each flow is a distinct 5-tuple. Call
/// from a thread inside the client namespace (see [`Netns::run_in`]).
pub fn udp_flows(src: Ipv6Addr, dst: SocketAddrV6, sport_base: u16, n: u16) -> Result<FlowCensus> {
    let mut census = FlowCensus {
        flows: n as usize,
        ..Default::default()
    };
    for i in 0..n {
        let sport = sport_base
            .checked_add(i)
            .context("source port range overflows")?;
        let sock = UdpSocket::bind(SocketAddrV6::new(src, sport, 0, 0))
            .with_context(|| format!("bind [{src}]:{sport}"))?;
        sock.connect(dst)?;
        match udp_ask(
            &sock,
            format!("flow {i}").as_bytes(),
            3,
            Duration::from_millis(500),
        )? {
            Some(name) => *census.per_member.entry(name).or_default() += 1,
            None => census.unanswered += 1,
        }
    }
    Ok(census)
}

/// Sends `payload` on a connected socket and returns the member name in
/// the answer; retries `tries` times, `None` if nothing came back.
pub fn udp_ask(
    sock: &UdpSocket,
    payload: &[u8],
    tries: u32,
    wait: Duration,
) -> Result<Option<String>> {
    sock.set_read_timeout(Some(wait))?;
    let mut buf = [0u8; 2048];
    for _ in 0..tries {
        sock.send(payload)?;
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            match sock.recv(&mut buf) {
                Ok(n) => {
                    let (name, echo) = split_answer(&buf[..n])?;
                    if echo == payload {
                        return Ok(Some(name));
                    }
                    // A late answer to an earlier try: keep waiting.
                }
                // Timeout, or an ICMPv6 error (unreachable, refused)
                // reported on the connected socket: no answer this try.
                Err(_) => break,
            }
        }
    }
    Ok(None)
}

fn split_answer(b: &[u8]) -> Result<(String, &[u8])> {
    let nl = b
        .iter()
        .position(|&c| c == b'\n')
        .context("answer without a name line")?;
    Ok((String::from_utf8_lossy(&b[..nl]).into_owned(), &b[nl + 1..]))
}

/// Result of a sequenced UDP stream on one flow.
#[derive(Debug, Clone, Default)]
pub struct StreamReport {
    pub sent: u64,
    pub answered: u64,
    /// Sequence numbers that never got an answer.
    pub lost: Vec<u64>,
    /// Members that answered (one flow: one member is expected).
    pub members: BTreeMap<String, u64>,
    /// When each datagram was sent (index = sequence number), so a test
    /// can tell whether a lost one falls in a window it caused.
    pub sent_at: Vec<Instant>,
}

/// A UDP stream on one 5-tuple: one numbered datagram every `interval`,
/// each answered by the member's echo; runs until [`UdpStream::stop`].
pub struct UdpStream {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    handle: Option<JoinHandle<Result<StreamReport>>>,
}

impl UdpStream {
    pub fn start(
        client: &Netns,
        src: SocketAddrV6,
        dst: SocketAddrV6,
        interval: Duration,
    ) -> UdpStream {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (st, se) = (stop.clone(), sent.clone());
        let handle = client.spawn("udp-stream", move || {
            let sock = UdpSocket::bind(src).with_context(|| format!("bind {src}"))?;
            sock.connect(dst)?;
            deep_receive_buffer(&sock);
            let rx = sock.try_clone()?;
            rx.set_read_timeout(Some(Duration::from_millis(100)))?;
            let done = Arc::new(AtomicBool::new(false));
            let d = done.clone();
            let receiver = thread::spawn(move || -> Result<(Vec<bool>, BTreeMap<String, u64>)> {
                let mut seen: Vec<bool> = Vec::new();
                let mut members = BTreeMap::new();
                let mut buf = [0u8; 256];
                // After the last send: quiet for a whole second, so answers
                // a starved member sends late still count.
                let mut quiet = 0;
                loop {
                    match rx.recv(&mut buf) {
                        Ok(n) => {
                            quiet = 0;
                            let (name, echo) = split_answer(&buf[..n])?;
                            let seq: u64 = std::str::from_utf8(echo)?.trim().parse()?;
                            let i = seq as usize;
                            if seen.len() <= i {
                                seen.resize(i + 1, false);
                            }
                            seen[i] = true;
                            *members.entry(name).or_default() += 1;
                        }
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                        {
                            if d.load(Ordering::Relaxed) {
                                quiet += 1;
                                if quiet >= 10 {
                                    return Ok((seen, members));
                                }
                            }
                        }
                        // An ICMPv6 error for one datagram (unreachable,
                        // refused): that datagram is lost, counted below.
                        Err(_) => {}
                    }
                }
            });
            let start = Instant::now();
            let mut seq = 0u64;
            let mut sent_at = Vec::new();
            while !st.load(Ordering::Relaxed) {
                let due = start + interval * (seq as u32);
                if let Some(d) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(d);
                }
                // A failed send is a lost datagram; it is counted as such.
                sent_at.push(Instant::now());
                let _ = sock.send(seq.to_string().as_bytes());
                seq += 1;
                se.store(seq, Ordering::Relaxed);
            }
            done.store(true, Ordering::Relaxed);
            let (seen, members) = receiver
                .join()
                .map_err(|_| anyhow!("receiver panicked"))??;
            let lost: Vec<u64> = (0..seq)
                .filter(|&s| !seen.get(s as usize).copied().unwrap_or(false))
                .collect();
            Ok(StreamReport {
                sent: seq,
                answered: seq - lost.len() as u64,
                lost,
                members,
                sent_at,
            })
        });
        UdpStream {
            stop,
            sent,
            handle: Some(handle),
        }
    }

    /// Datagrams sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub fn stop(mut self) -> Result<StreamReport> {
        self.stop.store(true, Ordering::Relaxed);
        let h = self.handle.take().expect("stream handle");
        h.join()
            .map_err(|_| anyhow!("udp stream thread panicked"))?
    }
}

impl Drop for UdpStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The byte at `offset` of every transfer: a pure function of the offset
/// (splitmix64 of the 8-byte block index), so both ends can check data
/// without storing it, and a shifted or repeated segment never matches.
pub fn pattern_byte(offset: u64) -> u8 {
    let mut z = (offset / 8).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    z.to_le_bytes()[(offset % 8) as usize]
}

fn fill_pattern(buf: &mut [u8], offset: u64) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern_byte(offset + i as u64);
    }
}

/// What a finished TCP transfer saw.
#[derive(Debug, Clone)]
pub struct TransferReport {
    /// The member that greeted the connection.
    pub member: String,
    pub sent: u64,
    /// Bytes echoed back and equal to what was sent.
    pub verified: u64,
    pub elapsed: Duration,
}

/// A TCP transfer of `bytes` to `dst`, paced to `rate` bytes/s (if set),
/// echoed back by the member and checked byte-exact.
pub struct TcpTransfer {
    sent: Arc<AtomicU64>,
    verified: Arc<AtomicU64>,
    member: Arc<Mutex<Option<String>>>,
    handle: Option<JoinHandle<Result<TransferReport>>>,
}

impl TcpTransfer {
    pub fn start(client: &Netns, dst: SocketAddrV6, bytes: u64, rate: Option<u64>) -> TcpTransfer {
        let sent = Arc::new(AtomicU64::new(0));
        let verified = Arc::new(AtomicU64::new(0));
        let member = Arc::new(Mutex::new(None));
        let (se, ve, me) = (sent.clone(), verified.clone(), member.clone());
        let handle = client.spawn("tcp-transfer", move || {
            tcp_transfer(dst, bytes, rate, &se, &ve, &me)
        });
        TcpTransfer {
            sent,
            verified,
            member,
            handle: Some(handle),
        }
    }

    /// Bytes written so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Bytes echoed back and verified so far.
    pub fn verified(&self) -> u64 {
        self.verified.load(Ordering::Relaxed)
    }

    /// The member that greeted the connection, once it has.
    pub fn member(&self) -> Option<String> {
        self.member.lock().expect("member lock").clone()
    }

    pub fn finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Waits for the end of the transfer.
    pub fn join(mut self) -> Result<TransferReport> {
        let h = self.handle.take().expect("transfer handle");
        h.join().map_err(|_| anyhow!("transfer thread panicked"))?
    }
}

impl Drop for TcpTransfer {
    fn drop(&mut self) {
        // The thread ends on its own (socket timeouts); do not block a
        // failing test on it.
        self.handle.take();
    }
}

/// One TCP transfer; call from a thread in the client namespace.
pub fn tcp_transfer(
    dst: SocketAddrV6,
    bytes: u64,
    rate: Option<u64>,
    sent: &AtomicU64,
    verified: &Arc<AtomicU64>,
    member: &Mutex<Option<String>>,
) -> Result<TransferReport> {
    tcp_transfer_until(
        dst,
        bytes,
        rate,
        sent,
        verified,
        member,
        &AtomicBool::new(false),
    )
}

/// [`tcp_transfer`] that also ends early, at a write boundary, once `stop`
/// is set: what was sent by then must come back byte-exact.
pub fn tcp_transfer_until(
    dst: SocketAddrV6,
    bytes: u64,
    rate: Option<u64>,
    sent: &AtomicU64,
    verified: &Arc<AtomicU64>,
    member: &Mutex<Option<String>>,
    stop: &AtomicBool,
) -> Result<TransferReport> {
    let start = Instant::now();
    let mut s = TcpStream::connect_timeout(&SocketAddr::V6(dst), Duration::from_secs(5))
        .with_context(|| format!("connect to {dst}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    s.set_nodelay(true)?;
    let name = read_line(&mut s).context("reading the member's name")?;
    *member.lock().expect("member lock") = Some(name.clone());

    let mut rx = s.try_clone()?;
    let ver = verified.clone();
    let reader = thread::spawn(move || -> Result<u64> {
        let mut buf = vec![0u8; 65536];
        let mut off = 0u64;
        loop {
            let n = match rx.read(&mut buf) {
                Ok(0) => return Ok(off),
                Ok(n) => n,
                Err(e) => bail!("reading the echo at offset {off}: {e}"),
            };
            for (i, &b) in buf[..n].iter().enumerate() {
                let at = off + i as u64;
                if b != pattern_byte(at) {
                    bail!(
                        "echo differs at offset {at}: got {b:#04x}, sent {:#04x}",
                        pattern_byte(at)
                    );
                }
            }
            off += n as u64;
            ver.store(off, Ordering::Relaxed);
        }
    });

    let mut buf = vec![0u8; 16384];
    let mut off = 0u64;
    while off < bytes && !stop.load(Ordering::Relaxed) {
        let n = (bytes - off).min(buf.len() as u64) as usize;
        fill_pattern(&mut buf[..n], off);
        s.write_all(&buf[..n])
            .with_context(|| format!("writing at offset {off} to {name}"))?;
        off += n as u64;
        sent.store(off, Ordering::Relaxed);
        if let Some(rate) = rate {
            let due = start + Duration::from_secs_f64(off as f64 / rate as f64);
            if let Some(d) = due.checked_duration_since(Instant::now()) {
                thread::sleep(d);
            }
        }
    }
    s.shutdown(Shutdown::Write)?;
    let echoed = reader.join().map_err(|_| anyhow!("reader panicked"))??;
    if echoed != off {
        bail!("{name} echoed {echoed} of {off} bytes");
    }
    Ok(TransferReport {
        member: name,
        sent: off,
        verified: echoed,
        elapsed: start.elapsed(),
    })
}

fn read_line(s: &mut TcpStream) -> Result<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b)? {
            0 => bail!("connection closed before the name line"),
            _ if b[0] == b'\n' => return Ok(String::from_utf8_lossy(&line).into_owned()),
            _ => line.push(b[0]),
        }
        if line.len() > 64 {
            bail!("name line too long");
        }
    }
}

/// A short TCP exchange (`bytes` echoed, unpaced): which member served it.
/// `n` short TCP connections to `dst` (each a new flow that starts with a
/// SYN), and which member served each; a failed connection counts as
/// unanswered.
pub fn tcp_flows(dst: SocketAddrV6, n: usize) -> Result<FlowCensus> {
    let mut census = FlowCensus {
        flows: n,
        ..Default::default()
    };
    for _ in 0..n {
        match tcp_probe(dst, 1024) {
            Ok(name) => *census.per_member.entry(name).or_default() += 1,
            Err(_) => census.unanswered += 1,
        }
    }
    Ok(census)
}

pub fn tcp_probe(dst: SocketAddrV6, bytes: u64) -> Result<String> {
    let r = tcp_transfer(
        dst,
        bytes,
        None,
        &AtomicU64::new(0),
        &Arc::new(AtomicU64::new(0)),
        &Mutex::new(None),
    )?;
    Ok(r.member)
}
