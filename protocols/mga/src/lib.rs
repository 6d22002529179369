//! MGA, Mobile-IPv6-based Global Anycast (docs/mga.md): members register
//! an anycast address with home agents in Mobile IPv6 Binding Updates,
//! many bindings per home address, and bind single flows at
//! correspondents (route optimisation), keyed instead of return
//! routability.
//!
//! So far the wire format ([`packet`]: the Mobility Header messages and
//! options of §4, Dynamic Home Agent Address Discovery of §4.6) and the
//! authentication of §4.5 ([`auth`]). Pure: no sockets, no clock.

pub mod auth;
pub mod packet;

#[cfg(test)]
mod tests;
