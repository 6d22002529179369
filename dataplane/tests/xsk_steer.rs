//! The AF_XDP steering program (anycast6_xsk) on every fixture frame,
//! through BPF_PROG_TEST_RUN with the fixtures' FIB: what it decides
//! itself (parse errors, not ours, ND, hop limit, no member) it decides
//! exactly as the forwarding program, counted under the same reason; every
//! other frame, and every frame tunnelled to one of this router's end
//! points (the worker decapsulates it), goes to the queue's socket uncounted (with no socket in a
//! test run, the XSKMAP's fallback hands it to the kernel: XDP_PASS).

mod common;

use anycast6_dataplane::{
    abi::Reason,
    fixtures::{self, frames, FixtureFile},
    testrun,
    xsk::XskSteer,
    Dataplane,
};
use common::{root_or_skip, PinDir};

/// Reasons the steering program decides on its own.
fn decided_in_xdp(r: Reason) -> bool {
    use Reason::*;
    matches!(
        r,
        PassNotIpv6
            | PassMulticast
            | PassNotAnycast
            | PassNd
            | PassHopLimit
            | PassNoMember
            | PassAarp
            | PassNoGroup
            | DropTruncEth
            | DropTruncVlan
            | DropTruncIpv6
            | DropBadIpv6
            | DropTruncExt
            | PassExtChain
            | DropTruncL4
            | DropBadFrag
            | DropNotOurMac
            | PassL2Multicast
            | PassUnknownIface
            | DropBadSrc
            | PassLinkLocalSrc
            | DropSrcAnycast
            | DropBadHbh
            | DropBadJumbo
            | PassHbhOptions
    )
}

/// Where the steering program counts another reason than the forwarding
/// program, on purpose.
const RECOUNTED: &[(&str, Reason, &str)] = &[(
    "hop_limit_1_local",
    Reason::PassHopLimit,
    "an expiring hop limit goes to the kernel before a member is chosen; the \
     kernel gets the packet either way (the forwarding program passes it as \
     pass_local_member because its chosen member is local)",
)];

#[test]
fn steering_program_decides_like_the_forwarding_program() {
    if !root_or_skip("steering_program_decides_like_the_forwarding_program") {
        return;
    }
    let file = FixtureFile::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(fixtures::FIXTURE_FILE),
    )
    .expect("fixture file");
    let pins = PinDir::new("xsk-steer");
    let mut opts = pins.opts();
    opts.hash_seed = file.hash_seed;
    opts.router_addr = file.router_addr;
    opts.ptb_per_sec = file.ptb_per_sec;
    opts.capacities.member_ids = 65536;
    let mut dp = Dataplane::open(&opts).expect("open");
    let steer = XskSteer::load(&pins.path).expect("load the steering program");
    let mut failures = Vec::new();
    let (mut in_xdp, mut to_socket) = (0, 0);
    for case in &file.cases {
        for op in &case.setup {
            op.apply(dp.fib())
                .unwrap_or_else(|e| panic!("{}: setup {op:?}: {e}", case.name));
        }
        let want = fixtures::reason_by_name(&case.reason).expect("reason");
        let want = RECOUNTED
            .iter()
            .find(|r| r.0 == case.name)
            .map(|r| r.1)
            .unwrap_or(want);
        let before = dp.fib().reason_counters().expect("counters");
        let input = frames::unhex(&case.input).expect("hex");
        let res = steer.test_run(&input).expect("test run");
        let after = dp.fib().reason_counters().expect("counters");
        let counted: Vec<Reason> = after
            .iter()
            .zip(&before)
            .filter(|(a, b)| a.1 != b.1)
            .map(|(a, _)| a.0)
            .collect();
        // Tunnelled to an end point: the worker decapsulates and decides.
        let (want_counted, want_action) = if case.tunnel.is_none() && decided_in_xdp(want) {
            in_xdp += 1;
            let action = fixtures::xdp_action(fixtures::verdict_name(want.verdict()));
            (vec![want], action.expect("verdict"))
        } else {
            to_socket += 1;
            (vec![], testrun::XDP_PASS)
        };
        if counted != want_counted || res.action != want_action {
            failures.push(format!(
                "{}: counted {counted:?} action {}, want {want_counted:?} action {want_action}",
                case.name, res.action
            ));
        }
        if res.frame != input {
            failures.push(format!(
                "{}: the steering program changed the frame",
                case.name
            ));
        }
    }
    println!("{in_xdp} cases decided in XDP, {to_socket} handed to the socket");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
