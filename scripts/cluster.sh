#!/usr/bin/env bash
# A local broker group on loopback: one etcd and three brokers (master + two replicas, elected
# in etcd, automatic failover). Every process binds 127.0.0.1 and is stopped by its PID.
#
#   scripts/cluster.sh start    installs what is missing, builds, starts etcd and the brokers,
#                               prints their addresses and the TIDEMQ_ADDR line to export
#   scripts/cluster.sh status   tidemq cluster status
#   scripts/cluster.sh stop     stops the brokers, then etcd (SIGTERM; SIGKILL after 10 s)
#
# Settings (environment): TIDEMQ_CLUSTER_DIR (default ./cluster-data), TIDEMQ_CLUSTER_PORT
# (first broker's port, default 9810; the brokers take PORT, PORT+10, PORT+20, and each its
# port + 1 for replication and port + 2 for RocketMQ 5 clients), TIDEMQ_ETCD_PORT (default
# 23790; peer port + 1),
# TIDEMQ_MIN_COPIES (default 2: a send is acknowledged once two of the three hold it),
# TIDEMQ_LEASE_TTL_S (default 2), SKIP_BUILD=1 (use the binaries in TIDEMQ_BUILD_DIR as they
# are). Extra arguments to `start` go to every tidemq-broker.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${TIDEMQ_BUILD_DIR:-build}
dir=${TIDEMQ_CLUSTER_DIR:-./cluster-data}
base_port=${TIDEMQ_CLUSTER_PORT:-9810}
etcd_port=${TIDEMQ_ETCD_PORT:-23790}
min_copies=${TIDEMQ_MIN_COPIES:-2}
ttl=${TIDEMQ_LEASE_TTL_S:-2}
group=${TIDEMQ_GROUP:-g1}
brokers=(b1 b2 b3)

port_of() { echo $((base_port + 10 * $1)); }
addr_list() {
  local out=""
  for i in 0 1 2; do out="$out${out:+,}127.0.0.1:$(port_of "$i")"; done
  echo "$out"
}
# The RocketMQ 5 clients' endpoints: every broker's gRPC port (a replica routes to the master).
grpc_list() {
  local out=""
  for i in 0 1 2; do out="$out${out:+;}127.0.0.1:$(($(port_of "$i") + 2))"; done
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

cmd=${1:-}
shift || true
case "$cmd" in
  start)
    ./scripts/install-deps.sh
    [ "${SKIP_BUILD:-0}" = 1 ] || ./scripts/build.sh
    command -v etcd >/dev/null || { echo "error: etcd not found (scripts/install-deps.sh installs etcd-server)" >&2; exit 1; }
    mkdir -p "$dir"
    if alive "$dir/etcd.pid"; then
      echo "etcd already running (pid $(cat "$dir/etcd.pid"))"
    else
      client="http://127.0.0.1:$etcd_port"
      peer="http://127.0.0.1:$((etcd_port + 1))"
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
    fi
    for i in 0 1 2; do
      id=${brokers[$i]}
      port=$(port_of "$i")
      pid_file="$dir/$id.pid"
      if alive "$pid_file"; then
        echo "broker $id already running (pid $(cat "$pid_file")), 127.0.0.1:$port"
        continue
      fi
      mkdir -p "$dir/$id"
      nohup "$build_dir/broker/tidemq-broker" --host 127.0.0.1 --port "$port" \
        --grpc-port "$((port + 2))" --http-port "$((port + 3))" \
        --data-dir "$dir/$id" --group "$group" --broker-id "$id" \
        --etcd "127.0.0.1:$etcd_port" --min-copies "$min_copies" --lease-ttl-s "$ttl" \
        --bootstrap-master "${brokers[0]}" \
        --pid-file "$pid_file" --log-file "$dir/$id.log" "$@" >"$dir/$id.out" 2>&1 &
      echo $! >"$pid_file"
    done
    for i in 0 1 2; do
      id=${brokers[$i]}
      port=$(port_of "$i")
      for _ in $(seq 1 150); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        alive "$dir/$id.pid" || { echo "error: broker $id exited:" >&2; tail -n 20 "$dir/$id.out" >&2; exit 1; }
        sleep 0.1
      done
      echo "broker $id: pid $(cat "$dir/$id.pid"), 127.0.0.1:$port, RocketMQ 5 clients 127.0.0.1:$((port + 2)) (data in $dir/$id, log $dir/$id.log)"
    done
    cat <<MSG

Broker group $group running (min copies $min_copies, lease TTL ${ttl} s). Use it with:

  export TIDEMQ_ADDR=$(addr_list)
  export PATH="\$PWD/$build_dir/tools:\$PATH"
  tidemq cluster status
  tidemq topic create demo && tidemq send demo "hello" && tidemq consume demo --group g --count 1
  kill -9 \$(cat $dir/b1.pid)     # the master dies: a replica takes over within seconds
  scripts/cluster.sh stop

RocketMQ 5 clients: endpoints "$(grpc_list)"
Consoles and /metrics: $(for i in 0 1 2; do printf 'http://127.0.0.1:%s/ ' "$(($(port_of "$i") + 3))"; done)(tokens in $dir/<broker>/console.token)
MSG
    ;;
  status)
    TIDEMQ_ADDR=${TIDEMQ_ADDR:-$(addr_list)} "$build_dir/tools/tidemq" cluster status "$@"
    ;;
  stop)
    for id in "${brokers[@]}"; do stop_pid_file "broker $id" "$dir/$id.pid"; done
    stop_pid_file etcd "$dir/etcd.pid"
    ;;
  *)
    echo "usage: scripts/cluster.sh start|status|stop" >&2
    exit 2
    ;;
esac
