#!/usr/bin/env bash
# Installs what is missing, builds the broker, the CLI and the examples (not the tests:
# scripts/test.sh builds those), and starts a broker in the background on 127.0.0.1:9810 with
# its data in ./data (log: ./data/broker.log), its web console on http://127.0.0.1:9880/.
# Extra arguments go to tidemq-broker (see `build/broker/tidemq-broker --help`), e.g.
# --flush-policy sync.
#   scripts/start.sh --foreground   runs the broker in this terminal instead.
set -euo pipefail
cd "$(dirname "$0")/.."
TIDEMQ_TARGETS="tidemq-broker tidemq tidemq-example-producer tidemq-example-simple-consumer \
tidemq-example-push-consumer tidemq-example-order-timeout tidemq-example-retry-consumer" \
  ./scripts/build.sh

build_dir=${TIDEMQ_BUILD_DIR:-build}
data_dir=${TIDEMQ_DATA_DIR:-./data}
mkdir -p "$data_dir"
pid_file="$data_dir/broker.pid"

if [ "${1:-}" = "--foreground" ]; then
  shift
  exec "$build_dir/broker/tidemq-broker" --data-dir "$data_dir" "$@"
fi

if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  echo "TideMQ broker already running (pid $(cat "$pid_file")); stop it with scripts/stop.sh"
  exit 0
fi

nohup "$build_dir/broker/tidemq-broker" --data-dir "$data_dir" --pid-file "$pid_file" \
  --log-file "$data_dir/broker.log" "$@" >"$data_dir/broker.out" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if "$build_dir/tools/tidemq" stats >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "error: the broker exited during start-up:" >&2
    tail -n 20 "$data_dir/broker.out" >&2
    exit 1
  fi
  sleep 0.1
done

# The console's address and token: from the broker's arguments, else the defaults.
http_port=9880
prev=""
for arg in "$@"; do
  case "$prev" in --http-port) http_port=$arg ;; esac
  case "$arg" in --http-port=*) http_port=${arg#--http-port=} ;; esac
  prev=$arg
done
token_file="$data_dir/console.token"
console_line="console:   disabled (--http-port 0)"
if [ "$http_port" != "0" ]; then
  for _ in $(seq 1 50); do [ -s "$token_file" ] && break; sleep 0.1; done
  token=$(awk '$1 == "admin" {print $2}' "$token_file" 2>/dev/null || true)
  console_line="console:   http://127.0.0.1:$http_port/  admin token: ${token:-(configured with --console-token)}
           (tokens in $token_file; Prometheus metrics on http://127.0.0.1:$http_port/metrics)"
fi

cat <<MSG

TideMQ broker running: pid $pid, 127.0.0.1:9810, data in $data_dir (log: $data_dir/broker.log)
$console_line
RocketMQ 5 clients (gRPC): point them at 127.0.0.1:8081 (docs/rocketmq_compat.md)

Next steps:
  export PATH="\$PWD/$build_dir/tools:\$PATH"
  tidemq topic create demo
  tidemq send demo "hello, TideMQ" --tag greeting --key k1
  tidemq consume demo --group demo-group --count 1
  tidemq trace --topic demo --key k1   # the message's life: sent, delivered, acked
  $build_dir/examples/tidemq-example-producer demo
  $build_dir/examples/tidemq-example-simple-consumer demo demo-group
  scripts/stop.sh                      # stop the broker (SIGTERM, clean shutdown)
MSG
