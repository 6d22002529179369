//! a6-docgen OUTDIR: man pages (`man/anycast6d.8`, `man/anycast6ctl.8`,
//! `man/anycast6-stream.1`, one more per subcommand) and shell completions
//! (`completions/bash/NAME`, `completions/zsh/_NAME`,
//! `completions/fish/NAME.fish`) made from the binaries' own clap command
//! lines, so they never disagree with `--help`. scripts/package.sh puts
//! them in the Debian package.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

fn man(cmd: &clap::Command, section: &str, dir: &Path) -> Result<usize> {
    let mut n = 0;
    let name = cmd.get_name().to_string();
    let page = clap_mangen::Man::new(cmd.clone()).section(section);
    let mut buf = Vec::new();
    page.render(&mut buf)?;
    let file = dir.join(format!("{name}.{section}"));
    std::fs::write(&file, buf).with_context(|| format!("writing {}", file.display()))?;
    n += 1;
    // `anycast6ctl-reload.8` and so on: man pages per subcommand, as git's.
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub = sub.clone().name(format!("{name}-{}", sub.get_name()));
        n += man(&sub, section, dir)?;
    }
    Ok(n)
}

fn completions(mut cmd: clap::Command, dir: &Path) -> Result<()> {
    let name = cmd.get_name().to_string();
    for (shell, sub, file) in [
        (Shell::Bash, "bash", name.clone()),
        (Shell::Zsh, "zsh", format!("_{name}")),
        (Shell::Fish, "fish", format!("{name}.fish")),
    ] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d)?;
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd, &name, &mut buf);
        std::fs::write(d.join(&file), buf)?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .context("usage: a6-docgen OUTDIR")?;
    let out = Path::new(&out);
    let man_dir = out.join("man");
    std::fs::create_dir_all(&man_dir)?;
    let comp = out.join("completions");
    let mut pages = 0;
    for (cmd, section) in [
        (anycast6_control::cli::Args::command(), "8"),
        (anycast6_control::ctl::Cli::command(), "8"),
        (anycast6_stream::cli::Cli::command(), "1"),
    ] {
        pages += man(&cmd, section, &man_dir)?;
        completions(cmd, &comp)?;
    }
    println!(
        "a6-docgen: {pages} man pages and 9 completion files in {}",
        out.display()
    );
    Ok(())
}
