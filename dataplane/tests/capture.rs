//! Capture through BPF_PROG_TEST_RUN (docs/capture.md): every dataplane
//! fixture run with its own reason armed emits exactly one record that
//! names the reason and verdict and carries the frame as the program left
//! it; with every other reason armed, or disarmed, or with the lease run
//! out, it emits none; sampling and the budget take what they say.

mod common;

use anycast6_dataplane::{
    abi::{cap, CapCfg, Reason},
    capture::{decode_record, monotonic_ns, CaptureMaps},
    fixtures::{self, FixtureFile},
    Dataplane,
};
use common::{root_or_skip, PinDir};

fn fixture_file() -> FixtureFile {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(fixtures::FIXTURE_FILE);
    FixtureFile::load(&p).expect("fixture file")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn armed(mask: u64, snaplen: u32) -> CapCfg {
    CapCfg {
        reason_mask: mask,
        expires_ns: monotonic_ns() + 60_000_000_000,
        sample_every: 1,
        snaplen,
        budget: 0,
        session: 7,
        owner_pid: std::process::id(),
        flags: 0,
    }
}

fn drain(c: &mut CaptureMaps) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| c.next_record()).collect()
}

fn open(name: &str) -> (PinDir, Dataplane, FixtureFile) {
    let file = fixture_file();
    let pins = PinDir::new(name);
    let mut opts = pins.opts();
    opts.hash_seed = file.hash_seed;
    opts.router_addr = file.router_addr;
    opts.ptb_per_sec = file.ptb_per_sec;
    opts.capacities.member_ids = 65536;
    let dp = Dataplane::open(&opts).expect("open");
    (pins, dp, file)
}

#[test]
fn every_fixture_is_captured_under_its_reason_only() {
    if !root_or_skip("every_fixture_is_captured_under_its_reason_only: BPF_PROG_TEST_RUN") {
        return;
    }
    let (pins, mut dp, file) = open("capture-fixtures");
    let mut c = CaptureMaps::open(&pins.path).expect("capture maps");
    assert_eq!(
        c.config().unwrap(),
        CapCfg::default(),
        "disarmed when created"
    );
    let mut failures = Vec::new();
    let mut seen_reasons = std::collections::BTreeSet::new();
    for (i, case) in file.cases.iter().enumerate() {
        for op in &case.setup {
            op.apply(dp.fib()).expect("setup");
        }
        let reason = fixtures::reason_by_name(&case.reason).expect("reason");
        let bit = 1u64 << (reason as u32);
        let input = hex(&case.input);
        // Three ways per case, in turn: its own reason (one record, a
        // short snaplen every other time), every other reason, disarmed.
        let (cfg, want_record) = match i % 4 {
            0 => (armed(bit, 0), true),
            1 => (armed(!bit, 0), false),
            2 => (armed(bit, 60), true),
            _ => (CapCfg::default(), false),
        };
        c.set_config(&cfg).unwrap();
        let res = dp.test_run(&input).expect("test run");
        let recs = drain(&mut c);
        let mut problems = Vec::new();
        match (want_record, recs.as_slice()) {
            (false, []) => {}
            (false, r) => problems.push(format!("{} records, want none", r.len())),
            (true, [one]) => {
                seen_reasons.insert(reason);
                let r = decode_record(one).expect("decodes");
                let snap = if cfg.snaplen == 0 {
                    cap::SNAP_DEF as usize
                } else {
                    cfg.snaplen as usize
                };
                let want_frame = &res.frame[..res.frame.len().min(snap)];
                if r.reason != reason {
                    problems.push(format!("reason {:?}", r.reason));
                }
                if u32::from(r.verdict) != res.action {
                    problems.push(format!("verdict {} != action {}", r.verdict, res.action));
                }
                if r.frame != want_frame {
                    problems.push(format!(
                        "frame of {} bytes differs from the program's output ({} bytes)",
                        r.frame.len(),
                        want_frame.len()
                    ));
                }
                if r.wire_len as usize != input.len() || r.pkt_len as usize != res.frame.len() {
                    problems.push(format!("lengths {} {}", r.wire_len, r.pkt_len));
                }
                if r.session != 7 || r.ifindex != fixtures::INGRESS_IFINDEX {
                    problems.push(format!("session {} ifindex {}", r.session, r.ifindex));
                }
                let forwarded = matches!(reason, Reason::FwdRewrite | Reason::FwdEncap);
                if forwarded && (r.member_id.is_none() || r.egress_ifindex == 0) {
                    problems.push("forwarded without member".into());
                }
            }
            (true, r) => problems.push(format!("{} records, want one", r.len())),
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", case.name, problems.join("; ")));
        }
    }
    c.disarm().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        seen_reasons.len() >= 20,
        "only {} reasons captured",
        seen_reasons.len()
    );
    assert_eq!(c.stats().unwrap().lost, 0);
}

#[test]
fn lease_sampling_and_budget() {
    if !root_or_skip("lease_sampling_and_budget: BPF_PROG_TEST_RUN") {
        return;
    }
    let (pins, mut dp, file) = open("capture-lease");
    let mut c = CaptureMaps::open(&pins.path).expect("capture maps");
    // A frame that reaches a verdict with no FIB at all: not anycast or
    // not ours, whatever the first case is, under a reason we read back.
    let case = &file.cases[0];
    for op in &case.setup {
        op.apply(dp.fib()).expect("setup");
    }
    let input = hex(&case.input);
    let reason = fixtures::reason_by_name(&case.reason).expect("reason");
    let bit = 1u64 << (reason as u32);
    let run = |dp: &Dataplane, n: usize| {
        for _ in 0..n {
            dp.test_run(&input).expect("test run");
        }
    };

    // Lease run out: armed mask, nothing emitted, nothing counted.
    c.reset_stats().unwrap();
    let mut cfg = armed(bit, 0);
    cfg.expires_ns = monotonic_ns() - 1;
    c.set_config(&cfg).unwrap();
    run(&dp, 5);
    assert!(drain(&mut c).is_empty(), "expired lease emits nothing");
    assert_eq!(c.stats().unwrap().matched, 0);

    // 1 in 4 of 20: 5 records, the 1st, 5th, 9th...
    c.reset_stats().unwrap();
    let mut cfg = armed(bit, 0);
    cfg.sample_every = 4;
    c.set_config(&cfg).unwrap();
    run(&dp, 20);
    assert_eq!(drain(&mut c).len(), 5);
    let st = c.stats().unwrap();
    assert_eq!((st.matched, st.taken, st.lost), (20, 5, 0));

    // Budget 3 of 10.
    c.reset_stats().unwrap();
    let mut cfg = armed(bit, 0);
    cfg.budget = 3;
    c.set_config(&cfg).unwrap();
    run(&dp, 10);
    assert_eq!(drain(&mut c).len(), 3);

    c.disarm().unwrap();
    run(&dp, 3);
    assert!(drain(&mut c).is_empty());
}
