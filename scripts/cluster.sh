#!/usr/bin/env bash
# A local cluster on loopback: one etcd and one or more broker groups of three brokers each
# (master + two replicas, elected in etcd, automatic failover; topics spread over the groups:
# docs/cluster.md). Every process binds 127.0.0.1 and is stopped by its PID.
#
#   scripts/cluster.sh start [--groups N] [broker flags...]
#                               installs what is missing, builds, starts etcd and the brokers
#                               of groups g1..gN (brokers already running are left alone, so
#                               `start` again brings back what was killed), prints their
#                               addresses and the TIDEMQ_ADDR line to export
#   scripts/cluster.sh add-group
#                               starts one more group (g<N+1>) in the running cluster
#   scripts/cluster.sh status   tidemq cluster status
#   scripts/cluster.sh stop     stops every broker, then etcd (SIGTERM; SIGKILL after 10 s)
#
# Brokers are numbered across groups: g1 is b1 b2 b3, g2 is b4 b5 b6, ... Broker n listens on
# PORT + 10 (n - 1) (native clients), + 1 (replication), + 2 (RocketMQ 5 clients), + 3 (HTTP:
# console and /metrics).
#
# Settings (environment): TIDEMQ_CLUSTER_DIR (default ./cluster-data), TIDEMQ_CLUSTER_PORT
# (PORT, default 9810), TIDEMQ_ETCD_PORT (default 23790; peer port + 1),
# TIDEMQ_MIN_COPIES (default 2: a send is acknowledged once two of a group's three hold it;
# 1 for groups of one), TIDEMQ_LEASE_TTL_S (default 2), TIDEMQ_GROUP_SIZE (brokers per group,
# default 3; 1 for benchmarks of many groups on one small machine), SKIP_BUILD=1 (use the
# binaries in TIDEMQ_BUILD_DIR as they are). Other arguments to `start` go to every
# tidemq-broker.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${TIDEMQ_BUILD_DIR:-build}
dir=${TIDEMQ_CLUSTER_DIR:-./cluster-data}
base_port=${TIDEMQ_CLUSTER_PORT:-9810}
etcd_port=${TIDEMQ_ETCD_PORT:-23790}
per_group=${TIDEMQ_GROUP_SIZE:-3}
min_copies=${TIDEMQ_MIN_COPIES:-$((per_group < 2 ? per_group : 2))}
ttl=${TIDEMQ_LEASE_TTL_S:-2}

port_of() { echo $((base_port + 10 * ($1 - 1))); }  # broker number (1-based)
# How many groups this cluster directory has (recorded by start / add-group).
groups_now() { cat "$dir/groups" 2>/dev/null || echo 0; }
addr_list() {  # every broker of groups 1..$1
  local out=""
  for n in $(seq 1 $(($1 * per_group))); do out="$out${out:+,}127.0.0.1:$(port_of "$n")"; done
  echo "$out"
}
# The RocketMQ 5 clients' endpoints: every broker's gRPC port (each answers routes of the
# whole cluster).
grpc_list() {
  local out=""
  for n in $(seq 1 $(($1 * per_group))); do out="$out${out:+;}127.0.0.1:$(($(port_of "$n") + 2))"; done
  echo "$out"
}
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid_file() {  # name pid_file
  local name=$1 pid_file=$2
  alive "$pid_file" || { rm -f "$pid_file"; return 0; }
  local pid
  pid=$(cat "$pid_file")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "$name (pid $pid) did not stop in 10 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
  echo "stopped $name (pid $pid)"
}

start_etcd() {
  if alive "$dir/etcd.pid"; then
    echo "etcd already running (pid $(cat "$dir/etcd.pid"))"
    return
  fi
  local client="http://127.0.0.1:$etcd_port"
  local peer="http://127.0.0.1:$((etcd_port + 1))"
  nohup etcd --name tidemq-local --data-dir "$dir/etcd" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "tidemq-local=$peer" --initial-cluster-state new \
    --heartbeat-interval 50 --election-timeout 500 \
    --auto-compaction-mode periodic --auto-compaction-retention 1h \
    --log-level warn >"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$etcd_port") 2>/dev/null; then break; fi
    alive "$dir/etcd.pid" || { echo "error: etcd exited:" >&2; tail -n 20 "$dir/etcd.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "etcd: pid $(cat "$dir/etcd.pid"), 127.0.0.1:$etcd_port (data in $dir/etcd)"
}

start_group() {  # group number (1-based), extra broker flags...
  local g=$1
  shift
  local group="g$g" first=$(((g - 1) * per_group + 1)) n id port pid_file
  for n in $(seq "$first" $((first + per_group - 1))); do
    id="b$n"
    port=$(port_of "$n")
    pid_file="$dir/$id.pid"
    if alive "$pid_file"; then
      echo "broker $id ($group) already running (pid $(cat "$pid_file")), 127.0.0.1:$port"
      continue
    fi
    mkdir -p "$dir/$id"
    nohup "$build_dir/broker/tidemq-broker" --host 127.0.0.1 --port "$port" \
      --grpc-port "$((port + 2))" --http-port "$((port + 3))" \
      --data-dir "$dir/$id" --group "$group" --broker-id "$id" \
      --etcd "127.0.0.1:$etcd_port" --min-copies "$min_copies" --lease-ttl-s "$ttl" \
      --bootstrap-master "b$first" \
      --pid-file "$pid_file" --log-file "$dir/$id.log" "$@" >"$dir/$id.out" 2>&1 &
    echo $! >"$pid_file"
  done
  for n in $(seq "$first" $((first + per_group - 1))); do
    id="b$n"
    port=$(port_of "$n")
    for _ in $(seq 1 150); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
      alive "$dir/$id.pid" || { echo "error: broker $id exited:" >&2; tail -n 20 "$dir/$id.out" >&2; exit 1; }
      sleep 0.1
    done
    echo "broker $id ($group): pid $(cat "$dir/$id.pid"), 127.0.0.1:$port, RocketMQ 5 clients 127.0.0.1:$((port + 2)), console http://127.0.0.1:$((port + 3))/ (data in $dir/$id, log $dir/$id.log)"
  done
}

prepare() {
  ./scripts/install-deps.sh
  [ "${SKIP_BUILD:-0}" = 1 ] || ./scripts/build.sh
  command -v etcd >/dev/null || { echo "error: etcd not found (scripts/install-deps.sh installs etcd-server)" >&2; exit 1; }
  mkdir -p "$dir"
}

summary() {  # groups
  local groups=$1
  cat <<MSG

Cluster of $groups broker group(s) running: g1$( [ "$groups" -gt 1 ] && echo "..g$groups") (min copies $min_copies, lease TTL ${ttl} s). Use it with:

  export TIDEMQ_ADDR=$(addr_list "$groups")
  export PATH="\$PWD/$build_dir/tools:\$PATH"
  tidemq cluster status
  tidemq topic create demo --queues 8 && tidemq send demo "hello" && tidemq consume demo --group g --count 1
  kill -9 \$(cat $dir/b1.pid)     # g1's master dies: a replica takes over within seconds
  scripts/cluster.sh stop

Any one address is enough: every broker answers the whole cluster's routes.
RocketMQ 5 clients: endpoints "$(grpc_list "$groups")"
Consoles and /metrics: port + 3 of each broker (tokens in $dir/<broker>/console.token)
MSG
}

cmd=${1:-}
shift || true
case "$cmd" in
  start)
    groups=0
    extra=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --groups) groups=${2:?--groups needs a number}; shift 2 ;;
        --groups=*) groups=${1#--groups=}; shift ;;
        *) extra+=("$1"); shift ;;
      esac
    done
    [ "$groups" -gt 0 ] 2>/dev/null || groups=$(groups_now)
    [ "$groups" -gt 0 ] || groups=1
    [ "$groups" -le 9 ] || { echo "error: at most 9 groups on one machine" >&2; exit 2; }
    prepare
    start_etcd
    for g in $(seq 1 "$groups"); do start_group "$g" "${extra[@]}"; done
    [ "$groups" -gt "$(groups_now)" ] && echo "$groups" >"$dir/groups"
    summary "$(groups_now)"
    ;;
  add-group)
    alive "$dir/etcd.pid" || { echo "error: no cluster running in $dir (scripts/cluster.sh start)" >&2; exit 1; }
    g=$(($(groups_now) + 1))
    [ "$g" -le 9 ] || { echo "error: at most 9 groups on one machine" >&2; exit 2; }
    SKIP_BUILD=1 prepare
    start_group "$g" "$@"
    echo "$g" >"$dir/groups"
    cat <<MSG

Broker group g$g joined the cluster (it takes new topics and queues now). Put queues of a
topic on it with:  tidemq topic extend TOPIC --queues 4 --groups g$g
MSG
    ;;
  status)
    TIDEMQ_ADDR=${TIDEMQ_ADDR:-$(addr_list "$(groups_now)")} "$build_dir/tools/tidemq" cluster status "$@"
    ;;
  stop)
    for pid_file in "$dir"/b*.pid; do
      [ -e "$pid_file" ] || continue
      id=$(basename "$pid_file" .pid)
      stop_pid_file "broker $id" "$pid_file"
    done
    stop_pid_file etcd "$dir/etcd.pid"
    ;;
  *)
    echo "usage: scripts/cluster.sh start [--groups N] [broker flags] | add-group | status | stop" >&2
    exit 2
    ;;
esac
