//! Tests of the ARIP core: wire format (byte vectors, tshark), and many
//! cores wired together on a simulated clock.

mod auth;
mod checks;
mod limits;
mod network;
mod packet;
mod pcap;
mod sim;
