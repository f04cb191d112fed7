#!/usr/bin/env bash
# Counts the broker's instructions for consumption: starts BUILD's tidemq-broker under callgrind
# (async flush, a temporary data dir, 127.0.0.1:PORT, extra broker flags after the port), stores
# COUNT messages (batches of 64), zeroes the counters, has 2 consumers receive them in batches
# of 256 and ack each, and dumps the profile to OUT.1. Instruction counts do not depend on the
# machine's noise: use it to compare two builds or flags (docs/benchmarks.md, issue 15).
#
#   bench/callgrind_consume.sh build /tmp/on.out
#   bench/callgrind_consume.sh build /tmp/off.out 19972 --trace-consumption=false
#   grep ^totals /tmp/on.out.1 /tmp/off.out.1
set -euo pipefail
B=${1:?usage: callgrind_consume.sh BUILD_DIR OUT [PORT [broker flags...]]}
out=${2:?usage: callgrind_consume.sh BUILD_DIR OUT [PORT [broker flags...]]}
port=${3:-19971}
shift $(( $# < 3 ? $# : 3 ))
COUNT=${COUNT:-50000}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
# Brokers older than the console (issue 15) have no --http-port.
http=()
"$B/broker/tidemq-broker" --help | grep -q -- --http-port && http=(--http-port 0)
dir=$(mktemp -d "${TMPDIR:-/tmp}/tidemq-cgc.XXXXXX")
valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no \
  "$B/broker/tidemq-broker" --host 127.0.0.1 --port "$port" --data-dir "$dir" --grpc-port 0 "${http[@]}" \
  --log-level warn --flush-policy async "$@" >"$dir.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir" "$dir.log"; }
trap cleanup EXIT
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
"$B/bench/tidemq-bench" produce --addr "127.0.0.1:$port" --topic cgc --count "$COUNT" --batch 64 >/dev/null
sleep 1
callgrind_control -z "$pid" >/dev/null
"$B/bench/tidemq-bench" consume --addr "127.0.0.1:$port" --topic cgc --count "$COUNT" \
  --consumers 2 --receive-batch 256 | grep '^RESULT' || true
sleep 1  # one housekeeping pass writes the last trace events
callgrind_control -d "$pid" >/dev/null
sleep 1
echo "profile: $out.1 ($COUNT messages consumed)"
