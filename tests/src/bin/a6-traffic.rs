//! Traffic endpoints for scripts/demo.sh (the tests use the same code in
//! process): member servers that say who they are, and clients that report
//! which member served each flow. Run inside a namespace with
//! `nsenter --net=/run/netns/NAME a6-traffic ...`.

use std::net::{Ipv6Addr, SocketAddrV6, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anycast6_tests::traffic;
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "anycast6 demo traffic: member servers and clients")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Answer every datagram with `<name>\n<payload>` (runs until killed).
    UdpServer {
        #[arg(long)]
        name: String,
        #[arg(long)]
        bind: Ipv6Addr,
        #[arg(long)]
        port: u16,
    },
    /// Send `<name>\n`, then echo every byte (runs until killed).
    TcpServer {
        #[arg(long)]
        name: String,
        #[arg(long)]
        bind: Ipv6Addr,
        #[arg(long)]
        port: u16,
    },
    /// One datagram per flow from distinct source ports; print which
    /// member answered how many flows.
    UdpFlows {
        #[arg(long)]
        src: Ipv6Addr,
        #[arg(long)]
        dst: Ipv6Addr,
        #[arg(long)]
        port: u16,
        #[arg(long, default_value_t = 1000)]
        flows: u16,
        #[arg(long, default_value_t = 20000)]
        sport_base: u16,
    },
    /// Send `bytes` over TCP, check the echo byte-exact, print the member.
    TcpTransfer {
        #[arg(long)]
        dst: Ipv6Addr,
        #[arg(long)]
        port: u16,
        #[arg(long, default_value_t = 8 << 20)]
        bytes: u64,
        /// Pace the sender to this many bytes per second.
        #[arg(long)]
        rate: Option<u64>,
        /// End early (what was sent must come back whole) once this file
        /// exists.
        #[arg(long)]
        stop_file: Option<PathBuf>,
        /// At the end, write `<ms since start> <octets verified>` here, a
        /// line each time the verified count grew (sampled every 5 ms).
        #[arg(long)]
        progress: Option<PathBuf>,
    },
}

fn main() -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let served = AtomicU64::new(0);
    match Cli::parse().cmd {
        Cmd::UdpServer { name, bind, port } => {
            let s = UdpSocket::bind(SocketAddrV6::new(bind, port, 0, 0))
                .with_context(|| format!("bind [{bind}]:{port}"))?;
            traffic::serve_udp(&s, &name, &stop, &served)
        }
        Cmd::TcpServer { name, bind, port } => {
            let l = TcpListener::bind(SocketAddrV6::new(bind, port, 0, 0))
                .with_context(|| format!("bind [{bind}]:{port}"))?;
            traffic::serve_tcp(&l, &name, &stop, &served)
        }
        Cmd::UdpFlows {
            src,
            dst,
            port,
            flows,
            sport_base,
        } => {
            let c = traffic::udp_flows(src, SocketAddrV6::new(dst, port, 0, 0), sport_base, flows)?;
            println!("UDP: {} flows to [{dst}]:{port}", c.flows);
            for (m, n) in &c.per_member {
                println!("  {m:<4} {n:>6} flows  {:>5.1}%", 100.0 * c.share(m));
            }
            if c.unanswered > 0 {
                println!("  unanswered {:>6}", c.unanswered);
            }
            Ok(())
        }
        Cmd::TcpTransfer {
            dst,
            port,
            bytes,
            rate,
            stop_file,
            progress,
        } => {
            let t0 = Instant::now();
            let (sent, verified) = (AtomicU64::new(0), Arc::new(AtomicU64::new(0)));
            let member = std::sync::Mutex::new(None);
            let watch = Watch::start(t0, verified.clone(), stop_file);
            let r = traffic::tcp_transfer_until(
                SocketAddrV6::new(dst, port, 0, 0),
                bytes,
                rate,
                &sent,
                &verified,
                &member,
                &watch.stop,
            );
            let samples = watch.finish();
            if let Some(p) = progress {
                let text: String = samples.iter().map(|(t, v)| format!("{t} {v}\n")).collect();
                std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
            }
            let r = r?;
            let (m, n) = (r.member, r.sent);
            let dt = t0.elapsed();
            println!(
                "TCP: {n} bytes to [{dst}]:{port} echoed back byte-exact by {m} in {dt:.2?} ({:.0} Mbit/s each way)",
                n as f64 * 8.0 / dt.as_secs_f64() / 1e6
            );
            Ok(())
        }
    }
}

/// A transfer's side thread: sets `stop` once the stop file appears and
/// samples the verified count.
struct Watch {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    handle: JoinHandle<Vec<(u128, u64)>>,
}

impl Watch {
    fn start(t0: Instant, verified: Arc<AtomicU64>, stop_file: Option<PathBuf>) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let (s, d) = (stop.clone(), done.clone());
        let handle = std::thread::spawn(move || {
            let mut samples = vec![(0, 0)];
            while !d.load(Ordering::Relaxed) {
                let v = verified.load(Ordering::Relaxed);
                if samples.last().is_some_and(|&(_, last)| v > last) {
                    samples.push((t0.elapsed().as_millis(), v));
                }
                if stop_file.as_ref().is_some_and(|f| f.exists()) {
                    s.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            samples.push((t0.elapsed().as_millis(), verified.load(Ordering::Relaxed)));
            samples
        });
        Watch { stop, done, handle }
    }

    fn finish(self) -> Vec<(u128, u64)> {
        self.done.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}
