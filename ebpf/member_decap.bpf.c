// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * anycast6 member-side decapsulation (XDP).
 *
 * A router that pins a flow to a remote member (A6_ACT_ENCAP, MGA) sends it
 * IPv6-in-IPv6 (RFC 2473) to the member's unicast address. This kernel has no
 * ip6_tnl, so the member strips the outer header here:
 *
 *   Ethernet [+ one 802.1Q/802.1ad tag] | outer IPv6 (next header 41) | inner IPv6 ...
 *   -> Ethernet [+ tag] | inner IPv6 ...      when the inner destination is served
 *
 * The outer header must not carry extension headers (the encapsulator never
 * adds any).
 *
 * MGA route optimisation (docs/mga.md 8.1, ABI 6): a packet (to any
 * destination) whose IPv6 header is directly followed by a type 2 routing
 * header (RFC 6275 6.4) carrying a served Home Address A gets destination
 * := A and loses the routing header; the stack then delivers it to the
 * socket bound to A. A type 2 header with Hdr Ext Len != 2 or Segments
 * Left != 1 is dropped (this kernel has no Mobile IPv6 and would answer a
 * Parameter Problem); one whose address is not served goes to the kernel.
 *
 * Everything else goes to the kernel untouched (XDP_PASS). Every verdict is
 * counted in a6_decap_stats under an A6_D_* reason.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "anycast6_abi.h"
#include "mga.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define A6D_ETH_HLEN     14
#define A6D_VLAN_HLEN    4
#define A6D_IP6_HLEN     40
#define A6D_ETH_P_IPV6   0x86DD
#define A6D_ETH_P_8021Q  0x8100
#define A6D_ETH_P_8021AD 0x88A8
#define A6D_NH_IPV6      41
#define A6D_NH_ROUTING   43

/* Anycast addresses this member serves: inner destinations to decapsulate.
 * The value is reserved (userspace writes 1). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct a6_fib_key);
	__type(value, __u32);
	__uint(max_entries, A6_DEF_DECAP_ADDRS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_decap_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct a6_counter);
	__uint(max_entries, A6_D_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_decap_stats SEC(".maps");

static __always_inline int a6d_count(__u32 reason, __u64 bytes, int verdict)
{
	struct a6_counter *c = bpf_map_lookup_elem(&a6_decap_stats, &reason);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	return verdict;
}

/* A routing header directly after the IPv6 header at `l2`. */
static __always_inline int a6d_rh2(struct xdp_md *ctx, __u32 l2, __u64 bytes)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = data + (l2 & 0x1f);
	__u8 *rh = (void *)(ip6 + 1);

	if ((void *)(ip6 + 1) > data_end || (void *)(rh + 4) > data_end)
		return a6d_count(A6_D_DROP_TRUNC, bytes, XDP_DROP);
	if (rh[2] != A6_MGA_RH_TYPE2)
		return a6d_count(A6_D_PASS_OTHER, bytes, XDP_PASS);
	if (rh[1] != 2 || rh[3] != 1)
		return a6d_count(A6_D_DROP_RH2_BAD, bytes, XDP_DROP);
	if ((void *)(rh + A6_MGA_EXT_LEN) > data_end ||
	    bpf_ntohs(ip6->payload_len) < A6_MGA_EXT_LEN)
		return a6d_count(A6_D_DROP_TRUNC, bytes, XDP_DROP);

	struct a6_fib_key key;
	__u8 nh = rh[0];

	__builtin_memcpy(key.addr, rh + 8, sizeof(key.addr));
	if (!bpf_map_lookup_elem(&a6_decap_addrs, &key))
		return a6d_count(A6_D_PASS_RH2_NOT_OURS, bytes, XDP_PASS);
	int r = l2 == A6D_ETH_HLEN
			? mga_xdp_strip(ctx, A6D_ETH_HLEN, A6_MGA_EXT_LEN, nh, key.addr, 1)
			: mga_xdp_strip(ctx, A6D_ETH_HLEN + A6D_VLAN_HLEN, A6_MGA_EXT_LEN, nh,
					key.addr, 1);
	if (r)
		return a6d_count(A6_D_DROP_ADJUST, bytes, XDP_DROP);
	return a6d_count(A6_D_RH2, bytes, XDP_PASS);
}

SEC("xdp")
int anycast6_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct ethhdr *eth = data;
	__u32 l2 = A6D_ETH_HLEN;

	if ((void *)(eth + 1) > data_end)
		return a6d_count(A6_D_PASS_OTHER, bytes, XDP_PASS);
	__u16 proto = eth->h_proto;

	if (proto == bpf_htons(A6D_ETH_P_8021Q) || proto == bpf_htons(A6D_ETH_P_8021AD)) {
		/* One tag: TCI then the encapsulated ethertype. */
		__be16 *inner_proto = data + A6D_ETH_HLEN + 2;

		if ((void *)(inner_proto + 1) > data_end)
			return a6d_count(A6_D_PASS_OTHER, bytes, XDP_PASS);
		proto = *inner_proto;
		l2 = A6D_ETH_HLEN + A6D_VLAN_HLEN;
	}
	if (proto != bpf_htons(A6D_ETH_P_IPV6))
		return a6d_count(A6_D_PASS_OTHER, bytes, XDP_PASS);

	struct ipv6hdr *outer = data + l2;

	if ((void *)(outer + 1) > data_end)
		return a6d_count(A6_D_DROP_TRUNC, bytes, XDP_DROP);
	if (outer->version == 6 && outer->nexthdr == A6D_NH_ROUTING)
		return a6d_rh2(ctx, l2, bytes);
	if (outer->version != 6 || outer->nexthdr != A6D_NH_IPV6)
		return a6d_count(A6_D_PASS_OTHER, bytes, XDP_PASS);

	struct ipv6hdr *inner = (void *)(outer + 1);

	if ((void *)(inner + 1) > data_end)
		return a6d_count(A6_D_DROP_TRUNC, bytes, XDP_DROP);
	if (inner->version != 6)
		return a6d_count(A6_D_PASS_OTHER, bytes, XDP_PASS);

	struct a6_fib_key key;

	__builtin_memcpy(key.addr, &inner->daddr, sizeof(key.addr));
	if (!bpf_map_lookup_elem(&a6_decap_addrs, &key))
		return a6d_count(A6_D_PASS_NOT_OURS, bytes, XDP_PASS);

	/* Move the L2 header forward over the outer IPv6 header, then drop the
	 * first 40 bytes. Source [0, l2) and destination [40, 40 + l2) do not
	 * overlap (l2 <= 18), and both lie before the inner header, which the
	 * check above proved is in the frame. */
	if (l2 == A6D_ETH_HLEN)
		__builtin_memcpy(data + A6D_IP6_HLEN, data, A6D_ETH_HLEN);
	else
		__builtin_memcpy(data + A6D_IP6_HLEN, data, A6D_ETH_HLEN + A6D_VLAN_HLEN);
	if (bpf_xdp_adjust_head(ctx, A6D_IP6_HLEN))
		return a6d_count(A6_D_DROP_ADJUST, bytes, XDP_DROP);
	return a6d_count(A6_D_DECAP, bytes, XDP_PASS);
}
