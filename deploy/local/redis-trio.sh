#!/usr/bin/env bash
# A local Redis primary and two replicas for trying cxproxy: daemonized redis-server
# processes with pidfiles, logs and data under DIR, no persistence, loopback only.
# Usage: redis-trio.sh start|stop|status DIR [BASE_PORT]   (ports BASE, BASE+1, BASE+2)
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|status DIR [BASE_PORT]" >&2
  echo "  start   primary on BASE_PORT (default 6379), replicas on BASE_PORT+1 and +2" >&2
  echo "  stop    stop what 'start' started in DIR (idempotent)" >&2
  echo "  status  show each node's process, role and replication state" >&2
  exit 2
}

[ $# -ge 2 ] || usage
action=$1
dir=$2
base=${3:-6379}
if ! [[ $base =~ ^[0-9]+$ ]] || [ "$base" -lt 1 ] || [ "$base" -gt 65533 ]; then
  echo "redis-trio: BASE_PORT must be a port number (got '$base')" >&2
  exit 2
fi

names=(primary replica-1 replica-2)
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_CLI=${REDIS_CLI:-redis-cli}
WAIT_SECONDS=${WAIT_SECONDS:-20}

port_of() { echo $((base + $1)); }

tag=redis-trio
# shellcheck source=deploy/local/redis-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/redis-common.sh"

stop_all() { stop_nodes "${names[@]}"; }

start_all() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local i name port pid started=()

  # Refuse before starting anything: every port must be ours already or free.
  for i in 0 1 2; do
    name=${names[$i]}
    port=$(port_of "$i")
    if pid=$(live_pid "$name"); then
      if [ "$(port_in_cmdline "$pid")" != "$port" ]; then
        echo "redis-trio: $name already runs from $dir (pid $pid) on another port;" >&2
        echo "redis-trio: run '$0 stop $dir' first" >&2
        exit 1
      fi
    elif port_taken "$port"; then
      echo "redis-trio: port $port (for $name) is already in use by another process." >&2
      echo "redis-trio: stop it, or pass another BASE_PORT (uses BASE..BASE+2)." >&2
      exit 1
    fi
  done

  command -v "$REDIS_SERVER" >/dev/null || { echo "redis-trio: $REDIS_SERVER not found" >&2; exit 1; }
  command -v "$REDIS_CLI" >/dev/null || { echo "redis-trio: $REDIS_CLI not found" >&2; exit 1; }

  for i in 0 1 2; do
    name=${names[$i]}
    port=$(port_of "$i")
    if live_pid "$name" >/dev/null; then
      echo "redis-trio: $name already running on 127.0.0.1:$port"
      continue
    fi
    rm -rf "${dir:?}/$name"
    mkdir -p "$dir/$name"
    args=(--port "$port" --bind 127.0.0.1 --daemonize yes
          --pidfile "$dir/$name.pid" --logfile "$dir/$name.log" --dir "$dir/$name"
          --save "" --appendonly no --enable-debug-command local
          --repl-diskless-sync yes --repl-diskless-sync-delay 0)
    [ "$i" -gt 0 ] && args+=(--replicaof 127.0.0.1 "$(port_of 0)" --replica-announce-ip 127.0.0.1)
    if ! "$REDIS_SERVER" "${args[@]}"; then
      echo "redis-trio: $REDIS_SERVER failed to start $name" >&2
      show_log "$name"
      stop_all >/dev/null
      exit 1
    fi
    started+=("$name")
    if ! wait_for "$WAIT_SECONDS" "$name to answer PING on port $port" answers_ping "$port" ||
       ! wait_for 5 "$name's pidfile" live_pid "$name"; then
      show_log "$name"
      stop_all >/dev/null
      exit 1
    fi
  done
  for i in 1 2; do
    if ! wait_for "$WAIT_SECONDS" "${names[$i]} to replicate from the primary" link_up "$(port_of "$i")"; then
      show_log "${names[$i]}"
      show_log primary
      stop_all >/dev/null
      exit 1
    fi
  done
  echo "redis-trio: primary 127.0.0.1:$(port_of 0), replicas 127.0.0.1:$(port_of 1) and" \
       "127.0.0.1:$(port_of 2), replicating (logs and data in $dir)"
}

status_all() {
  local i name port pid all_up=0 role offset link info
  for i in 0 1 2; do
    name=${names[$i]}
    port=$(port_of "$i")
    if pid=$(live_pid "$name"); then
      port=$(port_in_cmdline "$pid")
      port=${port:-$(port_of "$i")}
      role=$(cli "$port" role 2>/dev/null | head -n 1 || true)
      info=$(cli "$port" info replication 2>/dev/null | tr -d '\r' || true)
      offset=$(sed -n 's/^master_repl_offset://p' <<<"$info")
      link=$(sed -n 's/^master_link_status://p' <<<"$info")
      printf '%-10s pid %-7s 127.0.0.1:%-5s role=%s offset=%s%s\n' "$name" "$pid" "$port" \
        "${role:-?}" "${offset:-?}" "${link:+ link=$link}"
    else
      printf '%-10s not running\n' "$name"
      all_up=3
    fi
  done
  return $all_up
}

case $action in
  start) start_all ;;
  stop)
    if [ -d "$dir" ]; then stop_all; fi
    ;;
  status)
    if [ -d "$dir" ]; then status_all; else
      echo "redis-trio: nothing started in $dir"
      exit 3
    fi
    ;;
  *) usage ;;
esac
