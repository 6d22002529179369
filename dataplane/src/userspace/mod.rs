//! The userspace forwarding engine of the AF_XDP path: the same anycast
//! forwarding as `ebpf/anycast6_xdp.bpf.c`, on an immutable FIB snapshot.
//! Pure: no sockets, no clock (callers pass `now`), no `unsafe`.
//!
//! ```text
//!  FibOp ──► SnapshotBuilder ──publish──► SharedFib (ArcSwap<FibSnapshot>)
//!                                              │ load() once per batch
//!  frame ──► process(frame, ingress, snapshot, FlowState, EngineConfig, now)
//!              [tunnelled to this router? strip the outer header]
//!              → parse (wire) → FIB → group → flow key → choose (affinity,
//!              Maglev) → local | hop limit | tx port → rewrite | encap |
//!              Packet Too Big (emit) ──► Outcome { verdict, reason, egress }
//! ```
//!
//! - [`wire`]: zero-copy header views and the parser (`parse.h`).
//! - [`snapshot`]: [`FibOp`], [`SnapshotBuilder`], [`FibSnapshot`], [`SharedFib`].
//! - [`affinity`]: the bounded per-worker flow table (why per worker: there).
//! - [`engine`]: [`process`] (`a6_process`, `a6_choose`, `a6_too_big`).
//! - [`emit`]: rewrite, encap, Packet Too Big (`encap.h`).
//! - [`frame`]: a frame in a buffer with room to grow.
#![forbid(unsafe_code)]

pub mod affinity;
pub mod emit;
pub mod engine;
pub mod fasthash;
pub mod frame;
pub mod snapshot;
pub mod wire;

pub use affinity::AffinityTable;
pub use engine::{process, EngineConfig, EngineCounters, FlowState, Outcome};
pub use frame::Frame;
pub use snapshot::{FibOp, FibSnapshot, SharedFib, SnapGroup, SnapshotBuilder, SnapshotError};
