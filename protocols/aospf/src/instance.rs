//! The AOSPF instance: the daemon-facing API.

use std::collections::VecDeque;
use std::net::Ipv6Addr;

use anycast6_core::Instant;

use crate::config::{Config, InterfaceConfig, Originated};
use crate::counters::Counters;
use crate::view::View;
use crate::Output;

pub struct Instance {
    cfg: Config,
    out: VecDeque<Output>,
    counters: Counters,
}

impl Instance {
    pub fn new(cfg: Config, _now: Instant) -> Instance {
        Instance {
            cfg,
            out: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Starts (or reconfigures) OSPF on an interface.
    pub fn interface_up(&mut self, _now: Instant, _ifc: InterfaceConfig) {}

    /// Stops OSPF on an interface (link down, or removed from the config).
    pub fn interface_down(&mut self, _now: Instant, _ifindex: u32) {}

    /// Replaces what this router originates.
    pub fn set_origination(&mut self, _now: Instant, _prefixes: Vec<Originated>) {}

    /// One IPv6 payload of next header 89.
    pub fn handle_packet(
        &mut self,
        _now: Instant,
        _ifindex: u32,
        _src: Ipv6Addr,
        _dst: Ipv6Addr,
        _bytes: &[u8],
    ) {
    }

    pub fn handle_timeout(&mut self, _now: Instant) {}

    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Clean exit: our LSAs flushed (MaxAge) so neighbours route around us
    /// at once, then every kernel route removed.
    pub fn shutdown(&mut self, _now: Instant) {}

    /// Graceful restart (RFC 5187): tell neighbours we restart, keep the
    /// kernel routes; the daemon exits once the Grace-LSAs are acknowledged
    /// (`poll_timeout` is None).
    pub fn prepare_restart(&mut self, _now: Instant) {}

    pub fn view(&self, _now: Instant) -> View {
        View {
            router_id: self.cfg.router_id,
            area: self.cfg.area,
            interfaces: vec![],
            neighbors: vec![],
            database: vec![],
            routes: vec![],
            counters: self.counters.clone(),
            lsas: 0,
            max_lsas: self.cfg.max_lsas,
            spf_last_us: 0,
        }
    }
}
