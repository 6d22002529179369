//! The MGA data plane (docs/mga.md section 8): the member's tc egress
//! program (reverse tunnel, Home Address option, per-flow counts) and the
//! correspondent's tc egress + XDP ingress programs (type 2 routing header
//! out, Home Address option in). The member's ingress half (type 2 routing
//! header removed) lives in the member decap program ([`crate::loader::Decap`]).
//!
//! Maps are pinned by name under the pin directory, as the other programs'
//! are. tc programs are attached as TCX links (kernel >= 6.6, no clsact
//! qdisc involved) and every link is pinned (`mgam_<ifname>`,
//! `mgace_<ifname>`, `mgaci_<ifname>`), so traffic keeps flowing while the
//! daemon restarts; a restarted daemon's attach switches the pinned link to
//! its program atomically.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use aya::{
    maps::{HashMap, MapData, MapError, PerCpuArray},
    programs::{
        links::{FdLink, PinnedLink},
        tc::SchedClassifierLink,
        SchedClassifier, TcAttachType, Xdp,
    },
    Ebpf, EbpfLoader,
};

use crate::{
    abi::{self, map, prog},
    error::DataplaneError,
    fib::{map_err, MapSource},
    loader::{AttachMode, AttachedIface},
    objects, pins, sys,
    testrun::{self, RunResult},
};

/// An MGA flow, as the correspondent sends it (docs/mga.md 1.1). TCP and
/// UDP carry ports; every other protocol has ports 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct MgaFlow {
    pub cn: Ipv6Addr,
    pub cn_port: u16,
    pub anycast: Ipv6Addr,
    pub service_port: u16,
    pub proto: u8,
}

impl MgaFlow {
    pub fn to_abi(&self) -> abi::MgaFlowKey {
        abi::MgaFlowKey {
            cn: self.cn.octets(),
            anycast: self.anycast.octets(),
            cn_port_be: self.cn_port.to_be(),
            service_port_be: self.service_port.to_be(),
            proto: self.proto,
            _pad: [0; 3],
        }
    }

    pub fn from_abi(k: &abi::MgaFlowKey) -> MgaFlow {
        MgaFlow {
            cn: Ipv6Addr::from(k.cn),
            cn_port: u16::from_be(k.cn_port_be),
            anycast: Ipv6Addr::from(k.anycast),
            service_port: u16::from_be(k.service_port_be),
            proto: k.proto,
        }
    }
}

impl std::fmt::Display for MgaFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}]:{} -> [{}]:{} proto {}",
            self.cn, self.cn_port, self.anycast, self.service_port, self.proto
        )
    }
}

/// What a member does with packets from one anycast address A.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct HomeEntry {
    /// Outer destination of the reverse tunnel.
    pub home_agent: Ipv6Addr,
    /// This member's care-of address: outer source of the reverse tunnel.
    pub coa: Ipv6Addr,
    /// Tunnel packets from A that are not route-optimised to the home agent
    /// (else they leave untouched, source A).
    pub reverse_tunnel: bool,
}

/// A member's traffic of one flow from A (`a6_mga_flows`). Times are
/// CLOCK_MONOTONIC nanoseconds (`bpf_ktime_get_ns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FlowCount {
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// A tc program's pinned link on an interface.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttachedTc {
    pub ifname: String,
    /// 0 when the interface is gone (the link is defunct: detach it).
    pub ifindex: u32,
    pub prog_id: u32,
    pub link_pin: PathBuf,
}

fn tc_prog_mut<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut SchedClassifier, DataplaneError> {
    ebpf.program_mut(name)
        .ok_or(DataplaneError::ProgramMissing(name))?
        .try_into()
        .map_err(|source| DataplaneError::ProgramLoad { name, source })
}

fn tc_prog<'a>(ebpf: &'a Ebpf, name: &'static str) -> Result<&'a SchedClassifier, DataplaneError> {
    ebpf.program(name)
        .ok_or(DataplaneError::ProgramMissing(name))?
        .try_into()
        .map_err(|source| DataplaneError::ProgramLoad { name, source })
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

fn load_tc(ebpf: &mut Ebpf, name: &'static str) -> Result<(), DataplaneError> {
    tc_prog_mut(ebpf, name)?
        .load()
        .map_err(|source| DataplaneError::ProgramLoad { name, source })
}

fn take_map<K: aya::Pod, V: aya::Pod>(
    ebpf: &mut Ebpf,
    name: &'static str,
) -> Result<HashMap<MapData, K, V>, DataplaneError> {
    ebpf.take(name)?.try_into().map_err(|e| map_err(name, e))
}

fn take_stats(
    ebpf: &mut Ebpf,
    name: &'static str,
) -> Result<PerCpuArray<MapData, abi::Counter>, DataplaneError> {
    ebpf.take(name)?.try_into().map_err(|e| map_err(name, e))
}

fn is_enoent(e: &MapError) -> bool {
    match e {
        MapError::KeyNotFound | MapError::ElementNotFound => true,
        MapError::SyscallError(s) => s.io_error.raw_os_error() == Some(libc::ENOENT),
        _ => false,
    }
}

/// (reason name, packets, bytes) summed over CPUs, for every reason.
fn sum_counters(
    stats: &PerCpuArray<MapData, abi::Counter>,
    name: &'static str,
    names: &[&'static str],
) -> Result<Vec<(&'static str, u64, u64)>, DataplaneError> {
    let mut out = Vec::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        let v = stats.get(&(i as u32), 0).map_err(|e| map_err(name, e))?;
        let (p, b) = v.iter().fold((0u64, 0u64), |(p, b), c| {
            (p.wrapping_add(c.packets), b.wrapping_add(c.bytes))
        });
        out.push((*n, p, b));
    }
    Ok(out)
}

fn check_flow(flow: &MgaFlow) -> Result<(), DataplaneError> {
    let ported = flow.proto == 6 || flow.proto == 17;
    if !ported && (flow.cn_port != 0 || flow.service_port != 0) {
        return Err(DataplaneError::MgaFlowInvalid {
            flow: flow.to_string(),
            reason: "only TCP (6) and UDP (17) flows carry ports; others have ports 0",
        });
    }
    Ok(())
}

/// What a pinned TCX link is attached to.
fn describe_tc(pin: &Path, ifname_hint: &str) -> Result<AttachedTc, DataplaneError> {
    let io = |source: std::io::Error| DataplaneError::LinkIo {
        path: pin.to_path_buf(),
        source,
    };
    let fd = sys::obj_get(pin).map_err(io)?;
    let info = sys::link_info(&fd).map_err(io)?;
    if info.link_type != sys::LINK_TYPE_TCX {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a TCX link (type {})", info.link_type),
        )));
    }
    let ifindex = info.xdp_ifindex;
    Ok(AttachedTc {
        ifname: sys::if_indextoname(ifindex).unwrap_or_else(|| ifname_hint.to_string()),
        ifindex,
        prog_id: info.prog_id,
        link_pin: pin.to_path_buf(),
    })
}

/// Attaches `prog` on `ifname`'s egress as a TCX link pinned at `pin`; a
/// link already pinned there for the same interface is kept and switched
/// to `prog` (bpf_link_update: no moment without a program).
fn attach_tc_egress(
    prog: &mut SchedClassifier,
    pin: &Path,
    ifname: &str,
) -> Result<AttachedTc, DataplaneError> {
    pins::check_ifname(ifname)?;
    let ifindex = sys::if_nametoindex(ifname)
        .ok_or_else(|| DataplaneError::InterfaceNotFound(ifname.to_string()))?;
    let failed = |reason: String| DataplaneError::TcAttachFailed {
        ifname: ifname.to_string(),
        direction: "egress",
        reason,
    };
    if std::fs::symlink_metadata(pin).is_ok() {
        let current = describe_tc(pin, ifname)?;
        if current.ifindex == ifindex {
            let pinned = PinnedLink::from_pin(pin).map_err(|e| failed(e.to_string()))?;
            let link = SchedClassifierLink::try_from(FdLink::from(pinned))
                .map_err(|e| failed(e.to_string()))?;
            let id = prog
                .attach_to_link(link)
                .map_err(|e| failed(e.to_string()))?;
            // The pin holds the link; our handle can go without detaching it.
            let link = prog.take_link(id).map_err(|e| failed(e.to_string()))?;
            let fd: FdLink = link.try_into().map_err(|e| failed(format!("{e}")))?;
            drop(fd);
            return describe_tc(pin, ifname);
        }
        tracing::warn!(
            ifname,
            pinned_ifindex = current.ifindex,
            ifindex,
            "pinned tc link belongs to a vanished interface; replacing it"
        );
        std::fs::remove_file(pin).map_err(|source| DataplaneError::LinkIo {
            path: pin.to_path_buf(),
            source,
        })?;
    }
    // TCX (kernel >= 6.6): a bpf_link, pinnable, no clsact qdisc needed.
    let id = prog
        .attach(ifname, TcAttachType::Egress)
        .map_err(|e| failed(format!("{e} (TCX needs kernel >= 6.6)")))?;
    let link = prog.take_link(id).map_err(|e| failed(e.to_string()))?;
    let fd: FdLink = link
        .try_into()
        .map_err(|e| failed(format!("no bpf_link to pin (netlink attach?): {e}")))?;
    drop(fd.pin(pin).map_err(|source| DataplaneError::LinkPin {
        path: pin.to_path_buf(),
        source,
    })?);
    describe_tc(pin, ifname)
}

fn unpin(pin: &Path) -> Result<bool, DataplaneError> {
    match std::fs::remove_file(pin) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(DataplaneError::LinkIo {
            path: pin.to_path_buf(),
            source,
        }),
    }
}

fn list_tc(pin_dir: &Path, prefix: &str) -> Result<Vec<AttachedTc>, DataplaneError> {
    let rd = match std::fs::read_dir(pin_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(DataplaneError::PinDirIo {
                path: pin_dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|source| DataplaneError::PinDirIo {
            path: pin_dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(ifname) = name.strip_prefix(prefix) {
            out.push(describe_tc(&entry.path(), ifname)?);
        }
    }
    out.sort_by(|a, b| a.ifname.cmp(&b.ifname));
    Ok(out)
}

/// The member's tc egress program (`anycast6_mga_member`) and its maps.
pub struct MgaMember {
    pin_dir: PathBuf,
    ebpf: Ebpf,
    homes: HashMap<MapData, abi::FibKey, abi::MgaHome>,
    ro: HashMap<MapData, abi::MgaFlowKey, abi::MgaRo>,
    flows: HashMap<MapData, abi::MgaFlowKey, abi::MgaFlowCount>,
    stats: PerCpuArray<MapData, abi::Counter>,
}

impl MgaMember {
    /// Loads the program (maps pinned under `pin_dir`, reused if present:
    /// nothing is flushed). Attaches nothing.
    pub fn open(pin_dir: &Path) -> Result<MgaMember, DataplaneError> {
        pins::prepare_dir(pin_dir)?;
        let mut ebpf = EbpfLoader::new()
            .default_map_pin_directory(pin_dir)
            .load(objects::MGA_MEMBER_OBJ)?;
        load_tc(&mut ebpf, prog::MGA_MEMBER)?;
        let homes = take_map(&mut ebpf, map::MGA_HOMES)?;
        let ro = take_map(&mut ebpf, map::MGA_RO)?;
        let flows = take_map(&mut ebpf, map::MGA_FLOWS)?;
        let stats = take_stats(&mut ebpf, map::MGA_M_STATS)?;
        Ok(MgaMember {
            pin_dir: pin_dir.to_path_buf(),
            ebpf,
            homes,
            ro,
            flows,
            stats,
        })
    }

    /// Attaches to `ifname`'s egress (TCX link pinned as
    /// `<pin_dir>/mgam_<ifname>`; an existing pin is kept and switched to
    /// this program).
    pub fn attach_egress(&mut self, ifname: &str) -> Result<AttachedTc, DataplaneError> {
        pins::check_ifname(ifname)?;
        let pin = pins::link_pin(&self.pin_dir, pins::MGA_MEMBER_PREFIX, ifname);
        let info = attach_tc_egress(tc_prog_mut(&mut self.ebpf, prog::MGA_MEMBER)?, &pin, ifname)?;
        tracing::info!(
            ifname,
            ifindex = info.ifindex,
            prog_id = info.prog_id,
            "MGA member tc egress attached"
        );
        Ok(info)
    }

    /// Detaches and unpins the link of `ifname` (nothing pinned: no error).
    pub fn detach(&mut self, ifname: &str) -> Result<(), DataplaneError> {
        pins::check_ifname(ifname)?;
        if unpin(&pins::link_pin(
            &self.pin_dir,
            pins::MGA_MEMBER_PREFIX,
            ifname,
        ))? {
            tracing::info!(ifname, "MGA member tc egress detached");
        }
        Ok(())
    }

    /// Interfaces with a pinned member link.
    pub fn attached(&self) -> Result<Vec<AttachedTc>, DataplaneError> {
        list_tc(&self.pin_dir, pins::MGA_MEMBER_PREFIX)
    }

    /// Makes `a6_mga_homes` hold exactly `homes` (missing inserted, changed
    /// overwritten, extra deleted).
    pub fn set_homes(&mut self, homes: &[(Ipv6Addr, HomeEntry)]) -> Result<(), DataplaneError> {
        let want: std::collections::BTreeMap<[u8; 16], abi::MgaHome> = homes
            .iter()
            .map(|(a, h)| {
                (
                    a.octets(),
                    abi::MgaHome {
                        home_agent: h.home_agent.octets(),
                        coa: h.coa.octets(),
                        flags: if h.reverse_tunnel {
                            abi::mga::F_REVERSE_TUNNEL
                        } else {
                            0
                        },
                        _pad: 0,
                    },
                )
            })
            .collect();
        let mut have = Vec::new();
        for k in self.homes.keys() {
            have.push(k.map_err(|e| map_err(map::MGA_HOMES, e))?);
        }
        for k in have.iter().filter(|k| !want.contains_key(&k.addr)) {
            match self.homes.remove(k) {
                Ok(()) => {}
                Err(e) if is_enoent(&e) => {}
                Err(e) => return Err(map_err(map::MGA_HOMES, e)),
            }
        }
        for (a, v) in want {
            self.homes
                .insert(abi::FibKey { addr: a }, v, 0)
                .map_err(|e| map_err(map::MGA_HOMES, e))?;
        }
        Ok(())
    }

    /// The anycast addresses served by MGA, sorted.
    pub fn homes(&self) -> Result<Vec<(Ipv6Addr, HomeEntry)>, DataplaneError> {
        let mut v = Vec::new();
        for e in self.homes.iter() {
            let (k, h) = e.map_err(|e| map_err(map::MGA_HOMES, e))?;
            v.push((
                Ipv6Addr::from(k.addr),
                HomeEntry {
                    home_agent: Ipv6Addr::from(h.home_agent),
                    coa: Ipv6Addr::from(h.coa),
                    reverse_tunnel: h.flags & abi::mga::F_REVERSE_TUNNEL != 0,
                },
            ));
        }
        v.sort_by_key(|e| e.0);
        Ok(v)
    }

    /// Route-optimises `flow`: its packets leave with source `coa` and the
    /// Home Address option (call after the Binding Acknowledgement,
    /// docs/mga.md 7.1). Overwrites an existing entry.
    pub fn set_ro_flow(&mut self, flow: &MgaFlow, coa: Ipv6Addr) -> Result<(), DataplaneError> {
        check_flow(flow)?;
        let v = abi::MgaRo {
            coa: coa.octets(),
            flags: abi::mga::F_HAO_ON,
            _pad: 0,
        };
        self.ro
            .insert(flow.to_abi(), v, 0)
            .map_err(|e| map_err(map::MGA_RO, e))
    }

    /// Ends route optimisation of `flow` (absent: no error).
    pub fn remove_ro_flow(&mut self, flow: &MgaFlow) -> Result<(), DataplaneError> {
        match self.ro.remove(&flow.to_abi()) {
            Ok(()) => Ok(()),
            Err(e) if is_enoent(&e) => Ok(()),
            Err(e) => Err(map_err(map::MGA_RO, e)),
        }
    }

    /// The route-optimised flows and their CoA, sorted.
    pub fn ro_flows(&self) -> Result<Vec<(MgaFlow, Ipv6Addr)>, DataplaneError> {
        let mut v = Vec::new();
        for e in self.ro.iter() {
            let (k, r) = e.map_err(|e| map_err(map::MGA_RO, e))?;
            v.push((MgaFlow::from_abi(&k), Ipv6Addr::from(r.coa)));
        }
        v.sort();
        Ok(v)
    }

    /// Every flow from A the program has counted (LRU: the least recently
    /// seen go first when the map is full), sorted by flow.
    pub fn flows(&self) -> Result<Vec<(MgaFlow, FlowCount)>, DataplaneError> {
        let mut v = Vec::new();
        for e in self.flows.iter() {
            let (k, c) = match e {
                Ok(x) => x,
                // An LRU entry evicted between the key walk and its lookup.
                Err(e) if is_enoent(&e) => continue,
                Err(e) => return Err(map_err(map::MGA_FLOWS, e)),
            };
            v.push((
                MgaFlow::from_abi(&k),
                FlowCount {
                    packets: c.packets,
                    bytes: c.bytes,
                    first_ns: c.first_ns,
                    last_ns: c.last_ns,
                },
            ));
        }
        v.sort_by_key(|e| e.0);
        Ok(v)
    }

    /// Forgets the count of `flow` (absent: no error).
    pub fn forget_flow(&mut self, flow: &MgaFlow) -> Result<(), DataplaneError> {
        match self.flows.remove(&flow.to_abi()) {
            Ok(()) => Ok(()),
            Err(e) if is_enoent(&e) => Ok(()),
            Err(e) => Err(map_err(map::MGA_FLOWS, e)),
        }
    }

    /// (reason name, packets, bytes) summed over CPUs (`A6_MM_*` order).
    pub fn counters(&self) -> Result<Vec<(&'static str, u64, u64)>, DataplaneError> {
        sum_counters(
            &self.stats,
            map::MGA_M_STATS,
            &abi::mga_member_reason::NAMES,
        )
    }

    /// Map ids (name, id) of the member maps.
    pub fn map_ids(&self) -> Result<Vec<(String, u32)>, DataplaneError> {
        crate::loader::pinned_map_ids(&self.pin_dir, &map::MGA_MEMBER_ALL)
    }

    /// BPF_PROG_TEST_RUN of the egress program on an Ethernet frame
    /// (`action` is a `TC_ACT_*`).
    pub fn test_run(&self, frame: &[u8]) -> Result<RunResult, DataplaneError> {
        testrun::run_tc(tc_prog(&self.ebpf, prog::MGA_MEMBER)?, frame)
    }
}

/// The correspondent's programs: tc egress (`anycast6_mga_cn_egress`) and
/// XDP ingress (`anycast6_mga_cn_ingress`), and the flow bindings.
pub struct MgaCorrespondent {
    pin_dir: PathBuf,
    ebpf: Ebpf,
    flows: HashMap<MapData, abi::MgaFlowKey, abi::MgaCnFlow>,
    stats: PerCpuArray<MapData, abi::Counter>,
}

impl MgaCorrespondent {
    /// Loads both programs (maps pinned under `pin_dir`, reused if
    /// present). Attaches nothing.
    pub fn open(pin_dir: &Path) -> Result<MgaCorrespondent, DataplaneError> {
        pins::prepare_dir(pin_dir)?;
        let mut ebpf = EbpfLoader::new()
            .default_map_pin_directory(pin_dir)
            .load(objects::MGA_CN_OBJ)?;
        load_tc(&mut ebpf, prog::MGA_CN_EGRESS)?;
        xdp_prog_mut(&mut ebpf, prog::MGA_CN_INGRESS)?
            .load()
            .map_err(|source| DataplaneError::ProgramLoad {
                name: prog::MGA_CN_INGRESS,
                source,
            })?;
        let flows = take_map(&mut ebpf, map::MGA_CN_FLOWS)?;
        let stats = take_stats(&mut ebpf, map::MGA_C_STATS)?;
        Ok(MgaCorrespondent {
            pin_dir: pin_dir.to_path_buf(),
            ebpf,
            flows,
            stats,
        })
    }

    /// Attaches the egress program (TCX, pinned `mgace_<ifname>`) and the
    /// ingress program (XDP in `mode`, pinned `mgaci_<ifname>`) to `ifname`.
    /// The interface can have no other XDP program (one per interface).
    pub fn attach(
        &mut self,
        ifname: &str,
        mode: AttachMode,
    ) -> Result<(AttachedTc, AttachedIface), DataplaneError> {
        pins::check_ifname(ifname)?;
        let pin = pins::link_pin(&self.pin_dir, pins::MGA_CN_INGRESS_PREFIX, ifname);
        let xdp = pins::attach(
            xdp_prog_mut(&mut self.ebpf, prog::MGA_CN_INGRESS)?,
            &pin,
            ifname,
            mode,
        )?;
        let pin = pins::link_pin(&self.pin_dir, pins::MGA_CN_EGRESS_PREFIX, ifname);
        let tc = attach_tc_egress(
            tc_prog_mut(&mut self.ebpf, prog::MGA_CN_EGRESS)?,
            &pin,
            ifname,
        )?;
        tracing::info!(ifname, ifindex = tc.ifindex, xdp_mode = ?xdp.mode, "MGA correspondent attached");
        Ok((tc, xdp))
    }

    /// Detaches and unpins both links of `ifname` (nothing pinned: no error).
    pub fn detach(&mut self, ifname: &str) -> Result<(), DataplaneError> {
        pins::check_ifname(ifname)?;
        unpin(&pins::link_pin(
            &self.pin_dir,
            pins::MGA_CN_EGRESS_PREFIX,
            ifname,
        ))?;
        pins::unpin(
            &pins::link_pin(&self.pin_dir, pins::MGA_CN_INGRESS_PREFIX, ifname),
            ifname,
        )?;
        Ok(())
    }

    /// Interfaces with a pinned egress link, and those with a pinned
    /// ingress link.
    pub fn attached(&self) -> Result<(Vec<AttachedTc>, Vec<AttachedIface>), DataplaneError> {
        Ok((
            list_tc(&self.pin_dir, pins::MGA_CN_EGRESS_PREFIX)?,
            pins::list(&self.pin_dir, pins::MGA_CN_INGRESS_PREFIX)?,
        ))
    }

    /// Binds `flow` to the member at `coa` (overwrites an existing binding).
    pub fn set_flow(&mut self, flow: &MgaFlow, coa: Ipv6Addr) -> Result<(), DataplaneError> {
        check_flow(flow)?;
        let v = abi::MgaCnFlow {
            coa: coa.octets(),
            flags: 0,
            _pad: 0,
        };
        self.flows
            .insert(flow.to_abi(), v, 0)
            .map_err(|e| map_err(map::MGA_CN_FLOWS, e))
    }

    /// Removes the binding of `flow` (absent: no error).
    pub fn remove_flow(&mut self, flow: &MgaFlow) -> Result<(), DataplaneError> {
        match self.flows.remove(&flow.to_abi()) {
            Ok(()) => Ok(()),
            Err(e) if is_enoent(&e) => Ok(()),
            Err(e) => Err(map_err(map::MGA_CN_FLOWS, e)),
        }
    }

    /// The flow bindings and their CoA, sorted.
    pub fn flows(&self) -> Result<Vec<(MgaFlow, Ipv6Addr)>, DataplaneError> {
        let mut v = Vec::new();
        for e in self.flows.iter() {
            let (k, b) = e.map_err(|e| map_err(map::MGA_CN_FLOWS, e))?;
            v.push((MgaFlow::from_abi(&k), Ipv6Addr::from(b.coa)));
        }
        v.sort();
        Ok(v)
    }

    /// (reason name, packets, bytes) summed over CPUs (`A6_MC_*` order:
    /// egress reasons, then ingress).
    pub fn counters(&self) -> Result<Vec<(&'static str, u64, u64)>, DataplaneError> {
        sum_counters(&self.stats, map::MGA_C_STATS, &abi::mga_cn_reason::NAMES)
    }

    /// Map ids (name, id) of the correspondent maps.
    pub fn map_ids(&self) -> Result<Vec<(String, u32)>, DataplaneError> {
        crate::loader::pinned_map_ids(&self.pin_dir, &map::MGA_CN_ALL)
    }

    /// BPF_PROG_TEST_RUN of the egress (tc) program.
    pub fn test_run_egress(&self, frame: &[u8]) -> Result<RunResult, DataplaneError> {
        testrun::run_tc(tc_prog(&self.ebpf, prog::MGA_CN_EGRESS)?, frame)
    }

    /// BPF_PROG_TEST_RUN of the ingress (XDP) program.
    pub fn test_run_ingress(&self, frame: &[u8]) -> Result<RunResult, DataplaneError> {
        testrun::run_xdp(xdp_prog(&self.ebpf, prog::MGA_CN_INGRESS)?, frame)
    }
}
