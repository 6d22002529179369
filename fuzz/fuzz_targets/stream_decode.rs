//! The anycast6-stream decoder must never panic, and what it accepts must
//! survive a round trip: decode(encode(decode(x))) == decode(x) (reserved
//! fields and unknown flags are ignored on receipt, so not the octets).
//! Every input is also fed to a server core and a client core, which must
//! not panic either, whatever a hostile peer sends.
#![no_main]
use std::net::SocketAddrV6;
use std::time::Duration;

use anycast6_core::clock::Instant;
use anycast6_stream::client::{Client, ClientConfig};
use anycast6_stream::server::{Dir, Server, ServerConfig};
use anycast6_stream::wire::{self, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = wire::decode(data) {
        let again = match &m {
            Message::Request(r, None) => Some(r.encode(None)),
            Message::Data(d) => Some(wire::encode_data(d)),
            Message::End(e) => Some(wire::encode_end(e)),
            Message::Stop { session, trailer: None } => Some(wire::encode_stop(*session, None)),
            _ => None,
        };
        if let Some(b) = again {
            assert_eq!(wire::decode(&b).as_ref(), Ok(&m), "round trip");
        }
    }
    let mut s = Server::new(ServerConfig::default());
    let mut out = Vec::new();
    s.handle(Instant::ZERO, 0, &Dir(None), data, &mut out);
    s.poll(Instant::from_micros(5_000), &mut out);
    let me: SocketAddrV6 = "[2001:db8::1]:4000".parse().unwrap();
    let mut c = Client::new(
        ClientConfig {
            session: u64::from_be_bytes(data.get(4..12).and_then(|b| b.try_into().ok()).unwrap_or([1; 8])),
            content: "gen:1M".into(),
            rate: 100_000,
            datagram_size: 1000,
            buffer: Duration::from_millis(100),
            nack_interval: Duration::from_millis(100),
            reorder_delay: Duration::from_millis(10),
            feedback_interval: Duration::from_secs(1),
            give_up: Duration::from_secs(5),
            me,
            key: None,
        },
        Instant::ZERO,
    );
    let mut cout = Vec::new();
    c.handle(Instant::from_micros(1), 0, me, data, &mut cout);
    c.poll(Instant::from_micros(200_000), 0, &mut cout);
    let _ = c.report(Instant::from_micros(200_000));
});
