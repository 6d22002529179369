#!/usr/bin/env bash
# The protocol crates (protocols/*) are pure: events and a clock in,
# packets and RIB changes out. None may depend, even indirectly, on an
# async runtime, the BPF loader, netlink or a socket crate; the daemon
# (control/) is where I/O lives. Fails, naming crate and culprit, when one does.
#
#   scripts/check-pure.sh              # the check
#   scripts/check-pure.sh --self-test  # proves the check can fail (a deny list that
#                                      # names serde, which every core uses, must fail)
set -euo pipefail
cd "$(dirname "$0")/.."

deny=(tokio mio async-std aya aya-obj libbpf-sys libbpf-rs xsk-rs rtnetlink netlink-sys
      netlink-proto netlink-packet-core netlink-packet-route socket2 nix)

if [[ ${1:-} == --self-test ]]; then
  if A6_PURE_EXTRA_DENY=serde "$0" >/dev/null 2>&1; then
    echo "check-pure: self-test FAILED: a forbidden dependency went unnoticed" >&2
    exit 1
  fi
  echo "check-pure: self-test ok (a forbidden dependency is caught)"
  exit 0
fi
[[ -n ${A6_PURE_EXTRA_DENY:-} ]] && deny+=("$A6_PURE_EXTRA_DENY")

status=0
for manifest in protocols/*/Cargo.toml; do
  crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -1)
  deps=$(cargo tree -p "$crate" -e normal --prefix none --format '{p}' 2>/dev/null |
         awk '{print $1}' | sort -u)
  for d in "${deny[@]}"; do
    if grep -qx -- "$d" <<<"$deps"; then
      path=$(cargo tree -p "$crate" -e normal -i "$d" 2>/dev/null | head -8 | tr '\n' ' ')
      echo "check-pure: $crate depends on $d (protocol cores must not): $path" >&2
      status=1
    fi
  done
  [[ $status -eq 0 ]] && echo "check-pure: $crate: no runtime, loader, netlink or socket crate"
done
exit $status
