//! The few kernel interfaces aya 0.14 does not expose: the XDP ifindex of a
//! pinned link (`bpf_link_info.xdp`), the attach mode of an interface
//! (rtnetlink `IFLA_XDP`), batched reads of per-CPU arrays, interface
//! names, and where bpffs is mounted.
//!
//! Every `unsafe` block here is one system call on buffers this module owns.

use std::{
    ffi::{CStr, CString},
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    os::unix::ffi::OsStrExt,
    path::Path,
};

// bpf(2) commands (include/uapi/linux/bpf.h, enum bpf_cmd).
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;

/// `union bpf_attr` is 120+ bytes in current kernels; the kernel accepts a
/// shorter or longer zeroed buffer (tail must be zero).
type BpfAttr = [u64; 16];

fn bpf(cmd: libc::c_long, attr: &mut BpfAttr) -> io::Result<libc::c_long> {
    #[allow(unsafe_code)]
    // SAFETY: bpf(2) reads/writes at most size_of::<BpfAttr>() bytes of
    // `attr`, which we own; pointers stored inside it refer to buffers the
    // callers keep alive for the duration of the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of::<BpfAttr>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Opens a pinned BPF object (map, program or link).
pub(crate) fn obj_get(path: &Path) -> io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in pin path"))?;
    let mut attr: BpfAttr = [0; 16];
    attr[0] = c.as_ptr() as u64; // pathname
    let fd = bpf(BPF_OBJ_GET, &mut attr)?;
    #[allow(unsafe_code)]
    // SAFETY: BPF_OBJ_GET returned a fresh file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// What `bpf_link_info` says about a link (the fields anycast6 uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkInfo {
    pub link_type: u32,
    pub id: u32,
    pub prog_id: u32,
    /// For XDP and TCX links: the interface (0 once the interface is gone).
    pub xdp_ifindex: u32,
}

/// BPF_LINK_TYPE_XDP.
pub(crate) const LINK_TYPE_XDP: u32 = 6;
/// BPF_LINK_TYPE_TCX (its `bpf_link_info.tcx.ifindex` lies where the XDP
/// link's ifindex does).
pub(crate) const LINK_TYPE_TCX: u32 = 11;

pub(crate) fn link_info(fd: &OwnedFd) -> io::Result<LinkInfo> {
    // struct bpf_link_info: type, id, prog_id, (pad), union at offset 16
    // whose xdp member starts with __u32 ifindex.
    let mut info = [0u64; 32];
    let mut attr: BpfAttr = [0; 16];
    attr[0] = (fd.as_raw_fd() as u32 as u64) | ((std::mem::size_of_val(&info) as u64) << 32);
    attr[1] = info.as_mut_ptr() as u64;
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    Ok(LinkInfo {
        link_type: info[0] as u32,
        id: (info[0] >> 32) as u32,
        prog_id: info[1] as u32,
        xdp_ifindex: info[2] as u32,
    })
}

/// Number of possible CPUs (what per-CPU map values are sized by).
pub(crate) fn possible_cpus() -> io::Result<usize> {
    aya::util::nr_cpus().map_err(|(_, e)| e)
}

/// Sums every element of a `PERCPU_ARRAY` of `struct a6_counter` over CPUs
/// with BPF_MAP_LOOKUP_BATCH (one system call per 4096 elements instead of
/// one per element). Returns (index, packets, bytes) for the non-zero ones.
pub(crate) fn percpu_counters_nonzero(
    map_fd: RawFd,
    max_entries: u32,
) -> io::Result<Vec<(u32, u64, u64)>> {
    const CHUNK: u32 = 4096;
    let ncpu = possible_cpus()?;
    // Per-CPU values are laid out CPU by CPU, each rounded up to 8 bytes;
    // struct a6_counter is 16 bytes.
    let per_elem = 2 * ncpu; // u64 words
    let mut keys = vec![0u32; CHUNK as usize];
    let mut values = vec![0u64; CHUNK as usize * per_elem];
    let mut out = Vec::new();
    let mut in_batch: u32 = 0;
    let mut out_batch: u32 = 0;
    let mut first = true;
    loop {
        // in_batch NULL starts at the first element; out_batch receives the
        // last index returned, which the next call resumes after.
        let mut attr: BpfAttr = [0; 16];
        attr[0] = if first {
            0
        } else {
            &mut in_batch as *mut u32 as u64
        };
        attr[1] = &mut out_batch as *mut u32 as u64;
        attr[2] = keys.as_mut_ptr() as u64;
        attr[3] = values.as_mut_ptr() as u64;
        attr[4] = u64::from(CHUNK) | ((map_fd as u32 as u64) << 32); // count, map_fd
        let r = bpf(BPF_MAP_LOOKUP_BATCH, &mut attr);
        let done = match r {
            Ok(_) => false,
            // ENOENT: the end, with the last elements in this chunk.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => true,
            Err(e) => return Err(e),
        };
        let count = ((attr[4] & 0xffff_ffff) as usize).min(CHUNK as usize);
        for (i, key) in keys.iter().enumerate().take(count) {
            let v = &values[i * per_elem..(i + 1) * per_elem];
            let (mut p, mut b) = (0u64, 0u64);
            for c in v.chunks_exact(2) {
                p = p.wrapping_add(c[0]);
                b = b.wrapping_add(c[1]);
            }
            if (p != 0 || b != 0) && *key < max_entries {
                out.push((*key, p, b));
            }
        }
        if done || count == 0 {
            break;
        }
        in_batch = out_batch;
        first = false;
    }
    out.sort_unstable();
    out.dedup_by_key(|e| e.0);
    Ok(out)
}

/// Interface index of `name` in the calling thread's network namespace.
pub(crate) fn if_nametoindex(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    #[allow(unsafe_code)]
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

/// The hardware (Ethernet) address of `name` in the calling thread's
/// network namespace (SIOCGIFHWADDR on a socket of that namespace; /sys
/// would show the namespace it was mounted in).
pub(crate) fn if_hwaddr(name: &str) -> io::Result<[u8; 6]> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IF_NAMESIZE || bytes.contains(&0) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    #[allow(unsafe_code)]
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(unsafe_code)]
    // SAFETY: `fd` is a fresh descriptor nothing else owns; OwnedFd closes it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    #[allow(unsafe_code)]
    // SAFETY: ifreq is plain old data: all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    #[allow(unsafe_code)]
    // SAFETY: SIOCGIFHWADDR reads ifr_name (NUL-terminated: the name is
    // shorter than IF_NAMESIZE and the rest is zero) and writes ifr_hwaddr,
    // both inside `req`, which we own.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(unsafe_code)]
    // SAFETY: on success the kernel filled the ifr_hwaddr member of the union.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    if sa.sa_family != libc::ARPHRD_ETHER {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("hardware type {} is not Ethernet", sa.sa_family),
        ));
    }
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Ok(mac)
}

/// Name of interface `ifindex` in the calling thread's network namespace.
pub(crate) fn if_indextoname(ifindex: u32) -> Option<String> {
    if ifindex == 0 {
        return None;
    }
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    #[allow(unsafe_code)]
    // SAFETY: `buf` holds IF_NAMESIZE bytes, as if_indextoname(3) requires.
    let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    #[allow(unsafe_code)]
    // SAFETY: on success the kernel wrote a NUL-terminated name into `buf`.
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// True if `path` (or the directory it would be created in) lies on a bpf
/// filesystem, according to /proc/self/mounts.
pub(crate) fn on_bpffs(path: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return false;
    };
    // The longest mount point that is a prefix of `path` decides.
    let mut best: Option<(usize, bool)> = None;
    for line in mounts.lines() {
        let mut f = line.split_whitespace();
        let (Some(_src), Some(mnt), Some(fstype)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let mnt = mnt.replace("\\040", " ");
        if path.starts_with(&mnt) && best.is_none_or(|(len, _)| mnt.len() >= len) {
            best = Some((mnt.len(), fstype == "bpf"));
        }
    }
    best.is_some_and(|(_, bpf)| bpf)
}

/// XDP attachment of an interface as rtnetlink reports it (IFLA_XDP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct XdpState {
    /// XDP_ATTACHED_*: 0 none, 1 driver, 2 skb (generic), 3 hw, 4 multi.
    pub attached: u8,
    pub drv_prog_id: u32,
    pub skb_prog_id: u32,
}

pub(crate) const XDP_ATTACHED_DRV: u8 = 1;
pub(crate) const XDP_ATTACHED_SKB: u8 = 2;

/// Asks the kernel (RTM_GETLINK) how XDP is attached to `ifindex`, in the
/// calling thread's network namespace.
pub(crate) fn xdp_state(ifindex: u32) -> io::Result<XdpState> {
    const RTM_NEWLINK: u16 = 16;
    const RTM_GETLINK: u16 = 18;
    const NLMSG_ERROR: u16 = 2;
    const NLM_F_REQUEST: u16 = 1;
    const IFLA_XDP: u16 = 43;
    const IFLA_XDP_ATTACHED: u16 = 2;
    const IFLA_XDP_DRV_PROG_ID: u16 = 5;
    const IFLA_XDP_SKB_PROG_ID: u16 = 6;
    const NLA_TYPE_MASK: u16 = 0x3fff;

    #[allow(unsafe_code)]
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(unsafe_code)]
    // SAFETY: `raw` is a fresh descriptor owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };

    // nlmsghdr (16) + ifinfomsg (16)
    let mut req = [0u8; 32];
    req[0..4].copy_from_slice(&32u32.to_ne_bytes());
    req[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
    req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes()); // seq
    req[16] = libc::AF_UNSPEC as u8;
    req[20..24].copy_from_slice(&(ifindex as i32).to_ne_bytes());
    #[allow(unsafe_code)]
    // SAFETY: `req` is valid for reads of its length; a netlink socket with
    // no address sends to the kernel.
    let n = unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; 65536];
    #[allow(unsafe_code)]
    // SAFETY: `buf` is valid for writes of its length.
    let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let buf = &buf[..n as usize];
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed rtnetlink reply");
    let u16_at = |b: &[u8], o: usize| -> io::Result<u16> {
        b.get(o..o + 2)
            .map(|s| u16::from_ne_bytes([s[0], s[1]]))
            .ok_or_else(bad)
    };
    let u32_at = |b: &[u8], o: usize| -> io::Result<u32> {
        b.get(o..o + 4)
            .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
            .ok_or_else(bad)
    };
    let mut off = 0;
    while off + 16 <= buf.len() {
        let len = u32_at(buf, off)? as usize;
        let ty = u16_at(buf, off + 4)?;
        if len < 16 || off + len > buf.len() {
            return Err(bad());
        }
        let msg = &buf[off..off + len];
        if ty == NLMSG_ERROR {
            let code = u32_at(msg, 16)? as i32;
            if code != 0 {
                return Err(io::Error::from_raw_os_error(-code));
            }
        } else if ty == RTM_NEWLINK {
            let mut state = XdpState::default();
            let mut a = 32; // after nlmsghdr + ifinfomsg
            while a + 4 <= msg.len() {
                let alen = u16_at(msg, a)? as usize;
                let aty = u16_at(msg, a + 2)? & NLA_TYPE_MASK;
                if alen < 4 || a + alen > msg.len() {
                    return Err(bad());
                }
                if aty == IFLA_XDP {
                    let nested = &msg[a + 4..a + alen];
                    let mut b = 0;
                    while b + 4 <= nested.len() {
                        let blen = u16_at(nested, b)? as usize;
                        let bty = u16_at(nested, b + 2)? & NLA_TYPE_MASK;
                        if blen < 4 || b + blen > nested.len() {
                            return Err(bad());
                        }
                        match bty {
                            IFLA_XDP_ATTACHED => {
                                state.attached = *nested.get(b + 4).ok_or_else(bad)?
                            }
                            IFLA_XDP_DRV_PROG_ID => state.drv_prog_id = u32_at(nested, b + 4)?,
                            IFLA_XDP_SKB_PROG_ID => state.skb_prog_id = u32_at(nested, b + 4)?,
                            _ => {}
                        }
                        b += (blen + 3) & !3;
                    }
                }
                a += (alen + 3) & !3;
            }
            return Ok(state);
        }
        off += (len + 3) & !3;
    }
    Err(bad())
}

/// Hands the allocator's free pages back to the kernel (glibc
/// `malloc_trim(0)`: also the free pages inside the heap, not only its top).
/// A FIB load of a million routes frees hundreds of MiB of parse and plan
/// buffers scattered between what stays; without this they count as the
/// daemon's resident memory for good. Returns whether memory was released.
pub fn release_free_memory() -> bool {
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim only walks the allocator's own free lists (under
    // its locks) and madvises free pages; it touches no memory of ours.
    let r = unsafe { libc::malloc_trim(0) };
    r == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpffs_detection() {
        // /proc is never bpffs; whether /sys/fs/bpf is depends on the host.
        assert!(!on_bpffs(Path::new("/proc/self")));
    }

    /// Batched per-CPU sums equal element-by-element sums, across chunk
    /// boundaries (needs root to create a map).
    #[test]
    fn batched_percpu_sums() {
        use aya::maps::{IterableMap, MapData, PerCpuArray, PerCpuValues};
        use std::os::fd::AsFd;

        let root = std::fs::read_to_string("/proc/self/status")
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
            })
            .unwrap_or(false);
        if !root {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (needs root): batched_percpu_sums"
            );
            return;
        }
        let mut arr = PerCpuArray::<MapData, crate::abi::Counter>::create(10_000, 0)
            .expect("create a per-CPU array");
        let ncpu = possible_cpus().unwrap();
        let mut want = Vec::new();
        for i in [0u32, 1, 4095, 4096, 4097, 8191, 9999] {
            let v: Vec<crate::abi::Counter> = (0..ncpu as u64)
                .map(|c| crate::abi::Counter {
                    packets: u64::from(i) + c,
                    bytes: 1000 * (c + 1),
                })
                .collect();
            let p: u64 = v.iter().map(|c| c.packets).sum();
            let b: u64 = v.iter().map(|c| c.bytes).sum();
            arr.set(i, PerCpuValues::try_from(v).unwrap(), 0).unwrap();
            want.push((i, p, b));
        }
        let fd = arr.map().fd().as_fd().as_raw_fd();
        assert_eq!(percpu_counters_nonzero(fd, 10_000).unwrap(), want);
    }

    #[test]
    fn loopback_name_roundtrip() {
        let idx = if_nametoindex("lo").expect("lo exists");
        assert_eq!(if_indextoname(idx).as_deref(), Some("lo"));
        assert_eq!(if_nametoindex("no-such-if0"), None);
        assert!(if_hwaddr("no-such-if0").is_err());
        assert_eq!(if_indextoname(0), None);
    }
}
