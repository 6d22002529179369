//! Link-scope UDP sockets for the protocol cores (ARD, ARIP): every
//! datagram received with the interface it came in on and its hop limit,
//! every datagram sent from a chosen link-local source out of a chosen
//! interface, hop limit 255 (RFC 2080 §2.4.2 and ARD's GTSM-style check).

use std::io;
use std::io::{IoSlice, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn6,
};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// A datagram as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub src: Ipv6Addr,
    pub src_port: u16,
    /// The datagram's destination address (`::` if the kernel did not say).
    pub dst: Ipv6Addr,
    /// Interface it arrived on (0 if the kernel did not say).
    pub ifindex: u32,
    /// Hop limit it arrived with (0 if the kernel did not say).
    pub hop_limit: u8,
    pub len: usize,
}

pub struct LinkUdp {
    sock: UdpSocket,
    port: u16,
}

impl LinkUdp {
    /// Binds `[::]:port` (address reuse on, so a restart never waits) with
    /// hop limit 255 for unicast and multicast, no multicast loopback, and
    /// packet info and hop limit delivered with every datagram.
    pub fn bind(port: u16) -> io::Result<LinkUdp> {
        let s = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_only_v6(true)?;
        s.set_reuse_address(true)?;
        s.set_nonblocking(true)?;
        s.set_multicast_hops_v6(255)?;
        s.set_unicast_hops_v6(255)?;
        s.set_multicast_loop_v6(false)?;
        setsockopt(&s, sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
        setsockopt(&s, sockopt::Ipv6RecvHopLimit, &true).map_err(io::Error::from)?;
        s.bind(&SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0).into())?;
        let std: std::net::UdpSocket = s.into();
        Ok(LinkUdp {
            sock: UdpSocket::from_std(std)?,
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Joins `group` on `ifindex` (already joined is not an error).
    pub fn join(&self, group: Ipv6Addr, ifindex: u32) -> io::Result<()> {
        match self.sock.join_multicast_v6(&group, ifindex) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => Ok(()),
            r => r,
        }
    }

    /// Leaves `group` on `ifindex` (not joined is not an error).
    pub fn leave(&self, group: Ipv6Addr, ifindex: u32) -> io::Result<()> {
        match self.sock.leave_multicast_v6(&group, ifindex) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(()),
            r => r,
        }
    }

    /// The next datagram into `buf`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        let fd = self.sock.as_raw_fd();
        self.sock
            .async_io(Interest::READABLE, || recv_once(fd, buf))
            .await
    }

    /// Sends `bytes` from `src` (a link-local address of `ifindex`, or `::`
    /// for the kernel's choice) out of `ifindex` to `dst`.
    pub async fn send(
        &self,
        bytes: &[u8],
        src: Ipv6Addr,
        ifindex: u32,
        dst: SocketAddrV6,
    ) -> io::Result<()> {
        let fd = self.sock.as_raw_fd();
        self.sock
            .async_io(Interest::WRITABLE, || {
                send_once(fd, bytes, src, ifindex, dst)
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
) -> io::Result<()> {
    let info = libc::in6_pktinfo {
        ipi6_addr: libc::in6_addr {
            s6_addr: src.octets(),
        },
        ipi6_ifindex: ifindex,
    };
    let hops: libc::c_int = 255;
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
