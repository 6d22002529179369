//! Keyed digests with replay protection: lives in the light `anycast6-aarp`
//! crate (which the LD_PRELOAD library links without tokio) and is
//! re-exported here so ARD, ARIP and the daemon keep their paths.
pub use anycast6_aarp::auth::*;
