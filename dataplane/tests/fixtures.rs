//! The dataplane fixtures (tests/fixtures/dataplane.json): the committed
//! file matches the generator, and every case, run in order through the
//! kernel (BPF_PROG_TEST_RUN) with the FIB writer applying its setup, gives
//! the expected verdict, increments exactly its reason counter and leaves
//! the expected frame; a tunnelled case bumps its tunnel end point counter
//! (a6_tun_stats) too, and no other case bumps any.

mod common;

use anycast6_dataplane::{
    abi::Reason,
    fixtures::{self, FixtureFile},
    Dataplane,
};
use common::{root_or_skip, PinDir};

fn fixture_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(fixtures::FIXTURE_FILE)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn fixture_file_is_current() {
    let committed = FixtureFile::load(&fixture_path()).expect("fixture file");
    let generated = fixtures::gen::generate();
    assert!(
        committed == generated,
        "tests/fixtures/dataplane.json is stale: \
         cargo run -p anycast6-dataplane --example gen_fixtures"
    );
}

#[test]
fn fixtures_through_bpf_prog_test_run() {
    if !root_or_skip("fixtures_through_bpf_prog_test_run: BPF_PROG_TEST_RUN") {
        return;
    }
    let file = FixtureFile::load(&fixture_path()).expect("fixture file");
    let pins = PinDir::new("fixtures");
    let mut opts = pins.opts();
    opts.hash_seed = file.hash_seed;
    opts.router_addr = file.router_addr;
    opts.ptb_per_sec = file.ptb_per_sec;
    opts.capacities.member_ids = 65536;
    let mut dp = Dataplane::open(&opts).expect("open");
    let mut failures = Vec::new();
    for case in &file.cases {
        for op in &case.setup {
            op.apply(dp.fib())
                .unwrap_or_else(|e| panic!("{}: setup {op:?}: {e}", case.name));
        }
        let before = dp.fib().counters().expect("counters");
        let tun_before = dp.fib().tunnel_counters().expect("tunnel counters");
        let input = hex(&case.input);
        let res = dp.test_run(&input).expect("test run");
        let after = dp.fib().counters().expect("counters");
        let tun_after = dp.fib().tunnel_counters().expect("tunnel counters");
        let tun_bumped: Vec<&str> = tun_after
            .iter()
            .zip(&tun_before)
            .filter(|(a, b)| a.1 != b.1)
            .map(|(a, _)| a.0)
            .collect();
        let bumped: Vec<Reason> = after
            .reasons
            .iter()
            .zip(&before.reasons)
            .filter(|(a, b)| a.1 != b.1)
            .map(|(a, _)| a.0)
            .collect();
        let want_action = fixtures::xdp_action(&case.verdict).expect("verdict name");
        let want_reason = fixtures::reason_by_name(&case.reason).expect("reason name");
        let mut problems = Vec::new();
        if res.action != want_action {
            problems.push(format!("action {} != {}", res.action, want_action));
        }
        if bumped != [want_reason] {
            problems.push(format!(
                "counters bumped {bumped:?}, want [{want_reason:?}]"
            ));
        }
        let want_tun: Vec<&str> = case.tunnel.iter().map(String::as_str).collect();
        if tun_bumped != want_tun {
            problems.push(format!(
                "tunnel counters bumped {tun_bumped:?}, want {want_tun:?}"
            ));
        }
        if let Some(out) = &case.output {
            let want = hex(out);
            if res.frame != want {
                let first = res
                    .frame
                    .iter()
                    .zip(&want)
                    .position(|(a, b)| a != b)
                    .unwrap_or(res.frame.len().min(want.len()));
                let around = |f: &[u8]| {
                    f.get(first.saturating_sub(2)..(first + 6).min(f.len()))
                        .map(|b| format!("{b:02x?}"))
                        .unwrap_or_default()
                };
                problems.push(format!(
                    "frame differs at byte {first} (got {} bytes {}, want {} bytes {})",
                    res.frame.len(),
                    around(&res.frame),
                    want.len(),
                    around(&want)
                ));
            }
        }
        let status = if problems.is_empty() { "ok" } else { "FAIL" };
        println!(
            "{status:5} {:40} {} {}",
            case.name, case.verdict, case.reason
        );
        if !problems.is_empty() {
            failures.push(format!("{}: {}", case.name, problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "fixture failures:\n{}",
        failures.join("\n")
    );
}
