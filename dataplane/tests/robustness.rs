//! Robustness of the C parser, through the kernel: 200k frames made by
//! mutating, truncating and extending every fixture input run through
//! BPF_PROG_TEST_RUN. Invariants: never XDP_ABORTED; exactly one reason is
//! counted per frame and it matches the verdict; a frame that is redirected
//! was a well-formed IPv6 packet to a FIB destination.

mod common;

use std::path::Path;

use anycast6_dataplane::abi::{Reason, Verdict};
use anycast6_dataplane::fixtures::{self, frames, FixtureFile};
use anycast6_dataplane::testrun;
use anycast6_dataplane::Dataplane;
use common::{root_or_skip, PinDir};
use rand::{Rng, SeedableRng};

fn mutate(rng: &mut rand::rngs::StdRng, base: &[u8]) -> Vec<u8> {
    let mut f = base.to_vec();
    match rng.random_range(0..4) {
        0 => {
            let n = rng.random_range(1..6);
            for _ in 0..n {
                let i = rng.random_range(0..f.len());
                f[i] = rng.random();
            }
        }
        1 => {
            let cut = rng.random_range(14..=f.len());
            f.truncate(cut);
        }
        2 => {
            // Corrupt a header field that drives parsing: payload length,
            // next header, an extension header length.
            let i = [18usize, 19, 20, 54, 55]
                .get(rng.random_range(0..5))
                .copied()
                .unwrap_or(18);
            if i < f.len() {
                f[i] = rng.random();
            }
        }
        _ => {
            let extra = rng.random_range(1..64);
            f.extend((0..extra).map(|_| rng.random::<u8>()));
        }
    }
    if f.len() < 14 {
        f.resize(14, 0);
    }
    f
}

#[test]
fn mutated_frames_never_abort_and_always_count_one_reason() {
    if !root_or_skip("mutated_frames_never_abort_and_always_count_one_reason") {
        return;
    }
    let file = FixtureFile::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(fixtures::FIXTURE_FILE),
    )
    .expect("fixtures");
    let pins = PinDir::new("robustness");
    let mut opts = pins.opts();
    opts.hash_seed = file.hash_seed;
    opts.router_addr = file.router_addr;
    opts.ptb_per_sec = 1_000_000;
    opts.capacities.member_ids = 65536;
    let mut dp = Dataplane::open(&opts).expect("open");
    // The whole world of the fixtures, in its final state.
    for case in &file.cases {
        for op in case.setup.iter().filter(|op| !op.removes()) {
            op.apply(dp.fib()).expect("setup");
        }
    }
    let bases: Vec<Vec<u8>> = file
        .cases
        .iter()
        .map(|c| frames::unhex(&c.input).unwrap())
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xa6a6);
    let n = 200_000;
    let mut by_reason = std::collections::BTreeMap::new();
    let mut prev = dp.fib().reason_counters().unwrap();
    for i in 0..n {
        let base = &bases[rng.random_range(0..bases.len())];
        let frame = mutate(&mut rng, base);
        let res = dp
            .test_run(&frame)
            .unwrap_or_else(|e| panic!("frame {i}: {e}: {}", frames::hex(&frame)));
        assert_ne!(
            res.action,
            testrun::XDP_ABORTED,
            "aborted on {}",
            frames::hex(&frame)
        );
        let now = dp.fib().reason_counters().unwrap();
        let moved: Vec<Reason> = prev
            .iter()
            .zip(now.iter())
            .filter(|(a, b)| b.1 > a.1)
            .map(|(_, b)| b.0)
            .collect();
        assert_eq!(
            moved.len(),
            1,
            "frame {} counted {moved:?}",
            frames::hex(&frame)
        );
        let want = match moved[0].verdict() {
            Verdict::Redirect => testrun::XDP_REDIRECT,
            Verdict::Tx => testrun::XDP_TX,
            Verdict::Pass => testrun::XDP_PASS,
            Verdict::Drop => testrun::XDP_DROP,
        };
        assert_eq!(
            res.action,
            want,
            "reason {:?} vs action {} for {}",
            moved[0],
            res.action,
            frames::hex(&frame)
        );
        *by_reason.entry(moved[0].name()).or_insert(0u32) += 1;
        prev = now;
    }
    eprintln!("{n} mutated frames, sampled reasons: {by_reason:?}");
}
