//! The `data` of every reply, with stable keys (docs/mgmt-api.md). The
//! daemon builds them, anycast6ctl prints them as tables or passes them
//! through with `--json`.

use serde::{Deserialize, Serialize};

fn one() -> usize {
    1
}

/// `show groups`: one per configured group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    /// `2001:db8:ac::1` or `2001:db8:ac::/64`.
    pub group: String,
    /// `address`, `addresses` (several sharing the members) or `prefix`.
    pub kind: String,
    /// Routes the group installs (1 but for `addresses`).
    #[serde(default = "one")]
    pub addresses: usize,
    pub group_id: Option<u32>,
    /// Distance of the installed members (None: no member).
    pub best_distance: Option<u32>,
    /// Members in config + runtime overlays.
    pub members: usize,
    /// Members in the FIB (the best distance).
    pub installed: usize,
    /// Installed and active (new flows go to these).
    pub active: usize,
    pub draining: usize,
    pub down: usize,
}

/// `show members`: one per member of every group, installed or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub group: String,
    pub group_id: Option<u32>,
    pub address: String,
    pub interface: Option<String>,
    /// Egress interface index (0: none).
    pub ifindex: u32,
    /// L2 next hop (None for `local`).
    pub next_hop: Option<String>,
    /// resolved | pending | failed | none (local) | no-route | no-interface
    pub neighbour: String,
    pub mac: Option<String>,
    pub distance: u32,
    pub weight: u16,
    pub action: String,
    /// Administrative: active | draining.
    pub admin: String,
    /// In the FIB: active | draining | down; `not-installed` if not at the
    /// best distance, `duplicate` if another entry has the same address and egress.
    pub state: String,
    pub member_id: Option<u32>,
    /// config | runtime | ard | arip | aospf | pia-sm | mga | kernel
    pub source: String,
    /// The source's administrative distance (`[rib.distance]`): the
    /// smallest wins before the metric (`distance`) counts.
    #[serde(default)]
    pub admin_distance: u8,
    /// In the FIB (active, draining or down), not waiting behind a better
    /// source or metric.
    #[serde(default)]
    pub installed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibRouteView {
    pub route: String,
    pub group_id: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibMemberView {
    pub member_id: u32,
    pub unicast: String,
    pub encap_src: String,
    pub ifindex: u32,
    pub dmac: String,
    pub smac: String,
    pub mtu: u16,
    pub action: String,
    pub state: String,
    pub weight: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibGroupView {
    pub group_id: u32,
    pub gen: u32,
    pub maglev_block: u32,
    pub maglev_len: u32,
    pub members: Vec<FibMemberView>,
}

/// `show fib`: what the pinned maps hold, read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibView {
    pub routes: Vec<FibRouteView>,
    pub groups: Vec<FibGroupView>,
    pub tx_ports: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    /// Stable name, e.g. `fwd_rewrite`, `drop_trunc_ipv6`.
    pub reason: String,
    /// redirect | tx | pass | drop
    pub verdict: String,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCount {
    pub group_id: u32,
    pub group: Option<String>,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberCount {
    pub member_id: u32,
    pub group: Option<String>,
    pub address: Option<String>,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecapCount {
    pub reason: String,
    pub packets: u64,
    pub bytes: u64,
}

/// `show counters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountersView {
    /// Every reason of the forwarding program, in ABI order.
    pub reasons: Vec<ReasonCount>,
    pub groups: Vec<GroupCount>,
    pub members: Vec<MemberCount>,
    /// Member role: the decapsulation program's reasons.
    pub decap: Vec<DecapCount>,
    /// The forwarding program's tunnel end point (`a6_tun_stats`, with the
    /// AF_XDP workers' counts added): packets decapsulated and forwarded
    /// as their inner packet (PIA-SM branches), by reason. Empty when
    /// nothing was ever counted.
    #[serde(default)]
    pub tunnel: Vec<DecapCount>,
    /// The AF_XDP workers' own counters and their sockets' XDP_STATISTICS
    /// (None: no interface in afxdp mode). Their reason, group and member
    /// counts are already added into the tables above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub afxdp: Option<AfxdpCountersView>,
}

/// `show counters`, AF_XDP part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfxdpCountersView {
    pub workers: usize,
    pub io: anycast6_afxdp::IoCounters,
    /// Summed over sockets.
    pub xdp: anycast6_afxdp::XdpStats,
    pub sockets: Vec<anycast6_afxdp::SocketReport>,
    /// The kernel exception path: its TUN device and the frames written
    /// into it by reason (None: no exception device). `io.pass_not_reinjected`
    /// counts every frame for the kernel that did not get there: queue
    /// full at a worker, or refused by the device (`write_errors`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<anycast6_afxdp::ExceptionReport>,
}

/// The fast path of one forwarding interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfaceModeView {
    pub interface: String,
    /// xdp | afxdp copy | afxdp zero-copy | afxdp (not running)
    pub mode: String,
    /// Rx queues served by AF_XDP workers.
    pub queues: Option<u32>,
}

/// `show interfaces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceView {
    pub name: String,
    /// forward | decap
    pub role: String,
    pub ifindex: Option<u32>,
    /// Configured: native | generic | native-or-generic.
    pub xdp_mode: String,
    /// Attached in: native | generic (None: not attached).
    pub attached: Option<String>,
    pub prog_id: Option<u32>,
    pub link_pin: Option<String>,
    pub mac: Option<String>,
    pub mtu: Option<u32>,
    pub up: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapView {
    pub name: String,
    pub id: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedView {
    pub interface: String,
    /// forward | decap
    pub role: String,
    pub ifindex: u32,
    pub mode: String,
    pub prog_id: u32,
    pub link_pin: String,
}

/// `show dataplane`: the pinned objects (all stable across a daemon restart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataplaneView {
    pub pin_dir: String,
    pub maps: Vec<MapView>,
    /// The forwarding program's id, as the pinned links run it (None: no
    /// interface attached).
    pub program_id: Option<u32>,
    /// Forwarding links, then decap links.
    pub attached: Vec<AttachedView>,
    /// Every forwarding interface with its fast path.
    #[serde(default)]
    pub interfaces: Vec<IfaceModeView>,
    /// The AF_XDP path's exception device (TUN), through which frames
    /// for the kernel go back to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_device: Option<String>,
}

/// Reply to `reload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadView {
    pub config: String,
    pub groups: usize,
    pub members: usize,
    /// FIB operations applied.
    pub operations: usize,
    pub attached: Vec<String>,
    pub detached: Vec<String>,
    /// Runtime overlays kept (they still refer to configured members).
    pub overlays_kept: usize,
    /// Runtime overlays dropped, each with the reason.
    pub overlays_dropped: Vec<String>,
    /// Member-role steps that failed (the FIB part was applied).
    pub warnings: Vec<String>,
    /// `reload --confirm`: rolled back unless `confirm` arrives in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<ConfirmPendingView>,
    /// A plain reload while one awaited confirmation confirms that one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirmed_pending: bool,
}

/// A reload that rolls back unless confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmPendingView {
    /// Seconds from this reload to the rollback.
    pub timeout_s: u32,
    /// Unix time of the rollback.
    pub rollback_at_unix: u64,
    /// The config that runs again on rollback: loaded at this time (the
    /// last confirmed or plain reload, or the start).
    pub rollback_to_loaded_unix: u64,
}

/// Reply to `confirm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmView {
    pub config: String,
    /// Seconds that were left before the rollback.
    pub seconds_left: u64,
}

/// Reply to `reload_diff`: what a reload would do now, applied nowhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadDiffView {
    pub config: String,
    /// Why a reload would be refused (file:line:col), if it would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Key by key, the running config's text against the file's.
    pub keys: Vec<crate::config::diff::KeyChange>,
    pub interfaces_attach: Vec<String>,
    pub interfaces_detach: Vec<String>,
    pub groups_added: Vec<String>,
    pub groups_removed: Vec<String>,
    /// `group member%interface`, configured and runtime members together.
    pub members_added: Vec<String>,
    pub members_removed: Vec<String>,
    pub members_changed: Vec<String>,
    /// `[section]: start|stop|change`.
    pub sections: Vec<String>,
    pub overlays_dropped: Vec<String>,
    /// A reload awaits confirmation (this diff is against it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unconfirmed: bool,
}

/// Reply to `member add|remove|drain|undrain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberChangeView {
    pub group: String,
    pub address: String,
    pub interface: Option<String>,
    /// added | removed | draining | active
    pub change: String,
    pub operations: usize,
}

/// Reply to `destroy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestroyView {
    pub pin_dir: String,
    /// Managed neighbour entries and `lo` addresses removed.
    pub kernel_objects_removed: usize,
}

/// Reply to `shutdown`: sent once everything is done, just before the
/// daemon exits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShutdownView {
    pub graceful: bool,
    pub state_file: String,
    /// The graceful restart AOSPF announced (null: not graceful, or AOSPF
    /// not running).
    pub aospf: Option<GracefulRestartView>,
    /// Managed neighbour entries left for the next process (graceful).
    pub neighbours_kept: usize,
}

/// What `shutdown --graceful` left for the next process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GracefulRestartView {
    /// Start the next anycast6d before this (Unix time, seconds).
    pub until_unix: u64,
    pub grace_period_s: u64,
    /// Every neighbour acknowledged the Grace-LSAs (within 4 s).
    pub acknowledged: bool,
    /// AOSPF routes left in the kernel.
    pub kernel_routes: usize,
    /// Anycast members AOSPF had taught, saved for the next process.
    pub members: usize,
}
