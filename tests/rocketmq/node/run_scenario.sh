#!/usr/bin/env bash
# run_scenario.sh BROKER_BIN CLI_BIN SCENARIO: runs tests/rocketmq/node/scenarios/SCENARIO.js
# (the official RocketMQ 5 Node.js client) against a fresh tidemq-broker serving gRPC.
#
# The broker gets a temporary data directory and free loopback ports (native and gRPC), plus the
# flags of the scenario's `// broker-flags:` line; the scenario creates its topics and groups
# with the CLI (TIDEMQ_CLI) and gets TIDEMQ_GRPC / TIDEMQ_ADDR. The scenario is killed after
# TIDEMQ_NODE_TIMEOUT_S (60) seconds; the broker is stopped by its PID whatever happens, and its
# log is printed when the scenario fails. Exits with the scenario's status.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 BROKER_BIN CLI_BIN SCENARIO" >&2
  exit 2
fi
broker_bin=$1
cli_bin=$2
scenario=$3
here=$(cd "$(dirname "$0")" && pwd)
script="$here/scenarios/$scenario.js"
timeout_s=${TIDEMQ_NODE_TIMEOUT_S:-60}

[ -f "$script" ] || { echo "error: no scenario $script" >&2; exit 2; }
if ! command -v node >/dev/null || [ ! -d "$here/node_modules/rocketmq-client-nodejs" ]; then
  echo "error: Node.js or the RocketMQ Node.js client is missing: run scripts/install-node-deps.sh" >&2
  exit 1
fi

tmp=$(mktemp -d /tmp/tidemq-node-XXXXXX)
broker_pid=""

stop_broker() {
  [ -n "$broker_pid" ] || return 0
  kill -TERM "$broker_pid" 2>/dev/null || true
  for _ in $(seq 100); do  # 10 s for a clean stop
    kill -0 "$broker_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$broker_pid" 2>/dev/null; then
    echo "broker (pid $broker_pid) did not stop in 10 s: SIGKILL"
    kill -KILL "$broker_pid" 2>/dev/null || true
  fi
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
}
cleanup() {
  stop_broker
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

print_logs() {
  echo "---- broker log (last 300 lines of $tmp/broker.log) ----"
  tail -n 300 "$tmp/broker.log" || true
  local client_log="$tmp/home/logs/rocketmq/rocketmq_client_nodejs.log"
  if [ -s "$client_log" ]; then
    echo "---- client log (last 100 lines; the consume services log there) ----"
    tail -n 100 "$client_log"
  fi
  echo "---- end of logs ----"
}

# Two free loopback ports, asked of the kernel; a port taken meanwhile makes the broker exit at
# start-up, and the start is tried again on new ports.
free_ports() {
  node -e '
    const net = require("node:net");
    const listen = () => new Promise(r => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => r(s)); });
    Promise.all([listen(), listen()]).then(ss => {
      console.log(ss.map(s => s.address().port).join(" "));
      ss.forEach(s => s.close());
    });'
}

read -r -a extra_flags <<<"$(sed -n 's|^// broker-flags: *||p' "$script" | head -n 1)"

start_broker() {
  read -r port grpc_port <<<"$(free_ports)"
  "$broker_bin" --host 127.0.0.1 --port "$port" --grpc-port "$grpc_port" --http-port 0 \
    --data-dir "$tmp/data" --segment-mb 16 --log-level info "${extra_flags[@]}" \
    >>"$tmp/broker.log" 2>&1 </dev/null &
  broker_pid=$!
  for _ in $(seq 200); do  # 20 s
    if ! kill -0 "$broker_pid" 2>/dev/null; then
      wait "$broker_pid" 2>/dev/null || true
      broker_pid=""
      return 1
    fi
    if "$cli_bin" --addr "127.0.0.1:$port" --timeout 1000 stats >/dev/null 2>&1 &&
       (exec 3<>"/dev/tcp/127.0.0.1/$grpc_port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "error: the broker did not answer within 20 s"
  print_logs
  exit 1
}

started=0
for attempt in 1 2 3; do
  if start_broker; then started=1; break; fi
  echo "broker exited during start-up (attempt $attempt)"
  tail -n 20 "$tmp/broker.log"
  rm -rf "$tmp/data"
done
[ "$started" = 1 ] || { echo "error: the broker did not start"; exit 1; }

echo "== $scenario: broker pid $broker_pid, native 127.0.0.1:$port, gRPC 127.0.0.1:$grpc_port${extra_flags[*]:+, flags: ${extra_flags[*]}}"
mkdir -p "$tmp/home"
status=0
(
  cd "$here"
  # HOME: the client's own log file goes under the temporary directory.
  HOME="$tmp/home" TIDEMQ_GRPC="127.0.0.1:$grpc_port" TIDEMQ_ADDR="127.0.0.1:$port" \
    TIDEMQ_CLI="$cli_bin" exec timeout -k 5 "$timeout_s" node "$script"
) || status=$?

if ! kill -0 "$broker_pid" 2>/dev/null; then
  echo "error: the broker exited during the scenario"
  broker_pid=""
  [ "$status" -ne 0 ] || status=1
fi
if [ "$status" -ne 0 ]; then
  [ "$status" -ne 124 ] || echo "error: $scenario was killed after ${timeout_s} s"
  print_logs
fi
exit "$status"
