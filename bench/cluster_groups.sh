#!/usr/bin/env bash
# Cluster benchmarks (issue 16; docs/benchmarks.md "A cluster of broker groups"), in one run:
#   1. dd of 1 GiB with fdatasync (the disk's limit in this run);
#   2. one group, then two groups (scripts/cluster.sh, one broker per group, --min-copies 1,
#      async flush) on this machine: tidemq-bench produce of COUNT messages (batches of 64, 512
#      in flight) into a topic of 8 queues, then consume them (2 consumers, batches of 256),
#      RUNS times each; msg/s, and CPU seconds per million messages of every broker plus the
#      bench process (the processes share the machine's cores, so msg/s alone says little);
#   3. two groups, a whole group killed: tidemq-cluster-loss-bench sends with 64 in flight for
#      12 s and SIGKILLs g2's broker at 4 s; time to the first acknowledgement after the kill
#      and until the rate is back, RUNS times.
# Every process binds 127.0.0.1 and is stopped by its PID.
#
#   bench/cluster_groups.sh            # about 4 minutes on 2 cores
#   RUNS=1 COUNT=200000 SKIP_BUILD=1 bench/cluster_groups.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
COUNT=${COUNT:-1000000}
BUILD_DIR=${TIDEMQ_BUILD_DIR:-build-bench}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  ./scripts/install-deps.sh
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)" \
    --target tidemq-broker tidemq-bench tidemq tidemq-cluster-loss-bench >/dev/null
fi
BENCH=$BUILD_DIR/bench/tidemq-bench
LOSS=$BUILD_DIR/bench/tidemq-cluster-loss-bench
CLI=$BUILD_DIR/tools/tidemq
WORK=$(mktemp -d /tmp/tidemq-groups-bench.XXXXXX)
PORT=${PORT:-19810}
export TIDEMQ_BUILD_DIR=$BUILD_DIR TIDEMQ_CLUSTER_DIR=$WORK/cluster TIDEMQ_CLUSTER_PORT=$PORT
export TIDEMQ_ETCD_PORT=${ETCD_PORT:-24810} TIDEMQ_GROUP_SIZE=1 TIDEMQ_MIN_COPIES=1
export TIDEMQ_LEASE_TTL_S=${TIDEMQ_LEASE_TTL_S:-2}
ADDR=127.0.0.1:$PORT
cleanup() {
  ./scripts/cluster.sh stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# CPU seconds (user + system) the brokers used so far.
brokers_cpu() {
  local ticks=0 f
  for f in "$TIDEMQ_CLUSTER_DIR"/b*.pid; do
    [ -e "$f" ] || continue
    local pid
    pid=$(cat "$f")
    [ -r "/proc/$pid/stat" ] || continue
    # Fields 14 and 15 (utime, stime), after the parenthesised command name.
    ticks=$((ticks + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
  done
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}'
}
# measure LABEL ARGS...: one tidemq-bench run; prints its summary line and CPU per 1M messages.
measure() {
  local label=$1; shift
  local before after bench_cpu
  before=$(brokers_cpu)
  local TIMEFORMAT='%U %S'
  { time "$BENCH" "$@" --addr "$ADDR" >"$WORK/out.txt" 2>"$WORK/err.txt"; } 2>"$WORK/time.txt"
  after=$(brokers_cpu)
  bench_cpu=$(tail -n 1 "$WORK/time.txt" | awk '{printf "%.2f", $1 + $2}')
  local line
  line=$(grep -E '^(produce|consume):' "$WORK/out.txt" | head -1 || true)
  awk -v l="$label" -v line="$line" -v b="$before" -v a="$after" -v c="$bench_cpu" -v n="$COUNT" 'BEGIN {
    printf "%s: %s | CPU s per 1M msgs: brokers %.2f + bench %.2f = %.2f\n", l, line,
      (a - b) * 1e6 / n, c * 1e6 / n, (a - b + c) * 1e6 / n }'
}

# shellcheck source=bench/machine.sh
source "bench/machine.sh"
print_machine "$WORK"
echo "== disk: dd 1 GiB, fdatasync"
dd if=/dev/zero of="$WORK/ddtest" bs=1M count=1024 conv=fdatasync 2>&1 | tail -n 1
rm -f "$WORK/ddtest"

for groups in 1 2; do
  echo "== $groups group(s) of one broker (--min-copies 1, async flush), topic of 8 queues"
  SKIP_BUILD=1 ./scripts/cluster.sh start --groups "$groups" --log-level warn >/dev/null
  for i in $(seq 1 "$RUNS"); do
    topic=g$groups-$i
    TIDEMQ_ADDR=$ADDR "$CLI" topic create "$topic" --queues 8 >/dev/null
    measure "produce $groups group(s) #$i" produce --topic "$topic" --count "$COUNT" --batch 64 --inflight 512
    measure "consume $groups group(s) #$i" consume --topic "$topic" --count "$COUNT" --consumers 2 --receive-batch 256 --group "c-$i"
  done
  ./scripts/cluster.sh stop >/dev/null
  rm -rf "$TIDEMQ_CLUSTER_DIR"
done

echo "== 2 groups, g2's broker killed at 4 s of 12 (lease TTL $TIDEMQ_LEASE_TTL_S s)"
for i in $(seq 1 "$RUNS"); do
  SKIP_BUILD=1 ./scripts/cluster.sh start --groups 2 --log-level warn >/dev/null
  TIDEMQ_ADDR=$ADDR "$CLI" topic create loss --queues 8 >/dev/null
  echo "-- run $i"
  "$LOSS" --addr "$ADDR" --topic loss --seconds 12 --kill-at-s 4 --kill-pids "$(cat "$TIDEMQ_CLUSTER_DIR/b2.pid")"
  ./scripts/cluster.sh stop >/dev/null
  rm -rf "$TIDEMQ_CLUSTER_DIR"
done
