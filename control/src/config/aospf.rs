//! Validation of `[aospf]` and its `[[aospf.interface]]` entries; defaults
//! are the core's (anycast6_aospf::Config::new, InterfaceConfig::new: FRR's
//! and BIRD's).

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;
use std::time::Duration;

use super::raw::{RawAospf, RawAospfAuth, RawAospfInterface, RawAreaId, S};
use super::validate::Validator;
use super::{AospfAuth, AospfConfig, AospfInterface};
use crate::aospf::packet::auth::KeyPrep;
use crate::aospf::{self, NetworkType};

/// AOSPF prefix metrics: the 16-bit metric of an Intra-Area-Prefix-LSA.
pub const AOSPF_METRICS: RangeInclusive<i64> = 0..=65535;

/// Most a graceful restart may last (RFC 3623 §B.1: at most 1800 s).
const MAX_GRACE_S: i64 = 1800;

impl Validator<'_, '_> {
    pub(super) fn aospf(&mut self, raw: S<RawAospf>) -> AospfConfig {
        let span = raw.span();
        let r = raw.into_inner();
        let router_id = self.router_id(&r.router_id);
        let d = aospf::Config::new(router_id.unwrap_or(Ipv4Addr::UNSPECIFIED));
        let ms = |x: Duration| x.as_millis() as i64;
        let secs = |v: &mut Self, x: &Option<S<i64>>, what: &str, range: RangeInclusive<i64>| {
            x.as_ref()
                .and_then(|x| v.int(x, what, *range.start(), *range.end()))
        };
        let grace = secs(self, &r.grace_period_s, "grace_period_s", 1..=MAX_GRACE_S);
        let mut interfaces: Vec<AospfInterface> = Vec::new();
        let mut first_at: HashMap<String, u32> = HashMap::new();
        for ri in &r.interface {
            let line = self.errs.pos(&ri.span()).line;
            let Some(i) = self.aospf_interface(ri.get_ref()) else {
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
            interfaces.push(i);
        }
        if r.interface.is_empty() {
            self.errs.at(
                &span,
                "[aospf] has no interface: add [[aospf.interface]] entries",
            );
        }
        AospfConfig {
            router_id: router_id.unwrap_or(Ipv4Addr::UNSPECIFIED),
            area: r.area.as_ref().and_then(|a| self.area(a)).unwrap_or(d.area),
            instance_id: secs(self, &r.instance_id, "instance_id", 0..=255)
                .map_or(d.instance_id, |x| x as u8),
            spf_delay: self.ms(&r.spf_delay_ms, "spf_delay_ms", 0, ms(d.spf_delay)),
            spf_hold: self.ms(&r.spf_hold_ms, "spf_hold_ms", 0, ms(d.spf_hold)),
            lsa_min_interval: self.ms(
                &r.lsa_min_interval_ms,
                "lsa_min_interval_ms",
                0,
                ms(d.min_ls_interval),
            ),
            max_lsas: self.count(&r.max_lsas, "max_lsas", d.max_lsas),
            graceful_restart_helper: r
                .graceful_restart_helper
                .as_ref()
                .map_or(d.gr_helper, |v| *v.get_ref()),
            grace_period: grace.map_or(d.grace_period, |s| Duration::from_secs(s as u64)),
            interfaces,
            originate: self.originate(r.originate, (&None, ""), AOSPF_METRICS),
        }
    }

    fn router_id(&mut self, v: &S<String>) -> Option<Ipv4Addr> {
        let Ok(id) = v.get_ref().parse::<Ipv4Addr>() else {
            self.errs.at(
                &v.span(),
                format!(
                    "router_id {:?} is not a dotted quad (like \"1.1.1.1\")",
                    v.get_ref()
                ),
            );
            return None;
        };
        if id.is_unspecified() {
            self.errs
                .at(&v.span(), "router_id 0.0.0.0 is not a router id");
            return None;
        }
        Some(id)
    }

    fn area(&mut self, v: &S<RawAreaId>) -> Option<Ipv4Addr> {
        match v.get_ref() {
            RawAreaId::Number(n) => match u32::try_from(*n) {
                Ok(n) => Some(Ipv4Addr::from(n)),
                Err(_) => {
                    self.errs.at(
                        &v.span(),
                        format!("area {n} is out of range 0..={}", u32::MAX),
                    );
                    None
                }
            },
            RawAreaId::Dotted(s) => match s.parse() {
                Ok(a) => Some(a),
                Err(_) => {
                    self.errs.at(
                        &v.span(),
                        format!(
                            "area {s:?} is not a dotted quad or an integer (like \"0.0.0.0\" or 0)"
                        ),
                    );
                    None
                }
            },
        }
    }

    fn aospf_interface(&mut self, r: &RawAospfInterface) -> Option<AospfInterface> {
        let before = self.errs.list.len();
        let name = self.ifname(&r.name);
        let d = aospf::InterfaceConfig::new(0, "", Ipv6Addr::UNSPECIFIED, NetworkType::Broadcast);
        let network = r
            .network
            .as_ref()
            .and_then(|v| {
                self.choice(
                    v,
                    "network",
                    &[
                        ("broadcast", NetworkType::Broadcast),
                        ("point-to-point", NetworkType::PointToPoint),
                    ],
                )
            })
            .unwrap_or(d.network);
        let int = |v: &mut Self, x: &Option<S<i64>>, what: &str, lo: i64, hi: i64| {
            x.as_ref().and_then(|x| v.int(x, what, lo, hi))
        };
        let u16max = i64::from(u16::MAX);
        let cost = int(self, &r.cost, "cost", 1, u16max).map_or(d.cost, |x| x as u16);
        let priority = int(self, &r.priority, "priority", 0, 255).map_or(d.priority, |x| x as u8);
        let hello = int(self, &r.hello_interval_s, "hello_interval_s", 1, u16max)
            .map_or(d.hello_interval.as_secs() as i64, |x| x);
        let dead = int(self, &r.dead_interval_s, "dead_interval_s", 1, u16max)
            .unwrap_or((4 * hello).min(u16max));
        if dead <= hello {
            let at = r
                .dead_interval_s
                .as_ref()
                .or(r.hello_interval_s.as_ref())
                .map_or(r.name.span(), |v| v.span());
            self.errs.at(
                &at,
                format!("dead_interval_s {dead} must be above hello_interval_s {hello}"),
            );
        }
        let retransmit = int(
            self,
            &r.retransmit_interval_s,
            "retransmit_interval_s",
            1,
            u16max,
        )
        .map_or(d.retransmit_interval, |x| Duration::from_secs(x as u64));
        let transmit_delay = int(self, &r.transmit_delay_s, "transmit_delay_s", 1, 3600)
            .map_or(d.transmit_delay, |x| x as u16);
        let auth = r.auth.as_ref().and_then(|a| self.aospf_auth(a));
        let i = AospfInterface {
            name: name?,
            network,
            cost,
            priority,
            hello_interval: Duration::from_secs(hello as u64),
            dead_interval: Duration::from_secs(dead as u64),
            retransmit_interval: retransmit,
            transmit_delay,
            passive: r.passive.as_ref().is_some_and(|v| *v.get_ref()),
            auth,
        };
        (self.errs.list.len() == before).then_some(i)
    }

    /// `{ key_id, key | key_file, key_prep }`: the key checked as `keys`
    /// entries are (id range, secret length).
    fn aospf_auth(&mut self, a: &S<RawAospfAuth>) -> Option<AospfAuth> {
        let r = a.get_ref();
        let prep = match &r.key_prep {
            None => KeyPrep::Rfc7166,
            Some(v) => self.choice(
                v,
                "key_prep",
                &[
                    ("rfc7166", KeyPrep::Rfc7166),
                    ("frr-legacy", KeyPrep::FrrLegacy),
                ],
            )?,
        };
        let (secret, at) = match (&r.key, &r.key_file) {
            (Some(k), None) => (k.get_ref().as_bytes().to_vec(), k.span()),
            (None, Some(f)) => {
                let path = self.abs_path(f, "key_file")?;
                match std::fs::read(&path) {
                    Ok(mut b) => {
                        // A key written by `echo` ends with a newline that
                        // is not part of it.
                        while b.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
                            b.pop();
                        }
                        (b, f.span())
                    }
                    Err(e) => {
                        self.errs.at(
                            &f.span(),
                            format!("key_file {:?}: cannot read: {e}", f.get_ref()),
                        );
                        return None;
                    }
                }
            }
            _ => {
                self.errs
                    .at(&a.span(), "auth needs exactly one of `key` and `key_file`");
                return None;
            }
        };
        let key = self.key(&r.key_id, &secret, &at)?;
        Some(AospfAuth { key, prep })
    }
}
