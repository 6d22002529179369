//! The pin directory: XDP links pinned per interface, maps pinned by name.
//!
//! A pinned link keeps its program attached after the process that made it
//! exits: forwarding goes on while anycast6d restarts. Links are pinned as
//! `<pin_dir>/<prefix><ifname>` (`link_` for the forwarding program,
//! `decap_` for the member-side program). The attach mode is not stored: it
//! is read back from the kernel (rtnetlink IFLA_XDP), the interface from the
//! link itself (`bpf_link_info.xdp.ifindex`).

use std::{
    io,
    path::{Path, PathBuf},
};

use aya::programs::{links::FdLink, links::PinnedLink, xdp::XdpLink, Xdp, XdpMode};

use crate::{
    error::DataplaneError,
    loader::{AttachMode, AttachedIface},
    sys,
};

/// Pin name prefix of the forwarding program's links.
pub const LINK_PREFIX: &str = "link_";
/// Pin name prefix of the member-side decap program's links.
pub const DECAP_PREFIX: &str = "decap_";
/// Pin name prefix of the MGA member's tc egress links (`crate::mga`).
pub const MGA_MEMBER_PREFIX: &str = "mgam_";
/// Pin name prefix of the MGA correspondent's tc egress links.
pub const MGA_CN_EGRESS_PREFIX: &str = "mgace_";
/// Pin name prefix of the MGA correspondent's XDP ingress links.
pub const MGA_CN_INGRESS_PREFIX: &str = "mgaci_";

/// Checks bpffs and creates the pin directory.
pub(crate) fn prepare_dir(pin_dir: &Path) -> Result<(), DataplaneError> {
    if !sys::on_bpffs(pin_dir) {
        return Err(DataplaneError::BpffsMissing);
    }
    std::fs::create_dir_all(pin_dir).map_err(|source| DataplaneError::PinDirIo {
        path: pin_dir.to_path_buf(),
        source,
    })
}

/// Interface names are at most 15 bytes, without '/' or NUL (they become
/// file names here).
pub(crate) fn check_ifname(ifname: &str) -> Result<(), DataplaneError> {
    let ok = !ifname.is_empty()
        && ifname.len() < libc::IF_NAMESIZE
        && ifname != "."
        && ifname != ".."
        && !ifname.contains(['/', '\0'])
        && !ifname.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(DataplaneError::InterfaceNotFound(ifname.to_string()))
    }
}

pub(crate) fn link_pin(pin_dir: &Path, prefix: &str, ifname: &str) -> PathBuf {
    pin_dir.join(format!("{prefix}{ifname}"))
}

fn link_io(path: &Path, source: io::Error) -> DataplaneError {
    DataplaneError::LinkIo {
        path: path.to_path_buf(),
        source,
    }
}

/// What a pinned link is attached to, asked of the kernel.
pub(crate) fn describe(pin: &Path, ifname_hint: &str) -> Result<AttachedIface, DataplaneError> {
    let fd = sys::obj_get(pin).map_err(|e| link_io(pin, e))?;
    let info = sys::link_info(&fd).map_err(|e| link_io(pin, e))?;
    if info.link_type != sys::LINK_TYPE_XDP {
        return Err(link_io(
            pin,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an XDP link (type {})", info.link_type),
            ),
        ));
    }
    let ifindex = info.xdp_ifindex;
    let ifname = sys::if_indextoname(ifindex).unwrap_or_else(|| ifname_hint.to_string());
    // Interface gone (ifindex 0) or not in this namespace: mode unknown.
    let mode = match sys::xdp_state(ifindex) {
        Ok(s) if s.drv_prog_id == info.prog_id && info.prog_id != 0 => AttachMode::Native,
        Ok(s) if s.skb_prog_id == info.prog_id && info.prog_id != 0 => AttachMode::Generic,
        Ok(s) if s.attached == sys::XDP_ATTACHED_DRV => AttachMode::Native,
        Ok(s) if s.attached == sys::XDP_ATTACHED_SKB => AttachMode::Generic,
        _ => AttachMode::NativeOrGeneric,
    };
    Ok(AttachedIface {
        ifname,
        ifindex,
        mode,
        prog_id: info.prog_id,
        link_pin: pin.to_path_buf(),
    })
}

/// Links pinned under `pin_dir` whose name starts with `prefix`, by name.
pub(crate) fn list(pin_dir: &Path, prefix: &str) -> Result<Vec<AttachedIface>, DataplaneError> {
    let rd = match std::fs::read_dir(pin_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
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
            out.push(describe(&entry.path(), ifname)?);
        }
    }
    out.sort_by(|a, b| a.ifname.cmp(&b.ifname));
    Ok(out)
}

/// Attaches `prog` to `ifname` and pins the link at `pin`.
///
/// If a link is already pinned there for the same interface (a restarted
/// daemon), it is kept and atomically switched to `prog` (bpf_link_update):
/// no moment without a program, and the running program is the one just
/// loaded (its config, its code). A pinned link whose interface is gone or
/// was re-created is replaced.
pub(crate) fn attach(
    prog: &mut Xdp,
    pin: &Path,
    ifname: &str,
    mode: AttachMode,
) -> Result<AttachedIface, DataplaneError> {
    check_ifname(ifname)?;
    let ifindex = sys::if_nametoindex(ifname)
        .ok_or_else(|| DataplaneError::InterfaceNotFound(ifname.to_string()))?;
    let failed = |reason: String| DataplaneError::AttachFailed {
        ifname: ifname.to_string(),
        reason,
    };

    if std::fs::symlink_metadata(pin).is_ok() {
        let current = describe(pin, ifname)?;
        if current.ifindex == ifindex {
            let pinned = PinnedLink::from_pin(pin).map_err(|e| failed(e.to_string()))?;
            let link =
                XdpLink::try_from(FdLink::from(pinned)).map_err(|e| failed(e.to_string()))?;
            let id = prog
                .attach_to_link(link)
                .map_err(|e| failed(e.to_string()))?;
            // The pin holds the link; our handle can go.
            drop(prog.take_link(id).map_err(|e| failed(e.to_string()))?);
            let now = describe(pin, ifname)?;
            if !mode_satisfies(mode, now.mode) {
                tracing::warn!(ifname, requested = ?mode, actual = ?now.mode,
                    "kept the pinned XDP link in its existing mode; detach to change it");
            }
            tracing::info!(
                ifname,
                prog_id = now.prog_id,
                "pinned XDP link kept, program replaced"
            );
            return Ok(now);
        }
        tracing::warn!(
            ifname,
            pinned_ifindex = current.ifindex,
            ifindex,
            "pinned XDP link belongs to a vanished interface; replacing it"
        );
        std::fs::remove_file(pin).map_err(|e| link_io(pin, e))?;
    }

    let tries: &[XdpMode] = match mode {
        AttachMode::Native => &[XdpMode::Driver],
        AttachMode::Generic => &[XdpMode::Skb],
        AttachMode::NativeOrGeneric => &[XdpMode::Driver, XdpMode::Skb],
    };
    let mut id = None;
    let mut last_err = String::new();
    for (i, m) in tries.iter().enumerate() {
        match prog.attach(ifname, *m) {
            Ok(l) => {
                if i > 0 {
                    tracing::warn!(ifname, error = %last_err,
                        "NATIVE XDP UNAVAILABLE: attached in GENERIC (skb) mode, \
                         expect much lower forwarding performance");
                }
                id = Some(l);
                break;
            }
            Err(e) => last_err = format!("{m:?} mode: {e}"),
        }
    }
    let id = id.ok_or_else(|| failed(last_err))?;
    let link = prog.take_link(id).map_err(|e| failed(e.to_string()))?;
    let fd_link = FdLink::try_from(link)
        .map_err(|e| failed(format!("no bpf_link to pin (netlink attach?): {e}")))?;
    let pinned = fd_link.pin(pin).map_err(|source| DataplaneError::LinkPin {
        path: pin.to_path_buf(),
        source,
    })?;
    drop(pinned);
    describe(pin, ifname)
}

fn mode_satisfies(requested: AttachMode, actual: AttachMode) -> bool {
    match requested {
        AttachMode::NativeOrGeneric => true,
        r => r == actual,
    }
}

/// Unpins the link at `pin` (which detaches it once nothing else holds it).
/// Returns what it was attached to, or `None` if nothing was pinned.
pub(crate) fn unpin(pin: &Path, ifname: &str) -> Result<Option<AttachedIface>, DataplaneError> {
    if std::fs::symlink_metadata(pin).is_err() {
        return Ok(None);
    }
    let info = describe(pin, ifname).ok();
    std::fs::remove_file(pin).map_err(|e| link_io(pin, e))?;
    Ok(info)
}

/// Detaches every pinned link under `pin_dir`, removes every pin and the
/// directory, and its parent when that is an empty anycast6 directory.
pub(crate) fn destroy(pin_dir: &Path) -> Result<(), DataplaneError> {
    let io_err = |path: &Path, source: io::Error| DataplaneError::PinDirIo {
        path: path.to_path_buf(),
        source,
    };
    let entries: Vec<std::fs::DirEntry> = match std::fs::read_dir(pin_dir) {
        Ok(rd) => rd
            .collect::<Result<_, _>>()
            .map_err(|e| io_err(pin_dir, e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(pin_dir, e)),
    };
    // Links first: traffic stops going through the program before its maps
    // lose their names.
    let is_link = |e: &std::fs::DirEntry| {
        let n = e.file_name().to_string_lossy().into_owned();
        [
            LINK_PREFIX,
            DECAP_PREFIX,
            MGA_MEMBER_PREFIX,
            MGA_CN_EGRESS_PREFIX,
            MGA_CN_INGRESS_PREFIX,
        ]
        .iter()
        .any(|p| n.starts_with(p))
    };
    let (links, others): (Vec<_>, Vec<_>) = entries.into_iter().partition(is_link);
    for e in links.iter().chain(others.iter()) {
        let path = e.path();
        let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
        let r = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match r {
            Ok(()) => tracing::debug!(path = %path.display(), "unpinned"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path, e)),
        }
    }
    match std::fs::remove_dir(pin_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(pin_dir, e)),
    }
    if let Some(parent) = pin_dir.parent() {
        let ours = parent
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("anycast6"));
        if ours {
            // Only if empty: another ABI version may still be pinned there.
            if let Err(e) = std::fs::remove_dir(parent) {
                tracing::debug!(path = %parent.display(), error = %e, "parent pin directory kept");
            }
        }
    }
    Ok(())
}
