//! The three roles talking to each other through [`Instance`]s on a
//! simulated clock: every message goes through the encoder, the decoder
//! and the authentication, as on the wire.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::auth::Key;
use anycast6_core::clock::{Instant, SimClock};

use crate::auth::Keyring;
use crate::correspondent::{Flow, MapChange};
use crate::instance::*;
use crate::packet::{self, BindingUpdate, Experimental, Message, Options};
use crate::ro::{HaoChange, RoConfig};

const S: Duration = Duration::from_secs(1);

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

const HOME: &str = "2001:db8:1::a";
const HA: &str = "2001:db8:1::10";
const HA2: &str = "2001:db8:1::11";
const M1: &str = "2001:db8:2::2";
const M2: &str = "2001:db8:3::2";
const CN: &str = "2001:db8:9::5";

fn keys() -> Keyring {
    Keyring::new(vec![(
        7,
        Key::new(7, b"mga shared secret, 32 octets ok".to_vec()),
    )])
}

fn ha_cfg(address: &str, peers: &[&str]) -> Config {
    Config {
        home_agent: Some(HomeAgentConfig {
            address: a(address),
            anycast: vec![a(HOME)],
            peers: peers.iter().map(|p| a(p)).collect(),
            max_bindings: 8,
            max_lifetime: Duration::from_secs(600),
        }),
        member: None,
        correspondent: None,
        keys: keys(),
        message_id_start: 1_000,
        seq_start: 100,
    }
}

fn member_cfg(coa: &str, has: &[&str], discover: bool, ro: bool) -> Config {
    Config {
        home_agent: None,
        member: Some(MemberConfig {
            care_of: a(coa),
            homes: vec![a(HOME)],
            home_agents: has.iter().map(|h| a(h)).collect(),
            discover,
            lifetime: Duration::from_secs(60),
            metric: 10,
            route_optimisation: ro.then_some(RoConfig {
                after: Duration::from_millis(500),
                min_packets: 10,
                lifetime: Duration::from_secs(16),
                idle: Duration::from_secs(5),
            }),
        }),
        correspondent: None,
        keys: keys(),
        message_id_start: 5_000,
        seq_start: 500,
    }
}

fn cn_cfg() -> Config {
    Config {
        home_agent: None,
        member: None,
        correspondent: Some(CorrespondentConfig {
            locals: vec![a(CN)],
            optimise: vec![a(HOME)],
            max_flow_bindings: 16,
            max_lifetime: Duration::from_secs(60),
        }),
        keys: keys(),
        message_id_start: 9_000,
        seq_start: 900,
    }
}

/// Instances by address, and what reached the daemon side of each.
struct Net {
    clock: SimClock,
    nodes: BTreeMap<Ipv6Addr, Instance>,
    /// Outputs other than sends, per node.
    seen: BTreeMap<Ipv6Addr, Vec<Output>>,
    /// Every message sent: (src, dst, name).
    wire: Vec<(Ipv6Addr, Ipv6Addr, String)>,
    /// Destinations that drop everything (a dead node).
    dead: Vec<Ipv6Addr>,
}

impl Net {
    fn new() -> Net {
        Net {
            clock: SimClock::new(),
            nodes: BTreeMap::new(),
            seen: BTreeMap::new(),
            wire: Vec::new(),
            dead: Vec::new(),
        }
    }

    fn add(&mut self, addr: &str, cfg: Config) {
        let now = self.clock.now();
        self.nodes.insert(a(addr), Instance::new(cfg, now));
        self.settle();
    }

    fn node(&mut self, addr: &str) -> &mut Instance {
        self.nodes.get_mut(&a(addr)).unwrap()
    }

    /// Delivers every pending send until nothing moves.
    fn settle(&mut self) {
        let now = self.clock.now();
        for _ in 0..100 {
            let mut sends = Vec::new();
            for (addr, n) in &mut self.nodes {
                while let Some(o) = n.poll_output() {
                    match o {
                        Output::Send(s) => sends.push(s),
                        other => self.seen.entry(*addr).or_default().push(other),
                    }
                }
            }
            if sends.is_empty() {
                return;
            }
            for s in sends {
                let name = if s.next_header == packet::PROTO_MH {
                    Message::decode(s.src, s.dst, &s.bytes)
                        .map(|m| m.name().to_string())
                        .unwrap_or_else(|e| format!("bad: {e}"))
                } else {
                    packet::Dhaad::decode(s.src, s.dst, &s.bytes)
                        .map(|m| m.name().to_string())
                        .unwrap_or_else(|e| format!("bad: {e}"))
                };
                self.wire.push((s.src, s.dst, name));
                // The Home-Agents anycast address reaches the home agents.
                let to: Vec<Ipv6Addr> = if s.dst == home_agents_anycast(a(HOME)) {
                    vec![a(HA)]
                } else {
                    vec![s.dst]
                };
                for t in to {
                    if self.dead.contains(&t) {
                        continue;
                    }
                    if let Some(n) = self.nodes.get_mut(&t) {
                        if s.next_header == packet::PROTO_MH {
                            n.handle_mh(now, s.src, s.dst, &s.bytes);
                        } else {
                            n.handle_icmp(now, s.src, s.dst, &s.bytes);
                        }
                    }
                }
            }
        }
        panic!("messages did not settle");
    }

    /// Runs every node's timers up to `now + d`, in steps of 100 ms.
    fn run(&mut self, d: Duration) {
        let end = self.clock.now() + d;
        while self.clock.now() < end {
            self.clock.advance(Duration::from_millis(100));
            let now = self.clock.now();
            for n in self.nodes.values_mut() {
                if n.poll_timeout().is_some_and(|t| t <= now) {
                    n.handle_timeout(now);
                }
            }
            self.settle();
        }
    }

    /// The forwarding set `ha` published last for HOME.
    fn forwarding(&self, ha: &str) -> Option<Vec<(Ipv6Addr, bool)>> {
        self.seen.get(&a(ha))?.iter().rev().find_map(|o| match o {
            Output::Bindings { home, members } if *home == a(HOME) => Some(members.clone()),
            _ => None,
        })
    }

    fn tunnel(&self, m: &str) -> Option<Option<Ipv6Addr>> {
        self.seen.get(&a(m))?.iter().rev().find_map(|o| match o {
            Output::ReverseTunnel { home_agent, .. } => Some(*home_agent),
            _ => None,
        })
    }

    fn count(&self, src: &str, name: &str) -> usize {
        self.wire
            .iter()
            .filter(|(s, _, n)| *s == a(src) && n == name)
            .count()
    }
}

#[test]
fn member_registers_refreshes_and_expires_when_it_dies() {
    let mut net = Net::new();
    net.add(HA, ha_cfg(HA, &[]));
    net.add(M1, member_cfg(M1, &[HA], false, false));
    assert_eq!(net.forwarding(HA), Some(vec![(a(M1), false)]));
    assert_eq!(net.tunnel(M1), Some(Some(home_agents_anycast(a(HOME)))));
    assert_eq!(net.node(HA).counters().get("registered"), 1);
    // The cache is saved at the change.
    assert!(net.seen[&a(HA)]
        .iter()
        .any(|o| matches!(o, Output::Saved(s) if s.len() == 1 && s[0].coa == a(M1))));
    // Refreshed at half the lifetime: still there after three lifetimes.
    net.run(180 * S);
    assert_eq!(net.forwarding(HA), Some(vec![(a(M1), false)]));
    assert!(net.count(M1, "binding-update") >= 6, "{:?}", net.wire);
    // The member dies: its binding lapses within one lifetime (60 s).
    net.dead.push(a(M1));
    net.nodes.remove(&a(M1));
    net.run(30 * S);
    assert_eq!(net.forwarding(HA), Some(vec![(a(M1), false)]));
    net.run(31 * S);
    assert_eq!(net.forwarding(HA), Some(vec![]));
    assert!(net.node(HA).counters().get("expired") >= 1);
}

#[test]
fn two_members_and_a_clean_exit_removes_one_at_once() {
    let mut net = Net::new();
    net.add(HA, ha_cfg(HA, &[]));
    net.add(M1, member_cfg(M1, &[HA], false, false));
    net.add(M2, member_cfg(M2, &[HA], false, false));
    assert_eq!(
        net.forwarding(HA),
        Some(vec![(a(M1), false), (a(M2), false)])
    );
    let now = net.clock.now();
    net.node(M2).shutdown(now);
    net.settle();
    assert_eq!(net.forwarding(HA), Some(vec![(a(M1), false)]));
    assert_eq!(net.node(HA).counters().get("deregistered"), 1);
    assert_eq!(net.tunnel(M2), Some(None));
}

#[test]
fn unhealthy_member_deregisters_and_comes_back() {
    let mut net = Net::new();
    net.add(HA, ha_cfg(HA, &[]));
    net.add(M1, member_cfg(M1, &[HA], false, false));
    let now = net.clock.now();
    net.node(M1).set_healthy(now, false);
    net.settle();
    assert_eq!(net.forwarding(HA), Some(vec![]));
    net.run(2 * S);
    let now = net.clock.now();
    net.node(M1).set_healthy(now, true);
    net.settle();
    assert_eq!(net.forwarding(HA), Some(vec![(a(M1), false)]));
    // Draining: kept, marked.
    let now = net.clock.now();
    net.node(M1).set_draining(now, true);
    net.settle();
    assert_eq!(net.forwarding(HA), Some(vec![(a(M1), true)]));
}

#[test]
fn forged_and_replayed_updates_change_nothing() {
    let mut net = Net::new();
    net.add(HA, ha_cfg(HA, &[]));
    // A stranger with another key.
    let mut cfg = member_cfg(M2, &[HA], false, false);
    cfg.keys = Keyring::new(vec![(
        7,
        Key::new(7, b"not the shared secret at all!!!".to_vec()),
    )]);
    net.add(M2, cfg);
    assert_eq!(net.forwarding(HA), None);
    assert!(net.node(HA).counters().get("auth_bad_digest") >= 1);
    // An unkeyed one.
    let mut cfg = member_cfg(M1, &[HA], false, false);
    cfg.keys = Keyring::none();
    net.add(M1, cfg);
    assert_eq!(net.forwarding(HA), None);
    assert!(net.node(HA).counters().get("auth_missing") >= 1);
    // The real member, then its update replayed by someone on the path.
    net.nodes.remove(&a(M1));
    let mut member = Instance::new(member_cfg(M1, &[HA], false, false), net.clock.now());
    let Some(Output::Send(bu)) = member.poll_output() else {
        panic!("no update")
    };
    let now = net.clock.now();
    net.node(HA).handle_mh(now, bu.src, bu.dst, &bu.bytes);
    net.settle();
    assert_eq!(net.forwarding(HA), Some(vec![(a(M1), false)]));
    // Deregistration replayed later does nothing either: take a real
    // deregistration, deliver it, re-register, then replay it.
    member.shutdown(now);
    let dereg = std::iter::from_fn(|| member.poll_output())
        .find_map(|o| match o {
            Output::Send(s) => Some(s),
            _ => None,
        })
        .unwrap();
    net.node(HA)
        .handle_mh(now, dereg.src, dereg.dst, &dereg.bytes);
    net.settle();
    assert_eq!(net.forwarding(HA), Some(vec![]));
    net.node(HA)
        .handle_mh(now, dereg.src, dereg.dst, &dereg.bytes);
    net.node(HA).handle_mh(now, bu.src, bu.dst, &bu.bytes);
    net.settle();
    assert_eq!(net.forwarding(HA), Some(vec![]));
    assert!(net.node(HA).counters().get("auth_replay") >= 2);
}

#[test]
fn a_restarted_member_resynchronises_its_sequence_numbers() {
    let mut net = Net::new();
    net.add(HA, ha_cfg(HA, &[]));
    let mut cfg = member_cfg(M1, &[HA], false, false);
    net.add(M1, cfg.clone());
    net.run(60 * S);
    // Restart with the same sequence start but a later Message Identifier
    // (the wall clock went on): the home agent's 135 carries its last
    // number and the member continues after it.
    cfg.message_id_start += 1_000_000;
    net.add(M1, cfg);
    assert!(net.node(HA).counters().get("sequence_out_of_window") >= 1);
    assert_eq!(net.forwarding(HA), Some(vec![(a(M1), false)]));
    let now = net.clock.now();
    let regs = net.node(M1).view(now).member.unwrap();
    assert_eq!(
        regs.registrations[0].state,
        crate::member::State::Registered
    );
}

#[test]
fn discovery_finds_both_home_agents() {
    let mut net = Net::new();
    net.add(HA, ha_cfg(HA, &[HA2]));
    net.add(HA2, ha_cfg(HA2, &[HA]));
    net.add(M1, member_cfg(M1, &[], true, false));
    assert_eq!(net.count(M1, "dhaad-request"), 1);
    assert_eq!(net.count(HA, "dhaad-reply"), 1);
    assert_eq!(net.forwarding(HA), Some(vec![(a(M1), false)]));
    assert_eq!(net.forwarding(HA2), Some(vec![(a(M1), false)]));
    let now = net.clock.now();
    let v = net.node(M1).view(now).member.unwrap();
    assert_eq!(v.home_agents, vec![a(HA), a(HA2)]);
    assert!(v.discovered);
    // Replies go to the Home-Agents anycast address while a registration
    // lives: one home agent gone changes nothing; both gone, none.
    let haa = Some(Some(home_agents_anycast(a(HOME))));
    assert_eq!(net.tunnel(M1), haa);
    net.dead.push(a(HA));
    net.run(70 * S);
    assert_eq!(net.tunnel(M1), haa);
    let now = net.clock.now();
    let v = net.node(M1).view(now).member.unwrap();
    let live: Vec<_> = v
        .registrations
        .iter()
        .filter(|r| r.state == crate::member::State::Registered)
        .map(|r| r.home_agent)
        .collect();
    assert_eq!(live, vec![a(HA2)]);
    net.dead.push(a(HA2));
    net.run(70 * S);
    assert_eq!(net.tunnel(M1), Some(None));
}

#[test]
fn discovery_without_answer_backs_off_to_a_minute() {
    let mut net = Net::new();
    net.add(M1, member_cfg(M1, &[], true, false));
    net.run(200 * S);
    // 0, 1, 3, 7, 15, 31, 63, 123, 183 s.
    assert_eq!(net.count(M1, "dhaad-request"), 9, "{:?}", net.wire);
}

#[test]
fn home_agent_restart_restores_its_bindings() {
    let mut net = Net::new();
    net.add(HA, ha_cfg(HA, &[]));
    net.add(M1, member_cfg(M1, &[HA], false, false));
    let saved = net.seen[&a(HA)]
        .iter()
        .rev()
        .find_map(|o| match o {
            Output::Saved(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    net.seen.remove(&a(HA));
    let now = net.clock.now();
    let mut fresh = Instance::new(ha_cfg(HA, &[]), now);
    assert_eq!(fresh.restore(now, &saved), 1);
    net.nodes.insert(a(HA), fresh);
    net.settle();
    assert_eq!(net.forwarding(HA), Some(vec![(a(M1), false)]));
    // The member's next refresh is accepted (the sequence number was kept).
    net.run(40 * S);
    assert_eq!(net.node(HA).counters().get("sequence_out_of_window"), 0);
    assert!(net.node(HA).counters().get("registered") >= 1);
    // Without state: a Binding Refresh Request makes it register now.
    let now = net.clock.now();
    let mut bare = Instance::new(ha_cfg(HA, &[]), now);
    bare.ask_refresh(&[a(M1)]);
    net.nodes.insert(a(HA), bare);
    net.settle();
    assert_eq!(net.forwarding(HA), Some(vec![(a(M1), false)]));
}

#[test]
fn route_optimisation_binds_one_flow_and_a_binding_error_drops_it() {
    let mut net = Net::new();
    net.add(HA, ha_cfg(HA, &[]));
    net.add(M1, member_cfg(M1, &[HA], false, true));
    net.add(CN, cn_cfg());
    let flow = Flow {
        protocol: 6,
        local: a(CN),
        local_port: 40000,
        home: a(HOME),
        service_port: 80,
    };
    let other = Flow {
        local_port: 40001,
        ..flow
    };
    let now = net.clock.now();
    net.node(M1).observe_flows(now, &[(flow, 1), (other, 1)]);
    net.run(Duration::from_millis(600));
    let now = net.clock.now();
    // Only the busy one is bound.
    net.node(M1).observe_flows(now, &[(flow, 50), (other, 2)]);
    net.run(Duration::from_millis(200));
    assert_eq!(net.count(M1, "binding-update"), 2, "{:?}", net.wire);
    let cn_maps: Vec<&Output> = net.seen[&a(CN)].iter().collect();
    assert_eq!(
        cn_maps,
        vec![&Output::CnMap(MapChange::Set { flow, coa: a(M1) })]
    );
    assert!(net.seen[&a(M1)]
        .iter()
        .any(|o| *o == Output::Hao(HaoChange::On { flow, coa: a(M1) })));
    // The member says it lost the flow: the correspondent drops it at once.
    let now = net.clock.now();
    let mut err = Message::Error(packet::BindingError {
        status: packet::ERROR_UNKNOWN_BINDING,
        home_address: a(HOME),
        options: Options::default(),
    });
    let (spi, key) = keys().send_key().map(|(s, k)| (s, k.clone())).unwrap();
    err.options_mut().message_id = Some(u64::MAX / 2);
    crate::auth::seal(
        &key,
        spi,
        crate::packet::option::AUTH_MN_CN,
        a(M1),
        a(CN),
        &mut err,
    );
    let bytes = err.encode(a(M1), a(CN));
    net.node(CN).handle_mh(now, a(M1), a(CN), &bytes);
    net.settle();
    assert_eq!(
        net.seen[&a(CN)].last(),
        Some(&Output::CnMap(MapChange::Delete(flow)))
    );
}

#[test]
fn correspondent_refuses_a_flow_for_another_host_or_care_of_address() {
    let mut net = Net::new();
    net.add(CN, cn_cfg());
    let (spi, key) = keys().send_key().map(|(s, k)| (s, k.clone())).unwrap();
    let update = |coa: Ipv6Addr, id: u64| {
        let mut m = Message::Update(BindingUpdate {
            sequence: 1,
            ack: true,
            home: false,
            link_local: false,
            key_mgmt: false,
            lifetime: 4,
            options: Options {
                home_prefix: Some(a(HOME)),
                experimental: Some(Experimental {
                    metric: None,
                    flow: Some(packet::Flow {
                        protocol: 6,
                        correspondent_port: 1,
                        service_port: 80,
                        correspondent: a(CN),
                        care_of: coa,
                    }),
                    draining: false,
                }),
                message_id: Some(id),
                ..Options::default()
            },
        });
        crate::auth::seal(
            &key,
            spi,
            crate::packet::option::AUTH_MN_CN,
            a(M1),
            a(CN),
            &mut m,
        );
        m.encode(a(M1), a(CN))
    };
    let now = net.clock.now();
    // The update's source is M1, the flow names M2: refused.
    net.node(CN).handle_mh(now, a(M1), a(CN), &update(a(M2), 1));
    net.settle();
    assert_eq!(net.node(CN).counters().get("flow_mismatch"), 1);
    assert!(!net.seen.contains_key(&a(CN)));
    // The same update naming its own care-of address: bound.
    net.node(CN).handle_mh(now, a(M1), a(CN), &update(a(M1), 2));
    net.settle();
    assert_eq!(net.node(CN).counters().get("flow_bound"), 1);
}

#[test]
fn unknown_mh_types_get_a_rate_limited_binding_error() {
    let mut net = Net::new();
    net.add(HA, ha_cfg(HA, &[]));
    // MH type 1 (Home Test Init) from M1, valid checksum.
    let mut msg = vec![59, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let c = packet::checksum(a(M1), a(HA), packet::PROTO_MH, &msg, 4);
    msg[4..6].copy_from_slice(&c.to_be_bytes());
    let now = net.clock.now();
    for _ in 0..50 {
        net.node(HA).handle_mh(now, a(M1), a(HA), &msg);
    }
    net.settle();
    assert_eq!(net.count(HA, "binding-error"), ERRORS_PER_SECOND as usize);
    assert_eq!(net.node(HA).counters().get("unknown_type"), 50);
    let _ = Instant::ZERO;
}
