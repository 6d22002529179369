/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map definitions of the forwarding program. Every map is pinned by name
 * (LIBBPF_PIN_BY_NAME) under the loader's pin directory, so a restarted
 * daemon reuses them instead of flushing the FIB. max_entries here are the
 * ABI defaults; the loader overrides them from the config.
 */
#ifndef ANYCAST6_MAPS_H
#define ANYCAST6_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "anycast6_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct a6_fib_key);
	__type(value, struct a6_fib_val);
	__uint(max_entries, A6_DEF_FIB_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_fib SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct a6_lpm_key);
	__type(value, struct a6_fib_val);
	__uint(max_entries, A6_DEF_PREFIX_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_fib_prefix SEC(".maps");

/* NO_PREALLOC: an update allocates a new element and frees the old one
 * after an RCU grace period, so a reader never sees a half-written group. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct a6_group);
	__uint(max_entries, A6_DEF_GROUPS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct a6_maglev_block);
	__uint(max_entries, A6_DEF_MAGLEV_BLOCKS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_maglev SEC(".maps");

/* NO_COMMON_LRU: per-CPU free lists, so inserting a new flow does not
 * contend on one global LRU lock (measured: new flows 0.78 -> 0.85-0.97
 * Mpps on veth). Lookups still see every CPU's entries. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct a6_flow_key);
	__type(value, struct a6_affinity);
	__uint(max_entries, A6_DEF_AFFINITY_ENTRIES);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, A6_DEF_TX_PORTS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct a6_counter);
	__uint(max_entries, A6_R_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct a6_counter);
	__uint(max_entries, A6_DEF_GROUPS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_group_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct a6_counter);
	__uint(max_entries, A6_DEF_MEMBER_IDS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_member_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct a6_ratelimit);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_ptb_rate SEC(".maps");

/* Element 0: 1 when this router answers AARP queries itself (anycast6d
 * `[aarp] answer = true`); such queries then go to the kernel. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_aarp SEC(".maps");

/* Interfaces the program runs on -> their own MAC. Looked up only for
 * packets the FIB owns: a unicast frame to another MAC is dropped, an
 * interface missing here hands its frames to the kernel. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct a6_iface);
	__uint(max_entries, A6_DEF_IFACES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_ifaces SEC(".maps");

/* This router's IPv6-in-IPv6 tunnel end points (PIA-SM, docs/piasm.md 7):
 * a frame whose outer destination is one of them is decapsulated and its
 * inner packet forwarded (docs/architecture.md). The value is reserved
 * (userspace writes 1). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct a6_fib_key);
	__type(value, __u32);
	__uint(max_entries, A6_DEF_TUN_LOCAL);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_tun_local SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct a6_counter);
	__uint(max_entries, A6_T_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} a6_tun_stats SEC(".maps");

#endif /* ANYCAST6_MAPS_H */
