//! Member change → visible in the BPF map: how long from asking anycast6d
//! for a membership change until the pinned `a6_groups` map holds the
//! republished group.
//!
//! anycast6d (target/release) runs in a router namespace with one group
//! under test (4 configured members) and a "keeper" group holding every
//! pool member, so the neighbour of the member that comes and goes stays
//! resolved: a change never waits for neighbour discovery (the daemon's
//! settle time), and what is measured is the daemon's own path (request,
//! plan, Maglev build, map writes). Samples alternate `member add` and
//! `member remove` of one member; the clock starts just before the request
//! and stops when a reader of the pinned map (MapData::from_pin + aya
//! HashMap, polled every 100 µs) sees the new generation with the expected
//! member count.
//!
//! Two clients: the `anycast6ctl` command (what an operator runs; includes
//! its process start) and one JSON line on the management socket (the
//! daemon's part alone).

use std::time::{Duration, Instant};

use anycast6_dataplane::abi::{self, Group};
use anyhow::{bail, Context, Result};
use aya::maps::{HashMap, MapData};

use crate::daemon::{self, pool_addr, Daemon, Paths, Topology, ROUTER_IF};
use crate::figure::Figure;
use crate::progress::Progress;
use crate::Opts;

const GROUP: &str = "2001:db8:ac::1";
const KEEPER: &str = "2001:db8:ac::ffff";
/// Configured members of GROUP (pool indices); CHURN comes and goes.
const CONFIGURED: [usize; 4] = [0, 1, 2, 3];
const CHURN: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    Ctl,
    Socket,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

struct Probe {
    groups: HashMap<MapData, u32, Group>,
    gid: u32,
}

impl Probe {
    fn read(&self) -> Result<(u32, u16)> {
        let g = self.groups.get(&self.gid, 0).context("reading the group")?;
        Ok((g.gen, g.n_members))
    }
}

/// One change; returns (ms until visible, ms until the client returned).
fn one_change(d: &Daemon, probe: &Probe, client: Client, add: bool) -> Result<(f64, f64)> {
    let (gen0, _) = probe.read()?;
    let want = CONFIGURED.len() as u16 + u16::from(add);
    let member = pool_addr(CHURN);
    let t = Instant::now();
    let mut visible = None;
    match client {
        Client::Ctl => {
            let mut cmd = std::process::Command::new(daemon::bin("anycast6ctl")?);
            cmd.arg("--socket")
                .arg(&d.socket)
                .args(["member", if add { "add" } else { "remove" }, GROUP, &member])
                .args(["--interface", ROUTER_IF])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            let mut child = cmd.spawn().context("starting anycast6ctl")?;
            let status = loop {
                if visible.is_none() {
                    let (gen, n) = probe.read()?;
                    if gen != gen0 && n == want {
                        visible = Some(t.elapsed());
                    }
                }
                if let Some(st) = child.try_wait()? {
                    break st;
                }
                std::thread::sleep(Duration::from_micros(100));
            };
            if !status.success() {
                let out = child.wait_with_output()?;
                bail!(
                    "anycast6ctl member {}: {status}: {}",
                    if add { "add" } else { "remove" },
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
        Client::Socket => {
            let line = if add {
                format!(
                    r#"{{"cmd":"member_add","group":"{GROUP}","address":"{member}","interface":"{ROUTER_IF}"}}"#
                )
            } else {
                format!(
                    r#"{{"cmd":"member_remove","group":"{GROUP}","address":"{member}","interface":"{ROUTER_IF}"}}"#
                )
            };
            // The reply comes after the map write; poll from another
            // thread so the visible time is not bounded by the reply.
            let socket = d.socket.clone();
            let req = std::thread::spawn(move || daemon::request(&socket, &line));
            while visible.is_none() && !req.is_finished() {
                let (gen, n) = probe.read()?;
                if gen != gen0 && n == want {
                    visible = Some(t.elapsed());
                }
                std::thread::sleep(Duration::from_micros(100));
            }
            match req.join() {
                Ok(r) => {
                    r?;
                }
                Err(_) => bail!("request thread panicked"),
            }
        }
    }
    let done = t.elapsed();
    let visible = match visible {
        Some(v) => v,
        None => {
            // The client returned first: the change must be there now.
            let (gen, n) = probe.read()?;
            if gen == gen0 || n != want {
                bail!("change not visible after the reply (gen {gen0}→{gen}, {n} members, want {want})");
            }
            t.elapsed()
        }
    };
    Ok((visible.as_secs_f64() * 1e3, done.as_secs_f64() * 1e3))
}

pub fn run(opts: Opts, progress: &Progress) -> Result<Vec<Figure>> {
    let samples = if opts.quick { 100 } else { 400 };
    progress.step("topology and anycast6d");
    let topo = Topology::new()?;
    let paths = Paths::new("lat")?;
    let mut text = daemon::header(&paths.socket, paths.pins.path(), &paths.state, None);
    {
        let mut b = Vec::new();
        daemon::group(&mut b, GROUP, &CONFIGURED)?;
        daemon::group(&mut b, KEEPER, &(0..daemon::POOL).collect::<Vec<_>>())?;
        text.push_str(&String::from_utf8_lossy(&b));
    }
    std::fs::write(&paths.config, text)?;
    let d = Daemon::start(&topo.rt, paths, Duration::from_secs(30), progress, |_| {
        Ok(())
    })?;

    let groups = daemon::request(&d.socket, r#"{"cmd":"show","what":"groups"}"#)?;
    let gid = groups
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["group"] == GROUP)
        .and_then(|g| g["group_id"].as_u64())
        .context("group id of the group under test")? as u32;
    let md = MapData::from_pin(d.pin_dir().join(abi::map::GROUPS))?;
    let probe = Probe {
        groups: HashMap::try_from(aya::maps::Map::from_map_data(md)?)?,
        gid,
    };
    // Members resolve through ND right after start: wait until all active.
    let t = Instant::now();
    loop {
        progress.check()?;
        let g = probe.groups.get(&gid, 0)?;
        if g.members().iter().all(|m| m.state == abi::STATE_ACTIVE) && g.n_members == 4 {
            break;
        }
        if t.elapsed() > Duration::from_secs(15) {
            bail!(
                "members of {GROUP} not active after 15 s:\n{}",
                d.log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut out = Vec::new();
    for client in [Client::Ctl, Client::Socket] {
        let (tag, what) = match client {
            Client::Ctl => ("ctl", "anycast6ctl member add/remove"),
            Client::Socket => ("api", "member_add/member_remove on the management socket"),
        };
        let mut vis = Vec::with_capacity(samples);
        let mut rtt = Vec::with_capacity(samples);
        for i in 0..samples {
            progress.check()?;
            if i % 10 == 0 {
                progress.step(format!("{tag}: change {}/{samples}", i + 1));
            }
            let (v, r) = one_change(&d, &probe, client, i % 2 == 0)?;
            vis.push(v);
            rtt.push(r);
        }
        let mut sorted = vis.clone();
        sorted.sort_by(f64::total_cmp);
        let p50 = percentile(&sorted, 0.5);
        let p99 = percentile(&sorted, 0.99);
        let note = format!(
            "{samples} changes alternating add and remove of one member of a 4-member group, \
             through {what}, anycast6d (release) in a network namespace; clock from just before \
             the request to a reader of the pinned a6_groups map seeing the new generation \
             (polled every 100 µs); neighbours already resolved (a keeper group holds them)"
        );
        out.push(Figure::from_samples(
            &format!("latency.change_visible_{tag}_p50_ms"),
            &format!("member change → visible in a6_groups, p50 ({what})"),
            "ms",
            vis,
            None,
            &format!("{note}; median = p50, [min–max] over all samples"),
        ));
        out.push(Figure::from_samples(
            &format!("latency.change_visible_{tag}_p99_ms"),
            &format!("member change → visible in a6_groups, p99 ({what})"),
            "ms",
            vec![p99],
            None,
            &format!("99th percentile of the samples of latency.change_visible_{tag}_p50_ms (p50 {p50:.3} ms)"),
        ));
        let mut rs = rtt.clone();
        rs.sort_by(f64::total_cmp);
        out.push(Figure::from_samples(
            &format!("latency.change_reply_{tag}_ms"),
            &format!("member change → client returned ({what})"),
            "ms",
            rtt,
            None,
            &format!(
                "same changes, clock until the client returned (reply read; for anycast6ctl, the \
                 process exited); p99 {:.3} ms",
                percentile(&rs, 0.99)
            ),
        ));
    }
    drop(d);
    drop(topo);
    Ok(out)
}
