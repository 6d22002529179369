//! The AF_XDP steering program (`ebpf/anycast6_xsk.bpf.c`) on one
//! interface in `afxdp` mode: loaded with the pinned FIB maps (reused by
//! name, never created empty when the forwarding program already pinned
//! them), its own XSKMAP, attached with a link that is NOT pinned.
//!
//! Attaching records the interface and its MAC in the pinned `a6_ifaces`
//! (the steering program forwards only frames sent to that MAC); detaching
//! removes the entry.
//!
//! Not pinned on purpose: the sockets live in the daemon, so when it
//! exits, redirecting to them would drop the traffic; with the link gone
//! the interface hands everything to the kernel instead.

use std::os::fd::AsRawFd;
use std::path::Path;

use aya::{
    maps::{HashMap, MapData, XskMap},
    programs::{xdp::XdpLinkId, Xdp, XdpMode},
    Ebpf, EbpfLoader,
};

use crate::{
    abi::{self, map, prog},
    error::DataplaneError,
    fib::map_err,
    loader::AttachMode,
    objects, pins, sys,
};

pub struct XskSteer {
    ebpf: Ebpf,
    xsks: XskMap<MapData>,
    ifaces: HashMap<MapData, u32, abi::Iface>,
    ifname: String,
    ifindex: u32,
    mode: AttachMode,
    link: Option<XdpLinkId>,
}

fn xdp_prog(ebpf: &mut Ebpf) -> Result<&mut Xdp, DataplaneError> {
    ebpf.program_mut(prog::XSK)
        .ok_or(DataplaneError::ProgramMissing(prog::XSK))?
        .try_into()
        .map_err(|source| DataplaneError::ProgramLoad {
            name: prog::XSK,
            source,
        })
}

impl XskSteer {
    /// Loads the steering program for `ifname` and attaches it (`mode` as
    /// for the forwarding program). The interface must not have another
    /// XDP program (detach the pinned forwarding link first).
    pub fn attach(
        pin_dir: &Path,
        ifname: &str,
        mode: AttachMode,
    ) -> Result<XskSteer, DataplaneError> {
        pins::check_ifname(ifname)?;
        let ifindex = sys::if_nametoindex(ifname)
            .ok_or_else(|| DataplaneError::InterfaceNotFound(ifname.to_string()))?;
        let mut s = XskSteer::load(pin_dir)?;
        s.attach_to(ifname, ifindex, mode)?;
        Ok(s)
    }

    /// Loads the program (FIB maps from `pin_dir`) without attaching it.
    pub fn load(pin_dir: &Path) -> Result<XskSteer, DataplaneError> {
        pins::prepare_dir(pin_dir)?;
        let mut ebpf = EbpfLoader::new()
            .default_map_pin_directory(pin_dir)
            .load(objects::XSK_OBJ)?;
        xdp_prog(&mut ebpf)?
            .load()
            .map_err(|source| DataplaneError::ProgramLoad {
                name: prog::XSK,
                source,
            })?;
        let xsks: XskMap<MapData> = ebpf
            .take_map(map::XSKS)
            .ok_or(DataplaneError::MapMissing(map::XSKS))?
            .try_into()
            .map_err(|e| map_err(map::XSKS, e))?;
        let ifaces: HashMap<MapData, u32, abi::Iface> = ebpf
            .take_map(map::IFACES)
            .ok_or(DataplaneError::MapMissing(map::IFACES))?
            .try_into()
            .map_err(|e| map_err(map::IFACES, e))?;
        Ok(XskSteer {
            ebpf,
            xsks,
            ifaces,
            ifname: String::new(),
            ifindex: 0,
            mode: AttachMode::NativeOrGeneric,
            link: None,
        })
    }

    /// BPF_PROG_TEST_RUN of the steering program on `frame`.
    pub fn test_run(&self, frame: &[u8]) -> Result<crate::testrun::RunResult, DataplaneError> {
        let p: &Xdp = self
            .ebpf
            .program(prog::XSK)
            .ok_or(DataplaneError::ProgramMissing(prog::XSK))?
            .try_into()
            .map_err(|source| DataplaneError::ProgramLoad {
                name: prog::XSK,
                source,
            })?;
        crate::testrun::run_xdp(p, frame)
    }

    fn attach_to(
        &mut self,
        ifname: &str,
        ifindex: u32,
        mode: AttachMode,
    ) -> Result<(), DataplaneError> {
        let tries: &[(XdpMode, AttachMode)] = match mode {
            AttachMode::Native => &[(XdpMode::Driver, AttachMode::Native)],
            AttachMode::Generic => &[(XdpMode::Skb, AttachMode::Generic)],
            AttachMode::NativeOrGeneric => &[
                (XdpMode::Driver, AttachMode::Native),
                (XdpMode::Skb, AttachMode::Generic),
            ],
        };
        let mut last_err = String::new();
        let mut attached = None;
        for (m, am) in tries {
            match xdp_prog(&mut self.ebpf)?.attach(ifname, *m) {
                Ok(id) => {
                    attached = Some((id, *am));
                    break;
                }
                Err(e) => last_err = format!("{m:?} mode: {e}"),
            }
        }
        let (link, mode) = attached.ok_or_else(|| DataplaneError::AttachFailed {
            ifname: ifname.to_string(),
            reason: last_err,
        })?;
        if let Some(mac) = crate::loader::iface_mac(ifname, ifindex) {
            self.ifaces
                .insert(ifindex, abi::Iface { mac, flags: 0 }, 0)
                .map_err(|e| map_err(map::IFACES, e))?;
        }
        tracing::info!(ifname, ifindex, mode = ?mode, "AF_XDP steering program attached");
        self.ifname = ifname.to_string();
        self.ifindex = ifindex;
        self.mode = mode;
        self.link = Some(link);
        Ok(())
    }

    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The XDP mode the program runs in (native or generic).
    pub fn mode(&self) -> AttachMode {
        self.mode
    }

    /// Steers rx queue `queue` to the AF_XDP socket `fd`.
    pub fn register(&mut self, queue: u32, fd: impl AsRawFd) -> Result<(), DataplaneError> {
        self.xsks
            .set(queue, fd, 0)
            .map_err(|e| map_err(map::XSKS, e))
    }

    /// Stops steering `queue` (its frames go to the kernel).
    pub fn unregister(&mut self, queue: u32) -> Result<(), DataplaneError> {
        self.xsks.unset(queue).map_err(|e| map_err(map::XSKS, e))
    }

    /// Detaches the program (also on drop).
    pub fn detach(&mut self) {
        if let Some(id) = self.link.take() {
            if let Ok(p) = xdp_prog(&mut self.ebpf) {
                if let Err(e) = p.detach(id) {
                    tracing::warn!(ifname = %self.ifname, error = %e, "detaching the AF_XDP steering program");
                }
            }
            // Gone already (ENOENT) is fine: the entry only describes
            // an interface the program ran on.
            let _ = self.ifaces.remove(&self.ifindex);
        }
    }
}

impl Drop for XskSteer {
    fn drop(&mut self) {
        self.detach();
    }
}
