/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Capture of the forwarding program's decisions (docs/capture.md): when a
 * packet's final reason is in the armed mask, a sample of it (a6_cap_rec)
 * goes to the a6_cap_ring ring buffer, which `anycast6ctl capture` reads.
 *
 * Disarmed, a packet pays one inlined array lookup, one load and a branch
 * (a6_capture); everything else is behind it (a6_capture_armed).
 */
#ifndef ANYCAST6_CAPTURE_H
#define ANYCAST6_CAPTURE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "anycast6_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct a6_cap_cfg);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_cap_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct a6_cap_stats);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_cap_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, A6_CAP_RING_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_cap_ring SEC(".maps");

/* What the pipeline knew about the member when it chose one. */
struct a6_cap_note {
	__u32 member_id;      /* A6_CAP_NO_MEMBER until a member is chosen */
	__u32 egress_ifindex;
};

static __always_inline void a6_cap_note_member(struct a6_cap_note *note, __u32 member_id,
					       __u32 ifindex)
{
	note->member_id = member_id;
	note->egress_ifindex = ifindex;
}

/* A subprogram (at most 5 arguments): reason in the low 16 bits of
 * reason_verdict, the XDP action in the high ones. */
static __noinline void a6_capture_armed(struct xdp_md *ctx, struct a6_cap_cfg *cfg,
					__u32 reason_verdict, __u32 wire_len,
					const struct a6_cap_note *note)
{
	__u32 zero = 0;
	struct a6_cap_stats *st = bpf_map_lookup_elem(&a6_cap_stats, &zero);
	__u64 now = bpf_ktime_get_ns();

	if (!st || now >= cfg->expires_ns)
		return;
	__u64 n = __sync_fetch_and_add(&st->matched, 1);
	__u32 every = cfg->sample_every;

	if (every > 1 && n % every)
		return;
	__u32 budget = cfg->budget;
	__u64 t = __sync_fetch_and_add(&st->taken, 1);

	if (budget && t >= budget)
		return;

	struct a6_cap_rec *rec = bpf_ringbuf_reserve(&a6_cap_ring, sizeof(*rec), 0);

	if (!rec) {
		__sync_fetch_and_add(&st->lost, 1);
		return;
	}
	__u32 pkt_len = bpf_xdp_get_buff_len(ctx);
	__u32 snap = cfg->snaplen;

	if (snap == 0)
		snap = A6_CAP_SNAP_DEF;
	if (snap > pkt_len)
		snap = pkt_len;
	if (snap > A6_CAP_SNAP_MAX)
		snap = A6_CAP_SNAP_MAX;
	/* An XDP frame holds at least an Ethernet header, so snap is in
	 * [1, A6_CAP_SNAP_MAX] here and this changes nothing; it gives the
	 * verifier a bound on the very register the helper gets (clang
	 * would otherwise test a copy). A6_CAP_SNAP_MAX is a power of two. */
	__u32 load = ((snap - 1) & (A6_CAP_SNAP_MAX - 1)) + 1;

	rec->ts_ns = now;
	rec->session = cfg->session;
	rec->ifindex = ctx->ingress_ifindex;
	rec->wire_len = wire_len;
	rec->pkt_len = pkt_len;
	rec->member_id = note->member_id;
	rec->egress_ifindex = note->egress_ifindex;
	rec->rx_queue = ctx->rx_queue_index;
	rec->reason = (__u16)reason_verdict;
	rec->verdict = (__u16)(reason_verdict >> 16);
	rec->_pad = 0;
	if (snap == 0 || bpf_xdp_load_bytes(ctx, 0, rec->data, load))
		load = 0;
	rec->cap_len = load;
	bpf_ringbuf_submit(rec, 0);
}

/* Called once per packet with its final reason and verdict. */
static __always_inline void a6_capture(struct xdp_md *ctx, __u32 reason, __u32 verdict,
				       __u32 wire_len, const struct a6_cap_note *note)
{
	__u32 zero = 0;
	struct a6_cap_cfg *cfg = bpf_map_lookup_elem(&a6_cap_cfg, &zero);

	if (!cfg || !((cfg->reason_mask >> (reason & 63)) & 1))
		return;
	a6_capture_armed(ctx, cfg, (reason & 0xffff) | (verdict << 16), wire_len, note);
}

#endif /* ANYCAST6_CAPTURE_H */
