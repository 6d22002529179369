//! The exception path's device: a TUN interface (`IFF_TUN | IFF_NO_PI`,
//! bare IPv6 packets) whose writes the kernel receives as if they had
//! arrived on an interface, then delivers or forwards them.
//!
//! Not persistent: the kernel deletes the device when its last file
//! descriptor closes, so a daemon that stops, crashes or is killed never
//! leaves one behind, and a restart makes a fresh one. The name is a
//! template (`a6x%d`): the kernel takes the first free number.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

/// Kernel name template of the exception device.
pub const TUN_NAME_TEMPLATE: &str = "a6x%d";

const TUN_CLONE: &str = "/dev/net/tun";

/// Per-device IPv6 settings written before the device goes up, so the
/// kernel accepts what arrives there (`disable_ipv6`), treats it as a
/// router's interface (`forwarding`), learns nothing from it
/// (`accept_ra`) and gives it no address (`addr_gen_mode` 1: none; it
/// needs none, and a link-local would start DAD and MLD toward us).
/// IPv6 has no reverse-path filter to relax.
const SYSCTLS: [(&str, &str); 4] = [
    ("disable_ipv6", "0"),
    ("addr_gen_mode", "1"),
    ("accept_ra", "0"),
    ("forwarding", "1"),
];

/// An open TUN device. Dropping it deletes the device.
#[derive(Debug)]
pub struct Tun {
    file: File,
    name: String,
    ifindex: u32,
}

impl Tun {
    /// Creates a TUN device named after `template`, sets its IPv6 sysctls
    /// and brings it up.
    pub fn create(template: &str) -> io::Result<Tun> {
        let bytes = template.as_bytes();
        if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("TUN name {template:?}: 1..{} bytes", libc::IFNAMSIZ),
            ));
        }
        // Non-blocking: the exception thread drains what the kernel sends
        // into the device without ever waiting on it (writes never block).
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(TUN_CLONE)?;
        let mut ifr = ifreq_named(bytes);
        ifr.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
        #[allow(unsafe_code)]
        // SAFETY: TUNSETIFF reads and writes one `struct ifreq`, which
        // `ifr` is, alive for the call; `file` is an open tun clone device.
        let r = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut ifr) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let name = name_of(&ifr);
        let tun = Tun {
            file,
            ifindex: ifindex_of(&name)?,
            name,
        };
        for (key, value) in SYSCTLS {
            let path = format!("/proc/sys/net/ipv6/conf/{}/{key}", tun.name);
            std::fs::write(&path, value)
                .map_err(|e| io::Error::new(e.kind(), format!("{path} = {value}: {e}")))?;
        }
        set_up(&tun.name)?;
        Ok(tun)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The device: a write is one packet into the kernel, a read one
    /// packet the kernel sent out of it.
    pub fn file(&self) -> &File {
        &self.file
    }
}

fn ifreq_named(name: &[u8]) -> libc::ifreq {
    #[allow(unsafe_code)]
    // SAFETY: `ifreq` is plain C data (a name and a union of integers and
    // pointers); all zeroes is a valid value of it.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    ifr
}

fn name_of(ifr: &libc::ifreq) -> String {
    let bytes: Vec<u8> = ifr
        .ifr_name
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn ifindex_of(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    #[allow(unsafe_code)]
    // SAFETY: `c` is a NUL-terminated string alive for the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(i)
}

/// `ip link set <name> up`, by SIOCGIFFLAGS / SIOCSIFFLAGS.
fn set_up(name: &str) -> io::Result<()> {
    #[allow(unsafe_code)]
    // SAFETY: socket(2) returns a new descriptor or -1; a new one is owned
    // by nothing else, so OwnedFd may close it.
    let sock = unsafe {
        let fd = libc::socket(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        OwnedFd::from_raw_fd(fd)
    };
    let mut ifr = ifreq_named(name.as_bytes());
    #[allow(unsafe_code)]
    // SAFETY: both ioctls read and write one `struct ifreq` (`ifr`, alive
    // for the calls); `ifru_flags` is the member they use.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) < 0 {
            return Err(io::Error::last_os_error());
        }
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &mut ifr) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_ifreq() {
        let ifr = ifreq_named(b"a6x%d");
        assert_eq!(name_of(&ifr), "a6x%d");
        let ifr = ifreq_named(b"fifteen-bytes-x");
        assert_eq!(name_of(&ifr), "fifteen-bytes-x");
    }
}
