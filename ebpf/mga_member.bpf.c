// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * anycast6 MGA member egress (tc, clsact egress / tcx), docs/mga.md 6.3 and 8.2.
 *
 * For an IPv6 packet whose source is an anycast address A this member serves
 * by MGA (a6_mga_homes):
 *
 *   - its flow (as the correspondent sends it) is counted in a6_mga_flows;
 *   - route-optimised flow (a6_mga_ro, HAO_ON): source := CoA and a
 *     Destination Options header with the Home Address option (A) inserted
 *     after the IPv6 header. The transport checksum stays: it covers A, the
 *     home address (RFC 6275 6.3), and the correspondent restores A before
 *     its stack sees the packet;
 *   - else, reverse tunnel (A6_MGA_F_REVERSE_TUNNEL): IPv6-in-IPv6 (RFC 2473),
 *     outer source CoA, destination the home agent, hop limit 64;
 *   - else untouched.
 *
 * Headers are read with bpf_skb_load_bytes (a GSO packet's linear part may
 * end anywhere). Both insertions use bpf_skb_adjust_room, which lowers a GSO
 * packet's gso_size by the added octets; a non-GSO packet that would then
 * exceed the MTU is dropped and counted (the daemon lowers the MSS of A's
 * services instead, docs/mga.md 8.3). Every verdict is counted in
 * a6_mga_m_stats under an A6_MM_* reason.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "anycast6_abi.h"
#include "mga.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct a6_fib_key);
	__type(value, struct a6_mga_home);
	__uint(max_entries, A6_DEF_MGA_HOMES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_mga_homes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct a6_mga_flow);
	__type(value, struct a6_mga_ro);
	__uint(max_entries, A6_DEF_MGA_RO);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_mga_ro SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct a6_mga_flow);
	__type(value, struct a6_mga_flow_count);
	__uint(max_entries, A6_DEF_MGA_FLOWS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_mga_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct a6_counter);
	__uint(max_entries, A6_MM_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_mga_m_stats SEC(".maps");

static __always_inline int mm_count(__u32 reason, __u64 bytes, int verdict)
{
	struct a6_counter *c = bpf_map_lookup_elem(&a6_mga_m_stats, &reason);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	return verdict;
}

static __always_inline void mm_account(struct a6_mga_flow *f, __u64 bytes)
{
	struct a6_mga_flow_count *c = bpf_map_lookup_elem(&a6_mga_flows, f);
	__u64 now = bpf_ktime_get_ns();

	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, bytes);
		c->last_ns = now;
		return;
	}
	struct a6_mga_flow_count n = {.packets = 1, .bytes = bytes, .first_ns = now, .last_ns = now};

	/* Lost race with another CPU: its entry stands, this packet is not counted. */
	bpf_map_update_elem(&a6_mga_flows, f, &n, BPF_NOEXIST);
}

/* Destination Options + Home Address option after the IPv6 header. */
static __always_inline int mm_insert_hao(struct __sk_buff *skb, struct ipv6hdr *ip6,
					 const __u8 *coa)
{
	struct mga_ext d = {
		.nh = ip6->nexthdr,
		.hdr_ext_len = 2,
		.b2 = 1, /* PadN */
		.b3 = 2,
		.b6 = A6_MGA_OPT_HAO,
		.b7 = 16,
	};
	__u16 payload = bpf_ntohs(ip6->payload_len) + A6_MGA_EXT_LEN;
	__u8 nh = MGA_NH_DSTOPTS;

	__builtin_memcpy(d.addr, &ip6->saddr, 16);
	if (bpf_skb_adjust_room(skb, A6_MGA_EXT_LEN, BPF_ADJ_ROOM_NET, 0))
		return -1;
	payload = bpf_htons(payload);
	if (bpf_skb_store_bytes(skb, MGA_ETH_HLEN + MGA_IP6_HLEN, &d, sizeof(d), 0) ||
	    bpf_skb_store_bytes(skb, MGA_ETH_HLEN + offsetof(struct ipv6hdr, payload_len), &payload,
				2, 0) ||
	    bpf_skb_store_bytes(skb, MGA_ETH_HLEN + offsetof(struct ipv6hdr, nexthdr), &nh, 1, 0) ||
	    bpf_skb_store_bytes(skb, MGA_ETH_HLEN + offsetof(struct ipv6hdr, saddr), coa, 16, 0))
		return -1;
	return 0;
}

/* IPv6-in-IPv6 to the home agent (RFC 2473): the inner packet unchanged. */
static __always_inline int mm_encap(struct __sk_buff *skb, struct ipv6hdr *ip6,
				    const struct a6_mga_home *home)
{
	struct ipv6hdr outer = {
		.version = 6,
		.nexthdr = 41,
		.hop_limit = A6_MGA_TUN_HOP_LIMIT,
	};

	/* Traffic class from the inner packet (RFC 2473 6.5), flow label 0. */
	outer.priority = ip6->priority;
	outer.flow_lbl[0] = ip6->flow_lbl[0] & 0xf0;
	outer.payload_len = bpf_htons(bpf_ntohs(ip6->payload_len) + MGA_IP6_HLEN);
	__builtin_memcpy(&outer.saddr, home->coa, 16);
	__builtin_memcpy(&outer.daddr, home->home_agent, 16);
	if (bpf_skb_adjust_room(skb, MGA_IP6_HLEN, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_ENCAP_L3_IPV6))
		return -1;
	if (bpf_skb_store_bytes(skb, MGA_ETH_HLEN, &outer, sizeof(outer), 0))
		return -1;
	return 0;
}

SEC("classifier")
int anycast6_mga_member(struct __sk_buff *skb)
{
	__u64 bytes = skb->len;
	struct ipv6hdr ip6;
	__u16 ethertype;

	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return mm_count(A6_MM_PASS_OTHER, bytes, TC_ACT_OK);
	if (bpf_skb_load_bytes(skb, MGA_ETH_HLEN - 2, &ethertype, 2) ||
	    ethertype != bpf_htons(ETH_P_IPV6) ||
	    bpf_skb_load_bytes(skb, MGA_ETH_HLEN, &ip6, sizeof(ip6)) || ip6.version != 6)
		return mm_count(A6_MM_PASS_OTHER, bytes, TC_ACT_OK);

	struct a6_fib_key k;

	__builtin_memcpy(k.addr, &ip6.saddr, 16);
	struct a6_mga_home *home = bpf_map_lookup_elem(&a6_mga_homes, &k);

	if (!home)
		return mm_count(A6_MM_PASS_OTHER, bytes, TC_ACT_OK);

	/* The flow as the correspondent sends it: the reverse of this packet. */
	struct a6_mga_flow f = {};

	__builtin_memcpy(f.cn, &ip6.daddr, 16);
	__builtin_memcpy(f.anycast, &ip6.saddr, 16);
	mga_skb_ports(skb, ip6.nexthdr, &f.proto, &f.service_port_be, &f.cn_port_be);
	mm_account(&f, bytes);

	struct a6_mga_ro *ro = bpf_map_lookup_elem(&a6_mga_ro, &f);

	/* Hop-by-Hop Options must stay first (RFC 8200 4.1) and a jumbo payload
	 * length cannot grow: such packets take the reverse tunnel. */
	if (ro && (ro->flags & A6_MGA_F_HAO_ON) && ip6.nexthdr != MGA_NH_HOPOPTS &&
	    ip6.payload_len != 0) {
		__u8 coa[16];

		__builtin_memcpy(coa, ro->coa, 16);
		if (!mga_fits(skb, A6_MGA_EXT_LEN))
			return mm_count(A6_MM_DROP_TOO_BIG, bytes, TC_ACT_SHOT);
		if (mm_insert_hao(skb, &ip6, coa))
			return mm_count(A6_MM_DROP_ADJUST, bytes, TC_ACT_SHOT);
		return mm_count(A6_MM_HAO, bytes, TC_ACT_OK);
	}
	if (home->flags & A6_MGA_F_REVERSE_TUNNEL) {
		struct a6_mga_home h = *home;

		if (!mga_fits(skb, MGA_IP6_HLEN))
			return mm_count(A6_MM_DROP_TOO_BIG, bytes, TC_ACT_SHOT);
		if (mm_encap(skb, &ip6, &h))
			return mm_count(A6_MM_DROP_ADJUST, bytes, TC_ACT_SHOT);
		return mm_count(A6_MM_TUNNEL, bytes, TC_ACT_OK);
	}
	return mm_count(A6_MM_DIRECT, bytes, TC_ACT_OK);
}
