//! ARD — Anycast Receiver Discovery (docs/ard.md): members tell their
//! first-hop routers which anycast addresses they serve, with a metric, the
//! way MLDv2 listeners report multicast groups.
//!
//! Two pure cores, no sockets, no clock reads (quinn-proto style):
//! [`ArdRouter`] (one per router, many interfaces) and [`ArdMember`] (one
//! per member host). Both are driven the same way.
//!
//! ```text
//!            anycast6d (sockets, timers, config, RIB)
//!   UDP [::]:5359 on each ARD interface, IPV6_RECVHOPLIMIT + IPV6_RECVPKTINFO
//!      │ (now, ifindex, src, hop_limit, bytes)        ▲ Transmit{ifindex, src, dst, bytes}
//!      ▼                                              │ RibChange (router only)
//!   handle_packet ──► ArdRouter / ArdMember ──► poll_output()  (drain until None)
//!   handle_timeout(now) ◄── sleep until poll_timeout()
//! ```
//!
//! # What the daemon does (router role)
//! 1. `ArdRouter::new(RouterConfig { .., keyring, seq_start: <ns since epoch> }, now)`.
//! 2. Per ARD interface: open/bind a UDP socket on port [`PORT`], join
//!    [`ALL_ROUTERS`] (ff02::2) on it, set IPV6_MULTICAST_HOPS and
//!    IPV6_UNICAST_HOPS to [`HOP_LIMIT`] (255), IPV6_MULTICAST_LOOP off,
//!    ask for IPV6_RECVHOPLIMIT and IPV6_RECVPKTINFO; then
//!    `router.add_interface(now, ifindex, link_local)`.
//! 3. Every datagram: `router.handle_packet(now, ifindex, src, hop_limit, &bytes)`
//!    with the hop limit from the ancillary data (pass 0 when missing: it is
//!    rejected). Do not filter before the core: it counts every rejection.
//! 4. After every call, drain `router.poll_output()`:
//!    [`RouterOutput::Send`] → `sendmsg` from `t.src` on `t.ifindex` to
//!    `t.dst` port 5359; [`RouterOutput::Rib`] → apply to the RIB. On an
//!    `Upsert`, `router.draining(&entry)` says whether the member is
//!    draining that address (RibEntry has no state field yet).
//! 5. Sleep until `router.poll_timeout()`, then `router.handle_timeout(now)`.
//! 6. `router.view(now)` and `router.counters()` are `serde::Serialize` for
//!    the management API; `router.remove_interface(ifindex)` withdraws all
//!    that the interface taught.
//!
//! # What the daemon does (member role)
//! Same socket set-up without joining ff02::2 (queries come to ff02::1 or
//! the link-local address), then `ArdMember::new(MemberConfig{..}, now)`,
//! `handle_packet`, `handle_timeout`, `poll_output` (only [`Transmit`]s),
//! `poll_timeout`; health checks call `set_healthy(now, ok)`, config
//! reloads `set_address` / `set_draining` / `remove_address`, and a clean
//! exit calls `shutdown(now)`, drains the output, and (optionally) keeps
//! running timers until `poll_timeout()` is `None` so the leaves are
//! repeated [robustness] times.

pub mod auth;
pub mod counters;
pub mod member;
pub mod packet;
mod rng;
pub mod router;

use std::net::Ipv6Addr;
use std::time::Duration;

pub use counters::{Counters, RecordErrorCounters, Reject, RejectCounters};
pub use member::{ArdMember, MemberConfig, MemberInterface, MemberView};
pub use packet::{DecodeError, Message, Packet, Query, Record, RecordType, Report};
pub use router::{
    ArdRouter, RouterConfig, RouterOutput, RouterView, DEFAULT_ADDRESSES_WARN_PERCENT,
    DEFAULT_MAX_ADDRESSES, DEFAULT_MAX_ADDRESSES_PER_INTERFACE, DEFAULT_MAX_ADDRESSES_PER_MEMBER,
};

use anycast6_core::auth::{Keyring, ReplayGuard};

/// UDP port of ARD, source and destination (unassigned by IANA; tshark has
/// no dissector on it).
pub const PORT: u16 = 5359;
/// Queries go to all nodes.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// Reports go to all routers (Linux joins it on forwarding interfaces).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// Every ARD datagram is sent with this hop limit and only accepted with it.
pub const HOP_LIMIT: u8 = 255;

/// A datagram to send: from `src` (the interface's link-local address, which
/// the digest covers) on `ifindex` to `dst`, UDP port [`PORT`] both sides,
/// hop limit [`HOP_LIMIT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub ifindex: u32,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub bytes: Vec<u8>,
}

/// A configuration the cores refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{what} must be above zero")]
    DurationZero { what: &'static str },
    #[error("{what} ({value:?}) must be below {limit_name} ({limit:?})")]
    DurationOrder {
        what: &'static str,
        value: Duration,
        limit_name: &'static str,
        limit: Duration,
    },
    #[error("robustness must be at least 1")]
    RobustnessZero,
    #[error("{0} is not a link-local address")]
    LinkLocalInvalid(Ipv6Addr),
    #[error("{0} cannot be a member's unicast address")]
    UnicastInvalid(Ipv6Addr),
    #[error("{0} cannot be an anycast address")]
    AnycastInvalid(Ipv6Addr),
    #[error("metric {0} above the maximum {max}", max = packet::METRIC_MAX)]
    MetricInvalid(u32),
    #[error("interface {0} is not configured")]
    InterfaceUnknown(u32),
    #[error("{what} must be above zero")]
    LimitZero { what: &'static str },
    #[error("invalid address limit: {0}")]
    LimitInvalid(anycast6_core::limit::LimitConfigError),
}

/// Link checks, decode, authentication: the receive path both roles share.
/// Counts what it drops and the record errors of what it keeps.
fn receive(
    bytes: &[u8],
    src: Ipv6Addr,
    hop_limit: u8,
    keyring: &Keyring,
    guard: &mut ReplayGuard,
    counters: &mut Counters,
) -> Option<packet::Decoded> {
    let checked = counters::check_link(src, hop_limit).and_then(|()| {
        let d = Packet::decode(bytes).map_err(Reject::Decode)?;
        let v = auth::check(bytes, d.packet.auth.as_ref(), src, keyring, guard)
            .map_err(Reject::Auth)?;
        Ok((d, v))
    });
    match checked {
        Err(reason) => {
            tracing::debug!(%src, hop_limit, ?reason, "ard: datagram rejected");
            counters.rejected.count(reason);
            None
        }
        Ok((d, verdict)) => {
            match verdict {
                auth::AuthVerdict::Unauthenticated => {}
                auth::AuthVerdict::TrailerIgnored => counters.rx_auth_ignored += 1,
                auth::AuthVerdict::Verified { .. } => counters.rx_auth_verified += 1,
            }
            for e in &d.record_errors {
                tracing::debug!(%src, index = e.index, anycast = %e.anycast, kind = ?e.kind,
                    "ard: record left out");
                counters.record_errors.count(e.kind);
            }
            Some(d)
        }
    }
}

/// Encodes `packet`, signed with the keyring's send key when there is one.
fn seal(
    packet: &Packet,
    src: Ipv6Addr,
    keyring: &Keyring,
    seq: &mut anycast6_core::auth::SeqCounter,
) -> Vec<u8> {
    match keyring.send_key() {
        Some(key) => auth::sign(packet, src, key, seq.take()),
        None => packet.encode(),
    }
}
