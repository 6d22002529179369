//! BPF_PROG_TEST_RUN cost of the forwarding program on every dataplane
//! fixture (tests/fixtures/dataplane.json), against the minimal forwarder
//! on the same frame.
//!
//! - Fixtures run in file order with their FIB setup applied first, as the
//!   fixture test does; each case is checked once (verdict) and then timed.
//! - repeat = 1 per call: with repeat > 1 the kernel does not reset the
//!   frame between runs (DESIGN.md), so a rewriting program would time a
//!   mix of paths. The kernel's own clock around one run is the sample;
//!   the median of many calls is one repetition's value.
//! - Both programs are attached to an idle veth in a private namespace
//!   while timed: an XDP test run of a program that is not attached adds it
//!   to the XDP dispatcher and removes it again, each time with a
//!   synchronize_rcu() (tens of ms here).
//! - Packet Too Big cases: the rate limit is lifted (ptb_per_sec = u32::MAX)
//!   so every run takes the PTB path.

use anycast6_dataplane::{
    fixtures::{self, FixtureFile},
    loader::Capacities,
    AttachMode, Dataplane, DataplaneOptions,
};
use anyhow::{bail, Context, Result};
use aya::programs::Xdp;
use aya::{TestRun, TestRunOptions};

use super::ns::{self, DUT_CPU};
use super::progs::Minimal;
use super::Plan;
use crate::cleanup::{self, Netns, PinDir};
use crate::figure::{at_most, Figure};

static FIXTURES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/dataplane.json"
));

/// The fixture whose path is "the full forwarding path": UDP to an anycast
/// address, one on-link member, an unchanged group (the Maglev table alone).
pub const FULL_PATH: &str = "onlink_udp";

/// One fixture's samples (ns/packet, one per repetition).
struct Timed {
    name: String,
    verdict: String,
    reason: String,
    anycast6: Vec<f64>,
    minimal: Vec<f64>,
    /// What the first run gave when it was not the expected action.
    mismatch: Option<String>,
}

fn hex(s: &str) -> Result<Vec<u8>> {
    fixtures::frames::unhex(s).context("fixture frame is not hex")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Median of `calls` repeat=1 runs of `prog` on `frame`, in ns (the
/// kernel's clock around the run; copying the frame in is not timed).
fn time(prog: &Xdp, frame: &[u8], calls: usize) -> Result<f64> {
    let mut v = Vec::with_capacity(calls);
    for _ in 0..calls {
        let opts = TestRunOptions {
            data_in: Some(frame),
            repeat: 1,
            ..TestRunOptions::default()
        };
        v.push(prog.test_run(opts)?.duration.as_nanos() as f64);
    }
    Ok(median(v))
}

fn apply(dp: &mut Dataplane, case: &fixtures::Case) -> Result<()> {
    for op in &case.setup {
        op.apply(dp.fib())
            .with_context(|| format!("{}: setup {op:?}", case.name))?;
    }
    Ok(())
}

/// Times every fixture; returns the per-fixture figures, the minimal
/// program's and the full-path ratio.
pub fn measure(plan: &Plan, progress: &dyn Fn(&str)) -> Result<Vec<Figure>> {
    let file: FixtureFile = serde_json::from_str(FIXTURES).context("parsing the fixture file")?;
    let calls = if plan.quick { 200 } else { 1000 };
    let reps = plan.reps;

    // Two idle interfaces to park the programs on (one XDP program each).
    let park = Netns::new("tr")?;
    park.ip(&[
        "link", "add", "a6b-pa", "type", "veth", "peer", "name", "a6b-pb",
    ])?;
    let pins = PinDir::new("tr");
    let opts = DataplaneOptions {
        pin_dir: pins.path().to_path_buf(),
        capacities: Capacities {
            member_ids: 65536,
            ..Capacities::default()
        },
        hash_seed: file.hash_seed,
        router_addr: file.router_addr,
        ptb_per_sec: u32::MAX,
    };
    let mut dp = Dataplane::open(&opts).context("loading anycast6 for test runs")?;
    // Fixture members leave through ifindex 1 (lo); so does the minimal one.
    let mut minimal = Minimal::load([2, 0, 0, 0, 0x10, 0x10], [2, 0, 0, 0, 0xee, 1], 1)?;
    ns::in_ns(&park, || {
        dp.attach("a6b-pa", AttachMode::Native)?;
        minimal.attach("a6b-pb")
    })?;

    let timed = {
        let _pin = ns::PinGuard::new(DUT_CPU)?;
        let min = minimal.prog()?;
        let mut out = Vec::new();
        for case in &file.cases {
            cleanup::check()?;
            progress(&format!("traffic: test run {}", case.name));
            apply(&mut dp, case)?;
            let frame = hex(&case.input)?;
            let want = fixtures::xdp_action(&case.verdict).context("verdict name")?;
            let first = dp.test_run(&frame)?.action;
            let mut t = Timed {
                name: case.name.clone(),
                verdict: case.verdict.clone(),
                reason: case.reason.clone(),
                anycast6: Vec::with_capacity(reps),
                minimal: Vec::with_capacity(reps),
                mismatch: (first != want)
                    .then(|| format!("first run gave action {first}, the fixture says {want}")),
            };
            for _ in 0..reps {
                let mut v = Vec::with_capacity(calls);
                for _ in 0..calls {
                    v.push(dp.test_run(&frame)?.duration_ns as f64);
                }
                t.anycast6.push(median(v));
                t.minimal.push(time(min, &frame, calls)?);
            }
            out.push(t);
        }
        out
    };
    drop(minimal);
    drop(dp);
    drop(pins);
    figures(&timed, calls, reps)
}

fn figures(timed: &[Timed], calls: usize, reps: usize) -> Result<Vec<Figure>> {
    let how = format!(
        "BPF_PROG_TEST_RUN with repeat = 1 (the kernel does not reset the frame between \
         repeats), the kernel's ns around one run; each sample is the median of {calls} calls, \
         {reps} samples; fixtures in file order with their FIB setup (tests/fixtures/dataplane.json), \
         programs parked on an idle veth so every run goes through the XDP dispatcher as in \
         forwarding; the calling thread pinned to CPU {DUT_CPU}; includes the kernel's timer \
         overhead (a few tens of ns), alike for both programs"
    );
    let Some(full) = timed.iter().find(|t| t.name == FULL_PATH) else {
        bail!("fixture {FULL_PATH} missing from the fixture file");
    };
    let mut out = vec![
        Figure::ratio(
            "ratio.testrun_full_vs_minimal",
            "PROG_TEST_RUN full forwarding path / minimal program",
            &full.anycast6,
            &full.minimal,
            at_most(2.0),
            &format!(
                "anycast6_xdp on fixture {FULL_PATH} (UDP, one on-link member, an unchanged group: \
                 parse, /128 FIB, group, flow hash, Maglev entry, rewrite, devmap redirect) over \
                 a6b_minimal (MAC rewrite + devmap redirect) on the same frame, pairwise; {how}"
            ),
        ),
        Figure::from_samples(
            "testrun.ns.minimal",
            "PROG_TEST_RUN a6b_minimal (baseline A)",
            "ns/packet",
            full.minimal.clone(),
            None,
            &format!("a6b_minimal on fixture {FULL_PATH}; {how}"),
        ),
    ];
    if out[0].pass == Some(false) {
        let why = explain(timed, &out[0]);
        out[0].note = format!("{why}; {}", out[0].note);
    }
    for t in timed {
        let mut min = t.minimal.clone();
        min.sort_by(f64::total_cmp);
        let min_med = min.get(min.len() / 2).copied().unwrap_or(f64::NAN);
        let mut note = format!(
            "anycast6_xdp on fixture {} (expected {} / {}); a6b_minimal on the same frame: {:.0} ns; {how}",
            t.name, t.verdict, t.reason, min_med
        );
        if let Some(m) = &t.mismatch {
            note.push_str(&format!("; WARNING: {m}"));
        }
        out.push(Figure::from_samples(
            &format!("testrun.ns.{}", t.name),
            &format!("PROG_TEST_RUN anycast6, fixture {}", t.name),
            "ns/packet",
            t.anycast6.clone(),
            None,
            &note,
        ));
    }
    Ok(out)
}

/// Why the full path costs more than twice the minimal program: the
/// test-run floor, and the cost of each stage read off fixtures that stop
/// after it.
fn explain(timed: &[Timed], ratio: &Figure) -> String {
    let med = |name: &str, minimal: bool| {
        timed.iter().find(|t| t.name == name).map(|t| {
            let mut v = if minimal {
                t.minimal.clone()
            } else {
                t.anycast6.clone()
            };
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
    };
    let (Some(full), Some(min)) = (med(FULL_PATH, false), med(FULL_PATH, true)) else {
        return "MISSED".to_string();
    };
    let mut s = format!(
        "MISSED ({:.2}): anycast6 {full:.0} ns against a6b_minimal {min:.0} ns; the target \
         needs the full path at or under {:.0} ns",
        ratio.median,
        2.0 * min
    );
    if let Some(floor) = med("arp", false) {
        s.push_str(&format!(
            "; most of the minimal program's time is the test run's own floor: anycast6 on \
             fixture arp, which returns after reading the Ethernet type, takes {floor:.0} ns, so \
             the work is about {:.0} ns (minimal) against {:.0} ns (anycast6)",
            (min - floor).max(0.0),
            full - floor
        ));
    }
    // Stages, each fixture stopping after one more of them.
    let stages = [
        ("unknown_destination", "/128 FIB miss + prefix trie miss"),
        ("no_group", "FIB hit, group lookup misses"),
        (
            "nd_advert_to_anycast",
            "+ group hit, destination MAC (a6_ifaces), extension-header walk",
        ),
        (
            "local_member",
            "+ source rules (FIB and prefix trie on the source), flow hash and Maglev entry, \
             group and member counters",
        ),
        (
            FULL_PATH,
            "+ tx port, hop limit, Ethernet rewrite, devmap redirect",
        ),
    ];
    let steps: Vec<String> = stages
        .iter()
        .filter_map(|(f, what)| med(f, false).map(|ns| format!("{f} ({what}) {ns:.0} ns")))
        .collect();
    s.push_str(&format!("; along the path: {}", steps.join(", ")));
    if let (Some(enc), Some(rw)) = (med("encap_udp", false), med(FULL_PATH, false)) {
        s.push_str(&format!(
            "; encap_udp {enc:.0} ns ({:+.0} ns over rewrite: a second Murmur3 flow hash for \
             the outer flow label, the head adjustment and 54 header bytes)",
            enc - rw
        ));
    }
    s
}
