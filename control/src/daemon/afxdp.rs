//! The AF_XDP path inside anycast6d: started for the interfaces in
//! `afxdp` mode, restarted when the set of forwarding interfaces changes,
//! and its counters and modes in `show counters` / `show dataplane`.

use anycast6_afxdp::{Afxdp, AfxdpOptions, BindMode, IfaceSpec};
use anycast6_dataplane::userspace::{EngineConfig, SnapshotBuilder};

use super::Daemon;
use crate::config::{Config, IfaceMode};
use crate::mgmt::views::{AfxdpCountersView, IfaceModeView};
use crate::ControlError;

impl Daemon {
    /// Runs the AF_XDP path exactly when `cfg` has `afxdp` interfaces,
    /// with a socket per queue on every forwarding interface (the `xdp`
    /// ones transmit only). Restarts it when the interfaces change.
    pub(super) fn sync_afxdp(&mut self, cfg: &Config) -> Result<(), ControlError> {
        let key: Vec<(String, bool)> = cfg
            .interfaces
            .iter()
            .map(|i| (i.name.clone(), i.mode == IfaceMode::Afxdp))
            .collect();
        let wanted = key.iter().any(|(_, rx)| *rx);
        if wanted && self.afxdp.is_some() && key == self.afxdp_key {
            return Ok(());
        }
        if let Some(mut a) = self.afxdp.take() {
            a.stop();
            tracing::info!("AF_XDP path stopped");
        }
        self.afxdp_key.clear();
        if !wanted {
            self.snap = None;
            return Ok(());
        }
        if self.snap.is_none() {
            let mut snap =
                SnapshotBuilder::from_installed(&self.dp.fib().installed()?).map_err(|e| {
                    ControlError::FibApply(format!("userspace snapshot of the pinned FIB: {e}"))
                })?;
            // The AARP setting lives in its own map (daemon/aarp.rs).
            let aarp = self.dp.fib().aarp_answer()?;
            let _ = snap.apply(&anycast6_dataplane::userspace::FibOp::SetAarpAnswer(aarp));
            self.shared.publish(&snap);
            self.snap = Some(snap);
        }
        let mut specs = Vec::new();
        for i in &cfg.interfaces {
            let link = self
                .links
                .iter()
                .find(|l| l.name == i.name)
                .ok_or_else(|| ControlError::InterfaceMissing(i.name.clone()))?;
            specs.push(IfaceSpec {
                name: i.name.clone(),
                ifindex: link.ifindex,
                rx: i.mode == IfaceMode::Afxdp,
                xdp_mode: i.xdp_mode,
            });
        }
        let opts = AfxdpOptions {
            engine: EngineConfig {
                hash_seed: cfg.daemon.hash_seed,
                router_addr: cfg
                    .daemon
                    .router_address
                    .unwrap_or(std::net::Ipv6Addr::UNSPECIFIED),
                ptb_per_sec: cfg.daemon.ptb_per_sec,
            },
            affinity_entries: cfg.capacities.affinity_entries as usize,
            ..AfxdpOptions::default()
        };
        let a = Afxdp::start(&cfg.daemon.pin_dir, &specs, self.shared.clone(), opts)?;
        // Attaching the steering programs recorded their interfaces.
        if let Some(snap) = &mut self.snap {
            snap.sync_ifaces(&self.dp.fib().ifaces()?);
            self.shared.publish(snap);
        }
        self.afxdp = Some(a);
        self.afxdp_key = key;
        Ok(())
    }

    /// Per-interface fast path for `show dataplane`.
    pub(super) fn interface_modes(&self) -> Vec<IfaceModeView> {
        let mut out = Vec::new();
        for i in &self.cfg.interfaces {
            let mode = match i.mode {
                IfaceMode::Xdp => "xdp".to_string(),
                IfaceMode::Afxdp => {
                    let bound = self
                        .afxdp
                        .as_ref()
                        .and_then(|a| a.interfaces().iter().find(|r| r.name == i.name));
                    match bound {
                        Some(r) if r.bind == BindMode::ZeroCopy => "afxdp zero-copy".into(),
                        Some(_) => "afxdp copy".into(),
                        None => "afxdp (not running)".into(),
                    }
                }
            };
            let queues = self
                .afxdp
                .as_ref()
                .and_then(|a| a.interfaces().iter().find(|r| r.name == i.name))
                .map(|r| r.queues);
            out.push(IfaceModeView {
                interface: i.name.clone(),
                mode,
                queues,
            });
        }
        out
    }

    /// The workers' counters: engine counters to merge into the XDP ones,
    /// and the AF_XDP view.
    pub(super) fn afxdp_counters(
        &self,
    ) -> Option<(
        anycast6_dataplane::userspace::EngineCounters,
        AfxdpCountersView,
    )> {
        let a = self.afxdp.as_ref()?;
        let reports = a.reports();
        let mut engine = anycast6_dataplane::userspace::EngineCounters::default();
        let mut io = anycast6_afxdp::IoCounters::default();
        let mut xdp = anycast6_afxdp::XdpStats::default();
        let mut sockets = Vec::new();
        for r in &reports {
            engine.merge(&r.engine);
            io.add(&r.io);
            for s in &r.sockets {
                xdp.add(&s.xdp);
                sockets.push(s.clone());
            }
        }
        let exception = a.exception();
        if let Some(x) = &exception {
            // Workers count what they could not queue; the device's
            // refusals are frames that did not reach the kernel either.
            io.pass_not_reinjected += x.write_errors;
        }
        Some((
            engine,
            AfxdpCountersView {
                workers: reports.len(),
                io,
                xdp,
                sockets,
                exception,
            },
        ))
    }
}
