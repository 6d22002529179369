//! The few system calls xsk-rs does not wrap: the rx queue count of an
//! interface (ethtool), the bound mode of an AF_XDP socket (copy or
//! zero-copy) and poll(2) over several sockets.

use std::io;
use std::os::fd::RawFd;

const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GCHANNELS: u32 = 0x3c;
const SOL_XDP: libc::c_int = 283;
const XDP_OPTIONS: libc::c_int = 8;
const XDP_OPTIONS_ZEROCOPY: u32 = 1;

#[repr(C)]
#[derive(Default)]
struct EthtoolChannels {
    cmd: u32,
    max_rx: u32,
    max_tx: u32,
    max_other: u32,
    max_combined: u32,
    rx_count: u32,
    tx_count: u32,
    other_count: u32,
    combined_count: u32,
}

#[repr(C)]
struct IfreqData {
    name: [libc::c_char; libc::IFNAMSIZ],
    data: *mut libc::c_void,
    _pad: [u8; 16],
}

/// Rx queues of `ifname` (ethtool channels: rx or combined, whichever is
/// larger), 1 when the driver does not say.
pub fn rx_queues(ifname: &str) -> u32 {
    let bytes = ifname.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ {
        return 1;
    }
    let mut ch = EthtoolChannels {
        cmd: ETHTOOL_GCHANNELS,
        ..Default::default()
    };
    let mut ifr = IfreqData {
        name: [0; libc::IFNAMSIZ],
        data: (&mut ch as *mut EthtoolChannels).cast(),
        _pad: [0; 16],
    };
    for (d, s) in ifr.name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    #[allow(unsafe_code)]
    // SAFETY: a datagram socket we own and close below; SIOCETHTOOL reads
    // the name and writes at most size_of::<EthtoolChannels>() bytes
    // through `data`, which points at `ch`, alive for the call.
    let n = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return 1;
        }
        let r = libc::ioctl(fd, SIOCETHTOOL, &mut ifr as *mut IfreqData);
        libc::close(fd);
        r
    };
    if n < 0 {
        return 1;
    }
    ch.rx_count.max(ch.combined_count).max(1)
}

/// True when the AF_XDP socket `fd` is bound in zero-copy mode.
pub fn is_zero_copy(fd: RawFd) -> io::Result<bool> {
    let mut flags: u32 = 0;
    let mut len = std::mem::size_of::<u32>() as libc::socklen_t;
    #[allow(unsafe_code)]
    // SAFETY: getsockopt writes at most `len` (4) bytes into `flags`.
    let r = unsafe {
        libc::getsockopt(
            fd,
            SOL_XDP,
            XDP_OPTIONS,
            (&mut flags as *mut u32).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(flags & XDP_OPTIONS_ZEROCOPY != 0)
}

/// Waits up to `timeout_ms` for any of `fds` to become readable.
pub fn poll_readable(fds: &[RawFd], timeout_ms: i32) {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    #[allow(unsafe_code)]
    // SAFETY: `pfds` is a live array of `pfds.len()` pollfd structs.
    unsafe {
        libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms);
    }
}
