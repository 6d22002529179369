//! The link-scope UDP socket of ARD, ARIP and AARP: one transport of
//! [`super::link::LinkSocket`].

pub use super::link::{LinkSocket as LinkUdp, Received};
