// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test-only XDP program: proves the C flow hash (flowhash.h) equals the Rust
 * twin (dataplane/src/flowhash.rs). Run with BPF_PROG_TEST_RUN only.
 *
 * Frame layout:  [0, 40)  struct a6_flow_key
 *                [40, 44) seed (native order)
 *                [44, 48) a6_flow_hash(key, seed), written here (native order)
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "anycast6_abi.h"
#include "flowhash.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define A6_PROBE_KEY_LEN  ((int)sizeof(struct a6_flow_key))
#define A6_PROBE_SEED_OFF A6_PROBE_KEY_LEN
#define A6_PROBE_HASH_OFF (A6_PROBE_SEED_OFF + 4)

SEC("xdp")
int anycast6_hash_probe(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (data + A6_PROBE_HASH_OFF + 4 > data_end)
		return XDP_ABORTED;

	struct a6_flow_key key;
	__u32 seed;

	/* Copy out: the hash reads the key as a struct, as the forwarding
	 * program does with its stack copy. */
	__builtin_memcpy(&key, data, sizeof(key));
	__builtin_memcpy(&seed, data + A6_PROBE_SEED_OFF, sizeof(seed));
	__u32 h = a6_flow_hash(&key, seed);

	__builtin_memcpy(data + A6_PROBE_HASH_OFF, &h, sizeof(h));
	return XDP_PASS;
}
