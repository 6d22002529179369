#!/usr/bin/env bash
# Checks a Wireshark Lua dissector against a capture:
#   scripts/check-dissector.sh <dissector.lua> <capture.pcap> [udp-port | display-filter] [field,...]
# Fails when tshark is missing, when any packet is Malformed or carries an
# expert error, or when a packet to/from the port (default 5359, ARD), or
# matching the display filter (a post-dissector's, e.g. "pim" for PIA-SM),
# is not claimed by the dissector, or lacks one of the fields named (e.g.
# "mga.magic,mga.version" for MGA's Experimental option: the dissector
# claiming a packet is not enough). Prints how many packets it decoded.
set -euo pipefail
lua="${1:?usage: $0 <dissector.lua> <capture.pcap> [udp-port | display-filter]}"
pcap="${2:?usage: $0 <dissector.lua> <capture.pcap> [udp-port | display-filter]}"
sel="${3:-5359}"
need="${4:-}"
if [[ "$sel" =~ ^[0-9]+$ ]]; then
    filter="udp.port == $sel"; what="on udp port $sel"
else
    filter="$sel"; what="matching '$sel'"
fi
command -v tshark >/dev/null || { echo "check-dissector: tshark not installed" >&2; exit 2; }
[ -r "$lua" ] || { echo "check-dissector: cannot read $lua" >&2; exit 2; }
[ -r "$pcap" ] || { echo "check-dissector: cannot read $pcap" >&2; exit 2; }
proto="$(sed -n 's/^local [a-z_]* *= *Proto("\([a-z0-9_]*\)".*/\1/p' "$lua" | head -1)"
[ -n "$proto" ] || { echo "check-dissector: no Proto(...) in $lua" >&2; exit 2; }

ts() { tshark -n -X "lua_script:$lua" -r "$pcap" "$@" 2>/tmp/check-dissector.$$.err; }
trap 'rm -f /tmp/check-dissector.$$.err' EXIT

verbose="$(ts -V)" || { cat /tmp/check-dissector.$$.err >&2; exit 1; }
if grep -qi 'lua.*error\|error.*lua' /tmp/check-dissector.$$.err; then
    echo "check-dissector: Lua error loading $lua:" >&2
    cat /tmp/check-dissector.$$.err >&2
    exit 1
fi
on_port="$(ts -Y "$filter" -T fields -e frame.number | wc -l)"
# With fields named, the packets selected are a part of what the dissector
# claims (MGA's Experimental options among its Mobility Headers).
if [ -n "$need" ]; then
    decoded="$(ts -Y "($filter) && $proto" -T fields -e frame.number | wc -l)"
else
    decoded="$(ts -Y "$proto" -T fields -e frame.number | wc -l)"
fi
# "_ws.malformed" is what Wireshark adds when a dissector throws; expert
# errors are what the dissector itself flags.
malformed="$(ts -Y "_ws.malformed || _ws.expert.severity == error" -T fields -e frame.number | tr '\n' ' ')"
lua_errors="$(grep -c 'Lua Error' <<<"$verbose" || true)"

status=0
if [ -n "${malformed// /}" ]; then
    echo "check-dissector: malformed or expert errors in frames: $malformed" >&2
    status=1
fi
if [ "$lua_errors" -ne 0 ]; then
    echo "check-dissector: $lua_errors Lua errors while dissecting" >&2
    grep -m5 'Lua Error' <<<"$verbose" >&2
    status=1
fi
if [ "$decoded" -ne "$on_port" ]; then
    echo "check-dissector: $on_port packets $what, $decoded decoded as $proto" >&2
    status=1
fi
for field in ${need//,/ }; do
    with="$(ts -Y "($filter) && $field" -T fields -e frame.number | wc -l)"
    if [ "$with" -ne "$on_port" ]; then
        echo "check-dissector: $on_port packets $what, $with with $field" >&2
        status=1
    fi
done
if [ "$on_port" -eq 0 ]; then
    echo "check-dissector: no packet $what in $pcap" >&2
    status=1
fi
echo "decoded $decoded of $on_port packets $what as $proto"
exit $status
