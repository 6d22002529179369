//! tracing setup for both binaries: `RUST_LOG` filters (default `info`),
//! `--log-format text|json` chooses the output, always on stderr.

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn init(format: LogFormat, default_level: &str) {
    let env = std::env::var("RUST_LOG").unwrap_or_default();
    let mut filter = EnvFilter::try_new(if env.is_empty() { default_level } else { &env })
        .unwrap_or_else(|_| EnvFilter::new(default_level));
    // netlink_proto warns about every notification nobody waits for (a
    // request socket also hears the kernel's echo of its own changes):
    // noise unless asked for by name.
    if !env.contains("netlink_proto") {
        if let Ok(d) = "netlink_proto=error".parse() {
            filter = filter.add_directive(d);
        }
    }
    // Colour only on a terminal, never in a log file; NO_COLOR wins.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => b.init(),
        LogFormat::Json => b.json().flatten_event(true).init(),
    }
}
