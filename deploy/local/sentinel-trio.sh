#!/usr/bin/env bash
# Three local Redis Sentinels watching the primary redis-trio.sh starts, so a failover
# can be tried by hand: `redis-cli -p 26379 SENTINEL FAILOVER mymaster`. Daemonized
# redis-sentinel processes with pidfiles, logs and their (rewritten) configs under DIR.
# Usage: sentinel-trio.sh start|stop|status DIR [BASE_PORT] [PRIMARY_PORT]
#   Sentinels on BASE_PORT (default 26379), +1 and +2, monitoring 127.0.0.1:PRIMARY_PORT
#   (default 6379) as "mymaster" with quorum 2.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|status DIR [BASE_PORT] [PRIMARY_PORT]" >&2
  exit 2
}

[ $# -ge 2 ] || usage
action=$1
dir=$2
base=${3:-26379}
primary_port=${4:-6379}
for p in "$base" "$primary_port"; do
  if ! [[ $p =~ ^[0-9]+$ ]] || [ "$p" -lt 1 ] || [ "$p" -gt 65533 ]; then
    echo "sentinel-trio: ports must be port numbers (got '$p')" >&2
    exit 2
  fi
done

MASTER=${SENTINEL_MASTER:-mymaster}
DOWN_AFTER_MS=${SENTINEL_DOWN_AFTER_MS:-2000}
FAILOVER_TIMEOUT_MS=${SENTINEL_FAILOVER_TIMEOUT_MS:-10000}
REDIS_SENTINEL=${REDIS_SENTINEL:-redis-sentinel}
REDIS_CLI=${REDIS_CLI:-redis-cli}
names=(sentinel-1 sentinel-2 sentinel-3)

port_of() { echo $((base + $1)); }
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
live_pid() {
  local pidfile="$dir/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  grep -q redis "/proc/$pid/cmdline" 2>/dev/null || [ ! -d /proc ] || return 1
  echo "$pid"
}
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
cli() { "$REDIS_CLI" -h 127.0.0.1 -p "$1" "${@:2}"; }

stop_all() {
  local name pid i
  for name in "${names[@]}"; do
    if pid=$(live_pid "$name"); then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        alive "$pid" || break
        sleep 0.1
      done
      alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
      echo "sentinel-trio: stopped $name (pid $pid)"
    fi
    rm -f "$dir/$name.pid"
  done
}

start_all() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local i name port
  command -v "$REDIS_SENTINEL" >/dev/null || { echo "sentinel-trio: $REDIS_SENTINEL not found" >&2; exit 1; }
  for i in 0 1 2; do
    name=${names[$i]}
    port=$(port_of "$i")
    if live_pid "$name" >/dev/null; then
      echo "sentinel-trio: $name already running on 127.0.0.1:$port"
      continue
    fi
    if port_taken "$port"; then
      echo "sentinel-trio: port $port (for $name) is already in use by another process" >&2
      stop_all >/dev/null
      exit 1
    fi
    # A fresh config every start: Sentinel rewrites it with what it learns, and an old
    # one would bring back a previous run's primary and peers.
    cat >"$dir/$name.conf" <<CONF
port $port
bind 127.0.0.1
daemonize yes
pidfile $dir/$name.pid
logfile $dir/$name.log
dir $dir
sentinel monitor $MASTER 127.0.0.1 $primary_port 2
sentinel down-after-milliseconds $MASTER $DOWN_AFTER_MS
sentinel failover-timeout $MASTER $FAILOVER_TIMEOUT_MS
sentinel parallel-syncs $MASTER 1
CONF
    if ! "$REDIS_SENTINEL" "$dir/$name.conf"; then
      echo "sentinel-trio: $REDIS_SENTINEL failed to start $name" >&2
      tail -n 15 "$dir/$name.log" >&2 2>/dev/null || true
      stop_all >/dev/null
      exit 1
    fi
  done
  local deadline=$((SECONDS + 20)) ok
  for i in 0 1 2; do
    port=$(port_of "$i")
    until ok=$(cli "$port" sentinel master "$MASTER" 2>/dev/null | tr -d '\r' |
                 awk 'prev=="num-other-sentinels"{print $0} {prev=$0}') && [ "$ok" = 2 ]; do
      if [ $SECONDS -ge $deadline ]; then
        echo "sentinel-trio: ${names[$i]} did not find its two peers within 20s" >&2
        tail -n 15 "$dir/${names[$i]}.log" >&2 2>/dev/null || true
        exit 1
      fi
      sleep 0.2
    done
  done
  echo "sentinel-trio: Sentinels on 127.0.0.1:$(port_of 0), :$(port_of 1), :$(port_of 2) watch" \
       "$MASTER (127.0.0.1:$primary_port), down-after ${DOWN_AFTER_MS}ms"
}

status_all() {
  local i name port pid addr rc=0
  for i in 0 1 2; do
    name=${names[$i]}
    port=$(port_of "$i")
    if pid=$(live_pid "$name"); then
      addr=$(cli "$port" sentinel get-master-addr-by-name "$MASTER" 2>/dev/null | tr '\n' ':' | sed 's/:$//')
      printf '%-11s pid %-7s 127.0.0.1:%-5s %s primary=%s\n' "$name" "$pid" "$port" "$MASTER" "${addr:-?}"
    else
      printf '%-11s not running\n' "$name"
      rc=3
    fi
  done
  return $rc
}

case $action in
  start) start_all ;;
  stop) if [ -d "$dir" ]; then stop_all; fi ;;
  status)
    if [ -d "$dir" ]; then status_all; else
      echo "sentinel-trio: nothing started in $dir"
      exit 3
    fi
    ;;
  *) usage ;;
esac
