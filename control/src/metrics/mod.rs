//! Prometheus metrics (docs/metrics.md): what anycast6d exposes on
//! `[metrics] listen`, in the OpenMetrics text format of the
//! `prometheus-client` crate.
//!
//! ```text
//!  Prometheus ──GET /metrics──► connection task (server.rs: bounded head,
//!                               timeouts, connection limit)
//!                                   │ (reply tx)
//!                                   ▼
//!  daemon loop ── fills a Snapshot (per-CPU maps read now, names cached
//!                 per FIB change) ── render() ──► text ──► connection task
//! ```
//! The daemon owns every value (the event loop is single-threaded); a
//! scrape is a request to it like `show counters`. [`Snapshot`] keeps its
//! vectors between scrapes and the label strings between FIB changes, so a
//! scrape of 10k groups allocates little besides the text itself.

pub mod http;
pub mod server;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The `Content-Type` of what [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every family rendered, in order: its name (without the `_total` the
/// encoder adds to a counter's samples) and type, for the docs and the
/// dashboard tests.
pub const SERIES: &[(&str, &str)] = &[
    ("anycast6_fastpath_packets", "counter"),
    ("anycast6_fastpath_bytes", "counter"),
    ("anycast6_tunnel_packets", "counter"),
    ("anycast6_tunnel_bytes", "counter"),
    ("anycast6_decap_packets", "counter"),
    ("anycast6_decap_bytes", "counter"),
    ("anycast6_group_packets", "counter"),
    ("anycast6_group_bytes", "counter"),
    ("anycast6_member_packets", "counter"),
    ("anycast6_member_bytes", "counter"),
    ("anycast6_group_members", "gauge"),
    ("anycast6_failovers", "counter"),
    ("anycast6_reloads", "counter"),
    ("anycast6_protocol_running", "gauge"),
    ("anycast6_ard_members", "gauge"),
    ("anycast6_ard_addresses", "gauge"),
    ("anycast6_arip_neighbors", "gauge"),
    ("anycast6_arip_routes", "gauge"),
    ("anycast6_aospf_neighbors", "gauge"),
    ("anycast6_aospf_routes", "gauge"),
    ("anycast6_piasm_neighbors", "gauge"),
    ("anycast6_piasm_branches", "gauge"),
    ("anycast6_mga_bindings", "gauge"),
    ("anycast6_mga_registrations", "gauge"),
    ("anycast6_mga_flow_bindings", "gauge"),
];

/// The OSPF neighbour states (RFC 2328 §10.1 as AOSPF names them): each
/// gets a series, 0 when no neighbour is in it.
pub const AOSPF_STATES: &[&str] = &[
    "Down", "Init", "2-Way", "ExStart", "Exchange", "Loading", "Full",
];

/// Member states of the FIB (`show groups` counts the same).
pub const MEMBER_STATES: [&str; 3] = ["active", "draining", "down"];

/// The name of a family's samples: a counter's get `_total`.
pub fn sample_name(family: &str, kind: &str) -> String {
    if kind == "counter" {
        format!("{family}_total")
    } else {
        family.to_string()
    }
}

/// One counter by reason: (reason, verdict or "", packets, bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasonCount {
    pub reason: &'static str,
    pub verdict: &'static str,
    pub packets: u64,
    pub bytes: u64,
}

/// Label strings of the FIB's groups and members, rebuilt only when the
/// FIB changes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Names {
    /// group id → (group, group id as text).
    pub groups: HashMap<u32, GroupName>,
    /// member id → its labels.
    pub members: HashMap<u32, MemberName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName {
    /// The group's name as `show groups` prints it (its address or
    /// prefix).
    pub group: String,
    pub id: String,
    /// Members installed, by [`MEMBER_STATES`].
    pub members: [u32; 3],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberName {
    pub group: String,
    /// The member's unicast address.
    pub member: String,
    pub id: String,
}

/// What the protocols hold, from their `show` views (None: not running).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProtoState {
    /// Every registered protocol: (name, running).
    pub running: Vec<(&'static str, bool)>,
    /// ARD router: members known, and the anycast addresses they registered.
    pub ard: Option<(u64, u64)>,
    /// ARIP: neighbours, routes (anycast, unicast).
    pub arip: Option<(u64, u64, u64)>,
    /// AOSPF: neighbours by state, routes (anycast, unicast).
    pub aospf: Option<(BTreeMap<String, u64>, u64, u64)>,
    /// PIA-SM: neighbours, and downstream branches by anycast address.
    pub piasm: Option<(u64, BTreeMap<String, u64>)>,
    /// MGA: home agent bindings by anycast (home) address, member
    /// registrations, correspondent flow bindings.
    pub mga: Option<(BTreeMap<String, u64>, u64, u64)>,
}

/// Everything one scrape shows. The daemon fills it in place (vectors
/// cleared, not dropped) before each [`Metrics::render`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub reasons: Vec<ReasonCount>,
    pub tunnel: Vec<ReasonCount>,
    pub decap: Vec<ReasonCount>,
    /// (group id, packets, bytes), non-zero only (as the maps give them).
    pub groups: Vec<(u32, u64, u64)>,
    /// (member id, packets, bytes), non-zero only.
    pub members: Vec<(u32, u64, u64)>,
    pub names: Names,
    pub protocols: ProtoState,
    /// Reloads applied, refused.
    pub reloads: (u64, u64),
    /// Failovers by group name (docs/metrics.md: a member leaving the
    /// group's active set while the group stays).
    pub failovers: BTreeMap<String, u64>,
}

/// The registry with its one collector over the snapshot.
pub struct Metrics {
    registry: Registry,
    snap: Arc<SnapCollector>,
}

#[derive(Debug, Default)]
struct SnapCollector(Mutex<Snapshot>);

impl Default for Metrics {
    fn default() -> Self {
        let snap = Arc::new(SnapCollector::default());
        let mut registry = Registry::default();
        registry.register_collector(Box::new(snap.clone()));
        Metrics { registry, snap }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Lets `fill` update the snapshot, then renders it (appended to `out`).
    pub fn render(&self, out: &mut String, fill: impl FnOnce(&mut Snapshot)) {
        fill(&mut lock(&self.snap.0));
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(out, &self.registry);
    }

    /// The snapshot as the last scrape left it (tests, and the counters
    /// the daemon keeps there between scrapes).
    pub fn with<R>(&self, f: impl FnOnce(&mut Snapshot) -> R) -> R {
        f(&mut lock(&self.snap.0))
    }
}

fn lock(m: &Mutex<Snapshot>) -> std::sync::MutexGuard<'_, Snapshot> {
    // Only the daemon's loop ever holds it; a panic there ends the process.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

type Res = Result<(), std::fmt::Error>;

fn counter<L: prometheus_client::encoding::EncodeLabelSet>(
    e: &mut prometheus_client::encoding::MetricEncoder<'_>,
    labels: &L,
    v: u64,
) -> Res {
    ConstCounter::new(v).encode(e.encode_family(labels)?)
}

fn gauge<L: prometheus_client::encoding::EncodeLabelSet>(
    e: &mut prometheus_client::encoding::MetricEncoder<'_>,
    labels: &L,
    v: u64,
) -> Res {
    ConstGauge::new(v).encode(e.encode_family(labels)?)
}

/// Packets and bytes by reason, as two families.
fn by_reason(
    enc: &mut DescriptorEncoder<'_>,
    what: &str,
    help: &str,
    rows: &[ReasonCount],
    with_verdict: bool,
) -> Res {
    for (unit, pick) in [
        (
            "packets",
            (|r: &ReasonCount| r.packets) as fn(&ReasonCount) -> u64,
        ),
        ("bytes", |r: &ReasonCount| r.bytes),
    ] {
        let name = format!("anycast6_{what}_{unit}");
        let help = format!("{help} ({unit})");
        let mut e = enc.encode_descriptor(&name, &help, None, MetricType::Counter)?;
        for r in rows {
            if with_verdict {
                counter(
                    &mut e,
                    &[("reason", r.reason), ("verdict", r.verdict)],
                    pick(r),
                )?;
            } else {
                counter(&mut e, &[("reason", r.reason)], pick(r))?;
            }
        }
    }
    Ok(())
}

impl Collector for SnapCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Res {
        let s = lock(&self.0);
        encode_snapshot(&s, &mut enc)
    }
}

fn encode_snapshot(s: &Snapshot, enc: &mut DescriptorEncoder<'_>) -> Res {
    by_reason(
        enc,
        "fastpath",
        "Frames the fast path (XDP and AF_XDP) counted, by reason and verdict",
        &s.reasons,
        true,
    )?;
    by_reason(
        enc,
        "tunnel",
        "Tunnelled packets this router ended, by reason",
        &s.tunnel,
        false,
    )?;
    if !s.decap.is_empty() {
        by_reason(
            enc,
            "decap",
            "Member role: tunnelled packets the decap program handled, by reason",
            &s.decap,
            false,
        )?;
    }
    let mut idbuf = String::new();
    for (unit, bytes) in [("packets", false), ("bytes", true)] {
        let name = format!("anycast6_group_{unit}");
        let help = format!("Forwarded to a group's members ({unit})");
        let mut e = enc.encode_descriptor(&name, &help, None, MetricType::Counter)?;
        for (id, p, b) in &s.groups {
            let Some(n) = s.names.groups.get(id) else {
                // A retired group id that still carries counts: by id only.
                idbuf.clear();
                std::fmt::Write::write_fmt(&mut idbuf, format_args!("{id}"))?;
                counter(
                    &mut e,
                    &[("group", ""), ("group_id", idbuf.as_str())],
                    if bytes { *b } else { *p },
                )?;
                continue;
            };
            counter(
                &mut e,
                &[("group", n.group.as_str()), ("group_id", n.id.as_str())],
                if bytes { *b } else { *p },
            )?;
        }
    }
    for (unit, bytes) in [("packets", false), ("bytes", true)] {
        let name = format!("anycast6_member_{unit}");
        let help = format!("Forwarded to one member ({unit})");
        let mut e = enc.encode_descriptor(&name, &help, None, MetricType::Counter)?;
        for (id, p, b) in &s.members {
            let v = if bytes { *b } else { *p };
            match s.names.members.get(id) {
                Some(n) => counter(
                    &mut e,
                    &[
                        ("group", n.group.as_str()),
                        ("member", n.member.as_str()),
                        ("member_id", n.id.as_str()),
                    ],
                    v,
                )?,
                None => {
                    idbuf.clear();
                    std::fmt::Write::write_fmt(&mut idbuf, format_args!("{id}"))?;
                    counter(
                        &mut e,
                        &[("group", ""), ("member", ""), ("member_id", idbuf.as_str())],
                        v,
                    )?
                }
            }
        }
    }
    {
        let mut e = enc.encode_descriptor(
            "anycast6_group_members",
            "Members installed in a group's FIB entry, by state",
            None,
            MetricType::Gauge,
        )?;
        let mut groups: Vec<&GroupName> = s.names.groups.values().collect();
        groups.sort_unstable_by(|a, b| a.group.cmp(&b.group));
        for g in groups {
            for (state, n) in MEMBER_STATES.iter().zip(g.members) {
                gauge(
                    &mut e,
                    &[
                        ("group", g.group.as_str()),
                        ("group_id", g.id.as_str()),
                        ("state", state),
                    ],
                    u64::from(n),
                )?;
            }
        }
    }
    {
        let mut e = enc.encode_descriptor(
            "anycast6_failovers",
            "Members that left a group's active set while the group stayed",
            None,
            MetricType::Counter,
        )?;
        for (g, n) in &s.failovers {
            counter(&mut e, &[("group", g.as_str())], *n)?;
        }
    }
    {
        let mut e = enc.encode_descriptor(
            "anycast6_reloads",
            "Config reloads (SIGHUP or anycast6ctl reload), applied or refused",
            None,
            MetricType::Counter,
        )?;
        counter(&mut e, &[("result", "ok")], s.reloads.0)?;
        counter(&mut e, &[("result", "refused")], s.reloads.1)?;
    }
    encode_protocols(&s.protocols, enc)
}

fn encode_protocols(p: &ProtoState, enc: &mut DescriptorEncoder<'_>) -> Res {
    {
        let mut e = enc.encode_descriptor(
            "anycast6_protocol_running",
            "1 while a protocol's task runs",
            None,
            MetricType::Gauge,
        )?;
        for (name, on) in &p.running {
            gauge(&mut e, &[("protocol", *name)], u64::from(*on))?;
        }
    }
    let plain = |enc: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64| -> Res {
        let e = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
        ConstGauge::new(v).encode(e)
    };
    if let Some((members, addresses)) = p.ard {
        plain(
            enc,
            "anycast6_ard_members",
            "ARD router: members known on its interfaces",
            members,
        )?;
        plain(
            enc,
            "anycast6_ard_addresses",
            "ARD router: anycast addresses the members registered (one per member and address)",
            addresses,
        )?;
    }
    if let Some((neighbors, anycast, unicast)) = p.arip {
        plain(
            enc,
            "anycast6_arip_neighbors",
            "ARIP: neighbours heard",
            neighbors,
        )?;
        let mut e = enc.encode_descriptor(
            "anycast6_arip_routes",
            "ARIP: routes held, anycast or unicast",
            None,
            MetricType::Gauge,
        )?;
        gauge(&mut e, &[("kind", "anycast")], anycast)?;
        gauge(&mut e, &[("kind", "unicast")], unicast)?;
    }
    if let Some((states, anycast, unicast)) = &p.aospf {
        let mut e = enc.encode_descriptor(
            "anycast6_aospf_neighbors",
            "AOSPF: neighbours by state",
            None,
            MetricType::Gauge,
        )?;
        for st in AOSPF_STATES {
            gauge(
                &mut e,
                &[("state", *st)],
                states.get(*st).copied().unwrap_or(0),
            )?;
        }
        for (st, n) in states {
            if !AOSPF_STATES.contains(&st.as_str()) {
                gauge(&mut e, &[("state", st.as_str())], *n)?;
            }
        }
        let mut e = enc.encode_descriptor(
            "anycast6_aospf_routes",
            "AOSPF: routes computed, anycast or unicast",
            None,
            MetricType::Gauge,
        )?;
        gauge(&mut e, &[("kind", "anycast")], *anycast)?;
        gauge(&mut e, &[("kind", "unicast")], *unicast)?;
    }
    if let Some((neighbors, branches)) = &p.piasm {
        plain(
            enc,
            "anycast6_piasm_neighbors",
            "PIA-SM: neighbours heard",
            *neighbors,
        )?;
        let mut e = enc.encode_descriptor(
            "anycast6_piasm_branches",
            "PIA-SM: downstream branches of an anycast address's tree",
            None,
            MetricType::Gauge,
        )?;
        for (a, n) in branches {
            gauge(&mut e, &[("anycast", a.as_str())], *n)?;
        }
    }
    if let Some((bindings, registrations, flows)) = &p.mga {
        let mut e = enc.encode_descriptor(
            "anycast6_mga_bindings",
            "MGA home agent: bindings held, by anycast (home) address",
            None,
            MetricType::Gauge,
        )?;
        for (a, n) in bindings {
            gauge(&mut e, &[("anycast", a.as_str())], *n)?;
        }
        plain(
            enc,
            "anycast6_mga_registrations",
            "MGA member: registrations with home agents",
            *registrations,
        )?;
        plain(
            enc,
            "anycast6_mga_flow_bindings",
            "MGA correspondent: flow bindings (route optimisation)",
            *flows,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
