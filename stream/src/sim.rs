//! The client and server cores talking through a simulated network on a
//! simulated clock: loss, reordering, duplicates, late packets, and
//! servers that die or stop, behind one "anycast" service address that
//! the test points at whichever server it likes.

use std::collections::VecDeque;
use std::net::SocketAddrV6;
use std::time::Duration;

use anycast6_core::auth::Key;
use anycast6_core::clock::{Instant, SimClock};

use crate::client::{Client, ClientConfig, Outcome, Target};
use crate::content::fill_generated;
use crate::server::{Dir, Server, ServerConfig};

const STEP: Duration = Duration::from_millis(1);

fn me() -> SocketAddrV6 {
    "[2001:db8:c::10]:40000".parse().unwrap()
}

fn server_addr(i: usize) -> SocketAddrV6 {
    format!("[2001:db8:5::{}]:4740", i + 1).parse().unwrap()
}

/// What the network does to a datagram, by its index (deterministic).
#[derive(Clone, Copy, Default)]
struct Faults {
    /// Drop every n-th datagram to the client.
    drop_every: Option<u64>,
    /// Deliver every n-th one twice.
    dup_every: Option<u64>,
    /// Delay every n-th one by this much (reordering / late arrival).
    late_every: Option<(u64, Duration)>,
    /// One-way delay.
    delay: Duration,
}

struct Net {
    clock: SimClock,
    client: Client,
    servers: Vec<Option<Server>>,
    /// Which server the service address reaches now (None: nobody).
    anycast: Option<usize>,
    faults: Faults,
    to_client: VecDeque<(Instant, SocketAddrV6, Vec<u8>)>,
    to_server: VecDeque<(Instant, usize, Vec<u8>)>,
    sent_to_client: u64,
    output: Vec<u8>,
    lib: Dir,
    /// Every datagram the client got: (time, server index).
    arrivals: Vec<(Instant, usize)>,
}

fn client_cfg(content: &str, rate: u32, buffer_ms: u64) -> ClientConfig {
    ClientConfig {
        session: 0x5e55,
        content: content.into(),
        rate,
        datagram_size: 1000,
        buffer: Duration::from_millis(buffer_ms),
        nack_interval: Duration::from_millis(100),
        reorder_delay: Duration::from_millis(10),
        feedback_interval: Duration::from_secs(1),
        give_up: Duration::from_secs(3),
        me: me(),
        key: None,
    }
}

impl Net {
    fn new(n: usize, cfg: ClientConfig, server_cfg: ServerConfig, faults: Faults) -> Net {
        let clock = SimClock::new();
        let servers = (0..n)
            .map(|i| {
                Some(Server::new(ServerConfig {
                    server_id: i as u32 + 1,
                    ..server_cfg.clone()
                }))
            })
            .collect();
        Net {
            client: Client::new(cfg, clock.now()),
            clock,
            servers,
            anycast: Some(0),
            faults,
            to_client: VecDeque::new(),
            to_server: VecDeque::new(),
            sent_to_client: 0,
            output: Vec::new(),
            lib: Dir(None),
            arrivals: Vec::new(),
        }
    }

    fn step(&mut self) {
        let now = self.clock.now();
        let wall = 1_800_000_000_000 + now.as_micros() / 1000;
        // Deliver what is due (the queues are not sorted: late ones wait).
        let mut keep = VecDeque::new();
        while let Some((at, from, b)) = self.to_client.pop_front() {
            if at <= now {
                let mut out = Vec::new();
                self.client.handle(now, wall, from, &b, &mut out);
                if let Some(i) = (0..self.servers.len()).find(|&i| server_addr(i) == from) {
                    self.arrivals.push((now, i));
                }
                self.route(now, out);
            } else {
                keep.push_back((at, from, b));
            }
        }
        self.to_client = keep;
        let mut keep = VecDeque::new();
        while let Some((at, i, b)) = self.to_server.pop_front() {
            if at <= now {
                if let Some(s) = self.servers[i].as_mut() {
                    let mut out = Vec::new();
                    s.handle(now, wall, &self.lib, &b, &mut out);
                    self.deliver_from(now, i, out);
                }
            } else {
                keep.push_back((at, i, b));
            }
        }
        self.to_server = keep;
        let mut out = Vec::new();
        self.client.poll(now, wall, &mut out);
        self.route(now, out);
        for i in 0..self.servers.len() {
            if let Some(s) = self.servers[i].as_mut() {
                let mut out = Vec::new();
                s.poll(now, &mut out);
                self.deliver_from(now, i, out);
            }
        }
        self.output.extend(self.client.take_ready());
        self.clock.advance(STEP);
    }

    fn route(&mut self, now: Instant, out: Vec<crate::client::Out>) {
        for o in out {
            let to = match o.to {
                Target::Service => self.anycast,
                Target::Server(a) => (0..self.servers.len()).find(|&i| server_addr(i) == a),
            };
            if let Some(i) = to {
                self.to_server
                    .push_back((now + self.faults.delay, i, o.bytes));
            }
        }
    }

    fn deliver_from(&mut self, now: Instant, i: usize, out: Vec<crate::server::Send>) {
        for s in out {
            assert_eq!(s.to, me(), "servers answer the client's own address");
            self.sent_to_client += 1;
            let n = self.sent_to_client;
            let f = self.faults;
            if f.drop_every.is_some_and(|d| n.is_multiple_of(d)) {
                continue;
            }
            let mut at = now + f.delay;
            if let Some((every, late)) = f.late_every {
                if n.is_multiple_of(every) {
                    at = at + late;
                }
            }
            if f.dup_every.is_some_and(|d| n.is_multiple_of(d)) {
                self.to_client
                    .push_back((at, server_addr(i), s.bytes.clone()));
            }
            self.to_client.push_back((at, server_addr(i), s.bytes));
        }
    }

    fn run_until(&mut self, limit: Duration, mut stop: impl FnMut(&Net) -> bool) {
        let end = self.clock.now() + limit;
        while self.clock.now() < end && !self.client.done() && !stop(self) {
            self.step();
        }
    }

    fn expect(len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        fill_generated(&mut v, 0);
        v
    }
}

#[test]
fn clean_network_streams_the_content_in_order() {
    let mut n = Net::new(
        1,
        client_cfg("gen:200k", 100_000, 300),
        ServerConfig::default(),
        Faults::default(),
    );
    n.run_until(Duration::from_secs(10), |_| false);
    let r = n.client.report(n.clock.now());
    assert_eq!(r.outcome, Outcome::Complete, "{r:#?}");
    assert_eq!(n.output, Net::expect(200 << 10));
    assert_eq!((r.unplayed, r.recovered, r.duplicates), (0, 0, 0), "{r:#?}");
    assert_eq!(r.arrived, 205);
    assert!(r.failovers.is_empty());
    // Paced: 200 KiB at 100 kB/s takes about 2 s, not an instant.
    assert!(r.elapsed_ms > 1500.0 && r.elapsed_ms < 2600.0, "{r:#?}");
    // The client ended the session at the server.
    n.run_until(Duration::from_millis(50), |_| false);
    assert_eq!(n.servers[0].as_ref().unwrap().sessions(), 0);
}

#[test]
fn loss_reordering_duplicates_and_late_packets_are_recovered() {
    let faults = Faults {
        drop_every: Some(7),
        dup_every: Some(5),
        late_every: Some((11, Duration::from_millis(40))),
        delay: Duration::from_millis(2),
    };
    let mut n = Net::new(
        1,
        client_cfg("gen:300k", 150_000, 500),
        ServerConfig::default(),
        faults,
    );
    n.run_until(Duration::from_secs(10), |_| false);
    let r = n.client.report(n.clock.now());
    assert_eq!(r.outcome, Outcome::Complete, "{r:#?}");
    assert_eq!(n.output, Net::expect(300 << 10), "byte-exact");
    assert!(r.recovered > 30, "{r:#?}");
    assert!(r.duplicates > 30, "{r:#?}");
    assert!(r.nacks > 0, "{r:#?}");
    assert_eq!(
        r.unplayed, 0,
        "a 500 ms buffer covers NACK recovery: {r:#?}"
    );
    let c = n.servers[0].as_ref().unwrap().counters().clone();
    assert!(c.retransmitted >= r.recovered, "{c:?} {r:#?}");
}

#[test]
fn the_client_holds_its_buffer_depth_ahead_not_more() {
    // The server sends at twice the rate only while the client is short of
    // its buffer depth; the client waiting for its buffer to fill (no P
    // flag yet) does not count as playing.
    for buffer_ms in [300u64, 500, 1000] {
        let mut n = Net::new(
            1,
            client_cfg("gen:1000k", 100_000, buffer_ms),
            ServerConfig::default(),
            Faults::default(),
        );
        for t in [2u64, 3, 5] {
            n.run_until(
                Duration::from_secs(t) - (n.clock.now() - Instant::ZERO),
                |_| false,
            );
            let r = n.client.report(n.clock.now());
            let depth = buffer_ms as f64;
            assert!(
                r.buffer_ms >= depth - 50.0 && r.buffer_ms <= depth + 50.0,
                "at {t} s, buffer {buffer_ms} ms: {} ms ahead",
                r.buffer_ms
            );
        }
    }
}

/// The serving server dies; the service address reaches the next one only
/// after `hold` (ARD's hold time); the stream goes on from there.
fn failover(hold_ms: u64, buffer_ms: u64) -> (Net, crate::client::Report) {
    let mut n = Net::new(
        3,
        client_cfg("gen:400k", 100_000, buffer_ms),
        ServerConfig::default(),
        Faults {
            delay: Duration::from_millis(1),
            ..Faults::default()
        },
    );
    n.run_until(Duration::from_secs(1), |_| false);
    assert_eq!(n.client.report(n.clock.now()).servers, vec![1]);
    n.servers[0] = None; // SIGKILL
    n.run_until(Duration::from_millis(hold_ms), |_| false);
    n.anycast = Some(1);
    n.run_until(Duration::from_secs(10), |_| false);
    let r = n.client.report(n.clock.now());
    (n, r)
}

#[test]
fn a_dead_server_is_replaced_by_the_next_and_nothing_is_unplayed() {
    let (n, r) = failover(300, 500);
    assert_eq!(r.outcome, Outcome::Complete, "{r:#?}");
    assert_eq!(n.output, Net::expect(400 << 10));
    assert_eq!(r.failovers.len(), 1, "{r:#?}");
    let f = &r.failovers[0];
    assert_eq!((f.from_server, f.to_server), (1, 2));
    // Gap: the hold time plus at most one NACK interval (and the RTT).
    assert!(
        f.gap_ms >= 300.0 && f.gap_ms <= 300.0 + 100.0 + 5.0,
        "{f:?}"
    );
    assert!(r.longest_stall_ms <= 405.0, "{r:#?}");
    assert_eq!(r.unplayed, 0, "{r:#?}");
    assert!(r.stall_requests >= 3, "{r:#?}");
    let c = n.servers[1].as_ref().unwrap().counters();
    assert_eq!((c.sessions_started, c.sessions_taken_over), (0, 1), "{c:?}");
    assert_eq!(n.servers[2].as_ref().unwrap().counters().requests, 0);
}

#[test]
fn a_buffer_shorter_than_the_gap_leaves_datagrams_unplayed_but_the_file_whole() {
    let (n, r) = failover(1000, 300);
    assert_eq!(r.outcome, Outcome::Complete, "{r:#?}");
    assert_eq!(n.output, Net::expect(400 << 10));
    assert!(r.unplayed > 0, "{r:#?}");
    assert!(r.failovers[0].gap_ms >= 1000.0, "{r:#?}");
}

#[test]
fn a_clean_stop_hands_over_at_once() {
    let mut n = Net::new(
        2,
        client_cfg("gen:300k", 100_000, 300),
        ServerConfig::default(),
        Faults::default(),
    );
    n.run_until(Duration::from_secs(1), |_| false);
    // The member left (ARD leave) and the server says it is stopping.
    n.anycast = Some(1);
    let mut out = Vec::new();
    n.servers[0].as_mut().unwrap().stop_all(&mut out);
    n.deliver_from(n.clock.now(), 0, out);
    n.servers[0] = None;
    n.run_until(Duration::from_secs(10), |_| false);
    let r = n.client.report(n.clock.now());
    assert_eq!(r.outcome, Outcome::Complete, "{r:#?}");
    assert_eq!(n.output, Net::expect(300 << 10));
    assert!(
        r.failovers[0].gap_ms < 20.0,
        "no stall timer to wait for: {r:#?}"
    );
    assert_eq!(r.unplayed, 0);
}

#[test]
fn with_one_server_and_no_anycast_the_stream_breaks() {
    let mut n = Net::new(
        1,
        client_cfg("gen:400k", 100_000, 300),
        ServerConfig::default(),
        Faults::default(),
    );
    n.run_until(Duration::from_secs(1), |_| false);
    n.servers[0] = None;
    n.run_until(Duration::from_secs(10), |_| false);
    let r = n.client.report(n.clock.now());
    assert_eq!(r.outcome, Outcome::Broken, "{r:#?}");
    assert!(r.written < 400 << 10);
    assert!(r.unplayed > 0);
}

#[test]
fn two_servers_on_one_session_the_older_is_stopped() {
    let mut n = Net::new(
        2,
        client_cfg("gen:300k", 100_000, 300),
        ServerConfig::default(),
        Faults::default(),
    );
    n.run_until(Duration::from_millis(500), |_| false);
    // The route moves to a live server: the next feedback starts the
    // session there too.
    n.anycast = Some(1);
    n.run_until(Duration::from_secs(10), |_| false);
    let r = n.client.report(n.clock.now());
    assert_eq!(r.outcome, Outcome::Complete, "{r:#?}");
    assert_eq!(n.output, Net::expect(300 << 10));
    assert_eq!(n.servers[0].as_ref().unwrap().counters().stops, 1, "{r:#?}");
    assert_eq!(n.servers[0].as_ref().unwrap().sessions(), 0);
    assert_eq!(r.failovers.len(), 1);
}

#[test]
fn the_route_moving_back_to_a_stopped_server_fails_back() {
    // Routing moves the service 1 -> 2 -> 1 with both servers alive (the
    // migration test's stages do): the client stopped server 1 when 2 took
    // over; when the requests reach 1 again it takes the session over
    // again, and the client must follow it, not stop it for ever.
    let mut n = Net::new(
        2,
        client_cfg("gen:600k", 100_000, 500),
        ServerConfig::default(),
        Faults {
            delay: Duration::from_millis(1),
            ..Faults::default()
        },
    );
    n.run_until(Duration::from_millis(1500), |_| false);
    n.anycast = Some(1);
    n.run_until(Duration::from_millis(1500), |_| false);
    n.anycast = Some(0);
    n.run_until(Duration::from_secs(20), |_| false);
    let r = n.client.report(n.clock.now());
    assert_eq!(r.outcome, Outcome::Complete, "{r:#?}");
    assert_eq!(n.output, Net::expect(600 << 10));
    let moves: Vec<(u32, u32)> = r
        .failovers
        .iter()
        .map(|f| (f.from_server, f.to_server))
        .collect();
    assert_eq!(moves, vec![(1, 2), (2, 1)], "{r:#?}");
    assert_eq!(r.unplayed, 0, "{r:#?}");
    // Server 2, left behind while still alive, was told to stop.
    let c2 = n.servers[1].as_ref().unwrap().counters();
    assert!(c2.stops >= 1, "{c2:?}");
    let c1 = n.servers[0].as_ref().unwrap().counters();
    assert!(
        c1.sessions_taken_over <= 3,
        "server 1 taken over again and again: {c1:?}"
    );
}

#[test]
fn a_lost_tail_is_sent_again_after_a_stall() {
    // Everything after the first second is lost once; nothing opens a gap
    // (no later datagram arrives), so only the stall timer finds it.
    let mut n = Net::new(
        1,
        client_cfg("gen:100k", 100_000, 300),
        ServerConfig::default(),
        Faults::default(),
    );
    n.run_until(Duration::from_millis(700), |_| false);
    let held = n.to_client.len();
    n.faults.drop_every = Some(1);
    n.run_until(Duration::from_millis(600), |_| false);
    assert!(held < 3);
    n.faults.drop_every = None;
    n.run_until(Duration::from_secs(10), |_| false);
    let r = n.client.report(n.clock.now());
    assert_eq!(r.outcome, Outcome::Complete, "{r:#?}");
    assert_eq!(n.output, Net::expect(100 << 10));
    assert!(n.servers[0].as_ref().unwrap().counters().rewinds >= 1);
}

#[test]
fn keys_keep_strangers_out() {
    let key = Key::new(3, b"0123456789abcdef".to_vec());
    let scfg = ServerConfig {
        keys: vec![key.clone()],
        ..ServerConfig::default()
    };
    // Unsigned: nothing streams.
    let mut n = Net::new(
        1,
        client_cfg("gen:50k", 100_000, 300),
        scfg.clone(),
        Faults::default(),
    );
    n.run_until(Duration::from_secs(1), |_| false);
    assert_eq!(n.client.report(n.clock.now()).arrived, 0);
    let c = n.servers[0].as_ref().unwrap().counters();
    assert!(c.auth_failures >= 5 && c.sessions_started == 0, "{c:?}");
    // The wrong key: nothing either.
    let mut cfg = client_cfg("gen:50k", 100_000, 300);
    cfg.key = Some(Key::new(3, b"not the right key".to_vec()));
    let mut n = Net::new(1, cfg, scfg.clone(), Faults::default());
    n.run_until(Duration::from_secs(1), |_| false);
    assert_eq!(n.client.report(n.clock.now()).arrived, 0);
    // Signed: streams.
    let mut cfg = client_cfg("gen:50k", 100_000, 300);
    cfg.key = Some(key.clone());
    let mut n = Net::new(1, cfg, scfg.clone(), Faults::default());
    n.run_until(Duration::from_secs(5), |_| false);
    assert_eq!(n.client.outcome(), Outcome::Complete);
    // A stranger who rewrites the client address of a signed request (to
    // aim the stream elsewhere) is refused.
    let mut s = Server::new(scfg);
    let req = crate::wire::Request {
        session: 9,
        flags: crate::wire::REQ_START,
        position: 0,
        play_position: 0,
        rate: 1000,
        datagram_size: 1000,
        buffer_ms: 100,
        client_port: 1,
        client: "2001:db8::1".parse().unwrap(),
        content: "gen:1M".into(),
        ranges: vec![],
    };
    let mut b = req.encode(Some((&key, 1_800_000_000_000)));
    b[55] ^= 0xff;
    let mut out = Vec::new();
    s.handle(Instant::ZERO, 1_800_000_000_000, &Dir(None), &b, &mut out);
    assert_eq!(s.sessions(), 0);
    assert_eq!(s.counters().auth_failures, 1);
    // Outside the acceptance window: refused too.
    let b = req.encode(Some((&key, 1_800_000_000_000 - 60_000)));
    s.handle(Instant::ZERO, 1_800_000_000_000, &Dir(None), &b, &mut out);
    assert_eq!(s.counters().auth_failures, 2);
    let b = req.encode(Some((&key, 1_800_000_000_000)));
    s.handle(Instant::ZERO, 1_800_000_000_000, &Dir(None), &b, &mut out);
    assert_eq!(s.sessions(), 1);
}

#[test]
fn limits_refuse_and_idle_sessions_end() {
    let scfg = ServerConfig {
        max_rate: 50_000,
        max_sessions_per_client: 1,
        idle_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    // Above the rate limit: End "refused", the client stops with it.
    let mut n = Net::new(
        1,
        client_cfg("gen:50k", 100_000, 300),
        scfg.clone(),
        Faults::default(),
    );
    n.run_until(Duration::from_secs(1), |_| false);
    assert_eq!(
        n.client.outcome(),
        Outcome::Refused(crate::wire::EndReason::Refused)
    );
    // No such content.
    let mut n = Net::new(
        1,
        client_cfg("movie.ts", 10_000, 300),
        scfg.clone(),
        Faults::default(),
    );
    n.run_until(Duration::from_secs(1), |_| false);
    assert_eq!(
        n.client.outcome(),
        Outcome::Refused(crate::wire::EndReason::NoSuchContent)
    );
    // A session nobody asks about any more ends after the idle timeout.
    let mut s = Server::new(scfg);
    let req = crate::wire::Request {
        session: 9,
        flags: crate::wire::REQ_START,
        position: 0,
        play_position: 0,
        rate: 1000,
        datagram_size: 1000,
        buffer_ms: 100,
        client_port: 1,
        client: "2001:db8::1".parse().unwrap(),
        content: "gen:1M".into(),
        ranges: vec![],
    };
    let mut out = Vec::new();
    s.handle(Instant::ZERO, 0, &Dir(None), &req.encode(None), &mut out);
    // A second session from the same client address: over its limit.
    let mut other = req.clone();
    other.session = 10;
    s.handle(Instant::ZERO, 0, &Dir(None), &other.encode(None), &mut out);
    assert_eq!(s.sessions(), 1);
    assert_eq!(s.counters().refused, 1);
    let mut clock = SimClock::new();
    for _ in 0..3000 {
        s.poll(clock.now(), &mut out);
        clock.advance(STEP);
    }
    assert_eq!(s.sessions(), 0, "idle session ended");
    // At 1000 octets/s and 1000-octet datagrams: about one a second.
    assert!(
        (2..=4).contains(&s.counters().data_sent),
        "{:?}",
        s.counters()
    );
}
