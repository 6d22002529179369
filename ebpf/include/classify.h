/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Ownership of a frame, shared by the forwarding program and the AF_XDP
 * steering program so both decide it identically:
 *
 *   parse L2/L3 -> multicast? -> FIB (/128 hash, then prefix trie) -> group
 *   -> destination MAC ours? -> validate + walk extension headers -> ND?
 *   -> source forwardable? -> AARP?
 *
 * The MAC and source checks come after the FIB and group lookups, so
 * traffic the fast path does not own pays nothing for them.
 *
 * Returns -1 when the FIB owns a well-formed packet (then *ip6, *group and
 * *group_id are set and pkt holds the flow key), else the reason.
 */
#ifndef ANYCAST6_CLASSIFY_H
#define ANYCAST6_CLASSIFY_H

#include "anycast6_abi.h"
#include "maps.h"
#include "parse.h"

/* The XDP action of a reason (A6_R_REDIRECT_MASK / A6_R_PASS_MASK). */
static __always_inline int a6_verdict_of(__u32 reason)
{
	if (reason >= A6_R_MAX)
		return XDP_DROP;
	if ((A6_R_REDIRECT_MASK >> reason) & 1)
		return XDP_REDIRECT;
	if ((A6_R_PASS_MASK >> reason) & 1)
		return XDP_PASS;
	return XDP_DROP;
}

/*
 * A router forwards only frames sent to it: broadcast, or unicast to
 * another station's MAC (a flooding switch, a shared segment), would reach
 * the member as a duplicate. Multicast MACs (33:33:..) are the kernel's
 * (ND, MLD), and so is every frame of an interface not in a6_ifaces.
 * Returns -1 when the frame is addressed to the ingress interface.
 */
static __always_inline int a6_check_dmac(void *data, void *data_end, __u32 ingress_ifindex)
{
	__u8 *d = data;
	__u32 d4, m4;
	__u16 d2, m2;

	if ((void *)(d + 6) > data_end)
		return A6_R_DROP_TRUNC_ETH;
	__builtin_memcpy(&d4, d, 4);
	__builtin_memcpy(&d2, d + 4, 2);
	if (d[0] & 1) {
		if (d4 == 0xffffffff && d2 == 0xffff)
			return A6_R_DROP_NOT_OUR_MAC;
		return A6_R_PASS_L2_MULTICAST;
	}
	struct a6_iface *ifc = bpf_map_lookup_elem(&a6_ifaces, &ingress_ifindex);

	if (!ifc)
		return A6_R_PASS_UNKNOWN_IFACE;
	__builtin_memcpy(&m4, ifc->mac, 4);
	__builtin_memcpy(&m2, ifc->mac + 4, 2);
	if (d4 != m4 || d2 != m2)
		return A6_R_DROP_NOT_OUR_MAC;
	return -1;
}

/*
 * Sources a router never forwards (RFC 4291 2.5.2, 2.5.3, 2.7): multicast,
 * unspecified, loopback. A link-local source (2.5.6) never leaves its link:
 * the kernel gets it (it answers "beyond scope of source" when it would
 * forward, and delivers what is addressed to itself). A source that is one
 * of this router's anycast addresses is dropped (docs/architecture.md:
 * reflection between members of two anycast services, and loops).
 * Returns -1 when the source may be forwarded.
 */
static __always_inline int a6_check_src(struct ipv6hdr *ip6)
{
	const __u8 *s = (const __u8 *)&ip6->saddr;
	__u32 w[4];

	if (s[0] == 0xff)
		return A6_R_DROP_BAD_SRC;
	if (s[0] == 0xfe && (s[1] & 0xc0) == 0x80)
		return A6_R_PASS_LINK_LOCAL_SRC;
	__builtin_memcpy(w, s, 16);
	if ((w[0] | w[1] | w[2]) == 0 && (w[3] == 0 || w[3] == bpf_htonl(1)))
		return A6_R_DROP_BAD_SRC;
	if (bpf_map_lookup_elem(&a6_fib, &ip6->saddr))
		return A6_R_DROP_SRC_ANYCAST;
	struct a6_lpm_key lk = {.prefixlen = 128};

	__builtin_memcpy(lk.addr, s, 16);
	if (bpf_map_lookup_elem(&a6_fib_prefix, &lk))
		return A6_R_DROP_SRC_ANYCAST;
	return -1;
}

/* What a6_tun_match found. */
#define A6_TUN_NONE  0 /* not tunnelled to this router: the normal pipeline */
#define A6_TUN_DECAP 1 /* RFC 2473 packet to one of this router's end points */
#define A6_TUN_TRUNC 2 /* to an end point, but the inner header is cut short */

/*
 * A tunnel end point of this router (PIA-SM, docs/architecture.md "Tunnel
 * end point"): Ethernet [+ one tag], an outer IPv6 header whose next header
 * is 41 itself (no extension headers: anything else is not decapsulated),
 * an outer destination in a6_tun_local, and a whole inner header of version
 * 6. The outer hop limit is not looked at (RFC 2473 pipe model). Reads
 * only; *l2 is set to the L2 header's length.
 */
static __always_inline int a6_tun_match(void *data, void *data_end, __u32 *l2)
{
	struct ethhdr *eth = data;
	__u32 l2_len = A6_ETH_HLEN;

	if ((void *)(eth + 1) > data_end)
		return A6_TUN_NONE;
	__u16 proto = eth->h_proto;

	if (proto == bpf_htons(A6_ETH_P_8021Q) || proto == bpf_htons(A6_ETH_P_8021AD)) {
		__be16 *inner_proto = data + A6_ETH_HLEN + 2;

		if ((void *)(inner_proto + 1) > data_end)
			return A6_TUN_NONE;
		proto = *inner_proto;
		l2_len = A6_ETH_HLEN + A6_VLAN_HLEN;
	}
	if (proto != bpf_htons(ETH_P_IPV6))
		return A6_TUN_NONE;

	struct ipv6hdr *outer = data + l2_len;

	if ((void *)(outer + 1) > data_end)
		return A6_TUN_NONE;
	if (outer->version != 6 || outer->nexthdr != A6_NH_IPV6)
		return A6_TUN_NONE;
	if (!bpf_map_lookup_elem(&a6_tun_local, &outer->daddr))
		return A6_TUN_NONE;

	struct ipv6hdr *inner = (void *)(outer + 1);

	if ((void *)(inner + 1) > data_end)
		return A6_TUN_TRUNC;
	if (inner->version != 6)
		return A6_TUN_NONE;
	*l2 = l2_len;
	return A6_TUN_DECAP;
}

static __always_inline int a6_classify(void *data, void *data_end, __u32 ingress_ifindex,
				       struct a6_pkt *pkt, struct ipv6hdr **ip6_out,
				       struct a6_group **group, __u32 *group_id)
{
	int r = a6_parse_l2_l3(data, data_end, pkt);

	if (r >= 0)
		return r;
	struct ipv6hdr *ip6 = data + (pkt->l2_len & 0xff);

	if ((void *)(ip6 + 1) > data_end)
		return A6_R_DROP_TRUNC_IPV6;
	if (ip6->version != 6)
		return A6_R_DROP_BAD_IPV6;
	if (ip6->daddr.in6_u.u6_addr8[0] == 0xff)
		return A6_R_PASS_MULTICAST;

	struct a6_fib_val *fv = bpf_map_lookup_elem(&a6_fib, &ip6->daddr);

	if (!fv) {
		struct a6_lpm_key lk = {.prefixlen = 128};

		__builtin_memcpy(lk.addr, &ip6->daddr, 16);
		fv = bpf_map_lookup_elem(&a6_fib_prefix, &lk);
		if (!fv)
			return A6_R_PASS_NOT_ANYCAST;
	}
	__u32 gid = fv->group_id;
	struct a6_group *g = bpf_map_lookup_elem(&a6_groups, &gid);

	if (!g)
		return A6_R_PASS_NO_GROUP;

	r = a6_check_dmac(data, data_end, ingress_ifindex);
	if (r >= 0)
		return r;
	r = a6_parse_owned(data, data_end, ip6, pkt);
	if (r >= 0)
		return r;
	if (pkt->l4_proto == A6_NH_ICMPV6 && !pkt->later_frag && pkt->icmp_type >= 133 &&
	    pkt->icmp_type <= 137)
		return A6_R_PASS_ND;
	r = a6_check_src(ip6);
	if (r >= 0)
		return r;
	/* An AARP query (never a fragment) when this router answers them. */
	if (pkt->l4_proto == A6_NH_UDP && !pkt->key.frag &&
	    pkt->key.dport_be == bpf_htons(A6_AARP_PORT)) {
		__u32 zero = 0;
		__u32 *on = bpf_map_lookup_elem(&a6_aarp, &zero);

		if (on && *on)
			return A6_R_PASS_AARP;
	}
	*ip6_out = ip6;
	*group = g;
	*group_id = gid;
	return -1;
}

#endif /* ANYCAST6_CLASSIFY_H */
