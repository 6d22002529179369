//! anycast6-dataplane: everything that touches the fast path.
//!
//! - [`abi`]: the Rust mirror of `ebpf/include/anycast6_abi.h`.
//! - [`flowhash`]: the flow hash, identical to `ebpf/include/flowhash.h`.
//! - [`maglev`]: Maglev table construction (weighted), table sizing.
//! - [`changes`]: the change period: which entries changed, who their old members were.
//! - [`objects`]: the compiled eBPF objects, embedded.
//! - [`loader`]: load, pin under `/sys/fs/bpf/anycast6/v<ABI>/`, attach, resync, destroy.
//! - [`fib`]: the FIB writer: publishes whole groups with one map update.
//! - [`testrun`]: BPF_PROG_TEST_RUN of the programs on a frame.
//! - [`types`]: the userspace view of groups, members and routes.
//! - [`userspace`]: the AF_XDP path's forwarding engine (pure, same rules).
//! - [`xsk`]: the AF_XDP steering program on an `afxdp` interface (XSKMAP).
//! - [`mga`]: the MGA member and correspondent programs (tc egress, XDP ingress).
//! - [`capture`]: the capture maps (settings, counters, ring buffer) and the record decoder.

pub mod abi;
pub mod blocks;
pub mod capture;
pub mod changes;
pub mod error;
pub mod fib;
pub mod fixtures;
pub mod flowhash;
pub mod loader;
pub mod maglev;
pub mod mga;
pub mod objects;
pub mod pins;
mod sys;
pub use sys::release_free_memory;
pub mod testrun;
pub mod types;
pub mod userspace;
pub mod xsk;

pub use error::DataplaneError;
pub use fib::FibWriter;
pub use loader::{AttachMode, Dataplane, DataplaneOptions};
pub use types::*;
