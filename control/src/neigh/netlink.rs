//! Netlink requests and notifications (rtnetlink over tokio).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use futures_util::StreamExt;
use netlink_packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressProtocol,
    AddressScope,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourExtFlags, NeighbourFlags, NeighbourMessage,
    NeighbourState,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteNextHop, RouteProtocol, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::MulticastGroup;
use serde::Serialize;
use tokio::sync::mpsc;

use super::table::{NeighKey, NeighUpdate};
use crate::proto::originate::{AddrFlags, AddressEvent, IfAddr};
use crate::{ControlError, KERNEL_PROTO};

/// An interface as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkInfo {
    pub ifindex: u32,
    pub name: String,
    pub mac: [u8; 6],
    pub mtu: u32,
    pub up: bool,
}

/// The kernel's next hop toward an address (`ip -6 route get`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteHop {
    /// None: the destination is on-link.
    pub gateway: Option<Ipv6Addr>,
    pub oif: u32,
}

/// What the monitor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelEvent {
    Neigh(NeighUpdate),
    /// An interface appeared, went, or changed (MTU, MAC, state).
    Link,
    /// An IPv6 address appeared, changed (flags) or went: what the
    /// routing protocols originate follows (anycast6_core::originate).
    Address(AddressEvent),
    /// Notifications were lost (socket overrun): resynchronise.
    Overrun,
}

/// A request connection to rtnetlink.
#[derive(Clone)]
pub struct Netlink {
    handle: rtnetlink::Handle,
}

fn nl_err(what: &str, reason: impl ToString) -> ControlError {
    ControlError::NetlinkRequest {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

impl Netlink {
    /// Opens the socket; its I/O runs as a task on the current tokio runtime.
    pub fn connect() -> Result<Netlink, ControlError> {
        let (conn, handle, _) = rtnetlink::new_connection().map_err(ControlError::NetlinkSocket)?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    async fn request(
        &self,
        what: &str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, ControlError> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = flags;
        let mut handle = self.handle.clone();
        let mut resp = handle.request(req).map_err(|e| nl_err(what, e))?;
        let mut out = Vec::new();
        while let Some(m) = resp.next().await {
            match m.payload {
                NetlinkPayload::InnerMessage(x) => out.push(x),
                NetlinkPayload::Error(e) if e.code.is_some() => {
                    return Err(nl_err(what, e.to_io()))
                }
                _ => {}
            }
        }
        Ok(out)
    }

    pub async fn links(&self) -> Result<Vec<LinkInfo>, ControlError> {
        let msgs = self
            .request(
                "link dump",
                RouteNetlinkMessage::GetLink(LinkMessage::default()),
                NLM_F_REQUEST | NLM_F_DUMP,
            )
            .await?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_info(&l)),
                _ => None,
            })
            .collect())
    }

    /// Every IPv6 neighbour entry.
    pub async fn neighbours(&self) -> Result<Vec<NeighUpdate>, ControlError> {
        let mut req = NeighbourMessage::default();
        req.header.family = AddressFamily::Inet6;
        let msgs = self
            .request(
                "neighbour dump",
                RouteNetlinkMessage::GetNeighbour(req),
                NLM_F_REQUEST | NLM_F_DUMP,
            )
            .await?;
        Ok(msgs.iter().filter_map(neigh_update).collect())
    }

    /// Creates (or takes over) a managed neighbour entry for `key`: the
    /// kernel resolves it and keeps it reachable. Static entries made by an
    /// administrator must not be passed here (see `NeighUpdate::is_static`).
    pub async fn ensure_managed(&self, key: NeighKey) -> Result<(), ControlError> {
        let mut m = NeighbourMessage::default();
        m.header.family = AddressFamily::Inet6;
        m.header.ifindex = key.ifindex;
        m.header.state = NeighbourState::None;
        m.header.flags = NeighbourFlags::ExtLearned;
        m.attributes = vec![
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(key.addr)),
            NeighbourAttribute::Protocol(RouteProtocol::Other(KERNEL_PROTO)),
            NeighbourAttribute::ExtFlags(NeighbourExtFlags::Managed),
        ];
        let what = format!("managed neighbour {} on ifindex {}", key.addr, key.ifindex);
        self.request(
            &what,
            RouteNetlinkMessage::NewNeighbour(m),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
        )
        .await
        .map(drop)
    }

    pub async fn delete_neighbour(&self, key: NeighKey) -> Result<(), ControlError> {
        let mut m = NeighbourMessage::default();
        m.header.family = AddressFamily::Inet6;
        m.header.ifindex = key.ifindex;
        m.attributes = vec![NeighbourAttribute::Destination(NeighbourAddress::Inet6(
            key.addr,
        ))];
        let what = format!("delete neighbour {} on ifindex {}", key.addr, key.ifindex);
        self.request(
            &what,
            RouteNetlinkMessage::DelNeighbour(m),
            NLM_F_REQUEST | NLM_F_ACK,
        )
        .await
        .map(drop)
    }

    /// `ip -6 route get dst`: None when the kernel has no usable route.
    pub async fn route_get(&self, dst: Ipv6Addr) -> Result<Option<RouteHop>, ControlError> {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet6;
        m.header.destination_prefix_length = 128;
        m.attributes = vec![RouteAttribute::Destination(RouteAddress::Inet6(dst))];
        let msgs = match self
            .request("route get", RouteNetlinkMessage::GetRoute(m), NLM_F_REQUEST)
            .await
        {
            Ok(m) => m,
            // ENETUNREACH, EHOSTUNREACH, ...: no route is an answer, not a failure
            Err(ControlError::NetlinkRequest { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        for msg in msgs {
            let RouteNetlinkMessage::NewRoute(r) = msg else {
                continue;
            };
            if !matches!(r.header.kind, RouteType::Unicast | RouteType::Local) {
                return Ok(None);
            }
            let mut hop = RouteHop {
                gateway: None,
                oif: 0,
            };
            for a in &r.attributes {
                match a {
                    RouteAttribute::Oif(i) => hop.oif = *i,
                    RouteAttribute::Gateway(RouteAddress::Inet6(g)) => hop.gateway = Some(*g),
                    _ => {}
                }
            }
            return Ok((hop.oif != 0).then_some(hop));
        }
        Ok(None)
    }

    /// IPv6 addresses on `ifindex`: (address, prefix length, made by anycast6).
    pub async fn addresses(&self, ifindex: u32) -> Result<Vec<(Ipv6Addr, u8, bool)>, ControlError> {
        Ok(self
            .all_addresses()
            .await?
            .into_iter()
            .filter(|a| a.ifindex == ifindex)
            .map(|a| (a.addr, a.plen, a.ours))
            .collect())
    }

    /// Every IPv6 address on every interface, with the flags origination
    /// looks at.
    pub async fn all_addresses(&self) -> Result<Vec<IfAddr>, ControlError> {
        let mut req = AddressMessage::default();
        req.header.family = AddressFamily::Inet6;
        let msgs = self
            .request(
                "address dump",
                RouteNetlinkMessage::GetAddress(req),
                NLM_F_REQUEST | NLM_F_DUMP,
            )
            .await?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => if_addr(a),
                _ => None,
            })
            .collect())
    }

    fn address_msg(ifindex: u32, addr: Ipv6Addr) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet6;
        m.header.prefix_len = 128;
        m.header.index = ifindex;
        m.header.scope = AddressScope::Universe;
        m.header.flags = AddressHeaderFlags::Nodad;
        m.attributes = vec![
            AddressAttribute::Local(IpAddr::V6(addr)),
            AddressAttribute::Address(IpAddr::V6(addr)),
            AddressAttribute::Protocol(AddressProtocol::Other(KERNEL_PROTO)),
        ];
        m
    }

    /// Adds `addr/128` (nodad) to `ifindex`, marked as anycast6's.
    pub async fn add_address(&self, ifindex: u32, addr: Ipv6Addr) -> Result<(), ControlError> {
        self.request(
            &format!("add address {addr}/128"),
            RouteNetlinkMessage::NewAddress(Self::address_msg(ifindex, addr)),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .await
        .map(drop)
    }

    pub async fn del_address(&self, ifindex: u32, addr: Ipv6Addr) -> Result<(), ControlError> {
        self.request(
            &format!("delete address {addr}/128"),
            RouteNetlinkMessage::DelAddress(Self::address_msg(ifindex, addr)),
            NLM_F_REQUEST | NLM_F_ACK,
        )
        .await
        .map(drop)
    }

    fn route_msg(prefix: Ipv6Addr, plen: u8) -> RouteMessage {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet6;
        m.header.destination_prefix_length = plen;
        m.header.table = 254; // main
        m.header.protocol = RouteProtocol::Other(KERNEL_PROTO);
        m.header.scope = netlink_packet_route::route::RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes = vec![RouteAttribute::Destination(RouteAddress::Inet6(prefix))];
        m
    }

    /// `ip -6 route replace prefix/plen via next_hop dev ifindex metric m
    /// proto 0xa6` (a route a protocol learned).
    pub async fn route_replace(
        &self,
        prefix: Ipv6Addr,
        plen: u8,
        next_hop: Ipv6Addr,
        ifindex: u32,
        metric: u32,
    ) -> Result<(), ControlError> {
        self.route_replace_via(prefix, plen, &[(next_hop, ifindex)], metric)
            .await
    }

    /// `ip -6 route replace prefix/plen metric m proto 0xa6` via one next
    /// hop (`via NH dev IF`) or, with several, one multipath route
    /// (`nexthop via NH dev IF` each, equal weights: RTA_MULTIPATH).
    pub async fn route_replace_via(
        &self,
        prefix: Ipv6Addr,
        plen: u8,
        hops: &[(Ipv6Addr, u32)],
        metric: u32,
    ) -> Result<(), ControlError> {
        let gateway = |nh: Ipv6Addr| RouteAttribute::Gateway(RouteAddress::Inet6(nh));
        let mut m = Self::route_msg(prefix, plen);
        match hops {
            [(nh, ifindex)] => m
                .attributes
                .extend([gateway(*nh), RouteAttribute::Oif(*ifindex)]),
            _ => m.attributes.push(RouteAttribute::MultiPath(
                hops.iter()
                    .map(|(nh, ifindex)| {
                        let mut h = RouteNextHop::default();
                        h.interface_index = *ifindex;
                        h.attributes = vec![gateway(*nh)];
                        h
                    })
                    .collect(),
            )),
        }
        m.attributes.push(RouteAttribute::Priority(metric));
        self.request(
            "route replace",
            RouteNetlinkMessage::NewRoute(m),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
        )
        .await
        .map(drop)
    }

    /// Deletes our route to prefix/plen (not there is not an error).
    pub async fn route_delete(&self, prefix: Ipv6Addr, plen: u8) -> Result<(), ControlError> {
        self.route_delete_metric(prefix, plen, None).await
    }

    /// Deletes our route to prefix/plen of metric `metric` (None: the first
    /// of ours; not there is not an error). A multipath route goes whole.
    pub async fn route_delete_metric(
        &self,
        prefix: Ipv6Addr,
        plen: u8,
        metric: Option<u32>,
    ) -> Result<(), ControlError> {
        let mut m = Self::route_msg(prefix, plen);
        m.attributes.extend(metric.map(RouteAttribute::Priority));
        match self
            .request(
                "route delete",
                RouteNetlinkMessage::DelRoute(m),
                NLM_F_REQUEST | NLM_F_ACK,
            )
            .await
        {
            Err(ControlError::NetlinkRequest { reason, .. }) if reason.contains("No such") => {
                Ok(())
            }
            r => r.map(drop),
        }
    }

    /// Every IPv6 route of every table, as the kernel reports it (the
    /// kernel import reads its table from it).
    pub async fn ipv6_routes(&self) -> Result<Vec<RouteMessage>, ControlError> {
        let mut req = RouteMessage::default();
        req.header.address_family = AddressFamily::Inet6;
        let msgs = self
            .request(
                "route dump",
                RouteNetlinkMessage::GetRoute(req),
                NLM_F_REQUEST | NLM_F_DUMP,
            )
            .await?;
        Ok(msgs
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => Some(r),
                _ => None,
            })
            .collect())
    }

    /// Deletes every route of protocol 0xa6 (left by a crashed anycast6d)
    /// but those in `keep` ((prefix, plen) → metric: what a graceful
    /// restart hands the new process). Each is deleted by its metric, so
    /// a kept route of the same prefix is never the one that goes.
    pub async fn remove_our_routes(
        &self,
        keep: &BTreeMap<(Ipv6Addr, u8), u32>,
    ) -> Result<usize, ControlError> {
        let mut req = RouteMessage::default();
        req.header.address_family = AddressFamily::Inet6;
        let msgs = self
            .request(
                "route dump",
                RouteNetlinkMessage::GetRoute(req),
                NLM_F_REQUEST | NLM_F_DUMP,
            )
            .await?;
        let mut n = 0;
        for msg in msgs {
            let RouteNetlinkMessage::NewRoute(r) = msg else {
                continue;
            };
            if r.header.protocol != RouteProtocol::Other(KERNEL_PROTO) {
                continue;
            }
            let dst = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Destination(RouteAddress::Inet6(d)) => Some(*d),
                _ => None,
            });
            let metric = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Priority(m) => Some(*m),
                _ => None,
            });
            let dst = dst.unwrap_or(Ipv6Addr::UNSPECIFIED);
            let plen = r.header.destination_prefix_length;
            if metric.is_some() && keep.get(&(dst, plen)) == metric.as_ref() {
                continue;
            }
            self.route_delete_metric(dst, plen, metric).await?;
            n += 1;
        }
        Ok(n)
    }

    /// Removes what anycast6 left in the kernel: its managed neighbour
    /// entries and its addresses on `lo`. Returns how many were removed.
    pub async fn remove_ours(&self) -> Result<usize, ControlError> {
        let mut n = 0;
        for u in self.neighbours().await? {
            if u.ours {
                self.delete_neighbour(u.key).await?;
                n += 1;
            }
        }
        if let Some(lo) = self.links().await?.into_iter().find(|l| l.name == "lo") {
            for (a, len, ours) in self.addresses(lo.ifindex).await? {
                if ours && len == 128 {
                    self.del_address(lo.ifindex, a).await?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

/// An IPv6 address message as origination sees it.
fn if_addr(a: &AddressMessage) -> Option<IfAddr> {
    if a.header.family != AddressFamily::Inet6 {
        return None;
    }
    let mut addr = None;
    let mut ours = false;
    // IFA_FLAGS (32 bits) supersedes the header's 8, when present.
    let mut flags = u32::from(a.header.flags.bits());
    for at in &a.attributes {
        match at {
            AddressAttribute::Address(IpAddr::V6(x)) => addr = Some(*x),
            AddressAttribute::Protocol(AddressProtocol::Other(p)) => ours = *p == KERNEL_PROTO,
            AddressAttribute::Flags(f) => flags = f.bits(),
            _ => {}
        }
    }
    Some(IfAddr {
        ifindex: a.header.index,
        addr: addr?,
        plen: a.header.prefix_len,
        flags: AddrFlags {
            tentative: flags & AddressFlags::Tentative.bits() != 0,
            dadfailed: flags & AddressFlags::Dadfailed.bits() != 0,
        },
        ours,
    })
}

fn address_event(m: &RouteNetlinkMessage) -> Option<AddressEvent> {
    match m {
        RouteNetlinkMessage::NewAddress(a) => if_addr(a).map(AddressEvent::New),
        RouteNetlinkMessage::DelAddress(a) => if_addr(a).map(|x| AddressEvent::Del {
            ifindex: x.ifindex,
            addr: x.addr,
        }),
        _ => None,
    }
}

fn link_info(l: &LinkMessage) -> LinkInfo {
    let mut info = LinkInfo {
        ifindex: l.header.index,
        name: String::new(),
        mac: [0; 6],
        mtu: 0,
        up: l.header.flags.contains(LinkFlags::Up) && l.header.flags.contains(LinkFlags::LowerUp),
    };
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => info.name = n.clone(),
            LinkAttribute::Mtu(m) => info.mtu = *m,
            LinkAttribute::Address(mac) if mac.len() == 6 => info.mac.copy_from_slice(mac),
            _ => {}
        }
    }
    info
}

fn neigh_update(m: &RouteNetlinkMessage) -> Option<NeighUpdate> {
    let (n, deleted) = match m {
        RouteNetlinkMessage::NewNeighbour(n) => (n, false),
        RouteNetlinkMessage::DelNeighbour(n) => (n, true),
        _ => return None,
    };
    if n.header.family != AddressFamily::Inet6 {
        return None;
    }
    let mut addr = None;
    let mut lladdr = None;
    let mut ours = false;
    let mut managed = false;
    for a in &n.attributes {
        match a {
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(x)) => addr = Some(*x),
            NeighbourAttribute::LinkLayerAddress(mac) if mac.len() == 6 => {
                let mut b = [0; 6];
                b.copy_from_slice(mac);
                lladdr = Some(b);
            }
            NeighbourAttribute::Protocol(p) => ours = u8::from(*p) == KERNEL_PROTO,
            NeighbourAttribute::ExtFlags(f) => managed = f.contains(NeighbourExtFlags::Managed),
            _ => {}
        }
    }
    Some(NeighUpdate {
        key: NeighKey {
            ifindex: n.header.ifindex,
            addr: addr?,
        },
        state: (!deleted).then(|| u16::from(n.header.state)),
        lladdr,
        ours,
        managed,
    })
}

/// Subscribes to RTNLGRP_NEIGH, RTNLGRP_LINK and RTNLGRP_IPV6_IFADDR. The
/// returned channel closes if the netlink socket fails. An overrun is
/// reported twice: as `Address(Lost)` (the address followers read the
/// table again) and as `Overrun` (the daemon resynchronises).
pub fn monitor() -> Result<mpsc::UnboundedReceiver<KernelEvent>, ControlError> {
    let (conn, _handle, mut messages) = rtnetlink::new_multicast_connection(&[
        MulticastGroup::Neigh,
        MulticastGroup::Link,
        MulticastGroup::Ipv6Ifaddr,
    ])
    .map_err(ControlError::NetlinkSocket)?;
    tokio::spawn(conn);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some((msg, _)) = messages.next().await {
            let ev = match &msg.payload {
                NetlinkPayload::InnerMessage(
                    RouteNetlinkMessage::NewLink(_) | RouteNetlinkMessage::DelLink(_),
                ) => Some(KernelEvent::Link),
                NetlinkPayload::InnerMessage(
                    m @ (RouteNetlinkMessage::NewAddress(_) | RouteNetlinkMessage::DelAddress(_)),
                ) => address_event(m).map(KernelEvent::Address),
                NetlinkPayload::InnerMessage(m) => neigh_update(m).map(KernelEvent::Neigh),
                NetlinkPayload::Overrun(_) => {
                    if tx.send(KernelEvent::Address(AddressEvent::Lost)).is_err() {
                        break;
                    }
                    Some(KernelEvent::Overrun)
                }
                _ => None,
            };
            if let Some(ev) = ev {
                if tx.send(ev).is_err() {
                    break;
                }
            }
        }
    });
    Ok(rx)
}
