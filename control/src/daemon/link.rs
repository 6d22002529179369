//! Link-scope sockets for the protocol cores, the one place where they are
//! opened. Two transports cover every protocol anycast6 speaks:
//!
//! - [`Transport::Udp`]: ARD (5359), ARIP (521), AARP (5360);
//! - [`Transport::Raw`]: IPv6 with a Next Header of its own — OSPFv3 (89),
//!   PIM (103), the Mobility Header (135) — with the kernel computing and
//!   verifying the protocol's checksum at its offset where it has one
//!   (IPV6_CHECKSUM, RFC 3542 §3.1; OSPFv3 offset 12, PIM 2, MH 4), or
//!   leaving it to the core (`checksum_offset: None`: AOSPF, whose
//!   authenticated packets carry a zero checksum, RFC 7166).
//!
//! Every datagram is received with the interface it came in on, its
//! destination and its hop limit (the cores check link-local sources and
//! GTSM-style hop limits themselves), and sent from a chosen source out of
//! a chosen interface with the transport's hop limit. Multicast groups are
//! joined per interface; multicast loopback is off.

use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn6,
};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// IPV6_CHECKSUM (RFC 3542 §3.1): the kernel fills in, and verifies on
/// receipt, the 16-bit checksum at `offset` of a raw socket's data (over
/// the IPv6 pseudo-header and the data). Neither nix nor socket2 wraps it.
#[allow(unsafe_code)]
fn set_ipv6_checksum(s: &Socket, offset: u16) -> io::Result<()> {
    let v = libc::c_int::from(offset);
    // SAFETY: `s` is an open socket for the duration of the call; the
    // option value is a c_int on the stack, passed with its exact size, and
    // the kernel only reads it.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_CHECKSUM,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// An IPv6 socket option of level IPPROTO_IPV6 set from raw bytes (the
/// sticky IPV6_HOPOPTS, RFC 3542 §6) or an int (IPV6_ROUTER_ALERT); neither
/// nix nor socket2 wraps them.
#[allow(unsafe_code)]
fn set_ipv6_raw(fd: i32, name: libc::c_int, value: &[u8]) -> io::Result<()> {
    // SAFETY: `fd` is an open socket for the duration of the call; the
    // value is a live slice passed with its exact length (null and 0 to
    // clear), and the kernel only reads it.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_IPV6,
            name,
            if value.is_empty() {
                std::ptr::null()
            } else {
                value.as_ptr().cast()
            },
            value.len() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// linux/in6.h (since 4.20); the libc crate does not name it.
const IPV6_ROUTER_ALERT_ISOLATE: libc::c_int = 30;

/// A Hop-by-Hop Options header holding one Router Alert option (RFC
/// 2711) of `value`, padded to 8 octets (PadN).
fn router_alert_hopopts(value: u16) -> [u8; 8] {
    let v = value.to_be_bytes();
    [0, 0, 5, 2, v[0], v[1], 1, 0]
}

/// How a protocol's packets travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP, bound to `[::]:port`.
    Udp { port: u16 },
    /// Raw IPv6 with this Next Header. `checksum_offset`: where the
    /// protocol's checksum (over the IPv6 pseudo-header and the data)
    /// sits, for the kernel to compute and verify.
    Raw {
        next_header: u8,
        checksum_offset: Option<u16>,
    },
}

impl Transport {
    pub fn udp(port: u16) -> Transport {
        Transport::Udp { port }
    }

    /// For logs: `udp/521`, `ip/89`.
    pub fn label(&self) -> String {
        match self {
            Transport::Udp { port } => format!("udp/{port}"),
            Transport::Raw { next_header, .. } => format!("ip/{next_header}"),
        }
    }
}

/// A datagram as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub src: Ipv6Addr,
    /// UDP source port (0 on a raw transport).
    pub src_port: u16,
    /// The datagram's destination address (`::` if the kernel did not say).
    pub dst: Ipv6Addr,
    /// Interface it arrived on (0 if the kernel did not say).
    pub ifindex: u32,
    /// Hop limit it arrived with (0 if the kernel did not say).
    pub hop_limit: u8,
    pub len: usize,
}

/// Both transports sit in a tokio `UdpSocket`: it only provides readiness
/// for a datagram descriptor (every read and write goes through
/// recvmsg/sendmsg below), which a raw IPv6 socket is as much as a UDP one.
pub struct LinkSocket {
    sock: UdpSocket,
    transport: Transport,
    hop_limit: u8,
}

impl LinkSocket {
    /// Link-scope UDP on `port` with hop limit 255 (ARD, ARIP, AARP).
    pub fn bind(port: u16) -> io::Result<LinkSocket> {
        LinkSocket::open(Transport::udp(port), 255)
    }

    /// Opens `transport` (address reuse on for UDP, so a restart never
    /// waits), sending with `hop_limit` for unicast and multicast, no
    /// multicast loopback, packet info and hop limit delivered with every
    /// datagram.
    pub fn open(transport: Transport, hop_limit: u8) -> io::Result<LinkSocket> {
        let s = match transport {
            Transport::Udp { port } => {
                let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
                s.set_only_v6(true)?;
                s.set_reuse_address(true)?;
                s.bind(&SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0).into())?;
                s
            }
            Transport::Raw {
                next_header,
                checksum_offset,
            } => {
                let s = Socket::new(
                    Domain::IPV6,
                    Type::RAW,
                    Some(Protocol::from(i32::from(next_header))),
                )?;
                if let Some(off) = checksum_offset {
                    set_ipv6_checksum(&s, off)?;
                }
                s
            }
        };
        s.set_nonblocking(true)?;
        s.set_multicast_hops_v6(u32::from(hop_limit))?;
        s.set_unicast_hops_v6(u32::from(hop_limit))?;
        s.set_multicast_loop_v6(false)?;
        setsockopt(&s, sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
        setsockopt(&s, sockopt::Ipv6RecvHopLimit, &true).map_err(io::Error::from)?;
        let std: std::net::UdpSocket = s.into();
        Ok(LinkSocket {
            sock: UdpSocket::from_std(std)?,
            transport,
            hop_limit,
        })
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The UDP port (0 on a raw transport).
    pub fn port(&self) -> u16 {
        match self.transport {
            Transport::Udp { port } => port,
            Transport::Raw { .. } => 0,
        }
    }

    /// Joins `group` on `ifindex` (already joined is not an error).
    pub fn join(&self, group: Ipv6Addr, ifindex: u32) -> io::Result<()> {
        match SockRef::from(&self.sock).join_multicast_v6(&group, ifindex) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
            r => r,
        }
    }

    /// Leaves `group` on `ifindex` (not joined is not an error).
    pub fn leave(&self, group: Ipv6Addr, ifindex: u32) -> io::Result<()> {
        match SockRef::from(&self.sock).leave_multicast_v6(&group, ifindex) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(()),
            r => r,
        }
    }

    /// Also receive the packets this router forwards that carry a Router
    /// Alert of `value` (IPV6_ROUTER_ALERT): the kernel hands them here,
    /// whole (IPv6 header first), instead of forwarding them. Linux allows
    /// it on IPPROTO_RAW sockets only (`Transport::Raw { next_header: 255 }`).
    /// The kernel keeps one list of such sockets for all network
    /// namespaces: the socket is isolated to its own
    /// (IPV6_ROUTER_ALERT_ISOLATE), or it would take other namespaces'
    /// packets.
    pub fn tap_router_alert(&self, value: u16) -> io::Result<()> {
        let fd = self.sock.as_raw_fd();
        set_ipv6_raw(fd, IPV6_ROUTER_ALERT_ISOLATE, &1i32.to_ne_bytes())?;
        let v = libc::c_int::from(value);
        set_ipv6_raw(fd, libc::IPV6_ROUTER_ALERT, &v.to_ne_bytes())
    }

    /// Sends a whole IPv6 packet, header included, as it is (an
    /// IPPROTO_RAW socket: a tapped packet handed back to forwarding).
    pub async fn send_packet(&self, packet: &[u8], dst: Ipv6Addr) -> io::Result<()> {
        let to = SocketAddrV6::new(dst, 0, 0, 0);
        self.sock
            .async_io(Interest::WRITABLE, || {
                SockRef::from(&self.sock)
                    .send_to(packet, &to.into())
                    .map(drop)
            })
            .await
    }

    /// The next datagram into `buf`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        let fd = self.sock.as_raw_fd();
        self.sock
            .async_io(Interest::READABLE, || recv_once(fd, buf))
            .await
    }

    /// Sends `bytes` from `src` (an address of `ifindex`, or `::` for the
    /// kernel's choice) out of `ifindex` to `dst` (the port is ignored on a
    /// raw transport).
    pub async fn send(
        &self,
        bytes: &[u8],
        src: Ipv6Addr,
        ifindex: u32,
        dst: SocketAddrV6,
    ) -> io::Result<()> {
        let fd = self.sock.as_raw_fd();
        let dst = match self.transport {
            Transport::Udp { .. } => dst,
            Transport::Raw { .. } => SocketAddrV6::new(*dst.ip(), 0, 0, 0),
        };
        let hops = libc::c_int::from(self.hop_limit);
        self.sock
            .async_io(Interest::WRITABLE, || {
                send_once(fd, bytes, src, ifindex, dst, hops)
            })
            .await
    }

    /// As [`LinkSocket::send`] with this datagram's own hop limit, and a
    /// Router Alert option of `router_alert` if given (set as the sticky
    /// option around this one send: the daemon is one thread, nothing
    /// else sends on the socket in between).
    pub async fn send_with(
        &self,
        bytes: &[u8],
        src: Ipv6Addr,
        ifindex: u32,
        dst: SocketAddrV6,
        hop_limit: Option<u8>,
        router_alert: Option<u16>,
    ) -> io::Result<()> {
        let fd = self.sock.as_raw_fd();
        let dst = match self.transport {
            Transport::Udp { .. } => dst,
            Transport::Raw { .. } => SocketAddrV6::new(*dst.ip(), 0, 0, 0),
        };
        let hops = libc::c_int::from(hop_limit.unwrap_or(self.hop_limit));
        self.sock
            .async_io(Interest::WRITABLE, || {
                let Some(v) = router_alert else {
                    return send_once(fd, bytes, src, ifindex, dst, hops);
                };
                set_ipv6_raw(fd, libc::IPV6_HOPOPTS, &router_alert_hopopts(v))?;
                let r = send_once(fd, bytes, src, ifindex, dst, hops);
                set_ipv6_raw(fd, libc::IPV6_HOPOPTS, &[])?;
                r
            })
            .await
    }
}

fn recv_once(fd: i32, buf: &mut [u8]) -> io::Result<Received> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
    let msg = recvmsg::<SockaddrIn6>(fd, &mut iov, Some(&mut cmsg), MsgFlags::MSG_DONTWAIT)
        .map_err(io::Error::from)?;
    let mut r = Received {
        src: Ipv6Addr::UNSPECIFIED,
        src_port: 0,
        dst: Ipv6Addr::UNSPECIFIED,
        ifindex: 0,
        hop_limit: 0,
        len: msg.bytes,
    };
    if let Some(a) = msg.address {
        r.src = a.ip();
        r.src_port = a.port();
    }
    for c in msg.cmsgs().map_err(io::Error::from)? {
        match c {
            ControlMessageOwned::Ipv6PacketInfo(p) => {
                r.ifindex = p.ipi6_ifindex;
                r.dst = Ipv6Addr::from(p.ipi6_addr.s6_addr);
            }
            ControlMessageOwned::Ipv6HopLimit(h) => r.hop_limit = h.clamp(0, 255) as u8,
            _ => {}
        }
    }
    Ok(r)
}

fn send_once(
    fd: i32,
    bytes: &[u8],
    src: Ipv6Addr,
    ifindex: u32,
    dst: SocketAddrV6,
    hops: libc::c_int,
) -> io::Result<()> {
    let info = libc::in6_pktinfo {
        ipi6_addr: libc::in6_addr {
            s6_addr: src.octets(),
        },
        ipi6_ifindex: ifindex,
    };
    let cmsgs = [
        ControlMessage::Ipv6PacketInfo(&info),
        ControlMessage::Ipv6HopLimit(&hops),
    ];
    // Link-local destinations need their scope.
    let dst = SocketAddrV6::new(*dst.ip(), dst.port(), 0, ifindex);
    let to = SockaddrIn6::from(dst);
    sendmsg(
        fd,
        &[IoSlice::new(bytes)],
        &cmsgs,
        MsgFlags::empty(),
        Some(&to),
    )
    .map_err(io::Error::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn router_alert_option_is_one_padded_hop_by_hop_header() {
        // Next header (kernel's), length 0 (8 octets), RA type 5 len 2
        // value 65503, PadN of 0.
        assert_eq!(
            super::router_alert_hopopts(65503),
            [0, 0, 5, 2, 0xff, 0xdf, 1, 0]
        );
    }
}
