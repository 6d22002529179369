// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Baseline A of the traffic benchmark: the least an XDP forwarder does.
 * IPv6 frames get the next hop's MAC addresses and go out through a
 * devmap; everything else goes to the kernel. No hop-limit handling, no
 * lookup: the cost of XDP + redirect on this machine, to compare with.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Destination then source MAC as three words. Read one volatile word at a
 * time: a memcpy from the volatile global lets clang fold its initialiser
 * and ignore the loader's value. */
volatile const __u32 a6b_min_macs[3] = {0, 0, 0};

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
} a6b_min_tx SEC(".maps");

SEC("xdp")
int a6b_minimal(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;
	__u32 w[3] = {a6b_min_macs[0], a6b_min_macs[1], a6b_min_macs[2]};

	__builtin_memcpy(eth, w, 12);
	return bpf_redirect_map(&a6b_min_tx, 0, 0);
}
