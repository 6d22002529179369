//! `show ...`: the daemon's state as the views of the management API.

use std::collections::HashMap;

use anycast6_dataplane::abi::Verdict;
use anycast6_dataplane::{AttachMode, InstalledFib, MemberState, Route};

use super::resolve::Egress;
use super::Daemon;
use crate::mgmt::views::*;
use crate::mgmt::ShowWhat;
use crate::neigh::NeighStatus;
use crate::rib::{Placement, PlannedGroup};
use crate::util::mac_str;
use crate::ControlError;

/// The fast path's counters: (by reason, group and member; the tunnel
/// end point's by reason; the AF_XDP path's own, while it runs).
pub(super) type FastPathCounters = (
    anycast6_dataplane::Counters,
    Vec<(&'static str, u64, u64)>,
    Option<AfxdpCountersView>,
);

fn route_kind(r: &Route) -> &'static str {
    match r {
        Route::Host(_) => "address",
        Route::Prefix(_) => "prefix",
    }
}

pub fn mode_name(m: AttachMode) -> &'static str {
    match m {
        AttachMode::Native => "native",
        AttachMode::Generic => "generic",
        AttachMode::NativeOrGeneric => "native-or-generic",
    }
}

pub(super) fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Redirect => "redirect",
        Verdict::Tx => "tx",
        Verdict::Pass => "pass",
        Verdict::Drop => "drop",
    }
}

/// `show fib` from what the maps hold.
pub fn fib_view(f: &InstalledFib) -> FibView {
    let mut routes: Vec<FibRouteView> = f
        .routes
        .iter()
        .map(|(r, g)| FibRouteView {
            route: r.to_string(),
            group_id: *g,
        })
        .collect();
    routes.sort_by(|a, b| (a.group_id, &a.route).cmp(&(b.group_id, &b.route)));
    let mut groups: Vec<FibGroupView> = f
        .groups
        .iter()
        .map(|g| {
            let mut members: Vec<FibMemberView> = g
                .members
                .iter()
                .map(|m| FibMemberView {
                    member_id: m.member_id,
                    unicast: m.unicast.to_string(),
                    encap_src: m.encap_src.to_string(),
                    ifindex: m.ifindex,
                    dmac: mac_str(&m.dmac),
                    smac: mac_str(&m.smac),
                    mtu: m.mtu,
                    action: m.action.name().into(),
                    state: m.state.name().into(),
                    weight: m.weight,
                })
                .collect();
            members.sort_by_key(|m| m.member_id);
            FibGroupView {
                group_id: g.group_id,
                gen: g.gen,
                maglev_block: g.maglev_block,
                maglev_len: g.maglev_len,
                members,
            }
        })
        .collect();
    groups.sort_by_key(|g| g.group_id);
    let mut tx_ports = f.tx_ports.clone();
    tx_ports.sort_unstable();
    FibView {
        routes,
        groups,
        tx_ports,
    }
}

impl Daemon {
    pub(super) fn show(&mut self, what: ShowWhat) -> Result<serde_json::Value, ControlError> {
        let v = match what {
            ShowWhat::Groups => serde_json::to_value(self.show_groups()),
            ShowWhat::Members => serde_json::to_value(self.show_members()),
            ShowWhat::Fib => serde_json::to_value(fib_view(&self.dp.fib().installed()?)),
            ShowWhat::Counters => serde_json::to_value(self.show_counters()?),
            ShowWhat::Interfaces => serde_json::to_value(self.show_interfaces()?),
            ShowWhat::Dataplane => serde_json::to_value(self.show_dataplane()?),
            ShowWhat::Rib => {
                let mut v = self.show_members();
                v.sort_by(|a, b| {
                    (&a.group, a.admin_distance, a.distance).cmp(&(
                        &b.group,
                        b.admin_distance,
                        b.distance,
                    ))
                });
                serde_json::to_value(v)
            }
            ShowWhat::Protocol { name, view } => match super::protocol::find(&name) {
                Some(r) => Ok((r.view)(self, view.as_deref())),
                None => {
                    return Err(ControlError::ShowUnknown {
                        what: name,
                        known: ShowWhat::BUILTIN
                            .iter()
                            .map(|b| b.name())
                            .chain(super::protocol::names())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                }
            },
        };
        Ok(v.expect("views always encode"))
    }

    /// Planned groups by route (one lookup per group, not a scan).
    fn planned_index(&self) -> HashMap<Route, &PlannedGroup> {
        self.planned.iter().map(|p| (p.route, p)).collect()
    }

    fn show_groups(&self) -> Vec<GroupView> {
        let planned = self.planned_index();
        let also: HashMap<Route, usize> = self
            .cfg
            .groups
            .iter()
            .map(|g| (g.route, g.also.len()))
            .collect();
        self.resolved
            .iter()
            .map(|g| {
                let p = planned.get(&g.route).copied();
                let more = also.get(&g.route).copied().unwrap_or(0);
                let count = |s: MemberState| {
                    p.map_or(0, |p| {
                        p.placements
                            .iter()
                            .filter(
                                |x| matches!(x, Placement::Installed { state, .. } if *state == s),
                            )
                            .count()
                    })
                };
                GroupView {
                    group: g.route.to_string(),
                    kind: if more > 0 {
                        "addresses"
                    } else {
                        route_kind(&g.route)
                    }
                    .into(),
                    addresses: 1 + more,
                    group_id: p.map(|p| p.group_id),
                    best_distance: p.and_then(|p| p.best_distance),
                    members: g.members.len(),
                    installed: count(MemberState::Active)
                        + count(MemberState::Draining)
                        + count(MemberState::Down),
                    active: count(MemberState::Active),
                    draining: count(MemberState::Draining),
                    down: count(MemberState::Down),
                }
            })
            .collect()
    }

    fn show_members(&self) -> Vec<MemberView> {
        let planned = self.planned_index();
        let mut out = Vec::new();
        for g in &self.resolved {
            let p = planned.get(&g.route).copied();
            for (i, r) in g.members.iter().enumerate() {
                let m = &r.member;
                let placement = p.and_then(|p| p.placements.get(i)).copied();
                let (state, member_id) = match placement {
                    Some(Placement::Installed { member_id, state }) => {
                        (state.name().to_string(), Some(member_id))
                    }
                    Some(Placement::Duplicate) => ("duplicate".into(), None),
                    Some(Placement::NotBest) | None => ("not-installed".into(), None),
                };
                let (ifindex, next_hop) = match &r.egress {
                    Egress::Via { ifindex, next_hop } => (*ifindex, Some(next_hop.to_string())),
                    _ => (0, None),
                };
                let (neighbour, mac) = match (&r.egress, r.neigh) {
                    (Egress::Local, _) => ("none".to_string(), None),
                    (Egress::NoInterface(_), _) => ("no-interface".into(), None),
                    (Egress::NoRoute, _) => ("no-route".into(), None),
                    (_, Some(NeighStatus::Resolved(mac))) => {
                        ("resolved".into(), Some(mac_str(&mac)))
                    }
                    (_, Some(s)) => (s.name().into(), None),
                    (_, None) => ("pending".into(), None),
                };
                out.push(MemberView {
                    group: g.route.to_string(),
                    group_id: p.map(|p| p.group_id),
                    address: m.address.to_string(),
                    interface: m.interface.clone(),
                    ifindex,
                    next_hop,
                    neighbour,
                    mac,
                    distance: m.distance,
                    weight: m.weight,
                    action: m.action.name().into(),
                    admin: m.state.name().into(),
                    state,
                    member_id,
                    source: r.source.as_str().into(),
                    admin_distance: self.cfg.distances.get(r.source),
                    installed: matches!(placement, Some(Placement::Installed { .. })),
                });
            }
        }
        out
    }

    /// The fast path's counters: the maps summed over CPUs, plus the
    /// AF_XDP engine's while it runs (by reason, group, member; and the
    /// tunnel end point's by reason). `show counters` and the metrics
    /// read the same numbers.
    pub(super) fn fast_path_counters(&mut self) -> Result<FastPathCounters, ControlError> {
        let mut c = self.dp.fib().counters()?;
        let mut tunnel = self.dp.fib().tunnel_counters()?;
        let afxdp = self.afxdp_counters().map(|(engine, view)| {
            for (t, u) in tunnel.iter_mut().zip(engine.tunnel.iter()) {
                t.1 = t.1.wrapping_add(u.packets);
                t.2 = t.2.wrapping_add(u.bytes);
            }
            for (r, p, b) in c.reasons.iter_mut() {
                let u = engine.reasons[*r as usize];
                *p = p.wrapping_add(u.packets);
                *b = b.wrapping_add(u.bytes);
            }
            for (list, from) in [
                (&mut c.groups, &engine.groups),
                (&mut c.members, &engine.members),
            ] {
                for (id, u) in from {
                    match list.iter_mut().find(|x| x.0 == *id) {
                        Some(x) => {
                            x.1 = x.1.wrapping_add(u.packets);
                            x.2 = x.2.wrapping_add(u.bytes);
                        }
                        None => list.push((*id, u.packets, u.bytes)),
                    }
                }
                list.sort_by_key(|x| x.0);
            }
            view
        });
        Ok((c, tunnel, afxdp))
    }

    fn show_counters(&mut self) -> Result<CountersView, ControlError> {
        let (c, tunnel, afxdp) = self.fast_path_counters()?;
        let group_names: HashMap<u32, String> = self
            .planned
            .iter()
            .map(|p| (p.group_id, p.route.to_string()))
            .collect();
        let mut member_names: HashMap<u32, (String, String)> = HashMap::new();
        for (g, p) in self.resolved.iter().zip(&self.planned) {
            for (r, pl) in g.members.iter().zip(&p.placements) {
                if let Placement::Installed { member_id, .. } = pl {
                    member_names.insert(
                        *member_id,
                        (g.route.to_string(), r.member.address.to_string()),
                    );
                }
            }
        }
        let mut decap = Vec::new();
        if let Some(d) = &self.decap {
            for (reason, packets, bytes) in d.counters()? {
                decap.push(DecapCount {
                    reason: reason.to_string(),
                    packets,
                    bytes,
                });
            }
        }
        let mut tunnel: Vec<DecapCount> = tunnel
            .into_iter()
            .map(|(reason, packets, bytes)| DecapCount {
                reason: reason.to_string(),
                packets,
                bytes,
            })
            .collect();
        if tunnel.iter().all(|t| t.packets == 0) {
            tunnel.clear();
        }
        Ok(CountersView {
            afxdp,
            tunnel,
            reasons: c
                .reasons
                .iter()
                .map(|(r, packets, bytes)| ReasonCount {
                    reason: r.name().into(),
                    verdict: verdict_name(r.verdict()).into(),
                    packets: *packets,
                    bytes: *bytes,
                })
                .collect(),
            groups: c
                .groups
                .iter()
                .map(|(id, packets, bytes)| GroupCount {
                    group_id: *id,
                    group: group_names.get(id).cloned(),
                    packets: *packets,
                    bytes: *bytes,
                })
                .collect(),
            members: c
                .members
                .iter()
                .map(|(id, packets, bytes)| MemberCount {
                    member_id: *id,
                    group: member_names.get(id).map(|x| x.0.clone()),
                    address: member_names.get(id).map(|x| x.1.clone()),
                    packets: *packets,
                    bytes: *bytes,
                })
                .collect(),
            decap,
        })
    }

    fn show_interfaces(&self) -> Result<Vec<InterfaceView>, ControlError> {
        let forward = self.dp.attached()?;
        let decap = match &self.decap {
            Some(d) => d.attached()?,
            None => Vec::new(),
        };
        let decap_ifaces = self
            .cfg
            .member_role
            .iter()
            .flat_map(|r| r.decap_interfaces.iter());
        let all = self
            .cfg
            .interfaces
            .iter()
            .map(|i| (i, "forward", &forward))
            .chain(decap_ifaces.map(|i| (i, "decap", &decap)));
        let mut out = Vec::new();
        for (i, role, attached) in all {
            let link = self.links.iter().find(|l| l.name == i.name);
            let a = attached.iter().find(|a| a.ifname == i.name);
            out.push(InterfaceView {
                name: i.name.clone(),
                role: role.into(),
                ifindex: link.map(|l| l.ifindex),
                xdp_mode: mode_name(i.xdp_mode).into(),
                attached: a.map(|a| mode_name(a.mode).to_string()),
                prog_id: a.map(|a| a.prog_id),
                link_pin: a.map(|a| a.link_pin.display().to_string()),
                mac: link.map(|l| mac_str(&l.mac)),
                mtu: link.map(|l| l.mtu),
                up: link.is_some_and(|l| l.up),
            });
        }
        Ok(out)
    }

    fn show_dataplane(&self) -> Result<DataplaneView, ControlError> {
        let view = |role: &str, a: anycast6_dataplane::loader::AttachedIface| AttachedView {
            interface: a.ifname,
            role: role.into(),
            ifindex: a.ifindex,
            mode: mode_name(a.mode).into(),
            prog_id: a.prog_id,
            link_pin: a.link_pin.display().to_string(),
        };
        let mut attached: Vec<AttachedView> = self
            .dp
            .attached()?
            .into_iter()
            .map(|a| view("forward", a))
            .collect();
        attached.sort_by(|a, b| a.interface.cmp(&b.interface));
        let program_id = attached.first().map(|a| a.prog_id);
        let mut maps = self.dp.map_ids()?;
        if let Some(d) = &self.decap {
            let mut dv: Vec<AttachedView> = d
                .attached()?
                .into_iter()
                .map(|a| view("decap", a))
                .collect();
            dv.sort_by(|a, b| a.interface.cmp(&b.interface));
            attached.extend(dv);
            maps.extend(d.map_ids()?);
        }
        let mut maps: Vec<MapView> = maps
            .into_iter()
            .map(|(name, id)| MapView { name, id })
            .collect();
        maps.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(DataplaneView {
            pin_dir: self.cfg.daemon.pin_dir.display().to_string(),
            maps,
            program_id,
            attached,
            interfaces: self.interface_modes(),
            exception_device: self
                .afxdp
                .as_ref()
                .and_then(|a| a.exception())
                .map(|x| x.device),
        })
    }
}
