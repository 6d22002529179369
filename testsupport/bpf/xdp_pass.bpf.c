// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Tests and benchmarks only (Netns::xdp_pass): an XDP program that passes
 * every frame.
 *
 * Attached to a veth end that must receive frames an XDP program on the
 * other end sends with XDP_TX (anycast6's ICMPv6 Packet Too Big). Measured
 * on the CI kernel: XDP_TX into a veth is dropped silently unless the peer
 * has an XDP program attached; GRO on the peer, which is enough for
 * XDP_REDIRECT, is not enough for XDP_TX.
 *
 * No headers: XDP_PASS is 2 (include/uapi/linux/bpf.h), so the build does
 * not depend on the multiarch include path.
 */
__attribute__((section("xdp"), used)) int a6t_xdp_pass(void *ctx)
{
	(void)ctx;
	return 2; /* XDP_PASS */
}

__attribute__((section("license"), used)) char LICENSE[] = "Dual BSD/GPL";
