//! XDP attachment of the forwarding interfaces, and the member role:
//! anycast addresses on `lo`, the decapsulation program.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::Path;

use anycast6_dataplane::loader::Decap;
use anycast6_dataplane::AttachMode;

use super::Daemon;
use crate::config::{Config, IfaceMode, MemberRoleConfig};
use crate::ControlError;

/// Whether a decap link is pinned under `pin_dir` (named `decap_<ifname>`
/// by the dataplane loader).
fn decap_pinned(pin_dir: &Path) -> bool {
    std::fs::read_dir(pin_dir).is_ok_and(|rd| {
        rd.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("decap_"))
    })
}

impl Daemon {
    /// Attaches the forwarding program to every interface of `cfg` (a link
    /// already pinned is kept). Returns the interfaces attached by this
    /// call; on failure those are detached again.
    pub(super) fn attach_interfaces(&mut self, cfg: &Config) -> Result<Vec<String>, ControlError> {
        let before: Vec<String> = self.dp.attached()?.into_iter().map(|a| a.ifname).collect();
        let mut new = Vec::new();
        for i in &cfg.interfaces {
            if i.mode == IfaceMode::Afxdp {
                // The steering program takes the interface (sync_afxdp):
                // a pinned forwarding link from an earlier `xdp` mode goes.
                if before.contains(&i.name) {
                    self.afxdp = None;
                    self.afxdp_key.clear();
                    self.dp.detach(&i.name)?;
                    tracing::info!(interface = %i.name, "XDP forwarding link detached: the interface is in afxdp mode now");
                }
                continue;
            }
            if self.afxdp_key.iter().any(|(n, rx)| *rx && *n == i.name) {
                // From afxdp back to xdp: the steering program must go first.
                self.afxdp = None;
                self.afxdp_key.clear();
            }
            match self.dp.attach(&i.name, i.xdp_mode) {
                Ok(a) => {
                    let fresh = !before.contains(&i.name);
                    if fresh {
                        new.push(i.name.clone());
                    }
                    if a.mode == AttachMode::Generic && i.xdp_mode == AttachMode::NativeOrGeneric {
                        tracing::warn!(
                            interface = %i.name,
                            "XDP ATTACHED IN GENERIC (SKB) MODE: the driver has no native XDP; forwarding works \
                             but at a fraction of native speed (set xdp_mode = \"native\" to refuse this)"
                        );
                    } else {
                        tracing::info!(interface = %i.name, ifindex = a.ifindex, mode = ?a.mode, prog_id = a.prog_id, new = fresh, "XDP attached");
                    }
                }
                Err(e) => {
                    for n in &new {
                        if let Err(e) = self.dp.detach(n) {
                            tracing::error!(interface = %n, error = %e, "detaching after a failed attach");
                        }
                    }
                    return Err(e.into());
                }
            }
        }
        Ok(new)
    }

    /// Keeps `a6_ifaces` equal to the forwarding interfaces of `cfg` (both
    /// modes) with the MACs the kernel reports now: attaching wrote them,
    /// this follows a MAC change (a link event runs converge) and forgets
    /// interfaces that no longer forward. An interface without an Ethernet
    /// address gets no entry (the fast path passes its frames to the kernel).
    pub(super) fn sync_ifaces(&mut self, cfg: &Config) -> Result<(), ControlError> {
        let want: BTreeMap<u32, [u8; 6]> = cfg
            .interfaces
            .iter()
            .filter_map(|i| self.links.iter().find(|l| l.name == i.name))
            .filter(|l| l.mac != [0; 6])
            .map(|l| (l.ifindex, l.mac))
            .collect();
        let have: BTreeMap<u32, [u8; 6]> = self.dp.fib().ifaces()?.into_iter().collect();
        for ifindex in have.keys().filter(|i| !want.contains_key(i)) {
            self.dp.fib().delete_iface(*ifindex)?;
            tracing::info!(ifindex, "interface removed from a6_ifaces");
        }
        for (ifindex, mac) in &want {
            if have.get(ifindex) != Some(mac) {
                self.dp.fib().set_iface(*ifindex, *mac)?;
                tracing::info!(ifindex, mac = %crate::util::mac_str(mac), "interface MAC in a6_ifaces");
            }
        }
        Ok(())
    }

    /// Detaches interfaces that have a pinned link but are not in `cfg`.
    pub(super) fn detach_unlisted(&mut self, cfg: &Config) -> Result<Vec<String>, ControlError> {
        let mut gone = Vec::new();
        for a in self.dp.attached()? {
            if cfg.interface(&a.ifname).is_none() {
                self.dp.detach(&a.ifname)?;
                tracing::info!(interface = %a.ifname, "XDP detached (no longer in the config)");
                gone.push(a.ifname);
            }
        }
        Ok(gone)
    }

    /// Makes the member role what `role` says: anycast addresses on `lo`
    /// (/128, nodad), the decap program on the decap interfaces. Returns
    /// warnings for what could not be done.
    pub(super) async fn apply_member_role(
        &mut self,
        pin_dir: &Path,
        role: Option<&MemberRoleConfig>,
    ) -> Vec<String> {
        let mut warnings = Vec::new();
        let served: Vec<Ipv6Addr> = role.map(|r| r.addresses.clone()).unwrap_or_default();
        if let Err(e) = self.lo_addresses(&served).await {
            warnings.push(format!("addresses on lo: {e}"));
        }
        let wanted: Vec<(String, AttachMode)> = role
            .map(|r| {
                r.decap_interfaces
                    .iter()
                    .map(|i| (i.name.clone(), i.xdp_mode))
                    .collect()
            })
            .unwrap_or_default();
        if let Err(e) = self.decap_links(pin_dir, &wanted, &served) {
            warnings.push(format!("decap: {e}"));
        }
        for w in &warnings {
            tracing::warn!(problem = %w, "member role");
        }
        warnings
    }

    /// The decap program on exactly the `wanted` interfaces, serving `served`.
    fn decap_links(
        &mut self,
        pin_dir: &Path,
        wanted: &[(String, AttachMode)],
        served: &[Ipv6Addr],
    ) -> Result<(), ControlError> {
        if self.decap.is_none() {
            if wanted.is_empty() && !decap_pinned(pin_dir) {
                return Ok(());
            }
            self.decap = Some(Decap::open(pin_dir)?);
        }
        let d = self.decap.as_mut().expect("opened above");
        d.set_served(served)?;
        for (name, mode) in wanted {
            let a = d.attach_iface(name, *mode)?;
            if a.mode == AttachMode::Generic && *mode == AttachMode::NativeOrGeneric {
                tracing::warn!(interface = %name, "DECAP XDP ATTACHED IN GENERIC (SKB) MODE: the driver has no native XDP");
            }
        }
        for a in d.attached()? {
            if !wanted.iter().any(|(w, _)| *w == a.ifname) {
                d.detach(&a.ifname)?;
                tracing::info!(interface = %a.ifname, "decap detached (no longer in the config)");
            }
        }
        Ok(())
    }

    pub(super) async fn lo_addresses(&mut self, served: &[Ipv6Addr]) -> Result<(), ControlError> {
        // The router's AARP addresses stay beside the member role's.
        let all: Vec<Ipv6Addr> = served.iter().chain(&self.aarp_lo).copied().collect();
        let served = &all[..];
        let links = self.nl.links().await?;
        let lo = links
            .iter()
            .find(|l| l.name == "lo")
            .ok_or_else(|| ControlError::InterfaceMissing("lo".into()))?;
        let have = self.nl.addresses(lo.ifindex).await?;
        for a in served {
            if have.iter().any(|(x, _, _)| x == a) {
                continue;
            }
            self.nl.add_address(lo.ifindex, *a).await?;
            tracing::info!(address = %a, "anycast address added to lo");
        }
        for (a, len, ours) in have {
            if ours && len == 128 && !served.contains(&a) {
                self.nl.del_address(lo.ifindex, a).await?;
                tracing::info!(address = %a, "anycast address removed from lo");
            }
        }
        Ok(())
    }
}
