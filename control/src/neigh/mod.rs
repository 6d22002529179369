//! The kernel's view of interfaces, routes and neighbours, over netlink.
//!
//! MAC addresses of members and next hops are never configured: for each
//! (next hop, egress) the daemon creates a *managed* neighbour entry
//! (NTF_EXT_MANAGED, kernel >= 5.16), which the kernel resolves and keeps
//! fresh by itself, and follows RTNLGRP_NEIGH to republish the groups whose
//! next hop changed. Entries anycast6 creates carry protocol
//! [`crate::KERNEL_PROTO`], so they can be found and removed again, also
//! after a crash.
//!
//! - [`table`]: the neighbour states the daemon follows (pure).
//! - [`netlink`]: requests (links, neighbours, route lookups, addresses on
//!   `lo`) and the event monitor.

pub mod netlink;
pub mod table;

pub use netlink::{KernelEvent, LinkInfo, Netlink, RouteHop};
pub use table::{NeighKey, NeighStatus, NeighTable, NeighUpdate};
