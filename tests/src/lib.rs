//! anycast6 test harness: throwaway network namespaces joined by veth
//! pairs, processes started inside them, anycast6d under test, and traffic
//! endpoints that report which anycast member served each flow.
//!
//! Every object cleans up after itself on Drop, also when a test panics:
//! namespaces are deleted, processes killed by pid, pin directories
//! destroyed (`anycast6ctl destroy --pin-dir`) and removed. Names carry the
//! test process id, so parallel tests never collide and leftovers of a
//! killed run are swept by the next one ([`netns::sweep_stale`]).
//!
//! Privileged tests start with `if !require_root("name") { return; }`;
//! `scripts/test.sh` refuses to run unless root, so CI never skips them.

pub mod bird;
pub mod daemon;
pub mod frr;
pub mod netns;
pub mod process;
pub mod proto;
pub mod sys;
pub mod topology;
pub mod traffic;
pub mod util;

/// Where bpffs is mounted.
pub const BPFFS: &str = "/sys/fs/bpf";

pub use daemon::{bin, Daemon, DaemonCfg, MemberCfg, MemberRoleCfg, PinDir};
pub use netns::{veth, Netns};
pub use process::{Proc, TempDir};
pub use topology::Topology;
pub use traffic::{FlowCensus, Server, TcpTransfer, UdpStream};
pub use util::{require_root, wait_for, wait_until};
