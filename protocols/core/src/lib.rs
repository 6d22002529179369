//! What every protocol core shares: the simulated-or-real clock it is fed,
//! the RIB changes it emits, keyed-digest authentication with replay
//! protection, the limits on how many routes peers can make it hold, and
//! the origination policy of the routing protocols (what they announce).
//!
//! A protocol core (ard, arip, and later aospf, piasm, mga, aarp) has no
//! sockets and reads no clock: the daemon calls `handle_*(now, ..)` and
//! `handle_timeout(now)`, then drains `poll_output()` and sleeps until
//! `poll_timeout()`. Tests drive many cores on a [`SimClock`].

pub mod auth;
pub mod clock;
pub mod limit;
pub mod originate;
pub mod pcap;
pub mod rib;

pub use clock::{Instant, SimClock};
pub use limit::{LimitConfig, LimitEvent, LimitView, RouteLimit};
pub use rib::{Distances, RibChange, RibEntry, Source};
