//! The management API: JSON lines over a Unix stream socket
//! (docs/mgmt-api.md).
//!
//! - [`proto`]: requests and the response envelope.
//! - [`views`]: the `data` of each reply, with stable keys.
//! - [`server`]: the daemon side (tokio): accepts connections and hands
//!   each request to the daemon's event loop.
//! - [`client`]: the anycast6ctl side (blocking).

pub mod client;
pub mod proto;
pub mod server;
pub mod views;

pub use proto::{MemberAdd, MemberSel, Request, Response, ShowWhat};
