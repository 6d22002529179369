//! `libanycast6_aarp.so`: the AARP client side, deployed like SOCKS.
//!
//! Loaded with `LD_PRELOAD`, it replaces libc's `connect`, `sendto`,
//! `sendmsg` and `sendmmsg`. A destination that is an anycast address
//! (configured, or an RFC 2526 reserved subnet anycast address) is resolved
//! with AARP to one member's unicast address, and the real call goes to the
//! member, so TCP and connected UDP keep talking to one node. Everything
//! else goes straight to the real function. See preload/README.md.
//!
//! Pure logic (matching, config, socket address rewrite, decisions) lives
//! in its own modules with unit tests; `hooks` is the thin FFI layer.

pub mod anycast;
pub mod config;
pub mod decide;
pub mod dest;
pub mod resolver;

// Not in unit tests: the test binary would interpose its own socket calls.
#[cfg(not(test))]
mod hooks;
