//! What runs on the DUT: baseline A (a6b_minimal), baseline B (no XDP,
//! kernel forwarding), anycast6 (the real forwarding program, loaded
//! through `anycast6_dataplane::Dataplane` with a pin directory of its own)
//! or anycast6's AF_XDP path (the steering program over the same pinned
//! maps, and the afxdp crate's workers: afxdp.rs).

use std::net::Ipv6Addr;
use std::sync::Arc;

use anycast6_afxdp::Afxdp;
use anycast6_dataplane::userspace::SharedFib;
use anycast6_dataplane::{
    loader::Capacities, Action, AttachMode, Dataplane, DataplaneOptions, MemberSpec, MemberState,
    Route,
};
use anyhow::{Context, Result};

use super::afxdp::{self, Counts};
use super::ns;
use super::progs::Minimal;
use super::topo::{Egress, Topo, DST_BASE, DUT_IN_ADDR};
use crate::cleanup::PinDir;

/// The DUT's forwarding mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Baseline A: MAC rewrite + devmap redirect.
    Minimal,
    /// Baseline B: the kernel's IPv6 forwarding.
    Kernel,
    /// anycast6 XDP, the one group's member with this action.
    Anycast(Action),
    /// anycast6 AF_XDP: steering program + userspace workers (rewrite).
    Afxdp,
    /// Baseline C: the same steering program, sockets, rings and batching
    /// as `Afxdp`, the workers only writing MACs (no engine).
    AfxdpBaseline,
}

/// The flow hash seed of both paths.
pub const HASH_SEED: u32 = 0x5eed_1234;

/// The group every traffic destination is routed to.
pub const GROUP: u32 = 1;

/// A member that is sink `n`, reached through egress link `e`.
pub fn member(id: u32, e: &Egress, action: Action) -> MemberSpec {
    MemberSpec {
        member_id: id,
        unicast: e.sink_addr,
        encap_src: e.dut_addr,
        ifindex: e.dut_ifindex,
        dmac: e.sink_mac,
        smac: e.dut_mac,
        mtu: 1500,
        action,
        state: MemberState::Active,
        weight: 100,
    }
}

/// Destination `i` of the generator (`DST_BASE` + i in the low 32 bits).
pub fn dst(i: u32) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(DST_BASE) + u128::from(i))
}

pub struct Dut<'t> {
    topo: &'t Topo,
    minimal: Minimal,
    // Stopped before `dp`: its steering program uses the pinned maps.
    afxdp: Option<Afxdp>,
    shared: Arc<SharedFib>,
    dp: Dataplane,
    mode: Mode,
    // Dropped after `dp`: unpins and detaches what the Dataplane pinned.
    _pins: PinDir,
}

impl<'t> Dut<'t> {
    /// Loads both programs (nothing attached: kernel forwarding) and
    /// routes `n_dst` destinations to one group whose member is sink 0.
    pub fn new(topo: &'t Topo, capacities: Capacities, n_dst: u32) -> Result<Dut<'t>> {
        let e0 = &topo.egress[0];
        // Devmap entries resolve their ifindex in the updating thread's
        // namespace: every tx port is written from inside the DUT's.
        let minimal = ns::in_ns(&topo.dut, || {
            Minimal::load(e0.sink_mac, e0.dut_mac, e0.dut_ifindex)
        })?;
        let pins = PinDir::new("dp");
        let opts = DataplaneOptions {
            pin_dir: pins.path().to_path_buf(),
            capacities,
            hash_seed: HASH_SEED,
            router_addr: DUT_IN_ADDR,
            ptb_per_sec: 100,
        };
        let mut dp = Dataplane::open(&opts).context("loading anycast6 (Dataplane::open)")?;
        let fib = dp.fib();
        ns::in_ns(&topo.dut, || {
            for e in &topo.egress {
                fib.set_tx_port(e.dut_ifindex)?;
            }
            Ok(())
        })?;
        fib.publish_group(GROUP, &[member(1, e0, Action::Rewrite)])?;
        for i in 0..n_dst {
            fib.set_route(Route::Host(dst(i)), GROUP)?;
        }
        let shared = afxdp::snapshot(topo, n_dst)?;
        Ok(Dut {
            topo,
            minimal,
            afxdp: None,
            shared,
            dp,
            mode: Mode::Kernel,
            _pins: pins,
        })
    }

    pub fn dataplane(&mut self) -> &mut Dataplane {
        &mut self.dp
    }

    /// Switches the DUT to `mode` (detach, attach, republish as needed).
    pub fn set(&mut self, mode: Mode) -> Result<()> {
        if mode == self.mode {
            return Ok(());
        }
        if let (Mode::Anycast(_), Mode::Anycast(action)) = (self.mode, mode) {
            let e0 = self.topo.egress[0].clone();
            self.dp
                .fib()
                .publish_group(GROUP, &[member(1, &e0, action)])?;
            self.mode = mode;
            return Ok(());
        }
        let dev = self.topo.dut_in.clone();
        match self.mode {
            Mode::Minimal => self.minimal.detach()?,
            Mode::Anycast(_) => {
                let dp = &mut self.dp;
                ns::in_ns(&self.topo.dut, || Ok(dp.detach(&dev)?))?;
            }
            Mode::Afxdp | Mode::AfxdpBaseline => {
                if let Some(mut a) = self.afxdp.take() {
                    a.stop();
                }
            }
            Mode::Kernel => {}
        }
        self.mode = Mode::Kernel;
        match mode {
            Mode::Minimal => {
                let m = &mut self.minimal;
                ns::in_ns(&self.topo.dut, || m.attach(&dev))?;
            }
            Mode::Anycast(action) => {
                let e0 = self.topo.egress[0].clone();
                self.dp
                    .fib()
                    .publish_group(GROUP, &[member(1, &e0, action)])?;
                let dp = &mut self.dp;
                ns::in_ns(&self.topo.dut, || {
                    dp.attach(&dev, AttachMode::Native)
                        .with_context(|| format!("attaching anycast6 to {dev}"))
                })?;
            }
            Mode::Afxdp | Mode::AfxdpBaseline => {
                let pin_dir = self.dp.pin_dir().to_path_buf();
                let e0 = &self.topo.egress[0];
                let baseline = (mode == Mode::AfxdpBaseline).then_some(anycast6_afxdp::Baseline {
                    egress_ifindex: e0.dut_ifindex,
                    dmac: e0.sink_mac,
                    smac: e0.dut_mac,
                });
                self.afxdp = Some(afxdp::start(
                    self.topo,
                    &pin_dir,
                    self.shared.clone(),
                    baseline,
                )?);
            }
            Mode::Kernel => {}
        }
        self.mode = mode;
        Ok(())
    }

    /// CPU time (ns) the DUT's NAPI threads and AF_XDP workers have run.
    pub fn cpu_ns(&self) -> Result<u64> {
        let mut t = ns::tasks_run_ns(&self.topo.napi_pids());
        if self.afxdp.is_some() {
            for (tid, _) in afxdp::workers()? {
                t += ns::run_ns(&format!("/proc/self/task/{tid}/schedstat"));
            }
        }
        Ok(t)
    }

    /// Where the frames went so far (AF_XDP mode only; `sink`: what the
    /// sink has counted).
    pub fn afxdp_counts(&mut self, sink: u64) -> Result<Option<Counts>> {
        let Some(a) = &self.afxdp else {
            return Ok(None);
        };
        let napi = self.topo.napi_pids();
        Ok(Some(Counts::read(a, self.dp.fib(), sink, &napi)?))
    }

    /// Kernel id of the program now attached (None for kernel forwarding).
    pub fn prog_id(&self) -> Result<Option<u32>> {
        Ok(match self.mode {
            Mode::Kernel => None,
            Mode::Minimal => Some(self.minimal.prog_id()?),
            Mode::Anycast(_) => self.dp.attached()?.first().map(|a| a.prog_id),
            Mode::Afxdp | Mode::AfxdpBaseline => {
                ns::xdp_prog_id(&self.topo.dut, &self.topo.dut_in)?
            }
        })
    }
}
