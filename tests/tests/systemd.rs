//! anycast6d under systemd's eyes: the notification protocol (READY once
//! the FIB is loaded, watchdog keepalives, RELOADING/READY around SIGHUP,
//! STOPPING), spoken to a socket of the test's own — systemd itself does
//! not run as PID 1 in this test environment, so the unit file is checked
//! by `systemd-analyze verify` in the package test instead.

use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anycast6_tests::topology::Options;
use anycast6_tests::{require_root, Daemon, Launch, Topology};

/// Each message with when it came, and at READY=1 the number of entries
/// the pinned FIB held (bpftool, not the daemon).
#[derive(Default)]
struct Heard {
    msgs: Vec<(Instant, String)>,
    fib_at_ready: Option<usize>,
}

fn pinned_fib_entries(config: &std::path::Path) -> Option<usize> {
    let text = std::fs::read_to_string(config).ok()?;
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("pin_dir"))?;
    let dir = line.split('"').nth(1)?;
    let out = std::process::Command::new("bpftool")
        .args(["-j", "map", "dump", "pinned"])
        .arg(format!("{dir}/a6_fib"))
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v.as_array().map(Vec::len)
}

#[test]
fn notify_ready_after_the_fib_watchdog_reload_and_stopping() {
    if !require_root("notify_ready_after_the_fib_watchdog_reload_and_stopping") {
        return;
    }
    let topo = Topology::build("sdnot", Options::default()).expect("topology");
    let path = topo.tmp.join("notify.sock");
    let rx = UnixDatagram::bind(&path).expect("bind the notify socket");
    rx.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let heard = Arc::new(Mutex::new(Heard::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let config = topo.tmp.join("router.toml");
    let reader = {
        let (heard, stop) = (heard.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(n) = rx.recv(&mut buf) else { continue };
                let msg = String::from_utf8_lossy(&buf[..n]).to_string();
                let first_ready = msg.lines().any(|l| l == "READY=1")
                    && heard.lock().unwrap().fib_at_ready.is_none();
                let fib = first_ready.then(|| pinned_fib_entries(&config)).flatten();
                let mut h = heard.lock().unwrap();
                if first_ready {
                    h.fib_at_ready = Some(fib.unwrap_or(0));
                }
                h.msgs.push((Instant::now(), msg));
            }
        })
    };
    // stderr goes to this file (appended): JOURNAL_STREAM names it, as
    // systemd names the journal's socket, so the log comes out in the
    // journal's form.
    let log = topo.tmp.join("router.log");
    std::fs::write(&log, "").expect("log file");
    let meta = std::fs::metadata(&log).expect("stat");
    let journal = {
        use std::os::unix::fs::MetadataExt;
        format!("{}:{}", meta.dev(), meta.ino())
    };
    let launch = Launch {
        env: vec![
            ("NOTIFY_SOCKET".into(), path.display().to_string()),
            ("WATCHDOG_USEC".into(), "400000".into()),
            ("JOURNAL_STREAM".into(), journal),
        ],
        ..Default::default()
    };
    let mut d = Daemon::start_with(
        &topo.router,
        &topo.tmp,
        "router",
        &topo.router_config(),
        launch,
    )
    .expect("anycast6d");
    let wait_for = |what: &str, from: usize| -> usize {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(15) {
            let h = heard.lock().unwrap();
            if let Some(i) = h.msgs[from..]
                .iter()
                .position(|(_, m)| m.lines().any(|l| l == what))
            {
                return from + i;
            }
            drop(h);
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "no {what} in: {:?}",
            heard
                .lock()
                .unwrap()
                .msgs
                .iter()
                .map(|m| &m.1)
                .collect::<Vec<_>>()
        );
    };
    let ready = wait_for("READY=1", 0);
    {
        let h = heard.lock().unwrap();
        let msg = &h.msgs[ready].1;
        eprintln!(
            "first READY: {msg:?}; pinned FIB then: {:?} entries",
            h.fib_at_ready
        );
        assert!(
            h.fib_at_ready.unwrap_or(0) >= 1,
            "READY=1 came before the pinned FIB held the group's address"
        );
        let pid = d.pid().expect("pid");
        assert!(msg.contains(&format!("MAINPID={pid}")), "{msg} (pid {pid})");
        assert!(msg.contains("STATUS=FIB in sync: 1 groups"), "{msg}");
    }

    // Keepalives at half the watchdog time (200 ms) while the loop runs.
    std::thread::sleep(Duration::from_secs(2));
    let n = heard.lock().unwrap().msgs[ready..]
        .iter()
        .filter(|(_, m)| m == "WATCHDOG=1")
        .count();
    eprintln!("WATCHDOG=1 in 2 s: {n}");
    assert!(
        n >= 3,
        "only {n} keepalives in 2 s with WATCHDOG_USEC=400000"
    );

    // SIGHUP: RELOADING=1, then READY=1 again.
    let from = heard.lock().unwrap().msgs.len();
    d.signal(libc::SIGHUP).expect("SIGHUP");
    let reloading = wait_for("RELOADING=1", from);
    let ready2 = wait_for("READY=1", reloading);
    assert!(ready2 > reloading);

    // SIGTERM: STOPPING=1.
    let from = heard.lock().unwrap().msgs.len();
    d.signal(libc::SIGTERM).expect("SIGTERM");
    wait_for("STOPPING=1", from);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = reader.join();

    // The log, journald's way: a priority prefix on every line, no
    // timestamp (the journal stamps lines itself).
    let text = d.log();
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert!(lines.len() > 5, "{text}");
    for l in &lines {
        let p = l.strip_prefix('<').and_then(|r| r.split_once('>'));
        assert!(
            matches!(p, Some((n, _)) if ["3", "4", "6", "7"].contains(&n)),
            "not a journald line: {l}"
        );
        assert!(
            !l.contains("2026-") && !l.contains("Z  INFO"),
            "a timestamp: {l}"
        );
    }
    assert!(
        text.contains("<6>anycast6_control::daemon::run: listening"),
        "{text}"
    );
}
