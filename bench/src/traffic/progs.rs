//! The bench's own XDP programs (bench/ebpf/, compiled by build.rs) and the
//! Rust mirror of `bench/ebpf/a6b_bench.h`:
//!
//! - [`Generator`]: live-frames traffic source (`a6b_gen`);
//! - [`Sink`]: counts what arrives, in total and per flow, and drops it (`a6b_sink`);
//! - [`Minimal`]: baseline A, MAC rewrite + devmap redirect (`a6b_minimal`).
//!
//! Loading happens in any namespace; attaching by interface name must run
//! on a thread inside the interface's namespace (see [`super::ns`]).

use std::mem::size_of;
use std::net::Ipv6Addr;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use aya::maps::{Array, DevMap, MapData, PerCpuArray};
use aya::programs::{Xdp, XdpMode};
use aya::{Ebpf, EbpfLoader, TestRun, TestRunAttrs, TestRunOptions};

static GEN_OBJ: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/a6b_gen.bpf.o"));
static SINK_OBJ: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/a6b_sink.bpf.o"));
static MINIMAL_OBJ: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/a6b_minimal.bpf.o"));

/// Program, map and global names (the C identifiers).
mod name {
    pub const GEN: &str = "a6b_gen";
    pub const GEN_CFG: &str = "a6b_gen_cfg";
    pub const GEN_STATS: &str = "a6b_gen_stats";
    pub const SINK: &str = "a6b_sink";
    pub const SINK_STATS: &str = "a6b_sink_stats";
    pub const SINK_FLOW: &str = "a6b_sink_flow";
    pub const SINK_FLOWS_GLOBAL: &str = "a6b_sink_flows";
    pub const MINIMAL: &str = "a6b_minimal";
    pub const MINIMAL_TX: &str = "a6b_min_tx";
    pub const MINIMAL_MACS_GLOBAL: &str = "a6b_min_macs";
}

/// `A6B_HDR_LEN`: Ethernet + IPv6 + UDP, rewritten on every frame.
pub const HDR_LEN: usize = 62;
#[cfg(test)]
const OFF_SRC_LO: usize = 34;
#[cfg(test)]
const OFF_DST_LO: usize = 50;
#[cfg(test)]
const OFF_SPORT: usize = 54;
#[cfg(test)]
const OFF_UCSUM: usize = 60;
/// `A6B_SINK_MAX_FLOWS`: flows the sink counts one by one.
pub const SINK_MAX_FLOWS: u32 = 65536;
/// Smallest frame: the headers plus 2 bytes of payload (64 bytes without FCS).
pub const MIN_FRAME: u32 = 64;

/// `struct a6b_counter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

/// `struct a6b_gen_cfg` (meaning of each field in a6b_bench.h).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct GenCfg {
    pub hdr: [u8; 64],
    pub ifindex: u32,
    pub flows: u32,
    pub n_dst: u32,
    pub new_per_mille: u32,
    pub src_lo: u32,
    pub dst_lo: u32,
    pub csum_base: u32,
    pub gap_ps: u32,
}

/// `struct a6b_gen_state`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct GenState {
    pub packets: u64,
    pub bytes: u64,
    pub next_ps: u64,
    pub tokens: u64,
}

const _: () = {
    assert!(size_of::<Counter>() == 16);
    assert!(size_of::<GenCfg>() == 96);
    assert!(std::mem::offset_of!(GenCfg, ifindex) == 64);
    assert!(std::mem::offset_of!(GenCfg, csum_base) == 88);
    assert!(size_of::<GenState>() == 32);
};

macro_rules! pod {
    ($($t:ty),*) => { $(
        #[allow(unsafe_code)]
        // SAFETY: repr(C), integer-only fields, no implicit padding (sizes asserted above).
        unsafe impl aya::Pod for $t {}
    )* };
}
pod!(Counter, GenCfg, GenState);

fn sum_percpu(v: &aya::maps::PerCpuValues<Counter>) -> Counter {
    v.iter().fold(Counter::default(), |a, c| Counter {
        packets: a.packets.wrapping_add(c.packets),
        bytes: a.bytes.wrapping_add(c.bytes),
    })
}

fn xdp_mut<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut Xdp> {
    let p: &mut Xdp = ebpf
        .program_mut(name)
        .with_context(|| format!("program {name} missing"))?
        .try_into()?;
    Ok(p)
}

/// What traffic the generator makes (see `struct a6b_gen_cfg`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    pub frame_size: u32,
    pub flows: u32,
    /// Distinct destinations: `dst_base + i`, i < n_dst (low 32 bits).
    pub n_dst: u32,
    /// Share of frames, in 1/1000, that start a flow never seen before.
    pub new_per_mille: u32,
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    /// Source of flow 0; its low 32 bits must be 0.
    pub src: Ipv6Addr,
    /// Destination 0; its low 32 bits must be 0.
    pub dst: Ipv6Addr,
    pub dst_port: u16,
}

impl Traffic {
    /// The frame given to the kernel once (live frames recycle it) and the
    /// configuration the generator rewrites it from on every frame.
    pub fn build(&self, ifindex: u32) -> Result<(Vec<u8>, GenCfg)> {
        if self.frame_size < MIN_FRAME || self.frame_size > 1514 {
            bail!("frame size {} outside {MIN_FRAME}..=1514", self.frame_size);
        }
        if self.flows == 0 || self.n_dst == 0 || self.new_per_mille > 1000 {
            bail!("traffic needs flows >= 1, destinations >= 1, new share <= 1000: {self:?}");
        }
        let low = |a: Ipv6Addr| u32::from_be_bytes(a.octets()[12..].try_into().expect("4 bytes"));
        if low(self.src) != 0 || low(self.dst) != 0 {
            bail!(
                "generator addresses need zero low 32 bits: {} {}",
                self.src,
                self.dst
            );
        }
        let payload_len = self.frame_size as usize - HDR_LEN;
        let udp_len = (8 + payload_len) as u16;
        let mut f = Vec::with_capacity(self.frame_size as usize);
        f.extend_from_slice(&self.dst_mac);
        f.extend_from_slice(&self.src_mac);
        f.extend_from_slice(&0x86ddu16.to_be_bytes());
        f.extend_from_slice(&(6u32 << 28).to_be_bytes());
        f.extend_from_slice(&udp_len.to_be_bytes());
        f.push(17);
        f.push(64);
        f.extend_from_slice(&self.src.octets());
        f.extend_from_slice(&self.dst.octets());
        f.extend_from_slice(&[0, 0]); // source port: per flow
        f.extend_from_slice(&self.dst_port.to_be_bytes());
        f.extend_from_slice(&udp_len.to_be_bytes());
        f.extend_from_slice(&[0, 0]); // checksum: per frame
        f.extend((0..payload_len).map(|i| (i % 251) as u8));
        debug_assert_eq!(f.len(), self.frame_size as usize);

        // One's-complement sum of everything the checksum covers that does
        // not change per frame (pseudo-header, UDP header, payload); the
        // varying words are zero in the frame here.
        let mut sum: u64 = 0;
        let mut add = |b: &[u8]| {
            for c in b.chunks(2) {
                sum += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
        };
        add(&f[22..54]); // source, destination
        add(&u32::from(udp_len).to_be_bytes());
        add(&[0, 0, 0, 17]);
        add(&f[54..]);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let mut hdr = [0u8; 64];
        hdr[..HDR_LEN].copy_from_slice(&f[..HDR_LEN]);
        let cfg = GenCfg {
            hdr,
            ifindex,
            flows: self.flows,
            n_dst: self.n_dst,
            new_per_mille: self.new_per_mille,
            src_lo: 0,
            dst_lo: 0,
            csum_base: sum as u32,
            gap_ps: 0,
        };
        Ok((f, cfg))
    }
}

/// What the generator writes into frame number `seq` (for tests and for
/// the per-flow accounting of the update scenario): (source low 32 bits,
/// destination low 32 bits, source port, UDP checksum).
#[cfg(test)]
pub fn frame_fields(cfg: &GenCfg, seq: u32) -> (u32, u32, u16, u16) {
    let (flow, src_off, dst_i) = if cfg.new_per_mille != 0 && seq % 1000 < cfg.new_per_mille {
        (seq, 0x1000_0000 + (seq >> 16), seq % cfg.n_dst)
    } else {
        let flow = seq % cfg.flows;
        (flow, flow >> 16, flow % cfg.n_dst)
    };
    let src_lo = cfg.src_lo + src_off;
    let dst_lo = cfg.dst_lo + dst_i;
    let words = |v: u32| (v >> 16) + (v & 0xffff);
    let mut sum = cfg.csum_base + words(src_lo) + words(dst_lo) + (flow & 0xffff);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    let c = !(sum as u16);
    (src_lo, dst_lo, flow as u16, if c == 0 { 0xffff } else { c })
}

/// The traffic generator, loaded (not attached: it only runs through
/// BPF_PROG_TEST_RUN).
pub struct Generator {
    ebpf: Ebpf,
    /// The configuration map and what was last written to it: the rate
    /// changes while the generator thread runs.
    cfg: Mutex<(Array<MapData, GenCfg>, GenCfg)>,
    stats: PerCpuArray<MapData, GenState>,
    frame: Vec<u8>,
}

impl Generator {
    pub fn load() -> Result<Generator> {
        let mut ebpf = EbpfLoader::new().load(GEN_OBJ).context("loading a6b_gen")?;
        xdp_mut(&mut ebpf, name::GEN)?
            .load()
            .context("verifying a6b_gen")?;
        let cfg = Array::try_from(ebpf.take_map(name::GEN_CFG).context("a6b_gen_cfg")?)?;
        let stats =
            PerCpuArray::try_from(ebpf.take_map(name::GEN_STATS).context("a6b_gen_stats")?)?;
        let blank = Traffic {
            frame_size: MIN_FRAME,
            flows: 1,
            n_dst: 1,
            new_per_mille: 0,
            src_mac: [0; 6],
            dst_mac: [0; 6],
            src: Ipv6Addr::UNSPECIFIED,
            dst: Ipv6Addr::UNSPECIFIED,
            dst_port: 0,
        };
        let (frame, c) = blank.build(0)?;
        Ok(Generator {
            ebpf,
            cfg: Mutex::new((cfg, c)),
            stats,
            frame,
        })
    }

    /// Attaches the generator to an interface that carries no traffic
    /// (call on a thread inside its namespace). Every XDP test run adds its
    /// program to the kernel's XDP dispatcher and removes it afterwards,
    /// each time with a synchronize_rcu() (tens of ms here, measured: the
    /// generator thread was blocked 80% of the time); a program attached
    /// somewhere stays in the dispatcher and its test runs skip that.
    pub fn park(&mut self, ifname: &str) -> Result<()> {
        xdp_mut(&mut self.ebpf, name::GEN)?
            .attach(ifname, XdpMode::Driver)
            .with_context(|| format!("parking a6b_gen on {ifname}"))?;
        Ok(())
    }

    /// Sets what the next runs generate (flat out); `ifindex` is the
    /// generator's veth end in its namespace.
    pub fn configure(&mut self, t: &Traffic, ifindex: u32) -> Result<()> {
        let (frame, cfg) = t.build(ifindex)?;
        let mut g = self
            .cfg
            .lock()
            .map_err(|_| anyhow::anyhow!("generator config poisoned"))?;
        g.0.set(0, cfg, 0)?;
        g.1 = cfg;
        self.frame = frame;
        Ok(())
    }

    /// Paces the generator to `pps` frames/s (None: flat out); takes effect
    /// at once, also while it runs.
    pub fn set_rate(&self, pps: Option<f64>) -> Result<()> {
        let gap_ps = match pps {
            None => 0,
            Some(r) if r > 0.0 => (1e12 / r).clamp(1.0, f64::from(u32::MAX)) as u32,
            Some(r) => bail!("pacing rate {r} pps"),
        };
        let mut g = self
            .cfg
            .lock()
            .map_err(|_| anyhow::anyhow!("generator config poisoned"))?;
        if g.1.gap_ps != gap_ps {
            let mut c = g.1;
            c.gap_ps = gap_ps;
            g.0.set(0, c, 0)?;
            g.1 = c;
        }
        Ok(())
    }

    /// Frames generated so far, over all CPUs (also the next sequence
    /// number when the generator runs on one CPU).
    pub fn sent(&self) -> Result<u64> {
        Ok(self.stats.get(&0, 0)?.iter().map(|s| s.packets).sum())
    }

    /// One BPF_PROG_TEST_RUN in live-frames mode: `frames` frames, redirected
    /// as the program says, in batches of `batch`. Must run on a thread
    /// inside the generator's namespace (the redirect ifindex is looked up
    /// there).
    pub fn burst(&self, frames: u32, batch: u32) -> Result<()> {
        let prog: &Xdp = self
            .ebpf
            .program(name::GEN)
            .context("a6b_gen missing")?
            .try_into()?;
        let opts = TestRunOptions {
            data_in: Some(&self.frame),
            repeat: frames,
            attrs: TestRunAttrs::new().xdp_live_frames(batch),
            ..TestRunOptions::default()
        };
        prog.test_run(opts)
            .context("BPF_PROG_TEST_RUN (live frames)")?;
        Ok(())
    }
}

/// A counting sink attached (driver mode) to one interface.
pub struct Sink {
    _ebpf: Ebpf,
    stats: PerCpuArray<MapData, Counter>,
    flow: PerCpuArray<MapData, u64>,
    flows: u32,
}

impl Sink {
    /// Loads a sink that also counts `flows` flows one by one (0: totals
    /// only) and attaches it to `ifname`; call on a thread inside the
    /// interface's namespace.
    pub fn attach(ifname: &str, flows: u32) -> Result<Sink> {
        if flows > SINK_MAX_FLOWS {
            bail!("the sink counts at most {SINK_MAX_FLOWS} flows one by one, not {flows}");
        }
        let mut ebpf = EbpfLoader::new()
            .override_global(name::SINK_FLOWS_GLOBAL, &flows, true)
            .load(SINK_OBJ)
            .context("loading a6b_sink")?;
        let p = xdp_mut(&mut ebpf, name::SINK)?;
        p.load().context("verifying a6b_sink")?;
        p.attach(ifname, XdpMode::Driver)
            .with_context(|| format!("attaching a6b_sink to {ifname}"))?;
        let stats = PerCpuArray::try_from(ebpf.take_map(name::SINK_STATS).context("sink stats")?)?;
        let flow = PerCpuArray::try_from(ebpf.take_map(name::SINK_FLOW).context("sink flows")?)?;
        Ok(Sink {
            _ebpf: ebpf,
            stats,
            flow,
            flows,
        })
    }

    /// Frames arrived so far (all CPUs).
    pub fn received(&self) -> Result<Counter> {
        Ok(sum_percpu(&self.stats.get(&0, 0)?))
    }

    /// Frames arrived so far per flow index (all CPUs), `flows` entries.
    pub fn per_flow(&self) -> Result<Vec<u64>> {
        let mut out = Vec::with_capacity(self.flows as usize);
        for i in 0..self.flows {
            out.push(self.flow.get(&i, 0)?.iter().sum());
        }
        Ok(out)
    }
}

/// Baseline A, loaded; attach it with [`Minimal::attach`].
pub struct Minimal {
    ebpf: Ebpf,
    link: Option<aya::programs::xdp::XdpLinkId>,
}

impl Minimal {
    /// Loads the program with the next hop's MAC (`dmac`), the egress MAC
    /// (`smac`) and the egress ifindex (in the namespace it will run in).
    pub fn load(dmac: [u8; 6], smac: [u8; 6], egress_ifindex: u32) -> Result<Minimal> {
        let mut macs = [0u8; 12];
        macs[..6].copy_from_slice(&dmac);
        macs[6..].copy_from_slice(&smac);
        let words: [u32; 3] = std::array::from_fn(|i| {
            u32::from_ne_bytes(macs[4 * i..4 * i + 4].try_into().expect("4"))
        });
        let mut ebpf = EbpfLoader::new()
            .override_global(name::MINIMAL_MACS_GLOBAL, &words, true)
            .load(MINIMAL_OBJ)
            .context("loading a6b_minimal")?;
        xdp_mut(&mut ebpf, name::MINIMAL)?
            .load()
            .context("verifying a6b_minimal")?;
        let mut tx = DevMap::try_from(ebpf.map_mut(name::MINIMAL_TX).context("a6b_min_tx")?)?;
        tx.set(0, egress_ifindex, None, 0)
            .with_context(|| format!("a6b_min_tx[0] = ifindex {egress_ifindex}"))?;
        Ok(Minimal { ebpf, link: None })
    }

    /// Attaches in driver mode; call on a thread inside the namespace.
    pub fn attach(&mut self, ifname: &str) -> Result<()> {
        let p = xdp_mut(&mut self.ebpf, name::MINIMAL)?;
        let id = p
            .attach(ifname, XdpMode::Driver)
            .with_context(|| format!("attaching a6b_minimal to {ifname}"))?;
        self.link = Some(id);
        Ok(())
    }

    pub fn detach(&mut self) -> Result<()> {
        if let Some(id) = self.link.take() {
            xdp_mut(&mut self.ebpf, name::MINIMAL)?.detach(id)?;
        }
        Ok(())
    }

    /// The loaded program (for BPF_PROG_TEST_RUN).
    pub fn prog(&self) -> Result<&Xdp> {
        Ok(self
            .ebpf
            .program(name::MINIMAL)
            .context("a6b_minimal missing")?
            .try_into()?)
    }

    /// Kernel program id (for bpftool).
    pub fn prog_id(&self) -> Result<u32> {
        Ok(self.prog()?.info()?.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic() -> Traffic {
        Traffic {
            frame_size: 64,
            flows: 70_000,
            n_dst: 3,
            new_per_mille: 0,
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src: "2001:db8:c::".parse().unwrap(),
            dst: "2001:db8:ac::".parse().unwrap(),
            dst_port: 9,
        }
    }

    /// The incremental checksum the generator computes equals a full
    /// checksum of the frame it writes.
    #[test]
    fn generator_checksum_is_complete() {
        for (new, frame_size) in [(0, 64), (500, 64), (0, 1000), (1000, 333)] {
            let t = Traffic {
                new_per_mille: new,
                frame_size,
                ..traffic()
            };
            let (mut f, cfg) = t.build(7).unwrap();
            for seq in [
                0u32,
                1,
                999,
                65_535,
                65_536,
                69_999,
                70_001,
                1 << 20,
                u32::MAX,
            ] {
                let (s, d, p, c) = frame_fields(&cfg, seq);
                f[OFF_SRC_LO..OFF_SRC_LO + 4].copy_from_slice(&s.to_be_bytes());
                f[OFF_DST_LO..OFF_DST_LO + 4].copy_from_slice(&d.to_be_bytes());
                f[OFF_SPORT..OFF_SPORT + 2].copy_from_slice(&p.to_be_bytes());
                f[OFF_UCSUM..OFF_UCSUM + 2].copy_from_slice(&[0, 0]);
                let src = Ipv6Addr::from(<[u8; 16]>::try_from(&f[22..38]).unwrap());
                let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&f[38..54]).unwrap());
                let want =
                    anycast6_dataplane::fixtures::frames::l4_checksum(src, dst, 17, &f[54..]);
                let want = if want == 0 { 0xffff } else { want };
                assert_eq!(c, want, "seq {seq} new {new} size {frame_size}");
            }
        }
    }

    #[test]
    fn frames_have_the_requested_size_and_lengths() {
        let (f, cfg) = traffic().build(3).unwrap();
        assert_eq!(f.len(), 64);
        assert_eq!(cfg.hdr[..HDR_LEN], f[..HDR_LEN]);
        assert_eq!(u16::from_be_bytes([f[18], f[19]]), 10); // payload length
        assert_eq!(u16::from_be_bytes([f[58], f[59]]), 10); // UDP length
        assert!(Traffic {
            frame_size: 63,
            ..traffic()
        }
        .build(3)
        .is_err());
    }
}
