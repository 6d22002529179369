//! AARP, the Anycast Address Resolving Protocol (docs/aarp.md): a client
//! sends a query for anycast address A *to A*, so it is routed exactly as
//! anycast traffic is; the member it reaches (or an anycast6 router that
//! owns A, on the members' behalf) answers with one member's unicast
//! address, a lifetime and a preference. The client then talks unicast to
//! that member, so stateful protocols such as TCP work over anycast.
//!
//! - [`packet`]: the wire format (UDP port [`PORT`]);
//! - [`sign`]: the keyed digest of AARP messages, over [`auth`], the
//!   HMAC-SHA-256 keys every anycast6 protocol shares;
//! - [`resolver`] and [`responder`]: the two sides as pure cores (time in,
//!   datagrams out; no sockets, no clock);
//! - [`client`]: blocking resolution over std sockets with a process-wide
//!   cache, for programs and the LD_PRELOAD library;
//! - [`pcap`]: capture files for the dissector tests.
//!
//! Light on purpose (std, hmac, sha2, subtle, thiserror, serde): it is
//! linked into arbitrary programs by the preload library.

pub use anycast6_core::auth;
pub mod cache;
pub mod client;
pub mod packet;
pub use anycast6_core::pcap;
pub mod resolver;
pub mod responder;
pub mod sign;

pub use client::{resolve_blocking, Answer, AnswerSource, Cache, ClientOptions, ResolveError};
pub use packet::PORT;
