//! Tests of the AOSPF wire format: FRR captures both ways, hand-made
//! vectors, refusals, the trailer, tshark.

mod auth;
mod bird;
mod fixtures;
mod gr;
mod hostile;
mod network;
mod packet;
mod pcap;
mod sim;
mod spf;
