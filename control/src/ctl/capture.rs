//! `anycast6ctl capture`: arms the forwarding program's capture for some
//! reasons, reads the samples from the pinned ring buffer and prints them
//! (a line or a JSON object per packet) or writes them as pcapng with the
//! decision in each packet's comment (docs/capture.md).
//!
//! ctl opens the pinned maps itself (CAP_BPF, as bpftool or xdpdump do)
//! rather than asking anycast6d: the samples would otherwise cross the
//! management socket one by one, and a capture must work while the daemon
//! is restarting or gone (the pinned program forwards on). A capture is a
//! lease that this process renews every second; if it dies, even by
//! SIGKILL, the program stops sampling within `LEASE` by itself.

pub mod pcapng;

use std::io::Write;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anycast6_dataplane::abi::{cap, CapCfg, Reason};
use anycast6_dataplane::capture::{
    decode_record, ifname, monotonic_ns, realtime_ns, CaptureMaps, CaptureRecord,
};
use anycast6_dataplane::{DataplaneError, DataplaneOptions};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde_json::json;

use super::CtlError;

/// How long the program keeps sampling without a renewal.
pub const LEASE: Duration = Duration::from_secs(5);
/// How often the lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(1);
/// Longest sleep between two looks at the signal flag and the deadline.
const POLL_MS: u16 = 200;

/// Sets `stop` on SIGINT or SIGTERM (a thread with its own small runtime:
/// the capture loop itself is blocking).
fn watch_signals(stop: Arc<AtomicBool>) -> Result<(), CtlError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| CtlError::Usage(format!("signal runtime: {e}")))?;
    let (mut int, mut term) = rt
        .block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })
        .map_err(|e| CtlError::Usage(format!("signal handlers: {e}")))?;
    std::thread::spawn(move || {
        rt.block_on(async {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        });
        stop.store(true, Ordering::Relaxed);
    });
    Ok(())
}

#[derive(clap::Args, Debug, Clone)]
pub struct CaptureArgs {
    /// Reasons to capture, comma-separated, as `show counters` names them
    /// (`drop_trunc_l4,pass_not_anycast`), or `all`.
    #[arg(long, value_delimiter = ',', required = true)]
    pub reason: Vec<String>,
    /// Write pcapng to this file instead of printing a line per packet.
    #[arg(short = 'w', long = "write")]
    pub write: Option<PathBuf>,
    /// Stop after this many packets (also the program's budget).
    #[arg(long)]
    pub count: Option<u32>,
    /// Take 1 in N matching packets.
    #[arg(long, default_value_t = 1)]
    pub sample: u32,
    /// Bytes of each frame to keep (at most 2048).
    #[arg(long, default_value_t = cap::SNAP_DEF)]
    pub snaplen: u32,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// The pin directory (default: the daemon's, or /sys/fs/bpf/anycast6/v<ABI>).
    #[arg(long)]
    pub pin_dir: Option<PathBuf>,
}

/// The reason mask of `names` (each a `Reason::name`, or `all`).
pub fn reason_mask(names: &[String]) -> Result<u64, CtlError> {
    let mut mask = 0u64;
    for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if n == "all" {
            mask |= Reason::ALL.iter().fold(0, |m, r| m | 1u64 << (*r as u32));
            continue;
        }
        match Reason::ALL.iter().find(|r| r.name() == n) {
            Some(r) => mask |= 1u64 << (*r as u32),
            None => {
                let valid: Vec<&str> = Reason::ALL.iter().map(|r| r.name()).collect();
                return Err(CtlError::Usage(format!(
                    "--reason {n:?} is not a reason; valid: all, {}",
                    valid.join(", ")
                )));
            }
        }
    }
    if mask == 0 {
        return Err(CtlError::Usage("--reason names no reason".into()));
    }
    Ok(mask)
}

/// What a frame's headers say, for the one-line and JSON output.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FrameSummary {
    pub src: Option<Ipv6Addr>,
    pub dst: Option<Ipv6Addr>,
    /// Upper-layer protocol after the extension headers walked.
    pub proto: Option<u8>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

/// Ethernet (one 802.1Q tag), IPv6, a few extension headers, TCP/UDP ports;
/// whatever is cut short is left out.
pub fn summarize(f: &[u8]) -> FrameSummary {
    let mut s = FrameSummary::default();
    let mut off = 12;
    let Some(mut et) = f
        .get(off..off + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
    else {
        return s;
    };
    off += 2;
    if et == 0x8100 {
        let Some(b) = f.get(off + 2..off + 4) else {
            return s;
        };
        et = u16::from_be_bytes([b[0], b[1]]);
        off += 4;
    }
    if et != 0x86dd {
        return s;
    }
    let Some(ip) = f.get(off..off + 40) else {
        return s;
    };
    let addr = |b: &[u8]| Ipv6Addr::from(<[u8; 16]>::try_from(b).expect("16 bytes"));
    s.src = Some(addr(&ip[8..24]));
    s.dst = Some(addr(&ip[24..40]));
    let mut nh = ip[6];
    off += 40;
    // Hop-by-Hop, Routing, Destination Options; a Fragment header ends the
    // walk unless it is a first fragment.
    for _ in 0..8 {
        match nh {
            0 | 43 | 60 => {
                let Some(h) = f.get(off..off + 2) else {
                    s.proto = Some(nh);
                    return s;
                };
                nh = h[0];
                off += (usize::from(h[1]) + 1) * 8;
            }
            44 => {
                let Some(h) = f.get(off..off + 8) else {
                    s.proto = Some(nh);
                    return s;
                };
                let offset = u16::from_be_bytes([h[2], h[3]]) & 0xfff8;
                nh = h[0];
                off += 8;
                if offset != 0 {
                    s.proto = Some(nh);
                    return s;
                }
            }
            _ => break,
        }
    }
    s.proto = Some(nh);
    if nh == 6 || nh == 17 {
        if let Some(p) = f.get(off..off + 4) {
            s.sport = Some(u16::from_be_bytes([p[0], p[1]]));
            s.dport = Some(u16::from_be_bytes([p[2], p[3]]));
        }
    }
    s
}

fn proto_name(p: u8) -> String {
    match p {
        6 => "tcp".into(),
        17 => "udp".into(),
        58 => "icmpv6".into(),
        41 => "ipv6".into(),
        n => format!("proto-{n}"),
    }
}

pub fn verdict_name(v: u16) -> &'static str {
    match v {
        0 => "aborted",
        1 => "drop",
        2 => "pass",
        3 => "tx",
        4 => "redirect",
        _ => "?",
    }
}

/// The pcapng packet comment: the decision, one `key=value` per field.
pub fn comment(r: &CaptureRecord<'_>, egress: Option<&str>) -> String {
    let mut c = format!(
        "anycast6 reason={} verdict={}",
        r.reason.name(),
        verdict_name(r.verdict)
    );
    if let Some(m) = r.member_id {
        c.push_str(&format!(" member={m}"));
        if let Some(e) = egress {
            c.push_str(&format!(" egress={e}"));
        }
    }
    c.push_str(&format!(" wire_len={} rx_queue={}", r.wire_len, r.rx_queue));
    c
}

/// `HH:MM:SS.nnnnnnnnn` (UTC) of nanoseconds since the epoch.
fn clock_of(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let d = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        d / 3600,
        d / 60 % 60,
        d % 60,
        ns % 1_000_000_000
    )
}

fn iface_name(cache: &mut std::collections::HashMap<u32, String>, ifindex: u32) -> String {
    cache
        .entry(ifindex)
        .or_insert_with(|| ifname(ifindex).unwrap_or_else(|| format!("if{ifindex}")))
        .clone()
}

/// One line for people.
pub fn line(r: &CaptureRecord<'_>, ts_ns: u64, iface: &str, egress: Option<&str>) -> String {
    let s = summarize(r.frame);
    let mut l = format!(
        "{} {iface} {} {}",
        clock_of(ts_ns),
        r.reason.name(),
        verdict_name(r.verdict)
    );
    let ep = |a: Option<Ipv6Addr>, p: Option<u16>| match (a, p) {
        (Some(a), Some(p)) => format!("[{a}]:{p}"),
        (Some(a), None) => a.to_string(),
        _ => "?".into(),
    };
    if s.src.is_some() {
        l.push_str(&format!(" {} > {}", ep(s.src, s.sport), ep(s.dst, s.dport)));
        if let Some(p) = s.proto {
            l.push_str(&format!(" {}", proto_name(p)));
        }
    }
    if let Some(m) = r.member_id {
        l.push_str(&format!(" member {m}"));
        if let Some(e) = egress {
            l.push_str(&format!(" via {e}"));
        }
    }
    l.push_str(&format!(" len {}", r.pkt_len));
    l
}

/// One JSON object (stable keys).
pub fn json_of(
    r: &CaptureRecord<'_>,
    ts_ns: u64,
    iface: &str,
    egress: Option<&str>,
) -> serde_json::Value {
    let s = summarize(r.frame);
    let hex: String = r.frame.iter().map(|b| format!("{b:02x}")).collect();
    json!({
        "ts_ns": ts_ns,
        "interface": iface,
        "ifindex": r.ifindex,
        "rx_queue": r.rx_queue,
        "reason": r.reason.name(),
        "verdict": verdict_name(r.verdict),
        "member": r.member_id,
        "egress": egress,
        "wire_len": r.wire_len,
        "len": r.pkt_len,
        "src": s.src,
        "dst": s.dst,
        "proto": s.proto,
        "sport": s.sport,
        "dport": s.dport,
        "frame": hex,
    })
}

/// The errno under a dataplane error, if a system call failed.
fn os_error(e: &DataplaneError) -> Option<i32> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return io.raw_os_error();
        }
        cur = err.source();
    }
    None
}

fn capture_err(pin_dir: &Path, e: DataplaneError) -> CtlError {
    let errno = os_error(&e);
    let text = match errno {
        Some(n) => format!("{e}: {}", std::io::Error::from_raw_os_error(n)),
        None => e.to_string(),
    };
    CtlError::Usage(match errno {
        Some(libc::EPERM | libc::EACCES) => format!(
            "opening the pinned capture maps under {} needs CAP_BPF (or root): {text}",
            pin_dir.display()
        ),
        Some(libc::ENOENT) => format!(
            "no capture maps under {} (is anycast6d running with XDP, ABI {}? --pin-dir): {text}",
            pin_dir.display(),
            anycast6_dataplane::abi::ABI_VERSION
        ),
        _ => format!("{}: {text}", pin_dir.display()),
    })
}

/// The pin directory: `--pin-dir`, else the daemon's, else the default.
fn pin_dir_of(socket: &Path, arg: Option<&Path>) -> PathBuf {
    if let Some(p) = arg {
        return p.to_path_buf();
    }
    let req = crate::mgmt::Request::Show {
        what: crate::mgmt::ShowWhat::Dataplane,
    };
    match crate::mgmt::client::request(socket, &req) {
        Ok(r) if r.ok => r
            .data
            .and_then(|d| {
                d.get("pin_dir")
                    .and_then(serde_json::Value::as_str)
                    .map(PathBuf::from)
            })
            .unwrap_or_else(DataplaneOptions::default_pin_dir),
        _ => DataplaneOptions::default_pin_dir(),
    }
}

/// Disarms on drop: every way out of `run` (error, signal, count reached).
struct Armed<'a> {
    maps: &'a mut CaptureMaps,
    session: u32,
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        // Only our own session: a later capture may have taken over an
        // expired lease of ours.
        if self
            .maps
            .config()
            .is_ok_and(|c| c.session == self.session && c.reason_mask != 0)
        {
            if let Err(e) = self.maps.disarm() {
                eprintln!("anycast6ctl: disarming the capture: {e}");
            }
        }
    }
}

/// What a capture took, for the summary line on stderr.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CaptureSummary {
    pub packets: u64,
    pub matched: u64,
    pub lost: u64,
}

/// Runs a capture until `--count`, `--duration`, SIGINT or SIGTERM.
/// Prints packets (or writes the file) as they come; returns the summary.
pub fn run(socket: &Path, json: bool, a: &CaptureArgs) -> Result<CaptureSummary, CtlError> {
    let mask = reason_mask(&a.reason)?;
    if a.sample == 0 {
        return Err(CtlError::Usage("--sample is 1 or more".into()));
    }
    if a.snaplen == 0 || a.snaplen as usize > cap::SNAP_MAX {
        return Err(CtlError::Usage(format!(
            "--snaplen is 1..={} bytes",
            cap::SNAP_MAX
        )));
    }
    if a.count == Some(0) {
        return Err(CtlError::Usage("--count is 1 or more".into()));
    }
    let deadline = match a.duration {
        Some(d) if !(d.is_finite() && d > 0.0) => {
            return Err(CtlError::Usage(
                "--duration is a positive number of seconds".into(),
            ))
        }
        Some(d) => Some(Instant::now() + Duration::from_secs_f64(d)),
        None => None,
    };
    let pin_dir = pin_dir_of(socket, a.pin_dir.as_deref());
    let mut maps = CaptureMaps::open(&pin_dir).map_err(|e| capture_err(&pin_dir, e))?;
    let cur = maps.config().map_err(|e| capture_err(&pin_dir, e))?;
    let now = monotonic_ns();
    if cur.reason_mask != 0 && cur.expires_ns > now {
        return Err(CtlError::Usage(format!(
            "a capture is running under {} (pid {}, session {}); it stops within {} s of that process going",
            pin_dir.display(),
            cur.owner_pid,
            cur.session,
            LEASE.as_secs()
        )));
    }
    let mut file = match &a.write {
        Some(p) => {
            let f = std::fs::File::create(p)
                .map_err(|e| CtlError::Usage(format!("{}: {e}", p.display())))?;
            Some(
                pcapng::PcapngWriter::new(
                    std::io::BufWriter::new(f),
                    a.snaplen,
                    &format!("anycast6ctl {}", env!("CARGO_PKG_VERSION")),
                )
                .map_err(|e| CtlError::Usage(format!("{}: {e}", p.display())))?,
            )
        }
        None => None,
    };
    // Records of an earlier session still in the ring are not ours.
    while maps.next_record().is_some() {}
    let session = (std::process::id() << 12) ^ (realtime_ns() as u32 & 0xfff) | 1;
    let mut cfg = CapCfg {
        reason_mask: mask,
        expires_ns: now + LEASE.as_nanos() as u64,
        sample_every: a.sample,
        snaplen: a.snaplen,
        budget: a.count.unwrap_or(0),
        session,
        owner_pid: std::process::id(),
        flags: 0,
    };
    // Handlers first: a signal from now on disarms before we go.
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(stop.clone())?;
    maps.reset_stats().map_err(|e| capture_err(&pin_dir, e))?;
    maps.set_config(&cfg)
        .map_err(|e| capture_err(&pin_dir, e))?;
    let armed = Armed {
        maps: &mut maps,
        session,
    };

    let realtime_offset = realtime_ns().wrapping_sub(monotonic_ns());
    let mut names = std::collections::HashMap::new();
    let mut summary = CaptureSummary::default();
    let stdout = std::io::stdout();
    let mut renewed = Instant::now();
    let result: Result<(), CtlError> = (|| loop {
        // Drain whatever is there.
        while let Some(raw) = armed.maps.next_record() {
            let r = match decode_record(&raw) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("anycast6ctl: skipping a capture record: {e}");
                    continue;
                }
            };
            if r.session != session {
                continue;
            }
            let ts = r.ts_ns.wrapping_add(realtime_offset);
            let iface = iface_name(&mut names, r.ifindex);
            let egress = r
                .member_id
                .filter(|_| r.egress_ifindex != 0)
                .map(|_| iface_name(&mut names, r.egress_ifindex));
            let io = |e: std::io::Error| CtlError::Usage(format!("writing: {e}"));
            match &mut file {
                Some(w) => w
                    .packet(
                        r.ifindex,
                        &iface,
                        ts,
                        r.frame,
                        r.pkt_len,
                        &comment(&r, egress.as_deref()),
                    )
                    .map_err(io)?,
                None => {
                    let mut out = stdout.lock();
                    let text = if json {
                        json_of(&r, ts, &iface, egress.as_deref()).to_string()
                    } else {
                        line(&r, ts, &iface, egress.as_deref())
                    };
                    writeln!(out, "{text}").map_err(io)?;
                    out.flush().map_err(io)?;
                }
            }
            summary.packets += 1;
            if a.count.is_some_and(|c| summary.packets >= u64::from(c)) {
                return Ok(());
            }
        }
        if let Some(w) = &mut file {
            w.flush()
                .map_err(|e| CtlError::Usage(format!("writing: {e}")))?;
        }
        if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(());
        }
        if renewed.elapsed() >= RENEW_EVERY {
            cfg.expires_ns = monotonic_ns() + LEASE.as_nanos() as u64;
            armed
                .maps
                .set_config(&cfg)
                .map_err(|e| capture_err(&pin_dir, e))?;
            renewed = Instant::now();
        }
        // Wake for a record, or to look at the signal flag, the deadline
        // and the lease.
        let mut fds = [PollFd::new(armed.maps.ring_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(POLL_MS)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(CtlError::Usage(format!("polling the ring buffer: {e}"))),
        }
    })();
    if let Ok(st) = armed.maps.stats() {
        summary.matched = st.matched;
        summary.lost = st.lost;
    }
    drop(armed);
    if let Some(w) = file {
        w.into_inner()
            .flush()
            .map_err(|e| CtlError::Usage(format!("writing: {e}")))?;
    }
    result.map(|()| summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anycast6_dataplane::fixtures::frames;

    #[test]
    fn reason_names_and_the_error_listing_them() {
        assert_eq!(
            reason_mask(&["drop_trunc_l4".into(), "pass_not_anycast".into()]).unwrap(),
            1 << 18 | 1 << 5
        );
        assert_eq!(
            reason_mask(&["all".into()]).unwrap(),
            (1u64 << anycast6_dataplane::abi::REASON_MAX) - 1
        );
        let e = reason_mask(&["drop_nope".into()]).unwrap_err().to_string();
        assert!(
            e.contains("\"drop_nope\"") && e.contains("drop_trunc_l4") && e.contains("fwd_rewrite"),
            "{e}"
        );
        assert!(reason_mask(&[]).is_err());
    }

    #[test]
    fn summary_of_a_udp_frame_and_of_cut_ones() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8:ac::1".parse().unwrap();
        let l4 = frames::udp(src, dst, 4000, 53, b"hello");
        let ip = frames::ipv6(0, 0, l4.len() as u16, 17, 64, src, dst);
        let f = frames::concat(&[&frames::eth([2; 6], [4; 6], 0x86dd), &ip, &l4]);
        let s = summarize(&f);
        assert_eq!(
            s,
            FrameSummary {
                src: Some(src),
                dst: Some(dst),
                proto: Some(17),
                sport: Some(4000),
                dport: Some(53)
            }
        );
        // Cut inside the UDP header: addresses, no ports.
        let s = summarize(&f[..14 + 40 + 2]);
        assert_eq!((s.src, s.sport), (Some(src), None));
        assert_eq!(summarize(&f[..20]), FrameSummary::default());
        assert_eq!(clock_of(3_600_000_000_123), "01:00:00.000000123");
    }
}
