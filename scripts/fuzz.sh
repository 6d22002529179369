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
    targets=(config_parse xdp_frame userspace_frame ard_decode arip_decode aarp_decode aospf_decode
        aospf_instance piasm_decode mga_decode mga_instance stream_decode metrics_http capture_record)
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
    "$seeds/arip_decode" "$seeds/aarp_decode" "$seeds/aospf_decode" "$seeds/aospf_instance" \
    "$seeds/piasm_decode" "$seeds/mga_decode" "$seeds/mga_instance" "$seeds/stream_decode" \
    "$seeds/metrics_http" "$seeds/capture_record"
cp docs/examples/*.toml "$seeds/config_parse/" 2>/dev/null || true
cp fuzz/seeds/config_parse/* "$seeds/config_parse/" 2>/dev/null || true
cp fuzz/seeds/metrics_http/* "$seeds/metrics_http/" 2>/dev/null || true
python3 - "$seeds/xdp_frame" "$seeds/userspace_frame" <<'PY'
import json, sys, os
d = json.load(open("tests/fixtures/dataplane.json"))
for out in sys.argv[1:]:
    for i, c in enumerate(d["cases"]):
        open(os.path.join(out, f"{i:03d}-{c['name']}"), "wb").write(bytes.fromhex(c["input"]))
PY
# Capture records (docs/capture.md section 3, host order): every fixture
# frame under its reason (the header's name where it is the printed one,
# else reason 0), as the program would write it.
python3 - "$seeds/capture_record" <<'PY'
import json, sys, os, struct
d = json.load(open("tests/fixtures/dataplane.json"))
reasons = [l.split()[1][5:] for l in open("ebpf/include/anycast6_abi.h") if l.startswith("#define A6_R_") and len(l.split()) > 2 and l.split()[2].isdigit()]
verdicts = {"drop": 1, "pass": 2, "tx": 3, "redirect": 4}
for i, c in enumerate(d["cases"]):
    f = bytes.fromhex(c["input"])[:256]
    try:
        r = [x.lower() for x in reasons].index(c["reason"])
    except ValueError:
        r = 0
    h = struct.pack("=QIIIIIIIIHHI", 10**9 + i, 7, 1, len(f), len(f), len(f), 0xffffffff, 0, 0, r, verdicts[c["verdict"]], 0)
    open(os.path.join(sys.argv[1], f"{i:03d}-{c['name']}"), "wb").write(h + f)
PY

# Protocol decoders: the annotated byte vectors (`#` comments, hex digits).
python3 - "$seeds" <<'PY'
import glob, os, re, sys
for proto in ("ard", "arip", "aarp", "aospf", "piasm", "mga", "stream"):
    for f in glob.glob(f"tests/fixtures/{proto}/*.hex"):
        text = "".join(l.split("#", 1)[0] for l in open(f))
        data = bytes.fromhex(re.sub(r"\s+", "", text))
        name = os.path.basename(f)[:-4]
        open(os.path.join(sys.argv[1], f"{proto}_decode", name), "wb").write(data)
        if proto == "mga":
            # One frame for the instance target: checksum fixed, from the member.
            frame = bytes([1, 1]) + len(data).to_bytes(2, "big") + data
            open(os.path.join(sys.argv[1], "mga_instance", name), "wb").write(frame)
PY

# The AOSPF instance: the FRR and BIRD captures framed as its target reads
# them (fuzz_targets/aospf_instance.rs), one by one and as conversations.
python3 - "$seeds/aospf_instance" <<'PY'
import os, re, struct, sys
def load(name):
    f = f"tests/fixtures/aospf/{name}.hex"
    if not os.path.exists(f):
        return None
    text = "".join(l.split("#", 1)[0] for l in open(f))
    dst = re.search(r"^# dst (\S+)", open(f).read(), re.M).group(1)
    return bytearray.fromhex(re.sub(r"\s+", "", text)), dst
def frame(data, dst, time, ifsel, frr):
    ctrl = ifsel | (1 if frr else 0) << 2 | (0 if dst == "ff02::5" else 2) << 4 | 0x40
    return bytes([ctrl, time]) + struct.pack(">H", len(data)) + data
# Our first DD sequence number as master (instance.rs next_dd_seq, seeded
# by the target's start time, 1 s): FRR, the captured slave, echoes it.
# Patched in, the FRR conversation gets past ExStart (if the core's
# generator changes, the seed is merely less deep).
seq = (1000001 * 1103515245 + 12345) & 0xFFFFFFFF
def dd_seq(data, n):
    data[24:28] = struct.pack(">I", n)
    return data
# Hellos every HelloInterval (BIRD 1 s, FRR 2 s; 50 ticks of 20 ms a
# second) until the wait timer has elected a DR, then the exchange (the
# captured LS Request asks for the captured peer's LSAs, not ours: a
# BadLSReq, so it is left out of the conversations). Then BIRD's
# exchange once more on the point-to-point interface, sealed.
order = ["hello-first"] + ["hello"] * 6 + ["dd-init", "dd-headers", "dd-last", "ls-update",
         "ls-update-network", "ls-ack", "auth-hello", "auth-dd", "auth-ls-update"]
out = sys.argv[1]
for impl, setup, tick in (("frr", 1, 100), ("bird", 0, 50)):
    frr = impl == "frr"
    talk = bytes([setup])
    for i, step in enumerate(order):
        if step == "dd-last":
            got = load(f"{impl}-dd-headers")
            if not frr or got is None:
                continue
            data, dst = got
            data = dd_seq(data[:28], seq + 1)
            data[2:4] = struct.pack(">H", 28)
        else:
            got = load(f"{impl}-{step}")
            if got is None:
                continue
            data, dst = got
            if frr and step.startswith("dd-"):
                data = dd_seq(data, seq)
        ifsel = 2 if "auth" in step else (1 if frr else 0)
        open(os.path.join(out, f"{impl}-{step}"), "wb").write(bytes([setup]) + frame(data, dst, 0, ifsel, frr))
        talk += frame(data, dst, tick if 1 < i < 8 else 5, ifsel, frr)
    if not frr:
        for step in ["hello", "dd-init", "dd-headers", "ls-update", "ls-ack"]:
            data, dst = load(f"bird-{step}")
            talk += frame(data, dst, 5, 2, False)
    open(os.path.join(out, f"{impl}-conversation"), "wb").write(talk)
    # The same with max_lsas 8: refusals.
    open(os.path.join(out, f"{impl}-conversation-full"), "wb").write(bytes([setup | 2]) + talk[1:])
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
