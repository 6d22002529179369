//! Rust mirror of `ebpf/include/anycast6_abi.h`, the one ABI between the eBPF
//! programs and userspace. Every size and offset is pinned at compile time:
//! if the header changes and this file does not, the build fails.

use std::mem::{offset_of, size_of};

pub const ABI_VERSION: u32 = 2;

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
    /// Maps of the forwarding program, in pin order.
    pub const XDP_ALL: [&str; 11] = [
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
    ];
}

/// Program names (the C function names).
pub mod prog {
    pub const XDP: &str = "anycast6_xdp";
    pub const DECAP: &str = "anycast6_decap";
    pub const HASH_PROBE: &str = "anycast6_hash_probe";
    pub const XSK: &str = "anycast6_xsk";
}

/// Name of the `volatile const struct a6_config` global.
pub const CONFIG_GLOBAL: &str = "a6_cfg";

pub const MAX_MEMBERS: usize = 32;
pub const MAGLEV_BLOCK: usize = 64;
pub const MAGLEV_MAX_LEN: u32 = 65537;
pub const MAX_EXT_HDRS: usize = 8;

pub const DEF_FIB_ENTRIES: u32 = 65536;
pub const DEF_PREFIX_ENTRIES: u32 = 4096;
pub const DEF_GROUPS: u32 = 16384;
pub const DEF_MAGLEV_BLOCKS: u32 = 65536;
pub const DEF_AFFINITY_ENTRIES: u32 = 262144;
pub const DEF_TX_PORTS: u32 = 256;
pub const DEF_MEMBER_IDS: u32 = 65536;
pub const DEF_DECAP_ADDRS: u32 = 1024;
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
    DropExtChain = 17,
    DropTruncL4 = 18,
    DropAdjust = 19,
    DropPtbRate = 20,
    DropBadFrag = 21,
    DropTooBig = 22,
    /// Added in ABI 2, after the drops so older numbers keep their meaning.
    PassAarp = 23,
}

pub const REASON_MAX: u32 = 24;

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
        Reason::DropExtChain,
        Reason::DropTruncL4,
        Reason::DropAdjust,
        Reason::DropPtbRate,
        Reason::DropBadFrag,
        Reason::DropTooBig,
        Reason::PassAarp,
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
            Reason::DropExtChain => "drop_ext_chain",
            Reason::DropTruncL4 => "drop_trunc_l4",
            Reason::DropAdjust => "drop_adjust",
            Reason::DropPtbRate => "drop_ptb_ratelimit",
            Reason::DropBadFrag => "drop_bad_frag",
            Reason::DropTooBig => "drop_too_big",
            Reason::PassAarp => "pass_aarp",
        }
    }

    pub fn verdict(self) -> Verdict {
        match self {
            // Packet Too Big goes back out of the ingress by redirect (a
            // veth drops XDP_TX frames unless its peer runs XDP).
            Reason::FwdRewrite | Reason::FwdEncap | Reason::TxPtb => Verdict::Redirect,
            Reason::PassAarp => Verdict::Pass,
            r if (r as u32) <= Reason::PassNoPort as u32 => Verdict::Pass,
            _ => Verdict::Drop,
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
    pub const MAX: u32 = 5;
    pub const NAMES: [&str; MAX as usize] = [
        "decap",
        "pass_not_tunnel",
        "pass_not_served",
        "drop_trunc",
        "drop_adjust",
    ];
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
    pub _pad1: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Group {
    pub gen: u32,
    pub maglev_block: u32,
    pub maglev_len: u32,
    pub n_members: u16,
    pub flags: u16,
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
            members: [Member::default(); MAX_MEMBERS],
        }
    }
}

impl Group {
    pub fn members(&self) -> &[Member] {
        &self.members[..(self.n_members as usize).min(MAX_MEMBERS)]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct MaglevBlock {
    pub idx: [u8; MAGLEV_BLOCK],
}

impl Default for MaglevBlock {
    fn default() -> Self {
        MaglevBlock {
            idx: [0; MAGLEV_BLOCK],
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

const _: () = {
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
    assert!(size_of::<Group>() == 16 + 64 * MAX_MEMBERS);
    assert!(offset_of!(Group, gen) == 0);
    assert!(offset_of!(Group, maglev_block) == 4);
    assert!(offset_of!(Group, maglev_len) == 8);
    assert!(offset_of!(Group, n_members) == 12);
    assert!(offset_of!(Group, members) == 16);
    assert!(size_of::<MaglevBlock>() == MAGLEV_BLOCK);
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
    Config
);

/// Reasons serialise as their stable name (`"fwd_rewrite"`), the same
/// string `anycast6ctl` prints and the fixtures use.
impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}
