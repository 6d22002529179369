//! Threads inside namespaces, CPU placement, and the per-interface and
//! per-CPU facts the traffic scenarios read from the kernel.
//!
//! Two cores: the generator's thread runs on [`GEN_CPU`], the DUT's receive
//! work on [`DUT_CPU`]. A veth end's receive work (NAPI) normally runs in
//! softirq on whichever CPU woke it, i.e. the sender's: the DUT would share
//! the generator's CPU. Threaded NAPI moves it into a kernel thread
//! (`napi/<dev>-<id>`) that we pin like any thread.

use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::cleanup::{self, Netns};

/// CPU of the generator thread and of the sinks' NAPI threads.
pub const GEN_CPU: usize = 0;
/// CPU of the DUT's NAPI thread (its forwarding work).
pub const DUT_CPU: usize = 1;

/// Runs `f` on a scoped thread inside `ns` (it may borrow from the caller)
/// and waits for it ([`Netns::run_in`]).
pub fn in_ns<T: Send>(ns: &Netns, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    ns.run_in(f)
}

/// Pins the calling thread to one CPU.
pub fn pin_thread(cpu: usize) -> Result<()> {
    #[allow(unsafe_code)]
    // SAFETY: cpu_set_t is plain data, zeroed is its empty set; CPU_SET
    // writes inside it (cpu < CPU_SETSIZE checked); sched_setaffinity(0, ..)
    // affects only the calling thread and reads the set we own.
    let r = unsafe {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(anyhow::anyhow!("cpu {cpu} out of range"));
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if r != 0 {
        bail!(
            "sched_setaffinity(cpu {cpu}): {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// Pins the calling thread to one CPU until dropped, then restores the
/// CPUs it was allowed before.
pub struct PinGuard {
    before: libc::cpu_set_t,
}

impl PinGuard {
    pub fn new(cpu: usize) -> Result<PinGuard> {
        #[allow(unsafe_code)]
        // SAFETY: cpu_set_t is plain data; sched_getaffinity(0, ..) writes
        // at most size_of::<cpu_set_t>() bytes into the set we own.
        let before = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                bail!("sched_getaffinity: {}", std::io::Error::last_os_error());
            }
            set
        };
        pin_thread(cpu)?;
        Ok(PinGuard { before })
    }
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        #[allow(unsafe_code)]
        // SAFETY: restores this thread's affinity from a set we own.
        unsafe {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.before);
        }
    }
}

/// CPUs this process may run on.
pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Turns threaded NAPI on for `dev`: its receive work runs in a kernel
/// thread `napi/<dev>-<id>` instead of the waking CPU's softirq. Written
/// through `ip netns exec`, whose private /sys shows the namespace's devices.
pub fn napi_threaded(ns: &Netns, dev: &str) -> Result<()> {
    cleanup::run_stdout(Command::new("ip").args([
        "netns",
        "exec",
        ns.name(),
        "sh",
        "-c",
        &format!("echo 1 > /sys/class/net/{dev}/threaded"),
    ]))?;
    Ok(())
}

/// Pins every NAPI thread of `dev` to `cpu`; returns their pids.
/// Thread names are `napi/<dev>-<napi id>` cut to 15 bytes, so device
/// names are short and unique to this process (see `topo`).
pub fn pin_napi(dev: &str, cpu: usize) -> Result<Vec<u32>> {
    let prefix = format!("napi/{dev}-");
    let prefix = &prefix[..prefix.len().min(15)];
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc")?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(comm) = std::fs::read_to_string(e.path().join("comm")) else {
            continue;
        };
        if comm.trim_end().starts_with(prefix) {
            cleanup::run_stdout(Command::new("taskset").args([
                "-pc",
                &cpu.to_string(),
                &pid.to_string(),
            ]))
            .with_context(|| format!("pinning {} to cpu {cpu}", comm.trim_end()))?;
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// Kernel counters of one interface (`ip -s -j link`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub rx_packets: u64,
    pub rx_dropped: u64,
    pub tx_packets: u64,
    pub tx_dropped: u64,
}

impl LinkStats {
    pub fn read(ns: &Netns, dev: &str) -> Result<LinkStats> {
        let out = ns.ip(&["-s", "-j", "link", "show", "dev", dev])?;
        let v: serde_json::Value = serde_json::from_str(&out)?;
        let s = &v[0]["stats64"];
        let g = |dir: &str, k: &str| s[dir][k].as_u64().unwrap_or(0);
        Ok(LinkStats {
            rx_packets: g("rx", "packets"),
            rx_dropped: g("rx", "dropped"),
            tx_packets: g("tx", "packets"),
            tx_dropped: g("tx", "dropped"),
        })
    }

    pub fn delta(&self, before: &LinkStats) -> LinkStats {
        LinkStats {
            rx_packets: self.rx_packets.wrapping_sub(before.rx_packets),
            rx_dropped: self.rx_dropped.wrapping_sub(before.rx_dropped),
            tx_packets: self.tx_packets.wrapping_sub(before.tx_packets),
            tx_dropped: self.tx_dropped.wrapping_sub(before.tx_dropped),
        }
    }
}

/// The MAC and ifindex of `dev` in `ns`.
pub fn link_facts(ns: &Netns, dev: &str) -> Result<([u8; 6], u32)> {
    let out = ns.ip(&["-j", "link", "show", "dev", dev])?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let mac = v[0]["address"]
        .as_str()
        .with_context(|| format!("no MAC for {dev} in {}", ns.name()))?;
    let mut m = [0u8; 6];
    let parts: Vec<&str> = mac.split(':').collect();
    if parts.len() != 6 {
        bail!("odd MAC {mac}");
    }
    for (o, p) in m.iter_mut().zip(parts) {
        *o = u8::from_str_radix(p, 16)?;
    }
    let ifindex = v[0]["ifindex"]
        .as_u64()
        .with_context(|| format!("no ifindex for {dev}"))? as u32;
    Ok((m, ifindex))
}

/// Id of the XDP program attached to `dev` in `ns` (None: none).
pub fn xdp_prog_id(ns: &Netns, dev: &str) -> Result<Option<u32>> {
    let out = ns.ip(&["-j", "link", "show", "dev", dev])?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    Ok(v[0]["xdp"]["prog"]["id"].as_u64().map(|id| id as u32))
}

/// `aa:bb:..` of a MAC.
pub fn mac_str(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Other test suites that would disturb a measurement (and be disturbed).
pub fn busy_neighbours() -> Option<String> {
    let out = Command::new("pgrep")
        .args(["-a", "-f", "anycast6-tests|scripts/test.sh|cargo test"])
        .output()
        .ok()?;
    let me = std::process::id().to_string();
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.split_whitespace().next() != Some(me.as_str()))
        .map(|l| l.chars().take(80).collect())
        .collect();
    (!lines.is_empty()).then(|| lines.join("; "))
}

/// Waits (polling) until no other test suite runs, at most `max`; returns
/// what was still running if it gave up.
pub fn wait_quiet(max: std::time::Duration, progress: &dyn Fn(&str)) -> Result<Option<String>> {
    let end = std::time::Instant::now() + max;
    let mut told = false;
    loop {
        match busy_neighbours() {
            None => return Ok(None),
            Some(what) if std::time::Instant::now() >= end => return Ok(Some(what)),
            Some(what) => {
                if !told {
                    progress(&format!("traffic: waiting for other test suites: {what}"));
                    told = true;
                }
                cleanup::sleep(std::time::Duration::from_secs(2))?;
            }
        }
    }
}

/// Per-CPU time counters from /proc/stat (USER_HZ ticks).
#[derive(Debug, Clone, Default)]
pub struct CpuTimes(Vec<[u64; 8]>);

impl CpuTimes {
    pub fn read() -> Result<CpuTimes> {
        let text = std::fs::read_to_string("/proc/stat")?;
        let mut v = Vec::new();
        for l in text.lines() {
            let mut f = l.split_whitespace();
            let Some(name) = f.next() else { continue };
            if !(name.starts_with("cpu") && name.len() > 3) {
                continue;
            }
            let mut t = [0u64; 8];
            for (o, x) in t.iter_mut().zip(f) {
                *o = x.parse().unwrap_or(0);
            }
            v.push(t);
        }
        Ok(CpuTimes(v))
    }

    /// Share of CPU time, over all CPUs, that was not idle since `before`.
    pub fn busy_since(&self, before: &CpuTimes) -> f64 {
        let (mut idle, mut total) = (0u64, 0u64);
        for (a, b) in self.0.iter().zip(&before.0) {
            let d: Vec<u64> = a.iter().zip(b).map(|(x, y)| x.saturating_sub(*y)).collect();
            idle += d[3] + d[4];
            total += d.iter().sum::<u64>();
        }
        if total == 0 {
            0.0
        } else {
            1.0 - idle as f64 / total as f64
        }
    }
}

/// Waits, at most `max`, until the machine is at least 90% idle over
/// `probe` (other helpers compile here). Returns the last busy share when
/// it gave up, None when quiet.
pub fn wait_idle(max: std::time::Duration, probe: std::time::Duration) -> Result<Option<f64>> {
    let end = std::time::Instant::now() + max;
    loop {
        let a = CpuTimes::read()?;
        cleanup::sleep(probe)?;
        let busy = CpuTimes::read()?.busy_since(&a);
        if busy < 0.10 {
            return Ok(None);
        }
        if std::time::Instant::now() >= end {
            return Ok(Some(busy));
        }
        cleanup::sleep(std::time::Duration::from_secs(1))?;
    }
}

/// CPU ticks (user + system, USER_HZ) a task has used, from its
/// /proc/.../stat text.
fn stat_ticks(text: &str) -> Option<(String, u64)> {
    // "pid (comm) state ...": comm may hold spaces; after ')' state is
    // index 0, utime 11, stime 12.
    let (head, rest) = text.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((
        comm,
        f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
    ))
}

/// CPU ticks of every task on the machine that is not part of the
/// measurement: not this process, not the DUT's NAPI threads, not the
/// softirq threads (where our traffic's softirq work may overflow to).
#[derive(Debug, Clone, Default)]
pub struct Others {
    at: Option<std::time::Instant>,
    ticks: std::collections::HashMap<(u32, u32), u64>,
}

impl Others {
    pub fn read(napi: &[u32]) -> Others {
        let me = std::process::id();
        let mut ticks = std::collections::HashMap::new();
        let at = Some(std::time::Instant::now());
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return Others { at, ticks };
        };
        for p in procs.flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if pid == me || napi.contains(&pid) {
                continue;
            }
            let Ok(tasks) = std::fs::read_dir(p.path().join("task")) else {
                continue;
            };
            for t in tasks.flatten() {
                let Ok(tid) = t.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let Ok(text) = std::fs::read_to_string(t.path().join("stat")) else {
                    continue;
                };
                if let Some((comm, n)) = stat_ticks(&text) {
                    if !comm.starts_with("ksoftirqd/") {
                        ticks.insert((pid, tid), n);
                    }
                }
            }
        }
        Others { at, ticks }
    }

    /// CPUs' worth of time (1.0 = one whole CPU) other tasks used since
    /// `before`; tasks that started since count from zero.
    pub fn cpus_since(&self, before: &Others) -> f64 {
        let (Some(a), Some(b)) = (self.at, before.at) else {
            return 0.0;
        };
        let secs = (a - b).as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        let used: u64 = self
            .ticks
            .iter()
            .map(|(k, n)| n.saturating_sub(before.ticks.get(k).copied().unwrap_or(0)))
            .sum();
        #[allow(unsafe_code)]
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        used as f64 / hz / secs
    }
}

/// Time a task has run (ns, first field of a schedstat file; 0 if gone).
pub fn run_ns(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Time the tasks `pids` have run (ns).
pub fn tasks_run_ns(pids: &[u32]) -> u64 {
    pids.iter()
        .map(|pid| run_ns(&format!("/proc/{pid}/schedstat")))
        .sum()
}
