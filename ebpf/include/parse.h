/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for the forwarding program: Ethernet (+ one 802.1Q/802.1ad
 * tag), IPv6, the extension header chain, and enough of TCP/UDP/ICMPv6 to
 * build the flow key. Every access is bounds-checked against data_end; a
 * parse failure yields a reason (A6_R_*), never a crash.
 */
#ifndef ANYCAST6_PARSE_H
#define ANYCAST6_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/in6.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "anycast6_abi.h"

#define A6_ETH_P_8021Q  0x8100
#define A6_ETH_P_8021AD 0x88a8
#define A6_ETH_HLEN     14
#define A6_VLAN_HLEN    4
#define A6_IP6_HLEN     40
/* Offsets are masked so the verifier can bound packet pointers (XDP frames
 * are at most a page; single-buffer only). */
#define A6_OFF_MASK     0x3fff

#define A6_NH_HOPOPTS  0
#define A6_NH_TCP      6
#define A6_NH_UDP      17
#define A6_NH_IPV6     41
#define A6_NH_ROUTING  43
#define A6_NH_FRAGMENT 44
#define A6_NH_ESP      50
#define A6_NH_AH       51
#define A6_NH_ICMPV6   58
#define A6_NH_NONE     59
#define A6_NH_DSTOPTS  60

/* What the parser learned about one frame. Offsets are from ctx->data. */
struct a6_pkt {
	__u32 l2_len;     /* 14, or 18 with a tag                   */
	__u32 l3_len;     /* bytes from the IPv6 header to data_end */
	__u32 l4_off;     /* upper-layer header offset (if any)    */
	__u8 l4_proto;    /* final next header                     */
	__u8 icmp_type;   /* ICMPv6 type when l4_proto == 58        */
	__u8 is_frag;     /* carries a Fragment header             */
	__u8 later_frag;  /* fragment offset != 0 (no L4 header)   */
	__u16 vlan_tci_be;
	__u16 _pad;
	struct a6_flow_key key;
};

/* Step 1: Ethernet and IPv6 header. Returns -1 on success, else a reason. */
static __always_inline int a6_parse_l2_l3(void *data, void *data_end, struct a6_pkt *pkt)
{
	struct ethhdr *eth = data;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return A6_R_DROP_TRUNC_ETH;
	proto = eth->h_proto;
	pkt->l2_len = A6_ETH_HLEN;
	if (proto == bpf_htons(A6_ETH_P_8021Q) || proto == bpf_htons(A6_ETH_P_8021AD)) {
		__u16 *tag = data + A6_ETH_HLEN - 2;

		if (data + A6_ETH_HLEN + A6_VLAN_HLEN > data_end)
			return A6_R_DROP_TRUNC_VLAN;
		pkt->vlan_tci_be = tag[1];
		proto = tag[2];
		pkt->l2_len = A6_ETH_HLEN + A6_VLAN_HLEN;
	}
	if (proto != bpf_htons(ETH_P_IPV6))
		return A6_R_PASS_NOT_IPV6;
	if (data + pkt->l2_len + A6_IP6_HLEN > data_end)
		return A6_R_DROP_TRUNC_IPV6;
	pkt->l3_len = (__u32)(data_end - data) - pkt->l2_len;
	return -1;
}

/*
 * Step 2 (only for packets the FIB owns): validate the IPv6 header, walk
 * the extension headers, fill the flow key. Returns -1 on success.
 */
static __always_inline int a6_parse_owned(void *data, void *data_end, struct ipv6hdr *ip6,
					  struct a6_pkt *pkt)
{
	__u32 payload = bpf_ntohs(ip6->payload_len);
	__u32 off = pkt->l2_len + A6_IP6_HLEN;
	__u32 end = pkt->l2_len + A6_IP6_HLEN + payload;
	__u8 nh = ip6->nexthdr;

	if (ip6->version != 6)
		return A6_R_DROP_BAD_IPV6;
	if (payload + A6_IP6_HLEN > pkt->l3_len)
		return A6_R_DROP_BAD_IPV6;

	__builtin_memcpy(pkt->key.src, &ip6->saddr, 16);
	__builtin_memcpy(pkt->key.dst, &ip6->daddr, 16);

#pragma unroll
	for (int i = 0; i < A6_MAX_EXT_HDRS; i++) {
		if (nh == A6_NH_HOPOPTS || nh == A6_NH_ROUTING || nh == A6_NH_DSTOPTS ||
		    nh == A6_NH_AH) {
			__u8 *h = data + (off & A6_OFF_MASK);
			__u32 len;

			if ((void *)(h + 2) > data_end || off + 2 > end)
				return A6_R_DROP_TRUNC_EXT;
			len = nh == A6_NH_AH ? ((__u32)h[1] + 2) * 4 : ((__u32)h[1] + 1) * 8;
			if (off + len > end)
				return A6_R_DROP_TRUNC_EXT;
			nh = h[0];
			off += len;
			continue;
		}
		if (nh == A6_NH_FRAGMENT) {
			__u8 *h = data + (off & A6_OFF_MASK);
			__u16 fo;

			if ((void *)(h + 8) > data_end || off + 8 > end)
				return A6_R_DROP_TRUNC_EXT;
			/* RFC 8200 4.5: the Next Header of every fragment names the
			 * first header of the fragmentable part, so it keys all of
			 * them alike; the identification keeps datagrams apart. */
			fo = ((__u16)h[2] << 8) | h[3];
			/* RFC 8200 4.5: a fragment with M = 1 whose fragmentable
			 * part is not a multiple of 8 octets must be discarded. */
			if ((fo & 1) && ((end - (off + 8)) & 7))
				return A6_R_DROP_BAD_FRAG;
			pkt->is_frag = 1;
			pkt->later_frag = (fo >> 3) != 0;
			pkt->key.frag = 1;
			pkt->key.proto = h[0];
			__builtin_memcpy(&pkt->key.sport_be, h + 4, 2);
			__builtin_memcpy(&pkt->key.dport_be, h + 6, 2);
			pkt->l4_proto = h[0];
			pkt->l4_off = off + 8;
			/* A first fragment of ICMPv6 still tells us the type. */
			if (!pkt->later_frag && h[0] == A6_NH_ICMPV6) {
				__u8 *t = data + ((off + 8) & A6_OFF_MASK);

				if ((void *)(t + 1) <= data_end && off + 9 <= end)
					pkt->icmp_type = t[0];
			}
			return -1;
		}
		goto upper;
	}
	return A6_R_DROP_EXT_CHAIN;

upper:
	pkt->l4_proto = nh;
	pkt->l4_off = off;
	pkt->key.proto = nh;
	if (nh == A6_NH_TCP) {
		__u8 *l4 = data + (off & A6_OFF_MASK);

		if ((void *)(l4 + 20) > data_end || off + 20 > end)
			return A6_R_DROP_TRUNC_L4;
		__builtin_memcpy(&pkt->key.sport_be, l4, 2);
		__builtin_memcpy(&pkt->key.dport_be, l4 + 2, 2);
	} else if (nh == A6_NH_UDP) {
		__u8 *l4 = data + (off & A6_OFF_MASK);

		if ((void *)(l4 + 8) > data_end || off + 8 > end)
			return A6_R_DROP_TRUNC_L4;
		__builtin_memcpy(&pkt->key.sport_be, l4, 2);
		__builtin_memcpy(&pkt->key.dport_be, l4 + 2, 2);
	} else if (nh == A6_NH_ICMPV6) {
		__u8 *l4 = data + (off & A6_OFF_MASK);

		if ((void *)(l4 + 4) > data_end || off + 4 > end)
			return A6_R_DROP_TRUNC_L4;
		pkt->icmp_type = l4[0];
		/* Echo request/reply: the identifier tells pings apart. */
		if (l4[0] == ICMPV6_ECHO_REQUEST || l4[0] == ICMPV6_ECHO_REPLY) {
			if ((void *)(l4 + 8) > data_end || off + 8 > end)
				return A6_R_DROP_TRUNC_L4;
			__builtin_memcpy(&pkt->key.sport_be, l4 + 4, 2);
		}
	}
	return -1;
}

#endif /* ANYCAST6_PARSE_H */
