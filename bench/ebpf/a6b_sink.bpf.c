// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Counting sink: counts every frame that arrives (per CPU), optionally per
 * flow (the generator's flow index is the UDP source port, also inside an
 * IPv6-in-IPv6 tunnel), and drops it. What the benchmark reports is what
 * arrived here, not what the generator sent.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "a6b_bench.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Flows counted one by one (0: totals only). Set by the loader. */
volatile const __u32 a6b_sink_flows = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct a6b_counter);
	__uint(max_entries, 1);
} a6b_sink_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, A6B_SINK_MAX_FLOWS);
} a6b_sink_flow SEC(".maps");

static __always_inline void a6b_count_flow(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = (void *)(eth + 1);

	if ((void *)(ip6 + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IPV6))
		return;
	if (ip6->nexthdr == 41) {
		ip6 = ip6 + 1;
		if ((void *)(ip6 + 1) > data_end)
			return;
	}
	struct udphdr *udp = (void *)(ip6 + 1);

	if (ip6->nexthdr != 17 || (void *)(udp + 1) > data_end)
		return;
	__u32 flow = bpf_ntohs(udp->source);

	if (flow >= a6b_sink_flows)
		return;
	__u64 *c = bpf_map_lookup_elem(&a6b_sink_flow, &flow);

	if (c)
		(*c)++;
}

SEC("xdp")
int a6b_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct a6b_counter *st = bpf_map_lookup_elem(&a6b_sink_stats, &zero);

	if (st) {
		st->packets++;
		st->bytes += data_end - data;
	}
	if (a6b_sink_flows)
		a6b_count_flow(data, data_end);
	return XDP_DROP;
}
