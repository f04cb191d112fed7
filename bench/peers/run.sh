#!/usr/bin/env bash
# TideMQ side by side with Redis, RabbitMQ, NATS JetStream and beanstalkd (issue 13): the same
# load shapes, each system driven by its native client (tidemq-peer-bench), systems
# interleaved (A B C A B C: each system once per round, $RUNS rounds per shape), medians of
# the rounds, and the machine's own limits (dd, an fdatasync loop) measured in the same run.
# Opt-in: not part of .ci/run, not built by the default build. See bench/peers/README.md.
#
#   bench/peers/run.sh                          # everything: RUNS=3, COUNT=100000
#   COUNT=20000 RUNS=1 bench/peers/run.sh       # quick: every system works
#   SKIP_BUILD=1 bench/peers/run.sh             # reuse the binaries in build-peers/
#   SYSTEMS="tidemq redis" SHAPES="publish-1" bench/peers/run.sh
#
# Installs what is missing (Debian packages; the packages' own services are kept from
# starting), builds TideMQ's broker and the driver (Release, in build-peers/), then starts each
# server itself on 127.0.0.1, on a free port, with a temporary data directory, once per
# measurement, and stops it by its PID. Everything it started is stopped and its data removed
# on exit, however the script ends. The RESULT lines are kept in build-peers/peer-results.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS=${RUNS:-3}
COUNT=${COUNT:-100000}        # messages measured per shape (consume: the backlog)
WARMUP_S=${WARMUP_S:-1}       # publish shapes: unmeasured seconds first
DURATION_S=${DURATION_S:-5}   # publish shapes: measured seconds at most
DELAY_MS=${DELAY_MS:-2000}    # schedule: due this long after the send (whole seconds)
SYSTEMS=${SYSTEMS:-"tidemq redis rabbitmq nats beanstalkd"}
SHAPES=${SHAPES:-"publish-256 publish-1 consume schedule"}
BUILD_DIR=${PEER_BUILD_DIR:-build-peers}
RABBITMQ_START_LIMIT_S=${RABBITMQ_START_LIMIT_S:-60}
START_LIMIT_S=10              # every other server
BROKER_BIN=$BUILD_DIR/broker/tidemq-broker
DRIVER=$BUILD_DIR/bench/peers/tidemq-peer-bench
RESULTS_KEPT=$BUILD_DIR/peer-results.txt

PEER_PACKAGES=(rabbitmq-server redis-server nats-server beanstalkd
               librabbitmq-dev libhiredis-dev libnats-dev)

# Each system's configurations and their durability class (README.md: the pairings).
configs_of() {
  case $1 in
    tidemq) echo "sync async" ;;
    redis) echo "always everysec" ;;
    rabbitmq) echo "quorum classic classic-transient" ;;
    nats) echo "file" ;;
    beanstalkd) echo "f0 f50" ;;
    *) echo "error: unknown system $1" >&2; exit 2 ;;
  esac
}
durability_of() {
  case "$1/$2" in
    tidemq/sync | redis/always | rabbitmq/quorum | rabbitmq/classic | beanstalkd/f0)
      echo durable ;;
    *) echo page-cache ;;
  esac
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tidemq-peers.XXXXXX")
STARTED=()        # PIDs this script started and has not stopped yet
ADDED_POLICY=""   # a policy-rc.d this script put in place (removed again)
cleanup() {
  stop_servers
  if [ -n "$ADDED_POLICY" ]; then rm -f "$ADDED_POLICY"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi

# --- install ------------------------------------------------------------------------------
missing=()
for p in "${PEER_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # The server packages start their system services on install. A policy-rc.d that answers
  # 101 ("not allowed") keeps them stopped (invoke-rc.d and deb-systemd-invoke both ask it);
  # one already in place (as in Docker images) is left as it is.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# bench/peers/run.sh: no service starts while it installs\nexit 101\n' |
      $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    ADDED_POLICY=/usr/sbin/policy-rc.d
  fi
  scripts/install-deps.sh "${PEER_PACKAGES[@]}"
  if [ -n "$ADDED_POLICY" ]; then $SUDO rm -f "$ADDED_POLICY"; ADDED_POLICY=""; fi
  # Under systemd, a service that started all the same is stopped and disabled by its unit.
  if [ -d /run/systemd/system ]; then
    for unit in rabbitmq-server redis-server nats-server beanstalkd epmd.socket epmd.service; do
      if systemctl is-active --quiet "$unit" 2>/dev/null; then
        echo "==> stopping and disabling the system service $unit (this script runs its own)"
        $SUDO systemctl disable --now "$unit" || true
      fi
    done
  fi
else
  scripts/install-deps.sh
fi

# --- build --------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != "1" ]; then
  launcher=()
  if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTIDEMQ_BUILD_TESTS=OFF \
    -DTIDEMQ_PEER_BENCH=ON "${launcher[@]}" >/dev/null
  echo "==> building tidemq-broker and tidemq-peer-bench in $BUILD_DIR (-j${TIDEMQ_JOBS:-2})"
  cmake --build "$BUILD_DIR" -j "${TIDEMQ_JOBS:-2}" --target tidemq-broker tidemq-peer-bench \
    >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; exit 1; }
fi
for bin in "$BROKER_BIN" "$DRIVER"; do
  [ -x "$bin" ] || { echo "error: $bin is missing (run without SKIP_BUILD=1)" >&2; exit 1; }
done

# --- servers ------------------------------------------------------------------------------
# A port nothing listens on (a server started a moment later may still race for it).
free_port() {
  local port
  while :; do
    port=$(( (RANDOM * 32768 + RANDOM) % 40000 + 20000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
}

# descendants PID: every process below PID, by PID.
descendants() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    echo "$child"
    descendants "$child"
  done
}

# stop_pid PID: SIGTERM, up to 30 s for a clean exit, then SIGKILL; processes it started that
# outlive it are ended by their PIDs too.
stop_pid() {
  local pid=$1 kids
  kids=$(descendants "$pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for kid in $kids; do kill -9 "$kid" 2>/dev/null || true; done
}

stop_servers() {
  local i
  # Last started first: RabbitMQ before its epmd.
  for (( i = ${#STARTED[@]} - 1; i >= 0; i-- )); do stop_pid "${STARTED[$i]}"; done
  STARTED=()
  if [ -n "${SERVER_DIR:-}" ]; then rm -rf "$SERVER_DIR"; SERVER_DIR=""; fi
}

# wait_port PID PORT LIMIT_S LOG: until PORT accepts connections; fails when PID exits first
# or after LIMIT_S seconds.
wait_port() {
  local pid=$1 port=$2 limit=$3 log=$4
  local deadline=$(( $(date +%s) + limit ))
  while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "error: the server exited during start-up; the end of $log:" >&2
      tail -n 20 "$log" >&2 || true
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "error: the server did not listen on $port within $limit s" >&2
      return 1
    fi
    sleep 0.1
  done
}

# start_server SYSTEM CONFIG: starts it on a free port with a fresh data dir; sets SERVER_ADDR
# and SERVER_PIDS (what the driver measures the CPU of). Returns 1 when it does not come up.
start_server() {
  local system=$1 config=$2 port pid
  SERVER_DIR=$(mktemp -d "$WORK/$system-$config.XXXX")
  port=$(free_port)
  SERVER_ADDR=127.0.0.1:$port
  local log=$SERVER_DIR/server.log
  local limit=$START_LIMIT_S
  case $system in
    tidemq)
      "$BROKER_BIN" --host 127.0.0.1 --port "$port" --data-dir "$SERVER_DIR/data" --grpc-port 0 --http-port 0 \
        --log-level warn --flush-policy "$config" >"$log" 2>&1 &
      pid=$! ;;
    redis)
      # AOF is the durability under test; RDB snapshots are off.
      redis-server --bind 127.0.0.1 --port "$port" --dir "$SERVER_DIR" --daemonize no \
        --protected-mode yes --appendonly yes --appendfsync "$config" --save '' \
        --logfile "$log" >/dev/null 2>&1 &
      pid=$! ;;
    nats)
      nats-server -a 127.0.0.1 -p "$port" -js -sd "$SERVER_DIR/js" -l "$log" >/dev/null 2>&1 &
      pid=$! ;;
    beanstalkd)
      beanstalkd -l 127.0.0.1 -p "$port" -b "$SERVER_DIR" -f "${config#f}" >"$log" 2>&1 &
      pid=$! ;;
    rabbitmq)
      start_rabbitmq "$port" "$log" || return 1
      return 0 ;;
  esac
  STARTED+=("$pid")
  SERVER_PIDS=("$pid")
  wait_port "$pid" "$port" "$limit" "$log"
}

# RabbitMQ as this user, with its own node name, ports, directories, config and epmd (on
# loopback, started here so that it is stopped here too). The node serves every RabbitMQ
# configuration: they differ only in the queues the driver declares.
start_rabbitmq() {
  local port=$1 log=$2 dist epmd_port epmd_pid pid
  dist=$(free_port)
  epmd_port=$(free_port)
  mkdir -p "$SERVER_DIR/mnesia" "$SERVER_DIR/log"
  cat >"$SERVER_DIR/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
log.console = false
log.file.level = warning
CONF
  echo '[].' >"$SERVER_DIR/enabled_plugins"
  : >"$SERVER_DIR/rabbitmq-env.conf"
  ERL_EPMD_ADDRESS=127.0.0.1 epmd -port "$epmd_port" >"$SERVER_DIR/epmd.log" 2>&1 &
  epmd_pid=$!
  STARTED+=("$epmd_pid")
  wait_port "$epmd_pid" "$epmd_port" "$START_LIMIT_S" "$SERVER_DIR/epmd.log" || return 1
  (
    cd "$SERVER_DIR"
    export HOME=$SERVER_DIR
    export RABBITMQ_NODENAME=peerbench@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$port RABBITMQ_DIST_PORT=$dist
    export RABBITMQ_MNESIA_BASE=$SERVER_DIR/mnesia RABBITMQ_LOG_BASE=$SERVER_DIR/log
    export RABBITMQ_CONFIG_FILE=$SERVER_DIR/rabbitmq.conf
    export RABBITMQ_ENABLED_PLUGINS_FILE=$SERVER_DIR/enabled_plugins
    export RABBITMQ_CONF_ENV_FILE=$SERVER_DIR/rabbitmq-env.conf
    export ERL_EPMD_PORT=$epmd_port ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    exec /usr/lib/rabbitmq/bin/rabbitmq-server
  ) >"$log" 2>&1 &
  pid=$!
  STARTED+=("$pid")
  SERVER_PIDS=("$pid" "$epmd_pid")
  local t0=$SECONDS
  if ! wait_port "$pid" "$port" "$RABBITMQ_START_LIMIT_S" "$log"; then
    return 1
  fi
  echo "   (RabbitMQ took $((SECONDS - t0)) s to start)"
}

# --- the run ------------------------------------------------------------------------------
RESULTS=$WORK/results.txt
: >"$RESULTS"
FAILED=()

# shellcheck source=bench/machine.sh
source "bench/machine.sh"
print_machine "$WORK"
echo "versions: redis-server $(dpkg-query -W -f='${Version}' redis-server)," \
  "rabbitmq-server $(dpkg-query -W -f='${Version}' rabbitmq-server)," \
  "nats-server $(dpkg-query -W -f='${Version}' nats-server)," \
  "beanstalkd $(dpkg-query -W -f='${Version}' beanstalkd)"

# The fdatasync loop first: right after dd writes and deletes 1 GiB the disk is still busy.
echo "== disk: 4 KiB appends each followed by fdatasync; then dd 1 GiB with fdatasync"
"$DRIVER" fsync-loop --dir "$WORK" --count 3000 --seconds 3 | tee -a "$RESULTS" | grep -v '^RESULT'
dd_line=$(dd if=/dev/zero of="$WORK/ddtest" bs=1M count=1024 conv=fdatasync 2>&1 | tail -n 1)
rm -f "$WORK/ddtest"
echo "$dd_line"
dd_mb_s=$(echo "$dd_line" | awk '{for (i = 1; i < NF; i++) if ($(i + 1) == "s,") s = $i;
  if (s > 0) printf "%.0f", $1 / s / 1e6}')
echo "RESULT shape=machine dd_mb_s=${dd_mb_s:-0}" >>"$RESULTS"
sync
sleep 5  # let the deleted gigabyte settle before the first measurement

# measure SHAPE ROUND SYSTEM CONFIG: one run of the driver against the server started for it.
measure() {
  local shape=$1 round=$2 system=$3 config=$4
  local pid_args=() p
  for p in "${SERVER_PIDS[@]}"; do pid_args+=(--server-pid "$p"); done
  local rc=0
  "$DRIVER" run --system "$system" --config "$config" \
    --durability "$(durability_of "$system" "$config")" --shape "$shape" --addr "$SERVER_ADDR" \
    --name "pb${round}_${shape//-/_}_${config//-/_}" --count "$COUNT" --warmup-s "$WARMUP_S" \
    --duration-s "$DURATION_S" --delay-ms "$DELAY_MS" --round "$round" "${pid_args[@]}" \
    >"$WORK/out.txt" 2>&1 || rc=$?
  grep -v '^RESULT' "$WORK/out.txt" | sed 's/^/   /' || true
  grep '^RESULT' "$WORK/out.txt" >>"$RESULTS" || true
  if [ "$rc" -ne 0 ]; then
    echo "   FAILED (exit $rc): $system $config $shape round $round"
    FAILED+=("$system/$config/$shape/$round")
  fi
}

rabbitmq_broken=0
for shape in $SHAPES; do
  for round in $(seq 1 "$RUNS"); do
    echo "== $shape, round $round of $RUNS (load $(cut -d' ' -f1 /proc/loadavg))"
    for system in $SYSTEMS; do
      configs=$(configs_of "$system")
      if [ "$system" = nats ] && [ "$shape" = schedule ]; then
        SERVER_ADDR=127.0.0.1:1 SERVER_PIDS=()
        measure "$shape" "$round" nats file   # prints "no scheduled messages"
        continue
      fi
      if [ "$system" = rabbitmq ]; then
        if [ "$rabbitmq_broken" = 1 ]; then continue; fi
        if ! start_server rabbitmq default; then
          echo "   RabbitMQ did not start within ${RABBITMQ_START_LIMIT_S} s or failed: skipped" \
               "for the rest of this run"
          rabbitmq_broken=1
          for config in $configs; do
            echo "RESULT shape=$shape system=rabbitmq config=$config durability=$(durability_of \
rabbitmq "$config") round=$round skipped=did-not-start" >>"$RESULTS"
          done
          stop_servers
          continue
        fi
        for config in $configs; do measure "$shape" "$round" rabbitmq "$config"; done
        stop_servers
        continue
      fi
      for config in $configs; do
        if start_server "$system" "$config"; then
          measure "$shape" "$round" "$system" "$config"
        else
          FAILED+=("$system/$config/$shape/$round (start)")
        fi
        stop_servers
      done
    done
  done
done

cp "$RESULTS" "$RESULTS_KEPT"
cat <<HEADER

== summary: medians of $RUNS round(s), $COUNT messages per shape, 1 KiB bodies, one client
   process, loopback; all RESULT lines in $RESULTS_KEPT

### Durability of each pairing
- **durable**: acknowledged only once the message is on disk (fdatasync; group commit
  allowed). TideMQ \`--flush-policy sync\`; Redis \`appendonly yes\` + \`appendfsync always\`;
  RabbitMQ quorum queue (confirmed after the Raft log's fsync) and classic durable queue with
  persistent messages (confirmed after the message store's fsync); beanstalkd \`-b DIR -f0\`
  (fsync on every write).
- **page-cache**: acknowledged once in the OS page cache (or memory) and synced later: a
  power loss can lose acknowledged messages, a process crash cannot (except RabbitMQ
  transient). TideMQ \`--flush-policy async\` (flush every 200 ms); Redis \`appendfsync
  everysec\`; NATS JetStream file store (no fsync per message; the server syncs every 2 min);
  beanstalkd \`-f50\` (fsync at most every 50 ms); RabbitMQ classic queue with transient
  messages (memory only: lost on a process crash as well; weaker than the rest).
- Consume + ack: the class is that of the server's configuration; what an ack costs differs.
  Redis \`always\` syncs its XREADGROUP/XACK writes to the AOF before answering and beanstalkd
  \`-f0\` each delete; RabbitMQ acks are fire-and-forget on the wire; NATS acks (AckSync of
  the batch's last message) update the consumer's state without an fsync; TideMQ's acks
  are answered from memory (issue 13). Scheduled: TideMQ's delivery time (DELIVER_AT_MS),
  beanstalkd's put delay, RabbitMQ's per-message TTL dead-lettered to the consumed queue,
  Redis a sorted set moved to a list by a poller in the driver every 1 ms; NATS has no
  scheduled messages.

HEADER
"$DRIVER" table "$RESULTS_KEPT"
if [ ${#FAILED[@]} -gt 0 ]; then
  echo
  echo "FAILED measurements: ${FAILED[*]}"
  exit 1
fi
