//! The anycast6 flow hash, twin of `ebpf/include/flowhash.h`.
//!
//! MurmurHash3 x86_32 over the 40-byte `struct a6_flow_key` read as ten
//! little-endian 32-bit words, seeded with `a6_config.hash_seed`. The XDP
//! program and the AF_XDP path must pick the same member for a flow, so this
//! is bit-identical to the C version (`dataplane/tests/hash_parity.rs` runs
//! 100 000 keys through both).

use crate::abi::FlowKey;

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

#[inline(always)]
fn mix(h: u32, k: u32) -> u32 {
    let k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    (h ^ k)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

#[inline(always)]
fn fmix(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// MurmurHash3 x86_32 of any byte string (the general algorithm, tail
/// included). The flow hash is this over the 40 key bytes; the Maglev
/// permutation uses it over a member's 16-byte address.
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    let mut h = seed;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        h = mix(h, u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, b) in tail.iter().enumerate() {
            k |= u32::from(*b) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    // Murmur3 folds in the length modulo 2^32.
    h ^= data.len() as u32;
    fmix(h)
}

/// The flow hash of `key` (what `a6_flow_hash` computes in the XDP program).
pub fn flow_hash(key: &FlowKey, seed: u32) -> u32 {
    murmur3_32(&key.to_bytes(), seed)
}

/// The IPv6 flow label the encap action writes into the outer header
/// (RFC 6438: a flow's packets share one label, different flows spread).
pub fn flow_label(hash: u32) -> u32 {
    hash & 0xfffff
}

/// Position of a flow in a Maglev table of `len` entries.
///
/// `len` must not be zero (a group with no active member has no table and
/// the caller must not look one up).
pub fn maglev_index(hash: u32, len: u32) -> u32 {
    hash % len
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published MurmurHash3_x86_32 vectors (the SMHasher reference, as
    /// collected in the widely used test list for the algorithm).
    #[test]
    fn murmur3_reference_vectors() {
        let cases: &[(&[u8], u32, u32)] = &[
            (b"", 0, 0),
            (b"", 1, 0x514e_28b7),
            (b"", 0xffff_ffff, 0x81f1_6f39),
            (&[0xff, 0xff, 0xff, 0xff], 0, 0x7629_3b50),
            (&[0x21, 0x43, 0x65, 0x87], 0, 0xf55b_516b),
            (&[0x21, 0x43, 0x65, 0x87], 0x5082_edee, 0x2362_f9de),
            (&[0x21, 0x43, 0x65], 0, 0x7e4a_8634),
            (&[0x21, 0x43], 0, 0xa0f7_b07a),
            (&[0x21], 0, 0x7266_1cf4),
            (&[0, 0, 0, 0], 0, 0x2362_f9de),
            (&[0, 0, 0], 0, 0x85f0_b427),
            (&[0, 0], 0, 0x30f4_c306),
            (&[0], 0, 0x514e_28b7),
            (b"aaaa", 0x9747_b28c, 0x5a97_808a),
            (b"aaa", 0x9747_b28c, 0x283e_0130),
            (b"aa", 0x9747_b28c, 0x5d21_1726),
            (b"a", 0x9747_b28c, 0x7fa0_9ea6),
            (b"abcd", 0x9747_b28c, 0xf047_8627),
            (b"abc", 0x9747_b28c, 0xc84a_62dd),
            (b"ab", 0x9747_b28c, 0x7487_5592),
            (b"Hello, world!", 0x9747_b28c, 0x2488_4cba),
            (
                b"The quick brown fox jumps over the lazy dog",
                0x9747_b28c,
                0x2fa8_26cd,
            ),
        ];
        for (data, seed, want) in cases {
            assert_eq!(
                murmur3_32(data, *seed),
                *want,
                "murmur3({data:02x?}, {seed:#x})"
            );
        }
    }

    /// The flow hash reads the key bytes as they lie in memory: the same as
    /// murmur3 over `to_bytes()`, and sensitive to every field.
    #[test]
    fn flow_hash_covers_every_byte() {
        let mut key = FlowKey {
            src: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            dst: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            sport_be: 1234u16.to_be(),
            dport_be: 80u16.to_be(),
            proto: 6,
            frag: 0,
            _pad: 0,
        };
        let base = flow_hash(&key, 7);
        assert_eq!(base, murmur3_32(&key.to_bytes(), 7));
        assert_ne!(base, flow_hash(&key, 8));
        key.frag = 1;
        assert_ne!(base, flow_hash(&key, 7));
        key.frag = 0;
        key.dport_be = 81u16.to_be();
        assert_ne!(base, flow_hash(&key, 7));
    }

    /// A fixed 40-byte vector, computed once from the reference algorithm
    /// above; pins the whole path (to_bytes layout + 10 words + length).
    #[test]
    fn flow_hash_known_value() {
        let mut bytes = [0u8; 40];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        let key = FlowKey {
            src: bytes[0..16].try_into().unwrap_or_default(),
            dst: bytes[16..32].try_into().unwrap_or_default(),
            sport_be: u16::from_ne_bytes([32, 33]),
            dport_be: u16::from_ne_bytes([34, 35]),
            proto: 36,
            frag: 37,
            _pad: u16::from_ne_bytes([38, 39]),
        };
        assert_eq!(key.to_bytes(), bytes);
        assert_eq!(flow_hash(&key, 0), murmur3_32(&bytes, 0));
        assert_eq!(flow_hash(&key, 0), KNOWN_0_TO_39_SEED0);
    }

    // murmur3_x86_32(bytes 0, 1, .., 39; seed 0), computed with an
    // independent Python transcription of the reference algorithm (which
    // also reproduces the published vectors above).
    const KNOWN_0_TO_39_SEED0: u32 = 0xce73_6bd7;

    #[test]
    fn label_and_index() {
        assert_eq!(flow_label(0xfff1_2345), 0x1_2345);
        assert_eq!(maglev_index(100, 7), 2);
    }
}
