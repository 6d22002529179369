//! Scenarios 1-6 of issue 4 and the packets/s-against-flows series, all on
//! one topology, interleaved: each repetition runs every case once, so slow
//! drift on a noisy machine hits all of them alike and ratios pair sample i
//! of one case with sample i of the other.

use std::collections::BTreeMap;

use anycast6_dataplane::{loader::Capacities, Action};
use anyhow::Result;

use super::afxdp::{self, Counts};
use super::dut::{Dut, Mode};
use super::load::{self, Window};
use super::progs::{Generator, Traffic};
use super::topo::{Topo, DST_BASE, DST_PORT, SRC_BASE};
use super::{ns, profile, Plan};
use crate::cleanup::{self, TempDir};
use crate::figure::{at_least, Figure};

/// One measured case.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub name: String,
    pub mode: Mode,
    pub flows: u32,
    /// Share of frames (1/1000) that start a new flow.
    pub new_per_mille: u32,
}

/// Samples of every case, by id.
#[derive(Debug, Default)]
pub struct Measured {
    pub windows: BTreeMap<String, Vec<Window>>,
    /// Whether the DUT's NAPI thread was found and pinned away from the
    /// generator in every window.
    pub separate_cpus: bool,
    pub cases: Vec<Case>,
    /// Where the DUT's CPU went per case (measured when a target is missed).
    pub costs: Vec<profile::Cost>,
    /// (translated, verified) instructions of a6b_minimal and anycast6_xdp.
    pub sizes: Option<profile::Sizes>,
    /// Why profiling failed, if it did.
    pub profile_error: Option<String>,
    /// Scenario 6: where the frames of each measurement went (worker,
    /// sink and steering counters over the rate search and window).
    pub afxdp: Vec<Counts>,
    /// Scenario 6: the workers' thread ids and allowed CPUs.
    pub afxdp_workers: Vec<(u32, String)>,
    /// Per case and measurement: CPU time of the DUT's NAPI threads and
    /// AF_XDP workers (schedstat) per frame the sink counted, in ns. CPU
    /// time, not wall time: other tasks on the machine barely move it.
    pub cpu_ns: BTreeMap<String, Vec<f64>>,
}

impl Measured {
    pub fn median(&self, id: &str) -> f64 {
        self.median_of(id, Window::pps)
    }

    pub fn pps(&self, id: &str) -> Vec<f64> {
        self.windows
            .get(id)
            .map(|w| w.iter().map(Window::pps).collect())
            .unwrap_or_default()
    }
    fn median_of(&self, id: &str, f: fn(&Window) -> f64) -> f64 {
        // (the upper median for an even count: a figure's own median is exact)
        let mut v: Vec<f64> = self
            .windows
            .get(id)
            .map(|w| w.iter().map(f).collect())
            .unwrap_or_default();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
    pub fn cpu_ns_median(&self, id: &str) -> f64 {
        let mut v = self.cpu_ns.get(id).cloned().unwrap_or_default();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
    fn offered_median(&self, id: &str) -> f64 {
        self.median_of(id, Window::offered_pps)
    }
    fn loss_median(&self, id: &str) -> f64 {
        self.median_of(id, Window::loss)
    }
}

pub const ESTABLISHED: &str = "pps.anycast6_established";
pub const MINIMAL: &str = "pps.baseline_minimal";
pub const KERNEL: &str = "pps.baseline_kernel";
pub const NEW_FLOWS: &str = "pps.anycast6_new_flows";
pub const ENCAP: &str = "pps.anycast6_encap";
pub const AFXDP: &str = "pps.anycast6_afxdp";
pub const AFXDP_BASELINE: &str = "pps.baseline_afxdp";
/// Scenarios 1-7 come first in [`cases`]; the flows series after them.
const MAIN_CASES: usize = 7;

/// The six scenarios and the flows series (scenario 3 at other flow counts).
pub fn cases(plan: &Plan) -> Vec<Case> {
    let f = plan.flows;
    let c = |id: &str, name: &str, mode, flows, new_per_mille| Case {
        id: id.into(),
        name: name.into(),
        mode,
        flows,
        new_per_mille,
    };
    let mut v = vec![
        c(
            MINIMAL,
            "1 baseline A: minimal XDP (MAC rewrite + devmap redirect)",
            Mode::Minimal,
            f,
            0,
        ),
        c(
            KERNEL,
            "2 baseline B: kernel IPv6 forwarding",
            Mode::Kernel,
            f,
            0,
        ),
        c(
            ESTABLISHED,
            "3 anycast6 XDP, established flows",
            Mode::Anycast(Action::Rewrite),
            f,
            0,
        ),
        c(
            NEW_FLOWS,
            "4 anycast6 XDP, new flows",
            Mode::Anycast(Action::Rewrite),
            f,
            1000,
        ),
        c(
            ENCAP,
            "5 anycast6 XDP, IPv6-in-IPv6 encapsulation",
            Mode::Anycast(Action::Encap),
            f,
            0,
        ),
        c(
            AFXDP,
            "6 anycast6 AF_XDP, established flows",
            Mode::Afxdp,
            f,
            0,
        ),
        c(
            AFXDP_BASELINE,
            "7 baseline C: minimal AF_XDP forwarder (same sockets, rings, batching; MAC rewrite + transmit)",
            Mode::AfxdpBaseline,
            f,
            0,
        ),
    ];
    for &n in &plan.flow_series {
        if n != f {
            v.push(c(
                &format!("pps.flows.{n}"),
                &format!("anycast6 XDP, {n} established flows"),
                Mode::Anycast(Action::Rewrite),
                n,
                0,
            ));
        }
    }
    v
}

fn traffic(topo: &Topo, plan: &Plan, case: &Case) -> Traffic {
    Traffic {
        frame_size: plan.frame_size,
        flows: case.flows,
        n_dst: 1,
        new_per_mille: case.new_per_mille,
        src_mac: topo.gen_mac,
        dst_mac: topo.dut_in_mac,
        src: SRC_BASE,
        dst: DST_BASE,
        dst_port: DST_PORT,
    }
}

/// Measures every case `plan.reps` times, interleaved.
pub fn measure(plan: &Plan, progress: &dyn Fn(&str)) -> Result<Measured> {
    let topo = Topo::build(1)?;
    let sinks = topo.attach_sinks(0)?;
    let sink = &sinks[0];
    let mut gen = Generator::load()?;
    ns::in_ns(&topo.gen, || gen.park(&topo.park_if))?;
    let mut dut = Dut::new(&topo, Capacities::default(), 1)?;
    let cases = cases(plan);
    let mut m = Measured {
        separate_cpus: true,
        cases: cases.clone(),
        ..Measured::default()
    };
    // Where each case's rate search starts: its last result.
    let mut start: BTreeMap<String, f64> = BTreeMap::new();
    for rep in 0..plan.reps {
        for case in &cases {
            cleanup::check()?;
            progress(&format!(
                "traffic: {} (rep {}/{})",
                case.id,
                rep + 1,
                plan.reps
            ));
            dut.set(case.mode)?;
            gen.configure(&traffic(&topo, plan, case), topo.gen_ifindex)?;
            m.separate_cpus &= topo.place_napi()?;
            let search = load::Search {
                start_pps: start.get(&case.id).copied().unwrap_or(1e6),
                ..plan.search
            };
            if matches!(case.mode, Mode::Afxdp | Mode::AfxdpBaseline) {
                m.afxdp_workers = afxdp::workers()?;
            }
            let sink0 = sink.received()?.packets;
            let cpu0 = dut.cpu_ns()?;
            let before = dut.afxdp_counts(sink0)?;
            let w = load::measure_max(&topo, &gen, &[sink], &search)?;
            let frames = sink.received()?.packets.saturating_sub(sink0);
            let cpu = dut.cpu_ns()?.saturating_sub(cpu0);
            m.cpu_ns
                .entry(case.id.clone())
                .or_default()
                .push(cpu as f64 / frames.max(1) as f64);
            if let (Some(b), Some(a)) = (before, dut.afxdp_counts(sink.received()?.packets)?) {
                let d = a.delta(&b);
                if !d.through_workers() {
                    anyhow::bail!(
                        "{}: frames reached the sink without crossing the AF_XDP workers: {}",
                        case.id,
                        d.describe()
                    );
                }
                m.afxdp.push(d);
            }
            start.insert(case.id.clone(), w.pps() * 0.9);
            m.windows.entry(case.id.clone()).or_default().push(w);
        }
    }
    if plan.profile
        && TARGETS
            .iter()
            .any(|t| m.median(t.num) / m.median(t.den) < t.target)
    {
        progress("traffic: a target is missed: profiling the DUT");
        if let Err(e) = profile_all(plan, &topo, &mut gen, &mut dut, &mut m) {
            m.profile_error = Some(format!("{e:#}"));
        }
    }
    dut.set(Mode::Kernel)?;
    Ok(m)
}

fn profile_all(
    plan: &Plan,
    topo: &Topo,
    gen: &mut Generator,
    dut: &mut Dut,
    m: &mut Measured,
) -> Result<()> {
    let tmp = TempDir::new("tp")?;
    let main: Vec<Case> = m.cases.iter().take(MAIN_CASES).cloned().collect();
    for case in &main {
        cleanup::check()?;
        dut.set(case.mode)?;
        gen.configure(&traffic(topo, plan, case), topo.gen_ifindex)?;
        topo.place_napi()?;
        ns::wait_idle(plan.search.max_wait, plan.search.idle_probe)?;
        let c = profile::cost(topo, gen, dut, &case.id, m.median(&case.id), &tmp)?;
        m.costs.push(c);
    }
    dut.set(Mode::Minimal)?;
    let minimal = profile::size(dut.prog_id()?.unwrap_or(0))?;
    dut.set(Mode::Anycast(Action::Rewrite))?;
    let anycast6 = profile::size(dut.prog_id()?.unwrap_or(0))?;
    m.sizes = Some(profile::Sizes { minimal, anycast6 });
    Ok(())
}

/// A ratio of issue 4 with its target.
struct RatioTarget {
    id: &'static str,
    name: &'static str,
    num: &'static str,
    den: &'static str,
    target: f64,
}

/// Issue 18's targets (issue 4's AF_XDP/XDP ratio kept beside them).
const TARGETS: [RatioTarget; 7] = [
    RatioTarget {
        id: "ratio.established_vs_minimal",
        name: "3 / 1 established flows vs minimal redirect",
        num: ESTABLISHED,
        den: MINIMAL,
        target: 0.90,
    },
    RatioTarget {
        id: "ratio.established_vs_kernel",
        name: "3 / 2 established flows vs kernel forwarding",
        num: ESTABLISHED,
        den: KERNEL,
        target: 2.5,
    },
    RatioTarget {
        id: "ratio.new_flows_vs_minimal",
        name: "4 / 1 new flows vs minimal redirect",
        num: NEW_FLOWS,
        den: MINIMAL,
        target: 0.85,
    },
    RatioTarget {
        id: "ratio.encap_vs_rewrite",
        name: "5 / 3 encapsulation vs rewrite",
        num: ENCAP,
        den: ESTABLISHED,
        target: 0.90,
    },
    RatioTarget {
        id: "ratio.afxdp_vs_xdp",
        name: "6 / 3 AF_XDP path vs XDP path, established flows",
        num: AFXDP,
        den: ESTABLISHED,
        target: 0.5,
    },
    RatioTarget {
        id: "ratio.afxdp_vs_baseline_c",
        name: "6 / 7 anycast6 AF_XDP path vs minimal AF_XDP forwarder",
        num: AFXDP,
        den: AFXDP_BASELINE,
        target: 0.90,
    },
    RatioTarget {
        id: "ratio.flows_65536_vs_1",
        name: "65536 established flows vs 1 flow",
        num: "pps.flows.65536",
        den: "pps.flows.1",
        target: 0.85,
    },
];

/// Why a ratio misses its target, from the medians and the profile.
fn explain(m: &Measured, t: &RatioTarget) -> String {
    let budget = |id: &str| 1e9 / m.median(id);
    let (bn, bd) = (budget(t.num), budget(t.den));
    let mut s = format!(
        "MISSED: the DUT's CPU is saturated, so 1/pps is its cost per packet: {} {bn:.0} ns, {} \
         {bd:.0} ns ({:+.0} ns); to reach {:.2} the numerator may cost at most {:.0} ns",
        t.num,
        t.den,
        bn - bd,
        t.target,
        bd / t.target
    );
    if t.den == KERNEL {
        let bm = budget(MINIMAL);
        let headroom = bd / bm;
        if headroom < t.target {
            s.push_str(&format!(
                "; kernel forwarding over veth is cheap here (no driver, no DMA): even baseline \
                 A, the least an XDP forwarder does, costs {bm:.0} ns, only {headroom:.2} x \
                 kernel forwarding, under the target, so no XDP program can meet it on veth"
            ));
        } else {
            s.push_str(&format!(
                "; baseline A costs {bm:.0} ns ({headroom:.2} x kernel forwarding): the target \
                 leaves anycast6 {:.0} ns over baseline A",
                bd / t.target - bm
            ));
        }
    }
    if t.num == AFXDP {
        s.push_str(&format!(
            "; DUT CPU time per frame (schedstat, robust to the machine's other load): {} {:.0} \
             ns, {} {:.0} ns",
            t.num,
            m.cpu_ns_median(t.num),
            t.den,
            m.cpu_ns_median(t.den)
        ));
        let mut total = Counts::default();
        for d in &m.afxdp {
            total = total.add(d);
        }
        s.push_str(&format!(
            "; AF_XDP counters over every measurement of scenario 6: {}",
            total.describe()
        ));
        s.push_str(
            "; copy mode on veth (zero-copy is refused there) costs the kernel twice per frame: \
             the NAPI thread runs the steering program, copies the frame into the UMEM and \
             returns the generator's page one at a time (page-pool ring lock shared with the \
             generator's CPU), and the worker's sendmsg(2) builds an skb per frame (allocation, \
             copy, veth_xmit, then the sink's veth copies it again into a page for its XDP \
             program and the destructor posts the completion), where the XDP path hands one \
             xdp_frame from program to devmap to sink; the worker and the NAPI thread share one \
             CPU, so each wake-up of the NAPI thread is a context switch",
        );
    }
    let cost = |id: &str| m.costs.iter().find(|c| c.id == id);
    if let (Some(cn), Some(cd)) = (cost(t.num), cost(t.den)) {
        if let (Some(pn), Some(pd)) = (cn.prog_ns, cd.prog_ns) {
            s.push_str(&format!(
                "; inside the XDP programs (BPF run-time stats, paced at each case's capacity): \
                 {pn:.0} ns vs {pd:.0} ns ({:+.0} ns, {:.0}% of the difference per packet)",
                pn - pd,
                100.0 * (pn - pd) / (bn - bd)
            ));
        }
        s.push_str(&format!("; {}; {}", cn.describe(), cd.describe()));
    }
    if let Some(z) = &m.sizes {
        s.push_str(&format!(
            "; program sizes (translated / verified instructions): anycast6_xdp {} / {}, \
             a6b_minimal {} / {}",
            z.anycast6.0, z.anycast6.1, z.minimal.0, z.minimal.1
        ));
    }
    if m.costs.is_empty() && m.profile_error.is_none() {
        s.push_str("; the DUT is profiled in full runs only (not --quick)");
    }
    if let Some(e) = &m.profile_error {
        s.push_str(&format!("; profiling failed: {e}"));
    }
    s
}

/// How the windows were measured, for every note.
pub fn method(plan: &Plan, m: &Measured) -> String {
    let cpus = if m.separate_cpus {
        format!(
            "generator and DUT on separate CPUs: the generator thread alone on CPU {}; the DUT's \
             threaded NAPI on CPU {}, where the sink's receive work (softirq raised by the DUT's \
             redirect) also runs, so every packets/s figure includes the sink's per-packet cost \
             (an XDP count + drop)",
            ns::GEN_CPU,
            ns::DUT_CPU
        )
    } else {
        "generator and DUT SHARED a CPU (the DUT's NAPI thread was not found: its work ran in \
         softirq on the generator's CPU)"
            .to_string()
    };
    let all: Vec<&Window> = m.windows.values().flatten().collect();
    let retries: u32 = all.iter().map(|w| w.retries).sum();
    let worst = all.iter().map(|w| w.foreign).fold(0.0, f64::max);
    let gen_bound = all.iter().filter(|w| w.generator_bound()).count();
    let gen_bound = if gen_bound == 0 {
        "the DUT was the bottleneck in every window".to_string()
    } else {
        format!("in {gen_bound} window(s) the GENERATOR could not send the rate asked (DUT not saturated: an underestimate)")
    };
    format!(
        "packets/s counted by an XDP sink (per-CPU counters) behind the DUT, gen → DUT → sink \
         over veth in three namespaces; live-frames generator (BPF_PROG_TEST_RUN, \
         BPF_F_TEST_XDP_LIVE_FRAMES), {} B UDP frames, paced by the program itself; each \
         window: the offered rate searched in {} steps of {} ms (x1.25 while loss < 1%, else \
         {:.2} x what arrived: flat out, page-pool lock contention from the generator's ring \
         drops costs the DUT up to a third of its CPU), then {:.1} s counted; median of {} \
         windows, cases interleaved per repetition; {gen_bound}; {cpus}; a window during which \
         other tasks (other helpers' builds and tests share this machine) used over {:.2} CPU \
         was measured again ({retries} retried; worst kept window {:.2} CPU)",
        plan.frame_size,
        plan.search.steps,
        plan.search.step.as_millis(),
        load::OVERDRIVE,
        plan.search.window.as_secs_f64(),
        plan.reps,
        load::MAX_FOREIGN,
        worst
    )
}

/// What scenario 6 ran on and where its frames went.
fn afxdp_detail(case: &Case, m: &Measured) -> String {
    let workers: Vec<String> = m
        .afxdp_workers
        .iter()
        .map(|(tid, cpus)| format!("tid {tid} on CPU {cpus}"))
        .collect();
    let mut total = Counts::default();
    for d in &m.afxdp {
        total = total.add(d);
    }
    format!(
        "anycast6_xsk (native XDP) on the DUT's ingress redirects the owned traffic into an \
         XSKMAP; the afxdp crate (driven by the bench, no anycast6d) runs one worker per rx queue \
         ({} worker(s): {}; started from a thread pinned to CPU {}, the CPU of the DUT's NAPI \
         thread, so one CPU does all the DUT's work as in scenario 3), copy-mode sockets on the \
         ingress and on the egress veth (transmit only), the userspace engine on a snapshot of the \
         same group (rewrite, member = the sink), {} flows warmed up first; no exception device; \
         over all {} measurements (rate searches and windows): {}",
        workers.len(),
        workers.join(", "),
        ns::DUT_CPU,
        case.flows,
        m.afxdp.len(),
        total.describe()
    )
}

/// Figures of scenarios 1-6, their ratios and the flows series.
pub fn figures(plan: &Plan, m: &Measured) -> Vec<Figure> {
    let how = method(plan, m);
    let mut out = Vec::new();
    for case in &m.cases {
        let detail = match case.mode {
            Mode::Minimal => "a6b_minimal on the DUT's ingress (bench/ebpf/a6b_minimal.bpf.c)".to_string(),
            Mode::Kernel => "no XDP on the DUT: forwarding sysctl, a route and a permanent neighbour to the sink, GRO on the ingress veth".to_string(),
            Mode::Anycast(a) => format!(
                "anycast6_xdp (Dataplane::open, own pin dir) on the DUT's ingress, one group whose member is the sink ({}), {} flows, {}",
                a.name(),
                case.flows,
                if case.new_per_mille > 0 {
                    format!("{}‰ of frames start a flow never seen before (an unchanged group: the Maglev table alone, no per-flow state)", case.new_per_mille)
                } else {
                    "flows warmed up first (an unchanged group: the Maglev table alone, no affinity lookup)".to_string()
                }
            ),
            Mode::Afxdp => afxdp_detail(case, m),
            Mode::AfxdpBaseline => format!(
                "baseline C: everything of scenario 6 (steering program anycast6_xsk on the \
                 ingress, the afxdp crate's worker, its copy-mode sockets, UMEM, rings, batch of \
                 {} frames and transmit kicks) except the engine: each frame gets the sink's MAC \
                 and the DUT's (12 bytes written) and goes to the egress socket \
                 (AfxdpOptions::baseline); what any AF_XDP forwarder on these sockets would pay",
                anycast6_afxdp::AfxdpOptions::default().batch
            ),
        };
        let note = format!(
            "{detail}; offered {:.2} Mpps, loss {:.1}%, DUT CPU {:.0} ns per frame the sink \
             counted (medians; CPU time of the DUT's NAPI thread and AF_XDP workers from \
             schedstat over each search and window, which other tasks barely move); {how}",
            m.offered_median(&case.id) / 1e6,
            m.loss_median(&case.id) * 100.0,
            m.cpu_ns_median(&case.id)
        );
        out.push(Figure::from_samples(
            &case.id,
            &case.name,
            "pps",
            m.pps(&case.id),
            None,
            &note,
        ));
    }
    for t in &TARGETS {
        let mut f = Figure::ratio(
            t.id,
            t.name,
            &m.pps(t.num),
            &m.pps(t.den),
            at_least(t.target),
            &format!("{} / {}, pairwise per repetition; {how}", t.num, t.den),
        );
        if f.pass == Some(false) {
            f.note = format!("{}; {}", explain(m, t), f.note);
        }
        out.push(f);
    }
    // The flows series: scenario 3 at each flow count.
    for &n in &plan.flow_series {
        let src = if n == plan.flows {
            ESTABLISHED.to_string()
        } else {
            format!("pps.flows.{n}")
        };
        let id = format!("pps.flows.{n}");
        if id == src {
            continue;
        }
        out.push(Figure::from_samples(
            &id,
            &format!("anycast6 XDP, {n} established flows"),
            "pps",
            m.pps(&src),
            None,
            &format!("the samples of {src} ({n} flows); {how}"),
        ));
    }
    out
}
