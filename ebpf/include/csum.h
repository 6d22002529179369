/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internet checksum helpers (RFC 1071) for packets the program builds. */
#ifndef ANYCAST6_CSUM_H
#define ANYCAST6_CSUM_H

#include <linux/types.h>

/* Folds a 64-bit one's-complement accumulator of raw (memory-order) words
 * into the 16-bit checksum, still in memory order. */
static __always_inline __u16 a6_csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Adds `n32` raw 32-bit words at `p` (caller has bounds-checked them). */
static __always_inline __u64 a6_csum_add_words(__u64 sum, const __u32 *p, int n32)
{
#pragma unroll
	for (int i = 0; i < n32; i++)
		sum += p[i];
	return sum;
}

#endif /* ANYCAST6_CSUM_H */
