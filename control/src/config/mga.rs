//! Validation of `[mga]` and its role tables `[mga.home_agent]`,
//! `[mga.member]`, `[mga.correspondent]` (docs/mga.md §10). Beyond each
//! value: a member needs `[member] addresses` (the anycast addresses it
//! registers) and a home agent to register with (or `discover`); no home
//! agent, care-of or peer address is one of the anycast addresses.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::time::Duration;

use super::raw::{RawMga, RawMgaCorrespondent, RawMgaHomeAgent, RawMgaMember, S};
use super::validate::Validator;
use super::{
    InterfaceConfig, MemberRoleConfig, MgaConfig, MgaCorrespondent, MgaHomeAgent, MgaMember,
};

/// Longest lifetime a Binding Update can carry: 0xffff units of 4 s.
pub const MAX_LIFETIME_S: i64 = 0xffff * 4;
pub const DEFAULT_LIFETIME_S: i64 = 60;
pub const DEFAULT_MAX_LIFETIME_S: i64 = 600;
pub const DEFAULT_MAX_BINDINGS: usize = 1024;
pub const DEFAULT_METRIC: u32 = 10;
pub const DEFAULT_RO_AFTER_MS: i64 = 500;
pub const DEFAULT_RO_MIN_PACKETS: usize = 10;
pub const DEFAULT_RO_LIFETIME_S: i64 = 16;
pub const DEFAULT_RO_IDLE_MS: i64 = 5_000;
pub const DEFAULT_MAX_FLOW_BINDINGS: usize = 4096;
pub const DEFAULT_CN_MAX_LIFETIME_S: i64 = 60;

impl Validator<'_, '_> {
    pub(super) fn mga(
        &mut self,
        r: RawMga,
        member: Option<&MemberRoleConfig>,
        interfaces: &[InterfaceConfig],
    ) -> MgaConfig {
        let keys = self.keys(&r.keys);
        let forwarding = |n: &str| interfaces.iter().any(|i| i.name == n);
        let decap =
            |n: &str| member.is_some_and(|m| m.decap_interfaces.iter().any(|i| i.name == n));
        if let Some(h) = &r.home_agent {
            let n = h.get_ref().interface.get_ref();
            if !forwarding(n) {
                self.errs.at(
                    &h.get_ref().interface.span(),
                    format!(
                        "home agent interface {n:?} is not a forwarding [[interface]]: add it, the fast path tunnels A's packets from there"
                    ),
                );
            }
        }
        if let Some(c) = &r.correspondent {
            let n = c.get_ref().interface.get_ref();
            if forwarding(n) || decap(n) {
                self.errs.at(
                    &c.get_ref().interface.span(),
                    format!(
                        "correspondent interface {n:?} already runs the {} XDP program: an interface has one",
                        if forwarding(n) { "forwarding" } else { "decap" }
                    ),
                );
            }
        }
        let home_agent = r.home_agent.as_ref().map(|h| self.mga_home_agent(h));
        let member = r.member.map(|m| self.mga_member(m, member));
        let correspondent = r.correspondent.as_ref().map(|c| self.mga_correspondent(c));
        MgaConfig {
            keys,
            home_agent,
            member,
            correspondent,
        }
    }

    fn seconds(&mut self, v: &Option<S<i64>>, what: &str, lo: i64, default: i64) -> Duration {
        let s = v
            .as_ref()
            .and_then(|v| self.int(v, what, lo, MAX_LIFETIME_S))
            .unwrap_or(default);
        Duration::from_secs(s as u64)
    }

    fn unicast_list(&mut self, list: &[S<String>], what: &str) -> Vec<Ipv6Addr> {
        let mut out = Vec::new();
        for v in list {
            let Some(a) = self.unicast(v, what) else {
                continue;
            };
            if out.contains(&a) {
                self.errs
                    .at(&v.span(), format!("{what} {a} is listed twice"));
                continue;
            }
            out.push(a);
        }
        out
    }

    fn anycast_list(&mut self, list: &S<Vec<S<String>>>, what: &str) -> Vec<Ipv6Addr> {
        let mut out = Vec::new();
        for v in list.get_ref() {
            let Some(a) = self.anycast_addr(v, what) else {
                continue;
            };
            if out.contains(&a) {
                self.errs
                    .at(&v.span(), format!("{what} {a} is listed twice"));
                continue;
            }
            out.push(a);
        }
        if list.get_ref().is_empty() {
            self.errs
                .at(&list.span(), format!("{what}: the list is empty"));
        }
        out
    }

    fn mga_home_agent(&mut self, raw: &S<RawMgaHomeAgent>) -> MgaHomeAgent {
        let r = raw.get_ref();
        let address = self.unicast(&r.address, "[mga.home_agent] address");
        let interface = self.ifname(&r.interface).unwrap_or_default();
        let anycast = self.anycast_list(&r.anycast, "[mga.home_agent] anycast");
        let peers = self.unicast_list(&r.peers, "[mga.home_agent] peers");
        for (v, p) in r.peers.iter().zip(&peers) {
            if Some(*p) == address {
                self.errs.at(
                    &v.span(),
                    format!("peer {p} is this home agent's own address"),
                );
            }
        }
        if let Some(a) = address.filter(|a| anycast.contains(a)) {
            self.errs.at(
                &r.address.span(),
                format!("address {a} is one of the anycast addresses it serves: the home agent needs an address of its own"),
            );
        }
        let max_bindings = self.count(&r.max_bindings, "max_bindings", DEFAULT_MAX_BINDINGS);
        let max_lifetime = self.seconds(
            &r.max_lifetime_s,
            "max_lifetime_s",
            4,
            DEFAULT_MAX_LIFETIME_S,
        );
        MgaHomeAgent {
            address: address.unwrap_or(Ipv6Addr::UNSPECIFIED),
            interface,
            anycast,
            peers,
            max_bindings,
            max_lifetime,
        }
    }

    fn mga_member(&mut self, raw: S<RawMgaMember>, role: Option<&MemberRoleConfig>) -> MgaMember {
        let span = raw.span();
        let r = raw.into_inner();
        let homes: BTreeSet<Ipv6Addr> = role
            .map(|m| m.addresses.iter().copied().collect())
            .unwrap_or_default();
        if homes.is_empty() {
            self.errs.at(
                &span,
                "[mga.member] registers the addresses of [member] addresses: add a [member] section with them",
            );
        }
        let care_of = self.unicast(&r.care_of, "[mga.member] care_of");
        if let Some(c) = care_of.filter(|c| homes.contains(c)) {
            self.errs.at(
                &r.care_of.span(),
                format!("care_of {c} is one of the anycast addresses: the care-of address is the member's own"),
            );
        }
        let interface = self.ifname(&r.interface).unwrap_or_default();
        let home_agents = self.unicast_list(&r.home_agents, "[mga.member] home_agents");
        for (v, h) in r.home_agents.iter().zip(&home_agents) {
            if homes.contains(h) || Some(*h) == care_of {
                self.errs.at(
                    &v.span(),
                    format!("home agent {h} is this member's own address"),
                );
            }
        }
        let discover = r.discover.as_ref().is_some_and(|d| *d.get_ref());
        if home_agents.is_empty() && !discover {
            self.errs.at(
                &span,
                "[mga.member] has no home agent: list home_agents or set discover = true",
            );
        }
        let lifetime = self.seconds(&r.lifetime_s, "lifetime_s", 4, DEFAULT_LIFETIME_S);
        let metric = r
            .metric
            .as_ref()
            .and_then(|v| self.int(v, "metric", 0, 0xffff_fffe))
            .map_or(DEFAULT_METRIC, |m| m as u32);
        let ro = r.route_optimisation.as_ref().is_some_and(|v| *v.get_ref());
        MgaMember {
            care_of: care_of.unwrap_or(Ipv6Addr::UNSPECIFIED),
            interface,
            home_agents,
            discover,
            lifetime,
            metric,
            reverse_tunnel: r.reverse_tunnel.as_ref().is_none_or(|v| *v.get_ref()),
            route_optimisation: ro,
            ro_after: self.ms(&r.ro_after_ms, "ro_after_ms", 0, DEFAULT_RO_AFTER_MS),
            ro_min_packets: self.count(&r.ro_min_packets, "ro_min_packets", DEFAULT_RO_MIN_PACKETS)
                as u64,
            ro_lifetime: self.seconds(&r.ro_lifetime_s, "ro_lifetime_s", 4, DEFAULT_RO_LIFETIME_S),
            ro_idle: self.ms(&r.ro_idle_ms, "ro_idle_ms", 100, DEFAULT_RO_IDLE_MS),
            health_check: r.health_check.map(|h| self.health(h)),
        }
    }

    fn mga_correspondent(&mut self, raw: &S<RawMgaCorrespondent>) -> MgaCorrespondent {
        let r = raw.get_ref();
        MgaCorrespondent {
            interface: self.ifname(&r.interface).unwrap_or_default(),
            optimise: self.anycast_list(&r.optimise, "[mga.correspondent] optimise"),
            max_flow_bindings: self.count(
                &r.max_flow_bindings,
                "max_flow_bindings",
                DEFAULT_MAX_FLOW_BINDINGS,
            ),
            max_lifetime: self.seconds(
                &r.max_lifetime_s,
                "max_lifetime_s",
                4,
                DEFAULT_CN_MAX_LIFETIME_S,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    const MEMBER: &str = "[member]\naddresses = [\"2001:db8:1::a\"]\n";

    fn err(text: &str) -> String {
        parse("t.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn every_role_with_defaults() {
        let text = format!(
            "[[interface]]\nname = \"eth0\"\n{MEMBER}[mga]\nkeys = [{{ id = 7, secret = \"0123456789abcdef\" }}]\n\
             [mga.home_agent]\naddress = \"2001:db8:1::10\"\ninterface = \"eth0\"\nanycast = [\"2001:db8:1::b\"]\n\
             [mga.member]\ncare_of = \"2001:db8:2::2\"\ninterface = \"eth1\"\nhome_agents = [\"2001:db8:1::10\"]\n\
             [mga.correspondent]\ninterface = \"eth2\"\noptimise = [\"2001:db8:1::a\"]\n"
        );
        let cfg = parse("t.toml", &text).unwrap();
        let m = cfg.mga.unwrap();
        assert_eq!(m.keys.len(), 1);
        let ha = m.home_agent.unwrap();
        assert_eq!(ha.max_bindings, super::DEFAULT_MAX_BINDINGS);
        assert_eq!(ha.max_lifetime.as_secs(), 600);
        let mm = m.member.unwrap();
        assert!(mm.reverse_tunnel && !mm.route_optimisation && !mm.discover);
        assert_eq!(mm.lifetime.as_secs(), 60);
        assert_eq!(mm.ro_lifetime.as_secs(), 16);
        assert_eq!(m.correspondent.unwrap().optimise.len(), 1);
    }

    #[test]
    fn a_member_needs_addresses_and_a_home_agent() {
        let e = err("[mga.member]\ncare_of = \"2001:db8:2::2\"\ninterface = \"eth1\"\n");
        assert!(e.contains("t.toml:1:1"), "{e}");
        assert!(e.contains("add a [member] section"), "{e}");
        assert!(e.contains("list home_agents or set discover = true"), "{e}");
    }

    #[test]
    fn wrong_values_name_line_and_column() {
        let e = err(&format!(
            "{MEMBER}[mga.member]\ncare_of = \"2001:db8:1::a\"\ninterface = \"eth1\"\nhome_agents = [\"2001:db8:1::10\", \"2001:db8:1::10\"]\nlifetime_s = 1\n"
        ));
        assert!(
            e.contains("t.toml:4:11") && e.contains("care-of address is the member's own"),
            "{e}"
        );
        assert!(
            e.contains("t.toml:6:34") && e.contains("listed twice"),
            "{e}"
        );
        assert!(
            e.contains("t.toml:7:14") && e.contains("lifetime_s 1 is out of range 4..="),
            "{e}"
        );
        let e = err("[mga.home_agent]\naddress = \"2001:db8:1::a\"\ninterface = \"eth0\"\nanycast = [\"2001:db8:1::a\", \"ff02::1\"]\npeers = [\"2001:db8:1::a\"]\n");
        assert!(
            e.contains("t.toml:2:11") && e.contains("needs an address of its own"),
            "{e}"
        );
        assert!(
            e.contains("t.toml:4:29") && e.contains("cannot be an anycast address"),
            "{e}"
        );
        assert!(
            e.contains("t.toml:5:10") && e.contains("own address"),
            "{e}"
        );
        let e = err("[mga.correspondent]\ninterface = \"eth0\"\noptimise = []\nbogus = 1\n");
        assert!(e.contains("unknown field") && e.contains("bogus"), "{e}");
        let e = err("[[interface]]\nname = \"eth0\"\n[mga.correspondent]\ninterface = \"eth0\"\noptimise = [\"2001:db8:1::a\"]\n[mga.home_agent]\naddress = \"2001:db8:1::10\"\ninterface = \"eth9\"\nanycast = [\"2001:db8:1::a\"]\n");
        assert!(
            e.contains("t.toml:4:13") && e.contains("already runs the forwarding XDP program"),
            "{e}"
        );
        assert!(
            e.contains("t.toml:8:13") && e.contains("not a forwarding [[interface]]"),
            "{e}"
        );
    }
}
