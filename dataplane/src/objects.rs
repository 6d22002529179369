//! The eBPF objects compiled by build.rs from `ebpf/*.bpf.c`, embedded
//! 8-byte aligned (the ELF parser reads them in place).

/// Forwarding program (`anycast6_xdp`) and its maps.
pub static XDP_OBJ: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/anycast6_xdp.bpf.o"));
/// Member-side decapsulation program (`anycast6_decap`).
pub static DECAP_OBJ: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/member_decap.bpf.o"));
/// Test-only program that writes the flow hash of a frame into the frame.
pub static HASH_PROBE_OBJ: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/hash_probe.bpf.o"));
/// AF_XDP steering program (`anycast6_xsk`): owned anycast traffic to the
/// queue's socket, everything else as the forwarding program would.
pub static XSK_OBJ: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/anycast6_xsk.bpf.o"));
/// MGA member egress (`anycast6_mga_member`, tc).
pub static MGA_MEMBER_OBJ: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/mga_member.bpf.o"));
/// MGA correspondent egress (tc) and ingress (XDP).
pub static MGA_CN_OBJ: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/mga_cn.bpf.o"));
