//! The Debian package (scripts/package.sh): built, installed with
//! `apt-get install ./anycast6_*.deb`, checked (files, man pages,
//! completions, the service user, the unit by `systemd-analyze verify`,
//! the dissectors loaded by tshark), run the way its unit runs it (as the
//! anycast6 user with the unit's capabilities, READY=1 over the notify
//! socket, a SIGHUP reload, SIGTERM), then purged: nothing of it is left,
//! in the file system or in the kernel.
//!
//! The package is built from the debug binaries the test command already
//! built (`scripts/package.sh --debug`): the same files, without a release
//! build of the workspace in CI.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anycast6_tests::{require_root, Netns};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed: {text}");
    text
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "anycast6"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("installed"))
}

/// Purges the package however the test ends.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        if installed() {
            let _ = Command::new("apt-get")
                .args(["remove", "--purge", "-y", "-q", "anycast6"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

const FILES: [&str; 12] = [
    "/usr/sbin/anycast6d",
    "/usr/bin/anycast6ctl",
    "/usr/bin/anycast6-stream",
    "/usr/lib/anycast6/libanycast6_aarp.so",
    "/usr/lib/anycast6/prepare-bpffs",
    "/etc/anycast6/anycast6.toml",
    "/lib/systemd/system/anycast6d.service",
    "/usr/share/man/man8/anycast6d.8.gz",
    "/usr/share/man/man8/anycast6ctl-reload.8.gz",
    "/usr/share/man/man1/anycast6-stream.1.gz",
    "/usr/share/bash-completion/completions/anycast6ctl",
    "/usr/share/zsh/vendor-completions/_anycast6ctl",
];

#[test]
fn package_installs_runs_and_purges_cleanly() {
    if !require_root("package_installs_runs_and_purges_cleanly") {
        return;
    }
    assert!(
        !installed() && !Path::new("/run/anycast6/anycast6d.sock").exists(),
        "anycast6 is installed or running on this machine (default socket \
         /run/anycast6/anycast6d.sock): this test installs and purges the package, \
         run it where it is not"
    );
    let out = run(Command::new("bash")
        .arg(repo().join("scripts/package.sh"))
        .arg("--debug")
        .env("A6T_NO_BUILD", "1")
        .current_dir(repo()));
    eprintln!("{}", out.trim());
    let deb = std::fs::read_dir(repo().join("target/debian"))
        .expect("target/debian")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("a .deb");

    let _purge = Purge;
    let out = run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .arg(&deb)
        .env("DEBIAN_FRONTEND", "noninteractive"));
    assert!(installed(), "apt-get install said: {out}");
    for f in FILES {
        assert!(Path::new(f).exists(), "{f} not installed");
    }
    let version = run(Command::new("/usr/sbin/anycast6d").arg("--version"));
    assert!(version.starts_with("anycast6d "), "{version}");
    let page = run(Command::new("sh").args(["-c", "zcat /usr/share/man/man8/anycast6ctl.8.gz"]));
    assert!(
        page.contains(".TH anycast6ctl 8") && page.contains("reload"),
        "{page}"
    );
    let passwd = run(Command::new("getent").args(["passwd", "anycast6"]));
    eprintln!("service user: {}", passwd.trim());
    let verify = run(Command::new("systemd-analyze").args([
        "verify",
        "--man=no",
        "/lib/systemd/system/anycast6d.service",
    ]));
    assert!(verify.trim().is_empty(), "systemd-analyze verify: {verify}");
    let protocols = run(Command::new("tshark").args(["-G", "protocols"]));
    for p in ["aarp6", "ard", "piasm", "mga", "a6stream"] {
        assert!(
            protocols.lines().any(|l| l.split('\t').nth(2) == Some(p)),
            "tshark did not load the installed {p} dissector"
        );
    }
    run(Command::new("/usr/sbin/anycast6d").args(["--check", "/etc/anycast6/anycast6.toml"]));

    // As the unit runs it: ExecStartPre=+ prepare-bpffs, RuntimeDirectory,
    // then the unprivileged daemon with the unit's capabilities.
    let unit = std::fs::read_to_string("/lib/systemd/system/anycast6d.service").expect("unit");
    let caps: Vec<String> = unit
        .lines()
        .find_map(|l| l.strip_prefix("AmbientCapabilities="))
        .expect("AmbientCapabilities=")
        .split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect();
    let set = caps.join(",");
    run(&mut Command::new("/usr/lib/anycast6/prepare-bpffs"));
    run(Command::new("install").args([
        "-d",
        "-o",
        "anycast6",
        "-g",
        "anycast6",
        "-m",
        "0750",
        "/run/anycast6",
    ]));
    let ns = Netns::new("pkg").expect("netns");
    let tmp = std::env::temp_dir().join(format!("a6t-pkg-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("tmp");
    let sock = tmp.join("notify.sock");
    let rx = UnixDatagram::bind(&sock).expect("notify socket");
    rx.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    // Anyone may send to it, as to systemd's own notify socket.
    std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .expect("chmod");
    let mut child = Command::new("nsenter")
        .arg(format!("--net={}", ns.path().display()))
        .args([
            "--",
            "setpriv",
            "--reuid=anycast6",
            "--regid=anycast6",
            "--init-groups",
        ])
        .arg(format!("--inh-caps=-all,{set}"))
        .arg(format!("--ambient-caps=-all,{set}"))
        .arg(format!("--bounding-set=-all,{set}"))
        .args([
            "/usr/sbin/anycast6d",
            "--config",
            "/etc/anycast6/anycast6.toml",
        ])
        .env("NOTIFY_SOCKET", &sock)
        .env("WATCHDOG_USEC", "2000000")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(tmp.join("anycast6d.log")).expect("log"))
        .spawn()
        .expect("anycast6d");
    let pid = child.id();
    let mut heard = Vec::new();
    let t0 = Instant::now();
    let mut buf = [0u8; 1024];
    while t0.elapsed() < Duration::from_secs(30)
        && !heard.iter().any(|m: &String| m.contains("READY=1"))
    {
        if let Ok(n) = rx.recv(&mut buf) {
            heard.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!(
                "the installed anycast6d exited with {st}: {}",
                std::fs::read_to_string(tmp.join("anycast6d.log")).unwrap_or_default()
            );
        }
    }
    assert!(
        heard.iter().any(|m| m.contains("READY=1")),
        "no READY=1: {heard:?}; log: {}",
        std::fs::read_to_string(tmp.join("anycast6d.log")).unwrap_or_default()
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && !l.contains("\t0\t")),
        "not running as the service user: {status}"
    );
    let dp = run(Command::new("/usr/bin/anycast6ctl").args(["--json", "show", "dataplane"]));
    assert!(dp.contains("/sys/fs/bpf/anycast6/"), "{dp}");
    unsafe_free_kill(pid, "HUP");
    std::thread::sleep(Duration::from_millis(500));
    let reload = run(Command::new("/usr/bin/anycast6ctl").args(["reload", "--diff"]));
    assert!(reload.contains("no change"), "{reload}");
    unsafe_free_kill(pid, "TERM");
    let st = child.wait().expect("wait");
    assert!(st.success(), "anycast6d exited with {st}");
    let _ = std::fs::remove_dir_all(&tmp);

    // Purge: nothing left, in files, users or the kernel.
    let out = run(Command::new("apt-get")
        .args(["remove", "--purge", "-y", "-q", "anycast6"])
        .env("DEBIAN_FRONTEND", "noninteractive"));
    assert!(!installed(), "{out}");
    for f in FILES {
        assert!(!Path::new(f).exists(), "{f} left after purge");
    }
    for d in ["/etc/anycast6", "/sys/fs/bpf/anycast6", "/run/anycast6"] {
        assert!(!Path::new(d).exists(), "{d} left after purge");
    }
    let user = Command::new("getent")
        .args(["passwd", "anycast6"])
        .output()
        .expect("getent");
    assert!(
        !user.status.success(),
        "the anycast6 user is left after purge"
    );
}

/// kill(1), so the test needs no unsafe libc call.
fn unsafe_free_kill(pid: u32, sig: &str) {
    run(Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string()));
}
