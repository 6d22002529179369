//! One MGA speaker (docs/mga.md): the role cores tied to the wire. Mobility
//! Header messages and DHAAD ICMPv6 messages come in as bytes with their
//! addresses; they are decoded, authenticated (§4.5), handed to the role
//! they concern, and answered. What the daemon must do comes out as
//! [`Output`]s: messages to send, a home address's forwarding set (home
//! agent), the binding cache to save, the reverse tunnel's home agent
//! (member), changes for the route-optimisation programs' maps.
//!
//! ```text
//!   MH bytes ──decode──► auth + replay ──► Update(H) ──► BindingCache ──► Ack, Bindings, Saved
//!                                     │    Update(¬H) ─► Correspondent ─► Ack, CnMap
//!                                     │    Ack ────────► Member | RouteOptimiser ─► ReverseTunnel, Hao
//!                                     │    Error(1) ───► Correspondent (drop the flow)
//!                                     └─── RefreshRequest ► Member (register now)
//!   ICMPv6 144 ──► home agent: Reply(itself, peers)      ICMPv6 145 ──► member: its home agents
//! ```
//!
//! Pure: a clock comes in as [`Instant`]s; no sockets.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use anycast6_core::clock::Instant;
use serde::Serialize;

use crate::auth::{self, Keyring, ReplayGuard, Verdict};
use crate::cache::{self, Binding, BindingCache, Saved};
use crate::correspondent::{self, Correspondent, FlowBinding, FlowUpdate, MapChange};
use crate::member::{self, Member};
use crate::packet::option::{AUTH_MN_CN, AUTH_MN_HA};
use crate::packet::{
    self, BindingAck, BindingError, BindingUpdate, DecodeError, Dhaad, Experimental, Message,
    Options, LIFETIME_UNIT_S,
};
use crate::ro::{self, HaoChange, RoConfig, RoFlow, RouteOptimiser};

/// Hop limit of every MGA message (docs/mga.md §3).
pub const HOP_LIMIT: u8 = 64;
/// First and longest wait between discovery requests (§6.1).
pub const DISCOVERY_FIRST: Duration = Duration::from_secs(1);
pub const DISCOVERY_MAX: Duration = Duration::from_secs(60);
/// Most Binding Errors answering unknown MH types per second (a stranger
/// must not make us a reflector).
pub const ERRORS_PER_SECOND: u32 = 10;

/// The Home-Agents subnet anycast address of `home`'s /64 (RFC 2526 §2,
/// anycast ID 126; docs/mga.md §3).
pub fn home_agents_anycast(home: Ipv6Addr) -> Ipv6Addr {
    let mut o = home.octets();
    o[8..].copy_from_slice(&[0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
    Ipv6Addr::from(o)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeAgentConfig {
    /// This home agent's own address: where members register, the outer
    /// source of its tunnels, its reverse tunnels' end point.
    pub address: Ipv6Addr,
    /// The anycast addresses it serves.
    pub anycast: Vec<Ipv6Addr>,
    /// The other home agents of those addresses (listed in discovery
    /// replies after this one).
    pub peers: Vec<Ipv6Addr>,
    pub max_bindings: usize,
    pub max_lifetime: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberConfig {
    pub care_of: Ipv6Addr,
    /// The anycast addresses it serves.
    pub homes: Vec<Ipv6Addr>,
    /// Home agents from config (with `discover`, discovery's replace them).
    pub home_agents: Vec<Ipv6Addr>,
    pub discover: bool,
    pub lifetime: Duration,
    pub metric: u32,
    pub route_optimisation: Option<RoConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrespondentConfig {
    /// This host's addresses (flows are bound only from them).
    pub locals: Vec<Ipv6Addr>,
    pub optimise: Vec<Ipv6Addr>,
    pub max_flow_bindings: usize,
    pub max_lifetime: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub home_agent: Option<HomeAgentConfig>,
    pub member: Option<MemberConfig>,
    pub correspondent: Option<CorrespondentConfig>,
    pub keys: Keyring,
    /// Start of this speaker's Message Identifiers (the wall clock in
    /// nanoseconds at start, docs/mga.md §4.5) and of its sequence numbers.
    pub message_id_start: u64,
    /// First sequence number of the member's updates (random at start,
    /// RFC 6275 §11.7.1).
    pub seq_start: u16,
}

/// A message to send (from `src`, hop limit [`HOP_LIMIT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// [`packet::PROTO_MH`] or [`packet::PROTO_ICMPV6`].
    pub next_header: u8,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send(Send),
    /// Home agent: the care-of addresses packets for `home` go to now,
    /// with their draining flag (empty: none).
    Bindings {
        home: Ipv6Addr,
        members: Vec<(Ipv6Addr, bool)>,
    },
    /// Home agent: the binding cache changed; this is all of it.
    Saved(Vec<Saved>),
    /// Member: replies from `home` are reverse-tunnelled to this address,
    /// the Home-Agents anycast address of its prefix (None: no
    /// registration is live).
    ReverseTunnel {
        home: Ipv6Addr,
        home_agent: Option<Ipv6Addr>,
    },
    /// Member: a flow's replies carry the Home Address option, or stop.
    Hao(HaoChange),
    /// Correspondent: a flow binding for the tc program's map.
    CnMap(MapChange),
}

/// Named counters (docs/mga.md §3–§9).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters(BTreeMap<&'static str, u64>);

impl Counters {
    pub fn bump(&mut self, name: &'static str) {
        *self.0.entry(name).or_default() += 1;
    }

    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }
}

/// What `show mga` shows.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    pub home_agent: Option<HomeAgentView>,
    pub member: Option<MemberView>,
    pub correspondent: Option<CorrespondentView>,
    pub keyed: bool,
    pub counters: Counters,
}

#[derive(Debug, Clone, Serialize)]
pub struct HomeAgentView {
    pub address: Ipv6Addr,
    pub bindings: Vec<HomeBindings>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HomeBindings {
    pub home: Ipv6Addr,
    pub forwarding: usize,
    pub bindings: Vec<BindingView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BindingView {
    #[serde(flatten)]
    pub binding: Binding,
    pub remaining_s: u64,
    pub forwarded: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub care_of: Ipv6Addr,
    pub home_agents: Vec<Ipv6Addr>,
    pub discovered: bool,
    pub healthy: bool,
    pub registrations: Vec<member::Registration>,
    pub reverse_tunnel: BTreeMap<Ipv6Addr, Option<Ipv6Addr>>,
    pub route_optimised: Vec<RoFlow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CorrespondentView {
    pub flow_bindings: Vec<FlowBindingView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowBindingView {
    #[serde(flatten)]
    pub binding: FlowBinding,
    pub remaining_s: u64,
}

struct HomeAgent {
    cfg: HomeAgentConfig,
    cache: BindingCache,
    /// Forwarding sets last given out.
    published: BTreeMap<Ipv6Addr, Vec<(Ipv6Addr, bool)>>,
}

struct MemberRole {
    cfg: MemberConfig,
    core: Member,
    ro: Option<RouteOptimiser>,
    home_agents: Vec<Ipv6Addr>,
    healthy: bool,
    discovered: bool,
    /// Discovery: the next request and the wait after it.
    discover_at: Option<Instant>,
    discover_wait: Duration,
    discover_id: u16,
    tunnel: BTreeMap<Ipv6Addr, Option<Ipv6Addr>>,
}

/// A received Mobility Header message with what it came with: the
/// handlers' common arguments.
#[derive(Clone, Copy)]
struct Rx<'a> {
    now: Instant,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    /// As received (the authenticator covers these octets).
    bytes: &'a [u8],
    msg: &'a Message,
}

pub struct Instance {
    keys: Keyring,
    replay: ReplayGuard,
    next_id: u64,
    ha: Option<HomeAgent>,
    member: Option<MemberRole>,
    cn: Option<Correspondent>,
    out: Vec<Output>,
    counters: Counters,
    /// Binding Errors for unknown types sent in the current second.
    errors: (u64, u32),
}

impl Instance {
    pub fn new(cfg: Config, now: Instant) -> Instance {
        let seq = cfg.seq_start;
        let mut inst = Instance {
            keys: cfg.keys,
            replay: ReplayGuard::new(),
            next_id: cfg.message_id_start,
            ha: cfg.home_agent.map(|h| HomeAgent {
                cache: BindingCache::new(h.anycast.iter().copied(), h.max_bindings, h.max_lifetime),
                cfg: h,
                published: BTreeMap::new(),
            }),
            member: None,
            cn: cfg.correspondent.map(|c| {
                Correspondent::new(c.locals, c.optimise, c.max_flow_bindings, c.max_lifetime)
            }),
            out: Vec::new(),
            counters: Counters::default(),
            errors: (0, 0),
        };
        if let Some(m) = cfg.member {
            let has = if m.discover {
                Vec::new()
            } else {
                m.home_agents.clone()
            };
            let core = Member::new(now, &has, &m.homes, m.lifetime, m.metric, seq);
            let ro = m
                .route_optimisation
                .map(|r| RouteOptimiser::new(r, m.care_of, seq.wrapping_add(0x4000)));
            inst.member = Some(MemberRole {
                home_agents: has,
                core,
                ro,
                healthy: true,
                discovered: false,
                discover_at: m.discover.then_some(now),
                discover_wait: DISCOVERY_FIRST,
                discover_id: seq,
                tunnel: m.homes.iter().map(|h| (*h, None)).collect(),
                cfg: m,
            });
        }
        inst.handle_timeout(now);
        inst
    }

    /// The bindings a restarted home agent had (docs/mga.md §5.4): those
    /// still live are forwarded again at once; the number taken.
    pub fn restore(&mut self, now: Instant, saved: &[Saved]) -> usize {
        let Some(ha) = &mut self.ha else { return 0 };
        let n = ha.cache.restore(now, saved);
        self.counters.0.insert("restored", n as u64);
        self.publish(now);
        n
    }

    /// The CoAs a restarted home agent had without their state: each is
    /// asked to register again (Binding Refresh Request, §5.4).
    pub fn ask_refresh(&mut self, coas: &[Ipv6Addr]) {
        let Some(ha) = &self.ha else { return };
        let src = ha.cfg.address;
        for coa in coas {
            let msg = Message::RefreshRequest(packet::RefreshRequest::default());
            self.send_mh(src, *coa, msg, AUTH_MN_HA);
        }
    }

    /// The member's health check verdict (docs/mga.md §6.2).
    pub fn set_healthy(&mut self, now: Instant, healthy: bool) {
        if let Some(m) = &mut self.member {
            m.healthy = healthy;
            m.core.set_healthy(now, healthy);
        }
        self.after(now);
    }

    /// Member: draining (serves its flows, wants no new ones).
    pub fn set_draining(&mut self, now: Instant, draining: bool) {
        if let Some(m) = &mut self.member {
            m.core.set_draining(now, draining);
        }
        self.after(now);
    }

    /// Correspondent: this host's addresses now.
    pub fn set_locals(&mut self, locals: &[Ipv6Addr]) {
        if let Some(c) = &mut self.cn {
            c.set_locals(locals.iter().copied());
        }
        self.drain_cn();
    }

    /// Member: the flows its egress program counted, as the correspondent
    /// sends them, with their packet totals (route optimisation, §7.1).
    pub fn observe_flows(&mut self, now: Instant, seen: &[(correspondent::Flow, u64)]) {
        if let Some(ro) = self.member.as_mut().and_then(|m| m.ro.as_mut()) {
            ro.observe(now, seen);
        }
        self.after(now);
    }

    /// Clean exit: deregistrations and flow withdrawals go out.
    pub fn shutdown(&mut self, now: Instant) {
        if let Some(m) = &mut self.member {
            m.core.shutdown(now);
            if let Some(ro) = &mut m.ro {
                ro.shutdown(now);
            }
            m.discover_at = None;
        }
        self.after(now);
    }

    /// A Mobility Header message (the IPv6 payload) from `src` to `dst`.
    pub fn handle_mh(&mut self, now: Instant, src: Ipv6Addr, dst: Ipv6Addr, bytes: &[u8]) {
        self.counters.bump("received");
        let msg = match Message::decode(src, dst, bytes) {
            Ok(m) => m,
            Err(e) => {
                self.counters.bump(e.counter());
                if let DecodeError::MhType(_) = e {
                    self.unknown_type(now, dst, src);
                }
                return;
            }
        };
        let rx = Rx {
            now,
            src,
            dst,
            bytes,
            msg: &msg,
        };
        match &msg {
            Message::Update(u) if u.home => self.home_update(&rx, u),
            Message::Update(u) => self.flow_update(&rx, u),
            Message::Ack(a) => self.ack(&rx, a),
            Message::Error(e) => self.error(&rx, e),
            Message::RefreshRequest(_) => self.refresh_request(&rx),
        }
        self.after(now);
    }

    /// An ICMPv6 message from `src` to `dst`: DHAAD's 144 and 145 are
    /// taken, any other type is not ours and is left alone.
    pub fn handle_icmp(&mut self, now: Instant, src: Ipv6Addr, dst: Ipv6Addr, bytes: &[u8]) {
        if !matches!(
            bytes.first(),
            Some(&packet::dhaad::ICMP_DHAAD_REQUEST | &packet::dhaad::ICMP_DHAAD_REPLY)
        ) {
            return;
        }
        self.counters.bump("received");
        match Dhaad::decode(src, dst, bytes) {
            Err(e) => self.counters.bump(e.counter()),
            Ok(Dhaad::Request { identifier }) => self.dhaad_request(src, dst, identifier),
            Ok(Dhaad::Reply {
                identifier,
                home_agents,
            }) => self.dhaad_reply(now, src, identifier, home_agents),
        }
        self.after(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(ha) = &mut self.ha {
            if !ha.cache.expire(now).is_empty() {
                self.counters.bump("expired");
                self.publish(now);
            }
        }
        if let Some(m) = &mut self.member {
            m.core.handle_timeout(now);
            if let Some(ro) = &mut m.ro {
                ro.handle_timeout(now);
            }
            if m.discover_at.is_some_and(|t| t <= now) {
                m.discover_id = m.discover_id.wrapping_add(1);
                m.discover_at = Some(now + m.discover_wait);
                m.discover_wait = (m.discover_wait * 2).min(DISCOVERY_MAX);
                let (src, id) = (m.cfg.care_of, m.discover_id);
                let dsts: std::collections::BTreeSet<Ipv6Addr> = m
                    .cfg
                    .homes
                    .iter()
                    .map(|h| home_agents_anycast(*h))
                    .collect();
                for dst in dsts {
                    let bytes = Dhaad::Request { identifier: id }.encode(src, dst);
                    self.counters.bump("dhaad_request_sent");
                    self.push_send(src, dst, packet::PROTO_ICMPV6, bytes);
                }
            }
        }
        if let Some(c) = &mut self.cn {
            c.handle_timeout(now);
        }
        self.after(now);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let ha = self.ha.as_ref().and_then(|h| h.cache.next_expiry());
        let m = self.member.as_ref().and_then(|m| {
            [
                m.core.poll_timeout(),
                m.ro.as_ref().and_then(|r| r.poll_timeout()),
                m.discover_at,
            ]
            .into_iter()
            .flatten()
            .min()
        });
        let c = self.cn.as_ref().and_then(|c| c.poll_timeout());
        [ha, m, c].into_iter().flatten().min()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        (!self.out.is_empty()).then(|| self.out.remove(0))
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn view(&self, now: Instant) -> View {
        let home_agent = self.ha.as_ref().map(|ha| HomeAgentView {
            address: ha.cfg.address,
            bindings: ha
                .cfg
                .anycast
                .iter()
                .map(|home| {
                    let fwd = ha.cache.forwarding(now, *home);
                    HomeBindings {
                        home: *home,
                        forwarding: fwd.len(),
                        bindings: ha
                            .cache
                            .bindings(*home)
                            .map(|b| BindingView {
                                binding: *b,
                                remaining_s: b.expires.saturating_since(now).as_secs(),
                                forwarded: fwd.iter().any(|(c, _)| *c == b.coa),
                            })
                            .collect(),
                    }
                })
                .collect(),
        });
        let member = self.member.as_ref().map(|m| MemberView {
            care_of: m.cfg.care_of,
            home_agents: m.home_agents.clone(),
            discovered: m.discovered,
            healthy: m.healthy,
            registrations: m.core.registrations().cloned().collect(),
            reverse_tunnel: m.tunnel.clone(),
            route_optimised: m
                .ro
                .as_ref()
                .map(|r| r.flows().cloned().collect())
                .unwrap_or_default(),
        });
        let correspondent = self.cn.as_ref().map(|c| CorrespondentView {
            flow_bindings: c
                .bindings()
                .map(|b| FlowBindingView {
                    binding: *b,
                    remaining_s: b.expires.saturating_since(now).as_secs(),
                })
                .collect(),
        });
        View {
            home_agent,
            member,
            correspondent,
            keyed: self.keys.enabled(),
            counters: self.counters.clone(),
        }
    }

    // ---- receiving

    /// Authenticates `msg` as `subtype` and moves the replay window;
    /// counts and refuses what fails.
    fn authentic(&mut self, subtype: u8, rx: &Rx) -> bool {
        let Rx {
            src,
            dst,
            bytes,
            msg,
            ..
        } = *rx;
        let verdict = match auth::verify(&self.keys, subtype, src, dst, bytes, msg) {
            Ok(v) => v,
            Err(e) => {
                self.counters.bump(e.counter());
                return false;
            }
        };
        match verdict {
            Verdict::Unkeyed { ignored } => {
                if ignored {
                    self.counters.bump("auth_ignored");
                }
                true
            }
            Verdict::Keyed { spi, message_id } => {
                match self.replay.check_and_update(src, spi, message_id) {
                    Ok(()) => true,
                    Err(e) => {
                        self.counters.bump(e.counter());
                        false
                    }
                }
            }
        }
    }

    fn home_update(&mut self, rx: &Rx, u: &BindingUpdate) {
        let Rx { now, src, dst, .. } = *rx;
        if self.ha.is_none() {
            self.counters.bump("not_home_agent");
            return;
        }
        if !self.authentic(AUTH_MN_HA, rx) {
            return;
        }
        let Some(home) = u.options.home_prefix else {
            self.counters.bump("missing_home_address");
            self.answer(
                dst,
                src,
                packet::STATUS_UNSPECIFIED,
                u.sequence,
                0,
                None,
                None,
            );
            return;
        };
        let exp = u.options.experimental.unwrap_or_default();
        let r = cache::Registration {
            home,
            coa: src,
            seq: u.sequence,
            lifetime: Duration::from_secs(u64::from(u.lifetime) * u64::from(LIFETIME_UNIT_S)),
            metric: exp.metric.unwrap_or(0),
            draining: exp.draining,
        };
        let Some(ha) = &mut self.ha else { return };
        match ha.cache.register(now, &r) {
            Ok(g) => {
                self.counters.bump(if r.lifetime.is_zero() {
                    "deregistered"
                } else {
                    "registered"
                });
                let life = units(g.lifetime);
                let advice = (!g.refresh.is_zero()).then(|| units(g.refresh));
                self.answer(
                    dst,
                    src,
                    packet::STATUS_ACCEPTED,
                    u.sequence,
                    life,
                    Some(home),
                    advice,
                );
                if g.changed {
                    self.publish(now);
                }
            }
            Err(refusal) => {
                self.counters.bump(match refusal {
                    cache::Refusal::NotServed => "unknown_home_address",
                    cache::Refusal::Full => "bindings_full",
                    cache::Refusal::SequenceOutOfWindow { .. } => "sequence_out_of_window",
                });
                let seq = match refusal {
                    cache::Refusal::SequenceOutOfWindow { last } => last,
                    _ => u.sequence,
                };
                self.answer(dst, src, refusal.status(), seq, 0, Some(home), None);
            }
        }
    }

    fn flow_update(&mut self, rx: &Rx, u: &BindingUpdate) {
        let Rx { now, src, dst, .. } = *rx;
        if self.cn.is_none() {
            self.counters.bump("not_correspondent");
            return;
        }
        if !self.authentic(AUTH_MN_CN, rx) {
            return;
        }
        let (Some(home), Some(f)) = (
            u.options.home_prefix,
            u.options.experimental.and_then(|e| e.flow),
        ) else {
            self.counters.bump("missing_flow");
            self.answer(
                dst,
                src,
                packet::STATUS_UNSPECIFIED,
                u.sequence,
                0,
                None,
                None,
            );
            return;
        };
        if f.care_of != src || f.correspondent != dst {
            // The flow names another care-of address or another host.
            self.counters.bump("flow_mismatch");
            self.answer(
                dst,
                src,
                packet::STATUS_PROHIBITED,
                u.sequence,
                0,
                Some(home),
                None,
            );
            return;
        }
        let fu = FlowUpdate {
            flow: correspondent::Flow {
                protocol: f.protocol,
                local: f.correspondent,
                local_port: f.correspondent_port,
                home,
                service_port: f.service_port,
            },
            coa: src,
            seq: u.sequence,
            lifetime: Duration::from_secs(u64::from(u.lifetime) * u64::from(LIFETIME_UNIT_S)),
        };
        let Some(c) = &mut self.cn else { return };
        match c.update(now, &fu) {
            Ok(life) => {
                self.counters.bump(if life.is_zero() {
                    "flow_withdrawn"
                } else {
                    "flow_bound"
                });
                self.answer_flow(
                    dst,
                    src,
                    packet::STATUS_ACCEPTED,
                    u.sequence,
                    units(life),
                    home,
                    f,
                );
            }
            Err(refusal) => {
                self.counters.bump(match refusal {
                    correspondent::FlowRefusal::NotOptimised => "flow_not_optimised",
                    correspondent::FlowRefusal::Full => "flow_bindings_full",
                    correspondent::FlowRefusal::SequenceOutOfWindow { .. } => {
                        "sequence_out_of_window"
                    }
                });
                let seq = match refusal {
                    correspondent::FlowRefusal::SequenceOutOfWindow { last } => last,
                    _ => u.sequence,
                };
                self.answer_flow(dst, src, refusal.status(), seq, 0, home, f);
            }
        }
        self.drain_cn();
    }

    fn ack(&mut self, rx: &Rx, a: &BindingAck) {
        let Rx { now, src, .. } = *rx;
        let Some(m) = &self.member else {
            self.counters.bump("not_member");
            return;
        };
        let Some(home) = a.options.home_prefix else {
            self.counters.bump("missing_home_address");
            return;
        };
        let from_ha = m.home_agents.contains(&src) && m.cfg.homes.contains(&home);
        let subtype = if from_ha { AUTH_MN_HA } else { AUTH_MN_CN };
        if !self.authentic(subtype, rx) {
            return;
        }
        let Some(m) = &mut self.member else { return };
        let lifetime = Duration::from_secs(u64::from(a.lifetime) * u64::from(LIFETIME_UNIT_S));
        let taken = if from_ha {
            m.core.handle_ack(
                now,
                &member::Ack {
                    home_agent: src,
                    home,
                    status: a.status,
                    seq: a.sequence,
                    lifetime,
                    refresh: a
                        .options
                        .refresh_advice
                        .map(|r| Duration::from_secs(u64::from(r) * u64::from(LIFETIME_UNIT_S))),
                },
            )
        } else {
            let flow = a.options.experimental.and_then(|e| e.flow);
            match (&mut m.ro, flow) {
                (Some(ro), Some(f)) => ro.handle_ack(
                    now,
                    correspondent::Flow {
                        protocol: f.protocol,
                        local: src,
                        local_port: f.correspondent_port,
                        home,
                        service_port: f.service_port,
                    },
                    a.status,
                    a.sequence,
                    lifetime,
                ),
                _ => false,
            }
        };
        self.counters.bump(if !taken {
            "ack_unexpected"
        } else if a.status < 128 {
            "ack_accepted"
        } else {
            "ack_refused"
        });
    }

    fn error(&mut self, rx: &Rx, e: &BindingError) {
        let Rx { src, .. } = *rx;
        // A Binding Error comes from a member to a correspondent (§7.3):
        // it is keyed like flow bindings, else anybody could unbind flows.
        if !self.authentic(AUTH_MN_CN, rx) {
            return;
        }
        match e.status {
            packet::ERROR_UNKNOWN_BINDING => {
                let n = self
                    .cn
                    .as_mut()
                    .map_or(0, |c| c.binding_error(src, e.home_address));
                self.counters.bump(if n > 0 {
                    "binding_error_flows_dropped"
                } else {
                    "binding_error_unmatched"
                });
                self.drain_cn();
            }
            _ => self.counters.bump("binding_error_received"),
        }
    }

    fn refresh_request(&mut self, rx: &Rx) {
        let Rx { now, src, .. } = *rx;
        let known = self
            .member
            .as_ref()
            .is_some_and(|m| m.home_agents.contains(&src));
        if !known {
            self.counters.bump("refresh_request_unknown");
            return;
        }
        if !self.authentic(AUTH_MN_HA, rx) {
            return;
        }
        if let Some(m) = &mut self.member {
            m.core.refresh_now(now, src);
            self.counters.bump("refresh_request");
        }
    }

    fn dhaad_request(&mut self, src: Ipv6Addr, dst: Ipv6Addr, identifier: u16) {
        let Some(ha) = &self.ha else {
            self.counters.bump("not_home_agent");
            return;
        };
        let ours = ha
            .cfg
            .anycast
            .iter()
            .any(|a| home_agents_anycast(*a) == dst);
        if !ours {
            self.counters.bump("dhaad_not_ours");
            return;
        }
        let mut home_agents = vec![ha.cfg.address];
        home_agents.extend(ha.cfg.peers.iter().filter(|p| **p != ha.cfg.address));
        let from = ha.cfg.address;
        let bytes = Dhaad::Reply {
            identifier,
            home_agents,
        }
        .encode(from, src);
        self.counters.bump("dhaad_reply_sent");
        self.push_send(from, src, packet::PROTO_ICMPV6, bytes);
    }

    fn dhaad_reply(&mut self, now: Instant, src: Ipv6Addr, identifier: u16, has: Vec<Ipv6Addr>) {
        let Some(m) = &mut self.member else {
            self.counters.bump("not_member");
            return;
        };
        if m.discover_at.is_none() || identifier != m.discover_id || has.is_empty() {
            // Not asked (or not any more), or an empty answer.
            self.counters.bump("dhaad_reply_unexpected");
            return;
        }
        let _ = src;
        self.counters.bump("dhaad_reply");
        m.discover_at = None;
        m.discovered = true;
        m.home_agents = has;
        let seq = m.discover_id;
        m.core
            .set_home_agents(now, &m.home_agents, &m.cfg.homes, seq);
    }

    // ---- sending

    fn unknown_type(&mut self, now: Instant, from: Ipv6Addr, to: Ipv6Addr) {
        let second = now.as_micros() / 1_000_000;
        if self.errors.0 != second {
            self.errors = (second, 0);
        }
        if self.errors.1 >= ERRORS_PER_SECOND || from.is_multicast() {
            self.counters.bump("binding_error_suppressed");
            return;
        }
        self.errors.1 += 1;
        let msg = Message::Error(BindingError {
            status: packet::ERROR_UNKNOWN_TYPE,
            home_address: Ipv6Addr::UNSPECIFIED,
            options: Options::default(),
        });
        self.send_mh(from, to, msg, AUTH_MN_HA);
    }

    #[allow(clippy::too_many_arguments)]
    fn answer(
        &mut self,
        from: Ipv6Addr,
        to: Ipv6Addr,
        status: u8,
        seq: u16,
        lifetime: u16,
        home: Option<Ipv6Addr>,
        advice: Option<u16>,
    ) {
        let msg = Message::Ack(BindingAck {
            status,
            key_mgmt: false,
            sequence: seq,
            lifetime,
            options: Options {
                home_prefix: home,
                refresh_advice: advice,
                ..Options::default()
            },
        });
        self.send_mh(from, to, msg, AUTH_MN_HA);
    }

    /// An acknowledgement of a flow binding: the Flow sub-option goes
    /// back so the member knows which flow it answers.
    #[allow(clippy::too_many_arguments)]
    fn answer_flow(
        &mut self,
        from: Ipv6Addr,
        to: Ipv6Addr,
        status: u8,
        seq: u16,
        lifetime: u16,
        home: Ipv6Addr,
        flow: packet::Flow,
    ) {
        let msg = Message::Ack(BindingAck {
            status,
            key_mgmt: false,
            sequence: seq,
            lifetime,
            options: Options {
                home_prefix: Some(home),
                experimental: Some(Experimental {
                    flow: Some(flow),
                    ..Experimental::default()
                }),
                ..Options::default()
            },
        });
        self.send_mh(from, to, msg, AUTH_MN_CN);
    }

    fn send_mh(&mut self, src: Ipv6Addr, dst: Ipv6Addr, mut msg: Message, subtype: u8) {
        if let Some((spi, key)) = self.keys.send_key() {
            self.next_id += 1;
            msg.options_mut().message_id = Some(self.next_id);
            let key = key.clone();
            auth::seal(&key, spi, subtype, src, dst, &mut msg);
        }
        self.counters.bump(match &msg {
            Message::Update(_) => "update_sent",
            Message::Ack(_) => "ack_sent",
            Message::Error(_) => "error_sent",
            Message::RefreshRequest(_) => "refresh_request_sent",
        });
        let bytes = msg.encode(src, dst);
        self.push_send(src, dst, packet::PROTO_MH, bytes);
    }

    fn push_send(&mut self, src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, bytes: Vec<u8>) {
        self.out.push(Output::Send(Send {
            src,
            dst,
            next_header,
            bytes,
        }));
    }

    /// After any change: the member's and route optimiser's updates go
    /// out, the reverse tunnel follows the live registrations, the
    /// correspondent's map changes go out.
    fn after(&mut self, now: Instant) {
        let mut updates = Vec::new();
        let mut flow_updates = Vec::new();
        let mut hao = Vec::new();
        let mut tunnel = Vec::new();
        if let Some(m) = &mut self.member {
            while let Some(u) = m.core.poll_update() {
                updates.push((m.cfg.care_of, u));
            }
            if let Some(ro) = &mut m.ro {
                while let Some(u) = ro.poll_update() {
                    flow_updates.push(u);
                }
                while let Some(h) = ro.poll_hao() {
                    hao.push(h);
                }
            }
            // Replies go to the Home-Agents anycast address of A's prefix
            // while some registration is live (docs/mga.md §6.3): every
            // home agent of A holds it and ends tunnels to it, so the
            // reverse path follows whichever one the home link reaches,
            // as the forward path does.
            for home in m.cfg.homes.clone() {
                let live = m.core.live_home_agents(now, home);
                let first = (!live.is_empty()).then(|| home_agents_anycast(home));
                if m.tunnel.get(&home) != Some(&first) {
                    m.tunnel.insert(home, first);
                    tunnel.push((home, first));
                }
            }
        }
        for (coa, u) in updates {
            let msg = Message::Update(BindingUpdate {
                sequence: u.seq,
                ack: true,
                home: true,
                link_local: false,
                key_mgmt: false,
                lifetime: units(u.lifetime),
                options: Options {
                    home_prefix: Some(u.home),
                    experimental: Some(Experimental {
                        metric: Some(u.metric),
                        flow: None,
                        draining: u.draining,
                    }),
                    ..Options::default()
                },
            });
            self.send_mh(coa, u.home_agent, msg, AUTH_MN_HA);
        }
        for u in flow_updates {
            self.send_flow_update(u);
        }
        for h in hao {
            self.out.push(Output::Hao(h));
        }
        for (home, home_agent) in tunnel {
            self.out.push(Output::ReverseTunnel { home, home_agent });
        }
        self.drain_cn();
    }

    fn send_flow_update(&mut self, u: ro::FlowUpdateOut) {
        let msg = Message::Update(BindingUpdate {
            sequence: u.seq,
            ack: true,
            home: false,
            link_local: false,
            key_mgmt: false,
            lifetime: units(u.lifetime),
            options: Options {
                home_prefix: Some(u.flow.home),
                experimental: Some(Experimental {
                    metric: None,
                    flow: Some(packet::Flow {
                        protocol: u.flow.protocol,
                        correspondent_port: u.flow.local_port,
                        service_port: u.flow.service_port,
                        correspondent: u.flow.local,
                        care_of: u.coa,
                    }),
                    draining: false,
                }),
                ..Options::default()
            },
        });
        self.send_mh(u.coa, u.flow.local, msg, AUTH_MN_CN);
    }

    fn drain_cn(&mut self) {
        if let Some(c) = &mut self.cn {
            while let Some(ch) = c.poll_change() {
                self.out.push(Output::CnMap(ch));
            }
        }
    }

    /// Home agent: every home address whose forwarding set changed, and
    /// the cache to save.
    fn publish(&mut self, now: Instant) {
        let Some(ha) = &mut self.ha else { return };
        let mut changed = false;
        for home in ha.cfg.anycast.clone() {
            let set = ha.cache.forwarding(now, home);
            if ha
                .published
                .get(&home)
                .map_or(!set.is_empty(), |p| *p != set)
            {
                ha.published.insert(home, set.clone());
                self.out.push(Output::Bindings { home, members: set });
                changed = true;
            }
        }
        let _ = changed;
        self.out.push(Output::Saved(ha.cache.save(now)));
    }
}

/// A duration in the 4-second units of Lifetime and Refresh Interval,
/// rounded down, at most 0xffff.
fn units(d: Duration) -> u16 {
    (d.as_secs() / u64::from(LIFETIME_UNIT_S)).min(u64::from(u16::MAX)) as u16
}
