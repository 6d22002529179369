// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * anycast6 MGA correspondent (docs/mga.md 8.1, 8.2): route optimisation of
 * single flows, keyed by a6_mga_cn_flows (the flow as this host sends it ->
 * the CoA of the member that bound it).
 *
 * Egress (tc): a packet of a bound flow gets destination := CoA and a type 2
 * routing header carrying A after its IPv6 header. Its transport checksum
 * already covers A, the final destination (RFC 8200 8.1).
 *
 * Ingress (XDP): a packet whose Destination Options header (directly after
 * the IPv6 header) carries a Home Address option is looked up as the flow
 * (this host, its port, the option's A, the peer's port, protocol); if
 * bound to exactly the packet's source: source := A, the header removed,
 * XDP_PASS. Any other Home Address option is dropped (hao_unknown): the
 * kernel, which has no Mobile IPv6, would answer it with a Parameter
 * Problem. Packets without one pass untouched. Counted in a6_mga_c_stats.
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

#define MC_ETH_P_8021Q  0x8100
#define MC_ETH_P_8021AD 0x88A8
#define MC_MAX_OPTS     8 /* options walked in a Destination Options header */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct a6_mga_flow);
	__type(value, struct a6_mga_cn_flow);
	__uint(max_entries, A6_DEF_MGA_CN_FLOWS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_mga_cn_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct a6_counter);
	__uint(max_entries, A6_MC_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_mga_c_stats SEC(".maps");

static __always_inline int mc_count(__u32 reason, __u64 bytes, int verdict)
{
	struct a6_counter *c = bpf_map_lookup_elem(&a6_mga_c_stats, &reason);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	return verdict;
}

SEC("classifier")
int anycast6_mga_cn_egress(struct __sk_buff *skb)
{
	__u64 bytes = skb->len;
	struct ipv6hdr ip6;
	__u16 ethertype;

	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return mc_count(A6_MC_PASS_OTHER, bytes, TC_ACT_OK);
	if (bpf_skb_load_bytes(skb, MGA_ETH_HLEN - 2, &ethertype, 2) ||
	    ethertype != bpf_htons(ETH_P_IPV6) ||
	    bpf_skb_load_bytes(skb, MGA_ETH_HLEN, &ip6, sizeof(ip6)) || ip6.version != 6)
		return mc_count(A6_MC_PASS_OTHER, bytes, TC_ACT_OK);

	struct a6_mga_flow f = {};

	__builtin_memcpy(f.cn, &ip6.saddr, 16);
	__builtin_memcpy(f.anycast, &ip6.daddr, 16);
	mga_skb_ports(skb, ip6.nexthdr, &f.proto, &f.cn_port_be, &f.service_port_be);

	struct a6_mga_cn_flow *b = bpf_map_lookup_elem(&a6_mga_cn_flows, &f);

	if (!b)
		return mc_count(A6_MC_PASS_UNBOUND, bytes, TC_ACT_OK);
	/* Hop-by-Hop Options must stay first (RFC 8200 4.1); a jumbo payload
	 * length cannot grow. Such packets go on through the home agent. */
	if (ip6.nexthdr == MGA_NH_HOPOPTS || ip6.payload_len == 0)
		return mc_count(A6_MC_PASS_OTHER, bytes, TC_ACT_OK);

	struct mga_ext rh = {
		.nh = ip6.nexthdr,
		.hdr_ext_len = 2,
		.b2 = A6_MGA_RH_TYPE2,
		.b3 = 1, /* segments left */
	};
	__u8 coa[16];
	__u16 payload = bpf_htons(bpf_ntohs(ip6.payload_len) + A6_MGA_EXT_LEN);
	__u8 nh = MGA_NH_ROUTING;

	__builtin_memcpy(coa, b->coa, 16);
	__builtin_memcpy(rh.addr, &ip6.daddr, 16);
	if (!mga_fits(skb, A6_MGA_EXT_LEN))
		return mc_count(A6_MC_DROP_TOO_BIG, bytes, TC_ACT_SHOT);
	if (bpf_skb_adjust_room(skb, A6_MGA_EXT_LEN, BPF_ADJ_ROOM_NET, 0))
		return mc_count(A6_MC_DROP_ADJUST, bytes, TC_ACT_SHOT);
	if (bpf_skb_store_bytes(skb, MGA_ETH_HLEN + MGA_IP6_HLEN, &rh, sizeof(rh), 0) ||
	    bpf_skb_store_bytes(skb, MGA_ETH_HLEN + offsetof(struct ipv6hdr, payload_len), &payload,
				2, 0) ||
	    bpf_skb_store_bytes(skb, MGA_ETH_HLEN + offsetof(struct ipv6hdr, nexthdr), &nh, 1, 0) ||
	    bpf_skb_store_bytes(skb, MGA_ETH_HLEN + offsetof(struct ipv6hdr, daddr), coa, 16, 0))
		return mc_count(A6_MC_DROP_ADJUST, bytes, TC_ACT_SHOT);
	return mc_count(A6_MC_RH2, bytes, TC_ACT_OK);
}

/*
 * Finds the Home Address option in the Destination Options header at `off`
 * (`len` octets, inside the frame and the payload). Returns its offset, 0
 * when the header carries none, -1 when it is malformed, carries two, or
 * carries another option besides padding (removing the header would lose
 * it; keeping it would show the kernel a Home Address option).
 */
static __always_inline int mc_find_hao(void *data, void *data_end, __u32 off, __u32 len)
{
	__u32 o = off + 2;
	__u32 end = off + len;
	int hao = 0, other = 0;

	/* A bounded loop (the verifier walks it; unrolling fails on `continue`). */
	for (int k = 0; k < MC_MAX_OPTS; k++) {
		if (o >= end)
			break;
		__u8 *opt = data + (o & MGA_OFF_MASK);

		if ((void *)(opt + 1) > data_end)
			return -1;
		if (opt[0] == 0) { /* Pad1 */
			o += 1;
			continue;
		}
		if ((void *)(opt + 2) > data_end || o + 2 > end)
			return -1;
		__u32 olen = opt[1];

		if (o + 2 + olen > end)
			return -1;
		if (opt[0] == A6_MGA_OPT_HAO) {
			if (olen != 16 || hao)
				return -1;
			hao = (int)o;
		} else if (opt[0] != 1) { /* not PadN */
			other = 1;
		}
		o += 2 + olen;
	}
	if (!hao)
		return 0; /* (options past the walk: the kernel's) */
	if (other || o < end)
		return -1;
	return hao;
}

static __always_inline int mc_same_addr(const __u8 *x, const __u8 *y)
{
	__u64 a[2], b[2];

	__builtin_memcpy(a, x, 16);
	__builtin_memcpy(b, y, 16);
	return a[0] == b[0] && a[1] == b[1];
}

SEC("xdp")
int anycast6_mga_cn_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct ethhdr *eth = data;
	__u32 l2 = MGA_ETH_HLEN;

	if ((void *)(eth + 1) > data_end)
		return mc_count(A6_MC_PASS_NO_HAO, bytes, XDP_PASS);
	__u16 proto = eth->h_proto;

	if (proto == bpf_htons(MC_ETH_P_8021Q) || proto == bpf_htons(MC_ETH_P_8021AD)) {
		__be16 *inner = data + MGA_ETH_HLEN + 2;

		if ((void *)(inner + 1) > data_end)
			return mc_count(A6_MC_PASS_NO_HAO, bytes, XDP_PASS);
		proto = *inner;
		l2 = MGA_ETH_HLEN + MGA_VLAN_HLEN;
	}
	if (proto != bpf_htons(ETH_P_IPV6))
		return mc_count(A6_MC_PASS_NO_HAO, bytes, XDP_PASS);

	struct ipv6hdr *ip6 = data + l2;

	if ((void *)(ip6 + 1) > data_end || ip6->version != 6 ||
	    ip6->nexthdr != MGA_NH_DSTOPTS)
		return mc_count(A6_MC_PASS_NO_HAO, bytes, XDP_PASS);

	__u32 off = l2 + MGA_IP6_HLEN;
	__u32 end = off + bpf_ntohs(ip6->payload_len);
	__u8 *d = data + off;

	if ((void *)(d + 2) > data_end || off + 2 > end)
		return mc_count(A6_MC_DROP_HAO_BAD, bytes, XDP_DROP);
	__u32 dlen = ((__u32)d[1] + 1) * 8;
	__u8 nh = d[0];

	if (off + dlen > end || data + off + dlen > data_end)
		return mc_count(A6_MC_DROP_HAO_BAD, bytes, XDP_DROP);
	int hao = mc_find_hao(data, data_end, off, dlen);

	if (hao == 0)
		return mc_count(A6_MC_PASS_NO_HAO, bytes, XDP_PASS);
	if (hao < 0)
		return mc_count(A6_MC_DROP_HAO_BAD, bytes, XDP_DROP);

	__u8 *a = data + (((__u32)hao + 2) & MGA_OFF_MASK);

	if ((void *)(a + 16) > data_end)
		return mc_count(A6_MC_DROP_HAO_BAD, bytes, XDP_DROP);

	/* The flow as this host sends it: the reverse, with A as the peer. */
	struct a6_mga_flow f = {};

	__builtin_memcpy(f.cn, &ip6->daddr, 16);
	__builtin_memcpy(f.anycast, a, 16);
	f.proto = nh;
	if (nh == MGA_NH_TCP || nh == MGA_NH_UDP) {
		__u32 l4 = off + dlen;
		__u16 *ports = data + (l4 & MGA_OFF_MASK);

		if ((void *)(ports + 2) > data_end || l4 + 4 > end)
			return mc_count(A6_MC_DROP_HAO_BAD, bytes, XDP_DROP);
		f.service_port_be = ports[0];
		f.cn_port_be = ports[1];
	}

	struct a6_mga_cn_flow *b = bpf_map_lookup_elem(&a6_mga_cn_flows, &f);

	if (!b || !mc_same_addr(b->coa, (const __u8 *)&ip6->saddr))
		return mc_count(A6_MC_DROP_HAO_UNKNOWN, bytes, XDP_DROP);

	int r = l2 == MGA_ETH_HLEN ? mga_xdp_strip(ctx, MGA_ETH_HLEN, dlen, nh, f.anycast, 0)
				   : mga_xdp_strip(ctx, MGA_ETH_HLEN + MGA_VLAN_HLEN, dlen, nh,
						   f.anycast, 0);
	if (r)
		return mc_count(A6_MC_DROP_XDP_ADJUST, bytes, XDP_DROP);
	return mc_count(A6_MC_HAO, bytes, XDP_PASS);
}
