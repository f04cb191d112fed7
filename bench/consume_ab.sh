#!/usr/bin/env bash
# The main series' consume-acked run alone, for A/B comparisons of consumption (docs/benchmarks.md,
# issue 15: the trace's consumption events on and off). Starts BUILD's tidemq-broker (async
# flush, a temporary data dir, 127.0.0.1:PORT) with the given extra flags, then RUNS times:
# produces COUNT messages (batches of 64) to a fresh topic and consumes them with 2 consumers,
# receive batches of 256, acking each. Prints each run's RESULT line and the median msg/s. The
# broker is stopped by its PID however the script ends.
#
#   bench/consume_ab.sh build                                # trace on (the default)
#   bench/consume_ab.sh build --trace-consumption=false      # trace off
set -euo pipefail
B=${1:?usage: consume_ab.sh BUILD_DIR [broker flags...]}
shift
PORT=${PORT:-19960}
RUNS=${RUNS:-3}
COUNT=${COUNT:-1000000}
dir=$(mktemp -d "${TMPDIR:-/tmp}/tidemq-consume-ab.XXXXXX")
# Brokers older than the console (issue 15) have no --http-port: leave it out for them.
http=()
"$B/broker/tidemq-broker" --help 2>/dev/null | grep -q -- --http-port && http=(--http-port 0)
"$B/broker/tidemq-broker" --host 127.0.0.1 --port "$PORT" --grpc-port 0 "${http[@]}" \
  --data-dir "$dir/data" --log-level warn --flush-policy async "$@" >"$dir/broker.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
rates=()
for i in $(seq 1 "$RUNS"); do
  "$B/bench/tidemq-bench" produce --addr "127.0.0.1:$PORT" --topic "ab-$i" --count "$COUNT" --batch 64 >/dev/null
  line=$("$B/bench/tidemq-bench" consume --addr "127.0.0.1:$PORT" --topic "ab-$i" --count "$COUNT" \
    --consumers 2 --receive-batch 256 | grep '^RESULT')
  echo "$line"
  rates+=("$(echo "$line" | sed -E 's/.* msg_s=([0-9]+).*/\1/')")
done
printf '%s\n' "${rates[@]}" | sort -n | awk -v b="$B" -v f="$*" \
  '{ r[NR] = $1 } END { printf "MEDIAN consume-acked build=%s flags=[%s] msg_s=%d (runs: %d)\n", b, f, r[int((NR + 1) / 2)], NR }'
