//! The client core (docs/stream.md §4): Data in, Requests and Stops out, a
//! playout clock, and the figures of the summary. Pure: the caller gives
//! the time and does the I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddrV6;
use std::time::Duration;

use anycast6_core::auth::Key;
use anycast6_core::clock::Instant;

use crate::wire::{self, EndReason, Message, Range, Request};

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub session: u64,
    pub content: String,
    /// Octets per second.
    pub rate: u32,
    pub datagram_size: u16,
    /// Playout buffer depth.
    pub buffer: Duration,
    pub nack_interval: Duration,
    pub reorder_delay: Duration,
    pub feedback_interval: Duration,
    pub give_up: Duration,
    /// Where servers send Data: this client's unicast address and port.
    pub me: SocketAddrV6,
    pub key: Option<Key>,
}

/// Where a client message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The service address (the anycast address, or one server's unicast
    /// address for the baseline).
    Service,
    Server(SocketAddrV6),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Out {
    pub to: Target,
    pub bytes: Vec<u8>,
}

/// One change of serving server seen in the stream.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Failover {
    pub from_server: u32,
    pub to_server: u32,
    /// Last Data of the old server → first of the new one.
    pub gap_ms: f64,
    /// The first sequence number the new server sent.
    pub at_seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Running,
    Complete,
    /// No Data for the give-up time.
    Broken,
    /// A server ended the session: no such content, refused, bad request.
    Refused(EndReason),
}

/// What the client saw, for the progress line and the summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    pub outcome: Outcome,
    pub content: String,
    pub session: String,
    pub total_bytes: Option<u64>,
    pub total_datagrams: Option<u64>,
    /// Distinct datagrams received.
    pub arrived: u64,
    pub duplicates: u64,
    /// Datagrams that filled a gap (answers to NACKs, or late).
    pub recovered: u64,
    /// Datagrams not there when the player needed them.
    pub unplayed: u64,
    pub played: u64,
    /// Longest time without a new datagram while the content was unfinished.
    pub longest_stall_ms: f64,
    pub failovers: Vec<Failover>,
    pub servers: Vec<u32>,
    pub requests: u64,
    pub nacks: u64,
    pub stall_requests: u64,
    pub stops_sent: u64,
    /// Octets of content in order, written.
    pub written: u64,
    /// Content buffered ahead of the player.
    pub buffer_ms: f64,
    pub elapsed_ms: f64,
    pub rate_bps: f64,
}

pub struct Client {
    cfg: ClientConfig,
    started: Instant,
    /// Contiguous prefix received: every seq below it is in hand.
    next_write: u64,
    /// One past the highest seq received.
    position: u64,
    /// Received above `next_write`, not yet written.
    pending: BTreeMap<u64, Vec<u8>>,
    /// Missing below `position`, with when to NACK it next.
    missing: BTreeMap<u64, Instant>,
    total_len: Option<u64>,
    total_seqs: Option<u64>,
    first_data: Option<Instant>,
    last_new_data: Option<Instant>,
    play_seq: u64,
    /// Playout has started (the P flag of every Request from then on).
    playing: bool,
    next_stall: Instant,
    next_feedback: Instant,
    current: Option<(u32, SocketAddrV6, Instant)>,
    superseded: BTreeMap<u32, (SocketAddrV6, Instant)>,
    servers: BTreeSet<u32>,
    ready: Vec<u8>,
    outcome: Outcome,
    report: Report,
    last_timestamp: u64,
}

impl Client {
    pub fn new(cfg: ClientConfig, now: Instant) -> Client {
        let report = Report {
            outcome: Outcome::Running,
            content: cfg.content.clone(),
            session: format!("{:016x}", cfg.session),
            total_bytes: None,
            total_datagrams: None,
            arrived: 0,
            duplicates: 0,
            recovered: 0,
            unplayed: 0,
            played: 0,
            longest_stall_ms: 0.0,
            failovers: Vec::new(),
            servers: Vec::new(),
            requests: 0,
            nacks: 0,
            stall_requests: 0,
            stops_sent: 0,
            written: 0,
            buffer_ms: 0.0,
            elapsed_ms: 0.0,
            rate_bps: 0.0,
        };
        Client {
            started: now,
            next_write: 0,
            position: 0,
            pending: BTreeMap::new(),
            missing: BTreeMap::new(),
            total_len: None,
            total_seqs: None,
            first_data: None,
            last_new_data: None,
            play_seq: 0,
            playing: false,
            next_stall: now,
            next_feedback: now + cfg.feedback_interval,
            current: None,
            superseded: BTreeMap::new(),
            servers: BTreeSet::new(),
            ready: Vec::new(),
            outcome: Outcome::Running,
            report,
            last_timestamp: 0,
            cfg,
        }
    }

    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    pub fn done(&self) -> bool {
        self.outcome != Outcome::Running
    }

    /// Content ready to write, in order (taken).
    pub fn take_ready(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.ready)
    }

    fn interval(&self) -> Duration {
        Duration::from_micros(
            (u64::from(self.cfg.datagram_size) * 1_000_000 / u64::from(self.cfg.rate.max(1)))
                .max(1),
        )
    }

    fn due(&self, seq: u64) -> Option<Instant> {
        let start = self.first_data? + self.cfg.buffer;
        Some(start + self.interval() * (seq.min(u64::from(u32::MAX)) as u32))
    }

    fn have(&self, seq: u64) -> bool {
        seq < self.next_write || self.pending.contains_key(&seq)
    }

    fn request(&mut self, flags: u8, ranges: Vec<Range>, wall_ms: u64) -> Out {
        let playing = if self.playing { wire::REQ_PLAYING } else { 0 };
        let r = Request {
            session: self.cfg.session,
            flags: flags | playing,
            position: self.position,
            play_position: self.play_seq,
            rate: self.cfg.rate,
            datagram_size: self.cfg.datagram_size,
            buffer_ms: self.cfg.buffer.as_millis().min(u16::MAX.into()) as u16,
            client_port: self.cfg.me.port(),
            client: *self.cfg.me.ip(),
            content: self.cfg.content.clone(),
            ranges,
        };
        self.report.requests += 1;
        let ts = self.timestamp(wall_ms);
        Out {
            to: Target::Service,
            bytes: r.encode(self.cfg.key.as_ref().map(|k| (k, ts))),
        }
    }

    /// Strictly increasing wall-clock milliseconds for the trailer.
    fn timestamp(&mut self, wall_ms: u64) -> u64 {
        self.last_timestamp = wall_ms.max(self.last_timestamp + 1);
        self.last_timestamp
    }

    /// Between two Data of a server at the session's rate.
    fn datagram_interval(&self) -> Duration {
        Duration::from_micros(
            u64::from(self.cfg.datagram_size) * 1_000_000 / u64::from(self.cfg.rate.max(1)),
        )
    }

    fn stop(&mut self, to: SocketAddrV6, wall_ms: u64) -> Out {
        self.report.stops_sent += 1;
        let ts = self.timestamp(wall_ms);
        Out {
            to: Target::Server(to),
            bytes: wire::encode_stop(self.cfg.session, self.cfg.key.as_ref().map(|k| (k, ts))),
        }
    }

    /// Missing seqs as ranges, at most [`wire::MAX_RANGES`], those with
    /// `pick` true.
    fn ranges(&self, mut pick: impl FnMut(Instant) -> bool) -> Vec<Range> {
        let mut out: Vec<Range> = Vec::new();
        for (&s, &at) in &self.missing {
            if !pick(at) {
                continue;
            }
            if let Some(r) = out
                .last_mut()
                .filter(|r| r.end() == s && r.count < u32::MAX)
            {
                r.count += 1;
            } else if out.len() == wire::MAX_RANGES {
                break;
            } else {
                out.push(Range { first: s, count: 1 });
            }
        }
        out
    }

    /// One datagram from `from`.
    pub fn handle(
        &mut self,
        now: Instant,
        wall_ms: u64,
        from: SocketAddrV6,
        bytes: &[u8],
        out: &mut Vec<Out>,
    ) {
        if self.done() {
            return;
        }
        let Ok(msg) = wire::decode(bytes) else {
            return;
        };
        match msg {
            Message::Data(d) if d.session == self.cfg.session => self.data(
                now,
                wall_ms,
                from,
                d.seq,
                d.total_len,
                d.server_id,
                d.payload,
                out,
            ),
            Message::End(e) if e.session == self.cfg.session => match e.reason {
                // Ask again at once: the router sends it to another server.
                EndReason::Stopping => {
                    self.next_stall = now;
                    self.poll(now, wall_ms, out);
                }
                r => {
                    self.outcome = Outcome::Refused(r);
                }
            },
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn data(
        &mut self,
        now: Instant,
        wall_ms: u64,
        from: SocketAddrV6,
        seq: u64,
        total_len: u64,
        server: u32,
        payload: &[u8],
        out: &mut Vec<Out>,
    ) {
        let size = u64::from(self.cfg.datagram_size);
        let total_seqs = total_len.div_ceil(size).max(1);
        if *self.total_len.get_or_insert(total_len) != total_len || seq >= total_seqs {
            return;
        }
        let expect = total_len.saturating_sub(seq * size).min(size);
        if payload.len() as u64 != expect {
            return;
        }
        self.total_seqs = Some(total_seqs);
        // Which server: a new one is a failover; one superseded still
        // sending (two servers on one session) is told to stop — unless it
        // is sending again after it went quiet, or the current one went
        // quiet: then the service's routing has brought the requests back
        // to it (it took the session over again), and it is a failover
        // back.
        let quiet = 2 * self.cfg.nack_interval.max(self.datagram_interval());
        match self.current {
            Some((id, _, _)) if id == server => {}
            Some((old, addr, last)) => {
                let back = self
                    .superseded
                    .get(&server)
                    .is_some_and(|&(_, told)| now - told > quiet || now - last > quiet);
                if back {
                    self.superseded.remove(&server);
                    self.report.failovers.push(Failover {
                        from_server: old,
                        to_server: server,
                        gap_ms: ms(now - last),
                        at_seq: seq,
                    });
                    // The one left behind may still be sending: stop it.
                    self.superseded.insert(old, (addr, now));
                    let o = self.stop(addr, wall_ms);
                    out.push(o);
                    self.current = Some((server, from, now));
                } else if let Some((_, told)) = self.superseded.get_mut(&server) {
                    if now - *told >= self.cfg.nack_interval {
                        *told = now;
                        let o = self.stop(from, wall_ms);
                        out.push(o);
                    }
                    // Still take what it brings.
                } else {
                    self.report.failovers.push(Failover {
                        from_server: old,
                        to_server: server,
                        gap_ms: ms(now - last),
                        at_seq: seq,
                    });
                    self.superseded
                        .insert(old, (addr, before(now, self.cfg.nack_interval)));
                    self.current = Some((server, from, now));
                }
            }
            None => self.current = Some((server, from, now)),
        }
        if let Some((id, _, t)) = &mut self.current {
            if *id == server {
                *t = now;
            }
        }
        self.servers.insert(server);
        if self.first_data.is_none() {
            self.first_data = Some(now);
        }
        if self.have(seq) {
            self.report.duplicates += 1;
            return;
        }
        self.report.arrived += 1;
        if let Some(t) = self.last_new_data {
            self.report.longest_stall_ms = self.report.longest_stall_ms.max(ms(now - t));
        }
        self.last_new_data = Some(now);
        self.next_stall = now + self.cfg.nack_interval;
        if self.missing.remove(&seq).is_some() {
            self.report.recovered += 1;
        }
        if seq >= self.position {
            for s in self.position..seq {
                if self.missing.len() >= 1 << 16 {
                    break;
                }
                self.missing.insert(s, now + self.cfg.reorder_delay);
            }
            self.position = seq + 1;
        }
        self.pending.insert(seq, payload.to_vec());
        while let Some(p) = self.pending.remove(&self.next_write) {
            self.ready.extend_from_slice(&p);
            self.report.written += p.len() as u64;
            self.next_write += 1;
        }
        if self.next_write == total_seqs {
            self.outcome = Outcome::Complete;
            if let Some((_, addr, _)) = self.current {
                let o = self.stop(addr, wall_ms);
                out.push(o);
            }
        }
    }

    /// Timers: start/stall requests, NACKs, feedback, playout, give-up.
    pub fn poll(&mut self, now: Instant, wall_ms: u64, out: &mut Vec<Out>) {
        if self.done() {
            return;
        }
        // Playout.
        while let (Some(due), Some(total)) = (self.due(self.play_seq), self.total_seqs) {
            if self.play_seq >= total || due > now {
                break;
            }
            self.playing = true;
            if self.have(self.play_seq) {
                self.report.played += 1;
            } else {
                self.report.unplayed += 1;
            }
            self.play_seq += 1;
        }
        let since = now - self.last_new_data.unwrap_or(self.started);
        if since >= self.cfg.give_up {
            self.outcome = Outcome::Broken;
            return;
        }
        if now >= self.next_stall {
            // Nothing for a NACK interval (or not started): ask the service.
            let flags = if self.first_data.is_none() {
                wire::REQ_START
            } else {
                wire::REQ_STALL
            };
            if flags == wire::REQ_STALL {
                self.report.stall_requests += 1;
            }
            let ranges = self.ranges(|_| true);
            let next = now + self.cfg.nack_interval;
            for v in self.missing.values_mut() {
                *v = next;
            }
            let o = self.request(flags, ranges, wall_ms);
            out.push(o);
            self.next_stall = next;
            self.next_feedback = now + self.cfg.feedback_interval;
            return;
        }
        let due = self.ranges(|at| at <= now);
        if !due.is_empty() {
            let next = now + self.cfg.nack_interval;
            for r in &due {
                for s in r.first..r.end() {
                    self.missing.insert(s, next);
                }
            }
            self.report.nacks += 1;
            let o = self.request(0, due, wall_ms);
            out.push(o);
            self.next_feedback = now + self.cfg.feedback_interval;
            return;
        }
        if now >= self.next_feedback {
            let o = self.request(wire::REQ_FEEDBACK, Vec::new(), wall_ms);
            out.push(o);
            self.next_feedback = now + self.cfg.feedback_interval;
        }
    }

    /// When [`Client::poll`] next has something to do.
    pub fn next_wakeup(&self) -> Instant {
        let mut t = self.next_stall.min(self.next_feedback);
        if let Some(&m) = self.missing.values().min() {
            t = t.min(m);
        }
        if let Some(d) = self.due(self.play_seq) {
            t = t.min(d);
        }
        t.min(self.last_new_data.unwrap_or(self.started) + self.cfg.give_up)
    }

    /// The figures so far.
    pub fn report(&self, now: Instant) -> Report {
        let mut r = self.report.clone();
        r.outcome = self.outcome;
        r.total_bytes = self.total_len;
        r.total_datagrams = self.total_seqs;
        r.servers = self.servers.iter().copied().collect();
        r.elapsed_ms = ms(now - self.started);
        let ahead = self.next_write.saturating_sub(self.play_seq);
        r.buffer_ms = ms(self.interval() * ahead.min(u64::from(u32::MAX)) as u32);
        let secs = (now - self.started).as_secs_f64();
        r.rate_bps = if secs > 0.0 {
            r.written as f64 * 8.0 / secs
        } else {
            0.0
        };
        r
    }
}

fn before(t: Instant, d: Duration) -> Instant {
    Instant::from_micros(t.as_micros().saturating_sub(d.as_micros() as u64))
}

fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}
