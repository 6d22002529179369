//! The few system calls the helpers make directly: everything else goes
//! through `ip`, `ethtool`, `nsenter` and `sysctl` so a failing step can be
//! replayed by hand from the logged command line.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// True when the effective user is root.
pub fn is_root() -> bool {
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    uid == 0
}

/// Moves the calling thread (only it: a network namespace is per thread)
/// into the network namespace bound at `path` (e.g. `/run/netns/NAME`).
/// Sockets created afterwards by this thread live in that namespace.
pub fn setns_net(path: &Path) -> io::Result<()> {
    let f = File::open(path)?;
    #[allow(unsafe_code)]
    // SAFETY: the fd is valid for the duration of the call (owned by `f`),
    // and CLONE_NEWNET only changes this thread's network namespace.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends `sig` to the process `pid` (one process, never a group).
pub fn kill(pid: u32, sig: i32) -> io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    if pid <= 0 {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    #[allow(unsafe_code)]
    // SAFETY: kill(2) with a positive pid signals exactly that process.
    let r = unsafe { libc::kill(pid, sig) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// True if a process with this pid exists (signal 0 probe).
pub fn pid_alive(pid: u32) -> bool {
    match kill(pid, 0) {
        Ok(()) => true,
        Err(e) => e.raw_os_error() == Some(libc::EPERM),
    }
}

/// Pids of the direct children of `parent` (read from /proc).
pub fn children(parent: u32) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
            let (_, rest) = stat.rsplit_once(')')?;
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
}

/// Sets a socket's receive buffer to `bytes`, past `net.core.rmem_max`
/// (SO_RCVBUFFORCE; root only).
pub fn force_receive_buffer(sock: &impl AsRawFd, bytes: i32) -> io::Result<()> {
    let size: libc::c_int = bytes;
    #[allow(unsafe_code)]
    // SAFETY: the fd is borrowed from a live socket for the call; the option
    // value is a c_int whose size is passed alongside it.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
