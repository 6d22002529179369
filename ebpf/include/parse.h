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

/* Hop-by-Hop option types (RFC 8200 4.2, RFC 2675) */
#define A6_OPT_PAD1     0
#define A6_OPT_PADN     1
#define A6_OPT_JUMBO    0xc2
#define A6_JUMBO_MIN    65536 /* a Jumbo Payload Length is more than 65535 */

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
	__u8 tcp_flags;   /* TCP header octet 13 (CWR..FIN) when l4_proto == 6 */
	__u8 _pad;
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
 * The Hop-by-Hop Options header at `off` (the first extension header),
 * `*len` set to its length. Pad1 and PadN are skipped; a Jumbo Payload
 * option is checked (RFC 2675: Payload Length 0, option length 4, a length
 * over 65535 that the frame really carries -- never true of a single-buffer
 * XDP frame); any other option, or more than A6_MAX_HBH_OPTS of them, makes
 * the packet the kernel's, which processes the options the fast path does
 * not. With Payload Length 0 the header is read against the frame (a
 * jumbogram's payload length is in the option); no valid Jumbo Payload
 * option there means the header lies outside the payload.
 * Returns -1 when the packet goes on through the fast path, else a reason.
 */
static __always_inline int a6_parse_hbh(void *data, void *data_end, struct a6_pkt *pkt,
					__u32 off, __u32 end, __u32 payload, __u32 *len)
{
	__u32 limit = payload ? end : pkt->l2_len + pkt->l3_len;
	__u8 *h = data + (off & A6_OFF_MASK);
	int other = 0;

	if ((void *)(h + 2) > data_end || off + 2 > limit)
		return A6_R_DROP_TRUNC_EXT;
	*len = ((__u32)h[1] + 1) * 8;
	__u32 oend = off + *len;
	__u32 o = off + 2;

	if (oend > limit)
		return A6_R_DROP_TRUNC_EXT;
#pragma unroll
	for (int k = 0; k < A6_MAX_HBH_OPTS; k++) {
		if (o >= oend)
			goto walked;
		__u8 *opt = data + (o & A6_OFF_MASK);

		if ((void *)(opt + 1) > data_end)
			return A6_R_DROP_TRUNC_EXT;
		if (opt[0] == A6_OPT_PAD1) {
			o += 1;
			continue;
		}
		if ((void *)(opt + 2) > data_end || o + 2 > oend)
			return A6_R_DROP_TRUNC_EXT;
		__u32 olen = opt[1];

		if (o + 2 + olen > oend)
			return A6_R_DROP_TRUNC_EXT;
		if (opt[0] == A6_OPT_JUMBO) {
			__u8 *jl = opt + 2;
			__u32 jumbo;

			if (payload != 0 || olen != 4 || (void *)(jl + 4) > data_end)
				return A6_R_DROP_BAD_JUMBO;
			jumbo = ((__u32)jl[0] << 24) | ((__u32)jl[1] << 16) | ((__u32)jl[2] << 8) | jl[3];
			if (jumbo < A6_JUMBO_MIN || jumbo > pkt->l3_len - A6_IP6_HLEN)
				return A6_R_DROP_BAD_JUMBO;
			other = 1; /* a real jumbogram: the kernel's */
		} else if (opt[0] != A6_OPT_PADN) {
			other = 1;
		}
		o += 2 + olen;
	}
	if (o < oend)
		other = 1; /* more options than the walk covers */
walked:
	if (payload == 0 && !other)
		return A6_R_DROP_TRUNC_EXT;
	if (other)
		return A6_R_PASS_HBH_OPTIONS;
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
		if (nh == A6_NH_HOPOPTS) {
			__u8 *h = data + (off & A6_OFF_MASK);
			__u32 len = 0;
			int r;

			/* RFC 8200 4.1: only immediately after the IPv6 header. */
			if (i != 0)
				return A6_R_DROP_BAD_HBH;
			r = a6_parse_hbh(data, data_end, pkt, off, end, payload, &len);
			if (r >= 0)
				return r;
			if ((void *)(h + 1) > data_end)
				return A6_R_DROP_TRUNC_EXT;
			nh = h[0];
			off += len;
			continue;
		}
		if (nh == A6_NH_ROUTING || nh == A6_NH_DSTOPTS || nh == A6_NH_AH) {
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
			/* Hop-by-Hop Options belong before the Fragment header. */
			if (h[0] == A6_NH_HOPOPTS)
				return A6_R_DROP_BAD_HBH;
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
	/* Valid IPv6 the fast path does not parse: the kernel forwards or
	 * rejects it by its own rules (DESIGN.md decision 7). */
	return A6_R_PASS_EXT_CHAIN;

upper:
	pkt->l4_proto = nh;
	pkt->l4_off = off;
	pkt->key.proto = nh;
	if (nh == A6_NH_TCP || nh == A6_NH_UDP) {
		__u8 *l4 = data + (off & A6_OFF_MASK);
		__u32 need = nh == A6_NH_TCP ? 20 : 8;

		if ((void *)(l4 + 8) > data_end || off + need > end)
			return A6_R_DROP_TRUNC_L4;
		if (nh == A6_NH_TCP && (void *)(l4 + 20) > data_end)
			return A6_R_DROP_TRUNC_L4;
		/* Keep the checked pointer: clang would otherwise recompute
		 * data + off after the branches merge, and the verifier does
		 * not carry the bounds check over to a recomputed pointer. */
		asm volatile("" : "+r"(l4));
		__builtin_memcpy(&pkt->key.sport_be, l4, 2);
		__builtin_memcpy(&pkt->key.dport_be, l4 + 2, 2);
		if (nh == A6_NH_TCP)
			pkt->tcp_flags = l4[13];
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
