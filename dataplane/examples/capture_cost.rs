//! What capture costs the forwarding program (docs/capture.md section 6):
//! BPF_PROG_TEST_RUN with repeat on an idempotent frame (UDP to an address
//! not in the FIB: `pass_not_anycast`, the frame is left as it came), ns per
//! run, for
//!   - a baseline object without capture (built from an older tree and
//!     given on the command line), if any;
//!   - this build, disarmed;
//!   - this build, armed for another reason (the same branch as disarmed);
//!   - this build, armed for this reason, every packet sampled (snaplen
//!     256), the ring drained between batches of 500;
//!   - the same at 1 in 100.
//!
//! Rounds are interleaved; the median of the rounds is printed.
//!
//!   cargo run --release -p anycast6-dataplane --example capture_cost [BASELINE.bpf.o]
//! (root; the baseline: clang -O2 -g -target bpf -Iebpf/include ... ebpf/anycast6_xdp.bpf.c)

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use anycast6_dataplane::abi::{self, CapCfg, Reason};
use anycast6_dataplane::capture::{monotonic_ns, CaptureMaps};
use anycast6_dataplane::fixtures::frames::{concat, eth, ipv6, udp, ETH_P_IPV6, NH_UDP};
use anycast6_dataplane::{objects, Dataplane};
use aya::{programs::Xdp, Ebpf, EbpfLoader, TestRun, TestRunOptions};

fn load(obj: &[u8], pin_dir: &Path) -> Ebpf {
    std::fs::create_dir_all(pin_dir).expect("pin dir");
    let cfg = abi::Config {
        abi_version: abi::ABI_VERSION,
        hash_seed: 0x5eed_1234,
        router_addr: [0; 16],
        ptb_per_sec: 100,
        flags: 0,
    };
    let mut ebpf = EbpfLoader::new()
        .default_map_pin_directory(pin_dir)
        .override_global(abi::CONFIG_GLOBAL, &cfg, true)
        .load(obj)
        .expect("load object");
    let prog: &mut Xdp = ebpf
        .program_mut(abi::prog::XDP)
        .expect("program")
        .try_into()
        .expect("xdp");
    prog.load().expect("verifier");
    ebpf
}

/// ns per run of `repeat` runs.
fn run(ebpf: &Ebpf, frame: &[u8], repeat: u32) -> f64 {
    let prog: &Xdp = ebpf
        .program(abi::prog::XDP)
        .expect("program")
        .try_into()
        .expect("xdp");
    let mut out = vec![0u8; frame.len() + 512];
    let r = prog
        .test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            repeat,
            ..TestRunOptions::default()
        })
        .expect("test run");
    assert_eq!(r.return_value, 2, "XDP_PASS expected");
    r.duration.as_nanos() as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let baseline = std::env::args().nth(1).map(PathBuf::from);
    let root = PathBuf::from(format!("/sys/fs/bpf/a6-capcost-{}", std::process::id()));
    let new = load(objects::XDP_OBJ, &root.join("new"));
    let base = baseline.as_ref().map(|p| {
        let bytes = std::fs::read(p).expect("baseline object");
        load(&bytes, &root.join("base"))
    });
    let mut caps = CaptureMaps::open(&root.join("new")).expect("capture maps");

    let src: Ipv6Addr = "2001:db8:c::2".parse().unwrap();
    let dst: Ipv6Addr = "2001:db8:1::10".parse().unwrap();
    let l4 = udp(src, dst, 4000, 9, &[0u8; 18]);
    let frame = concat(&[
        &eth([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], ETH_P_IPV6),
        &ipv6(0, 0, l4.len() as u16, NH_UDP, 64, src, dst),
        &l4,
    ]);
    let bit = |r: Reason| 1u64 << (r as u32);
    let armed = |mask: u64, every: u32| CapCfg {
        reason_mask: mask,
        expires_ns: monotonic_ns() + 600_000_000_000,
        sample_every: every,
        snaplen: 256,
        budget: 0,
        session: 1,
        owner_pid: std::process::id(),
        flags: 0,
    };
    const REPEAT: u32 = 200_000;
    const ROUNDS: usize = 31;
    let (mut b, mut dis, mut other, mut every, mut hundred) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // The baseline first in even rounds, right after the disarmed run
        // in odd ones: neither gets the first-run slot every time.
        if let (Some(base), 0) = (&base, round % 2) {
            b.push(run(base, &frame, REPEAT));
        }
        caps.disarm().unwrap();
        dis.push(run(&new, &frame, REPEAT));
        if let (Some(base), 1) = (&base, round % 2) {
            b.push(run(base, &frame, REPEAT));
        }
        caps.set_config(&armed(bit(Reason::FwdRewrite), 1)).unwrap();
        other.push(run(&new, &frame, REPEAT));
        caps.reset_stats().unwrap();
        caps.set_config(&armed(bit(Reason::PassNotAnycast), 1))
            .unwrap();
        let mut ns = 0.0;
        for _ in 0..40 {
            ns += run(&new, &frame, 500);
            while caps.next_record().is_some() {}
        }
        every.push(ns / 40.0);
        assert_eq!(caps.stats().unwrap().lost, 0, "ring drained in time");
        caps.set_config(&armed(bit(Reason::PassNotAnycast), 100))
            .unwrap();
        hundred.push(run(&new, &frame, REPEAT));
        while caps.next_record().is_some() {}
    }
    caps.disarm().unwrap();
    if !b.is_empty() {
        println!(
            "baseline (no capture code)      {:6.2} ns/run",
            median(&mut b)
        );
    }
    println!(
        "disarmed                        {:6.2} ns/run",
        median(&mut dis)
    );
    println!(
        "armed, another reason           {:6.2} ns/run",
        median(&mut other)
    );
    println!(
        "armed, this reason, every one   {:6.2} ns/run",
        median(&mut every)
    );
    println!(
        "armed, this reason, 1 in 100    {:6.2} ns/run",
        median(&mut hundred)
    );
    println!("({ROUNDS} rounds of {REPEAT} runs; the every-one case in batches of 500, ring drained between)");
    drop(new);
    drop(base);
    let _ = Dataplane::destroy(&root.join("new"));
    let _ = Dataplane::destroy(&root.join("base"));
    let _ = std::fs::remove_dir(&root);
}
