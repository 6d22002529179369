//! Loading, pinning, attaching, resynchronising and destroying the fast path.
//! (API fixed; bodies to be implemented.)

use std::net::Ipv6Addr;
use std::path::PathBuf;

use crate::{abi, error::DataplaneError, fib::FibWriter};

/// Map capacities (max_entries); each overrides the ABI default at load time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacities {
    pub fib_entries: u32,
    pub prefix_entries: u32,
    pub groups: u32,
    pub maglev_blocks: u32,
    pub affinity_entries: u32,
    pub tx_ports: u32,
    pub member_ids: u32,
}

impl Default for Capacities {
    fn default() -> Self {
        Capacities {
            fib_entries: abi::DEF_FIB_ENTRIES,
            prefix_entries: abi::DEF_PREFIX_ENTRIES,
            groups: abi::DEF_GROUPS,
            maglev_blocks: abi::DEF_MAGLEV_BLOCKS,
            affinity_entries: abi::DEF_AFFINITY_ENTRIES,
            tx_ports: abi::DEF_TX_PORTS,
            member_ids: abi::DEF_MEMBER_IDS,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DataplaneOptions {
    /// Versioned pin directory, normally `/sys/fs/bpf/anycast6/v1`.
    pub pin_dir: PathBuf,
    pub capacities: Capacities,
    pub hash_seed: u32,
    /// Source address of ICMPv6 Packet Too Big messages.
    pub router_addr: Ipv6Addr,
    pub ptb_per_sec: u32,
}

impl DataplaneOptions {
    pub fn default_pin_dir() -> PathBuf {
        PathBuf::from(format!("{}/v{}", abi::PIN_ROOT, abi::ABI_VERSION))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachMode {
    /// Native (driver) XDP; fail if unavailable.
    Native,
    /// Generic (skb) XDP.
    Generic,
    /// Native, falling back to generic with a loud warning.
    NativeOrGeneric,
}

/// An interface with a pinned XDP link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttachedIface {
    pub ifname: String,
    pub ifindex: u32,
    pub mode: AttachMode,
    pub prog_id: u32,
    pub link_pin: PathBuf,
}

pub struct Dataplane {
    // implementation detail
}

impl Dataplane {
    /// Loads the forwarding program; maps are pinned by name under
    /// `opts.pin_dir` and reused if already pinned (resync: nothing is
    /// flushed). Creates the pin directory.
    pub fn open(_opts: &DataplaneOptions) -> Result<Dataplane, DataplaneError> {
        todo!()
    }

    /// Attaches the program to `ifname` and pins the link as
    /// `<pin_dir>/link_<ifname>`. If a pinned link for it already exists,
    /// keeps it (returns its info). Also inserts ifindex into a6_tx_ports.
    pub fn attach(
        &mut self,
        _ifname: &str,
        _mode: AttachMode,
    ) -> Result<AttachedIface, DataplaneError> {
        todo!()
    }

    /// Detaches and unpins the link of `ifname`.
    pub fn detach(&mut self, _ifname: &str) -> Result<(), DataplaneError> {
        todo!()
    }

    /// Interfaces with a pinned link (read from bpffs).
    pub fn attached(&self) -> Result<Vec<AttachedIface>, DataplaneError> {
        todo!()
    }

    /// The FIB writer over the pinned maps.
    pub fn fib(&mut self) -> &mut FibWriter {
        todo!()
    }

    /// Map ids of every pinned map (name, id): a restart must keep them.
    pub fn map_ids(&self) -> Result<Vec<(String, u32)>, DataplaneError> {
        todo!()
    }

    /// BPF_PROG_TEST_RUN of the loaded forwarding program.
    pub fn test_run(&self, _frame: &[u8]) -> Result<crate::testrun::RunResult, DataplaneError> {
        todo!()
    }

    /// Detaches every pinned link under `pin_dir` (forwarding and decap)
    /// and removes every pin and the directory. Safe to call when nothing
    /// is pinned.
    pub fn destroy(_pin_dir: &std::path::Path) -> Result<(), DataplaneError> {
        todo!()
    }
}

/// The member-side decapsulation program.
pub struct Decap {}

impl Decap {
    /// Loads (maps pinned under `pin_dir`, reused), attaches to `ifname`
    /// (link pinned as `<pin_dir>/decap_<ifname>`), and sets the served
    /// anycast addresses (inner destinations it will decapsulate).
    pub fn attach(
        _pin_dir: &std::path::Path,
        _ifname: &str,
        _mode: AttachMode,
        _served: &[Ipv6Addr],
    ) -> Result<Decap, DataplaneError> {
        todo!()
    }

    /// Replaces the set of served addresses.
    pub fn set_served(&mut self, _served: &[Ipv6Addr]) -> Result<(), DataplaneError> {
        todo!()
    }

    /// (reason name, packets, bytes) summed over CPUs.
    pub fn counters(&self) -> Result<Vec<(&'static str, u64, u64)>, DataplaneError> {
        todo!()
    }
}
