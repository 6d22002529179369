//! The dataplane fixtures (tests/fixtures/dataplane.json), unchanged,
//! through the userspace engine: every case, in order, with its setup
//! applied to a snapshot builder, gives the expected verdict, reason and
//! output frame — the same contract the XDP program meets through
//! BPF_PROG_TEST_RUN (fixtures.rs). No root needed.

use anycast6_dataplane::{
    abi::{tun_reason, Reason, Verdict},
    fixtures::{self, frames, FixtureFile},
    testrun::OUTPUT_SLACK,
    userspace::{process, EngineConfig, FibOp, FlowState, Frame, SnapshotBuilder},
};

/// Cases where the userspace path differs from the XDP path on purpose,
/// with the reason. Strict both ways, like KNOWN_BROKEN in fixtures.rs.
const DIFFERENCES: &[(&str, &str)] = &[];

#[test]
fn fixtures_through_the_userspace_engine() {
    let file = FixtureFile::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(fixtures::FIXTURE_FILE),
    )
    .expect("fixture file");
    let cfg = EngineConfig {
        hash_seed: file.hash_seed,
        router_addr: file.router_addr,
        ptb_per_sec: file.ptb_per_sec,
    };
    // Where every frame arrives (a Packet Too Big goes back there).
    let ingress = file.ingress_ifindex;
    let mut builder = SnapshotBuilder::new();
    let mut state = FlowState::new(4096);
    let mut failures = Vec::new();
    let mut passed = 0;
    for case in &file.cases {
        for op in &case.setup {
            builder
                .apply(&FibOp::from_fixture(op).expect("fixture op"))
                .unwrap_or_else(|e| panic!("{}: setup {op:?}: {e}", case.name));
        }
        let snap = builder.snapshot();
        let input = frames::unhex(&case.input).expect("hex input");
        let mut buf = input.clone();
        buf.resize(input.len() + OUTPUT_SLACK, 0);
        let mut frame = Frame::new(&mut buf, input.len());
        let before = state.counters.reasons;
        let tun_before = state.counters.tunnel;
        // The clock of the groups' change deadlines, as in a worker.
        let out = process(
            &mut frame,
            ingress,
            &snap,
            &mut state,
            &cfg,
            anycast6_dataplane::changes::monotonic_ns(),
        );
        let mut problems = Vec::new();
        if fixtures::verdict_name(out.verdict) != case.verdict {
            problems.push(format!(
                "verdict {} != {}",
                fixtures::verdict_name(out.verdict),
                case.verdict
            ));
        }
        if out.reason.name() != case.reason {
            problems.push(format!("reason {} != {}", out.reason.name(), case.reason));
        }
        let bumped: Vec<Reason> = Reason::ALL
            .iter()
            .copied()
            .filter(|r| state.counters.reasons[*r as usize] != before[*r as usize])
            .collect();
        if bumped != [out.reason] {
            problems.push(format!("counters bumped {bumped:?}"));
        }
        let tun_bumped: Vec<&str> = (0..tun_before.len())
            .filter(|i| state.counters.tunnel[*i] != tun_before[*i])
            .map(|i| tun_reason::NAMES[i])
            .collect();
        let want_tun: Vec<&str> = case.tunnel.iter().map(String::as_str).collect();
        if tun_bumped != want_tun {
            problems.push(format!(
                "tunnel counters bumped {tun_bumped:?}, want {want_tun:?}"
            ));
        }
        if out.verdict == Verdict::Redirect {
            let want = if out.reason == Reason::TxPtb {
                ingress
            } else {
                0
            };
            if want != 0 && out.egress_ifindex != want {
                problems.push(format!("egress {} != ingress {want}", out.egress_ifindex));
            }
            if out.egress_ifindex == 0 {
                problems.push("redirect without an egress".into());
            }
        }
        if let Some(o) = &case.output {
            let want = frames::unhex(o).expect("hex output");
            if frame.data() != want.as_slice() {
                let got = frame.data();
                let first = got
                    .iter()
                    .zip(&want)
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.len().min(want.len()));
                problems.push(format!(
                    "frame differs at byte {first} (got {} bytes, want {})",
                    got.len(),
                    want.len()
                ));
            }
        }
        let known = DIFFERENCES.iter().find(|k| k.0 == case.name);
        match (problems.is_empty(), known) {
            (true, None) => passed += 1,
            (false, Some(k)) => println!("documented difference: {}: {}", case.name, k.1),
            (false, None) => failures.push(format!("{}: {}", case.name, problems.join("; "))),
            (true, Some(_)) => {
                failures.push(format!("{} passes: remove it from DIFFERENCES", case.name))
            }
        }
    }
    println!(
        "{passed} of {} fixture cases identical to the XDP path",
        file.cases.len()
    );
    assert!(
        failures.is_empty(),
        "userspace fixture failures:\n{}",
        failures.join("\n")
    );
}
