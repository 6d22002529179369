// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * anycast6 forwarding program (XDP).
 *
 *   [tunnelled to this router (a6_tun_local)? strip the outer header]
 *   -> parse L2/L3 -> FIB (/128 hash, then prefix trie) -> group
 *   -> destination MAC -> validate + walk extension headers -> flow key
 *   -> source rules (classify.h)
 *   -> member: Maglev(flow hash); only in an entry changed during the
 *      group's change period, the affinity table (docs/flow-hash.md)
 *   -> action: local (PASS) | rewrite + redirect | encap + redirect,
 *      or ICMPv6 Packet Too Big back to the sender when over the MTU.
 *
 * Whatever the program does not own goes to the kernel (XDP_PASS); every
 * verdict is counted under a named reason (a6_stats).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "anycast6_abi.h"
#include "maps.h"
#include "parse.h"
#include "classify.h"
#include "encap.h"
#include "flowhash.h"
#include "capture.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Load-time settings; the loader overrides them (EbpfLoader::override_global). */
volatile const struct a6_config a6_cfg = {
	.abi_version = A6_ABI_VERSION,
	.hash_seed = 0x5eed1234,
	.ptb_per_sec = 100,
};

#define A6_PTB_DEFAULT_RATE 100
#define A6_NS_PER_SEC 1000000000ull

static __always_inline void a6_count(__u32 reason, __u64 bytes)
{
	struct a6_counter *c = bpf_map_lookup_elem(&a6_stats, &reason);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline void a6_count_in(void *map, __u32 idx, __u64 bytes)
{
	struct a6_counter *c = bpf_map_lookup_elem(map, &idx);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline int a6_finish(struct xdp_md *ctx, __u32 reason, __u64 bytes,
				     const struct a6_cap_note *note)
{
	int verdict = a6_verdict_of(reason);

	a6_count(reason, bytes);
	a6_capture(ctx, reason, (__u32)verdict, (__u32)bytes, note);
	return verdict;
}

static __always_inline int a6_usable(const struct a6_member *m)
{
	return m->state == A6_STATE_ACTIVE || m->state == A6_STATE_DRAINING;
}

/* Per-CPU budget of Packet Too Big messages per second. */
static __always_inline int a6_ptb_allowed(void)
{
	__u32 zero = 0;
	struct a6_ratelimit *rl = bpf_map_lookup_elem(&a6_ptb_rate, &zero);
	__u64 now = bpf_ktime_get_ns();
	__u32 budget = a6_cfg.ptb_per_sec ? a6_cfg.ptb_per_sec : A6_PTB_DEFAULT_RATE;

	if (!rl)
		return 0;
	if (now - rl->window_start_ns >= A6_NS_PER_SEC) {
		rl->window_start_ns = now;
		rl->sent = 0;
	}
	if (rl->sent >= budget)
		return 0;
	rl->sent++;
	return 1;
}

/*
 * The packet is over the egress MTU. RFC 4443 2.4(e): no ICMPv6 error in
 * answer to an ICMPv6 error, nor to a multicast or unspecified source.
 */
static __always_inline __u32 a6_too_big(struct xdp_md *ctx, struct a6_pkt *pkt,
					struct ipv6hdr *ip6, __u32 mtu)
{
	__u8 src0 = ((__u8 *)&ip6->saddr)[0];
	const __u32 *s = (const __u32 *)&ip6->saddr;

	if (src0 == 0xff || (s[0] | s[1] | s[2] | s[3]) == 0)
		return A6_R_DROP_TOO_BIG;
	if (pkt->l4_proto == A6_NH_ICMPV6 && !pkt->later_frag && pkt->icmp_type < 128)
		return A6_R_DROP_TOO_BIG;
	if (!a6_ptb_allowed())
		return A6_R_DROP_PTB_RATE;
	/* Read the volatile global word by word: a cast-away memcpy lets clang
	 * fold the compile-time initialiser and ignore the loader's value. */
	const volatile __u32 *cfg_ra = (const volatile __u32 *)a6_cfg.router_addr;
	__u32 ra32[4];
	__u8 ra[16];

	ra32[0] = cfg_ra[0];
	ra32[1] = cfg_ra[1];
	ra32[2] = cfg_ra[2];
	ra32[3] = cfg_ra[3];
	__builtin_memcpy(ra, ra32, 16);
	int r = a6_build_ptb(ctx, pkt, mtu, ra);

	if (r >= 0)
		return (__u32)r;
	/* Back out of the ingress interface by redirect rather than XDP_TX:
	 * a veth drops XDP_TX frames unless its peer runs XDP itself, and a
	 * redirect costs the same on a NIC. */
	bpf_redirect(ctx->ingress_ifindex, 0);
	return A6_R_TX_PTB;
}

#define A6_TCP_SYN 0x02
#define A6_TCP_ACK 0x10

/* An affinity entry counts only if written in the current change period
 * and while its member has been usable without a break (docs/flow-hash.md). */
static __always_inline int a6_pin_fresh(const struct a6_affinity *aff, const struct a6_group *g,
					const struct a6_member *m)
{
	return (__s32)(aff->gen - g->mark_gen) >= 0 && (__s32)(aff->gen - m->since_gen) >= 0;
}

/*
 * A packet hashing to a marked entry while the hold lasts: the affinity entry
 * if there is a fresh one, else tell an old flow (which keeps the member the
 * entry had when the period began) from a new one (the table's member): a
 * TCP segment that is not a bare SYN is old; any other packet is old while
 * the grace window of its entry lasts. The choice is pinned when the two
 * members differ, so the flow's later packets follow it.
 */
static __always_inline const struct a6_member *
a6_choose_marked(struct a6_group *g, __u32 group_id, struct a6_pkt *pkt, __u32 hash, __u32 idx,
		 __u32 mark, __u64 now)
{
	__u32 n = g->n_members;
	struct a6_affinity *aff = bpf_map_lookup_elem(&a6_affinity, &pkt->key);

	if (aff && aff->group_id == group_id && (__s32)(aff->gen - g->mark_gen) >= 0) {
		if (aff->gen == g->gen && aff->idx < n && aff->idx < A6_MAX_MEMBERS) {
			const struct a6_member *m = &g->members[aff->idx & (A6_MAX_MEMBERS - 1)];

			if (m->member_id == aff->member_id && a6_usable(m) && a6_pin_fresh(aff, g, m))
				return m;
		} else {
			/* Republished within the period: find the member again by id. */
			for (__u32 i = 0; i < A6_MAX_MEMBERS; i++) {
				if (i >= n)
					break;
				const struct a6_member *m = &g->members[i];

				if (m->member_id == aff->member_id) {
					if (!a6_usable(m) || !a6_pin_fresh(aff, g, m))
						break;
					aff->gen = g->gen;
					aff->idx = (__u16)i;
					return m;
				}
			}
		}
	}

	/* The member the entry had when the period began. */
	__u32 prev = mark & A6_MG_PREV_MASK;

	if (mark & A6_MG_PREV_TABLE) {
		__u32 plen = g->prev_len;

		prev = A6_MG_NONE;
		if (plen) {
			__u32 ppos = hash % plen;
			__u32 pblk = g->prev_block + ppos / A6_MAGLEV_BLOCK;
			struct a6_maglev_block *pb = bpf_map_lookup_elem(&a6_maglev, &pblk);

			if (pb)
				prev = pb->e[ppos % A6_MAGLEV_BLOCK].idx;
		}
	}
	if (prev >= n || prev >= A6_MAX_MEMBERS || !a6_usable(&g->members[prev & (A6_MAX_MEMBERS - 1)]))
		prev = idx;

	int old;

	if (pkt->key.proto == A6_NH_TCP && !pkt->key.frag)
		old = (pkt->tcp_flags & (A6_TCP_SYN | A6_TCP_ACK)) != A6_TCP_SYN;
	else
		old = (mark & A6_MG_GRACE) && now < g->grace_until_ns;

	__u32 pick = old ? prev : idx;
	const struct a6_member *m = &g->members[pick & (A6_MAX_MEMBERS - 1)];

	if (prev != idx) {
		struct a6_affinity nv = {
			.member_id = m->member_id,
			.group_id = group_id,
			.gen = g->gen,
			.idx = (__u16)pick,
		};
		bpf_map_update_elem(&a6_affinity, &pkt->key, &nv, BPF_ANY);
	}
	return m;
}

/*
 * Picks the member for this flow; NULL if the group has none usable.
 * The common case is the Maglev table alone: an unmarked entry, or a marked
 * one after the hold, touches no per-flow state.
 */
static __always_inline const struct a6_member *
a6_choose(struct a6_group *g, __u32 group_id, struct a6_pkt *pkt, __u32 hash)
{
	__u32 len = g->maglev_len;

	if (len == 0)
		return NULL;
	__u32 pos = hash % len;
	__u32 blk = g->maglev_block + pos / A6_MAGLEV_BLOCK;
	struct a6_maglev_block *b = bpf_map_lookup_elem(&a6_maglev, &blk);

	if (!b)
		return NULL;
	struct a6_maglev_entry e = b->e[pos % A6_MAGLEV_BLOCK];
	__u32 idx = e.idx;

	if (idx >= g->n_members || idx >= A6_MAX_MEMBERS)
		return NULL;
	const struct a6_member *m = &g->members[idx & (A6_MAX_MEMBERS - 1)];

	if (m->state != A6_STATE_ACTIVE)
		return NULL;
	if (!(e.mark & A6_MG_MARKED))
		return m;
	__u64 now = bpf_ktime_get_ns();

	if (now >= g->hold_until_ns)
		return m;
	return a6_choose_marked(g, group_id, pkt, hash, idx, e.mark, now);
}

/*
 * The tunnel end point: a packet IPv6-in-IPv6 to one of this router's
 * addresses (a6_tun_match) loses its outer header here, the L2 header moved
 * forward as member_decap.bpf.c does, and the inner packet goes on through
 * the whole pipeline as if it had arrived on its own; one decapsulation
 * only (an inner packet tunnelled again to this router is the kernel's).
 * Counted in a6_tun_stats; a6_stats counts the inner packet's verdict.
 * Returns -1 to go on (decapsulated or untouched), else a reason.
 */
static __always_inline int a6_tun_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	__u32 l2 = 0;
	int t = a6_tun_match(data, data_end, &l2);

	if (t == A6_TUN_NONE)
		return -1;
	if (t == A6_TUN_TRUNC) {
		a6_count_in(&a6_tun_stats, A6_T_DROP_TRUNC, bytes);
		return A6_R_DROP_TRUNC_IPV6;
	}
	/* Source [0, l2) and destination [40, 40 + l2) do not overlap
	 * (l2 <= 18) and lie before the end of the inner header, which
	 * a6_tun_match proved is in the frame. */
	if (data + A6_IP6_HLEN + A6_ETH_HLEN + A6_VLAN_HLEN > data_end)
		return A6_R_DROP_ADJUST;
	if (l2 == A6_ETH_HLEN)
		__builtin_memcpy(data + A6_IP6_HLEN, data, A6_ETH_HLEN);
	else
		__builtin_memcpy(data + A6_IP6_HLEN, data, A6_ETH_HLEN + A6_VLAN_HLEN);
	if (bpf_xdp_adjust_head(ctx, A6_IP6_HLEN))
		return A6_R_DROP_ADJUST;
	a6_count_in(&a6_tun_stats, A6_T_DECAP, bytes);
	return -1;
}

static __always_inline __u32 a6_process(struct xdp_md *ctx, struct a6_cap_note *note)
{
	struct a6_pkt pkt = {};
	int r;

	r = a6_tun_decap(ctx);
	if (r >= 0)
		return r;

	/* Read after a decapsulation moved the head. */
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	struct ipv6hdr *ip6 = NULL;
	struct a6_group *g = NULL;
	__u32 group_id = 0;

	r = a6_classify(data, data_end, ctx->ingress_ifindex, &pkt, &ip6, &g, &group_id);
	if (r >= 0)
		return r;

	__u32 hash = a6_flow_hash(&pkt.key, a6_cfg.hash_seed);
	const struct a6_member *m = a6_choose(g, group_id, &pkt, hash);

	if (!m)
		return A6_R_PASS_NO_MEMBER;
	a6_cap_note_member(note, m->member_id, m->ifindex);

	__u64 bytes = data_end - data;

	a6_count_in(&a6_group_stats, group_id, bytes);
	a6_count_in(&a6_member_stats, m->member_id, bytes);

	if (m->action == A6_ACT_LOCAL)
		return A6_R_PASS_LOCAL;
	if (ip6->hop_limit <= 1)
		return A6_R_PASS_HOP_LIMIT;

	__u32 ifindex = m->ifindex;

	/* Sets the redirect target now, before the frame is touched: an
	 * egress port missing from a6_tx_ports leaves the frame intact for the
	 * kernel, and no separate lookup is paid for the check. */
	if (bpf_redirect_map(&a6_tx_ports, ifindex, 0) != XDP_REDIRECT)
		return A6_R_PASS_NO_PORT;

	if (m->action == A6_ACT_ENCAP) {
		if (pkt.l3_len + A6_IP6_HLEN > m->mtu) {
			/* XDP cannot fragment the outer packet; a packet of at
			 * most the IPv6 minimum MTU cannot be asked to shrink. */
			if (pkt.l3_len <= 1280 || m->mtu < 1280 + A6_IP6_HLEN)
				return A6_R_DROP_TOO_BIG;
			return a6_too_big(ctx, &pkt, ip6, m->mtu - A6_IP6_HLEN);
		}
		ip6->hop_limit--;
		r = a6_encap(ctx, &pkt, m, hash);
		if (r >= 0)
			return r;
		return A6_R_FWD_ENCAP;
	}

	if (pkt.l3_len > m->mtu)
		return a6_too_big(ctx, &pkt, ip6, m->mtu);
	ip6->hop_limit--;
	r = a6_rewrite_l2(ctx, &pkt, m);
	if (r >= 0)
		return r;
	return A6_R_FWD_REWRITE;
}

SEC("xdp")
int anycast6_xdp(struct xdp_md *ctx)
{
	__u64 len = (__u64)(ctx->data_end - ctx->data);
	struct a6_cap_note note = { .member_id = A6_CAP_NO_MEMBER };
	__u32 reason = a6_process(ctx, &note);

	return a6_finish(ctx, reason, len, &note);
}
