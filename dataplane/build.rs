//! Compiles every `ebpf/*.bpf.c` with clang into OUT_DIR; the loader embeds
//! the objects with `include_bytes!`.
use std::{env, path::PathBuf, process::Command};

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?)
        .join("..")
        .join("ebpf");
    let out = PathBuf::from(env::var("OUT_DIR")?);
    let multiarch = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "x86_64-linux-gnu".to_string());
    println!("cargo:rerun-if-changed={}", root.display());
    let include = root.join("include");
    for entry in std::fs::read_dir(&include)? {
        println!("cargo:rerun-if-changed={}", entry?.path().display());
    }
    for entry in std::fs::read_dir(&root)? {
        let path = entry?.path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".bpf.c") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let obj = out.join(name.replace(".bpf.c", ".bpf.o"));
        let status = Command::new("clang")
            .args(["-O2", "-g", "-target", "bpf", "-Wall", "-Werror"])
            .arg(format!("-I{}", include.display()))
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
