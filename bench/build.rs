//! Compiles the bench's own eBPF programs (`bench/ebpf/*.bpf.c`: the traffic
//! generator, the counting sink, the minimal forwarder) with clang into
//! OUT_DIR; `traffic::progs` embeds them with `include_bytes!`.
use std::{env, path::PathBuf, process::Command};

fn main() -> anyhow::Result<()> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let src = manifest.join("ebpf");
    let abi = manifest.join("..").join("ebpf").join("include");
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let multiarch = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "x86_64-linux-gnu".to_string());
    println!("cargo:rerun-if-changed={}", src.display());
    for entry in std::fs::read_dir(&src)? {
        let path = entry?.path();
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(stem) = name.strip_suffix(".bpf.c") else {
            continue;
        };
        let obj = out.join(format!("{stem}.bpf.o"));
        let status = Command::new("clang")
            .args(["-O2", "-g", "-target", "bpf", "-Wall", "-Werror"])
            .arg(format!("-I{}", src.display()))
            .arg(format!("-I{}", abi.display()))
            .arg(format!("-I/usr/include/{multiarch}"))
            .arg("-c")
            .arg(&path)
            .arg("-o")
            .arg(&obj)
            .status()
            .map_err(|e| {
                anyhow::anyhow!("clang not found ({e}): apt-get install clang llvm libbpf-dev")
            })?;
        if !status.success() {
            anyhow::bail!("clang failed on {}", path.display());
        }
    }
    Ok(())
}
