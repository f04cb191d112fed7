#!/usr/bin/env bash
# How long a Prometheus scrape of /metrics takes on a broker with many topics and groups
# (docs/benchmarks.md, issue 15). Starts BUILD's tidemq-broker on 127.0.0.1:PORT (HTTP on
# PORT+3) with a temporary data dir, creates TOPIC_COUNT topics of QUEUES queues and GROUP_COUNT groups,
# sends one message to each queue and has each group consume PER_GROUP topics (so that every
# group has a position, a lag and an oldest-unacked age on each of their queues), then times
# SCRAPES scrapes with curl and prints the median, p90 and max, the body size and the series
# count. The broker is stopped by its PID and the data dir removed however the script ends.
#
#   bench/metrics_scrape.sh build-bench                      # 1,000 x 8 queues, 100 groups
#   TOPIC_COUNT=100 GROUP_COUNT=10 bench/metrics_scrape.sh build       # smaller
set -euo pipefail
B=${1:?usage: metrics_scrape.sh BUILD_DIR}
PORT=${PORT:-19950}
HTTP_PORT=$((PORT + 3))
TOPIC_COUNT=${TOPIC_COUNT:-1000}
QUEUES=${QUEUES:-8}
GROUP_COUNT=${GROUP_COUNT:-100}
PER_GROUP=${PER_GROUP:-10}
SCRAPES=${SCRAPES:-20}
command -v curl >/dev/null || { echo "curl is needed (apt-get install curl)" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/tidemq-scrape.XXXXXX")
"$B/broker/tidemq-broker" --host 127.0.0.1 --port "$PORT" --grpc-port 0 --http-port "$HTTP_PORT" \
  --data-dir "$dir/data" --log-level warn >"$dir/broker.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
cli() { "$B/tools/tidemq" --addr "127.0.0.1:$PORT" "$@"; }
for _ in $(seq 300); do cli stats >/dev/null 2>&1 && break; sleep 0.1; done

start=$(date +%s)
echo "creating $TOPIC_COUNT topics x $QUEUES queues, one message per queue ..." >&2
for t in $(seq -w 1 "$TOPIC_COUNT"); do
  cli topic create "t$t" --queues "$QUEUES" >/dev/null
  cli send "t$t" m --count "$QUEUES" >/dev/null
  if [ $((10#$t % 100)) -eq 0 ]; then echo "  $t topics" >&2; fi
done
echo "creating $GROUP_COUNT groups, each consuming $PER_GROUP topics (one message each) ..." >&2
for g in $(seq -w 1 "$GROUP_COUNT"); do
  cli group create "g$g" >/dev/null
  for k in $(seq 1 "$PER_GROUP"); do
    t=$(( (10#$g * PER_GROUP + k) % TOPIC_COUNT + 1 ))
    cli consume "t$(printf "%0${#TOPIC_COUNT}d" "$t")" --group "g$g" --count 1 --wait 100 >/dev/null
  done
done
echo "set-up took $(( $(date +%s) - start )) s" >&2

url="http://127.0.0.1:$HTTP_PORT/metrics"
curl -sf "$url" -o "$dir/metrics.txt"
bytes=$(wc -c <"$dir/metrics.txt")
series=$(grep -vc '^#' "$dir/metrics.txt")
times=()
for _ in $(seq 1 "$SCRAPES"); do
  times+=("$(curl -sf -o /dev/null -w '%{time_total}' "$url")")
done
printf '%s\n' "${times[@]}" | sort -n | awk -v n="$SCRAPES" -v bytes="$bytes" -v series="$series" \
  -v topics="$TOPIC_COUNT" -v queues="$QUEUES" -v groups="$GROUP_COUNT" '
  { t[NR] = $1 * 1000 }
  END {
    printf "RESULT metrics-scrape topics=%d queues=%d groups=%d series=%d bytes=%d scrapes=%d median_ms=%.1f p90_ms=%.1f max_ms=%.1f\n",
      topics, queues, groups, series, bytes, n, t[int((n + 1) / 2)], t[int(n * 0.9 + 0.5)], t[n]
  }'
