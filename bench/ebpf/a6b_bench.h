/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * a6b_bench.h -- what the bench's own XDP programs (traffic generator,
 * counting sink, minimal forwarder) share with bench/src/traffic/progs.rs.
 * The Rust mirror asserts every size; change both or the build fails.
 */
#ifndef A6B_BENCH_H
#define A6B_BENCH_H

#include <linux/types.h>

/* Ethernet (14) + IPv6 (40) + UDP (8): the part of a generated frame that
 * the generator writes on every frame. */
#define A6B_HDR_LEN 62
/* Offsets inside it (from the start of the frame). */
#define A6B_OFF_SRC_LO 34  /* low 32 bits of the IPv6 source       */
#define A6B_OFF_DST_LO 50  /* low 32 bits of the IPv6 destination  */
#define A6B_OFF_SPORT  54  /* UDP source port                       */
#define A6B_OFF_UCSUM  60  /* UDP checksum                          */

/* Source addresses of new flows start this far above the established ones
 * (established flows use offsets below flows >> 16). */
#define A6B_NEW_SRC_OFF 0x10000000u

/* Flows the sink can count one by one (the UDP source port indexes them). */
#define A6B_SINK_MAX_FLOWS 65536

struct a6b_counter {
	__u64 packets;
	__u64 bytes;
}; /* 16 */

/*
 * Generator configuration (element 0 of the a6b_gen_cfg array map).
 *
 * hdr is the frame's headers with the low 32 bits of both addresses and
 * the UDP source port and checksum zero. For frame number s (the per-CPU
 * a6b_gen_stats packet counter), the generator writes hdr and then
 *   flow   = s % flows                    (established)
 *            or s itself for the new_per_mille share of frames (a flow
 *            never seen before: source offset A6B_NEW_SRC_OFF + (s >> 16))
 *   src_lo = src_lo + (flow >> 16)
 *   dst_lo = dst_lo + (flow % n_dst)
 *   sport  = flow & 0xffff
 *   csum   = ~(csum_base + those 16-bit words), folded
 * and redirects it to ifindex. With gap_ps set, a frame whose time has not
 * come is dropped (recycled at once, not counted, not sent): the program
 * runs flat out and sends at most one frame per gap_ps.
 */
struct a6b_gen_cfg {
	__u8 hdr[64];        /* A6B_HDR_LEN bytes used                     */
	__u32 ifindex;       /* redirect target (the generator's veth end) */
	__u32 flows;         /* established flows, >= 1                    */
	__u32 n_dst;         /* distinct destinations, >= 1                */
	__u32 new_per_mille; /* share of frames that start a new flow      */
	__u32 src_lo;        /* base of the source's low 32 bits           */
	__u32 dst_lo;        /* base of the destination's low 32 bits      */
	__u32 csum_base;     /* one's-complement sum of the fixed parts    */
	__u32 gap_ps;        /* pacing: picoseconds between frames sent,
			      * 0 = flat out (see a6b_gen.bpf.c)           */
}; /* 96 */

/* Generator state per CPU: what it sent, and its pacing. */
struct a6b_gen_state {
	__u64 packets; /* frames sent; also the next frame's sequence number */
	__u64 bytes;
	__u64 next_ps; /* pacing: when the next tokens are due (ktime, ps) */
	__u64 tokens;  /* pacing: frames that may go now                   */
}; /* 32 */

/* Frames a paced generator may send back to back after falling behind. */
#define A6B_PACE_BURST 64

#endif /* A6B_BENCH_H */
