#!/usr/bin/env bash
# Stops the broker started by scripts/start.sh (SIGTERM: it finishes queued writes, persists
# consumer offsets and exits).
set -euo pipefail
cd "$(dirname "$0")/.."
pid_file="${TIDEMQ_DATA_DIR:-./data}/broker.pid"
if [ ! -f "$pid_file" ] || ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  echo "no TideMQ broker running (no live pid in $pid_file)"
  exit 0
fi
pid=$(cat "$pid_file")
kill -TERM "$pid"
for _ in $(seq 1 100); do
  kill -0 "$pid" 2>/dev/null || { echo "TideMQ broker (pid $pid) stopped"; exit 0; }
  sleep 0.1
done
echo "error: broker (pid $pid) did not stop within 10 s" >&2
exit 1
