//! Throwaway network namespaces and veth links.
//!
//! Namespaces are named `/run/netns/<prefix><short>-<pid>x<n>` (see
//! [`crate::names`]) and entered with
//! `nsenter --net=` (commands) or setns(2) (threads of this process), never
//! with `ip netns exec`: that remounts /sys, which hides bpffs, and anycast6d
//! needs bpffs. Interface names only need to be unique inside their own
//! namespace (veths are created directly in place), so they stay readable:
//! `to-r1` in a member is its link to the router.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::{self, JoinHandle};

use anyhow::{bail, Context, Result};

use crate::names::{self, Owner};
use crate::sys;
use crate::util::{self, run};

pub const NETNS_DIR: &str = "/run/netns";

/// A network namespace, deleted on Drop (with whatever it still runs).
#[derive(Debug)]
pub struct Netns<O: Owner> {
    name: String,
    owner: PhantomData<fn() -> O>,
}

impl<O: Owner> Netns<O> {
    /// Creates `<prefix><short>-<pid>x<n>` (after sweeping what dead runs
    /// of `O` left, once per process), brings `lo` up and turns duplicate
    /// address detection off for every interface created in it later (tests
    /// must not wait a second per address for DAD).
    pub fn new(short: &str) -> Result<Netns<O>> {
        names::sweep_stale::<O>();
        let name = names::unique_name::<O>(short);
        run(Command::new("ip").args(["netns", "add", &name]))?;
        let ns = Netns {
            name,
            owner: PhantomData,
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        for (k, v) in [
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv6.conf.default.accept_dad", "0"),
            ("net.ipv6.conf.all.dad_transmits", "0"),
            ("net.ipv6.conf.default.dad_transmits", "0"),
            // Router advertisements from our routers must not add routes.
            ("net.ipv6.conf.default.accept_ra", "0"),
        ] {
            ns.sysctl(k, v)?;
        }
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`, for `nsenter --net=` and setns(2).
    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// `ip -n <name> <args>`; returns stdout.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        util::run_str("ip", full)
    }

    /// A command that runs `program` inside the namespace through
    /// `nsenter --net=` (nsenter execs it: the child's pid is the
    /// program's, and bpffs stays visible).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(program);
        c
    }

    /// Runs `program args` in the namespace; returns stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String> {
        let out = run(self.command(program).args(args))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.exec("sysctl", &["-q", "-w", &format!("{key}={value}")])?;
        Ok(())
    }

    /// IPv6 forwarding on (a router). Per interface too: `all` alone
    /// does not flip interfaces that already exist on every kernel.
    pub fn enable_forwarding(&self) -> Result<()> {
        self.sysctl("net.ipv6.conf.all.forwarding", "1")?;
        self.sysctl("net.ipv6.conf.default.forwarding", "1")
    }

    /// Adds an IPv6 address (`addr/len`) with no DAD.
    pub fn add_addr(&self, dev: &str, cidr: &str) -> Result<()> {
        self.ip(&["-6", "addr", "add", cidr, "dev", dev, "nodad"])?;
        Ok(())
    }

    /// `ip -6 route add <dst> via <via>`.
    pub fn add_route(&self, dst: &str, via: &str) -> Result<()> {
        self.ip(&["-6", "route", "add", dst, "via", via])?;
        Ok(())
    }

    /// Turns GRO on: a veth end that receives XDP_REDIRECTed frames drops
    /// them silently unless it has GRO on or an XDP program of its own.
    pub fn gro_on(&self, dev: &str) -> Result<()> {
        self.exec("ethtool", &["-K", dev, "gro", "on"])?;
        Ok(())
    }

    /// Turns transmit checksum offload off, so the kernel writes complete
    /// TCP/UDP checksums. A veth sender otherwise leaves them partial
    /// (CHECKSUM_PARTIAL, finished "by the hardware"); a frame that an XDP
    /// program on the far end then redirects arrives with a bad checksum,
    /// because an XDP frame carries no checksum metadata. Real NICs hand
    /// XDP complete checksums, so only veth senders need this.
    pub fn tx_checksum_off(&self, dev: &str) -> Result<()> {
        self.exec("ethtool", &["-K", dev, "tx", "off"])?;
        Ok(())
    }

    /// Attaches an XDP program that passes everything to `dev` (driver
    /// mode). A veth end that must receive frames sent with XDP_TX by the
    /// other end needs one: GRO is not enough for XDP_TX (measured here).
    pub fn xdp_pass(&self, dev: &str) -> Result<()> {
        static OBJ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/xdp_pass.o"));
        // One file per process, named like every object of its owner so
        // the next run sweeps it once this process is gone.
        let path =
            std::env::temp_dir().join(format!("{}xdppass-{}x0", O::PREFIX, std::process::id()));
        if !path.exists() {
            // Written whole under a unique name, then renamed: parallel
            // tests never see a partial object.
            let tmp = path.with_extension(format!("{:?}.tmp", std::thread::current().id()));
            std::fs::write(&tmp, OBJ)?;
            std::fs::rename(&tmp, &path)?;
        }
        let p = path.display().to_string();
        self.ip(&["link", "set", "dev", dev, "xdpdrv", "obj", &p, "sec", "xdp"])?;
        Ok(())
    }

    /// The MAC address of `dev` (read with `ip -j`: /sys under
    /// `nsenter --net` still shows the host's devices).
    pub fn mac(&self, dev: &str) -> Result<String> {
        let out = self.ip(&["-j", "link", "show", "dev", dev])?;
        let v: serde_json::Value = serde_json::from_str(&out)?;
        v[0]["address"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("no MAC for {dev} in {}", self.name))
    }

    /// The ifindex of `dev` inside this namespace.
    pub fn ifindex(&self, dev: &str) -> Result<u32> {
        let out = self.ip(&["-j", "link", "show", "dev", dev])?;
        let v: serde_json::Value = serde_json::from_str(&out)?;
        v[0]["ifindex"]
            .as_u64()
            .map(|i| i as u32)
            .with_context(|| format!("no ifindex for {dev} in {}", self.name))
    }

    /// One ICMPv6 echo to `addr` (fills the neighbour cache, proves reachability).
    pub fn ping(&self, addr: &str) -> Result<()> {
        self.exec("ping", &["-6", "-n", "-q", "-c", "1", "-W", "2", addr])?;
        Ok(())
    }

    /// Runs `f` on a new thread that first enters this namespace (setns
    /// moves only the calling thread): sockets it opens live here.
    pub fn spawn<T, F>(&self, label: &str, f: F) -> JoinHandle<Result<T>>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let path = self.path();
        let name = format!("{}@{}", label, self.name);
        thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                sys::setns_net(&path).with_context(|| format!("setns into {}", path.display()))?;
                f()
            })
            .expect("spawning a thread")
    }

    /// Runs `f` inside this namespace on a helper thread and waits for it;
    /// `f` may borrow from the caller (a scoped thread).
    pub fn run_in<T, F>(&self, f: F) -> Result<T>
    where
        T: Send,
        F: FnOnce() -> Result<T> + Send,
    {
        let path = self.path();
        thread::scope(|s| {
            thread::Builder::new()
                .name(format!("run_in@{}", self.name))
                .spawn_scoped(s, || {
                    sys::setns_net(&path)
                        .with_context(|| format!("setns into {}", path.display()))?;
                    f()
                })
                .expect("spawning a thread")
                .join()
                .unwrap_or_else(|_| bail!("thread in {} panicked", self.name))
        })
    }
}

impl<O: Owner> Drop for Netns<O> {
    fn drop(&mut self) {
        delete(&self.name);
    }
}

/// Deletes the namespace `name` after SIGKILL to whatever still runs in
/// it: everything there was started by its owner (the name is unique to
/// it); process guards normally got there first.
pub(crate) fn delete(name: &str) {
    let pids = util::run_str("ip", ["netns", "pids", name]).unwrap_or_default();
    for pid in pids.split_whitespace().filter_map(|p| p.parse().ok()) {
        let _ = sys::kill(pid, libc::SIGKILL);
    }
    let _ = Command::new("ip").args(["netns", "del", name]).output();
}

/// Creates a veth pair with one end in each namespace, both up.
pub fn veth<A: Owner, B: Owner>(a: &Netns<A>, a_if: &str, b: &Netns<B>, b_if: &str) -> Result<()> {
    a.ip(&[
        "link",
        "add",
        a_if,
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ])?;
    a.ip(&["link", "set", a_if, "up"])?;
    b.ip(&["link", "set", b_if, "up"])?;
    Ok(())
}
