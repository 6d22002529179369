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
//! The namespaces, directories, processes and system calls come from
//! `anycast6-testsupport`, shared with the benchmarks; the modules
//! [`netns`], [`process`], [`sys`] and [`util`] give them their tests
//! names (`a6t-…`, [`Tests`]).
//!
//! Privileged tests start with `if !require_root("name") { return; }`;
//! `scripts/test.sh` refuses to run unless root, so CI never skips them.

use std::path::Path;

use anycast6_testsupport::names;

pub mod bird;
pub mod daemon;
pub mod frr;
pub mod home_line;
pub mod ospf;
pub mod prometheus;
pub mod proto;
pub mod stream;
pub mod topology;
pub mod traffic;

pub use anycast6_testsupport::sys;
pub use anycast6_testsupport::Capture;

/// Where bpffs is mounted.
pub const BPFFS: &str = anycast6_testsupport::BPFFS;

/// The owner of everything the harness creates: names start with `a6t-`,
/// anycast6d pins into `<pin dir>/v1`, and pins are destroyed with
/// `anycast6ctl destroy --pin-dir`.
#[derive(Debug)]
pub struct Tests;

impl names::Owner for Tests {
    const PREFIX: &'static str = "a6t-";
    const PIN_LEAF: &'static str = "v1";

    fn unpin(dir: &Path) {
        daemon::destroy_pins(dir);
    }
}

/// Network namespaces and veth links (`anycast6_testsupport::netns`).
pub mod netns {
    pub use anycast6_testsupport::netns::{veth, NETNS_DIR};

    /// A test namespace, `/run/netns/a6t-<short>-<pid>x<n>`.
    pub type Netns = anycast6_testsupport::Netns<crate::Tests>;

    /// Deletes what test processes that no longer run left behind
    /// (namespaces, pin directories, /tmp entries); once per process.
    pub fn sweep_stale() {
        anycast6_testsupport::names::sweep_stale::<crate::Tests>();
    }
}

/// Processes started by a test and its scratch directories.
pub mod process {
    pub use anycast6_testsupport::process::Proc;

    /// A scratch directory `/tmp/a6t-<short>-<pid>x<n>`.
    pub type TempDir = anycast6_testsupport::TempDir<crate::Tests>;
}

/// Root check, polling, running commands, the harness's unique names.
pub mod util {
    use anycast6_testsupport::names::{self, Owner};

    pub use anycast6_testsupport::util::*;

    /// Every name the harness creates (namespaces, pin dirs, temp dirs)
    /// starts with this, followed by a short test name and a `<pid>x<n>`
    /// suffix, so parallel tests never collide and leftovers of a killed
    /// run can be found.
    pub const PREFIX: &str = crate::Tests::PREFIX;

    /// A name unique to this process and call: `a6t-<short>-<pid>x<n>`.
    pub fn unique_name(short: &str) -> String {
        names::unique_name::<crate::Tests>(short)
    }

    /// The pid encoded in a name made by [`unique_name`], if any.
    pub fn pid_of_unique_name(name: &str) -> Option<u32> {
        names::pid_of::<crate::Tests>(name)
    }
}

pub use daemon::{bin, Daemon, DaemonCfg, Launch, MemberCfg, MemberRoleCfg, PinDir};
pub use netns::{veth, Netns};
pub use process::{Proc, TempDir};
pub use topology::Topology;
pub use traffic::{FlowCensus, Server, TcpTransfer, UdpStream};
pub use util::{require_root, wait_for, wait_until};
