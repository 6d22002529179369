//! What the daemon can get wrong when it drives the core.

use std::net::Ipv6Addr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("prefix length {0} above 128")]
    PrefixLenInvalid(u8),
    #[error("prefix {0} is multicast or link-local: RIPng cannot carry it")]
    PrefixInvalid(Ipv6Addr),
    #[error("metric {0} outside 1..=15")]
    MetricInvalid(u8),
    #[error("interface cost {0} outside 1..=15")]
    InterfaceCostInvalid(u8),
    #[error("interface {0}: {1} is not a link-local address")]
    InterfaceAddressInvalid(u32, Ipv6Addr),
    #[error("interface MTU {0} below the IPv6 minimum of 1280")]
    InterfaceMtuInvalid(u16),
    #[error("invalid configuration: {0}")]
    ConfigInvalid(&'static str),
    #[error("invalid route limit: {0}")]
    LimitInvalid(anycast6_core::limit::LimitConfigError),
}
