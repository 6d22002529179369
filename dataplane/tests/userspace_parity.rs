//! The XDP program (through BPF_PROG_TEST_RUN) and the userspace engine,
//! given the same FIB operations, send 100 000 random flows to the same
//! members — also across republishes that move, drain and remove members
//! (affinity by generation and index, found again by id, re-picked when
//! gone) — and leave byte-identical frames.

mod common;

use std::net::Ipv6Addr;

use anycast6_dataplane::{
    abi::Verdict,
    testrun::{self, OUTPUT_SLACK},
    userspace::{process, EngineConfig, FibOp, FlowState, Frame, SnapshotBuilder},
    Dataplane, MemberSpec, MemberState, Route,
};
use common::{member, root_or_skip, PinDir};
use rand::{Rng, SeedableRng};

const ANYCAST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 0, 0, 1);
const ROUTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
const PREFIX_DST: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xad, 0, 0, 0, 0x77, 1);

fn udp_frame(rng: &mut rand::rngs::StdRng, dst: Ipv6Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 40 + 8 + 16);
    f.extend_from_slice(&ROUTER_MAC);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0xfd, 0x86, 0xdd]);
    let payload = 8 + 16u16;
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&payload.to_be_bytes());
    f.extend_from_slice(&[17, 64]);
    let mut src = [0u8; 16];
    src[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    rng.fill(&mut src[4..]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst.octets());
    let sport: u16 = rng.random();
    let dport: u16 = rng.random();
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&payload.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&[0xab; 16]);
    f
}

fn members(n: u32, first: u32) -> Vec<MemberSpec> {
    (first..first + n)
        .map(|id| {
            let mut m = member(id, id as u16, MemberState::Active, 100);
            m.ifindex = 1;
            m
        })
        .collect()
}

#[test]
fn xdp_and_userspace_choose_the_same_member_for_100k_flows() {
    if !root_or_skip("xdp_and_userspace_choose_the_same_member_for_100k_flows") {
        return;
    }
    let pins = PinDir::new("us-parity");
    let mut opts = pins.opts();
    opts.capacities.affinity_entries = 262_144;
    let mut dp = Dataplane::open(&opts).expect("open");
    let cfg = EngineConfig {
        hash_seed: opts.hash_seed,
        router_addr: opts.router_addr,
        ptb_per_sec: opts.ptb_per_sec,
    };
    let mut builder = SnapshotBuilder::new();
    let mut state = FlowState::new(262_144);
    let apply = |dp: &mut Dataplane, builder: &mut SnapshotBuilder, op: FibOp| {
        let fib = dp.fib();
        match &op {
            FibOp::PublishGroup { group_id, members } => fib.publish_group(*group_id, members),
            FibOp::DeleteGroup(g) => fib.delete_group(*g),
            FibOp::SetRoute { route, group_id } => fib.set_route(*route, *group_id),
            FibOp::DeleteRoute(r) => fib.delete_route(*r),
            FibOp::SetTxPort(i) => fib.set_tx_port(*i),
            FibOp::SetAarpAnswer(on) => fib.set_aarp_answer(*on),
            FibOp::DeleteTxPort(i) => fib.delete_tx_port(*i),
            FibOp::SetIface { ifindex, mac } => fib.set_iface(*ifindex, *mac),
            FibOp::DeleteIface(i) => fib.delete_iface(*i),
            FibOp::SetTunnelEndpoints(a) => fib.set_tunnel_endpoints(a),
            FibOp::SetWindows(w) => {
                fib.set_windows(*w);
                Ok(())
            }
        }
        .expect("FIB writer");
        builder.apply(&op).expect("snapshot builder");
    };
    apply(&mut dp, &mut builder, FibOp::SetTxPort(1));
    // Test runs arrive on lo (ifindex 1); the frames are sent to ROUTER_MAC.
    apply(
        &mut dp,
        &mut builder,
        FibOp::SetIface {
            ifindex: 1,
            mac: ROUTER_MAC,
        },
    );
    let g1 = members(10, 0);
    let g2 = members(7, 20);
    apply(
        &mut dp,
        &mut builder,
        FibOp::PublishGroup {
            group_id: 1,
            members: g1.clone(),
        },
    );
    apply(
        &mut dp,
        &mut builder,
        FibOp::PublishGroup {
            group_id: 2,
            members: g2.clone(),
        },
    );
    apply(
        &mut dp,
        &mut builder,
        FibOp::SetRoute {
            route: Route::Host(ANYCAST),
            group_id: 1,
        },
    );
    apply(
        &mut dp,
        &mut builder,
        FibOp::SetRoute {
            route: Route::Prefix("2001:db8:ad::/48".parse().unwrap()),
            group_id: 2,
        },
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(0xa6_0005);
    let flows: Vec<Vec<u8>> = (0..100_000)
        .map(|i| udp_frame(&mut rng, if i % 4 == 0 { PREFIX_DST } else { ANYCAST }))
        .collect();

    let mut mismatches = Vec::new();
    let mut by_reason = std::collections::BTreeMap::new();
    let mut run = |dp: &Dataplane,
                   builder: &SnapshotBuilder,
                   state: &mut FlowState,
                   range: std::ops::Range<usize>,
                   phase: &str| {
        let snap = builder.snapshot();
        for i in range {
            let input = &flows[i];
            let x = dp.test_run(input).expect("test run");
            let mut buf = input.clone();
            buf.resize(input.len() + OUTPUT_SLACK, 0);
            let mut frame = Frame::new(&mut buf, input.len());
            let u = process(
                &mut frame,
                1,
                &snap,
                state,
                &cfg,
                anycast6_dataplane::changes::monotonic_ns(),
            );
            *by_reason
                .entry((phase.to_string(), u.reason.name()))
                .or_insert(0u32) += 1;
            // Random sources inside 2001:db8::/32 now and then fall into
            // the anycast prefix: both paths drop those (drop_src_anycast).
            let want_action = match u.reason.verdict() {
                Verdict::Redirect => testrun::XDP_REDIRECT,
                Verdict::Tx => testrun::XDP_TX,
                Verdict::Pass => testrun::XDP_PASS,
                Verdict::Drop => testrun::XDP_DROP,
            };
            if x.action != want_action || x.frame != frame.data() {
                if mismatches.len() < 10 {
                    mismatches.push(format!(
                        "{phase} flow {i}: xdp action {} vs userspace {:?}; frames equal: {}",
                        x.action,
                        u.reason,
                        x.frame == frame.data()
                    ));
                }
                if mismatches.len() == 10 {
                    mismatches.push("...".into());
                }
            }
        }
    };

    // Phase 1: every flow new (Maglev).
    run(&dp, &builder, &mut state, 0..100_000, "new");
    // Phase 2: a member joins group 1 (gen bumps: affinity found by index
    // or by id), one drains (keeps its flows), one goes down and one is
    // removed from group 2 (their flows move).
    let mut g1b = g1.clone();
    g1b[3].state = MemberState::Draining;
    g1b.push(members(1, 10)[0]);
    let mut g2b = g2.clone();
    g2b[1].state = MemberState::Down;
    g2b.remove(4);
    apply(
        &mut dp,
        &mut builder,
        FibOp::PublishGroup {
            group_id: 1,
            members: g1b,
        },
    );
    apply(
        &mut dp,
        &mut builder,
        FibOp::PublishGroup {
            group_id: 2,
            members: g2b,
        },
    );
    run(&dp, &builder, &mut state, 0..100_000, "republished");
    // Phase 3: group 2 is re-created (a fresh generation): flows are found
    // again by member id.
    apply(
        &mut dp,
        &mut builder,
        FibOp::DeleteRoute(Route::Prefix("2001:db8:ad::/48".parse().unwrap())),
    );
    apply(&mut dp, &mut builder, FibOp::DeleteGroup(2));
    apply(
        &mut dp,
        &mut builder,
        FibOp::PublishGroup {
            group_id: 2,
            members: g2,
        },
    );
    apply(
        &mut dp,
        &mut builder,
        FibOp::SetRoute {
            route: Route::Prefix("2001:db8:ad::/48".parse().unwrap()),
            group_id: 2,
        },
    );
    run(&dp, &builder, &mut state, 0..100_000, "recreated");
    println!("{by_reason:?}");
    assert!(
        mismatches.is_empty(),
        "XDP and userspace disagree:\n{}",
        mismatches.join("\n")
    );
}
