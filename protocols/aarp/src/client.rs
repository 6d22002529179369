//! Blocking resolution for ordinary programs and the LD_PRELOAD library:
//! the [`Resolver`] core driven by a plain `std::net::UdpSocket` and the
//! real clock. No threads, no async runtime, no logging; the preload
//! library guards against intercepting these socket calls itself.

use std::io::{ErrorKind, Read};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cache::AnswerCache;
use crate::packet::{self, MAX_LEN, PORT};
use crate::resolver::{Resolution, Resolver, ResolverConfig, Unresolved};
use anycast6_core::auth::Keyring;

pub use crate::packet::AnswerSource;
pub use crate::resolver::Answer;

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Destination port of queries (answers come from it).
    pub port: u16,
    /// How long each try waits.
    pub timeout: Duration,
    /// Tries after the first.
    pub retries: u32,
    /// With a key, only answers signed with it are accepted.
    pub keyring: Keyring,
    /// How long [`Cache`] remembers an address that did not resolve.
    pub negative_ttl: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        let core = ResolverConfig::default();
        ClientOptions {
            port: PORT,
            timeout: core.timeout,
            retries: core.retries,
            keyring: Keyring::none(),
            negative_ttl: core.negative_ttl,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no acceptable AARP answer after {tries} tries")]
    NoAnswer { tries: u32 },
    #[error("the responder has no member for this address")]
    NoMember,
    #[error("AARP socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0} is not an address AARP resolves (unspecified, multicast or IPv4-mapped)")]
    InvalidAddress(Ipv6Addr),
}

impl From<Unresolved> for ResolveError {
    fn from(u: Unresolved) -> ResolveError {
        match u {
            Unresolved::NoAnswer { tries } => ResolveError::NoAnswer { tries },
            Unresolved::NoMember => ResolveError::NoMember,
        }
    }
}

/// One query/answer exchange over a fresh UDP socket (std::net::UdpSocket,
/// connected to [A]:port), retried.
pub fn resolve_blocking(anycast: Ipv6Addr, opts: &ClientOptions) -> Result<Answer, ResolveError> {
    exchange(anycast, opts)?.result.map_err(ResolveError::from)
}

/// A process-wide cache in front of [`resolve_blocking`] (positive answers
/// for their lifetime, negative for `negative_ttl`), thread-safe. Entries
/// are keyed by address only: one process is expected to use one set of
/// options. Two threads missing on the same address at once both query.
#[derive(Debug, Default)]
pub struct Cache {
    entries: Mutex<AnswerCache>,
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    /// The cached result for `anycast`, or a fresh exchange (the lock is
    /// not held while waiting on the network). I/O errors are not cached.
    pub fn resolve(&self, anycast: Ipv6Addr, opts: &ClientOptions) -> Result<Answer, ResolveError> {
        if let Some(r) = self.lock().get(Instant::now(), anycast) {
            return r.map_err(ResolveError::from);
        }
        let res = exchange(anycast, opts)?;
        let now = Instant::now();
        let mut c = self.lock();
        match &res.result {
            Ok(a) => c.put_answer(now, a),
            Err(why) => c.put_negative(now, anycast, *why, res.cache_for),
        }
        res.result.map_err(ResolveError::from)
    }

    /// Forgets `anycast` (e.g. the member it named refused a connection),
    /// so the next `resolve` asks again.
    pub fn invalidate(&self, anycast: Ipv6Addr) {
        self.lock().remove(anycast);
    }

    fn lock(&self) -> MutexGuard<'_, AnswerCache> {
        // A panic elsewhere cannot leave the map half-written.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Drives a one-address [`Resolver`] over a connected socket until it
/// yields its [`Resolution`].
fn exchange(anycast: Ipv6Addr, opts: &ClientOptions) -> Result<Resolution, ResolveError> {
    if !packet::address_valid(anycast) {
        return Err(ResolveError::InvalidAddress(anycast));
    }
    let sock = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0))?;
    sock.connect(SocketAddrV6::new(anycast, opts.port, 0, 0))?;
    let local = match sock.local_addr()? {
        SocketAddr::V6(a) => *a.ip(),
        SocketAddr::V4(_) => Ipv6Addr::UNSPECIFIED,
    };
    let config = ResolverConfig {
        timeout: opts.timeout,
        retries: opts.retries,
        negative_ttl: opts.negative_ttl,
        keyring: opts.keyring.clone(),
        max_entries: 1,
        ..ResolverConfig::default()
    };
    let mut r = Resolver::new(config, wall_clock_nanos());
    r.start(Instant::now(), anycast, random_nonce(), local);
    let mut buf = [0u8; MAX_LEN + 1];
    loop {
        while let Some(t) = r.poll_transmit() {
            match sock.send(&t.bytes) {
                Ok(_) => {}
                // An ICMP error left by the previous try.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                    r.handle_unreachable(Instant::now(), anycast)
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(res) = r.poll_resolution() {
            return Ok(res);
        }
        let Some(deadline) = r.poll_timeout() else {
            // Unreachable: a started query is pending until it resolves.
            return Err(ResolveError::NoAnswer { tries: 0 });
        };
        let now = Instant::now();
        if deadline <= now {
            r.handle_timeout(now);
            continue;
        }
        sock.set_read_timeout(Some(deadline - now))?;
        match sock.recv(&mut buf) {
            Ok(n) => r.handle_datagram(Instant::now(), anycast, &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                r.handle_timeout(Instant::now())
            }
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
                r.handle_unreachable(Instant::now(), anycast)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn wall_clock_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// 64 unpredictable bits from the kernel; if /dev/urandom cannot be read
/// (a chroot), std's per-process random SipHash keys over the time and a
/// counter, which still differ per query and per process.
fn random_nonce() -> u64 {
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
    {
        return u64::from_ne_bytes(b);
    }
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(wall_clock_nanos());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.finish()
}
