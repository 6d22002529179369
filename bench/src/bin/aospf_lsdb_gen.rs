//! aospf-lsdb-gen: one AOSPF core (`anycast6_aospf::Instance`) on a raw
//! IPv6 socket, for the AOSPF benchmark (bench/src/aospf.rs). Two roles:
//!
//! - load generator (`--grid R:P:M`): once its neighbour is Full (and
//!   its own origination has settled, [`INJECT_AFTER`]) it hands
//!   it a synthetic database, `spf::synth::grid(R, P, M)` with itself as
//!   the grid's router 0, through `Instance::inject`; each SIGUSR1 then
//!   changes the metric of one grid router's links (one new Router-LSA),
//!   so the peer runs SPF again;
//! - plain router (no `--grid`): an AOSPF peer that learns whatever it is
//!   sent, for the adjacency and memory figures.
//!
//! ```text
//!  raw socket ip/89 ──► handle_packet ──► Instance ──► Send ──► raw socket (hop limit 1)
//!  timer ─────────────► handle_timeout      └─► Rib / Kernel: counted, not installed
//!  SIGUSR1 ───────────► inject (one changed Router-LSA)
//!  stdout: one JSON object a line (`ev`: up, full, injected, quiet, perturbed)
//! ```
//!
//! The socket is the daemon's (`daemon::link::LinkSocket`, next header 89,
//! no IPV6_CHECKSUM: the core computes the checksum), joined to ff02::5
//! (and ff02::6 on a broadcast link) on the one interface, sending from
//! the interface's link-local address with hop limit 1.
//!
//! "quiet" is printed once nothing but Hellos has crossed the link for
//! `--quiet-ms` (flooding, acknowledgements and SPF are done), with the
//! process's resident memory then.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::time::Duration;

use anycast6_aospf::packet::lsa::{LsaType, RouterLsa};
use anycast6_aospf::packet::{Lsa, LsaBody};
use anycast6_aospf::spf::synth;
use anycast6_aospf::{Config, Instance, InterfaceConfig, NetworkType, Output};
use anycast6_control::daemon::link::{LinkSocket, Transport};
use anycast6_core::clock::MonoClock;
use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};

const PROTO_OSPF: u8 = 89;
const ALL_SPF_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 5);
const ALL_D_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 6);
/// OSPFv3 packet types (the second octet of the header).
const HELLO: u8 = 1;
const LS_ACK: u8 = 5;
/// Injected LSAs at most unacknowledged: a peer's socket buffer (208 KiB
/// by default) takes a burst of this many one-LSA updates, and the core
/// retransmits only one packet per interval, so a burst it dropped would
/// take minutes to arrive.
const WINDOW: usize = 64;
/// Link State ID of the generator's second Router-LSA (the grid links) and
/// of its Intra-Area-Prefix-LSA for the grid prefixes: the core's own
/// LSAs use 0 (and 0x8000_0000 | n for more prefixes).
const GRID_ROUTER_LSA_ID: u32 = 1;
const GRID_PREFIX_LSA_ID: u32 = 0x4000_0000;
/// The grid goes in this long after Full: the core re-originates its
/// Router-LSA for the new adjacency at most MinLSInterval after its first
/// one, and every origination flushes our LSAs it did not make (the
/// injected ones: RFC 2328 §13.4's rule for self-originated LSAs). Once
/// that has happened nothing re-originates while the adjacency holds.
const INJECT_AFTER: Duration =
    Duration::from_secs(anycast6_aospf::lsdb::MIN_LS_INTERVAL.as_secs() + 1);

/// An AOSPF core on one interface; a synthetic database for its peer.
#[derive(Parser, Debug)]
#[command(name = "aospf-lsdb-gen")]
struct Args {
    /// The interface to run on (inside the current network namespace).
    #[arg(long)]
    iface: String,
    /// Router id (with --grid: the grid's router 0 unless given).
    #[arg(long)]
    router_id: Option<Ipv4Addr>,
    /// broadcast or point-to-point.
    #[arg(long, default_value = "point-to-point")]
    network: String,
    #[arg(long, default_value_t = 1)]
    hello_s: u64,
    #[arg(long, default_value_t = 4)]
    dead_s: u64,
    #[arg(long, default_value_t = 2)]
    retransmit_s: u64,
    #[arg(long, default_value_t = 10)]
    cost: u16,
    #[arg(long, default_value_t = 1500)]
    mtu: u16,
    /// Delay before SPF (ms); a generator that must not compete with its
    /// peer for the CPU sets it high.
    #[arg(long, default_value_t = 50)]
    spf_delay_ms: u64,
    #[arg(long, default_value_t = 200)]
    spf_hold_ms: u64,
    /// ROUTERS:PREFIXES:METRIC — inject `synth::grid(..)` once Full.
    #[arg(long)]
    grid: Option<String>,
    /// How long only Hellos must cross the link before "quiet".
    #[arg(long, default_value_t = 3000)]
    quiet_ms: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

/// One JSON event on stdout (the bench reads the log line by line).
fn emit(v: serde_json::Value) {
    println!("{v}");
}

/// VmRSS of this process, KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// (ifindex, link-local address) of `name` from /proc/net/if_inet6, which
/// shows the reading process's namespace.
fn link_local_of(name: &str) -> Result<(u32, Ipv6Addr)> {
    let text = std::fs::read_to_string("/proc/net/if_inet6")?;
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() == 6 && f[5] == name && f[3] == "20" {
            let addr = u128::from_str_radix(f[0], 16).context("if_inet6 address")?;
            let ifindex = u32::from_str_radix(f[1], 16).context("if_inet6 ifindex")?;
            return Ok((ifindex, Ipv6Addr::from(addr)));
        }
    }
    bail!("{name} has no link-local address (yet)")
}

struct Grid {
    routers: u32,
    prefixes: u32,
    metric: u16,
}

fn parse_grid(s: &str) -> Result<Grid> {
    let p: Vec<&str> = s.split(':').collect();
    if p.len() != 3 {
        bail!("--grid wants ROUTERS:PREFIXES:METRIC, got {s:?}");
    }
    Ok(Grid {
        routers: p[0].parse()?,
        prefixes: p[1].parse()?,
        metric: p[2].parse()?,
    })
}

/// The grid as LSAs to inject: every area LSA of `synth::grid` except
/// router 0's own ones, which become a second Router-LSA of ours (link
/// state id 1: a router's Router-LSAs are read as one, so the grid's
/// links back to router 0 pass the two-way check) and a second
/// Intra-Area-Prefix-LSA. The core's Router-LSA (id 0) keeps only the real
/// link. Link-LSAs of the grid are left out (they describe links that do
/// not exist).
fn grid_lsas(g: &Grid) -> Vec<Lsa> {
    let db = synth::grid(g.routers, g.prefixes, g.metric);
    let me = db.root;
    db.area
        .into_iter()
        .map(|mut l| {
            if l.header.adv_router == me {
                let id = match l.header.ls_type {
                    LsaType::ROUTER => GRID_ROUTER_LSA_ID,
                    _ => GRID_PREFIX_LSA_ID,
                };
                l.header.id = Ipv4Addr::from(id);
                l.seal();
            }
            l
        })
        .collect()
}

/// The Router-LSA that SIGUSR1 changes: the middle router's, each time
/// with a new sequence number and its link metrics one up or back down.
struct Perturb {
    lsa: Lsa,
    base: u16,
    up: bool,
}

impl Perturb {
    fn next(&mut self) -> Lsa {
        self.up = !self.up;
        let m = if self.up { self.base + 1 } else { self.base };
        if let LsaBody::Router(RouterLsa { links, .. }) = &mut self.lsa.body {
            for l in links {
                l.metric = m;
            }
        }
        self.lsa.header.seq = self.lsa.header.seq.wrapping_add(1);
        self.lsa.header.age = 1;
        self.lsa.seal();
        self.lsa.clone()
    }
}

/// The grid on its way: LSAs go in while fewer than [`WINDOW`] of them
/// wait for an acknowledgement.
struct Injection {
    pending: std::collections::VecDeque<Lsa>,
    total: usize,
    sent: usize,
    acked: usize,
    started: std::time::Instant,
    rss_before: u64,
    told: bool,
}

/// The generator's state around the core.
struct Gen {
    clock: MonoClock,
    inst: Instance,
    sock: LinkSocket,
    ifindex: u32,
    /// When something other than a Hello last crossed the link.
    last_busy: std::time::Instant,
    quiet_told: bool,
    rib_changes: u64,
    kernel_changes: u64,
}

impl Gen {
    /// Sends what the core queued; counts the rest.
    async fn flush(&mut self) -> Result<()> {
        while let Some(o) = self.inst.poll_output() {
            match o {
                Output::Send {
                    ifindex,
                    src,
                    dst,
                    bytes,
                } => {
                    if bytes.get(1) != Some(&HELLO) {
                        self.busy();
                    }
                    self.sock
                        .send(&bytes, src, ifindex, SocketAddrV6::new(dst, 0, 0, 0))
                        .await
                        .with_context(|| format!("sending to {dst}"))?;
                }
                Output::Rib(_) => self.rib_changes += 1,
                Output::Kernel(_) => self.kernel_changes += 1,
            }
        }
        Ok(())
    }

    fn busy(&mut self) {
        self.last_busy = std::time::Instant::now();
        self.quiet_told = false;
    }

    /// Injects what the window allows.
    async fn feed(&mut self, inj: &mut Injection) -> Result<()> {
        while inj.sent.saturating_sub(inj.acked) < WINDOW {
            let Some(l) = inj.pending.pop_front() else {
                break;
            };
            self.inst.inject(self.clock.now(), self.ifindex, l);
            inj.sent += 1;
            self.flush().await?;
        }
        if inj.pending.is_empty() && !inj.told {
            inj.told = true;
            emit(json!({"ev": "injected", "lsas": inj.total,
                        "ms": inj.started.elapsed().as_secs_f64() * 1e3,
                        "rss_before_kib": inj.rss_before, "rss_kib": rss_kib()}));
        }
        Ok(())
    }
}

/// LSA headers in an LS Acknowledgement (type 5): its length less the
/// 16-octet header, in 20-octet headers.
fn acked_headers(bytes: &[u8]) -> usize {
    if bytes.len() < 16 || bytes[1] != LS_ACK {
        return 0;
    }
    let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    len.saturating_sub(16) / 20
}

async fn run(args: Args) -> Result<()> {
    let clock = MonoClock::new();
    let grid = args.grid.as_deref().map(parse_grid).transpose()?;
    let rid = match (args.router_id, &grid) {
        (Some(r), _) => r,
        (None, Some(_)) => synth::router_id(0),
        (None, None) => bail!("--router-id is needed without --grid"),
    };
    if grid.is_some() && rid != synth::router_id(0) {
        bail!(
            "with --grid the router id must be the grid's router 0, {}",
            synth::router_id(0)
        );
    }
    let network = match args.network.as_str() {
        "broadcast" => NetworkType::Broadcast,
        "point-to-point" => NetworkType::PointToPoint,
        n => bail!("--network {n}: broadcast or point-to-point"),
    };
    // The link-local address appears a moment after the link comes up.
    let mut tries = 0;
    let (ifindex, ll) = loop {
        match link_local_of(&args.iface) {
            Ok(x) => break x,
            Err(e) if tries > 50 => return Err(e),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let sock = LinkSocket::open(
        Transport::Raw {
            next_header: PROTO_OSPF,
            checksum_offset: None,
        },
        1,
    )?;
    sock.join(ALL_SPF_ROUTERS, ifindex)?;
    if network == NetworkType::Broadcast {
        sock.join(ALL_D_ROUTERS, ifindex)?;
    }

    let mut cfg = Config::new(rid);
    cfg.spf_delay = Duration::from_millis(args.spf_delay_ms);
    cfg.spf_hold = Duration::from_millis(args.spf_hold_ms);
    let inst = Instance::new(cfg, clock.now());
    let mut ic = InterfaceConfig::new(ifindex, &args.iface, ll, network);
    ic.hello_interval = Duration::from_secs(args.hello_s);
    ic.dead_interval = Duration::from_secs(args.dead_s);
    ic.retransmit_interval = Duration::from_secs(args.retransmit_s);
    ic.cost = args.cost;
    ic.mtu = args.mtu;
    emit(
        json!({"ev": "up", "ifindex": ifindex, "link_local": ll.to_string(),
                "router_id": rid.to_string(), "rss_kib": rss_kib()}),
    );
    let mut g = Gen {
        clock,
        inst,
        sock,
        ifindex,
        last_busy: std::time::Instant::now(),
        quiet_told: false,
        rib_changes: 0,
        kernel_changes: 0,
    };
    g.inst.interface_up(clock.now(), ic);

    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut buf = vec![0u8; 65536];
    let quiet_for = Duration::from_millis(args.quiet_ms);
    // Hello → Full, seen from here: the first Hello of each neighbour.
    let mut first_hello: std::collections::BTreeMap<Ipv4Addr, std::time::Instant> =
        Default::default();
    let mut full_at: Option<std::time::Instant> = None;
    let mut injection: Option<Injection> = None;
    let mut perturb: Option<Perturb> = None;

    loop {
        g.flush().await?;
        if full_at.is_none() {
            // A handful of LSAs until Full: the view is cheap here.
            let v = g.inst.view(clock.now());
            if let Some(n) = v.neighbors.iter().find(|n| n.state == "Full") {
                full_at = Some(std::time::Instant::now());
                let since = first_hello
                    .get(&n.router_id)
                    .map(|t| t.elapsed().as_secs_f64() * 1e3);
                emit(json!({"ev": "full", "neighbor": n.router_id.to_string(),
                            "hello_to_full_ms": since, "rss_kib": rss_kib()}));
            }
        }
        let settled = full_at.is_some_and(|t| t.elapsed() >= INJECT_AFTER);
        if let (Some(spec), true, None) = (&grid, settled, &injection) {
            let rss_before = rss_kib();
            let started = std::time::Instant::now();
            let lsas = grid_lsas(spec);
            let middle = synth::router_id(spec.routers / 2);
            perturb = lsas
                .iter()
                .find(|l| l.header.adv_router == middle && l.header.ls_type == LsaType::ROUTER)
                .map(|l| Perturb {
                    lsa: l.clone(),
                    base: spec.metric,
                    up: false,
                });
            injection = Some(Injection {
                total: lsas.len(),
                pending: lsas.into(),
                sent: 0,
                acked: 0,
                started,
                rss_before,
                told: false,
            });
        }
        if let Some(inj) = injection.as_mut() {
            g.feed(inj).await?;
        }
        if !g.quiet_told && full_at.is_some() && g.last_busy.elapsed() >= quiet_for {
            g.quiet_told = true;
            emit(
                json!({"ev": "quiet", "rss_kib": rss_kib(), "rib_changes": g.rib_changes,
                        "kernel_changes": g.kernel_changes}),
            );
        }

        let mut deadline = g
            .inst
            .poll_timeout()
            .map(|t| clock.to_std(t))
            .unwrap_or_else(|| std::time::Instant::now() + Duration::from_secs(1));
        // Wake for the quiet check and the injection too.
        if !g.quiet_told && full_at.is_some() {
            deadline = deadline.min(g.last_busy + quiet_for);
        }
        if let (Some(t), None, true) = (full_at, &injection, grid.is_some()) {
            deadline = deadline.min(t + INJECT_AFTER);
        }
        tokio::select! {
            r = g.sock.recv(&mut buf) => {
                let r = r?;
                let bytes = &buf[..r.len];
                if bytes.get(1) == Some(&HELLO) {
                    if bytes.len() >= 8 {
                        let from = Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]);
                        first_hello.entry(from).or_insert_with(std::time::Instant::now);
                    }
                } else {
                    g.busy();
                }
                if let Some(inj) = injection.as_mut() {
                    inj.acked += acked_headers(bytes);
                }
                g.inst.handle_packet(clock.now(), r.ifindex, r.src, r.dst, bytes);
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                g.inst.handle_timeout(clock.now());
            }
            _ = usr1.recv() => {
                if let Some(p) = perturb.as_mut() {
                    let l = p.next();
                    let seq = l.header.seq;
                    g.inst.inject(clock.now(), ifindex, l);
                    g.busy();
                    emit(json!({"ev": "perturbed", "seq": format!("{:#010x}", seq as u32)}));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_lsas_give_router_0_second_ids() {
        let g = Grid {
            routers: 100,
            prefixes: 1000,
            metric: 3,
        };
        let lsas = grid_lsas(&g);
        assert_eq!(lsas.len(), 200);
        let me = synth::router_id(0);
        let mine: Vec<(LsaType, u32)> = lsas
            .iter()
            .filter(|l| l.header.adv_router == me)
            .map(|l| (l.header.ls_type, u32::from(l.header.id)))
            .collect();
        assert_eq!(
            mine,
            vec![
                (LsaType::ROUTER, GRID_ROUTER_LSA_ID),
                (LsaType::INTRA_AREA_PREFIX, GRID_PREFIX_LSA_ID)
            ]
        );
        assert!(lsas.iter().all(|l| l.checksum_ok()));
    }

    #[test]
    fn perturbation_toggles_the_metric_with_a_new_sequence_number() {
        let g = Grid {
            routers: 9,
            prefixes: 9,
            metric: 3,
        };
        let lsa = grid_lsas(&g)
            .into_iter()
            .find(|l| l.header.adv_router == synth::router_id(4))
            .unwrap();
        let seq = lsa.header.seq;
        let mut p = Perturb {
            lsa,
            base: 3,
            up: false,
        };
        let metrics = |l: &Lsa| match &l.body {
            LsaBody::Router(r) => r.links.iter().map(|k| k.metric).collect::<Vec<_>>(),
            _ => vec![],
        };
        let a = p.next();
        assert_eq!(metrics(&a), vec![4; 4]);
        assert_eq!(a.header.seq, seq + 1);
        let b = p.next();
        assert_eq!(metrics(&b), vec![3; 4]);
        assert!(b.checksum_ok() && b.header.seq == seq + 2);
    }

    #[test]
    fn counts_acknowledged_headers() {
        let mut ack = vec![3, LS_ACK, 0, 16 + 3 * 20];
        ack.resize(16 + 3 * 20, 0);
        assert_eq!(acked_headers(&ack), 3);
        ack[1] = HELLO;
        assert_eq!(acked_headers(&ack), 0);
    }
}
