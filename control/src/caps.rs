//! The capabilities anycast6d needs for what its config turns on, and a
//! refusal that names the missing ones (rather than a verifier's EPERM or
//! a protocol that quietly does not start). Measured by running it as an
//! unprivileged user with one capability taken away at a time
//! (tests/tests/privilege.rs; docs/operations.md).

use crate::config::Config;

/// A capability: its number (linux/capability.h) and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap(pub u32, pub &'static str);

pub const CAP_NET_BIND_SERVICE: Cap = Cap(10, "CAP_NET_BIND_SERVICE");
pub const CAP_NET_ADMIN: Cap = Cap(12, "CAP_NET_ADMIN");
pub const CAP_NET_RAW: Cap = Cap(13, "CAP_NET_RAW");
pub const CAP_PERFMON: Cap = Cap(38, "CAP_PERFMON");
pub const CAP_BPF: Cap = Cap(39, "CAP_BPF");

/// Every capability anycast6d may need: the systemd unit's set.
pub const ALL: [Cap; 5] = [
    CAP_BPF,
    CAP_PERFMON,
    CAP_NET_ADMIN,
    CAP_NET_RAW,
    CAP_NET_BIND_SERVICE,
];

/// A capability and what needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub cap: Cap,
    pub why: &'static str,
}

/// What `cfg` needs, in [`ALL`]'s order (one reason per capability).
pub fn needed(cfg: &Config) -> Vec<Need> {
    let mut v = vec![
        Need {
            cap: CAP_BPF,
            why: "the fast path's maps and programs",
        },
        Need {
            cap: CAP_PERFMON,
            why: "loading the forwarding program (the verifier's rules for it)",
        },
        Need {
            cap: CAP_NET_ADMIN,
            why: "attaching XDP/tc programs, the devmap, neighbour entries, addresses and routes",
        },
    ];
    let raw = [
        (
            cfg.aospf.is_some(),
            "[aospf] (a raw socket for IP protocol 89)",
        ),
        (
            cfg.piasm.is_some(),
            "[piasm] (a raw socket for PIM, protocol 103)",
        ),
        (
            cfg.mga.is_some(),
            "[mga] (a raw socket for the Mobility Header, protocol 135)",
        ),
    ];
    if let Some((_, why)) = raw.into_iter().find(|(on, _)| *on) {
        v.push(Need {
            cap: CAP_NET_RAW,
            why,
        });
    }
    if cfg.arip.is_some() {
        v.push(Need {
            cap: CAP_NET_BIND_SERVICE,
            why: "[arip] (UDP port 521)",
        });
    } else if cfg.metrics.as_ref().is_some_and(|m| m.listen.port() < 1024) {
        v.push(Need {
            cap: CAP_NET_BIND_SERVICE,
            why: "[metrics] listen (a port below 1024)",
        });
    }
    v
}

/// The effective set of this process (`CapEff` of /proc/self/status).
pub fn effective() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = s.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// The needs `eff` does not cover.
pub fn missing(needs: &[Need], eff: u64) -> Vec<Need> {
    needs
        .iter()
        .filter(|n| eff & (1u64 << n.cap.0) == 0)
        .cloned()
        .collect()
}

/// Ok, or the message that says which capabilities are missing and why.
pub fn check(cfg: &Config) -> Result<(), String> {
    let Some(eff) = effective() else {
        return Ok(()); // no /proc: let the kernel say
    };
    let m = missing(&needed(cfg), eff);
    if m.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = m
        .iter()
        .map(|n| format!("{} for {}", n.cap.1, n.why))
        .collect();
    Err(format!(
        "missing capabilities: {}. Run anycast6d as root, or grant them (systemd: \
         AmbientCapabilities= in contrib/systemd/anycast6d.service; by hand: setpriv \
         --inh-caps and --ambient-caps; docs/operations.md)",
        list.join("; ")
    ))
}

/// `CAP_BPF CAP_PERFMON ...` for `anycast6d --check`.
pub fn names(needs: &[Need]) -> String {
    needs.iter().map(|n| n.cap.1).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_config_needs() {
        let plain = crate::config::parse("t.toml", "").unwrap();
        assert_eq!(names(&needed(&plain)), "CAP_BPF CAP_PERFMON CAP_NET_ADMIN");
        let arip = crate::config::parse(
            "t.toml",
            "[[interface]]\nname = \"eth0\"\n\n[arip]\ninterfaces = [\"eth0\"]\n",
        )
        .unwrap();
        assert_eq!(
            names(&needed(&arip)),
            "CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_NET_BIND_SERVICE"
        );
        let metrics = |port: u16| {
            let text = format!("[metrics]\nlisten = \"[::1]:{port}\"\n");
            names(&needed(&crate::config::parse("t.toml", &text).unwrap()))
        };
        assert_eq!(metrics(9464), "CAP_BPF CAP_PERFMON CAP_NET_ADMIN");
        assert_eq!(
            metrics(80),
            "CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_NET_BIND_SERVICE"
        );
    }

    #[test]
    fn missing_ones_are_named() {
        let plain = crate::config::parse("t.toml", "").unwrap();
        let all = ALL.iter().fold(0u64, |a, c| a | 1 << c.0);
        assert!(missing(&needed(&plain), all).is_empty());
        assert!(missing(&needed(&plain), u64::MAX).is_empty());
        let m = missing(&needed(&plain), all & !(1 << CAP_PERFMON.0));
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].cap, CAP_PERFMON);
        assert_eq!(missing(&needed(&plain), 0).len(), 3);
    }
}
