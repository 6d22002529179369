//! Errors of the control crate (one enum, variants `<Object><Failure>`).

use std::path::PathBuf;

use anycast6_dataplane::DataplaneError;

use crate::config::ConfigErrors;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("show {what}: no such view; one of {known}")]
    ShowUnknown { what: String, known: String },
    #[error("{0}")]
    ConfigInvalid(#[from] ConfigErrors),
    /// Capabilities the config needs and the process lacks (caps.rs).
    #[error("anycast6d: {0}")]
    Privilege(String),
    #[error("{0}")]
    Dataplane(#[from] DataplaneError),
    #[error("netlink socket: {0}")]
    NetlinkSocket(std::io::Error),
    #[error("netlink {what}: {reason}")]
    NetlinkRequest { what: String, reason: String },
    #[error("interface {0:?} not found")]
    InterfaceMissing(String),
    #[error("no route to member {0}")]
    RouteMissing(std::net::Ipv6Addr),
    #[error("{0}")]
    RibInvalid(String),
    #[error("{0}")]
    FibApply(String),
    #[error("AF_XDP path: {0}")]
    Afxdp(#[from] anycast6_afxdp::AfxdpError),
    #[error("management socket {path}: {source}")]
    MgmtSocket {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("ARD: {0}")]
    ArdSetup(String),
    #[error("ARIP: {0}")]
    AripSetup(String),
    #[error("AARP: {0}")]
    AarpSetup(String),
    #[error("AOSPF: {0}")]
    AospfSetup(String),
    #[error("PIA-SM: {0}")]
    PiasmSetup(String),
    #[error("MGA: {0}")]
    MgaSetup(String),
    /// `[metrics] listen` cannot be bound (file:line:col: address: why).
    #[error("{0}")]
    MetricsListen(String),
    #[error("state file {path}: {reason}")]
    StateFile { path: PathBuf, reason: String },
}
