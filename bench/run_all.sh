#!/usr/bin/env bash
# Runs the benchmark series of docs/benchmarks.md: builds (Release, in build-bench/ or
# $TIDEMQ_BUILD_DIR), starts a fresh broker on 127.0.0.1:$PORT with its own temporary data dir,
# measures the disk with dd, runs every benchmark $RUNS times and prints the medians.
# The broker is stopped (by its PID) and the data dir removed on exit, however the script ends.
#
#   bench/run_all.sh                 # everything, about 5 minutes on 2 cores
#   RUNS=1 bench/run_all.sh          # quicker, less trustworthy
#   SKIP_BUILD=1 bench/run_all.sh    # reuse the binaries already built
#   TIMER=1 bench/run_all.sh         # also the scheduled-message series (about 7 more minutes)
#   TIMER=only bench/run_all.sh      # only the scheduled-message series
#   TXN=1 bench/run_all.sh           # also the transactional-message series (about 4 more minutes)
#   TXN=only bench/run_all.sh        # only the transactional-message series
#   RETRY=1 bench/run_all.sh         # also retries and rebalancing (about 2 more minutes)
#   RETRY=only bench/run_all.sh      # only the retry series
#   BROKER_FLAGS="--trace-consumption=false" bench/run_all.sh   # extra flags for every broker
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-19810}
RUNS=${RUNS:-3}
TIMER=${TIMER:-0}
# Scheduled-message series: messages of the 2 s lateness run, of the one-second burst, and
# pending over 30 days for the restart measurement.
TIMER_LATENESS_COUNT=${TIMER_LATENESS_COUNT:-100000}
TIMER_BURST_COUNT=${TIMER_BURST_COUNT:-1000000}
TIMER_BURST_DUE_MS=${TIMER_BURST_DUE_MS:-30000}
TIMER_PENDING_COUNT=${TIMER_PENDING_COUNT:-1000000}
TXN=${TXN:-0}
# Transactional series: halves of the check-lateness run and their check timeout, and halves
# left open (1 h timeout) for the memory measurement.
TXN_CHECK_COUNT=${TXN_CHECK_COUNT:-10000}
TXN_CHECK_TIMEOUT_MS=${TXN_CHECK_TIMEOUT_MS:-1000}
TXN_PENDING_COUNT=${TXN_PENDING_COUNT:-1000000}
RETRY=${RETRY:-0}
# Retry series: messages consumed with and without failures, messages nacked once for the
# lateness run, and the rebalance run's producer pace, phase (time between membership events)
# and lease.
RETRY_FAIL_COUNT=${RETRY_FAIL_COUNT:-200000}
RETRY_FAIL_RATE=${RETRY_FAIL_RATE:-0.01}
RETRY_LATENESS_COUNT=${RETRY_LATENESS_COUNT:-20000}
RETRY_LATENESS_DELAY_MS=${RETRY_LATENESS_DELAY_MS:-2000}
RETRY_REBALANCE_RATE=${RETRY_REBALANCE_RATE:-5000}
RETRY_PHASE_MS=${RETRY_PHASE_MS:-5000}
RETRY_LEASE_MS=${RETRY_LEASE_MS:-2000}
# Which series run: the main one unless a series is asked for "only".
run_main=1; run_timer=0; run_txn=0; run_retry=0
[ "$TIMER" != "0" ] && run_timer=1
[ "$TXN" != "0" ] && run_txn=1
[ "$RETRY" != "0" ] && run_retry=1
if [ "$TIMER" = "only" ] || [ "$TXN" = "only" ] || [ "$RETRY" = "only" ]; then
  run_main=0
  [ "$TIMER" = "only" ] || run_timer=0
  [ "$TXN" = "only" ] || run_txn=0
  [ "$RETRY" = "only" ] || run_retry=0
fi
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

# start_broker NAME [broker flags...]: a fresh data dir per broker (kept when it exists:
# a restart).
start_broker() {
  local name=$1; shift
  local dir=$WORK/$name
  mkdir -p "$dir"
  # shellcheck disable=SC2086  # BROKER_FLAGS: extra flags for every broker, split on spaces
  "$BROKER_BIN" --host 127.0.0.1 --port "$PORT" --data-dir "$dir" --log-level warn --grpc-port 0 --http-port 0 \
    ${BROKER_FLAGS:-} "$@" >"$WORK/$name.log" 2>&1 &
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

# shellcheck source=bench/machine.sh
source "bench/machine.sh"
print_machine "$WORK"

echo "== disk: dd 1 GiB, fdatasync"
DD_LINE=$(dd if=/dev/zero of="$WORK/ddtest" bs=1M count=1024 conv=fdatasync 2>&1 | tail -n 1)
rm -f "$WORK/ddtest"
echo "$DD_LINE"

RESULTS=$WORK/results.txt
: >"$RESULTS"

# run LABEL ARGS...: runs tidemq-bench $RUNS times, tagging its RESULT lines with LABEL.
# Each run uses its own topic (LABEL-N) so runs do not read each other's messages; with
# PER_RUN_GROUP=1 also its own consumer group (LABEL-N), so that retry copies
# (%RETRY%<group>) of one run are not read by the next.
run() {
  local label=$1; shift
  for i in $(seq 1 "$RUNS"); do
    local names=(--topic "$label-$i")
    [ "${PER_RUN_GROUP:-0}" = 1 ] && names+=(--group "$label-$i")
    echo "-- $label #$i (load $(cut -d' ' -f1 /proc/loadavg)): tidemq-bench $* ${names[*]}"
    "$BENCH" "$@" --addr "$ADDR" "${names[@]}" | tee "$WORK/out.txt" \
      | grep -E '^(produce|consume|check|retry|rebalance|preloaded|group|admin|  )' || true
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

if [ "$run_main" = 1 ]; then
echo "== async flush"
start_broker async --flush-policy async
run produce-batched produce --batch 64 --inflight 512 --duration 5 --warmup 1
run produce-pipelined produce --inflight 256 --duration 5 --warmup 1
consume_run consume-acked 1000000 --consumers 2 --receive-batch 256
run latency-20k produce --rate 20000 --duration 10 --warmup 1
# The same while a topic is created every 100 ms: metadata changes must not stall sends.
run latency-20k-admin produce --rate 20000 --duration 10 --warmup 1 --admin-every-ms 100
stop_broker

echo "== sync flush (group commit)"
start_broker sync --flush-policy sync
run sync-64x1 produce --producers 64 --inflight 1 --duration 5 --warmup 1
run sync-64x16 produce --producers 64 --inflight 16 --duration 5 --warmup 1
run sync-8x8 produce --producers 8 --inflight 8 --duration 5 --warmup 1
stop_broker
fi

# rss_mib: the broker's resident memory (VmRSS) in MiB.
rss_mib() { awk '/^VmRSS:/ {printf "%.0f", $2 / 1024}' "/proc/$BROKER_PID/status"; }

if [ "$run_timer" = 1 ]; then
  echo "== scheduled messages (async flush)"
  start_broker timer --flush-policy async
  # (a) each message due 2 s after its send, a live consumer group: lateness.
  run sched-2s schedule --count "$TIMER_LATENESS_COUNT" --delay-ms 2000 --receive-batch 256
  # Same, sends paced at 10k msg/s (due times 0.1 ms apart instead of a 70k msg/s rush).
  run sched-2s-paced schedule --count "$TIMER_LATENESS_COUNT" --delay-ms 2000 --receive-batch 256 \
    --rate 10000
  # (b) all due at one moment, TIMER_BURST_DUE_MS after the run starts (sending takes most of
  # that): time from the first delivery to the last, deliveries/s, lateness.
  run sched-burst schedule --count "$TIMER_BURST_COUNT" --same-due-ms "$TIMER_BURST_DUE_MS" \
    --batch 64 --inflight 512 --consumers 2 --receive-batch 1024 --idle-stop-ms 10000
  # (c) schedule throughput against plain sends, batched and unbatched.
  run plain-batched produce --batch 64 --inflight 512 --duration 5 --warmup 1
  run sched-batched produce --batch 64 --inflight 512 --duration 5 --warmup 1 --delay-ms 3600000
  run plain-async produce --inflight 256 --duration 5 --warmup 1
  run sched-async produce --inflight 256 --duration 5 --warmup 1 --delay-ms 3600000
  stop_broker

  # (d) many pending over 30 days: resident memory, then restart time until the broker serves.
  echo "== $TIMER_PENDING_COUNT pending over 30 days: memory and restart"
  start_broker pending --flush-policy async
  "$BENCH" produce --addr "$ADDR" --topic pending --count "$TIMER_PENDING_COUNT" --batch 64 \
    --inflight 512 --delay-ms 3600000 --spread-ms 2592000000 | grep -E '^(produce|  )' || true
  sleep 5
  echo "RESULT label=pending-rss rss_mib=$(rss_mib)" | tee -a "$RESULTS"
  # restart_after LABEL SIGNAL: stops the broker with SIGNAL (TERM: clean, KILL: a crash),
  # starts it again and times until an admin call answers (the port opens before recovery ends).
  restart_after() {
    local label=$1 sig=$2
    kill -"$sig" "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 1 600); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
    wait "$BROKER_PID" 2>/dev/null || true
    BROKER_PID=""
    start_ns=$(date +%s%N)
    start_broker pending --flush-policy async >/dev/null
    for _ in $(seq 1 2400); do
      if "$BUILD_DIR/tools/tidemq" --addr "$ADDR" timer stats >"$WORK/timer.txt" 2>/dev/null; then
        break
      fi
      sleep 0.05
    done
    ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
    sleep 2
    echo "RESULT label=$label restart_ms=$ms rss_mib=$(rss_mib)" | tee -a "$RESULTS"
  }
  for i in $(seq 1 "$RUNS"); do
    restart_after pending-restart TERM
    restart_after pending-restart-kill KILL
  done
  grep -i pending "$WORK/timer.txt" || true
  stop_broker
fi

if [ "$run_txn" = 1 ]; then
  echo "== transactional messages (async flush, default --txn-* flags)"
  start_broker txn --flush-policy async
  # (a) plain sends against transactional ones (half, local transaction answering commit at
  # once, end) on 64 and 8 threads, each one blocking call at a time (the client has no
  # asynchronous half send); and plain SendAsync with 64 in flight for reference.
  run txn-plain-64 produce --blocking --inflight 64 --duration 5 --warmup 1
  run txn-commit-64 txn --inflight 64 --duration 5 --warmup 1
  run txn-plain-8 produce --blocking --inflight 8 --duration 5 --warmup 1
  run txn-commit-8 txn --inflight 8 --duration 5 --warmup 1
  run txn-plain-async-64 produce --inflight 64 --duration 5 --warmup 1
  # (b) check-back lateness: halves never ended, each due for its first check
  # TXN_CHECK_TIMEOUT_MS after it is stored; the checker answers commit.
  run txn-check txn-check --count "$TXN_CHECK_COUNT" --check-timeout-ms "$TXN_CHECK_TIMEOUT_MS" \
    --inflight 64
  stop_broker

  # (c) many open transactions (1 h check timeout): the broker's resident memory.
  echo "== $TXN_PENDING_COUNT open transactions: memory"
  start_broker txn-pending --flush-policy async
  sleep 1
  rss_empty=$(rss_mib)
  "$BENCH" txn --addr "$ADDR" --topic txn-pending --count "$TXN_PENDING_COUNT" --txn-end open \
    --check-timeout-ms 3600000 --inflight 64 | grep -E '^(produce|  )' || true
  sleep 5
  pending=$("$BUILD_DIR/tools/tidemq" --addr "$ADDR" txn stats | awk '$1 == "pending" {print $2}')
  echo "RESULT label=txn-pending-rss rss_mib=$(rss_mib) rss_empty_mib=$rss_empty pending=$pending" \
    | tee -a "$RESULTS"
  stop_broker
fi

if [ "$run_retry" = 1 ]; then
  echo "== retries and rebalancing (async flush)"
  start_broker retry --flush-policy async
  # (a) consume with acks, all succeeding against RETRY_FAIL_RATE nacked once (the same
  # messages every run) and acked when they come back; the group's back-off is 100 ms (the
  # nacks carry no delay). 2 consumers, receive 256, one batch ack per receive.
  PER_RUN_GROUP=1 run consume-ok consume-fail --count "$RETRY_FAIL_COUNT" --fail-rate 0 \
    --retry-backoff 100ms --consumers 2 --receive-batch 256
  PER_RUN_GROUP=1 run consume-fail consume-fail --count "$RETRY_FAIL_COUNT" \
    --fail-rate "$RETRY_FAIL_RATE" --retry-backoff 100ms --consumers 2 --receive-batch 256
  # (b) every message nacked once; the group's back-off RETRY_LATENESS_DELAY_MS: redelivery
  # lateness.
  PER_RUN_GROUP=1 run retry-lateness retry-lateness --count "$RETRY_LATENESS_COUNT" \
    --retry-backoff "${RETRY_LATENESS_DELAY_MS}ms" --consumers 4 --receive-batch 64
  # (c) a paced producer; consumers join, one leaves, one is killed (its leases lapse).
  PER_RUN_GROUP=1 run rebalance rebalance --rate "$RETRY_REBALANCE_RATE" --consumers 3 \
    --phase-ms "$RETRY_PHASE_MS" --lease-ms "$RETRY_LEASE_MS" --receive-batch 32
  stop_broker
fi

# median LABEL KEY [SIDE]: the median of KEY over the runs of LABEL (SIDE: produce or consume
# lines only).
median() {
  grep " label=$1 " "$RESULTS" | grep -e "${3:+ side=$3}" | grep -o " $2=[^ ]*" | cut -d= -f2 | sort -g \
    | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else print v[int((NR + 1) / 2)]}'
}

echo
echo "== medians of $RUNS runs (disk: $DD_LINE)"
labels=""
[ "$run_main" = 1 ] && labels="produce-batched produce-pipelined consume-acked latency-20k latency-20k-admin sync-64x1 sync-8x8 sync-64x16"
[ "$run_timer" = 1 ] && labels="$labels sched-2s sched-2s-paced sched-burst plain-batched sched-batched plain-async sched-async"
[ "$run_txn" = 1 ] && labels="$labels txn-plain-64 txn-commit-64 txn-plain-8 txn-commit-8 txn-plain-async-64 txn-check"
[ -n "$labels" ] && printf '%-18s %10s %8s %8s %8s %8s %8s %7s\n' label msg_s mb_s p50_ms \
  p99_ms p999_ms max_ms errors
for label in $labels; do
  side=produce; [ "$label" = consume-acked ] && side=consume
  printf '%-18s %10s %8s %8s %8s %8s %8s %7s\n' "$label" "$(median "$label" msg_s $side)" \
    "$(median "$label" mb_s $side)" "$(median "$label" p50_ms $side)" \
    "$(median "$label" p99_ms $side)" "$(median "$label" p999_ms $side)" \
    "$(median "$label" max_ms $side)" "$(median "$label" errors)"
done
if [ "$run_main" = 1 ]; then
  echo "latency-20k-admin: topic creations p50 $(median latency-20k-admin create_p50_ms)" \
    "p99 $(median latency-20k-admin create_p99_ms) max $(median latency-20k-admin create_max_ms) ms," \
    "$(median latency-20k-admin created) per run"
fi
if [ "$run_timer" = 1 ] || [ "$run_txn" = 1 ]; then
  echo "(rows above: the senders; consume-acked: the consumers; txn-check: the half messages)"
fi
if [ "$run_timer" = 1 ]; then
  for label in sched-2s sched-2s-paced sched-burst; do
    echo "$label consume: lateness ms p50 $(median "$label" p50_ms consume)" \
      "p99 $(median "$label" p99_ms consume) p999 $(median "$label" p999_ms consume)" \
      "max $(median "$label" max_ms consume); delivered over" \
      "$(median "$label" deliver_secs consume) s at $(median "$label" deliver_msg_s consume) msg/s"
  done
  echo "pending: rss $(median pending-rss rss_mib) MiB; restart $(median pending-restart restart_ms) ms," \
    "rss after restart $(median pending-restart rss_mib) MiB;" \
    "restart after SIGKILL $(median pending-restart-kill restart_ms) ms"
fi
if [ "$run_txn" = 1 ]; then
  echo "txn-check check: lateness ms p50 $(median txn-check p50_ms check)" \
    "p99 $(median txn-check p99_ms check) p999 $(median txn-check p999_ms check)" \
    "max $(median txn-check max_ms check); $(median txn-check msg_s check) checks/s;" \
    "missing $(median txn-check missing check), early $(median txn-check early check)"
  echo "txn-pending: $(median txn-pending-rss pending) open transactions, rss" \
    "$(median txn-pending-rss rss_mib) MiB (empty broker $(median txn-pending-rss rss_empty_mib) MiB)"
fi
if [ "$run_retry" = 1 ]; then
  ok=$(median consume-ok msg_s); failing=$(median consume-fail msg_s)
  ok_total=$(median consume-ok total_secs); failing_total=$(median consume-fail total_secs)
  echo "consume-fail: first deliveries msg/s: all succeed $ok, $RETRY_FAIL_RATE failing" \
    "$failing = $(awk -v a="$failing" -v b="$ok" 'BEGIN {printf "%.1f", (b > 0 ? 100 * a / b : 0)}') %;" \
    "every message acked after $ok_total s / $failing_total s" \
    "($(median consume-ok total_msg_s) / $(median consume-fail total_msg_s) msg/s);" \
    "nacks $(median consume-fail nacks), missing $(median consume-ok missing) /" \
    "$(median consume-fail missing), errors $(median consume-ok errors) / $(median consume-fail errors)"
  echo "retry-lateness ($RETRY_LATENESS_COUNT nacked, ${RETRY_LATENESS_DELAY_MS} ms): lateness ms" \
    "p50 $(median retry-lateness p50_ms) p99 $(median retry-lateness p99_ms)" \
    "p999 $(median retry-lateness p999_ms) max $(median retry-lateness max_ms);" \
    "$(median retry-lateness msg_s) redeliveries/s, $(median retry-lateness nack_msg_s) nacks/s;" \
    "early $(median retry-lateness early), missing $(median retry-lateness missing)," \
    "errors $(median retry-lateness errors)"
  echo "rebalance (${RETRY_REBALANCE_RATE} msg/s, lease ${RETRY_LEASE_MS} ms): every queue served" \
    "again ms: join2 $(median rebalance join2_served_ms), join3 $(median rebalance join3_served_ms)," \
    "leave $(median rebalance leave_served_ms), kill $(median rebalance kill_served_ms);" \
    "new consumer's first message ms: join2 $(median rebalance join2_first_ms)," \
    "join3 $(median rebalance join3_first_ms), from every queue: join2" \
    "$(median rebalance join2_allq_ms), join3 $(median rebalance join3_allq_ms)"
  echo "rebalance kill: $(median rebalance kill_orphans) held, $(median rebalance kill_back)" \
    "back, the last after $(median rebalance kill_redeliver_ms) ms; shares with 3 consumers" \
    "min $(median rebalance share_min) max $(median rebalance share_max); sent" \
    "$(median rebalance sent), missing $(median rebalance missing), redelivered" \
    "$(median rebalance redelivered), acked twice $(median rebalance acked_twice)," \
    "errors $(median rebalance errors)"
fi
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
