//! Facts about the machine and the run, recorded beside every figure, and
//! the wait for a quiet machine before timing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::progress::Progress;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    /// CPUs this process may run on.
    pub cores: usize,
    pub kernel: String,
    pub rustc: String,
    pub memory_mib: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunFacts {
    /// UTC date, YYYY-MM-DD.
    pub date: String,
    /// Short commit of the tree that was measured.
    pub git_sha: String,
    /// The tree had uncommitted changes.
    pub git_dirty: bool,
    pub quick: bool,
    pub machine: Machine,
}

fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    })
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024);
    Machine {
        cpu_model,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into()),
        rustc: first_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
        memory_mib,
    }
}

/// The repository root (the bench crate's parent).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
}

pub fn run_facts(quick: bool) -> RunFacts {
    let root = repo_root().display().to_string();
    let git_sha = first_line("git", &["-C", &root, "rev-parse", "--short=8", "HEAD"])
        .unwrap_or_else(|| "nogit".into());
    let git_dirty = Command::new("git")
        .args(["-C", &root, "status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    RunFacts {
        date: utc_date(SystemTime::now()),
        git_sha,
        git_dirty,
        quick,
        machine: machine(),
    }
}

/// YYYY-MM-DD (UTC) of `t` (days-to-civil, Howard Hinnant's algorithm).
pub fn utc_date(t: SystemTime) -> String {
    let days = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Other heavy jobs on this machine (test suites) whose CPU use would
/// distort timings.
const BUSY_PATTERN: &str = "anycast6-tests|scripts/test.sh|cargo test";

fn busy() -> Option<String> {
    let out = Command::new("pgrep")
        .args(["-af", BUSY_PATTERN])
        .output()
        .ok()?;
    let me = std::process::id().to_string();
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with(&format!("{me} ")) && !l.contains("pgrep"))
        .map(str::to_string)
        .collect();
    (!lines.is_empty()).then(|| lines.join("; "))
}

/// Waits (up to `max`) while test suites run on this machine. Returns
/// what was still running when it gave up, to note beside the timings.
pub fn wait_quiet(progress: &Progress, max: Duration) -> anyhow::Result<Option<String>> {
    let end = std::time::Instant::now() + max;
    let mut said = false;
    loop {
        let Some(what) = busy() else {
            return Ok(None);
        };
        if std::time::Instant::now() >= end {
            progress.println(format!(
                "warning: still busy after {max:?}, timing anyway: {what}"
            ));
            return Ok(Some(what));
        }
        if !said {
            progress.println(format!("waiting for other test suites to finish: {what}"));
            said = true;
        }
        progress.step("waiting for a quiet machine");
        crate::cleanup::sleep(Duration::from_secs(2))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(utc_date(UNIX_EPOCH), "1970-01-01");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_164_800); // 2024-02-29
        assert_eq!(utc_date(t), "2024-02-29");
    }
}
