//! The wire format of docs/stream.md §3: Request, Data, End and Stop, with
//! the optional HMAC-SHA-256 trailer on Request and Stop. Decoding never
//! panics (fuzzed: `fuzz/fuzz_targets/stream_decode.rs`); every refusal
//! names the field that is wrong.

use std::net::Ipv6Addr;

use anycast6_core::auth::{Key, DIGEST_LEN};

pub const MAGIC: u8 = 0xA6;
pub const VERSION: u8 = 1;
pub const DEFAULT_PORT: u16 = 4740;
pub const HEADER_LEN: usize = 12;
/// Request: header + fixed fields, before the content id and ranges.
pub const REQUEST_FIXED_LEN: usize = HEADER_LEN + 44;
pub const RANGE_LEN: usize = 12;
pub const MAX_RANGES: usize = 64;
pub const DATA_HEADER_LEN: usize = HEADER_LEN + 24;
pub const END_LEN: usize = HEADER_LEN + 16;
pub const TRAILER_LEN: usize = 4 + 8 + DIGEST_LEN;
pub const MIN_DATAGRAM: u16 = 64;
pub const MAX_DATAGRAM: u16 = 1400;

pub const TYPE_REQUEST: u8 = 1;
pub const TYPE_DATA: u8 = 2;
pub const TYPE_END: u8 = 3;
pub const TYPE_STOP: u8 = 4;

pub const FLAG_AUTH: u8 = 0x80;
pub const REQ_START: u8 = 0x01;
pub const REQ_STALL: u8 = 0x02;
pub const REQ_FEEDBACK: u8 = 0x04;
/// Playout has started: Play Position is the datagram being played now.
pub const REQ_PLAYING: u8 = 0x08;
pub const DATA_RETRANSMIT: u8 = 0x01;
pub const DATA_LAST: u8 = 0x02;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message too short: {len} octets, {field} needs {need}")]
    Short {
        field: &'static str,
        len: usize,
        need: usize,
    },
    #[error("bad {field}: {value}")]
    Field { field: &'static str, value: u64 },
    #[error("content id is not UTF-8")]
    ContentUtf8,
    #[error("{extra} octets after the message")]
    Trailing { extra: usize },
}

/// A missing run of datagrams: `first .. first + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Range {
    pub first: u64,
    pub count: u32,
}

impl Range {
    pub fn end(&self) -> u64 {
        self.first + u64::from(self.count)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub session: u64,
    pub flags: u8,
    pub position: u64,
    pub play_position: u64,
    /// Octets per second.
    pub rate: u32,
    pub datagram_size: u16,
    pub buffer_ms: u16,
    pub client_port: u16,
    pub client: Ipv6Addr,
    pub content: String,
    pub ranges: Vec<Range>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data<'a> {
    pub session: u64,
    pub flags: u8,
    pub seq: u64,
    pub total_len: u64,
    pub server_id: u32,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    Stopping,
    NoSuchContent,
    Refused,
    BadRequest,
}

impl EndReason {
    pub fn code(self) -> u8 {
        match self {
            EndReason::Stopping => 1,
            EndReason::NoSuchContent => 2,
            EndReason::Refused => 3,
            EndReason::BadRequest => 4,
        }
    }
    fn from_code(c: u8) -> Option<EndReason> {
        Some(match c {
            1 => EndReason::Stopping,
            2 => EndReason::NoSuchContent,
            3 => EndReason::Refused,
            4 => EndReason::BadRequest,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    pub session: u64,
    pub reason: EndReason,
    pub server_id: u32,
    pub position: u64,
}

/// The authentication trailer of a Request or Stop as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub key_id: u16,
    pub timestamp_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    Request(Request, Option<Trailer>),
    Data(Data<'a>),
    End(End),
    Stop {
        session: u64,
        trailer: Option<Trailer>,
    },
}

fn header(out: &mut Vec<u8>, ty: u8, flags: u8, session: u64) {
    out.extend_from_slice(&[MAGIC, VERSION, ty, flags]);
    out.extend_from_slice(&session.to_be_bytes());
}

/// Appends the trailer and seals the message with `key` (the digest covers
/// the whole message, digest field zeroed).
fn seal(out: &mut Vec<u8>, key: &Key, timestamp_ms: u64) {
    out[3] |= FLAG_AUTH;
    out.extend_from_slice(&key.id.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&timestamp_ms.to_be_bytes());
    let at = out.len();
    out.extend_from_slice(&[0; DIGEST_LEN]);
    let d = key.digest(&[out]);
    out[at..].copy_from_slice(&d);
}

impl Request {
    pub fn encode(&self, auth: Option<(&Key, u64)>) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            REQUEST_FIXED_LEN + self.content.len() + self.ranges.len() * RANGE_LEN + TRAILER_LEN,
        );
        header(
            &mut out,
            TYPE_REQUEST,
            self.flags & !FLAG_AUTH,
            self.session,
        );
        out.extend_from_slice(&self.position.to_be_bytes());
        out.extend_from_slice(&self.play_position.to_be_bytes());
        out.extend_from_slice(&self.rate.to_be_bytes());
        out.extend_from_slice(&self.datagram_size.to_be_bytes());
        out.extend_from_slice(&self.buffer_ms.to_be_bytes());
        out.extend_from_slice(&self.client_port.to_be_bytes());
        out.push(self.content.len().min(255) as u8);
        out.push(self.ranges.len().min(MAX_RANGES) as u8);
        out.extend_from_slice(&self.client.octets());
        out.extend_from_slice(&self.content.as_bytes()[..self.content.len().min(255)]);
        for r in self.ranges.iter().take(MAX_RANGES) {
            out.extend_from_slice(&r.first.to_be_bytes());
            out.extend_from_slice(&r.count.to_be_bytes());
        }
        if let Some((key, ts)) = auth {
            seal(&mut out, key, ts);
        }
        out
    }
}

pub fn encode_data(d: &Data<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(DATA_HEADER_LEN + d.payload.len());
    encode_data_into(&mut out, d);
    out
}

pub fn encode_data_into(out: &mut Vec<u8>, d: &Data<'_>) {
    out.clear();
    header(out, TYPE_DATA, d.flags & !FLAG_AUTH, d.session);
    out.extend_from_slice(&d.seq.to_be_bytes());
    out.extend_from_slice(&d.total_len.to_be_bytes());
    out.extend_from_slice(&d.server_id.to_be_bytes());
    out.extend_from_slice(&(d.payload.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(d.payload);
}

pub fn encode_end(e: &End) -> Vec<u8> {
    let mut out = Vec::with_capacity(END_LEN);
    header(&mut out, TYPE_END, 0, e.session);
    out.extend_from_slice(&[e.reason.code(), 0, 0, 0]);
    out.extend_from_slice(&e.server_id.to_be_bytes());
    out.extend_from_slice(&e.position.to_be_bytes());
    out
}

pub fn encode_stop(session: u64, auth: Option<(&Key, u64)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + TRAILER_LEN);
    header(&mut out, TYPE_STOP, 0, session);
    if let Some((key, ts)) = auth {
        seal(&mut out, key, ts);
    }
    out
}

fn need(b: &[u8], n: usize, field: &'static str) -> Result<(), DecodeError> {
    if b.len() < n {
        Err(DecodeError::Short {
            field,
            len: b.len(),
            need: n,
        })
    } else {
        Ok(())
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 octets"))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 octets"))
}

fn trailer(b: &[u8], at: usize) -> Result<Trailer, DecodeError> {
    need(b, at + TRAILER_LEN, "authentication trailer")?;
    if b.len() > at + TRAILER_LEN {
        return Err(DecodeError::Trailing {
            extra: b.len() - at - TRAILER_LEN,
        });
    }
    Ok(Trailer {
        key_id: u16_at(b, at),
        timestamp_ms: u64_at(b, at + 4),
    })
}

fn no_trailing(b: &[u8], at: usize) -> Result<(), DecodeError> {
    if b.len() > at {
        Err(DecodeError::Trailing {
            extra: b.len() - at,
        })
    } else {
        Ok(())
    }
}

/// Decodes one message. The digest is not checked here: [`verify`].
pub fn decode(b: &[u8]) -> Result<Message<'_>, DecodeError> {
    need(b, HEADER_LEN, "header")?;
    if b[0] != MAGIC {
        return Err(DecodeError::Field {
            field: "magic",
            value: b[0].into(),
        });
    }
    if b[1] != VERSION {
        return Err(DecodeError::Field {
            field: "version",
            value: b[1].into(),
        });
    }
    let flags = b[3];
    let session = u64_at(b, 4);
    if session == 0 {
        return Err(DecodeError::Field {
            field: "session id",
            value: 0,
        });
    }
    let authed = flags & FLAG_AUTH != 0;
    match b[2] {
        TYPE_REQUEST => {
            need(b, REQUEST_FIXED_LEN, "request fields")?;
            let position = u64_at(b, 12);
            let play_position = u64_at(b, 20);
            let rate = u32_at(b, 28);
            let datagram_size = u16_at(b, 32);
            let buffer_ms = u16_at(b, 34);
            let client_port = u16_at(b, 36);
            let clen = usize::from(b[38]);
            let nranges = usize::from(b[39]);
            let client = Ipv6Addr::from(<[u8; 16]>::try_from(&b[40..56]).expect("16 octets"));
            if rate == 0 {
                return Err(DecodeError::Field {
                    field: "rate",
                    value: 0,
                });
            }
            if !(MIN_DATAGRAM..=MAX_DATAGRAM).contains(&datagram_size) {
                return Err(DecodeError::Field {
                    field: "datagram size",
                    value: datagram_size.into(),
                });
            }
            if clen == 0 {
                return Err(DecodeError::Field {
                    field: "content length",
                    value: 0,
                });
            }
            if nranges > MAX_RANGES {
                return Err(DecodeError::Field {
                    field: "range count",
                    value: nranges as u64,
                });
            }
            if client_port == 0 {
                return Err(DecodeError::Field {
                    field: "client port",
                    value: 0,
                });
            }
            let cstart = 56;
            need(b, cstart + clen, "content id")?;
            let content = std::str::from_utf8(&b[cstart..cstart + clen])
                .map_err(|_| DecodeError::ContentUtf8)?
                .to_string();
            let rstart = cstart + clen;
            need(b, rstart + nranges * RANGE_LEN, "ranges")?;
            let mut ranges = Vec::with_capacity(nranges);
            let mut floor = 0u64;
            for i in 0..nranges {
                let at = rstart + i * RANGE_LEN;
                let r = Range {
                    first: u64_at(b, at),
                    count: u32_at(b, at + 8),
                };
                if r.count == 0 {
                    return Err(DecodeError::Field {
                        field: "range count of octets",
                        value: 0,
                    });
                }
                // Ascending, disjoint, below Position.
                if r.first < floor
                    || r.first
                        .checked_add(r.count.into())
                        .is_none_or(|e| e > position)
                {
                    return Err(DecodeError::Field {
                        field: "range first sequence",
                        value: r.first,
                    });
                }
                floor = r.end();
                ranges.push(r);
            }
            let end = rstart + nranges * RANGE_LEN;
            let t = if authed {
                Some(trailer(b, end)?)
            } else {
                no_trailing(b, end)?;
                None
            };
            Ok(Message::Request(
                Request {
                    session,
                    flags: flags & (REQ_START | REQ_STALL | REQ_FEEDBACK | REQ_PLAYING),
                    position,
                    play_position,
                    rate,
                    datagram_size,
                    buffer_ms,
                    client_port,
                    client,
                    content,
                    ranges,
                },
                t,
            ))
        }
        TYPE_DATA => {
            need(b, DATA_HEADER_LEN, "data fields")?;
            let plen = usize::from(u16_at(b, 32));
            need(b, DATA_HEADER_LEN + plen, "payload")?;
            no_trailing(b, DATA_HEADER_LEN + plen)?;
            Ok(Message::Data(Data {
                session,
                flags: flags & (DATA_RETRANSMIT | DATA_LAST),
                seq: u64_at(b, 12),
                total_len: u64_at(b, 20),
                server_id: u32_at(b, 28),
                payload: &b[DATA_HEADER_LEN..],
            }))
        }
        TYPE_END => {
            need(b, END_LEN, "end fields")?;
            no_trailing(b, END_LEN)?;
            let reason = EndReason::from_code(b[12]).ok_or(DecodeError::Field {
                field: "reason",
                value: b[12].into(),
            })?;
            Ok(Message::End(End {
                session,
                reason,
                server_id: u32_at(b, 16),
                position: u64_at(b, 20),
            }))
        }
        TYPE_STOP => {
            let t = if authed {
                Some(trailer(b, HEADER_LEN)?)
            } else {
                no_trailing(b, HEADER_LEN)?;
                None
            };
            Ok(Message::Stop {
                session,
                trailer: t,
            })
        }
        other => Err(DecodeError::Field {
            field: "type",
            value: other.into(),
        }),
    }
}

/// Checks the digest of a Request or Stop that carries a trailer, with the
/// key its Key ID names.
pub fn verify(b: &[u8], key: &Key) -> bool {
    if b.len() < HEADER_LEN + TRAILER_LEN {
        return false;
    }
    let at = b.len() - DIGEST_LEN;
    let mut copy = b.to_vec();
    copy[at..].fill(0);
    key.verify(&[&copy], &b[at..])
}

#[cfg(test)]
mod tests;
