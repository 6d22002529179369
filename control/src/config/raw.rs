//! The config file as written: every value keeps its span so validation can
//! say where a mistake is. Values whose meaning we check ourselves
//! (addresses, ranges, names of modes) are read as strings and integers, so
//! the error message is ours and points at the value.

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub daemon: Option<S<RawDaemon>>,
    pub capacities: Option<S<RawCapacities>>,
    #[serde(default)]
    pub interface: Vec<S<RawInterface>>,
    #[serde(default)]
    pub group: Vec<S<RawGroup>>,
    pub member: Option<S<RawMemberRole>>,
    pub ard: Option<S<RawArdRouter>>,
    pub arip: Option<S<RawArip>>,
    pub aarp: Option<S<RawAarp>>,
    pub aospf: Option<S<RawAospf>>,
    // Not spanned: `[[piasm.interface]]` alone makes `piasm` an implicit
    // table, which has no span (a spanned one fails with a message that
    // names no key).
    pub piasm: Option<RawPiasm>,
    // Not spanned, as `piasm`: `[mga.member]` alone makes `mga` implicit.
    pub mga: Option<RawMga>,
    // Not spanned: `[rib.distance]` alone makes `rib` an implicit table,
    // which has no span; the values inside keep theirs.
    pub rib: Option<RawRib>,
    pub kernel_import: Option<S<RawKernelImport>>,
    pub metrics: Option<S<RawMetrics>>,
}

/// `[metrics]`: the Prometheus listener (docs/metrics.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: S<String>,
}

/// `[kernel_import]`: anycast members from the kernel's routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKernelImport {
    pub protocols: S<Vec<S<RawNameOrNumber>>>,
    pub table: Option<S<RawNameOrNumber>>,
    pub prefixes: Option<S<Vec<S<String>>>>,
    pub max_routes: Option<S<i64>>,
    pub routes_warn_percent: Option<S<i64>>,
    pub settle_ms: Option<S<i64>>,
}

/// A route protocol or table: `"bird"` or `12`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawNameOrNumber {
    Number(i64),
    Name(String),
}

/// `[rib]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRib {
    pub distance: Option<RawDistances>,
}

/// `[rib.distance]`: administrative distance per source (smaller wins).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDistances {
    pub config: Option<S<i64>>,
    pub runtime: Option<S<i64>>,
    pub ard: Option<S<i64>>,
    pub arip: Option<S<i64>>,
    pub aospf: Option<S<i64>>,
    #[serde(rename = "pia-sm")]
    pub pia_sm: Option<S<i64>>,
    pub mga: Option<S<i64>>,
    pub kernel: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAarp {
    pub answer_for_members: Option<S<bool>>,
    pub unicast: Option<S<String>>,
    pub lifetime_ms: Option<S<i64>>,
    pub preference: Option<S<i64>>,
    #[serde(default)]
    pub keys: Vec<S<RawKey>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArip {
    pub interfaces: S<Vec<S<String>>>,
    pub update_interval_ms: Option<S<i64>>,
    pub update_jitter_ms: Option<S<i64>>,
    pub timeout_ms: Option<S<i64>>,
    pub garbage_ms: Option<S<i64>>,
    pub triggered_min_ms: Option<S<i64>>,
    pub triggered_max_ms: Option<S<i64>>,
    pub anycast_tag: Option<S<i64>>,
    pub check_hop_limit: Option<S<bool>>,
    /// Alias of `originate.connected`.
    pub redistribute_connected: Option<S<bool>>,
    // Not spanned: `[[arip.originate.static]]` alone makes `originate` an
    // implicit table, which has no span.
    pub originate: Option<RawOriginate>,
    pub max_routes: Option<S<i64>>,
    pub max_routes_per_neighbor: Option<S<i64>>,
    pub routes_warn_percent: Option<S<i64>>,
    #[serde(default)]
    pub keys: Vec<S<RawKey>>,
}

/// `[aospf]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAospf {
    pub router_id: S<String>,
    pub area: Option<S<RawAreaId>>,
    pub instance_id: Option<S<i64>>,
    pub spf_delay_ms: Option<S<i64>>,
    pub spf_hold_ms: Option<S<i64>>,
    pub lsa_min_interval_ms: Option<S<i64>>,
    pub max_lsas: Option<S<i64>>,
    pub graceful_restart_helper: Option<S<bool>>,
    pub grace_period_s: Option<S<i64>>,
    #[serde(default)]
    pub interface: Vec<S<RawAospfInterface>>,
    // Not spanned, as `[arip.originate]`.
    pub originate: Option<RawOriginate>,
}

/// An OSPF area id: `"0.0.0.1"` or `1`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawAreaId {
    Number(i64),
    Dotted(String),
}

/// `[[aospf.interface]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAospfInterface {
    pub name: S<String>,
    pub network: Option<S<String>>,
    pub cost: Option<S<i64>>,
    pub priority: Option<S<i64>>,
    pub hello_interval_s: Option<S<i64>>,
    pub dead_interval_s: Option<S<i64>>,
    pub retransmit_interval_s: Option<S<i64>>,
    pub transmit_delay_s: Option<S<i64>>,
    pub passive: Option<S<bool>>,
    pub auth: Option<S<RawAospfAuth>>,
}

/// `auth = { key_id = 1, key = "..." }` (or `key_file = "/path"`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAospfAuth {
    pub key_id: S<i64>,
    pub key: Option<S<String>>,
    pub key_file: Option<S<String>>,
    pub key_prep: Option<S<String>>,
}

/// `[piasm]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPiasm {
    pub router_address: S<String>,
    pub hello_interval_s: Option<S<i64>>,
    pub join_interval_s: Option<S<i64>>,
    pub max_branches: Option<S<i64>>,
    #[serde(default)]
    pub keys: Vec<S<RawKey>>,
    #[serde(default)]
    pub interface: Vec<S<RawPiasmInterface>>,
    #[serde(default)]
    pub anycast: Vec<S<RawPiasmAnycast>>,
}

/// `[[piasm.interface]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPiasmInterface {
    pub name: S<String>,
    pub dr_priority: Option<S<i64>>,
    #[serde(default)]
    pub keys: Vec<S<RawKey>>,
}

/// `[[piasm.anycast]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPiasmAnycast {
    pub address: S<String>,
    pub core: S<String>,
    pub core_here: Option<S<bool>>,
    pub peers: Option<S<Vec<S<String>>>>,
    pub shortcut: Option<S<bool>>,
}

/// `[<protocol>.originate]`: what a routing protocol announces.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOriginate {
    pub connected: Option<S<bool>>,
    pub connected_metric: Option<S<i64>>,
    #[serde(default, rename = "static")]
    pub statics: Vec<S<RawStaticPrefix>>,
    pub anycast: Option<S<bool>>,
}

/// `{ prefix = "2001:db8:99::/48", metric = 2 }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStaticPrefix {
    pub prefix: S<String>,
    pub metric: Option<S<i64>>,
}

/// `{ id = 1, secret = "..." }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub id: S<i64>,
    pub secret: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArdRouter {
    pub interfaces: S<Vec<S<String>>>,
    pub query_interval_ms: Option<S<i64>>,
    pub max_response_delay_ms: Option<S<i64>>,
    pub min_hold_ms: Option<S<i64>>,
    pub max_hold_ms: Option<S<i64>>,
    pub max_addresses: Option<S<i64>>,
    pub max_addresses_per_member: Option<S<i64>>,
    pub max_addresses_per_interface: Option<S<i64>>,
    pub addresses_warn_percent: Option<S<i64>>,
    #[serde(default)]
    pub keys: Vec<S<RawKey>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArdMember {
    pub interfaces: S<Vec<S<String>>>,
    pub unicast: S<String>,
    pub metric: Option<S<i64>>,
    pub hold_ms: Option<S<i64>>,
    pub report_interval_ms: Option<S<i64>>,
    #[serde(default)]
    pub keys: Vec<S<RawKey>>,
    pub health_check: Option<S<RawHealthCheck>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    pub command: Option<S<String>>,
    pub tcp: Option<S<String>>,
    pub interval_ms: Option<S<i64>>,
    pub timeout_ms: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    pub socket: Option<S<String>>,
    pub pin_dir: Option<S<String>>,
    pub state_file: Option<S<String>>,
    pub router_address: Option<S<String>>,
    pub hash_seed: Option<S<i64>>,
    pub ptb_per_sec: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapacities {
    pub fib_entries: Option<S<i64>>,
    pub prefix_entries: Option<S<i64>>,
    pub groups: Option<S<i64>>,
    pub maglev_blocks: Option<S<i64>>,
    pub affinity_entries: Option<S<i64>>,
    pub tx_ports: Option<S<i64>>,
    pub member_ids: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInterface {
    pub name: S<String>,
    pub xdp_mode: Option<S<String>>,
    pub mode: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    pub address: Option<S<String>>,
    pub addresses: Option<S<Vec<S<String>>>>,
    pub prefix: Option<S<String>>,
    #[serde(default)]
    pub member: Vec<S<RawMember>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMember {
    pub address: S<String>,
    pub interface: Option<S<String>>,
    pub next_hop: Option<S<String>>,
    pub distance: Option<S<i64>>,
    pub weight: Option<S<i64>>,
    pub action: Option<S<String>>,
    pub encap_source: Option<S<String>>,
    pub state: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMemberRole {
    #[serde(default)]
    pub addresses: Vec<S<String>>,
    #[serde(default)]
    pub decap_interfaces: Vec<S<String>>,
    pub draining: Option<S<bool>>,
    pub ard: Option<S<RawArdMember>>,
}

/// `[mga]` (docs/mga.md §10): keys, and one table per role.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMga {
    #[serde(default)]
    pub keys: Vec<S<RawKey>>,
    pub home_agent: Option<S<RawMgaHomeAgent>>,
    pub member: Option<S<RawMgaMember>>,
    pub correspondent: Option<S<RawMgaCorrespondent>>,
}

/// `[mga.home_agent]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMgaHomeAgent {
    pub address: S<String>,
    pub interface: S<String>,
    pub anycast: S<Vec<S<String>>>,
    #[serde(default)]
    pub peers: Vec<S<String>>,
    pub max_bindings: Option<S<i64>>,
    pub max_lifetime_s: Option<S<i64>>,
}

/// `[mga.member]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMgaMember {
    pub care_of: S<String>,
    pub interface: S<String>,
    #[serde(default)]
    pub home_agents: Vec<S<String>>,
    pub discover: Option<S<bool>>,
    pub lifetime_s: Option<S<i64>>,
    pub metric: Option<S<i64>>,
    pub reverse_tunnel: Option<S<bool>>,
    pub route_optimisation: Option<S<bool>>,
    pub ro_after_ms: Option<S<i64>>,
    pub ro_min_packets: Option<S<i64>>,
    pub ro_lifetime_s: Option<S<i64>>,
    pub ro_idle_ms: Option<S<i64>>,
    pub health_check: Option<S<RawHealthCheck>>,
}

/// `[mga.correspondent]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMgaCorrespondent {
    pub interface: S<String>,
    pub optimise: S<Vec<S<String>>>,
    pub max_flow_bindings: Option<S<i64>>,
    pub max_lifetime_s: Option<S<i64>>,
}
