//! The C flow hash (ebpf/include/flowhash.h, run in the kernel through the
//! `anycast6_hash_probe` XDP program) and the Rust twin agree on 100 000
//! random flow keys and seeds.

mod common;

use anycast6_dataplane::{abi, flowhash, objects, testrun};
use aya::{programs::Xdp, Ebpf};
use rand::{Rng, SeedableRng};

#[test]
fn c_and_rust_flow_hash_agree() {
    if !root_or_skip() {
        return;
    }
    let mut ebpf = Ebpf::load(objects::HASH_PROBE_OBJ).expect("load hash probe object");
    let prog: &mut Xdp = ebpf
        .program_mut(abi::prog::HASH_PROBE)
        .expect("program in object")
        .try_into()
        .expect("XDP program");
    prog.load().expect("verifier accepts the hash probe");
    let prog: &Xdp = ebpf
        .program(abi::prog::HASH_PROBE)
        .unwrap()
        .try_into()
        .unwrap();

    let mut rng = rand::rngs::StdRng::seed_from_u64(0x00a6_a5ed);
    let mut frame = [0u8; 48];
    for i in 0..100_000u32 {
        let mut key = abi::FlowKey {
            src: rng.random(),
            dst: rng.random(),
            sport_be: rng.random(),
            dport_be: rng.random(),
            proto: rng.random(),
            frag: rng.random_range(0..2),
            _pad: 0,
        };
        // Some keys with the padding set too: the hash covers all 40 bytes.
        if i % 7 == 0 {
            key._pad = rng.random();
        }
        let seed: u32 = match i % 4 {
            0 => 0x5eed_1234,
            1 => 0,
            _ => rng.random(),
        };
        frame[..40].copy_from_slice(&key.to_bytes());
        frame[40..44].copy_from_slice(&seed.to_ne_bytes());
        frame[44..48].fill(0);
        let r = testrun::run_xdp(prog, &frame).expect("test run");
        assert_eq!(r.action, testrun::XDP_PASS);
        let c = u32::from_ne_bytes(r.frame[44..48].try_into().unwrap());
        let rust = flowhash::flow_hash(&key, seed);
        assert_eq!(
            c,
            rust,
            "key {:02x?} seed {seed:#x}: C {c:#010x} Rust {rust:#010x}",
            key.to_bytes()
        );
    }
}

fn root_or_skip() -> bool {
    let root = common::root_or_skip("c_and_rust_flow_hash_agree: BPF_PROG_TEST_RUN");
    if !root {
        common::loud("SKIPPED: not root");
    }
    root
}
