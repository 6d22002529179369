//! AARP inside anycast6d (`[aarp]`, docs/aarp.md): one UDP socket on port
//! 5360, served from the daemon loop (answers need the FIB, which the loop
//! owns; a decision is a few map reads).
//!
//! - member role: queries to `[member] addresses` are answered with this
//!   member's unicast address, unless its ARD health check fails;
//! - router role (`answer_for_members`): the forwarding program hands
//!   queries to owned addresses to the kernel (`a6_aarp` = 1), and the
//!   answer names the member the fast path gives the query's own flow
//!   (Maglev over the installed table at the flow hash of (client, A, UDP,
//!   client port, 5360): a flow it has not seen, so no affinity). The
//!   owned /128s are put on `lo` so the kernel delivers the queries here.

use std::net::{Ipv6Addr, SocketAddrV6};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anycast6_aarp::packet::AnswerSource;
use anycast6_aarp::responder::{AnswerSpec, Responder};
use anycast6_dataplane::{abi, Action};

use super::udp::{LinkUdp, Received};
use super::Daemon;
use crate::config::{AarpConfig, Config};
use crate::ControlError;

/// How long a client may remember "no member" from a router.
const NO_MEMBER_LIFETIME: Duration = Duration::from_secs(1);
/// Answers per second (token bucket): an answer is larger than a query.
const ANSWERS_PER_SEC: u32 = 10_000;

pub struct AarpSide {
    pub sock: LinkUdp,
    responder: Responder,
    cfg: AarpConfig,
}

impl AarpSide {
    fn new(cfg: &AarpConfig) -> Result<AarpSide, ControlError> {
        let sock = LinkUdp::bind(anycast6_aarp::PORT)
            .map_err(|e| ControlError::AarpSetup(format!("bind [::]:5360: {e}")))?;
        let seq = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Ok(AarpSide {
            sock,
            responder: Responder::new(super::ard::keyring(&cfg.keys), seq)
                .with_rate_limit(ANSWERS_PER_SEC, ANSWERS_PER_SEC),
            cfg: cfg.clone(),
        })
    }
}

impl Daemon {
    /// Opens, keeps or closes the AARP socket to match `cfg`, and sets
    /// whether the forwarding program hands queries to the kernel.
    pub(super) fn sync_aarp(&mut self, cfg: &Config) {
        match (&cfg.aarp, &self.aarp) {
            (None, _) => self.aarp = None,
            (Some(want), Some(have)) if have.cfg == *want => {}
            (Some(want), _) => match AarpSide::new(want) {
                Ok(a) => {
                    tracing::info!(
                        answer_for_members = want.answer_for_members,
                        "AARP listening on port 5360"
                    );
                    self.aarp = Some(a);
                }
                Err(e) => {
                    tracing::error!(error = %e, "AARP not started");
                    self.aarp = None;
                }
            },
        }
        let on = cfg.aarp.as_ref().is_some_and(|a| a.answer_for_members);
        if let Err(e) = self.dp.fib().set_aarp_answer(on) {
            tracing::error!(error = %e, "a6_aarp not set");
        }
        if let Some(snap) = &mut self.snap {
            let _ = snap.apply(&anycast6_dataplane::userspace::FibOp::SetAarpAnswer(on));
            self.shared.publish(snap);
        }
    }

    /// Answers one datagram received on the AARP socket.
    pub(super) async fn handle_aarp(&mut self, r: Received, bytes: &[u8]) {
        let Some(side) = self.aarp.as_ref() else {
            return;
        };
        let cfg = side.cfg.clone();
        let decision = self.aarp_decide(&cfg, &r);
        let Some(side) = self.aarp.as_mut() else {
            return;
        };
        let answer =
            side.responder
                .handle_query(std::time::Instant::now(), r.src, r.dst, bytes, |_, _| {
                    decision
                });
        if let Some(a) = answer {
            let to = SocketAddrV6::new(r.src, r.src_port, 0, r.ifindex);
            if let Err(e) = side.sock.send(&a, r.dst, 0, to).await {
                tracing::warn!(client = %r.src, error = %e, "AARP answer not sent");
            }
        }
    }

    fn aarp_decide(&mut self, cfg: &AarpConfig, r: &Received) -> Option<AnswerSpec> {
        // Member role: one of the addresses this host serves.
        if let Some(role) = &self.cfg.member_role {
            if role.addresses.contains(&r.dst) {
                // A draining member takes no new clients.
                if role.draining {
                    return None;
                }
                let healthy = self
                    .ard_member
                    .as_ref()
                    .is_none_or(|(t, _, _)| t.member_active());
                let unicast = cfg
                    .unicast
                    .or_else(|| role.ard.as_ref().map(|a| a.unicast))?;
                return healthy.then(|| {
                    AnswerSpec::member(AnswerSource::Member, unicast, cfg.lifetime, cfg.preference)
                });
            }
        }
        if !cfg.answer_for_members {
            return None;
        }
        // Router role: the fast path's choice for the query's own flow.
        let key = abi::FlowKey {
            src: r.src.octets(),
            dst: r.dst.octets(),
            sport_be: r.src_port.to_be(),
            dport_be: anycast6_aarp::PORT.to_be(),
            proto: 17,
            frag: 0,
            _pad: 0,
        };
        let seed = self.cfg.daemon.hash_seed;
        match self.dp.fib().new_flow_member(&key, seed) {
            Ok(Some(m)) if m.action != Action::Local && is_global(m.unicast) => {
                Some(AnswerSpec::member(
                    AnswerSource::Router,
                    m.unicast,
                    cfg.lifetime,
                    cfg.preference,
                ))
            }
            // A member behind another router (a link-local next hop) or
            // this host: its own answer is better than ours; none to give.
            Ok(_) => Some(AnswerSpec::no_member(
                AnswerSource::Router,
                NO_MEMBER_LIFETIME,
            )),
            Err(e) => {
                tracing::warn!(error = %e, "AARP: reading the FIB");
                None
            }
        }
    }

    /// The owned /128s the router answers for, to be put on `lo`.
    pub(super) fn aarp_owned(&self, cfg: &Config, target: &crate::rib::FibState) -> Vec<Ipv6Addr> {
        if !cfg.aarp.as_ref().is_some_and(|a| a.answer_for_members) {
            return Vec::new();
        }
        let mine: Vec<Ipv6Addr> = cfg
            .member_role
            .as_ref()
            .map(|m| m.addresses.clone())
            .unwrap_or_default();
        target
            .routes
            .keys()
            .filter_map(|r| match r {
                anycast6_dataplane::Route::Host(a) if !mine.contains(a) => Some(*a),
                _ => None,
            })
            .collect()
    }

    /// `show aarp`.
    pub(super) fn aarp_view(&self) -> serde_json::Value {
        match &self.aarp {
            None => serde_json::Value::Null,
            Some(a) => serde_json::json!({
                "answer_for_members": a.cfg.answer_for_members,
                "unicast": a.cfg.unicast,
                "lifetime_ms": a.cfg.lifetime.as_millis() as u64,
                "preference": a.cfg.preference,
                "authenticated": !a.cfg.keys.is_empty(),
                "counters": a.responder.counters(),
            }),
        }
    }
}

fn is_global(a: Ipv6Addr) -> bool {
    !(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || a.segments()[0] & 0xffc0 == 0xfe80)
}
