#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, dataplane fixtures
# through BPF_PROG_TEST_RUN, and the topology tests (network namespaces,
# XDP, real traffic). Needs root: privileged tests must run, not skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  cat >&2 <<'MSG'
test.sh: must run as root.
  The topology tests create network namespaces, attach XDP programs and pin
  BPF maps; as non-root they would all be skipped. Run:  sudo scripts/test.sh
MSG
  exit 1
fi

# sudo may reset PATH: find the invoking user's Rust toolchain too.
if ! command -v cargo >/dev/null 2>&1; then
  for home in "$HOME" ${SUDO_USER:+"$(getent passwd "$SUDO_USER" | cut -d: -f6)"}; do
    if [[ -x "$home/.cargo/bin/cargo" ]]; then
      export PATH="$home/.cargo/bin:$PATH"
      export CARGO_HOME="${CARGO_HOME:-$home/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$home/.rustup}"
      break
    fi
  done
fi

scripts/setup.sh

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --all --check"
cargo fmt --all --check
step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
step "protocol crates are pure (scripts/check-pure.sh)"
scripts/check-pure.sh
scripts/check-pure.sh --self-test
# The topology tests run anycast6d and anycast6ctl from target/debug.
step "cargo build --workspace --bins --lib (the preload library too)"
cargo build --workspace --bins --lib
# Every decoder's fuzz target, briefly (longer by hand: scripts/fuzz.sh 600).
# Protocol decoders (ARD, ARIP, AARP, AOSPF, PIA-SM, MGA) and the AOSPF instance get a minute each.
step "fuzz targets (scripts/fuzz.sh ${A6_FUZZ_SECS:-30}; protocol decoders ${A6_PROTO_FUZZ_SECS:-60})"
scripts/fuzz.sh "${A6_FUZZ_SECS:-30}" config_parse xdp_frame userspace_frame capture_record metrics_http
scripts/fuzz.sh "${A6_PROTO_FUZZ_SECS:-60}" ard_decode arip_decode aarp_decode aospf_decode aospf_instance piasm_decode mga_decode mga_instance stream_decode
step "cargo test --workspace"

log=$(mktemp /tmp/anycast6-test.XXXXXX)
set +e
A6T_NO_BUILD=1 cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary (cargo prints one per binary,
# the last of which is often an empty doc-test run).
awk '/^test result:/ {
       for (i = 2; i <= NF; i++) {
         if ($i == "passed;") p += $(i - 1)
         if ($i == "failed;") f += $(i - 1)
       }
     }
     END { printf "\ntests: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
