//! anycast6-control: the control plane of anycast6.
//!
//! - [`config`]: the TOML configuration, validated with file:line:col errors.
//! - [`rib`]: desired state (config + runtime overlays + neighbours) and its
//!   diff against what the FIB holds. Pure: no I/O, unit tested.
//! - [`neigh`]: interfaces, kernel routes and managed neighbour entries over
//!   netlink (MAC addresses are resolved by the kernel, never typed by hand).
//! - [`mgmt`]: the management protocol (JSON lines over a Unix socket).
//! - [`daemon`]: anycast6d's state, apply (all or nothing) and event loop.
//! - [`ctl`]: anycast6ctl's client and table formatting.
//! - [`metrics`]: the Prometheus exposition and its HTTP listener.

pub mod caps;
pub mod cli;
pub mod config;
pub mod ctl;
pub mod daemon;
pub mod error;
pub mod kernel_import;
pub mod logging;
pub mod metrics;
pub mod mgmt;
pub mod neigh;
pub mod notify;
pub mod rib;
pub mod util;

// The protocol cores live in their own crates under protocols/ (pure: no
// I/O); these names keep the daemon's paths short.
pub use anycast6_aospf as aospf;
pub use anycast6_ard as ard;
pub use anycast6_arip as arip;
pub use anycast6_core as proto;
pub use anycast6_mga as mga;
pub use anycast6_piasm as piasm;

pub use error::ControlError;

/// Protocol number anycast6 stamps on the kernel objects it creates
/// (managed neighbour entries, addresses on `lo`), so it can find and remove
/// exactly those, also after a crash. 0xa6 is unassigned in rt_protos.
pub const KERNEL_PROTO: u8 = 0xa6;
