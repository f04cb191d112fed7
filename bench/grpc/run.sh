#!/usr/bin/env bash
# The RocketMQ 5 gRPC endpoint against the native protocol on the same broker (issue 14):
# send throughput and latency with the same concurrency (one connection, --inflight calls
# outstanding, 1 KiB bodies), and receive+ack throughput with the same consumers and batch,
# interleaved round by round so that both see the same machine; medians of $RUNS rounds and
# their ratio. dd's fdatasync rate is measured in the same run (the machine's limit).
#
#   bench/grpc/run.sh                  # 5 rounds, about 3 minutes on 2 cores
# Also prints the broker's CPU per message (user + system, /proc), since the load generators
# share the 2 cores with it: the gRPC client costs far more CPU than TideMQ's own.
#   RUNS=3 SKIP_BUILD=1 bench/grpc/run.sh
#   FLUSH=sync bench/grpc/run.sh       # the broker's --flush-policy (default async)
# The broker (its own temporary data dir, 127.0.0.1:$PORT and :$GRPC_PORT) is stopped by its
# PID on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

PORT=${PORT:-19830}
GRPC_PORT=${GRPC_PORT:-19831}
RUNS=${RUNS:-5}
FLUSH=${FLUSH:-async}
INFLIGHT=${INFLIGHT:-64}
SIZE=${SIZE:-1024}
DURATION=${DURATION:-5}
CONSUME_COUNT=${CONSUME_COUNT:-100000}
CONSUMERS=${CONSUMERS:-4}
BATCH=${BATCH:-32}
BUILD_DIR=${TIDEMQ_BUILD_DIR:-build}
ADDR=127.0.0.1:$PORT
GRPC_ADDR=127.0.0.1:$GRPC_PORT

if [ "${SKIP_BUILD:-0}" != "1" ]; then
  echo "==> building in $BUILD_DIR (-j${TIDEMQ_JOBS:-2})"
  cmake --build "$BUILD_DIR" -j "${TIDEMQ_JOBS:-2}" \
    --target tidemq-broker tidemq tidemq-bench tidemq-grpc-bench >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tidemq-grpc-bench.XXXXXX")
BROKER_PID=""
cleanup() {
  if [ -n "$BROKER_PID" ]; then
    kill "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/machine.sh
source "bench/machine.sh"
print_machine "$WORK"
echo "== disk: dd 1 GiB, fdatasync"
dd if=/dev/zero of="$WORK/ddtest" bs=1M count=1024 conv=fdatasync 2>&1 | tail -n 1
rm -f "$WORK/ddtest"

"$BUILD_DIR/broker/tidemq-broker" --host 127.0.0.1 --port "$PORT" --grpc-port "$GRPC_PORT" --http-port 0 \
  --data-dir "$WORK/data" --flush-policy "$FLUSH" --log-level warn >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 1 100); do
  kill -0 "$BROKER_PID" 2>/dev/null || { echo "error: the broker exited:" >&2; cat "$WORK/broker.log" >&2; exit 1; }
  (exec 3<>"/dev/tcp/127.0.0.1/$GRPC_PORT") 2>/dev/null && break
  sleep 0.1
done
echo "== broker: pid $BROKER_PID, native $ADDR, gRPC $GRPC_ADDR, --flush-policy $FLUSH"

CLI=$BUILD_DIR/tools/tidemq
RESULTS=$WORK/results.txt
: >"$RESULTS"
# The broker's CPU time so far, in clock ticks (user + system).
ticks() { awk '{print $14 + $15}' "/proc/$BROKER_PID/stat"; }
TICK_HZ=$(getconf CLK_TCK)
# record LABEL T0: the RESULT lines of the output (in $WORK/out.txt), tagged, with the broker's
# CPU microseconds per message since T0 (ticks).
record() {
  local t1 msgs us
  t1=$(ticks)
  msgs=$(grep '^RESULT' "$WORK/out.txt" | tr ' ' '\n' | grep '^msgs=' | cut -d= -f2)
  us=$(awk -v d=$((t1 - $2)) -v n="$msgs" -v hz="$TICK_HZ" 'BEGIN {if (n > 0) printf "%.1f", d * 1e6 / hz / n; else print 0}')
  echo "  broker cpu: $us us/msg"
  grep '^RESULT' "$WORK/out.txt" | sed "s/^RESULT /RESULT label=$1 broker_us=$us /" >>"$RESULTS"
}
show() { grep -E '^(produce|consume|  )' "$WORK/out.txt" || true; }

for i in $(seq 1 "$RUNS"); do
  echo "== round $i of $RUNS (load $(cut -d' ' -f1 /proc/loadavg))"
  for t in np-$i gp-$i nc-$i gc-$i; do "$CLI" --addr "$ADDR" topic create "$t" --queues 8 >/dev/null; done

  # No warm-up: the broker's CPU is counted over the whole run, every message sent in it.
  echo "-- native send: tidemq-bench produce --producers 1 --inflight $INFLIGHT --size $SIZE"
  t0=$(ticks)
  "$BUILD_DIR/bench/tidemq-bench" produce --addr "$ADDR" --topic "np-$i" --producers 1 \
    --inflight "$INFLIGHT" --size "$SIZE" --duration "$DURATION" >"$WORK/out.txt"
  show; record native-send "$t0"
  echo "-- gRPC send: tidemq-grpc-bench produce --inflight $INFLIGHT --size $SIZE"
  t0=$(ticks)
  "$BUILD_DIR/bench/tidemq-grpc-bench" produce --addr "$GRPC_ADDR" --topic "gp-$i" \
    --inflight "$INFLIGHT" --size "$SIZE" --duration "$DURATION" >"$WORK/out.txt"
  show; record grpc-send "$t0"

  for side in nc gc; do
    "$BUILD_DIR/bench/tidemq-bench" produce --addr "$ADDR" --topic "$side-$i" --size "$SIZE" \
      --count "$CONSUME_COUNT" --batch 64 >/dev/null
  done
  echo "-- native receive+ack: tidemq-bench consume --consumers $CONSUMERS --receive-batch $BATCH"
  t0=$(ticks)
  "$BUILD_DIR/bench/tidemq-bench" consume --addr "$ADDR" --topic "nc-$i" --group "nc-$i" \
    --consumers "$CONSUMERS" --receive-batch "$BATCH" --count "$CONSUME_COUNT" \
    --idle-stop-ms 3000 >"$WORK/out.txt"
  show; record native-consume "$t0"
  echo "-- gRPC receive+ack: tidemq-grpc-bench consume --consumers $CONSUMERS --batch $BATCH"
  t0=$(ticks)
  "$BUILD_DIR/bench/tidemq-grpc-bench" consume --addr "$GRPC_ADDR" --topic "gc-$i" \
    --group "gc-$i" --consumers "$CONSUMERS" --batch "$BATCH" --count "$CONSUME_COUNT" \
    --idle-stop-ms 3000 >"$WORK/out.txt"
  show; record grpc-consume "$t0"
done

# median LABEL FIELD: the median of FIELD over LABEL's RESULT lines.
median() {
  grep "label=$1 " "$RESULTS" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2 | sort -g \
    | awk '{v[NR] = $1} END {if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
echo
echo "== medians of $RUNS rounds (msg/s; p50 / p99 ms: send latency, or one receive+ack round)"
printf '%-16s %10s %10s %10s %14s\n' series msg_s p50_ms p99_ms broker_us/msg
for l in native-send grpc-send native-consume grpc-consume; do
  printf '%-16s %10s %10s %10s %14s\n' "$l" "$(median "$l" msg_s)" "$(median "$l" p50_ms)" \
    "$(median "$l" p99_ms)" "$(median "$l" broker_us)"
done
ratio() { awk -v a="$(median "$1" "$3")" -v b="$(median "$2" "$3")" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
echo "gRPC / native msg/s: send $(ratio grpc-send native-send msg_s), receive+ack $(ratio grpc-consume native-consume msg_s)"
echo "gRPC / native broker CPU per message: send $(ratio grpc-send native-send broker_us), receive+ack $(ratio grpc-consume native-consume broker_us)"
