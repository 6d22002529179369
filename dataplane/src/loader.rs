//! Loading, pinning, attaching, resynchronising and destroying the fast path.
//!
//! Maps are pinned by name under the versioned pin directory and reused by
//! the next open (same map ids, nothing flushed); links are pinned per
//! interface so forwarding survives the daemon (see [`crate::pins`]).

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use aya::{
    maps::{HashMap, MapData, PerCpuArray},
    programs::Xdp,
    Ebpf, EbpfLoader,
};

use crate::{
    abi::{self, map, prog},
    error::DataplaneError,
    fib::{map_err, FibWriter, MapSource},
    objects, pins,
    testrun::{self, RunResult},
};

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
    /// Versioned pin directory, normally `/sys/fs/bpf/anycast6/v<ABI>` (v3).
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
    /// 0 when the interface is gone (the link is defunct: detach it).
    pub ifindex: u32,
    /// `Native` or `Generic` as the kernel reports it (rtnetlink, in the
    /// caller's network namespace); `NativeOrGeneric` when the kernel does
    /// not report it (interface gone or in another namespace).
    pub mode: AttachMode,
    pub prog_id: u32,
    pub link_pin: PathBuf,
}

pub struct Dataplane {
    pin_dir: PathBuf,
    /// Holds the loaded program (its maps moved into `fib`).
    ebpf: Ebpf,
    fib: FibWriter,
}

fn xdp_prog_mut<'a>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut Xdp, DataplaneError> {
    ebpf.program_mut(name)
        .ok_or(DataplaneError::ProgramMissing(name))?
        .try_into()
        .map_err(|source| DataplaneError::ProgramLoad { name, source })
}

fn xdp_prog<'a>(ebpf: &'a Ebpf, name: &'static str) -> Result<&'a Xdp, DataplaneError> {
    ebpf.program(name)
        .ok_or(DataplaneError::ProgramMissing(name))?
        .try_into()
        .map_err(|source| DataplaneError::ProgramLoad { name, source })
}

impl Dataplane {
    /// Loads the forwarding program; maps are pinned by name under
    /// `opts.pin_dir` and reused if already pinned (resync: nothing is
    /// flushed). Creates the pin directory.
    ///
    /// Capacities apply when a map is created; a pinned map keeps the size
    /// it was created with (a warning says so; destroy to resize).
    pub fn open(opts: &DataplaneOptions) -> Result<Dataplane, DataplaneError> {
        pins::prepare_dir(&opts.pin_dir)?;
        let caps = opts.capacities;
        let cfg = abi::Config {
            abi_version: abi::ABI_VERSION,
            hash_seed: opts.hash_seed,
            router_addr: opts.router_addr.octets(),
            ptb_per_sec: opts.ptb_per_sec,
            flags: 0,
        };
        let mut loader = EbpfLoader::new();
        loader
            .default_map_pin_directory(&opts.pin_dir)
            .map_max_entries(map::FIB, caps.fib_entries)
            .map_max_entries(map::FIB_PREFIX, caps.prefix_entries)
            .map_max_entries(map::GROUPS, caps.groups)
            .map_max_entries(map::MAGLEV, caps.maglev_blocks)
            .map_max_entries(map::AFFINITY, caps.affinity_entries)
            .map_max_entries(map::TX_PORTS, caps.tx_ports)
            .map_max_entries(map::GROUP_STATS, caps.groups)
            .map_max_entries(map::MEMBER_STATS, caps.member_ids)
            .override_global(abi::CONFIG_GLOBAL, &cfg, true);
        let mut ebpf = loader.load(objects::XDP_OBJ)?;
        xdp_prog_mut(&mut ebpf, prog::XDP)?
            .load()
            .map_err(|source| DataplaneError::ProgramLoad {
                name: prog::XDP,
                source,
            })?;
        let fib = FibWriter::from_source(&mut ebpf)?;
        let have = fib.capacities();
        if have.groups != caps.groups
            || have.member_ids != caps.member_ids
            || have.maglev_blocks != caps.maglev_blocks
        {
            tracing::warn!(pin_dir = %opts.pin_dir.display(), requested = ?caps, pinned = ?have,
                "pinned maps keep the capacities they were created with");
        }
        tracing::info!(pin_dir = %opts.pin_dir.display(), "forwarding program loaded");
        Ok(Dataplane {
            pin_dir: opts.pin_dir.clone(),
            ebpf,
            fib,
        })
    }

    /// The pin directory.
    pub fn pin_dir(&self) -> &Path {
        &self.pin_dir
    }

    /// Attaches the program to `ifname` and pins the link as
    /// `<pin_dir>/link_<ifname>`. If a pinned link for it already exists,
    /// keeps it (returns its info) and switches it atomically to the
    /// program this process loaded. Also inserts ifindex into a6_tx_ports,
    /// and into a6_ifaces with the interface's MAC (read in the calling
    /// thread's network namespace).
    pub fn attach(
        &mut self,
        ifname: &str,
        mode: AttachMode,
    ) -> Result<AttachedIface, DataplaneError> {
        pins::check_ifname(ifname)?;
        let pin = pins::link_pin(&self.pin_dir, pins::LINK_PREFIX, ifname);
        let prog = xdp_prog_mut(&mut self.ebpf, prog::XDP)?;
        let info = pins::attach(prog, &pin, ifname, mode)?;
        self.fib.set_tx_port(info.ifindex)?;
        record_iface(&mut self.fib, ifname, info.ifindex)?;
        tracing::info!(ifname, ifindex = info.ifindex, mode = ?info.mode, prog_id = info.prog_id, "XDP attached");
        Ok(info)
    }

    /// Detaches and unpins the link of `ifname` and removes its ifindex
    /// from a6_tx_ports (attach put it there). Nothing pinned: no error.
    pub fn detach(&mut self, ifname: &str) -> Result<(), DataplaneError> {
        pins::check_ifname(ifname)?;
        let pin = pins::link_pin(&self.pin_dir, pins::LINK_PREFIX, ifname);
        if let Some(info) = pins::unpin(&pin, ifname)? {
            if info.ifindex != 0 {
                self.fib.delete_tx_port(info.ifindex)?;
                self.fib.delete_iface(info.ifindex)?;
            }
            tracing::info!(ifname, ifindex = info.ifindex, "XDP detached");
        }
        Ok(())
    }

    /// Interfaces with a pinned link (read from bpffs).
    pub fn attached(&self) -> Result<Vec<AttachedIface>, DataplaneError> {
        pins::list(&self.pin_dir, pins::LINK_PREFIX)
    }

    /// The FIB writer over the pinned maps.
    pub fn fib(&mut self) -> &mut FibWriter {
        &mut self.fib
    }

    /// Map ids of every pinned map (name, id): a restart must keep them.
    pub fn map_ids(&self) -> Result<Vec<(String, u32)>, DataplaneError> {
        map_ids(&self.pin_dir, &map::XDP_ALL)
    }

    /// BPF_PROG_TEST_RUN of the loaded forwarding program.
    pub fn test_run(&self, frame: &[u8]) -> Result<RunResult, DataplaneError> {
        testrun::run_xdp(xdp_prog(&self.ebpf, prog::XDP)?, frame)
    }

    /// Detaches every pinned link under `pin_dir` (forwarding and decap)
    /// and removes every pin and the directory. Safe to call when nothing
    /// is pinned.
    pub fn destroy(pin_dir: &std::path::Path) -> Result<(), DataplaneError> {
        pins::destroy(pin_dir)
    }
}

/// Puts `ifname` (`ifindex`) with its own MAC into a6_ifaces.
fn record_iface(fib: &mut FibWriter, ifname: &str, ifindex: u32) -> Result<(), DataplaneError> {
    match iface_mac(ifname, ifindex) {
        Some(mac) => fib.set_iface(ifindex, mac),
        None => Ok(()),
    }
}

/// The MAC `ifname` (`ifindex`) owns, read in the calling thread's network
/// namespace. An interface without an Ethernet address gets no a6_ifaces
/// entry: its frames go to the kernel (`pass_unknown_iface`), as a
/// warning says.
pub(crate) fn iface_mac(ifname: &str, ifindex: u32) -> Option<[u8; 6]> {
    match crate::sys::if_hwaddr(ifname) {
        Ok(mac) => Some(mac),
        Err(source) => {
            let e = DataplaneError::InterfaceMacUnknown {
                ifname: ifname.to_string(),
                source,
            };
            tracing::warn!(ifname, ifindex, error = %e,
                "not in a6_ifaces: the fast path hands this interface's frames to the kernel (pass_unknown_iface)");
            None
        }
    }
}

/// Ids of the maps `names` pinned under `pin_dir` (name, id).
pub(crate) fn pinned_map_ids(
    pin_dir: &Path,
    names: &[&'static str],
) -> Result<Vec<(String, u32)>, DataplaneError> {
    map_ids(pin_dir, names)
}

fn map_ids(pin_dir: &Path, names: &[&'static str]) -> Result<Vec<(String, u32)>, DataplaneError> {
    let mut out = Vec::with_capacity(names.len());
    for &name in names {
        let md = MapData::from_pin(pin_dir.join(name)).map_err(|e| map_err(name, e))?;
        let info = md.info().map_err(|e| map_err(name, e))?;
        out.push((name.to_string(), info.id()));
    }
    Ok(out)
}

/// The member-side decapsulation program.
pub struct Decap {
    pin_dir: PathBuf,
    ebpf: Ebpf,
    addrs: HashMap<MapData, abi::FibKey, u32>,
    stats: PerCpuArray<MapData, abi::Counter>,
}

/// Maps of the decap program, in pin order.
pub const DECAP_MAPS: [&str; 2] = [map::DECAP_ADDRS, map::DECAP_STATS];

impl Decap {
    /// Loads (maps pinned under `pin_dir`, reused), attaches to `ifname`
    /// (link pinned as `<pin_dir>/decap_<ifname>`), and sets the served
    /// anycast addresses (inner destinations it will decapsulate).
    pub fn attach(
        pin_dir: &std::path::Path,
        ifname: &str,
        mode: AttachMode,
        served: &[Ipv6Addr],
    ) -> Result<Decap, DataplaneError> {
        pins::check_ifname(ifname)?;
        let mut d = Decap::open(pin_dir)?;
        d.set_served(served)?;
        d.attach_iface(ifname, mode)?;
        Ok(d)
    }

    /// Loads the decap program without attaching it (maps pinned under
    /// `pin_dir`, reused if present).
    pub fn open(pin_dir: &Path) -> Result<Decap, DataplaneError> {
        pins::prepare_dir(pin_dir)?;
        let mut ebpf = EbpfLoader::new()
            .default_map_pin_directory(pin_dir)
            .load(objects::DECAP_OBJ)?;
        xdp_prog_mut(&mut ebpf, prog::DECAP)?
            .load()
            .map_err(|source| DataplaneError::ProgramLoad {
                name: prog::DECAP,
                source,
            })?;
        let addrs = ebpf
            .take(map::DECAP_ADDRS)?
            .try_into()
            .map_err(|e| map_err(map::DECAP_ADDRS, e))?;
        let stats = ebpf
            .take(map::DECAP_STATS)?
            .try_into()
            .map_err(|e| map_err(map::DECAP_STATS, e))?;
        Ok(Decap {
            pin_dir: pin_dir.to_path_buf(),
            ebpf,
            addrs,
            stats,
        })
    }

    /// Attaches to one more interface (link pinned as
    /// `<pin_dir>/decap_<ifname>`; an existing pin is kept and switched to
    /// this program).
    pub fn attach_iface(
        &mut self,
        ifname: &str,
        mode: AttachMode,
    ) -> Result<AttachedIface, DataplaneError> {
        pins::check_ifname(ifname)?;
        let pin = pins::link_pin(&self.pin_dir, pins::DECAP_PREFIX, ifname);
        let prog = xdp_prog_mut(&mut self.ebpf, prog::DECAP)?;
        let info = pins::attach(prog, &pin, ifname, mode)?;
        tracing::info!(ifname, ifindex = info.ifindex, mode = ?info.mode, "decap XDP attached");
        Ok(info)
    }

    /// Detaches and unpins the decap link of `ifname` (nothing pinned: no error).
    pub fn detach(&mut self, ifname: &str) -> Result<(), DataplaneError> {
        pins::check_ifname(ifname)?;
        pins::unpin(
            &pins::link_pin(&self.pin_dir, pins::DECAP_PREFIX, ifname),
            ifname,
        )?;
        Ok(())
    }

    /// Interfaces with a pinned decap link.
    pub fn attached(&self) -> Result<Vec<AttachedIface>, DataplaneError> {
        pins::list(&self.pin_dir, pins::DECAP_PREFIX)
    }

    /// Replaces the set of served addresses.
    pub fn set_served(&mut self, served: &[Ipv6Addr]) -> Result<(), DataplaneError> {
        let want: std::collections::BTreeSet<[u8; 16]> =
            served.iter().map(|a| a.octets()).collect();
        let mut have = Vec::new();
        for k in self.addrs.keys() {
            have.push(k.map_err(|e| map_err(map::DECAP_ADDRS, e))?);
        }
        for k in have.iter().filter(|k| !want.contains(&k.addr)) {
            match self.addrs.remove(k) {
                Ok(()) => {}
                Err(aya::maps::MapError::SyscallError(e))
                    if e.io_error.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(map_err(map::DECAP_ADDRS, e)),
            }
        }
        for a in want {
            self.addrs
                .insert(abi::FibKey { addr: a }, 1, 0)
                .map_err(|e| map_err(map::DECAP_ADDRS, e))?;
        }
        Ok(())
    }

    /// The served addresses, sorted.
    pub fn served(&self) -> Result<Vec<Ipv6Addr>, DataplaneError> {
        let mut v = Vec::new();
        for k in self.addrs.keys() {
            v.push(Ipv6Addr::from(
                k.map_err(|e| map_err(map::DECAP_ADDRS, e))?.addr,
            ));
        }
        v.sort();
        Ok(v)
    }

    /// (reason name, packets, bytes) summed over CPUs.
    pub fn counters(&self) -> Result<Vec<(&'static str, u64, u64)>, DataplaneError> {
        let mut out = Vec::with_capacity(abi::decap_reason::NAMES.len());
        for (i, name) in abi::decap_reason::NAMES.iter().enumerate() {
            let v = self
                .stats
                .get(&(i as u32), 0)
                .map_err(|e| map_err(map::DECAP_STATS, e))?;
            let (p, b) = v.iter().fold((0u64, 0u64), |(p, b), c| {
                (p.wrapping_add(c.packets), b.wrapping_add(c.bytes))
            });
            out.push((*name, p, b));
        }
        Ok(out)
    }

    /// Map ids of the decap maps (name, id).
    pub fn map_ids(&self) -> Result<Vec<(String, u32)>, DataplaneError> {
        map_ids(&self.pin_dir, &DECAP_MAPS)
    }

    /// BPF_PROG_TEST_RUN of the loaded decap program.
    pub fn test_run(&self, frame: &[u8]) -> Result<RunResult, DataplaneError> {
        testrun::run_xdp(xdp_prog(&self.ebpf, prog::DECAP)?, frame)
    }
}
