// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * anycast6 AF_XDP steering program, attached to interfaces in `afxdp` mode.
 *
 * It runs the part of a6_process that needs no per-flow state, with the same
 * parser (parse.h), the same pinned FIB maps and the same reason counters
 * (a6_stats):
 *
 *   tunnelled to this router (a6_tun_local)? -> the worker, whole: it
 *   decapsulates and decides (dataplane/src/userspace/engine.rs)
 *   parse L2/L3 -> FIB (/128 hash, prefix trie) -> group -> destination MAC
 *   -> validate + walk extension headers -> ND? -> source rules -> hop limit?
 *   -> any usable member?
 *     -> bpf_redirect_map(a6_xsks, rx queue): the queue's AF_XDP worker
 *        chooses the member (affinity, Maglev) and rewrites/encapsulates.
 *
 * What it does not redirect it passes to the kernel or drops exactly as the
 * forwarding program would, counted under the same reason. Redirected
 * frames are counted by the worker (userspace counters), never here. Frames
 * for a queue without a socket fall back to the kernel (XDP_PASS).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "anycast6_abi.h"
#include "maps.h"
#include "parse.h"
#include "classify.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* rx queue index -> AF_XDP socket. One map per attached interface: not
 * pinned, so every load gets its own. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, A6_XSK_MAX_QUEUES);
} a6_xsks SEC(".maps");

static __always_inline int a6_count_finish(__u32 reason, __u64 bytes)
{
	struct a6_counter *c = bpf_map_lookup_elem(&a6_stats, &reason);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	return a6_verdict_of(reason);
}

/* Returns A6_R_MAX when the frame goes to the worker, else a reason. */
static __always_inline __u32 a6_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct a6_pkt pkt = {};
	int r;

	struct ipv6hdr *ip6 = NULL;
	struct a6_group *g = NULL;
	__u32 group_id = 0;
	__u32 l2 = 0;

	/* The worker strips the outer header and runs the inner packet
	 * through the whole engine; a cut-short inner header is its drop. */
	if (a6_tun_match(data, data_end, &l2) != A6_TUN_NONE)
		return A6_R_MAX;

	r = a6_classify(data, data_end, ctx->ingress_ifindex, &pkt, &ip6, &g, &group_id);
	if (r >= 0)
		return r;

	/* The kernel answers an expiring hop limit (Time Exceeded) and gets the
	 * packet whichever member would be chosen (a local member takes it too;
	 * the forwarding program counts that case as pass_local_member). */
	if (ip6->hop_limit <= 1)
		return A6_R_PASS_HOP_LIMIT;

	/* No member could take the flow: no Maglev table and nobody draining
	 * (a draining member may still hold flows in the worker's table). */
	if (g->maglev_len == 0) {
		__u32 n = g->n_members;
		int draining = 0;

		for (__u32 i = 0; i < A6_MAX_MEMBERS; i++) {
			if (i >= n)
				break;
			if (g->members[i].state == A6_STATE_DRAINING)
				draining = 1;
		}
		if (!draining)
			return A6_R_PASS_NO_MEMBER;
	}
	return A6_R_MAX;
}

SEC("xdp")
int anycast6_xsk(struct xdp_md *ctx)
{
	__u64 len = (__u64)(ctx->data_end - ctx->data);
	__u32 reason = a6_steer(ctx);

	if (reason == A6_R_MAX)
		/* No socket on this queue: the kernel gets it (flags = XDP_PASS). */
		return bpf_redirect_map(&a6_xsks, ctx->rx_queue_index, XDP_PASS);
	return a6_count_finish(reason, len);
}
