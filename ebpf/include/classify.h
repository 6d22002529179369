/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Ownership of a frame, shared by the forwarding program and the AF_XDP
 * steering program so both decide it identically:
 *
 *   parse L2/L3 -> multicast? -> FIB (/128 hash, then prefix trie) -> group
 *   -> validate + walk extension headers -> ND?
 *
 * Returns -1 when the FIB owns a well-formed packet (then *ip6, *group and
 * *group_id are set and pkt holds the flow key), else the reason.
 */
#ifndef ANYCAST6_CLASSIFY_H
#define ANYCAST6_CLASSIFY_H

#include "anycast6_abi.h"
#include "maps.h"
#include "parse.h"

static __always_inline int a6_classify(void *data, void *data_end, struct a6_pkt *pkt,
				       struct ipv6hdr **ip6_out, struct a6_group **group,
				       __u32 *group_id)
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

	r = a6_parse_owned(data, data_end, ip6, pkt);
	if (r >= 0)
		return r;
	if (pkt->l4_proto == A6_NH_ICMPV6 && !pkt->later_frag && pkt->icmp_type >= 133 &&
	    pkt->icmp_type <= 137)
		return A6_R_PASS_ND;
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
