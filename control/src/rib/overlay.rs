//! Runtime changes (`anycast6ctl member add|remove|drain|undrain`) kept as
//! overlays on the config: the config file stays the base, overlays say
//! what differs. They survive a reload while they still make sense (see
//! [`Overlays::retain_valid`]) and a daemon restart (the daemon saves them
//! to its state file).

use std::net::Ipv6Addr;

use anycast6_dataplane::abi::MAX_MEMBERS;
use anycast6_dataplane::Route;
use serde::{Deserialize, Serialize};

use crate::config::{check_member, AdminState, Config, MemberConfig};
use crate::util::route_serde;

/// Names one member of one group: its unicast address and the interface it
/// is configured on (`None`: no interface, found by route lookup).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberRef {
    #[serde(with = "route_serde")]
    pub group: Route,
    pub address: Ipv6Addr,
    pub interface: Option<String>,
}

impl std::fmt::Display for MemberRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "member {} of group {}", self.address, self.group)?;
        if let Some(i) = &self.interface {
            write!(f, " on {i}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Added {
    #[serde(with = "route_serde")]
    pub group: Route,
    pub member: MemberConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateOverride {
    pub member: MemberRef,
    pub state: AdminState,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlays {
    #[serde(default)]
    pub added: Vec<Added>,
    #[serde(default)]
    pub removed: Vec<MemberRef>,
    #[serde(default)]
    pub states: Vec<StateOverride>,
}

pub use crate::proto::Source;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveMember {
    /// With any state override applied.
    pub member: MemberConfig,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveGroup {
    pub route: Route,
    pub members: Vec<EffectiveMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverlayError {
    #[error("group {0} is not in the config (runtime members join configured groups)")]
    GroupUnknown(Route),
    #[error("group {group} has no member {address}{}", on(.interface))]
    MemberUnknown {
        group: Route,
        address: Ipv6Addr,
        interface: Option<String>,
    },
    #[error("group {group} has member {address} on several interfaces ({0}): say which", .interfaces.join(", "))]
    MemberAmbiguous {
        group: Route,
        address: Ipv6Addr,
        interfaces: Vec<String>,
    },
    #[error("group {group} already has member {address}{}", on(.interface))]
    MemberExists {
        group: Route,
        address: Ipv6Addr,
        interface: Option<String>,
    },
    #[error("{0}")]
    MemberInvalid(String),
    #[error(
        "group {group} would have {count} members at distance {distance}: at most {MAX_MEMBERS}"
    )]
    GroupFull {
        group: Route,
        distance: u32,
        count: usize,
    },
}

fn on(i: &Option<String>) -> String {
    i.as_ref().map(|i| format!(" on {i}")).unwrap_or_default()
}

fn key_of(group: Route, m: &MemberConfig) -> MemberRef {
    MemberRef {
        group,
        address: m.address,
        interface: m.interface.clone(),
    }
}

impl Overlays {
    /// The members of every configured group once overlays are applied.
    pub fn effective(&self, cfg: &Config) -> Vec<EffectiveGroup> {
        cfg.groups
            .iter()
            .map(|g| {
                let overridden = |k: &MemberRef| {
                    self.removed.contains(k)
                        || self.added.iter().any(|a| &key_of(a.group, &a.member) == k)
                };
                let mut members: Vec<EffectiveMember> = g
                    .members
                    .iter()
                    .filter(|m| !overridden(&key_of(g.route, m)))
                    .map(|m| EffectiveMember {
                        member: m.clone(),
                        source: Source::Config,
                    })
                    .collect();
                members.extend(self.added.iter().filter(|a| a.group == g.route).map(|a| {
                    EffectiveMember {
                        member: a.member.clone(),
                        source: Source::Runtime,
                    }
                }));
                for em in &mut members {
                    let k = key_of(g.route, &em.member);
                    if let Some(o) = self.states.iter().find(|o| o.member == k) {
                        em.member.state = o.state;
                    }
                }
                EffectiveGroup {
                    route: g.route,
                    members,
                }
            })
            .collect()
    }

    fn effective_group(&self, cfg: &Config, route: &Route) -> Result<EffectiveGroup, OverlayError> {
        if cfg.group(route).is_none() {
            return Err(OverlayError::GroupUnknown(*route));
        }
        Ok(self
            .effective(cfg)
            .into_iter()
            .find(|g| &g.route == route)
            .expect("configured group"))
    }

    /// The effective member named by (address, interface).
    pub fn find(
        &self,
        cfg: &Config,
        route: &Route,
        address: Ipv6Addr,
        interface: Option<&str>,
    ) -> Result<EffectiveMember, OverlayError> {
        let g = self.effective_group(cfg, route)?;
        let hits: Vec<EffectiveMember> = g
            .members
            .into_iter()
            .filter(|m| {
                m.member.address == address
                    && (interface.is_none() || m.member.interface.as_deref() == interface)
            })
            .collect();
        match hits.len() {
            0 => Err(OverlayError::MemberUnknown {
                group: *route,
                address,
                interface: interface.map(str::to_string),
            }),
            1 => Ok(hits.into_iter().next().expect("one")),
            _ => Err(OverlayError::MemberAmbiguous {
                group: *route,
                address,
                interfaces: hits
                    .iter()
                    .map(|m| {
                        m.member
                            .interface
                            .clone()
                            .unwrap_or_else(|| "(route lookup)".into())
                    })
                    .collect(),
            }),
        }
    }

    pub fn add(
        &mut self,
        cfg: &Config,
        route: Route,
        member: MemberConfig,
    ) -> Result<MemberRef, OverlayError> {
        let g = self.effective_group(cfg, &route)?;
        let key = key_of(route, &member);
        if g.members.iter().any(|m| key_of(route, &m.member) == key) {
            return Err(OverlayError::MemberExists {
                group: route,
                address: member.address,
                interface: member.interface,
            });
        }
        let problems = check_member(&member, &cfg.interfaces, cfg.daemon.router_address);
        if !problems.is_empty() {
            let text: Vec<String> = problems.into_iter().map(|p| p.message).collect();
            return Err(OverlayError::MemberInvalid(text.join("; ")));
        }
        let count = g
            .members
            .iter()
            .filter(|m| m.member.distance == member.distance)
            .count()
            + 1;
        if count > MAX_MEMBERS {
            return Err(OverlayError::GroupFull {
                group: route,
                distance: member.distance,
                count,
            });
        }
        self.states.retain(|o| o.member != key);
        self.added.push(Added {
            group: route,
            member,
        });
        Ok(key)
    }

    pub fn remove(
        &mut self,
        cfg: &Config,
        route: Route,
        address: Ipv6Addr,
        interface: Option<&str>,
    ) -> Result<MemberRef, OverlayError> {
        let m = self.find(cfg, &route, address, interface)?;
        let key = key_of(route, &m.member);
        self.added.retain(|a| key_of(a.group, &a.member) != key);
        self.states.retain(|o| o.member != key);
        let in_config = cfg
            .group(&route)
            .is_some_and(|g| g.members.iter().any(|c| key_of(route, c) == key));
        if in_config && !self.removed.contains(&key) {
            self.removed.push(key.clone());
        }
        Ok(key)
    }

    /// Drain (`Draining`) or undrain (`Active`) a member.
    pub fn set_state(
        &mut self,
        cfg: &Config,
        route: Route,
        address: Ipv6Addr,
        interface: Option<&str>,
        state: AdminState,
    ) -> Result<MemberRef, OverlayError> {
        let m = self.find(cfg, &route, address, interface)?;
        let key = key_of(route, &m.member);
        self.states.retain(|o| o.member != key);
        if let Some(a) = self
            .added
            .iter_mut()
            .find(|a| key_of(a.group, &a.member) == key)
        {
            a.member.state = state;
        } else {
            self.states.push(StateOverride {
                member: key.clone(),
                state,
            });
        }
        Ok(key)
    }

    /// After a reload: keeps the overlays that still refer to something in
    /// `cfg` and drops the others. Returns what was dropped, and why.
    pub fn retain_valid(&mut self, cfg: &Config) -> Vec<String> {
        let mut dropped = Vec::new();
        let in_config = |k: &MemberRef| {
            cfg.group(&k.group)
                .is_some_and(|g| g.members.iter().any(|c| &key_of(k.group, c) == k))
        };
        let removed = std::mem::take(&mut self.removed);
        for k in removed {
            if in_config(&k) {
                self.removed.push(k);
            } else {
                dropped.push(format!("removal of {k}: no longer in the config"));
            }
        }
        let added = std::mem::take(&mut self.added);
        for a in added {
            let k = key_of(a.group, &a.member);
            if cfg.group(&a.group).is_none() {
                dropped.push(format!("runtime {k}: group no longer in the config"));
            } else if in_config(&k) && !self.removed.contains(&k) {
                dropped.push(format!("runtime {k}: now in the config"));
            } else if let Some(p) =
                check_member(&a.member, &cfg.interfaces, cfg.daemon.router_address).first()
            {
                dropped.push(format!("runtime {k}: {}", p.message));
            } else {
                self.added.push(a);
            }
        }
        let states = std::mem::take(&mut self.states);
        for o in states {
            let live = in_config(&o.member) && !self.removed.contains(&o.member);
            if live {
                self.states.push(o);
            } else {
                dropped.push(format!(
                    "{} of {}: member no longer in the config",
                    o.state.name(),
                    o.member
                ));
            }
        }
        dropped
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.states.is_empty()
    }
}
