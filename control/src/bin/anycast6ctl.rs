//! anycast6ctl: talks to anycast6d over its management socket.

use std::io::Write;
use std::process::ExitCode;

use anycast6_control::ctl::{self, Cli};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match ctl::run(&cli) {
        Ok(out) => {
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("anycast6ctl: {e}");
            ExitCode::FAILURE
        }
    }
}
