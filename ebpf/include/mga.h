/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * MGA helpers shared by the member and correspondent programs
 * (docs/mga.md section 8): the flow's ports from an skb, and removing an
 * extension header that directly follows the IPv6 header of an XDP frame.
 */
#ifndef ANYCAST6_MGA_H
#define ANYCAST6_MGA_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "anycast6_abi.h"

#define MGA_ETH_HLEN   14
#define MGA_VLAN_HLEN  4
#define MGA_IP6_HLEN   40
#define MGA_NH_HOPOPTS 0
#define MGA_NH_TCP     6
#define MGA_NH_UDP     17
#define MGA_NH_ROUTING 43
#define MGA_NH_FRAG    44
#define MGA_NH_AH      51
#define MGA_NH_DSTOPTS 60
#define MGA_OFF_MASK   0x3fff

#ifndef BPF_F_ADJ_ROOM_ENCAP_L3_IPV6
#define BPF_F_ADJ_ROOM_ENCAP_L3_IPV6 (1ULL << 2)
#endif

/* The 24 octets MGA inserts: a type 2 routing header (8.1) or a
 * Destination Options header with PadN(2) and the Home Address option (8.2). */
struct mga_ext {
	__u8 nh;
	__u8 hdr_ext_len; /* 2 */
	__u8 b2;          /* RH: routing type 2;  DO: PadN type 1 */
	__u8 b3;          /* RH: segments left 1; DO: PadN length 2 */
	__u8 b4;          /* RH: reserved;        DO: 0 (PadN data) */
	__u8 b5;
	__u8 b6;          /* RH: reserved;        DO: option type 201 */
	__u8 b7;          /* RH: reserved;        DO: option length 16 */
	__u8 addr[16];    /* A */
};
_Static_assert(sizeof(struct mga_ext) == A6_MGA_EXT_LEN, "MGA extension header is 24 octets");

/*
 * The upper-layer protocol and ports of an skb's IPv6 packet (network header
 * at MGA_ETH_HLEN): the extension header chain is walked up to
 * A6_MAX_EXT_HDRS headers; a fragment, a longer chain, a header cut short
 * or a protocol without ports leaves the ports 0.
 */
static __always_inline void mga_skb_ports(struct __sk_buff *skb, __u8 nh, __u8 *proto,
					  __u16 *sport_be, __u16 *dport_be)
{
	__u32 off = MGA_ETH_HLEN + MGA_IP6_HLEN;
	__u8 h[2];

	*sport_be = 0;
	*dport_be = 0;
#pragma unroll
	for (int i = 0; i < A6_MAX_EXT_HDRS; i++) {
		if (nh != MGA_NH_HOPOPTS && nh != MGA_NH_ROUTING && nh != MGA_NH_DSTOPTS &&
		    nh != MGA_NH_AH && nh != MGA_NH_FRAG)
			break;
		if (bpf_skb_load_bytes(skb, off, h, 2)) {
			*proto = nh;
			return;
		}
		if (nh == MGA_NH_FRAG) {
			*proto = h[0];
			return;
		}
		off += nh == MGA_NH_AH ? ((__u32)h[1] + 2) * 4 : ((__u32)h[1] + 1) * 8;
		nh = h[0];
	}
	*proto = nh;
	if (nh == MGA_NH_TCP || nh == MGA_NH_UDP) {
		__u16 p[2];

		if (!bpf_skb_load_bytes(skb, off, p, 4)) {
			*sport_be = p[0];
			*dport_be = p[1];
		}
	}
}

/* True if growing the skb by `grow` octets keeps it within the egress MTU
 * (GSO packets are segmented to fit: bpf_skb_adjust_room lowers gso_size). */
static __always_inline int mga_fits(struct __sk_buff *skb, __u32 grow)
{
	__u32 mtu = 0;

	/* Without BPF_MTU_CHK_SEGS a GSO packet passes (its segments are cut
	 * to the MTU after the growth). */
	return bpf_check_mtu(skb, 0, &mtu, (__s32)grow, 0) == BPF_MTU_CHK_RET_SUCCESS;
}

/*
 * Removes the `len` octets right after the IPv6 header of an XDP frame whose
 * L2 header is `l2` (a constant after inlining: 14 or 18) octets, and
 * rewrites the IPv6 header on the way: next header := nh, payload length
 * -= len, and the source (`set_dst` 0) or destination (1) := addr.
 * The headers are edited in a copy on the stack, so the frame is untouched
 * when this fails (returns -1).
 */
static __always_inline int mga_xdp_strip(struct xdp_md *ctx, const __u32 l2, __u32 len, __u8 nh,
					 const __u8 *addr, const int set_dst)
{
	__u8 buf[MGA_ETH_HLEN + MGA_VLAN_HLEN + MGA_IP6_HLEN];
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + l2 + MGA_IP6_HLEN > data_end)
		return -1;
	__builtin_memcpy(buf, data, l2 + MGA_IP6_HLEN);

	struct ipv6hdr *ip6 = (void *)(buf + l2);
	__u16 payload = bpf_ntohs(ip6->payload_len);

	if (payload < len)
		return -1;
	ip6->payload_len = bpf_htons(payload - len);
	ip6->nexthdr = nh;
	if (set_dst)
		__builtin_memcpy(&ip6->daddr, addr, 16);
	else
		__builtin_memcpy(&ip6->saddr, addr, 16);

	if (bpf_xdp_adjust_head(ctx, (int)len))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + l2 + MGA_IP6_HLEN > data_end)
		return -1;
	__builtin_memcpy(data, buf, l2 + MGA_IP6_HLEN);
	return 0;
}

#endif /* ANYCAST6_MGA_H */
