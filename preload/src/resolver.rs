//! The process-wide AARP client, and the guard that keeps the client's own
//! socket calls (which go through our hooks) out of resolution.

use std::cell::Cell;
use std::net::Ipv6Addr;

use aarp::auth::{Key, Keyring};
use aarp::{Answer, AnswerSource, Cache, ClientOptions, ResolveError};

use crate::config::Config;
use crate::decide::Resolution;

thread_local! {
    static INSIDE: Cell<bool> = const { Cell::new(false) };
    /// Set when the client made a socket call during this resolution:
    /// a query went out, so the answer did not come from the cache.
    static QUERIED: Cell<bool> = const { Cell::new(false) };
}

/// True while this thread is inside the AARP client: its queries to
/// [A]:5360 must reach the real `sendto`/`connect` untouched.
pub fn inside_resolver() -> bool {
    INSIDE.with(Cell::get)
}

/// Called by the hooks for a socket call made inside the client.
pub fn note_client_io() {
    QUERIED.with(|c| c.set(true));
}

struct InsideGuard;

impl InsideGuard {
    fn enter() -> InsideGuard {
        INSIDE.with(|c| c.set(true));
        QUERIED.with(|c| c.set(false));
        InsideGuard
    }
}

impl Drop for InsideGuard {
    fn drop(&mut self) {
        INSIDE.with(|c| c.set(false));
    }
}

pub struct Resolver {
    cache: Cache,
    opts: ClientOptions,
}

impl Resolver {
    pub fn new(cfg: &Config) -> Resolver {
        Resolver {
            cache: Cache::new(),
            opts: options(cfg),
        }
    }

    pub fn port(&self) -> u16 {
        self.opts.port
    }

    /// Blocks up to the client's timeout × tries when nothing is cached.
    pub fn resolve(&self, anycast: Ipv6Addr) -> Resolution {
        let result = {
            let _inside = InsideGuard::enter();
            self.cache.resolve(anycast, &self.opts)
        };
        let cached = !QUERIED.with(Cell::get);
        resolution(result, cached)
    }

    /// Forgets `anycast`: its member refused or did not answer a connect,
    /// so the next call resolves again rather than reusing the answer.
    pub fn invalidate(&self, anycast: Ipv6Addr) {
        self.cache.invalidate(anycast);
    }
}

/// The AARP client's options from the preload's configuration; what the
/// configuration leaves out keeps the client's default.
pub fn options(cfg: &Config) -> ClientOptions {
    let mut opts = ClientOptions::default();
    if let Some(port) = cfg.port {
        opts.port = port;
    }
    if let Some(timeout) = cfg.timeout {
        opts.timeout = timeout;
    }
    if let Some(retries) = cfg.retries {
        opts.retries = retries;
    }
    if !cfg.keys.is_empty() {
        let keys = cfg
            .keys
            .iter()
            .map(|k| Key::new(k.id, k.secret.clone()))
            .collect();
        opts.keyring = Keyring::new(keys);
    }
    opts
}

fn resolution(result: Result<Answer, ResolveError>, cached: bool) -> Resolution {
    match result {
        Ok(answer) => Resolution::Member {
            member: answer.member,
            source: match answer.source {
                AnswerSource::Member => "member",
                AnswerSource::Router => "router",
            }
            .to_string(),
            cached,
            authenticated: answer.authenticated,
        },
        Err(e) => Resolution::Unresolved {
            reason: e.to_string(),
        },
    }
}
