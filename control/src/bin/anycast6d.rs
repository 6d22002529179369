//! anycast6d: the anycast6 control-plane daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use anycast6_control::cli::Args;
use anycast6_control::config;
use anycast6_control::ctl;
use anycast6_control::daemon::{self, DaemonArgs};
use anycast6_control::logging;
use anycast6_control::mgmt::views::DestroyView;
use clap::Parser;

/// `--destroy`: through the running daemon if it answers for this pin
/// directory, else directly, including the kernel objects anycast6 made in
/// this network namespace.
fn destroy(args: &Args) -> ExitCode {
    let cfg = config::load(&args.config);
    let socket = cfg.as_ref().map_or_else(
        |_| PathBuf::from(config::DEFAULT_SOCKET),
        |c| c.daemon.socket.clone(),
    );
    let pin_dir = match (&args.pin_dir, &cfg) {
        (Some(p), _) => p.clone(),
        (None, Ok(c)) => c.daemon.pin_dir.clone(),
        (None, Err(e)) => {
            eprintln!("{e}\n(give --pin-dir to destroy without a config)");
            return ExitCode::FAILURE;
        }
    };
    match ctl::destroy(&socket, Some(&pin_dir), true) {
        Ok(v) => {
            let v: DestroyView = serde_json::from_value(v).expect("destroy view");
            print!("{}", ctl::render::destroy(&v));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("anycast6d: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    logging::init(args.log_format, "info");
    if args.destroy {
        return destroy(&args);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("anycast6d: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<()> = rt.block_on(async {
        if let Some(file) = &args.check {
            println!("{}", daemon::run::check(file).await?);
            return Ok(());
        }
        let cfg = config::load(&args.config)?;
        daemon::run(DaemonArgs { config: cfg }).await?;
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
