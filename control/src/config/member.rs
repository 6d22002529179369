//! Checks of one member that both the config file and a runtime
//! `member add` must pass. They name the field at fault; the caller turns
//! that into a file position or a message.

use std::net::Ipv6Addr;

use anycast6_dataplane::Action;

use super::{InterfaceConfig, MemberConfig, MAX_DISTANCE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberField {
    Address,
    Interface,
    NextHop,
    Distance,
    Weight,
    Action,
    EncapSource,
    /// The member as a whole (its table).
    Member,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberProblem {
    pub field: MemberField,
    pub message: String,
}

fn problem(field: MemberField, message: impl Into<String>) -> MemberProblem {
    MemberProblem {
        field,
        message: message.into(),
    }
}

/// Why `a` cannot be a unicast address of a member or next hop, if it cannot.
pub(crate) fn not_unicast(a: Ipv6Addr) -> Option<&'static str> {
    if a.is_unspecified() {
        Some("the unspecified address :: is not a unicast address")
    } else if a.is_multicast() {
        Some("a multicast address (ff00::/8) is not a unicast address")
    } else {
        None
    }
}

pub fn check_member(
    m: &MemberConfig,
    interfaces: &[InterfaceConfig],
    router_address: Option<Ipv6Addr>,
) -> Vec<MemberProblem> {
    use MemberField as F;
    let mut p = Vec::new();
    if let Some(why) = not_unicast(m.address) {
        p.push(problem(
            F::Address,
            format!("member address {}: {why}", m.address),
        ));
    }
    if let Some(nh) = m.next_hop {
        if let Some(why) = not_unicast(nh) {
            p.push(problem(F::NextHop, format!("next_hop {nh}: {why}")));
        }
    }
    if let Some(ifname) = &m.interface {
        if !interfaces.iter().any(|i| &i.name == ifname) {
            let listed: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
            p.push(problem(
                F::Interface,
                format!(
                    "interface {ifname:?} is not listed in [[interface]] (listed: {})",
                    if listed.is_empty() {
                        "none".to_string()
                    } else {
                        listed.join(", ")
                    }
                ),
            ));
        }
    }
    if !(1..=MAX_DISTANCE).contains(&m.distance) {
        p.push(problem(
            F::Distance,
            format!("distance {} is out of range 1..={MAX_DISTANCE}", m.distance),
        ));
    }
    if m.weight == 0 {
        p.push(problem(F::Weight, "weight 0 is out of range 1..=65535"));
    }
    match m.action {
        Action::Rewrite => {
            if m.interface.is_none() {
                p.push(problem(
                    F::Member,
                    "a member with action \"rewrite\" needs `interface` (the egress toward it)",
                ));
            }
        }
        Action::Encap => {
            if m.encap_source.is_none() && router_address.is_none() {
                p.push(problem(
                    F::Member,
                    "a member with action \"encap\" needs `encap_source` or [daemon] router_address",
                ));
            }
        }
        Action::Local => {
            if m.next_hop.is_some() {
                p.push(problem(
                    F::NextHop,
                    "next_hop has no meaning with action \"local\"",
                ));
            }
        }
    }
    if let Some(src) = m.encap_source {
        if m.action != Action::Encap {
            p.push(problem(
                F::EncapSource,
                format!("encap_source is only used with action \"encap\" (this member's action is {:?})", m.action.name()),
            ));
        } else if let Some(why) = not_unicast(src) {
            p.push(problem(
                F::EncapSource,
                format!("encap_source {src}: {why}"),
            ));
        }
    }
    p
}
