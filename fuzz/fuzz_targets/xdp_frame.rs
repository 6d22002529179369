//! Frames through the real XDP program (BPF_PROG_TEST_RUN; needs root and
//! bpffs). The program must never abort, and a frame it redirects must
//! have been counted under a forwarding reason. Coverage feedback only sees
//! the Rust side, so seeds come from the fixture file (fuzz/seeds/xdp_frame).
#![no_main]
use std::sync::{Mutex, OnceLock};

use anycast6_dataplane::fixtures::{self, FixtureFile};
use anycast6_dataplane::loader::{Capacities, DataplaneOptions};
use anycast6_dataplane::{testrun, Dataplane};
use libfuzzer_sys::fuzz_target;

fn dataplane() -> &'static Mutex<Dataplane> {
    static DP: OnceLock<Mutex<Dataplane>> = OnceLock::new();
    DP.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let file = FixtureFile::load(&root.join(fixtures::FIXTURE_FILE)).expect("fixtures");
        let pin_dir = std::path::PathBuf::from(format!("/sys/fs/bpf/a6-fuzz-{}/v1", std::process::id()));
        let _ = Dataplane::destroy(&pin_dir);
        let mut dp = Dataplane::open(&DataplaneOptions {
            pin_dir,
            capacities: Capacities::default(),
            hash_seed: file.hash_seed,
            router_addr: file.router_addr,
            ptb_per_sec: 1_000_000,
        })
        .expect("open dataplane (root and bpffs needed)");
        for case in &file.cases {
            for op in case.setup.iter().filter(|op| !op.removes()) {
                let _ = op.apply(dp.fib());
            }
        }
        Mutex::new(dp)
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 14 || data.len() > 3000 {
        return;
    }
    let dp = dataplane().lock().unwrap();
    let res = dp.test_run(data).expect("test run");
    assert_ne!(res.action, testrun::XDP_ABORTED);
    assert!(res.action <= testrun::XDP_REDIRECT);
});
