//! Building blocks of the protocol topology tests (ARD, ARIP, AARP) and the
//! failover benchmark: links, config sections, and the gap of a probe
//! stream.

use std::net::Ipv6Addr;

use anyhow::Result;

use crate::daemon::{DaemonCfg, MemberRoleCfg};
use crate::netns::{veth, Netns};

/// A veth link with an address at each end, GRO on (frames redirected by
/// XDP into a veth are dropped without it) and transmit checksums
/// computed (see `Netns::tx_checksum_off`).
pub fn link(
    a: &Netns,
    a_if: &str,
    a_addr: &str,
    b: &Netns,
    b_if: &str,
    b_addr: &str,
) -> Result<()> {
    veth(a, a_if, b, b_if)?;
    a.add_addr(a_if, a_addr)?;
    b.add_addr(b_if, b_addr)?;
    for (n, i) in [(a, a_if), (b, b_if)] {
        n.gro_on(i)?;
        n.tx_checksum_off(i)?;
    }
    Ok(())
}

/// Longest run of consecutive sequence numbers in `lost` (sorted).
pub fn longest_gap(lost: &[u64]) -> u64 {
    let (mut best, mut run, mut prev) = (0u64, 0u64, None);
    for &s in lost {
        run = if prev == Some(s.wrapping_sub(1)) {
            run + 1
        } else {
            1
        };
        best = best.max(run);
        prev = Some(s);
    }
    best
}

/// A member host serving `anycast` (on lo), no decap, `extra` after it.
pub fn member_role(anycast: Ipv6Addr, extra: String) -> DaemonCfg {
    DaemonCfg {
        member: Some(MemberRoleCfg {
            addresses: vec![anycast.to_string()],
            decap_interfaces: vec![],
        }),
        extra,
        ..Default::default()
    }
}

/// ARD member timers and identity.
#[derive(Debug, Clone)]
pub struct ArdMember<'a> {
    pub iface: &'a str,
    pub unicast: &'a str,
    pub metric: u32,
    pub hold_ms: u64,
    pub report_ms: u64,
    /// `ID:SECRET`-less: the secret of key id 7.
    pub key: Option<&'a str>,
}

/// `[member.ard]`.
pub fn ard_member(m: &ArdMember) -> String {
    format!(
        "[member.ard]\ninterfaces = [\"{}\"]\nunicast = \"{}\"\nmetric = {}\nhold_ms = {}\n\
         report_interval_ms = {}\n{}",
        m.iface,
        m.unicast,
        m.metric,
        m.hold_ms,
        m.report_ms,
        m.key
            .map(|k| format!("keys = [{{ id = 7, secret = \"{k}\" }}]\n"))
            .unwrap_or_default()
    )
}

/// `[ard]` with fast queries (1 s) and a 100 ms minimum hold.
pub fn ard_router(ifs: &[&str], key: Option<&str>) -> String {
    format!(
        "[ard]\ninterfaces = [{}]\nquery_interval_ms = 1000\nmax_response_delay_ms = 100\n\
         min_hold_ms = 100\n{}",
        quoted(ifs),
        key.map(|k| format!("keys = [{{ id = 7, secret = \"{k}\" }}]\n"))
            .unwrap_or_default()
    )
}

/// `[arip]` with sub-second timers: update every second (±200 ms),
/// triggered updates 50–100 ms apart, the given timeout and garbage times.
pub fn arip_router(ifs: &[&str], timeout_ms: u64, garbage_ms: u64) -> String {
    format!(
        "[arip]\ninterfaces = [{}]\nupdate_interval_ms = 1000\nupdate_jitter_ms = 200\n\
         timeout_ms = {timeout_ms}\ngarbage_ms = {garbage_ms}\ntriggered_min_ms = 50\n\
         triggered_max_ms = 100\n",
        quoted(ifs)
    )
}

/// A router running the forwarding program on `xdp`, ARD on `ard_if` and
/// ARIP on `arip_ifs` (sub-second timers, `timeout_ms`/`garbage_ms`).
pub fn ard_arip_router(
    xdp: &[&str],
    ard_if: &str,
    arip_ifs: &[&str],
    timeout_ms: u64,
    garbage_ms: u64,
) -> DaemonCfg {
    let mut cfg = DaemonCfg::default();
    for i in xdp {
        cfg = cfg.interface(i, "native");
    }
    cfg.extra = format!(
        "{}\n{}",
        ard_router(&[ard_if], None),
        arip_router(arip_ifs, timeout_ms, garbage_ms)
    );
    cfg
}

/// A member host serving `anycast`, announcing it by ARD on `iface`
/// (metric 0, hold 300 ms, reports every 100 ms, no key).
pub fn ard_member_host(anycast: Ipv6Addr, unicast: &str, iface: &str) -> DaemonCfg {
    member_role(
        anycast,
        ard_member(&ArdMember {
            iface,
            unicast,
            metric: 0,
            hold_ms: 300,
            report_ms: 100,
            key: None,
        }),
    )
}

/// Whether `d`'s ARIP table holds `anycast` as an anycast route with at
/// least one path learned from a neighbour (`show arip`).
pub fn arip_has_anycast_path(d: &crate::Daemon, anycast: Ipv6Addr) -> bool {
    d.ctl_json(&["show", "arip"]).is_ok_and(|v| {
        v["view"]["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| {
                r["prefix"]["addr"] == anycast.to_string()
                    && r["anycast"] == true
                    && r["paths"].as_array().is_some_and(|p| !p.is_empty())
            })
    })
}

fn quoted(ifs: &[&str]) -> String {
    ifs.iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `[piasm]` with 1 s Hellos and 1 s joins: this router's address,
/// PIA-SM on `ifs`, and each of `anycast` with the core address `core`.
pub fn piasm_router(
    router: &str,
    ifs: &[&str],
    anycast: &[Ipv6Addr],
    core: &str,
    core_here: bool,
    shortcut: bool,
) -> String {
    let mut s = format!(
        "[piasm]\nrouter_address = \"{router}\"\nhello_interval_s = 1\njoin_interval_s = 1\n"
    );
    for i in ifs {
        s.push_str(&format!("[[piasm.interface]]\nname = \"{i}\"\n"));
    }
    for a in anycast {
        s.push_str(&format!(
            "[[piasm.anycast]]\naddress = \"{a}\"\ncore = \"{core}\"\ncore_here = {core_here}\nshortcut = {shortcut}\n"
        ));
    }
    s
}

/// The first tree of `show piasm trees` at `d` (Null when there is none).
pub fn piasm_tree(d: &crate::Daemon) -> serde_json::Value {
    d.ctl_json(&["show", "piasm", "trees"])
        .ok()
        .and_then(|v| v.as_array().and_then(|t| t.first().cloned()))
        .unwrap_or(serde_json::Value::Null)
}

/// The branches of that tree.
pub fn piasm_branches(d: &crate::Daemon) -> Vec<serde_json::Value> {
    piasm_tree(d)["branches"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn gaps() {
        assert_eq!(super::longest_gap(&[]), 0);
        assert_eq!(super::longest_gap(&[3, 4, 5, 9, 10]), 3);
    }
}
