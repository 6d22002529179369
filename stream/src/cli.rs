//! anycast6-stream's command line (the binary is src/main.rs; the
//! package's man page and shell completions are made from this).

use std::net::SocketAddrV6;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "anycast6-stream",
    version,
    about = "Reliable streaming from an anycast address (docs/stream.md)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Serve content: answer Requests on the anycast address, stream Data
    /// from this host's unicast address.
    Server {
        /// Where Requests arrive (the anycast address, or [::]).
        #[arg(long, default_value = "[::]:4740")]
        listen: SocketAddrV6,
        /// Files served, by path relative to here (gen:<size> always works).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// This server's id in Data (default: its process id).
        #[arg(long)]
        id: Option<u32>,
        /// Highest rate a session may ask for, octets/s (k, M, G suffixes).
        #[arg(long, default_value = "12M")]
        max_rate: String,
        #[arg(long, default_value_t = 256)]
        max_sessions: usize,
        #[arg(long, default_value_t = 8)]
        max_sessions_per_client: usize,
        /// A session without a Request for this long ends.
        #[arg(long, default_value = "5s")]
        idle_timeout: String,
        /// Keys ("<id> <secret>" a line): only signed Requests are taken.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Counters on exit as JSON (standard output).
        #[arg(long)]
        json: bool,
    },
    /// Play a stream: start a session at the service address, recover
    /// gaps and failovers, write the content out.
    Client {
        /// The service: the anycast address (or one server, the baseline).
        #[arg(long)]
        server: SocketAddrV6,
        /// Content id: a file name on the servers, or gen:<size>.
        #[arg(long)]
        content: String,
        /// Stream rate, octets/s (k, M, G suffixes).
        #[arg(long, default_value = "250k")]
        rate: String,
        /// Playout buffer depth.
        #[arg(long, default_value = "1s")]
        buffer: String,
        /// Content octets per datagram (64..=1400).
        #[arg(long, default_value_t = 1200)]
        datagram: u16,
        /// Stall timer and NACK repeat interval.
        #[arg(long, default_value = "100ms")]
        nack_interval: String,
        #[arg(long, default_value = "10ms")]
        reorder_delay: String,
        #[arg(long, default_value = "1s")]
        feedback: String,
        /// No Data for this long: the stream is broken (exit status 1).
        #[arg(long, default_value = "5s")]
        give_up: String,
        /// This client's address and port (default: the source address the
        /// kernel picks toward the service, any port).
        #[arg(long)]
        bind: Option<SocketAddrV6>,
        /// Write the content here ("-": standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Key ("<id> <secret>", the first line) to sign Requests with.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// The summary as JSON on standard output (progress stays on
        /// standard error).
        #[arg(long)]
        json: bool,
        /// No progress line.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write generated content (gen:<size>) for comparison.
    Content {
        id: String,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}
