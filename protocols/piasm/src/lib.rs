//! PIA-SM, Protocol Independent Anycast - Sparse Mode (docs/piasm.md): a
//! core-based anycast tree derived from PIM-SM (RFC 7761), for networks
//! where only the cores and the members' first-hop routers run anycast6.
//!
//! Pure: events and a clock in ([`Instance::handle_packet`],
//! [`Instance::handle_timeout`], ...), packets and group changes out
//! ([`Instance::poll_output`]); no sockets, no clock of its own.

pub mod config;
pub mod counters;
pub mod instance;
pub mod packet;
pub mod view;

pub use config::{AnycastConfig, Config, InterfaceConfig};
pub use counters::Counters;
pub use instance::{BranchKey, Group, GroupMember, Instance, Output, Rpf, Send, Upstream, Via};
pub use view::View;

#[cfg(test)]
mod tests;
