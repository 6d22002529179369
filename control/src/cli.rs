//! anycast6d's command line (the binary is src/bin/anycast6d.rs; the
//! package's man page and shell completions are made from this and
//! [`crate::ctl::Cli`]).

use std::path::PathBuf;

use clap::Parser;

use crate::config::DEFAULT_CONFIG;
use crate::logging::LogFormat;

/// IPv6 anycast for Linux software routers: keeps the XDP fast path's FIB
/// equal to the config, the runtime changes and the kernel's neighbours.
#[derive(Parser, Debug)]
#[command(name = "anycast6d", version)]
pub struct Args {
    /// The config file (docs/config.md).
    #[arg(short, long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Validate FILE (syntax, values, interfaces exist) and exit: 0 if ok.
    #[arg(long, value_name = "FILE", conflicts_with = "destroy")]
    pub check: Option<PathBuf>,
    /// Detach and unpin everything (pin_dir of the config, or --pin-dir),
    /// remove anycast6's managed neighbours and lo addresses, and exit.
    #[arg(long)]
    pub destroy: bool,
    /// With --destroy: the pin directory (default: the config's pin_dir).
    #[arg(long, requires = "destroy")]
    pub pin_dir: Option<PathBuf>,
    /// Log output on stderr: auto is journald's form (a priority prefix,
    /// no timestamp) when stderr is the journal, else text; json: one
    /// object per event.
    #[arg(long, value_enum, default_value_t)]
    pub log_format: LogFormat,
}
