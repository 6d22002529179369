//! The daemon's side of the metrics (docs/metrics.md): the listener of
//! `[metrics]` (bound at start and by reloads, all or nothing), scrapes
//! answered from the loop, failovers and reloads counted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv6Addr;

use anycast6_dataplane::{MemberState, Route};
use serde_json::Value;
use tokio::sync::mpsc;

use super::resolve::ResolvedGroup;
use super::Daemon;
use crate::config::{Config, MetricsConfig};
use crate::metrics::server::{Listener, Scrape};
use crate::metrics::{GroupName, MemberName, Metrics, Names, ProtoState, ReasonCount};
use crate::rib::{Placement, PlannedGroup};

/// What the metrics need on the daemon.
pub(super) struct MetricsSide {
    pub(super) metrics: Metrics,
    /// The running listener and the config it was bound for.
    pub(super) listener: Option<(Listener, MetricsConfig)>,
    pub(super) scrape_tx: mpsc::Sender<Scrape>,
    pub(super) scrape_rx: mpsc::Receiver<Scrape>,
    /// The FIB changed since the label strings were built.
    names_stale: bool,
    /// Size of the last scrape's text (the next one reserves it at once).
    last_len: usize,
}

/// What a reload does to the listener, decided (and bound) before
/// anything else of the reload is applied.
pub(super) enum ListenerChange {
    Keep,
    Stop,
    Start(Listener, MetricsConfig),
}

/// `file:line:col: metrics.listen ADDR: cannot listen: WHY`.
fn bind_error(file: &str, m: &MetricsConfig, e: &std::io::Error) -> String {
    format!(
        "{file}:{}: metrics.listen {}: cannot listen: {e}",
        m.pos, m.listen
    )
}

impl MetricsSide {
    /// Binds `[metrics]` of `cfg` if it has one (a failure fails the start).
    pub(super) fn start(cfg: &Config) -> Result<MetricsSide, String> {
        let (scrape_tx, scrape_rx) = mpsc::channel(crate::metrics::server::MAX_CONNECTIONS);
        let listener = match &cfg.metrics {
            Some(m) => {
                let l = Listener::bind(m.listen, scrape_tx.clone())
                    .map_err(|e| bind_error(&cfg.file, m, &e))?;
                tracing::info!(listen = %l.local_addr(), "metrics listener");
                Some((l, m.clone()))
            }
            None => None,
        };
        Ok(MetricsSide {
            metrics: Metrics::default(),
            listener,
            scrape_tx,
            scrape_rx,
            names_stale: true,
            last_len: 0,
        })
    }

    /// Binds the listener `new` asks for, if it differs from the running
    /// one; nothing changes until [`MetricsSide::commit`].
    pub(super) fn prepare(&self, new: &Config) -> Result<ListenerChange, String> {
        let running = self.listener.as_ref().map(|(_, c)| c.listen);
        match (&new.metrics, running) {
            (None, None) => Ok(ListenerChange::Keep),
            (None, Some(_)) => Ok(ListenerChange::Stop),
            (Some(m), Some(a)) if m.listen == a => Ok(ListenerChange::Keep),
            (Some(m), _) => Listener::bind(m.listen, self.scrape_tx.clone())
                .map(|l| ListenerChange::Start(l, m.clone()))
                .map_err(|e| bind_error(&new.file, m, &e)),
        }
    }

    /// Applies what [`MetricsSide::prepare`] decided.
    pub(super) fn commit(&mut self, change: ListenerChange, new: &Config) {
        match change {
            ListenerChange::Keep => {
                // Same address; the position may have moved in the file.
                if let (Some((_, c)), Some(m)) = (&mut self.listener, &new.metrics) {
                    *c = m.clone();
                }
            }
            ListenerChange::Stop => {
                if let Some((l, _)) = self.listener.take() {
                    tracing::info!(listen = %l.local_addr(), "metrics listener stopped");
                }
            }
            ListenerChange::Start(l, m) => {
                tracing::info!(listen = %l.local_addr(), "metrics listener");
                self.listener = Some((l, m));
            }
        }
    }

    pub(super) fn count_reload(&self, ok: bool) {
        self.metrics.with(|s| {
            if ok {
                s.reloads.0 += 1;
            } else {
                s.reloads.1 += 1;
            }
        });
    }
}

/// Active members of each group that stays, before and after a FIB change:
/// for every group present in both, the members active before and not
/// after, by group name.
pub(super) fn failovers(
    old: (&[ResolvedGroup], &[PlannedGroup]),
    new: (&[ResolvedGroup], &[PlannedGroup]),
) -> Vec<(Route, usize)> {
    let active = |(resolved, planned): (&[ResolvedGroup], &[PlannedGroup])| {
        let by_route: HashMap<Route, &PlannedGroup> =
            planned.iter().map(|p| (p.route, p)).collect();
        let mut out: HashMap<Route, BTreeSet<Ipv6Addr>> = HashMap::new();
        for g in resolved {
            let Some(p) = by_route.get(&g.route) else {
                continue;
            };
            let set = out.entry(g.route).or_default();
            for (r, pl) in g.members.iter().zip(&p.placements) {
                if matches!(
                    pl,
                    Placement::Installed {
                        state: MemberState::Active,
                        ..
                    }
                ) {
                    set.insert(r.member.address);
                }
            }
        }
        out
    };
    let before = active(old);
    let after = active(new);
    let mut out: Vec<(Route, usize)> = before
        .iter()
        .filter_map(|(route, was)| {
            let now = after.get(route)?;
            let left = was.difference(now).count();
            (left > 0).then_some((*route, left))
        })
        .collect();
    out.sort();
    out
}

/// Label strings and member counts of the FIB as planned.
fn names(resolved: &[ResolvedGroup], planned: &[PlannedGroup]) -> Names {
    let mut n = Names::default();
    let by_route: HashMap<Route, &ResolvedGroup> = resolved.iter().map(|g| (g.route, g)).collect();
    for p in planned {
        let group = p.route.to_string();
        let mut members = [0u32; 3];
        let r = by_route.get(&p.route);
        for (i, pl) in p.placements.iter().enumerate() {
            let Placement::Installed { member_id, state } = pl else {
                continue;
            };
            let slot = match state {
                MemberState::Active => 0,
                MemberState::Draining => 1,
                MemberState::Down => 2,
            };
            members[slot] += 1;
            if let Some(m) = r.and_then(|g| g.members.get(i)) {
                n.members.insert(
                    *member_id,
                    MemberName {
                        group: group.clone(),
                        member: m.member.address.to_string(),
                        id: member_id.to_string(),
                    },
                );
            }
        }
        n.groups.insert(
            p.group_id,
            GroupName {
                group,
                id: p.group_id.to_string(),
                members,
            },
        );
    }
    n
}

/// Counts of the protocols' `show` views.
pub(super) fn proto_state(
    running: Vec<(&'static str, bool)>,
    ard: Option<&Value>,
    arip: Option<&Value>,
    aospf: Option<(&Value, &Value)>,
    piasm: Option<&Value>,
    mga: Option<&Value>,
) -> ProtoState {
    let arr = |v: &Value| v.as_array().map(Vec::as_slice).unwrap_or(&[]).to_vec();
    let len = |v: &Value| v.as_array().map_or(0, Vec::len) as u64;
    let ard = ard.map(|v| {
        let mut members = 0;
        let mut addresses = 0;
        for i in arr(&v["interfaces"]) {
            for m in arr(&i["members"]) {
                members += 1;
                addresses += len(&m["addresses"]);
            }
        }
        (members, addresses)
    });
    let kinds = |routes: &Value, held: &dyn Fn(&Value) -> bool| {
        let mut any = 0;
        let mut uni = 0;
        for r in arr(routes).iter().filter(|r| held(r)) {
            if r["anycast"].as_bool() == Some(true) {
                any += 1;
            } else {
                uni += 1;
            }
        }
        (any, uni)
    };
    let arip = arip.map(|v| {
        // A route at metric 16 is withdrawn, waiting for garbage collection.
        let (any, uni) = kinds(&v["routes"], &|r| r["metric"].as_u64() != Some(16));
        (len(&v["neighbors"]), any, uni)
    });
    let aospf = aospf.map(|(neighbors, routes)| {
        let mut states = BTreeMap::new();
        for n in arr(neighbors) {
            let st = n["state"].as_str().unwrap_or("unknown").to_string();
            *states.entry(st).or_insert(0) += 1;
        }
        let (any, uni) = kinds(routes, &|_| true);
        (states, any, uni)
    });
    let piasm = piasm.map(|v| {
        let mut branches = BTreeMap::new();
        for t in arr(&v["trees"]) {
            let a = t["anycast"].as_str().unwrap_or_default().to_string();
            *branches.entry(a).or_insert(0) += len(&t["branches"]);
        }
        (len(&v["neighbors"]), branches)
    });
    let mga = mga.map(|v| {
        let mut bindings = BTreeMap::new();
        for h in arr(&v["home_agent"]["bindings"]) {
            let a = h["home"].as_str().unwrap_or_default().to_string();
            *bindings.entry(a).or_insert(0) += len(&h["bindings"]);
        }
        (
            bindings,
            len(&v["member"]["registrations"]),
            len(&v["correspondent"]["flow_bindings"]),
        )
    });
    ProtoState {
        running,
        ard,
        arip,
        aospf,
        piasm,
        mga,
    }
}

impl Daemon {
    /// A reload, counted (`anycast6_reloads_total`).
    pub(super) async fn reload_counted(
        &mut self,
        confirm_s: Option<u32>,
    ) -> Result<crate::mgmt::views::ReloadView, String> {
        let r = self.reload(confirm_s).await;
        self.metrics.count_reload(r.is_ok());
        r
    }

    /// The FIB changed from (`self.resolved`, `self.planned`) to these:
    /// failovers counted, label strings rebuilt at the next scrape.
    pub(super) fn metrics_plan(&mut self, resolved: &[ResolvedGroup], planned: &[PlannedGroup]) {
        let left = failovers((&self.resolved, &self.planned), (resolved, planned));
        if !left.is_empty() {
            self.metrics.metrics.with(|s| {
                for (route, n) in left {
                    *s.failovers.entry(route.to_string()).or_insert(0) += n as u64;
                }
            });
        }
        self.metrics.names_stale = true;
    }

    fn metrics_protocols(&self) -> ProtoState {
        let running = vec![
            (
                "ard",
                self.ard_router.is_some() || self.ard_member.is_some(),
            ),
            ("arip", self.arip.is_some()),
            ("aarp", self.aarp.is_some()),
            ("aospf", self.aospf.is_some()),
            ("piasm", self.piasm.is_some()),
            ("mga", self.mga.is_some()),
            ("kernel_import", self.kernel_import.is_some()),
        ];
        let ard = self
            .ard_router
            .as_ref()
            .map(|(t, _)| t.view()["router"].clone());
        let arip = self.arip.as_ref().map(|(t, _)| t.view()["view"].clone());
        let aospf = self
            .aospf
            .as_ref()
            .map(|(t, _)| (t.view(Some("neighbors")), t.view(Some("routes"))));
        let piasm = self.piasm.as_ref().map(|(t, _)| t.view(None));
        let mga = self.mga.as_ref().map(|(t, _)| t.view());
        proto_state(
            running,
            ard.as_ref(),
            arip.as_ref(),
            aospf.as_ref().map(|(a, b)| (a, b)),
            piasm.as_ref(),
            mga.as_ref(),
        )
    }

    /// One scrape: the text Prometheus gets.
    pub(super) fn scrape(&mut self) -> String {
        let counters = match self.fast_path_counters() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: fast path counters not read");
                None
            }
        };
        let decap = self.decap.as_ref().and_then(|d| d.counters().ok());
        let protocols = self.metrics_protocols();
        let names = std::mem::take(&mut self.metrics.names_stale)
            .then(|| names(&self.resolved, &self.planned));
        let mut out = String::with_capacity(self.metrics.last_len + 4096);
        self.metrics.metrics.render(&mut out, |s| {
            if let Some((c, tunnel, _)) = counters {
                s.reasons.clear();
                s.reasons
                    .extend(c.reasons.iter().map(|(r, p, b)| ReasonCount {
                        reason: r.name(),
                        verdict: super::show::verdict_name(r.verdict()),
                        packets: *p,
                        bytes: *b,
                    }));
                let plain = |(reason, packets, bytes): (&'static str, u64, u64)| ReasonCount {
                    reason,
                    verdict: "",
                    packets,
                    bytes,
                };
                s.tunnel.clear();
                s.tunnel.extend(tunnel.into_iter().map(plain));
                s.groups = c.groups;
                s.members = c.members;
            }
            s.decap.clear();
            if let Some(d) = decap {
                s.decap
                    .extend(d.into_iter().map(|(reason, packets, bytes)| ReasonCount {
                        reason,
                        verdict: "",
                        packets,
                        bytes,
                    }));
            }
            if let Some(n) = names {
                s.names = n;
            }
            s.protocols = protocols;
        });
        self.metrics.last_len = out.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn protocol_counts_come_from_the_views() {
        let ard = json!({"interfaces": [
            {"members": [{"addresses": [1, 2]}, {"addresses": [3]}]},
            {"members": []},
        ]});
        let arip = json!({
            "neighbors": [{}, {}],
            "routes": [
                {"anycast": true, "metric": 2},
                {"anycast": false, "metric": 1},
                {"anycast": true, "metric": 16},
            ],
        });
        let nbrs = json!([{"state": "Full"}, {"state": "Full"}, {"state": "Init"}]);
        let routes = json!([{"anycast": true}, {"anycast": false}, {"anycast": false}]);
        let piasm = json!({"neighbors": [{}], "trees": [
            {"anycast": "2001:db8::a", "branches": [{}, {}]},
            {"anycast": "2001:db8::b", "branches": []},
        ]});
        let mga = json!({
            "home_agent": {"bindings": [{"home": "2001:db8::a", "bindings": [{}, {}, {}]}]},
            "member": null,
            "correspondent": {"flow_bindings": [{}]},
        });
        let p = proto_state(
            vec![("ard", true)],
            Some(&ard),
            Some(&arip),
            Some((&nbrs, &routes)),
            Some(&piasm),
            Some(&mga),
        );
        assert_eq!(p.ard, Some((2, 3)));
        assert_eq!(p.arip, Some((2, 1, 1)));
        let (states, any, uni) = p.aospf.unwrap();
        assert_eq!((states["Full"], states["Init"], any, uni), (2, 1, 1, 2));
        let (n, branches) = p.piasm.unwrap();
        assert_eq!(
            (n, branches["2001:db8::a"], branches["2001:db8::b"]),
            (1, 2, 0)
        );
        let (b, regs, flows) = p.mga.unwrap();
        assert_eq!((b["2001:db8::a"], regs, flows), (3, 0, 1));
    }

    fn group(route: &str, members: &[&str]) -> ResolvedGroup {
        ResolvedGroup {
            route: crate::config::parse_route(route).unwrap(),
            members: members
                .iter()
                .map(|a| super::super::resolve::Resolved {
                    member: crate::config::MemberConfig::new(a.parse().unwrap(), None),
                    source: crate::proto::Source::Config,
                    egress: super::super::resolve::Egress::Local,
                    neigh: None,
                    reach: crate::rib::Reach::Unreachable {
                        ifindex: 0,
                        smac: [0; 6],
                        mtu: 1500,
                    },
                })
                .collect(),
        }
    }

    fn planned(route: &str, id: u32, states: &[Option<MemberState>]) -> PlannedGroup {
        PlannedGroup {
            route: crate::config::parse_route(route).unwrap(),
            group_id: id,
            best_admin_distance: None,
            best_distance: None,
            placements: states
                .iter()
                .enumerate()
                .map(|(i, s)| match s {
                    Some(state) => Placement::Installed {
                        member_id: i as u32,
                        state: *state,
                    },
                    None => Placement::NotBest,
                })
                .collect(),
        }
    }

    #[test]
    fn a_failover_is_a_member_leaving_the_active_set_of_a_group_that_stays() {
        use MemberState::*;
        let a = "2001:db8:ac::1";
        let b = "2001:db8:ac::2";
        let gone = "2001:db8:ac::3";
        let old_r = vec![
            group(a, &["2001:db8::1", "2001:db8::2", "2001:db8::3"]),
            group(b, &["2001:db8::1"]),
            group(gone, &["2001:db8::1"]),
        ];
        let old_p = vec![
            planned(a, 1, &[Some(Active), Some(Active), Some(Active)]),
            planned(b, 2, &[Some(Draining)]),
            planned(gone, 3, &[Some(Active)]),
        ];
        // In a: ::1 is removed, ::2 goes down, ::3 stays; a member joins.
        // b: a draining member leaving was not active. The third group goes
        // whole: not a failover.
        let new_r = vec![
            group(a, &["2001:db8::2", "2001:db8::3", "2001:db8::4"]),
            group(b, &[]),
        ];
        let new_p = vec![
            planned(a, 1, &[Some(Down), Some(Active), Some(Active)]),
            planned(b, 2, &[]),
        ];
        let f = failovers((&old_r, &old_p), (&new_r, &new_p));
        assert_eq!(f, vec![(crate::config::parse_route(a).unwrap(), 2)]);
        // Nothing changed: nothing counted.
        assert!(failovers((&new_r, &new_p), (&new_r, &new_p)).is_empty());
        let n = names(&new_r, &new_p);
        assert_eq!(n.groups[&1].members, [2, 0, 1]);
        assert_eq!(n.members[&1].member, "2001:db8::3");
        assert_eq!(n.members[&1].group, a);
    }

    #[tokio::test]
    async fn a_listener_that_cannot_bind_fails_the_start_and_refuses_a_reload() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let cfg = |port: u16| {
            crate::config::parse(
                "a6.toml",
                &format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
            )
            .unwrap()
        };
        let e = MetricsSide::start(&cfg(port)).err().expect("a taken port");
        assert!(
            e.starts_with(&format!(
                "a6.toml:3:10: metrics.listen 127.0.0.1:{port}: cannot listen: "
            )),
            "{e}"
        );
        let none = crate::config::parse("a6.toml", "").unwrap();
        let side = MetricsSide::start(&none).unwrap();
        assert!(side.listener.is_none());
        assert!(matches!(side.prepare(&none), Ok(ListenerChange::Keep)));
        let e = side.prepare(&cfg(port)).err().expect("a taken port");
        assert!(e.contains("cannot listen"), "{e}");
        drop(held);
    }
}
