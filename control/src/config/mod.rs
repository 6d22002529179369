//! The anycast6d configuration (TOML), documented in docs/config.md.
//!
//! [`parse`] reads and validates a whole file before anything is applied:
//! it returns every problem it finds, each as `file:line:col: what is wrong`.
//! [`check_environment`] adds the checks that need the running system
//! (interfaces exist).

mod aospf;
pub mod diff;
mod error;
mod kernel_import;
mod member;
mod metrics;
mod mga;
mod originate;
mod piasm;
mod proto;
mod raw;
mod validate;

#[cfg(test)]
mod piasm_tests;
#[cfg(test)]
mod tests;

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use anycast6_dataplane::loader::Capacities;
use anycast6_dataplane::{Action, AttachMode, DataplaneOptions, Route};
use serde::{Deserialize, Serialize};

pub use error::{ConfigError, ConfigErrors, Pos};
pub use member::{check_member, MemberField, MemberProblem};

pub const DEFAULT_CONFIG: &str = "/etc/anycast6/anycast6.toml";
pub const DEFAULT_SOCKET: &str = "/run/anycast6/anycast6d.sock";
pub const DEFAULT_STATE_FILE: &str = "/run/anycast6/anycast6d.state.json";
pub const DEFAULT_HASH_SEED: u32 = 0x5eed_1234;
pub const DEFAULT_PTB_PER_SEC: u32 = 100;
pub const DEFAULT_DISTANCE: u32 = 1;
pub const MAX_DISTANCE: u32 = 65535;
pub const DEFAULT_WEIGHT: u16 = 100;
/// Upper bound of every `[capacities]` key.
pub const MAX_CAPACITY: u32 = 1 << 24;
/// Linux interface names are at most IFNAMSIZ - 1 bytes.
pub const MAX_IFNAME: usize = 15;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was read from, as given (used in error messages).
    pub file: String,
    pub daemon: DaemonConfig,
    pub capacities: Capacities,
    pub interfaces: Vec<InterfaceConfig>,
    pub groups: Vec<GroupConfig>,
    pub member_role: Option<MemberRoleConfig>,
    /// `[ard]`: this router listens for members' ARD reports.
    pub ard: Option<ArdRouterConfig>,
    /// `[arip]`: this router speaks ARIP (RIPng-compatible).
    pub arip: Option<AripConfig>,
    /// `[aarp]`: answer AARP queries (docs/aarp.md).
    pub aarp: Option<AarpConfig>,
    /// `[aospf]`: this router speaks AOSPF (OSPFv3-compatible).
    pub aospf: Option<AospfConfig>,
    /// `[piasm]`: this router speaks PIA-SM (docs/piasm.md).
    pub piasm: Option<PiasmConfig>,
    /// `[mga]`: this host is an MGA home agent, member or correspondent
    /// (docs/mga.md).
    pub mga: Option<MgaConfig>,
    /// `[rib.distance]`: administrative distance per source.
    pub distances: crate::proto::Distances,
    /// `[kernel_import]`: members from the kernel's /128 routes (source
    /// `kernel`).
    pub kernel_import: Option<KernelImportConfig>,
    /// The text it was parsed from (`reload --diff` compares it with the
    /// file's text now).
    pub text: String,
    /// `[metrics]`: the Prometheus listener (docs/metrics.md).
    pub metrics: Option<MetricsConfig>,
}

/// `[metrics]` (docs/metrics.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is answered.
    pub listen: std::net::SocketAddr,
    /// Where `listen` is written (a bind failure names it).
    pub pos: Pos,
}

/// `[kernel_import]` (docs/config.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelImportConfig {
    pub import: crate::kernel_import::ImportConfig,
    /// How long route changes settle before the RIB takes them (a BIRD
    /// update of an IPv6 route is a delete and an add).
    pub settle: std::time::Duration,
}

/// `[aarp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AarpConfig {
    /// Router: answer queries to the anycast addresses in the FIB with the
    /// member the fast path would choose (sets the `a6_aarp` map).
    pub answer_for_members: bool,
    /// Member: the unicast address to answer with (default: `[member.ard]
    /// unicast`); members answer for `[member] addresses`.
    pub unicast: Option<Ipv6Addr>,
    pub lifetime: std::time::Duration,
    pub preference: u16,
    pub keys: Vec<crate::proto::auth::Key>,
}

/// `[arip]` (docs/arip.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AripConfig {
    pub interfaces: Vec<String>,
    pub update_interval: std::time::Duration,
    pub update_jitter: std::time::Duration,
    pub timeout: std::time::Duration,
    pub garbage: std::time::Duration,
    pub triggered_min: std::time::Duration,
    pub triggered_max: std::time::Duration,
    pub anycast_tag: u16,
    pub check_hop_limit: bool,
    /// `[arip.originate]` (and its alias `redistribute_connected`): what
    /// ARIP announces besides what it learns.
    pub originate: crate::proto::originate::Policy,
    /// `max_routes_per_neighbor` (`per_key`), `max_routes` (`total`),
    /// `routes_warn_percent`.
    pub limit: crate::proto::LimitConfig,
    pub keys: Vec<crate::proto::auth::Key>,
}

/// `[aospf]` (docs/config.md, docs/aospf.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AospfConfig {
    pub router_id: std::net::Ipv4Addr,
    pub area: std::net::Ipv4Addr,
    pub instance_id: u8,
    pub spf_delay: std::time::Duration,
    pub spf_hold: std::time::Duration,
    pub lsa_min_interval: std::time::Duration,
    pub max_lsas: usize,
    pub graceful_restart_helper: bool,
    pub grace_period: std::time::Duration,
    pub interfaces: Vec<AospfInterface>,
    /// `[aospf.originate]`, as `[arip.originate]`.
    pub originate: crate::proto::originate::Policy,
}

/// `[[aospf.interface]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AospfInterface {
    pub name: String,
    pub network: crate::aospf::NetworkType,
    pub cost: u16,
    pub priority: u8,
    pub hello_interval: std::time::Duration,
    pub dead_interval: std::time::Duration,
    pub retransmit_interval: std::time::Duration,
    /// Seconds (InfTransDelay).
    pub transmit_delay: u16,
    pub passive: bool,
    pub auth: Option<AospfAuth>,
}

/// RFC 7166 authentication of one AOSPF interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AospfAuth {
    /// Its id is the trailer's SA id.
    pub key: crate::proto::auth::Key,
    pub prep: crate::aospf::packet::auth::KeyPrep,
}

/// `[piasm]` (docs/config.md, docs/piasm.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiasmConfig {
    /// R: source of our unicast messages, end point of tunnels to us.
    pub router_address: Ipv6Addr,
    pub hello_interval: std::time::Duration,
    pub join_interval: std::time::Duration,
    /// Per anycast address.
    pub max_branches: usize,
    /// Keys of unicast messages (link messages use their interface's).
    pub keys: Vec<crate::proto::auth::Key>,
    pub interfaces: Vec<PiasmInterface>,
    pub anycast: Vec<PiasmAnycast>,
}

/// `[[piasm.interface]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiasmInterface {
    pub name: String,
    pub dr_priority: u32,
    /// Keys of link messages on this interface.
    pub keys: Vec<crate::proto::auth::Key>,
}

/// `[[piasm.anycast]]`: one anycast address and its core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiasmAnycast {
    pub address: Ipv6Addr,
    /// The core address C joins go toward (shared by every core of it).
    pub core: Ipv6Addr,
    /// This router is a core of it (it owns `core`).
    pub core_here: bool,
    /// The router addresses of its other cores (only with `core_here`).
    pub peers: Vec<Ipv6Addr>,
    /// Take the shortcut when senders' packets pass here (not at a core).
    pub shortcut: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    pub socket: PathBuf,
    pub pin_dir: PathBuf,
    pub state_file: PathBuf,
    pub router_address: Option<Ipv6Addr>,
    pub hash_seed: u32,
    pub ptb_per_sec: u32,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            socket: PathBuf::from(DEFAULT_SOCKET),
            pin_dir: DataplaneOptions::default_pin_dir(),
            state_file: PathBuf::from(DEFAULT_STATE_FILE),
            router_address: None,
            hash_seed: DEFAULT_HASH_SEED,
            ptb_per_sec: DEFAULT_PTB_PER_SEC,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    pub name: String,
    pub xdp_mode: AttachMode,
    /// Which fast path forwards what arrives here.
    pub mode: IfaceMode,
    /// Where the name is written.
    pub pos: Pos,
}

/// The fast path of a forwarding interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IfaceMode {
    /// The XDP forwarding program (pinned; forwarding survives the daemon).
    #[default]
    Xdp,
    /// A steering XDP program and AF_XDP workers in anycast6d (the
    /// userspace engine; forwarding stops with the daemon, traffic then
    /// goes to the kernel).
    Afxdp,
}

impl IfaceMode {
    pub fn name(self) -> &'static str {
        match self {
            IfaceMode::Xdp => "xdp",
            IfaceMode::Afxdp => "afxdp",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupConfig {
    /// The group's name: its `address`, `prefix`, or the first of its
    /// `addresses`.
    pub route: Route,
    /// The rest of `addresses`: host routes sharing this group's members
    /// (one FIB group, one Maglev table).
    pub also: std::sync::Arc<[Route]>,
    pub members: Vec<MemberConfig>,
    pub pos: Pos,
}

/// Administrative state of a member (the fast path also knows `down`,
/// which the daemon sets while a member's neighbour is unresolved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AdminState {
    #[default]
    Active,
    Draining,
}

impl AdminState {
    pub fn name(self) -> &'static str {
        match self {
            AdminState::Active => "active",
            AdminState::Draining => "draining",
        }
    }
}

/// One `[[group.member]]`, also the shape of a runtime `member add`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberConfig {
    pub address: Ipv6Addr,
    pub interface: Option<String>,
    pub next_hop: Option<Ipv6Addr>,
    pub distance: u32,
    pub weight: u16,
    pub action: Action,
    pub encap_source: Option<Ipv6Addr>,
    pub state: AdminState,
}

impl MemberConfig {
    /// A member with every optional key at its default.
    pub fn new(address: Ipv6Addr, interface: Option<String>) -> MemberConfig {
        MemberConfig {
            address,
            interface,
            next_hop: None,
            distance: DEFAULT_DISTANCE,
            weight: DEFAULT_WEIGHT,
            action: Action::Rewrite,
            encap_source: None,
            state: AdminState::Active,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberRoleConfig {
    pub addresses: Vec<Ipv6Addr>,
    pub decap_interfaces: Vec<InterfaceConfig>,
    /// Draining: ARD reports the addresses draining (routers keep this
    /// member's flows, give it no new ones) and AARP queries get no answer.
    pub draining: bool,
    /// `[member.ard]`: announce `addresses` to the first-hop routers.
    pub ard: Option<ArdMemberConfig>,
}

/// `[ard]` (router side of ARD, docs/ard.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArdRouterConfig {
    pub interfaces: Vec<String>,
    pub query_interval: std::time::Duration,
    pub max_response_delay: std::time::Duration,
    pub min_hold: std::time::Duration,
    pub max_hold: std::time::Duration,
    /// `max_addresses_per_member` (`per_key`), `max_addresses` (`total`),
    /// `addresses_warn_percent`.
    pub limit: crate::proto::LimitConfig,
    pub max_addresses_per_interface: usize,
    pub keys: Vec<crate::proto::auth::Key>,
}

/// `[member.ard]` (member side of ARD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArdMemberConfig {
    pub interfaces: Vec<String>,
    pub unicast: Ipv6Addr,
    pub metric: u32,
    pub hold: std::time::Duration,
    pub report_interval: std::time::Duration,
    pub keys: Vec<crate::proto::auth::Key>,
    pub health_check: Option<HealthCheck>,
}

/// Withdraws the member's addresses while the check fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub probe: HealthProbe,
    pub interval: std::time::Duration,
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthProbe {
    /// `sh -c COMMAND`; healthy when it exits 0.
    Command(String),
    /// Healthy when a TCP connection to it opens.
    Tcp(std::net::SocketAddr),
}

impl Config {
    /// Options for `Dataplane::open`. Without `router_address` the Packet
    /// Too Big source is `::` (the fast path then drops what is too big
    /// with `drop_too_big` instead of answering).
    pub fn dataplane_options(&self) -> DataplaneOptions {
        DataplaneOptions {
            pin_dir: self.daemon.pin_dir.clone(),
            capacities: self.capacities,
            hash_seed: self.daemon.hash_seed,
            router_addr: self.daemon.router_address.unwrap_or(Ipv6Addr::UNSPECIFIED),
            ptb_per_sec: self.daemon.ptb_per_sec,
        }
    }

    /// The group named `route` (its first address, or its prefix).
    pub fn group(&self, route: &Route) -> Option<&GroupConfig> {
        self.groups.iter().find(|g| &g.route == route)
    }

    /// Every route the config installs (group names and their `also`).
    pub fn route_count(&self) -> usize {
        self.groups.iter().map(|g| 1 + g.also.len()).sum()
    }

    pub fn interface(&self, name: &str) -> Option<&InterfaceConfig> {
        self.interfaces.iter().find(|i| i.name == name)
    }

    /// Forwarding interfaces in `afxdp` mode.
    pub fn afxdp_interfaces(&self) -> impl Iterator<Item = &InterfaceConfig> {
        self.interfaces
            .iter()
            .filter(|i| i.mode == IfaceMode::Afxdp)
    }

    pub fn member_count(&self) -> usize {
        self.groups.iter().map(|g| g.members.len()).sum()
    }

    /// Every interface name the config needs to exist, with where it is written.
    pub fn needed_interfaces(&self) -> Vec<(&str, Pos)> {
        let mut v: Vec<(&str, Pos)> = self
            .interfaces
            .iter()
            .map(|i| (i.name.as_str(), i.pos))
            .collect();
        if let Some(m) = &self.member_role {
            v.extend(m.decap_interfaces.iter().map(|i| (i.name.as_str(), i.pos)));
        }
        v
    }
}

/// Parses and validates `text` (read from `file`).
pub fn parse(file: &str, text: &str) -> Result<Config, ConfigErrors> {
    validate::parse(file, text)
}

/// Reads, parses and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&file, &text),
        Err(e) => Err(ConfigErrors(vec![ConfigError {
            file,
            pos: Pos { line: 0, col: 0 },
            message: format!("cannot read: {e}"),
        }])),
    }
}

/// Checks against the running system: every listed interface exists.
/// `exists` answers for one interface name (the daemon asks netlink, which
/// sees the network namespace the process is in; sysfs may not).
pub fn check_environment(cfg: &Config, exists: impl Fn(&str) -> bool) -> Result<(), ConfigErrors> {
    let mut errors = Vec::new();
    for (name, pos) in cfg.needed_interfaces() {
        if !exists(name) {
            errors.push(ConfigError {
                file: cfg.file.clone(),
                pos,
                message: format!("interface {name:?} does not exist"),
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Parses an anycast group given as an address or a prefix
/// (`2001:db8:ac::1` or `2001:db8:ac::/64`), as in the mgmt API and CLI.
pub fn parse_route(s: &str) -> Result<Route, String> {
    if s.contains('/') {
        let n: ipnetwork::Ipv6Network = s
            .parse()
            .map_err(|e| format!("bad IPv6 prefix {s:?}: {e}"))?;
        Ok(Route::from_network(n))
    } else {
        let a: Ipv6Addr = s.parse().map_err(|_| format!("bad IPv6 address {s:?}"))?;
        Ok(Route::Host(a))
    }
}

/// `[mga]` (docs/mga.md §10): each role is present when its table is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MgaConfig {
    /// `keys`: SPI = key id.
    pub keys: Vec<crate::proto::auth::Key>,
    pub home_agent: Option<MgaHomeAgent>,
    pub member: Option<MgaMember>,
    pub correspondent: Option<MgaCorrespondent>,
}

/// `[mga.home_agent]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MgaHomeAgent {
    pub address: Ipv6Addr,
    /// The home link: A and the Home-Agents anycast address are held
    /// here.
    pub interface: String,
    pub anycast: Vec<Ipv6Addr>,
    pub peers: Vec<Ipv6Addr>,
    pub max_bindings: usize,
    pub max_lifetime: std::time::Duration,
}

/// `[mga.member]`: the anycast addresses are `[member] addresses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MgaMember {
    pub care_of: Ipv6Addr,
    /// Where the care-of address lives: the egress program goes here.
    pub interface: String,
    pub home_agents: Vec<Ipv6Addr>,
    pub discover: bool,
    pub lifetime: std::time::Duration,
    pub metric: u32,
    pub reverse_tunnel: bool,
    pub route_optimisation: bool,
    pub ro_after: std::time::Duration,
    pub ro_min_packets: u64,
    pub ro_lifetime: std::time::Duration,
    pub ro_idle: std::time::Duration,
    /// While it fails, the member deregisters (docs/mga.md §6.2).
    pub health_check: Option<HealthCheck>,
}

/// `[mga.correspondent]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MgaCorrespondent {
    pub interface: String,
    pub optimise: Vec<Ipv6Addr>,
    pub max_flow_bindings: usize,
    pub max_lifetime: std::time::Duration,
}
