//! An interface ARIP runs on, as the daemon describes it.

use std::net::Ipv6Addr;

use super::error::Error;
use super::packet::{self, HEADER_LEN, IP_UDP_OVERHEAD, RTE_LEN, TRAILER_RTES};

/// What the daemon tells the core about an interface.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InterfaceConfig {
    pub ifindex: u32,
    pub name: String,
    /// The source address of everything sent on it (RFC 2080 §2.1: link-local).
    pub link_local: Ipv6Addr,
    /// Added to every metric learned on it (1..=15; RIPng's usual 1).
    pub cost: u8,
    /// Link MTU: bounds the RTEs per packet (RFC 2080 §2.1).
    pub mtu: u16,
}

impl InterfaceConfig {
    /// Cost 1 and MTU 1500.
    pub fn new(ifindex: u32, name: impl Into<String>, link_local: Ipv6Addr) -> InterfaceConfig {
        InterfaceConfig {
            ifindex,
            name: name.into(),
            link_local,
            cost: 1,
            mtu: 1500,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if !(1..=15).contains(&self.cost) {
            return Err(Error::InterfaceCostInvalid(self.cost));
        }
        if !packet::is_link_local(&self.link_local) {
            return Err(Error::InterfaceAddressInvalid(
                self.ifindex,
                self.link_local,
            ));
        }
        if self.mtu < 1280 {
            return Err(Error::InterfaceMtuInvalid(self.mtu));
        }
        Ok(())
    }

    /// Route RTEs that fit in one packet, leaving room for the trailer
    /// when packets are signed.
    pub(crate) fn max_rtes(&self, signed: bool) -> usize {
        let all = (usize::from(self.mtu) - IP_UDP_OVERHEAD - HEADER_LEN) / RTE_LEN;
        all - if signed { TRAILER_RTES } else { 0 }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Interface {
    pub config: InterfaceConfig,
}
