//! End to end through the real `libanycast6_aarp.so`: unmodified Python
//! programs, run with LD_PRELOAD inside a throwaway network namespace,
//! connect to an anycast address and reach the member an AARP responder
//! names. Needs root, `ip`, `nsenter` and `python3`; skipped (with a note)
//! otherwise.
//!
//! In each namespace, on `lo`:
//!
//! ```text
//!  A  2001:db8:a::1  anycast, AARP responder on [A]:5360 answering M
//!  B  2001:db8:a::2  anycast, nobody answers AARP
//!  M  2001:db8:1::7  the member
//!  N  2001:db8:2::9  plain unicast
//!  127.0.0.1         IPv4
//! ```
//!
//! TCP port 8080 and UDP port 9000 on every address answer with the
//! address's role ("anycast", "member", "plain", "ipv4"), so the output of
//! the client tells where its packets went.

use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aarp::auth::{Key, Keyring};
use aarp::packet::AnswerSource;
use aarp::responder::{AnswerSpec, Responder};

const A: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 1);
const B: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 2);
const M: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 7);
const N: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 9);
const ANYCAST_PREFIX: &str = "2001:db8:a::/64";
const TCP_PORT: u16 = 8080;
const UDP_PORT: u16 = 9000;
const AARP_PORT: u16 = 5360;
const SECRET: &str = "loopback-test-secret-0123";

/// A network namespace deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()
            .expect("run ip");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `f` on a thread that entered the namespace: sockets it creates
    /// live there, whichever thread uses them later.
    fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let file = File::open(self.path()).expect("open netns");
        std::thread::spawn(move || {
            #[allow(unsafe_code)]
            // SAFETY: a valid namespace fd; setns changes this thread only.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("netns thread")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// One namespace with the addresses, servers and (optionally keyed) AARP
/// responder of the module comment.
struct Lab {
    ns: Netns,
    queries: Arc<AtomicUsize>,
    dir: PathBuf,
}

fn tools_missing() -> Option<String> {
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    for tool in ["ip", "nsenter", "python3"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("{tool} not found"));
        }
    }
    None
}

fn preload_path() -> PathBuf {
    // target/<profile>/deps/loopback-<hash> → target/<profile>/
    let exe = std::env::current_exe().unwrap();
    let so = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("libanycast6_aarp.so");
    assert!(
        so.exists(),
        "{} missing: cargo build -p anycast6-preload",
        so.display()
    );
    so
}

/// The interpreter itself, not a wrapper script (pyenv shims are bash).
fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Lab {
    /// `None` (test skipped) without root or tools.
    fn new(tag: &str, keyring: Keyring) -> Option<Lab> {
        if let Some(why) = tools_missing() {
            eprintln!("skipped: {why}");
            return None;
        }
        let name = format!("a6pre-{}-{tag}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(status.success(), "ip netns add {name}");
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        for a in [A, B, M, N] {
            ns.ip(&["addr", "add", &format!("{a}/128"), "dev", "lo", "nodad"]);
        }
        let queries = Arc::new(AtomicUsize::new(0));
        let q = queries.clone();
        ns.enter(move || {
            let roles: [(IpAddr, &'static str); 5] = [
                (A.into(), "anycast"),
                (B.into(), "anycast"),
                (M.into(), "member"),
                (N.into(), "plain"),
                ([127, 0, 0, 1].into(), "ipv4"),
            ];
            for (addr, role) in roles {
                serve_tcp(
                    TcpListener::bind(SocketAddr::new(addr, TCP_PORT)).unwrap(),
                    role,
                );
                serve_udp(
                    UdpSocket::bind(SocketAddr::new(addr, UDP_PORT)).unwrap(),
                    role,
                );
            }
            let sock = UdpSocket::bind(SocketAddr::new(A.into(), AARP_PORT)).unwrap();
            serve_aarp(sock, Responder::new(keyring, 1), q);
        });
        let dir = std::env::temp_dir().join(format!("a6pre-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Some(Lab { ns, queries, dir })
    }

    fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }

    /// Runs a Python program under the preload in the namespace, with a
    /// config file holding `config` and the environment `env`; it must
    /// exit 0.
    fn run(&self, config: &str, env: &[(&str, &str)], script: &str, args: &[&str]) -> Output {
        let python = python();
        let mut argv = vec![python.as_str(), "-c", script];
        argv.extend_from_slice(args);
        let out = self.run_cmd(config, env, &argv);
        assert!(
            out.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs any program under the preload in the namespace.
    fn run_cmd(&self, config: &str, env: &[(&str, &str)], argv: &[&str]) -> Output {
        let conf = self.dir.join("aarp.conf");
        std::fs::write(&conf, config).unwrap();
        Command::new("nsenter")
            .arg(format!("--net={}", self.ns.path().display()))
            .args(argv)
            .env("LD_PRELOAD", preload_path())
            .env("ANYCAST6_AARP_CONFIG", &conf)
            .envs(env.iter().copied())
            .output()
            .expect("run under nsenter")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve_tcp(listener: TcpListener, role: &'static str) {
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = conn.write_all(format!("{role}\n").as_bytes());
        }
    });
}

fn serve_udp(sock: UdpSocket, role: &'static str) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((_, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(role.as_bytes(), from);
        }
    });
}

fn serve_aarp(sock: UdpSocket, mut responder: Responder, queries: Arc<AtomicUsize>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            queries.fetch_add(1, Ordering::SeqCst);
            let IpAddr::V6(src) = from.ip() else { continue };
            let answer = responder.handle_query(Instant::now(), src, A, &buf[..n], |_, _| {
                Some(AnswerSpec::member(
                    AnswerSource::Member,
                    M,
                    Duration::from_secs(30),
                    10,
                ))
            });
            if let Some(bytes) = answer {
                let _ = sock.send_to(&bytes, from);
            }
        }
    });
}

/// Connects over TCP to argv[1]:argv[2] and prints what the server said
/// and the peer address, or `errno N`. argv[3] == "nonblock": a
/// non-blocking connect (EINPROGRESS, then select).
const TCP_CLIENT: &str = r#"
import errno, select, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
mode = sys.argv[3] if len(sys.argv) > 3 else "block"
family = socket.AF_INET if "." in host else socket.AF_INET6
s = socket.socket(family, socket.SOCK_STREAM)
try:
    if mode == "nonblock":
        s.setblocking(False)
        rc = s.connect_ex((host, port))
        if rc != errno.EINPROGRESS:
            raise OSError(rc, "connect")
        select.select([], [s], [], 5)
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, "connect")
        s.setblocking(True)
    else:
        s.connect((host, port))
except OSError as e:
    print("errno", e.errno)
    sys.exit(0)
print(s.recv(100).decode().strip(), s.getpeername()[0])
"#;

/// Sends one UDP datagram with sendto and one with sendmsg to
/// argv[1]:argv[2], printing each reply and its source.
const UDP_CLIENT: &str = r#"
import socket, sys
dest = (sys.argv[1], int(sys.argv[2]))
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"ping", dest)
data, src = s.recvfrom(100)
print("sendto", data.decode(), src[0])
s.sendmsg([b"ping"], [], 0, dest)
data, src = s.recvfrom(100)
print("sendmsg", data.decode(), src[0])
c = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
c.settimeout(5)
c.connect(dest)
c.send(b"ping")
data, src = c.recvfrom(100)
print("connected", data.decode(), src[0])
"#;

/// sendmmsg(2) through ctypes (resolved in the global scope, so the
/// preload's): one datagram to argv[1], one to argv[2], both on port
/// argv[3]; prints the count sent, each msg_len, then each reply.
const SENDMMSG_CLIENT: &str = r#"
import ctypes, socket, sys
class sockaddr_in6(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("port", ctypes.c_uint16),
                ("flow", ctypes.c_uint32), ("addr", ctypes.c_ubyte * 16),
                ("scope", ctypes.c_uint32)]
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]
class mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint)]
libc = ctypes.CDLL(None, use_errno=True)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
port = int(sys.argv[3])
payload = ctypes.create_string_buffer(b"ping", 4)
iov = iovec(ctypes.cast(payload, ctypes.c_void_p), 4)
names = []
vec = (mmsghdr * 2)()
for i, host in enumerate(sys.argv[1:3]):
    sa = sockaddr_in6(socket.AF_INET6, socket.htons(port), 0,
                      (ctypes.c_ubyte * 16)(*socket.inet_pton(socket.AF_INET6, host)), 0)
    names.append(sa)
    vec[i].hdr.name = ctypes.cast(ctypes.pointer(sa), ctypes.c_void_p)
    vec[i].hdr.namelen = ctypes.sizeof(sa)
    vec[i].hdr.iov = ctypes.pointer(iov)
    vec[i].hdr.iovlen = 1
n = libc.sendmmsg(s.fileno(), vec, 2, 0)
print(n, vec[0].len, vec[1].len)
replies = sorted("%s %s" % (d.decode(), a[0]) for d, a in (s.recvfrom(100) for _ in range(n)))
print("\n".join(replies))
"#;

/// Eight threads connect at once; prints each outcome, sorted.
const THREADS_CLIENT: &str = r#"
import socket, sys, threading
dest = (sys.argv[1], int(sys.argv[2]))
out = []
def one():
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.connect(dest)
    out.append(s.recv(100).decode().strip())
ts = [threading.Thread(target=one) for _ in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
print(" ".join(sorted(out)))
"#;

/// Connects to argv[1]:argv[2] twice in one process, printing each outcome.
const TWICE_CLIENT: &str = r#"
import socket, sys
dest = (sys.argv[1], int(sys.argv[2]))
for _ in range(2):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        s.connect(dest)
        print(s.recv(100).decode().strip())
    except OSError as e:
        print("errno", e.errno)
    s.close()
"#;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

fn tcp(lab: &Lab, config: &str, env: &[(&str, &str)], host: Ipv6Addr, mode: &str) -> Output {
    lab.run(
        config,
        env,
        TCP_CLIENT,
        &[&host.to_string(), &TCP_PORT.to_string(), mode],
    )
}

#[test]
fn tcp_connect_reaches_the_member() {
    let Some(lab) = Lab::new("tcp", Keyring::none()) else {
        return;
    };
    let env = [("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX)];
    let out = tcp(&lab, "", &env, A, "block");
    assert_eq!(stdout(&out), format!("member {M}"));
    // Silent unless asked.
    assert_eq!(stderr(&out), "");
    assert_eq!(lab.queries(), 1);
}

#[test]
fn nonblocking_connect_reaches_the_member() {
    let Some(lab) = Lab::new("nonblock", Keyring::none()) else {
        return;
    };
    let env = [("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX)];
    let out = tcp(&lab, "", &env, A, "nonblock");
    assert_eq!(stdout(&out), format!("member {M}"));
}

#[test]
fn anycast_from_the_config_file_and_debug_line() {
    let Some(lab) = Lab::new("conf", Keyring::none()) else {
        return;
    };
    let config = format!("# test\n{A}\ntimeout_ms = 500\n");
    let out = tcp(&lab, &config, &[("ANYCAST6_AARP_DEBUG", "1")], A, "block");
    assert_eq!(stdout(&out), format!("member {M}"));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "anycast6-aarp: connect [{A}]:{TCP_PORT} -> member {M} (from member, "
        )),
        "{err}"
    );
    assert!(err.contains("unsigned"), "{err}");
}

#[test]
fn second_connect_uses_the_cache() {
    let Some(lab) = Lab::new("cache", Keyring::none()) else {
        return;
    };
    let env = [
        ("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX),
        ("ANYCAST6_AARP_DEBUG", "1"),
    ];
    let out = lab.run(
        "",
        &env,
        TWICE_CLIENT,
        &[&A.to_string(), &TCP_PORT.to_string()],
    );
    assert_eq!(stdout(&out), "member\nmember");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].contains("queried"), "{err}");
    assert!(lines[1].contains("cached"), "{err}");
    assert_eq!(lab.queries(), 1);
}

#[test]
fn refused_member_is_resolved_again() {
    let Some(lab) = Lab::new("refused", Keyring::none()) else {
        return;
    };
    let env = [("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX)];
    // Nothing listens on TCP_PORT + 1: the member refuses.
    let port = (TCP_PORT + 1).to_string();
    let out = lab.run("", &env, TWICE_CLIENT, &[&A.to_string(), &port]);
    let refused = format!("errno {}", libc::ECONNREFUSED);
    assert_eq!(stdout(&out), format!("{refused}\n{refused}"));
    // The refusal dropped the cached answer: the second connect asked again.
    assert_eq!(lab.queries(), 2);
}

#[test]
fn udp_sendto_sendmsg_and_connected_reach_the_member() {
    let Some(lab) = Lab::new("udp", Keyring::none()) else {
        return;
    };
    let env = [("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX)];
    let out = lab.run(
        "",
        &env,
        UDP_CLIENT,
        &[&A.to_string(), &UDP_PORT.to_string()],
    );
    assert_eq!(
        stdout(&out),
        format!("sendto member {M}\nsendmsg member {M}\nconnected member {M}")
    );
    // One query: the next two were answered from the cache.
    assert_eq!(lab.queries(), 1);
}

#[test]
fn sendmmsg_steers_each_entry() {
    let Some(lab) = Lab::new("mmsg", Keyring::none()) else {
        return;
    };
    let env = [("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX)];
    let args = [A.to_string(), N.to_string(), UDP_PORT.to_string()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = lab.run("", &env, SENDMMSG_CLIENT, &args);
    assert_eq!(stdout(&out), format!("2 4 4\nmember {M}\nplain {N}"));
    assert_eq!(lab.queries(), 1);
}

#[test]
fn curl_reaches_the_member() {
    let Some(lab) = Lab::new("curl", Keyring::none()) else {
        return;
    };
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipped: curl not found");
        return;
    }
    let env = [("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX)];
    let url = format!("http://[{A}]:{TCP_PORT}/");
    // The servers speak no HTTP: what counts is where curl connected.
    let out = lab.run_cmd(
        "",
        &env,
        &[
            "curl",
            "-sg",
            "--http0.9",
            "-o",
            "/dev/null",
            "-w",
            "%{remote_ip}",
            &url,
        ],
    );
    assert_eq!(stdout(&out), M.to_string());
}

#[test]
fn threads_all_reach_the_member() {
    let Some(lab) = Lab::new("threads", Keyring::none()) else {
        return;
    };
    let env = [("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX)];
    let out = lab.run(
        "",
        &env,
        THREADS_CLIENT,
        &[&A.to_string(), &TCP_PORT.to_string()],
    );
    assert_eq!(stdout(&out), ["member"; 8].join(" "));
}

#[test]
fn unanswered_fallback_direct_and_fail() {
    let Some(lab) = Lab::new("fallback", Keyring::none()) else {
        return;
    };
    let env = [
        ("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX),
        ("ANYCAST6_AARP_DEBUG", "1"),
    ];
    let fast = "timeout_ms = 100\nretries = 1\n";
    // Default: direct, to B itself.
    let out = tcp(&lab, fast, &env, B, "block");
    assert_eq!(stdout(&out), format!("anycast {B}"));
    assert!(stderr(&out).contains("fallback direct"), "{}", stderr(&out));
    // fail: EHOSTUNREACH from the file, and from the environment.
    let out = tcp(&lab, &format!("{fast}fallback = fail\n"), &env, B, "block");
    assert_eq!(stdout(&out), format!("errno {}", libc::EHOSTUNREACH));
    assert!(
        stderr(&out).contains("fallback fail: EHOSTUNREACH"),
        "{}",
        stderr(&out)
    );
    let env_fail = [
        ("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX),
        ("ANYCAST6_AARP_FALLBACK", "fail"),
    ];
    let out = tcp(&lab, fast, &env_fail, B, "nonblock");
    assert_eq!(stdout(&out), format!("errno {}", libc::EHOSTUNREACH));
    assert_eq!(stderr(&out), "");
}

#[test]
fn ipv4_and_unicast_untouched() {
    let Some(lab) = Lab::new("untouched", Keyring::none()) else {
        return;
    };
    let env = [
        ("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX),
        ("ANYCAST6_AARP_DEBUG", "1"),
    ];
    let out = lab.run("", &env, TCP_CLIENT, &["127.0.0.1", &TCP_PORT.to_string()]);
    assert_eq!(stdout(&out), "ipv4 127.0.0.1");
    assert_eq!(stderr(&out), "");
    let out = tcp(&lab, "", &env, N, "block");
    assert_eq!(stdout(&out), format!("plain {N}"));
    assert_eq!(stderr(&out), "");
    // Anycast, but not configured as such: untouched too.
    let out = tcp(&lab, "", &[("ANYCAST6_AARP_DEBUG", "1")], A, "block");
    assert_eq!(stdout(&out), format!("anycast {A}"));
    assert_eq!(lab.queries(), 0);
}

#[test]
fn keyed_answers_are_required_and_accepted() {
    let keyring = Keyring::new(vec![Key::new(7, SECRET.as_bytes().to_vec())]);
    let Some(lab) = Lab::new("keyed", keyring) else {
        return;
    };
    let good = format!("7:{SECRET}");
    let env = [
        ("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX),
        ("ANYCAST6_AARP_KEY", good.as_str()),
        ("ANYCAST6_AARP_DEBUG", "1"),
    ];
    let out = tcp(&lab, "", &env, A, "block");
    assert_eq!(stdout(&out), format!("member {M}"));
    assert!(stderr(&out).contains("authenticated"), "{}", stderr(&out));
    // A client holding another key refuses the answer: fallback fail.
    let env = [
        ("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX),
        ("ANYCAST6_AARP_KEY", "7:another-secret-entirely"),
        ("ANYCAST6_AARP_FALLBACK", "fail"),
        ("ANYCAST6_AARP_TIMEOUT_MS", "100"),
    ];
    let out = tcp(&lab, "retries = 0\n", &env, A, "block");
    assert_eq!(stdout(&out), format!("errno {}", libc::EHOSTUNREACH));
}

#[test]
fn bad_config_passes_everything_through() {
    let Some(lab) = Lab::new("badconf", Keyring::none()) else {
        return;
    };
    let env = [("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX)];
    let out = tcp(&lab, "fallback = sometimes\n", &env, A, "block");
    assert_eq!(stdout(&out), format!("anycast {A}"));
    assert_eq!(stderr(&out), "");
    let env = [
        ("ANYCAST6_AARP_ANYCAST", ANYCAST_PREFIX),
        ("ANYCAST6_AARP_DEBUG", "1"),
    ];
    let out = tcp(&lab, "fallback = sometimes\n", &env, A, "block");
    assert!(
        stderr(&out).contains("aarp.conf:1: fallback `sometimes` is neither"),
        "{}",
        stderr(&out)
    );
}
