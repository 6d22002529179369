//! Validation of `[piasm]` and its `[[piasm.interface]]` and
//! `[[piasm.anycast]]` entries (docs/piasm.md §5–§10); defaults are the
//! core's (anycast6_piasm::Config::new, InterfaceConfig::new).
//!
//! Beyond each value, the checks an operator expects across them: a core
//! address is owned by a router or not (`core_here` agrees for every
//! address using it), the router address is this router's alone, and no
//! core or peer is an anycast address PIA-SM serves itself.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use super::member::not_unicast;
use super::raw::{RawPiasm, RawPiasmAnycast, RawPiasmInterface, S};
use super::validate::Validator;
use super::{PiasmAnycast, PiasmConfig, PiasmInterface};
use crate::piasm;

/// Longest Hello or join period: 3.5 periods (its Holdtime) still fit the
/// 16-bit Holdtime in seconds.
pub const MAX_PERIOD_S: i64 = 18_000;
/// Most `max_branches`.
pub const MAX_BRANCHES: i64 = 65_535;

/// Why `a` cannot be a router address or a core address (docs/piasm.md
/// §1.1: global unicast), if it cannot. Unique local addresses are global
/// in scope (RFC 4193 §3), so they may.
fn not_global(a: Ipv6Addr) -> Option<&'static str> {
    if let Some(why) = not_unicast(a) {
        Some(why)
    } else if a.is_loopback() {
        Some("the loopback address ::1 is not a global unicast address")
    } else if a.is_unicast_link_local() {
        Some("a link-local address (fe80::/10) is not a global unicast address")
    } else if a.to_ipv4_mapped().is_some() {
        Some("an IPv4-mapped address (::ffff:0:0/96) is not a global unicast address")
    } else {
        None
    }
}

/// A validated `[[piasm.anycast]]` with where it was written, for the
/// checks across entries.
struct Written<'r> {
    a: PiasmAnycast,
    raw: &'r RawPiasmAnycast,
    line: u32,
}

impl Validator<'_, '_> {
    pub(super) fn piasm(&mut self, r: RawPiasm) -> PiasmConfig {
        // What the section lacks is reported at its one required key.
        let span = r.router_address.span();
        let d = piasm::Config::new(Ipv6Addr::UNSPECIFIED);
        let router = self.global_unicast(&r.router_address, "router_address");
        let period = |v: &mut Self, x: &Option<S<i64>>, what: &str, default: Duration| {
            x.as_ref()
                .and_then(|x| v.int(x, what, 1, MAX_PERIOD_S))
                .map_or(default, |s| Duration::from_secs(s as u64))
        };
        let hello_interval = period(
            self,
            &r.hello_interval_s,
            "hello_interval_s",
            d.hello_interval,
        );
        let join_interval = period(self, &r.join_interval_s, "join_interval_s", d.join_interval);
        let max_branches = r
            .max_branches
            .as_ref()
            .and_then(|v| self.int(v, "max_branches", 1, MAX_BRANCHES))
            .map_or(d.max_branches, |x| x as usize);
        let keys = self.keys(&r.keys);
        let interfaces = self.piasm_interfaces(&r.interface);
        if r.interface.is_empty() {
            self.errs.at(
                &span,
                "[piasm] has no interface: add [[piasm.interface]] entries",
            );
        }
        let anycast = self.piasm_anycasts(&r.anycast, router);
        if r.anycast.is_empty() {
            self.errs.at(
                &span,
                "[piasm] has no anycast address: add [[piasm.anycast]] entries",
            );
        }
        PiasmConfig {
            router_address: router.unwrap_or(Ipv6Addr::UNSPECIFIED),
            hello_interval,
            join_interval,
            max_branches,
            keys,
            interfaces,
            anycast,
        }
    }

    fn global_unicast(&mut self, v: &S<String>, what: &str) -> Option<Ipv6Addr> {
        let a = self.addr(v, what)?;
        if let Some(why) = not_global(a) {
            self.errs.at(&v.span(), format!("{what} {a}: {why}"));
            return None;
        }
        Some(a)
    }

    fn piasm_interfaces(&mut self, raw: &[S<RawPiasmInterface>]) -> Vec<PiasmInterface> {
        let mut out: Vec<PiasmInterface> = Vec::new();
        let mut first_at: HashMap<String, u32> = HashMap::new();
        for ri in raw {
            let line = self.errs.pos(&ri.span()).line;
            let Some(i) = self.piasm_interface(ri.get_ref()) else {
                continue;
            };
            if let Some(first) = first_at.get(&i.name) {
                self.errs.at(
                    &ri.get_ref().name.span(),
                    format!(
                        "interface {:?} is listed twice (first at line {first})",
                        i.name
                    ),
                );
                continue;
            }
            first_at.insert(i.name.clone(), line);
            out.push(i);
        }
        out
    }

    fn piasm_interface(&mut self, r: &RawPiasmInterface) -> Option<PiasmInterface> {
        let before = self.errs.list.len();
        let d = piasm::InterfaceConfig::new(0, "", Ipv6Addr::UNSPECIFIED);
        let name = self.ifname(&r.name);
        let dr_priority = r
            .dr_priority
            .as_ref()
            .and_then(|v| self.int(v, "dr_priority", 0, i64::from(u32::MAX)))
            .map_or(d.dr_priority, |x| x as u32);
        let keys = self.keys(&r.keys);
        let i = PiasmInterface {
            name: name?,
            dr_priority,
            keys,
        };
        (self.errs.list.len() == before).then_some(i)
    }

    fn piasm_anycasts(
        &mut self,
        raw: &[S<RawPiasmAnycast>],
        router: Option<Ipv6Addr>,
    ) -> Vec<PiasmAnycast> {
        let mut written: Vec<Written> = Vec::new();
        let mut first_at: HashMap<Ipv6Addr, u32> = HashMap::new();
        for ra in raw {
            let line = self.errs.pos(&ra.span()).line;
            let r = ra.get_ref();
            let Some(a) = self.piasm_anycast(r, router) else {
                continue;
            };
            match first_at.entry(a.address) {
                Entry::Occupied(e) => {
                    self.errs.at(
                        &r.address.span(),
                        format!(
                            "anycast {} is listed twice (first at line {})",
                            a.address,
                            e.get()
                        ),
                    );
                    continue;
                }
                Entry::Vacant(e) => {
                    e.insert(line);
                }
            }
            written.push(Written { a, raw: r, line });
        }
        self.piasm_across(&written, &first_at);
        written.into_iter().map(|w| w.a).collect()
    }

    /// What no single entry shows: a core or peer that is one of the
    /// anycast addresses, a core address owned for one address and not
    /// for another.
    fn piasm_across(&mut self, written: &[Written], anycast_at: &HashMap<Ipv6Addr, u32>) {
        let mut owned: HashMap<Ipv6Addr, (bool, u32)> = HashMap::new();
        for w in written {
            let (a, r) = (&w.a, w.raw);
            if let Some(line) = anycast_at.get(&a.core).filter(|_| a.core != a.address) {
                self.errs.at(
                    &r.core.span(),
                    format!(
                        "core {} is the anycast address of the [[piasm.anycast]] at line {line}: a core \
                         address is a unicast address of the cores",
                        a.core
                    ),
                );
            }
            for p in r.peers.iter().flat_map(|l| l.get_ref()) {
                let Ok(pa) = p.get_ref().parse::<Ipv6Addr>() else {
                    continue;
                };
                if let Some(line) = anycast_at.get(&pa) {
                    self.errs.at(
                        &p.span(),
                        format!(
                            "peer {pa} is the anycast address of the [[piasm.anycast]] at line \
                             {line}: peers are the other cores' router addresses"
                        ),
                    );
                }
            }
            match owned.entry(a.core) {
                Entry::Vacant(e) => {
                    e.insert((a.core_here, w.line));
                }
                Entry::Occupied(e) => {
                    let (here, line) = *e.get();
                    if here != a.core_here {
                        let at = r.core_here.as_ref().map_or(r.core.span(), |v| v.span());
                        self.errs.at(
                            &at,
                            format!(
                                "core_here = {} contradicts core_here = {here} for the same core {} \
                                 at line {line} (a router owns a core address or not)",
                                a.core_here, a.core
                            ),
                        );
                    }
                }
            }
        }
    }

    fn piasm_anycast(
        &mut self,
        r: &RawPiasmAnycast,
        router: Option<Ipv6Addr>,
    ) -> Option<PiasmAnycast> {
        let before = self.errs.list.len();
        let address = self.anycast_addr(&r.address, "address");
        let core = self.global_unicast(&r.core, "core");
        let core_here = r.core_here.as_ref().is_some_and(|v| *v.get_ref());
        let shortcut = r.shortcut.as_ref().is_some_and(|v| *v.get_ref());
        if let Some(v) = r.shortcut.as_ref().filter(|_| shortcut && core_here) {
            self.errs.at(
                &v.span(),
                "shortcut is for ingress routers, not with core_here = true (a core has the \
                 branches itself)",
            );
        }
        let peers = self.piasm_peers(r, core_here, core, router);
        if let (Some(a), Some(c)) = (address, core) {
            if a == c {
                self.errs.at(
                    &r.core.span(),
                    format!("core {c} is the anycast address itself: joins need a core address of their own"),
                );
            }
        }
        if let (Some(a), Some(me)) = (address, router) {
            if a == me {
                self.errs.at(
                    &r.address.span(),
                    format!(
                        "address {a} is [piasm] router_address: an anycast address is not one \
                         router's own"
                    ),
                );
            }
        }
        if let (Some(c), Some(me)) = (core, router) {
            if c == me && !core_here {
                self.errs.at(
                    &r.core.span(),
                    format!(
                        "core {c} is [piasm] router_address, but core_here is false: this router \
                         owns that address, so set core_here = true or name the core's address"
                    ),
                );
            } else if c == me && !peers.is_empty() {
                self.errs.at(
                    &r.core.span(),
                    format!(
                        "core {c} is [piasm] router_address, but the peers share the core address: \
                         a router address is one router's alone"
                    ),
                );
            }
        }
        let a = PiasmAnycast {
            address: address?,
            core: core?,
            core_here,
            peers,
            shortcut,
        };
        (self.errs.list.len() == before).then_some(a)
    }

    fn piasm_peers(
        &mut self,
        r: &RawPiasmAnycast,
        core_here: bool,
        core: Option<Ipv6Addr>,
        router: Option<Ipv6Addr>,
    ) -> Vec<Ipv6Addr> {
        let Some(list) = &r.peers else {
            return Vec::new();
        };
        if !core_here && !list.get_ref().is_empty() {
            self.errs.at(
                &list.span(),
                "peers are the other cores of this address: only with core_here = true",
            );
            return Vec::new();
        }
        let mut out: Vec<Ipv6Addr> = Vec::new();
        for v in list.get_ref() {
            let Some(p) = self.global_unicast(v, "peer") else {
                continue;
            };
            let problem = if Some(p) == router {
                Some(format!(
                    "peer {p} is [piasm] router_address: peers are the other cores"
                ))
            } else if Some(p) == core {
                Some(format!(
                    "peer {p} is the core address: peers are the other cores' router addresses"
                ))
            } else if out.contains(&p) {
                Some(format!("peer {p} is listed twice"))
            } else {
                None
            };
            match problem {
                Some(m) => self.errs.at(&v.span(), m),
                None => out.push(p),
            }
        }
        out
    }
}
