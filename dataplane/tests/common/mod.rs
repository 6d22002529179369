//! Shared helpers of the root integration tests: the root check, a unique
//! pin directory destroyed even on panic, and private network namespaces.
#![allow(dead_code)]

use std::{
    net::Ipv6Addr,
    path::{Path, PathBuf},
    process::Command,
};

use anycast6_dataplane::{
    loader::Capacities, Action, Dataplane, DataplaneOptions, MemberSpec, MemberState,
};

/// True when running as root; otherwise says loudly that `what` is skipped.
pub fn root_or_skip(what: &str) -> bool {
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        })
        .and_then(|u| u.parse::<u32>().ok());
    if euid == Some(0) {
        true
    } else {
        loud(&format!("SKIPPED (needs root): {what}"));
        false
    }
}

/// A line on stderr that libtest does not capture (it captures eprintln!).
pub fn loud(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A pin directory unique to this process and test; destroyed on drop
/// (also when the test panics).
pub struct PinDir {
    pub path: PathBuf,
}

impl PinDir {
    pub fn new(name: &str) -> PinDir {
        let path = PathBuf::from(format!(
            "/sys/fs/bpf/anycast6-test-{}-{name}/v1",
            std::process::id()
        ));
        // A leftover of a crashed earlier run with the same pid.
        let _ = Dataplane::destroy(&path);
        PinDir { path }
    }

    pub fn opts(&self) -> DataplaneOptions {
        DataplaneOptions {
            pin_dir: self.path.clone(),
            capacities: Capacities {
                fib_entries: 1024,
                prefix_entries: 256,
                groups: 256,
                maglev_blocks: 4096,
                affinity_entries: 4096,
                tx_ports: 64,
                member_ids: 1024,
            },
            hash_seed: 0x5eed_1234,
            router_addr: "2001:db8:ffff::1".parse().unwrap(),
            ptb_per_sec: 100,
        }
    }

    pub fn parent(&self) -> &Path {
        self.path.parent().unwrap()
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        if let Err(e) = Dataplane::destroy(&self.path) {
            eprintln!("destroy {}: {e}", self.path.display());
        }
    }
}

pub fn member(id: u32, last: u16, state: MemberState, weight: u16) -> MemberSpec {
    MemberSpec {
        member_id: id,
        unicast: Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, last),
        encap_src: Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1),
        ifindex: 1,
        dmac: [0x02, 0, 0, 0, (id >> 8) as u8, id as u8],
        smac: [0x02, 0xff, 0, 0, 0, 1],
        mtu: 1500,
        action: if id.is_multiple_of(2) {
            Action::Rewrite
        } else {
            Action::Encap
        },
        state,
        weight,
    }
}

/// A network namespace of our own (deleted on drop) with helpers to run
/// `ip` in it and to enter it from a thread.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!("a6dp-{}-{tag}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(std::process::Stdio::null())
            .status();
        run("ip", &["netns", "add", &name]);
        Netns { name }
    }

    /// Runs `ip ARGS` inside the namespace; panics on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["netns", "exec", &self.name, "ip"];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Moves the calling thread into the namespace (setns(2)); the thread
    /// stays there, so call this from a thread of its own.
    pub fn enter(&self) {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(format!("/var/run/netns/{}", self.name))
            .expect("open netns handle");
        #[allow(unsafe_code)]
        // SAFETY: setns(2) on a descriptor we own; it only changes the
        // calling thread's network namespace.
        let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
    }

    /// True if `ifname` in the namespace has any XDP program attached.
    pub fn has_xdp(&self, ifname: &str) -> bool {
        self.ip(&["-d", "link", "show", "dev", ifname])
            .contains("prog/xdp")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `f` on a thread of its own inside `ns`, propagating panics.
pub fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let name = ns.name.clone();
    std::thread::spawn(move || {
        Netns { name }.enter_no_drop();
        f()
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

impl Netns {
    fn enter_no_drop(self) {
        self.enter();
        std::mem::forget(self);
    }
}
