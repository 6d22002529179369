//! Compiles the one eBPF object of the test support (bpf/xdp_pass.bpf.c,
//! behind `Netns::xdp_pass`) with clang.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "bpf/xdp_pass.bpf.c";
    println!("cargo:rerun-if-changed={src}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("xdp_pass.o");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let status = Command::new(&clang)
        .args(["-O2", "-g", "-target", "bpf", "-c", src, "-o"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("running {clang} (install clang: scripts/setup.sh): {e}"));
    assert!(status.success(), "{clang} failed to compile {src}");
}
