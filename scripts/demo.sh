#!/usr/bin/env bash
# A self-contained anycast6 demo on this machine, in network namespaces:
#
#                                  ┌── m1  2001:db8:1::10  (distance 1)
#   client ── router (XDP + ──────┼── m2  2001:db8:2::10  (distance 1)
#             anycast6d)          └── r2 ── m3  2001:db8:3::10  (distance 2)
#
# Every member holds the anycast address 2001:db8:ac::1 and runs servers that
# answer with their name. The client sends 1000 UDP flows and a TCP transfer
# to the anycast address; the summary shows which member served what. Then a
# member is drained and both near members removed, to show new flows moving.
# Everything (namespaces, processes, pins) is removed on exit, Ctrl-C included.
#
# scripts/demo.sh --stages walks the migration stages instead (below).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "demo.sh: must run as root (namespaces, XDP, bpffs). Run:  sudo scripts/demo.sh" >&2
  exit 1
fi
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

# --stages: the migration model (docs/migration.md) in its own namespace
# topology, one anycast6d on every node from the start, changed only by
# reloads: AARP -> MGA home agent -> PIA-SM core -> ARIP, then PIA-SM and
# MGA removed again, with a TCP transfer through the preload library and
# three anycast6-stream sessions kept running throughout. It is the CI test tests/tests/migration.rs; this runs
# it and shows its account of each stage (about two minutes).
if [[ ${1:-} == --stages ]]; then
  printf '\n\033[1m== %s\033[0m\n' "building"
  cargo build --workspace --bins --lib --quiet
  printf '\n\033[1m== %s\033[0m\n' "the four stages (namespaces a6t-mig*, removed at the end)"
  set +e
  A6T_NO_BUILD=1 cargo test --quiet -p anycast6-tests --test migration -- --nocapture 2>&1 |
    grep -v -e '^running [0-9]* test' -e '^test result:' -e '^\s*$' -e '^test .* \.\.\. ok$' \
      -e '^\.*$' -e 'has been running for over'
  status=${PIPESTATUS[0]}
  set -e
  if [[ $status -ne 0 ]]; then echo "demo.sh --stages: the stages did not complete (above: why)" >&2; fi
  exit "$status"
fi
if [[ $# -gt 0 ]]; then
  echo "demo.sh: unknown argument ${1}; usage: scripts/demo.sh [--stages]" >&2
  exit 2
fi

P=a6demo                       # prefix of everything this demo creates
NSS=(c r1 m1 m2 r2 m3)
ANYCAST=2001:db8:ac::1
CLIENT=2001:db8:c::2
PIN_BASE=/sys/fs/bpf/$P
PIN=$PIN_BASE/v1
BIN=target/release
WORK=$(mktemp -d "/tmp/$P.XXXXXX")
SOCK=$WORK/anycast6d.sock
PIDS=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
inns() { local n=$1; shift; nsenter --net="/run/netns/$P-$n" -- "$@"; }
ctl() { "$BIN/anycast6ctl" --socket "$SOCK" "$@"; }

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [[ -d $PIN && -x $BIN/anycast6ctl ]]; then "$BIN/anycast6ctl" destroy --pin-dir "$PIN" >/dev/null 2>&1; fi
  rm -rf "$PIN_BASE"
  for n in "${NSS[@]}"; do ip netns del "$P-$n" 2>/dev/null; done
  rm -rf "$WORK"
}
# What a previous demo killed with SIGKILL left behind (our own names only).
cleanup_stale() {
  for n in "${NSS[@]}"; do ip netns del "$P-$n" 2>/dev/null || true; done
  if [[ -d $PIN && -x $BIN/anycast6ctl ]]; then "$BIN/anycast6ctl" destroy --pin-dir "$PIN" >/dev/null 2>&1 || true; fi
  rm -rf "$PIN_BASE"
}
trap cleanup EXIT
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT TERM

say "building (release)"
cargo build --release --bins --quiet
cleanup_stale

say "topology: namespaces ${NSS[*]/#/$P-}"
for n in "${NSS[@]}"; do
  ip netns add "$P-$n"
  inns "$n" ip link set lo up
  inns "$n" sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.default.accept_ra=0
done
for n in r1 r2; do inns "$n" sysctl -q -w net.ipv6.conf.all.forwarding=1; done

# link NS_A IF_A NS_B IF_B: a veth pair, both ends up. Two veth quirks:
# - GRO on: a veth end that receives XDP_REDIRECTed frames drops them
#   silently unless it has GRO on (or an XDP program);
# - tx checksum offload off: a veth sender leaves TCP/UDP checksums partial,
#   and a frame redirected by XDP then arrives with a bad checksum.
# Physical NICs need neither.
link() {
  ip -n "$P-$1" link add "$2" type veth peer name "$4" netns "$P-$3"
  ip -n "$P-$1" link set "$2" up
  ip -n "$P-$3" link set "$4" up
  inns "$1" ethtool -K "$2" gro on tx off >/dev/null
  inns "$3" ethtool -K "$4" gro on tx off >/dev/null
}
addr() { ip -n "$P-$1" -6 addr add "$3" dev "$2" nodad; }
route() { ip -n "$P-$1" -6 route add "$2" via "$3"; }

link c to-r1 r1 to-c
addr c to-r1 $CLIENT/64;          addr r1 to-c 2001:db8:c::1/64;   route c default 2001:db8:c::1
link r1 to-m1 m1 to-r1
addr r1 to-m1 2001:db8:1::1/64;   addr m1 to-r1 2001:db8:1::10/64; route m1 default 2001:db8:1::1
link r1 to-m2 m2 to-r1
addr r1 to-m2 2001:db8:2::1/64;   addr m2 to-r1 2001:db8:2::10/64; route m2 default 2001:db8:2::1
link r1 to-r2 r2 to-r1
addr r1 to-r2 2001:db8:12::1/64;  addr r2 to-r1 2001:db8:12::2/64; route r2 default 2001:db8:12::1
link r2 to-m3 m3 to-r2
addr r2 to-m3 2001:db8:3::1/64;   addr m3 to-r2 2001:db8:3::10/64; route m3 default 2001:db8:3::1
route r1 2001:db8:3::/64 2001:db8:12::2
route r2 $ANYCAST/128 2001:db8:3::10

say "members m1 m2 m3 hold $ANYCAST and run servers naming themselves"
for m in m1 m2 m3; do
  addr "$m" lo $ANYCAST/128
  inns "$m" "$BIN/a6-traffic" udp-server --name "$m" --bind $ANYCAST --port 7000 >>"$WORK/$m.log" 2>&1 &
  PIDS+=($!)
  inns "$m" "$BIN/a6-traffic" tcp-server --name "$m" --bind $ANYCAST --port 7001 >>"$WORK/$m.log" 2>&1 &
  PIDS+=($!)
done
# Neighbour caches filled (anycast6d reads next-hop MACs from the kernel).
for a in 2001:db8:1::10 2001:db8:2::10 2001:db8:12::2; do inns r1 ping -6 -q -c1 -W2 "$a" >/dev/null; done
inns r2 ping -6 -q -c1 -W2 2001:db8:3::10 >/dev/null
inns c ping -6 -q -c1 -W2 2001:db8:c::1 >/dev/null

cat >"$WORK/anycast6.toml" <<TOML
[daemon]
socket = "$SOCK"
pin_dir = "$PIN"
state_file = "$WORK/state.json"
router_address = "2001:db8:c::1"

[[interface]]
name = "to-c"
xdp_mode = "native"
[[interface]]
name = "to-m1"
xdp_mode = "native"
[[interface]]
name = "to-m2"
xdp_mode = "native"
[[interface]]
name = "to-r2"
xdp_mode = "native"

[[group]]
address = "$ANYCAST"

[[group.member]]
address = "2001:db8:1::10"
interface = "to-m1"
distance = 1

[[group.member]]
address = "2001:db8:2::10"
interface = "to-m2"
distance = 1

[[group.member]]
address = "2001:db8:3::10"
interface = "to-r2"
next_hop = "2001:db8:12::2"
distance = 2
TOML

say "anycast6d on the router (config: $WORK/anycast6.toml)"
inns r1 "$BIN/anycast6d" --config "$WORK/anycast6.toml" >>"$WORK/anycast6d.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  ctl show groups >/dev/null 2>&1 && break
  if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then echo "anycast6d exited:"; cat "$WORK/anycast6d.log"; exit 1; fi
  sleep 0.2
done
ctl show groups

flows() { inns c "$BIN/a6-traffic" udp-flows --src $CLIENT --dst $ANYCAST --port 7000 "$@"; }

say "1000 UDP flows to $ANYCAST (distinct source ports)"
flows --flows 1000 --sport-base 20000
say "a TCP transfer to $ANYCAST"
inns c "$BIN/a6-traffic" tcp-transfer --dst $ANYCAST --port 7001 --bytes $((64 << 20))

say "drain m1: it keeps its flows, new flows go elsewhere"
ctl member drain $ANYCAST 2001:db8:1::10
flows --flows 200 --sport-base 30000
say "remove m1 and m2: m3 (distance 2, behind r2) is now the nearest"
ctl member remove $ANYCAST 2001:db8:1::10
ctl member remove $ANYCAST 2001:db8:2::10
flows --flows 200 --sport-base 31000

say "anycast6ctl show groups"
ctl show groups
say "anycast6ctl show counters"
ctl show counters
say "done; cleaning up"
