/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * anycast6_abi.h -- THE ABI between the eBPF programs and userspace.
 *
 * Every map key/value, constant, action, member state and pass/drop reason
 * shared by the XDP program (ebpf/) and the Rust side (dataplane/src/abi.rs)
 * is defined here and only here. The Rust mirror pins every size and offset
 * at compile time; change one side and the build of the other fails.
 *
 * Rules: fixed-width integers only, explicit padding, byte order in the name
 * (`_be` = network order), no bool and no C enum inside shared structs.
 * Bump A6_ABI_VERSION on any change: pins live under /sys/fs/bpf/anycast6/v<N>/
 * so a new ABI never reuses an old pinned map.
 */
#ifndef ANYCAST6_ABI_H
#define ANYCAST6_ABI_H

#include <linux/types.h>

#define A6_ABI_VERSION 7

/* ---- names (maps are pinned by these names) ---------------------------- */
/* Map names are at most 15 characters (BPF_OBJ_NAME_LEN - 1). */
#define A6_MAP_FIB          a6_fib          /* HASH  a6_fib_key  -> a6_fib_val  */
#define A6_MAP_FIB_PREFIX   a6_fib_prefix   /* LPM   a6_lpm_key  -> a6_fib_val  */
#define A6_MAP_GROUPS       a6_groups       /* HASH  __u32 group -> a6_group    */
#define A6_MAP_MAGLEV       a6_maglev       /* ARRAY __u32 block -> a6_maglev_block */
#define A6_MAP_AFFINITY     a6_affinity     /* LRU   a6_flow_key -> a6_affinity (changed entries only, ABI 4) */
#define A6_MAP_TX_PORTS     a6_tx_ports     /* DEVMAP_HASH ifindex -> ifindex   */
#define A6_MAP_STATS        a6_stats        /* PERCPU_ARRAY reason -> a6_counter */
#define A6_MAP_GROUP_STATS  a6_group_stats  /* PERCPU_ARRAY group  -> a6_counter */
#define A6_MAP_MEMBER_STATS a6_member_stats /* PERCPU_ARRAY member -> a6_counter */
#define A6_MAP_PTB_RATE     a6_ptb_rate     /* PERCPU_ARRAY 0 -> a6_ratelimit   */
#define A6_MAP_DECAP_ADDRS  a6_decap_addrs  /* HASH a6_fib_key -> __u32 (member side) */
#define A6_MAP_DECAP_STATS  a6_decap_stats  /* PERCPU_ARRAY reason -> a6_counter */
#define A6_MAP_XSKS         a6_xsks         /* XSKMAP rx queue -> AF_XDP socket (afxdp mode, not pinned) */
#define A6_MAP_AARP         a6_aarp         /* ARRAY 0 -> __u32: 1 = AARP queries to owned addresses go to the kernel */
#define A6_MAP_IFACES       a6_ifaces       /* HASH  __u32 ifindex -> a6_iface (ingress: the interface's own MAC) */
#define A6_MAP_TUN_LOCAL    a6_tun_local    /* HASH  a6_fib_key -> __u32: this router's tunnel end points (ABI 5) */
#define A6_MAP_TUN_STATS    a6_tun_stats    /* PERCPU_ARRAY A6_T_* -> a6_counter (ABI 5) */
/* MGA (docs/mga.md section 8), ABI 6: member egress (tc), correspondent egress (tc) + ingress (XDP) */
#define A6_MAP_MGA_HOMES    a6_mga_homes    /* HASH a6_fib_key (A) -> a6_mga_home (member) */
#define A6_MAP_MGA_RO       a6_mga_ro       /* HASH a6_mga_flow -> a6_mga_ro (member's route-optimised flows) */
#define A6_MAP_MGA_FLOWS    a6_mga_flows    /* LRU  a6_mga_flow -> a6_mga_flow_count (member, every packet from A) */
#define A6_MAP_MGA_M_STATS  a6_mga_m_stats  /* PERCPU_ARRAY A6_MM_* -> a6_counter (member egress) */
#define A6_MAP_MGA_CN_FLOWS a6_mga_cn_flows /* HASH a6_mga_flow -> a6_mga_cn_flow (correspondent's flow bindings) */
#define A6_MAP_MGA_C_STATS  a6_mga_c_stats  /* PERCPU_ARRAY A6_MC_* -> a6_counter (correspondent) */
/* Capture (docs/capture.md), ABI 7: `anycast6ctl capture` arms it */
#define A6_MAP_CAP_CFG      a6_cap_cfg      /* ARRAY 0 -> a6_cap_cfg (written by userspace only) */
#define A6_MAP_CAP_STATS    a6_cap_stats    /* ARRAY 0 -> a6_cap_stats (written by the program only, atomics) */
#define A6_MAP_CAP_RING     a6_cap_ring     /* RINGBUF of a6_cap_rec */

#define A6_PROG_XDP         anycast6_xdp
#define A6_PROG_DECAP       anycast6_decap
#define A6_PROG_HASH_PROBE  anycast6_hash_probe
#define A6_PROG_XSK         anycast6_xsk
#define A6_PROG_MGA_MEMBER  anycast6_mga_member    /* tc egress, ebpf/mga_member.bpf.c */
#define A6_PROG_MGA_CN_EGRESS anycast6_mga_cn_egress  /* tc egress, ebpf/mga_cn.bpf.c */
#define A6_PROG_MGA_CN_INGRESS anycast6_mga_cn_ingress /* XDP, ebpf/mga_cn.bpf.c */
#define A6_CONFIG_GLOBAL    a6_cfg

/* ---- capacities --------------------------------------------------------- */
/* Layout capacities (change the ABI): */
#define A6_MAX_MEMBERS      32   /* members per group (inline in a6_group)  */
#define A6_MAGLEV_BLOCK     64   /* maglev entries per a6_maglev map element */
#define A6_MAGLEV_MAX_LEN   65537 /* largest Maglev table (prime)            */
#define A6_MAX_EXT_HDRS     8    /* extension headers walked before passing to the kernel */
#define A6_MAX_HBH_OPTS     8    /* Hop-by-Hop options walked before passing to the kernel */
/* Default max_entries; the loader may override each at load time: */
#define A6_DEF_FIB_ENTRIES      65536
#define A6_DEF_PREFIX_ENTRIES   4096
#define A6_DEF_GROUPS           16384
#define A6_DEF_MAGLEV_BLOCKS    65536   /* 4 Mi entries */
#define A6_DEF_AFFINITY_ENTRIES 262144
#define A6_DEF_TX_PORTS         256
#define A6_DEF_MEMBER_IDS       65536
#define A6_DEF_DECAP_ADDRS      1024
#define A6_DEF_IFACES           256     /* interfaces with the program attached */
#define A6_DEF_TUN_LOCAL        64      /* tunnel end point addresses of this router */
#define A6_DEF_MGA_HOMES        1024    /* anycast addresses a member serves by MGA */
#define A6_DEF_MGA_RO           16384   /* a member's route-optimised flows */
#define A6_DEF_MGA_FLOWS        65536   /* flows a member counts (LRU) */
#define A6_DEF_MGA_CN_FLOWS     16384   /* a correspondent's flow bindings */
#define A6_XSK_MAX_QUEUES       64      /* rx queues an afxdp interface can steer */

/* ---- member actions (a6_member.action) --------------------------------- */
#define A6_ACT_REWRITE  1 /* rewrite Ethernet, decrement hop limit, redirect */
#define A6_ACT_ENCAP    2 /* IPv6-in-IPv6 to a6_member.unicast, then redirect */
#define A6_ACT_LOCAL    3 /* this node is the member: XDP_PASS                */

/* ---- member states (a6_member.state) ----------------------------------- */
#define A6_STATE_ACTIVE   1 /* in the Maglev table, keeps and gets flows       */
#define A6_STATE_DRAINING 2 /* keeps its flows (affinity), gets no new ones     */
#define A6_STATE_DOWN     3 /* unusable (e.g. neighbour unresolved): no flows   */

/* ---- a6_maglev_entry.mark (ABI 4; docs/flow-hash.md section 3) ------------ */
/* An entry whose member changed during the group's current change period is
 * marked; only packets hashing to a marked entry, while the period's hold
 * lasts, look at (or write) the affinity table. Unmarked: mark = 0. */
#define A6_MG_MARKED     0x80 /* entry changed in this period: consult affinity   */
#define A6_MG_GRACE      0x40 /* non-TCP misses count as old flows until grace_until */
#define A6_MG_PREV_TABLE 0x20 /* the old member is in the period table (prev_block) */
#define A6_MG_PREV_MASK  0x1f /* else: members[] index of the old member          */
#define A6_MG_NONE       0xff /* period table entry: no old member to keep         */

/* ---- a6_fib_val.flags ---------------------------------------------------- */
#define A6_FIB_F_PREFIX 1 /* entry came from the prefix trie (informational) */

/* ---- reasons: index into the a6_stats map -------------------------------- */
/* Every reason's verdict is listed explicitly in A6_R_REDIRECT_MASK and
 * A6_R_PASS_MASK below (a reason in neither is a drop): numbers are not
 * grouped by verdict since ABI 3. */
/* Forwarded */
#define A6_R_FWD_REWRITE        0  /* redirected after Ethernet rewrite      */
#define A6_R_FWD_ENCAP          1  /* redirected after IPv6-in-IPv6 encap    */
#define A6_R_TX_PTB             2  /* ICMPv6 Packet Too Big sent back out of the ingress (redirect) */
/* Passed to the kernel (XDP_PASS) */
#define A6_R_PASS_NOT_IPV6      3  /* ethertype is not IPv6                   */
#define A6_R_PASS_MULTICAST     4  /* destination is multicast                */
#define A6_R_PASS_NOT_ANYCAST   5  /* destination not in the FIB              */
#define A6_R_PASS_ND            6  /* ICMPv6 ND/RS/RA/redirect to anycast dst */
#define A6_R_PASS_HOP_LIMIT     7  /* hop limit <= 1: kernel sends Time Exceeded */
#define A6_R_PASS_LOCAL         8  /* chosen member is this node              */
#define A6_R_PASS_NO_MEMBER     9  /* group has no usable member              */
#define A6_R_PASS_NO_GROUP      10 /* FIB points at a group id not present    */
#define A6_R_PASS_NO_PORT       11 /* egress ifindex not in a6_tx_ports       */
/* Dropped (XDP_DROP): malformed or unforwardable; never reaches a member */
#define A6_R_DROP_TRUNC_ETH     12 /* shorter than an Ethernet header         */
#define A6_R_DROP_TRUNC_VLAN    13 /* 802.1Q tag cut short                    */
#define A6_R_DROP_TRUNC_IPV6    14 /* shorter than an IPv6 header (outer, or a tunnelled inner one) */
#define A6_R_DROP_BAD_IPV6      15 /* version != 6 or payload length > frame  */
#define A6_R_DROP_TRUNC_EXT     16 /* extension header (or an option in it) cut short */
/* ABI 3: a longer chain is valid IPv6, the kernel's (was drop_ext_chain) */
#define A6_R_PASS_EXT_CHAIN     17 /* more than A6_MAX_EXT_HDRS ext headers: XDP_PASS */
#define A6_R_DROP_TRUNC_L4      18 /* TCP/UDP/ICMPv6 header cut short (first fragment or whole) */
#define A6_R_DROP_ADJUST        19 /* bpf_xdp_adjust_head/tail failed         */
#define A6_R_DROP_PTB_RATE      20 /* Packet Too Big over the rate limit      */
#define A6_R_DROP_BAD_FRAG      21 /* M=1 fragment not a multiple of 8 octets (RFC 8200 4.5) */
#define A6_R_DROP_TOO_BIG       22 /* over egress MTU, no PTB allowed (ICMPv6 error, bad source) */
/* Added in ABI 2 */
#define A6_R_PASS_AARP          23 /* AARP query to an owned address: this router answers */
/* Added in ABI 3: what a router may forward (docs/architecture.md) */
#define A6_R_DROP_NOT_OUR_MAC   24 /* destination MAC broadcast, or unicast not the ingress interface's */
#define A6_R_PASS_L2_MULTICAST  25 /* destination MAC multicast (33:33:..): the kernel's */
#define A6_R_PASS_UNKNOWN_IFACE 26 /* ingress interface not in a6_ifaces: the kernel's rules */
#define A6_R_DROP_BAD_SRC       27 /* source multicast, :: or ::1 (RFC 4291 2.5.2, 2.5.3, 2.7) */
#define A6_R_PASS_LINK_LOCAL_SRC 28 /* source fe80::/10: never forwarded off its link; the kernel answers */
#define A6_R_DROP_SRC_ANYCAST   29 /* source is an anycast address of this router's FIB */
#define A6_R_DROP_BAD_HBH       30 /* Hop-by-Hop Options not first, or twice (RFC 8200 4.1) */
#define A6_R_DROP_BAD_JUMBO     31 /* Jumbo Payload option invalid or in a non-jumbo packet (RFC 2675) */
#define A6_R_PASS_HBH_OPTIONS   32 /* Hop-by-Hop option other than padding (or too many): the kernel's */
#define A6_R_MAX                33

#define A6_R_BIT(r) (1ull << (r))
#define A6_R_REDIRECT_MASK                                                       \
	(A6_R_BIT(A6_R_FWD_REWRITE) | A6_R_BIT(A6_R_FWD_ENCAP) | A6_R_BIT(A6_R_TX_PTB))
#define A6_R_PASS_MASK                                                           \
	(A6_R_BIT(A6_R_PASS_NOT_IPV6) | A6_R_BIT(A6_R_PASS_MULTICAST) |          \
	 A6_R_BIT(A6_R_PASS_NOT_ANYCAST) | A6_R_BIT(A6_R_PASS_ND) |              \
	 A6_R_BIT(A6_R_PASS_HOP_LIMIT) | A6_R_BIT(A6_R_PASS_LOCAL) |             \
	 A6_R_BIT(A6_R_PASS_NO_MEMBER) | A6_R_BIT(A6_R_PASS_NO_GROUP) |          \
	 A6_R_BIT(A6_R_PASS_NO_PORT) | A6_R_BIT(A6_R_PASS_EXT_CHAIN) |           \
	 A6_R_BIT(A6_R_PASS_AARP) | A6_R_BIT(A6_R_PASS_L2_MULTICAST) |           \
	 A6_R_BIT(A6_R_PASS_UNKNOWN_IFACE) | A6_R_BIT(A6_R_PASS_LINK_LOCAL_SRC) | \
	 A6_R_BIT(A6_R_PASS_HBH_OPTIONS))
_Static_assert(A6_R_MAX <= 64, "verdict masks hold 64 reasons");

/* ---- capture (docs/capture.md, ABI 7) ------------------------------------ */
#define A6_CAP_SNAP_MAX     2048       /* frame bytes a record holds (a6_cap_rec.data); a power of two */
#define A6_CAP_SNAP_DEF     256        /* snaplen when a6_cap_cfg.snaplen is 0 */
#define A6_CAP_RING_BYTES   2097152    /* a6_cap_ring size (power of two pages): ~990 records */
#define A6_CAP_NO_MEMBER    0xffffffff /* a6_cap_rec.member_id: no member was chosen */

/* ---- AARP (docs/aarp.md) -------------------------------------------------- */
#define A6_AARP_PORT 5360 /* UDP destination port of AARP queries */

/* ---- decap (member side) reasons: index into a6_decap_stats ------------ */
#define A6_D_DECAP          0 /* tunnel stripped, inner packet to the kernel */
#define A6_D_PASS_OTHER     1 /* not IPv6-in-IPv6: untouched               */
#define A6_D_PASS_NOT_OURS  2 /* inner destination not a served anycast addr */
#define A6_D_DROP_TRUNC     3 /* outer or inner header cut short           */
#define A6_D_DROP_ADJUST    4 /* bpf_xdp_adjust_head failed                */
/* ABI 6, MGA route optimisation (docs/mga.md 8.1): a type 2 routing header
 * directly after the IPv6 header */
#define A6_D_RH2            5 /* Home Address served: destination := A, header removed, to the kernel */
#define A6_D_DROP_RH2_BAD   6 /* type 2 with Hdr Ext Len != 2 or Segments Left != 1 (RFC 6275 6.4) */
#define A6_D_PASS_RH2_NOT_OURS 7 /* Home Address not served: untouched, the kernel's */
#define A6_D_MAX            8

/* ---- tunnel end point (router side, ABI 5): index into a6_tun_stats ----- */
/* Counted besides the inner packet's A6_R_* reason in a6_stats (which still
 * counts every packet once): how many packets this router decapsulated. */
#define A6_T_DECAP          0 /* outer header removed, inner packet went on through the pipeline */
#define A6_T_DROP_TRUNC     1 /* tunnelled to an end point, inner header cut short (a6_stats: drop_trunc_ipv6) */
#define A6_T_MAX            2

/* ---- MGA (docs/mga.md section 8, ABI 6) ---------------------------------- */
/* a6_mga_home.flags */
#define A6_MGA_F_REVERSE_TUNNEL 1 /* packets from A not route-optimised: IPv6-in-IPv6 to the home agent */
/* a6_mga_ro.flags */
#define A6_MGA_F_HAO_ON         1 /* insert the Home Address option (set after the Binding Acknowledgement) */
/* Option and header types of RFC 6275 */
#define A6_MGA_OPT_HAO          201 /* Home Address option (Destination Options) */
#define A6_MGA_RH_TYPE2         2   /* type 2 routing header */
#define A6_MGA_EXT_LEN          24  /* both headers as MGA builds them */
#define A6_MGA_TUN_HOP_LIMIT    64  /* outer hop limit of a reverse tunnel */

/* Member egress reasons (tc, a6_mga_m_stats) */
#define A6_MM_HAO           0 /* route-optimised: source := CoA, Home Address option inserted */
#define A6_MM_TUNNEL        1 /* reverse tunnel: IPv6-in-IPv6 CoA -> home agent */
#define A6_MM_DIRECT        2 /* source A, no reverse tunnel, not optimised: untouched */
#define A6_MM_PASS_OTHER    3 /* not IPv6, or source not in a6_mga_homes: untouched */
#define A6_MM_DROP_ADJUST   4 /* bpf_skb_adjust_room / store failed (e.g. UDP GSO) */
#define A6_MM_DROP_TOO_BIG  5 /* the added header would exceed the MTU (non-GSO) */
#define A6_MM_MAX           6

/* Correspondent reasons (a6_mga_c_stats): egress (tc) then ingress (XDP) */
#define A6_MC_RH2           0 /* bound flow: destination := CoA, type 2 routing header inserted */
#define A6_MC_PASS_UNBOUND  1 /* IPv6, flow not bound: untouched */
#define A6_MC_PASS_OTHER    2 /* not IPv6, cut short, or Hop-by-Hop first (no room before it): untouched */
#define A6_MC_DROP_ADJUST   3 /* bpf_skb_adjust_room / store failed */
#define A6_MC_DROP_TOO_BIG  4 /* the routing header would exceed the MTU (non-GSO) */
#define A6_MC_HAO           5 /* ingress: Home Address of a bound flow from its CoA: source := A, header removed */
#define A6_MC_DROP_HAO_UNKNOWN 6 /* ingress: Home Address option matching no flow binding (or another CoA) */
#define A6_MC_DROP_HAO_BAD  7 /* ingress: Destination Options / Home Address option cut short or malformed */
#define A6_MC_PASS_NO_HAO   8 /* ingress: no Home Address option: untouched */
#define A6_MC_DROP_XDP_ADJUST 9 /* ingress: bpf_xdp_adjust_head failed */
#define A6_MC_MAX           10

/* ---- shared structs ------------------------------------------------------ */

/* An interface the forwarding or steering program is attached to: written
 * by whoever attaches it, kept current by anycast6d (MAC changes). */
struct a6_iface {
	__u8 mac[6];   /* the interface's own MAC: unicast frames to another are not ours */
	__u16 flags;   /* reserved, 0 */
}; /* 8 */

/* Exact-match FIB key: the /128 destination, network order. */
struct a6_fib_key {
	__u8 addr[16];
}; /* 16 */

/* LPM trie key (BPF_MAP_TYPE_LPM_TRIE layout: prefixlen first). */
struct a6_lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
}; /* 20 */

struct a6_fib_val {
	__u32 group_id;
	__u32 flags; /* A6_FIB_F_* */
}; /* 8 */

/* One member (or next hop toward members) of a group. */
struct a6_member {
	__u8 unicast[16];   /* member unicast address (encap outer dst)       */
	__u8 encap_src[16]; /* outer source for A6_ACT_ENCAP                   */
	__u8 dmac[6];       /* next hop / on-link member MAC                   */
	__u8 smac[6];       /* egress interface MAC                            */
	__u32 ifindex;      /* egress interface (key in a6_tx_ports)           */
	__u32 member_id;    /* stable id: a6_member_stats index, affinity value */
	__u16 mtu;          /* egress MTU (bytes of IPv6 packet)               */
	__u8 action;        /* A6_ACT_*                                         */
	__u8 state;         /* A6_STATE_*                                       */
	__u16 weight;       /* relative share of new flows                      */
	__u16 _pad0;
	__u32 since_gen;    /* group generation since which this member has been
			     * usable without a break: older affinity entries
			     * naming it are stale (ABI 4)                      */
}; /* 64 */

/*
 * A group: the members of one anycast address at the best distance and the
 * location of its Maglev table. Published by one update of a6_groups (a
 * BPF_F_NO_PREALLOC hash, so a reader sees the old or the new value, never a
 * mix); the Maglev table is written to fresh blocks before the publish.
 *
 * ABI 4, the change period (docs/flow-hash.md section 3): entries changed
 * since generation mark_gen are marked; until hold_until_ns
 * (bpf_ktime_get_ns, CLOCK_MONOTONIC) packets hashing to them consult
 * affinity, and until grace_until_ns a non-TCP flow missing there counts as
 * old. When the table length changed in the period, the members the entries
 * had when it began are in the period table (prev_block, prev_len).
 */
struct a6_group {
	__u32 gen;           /* bumped on every publish of this group         */
	__u32 maglev_block;  /* first a6_maglev element of the table          */
	__u32 maglev_len;    /* table length M (prime), 0 = no active member  */
	__u16 n_members;     /* valid entries in members[]                    */
	__u16 flags;
	__u32 mark_gen;      /* generation that began the change period       */
	__u32 prev_block;    /* first a6_maglev element of the period table   */
	__u32 prev_len;      /* its length, 0 = none (entries carry the index) */
	__u32 _pad;
	__u64 grace_until_ns; /* non-TCP misses in A6_MG_GRACE entries are old */
	__u64 hold_until_ns;  /* marks count until then; 0 = no period         */
	struct a6_member members[A6_MAX_MEMBERS];
}; /* 48 + 64 * 32 = 2096 */

/* One Maglev entry: the member (index into members[]) and its change mark. */
struct a6_maglev_entry {
	__u8 idx;
	__u8 mark; /* A6_MG_*; 0 = unchanged: the table alone decides */
}; /* 2 */

/* A6_MAGLEV_BLOCK consecutive Maglev entries. */
struct a6_maglev_block {
	struct a6_maglev_entry e[A6_MAGLEV_BLOCK];
}; /* 128 */

/*
 * Flow key: what the flow hash and the affinity table see. For a packet
 * with a Fragment header, sport/dport carry the fragment identification
 * (high/low 16 bits, network order) and frag = 1, so every fragment of one
 * datagram maps to the same member whatever order they arrive in.
 */
struct a6_flow_key {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport_be;
	__u16 dport_be;
	__u8 proto;    /* upper-layer protocol after the extension headers */
	__u8 frag;     /* 1 if the packet carries a Fragment header         */
	__u16 _pad;
}; /* 40 */

/* Affinity: which member a flow went to (written only for flows in marked
 * entries, ABI 4). */
struct a6_affinity {
	__u32 member_id;
	__u32 group_id;
	__u32 gen;  /* group generation when written / idx was valid:
		     * valid only if >= the group's mark_gen and the
		     * member's since_gen                                 */
	__u16 idx;  /* index into members[] at that generation          */
	__u16 _pad;
}; /* 16 */

struct a6_counter {
	__u64 packets;
	__u64 bytes;
}; /* 16 */

/* Per-CPU token bucket for Packet Too Big generation. */
struct a6_ratelimit {
	__u64 window_start_ns;
	__u64 sent;
}; /* 16 */

/*
 * Load-time settings: a `volatile const` global (A6_CONFIG_GLOBAL) that the
 * loader overrides. Zero values mean "default" where noted.
 */
struct a6_config {
	__u32 abi_version;   /* must equal A6_ABI_VERSION                       */
	__u32 hash_seed;     /* flow hash seed (same in C and Rust)             */
	__u8 router_addr[16]; /* source of ICMPv6 Packet Too Big               */
	__u32 ptb_per_sec;   /* per-CPU PTB budget per second (0 = 100)         */
	__u32 flags;         /* reserved, 0                                     */
}; /* 32 */

/*
 * MGA flow, always as the correspondent sends it (docs/mga.md 1.1): source
 * the correspondent, destination A. TCP and UDP carry their ports, every
 * other protocol (and any fragment) ports 0. The member's programs build it
 * from the reverse of their packets' tuple.
 */
struct a6_mga_flow {
	__u8 cn[16];            /* correspondent address */
	__u8 anycast[16];       /* A */
	__u16 cn_port_be;
	__u16 service_port_be;
	__u8 proto;             /* upper-layer protocol */
	__u8 _pad[3];
}; /* 40 */

/* Member: one anycast address it serves by MGA (key: A). */
struct a6_mga_home {
	__u8 home_agent[16];    /* outer destination of the reverse tunnel */
	__u8 coa[16];           /* this member's care-of address: outer source */
	__u32 flags;            /* A6_MGA_F_REVERSE_TUNNEL */
	__u32 _pad;
}; /* 40 */

/* Member: a route-optimised flow (written after the binding is sent). */
struct a6_mga_ro {
	__u8 coa[16];           /* source of the flow's packets */
	__u32 flags;            /* A6_MGA_F_HAO_ON */
	__u32 _pad;
}; /* 24 */

/* Member: traffic of one flow from A, for the daemon's route optimisation
 * decision. Times are bpf_ktime_get_ns (CLOCK_MONOTONIC). */
struct a6_mga_flow_count {
	__u64 packets;
	__u64 bytes;
	__u64 first_ns;
	__u64 last_ns;
}; /* 32 */

/* Correspondent: a flow binding. */
struct a6_mga_cn_flow {
	__u8 coa[16];           /* the member: destination of the flow's packets */
	__u32 flags;            /* reserved, 0 */
	__u32 _pad;
}; /* 24 */

/*
 * Capture (docs/capture.md, ABI 7). Armed when reason_mask != 0 and
 * bpf_ktime_get_ns() < expires_ns: the holder renews the lease, so a
 * capture whose holder died stops by itself. Written only by userspace
 * (one map update; a torn read is harmless: every field is checked).
 */
struct a6_cap_cfg {
	__u64 reason_mask;   /* A6_R_BIT(r): capture packets counted under r; 0 = disarmed */
	__u64 expires_ns;    /* CLOCK_MONOTONIC (bpf_ktime_get_ns) end of the lease */
	__u32 sample_every;  /* 1 in N matching packets (0 or 1: every one) */
	__u32 snaplen;       /* frame bytes per record (0: A6_CAP_SNAP_DEF; capped at A6_CAP_SNAP_MAX) */
	__u32 budget;        /* records to emit this session, 0 = unlimited */
	__u32 session;       /* copied into every record: tells this capture's records from older ones */
	__u32 owner_pid;     /* the process holding the capture (informational) */
	__u32 flags;         /* reserved, 0 */
}; /* 40 */

/* Counters of the current session; written by the program only (atomic
 * adds on one shared element, paid only for matching packets), zeroed by
 * userspace before it arms. */
struct a6_cap_stats {
	__u64 matched;       /* packets whose reason was in the mask (before sampling) */
	__u64 taken;         /* sampled packets that asked for a budget slot */
	__u64 lost;          /* records not emitted: the ring was full */
}; /* 24 */

/* One record of a6_cap_ring: a header, then the first cap_len bytes of the
 * frame as it was when its verdict was reached (after the rewrite or encap
 * of a forwarded packet). Only the first 48 + cap_len bytes are meaningful. */
struct a6_cap_rec {
	__u64 ts_ns;          /* bpf_ktime_get_ns at the verdict */
	__u32 session;        /* a6_cap_cfg.session */
	__u32 ifindex;        /* ingress interface */
	__u32 wire_len;       /* frame length as it arrived */
	__u32 pkt_len;        /* frame length at the verdict (what data[] is the start of) */
	__u32 cap_len;        /* bytes of data[] that hold the frame: min(pkt_len, snaplen) */
	__u32 member_id;      /* member chosen, or A6_CAP_NO_MEMBER */
	__u32 egress_ifindex; /* the chosen member's interface, 0 if none */
	__u32 rx_queue;       /* ingress rx queue */
	__u16 reason;         /* A6_R_* */
	__u16 verdict;        /* XDP action: 1 drop, 2 pass, 3 tx, 4 redirect */
	__u32 _pad;
	__u8 data[A6_CAP_SNAP_MAX];
}; /* 48 + A6_CAP_SNAP_MAX */

#endif /* ANYCAST6_ABI_H */
