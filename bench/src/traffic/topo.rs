//! The traffic topology: three namespaces in a line.
//!
//! ```text
//!   gen ns                  DUT ns                                 sink ns
//!   a6b<id>g ─────── veth ── a6b<id>i   (XDP under test, or none)
//!   2001:db8:c::2/64         2001:db8:c::1/64
//!                            a6b<id>e0 ─────────── veth ──────────  a6b<id>s0  (a6b_sink)
//!                            2001:db8:50::1/64                      2001:db8:50::2/64
//!                            a6b<id>e1 ... (more egress links for the update scenario)
//! ```
//!
//! - The generator (live frames, BPF_PROG_TEST_RUN in the gen namespace)
//!   redirects into `a6b<id>g`; its frames come from 2001:db8:c:1::/96 and go
//!   to 2001:db8:ac:0:0:1::/96.
//! - The DUT forwards to sink 0 (or to sinks 0..n in the update scenario):
//!   by XDP (baseline A, anycast6) or by the kernel (baseline B: forwarding
//!   on, a route for the anycast prefix, a permanent neighbour entry).
//! - veth quirks (DESIGN.md): a veth end that receives XDP_REDIRECTed frames
//!   drops them unless it runs XDP or has GRO on. The DUT's ingress gets GRO
//!   (kernel forwarding has no XDP there), sinks run XDP.
//! - CPU placement (ns.rs): the generator on `GEN_CPU`; the DUT's ingress
//!   NAPI threaded on `DUT_CPU`; the sinks' NAPI in softirq raised by the
//!   DUT's redirect, so also on `DUT_CPU`.
//!
//! Interface names carry a per-process id so the NAPI thread names
//! (`napi/<dev>-<id>`, 15 bytes) are ours alone.

use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::ns::{self, DUT_CPU};
use super::progs::Sink;
use crate::cleanup::{veth, Netns};

/// Generator-side prefix of flow sources (low 32 bits vary per flow).
pub const SRC_BASE: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 1, 0, 0, 0, 0);
/// First anycast destination (low 32 bits vary per destination).
pub const DST_BASE: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xac, 0, 0, 1, 0, 0);
/// The prefix the kernel baseline routes.
pub const DST_PREFIX: &str = "2001:db8:ac::/64";
pub const DST_PORT: u16 = 9;
pub const DUT_IN_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 1);

/// One DUT → sink link.
#[derive(Debug, Clone)]
pub struct Egress {
    pub dut_if: String,
    pub dut_ifindex: u32,
    pub dut_mac: [u8; 6],
    pub dut_addr: Ipv6Addr,
    pub sink_if: String,
    pub sink_mac: [u8; 6],
    pub sink_addr: Ipv6Addr,
}

pub struct Topo {
    pub gen_if: String,
    /// Spare interface in the gen namespace where the generator is parked.
    pub park_if: String,
    pub gen_ifindex: u32,
    pub gen_mac: [u8; 6],
    pub dut_in: String,
    pub dut_in_mac: [u8; 6],
    pub egress: Vec<Egress>,
    napi: Mutex<Vec<u32>>,
    // Namespaces last: fields drop in order.
    pub gen: Netns,
    pub dut: Netns,
    pub sink: Netns,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl Topo {
    /// Builds the namespaces and links, with `sinks` egress links.
    pub fn build(sinks: usize) -> Result<Topo> {
        let id = format!(
            "{:04x}",
            (std::process::id() ^ (SEQ.fetch_add(1, Ordering::SeqCst) << 12)) & 0xffff
        );
        let gen = Netns::new("tg")?;
        let dut = Netns::new("td")?;
        let sink = Netns::new("ts")?;
        let gen_if = format!("a6b{id}g");
        let dut_in = format!("a6b{id}i");
        veth(&gen, &gen_if, &dut, &dut_in)?;
        gen.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:c::2/64",
            "dev",
            &gen_if,
            "nodad",
        ])?;
        // A spare pair that carries nothing: the generator program is
        // attached there only so it stays in the kernel's XDP dispatcher
        // (see progs::Generator::park).
        let park_if = format!("a6b{id}p");
        let park_peer = format!("a6b{id}q");
        gen.ip(&[
            "link", "add", &park_if, "type", "veth", "peer", "name", &park_peer,
        ])?;
        dut.ip(&[
            "-6",
            "addr",
            "add",
            &format!("{DUT_IN_ADDR}/64"),
            "dev",
            &dut_in,
            "nodad",
        ])?;
        dut.exec("sysctl", &["-q", "-w", "net.ipv6.conf.all.forwarding=1"])?;
        dut.exec("ethtool", &["-K", &dut_in, "gro", "on"])?;

        let mut egress = Vec::with_capacity(sinks);
        for n in 0..sinks {
            let dut_if = format!("a6b{id}e{n}");
            let sink_if = format!("a6b{id}s{n}");
            veth(&dut, &dut_if, &sink, &sink_if)?;
            let dut_addr: Ipv6Addr = format!("2001:db8:{:x}::1", 0x50 + n).parse()?;
            let sink_addr: Ipv6Addr = format!("2001:db8:{:x}::2", 0x50 + n).parse()?;
            dut.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{dut_addr}/64"),
                "dev",
                &dut_if,
                "nodad",
            ])?;
            sink.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{sink_addr}/64"),
                "dev",
                &sink_if,
                "nodad",
            ])?;
            let (dut_mac, dut_ifindex) = ns::link_facts(&dut, &dut_if)?;
            let (sink_mac, _) = ns::link_facts(&sink, &sink_if)?;
            egress.push(Egress {
                dut_if,
                dut_ifindex,
                dut_mac,
                dut_addr,
                sink_if,
                sink_mac,
                sink_addr,
            });
        }
        // Baseline B: the kernel's route and neighbour toward sink 0.
        let e0 = &egress[0];
        dut.ip(&[
            "-6",
            "neigh",
            "replace",
            &e0.sink_addr.to_string(),
            "lladdr",
            &ns::mac_str(&e0.sink_mac),
            "dev",
            &e0.dut_if,
            "nud",
            "permanent",
        ])?;
        dut.ip(&[
            "-6",
            "route",
            "add",
            DST_PREFIX,
            "via",
            &e0.sink_addr.to_string(),
            "dev",
            &e0.dut_if,
        ])?;

        let (gen_mac, gen_ifindex) = ns::link_facts(&gen, &gen_if)?;
        let (dut_in_mac, _) = ns::link_facts(&dut, &dut_in)?;
        ns::napi_threaded(&dut, &dut_in).context("threaded NAPI on the DUT's ingress")?;
        Ok(Topo {
            gen_if,
            park_if,
            gen_ifindex,
            gen_mac,
            dut_in,
            dut_in_mac,
            egress,
            napi: Mutex::new(Vec::new()),
            gen,
            dut,
            sink,
        })
    }

    /// Attaches a counting sink to every sink end (`flows`: per-flow
    /// counting, 0 for totals only). Their NAPI stays in softirq: it runs
    /// on the CPU that redirected into them, the DUT's (a sink NAPI thread
    /// on the generator's CPU starved behind the generator and became the
    /// bottleneck, measured: 2.5 against 4.3 Mpps for baseline A).
    pub fn attach_sinks(&self, flows: u32) -> Result<Vec<Sink>> {
        let mut sinks = Vec::with_capacity(self.egress.len());
        for e in &self.egress {
            sinks.push(ns::in_ns(&self.sink, || Sink::attach(&e.sink_if, flows))?);
        }
        Ok(sinks)
    }

    /// Pins the DUT's NAPI thread to DUT_CPU (it comes and goes with XDP
    /// attach/detach: call after every change). Returns false when it was
    /// not found (then the DUT's work runs in softirq on the generator's CPU).
    pub fn place_napi(&self) -> Result<bool> {
        let pids = ns::pin_napi(&self.dut_in, DUT_CPU)?;
        let found = !pids.is_empty();
        if let Ok(mut n) = self.napi.lock() {
            *n = pids;
        }
        Ok(found)
    }

    /// The DUT's NAPI threads found by the last [`Topo::place_napi`].
    pub fn napi_pids(&self) -> Vec<u32> {
        self.napi.lock().map(|n| n.clone()).unwrap_or_default()
    }
}
