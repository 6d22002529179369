//! The server core (docs/stream.md §5): requests in, paced Data out, on a
//! clock the caller gives. Pure but for reading content blocks through
//! [`Library`].

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddrV6;
use std::path::PathBuf;
use std::time::Duration;

use anycast6_core::auth::Key;
use anycast6_core::clock::Instant;

use crate::content::{Content, ContentError};
use crate::wire::{self, Data, End, EndReason, Message, Request, Trailer};

/// Retransmissions queued per session, at most.
pub const MAX_RETRANSMIT_QUEUE: usize = 4096;

/// Where a server finds content.
pub trait Library {
    fn open(&self, id: &str) -> Result<Content, ContentError>;
}

/// Files of a directory (if any) and the generated sources.
pub struct Dir(pub Option<PathBuf>);

impl Library for Dir {
    fn open(&self, id: &str) -> Result<Content, ContentError> {
        Content::open(self.0.as_deref(), id)
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub server_id: u32,
    /// Octets per second a session may ask for.
    pub max_rate: u32,
    pub max_sessions: usize,
    pub max_sessions_per_client: usize,
    pub idle_timeout: Duration,
    /// With keys, only authenticated requests and stops are taken.
    pub keys: Vec<Key>,
    /// How far a request's timestamp may be from the server's clock.
    pub auth_window: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            server_id: 1,
            max_rate: 125_000_000,
            max_sessions: 256,
            max_sessions_per_client: 8,
            idle_timeout: Duration::from_secs(5),
            keys: Vec::new(),
            auth_window: Duration::from_secs(10),
        }
    }
}

/// What the server counts (`--json` and the log).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerCounters {
    pub requests: u64,
    pub sessions_started: u64,
    pub sessions_taken_over: u64,
    pub sessions_ended: u64,
    pub data_sent: u64,
    pub retransmitted: u64,
    pub rewinds: u64,
    pub stops: u64,
    pub malformed: u64,
    pub auth_failures: u64,
    pub refused: u64,
    pub no_such_content: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    pub to: SocketAddrV6,
    pub bytes: Vec<u8>,
}

struct Session {
    id: u64,
    client: SocketAddrV6,
    content: Content,
    size: u16,
    total_seqs: u64,
    next_seq: u64,
    interval: Duration,
    next_send: Instant,
    retransmit: BTreeSet<u64>,
    last_request: Instant,
    /// The client's play position and when it said so.
    play: (u64, Instant),
    /// Whether the client said it plays (flag P); until it does, its
    /// playout is taken to start one buffer depth after `started`.
    playing: bool,
    /// When this server started (or took over) the session.
    started: Instant,
    buffer_ms: u16,
    last_timestamp: u64,
}

impl Session {
    fn apply(&mut self, now: Instant, r: &Request, rate: u32) {
        self.interval = interval(r.datagram_size, rate);
        self.play = (r.play_position, now);
        self.playing = r.flags & wire::REQ_PLAYING != 0;
        self.buffer_ms = r.buffer_ms;
        self.last_request = now;
        for range in &r.ranges {
            // Only what was sent, and never more than the queue holds.
            let hi = range
                .end()
                .min(self.next_seq)
                .min(range.first.saturating_add(MAX_RETRANSMIT_QUEUE as u64));
            for s in range.first..hi {
                if self.retransmit.len() >= MAX_RETRANSMIT_QUEUE {
                    break;
                }
                self.retransmit.insert(s);
            }
        }
    }

    /// Behind the client's estimated playout by less than its buffer: send
    /// at twice the rate so that a drained buffer fills again.
    fn catching_up(&self, now: Instant) -> bool {
        let ival = i128::from(self.interval.as_micros().max(1) as u64);
        let depth_us = i128::from(self.buffer_ms) * 1000;
        // Playing since the last Request; or, not playing yet, playout is
        // taken to start one buffer depth after this server's first Data
        // (so while the client fills its buffer, "behind" means behind the
        // plain rate, and the buffer fills to its depth, not beyond).
        let since = if self.playing {
            self.play.1.as_micros() as i128
        } else {
            self.started.as_micros() as i128 + depth_us
        };
        let elapsed_us = now.as_micros() as i128 - since;
        // A client's play position is its own word: never trusted to
        // overflow anything.
        let played = i128::from(self.play.0) + elapsed_us / ival;
        i128::from(self.next_seq) < played + depth_us / ival
    }
}

fn interval(size: u16, rate: u32) -> Duration {
    Duration::from_micros((u64::from(size) * 1_000_000 / u64::from(rate.max(1))).max(1))
}

pub struct Server {
    cfg: ServerConfig,
    sessions: HashMap<u64, Session>,
    counters: ServerCounters,
    buf: Vec<u8>,
}

impl Server {
    pub fn new(cfg: ServerConfig) -> Server {
        Server {
            cfg,
            sessions: HashMap::new(),
            counters: ServerCounters::default(),
            buf: Vec::new(),
        }
    }

    pub fn counters(&self) -> &ServerCounters {
        &self.counters
    }

    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// (session, client, next sequence, total) of every session.
    pub fn session_list(&self) -> Vec<(u64, SocketAddrV6, u64, u64)> {
        let mut v: Vec<_> = self
            .sessions
            .values()
            .map(|s| (s.id, s.client, s.next_seq, s.total_seqs))
            .collect();
        v.sort();
        v
    }

    fn authentic(&mut self, bytes: &[u8], t: Option<Trailer>, wall_ms: u64) -> bool {
        if self.cfg.keys.is_empty() {
            return true;
        }
        let Some(t) = t else {
            return false;
        };
        let Some(key) = self.cfg.keys.iter().find(|k| k.id == t.key_id) else {
            return false;
        };
        let window = self.cfg.auth_window.as_millis() as u64;
        wall_ms.abs_diff(t.timestamp_ms) <= window && wire::verify(bytes, key)
    }

    /// One datagram from `from`; answers (End) go into `out`.
    pub fn handle(
        &mut self,
        now: Instant,
        wall_ms: u64,
        lib: &dyn Library,
        bytes: &[u8],
        out: &mut Vec<Send>,
    ) {
        let msg = match wire::decode(bytes) {
            Ok(m) => m,
            Err(_) => {
                self.counters.malformed += 1;
                return;
            }
        };
        match msg {
            Message::Request(r, t) => {
                self.counters.requests += 1;
                if !self.authentic(bytes, t, wall_ms) {
                    self.counters.auth_failures += 1;
                    return;
                }
                self.request(now, t.map_or(0, |t| t.timestamp_ms), lib, r, out);
            }
            Message::Stop { session, trailer } => {
                if !self.authentic(bytes, trailer, wall_ms) {
                    self.counters.auth_failures += 1;
                    return;
                }
                if self.sessions.remove(&session).is_some() {
                    self.counters.stops += 1;
                    self.counters.sessions_ended += 1;
                }
            }
            // Data and End are the client's to receive.
            Message::Data(_) | Message::End(_) => self.counters.malformed += 1,
        }
    }

    fn end(
        &mut self,
        session: u64,
        to: SocketAddrV6,
        reason: EndReason,
        position: u64,
        out: &mut Vec<Send>,
    ) {
        out.push(Send {
            to,
            bytes: wire::encode_end(&End {
                session,
                reason,
                server_id: self.cfg.server_id,
                position,
            }),
        });
    }

    fn request(
        &mut self,
        now: Instant,
        ts: u64,
        lib: &dyn Library,
        r: Request,
        out: &mut Vec<Send>,
    ) {
        let client = SocketAddrV6::new(r.client, r.client_port, 0, 0);
        if r.client.is_unspecified() || r.client.is_multicast() {
            self.counters.refused += 1;
            return;
        }
        let rate = r.rate;
        if let Some(s) = self.sessions.get_mut(&r.session) {
            if s.client != client {
                // Somebody else's session id: not theirs to steer.
                self.counters.refused += 1;
                return;
            }
            if ts != 0 && ts <= s.last_timestamp {
                self.counters.auth_failures += 1;
                return;
            }
            s.last_timestamp = ts;
            if rate > self.cfg.max_rate {
                self.counters.refused += 1;
                return;
            }
            s.apply(now, &r, rate);
            if r.flags & wire::REQ_STALL != 0 && r.position < s.next_seq {
                s.next_seq = r.position;
                self.counters.rewinds += 1;
            }
            return;
        }
        if rate > self.cfg.max_rate
            || self.sessions.len() >= self.cfg.max_sessions
            || self
                .sessions
                .values()
                .filter(|s| s.client.ip() == client.ip())
                .count()
                >= self.cfg.max_sessions_per_client
        {
            self.counters.refused += 1;
            self.end(r.session, client, EndReason::Refused, r.position, out);
            return;
        }
        let content = match lib.open(&r.content) {
            Ok(c) => c,
            Err(_) => {
                self.counters.no_such_content += 1;
                self.end(r.session, client, EndReason::NoSuchContent, r.position, out);
                return;
            }
        };
        let size = u64::from(r.datagram_size);
        let total_seqs = content.len().div_ceil(size).max(1);
        if r.position > total_seqs {
            self.end(r.session, client, EndReason::BadRequest, r.position, out);
            return;
        }
        if r.flags & wire::REQ_START != 0 {
            self.counters.sessions_started += 1;
        } else {
            self.counters.sessions_taken_over += 1;
        }
        let mut s = Session {
            id: r.session,
            client,
            content,
            size: r.datagram_size,
            total_seqs,
            next_seq: r.position,
            interval: interval(r.datagram_size, rate),
            next_send: now,
            retransmit: BTreeSet::new(),
            last_request: now,
            play: (r.play_position, now),
            playing: false,
            started: now,
            buffer_ms: r.buffer_ms,
            last_timestamp: ts,
        };
        s.apply(now, &r, rate);
        self.sessions.insert(r.session, s);
    }

    /// Sends what is due by `now`, ends idle sessions.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Send>) {
        let idle = self.cfg.idle_timeout;
        let before = self.sessions.len();
        self.sessions.retain(|_, s| now - s.last_request < idle);
        self.counters.sessions_ended += (before - self.sessions.len()) as u64;
        let server_id = self.cfg.server_id;
        for s in self.sessions.values_mut() {
            // Never burst to make up for a late wake-up of more than 20 ms.
            if now > s.next_send + Duration::from_millis(20) {
                s.next_send = now;
            }
            while s.next_send <= now {
                let (seq, flags) = if let Some(&q) = s.retransmit.iter().next() {
                    s.retransmit.remove(&q);
                    (q, wire::DATA_RETRANSMIT)
                } else if s.next_seq < s.total_seqs {
                    s.next_seq += 1;
                    (s.next_seq - 1, 0)
                } else {
                    break;
                };
                let last = if seq + 1 == s.total_seqs {
                    wire::DATA_LAST
                } else {
                    0
                };
                s.content
                    .read_at(seq * u64::from(s.size), &mut self.buf, s.size.into());
                let bytes = wire::encode_data(&Data {
                    session: s.id,
                    flags: flags | last,
                    seq,
                    total_len: s.content.len(),
                    server_id,
                    payload: &self.buf,
                });
                out.push(Send {
                    to: s.client,
                    bytes,
                });
                self.counters.data_sent += 1;
                if flags != 0 {
                    self.counters.retransmitted += 1;
                }
                let step = if s.catching_up(now) {
                    (s.interval / 2).max(Duration::from_micros(1))
                } else {
                    s.interval
                };
                s.next_send = s.next_send + step;
            }
        }
    }

    /// When [`Server::poll`] next has something to do.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.sessions
            .values()
            .map(|s| {
                let idle_end = s.last_request + self.cfg.idle_timeout;
                if s.retransmit.is_empty() && s.next_seq >= s.total_seqs {
                    idle_end
                } else {
                    s.next_send.min(idle_end)
                }
            })
            .min()
    }

    /// A clean stop: End *stopping* to every session.
    pub fn stop_all(&mut self, out: &mut Vec<Send>) {
        let ends: Vec<_> = self
            .sessions
            .values()
            .map(|s| (s.id, s.client, s.next_seq))
            .collect();
        for (id, client, pos) in ends {
            self.end(id, client, EndReason::Stopping, pos, out);
        }
        self.counters.sessions_ended += self.sessions.len() as u64;
        self.sessions.clear();
    }
}
