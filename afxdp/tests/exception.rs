//! The exception path on its own, in a private network namespace: IPv6
//! packets queued through a `Reinjector` come out of the TUN device into
//! the kernel, which delivers them locally or, for an expiring hop limit
//! on a forwarded route, answers ICMPv6 Time Exceeded, as it does for a
//! packet arriving on any interface. A device that refuses writes (down)
//! is counted; the device is gone once the path stops. Needs root.

use std::net::{Ipv6Addr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant};

use anycast6_afxdp::ExceptionPath;
use anycast6_dataplane::abi::Reason;

const SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 1);
const LOCAL: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 2);
/// Routed (through vA), not local.
const FAR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 5);

fn is_root() -> bool {
    #[allow(unsafe_code)]
    // SAFETY: geteuid has no preconditions.
    unsafe {
        libc::geteuid() == 0
    }
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A UDP/IPv6 packet with a correct checksum.
fn udp6(src: Ipv6Addr, dst: Ipv6Addr, hop: u8, dport: u16, payload: &[u8]) -> Vec<u8> {
    let ulen = (8 + payload.len()) as u16;
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&ulen.to_be_bytes());
    p.extend_from_slice(&[17, hop]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&40000u16.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&ulen.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&u32::from(ulen).to_be_bytes());
    add(&[0, 0, 0, 17]);
    add(&p[40..]);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let mut c = !(sum as u16);
    if c == 0 {
        c = 0xffff;
    }
    p[46..48].copy_from_slice(&c.to_be_bytes());
    p
}

/// A raw ICMPv6 socket (receives every ICMPv6 message delivered here).
fn icmp6_socket() -> OwnedFd {
    #[allow(unsafe_code)]
    // SAFETY: socket(2) returns a new descriptor or -1; a new one is owned
    // by nothing else.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET6,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::IPPROTO_ICMPV6,
        );
        assert!(
            fd >= 0,
            "raw ICMPv6 socket: {}",
            std::io::Error::last_os_error()
        );
        OwnedFd::from_raw_fd(fd)
    }
}

/// The first ICMPv6 message of `type_` within `wait` (header and body).
fn recv_icmp6(fd: &OwnedFd, type_: u8, wait: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 2048];
    while Instant::now() < deadline {
        #[allow(unsafe_code)]
        // SAFETY: recv writes at most buf.len() bytes into buf.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n > 0 && buf[0] == type_ {
            return Some(buf[..n as usize].to_vec());
        }
        if n <= 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    None
}

fn reinjected(x: &ExceptionPath, r: Reason) -> u64 {
    x.report()
        .reinjected
        .iter()
        .find(|c| c.reason == r.name())
        .map_or(0, |c| c.packets)
}

fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn in_private_netns(f: impl FnOnce() + Send + 'static) {
    let t = std::thread::spawn(move || {
        #[allow(unsafe_code)]
        // SAFETY: unshare(2) moves only this thread (and the processes it
        // forks) into a new network namespace; nothing else shares it.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "unshare: {}", std::io::Error::last_os_error());
        f()
    });
    if let Err(e) = t.join() {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn tun_writes_reach_the_kernel_like_any_ingress() {
    if !is_root() {
        eprintln!("SKIPPED (needs root): tun_writes_reach_the_kernel_like_any_ingress");
        return;
    }
    in_private_netns(|| {
        // Forwarding on, a route to FAR through a veth, SRC and LOCAL on lo.
        std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", "1").unwrap();
        sh(&["ip", "link", "set", "lo", "up"]);
        sh(&[
            "ip", "link", "add", "vA", "type", "veth", "peer", "name", "vB",
        ]);
        sh(&["ip", "link", "set", "vA", "up"]);
        sh(&["ip", "link", "set", "vB", "up"]);
        sh(&[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8:1::1/64",
            "dev",
            "vA",
            "nodad",
        ]);
        sh(&[
            "ip",
            "-6",
            "route",
            "add",
            "2001:db8:2::/64",
            "via",
            "2001:db8:1::2",
        ]);
        for a in [SRC, LOCAL] {
            sh(&[
                "ip",
                "-6",
                "addr",
                "add",
                &format!("{a}/128"),
                "dev",
                "lo",
                "nodad",
            ]);
        }
        let udp = UdpSocket::bind((LOCAL, 9999)).unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let icmp = icmp6_socket();

        let mut x = ExceptionPath::start("a6xt%d").expect("exception path");
        let dev = x.name().to_string();
        assert_eq!(dev, "a6xt0");
        let r = x.reinjector().expect("reinjector");

        // Local delivery.
        assert!(r.send(Reason::PassLocal, &udp6(SRC, LOCAL, 64, 9999, b"hello")));
        let mut buf = [0u8; 64];
        let (n, from) = udp
            .recv_from(&mut buf)
            .expect("delivered to the local socket");
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from.ip(), std::net::IpAddr::V6(SRC));

        // Hop limit 1 on a forwarded route: Time Exceeded (type 3, code 0)
        // back to SRC, quoting the probe.
        let probe = udp6(SRC, FAR, 1, 33434, b"probe");
        assert!(r.send(Reason::PassHopLimit, &probe));
        let te = recv_icmp6(&icmp, 3, Duration::from_secs(2)).expect("ICMPv6 Time Exceeded");
        assert_eq!(te[1], 0, "code: hop limit exceeded in transit");
        assert_eq!(&te[8..8 + 40], &probe[..40], "quotes the probe's header");

        assert!(wait_until(
            || reinjected(&x, Reason::PassLocal) == 1 && reinjected(&x, Reason::PassHopLimit) == 1
        ));
        let rep = x.report();
        assert_eq!(rep.write_errors, 0, "{rep:?}");
        assert_eq!(
            rep.reinjected.iter().map(|c| c.bytes).sum::<u64>(),
            (probe.len() + 40 + 8 + 5) as u64
        );

        // A device that is down refuses writes: counted.
        sh(&["ip", "link", "set", &dev, "down"]);
        assert!(r.send(Reason::PassLocal, &udp6(SRC, LOCAL, 64, 9999, b"lost")));
        assert!(
            wait_until(|| x.report().write_errors == 1),
            "{:?}",
            x.report()
        );

        // Stopping deletes the device.
        drop(r);
        x.stop();
        let out = Command::new("ip")
            .args(["link", "show", &dev])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{dev} still exists after stop");
    });
}
