/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The anycast6 flow hash (specified in docs/flow-hash.md; the Rust twin is
 * dataplane/src/flowhash.rs and a test proves both agree on 100k flows).
 *
 * MurmurHash3 x86_32 over the 40-byte struct a6_flow_key read as ten
 * little-endian 32-bit words, seeded with a6_config.hash_seed. The key is a
 * multiple of 4 bytes, so Murmur3's tail step never runs.
 */
#ifndef ANYCAST6_FLOWHASH_H
#define ANYCAST6_FLOWHASH_H

#include "anycast6_abi.h"

#define A6_MM3_C1 0xcc9e2d51u
#define A6_MM3_C2 0x1b873593u

static __always_inline __u32 a6_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static __always_inline __u32 a6_mm3_mix(__u32 h, __u32 k)
{
	k *= A6_MM3_C1;
	k = a6_rotl32(k, 15);
	k *= A6_MM3_C2;
	h ^= k;
	h = a6_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

static __always_inline __u32 a6_mm3_fmix(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Words are read with explicit little-endian assembly so the result does
 * not depend on host byte order. */
static __always_inline __u32 a6_le32(const __u8 *p)
{
	return (__u32)p[0] | ((__u32)p[1] << 8) | ((__u32)p[2] << 16) | ((__u32)p[3] << 24);
}

static __always_inline __u32 a6_flow_hash(const struct a6_flow_key *key, __u32 seed)
{
	const __u8 *p = (const __u8 *)key;
	__u32 h = seed;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*key) / 4); i++)
		h = a6_mm3_mix(h, a6_le32(p + 4 * i));
	h ^= (__u32)sizeof(*key);
	return a6_mm3_fmix(h);
}

#endif /* ANYCAST6_FLOWHASH_H */
