#!/usr/bin/env bash
# The benchmark suite (bench/, issue 4): installs what it needs (like
# setup.sh), builds the release binaries, runs anycast6-bench, which writes
# bench/results/<date>-<sha>.json, PNG plots beside it, and bench/REPORT.md.
#
#   sudo scripts/bench.sh            # the full suite (about 10 minutes)
#   sudo scripts/bench.sh --quick    # CI smoke run, under 2 minutes
#   sudo scripts/bench.sh --only scale,maglev --out /tmp/r --report /tmp/r/REPORT.md
#
# Exits non-zero only when a scenario fails (an error), never on a missed
# target. Ctrl-C removes every namespace, pin and process it created.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  cat >&2 <<'MSG'
bench.sh: must run as root.
  The benchmarks create network namespaces, attach XDP programs, pin BPF
  maps and run anycast6d. Run:  sudo scripts/bench.sh
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

# The plots' labels need a TrueType font (DejaVu Sans).
if [[ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]]; then
  echo "bench.sh: installing fonts-dejavu-core (plot labels)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends fonts-dejavu-core >/dev/null
fi

# anycast6d and anycast6ctl (the latency and daemon scenarios run them)
# come from the same build as the bench.
echo "bench.sh: cargo build --release --workspace --bins"
cargo build --release --workspace --bins
exec "${CARGO_TARGET_DIR:-target}/release/anycast6-bench" "$@"
