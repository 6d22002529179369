#!/usr/bin/env bash
# Builds the cargo-fuzz targets under fuzz/ with libFuzzer on stable Rust
# (the sanitizer-coverage flags cargo-fuzz uses, without the nightly-only
# address sanitizer) and runs each for SECONDS (default 30).
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"; shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(config_parse xdp_frame userspace_frame ard_decode arip_decode aarp_decode aospf_decode)
fi
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="$PWD/fuzz/target"
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros.
host="$(rustc -vV | sed -n 's/^host: //p')"
(cd fuzz && cargo build --release --bins -q --target "$host")
bin="$CARGO_TARGET_DIR/$host/release"

# Seeds: example configs and every fixture frame.
seeds="$PWD/fuzz/target/seeds"
mkdir -p "$seeds/config_parse" "$seeds/xdp_frame" "$seeds/userspace_frame" "$seeds/ard_decode" \
    "$seeds/arip_decode" "$seeds/aarp_decode" "$seeds/aospf_decode"
cp docs/examples/*.toml "$seeds/config_parse/" 2>/dev/null || true
cp fuzz/seeds/config_parse/* "$seeds/config_parse/" 2>/dev/null || true
python3 - "$seeds/xdp_frame" "$seeds/userspace_frame" <<'PY'
import json, sys, os
d = json.load(open("tests/fixtures/dataplane.json"))
for out in sys.argv[1:]:
    for i, c in enumerate(d["cases"]):
        open(os.path.join(out, f"{i:03d}-{c['name']}"), "wb").write(bytes.fromhex(c["input"]))
PY

# Protocol decoders: the annotated byte vectors (`#` comments, hex digits).
python3 - "$seeds" <<'PY'
import glob, os, re, sys
for proto in ("ard", "arip", "aarp", "aospf"):
    for f in glob.glob(f"tests/fixtures/{proto}/*.hex"):
        text = "".join(l.split("#", 1)[0] for l in open(f))
        data = bytes.fromhex(re.sub(r"\s+", "", text))
        name = os.path.basename(f)[:-4]
        open(os.path.join(sys.argv[1], f"{proto}_decode", name), "wb").write(data)
PY

cleanup() { for d in /sys/fs/bpf/a6-fuzz-*; do [ -e "$d" ] && rm -rf "$d"; done; return 0; }
trap cleanup EXIT
for t in "${targets[@]}"; do
    if [ "$t" = xdp_frame ] && [ "$(id -u)" -ne 0 ]; then
        echo "SKIPPED (needs root): fuzz target xdp_frame" >&2
        continue
    fi
    corpus="$PWD/fuzz/corpus/$t"
    mkdir -p "$corpus"
    echo "fuzz: $t for ${secs}s"
    log="$CARGO_TARGET_DIR/$t.log"
    status=0
    (cd "$CARGO_TARGET_DIR" && "$bin/$t" -max_total_time="$secs" -print_final_stats=1 \
        "$corpus" "$seeds/$t") >"$log" 2>&1 || status=$?
    grep -E "^stat::(number_of_executed_units|new_units_added)" "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -40 "$log" >&2
        echo "fuzz: $t FAILED (exit $status; crash input under $CARGO_TARGET_DIR)" >&2
        exit 1
    fi
done
echo "fuzz: all targets ran clean"
