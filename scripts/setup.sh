#!/usr/bin/env bash
# Installs what anycast6 needs to build, run its demo and run its tests, and
# mounts bpffs. Idempotent: does nothing when everything is already there.
# As non-root it installs nothing: it prints what is missing and how to get it.
set -euo pipefail

# Debian package -> a file it installs (how we tell whether it is there).
declare -A PKG_FILE=(
  [clang]=/usr/bin/clang
  [llvm]=/usr/bin/llvm-strip
  [libbpf-dev]=/usr/include/bpf/bpf_helpers.h
  [bpftool]=/usr/sbin/bpftool
  [iproute2]=/usr/sbin/ip
  [ethtool]=/usr/sbin/ethtool
  [m4]=/usr/bin/m4
  [libelf-dev]=/usr/include/libelf.h
  [zlib1g-dev]=/usr/include/zlib.h
  [pkg-config]=/usr/bin/pkg-config
  [frr]=/usr/lib/frr/zebra
  [bird2]=/usr/sbin/bird
  [tshark]=/usr/bin/tshark
  [iperf3]=/usr/bin/iperf3
  [netcat-openbsd]=/usr/bin/nc.openbsd
  [curl]=/usr/bin/curl
  [python3]=/usr/bin/python3
  [iputils-ping]=/usr/bin/ping
  [procps]=/usr/sbin/sysctl
  [util-linux]=/usr/bin/nsenter
  [gcc]=/usr/bin/gcc
  [g++]=/usr/bin/g++   # libFuzzer (fuzz targets)
  [binutils]=/usr/bin/objdump          # scripts/package.sh (Depends:)
  [systemd]=/usr/bin/systemd-analyze   # the package test verifies the unit
  [passwd]=/usr/sbin/useradd           # the package's service user
  [prometheus]=/usr/bin/prometheus   # the metrics scrape test (tests/tests/metrics.rs)
)

missing=()
for pkg in "${!PKG_FILE[@]}"; do
  [[ -e "${PKG_FILE[$pkg]}" ]] || missing+=("$pkg")
done
# Sorted, for a stable message.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sed '/^$/d' | sort)

root=0
[[ $(id -u) -eq 0 ]] && root=1

if ((${#missing[@]})); then
  if ((root)); then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture: answer no, quietly.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    apt-get update -qq
    # Packages with a service (prometheus, frr) would start it where an init
    # runs: the tests start their own instances, so none is started here.
    # Containers (Docker's image) already have such a policy-rc.d.
    own_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      own_policy=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if ((own_policy)); then rm -f /usr/sbin/policy-rc.d; fi
  else
    echo "setup: missing packages: ${missing[*]}" >&2
    echo "setup: install them with:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if ! command -v cargo >/dev/null 2>&1 && [[ ! -x "$HOME/.cargo/bin/cargo" ]]; then
  echo "setup: no Rust toolchain (cargo). Install stable Rust >= 1.95 with rustup: https://rustup.rs" >&2
  exit 1
fi

if ! mountpoint -q /sys/fs/bpf; then
  if ((root)); then
    mount -t bpf bpf /sys/fs/bpf
    echo "setup: mounted bpffs at /sys/fs/bpf"
  else
    echo "setup: bpffs is not mounted; as root: mount -t bpf bpf /sys/fs/bpf" >&2
    exit 1
  fi
fi
