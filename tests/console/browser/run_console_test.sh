#!/usr/bin/env bash
# run_console_test.sh BROKER_BIN CLI_BIN SCREENSHOT_DIR: drives the web console (console/web/)
# of a fresh tidemq-broker in Debian's Chromium with puppeteer-core (console_test.js), saving a
# PNG of every page into SCREENSHOT_DIR (and into docs/console/ when UPDATE_DOCS_SCREENSHOTS=1).
#
# The broker gets a temporary data directory and free loopback ports (native and HTTP); the
# script reads the console tokens the broker writes there, and creates its topics and groups with
# the CLI and the pages. It is killed after TIDEMQ_CONSOLE_TIMEOUT_S (120) seconds; the broker is
# stopped by its PID whatever happens (Chromium by puppeteer), and its log is printed when the
# test fails. Exits with the script's status.
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 BROKER_BIN CLI_BIN SCREENSHOT_DIR" >&2
  exit 2
fi
# Absolute: the script runs from this directory.
broker_bin=$(realpath "$1")
cli_bin=$(realpath "$2")
mkdir -p "$3"
shots=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
timeout_s=${TIDEMQ_CONSOLE_TIMEOUT_S:-120}
chromium=${CHROMIUM:-/usr/bin/chromium}

if ! command -v node >/dev/null || [ ! -d "$here/node_modules/puppeteer-core" ] || [ ! -x "$chromium" ]; then
  echo "error: Node.js, puppeteer-core or Chromium ($chromium) is missing: run scripts/install-node-deps.sh" >&2
  exit 1
fi

tmp=$(mktemp -d /tmp/tidemq-console-XXXXXX)
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
# puppeteer closes Chromium when the script ends or is stopped; a script killed outright leaves
# it to this, by the PID the script wrote.
stop_browser() {
  local pid
  pid=$(cat "$tmp/chromium.pid" 2>/dev/null) || return 0
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  stop_browser
  stop_broker
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

print_logs() {
  echo "---- broker log (last 200 lines of $tmp/broker.log) ----"
  tail -n 200 "$tmp/broker.log" || true
  echo "---- end of log ----"
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

start_broker() {
  read -r port http_port <<<"$(free_ports)"
  # Topics are created by the first send, as the test's CLI sends expect.
  "$broker_bin" --host 127.0.0.1 --port "$port" --grpc-port 0 --http-port "$http_port" \
    --data-dir "$tmp/data" --segment-mb 16 --auto-create-topics true --log-level info \
    >>"$tmp/broker.log" 2>&1 </dev/null &
  broker_pid=$!
  for _ in $(seq 200); do  # 20 s
    if ! kill -0 "$broker_pid" 2>/dev/null; then
      wait "$broker_pid" 2>/dev/null || true
      broker_pid=""
      return 1
    fi
    if [ -s "$tmp/data/console.token" ] &&
       "$cli_bin" --addr "127.0.0.1:$port" --timeout 1000 stats >/dev/null 2>&1 &&
       (exec 3<>"/dev/tcp/127.0.0.1/$http_port") 2>/dev/null; then
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

echo "== console: broker pid $broker_pid, native 127.0.0.1:$port, console http://127.0.0.1:$http_port/"
mkdir -p "$tmp/home"
status=0
(
  cd "$here"
  # HOME and the profile: Chromium writes nothing outside the temporary directory.
  HOME="$tmp/home" TIDEMQ_CONSOLE_URL="http://127.0.0.1:$http_port/" TIDEMQ_ADDR="127.0.0.1:$port" \
    TIDEMQ_CLI="$cli_bin" TIDEMQ_TOKEN_FILE="$tmp/data/console.token" TIDEMQ_SCREENSHOT_DIR="$shots" \
    TIDEMQ_BROWSER_PROFILE="$tmp/profile" TIDEMQ_BROWSER_PID_FILE="$tmp/chromium.pid" CHROMIUM="$chromium" \
    exec timeout -k 5 "$timeout_s" node console_test.js
) || status=$?

if ! kill -0 "$broker_pid" 2>/dev/null; then
  echo "error: the broker exited during the test"
  broker_pid=""
  [ "$status" -ne 0 ] || status=1
fi
if [ "$status" -ne 0 ]; then
  [ "$status" -ne 124 ] || echo "error: the console test was killed after ${timeout_s} s"
  print_logs
fi
exit "$status"
