//! Rust mirror of `ebpf/include/anycast6_abi.h`, the one ABI between the eBPF
//! programs and userspace. Every size and offset is pinned at compile time:
//! if the header changes and this file does not, the build fails.

use std::mem::{offset_of, size_of};

pub const ABI_VERSION: u32 = 7;

/// UDP destination port of AARP queries (docs/aarp.md).
pub const AARP_PORT: u16 = 5360;

/// bpffs directory of everything anycast6 pins, versioned by the ABI.
pub const PIN_ROOT: &str = "/sys/fs/bpf/anycast6";

/// Map names (pinned under `PIN_ROOT/v<ABI>/` by these names).
pub mod map {
    pub const FIB: &str = "a6_fib";
    pub const FIB_PREFIX: &str = "a6_fib_prefix";
    pub const GROUPS: &str = "a6_groups";
    pub const MAGLEV: &str = "a6_maglev";
    pub const AFFINITY: &str = "a6_affinity";
    pub const TX_PORTS: &str = "a6_tx_ports";
    pub const STATS: &str = "a6_stats";
    pub const GROUP_STATS: &str = "a6_group_stats";
    pub const MEMBER_STATS: &str = "a6_member_stats";
    pub const PTB_RATE: &str = "a6_ptb_rate";
    pub const DECAP_ADDRS: &str = "a6_decap_addrs";
    pub const DECAP_STATS: &str = "a6_decap_stats";
    /// XSKMAP of the AF_XDP steering program (one per interface, not pinned).
    pub const XSKS: &str = "a6_xsks";
    /// Element 0 = 1: AARP queries to owned addresses go to the kernel.
    pub const AARP: &str = "a6_aarp";
    /// Ingress interfaces -> their own MAC (`Iface`).
    pub const IFACES: &str = "a6_ifaces";
    /// This router's tunnel end points (`FibKey` -> 1), ABI 5.
    pub const TUN_LOCAL: &str = "a6_tun_local";
    /// Decapsulations at the end points (`super::tun_reason`), ABI 5.
    pub const TUN_STATS: &str = "a6_tun_stats";
    /// MGA member: anycast address -> `MgaHome` (ABI 6).
    pub const MGA_HOMES: &str = "a6_mga_homes";
    /// MGA member: route-optimised flows, `MgaFlow` -> `MgaRo`.
    pub const MGA_RO: &str = "a6_mga_ro";
    /// MGA member: per-flow traffic from A (LRU), `MgaFlow` -> `MgaFlowCount`.
    pub const MGA_FLOWS: &str = "a6_mga_flows";
    /// MGA member egress counters (`super::mga_member_reason`).
    pub const MGA_M_STATS: &str = "a6_mga_m_stats";
    /// MGA correspondent: flow bindings, `MgaFlow` -> `MgaCnFlow`.
    pub const MGA_CN_FLOWS: &str = "a6_mga_cn_flows";
    /// MGA correspondent counters (`super::mga_cn_reason`).
    pub const MGA_C_STATS: &str = "a6_mga_c_stats";
    /// Capture settings, element 0 = `CapCfg` (ABI 7; docs/capture.md).
    pub const CAP_CFG: &str = "a6_cap_cfg";
    /// Capture counters of the session, element 0 = `CapStats`.
    pub const CAP_STATS: &str = "a6_cap_stats";
    /// Ring buffer of `CapRec` records.
    pub const CAP_RING: &str = "a6_cap_ring";
    /// Maps of the MGA member program, in pin order.
    pub const MGA_MEMBER_ALL: [&str; 4] = [MGA_HOMES, MGA_RO, MGA_FLOWS, MGA_M_STATS];
    /// Maps of the MGA correspondent programs, in pin order.
    pub const MGA_CN_ALL: [&str; 2] = [MGA_CN_FLOWS, MGA_C_STATS];
    /// Maps of the forwarding program, in pin order.
    pub const XDP_ALL: [&str; 17] = [
        FIB,
        FIB_PREFIX,
        GROUPS,
        MAGLEV,
        AFFINITY,
        TX_PORTS,
        STATS,
        GROUP_STATS,
        MEMBER_STATS,
        PTB_RATE,
        AARP,
        IFACES,
        TUN_LOCAL,
        TUN_STATS,
        CAP_CFG,
        CAP_STATS,
        CAP_RING,
    ];
}

/// Program names (the C function names).
pub mod prog {
    pub const XDP: &str = "anycast6_xdp";
    pub const DECAP: &str = "anycast6_decap";
    pub const HASH_PROBE: &str = "anycast6_hash_probe";
    pub const XSK: &str = "anycast6_xsk";
    /// MGA member egress (tc), `ebpf/mga_member.bpf.c`.
    pub const MGA_MEMBER: &str = "anycast6_mga_member";
    /// MGA correspondent egress (tc), `ebpf/mga_cn.bpf.c`.
    pub const MGA_CN_EGRESS: &str = "anycast6_mga_cn_egress";
    /// MGA correspondent ingress (XDP), `ebpf/mga_cn.bpf.c`.
    pub const MGA_CN_INGRESS: &str = "anycast6_mga_cn_ingress";
}

/// Name of the `volatile const struct a6_config` global.
pub const CONFIG_GLOBAL: &str = "a6_cfg";

pub const MAX_MEMBERS: usize = 32;
pub const MAGLEV_BLOCK: usize = 64;
pub const MAGLEV_MAX_LEN: u32 = 65537;
pub const MAX_EXT_HDRS: usize = 8;
pub const MAX_HBH_OPTS: usize = 8;

pub const DEF_FIB_ENTRIES: u32 = 65536;
pub const DEF_PREFIX_ENTRIES: u32 = 4096;
pub const DEF_GROUPS: u32 = 16384;
pub const DEF_MAGLEV_BLOCKS: u32 = 65536;
pub const DEF_AFFINITY_ENTRIES: u32 = 262144;
pub const DEF_TX_PORTS: u32 = 256;
pub const DEF_MEMBER_IDS: u32 = 65536;
pub const DEF_DECAP_ADDRS: u32 = 1024;
pub const DEF_IFACES: u32 = 256;
pub const DEF_TUN_LOCAL: u32 = 64;
pub const DEF_MGA_HOMES: u32 = 1024;
pub const DEF_MGA_RO: u32 = 16384;
pub const DEF_MGA_FLOWS: u32 = 65536;
pub const DEF_MGA_CN_FLOWS: u32 = 16384;
/// Rx queues an `afxdp` interface can steer to sockets (`a6_xsks` size).
pub const XSK_MAX_QUEUES: u32 = 64;

pub const ACT_REWRITE: u8 = 1;
pub const ACT_ENCAP: u8 = 2;
pub const ACT_LOCAL: u8 = 3;

pub const STATE_ACTIVE: u8 = 1;
pub const STATE_DRAINING: u8 = 2;
pub const STATE_DOWN: u8 = 3;

pub const FIB_F_PREFIX: u32 = 1;

/// Reasons: index into the `a6_stats` per-CPU array. Names are what
/// `anycast6ctl show counters` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Reason {
    FwdRewrite = 0,
    FwdEncap = 1,
    TxPtb = 2,
    PassNotIpv6 = 3,
    PassMulticast = 4,
    PassNotAnycast = 5,
    PassNd = 6,
    PassHopLimit = 7,
    PassLocal = 8,
    PassNoMember = 9,
    PassNoGroup = 10,
    PassNoPort = 11,
    DropTruncEth = 12,
    DropTruncVlan = 13,
    DropTruncIpv6 = 14,
    DropBadIpv6 = 15,
    DropTruncExt = 16,
    /// ABI 3: was `drop_ext_chain`; a longer chain is valid IPv6.
    PassExtChain = 17,
    DropTruncL4 = 18,
    DropAdjust = 19,
    DropPtbRate = 20,
    DropBadFrag = 21,
    DropTooBig = 22,
    /// Added in ABI 2.
    PassAarp = 23,
    /// Added in ABI 3 (24..=32): what a router may forward.
    DropNotOurMac = 24,
    PassL2Multicast = 25,
    PassUnknownIface = 26,
    DropBadSrc = 27,
    PassLinkLocalSrc = 28,
    DropSrcAnycast = 29,
    DropBadHbh = 30,
    DropBadJumbo = 31,
    PassHbhOptions = 32,
}

pub const REASON_MAX: u32 = 33;

/// The XDP verdict a reason implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Redirect,
    Tx,
    Pass,
    Drop,
}

impl Reason {
    pub const ALL: [Reason; REASON_MAX as usize] = [
        Reason::FwdRewrite,
        Reason::FwdEncap,
        Reason::TxPtb,
        Reason::PassNotIpv6,
        Reason::PassMulticast,
        Reason::PassNotAnycast,
        Reason::PassNd,
        Reason::PassHopLimit,
        Reason::PassLocal,
        Reason::PassNoMember,
        Reason::PassNoGroup,
        Reason::PassNoPort,
        Reason::DropTruncEth,
        Reason::DropTruncVlan,
        Reason::DropTruncIpv6,
        Reason::DropBadIpv6,
        Reason::DropTruncExt,
        Reason::PassExtChain,
        Reason::DropTruncL4,
        Reason::DropAdjust,
        Reason::DropPtbRate,
        Reason::DropBadFrag,
        Reason::DropTooBig,
        Reason::PassAarp,
        Reason::DropNotOurMac,
        Reason::PassL2Multicast,
        Reason::PassUnknownIface,
        Reason::DropBadSrc,
        Reason::PassLinkLocalSrc,
        Reason::DropSrcAnycast,
        Reason::DropBadHbh,
        Reason::DropBadJumbo,
        Reason::PassHbhOptions,
    ];

    pub fn from_index(i: u32) -> Option<Reason> {
        Self::ALL.get(i as usize).copied()
    }

    /// Stable, human- and tool-readable name (also the `--json` key).
    pub fn name(self) -> &'static str {
        match self {
            Reason::FwdRewrite => "fwd_rewrite",
            Reason::FwdEncap => "fwd_encap",
            Reason::TxPtb => "tx_packet_too_big",
            Reason::PassNotIpv6 => "pass_not_ipv6",
            Reason::PassMulticast => "pass_multicast",
            Reason::PassNotAnycast => "pass_not_anycast",
            Reason::PassNd => "pass_nd",
            Reason::PassHopLimit => "pass_hop_limit",
            Reason::PassLocal => "pass_local_member",
            Reason::PassNoMember => "pass_no_member",
            Reason::PassNoGroup => "pass_no_group",
            Reason::PassNoPort => "pass_no_port",
            Reason::DropTruncEth => "drop_trunc_eth",
            Reason::DropTruncVlan => "drop_trunc_vlan",
            Reason::DropTruncIpv6 => "drop_trunc_ipv6",
            Reason::DropBadIpv6 => "drop_bad_ipv6",
            Reason::DropTruncExt => "drop_trunc_ext",
            Reason::PassExtChain => "pass_ext_chain",
            Reason::DropTruncL4 => "drop_trunc_l4",
            Reason::DropAdjust => "drop_adjust",
            Reason::DropPtbRate => "drop_ptb_ratelimit",
            Reason::DropBadFrag => "drop_bad_frag",
            Reason::DropTooBig => "drop_too_big",
            Reason::PassAarp => "pass_aarp",
            Reason::DropNotOurMac => "drop_not_our_mac",
            Reason::PassL2Multicast => "pass_l2_multicast",
            Reason::PassUnknownIface => "pass_unknown_iface",
            Reason::DropBadSrc => "drop_bad_src",
            Reason::PassLinkLocalSrc => "pass_link_local_src",
            Reason::DropSrcAnycast => "drop_src_anycast",
            Reason::DropBadHbh => "drop_bad_hbh",
            Reason::DropBadJumbo => "drop_bad_jumbo",
            Reason::PassHbhOptions => "pass_hbh_options",
        }
    }

    /// Every reason's verdict, listed (numbers are not grouped by verdict
    /// since ABI 3); `A6_R_REDIRECT_MASK` / `A6_R_PASS_MASK` in the C
    /// header say the same (checked by a test against the header).
    pub fn verdict(self) -> Verdict {
        use Reason::*;
        match self {
            // Packet Too Big goes back out of the ingress by redirect (a
            // veth drops XDP_TX frames unless its peer runs XDP).
            FwdRewrite | FwdEncap | TxPtb => Verdict::Redirect,
            PassNotIpv6 | PassMulticast | PassNotAnycast | PassNd | PassHopLimit | PassLocal
            | PassNoMember | PassNoGroup | PassNoPort | PassExtChain | PassAarp
            | PassL2Multicast | PassUnknownIface | PassLinkLocalSrc | PassHbhOptions => {
                Verdict::Pass
            }
            DropTruncEth | DropTruncVlan | DropTruncIpv6 | DropBadIpv6 | DropTruncExt
            | DropTruncL4 | DropAdjust | DropPtbRate | DropBadFrag | DropTooBig | DropNotOurMac
            | DropBadSrc | DropSrcAnycast | DropBadHbh | DropBadJumbo => Verdict::Drop,
        }
    }
}

/// Member-side decap program reasons (`a6_decap_stats`).
pub mod decap_reason {
    pub const DECAP: u32 = 0;
    pub const PASS_OTHER: u32 = 1;
    pub const PASS_NOT_OURS: u32 = 2;
    pub const DROP_TRUNC: u32 = 3;
    pub const DROP_ADJUST: u32 = 4;
    /// ABI 6: type 2 routing header with a served Home Address removed.
    pub const RH2: u32 = 5;
    /// ABI 6: type 2 routing header with Hdr Ext Len != 2 or Segments Left != 1.
    pub const DROP_RH2_BAD: u32 = 6;
    /// ABI 6: type 2 routing header whose Home Address is not served.
    pub const PASS_RH2_NOT_OURS: u32 = 7;
    pub const MAX: u32 = 8;
    pub const NAMES: [&str; MAX as usize] = [
        "decap",
        "pass_not_tunnel",
        "pass_not_served",
        "drop_trunc",
        "drop_adjust",
        "rh2",
        "drop_rh2_bad",
        "pass_rh2_not_served",
    ];
}

/// MGA (docs/mga.md section 8, ABI 6): flags, option types, sizes.
pub mod mga {
    /// `MgaHome::flags`: tunnel packets from A to the home agent.
    pub const F_REVERSE_TUNNEL: u32 = 1;
    /// `MgaRo::flags`: insert the Home Address option.
    pub const F_HAO_ON: u32 = 1;
    pub const OPT_HAO: u8 = 201;
    pub const RH_TYPE2: u8 = 2;
    /// Octets of the type 2 routing header and of the Destination Options
    /// header with the Home Address option, as MGA builds them.
    pub const EXT_LEN: usize = 24;
    pub const TUN_HOP_LIMIT: u8 = 64;
}

/// MGA member egress reasons (`a6_mga_m_stats`, `A6_MM_*`).
pub mod mga_member_reason {
    pub const HAO: u32 = 0;
    pub const TUNNEL: u32 = 1;
    pub const DIRECT: u32 = 2;
    pub const PASS_OTHER: u32 = 3;
    pub const DROP_ADJUST: u32 = 4;
    pub const DROP_TOO_BIG: u32 = 5;
    pub const MAX: u32 = 6;
    pub const NAMES: [&str; MAX as usize] = [
        "hao",
        "reverse_tunnel",
        "direct",
        "pass_other",
        "drop_adjust",
        "drop_too_big",
    ];
}

/// MGA correspondent reasons (`a6_mga_c_stats`, `A6_MC_*`): egress, then ingress.
pub mod mga_cn_reason {
    pub const RH2: u32 = 0;
    pub const PASS_UNBOUND: u32 = 1;
    pub const PASS_OTHER: u32 = 2;
    pub const DROP_ADJUST: u32 = 3;
    pub const DROP_TOO_BIG: u32 = 4;
    pub const HAO: u32 = 5;
    pub const DROP_HAO_UNKNOWN: u32 = 6;
    pub const DROP_HAO_BAD: u32 = 7;
    pub const PASS_NO_HAO: u32 = 8;
    pub const DROP_XDP_ADJUST: u32 = 9;
    pub const MAX: u32 = 10;
    pub const NAMES: [&str; MAX as usize] = [
        "rh2",
        "pass_unbound",
        "pass_other",
        "drop_adjust",
        "drop_too_big",
        "hao",
        "hao_unknown",
        "drop_hao_bad",
        "pass_no_hao",
        "drop_xdp_adjust",
    ];
}

/// Router-side tunnel end point counters (`a6_tun_stats`, `A6_T_*`): kept
/// besides `a6_stats`, which counts the inner packet's verdict.
pub mod tun_reason {
    /// Outer header removed; the inner packet went through the pipeline.
    pub const DECAP: u32 = 0;
    /// Tunnelled to an end point with the inner header cut short (dropped,
    /// `drop_trunc_ipv6` in `a6_stats`).
    pub const DROP_TRUNC: u32 = 1;
    pub const MAX: u32 = 2;
    pub const NAMES: [&str; MAX as usize] = ["decap", "drop_trunc_inner"];
}

/// Capture (docs/capture.md, ABI 7): `A6_CAP_*`.
pub mod cap {
    /// Frame bytes a record holds (`CapRec::data`).
    pub const SNAP_MAX: usize = 2048;
    /// Snaplen when `CapCfg::snaplen` is 0.
    pub const SNAP_DEF: u32 = 256;
    /// Size of `a6_cap_ring`, bytes.
    pub const RING_BYTES: u32 = 2097152;
    /// `CapRec::member_id` when no member was chosen.
    pub const NO_MEMBER: u32 = 0xffff_ffff;
    /// Bytes of a record before `data`.
    pub const REC_HEADER: usize = 48;
}

/// `a6_cap_cfg`: what to capture; written by userspace only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct CapCfg {
    /// Bit r: capture packets counted under reason r; 0 = disarmed.
    pub reason_mask: u64,
    /// CLOCK_MONOTONIC end of the lease (bpf_ktime_get_ns).
    pub expires_ns: u64,
    /// 1 in N matching packets (0 or 1: every one).
    pub sample_every: u32,
    /// Frame bytes per record (0: `cap::SNAP_DEF`; capped at `cap::SNAP_MAX`).
    pub snaplen: u32,
    /// Records to emit this session, 0 = unlimited.
    pub budget: u32,
    /// Copied into every record.
    pub session: u32,
    /// The process holding the capture (informational).
    pub owner_pid: u32,
    /// Reserved, 0.
    pub flags: u32,
}

/// `a6_cap_stats`: counters of the session; written by the program only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct CapStats {
    /// Packets whose reason was in the mask, before sampling.
    pub matched: u64,
    /// Sampled packets that asked for a budget slot.
    pub taken: u64,
    /// Records not emitted because the ring was full.
    pub lost: u64,
}

/// The fixed header of an `a6_cap_rec` (the frame bytes follow it); the
/// decoder is `crate::capture::decode_record`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct CapRecHeader {
    pub ts_ns: u64,
    pub session: u32,
    pub ifindex: u32,
    pub wire_len: u32,
    pub pkt_len: u32,
    pub cap_len: u32,
    pub member_id: u32,
    pub egress_ifindex: u32,
    pub rx_queue: u32,
    pub reason: u16,
    pub verdict: u16,
    pub _pad: u32,
}

/// `a6_iface`: an interface the program runs on, with its own MAC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Iface {
    pub mac: [u8; 6],
    /// Reserved, 0.
    pub flags: u16,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct FibKey {
    pub addr: [u8; 16],
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct LpmKey {
    pub prefixlen: u32,
    pub addr: [u8; 16],
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct FibVal {
    pub group_id: u32,
    pub flags: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Member {
    pub unicast: [u8; 16],
    pub encap_src: [u8; 16],
    pub dmac: [u8; 6],
    pub smac: [u8; 6],
    pub ifindex: u32,
    pub member_id: u32,
    pub mtu: u16,
    pub action: u8,
    pub state: u8,
    pub weight: u16,
    pub _pad0: u16,
    /// Generation since which the member has been usable without a break.
    pub since_gen: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Group {
    pub gen: u32,
    pub maglev_block: u32,
    pub maglev_len: u32,
    pub n_members: u16,
    pub flags: u16,
    /// Generation that began the change period.
    pub mark_gen: u32,
    /// The period table (old members when the length changed), or 0/0.
    pub prev_block: u32,
    pub prev_len: u32,
    pub _pad: u32,
    /// CLOCK_MONOTONIC ns: non-TCP misses in `MG_GRACE` entries are old flows.
    pub grace_until_ns: u64,
    /// CLOCK_MONOTONIC ns: marks count until then (0 = no period).
    pub hold_until_ns: u64,
    pub members: [Member; MAX_MEMBERS],
}

impl Default for Group {
    fn default() -> Self {
        Group {
            gen: 0,
            maglev_block: 0,
            maglev_len: 0,
            n_members: 0,
            flags: 0,
            mark_gen: 0,
            prev_block: 0,
            prev_len: 0,
            _pad: 0,
            grace_until_ns: 0,
            hold_until_ns: 0,
            members: [Member::default(); MAX_MEMBERS],
        }
    }
}

impl Group {
    pub fn members(&self) -> &[Member] {
        &self.members[..(self.n_members as usize).min(MAX_MEMBERS)]
    }
}

/// `a6_maglev_entry.mark` bits (docs/flow-hash.md section 3).
pub const MG_MARKED: u8 = 0x80;
pub const MG_GRACE: u8 = 0x40;
pub const MG_PREV_TABLE: u8 = 0x20;
pub const MG_PREV_MASK: u8 = 0x1f;
/// A period-table entry with no old member to keep.
pub const MG_NONE: u8 = 0xff;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MaglevEntry {
    pub idx: u8,
    pub mark: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct MaglevBlock {
    pub e: [MaglevEntry; MAGLEV_BLOCK],
}

impl Default for MaglevBlock {
    fn default() -> Self {
        MaglevBlock {
            e: [MaglevEntry::default(); MAGLEV_BLOCK],
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct FlowKey {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub sport_be: u16,
    pub dport_be: u16,
    pub proto: u8,
    pub frag: u8,
    pub _pad: u16,
}

impl FlowKey {
    /// The 40 bytes the flow hash reads, exactly as they lie in memory.
    pub fn to_bytes(&self) -> [u8; 40] {
        let mut b = [0u8; 40];
        b[0..16].copy_from_slice(&self.src);
        b[16..32].copy_from_slice(&self.dst);
        b[32..34].copy_from_slice(&self.sport_be.to_ne_bytes());
        b[34..36].copy_from_slice(&self.dport_be.to_ne_bytes());
        b[36] = self.proto;
        b[37] = self.frag;
        b[38..40].copy_from_slice(&self._pad.to_ne_bytes());
        b
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Affinity {
    pub member_id: u32,
    pub group_id: u32,
    pub gen: u32,
    pub idx: u16,
    pub _pad: u16,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct RateLimit {
    pub window_start_ns: u64,
    pub sent: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Config {
    pub abi_version: u32,
    pub hash_seed: u32,
    pub router_addr: [u8; 16],
    pub ptb_per_sec: u32,
    pub flags: u32,
}

/// `a6_mga_flow`: an MGA flow as the correspondent sends it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(C)]
pub struct MgaFlowKey {
    pub cn: [u8; 16],
    pub anycast: [u8; 16],
    pub cn_port_be: u16,
    pub service_port_be: u16,
    pub proto: u8,
    pub _pad: [u8; 3],
}

/// `a6_mga_home`: an anycast address a member serves by MGA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MgaHome {
    pub home_agent: [u8; 16],
    pub coa: [u8; 16],
    /// `mga::F_REVERSE_TUNNEL`.
    pub flags: u32,
    pub _pad: u32,
}

/// `a6_mga_ro`: a member's route-optimised flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MgaRo {
    pub coa: [u8; 16],
    /// `mga::F_HAO_ON`.
    pub flags: u32,
    pub _pad: u32,
}

/// `a6_mga_flow_count`: a member's traffic of one flow (CLOCK_MONOTONIC ns).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MgaFlowCount {
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// `a6_mga_cn_flow`: a correspondent's flow binding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MgaCnFlow {
    pub coa: [u8; 16],
    /// Reserved, 0.
    pub flags: u32,
    pub _pad: u32,
}

const _: () = {
    assert!(size_of::<MgaFlowKey>() == 40);
    assert!(offset_of!(MgaFlowKey, anycast) == 16);
    assert!(offset_of!(MgaFlowKey, cn_port_be) == 32);
    assert!(offset_of!(MgaFlowKey, service_port_be) == 34);
    assert!(offset_of!(MgaFlowKey, proto) == 36);
    assert!(size_of::<MgaHome>() == 40);
    assert!(offset_of!(MgaHome, coa) == 16);
    assert!(offset_of!(MgaHome, flags) == 32);
    assert!(size_of::<MgaRo>() == 24);
    assert!(offset_of!(MgaRo, flags) == 16);
    assert!(size_of::<MgaFlowCount>() == 32);
    assert!(offset_of!(MgaFlowCount, first_ns) == 16);
    assert!(offset_of!(MgaFlowCount, last_ns) == 24);
    assert!(size_of::<MgaCnFlow>() == 24);
    assert!(offset_of!(MgaCnFlow, flags) == 16);
};

const _: () = {
    assert!(size_of::<Iface>() == 8);
    assert!(offset_of!(Iface, mac) == 0);
    assert!(offset_of!(Iface, flags) == 6);
    assert!(size_of::<FibKey>() == 16);
    assert!(size_of::<LpmKey>() == 20);
    assert!(offset_of!(LpmKey, addr) == 4);
    assert!(size_of::<FibVal>() == 8);
    assert!(size_of::<Member>() == 64);
    assert!(offset_of!(Member, unicast) == 0);
    assert!(offset_of!(Member, encap_src) == 16);
    assert!(offset_of!(Member, dmac) == 32);
    assert!(offset_of!(Member, smac) == 38);
    assert!(offset_of!(Member, ifindex) == 44);
    assert!(offset_of!(Member, member_id) == 48);
    assert!(offset_of!(Member, mtu) == 52);
    assert!(offset_of!(Member, action) == 54);
    assert!(offset_of!(Member, state) == 55);
    assert!(offset_of!(Member, weight) == 56);
    assert!(offset_of!(Member, since_gen) == 60);
    assert!(size_of::<Group>() == 48 + 64 * MAX_MEMBERS);
    assert!(offset_of!(Group, gen) == 0);
    assert!(offset_of!(Group, maglev_block) == 4);
    assert!(offset_of!(Group, maglev_len) == 8);
    assert!(offset_of!(Group, n_members) == 12);
    assert!(offset_of!(Group, mark_gen) == 16);
    assert!(offset_of!(Group, prev_block) == 20);
    assert!(offset_of!(Group, prev_len) == 24);
    assert!(offset_of!(Group, grace_until_ns) == 32);
    assert!(offset_of!(Group, hold_until_ns) == 40);
    assert!(offset_of!(Group, members) == 48);
    assert!(size_of::<MaglevEntry>() == 2);
    assert!(size_of::<MaglevBlock>() == 2 * MAGLEV_BLOCK);
    assert!(size_of::<FlowKey>() == 40);
    assert!(offset_of!(FlowKey, sport_be) == 32);
    assert!(offset_of!(FlowKey, dport_be) == 34);
    assert!(offset_of!(FlowKey, proto) == 36);
    assert!(offset_of!(FlowKey, frag) == 37);
    assert!(size_of::<Affinity>() == 16);
    assert!(offset_of!(Affinity, idx) == 12);
    assert!(size_of::<Counter>() == 16);
    assert!(size_of::<RateLimit>() == 16);
    assert!(size_of::<Config>() == 32);
    assert!(size_of::<CapCfg>() == 40);
    assert!(offset_of!(CapCfg, expires_ns) == 8);
    assert!(offset_of!(CapCfg, sample_every) == 16);
    assert!(offset_of!(CapCfg, snaplen) == 20);
    assert!(offset_of!(CapCfg, budget) == 24);
    assert!(offset_of!(CapCfg, session) == 28);
    assert!(offset_of!(CapCfg, owner_pid) == 32);
    assert!(size_of::<CapStats>() == 24);
    assert!(offset_of!(CapStats, taken) == 8);
    assert!(offset_of!(CapStats, lost) == 16);
    assert!(size_of::<CapRecHeader>() == cap::REC_HEADER);
    assert!(offset_of!(CapRecHeader, session) == 8);
    assert!(offset_of!(CapRecHeader, ifindex) == 12);
    assert!(offset_of!(CapRecHeader, wire_len) == 16);
    assert!(offset_of!(CapRecHeader, pkt_len) == 20);
    assert!(offset_of!(CapRecHeader, cap_len) == 24);
    assert!(offset_of!(CapRecHeader, member_id) == 28);
    assert!(offset_of!(CapRecHeader, egress_ifindex) == 32);
    assert!(offset_of!(CapRecHeader, rx_queue) == 36);
    assert!(offset_of!(CapRecHeader, reason) == 40);
    assert!(offset_of!(CapRecHeader, verdict) == 42);
    assert!(offset_of!(Config, router_addr) == 8);
    assert!(offset_of!(Config, ptb_per_sec) == 24);
};

// SAFETY-free Pod marking: aya requires `Pod` for map keys/values. The
// structs above are repr(C), contain only integers and byte arrays, and have
// explicit padding fields, so every bit pattern is valid.
macro_rules! pod {
    ($($t:ty),*) => { $(
        #[allow(unsafe_code)]
        // SAFETY: repr(C), integer-only fields, no implicit padding (sizes asserted above).
        unsafe impl aya::Pod for $t {}
    )* };
}
pod!(
    Iface,
    FibKey,
    LpmKey,
    FibVal,
    Member,
    Group,
    MaglevBlock,
    FlowKey,
    Affinity,
    Counter,
    RateLimit,
    Config,
    CapCfg,
    CapStats,
    MgaFlowKey,
    MgaHome,
    MgaRo,
    MgaFlowCount,
    MgaCnFlow
);

/// Reasons serialise as their stable name (`"fwd_rewrite"`), the same
/// string `anycast6ctl` prints and the fixtures use.
impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `#define NAME VALUE` lines of the C header with this prefix.
    fn defines(prefix: &str) -> Vec<(String, String)> {
        let h = include_str!("../../ebpf/include/anycast6_abi.h");
        h.lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("#define")).then_some(())?;
                let name = w.next()?;
                let value = w.next()?;
                name.strip_prefix(prefix)
                    .map(|n| (n.to_string(), value.to_string()))
            })
            .collect()
    }

    fn camel(upper_snake: &str) -> String {
        upper_snake
            .split('_')
            .map(|w| {
                let w = w.to_ascii_lowercase();
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The numbers, names and verdicts of the reasons are those of the C
    /// header: every `A6_R_<NAME> <n>` is `Reason` variant n, named alike,
    /// and the header's masks give each the verdict `Reason::verdict` does.
    #[test]
    fn reasons_match_the_c_header() {
        let mut seen = 0;
        for (name, value) in defines("A6_R_") {
            let Ok(n) = value.parse::<u32>() else {
                continue;
            };
            if name == "MAX" {
                assert_eq!(n, REASON_MAX, "A6_R_MAX");
                continue;
            }
            let r = Reason::from_index(n).unwrap_or_else(|| panic!("A6_R_{name} = {n}: no Reason"));
            assert_eq!(format!("{r:?}"), camel(&name), "A6_R_{name} = {n}");
            seen += 1;
        }
        assert_eq!(seen, REASON_MAX, "every reason defined in the header");

        // The masks, evaluated from the header text.
        let h = include_str!("../../ebpf/include/anycast6_abi.h");
        let mask = |name: &str| -> u64 {
            let start = h.find(&format!("#define {name}")).expect(name);
            let body = &h[start..];
            let end = body.find("))\n").expect("mask ends with ))") + 2;
            let mut m = 0u64;
            for part in body[..end].split("A6_R_BIT(").skip(1) {
                let r = part.split(')').next().unwrap().trim();
                let n: u32 = defines("")
                    .iter()
                    .find(|(k, _)| k == r)
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or_else(|| panic!("{r} in {name}"));
                m |= 1 << n;
            }
            m
        };
        let (redirect, pass) = (mask("A6_R_REDIRECT_MASK"), mask("A6_R_PASS_MASK"));
        for r in Reason::ALL {
            let bit = 1u64 << (r as u32);
            let c = if redirect & bit != 0 {
                Verdict::Redirect
            } else if pass & bit != 0 {
                Verdict::Pass
            } else {
                Verdict::Drop
            };
            assert_eq!(c, r.verdict(), "{r:?}: C header says {c:?}");
        }
    }

    #[test]
    fn tunnel_constants_match_the_c_header() {
        let t: Vec<(String, String)> = defines("A6_T_");
        assert_eq!(
            t,
            [
                ("DECAP".to_string(), tun_reason::DECAP.to_string()),
                ("DROP_TRUNC".to_string(), tun_reason::DROP_TRUNC.to_string()),
                ("MAX".to_string(), tun_reason::MAX.to_string()),
            ]
        );
        assert_eq!(
            defines("A6_DEF_TUN_LOCAL"),
            [(String::new(), DEF_TUN_LOCAL.to_string())]
        );
        for (c, rust) in [
            ("A6_MAP_TUN_LOCAL", map::TUN_LOCAL),
            ("A6_MAP_TUN_STATS", map::TUN_STATS),
        ] {
            assert_eq!(defines(c), [(String::new(), rust.to_string())], "{c}");
        }
    }

    /// Every `A6_<prefix><NAME> <n>` of the header is `names[n]`, lower case
    /// (`rename` maps a header name to a printed name where they differ).
    fn reasons_named(prefix: &str, names: &[&str], max: u32, rename: &[(&str, &str)]) {
        let mut seen = 0;
        for (name, value) in defines(prefix) {
            let Ok(n) = value.parse::<u32>() else {
                continue;
            };
            if name == "MAX" {
                assert_eq!(n, max, "{prefix}MAX");
                continue;
            }
            let lower = name.to_ascii_lowercase();
            let want = rename
                .iter()
                .find(|(h, _)| *h == lower)
                .map_or(lower.as_str(), |(_, r)| *r);
            assert_eq!(names[n as usize], want, "{prefix}{name} = {n}");
            seen += 1;
        }
        assert_eq!(seen, max, "every {prefix} reason named");
    }

    #[test]
    fn mga_constants_match_the_c_header() {
        reasons_named(
            "A6_MM_",
            &mga_member_reason::NAMES,
            mga_member_reason::MAX,
            &[("tunnel", "reverse_tunnel")],
        );
        reasons_named(
            "A6_MC_",
            &mga_cn_reason::NAMES,
            mga_cn_reason::MAX,
            &[("drop_hao_unknown", "hao_unknown")],
        );
        reasons_named(
            "A6_D_",
            &decap_reason::NAMES,
            decap_reason::MAX,
            &[
                ("pass_other", "pass_not_tunnel"),
                ("pass_not_ours", "pass_not_served"),
                ("pass_rh2_not_ours", "pass_rh2_not_served"),
            ],
        );
        for (c, rust) in [
            ("A6_MAP_MGA_HOMES", map::MGA_HOMES),
            ("A6_MAP_MGA_RO", map::MGA_RO),
            ("A6_MAP_MGA_FLOWS", map::MGA_FLOWS),
            ("A6_MAP_MGA_M_STATS", map::MGA_M_STATS),
            ("A6_MAP_MGA_CN_FLOWS", map::MGA_CN_FLOWS),
            ("A6_MAP_MGA_C_STATS", map::MGA_C_STATS),
            ("A6_PROG_MGA_MEMBER", prog::MGA_MEMBER),
            ("A6_PROG_MGA_CN_EGRESS", prog::MGA_CN_EGRESS),
            ("A6_PROG_MGA_CN_INGRESS", prog::MGA_CN_INGRESS),
        ] {
            assert_eq!(defines(c), [(String::new(), rust.to_string())], "{c}");
        }
        for (c, v) in [
            ("A6_MGA_F_REVERSE_TUNNEL", mga::F_REVERSE_TUNNEL.to_string()),
            ("A6_MGA_F_HAO_ON", mga::F_HAO_ON.to_string()),
            ("A6_MGA_OPT_HAO", mga::OPT_HAO.to_string()),
            ("A6_MGA_RH_TYPE2", mga::RH_TYPE2.to_string()),
            ("A6_MGA_EXT_LEN", mga::EXT_LEN.to_string()),
            ("A6_MGA_TUN_HOP_LIMIT", mga::TUN_HOP_LIMIT.to_string()),
            ("A6_DEF_MGA_HOMES", DEF_MGA_HOMES.to_string()),
            ("A6_DEF_MGA_RO", DEF_MGA_RO.to_string()),
            ("A6_DEF_MGA_FLOWS", DEF_MGA_FLOWS.to_string()),
            ("A6_DEF_MGA_CN_FLOWS", DEF_MGA_CN_FLOWS.to_string()),
        ] {
            assert_eq!(defines(c), [(String::new(), v)], "{c}");
        }
    }

    #[test]
    fn capture_constants_match_the_c_header() {
        for (c, v) in [
            ("A6_CAP_SNAP_MAX", cap::SNAP_MAX.to_string()),
            ("A6_CAP_SNAP_DEF", cap::SNAP_DEF.to_string()),
            ("A6_CAP_RING_BYTES", cap::RING_BYTES.to_string()),
            ("A6_CAP_NO_MEMBER", format!("{:#x}", cap::NO_MEMBER)),
            ("A6_MAP_CAP_CFG", map::CAP_CFG.to_string()),
            ("A6_MAP_CAP_STATS", map::CAP_STATS.to_string()),
            ("A6_MAP_CAP_RING", map::CAP_RING.to_string()),
        ] {
            assert_eq!(defines(c), [(String::new(), v)], "{c}");
        }
        let h = include_str!("../../ebpf/include/anycast6_abi.h");
        assert!(h.contains("}; /* 48 + A6_CAP_SNAP_MAX */"));
    }

    #[test]
    fn abi_version_matches_the_c_header() {
        let v = defines("A6_ABI_VERSION");
        assert_eq!(v, [(String::new(), ABI_VERSION.to_string())]);
    }
}
