// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Traffic generator: run by BPF_PROG_TEST_RUN in live-frames mode
 * (BPF_F_TEST_XDP_LIVE_FRAMES) inside the generator's namespace. Live
 * frames are recycled pages: whatever the DUT and the sink wrote into a
 * frame (MAC addresses, hop limit, an encapsulation header written over the
 * Ethernet header) is still there when the page comes back, so every
 * header byte is rewritten here on every frame from the template.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "a6b_bench.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct a6b_gen_cfg);
	__uint(max_entries, 1);
} a6b_gen_cfg SEC(".maps");

/* Frames sent on each CPU (also the sequence number of the next one) and
 * the pacing state. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct a6b_gen_state);
	__uint(max_entries, 1);
} a6b_gen_stats SEC(".maps");

static __always_inline __u32 a6b_words(__u32 v)
{
	return (v >> 16) + (v & 0xffff);
}

SEC("xdp")
int a6b_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct a6b_gen_cfg *cfg = bpf_map_lookup_elem(&a6b_gen_cfg, &zero);
	struct a6b_gen_state *st = bpf_map_lookup_elem(&a6b_gen_stats, &zero);

	if (!cfg || !st)
		return XDP_ABORTED;
	if (data + A6B_HDR_LEN > data_end)
		return XDP_ABORTED;

	/* Pacing: a frame whose time has not come is dropped (recycled at
	 * once). Tokens are handed out by the gap_ps elapsed, at most
	 * A6B_PACE_BURST at a time, so the clock is read once per refill when
	 * the generator is the bottleneck. (A BPF_PROG_TEST_RUN call costs
	 * ~100 us of setup: pacing by spacing calls caps the rate too low.) */
	__u64 gap = cfg->gap_ps;

	if (gap) {
		if (st->tokens == 0) {
			__u64 now = bpf_ktime_get_ns() * 1000;

			if (now < st->next_ps)
				return XDP_DROP;
			__u64 due = (now - st->next_ps) / gap + 1;

			if (due > A6B_PACE_BURST) {
				due = A6B_PACE_BURST;
				st->next_ps = now + gap;
			} else {
				st->next_ps += due * gap;
			}
			st->tokens = due;
		}
		st->tokens--;
	}

	__u32 s = (__u32)st->packets;

	st->packets++;
	st->bytes += data_end - data;

	__u32 flow, src_off, dst_i;

	if (cfg->new_per_mille && s % 1000 < cfg->new_per_mille) {
		flow = s;
		src_off = A6B_NEW_SRC_OFF + (s >> 16);
		dst_i = s % cfg->n_dst;
	} else {
		flow = s % cfg->flows;
		src_off = flow >> 16;
		dst_i = flow % cfg->n_dst;
	}
	__u32 src_lo = cfg->src_lo + src_off;
	__u32 dst_lo = cfg->dst_lo + dst_i;
	__u16 sport = (__u16)flow;
	__u32 sum = cfg->csum_base + a6b_words(src_lo) + a6b_words(dst_lo) + sport;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	__u16 csum = (__u16)~sum;

	if (csum == 0)
		csum = 0xffff; /* RFC 8200 8.1: zero means "no checksum" */

	__builtin_memcpy(data, cfg->hdr, A6B_HDR_LEN);
	*(__u32 *)(data + A6B_OFF_SRC_LO) = bpf_htonl(src_lo);
	*(__u32 *)(data + A6B_OFF_DST_LO) = bpf_htonl(dst_lo);
	*(__u16 *)(data + A6B_OFF_SPORT) = bpf_htons(sport);
	*(__u16 *)(data + A6B_OFF_UCSUM) = bpf_htons(csum);
	return bpf_redirect(cfg->ifindex, 0);
}
