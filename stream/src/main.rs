//! anycast6-stream: `server` streams named content to whoever asks on the
//! anycast address; `client` plays a stream from that address and reports
//! what arrived, what was recovered, what was never played, and every
//! failover (docs/stream.md).

use std::io::Write;
use std::net::{SocketAddr, SocketAddrV6, UdpSocket as StdUdp};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anycast6_stream::cli::{Cli, Cmd};
use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};

use anycast6_core::auth::Key;
use anycast6_core::clock::MonoClock;
use anycast6_stream::client::{Client, ClientConfig, Outcome, Report, Target};
use anycast6_stream::content::{fill_generated, parse_size};
use anycast6_stream::server::{Dir, Server, ServerConfig};
use anycast6_stream::wire;

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// "100ms", "1s", "1.5s", "2m".
fn parse_duration(what: &str, s: &str) -> Result<Duration> {
    let bad = || anyhow!("--{what}: {s:?} is not a duration (like 100ms, 1s, 1.5s)");
    let (num, unit) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        return Err(bad());
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(v * unit))
}

fn parse_rate(what: &str, s: &str) -> Result<u32> {
    parse_size(s)
        .filter(|&v| v > 0)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| anyhow!("--{what}: {s:?} is not a rate in octets/s (like 250k, 2M)"))
}

/// "<id> <secret>" lines; `#` comments. Errors name file:line:col.
fn read_keys(path: &Path) -> Result<Vec<Key>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let mut keys = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let col = line.len() - trimmed.len() + 1;
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (id, secret) = trimmed.split_once(char::is_whitespace).ok_or_else(|| {
            anyhow!(
                "{}:{}:{col}: want \"<key id> <secret>\"",
                path.display(),
                n + 1
            )
        })?;
        let id: u16 = id.parse().map_err(|_| {
            anyhow!(
                "{}:{}:{col}: key id {id:?} is not 0..=65535",
                path.display(),
                n + 1
            )
        })?;
        let secret = secret.trim();
        if secret.len() < 16 {
            bail!(
                "{}:{}:{}: the secret of key {id} is shorter than 16 octets",
                path.display(),
                n + 1,
                line.len() - secret.len() + 1
            );
        }
        keys.push(Key::new(id, secret.as_bytes().to_vec()));
    }
    if keys.is_empty() {
        bail!("{}: no key in the file", path.display());
    }
    Ok(keys)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match cli.cmd {
        Cmd::Server {
            listen,
            dir,
            id,
            max_rate,
            max_sessions,
            max_sessions_per_client,
            idle_timeout,
            key_file,
            json,
        } => {
            if let Some(d) = &dir {
                if !d.is_dir() {
                    bail!("--dir {}: not a directory", d.display());
                }
            }
            let cfg = ServerConfig {
                server_id: 0,
                max_rate: parse_rate("max-rate", &max_rate)?,
                max_sessions,
                max_sessions_per_client,
                idle_timeout: parse_duration("idle-timeout", &idle_timeout)?,
                keys: key_file
                    .as_deref()
                    .map(read_keys)
                    .transpose()?
                    .unwrap_or_default(),
                ..ServerConfig::default()
            };
            rt.block_on(serve(listen, Dir(dir), id, cfg, json))
        }
        Cmd::Client {
            server,
            content,
            rate,
            buffer,
            datagram,
            nack_interval,
            reorder_delay,
            feedback,
            give_up,
            bind,
            output,
            key_file,
            json,
            quiet,
        } => {
            if !(wire::MIN_DATAGRAM..=wire::MAX_DATAGRAM).contains(&datagram) {
                bail!(
                    "--datagram {datagram}: want {}..={}",
                    wire::MIN_DATAGRAM,
                    wire::MAX_DATAGRAM
                );
            }
            if content.is_empty() || content.len() > 255 {
                bail!("--content: 1 to 255 octets");
            }
            let buffer = parse_duration("buffer", &buffer)?;
            if buffer > Duration::from_millis(u16::MAX.into()) {
                bail!("--buffer: at most 65535ms");
            }
            let me = match bind {
                Some(b) => b,
                None => {
                    let probe = StdUdp::bind("[::]:0")?;
                    probe
                        .connect(server)
                        .with_context(|| format!("no route to {server}"))?;
                    match probe.local_addr()? {
                        SocketAddr::V6(a) => SocketAddrV6::new(*a.ip(), 0, 0, 0),
                        SocketAddr::V4(_) => bail!("IPv6 only"),
                    }
                }
            };
            let sock = StdUdp::bind(me).with_context(|| format!("bind {me}"))?;
            let me = match sock.local_addr()? {
                SocketAddr::V6(a) => a,
                SocketAddr::V4(_) => bail!("IPv6 only"),
            };
            let cfg = ClientConfig {
                session: loop {
                    let s: u64 = rand::random();
                    if s != 0 {
                        break s;
                    }
                },
                content,
                rate: parse_rate("rate", &rate)?,
                datagram_size: datagram,
                buffer,
                nack_interval: parse_duration("nack-interval", &nack_interval)?,
                reorder_delay: parse_duration("reorder-delay", &reorder_delay)?,
                feedback_interval: parse_duration("feedback", &feedback)?,
                give_up: parse_duration("give-up", &give_up)?,
                me,
                key: key_file
                    .as_deref()
                    .map(read_keys)
                    .transpose()?
                    .map(|k| k[0].clone()),
            };
            let out: Box<dyn Write> = match output.as_deref() {
                Some(p) if p == Path::new("-") => Box::new(std::io::stdout()),
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p).with_context(|| format!("{}", p.display()))?,
                )),
                None => Box::new(std::io::sink()),
            };
            let report = rt.block_on(play(sock, server, cfg, out, quiet))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                eprint!("{}", summary(&report));
            }
            match report.outcome {
                Outcome::Complete => Ok(()),
                Outcome::Broken => {
                    eprintln!("anycast6-stream: stream broken: no data for the give-up time");
                    std::process::exit(1)
                }
                Outcome::Refused(r) => {
                    eprintln!("anycast6-stream: the server ended the session: {r:?}");
                    std::process::exit(2)
                }
                Outcome::Running => std::process::exit(3),
            }
        }
        Cmd::Content { id, output } => {
            let size = id
                .strip_prefix("gen:")
                .and_then(parse_size)
                .ok_or_else(|| anyhow!("{id:?}: want gen:<size>, like gen:8M"))?;
            let mut out: Box<dyn Write> = match output {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(&p).with_context(|| format!("{}", p.display()))?,
                )),
                None => Box::new(std::io::stdout().lock()),
            };
            let mut buf = vec![0u8; 1 << 16];
            let mut off = 0u64;
            while off < size {
                let n = (size - off).min(buf.len() as u64) as usize;
                fill_generated(&mut buf[..n], off);
                out.write_all(&buf[..n])?;
                off += n as u64;
            }
            out.flush()?;
            Ok(())
        }
    }
}

fn sleep_until(clock: &MonoClock, at: Option<anycast6_core::clock::Instant>) -> tokio::time::Sleep {
    let at = at.map_or(std::time::Instant::now() + Duration::from_secs(3600), |a| {
        clock.to_std(a)
    });
    tokio::time::sleep_until(at.into())
}

async fn serve(
    listen: SocketAddrV6,
    lib: Dir,
    id: Option<u32>,
    mut cfg: ServerConfig,
    json: bool,
) -> Result<()> {
    let sock = StdUdp::bind(listen).with_context(|| format!("bind {listen}"))?;
    sock.set_nonblocking(true)?;
    let sock = UdpSocket::from_std(sock)?;
    cfg.server_id = id.unwrap_or_else(std::process::id);
    let server_id = cfg.server_id;
    let mut core = Server::new(cfg);
    let clock = MonoClock::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    eprintln!("anycast6-stream server {server_id}: listening on {listen}");
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::new();
    loop {
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                if let Ok((n, _from)) = r {
                    core.handle(clock.now(), wall_ms(), &lib, &buf[..n], &mut out);
                }
            }
            _ = sleep_until(&clock, core.next_wakeup()) => {}
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
        core.poll(clock.now(), &mut out);
        for s in out.drain(..) {
            // A full socket buffer or an unreachable client loses that
            // datagram; the client asks again.
            let _ = sock.try_send_to(&s.bytes, s.to.into());
        }
    }
    core.stop_all(&mut out);
    for s in out.drain(..) {
        let _ = sock.send_to(&s.bytes, SocketAddr::from(s.to)).await;
    }
    let c = core.counters();
    if json {
        println!("{}", serde_json::to_string_pretty(c)?);
    }
    eprintln!(
        "anycast6-stream server {server_id}: stopped; {} requests, {} sessions started, {} taken over, {} data sent ({} retransmitted), {} auth failures, {} malformed",
        c.requests, c.sessions_started, c.sessions_taken_over, c.data_sent, c.retransmitted, c.auth_failures, c.malformed
    );
    Ok(())
}

async fn play(
    sock: StdUdp,
    service: SocketAddrV6,
    cfg: ClientConfig,
    mut output: Box<dyn Write>,
    quiet: bool,
) -> Result<Report> {
    sock.set_nonblocking(true)?;
    let sock = UdpSocket::from_std(sock)?;
    let clock = MonoClock::new();
    let mut core = Client::new(cfg, clock.now());
    let mut buf = vec![0u8; 2048];
    let mut out = Vec::new();
    let mut progress = tokio::time::interval(Duration::from_secs(1));
    let mut int = signal(SignalKind::interrupt())?;
    let mut interrupted = false;
    core.poll(clock.now(), wall_ms(), &mut out);
    loop {
        for o in out.drain(..) {
            let to = match o.to {
                Target::Service => service,
                Target::Server(a) => a,
            };
            let _ = sock.try_send_to(&o.bytes, to.into());
        }
        let ready = core.take_ready();
        if !ready.is_empty() {
            output.write_all(&ready).context("writing the content")?;
        }
        if core.done() || interrupted {
            break;
        }
        let wake = clock.to_std(core.next_wakeup());
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                if let Ok((n, SocketAddr::V6(from))) = r {
                    core.handle(clock.now(), wall_ms(), from, &buf[..n], &mut out);
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {}
            _ = progress.tick() => {
                if !quiet {
                    eprintln!("{}", progress_line(&core.report(clock.now())));
                }
            }
            _ = int.recv() => interrupted = true,
        }
        core.poll(clock.now(), wall_ms(), &mut out);
    }
    output.flush()?;
    Ok(core.report(clock.now()))
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

fn progress_line(r: &Report) -> String {
    let total = r
        .total_bytes
        .map_or("?".into(), |t| format!("{:.1}", mib(t)));
    let last = r
        .failovers
        .last()
        .map_or(String::new(), |f| format!(" (last gap {:.0} ms)", f.gap_ms));
    format!(
        "{:6.1}/{total} MiB  {:6.2} Mbit/s  buffer {:5.0} ms  recovered {}  unplayed {}  failovers {}{last}",
        mib(r.written),
        r.rate_bps / 1e6,
        r.buffer_ms,
        r.recovered,
        r.unplayed,
        r.failovers.len()
    )
}

fn summary(r: &Report) -> String {
    let mut s = format!(
        "{}: {:?} after {:.1} s\n  written     {} octets of {}\n  datagrams   {} arrived, {} duplicates, {} recovered, {} unplayed (of {} played)\n  stall       longest {:.0} ms without new data\n  requests    {} ({} NACKs, {} stall), {} stops\n  servers     {:?}\n",
        r.content,
        r.outcome,
        r.elapsed_ms / 1000.0,
        r.written,
        r.total_bytes.map_or("?".into(), |t| t.to_string()),
        r.arrived,
        r.duplicates,
        r.recovered,
        r.unplayed,
        r.played + r.unplayed,
        r.longest_stall_ms,
        r.requests,
        r.nacks,
        r.stall_requests,
        r.stops_sent,
        r.servers,
    );
    for f in &r.failovers {
        s += &format!(
            "  failover    server {} -> {} at datagram {}: gap {:.0} ms\n",
            f.from_server, f.to_server, f.at_seq, f.gap_ms
        );
    }
    s
}
