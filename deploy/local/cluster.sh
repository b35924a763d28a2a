#!/usr/bin/env bash
# A local Redis Cluster for trying cxproxy's cluster mode: three shards of one primary and
# one replica, daemonized redis-server --cluster-enabled processes with pidfiles, logs,
# data and cluster configs under DIR, no persistence, loopback only, formed with
# `redis-cli --cluster create`. Every start forms a fresh, empty cluster.
# Usage: cluster.sh start|stop|status DIR [BASE_PORT]
#   nodes on BASE_PORT (default 7000) .. BASE_PORT+5, cluster bus on each port + 10000
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|status DIR [BASE_PORT]" >&2
  echo "  start   six nodes on BASE_PORT (default 7000) .. BASE_PORT+5: three shards, one replica each" >&2
  echo "  stop    stop what 'start' started in DIR (idempotent)" >&2
  echo "  status  show each node's process, role, slots and the cluster's state" >&2
  exit 2
}

[ $# -ge 2 ] || usage
action=$1
dir=$2
base=${3:-7000}
# The cluster bus listens on port + 10000.
if ! [[ $base =~ ^[0-9]+$ ]] || [ "$base" -lt 1 ] || [ "$base" -gt 55530 ]; then
  echo "cluster: BASE_PORT must be a port number up to 55530 (got '$base')" >&2
  exit 2
fi

names=(node-0 node-1 node-2 node-3 node-4 node-5)
REDIS_SERVER=${REDIS_SERVER:-redis-server}
REDIS_CLI=${REDIS_CLI:-redis-cli}
WAIT_SECONDS=${WAIT_SECONDS:-30}
NODE_TIMEOUT_MS=${CLUSTER_NODE_TIMEOUT_MS:-5000}

tag=cluster
# shellcheck source=deploy/local/redis-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/redis-common.sh"

port_of() { echo $((base + $1)); }
stop_all() { stop_nodes "${names[@]}"; }

cluster_info() { cli "$1" cluster info 2>/dev/null | tr -d '\r'; }
# cluster_state:ok, every slot served, and all six nodes known by the role they have:
# cluster_state turns ok before gossip has told every node which nodes became replicas.
cluster_ok() {
  local info
  info=$(cluster_info "$1")
  grep -qx 'cluster_state:ok' <<<"$info" && grep -qx 'cluster_slots_ok:16384' <<<"$info" &&
    grep -qx "cluster_known_nodes:${#names[@]}" <<<"$info" || return 1
  cli "$1" cluster nodes 2>/dev/null | awk '
    $3 ~ /fail|handshake|noaddr/ { bad++ } $3 ~ /master/ { m++ } $3 ~ /slave/ { s++ }
    END { exit !(m == 3 && s == 3 && !bad) }'
}
is_replica() { cli "$1" role 2>/dev/null | head -n 1 | grep -qx slave; }

fail_start() {  # fail_start NAME...: show those logs, stop everything, exit 1
  local name
  for name in "$@"; do show_log "$name"; done
  stop_all >/dev/null
  exit 1
}

start_all() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local i name port running=0

  for i in "${!names[@]}"; do
    live_pid "${names[$i]}" >/dev/null && running=$((running + 1))
  done
  if [ "$running" -eq "${#names[@]}" ] && cluster_ok "$(port_of 0)"; then
    echo "cluster: already running on 127.0.0.1:$(port_of 0)-$(port_of 5) (logs and data in $dir)"
    return 0
  fi
  if [ "$running" -gt 0 ]; then
    echo "cluster: $running of ${#names[@]} nodes already run from $dir, not as a healthy cluster;" >&2
    echo "cluster: run '$0 stop $dir' first" >&2
    exit 1
  fi
  # Refuse before starting anything: every client and bus port must be free.
  for i in "${!names[@]}"; do
    port=$(port_of "$i")
    for p in "$port" $((port + 10000)); do
      if port_taken "$p"; then
        echo "cluster: port $p (for ${names[$i]}) is already in use by another process." >&2
        echo "cluster: stop it, or pass another BASE_PORT (uses BASE..BASE+5 and those + 10000)." >&2
        exit 1
      fi
    done
  done

  command -v "$REDIS_SERVER" >/dev/null || { echo "cluster: $REDIS_SERVER not found" >&2; exit 1; }
  command -v "$REDIS_CLI" >/dev/null || { echo "cluster: $REDIS_CLI not found" >&2; exit 1; }

  local addresses=()
  for i in "${!names[@]}"; do
    name=${names[$i]}
    port=$(port_of "$i")
    rm -rf "${dir:?}/$name"
    mkdir -p "$dir/$name"
    args=(--port "$port" --bind 127.0.0.1 --daemonize yes
          --pidfile "$dir/$name.pid" --logfile "$dir/$name.log" --dir "$dir/$name"
          --save "" --appendonly no --enable-debug-command local
          --repl-diskless-sync yes --repl-diskless-sync-delay 0
          --cluster-enabled yes --cluster-config-file "$dir/$name/nodes.conf"
          --cluster-node-timeout "$NODE_TIMEOUT_MS" --cluster-announce-ip 127.0.0.1)
    if ! "$REDIS_SERVER" "${args[@]}"; then
      echo "cluster: $REDIS_SERVER failed to start $name" >&2
      fail_start "$name"
    fi
    if ! wait_for "$WAIT_SECONDS" "$name to answer PING on port $port" answers_ping "$port" ||
       ! wait_for 5 "$name's pidfile" live_pid "$name"; then
      fail_start "$name"
    fi
    addresses+=("127.0.0.1:$port")
  done

  # The first three become primaries, each of the others a replica of one of them.
  if ! "$REDIS_CLI" --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes \
       >"$dir/create.log" 2>&1; then
    echo "cluster: redis-cli --cluster create failed:" >&2
    tail -n 20 "$dir/create.log" >&2
    fail_start
  fi
  for i in "${!names[@]}"; do
    port=$(port_of "$i")
    wait_for "$WAIT_SECONDS" "${names[$i]} to report cluster_state:ok with all six nodes" cluster_ok "$port" ||
      fail_start "${names[$i]}"
    if is_replica "$port"; then
      wait_for "$WAIT_SECONDS" "${names[$i]} to replicate from its primary" link_up "$port" ||
        fail_start "${names[$i]}"
    fi
  done
  echo "cluster: 3 shards on 127.0.0.1:$(port_of 0)-$(port_of 5), ready (logs and data in $dir):"
  shards_summary "$(port_of 0)"
}

# One line per shard from CLUSTER NODES: its primary, slots and replicas.
shards_summary() {
  cli "$1" cluster nodes 2>/dev/null | tr -d '\r' | awk '
    { addr = $2; sub(/@.*/, "", addr); id[$1] = addr }
    $3 ~ /master/ { slots = ""; for (i = 9; i <= NF; i++) slots = slots (slots == "" ? "" : ",") $i
                    primary[$1] = slots }
    $3 ~ /slave/  { replicas[$4] = replicas[$4] " " addr }
    END { for (p in primary) printf "  primary %s slots %s, replicas:%s\n", id[p], primary[p], replicas[p] }' | sort ||
    true
}

status_all() {
  local i name port pid all_up=0 role state
  for i in "${!names[@]}"; do
    name=${names[$i]}
    if pid=$(live_pid "$name"); then
      port=$(port_in_cmdline "$pid")
      port=${port:-$(port_of "$i")}
      role=$(cli "$port" role 2>/dev/null | head -n 1 || true)
      state=$(cluster_info "$port" | sed -n 's/^cluster_state://p' || true)
      printf '%-7s pid %-7s 127.0.0.1:%-5s role=%s cluster_state=%s\n' "$name" "$pid" "$port" \
        "${role:-?}" "${state:-?}"
    else
      printf '%-7s not running\n' "$name"
      all_up=3
    fi
  done
  if [ "$all_up" -eq 0 ]; then shards_summary "$(port_of 0)"; fi
  return $all_up
}

case $action in
  start) start_all ;;
  stop)
    if [ -d "$dir" ]; then stop_all; fi
    ;;
  status)
    if [ -d "$dir" ]; then status_all; else
      echo "cluster: nothing started in $dir"
      exit 3
    fi
    ;;
  *) usage ;;
esac
