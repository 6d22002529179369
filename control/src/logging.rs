//! tracing setup for both binaries: `RUST_LOG` filters (default `info`),
//! `--log-format auto|text|journald|json` chooses the output, always on
//! stderr. `auto` (the default) is `journald` when stderr is the journal
//! (systemd sets `JOURNAL_STREAM` to its device:inode), else `text`.
//! `journald`: one line per event, a syslog priority prefix (`<3>` error,
//! `<4>` warn, `<6>` info, `<7>` debug and trace: sd-daemon(3)), no
//! timestamp (the journal stamps each line) and no colour.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Auto,
    Text,
    Journald,
    Json,
}

/// True if `var` (JOURNAL_STREAM) names the file `dev`:`ino`.
pub fn journal_stream_is(var: &str, dev: u64, ino: u64) -> bool {
    var.split_once(':')
        .and_then(|(d, i)| Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?)))
        == Some((dev, ino))
}

fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(var) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    std::fs::metadata("/proc/self/fd/2").is_ok_and(|m| journal_stream_is(&var, m.dev(), m.ino()))
}

/// Resolves `auto`.
pub fn effective(format: LogFormat) -> LogFormat {
    match format {
        LogFormat::Auto if stderr_is_journal() => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Text,
        f => f,
    }
}

/// `<6>target: message key=value`.
pub struct Journald;

impl<S, N> FormatEvent<S, N> for Journald
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        ev: &Event<'_>,
    ) -> fmt::Result {
        let meta = ev.metadata();
        write!(w, "<{}>{}: ", priority(*meta.level()), meta.target())?;
        ctx.field_format().format_fields(w.by_ref(), ev)?;
        writeln!(w)
    }
}

fn priority(l: Level) -> u8 {
    match l {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
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
    match effective(format) {
        LogFormat::Journald => b.with_ansi(false).event_format(Journald).init(),
        LogFormat::Json => b.json().flatten_event(true).init(),
        LogFormat::Text | LogFormat::Auto => b.init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn journald_lines_carry_a_priority_and_no_timestamp() {
        let buf = Buf::default();
        let w = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(Level::DEBUG)
            .with_writer(move || w.clone())
            .event_format(Journald)
            .finish();
        tracing::subscriber::with_default(sub, || {
            tracing::error!(interface = "eth0", "attach failed");
            tracing::warn!("reload rejected");
            tracing::info!(groups = 2, "FIB in sync");
            tracing::debug!("detail");
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let t = module_path!();
        assert_eq!(
            out,
            format!(
                "<3>{t}: attach failed interface=\"eth0\"\n<4>{t}: reload rejected\n\
                 <6>{t}: FIB in sync groups=2\n<7>{t}: detail\n"
            )
        );
    }

    #[test]
    fn journal_stream_names_device_and_inode() {
        assert!(journal_stream_is("8:12345", 8, 12345));
        assert!(!journal_stream_is("8:12345", 8, 1));
        assert!(!journal_stream_is("8-12345", 8, 12345));
        assert!(!journal_stream_is("", 0, 0));
    }
}
