//! The MGA instance (all three roles in one, as one host may run them)
//! fed any sequence of Mobility Header and ICMPv6 messages from a member,
//! a correspondent and a stranger, with time passing: it must never panic,
//! and with keys configured nothing the fuzzer writes (it cannot forge
//! HMAC-SHA-256) may bind A at the home agent, bind a flow at the
//! correspondent or turn on a Home Address option. Without keys the same
//! input runs again: no panic, and no more bindings than `max_bindings`.
//!
//! Input: frames of `ctrl (8) | time (8) | length (16) | bytes`; ctrl bit
//! 0 fixes the checksum (so the fuzzer reaches past it), bits 1–2 pick
//! the source, bit 3 sends ICMPv6 instead of the Mobility Header, bit 4
//! sends to the Home-Agents anycast address; time advances in 50 ms ticks.
#![no_main]
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::auth::Key;
use anycast6_core::clock::Instant;
use anycast6_mga::auth::Keyring;
use anycast6_mga::correspondent::MapChange;
use anycast6_mga::instance::*;
use anycast6_mga::packet::{checksum, PROTO_ICMPV6, PROTO_MH};
use anycast6_mga::ro::{HaoChange, RoConfig};
use libfuzzer_sys::fuzz_target;

const ME: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
const HOME: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xa);
const SOURCES: [Ipv6Addr; 4] = [
    Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2),
    Ipv6Addr::new(0x2001, 0xdb8, 9, 0, 0, 0, 0, 5),
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x11),
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1),
];
const MAX_BINDINGS: usize = 4;

fn config(keys: Keyring) -> Config {
    Config {
        home_agent: Some(HomeAgentConfig {
            address: ME,
            anycast: vec![HOME],
            peers: vec![SOURCES[2]],
            max_bindings: MAX_BINDINGS,
            max_lifetime: Duration::from_secs(600),
        }),
        member: Some(MemberConfig {
            care_of: ME,
            homes: vec![Ipv6Addr::new(0x2001, 0xdb8, 7, 0, 0, 0, 0, 0xb)],
            home_agents: vec![SOURCES[2]],
            discover: true,
            lifetime: Duration::from_secs(60),
            metric: 1,
            route_optimisation: Some(RoConfig {
                after: Duration::from_millis(100),
                min_packets: 1,
                lifetime: Duration::from_secs(16),
                idle: Duration::from_secs(5),
            }),
        }),
        correspondent: Some(CorrespondentConfig {
            locals: vec![ME],
            optimise: vec![HOME],
            max_flow_bindings: 8,
            max_lifetime: Duration::from_secs(60),
        }),
        keys,
        message_id_start: 1,
        seq_start: 1,
    }
}

fn run(data: &[u8], keyed: bool) {
    let keys = if keyed {
        Keyring::new(vec![(7, Key::new(7, "mga fuzz secret, 16+ bytes"))])
    } else {
        Keyring::none()
    };
    let mut now = Instant::ZERO;
    let mut inst = Instance::new(config(keys), now);
    let mut bound = 0usize;
    let mut rest = data;
    while rest.len() >= 4 {
        let (ctrl, ticks) = (rest[0], rest[1]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]])).min(rest.len() - 4);
        let mut bytes = rest[4..4 + len].to_vec();
        rest = &rest[4 + len..];
        now = now + Duration::from_millis(50) * u32::from(ticks);
        let src = SOURCES[usize::from(ctrl >> 1 & 3)];
        let icmp = ctrl & 8 != 0;
        let dst = if ctrl & 16 != 0 {
            home_agents_anycast(HOME)
        } else {
            ME
        };
        if ctrl & 1 != 0 {
            let (next, at) = if icmp { (PROTO_ICMPV6, 2) } else { (PROTO_MH, 4) };
            if bytes.len() >= at + 2 {
                if !icmp && bytes.len() >= 8 {
                    bytes.truncate(bytes.len() / 8 * 8);
                    bytes[1] = (bytes.len() / 8 - 1) as u8;
                }
                let c = checksum(src, dst, next, &bytes, at);
                bytes[at..at + 2].copy_from_slice(&c.to_be_bytes());
            }
        }
        if inst.poll_timeout().is_some_and(|t| t <= now) {
            inst.handle_timeout(now);
        }
        if icmp {
            inst.handle_icmp(now, src, dst, &bytes);
        } else {
            inst.handle_mh(now, src, dst, &bytes);
        }
        while let Some(o) = inst.poll_output() {
            match o {
                Output::Bindings { members, .. } => {
                    assert!(
                        !keyed || members.is_empty(),
                        "a forged update bound A: {members:?}"
                    );
                    assert!(members.len() <= MAX_BINDINGS);
                    bound = members.len();
                }
                Output::CnMap(MapChange::Set { .. }) => {
                    assert!(!keyed, "a forged update bound a flow")
                }
                Output::Hao(HaoChange::On { .. }) => {
                    assert!(!keyed, "a forged ack turned on the Home Address option")
                }
                _ => {}
            }
        }
    }
    let _ = (bound, inst.view(now));
}

fuzz_target!(|data: &[u8]| {
    run(data, true);
    run(data, false);
});
