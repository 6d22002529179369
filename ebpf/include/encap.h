/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Frame rewriting: Ethernet rewrite, IPv6-in-IPv6 encapsulation (RFC 2473)
 * and ICMPv6 Packet Too Big (RFC 4443 3.2) built in place and sent back.
 * Each returns -1 on success or an A6_R_* reason.
 */
#ifndef ANYCAST6_ENCAP_H
#define ANYCAST6_ENCAP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "anycast6_abi.h"
#include "parse.h"
#include "csum.h"

#define A6_PTB_MAX_QUOTE (1280 - A6_IP6_HLEN - 8) /* minimum MTU minus our headers */
#define A6_ENCAP_HOP_LIMIT 64
#define A6_PTB_HOP_LIMIT 255

/* Replaces the L2 header (14 or 18 bytes) with an untagged Ethernet header
 * toward the member. Frames leave untagged: the egress is the member link. */
static __always_inline int a6_rewrite_l2(struct xdp_md *ctx, struct a6_pkt *pkt,
					 const struct a6_member *m)
{
	void *data, *data_end;
	struct ethhdr *eth;

	if (pkt->l2_len != A6_ETH_HLEN) {
		if (bpf_xdp_adjust_head(ctx, A6_VLAN_HLEN))
			return A6_R_DROP_ADJUST;
		pkt->l2_len = A6_ETH_HLEN;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return A6_R_DROP_ADJUST;
	__builtin_memcpy(eth->h_dest, m->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, m->smac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IPV6);
	return -1;
}

/* Prepends Ethernet + outer IPv6 (next header 41) to the IPv6 packet. */
static __always_inline int a6_encap(struct xdp_md *ctx, struct a6_pkt *pkt,
				    const struct a6_member *m, __u32 flow_hash)
{
	void *data, *data_end;
	struct ethhdr *eth;
	struct ipv6hdr *outer, *inner;
	__u32 inner_len = pkt->l3_len;
	int grow = (int)(A6_ETH_HLEN + A6_IP6_HLEN) - (int)pkt->l2_len;

	if (bpf_xdp_adjust_head(ctx, -grow))
		return A6_R_DROP_ADJUST;
	pkt->l2_len = A6_ETH_HLEN;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	outer = data + A6_ETH_HLEN;
	inner = data + A6_ETH_HLEN + A6_IP6_HLEN;
	if ((void *)(inner + 1) > data_end)
		return A6_R_DROP_ADJUST;
	__builtin_memcpy(eth->h_dest, m->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, m->smac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IPV6);

	/* Version 6, the inner traffic class (RFC 2473 6.5), flow label from
	 * the flow hash so ECMP on the way keeps one flow on one path. */
	__u8 tc = (__u8)((inner->priority << 4) | (inner->flow_lbl[0] >> 4));
	__u32 fl = flow_hash & 0xfffff;
	__u32 w0 = (6u << 28) | ((__u32)tc << 20) | fl;

	*(__u32 *)outer = bpf_htonl(w0);
	outer->payload_len = bpf_htons((__u16)inner_len);
	outer->nexthdr = A6_NH_IPV6;
	outer->hop_limit = A6_ENCAP_HOP_LIMIT;
	__builtin_memcpy(&outer->saddr, m->encap_src, 16);
	__builtin_memcpy(&outer->daddr, m->unicast, 16);
	pkt->l3_len = inner_len + A6_IP6_HLEN;
	return -1;
}

/*
 * Turns the frame into an ICMPv6 Packet Too Big for its sender, quoting as
 * much of the packet as fits in 1280 bytes, addressed back out of the
 * ingress interface (the caller redirects it there). The L2 header (and a VLAN tag) is kept, with
 * the MAC addresses swapped.
 */
static __always_inline int a6_build_ptb(struct xdp_md *ctx, struct a6_pkt *pkt, __u32 mtu,
					const __u8 *router_addr)
{
	void *data, *data_end;
	struct ethhdr *eth;
	struct ipv6hdr *ip6;
	struct icmp6hdr *icmp;
	__u32 quote = pkt->l3_len;
	__u32 l2 = pkt->l2_len;
	__u8 mac[ETH_ALEN];
	__u8 orig_dst[16];
	int delta;

	if (quote > A6_PTB_MAX_QUOTE)
		quote = A6_PTB_MAX_QUOTE;

	if (bpf_xdp_adjust_head(ctx, -(A6_IP6_HLEN + 8)))
		return A6_R_DROP_ADJUST;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	/* Move the L2 header to the new front. */
	if (data + A6_IP6_HLEN + 8 + A6_ETH_HLEN + A6_VLAN_HLEN > data_end)
		return A6_R_DROP_ADJUST;
	if (l2 == A6_ETH_HLEN)
		__builtin_memmove(data, data + A6_IP6_HLEN + 8, A6_ETH_HLEN);
	else
		__builtin_memmove(data, data + A6_IP6_HLEN + 8, A6_ETH_HLEN + A6_VLAN_HLEN);

	/* Cut the quote to size. */
	delta = (int)(l2 + A6_IP6_HLEN + 8 + quote) - (int)(data_end - data);
	if (delta < 0 && bpf_xdp_adjust_tail(ctx, delta))
		return A6_R_DROP_ADJUST;

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if (l2 == A6_ETH_HLEN) {
		ip6 = data + A6_ETH_HLEN;
	} else {
		ip6 = data + A6_ETH_HLEN + A6_VLAN_HLEN;
	}
	icmp = (void *)(ip6 + 1);
	struct ipv6hdr *orig = (void *)icmp + 8;

	if ((void *)(orig + 1) > data_end)
		return A6_R_DROP_ADJUST;

	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);

	__builtin_memcpy(orig_dst, &orig->daddr, 16);
	*(__u32 *)ip6 = bpf_htonl(6u << 28);
	ip6->payload_len = bpf_htons((__u16)(8 + quote));
	ip6->nexthdr = A6_NH_ICMPV6;
	ip6->hop_limit = A6_PTB_HOP_LIMIT;
	__builtin_memcpy(&ip6->daddr, &orig->saddr, 16);
	{
		const __u32 *ra = (const __u32 *)router_addr;

		/* Without a configured router address, answer from the
		 * address the packet was sent to. */
		if ((ra[0] | ra[1] | ra[2] | ra[3]) == 0)
			__builtin_memcpy(&ip6->saddr, orig_dst, 16);
		else
			__builtin_memcpy(&ip6->saddr, router_addr, 16);
	}
	icmp->icmp6_type = ICMPV6_PKT_TOOBIG;
	icmp->icmp6_code = 0;
	icmp->icmp6_cksum = 0;
	icmp->icmp6_dataun.un_data32[0] = bpf_htonl(mtu);

	/* Checksum: pseudo-header (RFC 8200 8.1), ICMPv6 header, quote. */
	__u64 sum = 0;
	__u32 plen_be = bpf_htonl(8 + quote);
	__u32 nh_be = bpf_htonl(A6_NH_ICMPV6);

	sum = a6_csum_add_words(sum, (const __u32 *)&ip6->saddr, 4);
	sum = a6_csum_add_words(sum, (const __u32 *)&ip6->daddr, 4);
	sum += plen_be;
	sum += nh_be;
	sum = a6_csum_add_words(sum, (const __u32 *)icmp, 2);

	__u32 *w = (__u32 *)orig;
	__u32 words = quote / 4;

	for (__u32 i = 0; i < A6_PTB_MAX_QUOTE / 4; i++) {
		if (i >= words)
			break;
		if ((void *)(w + i + 1) > data_end)
			break;
		sum += w[i];
	}
	if (quote & 3) {
		__u8 *t = (__u8 *)orig + (words * 4);
		__u8 tail[4] = {0, 0, 0, 0};

		if ((void *)(t + 1) <= data_end)
			tail[0] = t[0];
		if ((quote & 3) > 1 && (void *)(t + 2) <= data_end)
			tail[1] = t[1];
		if ((quote & 3) > 2 && (void *)(t + 3) <= data_end)
			tail[2] = t[2];
		sum += *(__u32 *)tail;
	}
	icmp->icmp6_cksum = a6_csum_fold(sum);
	return -1;
}

#endif /* ANYCAST6_ENCAP_H */
