//! The protocol runner of anycast6d (daemon/speaker.rs over
//! daemon/link.rs), driven by a test-only protocol over both transports it
//! offers: link-scope UDP and raw IPv6 with a Next Header of its own and a
//! kernel checksum. Two runners in two namespaces joined by a veth say
//! hello to a link-local multicast group until the other side acks by
//! unicast; the ack becomes a RIB offer on the daemon's event channel.
//! What arrives must carry the ingress interface, the destination, the
//! hop limit the sender's transport set; on the raw transport the kernel
//! must have written a correct checksum at the offset, and refuse a packet
//! whose checksum is wrong before the core sees it.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anycast6_control::daemon::link::{LinkSocket, Received, Transport};
use anycast6_control::daemon::speaker::{Datagram, Learn, Outputs, ProtoEvent, Speaker, Task};
use anycast6_control::proto::clock::MonoClock;
use anycast6_control::proto::{Instant, RibChange, RibEntry, Source};
use anycast6_dataplane::fixtures::frames::l4_checksum;
use anycast6_tests::{require_root, veth, Netns};
use tokio::sync::mpsc;

/// A link-local group of our own (RFC 4291 §2.7: ff02::/16, unassigned id).
const GROUP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0xa6, 0x7e57);
/// RFC 3692 experimentation Next Header.
const NEXT_HEADER: u8 = 253;
const CHECKSUM_OFFSET: u16 = 2;
const UDP_PORT: u16 = 47_001;
const ANYCAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 0x99);

/// What a probe received: ancillary data and bytes.
type Seen = Arc<Mutex<Vec<(Received, Vec<u8>)>>>;

/// The test protocol. Its packets: 2 bytes kind ("HI" or "OK"), 2 bytes
/// checksum (raw transport: the kernel's), then text.
struct Probe {
    ifindex: u32,
    src: Ipv6Addr,
    port: u16,
    next_hello: Option<Instant>,
    seen: Seen,
    send: Vec<Datagram>,
    learn: Vec<Learn>,
}

impl Probe {
    fn packet(kind: &[u8; 2], text: &str) -> Vec<u8> {
        let mut b = kind.to_vec();
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(text.as_bytes());
        b
    }
}

impl Speaker for Probe {
    fn handle_packet(&mut self, _now: Instant, r: &Received, bytes: &[u8]) {
        self.seen.lock().unwrap().push((r.clone(), bytes.to_vec()));
        match bytes.get(..2) {
            Some(b"HI") => self.send.push(Datagram {
                ifindex: r.ifindex,
                src: self.src,
                dst: r.src,
                dst_port: self.port,
                bytes: Probe::packet(b"OK", "ack"),
                hop_limit: None,
                router_alert: None,
            }),
            Some(b"OK") if self.next_hello.is_some() => {
                self.next_hello = None;
                self.learn.push((
                    RibChange::Upsert(RibEntry {
                        anycast: ANYCAST,
                        next_hop: r.src,
                        ifindex: r.ifindex,
                        metric: 1,
                        member_unicast: None,
                        source: Source::Kernel,
                    }),
                    false,
                ));
            }
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.next_hello.is_some_and(|t| t <= now) {
            self.send.push(Datagram {
                ifindex: self.ifindex,
                src: self.src,
                dst: GROUP,
                dst_port: self.port,
                bytes: Probe::packet(b"HI", "hello"),
                hop_limit: None,
                router_alert: None,
            });
            self.next_hello = Some(now + Duration::from_millis(100));
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next_hello
    }

    fn drain(&mut self, out: &mut Outputs) {
        out.send.append(&mut self.send);
        out.learn.append(&mut self.learn);
    }
}

/// The link-local address of `dev` in `ns`.
fn link_local(ns: &Netns, dev: &str) -> Ipv6Addr {
    let mut found = None;
    anycast6_tests::wait_for("a link-local address", Duration::from_secs(5), || {
        let out = ns
            .ip(&["-6", "-o", "addr", "show", "dev", dev, "scope", "link"])
            .unwrap_or_default();
        found = out
            .split_whitespace()
            .skip_while(|w| *w != "inet6")
            .nth(1)
            .and_then(|a| a.split('/').next())
            .and_then(|a| a.parse().ok());
        found.is_some()
    })
    .expect("link-local address");
    found.unwrap()
}

fn run_both(transport: Transport, hop_limit: u8) {
    let short = match transport {
        Transport::Udp { .. } => "rtu",
        Transport::Raw { .. } => "rtr",
    };
    let a = Netns::new(&format!("{short}a")).expect("netns a");
    let b = Netns::new(&format!("{short}b")).expect("netns b");
    veth(&a, "p0", &b, "p0").expect("veth");
    let (a_ll, b_ll) = (link_local(&a, "p0"), link_local(&b, "p0"));
    let (a_if, b_if) = (a.ifindex("p0").unwrap(), b.ifindex("p0").unwrap());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let handle = rt.handle().clone();
    // Sockets belong to the namespace they are opened in.
    let open = |ns: &Netns, ifindex: u32| -> LinkSocket {
        let h = handle.clone();
        ns.run_in(move || {
            let _g = h.enter();
            let s = LinkSocket::open(transport, hop_limit)?;
            s.join(GROUP, ifindex)?;
            Ok(s)
        })
        .expect("open a link socket")
    };
    let (sa, sb) = (open(&a, a_if), open(&b, b_if));
    // A raw socket the kernel does not checksum for: it sees (and sends)
    // the bytes exactly as they are.
    let unchecked = |ns: &Netns, join: Option<u32>| -> LinkSocket {
        let h = handle.clone();
        ns.run_in(move || {
            let _g = h.enter();
            let raw = Transport::Raw {
                next_header: NEXT_HEADER,
                checksum_offset: None,
            };
            let s = LinkSocket::open(raw, hop_limit)?;
            if let Some(ifindex) = join {
                s.join(GROUP, ifindex)?;
            }
            Ok(s)
        })
        .expect("a raw socket without IPV6_CHECKSUM")
    };
    let witness = matches!(transport, Transport::Raw { .. }).then(|| unchecked(&b, Some(b_if)));

    let seen_a = Arc::new(Mutex::new(Vec::new()));
    let seen_b = Arc::new(Mutex::new(Vec::new()));
    let port = match transport {
        Transport::Udp { port } => port,
        Transport::Raw { .. } => 0,
    };
    let probe = |ifindex, src, hello: bool, seen: &Seen| Probe {
        ifindex,
        src,
        port,
        next_hello: hello.then_some(Instant::ZERO),
        seen: seen.clone(),
        send: Vec::new(),
        learn: Vec::new(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<ProtoEvent>();
    rt.block_on(async {
        let _ta = Task::spawn(
            probe(a_if, a_ll, true, &seen_a),
            sa,
            MonoClock::new(),
            Some(tx),
        );
        let _tb = Task::spawn(
            probe(b_if, b_ll, false, &seen_b),
            sb,
            MonoClock::new(),
            None,
        );
        let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("no RIB offer within 10 s: the hello/ack exchange failed")
            .expect("event channel");
        let RibChange::Upsert(e) = &ev.learn[0].0 else {
            panic!("expected an offer, got {ev:?}");
        };
        assert_eq!(e.next_hop, b_ll, "the ack's source is b's link-local");
        assert_eq!(e.ifindex, a_if, "the ack arrived on a's veth");

        if let Some(w) = &witness {
            // The witness got a's hello as the wire carried it.
            let mut buf = [0u8; 256];
            let r = tokio::time::timeout(Duration::from_secs(5), w.recv(&mut buf))
                .await
                .expect("witness saw nothing")
                .expect("witness recv");
            let data = &buf[..r.len];
            assert_eq!(&data[..2], b"HI");
            assert_eq!(r.src, a_ll);
            assert_eq!(
                l4_checksum(r.src, GROUP, NEXT_HEADER, data),
                0,
                "the kernel did not write a valid checksum at offset {CHECKSUM_OFFSET}: {data:02x?}"
            );
            // A hello with a wrong checksum, sent past the kernel's
            // checksumming: b's runner must never see it.
            let bad = unchecked(&a, None);
            let mut p = Probe::packet(b"HI", "forged");
            p[2] = 0xde;
            p[3] = 0xad;
            bad.send(&p, a_ll, a_if, SocketAddrV6::new(GROUP, 0, 0, 0))
                .await
                .expect("send forged");
            let forged_seen = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    let r = w.recv(&mut buf).await.expect("witness recv");
                    if &buf[4..r.len] == b"forged" {
                        return;
                    }
                }
            })
            .await;
            assert!(
                forged_seen.is_ok(),
                "the witness never saw the forged hello"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });

    let seen_b = seen_b.lock().unwrap();
    assert!(!seen_b.is_empty(), "b saw nothing");
    for (r, bytes) in seen_b.iter() {
        assert_eq!(r.ifindex, b_if, "ingress interface: {r:?}");
        assert_eq!(r.src, a_ll, "source: {r:?}");
        assert_eq!(r.dst, GROUP, "destination: {r:?}");
        assert_eq!(r.hop_limit, hop_limit, "hop limit: {r:?}");
        assert_ne!(
            &bytes[4..],
            b"forged",
            "the kernel passed a packet with a bad checksum to the runner"
        );
    }
    let seen_a = seen_a.lock().unwrap();
    let (r, _) = seen_a
        .iter()
        .find(|(_, b)| b.starts_with(b"OK"))
        .expect("a got the ack");
    assert_eq!((r.dst, r.hop_limit), (a_ll, hop_limit), "ack: {r:?}");
    eprintln!(
        "runtime over {}: b saw {} hellos, a got the ack from {}",
        transport.label(),
        seen_b.len(),
        r.src
    );
}

#[test]
fn runner_over_link_scope_udp() {
    if !require_root("runner_over_link_scope_udp") {
        return;
    }
    run_both(Transport::Udp { port: UDP_PORT }, 255);
}

#[test]
fn runner_over_raw_ipv6_with_kernel_checksum() {
    if !require_root("runner_over_raw_ipv6_with_kernel_checksum") {
        return;
    }
    run_both(
        Transport::Raw {
            next_header: NEXT_HEADER,
            checksum_offset: Some(CHECKSUM_OFFSET),
        },
        1,
    );
}
