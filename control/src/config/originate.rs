//! `[<protocol>.originate]`: the origination policy of a routing protocol
//! (anycast6_core::originate), one section per protocol with the
//! protocol's own metric range. ARIP's is `[arip.originate]`.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use ipnetwork::Ipv6Network;

use super::raw::{RawOriginate, RawStaticPrefix, S};
use super::validate::Validator;
use crate::proto::originate::{Policy, Prefix, StaticPrefix};

/// ARIP metrics: RIPng hop counts (16 is infinity).
pub const ARIP_METRICS: RangeInclusive<i64> = 1..=15;

impl Validator<'_, '_> {
    /// `section` names the table in messages (`[arip.originate]`);
    /// `alias` is an older key meaning `connected` (`[arip]
    /// redistribute_connected`), with its name.
    pub(super) fn originate(
        &mut self,
        r: Option<RawOriginate>,
        alias: (&Option<S<bool>>, &str),
        metrics: RangeInclusive<i64>,
    ) -> Policy {
        let d = Policy::default();
        let connected = r.as_ref().and_then(|r| r.connected.clone());
        if let (Some(old), Some(new)) = (alias.0, &connected) {
            if old.get_ref() != new.get_ref() {
                self.errs.at(
                    &old.span(),
                    format!(
                        "{} = {} contradicts originate.connected = {} (the same setting: keep one)",
                        alias.1,
                        old.get_ref(),
                        new.get_ref()
                    ),
                );
            }
        }
        let Some(r) = r else {
            return Policy {
                connected: alias.0.as_ref().is_none_or(|v| *v.get_ref()),
                ..d
            };
        };
        let metric = |v: &mut Self, x: &Option<S<i64>>, what: &str| {
            x.as_ref()
                .and_then(|x| v.int(x, what, *metrics.start(), *metrics.end()))
                .map_or(d.connected_metric, |m| m as u32)
        };
        let connected_metric = metric(self, &r.connected_metric, "connected_metric");
        let mut statics: Vec<StaticPrefix> = Vec::new();
        let mut seen: BTreeMap<Prefix, u32> = BTreeMap::new();
        for s in &r.statics {
            let line = self.errs.pos(&s.span()).line;
            let sp = s.get_ref();
            let m = metric(self, &sp.metric, "metric");
            let Some(prefix) = self.static_prefix(sp) else {
                continue;
            };
            if let Some(first) = seen.get(&prefix) {
                self.errs.at(
                    &sp.prefix.span(),
                    format!("static prefix {prefix} is listed twice (first at line {first})"),
                );
                continue;
            }
            seen.insert(prefix, line);
            statics.push(StaticPrefix { prefix, metric: m });
        }
        Policy {
            connected: connected
                .as_ref()
                .or(alias.0.as_ref())
                .is_none_or(|v| *v.get_ref()),
            connected_metric,
            statics,
            anycast: r.anycast.as_ref().is_none_or(|v| *v.get_ref()),
        }
    }

    fn static_prefix(&mut self, s: &RawStaticPrefix) -> Option<Prefix> {
        let v = &s.prefix;
        let text = v.get_ref();
        let n: Ipv6Network = match text.parse() {
            Ok(n) if text.contains('/') => n,
            Ok(_) => {
                self.errs.at(
                    &v.span(),
                    format!("static prefix {text:?} needs a length (/N; /128 for one address)"),
                );
                return None;
            }
            Err(_) => {
                self.errs.at(
                    &v.span(),
                    format!("static prefix {text:?} is not an IPv6 prefix (like 2001:db8::/48)"),
                );
                return None;
            }
        };
        if n.ip() != n.network() {
            self.errs.at(
                &v.span(),
                format!(
                    "static prefix {n} has host bits set (did you mean {}/{}?)",
                    n.network(),
                    n.prefix()
                ),
            );
            return None;
        }
        let a = n.network();
        let why = if a.is_multicast() {
            Some("a multicast prefix")
        } else if a.segments()[0] & 0xffc0 == 0xfe80 {
            Some("a link-local prefix")
        } else if a.is_loopback() && n.prefix() == 128 {
            Some("the loopback address")
        } else {
            None
        };
        if let Some(why) = why {
            self.errs.at(
                &v.span(),
                format!("static prefix {n} cannot be announced: {why}"),
            );
            return None;
        }
        Prefix::new(a, n.prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use crate::proto::originate::{Policy, Prefix, StaticPrefix};

    fn errors(text: &str) -> Vec<String> {
        match parse("a6.toml", text) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn policy(text: &str) -> Policy {
        parse("a6.toml", text).unwrap().arip.unwrap().originate
    }

    fn p(a: &str, len: u8) -> Prefix {
        Prefix::new(a.parse().unwrap(), len).unwrap()
    }

    const ARIP: &str = "[arip]\ninterfaces = [\"eth0\"]\n";

    #[test]
    fn defaults_originate_connected_and_anycast() {
        assert_eq!(policy(ARIP), Policy::default());
        let d = Policy::default();
        assert!(d.connected && d.anycast && d.statics.is_empty());
        assert_eq!(d.connected_metric, 1);
    }

    #[test]
    fn originate_section() {
        let got = policy(&format!(
            "{ARIP}[arip.originate]\nconnected = true\nconnected_metric = 3\nanycast = false\n\
             static = [{{ prefix = \"2001:db8:99::/48\", metric = 2 }}, {{ prefix = \"::/0\" }}]\n"
        ));
        assert_eq!(
            got,
            Policy {
                connected: true,
                connected_metric: 3,
                statics: vec![
                    StaticPrefix {
                        prefix: p("2001:db8:99::", 48),
                        metric: 2
                    },
                    StaticPrefix {
                        prefix: p("::", 0),
                        metric: 1
                    },
                ],
                anycast: false,
            }
        );
        // The array-of-tables form too.
        let got = policy(&format!(
            "{ARIP}[[arip.originate.static]]\nprefix = \"2001:db8:99::1/128\"\nmetric = 15\n"
        ));
        assert_eq!(got.statics[0].prefix, p("2001:db8:99::1", 128));
        assert_eq!(got.statics[0].metric, 15);
    }

    #[test]
    fn redistribute_connected_is_an_alias() {
        let off = format!("{ARIP}redistribute_connected = false\n");
        assert!(!policy(&off).connected);
        assert!(!policy(&format!("{off}[arip.originate]\nconnected_metric = 2\n")).connected);
        assert!(policy(&format!("{ARIP}redistribute_connected = true\n")).connected);
        assert!(!policy(&format!("{ARIP}[arip.originate]\nconnected = false\n")).connected);
        // Both, agreeing: fine; disagreeing: an error at the alias.
        assert!(!policy(&format!("{off}[arip.originate]\nconnected = false\n")).connected);
        assert_eq!(
            errors(&format!("{off}[arip.originate]\nconnected = true\n")),
            [
                "a6.toml:3:26: redistribute_connected = false contradicts originate.connected = \
              true (the same setting: keep one)"
            ]
        );
    }

    #[test]
    fn errors_point_at_the_value() {
        let e = errors(&format!(
            "{ARIP}[arip.originate]\nconnected_metric = 16\nstatic = [\n\
             {{ prefix = \"2001:db8:99::1/48\" }},\n\
             {{ prefix = \"2001:db8:99::\" }},\n\
             {{ prefix = \"2001:db8:zz::/48\" }},\n\
             {{ prefix = \"ff02::/16\" }},\n\
             {{ prefix = \"fe80::/64\" }},\n\
             {{ prefix = \"::1/128\" }},\n\
             {{ prefix = \"2001:db8:5a::/48\", metric = 0 }},\n\
             {{ prefix = \"2001:db8:5b::/48\" }},\n\
             {{ prefix = \"2001:db8:5b::/48\", metric = 2 }},\n\
             ]\n"
        ));
        assert_eq!(
            e,
            [
                "a6.toml:4:20: connected_metric 16 is out of range 1..=15",
                "a6.toml:6:12: static prefix 2001:db8:99::1/48 has host bits set (did you mean \
                 2001:db8:99::/48?)",
                "a6.toml:7:12: static prefix \"2001:db8:99::\" needs a length (/N; /128 for one \
                 address)",
                "a6.toml:8:12: static prefix \"2001:db8:zz::/48\" is not an IPv6 prefix (like \
                 2001:db8::/48)",
                "a6.toml:9:12: static prefix ff02::/16 cannot be announced: a multicast prefix",
                "a6.toml:10:12: static prefix fe80::/64 cannot be announced: a link-local prefix",
                "a6.toml:11:12: static prefix ::1/128 cannot be announced: the loopback address",
                "a6.toml:12:41: metric 0 is out of range 1..=15",
                "a6.toml:14:12: static prefix 2001:db8:5b::/48 is listed twice (first at line 13)",
            ]
        );
        let e = errors(&format!("{ARIP}[arip.originate]\nconected = true\n"));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("a6.toml:4:1:") && e[0].contains("unknown field `conected`"),
            "{e:?}"
        );
    }
}
