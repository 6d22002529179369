//! The destination socket address: recognising an IPv6 one and rewriting
//! its address, leaving port, flow label and scope untouched.

use std::mem::size_of;
use std::net::Ipv6Addr;

use libc::{sa_family_t, sockaddr, sockaddr_in6, socklen_t};

pub const SOCKADDR_IN6_LEN: socklen_t = size_of::<sockaddr_in6>() as socklen_t;

/// Copies the destination out of a caller's buffer when it is an IPv6
/// socket address (family AF_INET6, at least `sizeof(sockaddr_in6)` long);
/// anything else (null, IPv4, AF_UNIX, short) is `None` and left to the
/// real call, which reports it exactly as it would without the preload.
///
/// # Safety
/// `addr` must be null or point to `len` readable bytes, the contract of
/// connect(2), sendto(2) and sendmsg(2) themselves.
#[allow(unsafe_code)]
pub unsafe fn peek_in6(addr: *const sockaddr, len: socklen_t) -> Option<sockaddr_in6> {
    if addr.is_null() || len < SOCKADDR_IN6_LEN {
        return None;
    }
    #[allow(unsafe_code)]
    // SAFETY: non-null and at least sizeof(sockaddr_in6) readable bytes by
    // the caller's contract; read_unaligned because a `sockaddr *` carries
    // no alignment promise for the larger struct.
    let sa = unsafe { std::ptr::read_unaligned(addr.cast::<sockaddr_in6>()) };
    (sa.sin6_family == libc::AF_INET6 as sa_family_t).then_some(sa)
}

pub fn ip(sa: &sockaddr_in6) -> Ipv6Addr {
    Ipv6Addr::from(sa.sin6_addr.s6_addr)
}

pub fn port(sa: &sockaddr_in6) -> u16 {
    u16::from_be(sa.sin6_port)
}

/// The same socket address with `member` as its address.
pub fn with_ip(sa: &sockaddr_in6, member: Ipv6Addr) -> sockaddr_in6 {
    let mut out = *sa;
    out.sin6_addr.s6_addr = member.octets();
    out
}

#[cfg(test)]
pub(crate) fn new_in6(addr: Ipv6Addr, port: u16) -> sockaddr_in6 {
    sockaddr_in6 {
        sin6_family: libc::AF_INET6 as sa_family_t,
        sin6_port: port.to_be(),
        sin6_flowinfo: 0x0001_2345u32.to_be(),
        sin6_addr: libc::in6_addr {
            s6_addr: addr.octets(),
        },
        sin6_scope_id: 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_ptr(sa: &sockaddr_in6) -> *const sockaddr {
        (sa as *const sockaddr_in6).cast()
    }

    #[test]
    #[allow(unsafe_code)]
    fn peeks_ipv6_only() {
        let sa = new_in6("2001:db8::1".parse().unwrap(), 80);
        // SAFETY: `sa` lives across the calls and is SOCKADDR_IN6_LEN long.
        let got = unsafe { peek_in6(as_ptr(&sa), SOCKADDR_IN6_LEN) }.unwrap();
        assert_eq!(ip(&got), "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(port(&got), 80);
        // SAFETY: as above; shorter lengths only read less.
        assert!(unsafe { peek_in6(as_ptr(&sa), SOCKADDR_IN6_LEN - 1) }.is_none());
        // SAFETY: null is accepted.
        assert!(unsafe { peek_in6(std::ptr::null(), SOCKADDR_IN6_LEN) }.is_none());

        let v4 = libc::sockaddr_in {
            sin_family: libc::AF_INET as sa_family_t,
            sin_port: 80u16.to_be(),
            sin_addr: libc::in_addr {
                s_addr: 0x7f00_0001u32.to_be(),
            },
            sin_zero: [0; 8],
        };
        // A sockaddr_storage holds the IPv4 address with room behind it, as
        // a caller passing a large buffer would.
        // SAFETY: all-zero is a valid sockaddr_storage.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        // SAFETY: sockaddr_in fits in sockaddr_storage, which is aligned for it.
        unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), v4) };
        let p = (&storage as *const libc::sockaddr_storage).cast();
        // SAFETY: `storage` is larger than sockaddr_in6.
        assert!(unsafe { peek_in6(p, SOCKADDR_IN6_LEN) }.is_none());
    }

    #[test]
    fn rewrite_keeps_port_flow_and_scope() {
        let sa = new_in6("2001:db8::1".parse().unwrap(), 443);
        let member: Ipv6Addr = "2001:db8:5::7".parse().unwrap();
        let out = with_ip(&sa, member);
        assert_eq!(ip(&out), member);
        assert_eq!(port(&out), 443);
        assert_eq!(out.sin6_flowinfo, sa.sin6_flowinfo);
        assert_eq!(out.sin6_scope_id, 3);
        assert_eq!(out.sin6_family, libc::AF_INET6 as sa_family_t);
    }
}
