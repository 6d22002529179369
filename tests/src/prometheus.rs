//! A real Prometheus server (Debian's `prometheus`, /usr/bin/prometheus)
//! run in a namespace with its own config and storage in the test's
//! scratch directory, scraping one target every second; queried over its
//! HTTP API (`/api/v1/query`) from inside the namespace. Killed by pid on
//! Drop (it is a [`Proc`]).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{wait_until, Netns, Proc, TempDir};

pub const BINARY: &str = "/usr/bin/prometheus";

pub struct Prometheus {
    proc: Proc,
    web: SocketAddr,
}

/// One sample of an instant vector: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// `GET path` on `addr` (HTTP/1.0, the whole answer): (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let text = String::from_utf8(out).context("answer is not UTF-8")?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("no HTTP head in {text:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status in {head:?}"))?;
    Ok((status, body.to_string()))
}

/// Percent-encoding of a query parameter.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Prometheus {
    /// Starts Prometheus in `ns`, scraping `http://target/metrics` every
    /// second, its web API on a free loopback port of `ns`; returns once
    /// it is ready.
    pub fn start(ns: &Netns, tmp: &TempDir, label: &str, target: &str) -> Result<Prometheus> {
        if !std::path::Path::new(BINARY).exists() {
            bail!("{BINARY} is missing: install Debian's prometheus (scripts/setup.sh does)");
        }
        let dir = tmp.join(label);
        std::fs::create_dir_all(dir.join("data"))?;
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: anycast6d\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )?;
        // A free port of the namespace's loopback.
        let web = ns.run_in(|| {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            Ok(l.local_addr()?)
        })?;
        let args = [
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address={web}"),
            "--log.level=info".to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let proc = Proc::spawn_in(
            ns,
            label,
            std::path::Path::new(BINARY),
            &args,
            tmp.join(format!("{label}.log")),
        )?;
        let mut p = Prometheus { proc, web };
        let ready = wait_until(Duration::from_secs(60), || {
            if !p.proc.running() {
                return true;
            }
            ns.run_in(move || http_get(web, "/-/ready"))
                .is_ok_and(|(s, _)| s == 200)
        });
        if !p.proc.running() {
            bail!(
                "prometheus exited while starting ({:?}):\n{}",
                p.proc.exit_status(),
                p.proc.log_tail(30)
            );
        }
        if !ready {
            bail!("prometheus not ready within 60 s:\n{}", p.proc.log_tail(30));
        }
        Ok(p)
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn log_tail(&self, n: usize) -> String {
        self.proc.log_tail(n)
    }

    /// `GET /api/v1/<path>` from inside `ns` (where its port is), parsed.
    pub fn api(&self, ns: &Netns, path: &str) -> Result<Value> {
        let web = self.web;
        let path = format!("/api/v1/{path}");
        let (status, body) = ns.run_in(move || http_get(web, &path))?;
        let v: Value = serde_json::from_str(&body)
            .with_context(|| format!("prometheus answered {status} with {body:?}"))?;
        if v["status"] != "success" {
            bail!("prometheus: {v}");
        }
        Ok(v["data"].clone())
    }

    /// An instant query: its samples.
    pub fn query(&self, ns: &Netns, q: &str) -> Result<Vec<Sample>> {
        let data = self.api(ns, &format!("query?query={}", encode(q)))?;
        let result = data["result"]
            .as_array()
            .with_context(|| format!("no result vector in {data}"))?;
        result
            .iter()
            .map(|r| {
                let labels = r["metric"]
                    .as_object()
                    .context("metric")?
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                let value = r["value"][1]
                    .as_str()
                    .context("value")?
                    .parse()
                    .context("value is a number")?;
                Ok(Sample { labels, value })
            })
            .collect()
    }

    /// The health of its one target (`up`, `down`, `unknown`) and the last
    /// scrape error.
    pub fn target(&self, ns: &Netns) -> Result<(String, String)> {
        let data = self.api(ns, "targets")?;
        let t = &data["activeTargets"][0];
        Ok((
            t["health"].as_str().unwrap_or_default().to_string(),
            t["lastError"].as_str().unwrap_or_default().to_string(),
        ))
    }
}
