//! anycast6-stream (docs/stream.md): a client streams named content from
//! whichever server of an anycast address the network picks, and goes on
//! from another one when its server dies. The wire codec, the content
//! sources, and the pure client and server cores live here; `main.rs` is
//! the I/O (sockets, timers, signals, the command line).

pub mod cli;
pub mod client;
pub mod content;
pub mod server;
pub mod wire;

#[cfg(test)]
mod sim;
