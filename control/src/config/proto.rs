//! Validation of the protocol sections: `[ard]` (router), `[member.ard]`,
//! `[arip]`, `[aarp]`; `[aospf]` is in aospf.rs, `[piasm]` in piasm.rs.

use std::time::Duration;

use super::raw::{RawAarp, RawArdMember, RawArdRouter, RawArip, RawHealthCheck, RawKey, S};
use super::validate::Validator;
use super::{AarpConfig, ArdMemberConfig, ArdRouterConfig, AripConfig, HealthCheck, HealthProbe};
use crate::proto::auth::Key;
use crate::proto::limit::{LimitConfig, MAX_LIMIT};

/// Defaults (docs/config.md, docs/ard.md).
pub const ARD_QUERY_INTERVAL_MS: i64 = 125_000;
pub const ARD_MAX_RESPONSE_DELAY_MS: i64 = 10_000;
pub const ARD_MIN_HOLD_MS: i64 = 100;
pub const ARD_MAX_HOLD_MS: i64 = 260_000;
pub const ARD_HOLD_MS: i64 = 30_000;
pub const HEALTH_INTERVAL_MS: i64 = 1_000;
pub const AARP_LIFETIME_MS: i64 = 30_000;
pub const AARP_PREFERENCE: i64 = 100;
const MAX_MS: i64 = 3_600_000;

/// A route limit as written: the total, the per-key limit (defaulting to
/// the smaller of its default and the total), the warning percentage.
struct RawLimit<'r> {
    total: (&'r Option<S<i64>>, &'static str, usize),
    per_key: (&'r Option<S<i64>>, &'static str, usize),
    warn: (&'r Option<S<i64>>, &'static str, u8),
}

impl Validator<'_, '_> {
    pub(super) fn ms(&mut self, v: &Option<S<i64>>, what: &str, lo: i64, default: i64) -> Duration {
        let ms = v
            .as_ref()
            .and_then(|v| self.int(v, what, lo, MAX_MS))
            .unwrap_or(default);
        Duration::from_millis(ms as u64)
    }

    pub(super) fn count(&mut self, v: &Option<S<i64>>, what: &str, default: usize) -> usize {
        v.as_ref()
            .and_then(|v| self.int(v, what, 1, MAX_LIMIT as i64))
            .map_or(default, |x| x as usize)
    }

    /// A limit below the total: an explicit one above it is an error at
    /// its value; an unset one is the default, lowered to the total.
    fn count_below(
        &mut self,
        (v, what, default): (&Option<S<i64>>, &'static str, usize),
        (total, total_name): (usize, &str),
    ) -> usize {
        let n = self.count(v, what, default.min(total));
        if n > total {
            if let Some(v) = v {
                self.errs.at(
                    &v.span(),
                    format!("{what} {n} is above {total_name} {total}"),
                );
            }
            return total;
        }
        n
    }

    fn limit(&mut self, r: RawLimit) -> LimitConfig {
        let total = self.count(r.total.0, r.total.1, r.total.2);
        let per_key = self.count_below(r.per_key, (total, r.total.1));
        let (v, what, default) = r.warn;
        let warn_percent = v
            .as_ref()
            .and_then(|v| self.int(v, what, 1, 100))
            .map_or(default, |x| x as u8);
        LimitConfig::new(per_key, total, warn_percent)
    }

    fn names(&mut self, list: &S<Vec<S<String>>>, what: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if list.get_ref().is_empty() {
            self.errs
                .at(&list.span(), format!("{what} lists no interface"));
        }
        for v in list.get_ref() {
            let Some(n) = self.ifname(v) else { continue };
            if out.contains(&n) {
                self.errs
                    .at(&v.span(), format!("interface {n:?} is listed twice"));
                continue;
            }
            out.push(n);
        }
        out
    }

    /// One key: its id (0..=65535) and its secret (at least 16 bytes,
    /// written at `secret_at`).
    pub(super) fn key(
        &mut self,
        id: &S<i64>,
        secret: &[u8],
        secret_at: &std::ops::Range<usize>,
    ) -> Option<Key> {
        let id = self.int(id, "key id", 0, u16::MAX as i64)?;
        if secret.len() < 16 {
            self.errs.at(
                secret_at,
                "key secret is shorter than 16 bytes (too easy to guess)",
            );
            return None;
        }
        Some(Key::new(id as u16, secret.to_vec()))
    }

    pub(super) fn keys(&mut self, raw: &[S<RawKey>]) -> Vec<Key> {
        let mut out: Vec<Key> = Vec::new();
        for k in raw {
            let r = k.get_ref();
            let secret = r.secret.get_ref().as_bytes();
            let Some(key) = self.key(&r.id, secret, &r.secret.span()) else {
                continue;
            };
            if out.iter().any(|k| k.id == key.id) {
                self.errs
                    .at(&r.id.span(), format!("key id {} is listed twice", key.id));
                continue;
            }
            out.push(key);
        }
        out
    }

    pub(super) fn ard_router(&mut self, r: RawArdRouter) -> ArdRouterConfig {
        use crate::ard::{
            DEFAULT_ADDRESSES_WARN_PERCENT, DEFAULT_MAX_ADDRESSES,
            DEFAULT_MAX_ADDRESSES_PER_INTERFACE, DEFAULT_MAX_ADDRESSES_PER_MEMBER,
        };
        let limit = self.limit(RawLimit {
            total: (&r.max_addresses, "max_addresses", DEFAULT_MAX_ADDRESSES),
            per_key: (
                &r.max_addresses_per_member,
                "max_addresses_per_member",
                DEFAULT_MAX_ADDRESSES_PER_MEMBER,
            ),
            warn: (
                &r.addresses_warn_percent,
                "addresses_warn_percent",
                DEFAULT_ADDRESSES_WARN_PERCENT,
            ),
        });
        let max_addresses_per_interface = self.count_below(
            (
                &r.max_addresses_per_interface,
                "max_addresses_per_interface",
                DEFAULT_MAX_ADDRESSES_PER_INTERFACE,
            ),
            (limit.total, "max_addresses"),
        );
        let cfg = ArdRouterConfig {
            interfaces: self.names(&r.interfaces, "[ard] interfaces"),
            query_interval: self.ms(
                &r.query_interval_ms,
                "query_interval_ms",
                10,
                ARD_QUERY_INTERVAL_MS,
            ),
            max_response_delay: self.ms(
                &r.max_response_delay_ms,
                "max_response_delay_ms",
                1,
                ARD_MAX_RESPONSE_DELAY_MS,
            ),
            min_hold: self.ms(&r.min_hold_ms, "min_hold_ms", 10, ARD_MIN_HOLD_MS),
            max_hold: self.ms(&r.max_hold_ms, "max_hold_ms", 10, ARD_MAX_HOLD_MS),
            limit,
            max_addresses_per_interface,
            keys: self.keys(&r.keys),
        };
        if cfg.max_response_delay >= cfg.query_interval {
            let span = r
                .max_response_delay_ms
                .as_ref()
                .or(r.query_interval_ms.as_ref())
                .map_or(r.interfaces.span(), |v| v.span());
            self.errs.at(
                &span,
                format!(
                    "max_response_delay_ms {} must be below query_interval_ms {}",
                    cfg.max_response_delay.as_millis(),
                    cfg.query_interval.as_millis()
                ),
            );
        }
        if cfg.min_hold > cfg.max_hold {
            if let Some(v) = r.min_hold_ms.as_ref().or(r.max_hold_ms.as_ref()) {
                self.errs.at(&v.span(), "min_hold_ms is above max_hold_ms");
            }
        }
        cfg
    }

    pub(super) fn ard_member(&mut self, r: RawArdMember) -> ArdMemberConfig {
        let unicast = self.unicast(&r.unicast, "[member.ard] unicast");
        let hold = self.ms(&r.hold_ms, "hold_ms", 10, ARD_HOLD_MS);
        let report_interval = self.ms(
            &r.report_interval_ms,
            "report_interval_ms",
            5,
            (hold.as_millis() as i64 / 3).max(5),
        );
        if report_interval >= hold {
            let span = r
                .report_interval_ms
                .as_ref()
                .map_or(r.unicast.span(), |v| v.span());
            self.errs.at(
                &span,
                format!(
                    "report_interval_ms {} is not below hold_ms {}: routers would expire the \
                     member between reports",
                    report_interval.as_millis(),
                    hold.as_millis()
                ),
            );
        }
        ArdMemberConfig {
            interfaces: self.names(&r.interfaces, "[member.ard] interfaces"),
            unicast: unicast.unwrap_or(std::net::Ipv6Addr::UNSPECIFIED),
            metric: r
                .metric
                .as_ref()
                .and_then(|v| self.int(v, "metric", 0, 14))
                .unwrap_or(0) as u32,
            hold,
            report_interval,
            keys: self.keys(&r.keys),
            health_check: r.health_check.map(|h| self.health(h)),
        }
    }

    pub(super) fn arip(&mut self, r: RawArip) -> AripConfig {
        let d = crate::arip::Config::default();
        let ms = |x: std::time::Duration| x.as_millis() as i64;
        let update_interval = self.ms(
            &r.update_interval_ms,
            "update_interval_ms",
            10,
            ms(d.update_interval),
        );
        let cfg = AripConfig {
            interfaces: self.names(&r.interfaces, "[arip] interfaces"),
            update_interval,
            update_jitter: self.ms(
                &r.update_jitter_ms,
                "update_jitter_ms",
                0,
                ms(update_interval) / 2,
            ),
            timeout: self.ms(&r.timeout_ms, "timeout_ms", 10, ms(d.timeout)),
            garbage: self.ms(&r.garbage_ms, "garbage_ms", 10, ms(d.garbage)),
            triggered_min: self.ms(
                &r.triggered_min_ms,
                "triggered_min_ms",
                0,
                ms(d.triggered_min),
            ),
            triggered_max: self.ms(
                &r.triggered_max_ms,
                "triggered_max_ms",
                0,
                ms(d.triggered_max),
            ),
            anycast_tag: r
                .anycast_tag
                .as_ref()
                .and_then(|v| self.int(v, "anycast_tag", 1, u16::MAX as i64))
                .unwrap_or(d.anycast_tag as i64) as u16,
            check_hop_limit: r.check_hop_limit.is_none_or(|v| *v.get_ref()),
            originate: self.originate(
                r.originate,
                (&r.redistribute_connected, "redistribute_connected"),
                super::originate::ARIP_METRICS,
            ),
            limit: self.limit(RawLimit {
                total: (&r.max_routes, "max_routes", d.limit.total),
                per_key: (
                    &r.max_routes_per_neighbor,
                    "max_routes_per_neighbor",
                    d.limit.per_key,
                ),
                warn: (
                    &r.routes_warn_percent,
                    "routes_warn_percent",
                    d.limit.warn_percent,
                ),
            }),
            keys: self.keys(&r.keys),
        };
        let problem = if cfg.update_jitter >= cfg.update_interval {
            Some((
                &r.update_jitter_ms,
                "update_jitter_ms must be below update_interval_ms",
            ))
        } else if cfg.timeout <= cfg.update_interval {
            Some((&r.timeout_ms, "timeout_ms must be above update_interval_ms"))
        } else if cfg.triggered_min > cfg.triggered_max {
            Some((
                &r.triggered_min_ms,
                "triggered_min_ms is above triggered_max_ms",
            ))
        } else {
            None
        };
        if let Some((v, msg)) = problem {
            let span = v.as_ref().map_or(r.interfaces.span(), |v| v.span());
            self.errs.at(&span, msg);
        }
        cfg
    }

    pub(super) fn aarp(&mut self, r: RawAarp) -> AarpConfig {
        AarpConfig {
            answer_for_members: r.answer_for_members.is_some_and(|v| *v.get_ref()),
            unicast: r
                .unicast
                .as_ref()
                .and_then(|v| self.unicast(v, "[aarp] unicast")),
            lifetime: self.ms(&r.lifetime_ms, "lifetime_ms", 0, AARP_LIFETIME_MS),
            preference: r
                .preference
                .as_ref()
                .and_then(|v| self.int(v, "preference", 0, u16::MAX as i64))
                .unwrap_or(AARP_PREFERENCE) as u16,
            keys: self.keys(&r.keys),
        }
    }

    pub(super) fn health(&mut self, h: S<RawHealthCheck>) -> HealthCheck {
        let span = h.span();
        let h = h.into_inner();
        let probe = match (&h.command, &h.tcp) {
            (Some(c), None) => HealthProbe::Command(c.get_ref().clone()),
            (None, Some(t)) => match t.get_ref().parse() {
                Ok(a) => HealthProbe::Tcp(a),
                Err(_) => {
                    self.errs.at(
                        &t.span(),
                        format!(
                            "tcp {:?} is not an address:port (like \"[::1]:80\")",
                            t.get_ref()
                        ),
                    );
                    HealthProbe::Command("true".into())
                }
            },
            _ => {
                self.errs.at(
                    &span,
                    "health_check needs exactly one of `command` and `tcp`",
                );
                HealthProbe::Command("true".into())
            }
        };
        let interval = self.ms(&h.interval_ms, "interval_ms", 10, HEALTH_INTERVAL_MS);
        let timeout = self.ms(&h.timeout_ms, "timeout_ms", 10, interval.as_millis() as i64);
        HealthCheck {
            probe,
            interval,
            timeout,
        }
    }
}
