//! An AOSPF instance with three interfaces up (two broadcast, one
//! point-to-point with RFC 7166 authentication) fed arbitrary packets on
//! a fake clock must never panic, and everything it sends must decode and
//! carry a right checksum or trailer.
//!
//! Input: one octet of setup (bit 0: our router id 10.0.0.1 or 10.0.0.2,
//! the two ids of the FRR and BIRD captures; bit 1: a small `max_lsas`;
//! bit 2: start as a graceful restart), then frames of
//! `ctrl, time, length (2 octets, big endian), payload`:
//! - ctrl bits 0-1: interface 1, 2 or 3; 3 is an operation instead
//!   (`time` picks it: interface down/up, new origination, view);
//! - bits 2-3: the source (BIRD's and FRR's link-locals, fe80::2, a
//!   global address); bits 4-5: the destination (AllSPFRouters,
//!   AllDRouters, our link-local, another);
//! - bit 6: the target fixes the packet checksum (interfaces 1, 2) or
//!   seals the packet with the key and a new sequence number (3), so the
//!   payload gets past those checks;
//! - `time`: the clock moves 20 ms per unit first (255: 1000 s) and due
//!   timers run.
#![no_main]
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use anycast6_aospf::packet::auth::{seal, verify, KeyPrep};
use anycast6_aospf::packet::{self, Packet};
use anycast6_aospf::{
    Config, Instance, InterfaceAuth, InterfaceConfig, NetworkType, Originated, Output,
};
use anycast6_core::auth::{Key, Keyring};
use anycast6_core::Instant;
use libfuzzer_sys::fuzz_target;

/// The key of the BIRD and FRR captures.
const SECRET: &str = "anycast6-test-key";
const SOURCES: [Ipv6Addr; 4] = [
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0x1c05, 0x19ff, 0xfe5b, 0xa9d8),
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0x9070, 0xd5ff, 0xfe87, 0xb492),
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2),
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
];

fn our_ll(ifindex: u32) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 1, ifindex as u16)
}

fn keyring() -> Keyring {
    Keyring::new(vec![Key::new(1, SECRET)])
}

fn interface(ifindex: u32, cost: u16) -> InterfaceConfig {
    let network = if ifindex == 3 {
        NetworkType::PointToPoint
    } else {
        NetworkType::Broadcast
    };
    let mut c = InterfaceConfig::new(ifindex, &format!("fz{ifindex}"), our_ll(ifindex), network);
    c.cost = cost;
    // BIRD's captures use 1/4, FRR's 2/8.
    let hello = if ifindex == 2 { 2 } else { 1 };
    c.hello_interval = Duration::from_secs(hello);
    c.dead_interval = Duration::from_secs(4 * hello);
    c.retransmit_interval = Duration::from_secs(2);
    if ifindex == 3 {
        c.auth = Some(InterfaceAuth {
            keys: keyring(),
            prep: KeyPrep::Rfc7166,
            seq_start: 1,
        });
    }
    c
}

fn origination(alt: bool) -> Vec<Originated> {
    let host = |a: Ipv6Addr, plen, metric, anycast, ifindex| Originated {
        prefix: a,
        plen,
        metric,
        anycast,
        ifindex,
    };
    let mut v = vec![
        host("2001:db8:ff::1".parse().unwrap(), 128, 0, false, None),
        host("2001:db8:ac::7".parse().unwrap(), 128, 5, true, None),
        host("2001:db8:a::".parse().unwrap(), 64, 0, false, Some(1)),
    ];
    if alt {
        v.push(host("2001:db8:ac::8".parse().unwrap(), 128, 9, true, None));
        v.remove(2);
    }
    v
}

struct Run {
    core: Instance,
    now: Instant,
    max_lsas: usize,
    auth_seq: u64,
}

impl Run {
    /// Everything queued: what is sent must decode, with a right checksum
    /// or trailer.
    fn drain(&mut self) {
        while let Some(o) = self.core.poll_output() {
            let Output::Send {
                ifindex,
                src,
                dst,
                bytes,
            } = o
            else {
                continue;
            };
            let p = Packet::decode(&bytes).expect("what we send decodes");
            if ifindex == 3 {
                verify(&bytes, src, &keyring(), KeyPrep::Rfc7166).expect("a valid trailer");
            } else {
                assert!(p.trailer.is_none());
                assert_eq!(p.header.checksum, packet::checksum(src, dst, &bytes));
            }
        }
    }

    /// Moves the clock to `to`, running the timers due on the way (a
    /// bounded number; then one late call catches up).
    fn advance(&mut self, to: Instant) {
        for _ in 0..64 {
            match self.core.poll_timeout() {
                Some(t) if t <= to => {
                    self.now = self.now.max(t);
                    self.core.handle_timeout(self.now);
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = to;
        self.core.handle_timeout(to);
        self.drain();
    }

    fn op(&mut self, which: u8) {
        let now = self.now;
        match which % 5 {
            0 => self.core.interface_down(now, 1),
            1 => self.core.interface_up(now, interface(1, 10)),
            2 => self.core.set_origination(now, origination(which & 0x80 != 0)),
            3 => self.core.interface_up(now, interface(2, u16::from(which))),
            _ => {
                let v = self.core.view(now);
                // Our own LSAs are never refused; the others stay below
                // the limit.
                assert!(v.lsas <= self.max_lsas + 16, "{} > {}", v.lsas, self.max_lsas);
            }
        }
        self.drain();
    }

    fn packet(&mut self, ctrl: u8, payload: &[u8]) {
        let ifindex = u32::from(ctrl & 3) + 1;
        let src = SOURCES[usize::from((ctrl >> 2) & 3)];
        let dst = match (ctrl >> 4) & 3 {
            0 => packet::ALL_SPF_ROUTERS,
            1 => packet::ALL_D_ROUTERS,
            2 => our_ll(ifindex),
            _ => Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xdead),
        };
        let mut bytes = payload.to_vec();
        if ctrl & 0x40 != 0 && bytes.len() >= packet::HEADER_LEN {
            if ifindex == 3 {
                // Whatever trailer it had, replaced by ours.
                let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
                if (packet::HEADER_LEN..=bytes.len()).contains(&len) {
                    bytes.truncate(len);
                }
                bytes[packet::CHECKSUM_OFFSET..packet::CHECKSUM_OFFSET + 2].fill(0);
                self.auth_seq += 1;
                seal(&mut bytes, src, &Key::new(1, SECRET), self.auth_seq, KeyPrep::Rfc7166);
            } else {
                let c = packet::checksum(src, dst, &bytes);
                bytes[packet::CHECKSUM_OFFSET..packet::CHECKSUM_OFFSET + 2]
                    .copy_from_slice(&c.to_be_bytes());
            }
        }
        self.core.handle_packet(self.now, ifindex, src, dst, &bytes);
        self.drain();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&setup, mut rest)) = data.split_first() else {
        return;
    };
    let rid = Ipv4Addr::new(10, 0, 0, 1 + (setup & 1));
    let mut cfg = Config::new(rid);
    cfg.max_lsas = if setup & 2 != 0 { 8 } else { 10_000 };
    cfg.spf_delay = Duration::from_millis(10);
    cfg.spf_hold = Duration::from_millis(50);
    let max_lsas = cfg.max_lsas;
    let now = Instant::from_micros(1_000_000);
    let core = if setup & 4 != 0 {
        Instance::restarted(cfg, now, Duration::from_secs(30))
    } else {
        Instance::new(cfg, now)
    };
    let mut run = Run {
        core,
        now,
        max_lsas,
        auth_seq: 0,
    };
    for i in 1..=3 {
        run.core.interface_up(now, interface(i, 10));
    }
    run.core.set_origination(now, origination(false));
    run.drain();
    while rest.len() >= 4 {
        let (ctrl, time) = (rest[0], rest[1]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]])).min(rest.len() - 4);
        let payload = &rest[4..4 + len];
        rest = &rest[4 + len..];
        if time > 0 {
            let dt = if time == 255 {
                Duration::from_secs(1000)
            } else {
                Duration::from_millis(20 * u64::from(time))
            };
            run.advance(run.now + dt);
        }
        if ctrl & 3 == 3 {
            run.op(time);
        } else {
            run.packet(ctrl, payload);
        }
    }
    // Past MaxAge and LSRefreshTime, then a clean exit.
    run.advance(run.now + Duration::from_secs(4000));
    run.op(4);
    let now = run.now;
    run.core.shutdown(now);
    run.drain();
    run.advance(now + Duration::from_secs(3));
});
