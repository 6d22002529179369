//! MGA, Mobile-IPv6-based Global Anycast (docs/mga.md): members register
//! an anycast address with home agents in Mobile IPv6 Binding Updates,
//! many bindings per home address, and bind single flows at
//! correspondents (route optimisation), keyed instead of return
//! routability.
//!
//! So far the wire format ([`packet`]: the Mobility Header messages and
//! options of §4, Dynamic Home Agent Address Discovery of §4.6), the
//! authentication of §4.5 ([`auth`]), and the cores of each role on
//! decoded messages and a clock: the home agent's binding cache
//! ([`cache`], §5.1), the member's registrations ([`member`], §6.2), the
//! correspondent's flow bindings ([`correspondent`], §7) and the member's
//! side of route optimisation ([`ro`], §7.1, §7.3), and the
//! [`instance`] tying them to the wire (decode, authenticate, answer,
//! discovery) for anycast6d.
//! Pure: no sockets, no clock of its own.

pub mod auth;
pub mod cache;
pub mod correspondent;
pub mod instance;
pub mod member;
pub mod packet;
pub mod ro;

#[cfg(test)]
mod tests;
