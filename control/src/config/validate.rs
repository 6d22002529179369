//! Raw config → validated [`Config`], collecting every error with its span.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv6Addr;
use std::ops::Range;
use std::path::PathBuf;

use anycast6_dataplane::abi::MAX_MEMBERS;
use anycast6_dataplane::loader::Capacities;
use anycast6_dataplane::{Action, AttachMode, Route};
use ipnetwork::Ipv6Network;

use super::error::{ConfigErrors, Errors, Pos};
use super::member::{check_member, not_unicast, MemberField};
use super::raw::*;
use super::*;

pub fn parse(file: &str, text: &str) -> Result<Config, ConfigErrors> {
    let mut errs = Errors::new(file, text);
    let raw: RawConfig = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let pos = e
                .span()
                .map(|s| errs.pos(&s))
                .unwrap_or(Pos { line: 1, col: 1 });
            errs.at_pos(pos, one_line(e.message()));
            return Err(errs.finish().unwrap_err());
        }
    };
    let mut cfg = Validator { errs: &mut errs }.config(file, raw);
    cfg.text = text.to_string();
    errs.finish().map(|()| cfg)
}

pub(super) struct Validator<'e, 'a> {
    pub(super) errs: &'e mut Errors<'a>,
}

impl Validator<'_, '_> {
    fn config(&mut self, file: &str, raw: RawConfig) -> Config {
        let daemon = raw
            .daemon
            .map(|d| self.daemon(d.into_inner()))
            .unwrap_or_default();
        let capacities = raw
            .capacities
            .map(|c| self.capacities(c.into_inner()))
            .unwrap_or_default();
        let interfaces = self.interfaces(&raw.interface);
        let member_role = raw.member.map(|m| self.member_role(m, &interfaces));
        let ard = raw.ard.map(|a| self.ard_router(a.into_inner()));
        let arip = raw.arip.map(|a| self.arip(a.into_inner()));
        let aarp = raw.aarp.map(|a| self.aarp(a.into_inner()));
        let aospf = raw.aospf.map(|a| self.aospf(a));
        let piasm = raw.piasm.map(|p| self.piasm(p));
        let mga = raw
            .mga
            .map(|m| self.mga(m, member_role.as_ref(), &interfaces));
        let distances = raw
            .rib
            .and_then(|r| r.distance)
            .map(|d| self.distances(d))
            .unwrap_or_default();
        let kernel_import = raw.kernel_import.map(|k| self.kernel_import(k));
        let metrics = raw.metrics.and_then(|m| self.metrics(m.into_inner()));
        let groups = self.groups(raw.group, &interfaces, daemon.router_address);
        self.totals(&groups, &capacities);
        Config {
            file: file.to_string(),
            daemon,
            capacities,
            interfaces,
            groups,
            member_role,
            ard,
            arip,
            aarp,
            aospf,
            piasm,
            mga,
            distances,
            kernel_import,
            text: String::new(),
            metrics,
        }
    }

    /// `[rib.distance]`: every source keeps its default unless named.
    fn distances(&mut self, r: RawDistances) -> crate::proto::Distances {
        use crate::proto::Source;
        let mut d = crate::proto::Distances::default();
        for (src, v) in [
            (Source::Config, &r.config),
            (Source::Runtime, &r.runtime),
            (Source::Ard, &r.ard),
            (Source::Arip, &r.arip),
            (Source::Aospf, &r.aospf),
            (Source::PiaSm, &r.pia_sm),
            (Source::Mga, &r.mga),
            (Source::Kernel, &r.kernel),
        ] {
            let what = format!("rib.distance.{}", src.as_str());
            if let Some(x) = v.as_ref().and_then(|v| self.int(v, &what, 1, 255)) {
                d.set(src, x as u8);
            }
        }
        d
    }

    // ---- value helpers: report at the value's span, return None when wrong.

    pub(super) fn addr(&mut self, v: &S<String>, what: &str) -> Option<Ipv6Addr> {
        match v.get_ref().parse::<Ipv6Addr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.errs.at(
                    &v.span(),
                    format!("{what}: {:?} is not an IPv6 address", v.get_ref()),
                );
                None
            }
        }
    }

    pub(super) fn unicast(&mut self, v: &S<String>, what: &str) -> Option<Ipv6Addr> {
        let a = self.addr(v, what)?;
        if let Some(why) = not_unicast(a) {
            self.errs.at(&v.span(), format!("{what} {a}: {why}"));
            return None;
        }
        Some(a)
    }

    pub(super) fn int(&mut self, v: &S<i64>, what: &str, lo: i64, hi: i64) -> Option<i64> {
        let x = *v.get_ref();
        if x < lo || x > hi {
            self.errs
                .at(&v.span(), format!("{what} {x} is out of range {lo}..={hi}"));
            return None;
        }
        Some(x)
    }

    pub(super) fn abs_path(&mut self, v: &S<String>, what: &str) -> Option<PathBuf> {
        let p = PathBuf::from(v.get_ref());
        if !p.is_absolute() {
            self.errs.at(
                &v.span(),
                format!("{what} {:?} must be an absolute path", v.get_ref()),
            );
            return None;
        }
        Some(p)
    }

    pub(super) fn ifname(&mut self, v: &S<String>) -> Option<String> {
        let n = v.get_ref();
        let bad = n.is_empty()
            || n.len() > MAX_IFNAME
            || n == "."
            || n == ".."
            || n.chars()
                .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
        if bad {
            self.errs.at(
                &v.span(),
                format!("{n:?} is not a valid interface name (1..={MAX_IFNAME} bytes, no '/', ':' or spaces)"),
            );
            return None;
        }
        Some(n.clone())
    }

    /// One of the names in `choices`, or an error at the value listing
    /// them.
    pub(super) fn choice<T: Copy>(
        &mut self,
        v: &S<String>,
        what: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        let given = v.get_ref();
        if let Some((_, x)) = choices.iter().find(|(n, _)| n == given) {
            return Some(*x);
        }
        let names: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
        self.errs.at(
            &v.span(),
            format!("{what} {given:?} is not one of {}", names.join(", ")),
        );
        None
    }

    fn xdp_mode(&mut self, v: &S<String>) -> Option<AttachMode> {
        self.choice(
            v,
            "xdp_mode",
            &[
                ("native", AttachMode::Native),
                ("generic", AttachMode::Generic),
                ("native-or-generic", AttachMode::NativeOrGeneric),
            ],
        )
    }

    fn iface_mode(&mut self, v: &S<String>) -> Option<IfaceMode> {
        self.choice(
            v,
            "mode",
            &[("xdp", IfaceMode::Xdp), ("afxdp", IfaceMode::Afxdp)],
        )
    }

    // ---- sections

    fn daemon(&mut self, d: RawDaemon) -> DaemonConfig {
        let mut c = DaemonConfig::default();
        if let Some(p) = d.socket.as_ref().and_then(|v| self.abs_path(v, "socket")) {
            c.socket = p;
        }
        if let Some(p) = d.pin_dir.as_ref().and_then(|v| self.abs_path(v, "pin_dir")) {
            c.pin_dir = p;
        }
        if let Some(p) = d
            .state_file
            .as_ref()
            .and_then(|v| self.abs_path(v, "state_file"))
        {
            c.state_file = p;
        }
        c.router_address = d
            .router_address
            .as_ref()
            .and_then(|v| self.unicast(v, "router_address"));
        if let Some(x) = d
            .hash_seed
            .as_ref()
            .and_then(|v| self.int(v, "hash_seed", 0, u32::MAX as i64))
        {
            c.hash_seed = x as u32;
        }
        if let Some(x) = d
            .ptb_per_sec
            .as_ref()
            .and_then(|v| self.int(v, "ptb_per_sec", 1, 1_000_000))
        {
            c.ptb_per_sec = x as u32;
        }
        c
    }

    fn capacities(&mut self, r: RawCapacities) -> Capacities {
        let mut c = Capacities::default();
        let fields: [(&Option<S<i64>>, &str, &mut u32); 7] = [
            (&r.fib_entries, "fib_entries", &mut c.fib_entries),
            (&r.prefix_entries, "prefix_entries", &mut c.prefix_entries),
            (&r.groups, "groups", &mut c.groups),
            (&r.maglev_blocks, "maglev_blocks", &mut c.maglev_blocks),
            (
                &r.affinity_entries,
                "affinity_entries",
                &mut c.affinity_entries,
            ),
            (&r.tx_ports, "tx_ports", &mut c.tx_ports),
            (&r.member_ids, "member_ids", &mut c.member_ids),
        ];
        for (v, name, slot) in fields {
            if let Some(v) = v {
                let x = *v.get_ref();
                if x < 1 || x > MAX_CAPACITY as i64 {
                    self.errs.at(
                        &v.span(),
                        format!("capacities.{name} {x} is out of range 1..={MAX_CAPACITY}"),
                    );
                } else {
                    *slot = x as u32;
                }
            }
        }
        c
    }

    fn interfaces(&mut self, raw: &[S<RawInterface>]) -> Vec<InterfaceConfig> {
        let mut out: Vec<InterfaceConfig> = Vec::new();
        for ri in raw {
            let r = ri.get_ref();
            let Some(name) = self.ifname(&r.name) else {
                continue;
            };
            let pos = self.errs.pos(&r.name.span());
            if let Some(prev) = out.iter().find(|i| i.name == name) {
                let at = prev.pos;
                self.errs.at(
                    &r.name.span(),
                    format!(
                        "interface {name:?} is listed twice (first at line {})",
                        at.line
                    ),
                );
                continue;
            }
            let xdp_mode = r
                .xdp_mode
                .as_ref()
                .and_then(|m| self.xdp_mode(m))
                .unwrap_or(AttachMode::NativeOrGeneric);
            let mode = r
                .mode
                .as_ref()
                .and_then(|m| self.iface_mode(m))
                .unwrap_or_default();
            out.push(InterfaceConfig {
                name,
                xdp_mode,
                mode,
                pos,
            });
        }
        out
    }

    fn member_role(&mut self, raw: S<RawMemberRole>, fwd: &[InterfaceConfig]) -> MemberRoleConfig {
        let r = raw.into_inner();
        let mut role = MemberRoleConfig {
            draining: r.draining.is_some_and(|v| *v.get_ref()),
            ard: r.ard.map(|a| self.ard_member(a.into_inner())),
            ..MemberRoleConfig::default()
        };
        let mut seen: HashMap<Ipv6Addr, Pos> = HashMap::new();
        for v in &r.addresses {
            let Some(a) = self.unicast(v, "member address") else {
                continue;
            };
            if let Some(first) = seen.get(&a) {
                let line = first.line;
                self.errs.at(
                    &v.span(),
                    format!("address {a} is listed twice (first at line {line})"),
                );
                continue;
            }
            seen.insert(a, self.errs.pos(&v.span()));
            role.addresses.push(a);
        }
        for v in &r.decap_interfaces {
            let Some(name) = self.ifname(v) else { continue };
            if role.decap_interfaces.iter().any(|i| i.name == name) {
                self.errs.at(
                    &v.span(),
                    format!("decap interface {name:?} is listed twice"),
                );
                continue;
            }
            if fwd.iter().any(|i| i.name == name) {
                self.errs.at(
                    &v.span(),
                    format!(
                        "interface {name:?} is both a forwarding [[interface]] and a decap interface: \
                         an interface runs one XDP program"
                    ),
                );
                continue;
            }
            let pos = self.errs.pos(&v.span());
            role.decap_interfaces.push(InterfaceConfig {
                name,
                xdp_mode: AttachMode::NativeOrGeneric,
                mode: IfaceMode::Xdp,
                pos,
            });
        }
        role
    }

    fn groups(
        &mut self,
        raw: Vec<S<RawGroup>>,
        interfaces: &[InterfaceConfig],
        router_address: Option<Ipv6Addr>,
    ) -> Vec<GroupConfig> {
        let mut out: Vec<GroupConfig> = Vec::new();
        // Every route of every group, with where it was first given.
        let mut seen: HashMap<Route, Range<usize>> = HashMap::new();
        for rg in raw {
            let gspan = rg.span();
            let g = rg.into_inner();
            let routes = self.group_routes(&gspan, &g);
            let members = self.members(&g.member, interfaces, router_address);
            let Some(routes) = routes else { continue };
            let pos = self.errs.pos(&gspan);
            let mut fresh = Vec::with_capacity(routes.len());
            for (route, span) in routes {
                match seen.entry(route) {
                    Entry::Occupied(e) => {
                        let line = self.errs.pos(e.get()).line;
                        self.errs.at(
                            &span,
                            format!("anycast {route} is already in a group (line {line})"),
                        );
                    }
                    Entry::Vacant(e) => {
                        e.insert(span);
                        fresh.push(route);
                    }
                }
            }
            let mut fresh = fresh.into_iter();
            let Some(route) = fresh.next() else { continue };
            out.push(GroupConfig {
                route,
                also: fresh.collect::<Vec<_>>().into(),
                members,
                pos,
            });
        }
        out
    }

    /// The routes of a group with the span of each, or None after an error.
    fn group_routes(
        &mut self,
        gspan: &Range<usize>,
        g: &RawGroup,
    ) -> Option<Vec<(Route, Range<usize>)>> {
        let given = [
            g.address.as_ref().map(|a| a.span()),
            g.addresses.as_ref().map(|a| a.span()),
            g.prefix.as_ref().map(|p| p.span()),
        ];
        let mut given = given.into_iter().flatten();
        if given.next().is_none() {
            self.errs.at(
                gspan,
                "a group needs `address` (a /128 anycast address), `addresses` (several, \
                 sharing the members) or `prefix`",
            );
            return None;
        }
        if let Some(second) = given.next() {
            self.errs.at(
                &second,
                "a group has one of `address`, `addresses` and `prefix`, not several",
            );
            return None;
        }
        if let Some(a) = &g.address {
            let addr = self.anycast_addr(a, "group address")?;
            return Some(vec![(Route::Host(addr), a.span())]);
        }
        if let Some(list) = &g.addresses {
            if list.get_ref().is_empty() {
                self.errs.at(&list.span(), "`addresses` lists no address");
                return None;
            }
            let before = self.errs.list.len();
            let mut routes = Vec::with_capacity(list.get_ref().len());
            for a in list.get_ref() {
                if let Some(addr) = self.anycast_addr(a, "group address") {
                    routes.push((Route::Host(addr), a.span()));
                }
            }
            return (self.errs.list.len() == before).then_some(routes);
        }
        let p = g.prefix.as_ref()?;
        self.anycast_prefix(p).map(|r| vec![(r, p.span())])
    }

    /// An anycast address (`what` names it in errors).
    pub(super) fn anycast_addr(&mut self, a: &S<String>, what: &str) -> Option<Ipv6Addr> {
        let addr = self.addr(a, what)?;
        if addr.is_unspecified() || addr.is_multicast() || addr.is_loopback() {
            self.errs.at(
                &a.span(),
                format!("{what} {addr} cannot be an anycast address"),
            );
            return None;
        }
        Some(addr)
    }

    fn anycast_prefix(&mut self, p: &S<String>) -> Option<Route> {
        let n: Ipv6Network = match p.get_ref().parse() {
            Ok(n) => n,
            Err(_) => {
                self.errs.at(
                    &p.span(),
                    format!(
                        "prefix {:?} is not an IPv6 prefix (like 2001:db8::/64)",
                        p.get_ref()
                    ),
                );
                return None;
            }
        };
        if !p.get_ref().contains('/') {
            self.errs.at(
                &p.span(),
                format!(
                    "prefix {:?} needs a length (/N); for one address use `address`",
                    p.get_ref()
                ),
            );
            return None;
        }
        if n.ip() != n.network() {
            self.errs.at(
                &p.span(),
                format!(
                    "prefix {n} has host bits set (did you mean {}/{}?)",
                    n.network(),
                    n.prefix()
                ),
            );
            return None;
        }
        if n.prefix() == 0 || n.network().is_multicast() {
            self.errs
                .at(&p.span(), format!("prefix {n} cannot be an anycast prefix"));
            return None;
        }
        Some(Route::from_network(n))
    }

    fn members(
        &mut self,
        raw: &[S<RawMember>],
        interfaces: &[InterfaceConfig],
        router_address: Option<Ipv6Addr>,
    ) -> Vec<MemberConfig> {
        let mut out: Vec<MemberConfig> = Vec::new();
        let mut per_distance: BTreeMap<u32, usize> = BTreeMap::new();
        let mut first_at: HashMap<(Ipv6Addr, Option<String>), u32> = HashMap::new();
        for rm in raw {
            let mspan = rm.span();
            let r = rm.get_ref();
            let Some(m) = self.member(r, interfaces, router_address) else {
                continue;
            };
            let key = (m.address, m.interface.clone());
            if let Some(line) = first_at.get(&key) {
                self.errs.at(
                    &r.address.span(),
                    format!(
                        "member {} on {} is listed twice in this group (first at line {line})",
                        m.address,
                        m.interface.as_deref().unwrap_or("(route lookup)")
                    ),
                );
                continue;
            }
            first_at.insert(key, self.errs.pos(&mspan).line);
            let n = per_distance.entry(m.distance).or_default();
            *n += 1;
            if *n == MAX_MEMBERS + 1 {
                self.errs.at(
                    &mspan,
                    format!(
                        "more than {MAX_MEMBERS} members at distance {} in this group: one FIB group holds at most \
                         {MAX_MEMBERS} members at the best distance",
                        m.distance
                    ),
                );
            }
            out.push(m);
        }
        out
    }

    fn member(
        &mut self,
        r: &RawMember,
        interfaces: &[InterfaceConfig],
        router_address: Option<Ipv6Addr>,
    ) -> Option<MemberConfig> {
        let before = self.errs.list.len();
        let address = self.addr(&r.address, "member address");
        let interface = r.interface.as_ref().and_then(|v| self.ifname(v));
        let next_hop = r.next_hop.as_ref().and_then(|v| self.addr(v, "next_hop"));
        let distance = r
            .distance
            .as_ref()
            .and_then(|v| self.int(v, "distance", 1, MAX_DISTANCE as i64))
            .map_or(DEFAULT_DISTANCE, |x| x as u32);
        let weight = r
            .weight
            .as_ref()
            .and_then(|v| self.int(v, "weight", 1, u16::MAX as i64))
            .map_or(DEFAULT_WEIGHT, |x| x as u16);
        let action = match &r.action {
            None => Action::Rewrite,
            Some(v) => match v.get_ref().as_str() {
                "rewrite" => Action::Rewrite,
                "encap" => Action::Encap,
                "local" => Action::Local,
                other => {
                    self.errs.at(
                        &v.span(),
                        format!("action {other:?} is not one of \"rewrite\", \"encap\", \"local\""),
                    );
                    Action::Rewrite
                }
            },
        };
        let encap_source = r
            .encap_source
            .as_ref()
            .and_then(|v| self.addr(v, "encap_source"));
        let state = match &r.state {
            None => AdminState::Active,
            Some(v) => match v.get_ref().as_str() {
                "active" => AdminState::Active,
                "draining" => AdminState::Draining,
                other => {
                    self.errs.at(
                        &v.span(),
                        format!("state {other:?} is not one of \"active\", \"draining\""),
                    );
                    AdminState::Active
                }
            },
        };
        let m = MemberConfig {
            address: address?,
            interface: if r.interface.is_some() {
                Some(interface?)
            } else {
                None
            },
            next_hop: if r.next_hop.is_some() {
                Some(next_hop?)
            } else {
                None
            },
            distance,
            weight,
            action,
            encap_source: if r.encap_source.is_some() {
                Some(encap_source?)
            } else {
                None
            },
            state,
        };
        for p in check_member(&m, interfaces, router_address) {
            let span = match p.field {
                MemberField::Address => r.address.span(),
                MemberField::Interface => {
                    r.interface.as_ref().map_or(r.address.span(), |v| v.span())
                }
                MemberField::NextHop => r.next_hop.as_ref().map_or(r.address.span(), |v| v.span()),
                MemberField::Distance => r.distance.as_ref().map_or(r.address.span(), |v| v.span()),
                MemberField::Weight => r.weight.as_ref().map_or(r.address.span(), |v| v.span()),
                MemberField::Action => r.action.as_ref().map_or(r.address.span(), |v| v.span()),
                MemberField::EncapSource => r
                    .encap_source
                    .as_ref()
                    .map_or(r.address.span(), |v| v.span()),
                MemberField::Member => r.address.span(),
            };
            self.errs.at(&span, p.message);
        }
        (self.errs.list.len() == before).then_some(m)
    }

    fn totals(&mut self, groups: &[GroupConfig], caps: &Capacities) {
        let hosts: usize = groups
            .iter()
            .map(|g| usize::from(matches!(g.route, Route::Host(_))) + g.also.len())
            .sum();
        let prefixes = groups
            .iter()
            .filter(|g| !matches!(g.route, Route::Host(_)))
            .count();
        let members: usize = groups.iter().map(|g| g.members.len()).sum();
        let checks = [
            (groups.len(), caps.groups, "groups", "capacities.groups"),
            (
                hosts,
                caps.fib_entries,
                "anycast addresses",
                "capacities.fib_entries",
            ),
            (
                prefixes,
                caps.prefix_entries,
                "anycast prefixes",
                "capacities.prefix_entries",
            ),
            (members, caps.member_ids, "members", "capacities.member_ids"),
        ];
        for (n, cap, what, key) in checks {
            if n > cap as usize {
                let pos = groups.last().map_or(Pos { line: 1, col: 1 }, |g| g.pos);
                self.errs
                    .at_pos(pos, format!("{n} {what} do not fit: {key} is {cap}"));
            }
        }
    }
}

/// toml's messages can span lines ("invalid string\nexpected `\"`"): one
/// error, one line.
fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
