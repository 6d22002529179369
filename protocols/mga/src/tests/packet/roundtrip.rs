//! A property over generated messages: every message of every kind, with
//! any subset of the options MGA knows, encodes to a multiple of 8 octets
//! whose Header Len and checksum are right, and decodes to itself; sealed,
//! it verifies. A small deterministic generator (xorshift), no crates.

use std::net::Ipv6Addr;

use super::{key, keyring, SPI};
use crate::auth::{self, Verdict};
use crate::packet::option::*;
use crate::packet::*;

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
    fn u8(&mut self) -> u8 {
        self.next() as u8
    }
    fn u16(&mut self) -> u16 {
        // Edges often: 0, the largest, else anything.
        match self.next() % 4 {
            0 => 0,
            1 => u16::MAX,
            _ => self.next() as u16,
        }
    }
    fn u32(&mut self) -> u32 {
        match self.next() % 4 {
            0 => 0,
            1 => 0xffff_fffe,
            _ => self.next() as u32,
        }
    }
    fn addr(&mut self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.next()) << 64 | u128::from(self.next()))
    }
    fn options(&mut self) -> Options {
        Options {
            home_prefix: self.bool().then(|| self.addr()),
            refresh_advice: self.bool().then(|| self.u16()),
            experimental: self.bool().then(|| Experimental {
                metric: self.bool().then(|| self.u32()),
                flow: self.bool().then(|| Flow {
                    protocol: self.u8(),
                    correspondent_port: self.u16(),
                    service_port: self.u16(),
                    correspondent: self.addr(),
                    care_of: self.addr(),
                }),
                draining: self.bool(),
            }),
            message_id: self.bool().then(|| self.next()),
            auth: self.bool().then(|| Auth {
                subtype: self.u8(),
                spi: self.u32(),
                authenticator: std::array::from_fn(|_| self.u8()),
            }),
        }
    }
    fn message(&mut self) -> Message {
        let options = self.options();
        match self.next() % 4 {
            0 => Message::RefreshRequest(RefreshRequest { options }),
            1 => Message::Update(BindingUpdate {
                sequence: self.u16(),
                ack: self.bool(),
                home: self.bool(),
                link_local: self.bool(),
                key_mgmt: self.bool(),
                lifetime: self.u16(),
                options,
            }),
            2 => Message::Ack(BindingAck {
                status: self.u8(),
                key_mgmt: self.bool(),
                sequence: self.u16(),
                lifetime: self.u16(),
                options,
            }),
            _ => Message::Error(BindingError {
                status: self.u8(),
                home_address: self.addr(),
                options,
            }),
        }
    }
}

#[test]
fn generated_messages_survive_the_round_trip() {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut kinds = [0usize; 4];
    for i in 0..5000 {
        let m = g.message();
        let (src, dst) = (g.addr(), g.addr());
        let b = m.encode(src, dst);
        assert_eq!(b.len() % 8, 0, "{i}: {m:?}");
        assert_eq!(usize::from(b[1]) * 8 + 8, b.len(), "{i}");
        assert_eq!(
            checksum(src, dst, PROTO_MH, &b, 4),
            u16::from_be_bytes([b[4], b[5]])
        );
        assert_eq!(Message::decode(src, dst, &b).as_ref(), Ok(&m), "{i}");
        kinds[[MH_REFRESH_REQUEST, MH_UPDATE, MH_ACK, MH_ERROR]
            .iter()
            .position(|&t| t == m.mh_type())
            .unwrap()] += 1;

        let mut sealed = m.clone();
        let subtype = if g.bool() { AUTH_MN_HA } else { AUTH_MN_CN };
        auth::seal(&key(), SPI, subtype, src, dst, &mut sealed);
        let b = sealed.encode(src, dst);
        let back = Message::decode(src, dst, &b).unwrap();
        assert_eq!(back, sealed, "{i}");
        assert_eq!(
            auth::verify(&keyring(), subtype, src, dst, &b, &back),
            Ok(Verdict::Keyed {
                spi: SPI,
                message_id: m.options().message_id
            }),
            "{i}"
        );
    }
    // Every kind was generated many times.
    assert!(kinds.iter().all(|&n| n > 1000), "{kinds:?}");
}

#[test]
fn generated_dhaad_survive_the_round_trip() {
    let mut g = Gen(0xdead_beef_cafe_f00d);
    for i in 0..2000 {
        let d = if g.bool() {
            Dhaad::Request {
                identifier: g.u16(),
            }
        } else {
            Dhaad::Reply {
                identifier: g.u16(),
                home_agents: (0..g.next() % 8).map(|_| g.addr()).collect(),
            }
        };
        let (src, dst) = (g.addr(), g.addr());
        let b = d.encode(src, dst);
        assert_eq!(Dhaad::decode(src, dst, &b).as_ref(), Ok(&d), "{i}");
    }
}
