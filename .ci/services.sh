#!/usr/bin/env bash
# Start and stop the real services the tests use, on 127.0.0.1 only, with private data folders.
# Sourced by .ci/run; usable by hand: `source .ci/services.sh; start_rabbitmq DIR PORT`.
set -euo pipefail

apt_install() {
  # Another process may hold the dpkg lock; wait for it rather than fail.
  if [ -z "${CANARYFLOW_APT_UPDATED:-}" ]; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    export CANARYFLOW_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$@"
}

ensure_rabbitmq() {
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || apt_install rabbitmq-server
}

# Prometheus: the server binary from Debian's package, without the ~377 MB of recommended extras.
ensure_prometheus() {
  local dir=$1
  if command -v prometheus >/dev/null 2>&1; then PROMETHEUS_BIN=$(command -v prometheus); export PROMETHEUS_BIN; return; fi
  if [ ! -x "$dir/usr/bin/prometheus" ]; then
    [ -n "${CANARYFLOW_APT_UPDATED:-}" ] || { apt-get -o DPkg::Lock::Timeout=300 update -qq; export CANARYFLOW_APT_UPDATED=1; }
    mkdir -p "$dir"
    (cd "$dir" && apt-get download -qq prometheus && dpkg-deb -x prometheus_*.deb "$dir")
  fi
  export PROMETHEUS_BIN="$dir/usr/bin/prometheus"
}

wait_tcp() { # host port seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

start_rabbitmq() { # dir port
  local dir=$1 port=$2
  local node="canaryflow-$port@localhost" epmd=$((5000 + port % 1000))
  rm -rf "$dir" && mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  dir=$(cd "$dir" && pwd) # absolute: the broker runs inside it
  echo "[]." > "$dir/enabled_plugins"
  echo "loopback_users = none" > "$dir/rabbitmq.conf"
  echo "$port" > "$dir/port"
  # Its own epmd port, so that stopping this broker never touches another's epmd.
  # Erlang writes erl_crash.dump and MnesiaCore.* into its working folder: run it (and its CLI tools)
  # inside the broker's folder, never the caller's (a crash once left both in the repository root).
  (
    cd "$dir"
    export ERL_CRASH_DUMP="$dir/log/erl_crash.dump"
    export HOME="$dir/home" RABBITMQ_NODENAME="$node" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
      RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT=$((port + 1)) RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log" \
      RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_CONFIG_FILE="$dir/rabbitmq" \
      ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$epmd" \
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    exec /usr/lib/rabbitmq/bin/rabbitmq-server
  ) > "$dir/server.out" 2>&1 &
  echo $! > "$dir/pid"
  if ! wait_tcp 127.0.0.1 "$port" 60; then
    echo "RabbitMQ did not start; see $dir/server.out" >&2
    tail -20 "$dir/server.out" >&2
    return 1
  fi
  rabbitmqctl_in "$dir" -q await_startup
  export CANARYFLOW_RABBITMQ_PORT=$port CANARYFLOW_RABBITMQ_DIR="$dir"
}

rabbitmqctl_in() { # dir args...
  local dir; dir=$(cd "$1" && pwd); shift
  local port; port=$(cat "$dir/port")
  # Bounded: a stuck CLI call (most have no time limit of their own) fails its caller instead of hanging it.
  (cd "$dir" && HOME="$dir/home" RABBITMQ_NODENAME="canaryflow-$port@localhost" ERL_EPMD_PORT=$((5000 + port % 1000)) \
    ERL_CRASH_DUMP="$dir/log/rabbitmqctl_erl_crash.dump" timeout -k 10 330 /usr/lib/rabbitmq/bin/rabbitmqctl "$@")
}

stop_rabbitmq() { # dir
  local dir=$1
  [ -f "$dir/pid" ] || return 0
  local port epmd; port=$(cat "$dir/port"); epmd=$((5000 + port % 1000))
  rabbitmqctl_in "$dir" -q shutdown 2>/dev/null || kill "$(cat "$dir/pid")" 2>/dev/null || true
  local pid; pid=$(ss -ltnpH "sport = :$epmd" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -f "$dir/pid"
}

# A 3-node RabbitMQ cluster on 127.0.0.1 (issue 15): nodes canaryflow-<port>@localhost on ports PORT, PORT+1, PORT+2,
# Erlang distribution on DIST, DIST+1, DIST+2, one shared epmd and Erlang cookie, data in DIR/n1..n3. Nodes 2 and 3 join
# node 1. Each node folder works with rabbitmqctl_in/stop_rabbitmq; `kill_rabbitmq_node DIR/n2` kills one hard.
start_rabbitmq_cluster() { # dir port dist_port
  local dir=$1 port=$2 dist=$3 i
  rm -rf "$dir" && mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local epmd=$((5000 + port % 1000)) cookie; cookie="canaryflow$(date +%s%N)"
  echo "$dist" > "$dir/dist"
  for i in 1 2 3; do
    local n="$dir/n$i"
    mkdir -p "$n/home" "$n/mnesia" "$n/log"
    echo "[]." > "$n/enabled_plugins"
    printf 'loopback_users = none\ncluster_partition_handling = pause_minority\n' > "$n/rabbitmq.conf"
    echo "$((port + i - 1))" > "$n/port"; echo "$epmd" > "$n/epmd"; echo "$((dist + i - 1))" > "$n/dist"
    printf '%s' "$cookie" > "$n/home/.erlang.cookie" && chmod 400 "$n/home/.erlang.cookie"
    start_rabbitmq_node "$n"
  done
  for i in 1 2 3; do
    local n="$dir/n$i"
    if ! wait_tcp 127.0.0.1 "$(cat "$n/port")" 90; then
      echo "RabbitMQ node $i did not start; see $n/server.out" >&2; tail -20 "$n/server.out" >&2; return 1
    fi
    rabbitmqctl_node "$n" -q await_startup
  done
  for i in 2 3; do # started side by side above; joining is what must be one after the other
    rabbitmqctl_node "$dir/n$i" -q stop_app
    rabbitmqctl_node "$dir/n$i" -q join_cluster "canaryflow-$port@localhost"
    rabbitmqctl_node "$dir/n$i" -q start_app
  done
  export CANARYFLOW_RABBITMQ_CLUSTER_PORTS="$port,$((port + 1)),$((port + 2))" CANARYFLOW_RABBITMQ_CLUSTER_DIR="$dir"
}

start_rabbitmq_node() { # node-dir: (re)start one node of a cluster laid out by start_rabbitmq_cluster; a restarted node rejoins
  local n; n=$(cd "$1" && pwd)
  local p; p=$(cat "$n/port")
  (
    cd "$n"
    export ERL_CRASH_DUMP="$n/log/erl_crash.dump"
    export HOME="$n/home" RABBITMQ_NODENAME="canaryflow-$p@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
      RABBITMQ_NODE_PORT="$p" RABBITMQ_DIST_PORT="$(cat "$n/dist")" RABBITMQ_MNESIA_BASE="$n/mnesia" RABBITMQ_LOG_BASE="$n/log" \
      RABBITMQ_ENABLED_PLUGINS_FILE="$n/enabled_plugins" RABBITMQ_CONFIG_FILE="$n/rabbitmq" \
      ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$(cat "$n/epmd")" \
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    exec /usr/lib/rabbitmq/bin/rabbitmq-server
  ) >> "$n/server.out" 2>&1 &
  echo $! > "$n/pid"
}

rabbitmqctl_node() { # node-dir args...: rabbitmqctl against one cluster node (its HOME holds the cluster's cookie)
  local n; n=$(cd "$1" && pwd); shift
  local port; port=$(cat "$n/port")
  (cd "$n" && HOME="$n/home" RABBITMQ_NODENAME="canaryflow-$port@localhost" ERL_EPMD_PORT="$(cat "$n/epmd")" \
    ERL_CRASH_DUMP="$n/log/rabbitmqctl_erl_crash.dump" timeout -k 10 330 /usr/lib/rabbitmq/bin/rabbitmqctl "$@")
}

kill_rabbitmq_node() { # node-dir: SIGKILL the node's Erlang VM (no clean shutdown), as a crashed machine would
  local n=$1 port pid; port=$(cat "$n/port")
  pid=$(ss -ltnpH "sport = :$port" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
}

stop_rabbitmq_cluster() { # dir
  local dir=$1 i n port pid
  [ -d "$dir" ] || return 0
  for i in 3 2 1; do
    n="$dir/n$i"; [ -f "$n/pid" ] || continue
    rabbitmqctl_node "$n" -q shutdown 2>/dev/null || kill_rabbitmq_node "$n"
    rm -f "$n/pid"
  done
  port=$(cat "$dir/n1/epmd" 2>/dev/null || true)
  if [ -n "$port" ]; then
    pid=$(ss -ltnpH "sport = :$port" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  fi
}
