#!/usr/bin/env bash
# Runs the benchmark series of docs/benchmarks.md: builds (Release, in build-bench/ or
# $TIDEMQ_BUILD_DIR), starts a fresh broker on 127.0.0.1:$PORT with its own temporary data dir,
# measures the disk with dd, runs every benchmark $RUNS times and prints the medians.
# The broker is stopped (by its PID) and the data dir removed on exit, however the script ends.
#
#   bench/run_all.sh                 # everything, about 5 minutes on 2 cores
#   RUNS=1 bench/run_all.sh          # quicker, less trustworthy
#   SKIP_BUILD=1 bench/run_all.sh    # reuse the binaries already built
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-19810}
RUNS=${RUNS:-3}
BUILD_DIR=${TIDEMQ_BUILD_DIR:-build-bench}
ADDR=127.0.0.1:$PORT
BENCH=$BUILD_DIR/bench/tidemq-bench
BROKER_BIN=$BUILD_DIR/broker/tidemq-broker

if [ "${SKIP_BUILD:-0}" != "1" ]; then
  # Release, without the test suite: only the binaries measured here are needed. Configured
  # here because scripts/build.sh passes its flags only to a first configure.
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTIDEMQ_BUILD_TESTS=OFF \
    >/dev/null
  TIDEMQ_BUILD_DIR=$BUILD_DIR TIDEMQ_JOBS=${TIDEMQ_JOBS:-2} scripts/build.sh >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tidemq-bench.XXXXXX")
BROKER_PID=""
cleanup() {
  stop_broker
  rm -rf "$WORK"
}
stop_broker() {
  if [ -n "$BROKER_PID" ]; then
    kill "$BROKER_PID" 2>/dev/null || true
    # Bounded wait: SIGKILL after 10 s.
    for _ in $(seq 1 100); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=""
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_broker NAME [broker flags...]: a fresh data dir per broker.
start_broker() {
  local name=$1; shift
  local dir=$WORK/$name
  mkdir -p "$dir"
  "$BROKER_BIN" --host 127.0.0.1 --port "$PORT" --data-dir "$dir" --log-level warn \
    "$@" >"$WORK/$name.log" 2>&1 &
  BROKER_PID=$!
  for _ in $(seq 1 100); do
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
      echo "error: broker exited during start-up:" >&2; cat "$WORK/$name.log" >&2; exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "broker $name: pid $BROKER_PID, $ADDR, flags: $*"
}

echo "== machine"
echo "date:   $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpus:   $(nproc)"
echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
echo "kernel: $(uname -r)"
echo "fs:     $(df -T "$WORK" | awk 'NR == 2 {print $2 " on " $1}') ($WORK)"
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== disk: dd 1 GiB, fdatasync"
DD_LINE=$(dd if=/dev/zero of="$WORK/ddtest" bs=1M count=1024 conv=fdatasync 2>&1 | tail -n 1)
rm -f "$WORK/ddtest"
echo "$DD_LINE"

RESULTS=$WORK/results.txt
: >"$RESULTS"

# run LABEL ARGS...: runs tidemq-bench $RUNS times, tagging its RESULT lines with LABEL.
# Each run uses its own topic (LABEL-N) so runs do not read each other's messages.
run() {
  local label=$1; shift
  for i in $(seq 1 "$RUNS"); do
    echo "-- $label #$i (load $(cut -d' ' -f1 /proc/loadavg)): tidemq-bench $* --topic $label-$i"
    "$BENCH" "$@" --addr "$ADDR" --topic "$label-$i" | tee "$WORK/out.txt" | grep -E '^(produce|consume|  )' || true
    grep '^RESULT' "$WORK/out.txt" | sed "s/^RESULT /RESULT label=$label /" >>"$RESULTS"
  done
}

# consume_run LABEL COUNT ARGS...: fills a topic (not measured), then consumes it, $RUNS times.
consume_run() {
  local label=$1 count=$2; shift 2
  for i in $(seq 1 "$RUNS"); do
    "$BENCH" produce --addr "$ADDR" --topic "$label-$i" --count "$count" --batch 64 >/dev/null
    echo "-- $label #$i (load $(cut -d' ' -f1 /proc/loadavg)): tidemq-bench consume --count $count $* --topic $label-$i"
    "$BENCH" consume "$@" --addr "$ADDR" --topic "$label-$i" --count "$count" \
      | tee "$WORK/out.txt" | grep -E '^(consume|  )' || true
    grep '^RESULT' "$WORK/out.txt" | sed "s/^RESULT /RESULT label=$label /" >>"$RESULTS"
  done
}

echo "== async flush"
start_broker async --flush-policy async
run produce-batched produce --batch 64 --inflight 512 --duration 5 --warmup 1
run produce-pipelined produce --inflight 256 --duration 5 --warmup 1
consume_run consume-acked 1000000 --consumers 2 --receive-batch 256
run latency-20k produce --rate 20000 --duration 10 --warmup 1
stop_broker

echo "== sync flush (group commit)"
start_broker sync --flush-policy sync
run sync-64x1 produce --producers 64 --inflight 1 --duration 5 --warmup 1
run sync-64x16 produce --producers 64 --inflight 16 --duration 5 --warmup 1
run sync-8x8 produce --producers 8 --inflight 8 --duration 5 --warmup 1
stop_broker

# median LABEL KEY: the median of KEY over the runs of LABEL.
median() {
  grep " label=$1 " "$RESULTS" | grep -o " $2=[^ ]*" | cut -d= -f2 | sort -g \
    | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else print v[int((NR + 1) / 2)]}'
}

echo
echo "== medians of $RUNS runs (disk: $DD_LINE)"
printf '%-18s %10s %8s %8s %8s %8s %8s %7s\n' label msg_s mb_s p50_ms p99_ms p999_ms max_ms errors
for label in produce-batched produce-pipelined consume-acked latency-20k sync-64x1 sync-8x8 sync-64x16; do
  printf '%-18s %10s %8s %8s %8s %8s %8s %7s\n' "$label" "$(median "$label" msg_s)" \
    "$(median "$label" mb_s)" "$(median "$label" p50_ms)" "$(median "$label" p99_ms)" \
    "$(median "$label" p999_ms)" "$(median "$label" max_ms)" "$(median "$label" errors)"
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
