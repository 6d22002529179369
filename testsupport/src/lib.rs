//! What the topology tests (`anycast6-tests`) and the benchmarks
//! (`anycast6-bench`) both need to set up a throwaway network and take it
//! down again: network namespaces joined by veth pairs, pin directories
//! under bpffs, scratch directories, child processes, and the few system
//! calls behind them.
//!
//! Every object undoes itself on Drop, also while a test panics:
//! namespaces are deleted with what runs in them, processes killed by pid,
//! pin directories unpinned and removed. Each user names its objects with
//! its own prefix ([`names::Owner`]: `a6t-` the tests, `a6b-` the
//! benchmarks) followed by the process id, so parallel runs never collide
//! and what a killed run left is swept by the next one
//! ([`names::sweep_stale`]).

pub mod capture;
pub mod names;
pub mod netns;
pub mod pins;
pub mod process;
pub mod sys;
pub mod util;

pub use capture::Capture;
pub use names::Owner;
pub use netns::{veth, Netns};
pub use pins::{PinDir, BPFFS};
pub use process::{Proc, TempDir};
pub use util::{require_root, wait_for, wait_until};
