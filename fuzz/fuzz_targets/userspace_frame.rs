//! Frames through the userspace engine (the AF_XDP path's parser and
//! forwarding logic) on the fixtures' FIB. Never a panic; a passed frame
//! is left as it came (or, tunnelled to an end point, without its outer
//! header); a redirect names an egress; nothing grows past the
//! buffer (whose slack varies, so the "no room" paths run too).
#![no_main]
use std::sync::{Mutex, OnceLock};

use anycast6_dataplane::abi::Verdict;
use anycast6_dataplane::fixtures::{self, FixtureFile};
use anycast6_dataplane::userspace::{
    process, EngineConfig, FibOp, FibSnapshot, FlowState, Frame, SnapshotBuilder,
};
use libfuzzer_sys::fuzz_target;

struct World {
    snap: FibSnapshot,
    ingress: u32,
    cfg: EngineConfig,
    state: FlowState,
    now: u64,
}

fn world() -> &'static Mutex<World> {
    static W: OnceLock<Mutex<World>> = OnceLock::new();
    W.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let file = FixtureFile::load(&root.join(fixtures::FIXTURE_FILE)).expect("fixtures");
        let mut b = SnapshotBuilder::new();
        for case in &file.cases {
            for op in case.setup.iter().filter(|op| !op.removes()) {
                b.apply(&FibOp::from_fixture(op).expect("op")).expect("apply");
            }
        }
        Mutex::new(World {
            snap: b.snapshot(),
            ingress: file.ingress_ifindex,
            cfg: EngineConfig {
                hash_seed: file.hash_seed,
                router_addr: file.router_addr,
                ptb_per_sec: 1_000_000,
            },
            state: FlowState::new(4096),
            now: 0,
        })
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 9000 {
        return;
    }
    let mut w = world().lock().unwrap();
    let w = &mut *w;
    let slack = data.first().map(|b| usize::from(*b % 128)).unwrap_or(0);
    let mut buf = data.to_vec();
    buf.resize(data.len() + slack, 0);
    let mut frame = Frame::new(&mut buf, data.len());
    w.now += 1_000;
    let decap = anycast6_dataplane::abi::tun_reason::DECAP as usize;
    let decaps = w.state.counters.tunnel[decap].packets;
    let out = process(&mut frame, w.ingress, &w.snap, &mut w.state, &w.cfg, w.now);
    assert_eq!(out.verdict, out.reason.verdict());
    assert!(frame.len() <= data.len() + slack);
    match out.verdict {
        Verdict::Pass => {
            // A frame tunnelled to an end point is passed decapsulated:
            // the L2 header (one tag at most) then the inner packet.
            let want = if w.state.counters.tunnel[decap].packets > decaps {
                let tagged = matches!(data.get(12..14), Some([0x81, 0x00] | [0x88, 0xa8]));
                let l2 = if tagged { 18 } else { 14 };
                [&data[..l2], &data[l2 + 40..]].concat()
            } else {
                data.to_vec()
            };
            assert_eq!(frame.data(), &want[..], "{:?} changed the frame", out.reason);
            assert_eq!(out.egress_ifindex, 0);
        }
        Verdict::Redirect => assert_ne!(out.egress_ifindex, 0),
        Verdict::Drop | Verdict::Tx => assert_eq!(out.egress_ifindex, 0),
    }
});
