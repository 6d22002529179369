//! Validation of `[kernel_import]`: which kernel routes become members.

use std::collections::BTreeSet;
use std::time::Duration;

use ipnetwork::Ipv6Network;

use super::raw::{RawKernelImport, RawNameOrNumber, S};
use super::validate::Validator;
use super::KernelImportConfig;
use crate::kernel_import::{protocol_name, ImportConfig, MAIN_TABLE, PROTOCOL_NAMES};
use crate::proto::limit::{LimitConfig, MAX_LIMIT};
use crate::KERNEL_PROTO;

/// Defaults (docs/config.md).
pub const KERNEL_IMPORT_MAX_ROUTES: usize = 4096;
pub const KERNEL_IMPORT_WARN_PERCENT: u8 = 75;
pub const KERNEL_IMPORT_SETTLE_MS: i64 = 200;
const MAX_SETTLE_MS: i64 = 10_000;

/// Table names as iproute2 spells them (/etc/iproute2/rt_tables).
const TABLE_NAMES: &[(&str, u32)] = &[("default", 253), ("main", 254), ("local", 255)];

impl Validator<'_, '_> {
    pub(super) fn kernel_import(&mut self, raw: S<RawKernelImport>) -> KernelImportConfig {
        let r = raw.into_inner();
        let mut protocols = BTreeSet::new();
        if r.protocols.get_ref().is_empty() {
            self.errs.at(
                &r.protocols.span(),
                "[kernel_import] protocols lists no protocol (like [\"bird\"] or [\"zebra\", \"bgp\"])",
            );
        }
        for v in r.protocols.get_ref() {
            let Some(p) = self.route_protocol(v) else {
                continue;
            };
            if !protocols.insert(p) {
                self.errs
                    .at(&v.span(), format!("protocol {} is listed twice", named(p)));
            }
        }
        let table = r
            .table
            .as_ref()
            .and_then(|t| self.table(t))
            .unwrap_or(MAIN_TABLE);
        let mut prefixes: Vec<Ipv6Network> = Vec::new();
        for v in r.prefixes.as_ref().map_or(&[][..], |p| p.get_ref()) {
            let Some(n) = self.import_prefix(v) else {
                continue;
            };
            if prefixes.contains(&n) {
                self.errs
                    .at(&v.span(), format!("prefix {n} is listed twice"));
                continue;
            }
            prefixes.push(n);
        }
        let total = self.count(&r.max_routes, "max_routes", KERNEL_IMPORT_MAX_ROUTES);
        let warn_percent = r
            .routes_warn_percent
            .as_ref()
            .and_then(|v| self.int(v, "routes_warn_percent", 1, 100))
            .map_or(KERNEL_IMPORT_WARN_PERCENT, |x| x as u8);
        let settle_ms = r
            .settle_ms
            .as_ref()
            .and_then(|v| self.int(v, "settle_ms", 0, MAX_SETTLE_MS))
            .unwrap_or(KERNEL_IMPORT_SETTLE_MS);
        debug_assert!(total <= MAX_LIMIT);
        KernelImportConfig {
            import: ImportConfig {
                protocols,
                table,
                prefixes,
                limit: LimitConfig::new(total, total, warn_percent),
            },
            settle: Duration::from_millis(settle_ms as u64),
        }
    }

    fn route_protocol(&mut self, v: &S<RawNameOrNumber>) -> Option<u8> {
        let p = match v.get_ref() {
            RawNameOrNumber::Number(n) => match u8::try_from(*n) {
                Ok(p) => p,
                Err(_) => {
                    self.errs
                        .at(&v.span(), format!("protocol {n} is out of range 0..=255"));
                    return None;
                }
            },
            RawNameOrNumber::Name(s) => match PROTOCOL_NAMES.iter().find(|(n, _)| n == s) {
                Some((_, p)) => *p,
                None => {
                    let names: Vec<&str> = PROTOCOL_NAMES.iter().map(|(n, _)| *n).collect();
                    self.errs.at(
                        &v.span(),
                        format!(
                            "protocol {s:?} is not a route protocol name (one of {}) or a number 0..=255",
                            names.join(", ")
                        ),
                    );
                    return None;
                }
            },
        };
        if p == KERNEL_PROTO {
            self.errs.at(
                &v.span(),
                format!("protocol {p} (0xa6) is anycast6d's own: its routes are never imported"),
            );
            return None;
        }
        Some(p)
    }

    fn table(&mut self, v: &S<RawNameOrNumber>) -> Option<u32> {
        match v.get_ref() {
            RawNameOrNumber::Number(n) => match u32::try_from(*n) {
                Ok(t) if t != 0 => Some(t),
                _ => {
                    self.errs.at(
                        &v.span(),
                        format!("table {n} is out of range 1..={}", u32::MAX),
                    );
                    None
                }
            },
            RawNameOrNumber::Name(s) => match TABLE_NAMES.iter().find(|(n, _)| n == s) {
                Some((_, t)) => Some(*t),
                None => {
                    self.errs.at(
                        &v.span(),
                        format!(
                            "table {s:?} is not a number or one of \"main\", \"default\", \"local\""
                        ),
                    );
                    None
                }
            },
        }
    }

    fn import_prefix(&mut self, v: &S<String>) -> Option<Ipv6Network> {
        let text = v.get_ref();
        let n: Ipv6Network = match text.parse() {
            Ok(n) if text.contains('/') => n,
            _ => {
                self.errs.at(
                    &v.span(),
                    format!("prefix {text:?} is not an IPv6 prefix (like 2001:db8:ac::/48)"),
                );
                return None;
            }
        };
        if n.ip() != n.network() {
            self.errs.at(
                &v.span(),
                format!(
                    "prefix {n} has host bits set (did you mean {}/{}?)",
                    n.network(),
                    n.prefix()
                ),
            );
            return None;
        }
        Some(n)
    }
}

/// `bird (12)`, or `200` for a protocol without a name.
fn named(p: u8) -> String {
    match protocol_name(p) {
        Some(n) => format!("{n} ({p})"),
        None => p.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::kernel_import::MAIN_TABLE;

    fn errors(text: &str) -> Vec<String> {
        match parse("a6.toml", text) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn kernel_import_defaults_and_names() {
        let c = parse(
            "a6.toml",
            "[kernel_import]\nprotocols = [\"bird\", 186, \"zebra\"]\n",
        )
        .unwrap();
        let k = c.kernel_import.unwrap();
        assert_eq!(
            k.import.protocols.iter().copied().collect::<Vec<_>>(),
            vec![11, 12, 186]
        );
        assert_eq!(k.import.table, MAIN_TABLE);
        assert!(k.import.prefixes.is_empty());
        assert_eq!(k.import.limit.total, 4096);
        assert_eq!(k.settle.as_millis(), 200);
        assert_eq!(
            c.distances.get(crate::proto::Source::Kernel),
            20,
            "the kernel source's default distance"
        );

        let c = parse(
            "a6.toml",
            "[kernel_import]\nprotocols = [4]\ntable = 100\nprefixes = [\"2001:db8:ac::/48\"]\n\
             max_routes = 10\nsettle_ms = 0\n[rib.distance]\nkernel = 3\n",
        )
        .unwrap();
        let k = c.kernel_import.unwrap();
        assert_eq!(k.import.table, 100);
        assert_eq!(k.import.prefixes[0].to_string(), "2001:db8:ac::/48");
        assert_eq!(k.import.limit.total, 10);
        assert_eq!(c.distances.get(crate::proto::Source::Kernel), 3);
        let c = parse(
            "a6.toml",
            "[kernel_import]\nprotocols = [\"static\"]\ntable = \"local\"\n",
        );
        assert_eq!(c.unwrap().kernel_import.unwrap().import.table, 255);
    }

    #[test]
    fn kernel_import_errors_name_their_place() {
        let e = errors(
            "[kernel_import]\n\
             protocols = [\"bgpd\", 300, 166, \"bird\", 12]\n\
             table = \"mine\"\n\
             prefixes = [\"2001:db8:ac::1/48\", \"2001:db8:ac::\", \"x\"]\n\
             max_routes = 0\n\
             routes_warn_percent = 101\n\
             settle_ms = 10001\n",
        );
        assert_eq!(
            e,
            [
                "a6.toml:2:14: protocol \"bgpd\" is not a route protocol name (one of redirect, \
                 kernel, boot, static, gated, ra, mrt, zebra, bird, dnrouted, xorp, ntk, dhcp, \
                 keepalived, babel, openr, bgp, isis, ospf, rip, eigrp) or a number 0..=255",
                "a6.toml:2:22: protocol 300 is out of range 0..=255",
                "a6.toml:2:27: protocol 166 (0xa6) is anycast6d's own: its routes are never imported",
                "a6.toml:2:40: protocol bird (12) is listed twice",
                "a6.toml:3:9: table \"mine\" is not a number or one of \"main\", \"default\", \"local\"",
                "a6.toml:4:13: prefix 2001:db8:ac::1/48 has host bits set (did you mean 2001:db8:ac::/48?)",
                "a6.toml:4:34: prefix \"2001:db8:ac::\" is not an IPv6 prefix (like 2001:db8:ac::/48)",
                "a6.toml:4:51: prefix \"x\" is not an IPv6 prefix (like 2001:db8:ac::/48)",
                "a6.toml:5:14: max_routes 0 is out of range 1..=1000000",
                "a6.toml:6:23: routes_warn_percent 101 is out of range 1..=100",
                "a6.toml:7:13: settle_ms 10001 is out of range 0..=10000",
            ]
        );
        assert_eq!(
            errors("[kernel_import]\nprotocols = []\n"),
            [
                "a6.toml:2:13: [kernel_import] protocols lists no protocol (like [\"bird\"] or \
              [\"zebra\", \"bgp\"])"
            ]
        );
        assert_eq!(
            errors("[kernel_import]\ntable = 254\n"),
            ["a6.toml:1:1: missing field `protocols`"]
        );
        assert_eq!(
            errors("[kernel_import]\nprotocols = [\"bird\"]\nprotocol = 1\n")[0],
            "a6.toml:3:1: unknown field `protocol`, expected one of `protocols`, `table`, \
             `prefixes`, `max_routes`, `routes_warn_percent`, `settle_ms`"
        );
        assert_eq!(
            errors("[kernel_import]\nprotocols = [\"bird\"]\ntable = 0\n"),
            ["a6.toml:3:9: table 0 is out of range 1..=4294967295"]
        );
    }
}
