#!/usr/bin/env bash
# Counts the broker's instructions per pipelined send: starts BUILD's tidemq-broker under
# callgrind (async flush, a temporary data dir, 127.0.0.1:PORT), sends 2,000 unmeasured
# messages, zeroes the counters, sends COUNT more (tidemq-bench produce --inflight 256) and
# dumps the profile to OUT.1. Instruction counts do not depend on the machine's noise: use
# it to compare two builds (docs/benchmarks.md, issue 13).
#
#   bench/callgrind_sends.sh build-bench /tmp/new.out
#   callgrind_annotate --inclusive=yes /tmp/new.out.1 | head -40
set -euo pipefail
B=${1:?usage: callgrind_sends.sh BUILD_DIR OUT [PORT]}
out=${2:?usage: callgrind_sends.sh BUILD_DIR OUT [PORT]}
port=${3:-19902}
COUNT=${COUNT:-20000}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/tidemq-cg.XXXXXX")
valgrind --tool=callgrind --callgrind-out-file="$out" --dump-instr=no \
  "$B/broker/tidemq-broker" --host 127.0.0.1 --port "$port" --data-dir "$dir" --grpc-port 0 --http-port 0 \
  --log-level warn --flush-policy async >"$dir.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir" "$dir.log"; }
trap cleanup EXIT
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
"$B/bench/tidemq-bench" produce --inflight 256 --count 2000 --addr "127.0.0.1:$port" --topic cg >/dev/null
callgrind_control -z "$pid" >/dev/null
"$B/bench/tidemq-bench" produce --inflight 256 --count "$COUNT" --addr "127.0.0.1:$port" --topic cg \
  | grep '^RESULT' || true
callgrind_control -d "$pid" >/dev/null
sleep 1
echo "profile: $out.1 ($COUNT sends)"
