//! FIB scale, without traffic: 1k, 10k, 100k and 1M anycast addresses in
//! groups of 2–10 members (100 addresses per group: 10k groups at 1M), each
//! group's Maglev table sized by `maglev::table_len` (smallest prime ≥ 100×
//! members), in a private Dataplane (own pin directory, capacities fitted
//! to the size).
//!
//! - Load: groups through `FibWriter::publish_group` (table built and
//!   written block by block, group published with one update); routes with
//!   BPF_MAP_UPDATE_BATCH ([`crate::batch`]), since `FibWriter` writes one
//!   route per system call (measured too, for comparison).
//! - Lookup cost: BPF_PROG_TEST_RUN (repeat 1) of the real anycast6 program
//!   on frames to random installed addresses with hop limit 1: the program
//!   does the whole FIB lookup, group lookup, header walk and member choice
//!   (the Maglev entry of an unchanged group, after one warm-up run per flow) and then passes the
//!   frame untouched (`pass_hop_limit`), so every run measures the same path.
//!   The 1k FIB stays loaded and is measured alternately with each size, so
//!   every ratio pairs samples taken at the same time.
//! - Memory: the sum of `bpftool -j map show` `bytes_memlock` over the maps
//!   of the pin directory.

use std::collections::HashMap as StdHashMap;
use std::net::Ipv6Addr;
use std::process::Command;
use std::time::Instant;

use anycast6_dataplane::{
    abi::{self, FibKey, FibVal, Reason},
    blocks::blocks_for,
    fixtures::frames,
    loader::Capacities,
    maglev, Action, Dataplane, DataplaneOptions, MemberSpec, MemberState,
};
use anyhow::{bail, Context, Result};
use rand::{seq::index::sample, SeedableRng};

use crate::batch::FibBatch;
use crate::cleanup::{self, PinDir};
use crate::figure::{at_least, at_most, Figure};
use crate::progress::Progress;
use crate::Opts;

/// Anycast addresses per group (10k groups at 1M addresses).
pub const PER_GROUP: usize = 100;
pub const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// A generated FIB: groups of 2–10 members, addresses spread over them.
pub struct FibSpec {
    pub n: usize,
    pub groups: Vec<Vec<MemberSpec>>,
    pub keys: Vec<FibKey>,
    pub vals: Vec<FibVal>,
    pub caps: Capacities,
}

/// Address `i` of the generated FIB.
pub fn address(i: usize) -> Ipv6Addr {
    Ipv6Addr::from(0x2001_0db8_a000_0000_0000_0000_0000_0000u128 + i as u128)
}

/// Member `k` of group `g` (unique per group: the Maglev permutation
/// depends on it).
pub fn member_addr(g: usize, k: usize) -> Ipv6Addr {
    Ipv6Addr::new(
        0x2001,
        0xdb8,
        1,
        (g >> 16) as u16,
        g as u16,
        0,
        0,
        k as u16 + 1,
    )
}

/// Members of group `g`: 2..=10, cycling, so the average is 6.
pub fn group_size(g: usize) -> usize {
    2 + g % 9
}

pub fn spec(n: usize) -> FibSpec {
    let g_count = n.div_ceil(PER_GROUP).max(1);
    let mut next_id = 0u32;
    let groups: Vec<Vec<MemberSpec>> = (0..g_count)
        .map(|g| {
            (0..group_size(g))
                .map(|k| {
                    let id = next_id;
                    next_id += 1;
                    MemberSpec {
                        member_id: id,
                        unicast: member_addr(g, k),
                        encap_src: Ipv6Addr::UNSPECIFIED,
                        ifindex: 1,
                        dmac: [0x02, 0, 0, 0, (g >> 8) as u8, k as u8],
                        smac: [0x02, 0, 0, 0, 0, 1],
                        mtu: 1500,
                        action: Action::Rewrite,
                        state: MemberState::Active,
                        weight: 100,
                    }
                })
                .collect()
        })
        .collect();
    let keys: Vec<FibKey> = (0..n)
        .map(|i| FibKey {
            addr: address(i).octets(),
        })
        .collect();
    let vals: Vec<FibVal> = (0..n)
        .map(|i| FibVal {
            group_id: (i % g_count) as u32,
            flags: 0,
        })
        .collect();
    let blocks: u32 = groups
        .iter()
        .map(|m| blocks_for(maglev::table_len(m.len())))
        .sum();
    let caps = Capacities {
        fib_entries: n as u32,
        groups: g_count as u32,
        // Twice the tables: a republished group's new table is written
        // before its old one is released (after a grace period).
        maglev_blocks: 2 * blocks + 64,
        member_ids: next_id.max(1),
        ..Capacities::default()
    };
    FibSpec {
        n,
        groups,
        keys,
        vals,
        caps,
    }
}

/// A loaded FIB in its own pin directory (the Dataplane drops first, then
/// the pins go).
pub struct Loaded {
    pub dp: Dataplane,
    pub batch: FibBatch,
    pub spec: FibSpec,
    /// A second copy of the forwarding program over the same pinned maps,
    /// for test runs with repeat > 1 (Dataplane::test_run runs once).
    pub hot: aya::Ebpf,
    /// Seconds spent publishing all groups.
    pub groups_s: f64,
    /// Seconds of the first batched route load.
    pub routes_s: f64,
    pub _pins: PinDir,
}

pub fn load(spec: FibSpec, progress: &Progress) -> Result<Loaded> {
    let pins = PinDir::new("fib");
    let opts = DataplaneOptions {
        pin_dir: pins.path().to_path_buf(),
        capacities: spec.caps,
        hash_seed: 0x5eed_1234,
        router_addr: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
        ptb_per_sec: 100,
    };
    progress.step(format!("{}: creating maps", label(spec.n)));
    let mut dp = Dataplane::open(&opts).context("opening the dataplane")?;
    // BPF_PROG_TEST_RUN delivers on lo (ifindex 1): give it the MAC the
    // frames are sent to, so they are the router's to forward (ABI 3).
    dp.fib()
        .set_iface(1, FRAME_DST_MAC)
        .context("registering the test-run interface")?;
    progress.step(format!(
        "{}: publishing {} groups",
        label(spec.n),
        spec.groups.len()
    ));
    let t = Instant::now();
    for (g, members) in spec.groups.iter().enumerate() {
        if g % 1024 == 0 {
            progress.check()?;
        }
        dp.fib()
            .publish_group(g as u32, members)
            .with_context(|| format!("publishing group {g}"))?;
    }
    let groups_s = t.elapsed().as_secs_f64();
    progress.step(format!("{}: loading routes (batched)", label(spec.n)));
    let batch = FibBatch::open(&opts.pin_dir)?;
    let t = Instant::now();
    batch.update(&spec.keys, &spec.vals)?;
    let routes_s = t.elapsed().as_secs_f64();
    let hot = load_hot(&opts)?;
    Ok(Loaded {
        dp,
        batch,
        hot,
        spec,
        groups_s,
        routes_s,
        _pins: pins,
    })
}

/// Loads the forwarding program again with its maps taken from the pins
/// (pinned by name, so the loader reuses them) and the same load-time
/// config as `Dataplane::open`.
fn load_hot(opts: &DataplaneOptions) -> Result<aya::Ebpf> {
    let c = opts.capacities;
    let cfg = abi::Config {
        abi_version: abi::ABI_VERSION,
        hash_seed: opts.hash_seed,
        router_addr: opts.router_addr.octets(),
        ptb_per_sec: opts.ptb_per_sec,
        flags: 0,
    };
    let mut loader = aya::EbpfLoader::new();
    loader
        .default_map_pin_directory(&opts.pin_dir)
        .map_max_entries(abi::map::FIB, c.fib_entries)
        .map_max_entries(abi::map::FIB_PREFIX, c.prefix_entries)
        .map_max_entries(abi::map::GROUPS, c.groups)
        .map_max_entries(abi::map::MAGLEV, c.maglev_blocks)
        .map_max_entries(abi::map::AFFINITY, c.affinity_entries)
        .map_max_entries(abi::map::TX_PORTS, c.tx_ports)
        .map_max_entries(abi::map::GROUP_STATS, c.groups)
        .map_max_entries(abi::map::MEMBER_STATS, c.member_ids)
        .override_global(abi::CONFIG_GLOBAL, &cfg, true);
    let mut ebpf = loader
        .load(anycast6_dataplane::objects::XDP_OBJ)
        .context("loading the forwarding program over the pinned maps")?;
    let prog: &mut aya::programs::Xdp = ebpf
        .program_mut(abi::prog::XDP)
        .context("no forwarding program in the object")?
        .try_into()?;
    prog.load()?;
    Ok(ebpf)
}

/// One BPF_PROG_TEST_RUN of the hot copy with `repeat`; (verdict, ns per run).
fn run_hot(ebpf: &aya::Ebpf, frame: &[u8], repeat: u32) -> Result<(u32, f64)> {
    use aya::{TestRun, TestRunOptions};
    let prog: &aya::programs::Xdp = ebpf
        .program(abi::prog::XDP)
        .context("no forwarding program")?
        .try_into()?;
    let mut out = vec![0u8; frame.len() + 512];
    let r = prog
        .test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            repeat,
            ..TestRunOptions::default()
        })
        .context("BPF_PROG_TEST_RUN")?;
    Ok((r.return_value, r.duration.as_nanos() as f64))
}

pub fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The router's MAC in the scale frames (the test-run interface's, in `a6_ifaces`).
const FRAME_DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];

/// An Ethernet + IPv6 (hop limit 1) + UDP frame from `src`:`sport` to `dst`.
pub fn frame(src: Ipv6Addr, sport: u16, dst: Ipv6Addr) -> Vec<u8> {
    let udp = frames::udp(src, dst, sport, 53, &[0u8; 18]);
    let ip = frames::ipv6(0, 0, udp.len() as u16, frames::NH_UDP, 1, src, dst);
    let eth = frames::eth(FRAME_DST_MAC, [0x02, 0, 0, 0, 0, 0xfd], frames::ETH_P_IPV6);
    frames::concat(&[&eth, &ip, &udp])
}

fn pass_hop_limit(dp: &mut Dataplane) -> Result<u64> {
    Ok(dp
        .fib()
        .reason_counters()?
        .iter()
        .find(|(r, _, _)| *r == Reason::PassHopLimit)
        .map_or(0, |(_, p, _)| *p))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Frames to `k` random installed addresses of `l` (each its own flow).
fn sample_frames(l: &Loaded, k: usize, rng: &mut rand::rngs::StdRng) -> Vec<Vec<u8>> {
    sample(rng, l.spec.n, k.min(l.spec.n))
        .into_iter()
        .enumerate()
        .map(|(j, i)| {
            frame(
                Ipv6Addr::new(0x2001, 0xdb8, 0xcafe, 0, 0, 0, (j >> 16) as u16, j as u16),
                10_000 + (j % 50_000) as u16,
                address(i),
            )
        })
        .collect()
}

/// Runs each frame once unmeasured (creates its affinity entry, checks the
/// path), then once measured; returns the median ns per run.
fn lookup_sample(l: &mut Loaded, frames: &[Vec<u8>], progress: &Progress) -> Result<f64> {
    let before = pass_hop_limit(&mut l.dp)?;
    for f in frames {
        let r = l.dp.test_run(f)?;
        if r.action != anycast6_dataplane::testrun::XDP_PASS {
            bail!("test run verdict {} (expected XDP_PASS)", r.action);
        }
    }
    let after = pass_hop_limit(&mut l.dp)?;
    if after - before != frames.len() as u64 {
        bail!(
            "{} of {} frames took the full path (pass_hop_limit): the FIB does not hold \
             the sampled addresses",
            after - before,
            frames.len()
        );
    }
    progress.check()?;
    let mut ns = Vec::with_capacity(frames.len());
    for f in frames {
        ns.push(l.dp.test_run(f)?.duration_ns as f64);
    }
    Ok(median(ns))
}

/// Cache-warm cost: each frame run once (affinity entry), then `repeat`
/// times in one test run; returns the median over frames of ns per run.
fn hot_sample(l: &mut Loaded, frames: &[Vec<u8>], repeat: u32) -> Result<f64> {
    let before = pass_hop_limit(&mut l.dp)?;
    let mut ns = Vec::with_capacity(frames.len());
    for f in frames {
        run_hot(&l.hot, f, 1)?;
        let (verdict, per_run) = run_hot(&l.hot, f, repeat)?;
        if verdict != anycast6_dataplane::testrun::XDP_PASS {
            bail!("test run verdict {verdict} (expected XDP_PASS)");
        }
        ns.push(per_run);
    }
    let after = pass_hop_limit(&mut l.dp)?;
    let want = frames.len() as u64 * (u64::from(repeat) + 1);
    if after - before != want {
        bail!(
            "{} of {want} runs took the full path (pass_hop_limit)",
            after - before
        );
    }
    Ok(median(ns))
}

/// Sum of bytes_memlock (bpftool) over the maps of a dataplane, and the
/// per-map breakdown.
fn map_memory(dp: &Dataplane) -> Result<(f64, Vec<(String, f64)>)> {
    let ids: StdHashMap<u32, String> = dp.map_ids()?.into_iter().map(|(n, id)| (id, n)).collect();
    let out = cleanup::run_stdout(Command::new("bpftool").args(["-j", "map", "show"]))?;
    let v: serde_json::Value = serde_json::from_str(&out).context("bpftool -j map show")?;
    let mut per = Vec::new();
    let mut total = 0.0;
    for m in v.as_array().into_iter().flatten() {
        let id = m["id"].as_u64().unwrap_or(0) as u32;
        if let Some(name) = ids.get(&id) {
            let b = m["bytes_memlock"].as_f64().unwrap_or(0.0);
            total += b;
            per.push((name.clone(), b / (1024.0 * 1024.0)));
        }
    }
    if per.len() != ids.len() {
        bail!("bpftool listed {} of the {} maps", per.len(), ids.len());
    }
    per.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok((total / (1024.0 * 1024.0), per))
}

/// The FIB of this size: its own, or the 1k one when this size is 1k.
fn cur<'a>(own: &'a mut Option<Loaded>, base: &'a mut Loaded) -> &'a mut Loaded {
    match own {
        Some(l) => l,
        None => base,
    }
}

pub fn run(opts: Opts, progress: &Progress) -> Result<Vec<Figure>> {
    let reps = if opts.quick { 5 } else { 7 };
    let per_rep = if opts.quick { 2_000 } else { 10_000 };
    let hot_addrs = if opts.quick { 20 } else { 50 };
    let hot_repeat = if opts.quick { 2_000 } else { 5_000 };
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut out = Vec::new();

    let mut base = load(spec(SIZES[0]), progress)?;
    let largest = *SIZES.last().unwrap_or(&1);
    for &n in &SIZES {
        progress.check()?;
        let mut own = if n == base.spec.n {
            None
        } else {
            Some(load(spec(n), progress)?)
        };
        let l = cur(&mut own, &mut base);
        let groups = l.spec.groups.len();
        progress.step(format!("{}: map memory", label(n)));
        let (mib, per) = map_memory(&l.dp)?;
        let breakdown = per
            .iter()
            .filter(|(_, m)| *m >= 0.05)
            .map(|(name, m)| format!("{name} {m:.1}"))
            .collect::<Vec<_>>()
            .join(", ");
        let caps = l.spec.caps;
        let mem_note = format!(
            "sum of bpftool bytes_memlock over the 10 maps of the forwarding program; {n} \
             addresses in {groups} groups; capacities fib_entries {}, groups {}, maglev_blocks {}, \
             member_ids {}, affinity_entries {} (default); MiB per map: {breakdown}",
            caps.fib_entries,
            caps.groups,
            caps.maglev_blocks,
            caps.member_ids,
            caps.affinity_entries
        );
        out.push(Figure::from_samples(
            &format!("fib.map_memory_mib.{n}"),
            &format!("BPF map memory, {} addresses", label(n)),
            "MiB",
            vec![mib],
            None,
            &mem_note,
        ));
        if n == 1_000_000 {
            out.push(Figure::from_samples(
                "fib.map_memory_1m",
                "BPF map memory for 1M addresses in 10k groups of 2–10 members",
                "MiB",
                vec![mib],
                at_most(256.0),
                &mem_note,
            ));
        }

        // Lookup cost, paired with the 1k FIB: cache-warm (one address
        // repeated) and cache-cold (a different address every run).
        let mut hot_n = Vec::with_capacity(reps);
        let mut hot_b = Vec::with_capacity(reps);
        let mut cold_n = Vec::with_capacity(reps);
        let mut cold_b = Vec::with_capacity(reps);
        for r in 0..reps {
            progress.step(format!(
                "{}: lookup cost, repetition {}/{reps}",
                label(n),
                r + 1
            ));
            let hf_n = sample_frames(own.as_ref().unwrap_or(&base), hot_addrs, &mut rng);
            let hf_b = sample_frames(&base, hot_addrs, &mut rng);
            let cf_n = sample_frames(own.as_ref().unwrap_or(&base), per_rep, &mut rng);
            let cf_b = sample_frames(&base, per_rep, &mut rng);
            if let Some(o) = own.as_mut() {
                hot_n.push(hot_sample(o, &hf_n, hot_repeat)?);
                hot_b.push(hot_sample(&mut base, &hf_b, hot_repeat)?);
                cold_n.push(lookup_sample(o, &cf_n, progress)?);
                cold_b.push(lookup_sample(&mut base, &cf_b, progress)?);
            } else {
                hot_n.push(hot_sample(&mut base, &hf_n, hot_repeat)?);
                cold_n.push(lookup_sample(&mut base, &cf_n, progress)?);
            }
        }
        out.push(Figure::from_samples(
            &format!("fib.lookup_ns.{n}"),
            &format!(
                "FIB lookup + member choice, {} addresses (PROG_TEST_RUN, cache-warm)",
                label(n)
            ),
            "ns/packet",
            hot_n.clone(),
            None,
            &format!(
                "BPF_PROG_TEST_RUN of the anycast6 program on a UDP frame with hop limit 1 to a \
                 random installed address, repeat {hot_repeat}: the program does the FIB hash \
                 lookup, group lookup, header walk, flow hash, Maglev entry and counters, then passes the \
                 frame untouched (pass_hop_limit, checked on the counter), so every repetition \
                 takes the same path; each sample is the median over {hot_addrs} random \
                 addresses (each run once first). Cache-warm: \
                 the cost of the path itself, which a hash keeps flat with size"
            ),
        ));
        out.push(Figure::from_samples(
            &format!("fib.lookup_cold_ns.{n}"),
            &format!(
                "FIB lookup + member choice, {} addresses (PROG_TEST_RUN, a new address each run)",
                label(n)
            ),
            "ns/packet",
            cold_n.clone(),
            None,
            &format!(
                "as fib.lookup_ns.{n} but repeat 1 on a different random address every run \
                 ({per_rep} per sample, median; each warmed once beforehand), so the FIB, group, \
                 Maglev and counter entries of a large FIB are mostly not in the CPU caches: \
                 what uniformly random destinations over the whole FIB cost. Includes the test \
                 harness's clock reads (about the same at every size)"
            ),
        ));
        if n == largest && own.is_some() {
            let tag = label(n).to_lowercase();
            out.push(Figure::ratio(
                &format!("fib.lookup_{tag}_vs_1k"),
                &format!("FIB lookup cost at {} / at 1k (cache-warm)", label(n)),
                &hot_n,
                &hot_b,
                at_most(1.2),
                &format!(
                    "fib.lookup_ns.{n} over fib.lookup_ns.1000, measured alternately in each \
                     repetition (both FIBs loaded at once): the hash lookup's cost does not \
                     grow with the FIB"
                ),
            ));
            out.push(Figure::ratio(
                &format!("fib.lookup_cold_{tag}_vs_1k"),
                &format!(
                    "FIB lookup cost at {} / at 1k (a new address each run)",
                    label(n)
                ),
                &cold_n,
                &cold_b,
                None,
                &format!(
                    "fib.lookup_cold_ns.{n} over fib.lookup_cold_ns.1000, paired as above: at 1k \
                     every entry stays in the L2 cache, at {} the FIB hash (its buckets and \
                     elements), the group values (2 KiB each) and the Maglev blocks are spread \
                     over far more memory than the caches and the TLB cover, so each packet to a \
                     random address pays several memory misses. Any FIB structure pays these; \
                     real traffic concentrates on fewer destinations",
                    label(n)
                ),
            ));
        }

        // Load rate: the whole route set again, batched, `reps` times.
        let l = cur(&mut own, &mut base);
        if n == largest {
            let mut rates = vec![n as f64 / l.routes_s];
            while rates.len() < reps.max(5) {
                progress.check()?;
                progress.step(format!(
                    "{}: batched reload {}/{}",
                    label(n),
                    rates.len() + 1,
                    reps.max(5)
                ));
                l.batch.delete(&l.spec.keys)?;
                let t = Instant::now();
                l.batch.update(&l.spec.keys, &l.spec.vals)?;
                rates.push(n as f64 / t.elapsed().as_secs_f64());
            }
            out.push(Figure::from_samples(
                "fib.load_rate",
                &format!("FIB load rate, {} routes, batched", label(n)),
                "entries/s",
                rates,
                at_least(1.5e6),
                &format!(
                    "{n} /128 routes into an empty a6_fib (hash, preallocated) with \
                     BPF_MAP_UPDATE_BATCH, {} entries per call, bench-local writer over the \
                     pinned map (FibWriter has no batch API: see fib.load_rate_single); \
                     groups are published first and not counted here (fib.group_publish_rate)",
                    crate::batch::CHUNK
                ),
            ));
            out.push(Figure::from_samples(
                "fib.load_total_s",
                &format!("FIB first load, {} addresses + {} groups", label(n), groups),
                "s",
                vec![l.groups_s + l.routes_s],
                None,
                &format!(
                    "wall time of the first load: {groups} groups through FibWriter::publish_group \
                     ({:.3} s) then {n} routes batched ({:.3} s)",
                    l.groups_s, l.routes_s
                ),
            ));
            // Group publishing: five slices of the groups republished.
            let g = l.spec.groups.len();
            let slice = (g / 5).max(1);
            let mut grates = Vec::new();
            for s in 0..5 {
                progress.check()?;
                progress.step(format!("{}: republishing groups {}/5", label(n), s + 1));
                let lo = (s * slice).min(g);
                let hi = ((s + 1) * slice).min(g);
                if lo >= hi {
                    break;
                }
                let t = Instant::now();
                for gid in lo..hi {
                    l.dp.fib().publish_group(gid as u32, &l.spec.groups[gid])?;
                }
                grates.push((hi - lo) as f64 / t.elapsed().as_secs_f64());
                // Old tables wait out their grace period before reuse.
                cleanup::sleep(anycast6_dataplane::blocks::GRACE)?;
            }
            out.push(Figure::from_samples(
                "fib.group_publish_rate",
                "group publish rate (2–10 members, Maglev table built and written)",
                "groups/s",
                grates,
                None,
                &format!(
                    "FibWriter::publish_group of existing groups (table_len(n) slots, one \
                     system call per 64-entry block plus the group update); samples: five \
                     slices of {slice} groups of the {} FIB",
                    label(n)
                ),
            ));
        }

        // One route per system call (FibWriter::set_route), for comparison.
        if n == 100_000.min(largest) {
            let per = if opts.quick { 2_000 } else { 10_000 };
            let mut rates = Vec::new();
            for r in 0..5 {
                progress.check()?;
                progress.step(format!("{}: single-route inserts {}/5", label(n), r + 1));
                let idx: Vec<usize> = sample(&mut rng, n, per).into_iter().collect();
                let keys: Vec<FibKey> = idx.iter().map(|&i| l.spec.keys[i]).collect();
                l.batch.delete(&keys)?;
                let t = Instant::now();
                for &i in &idx {
                    l.dp.fib().set_route(
                        anycast6_dataplane::Route::Host(address(i)),
                        l.spec.vals[i].group_id,
                    )?;
                }
                rates.push(per as f64 / t.elapsed().as_secs_f64());
            }
            out.push(Figure::from_samples(
                "fib.load_rate_single",
                "FIB load rate, one route per system call (FibWriter::set_route)",
                "entries/s",
                rates,
                None,
                &format!(
                    "{per} random routes deleted then re-inserted one by one through \
                     FibWriter::set_route into the {} FIB, 5 repetitions; this is what \
                     anycast6d does today",
                    label(n)
                ),
            ));
        }
        drop(own);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_shapes() {
        let s = spec(1_000_000);
        assert_eq!(s.groups.len(), 10_000);
        assert_eq!(s.keys.len(), 1_000_000);
        assert!(s.groups.iter().all(|g| (2..=10).contains(&g.len())));
        let avg = s.groups.iter().map(Vec::len).sum::<usize>() as f64 / 10_000.0;
        assert!((avg - 6.0).abs() < 0.01, "{avg}");
        assert_eq!(label(1_000_000), "1M");
        assert_eq!(label(10_000), "10k");
        let s = spec(1_000);
        assert_eq!(s.groups.len(), 10);
    }

    #[test]
    fn frame_is_hop_limit_one() {
        let f = frame(address(1), 1000, address(2));
        assert_eq!(f[14 + 7], 1);
        assert_eq!(&f[14 + 24..14 + 40], &address(2).octets());
    }
}
