#!/usr/bin/env bash
# `make run`: a local Redis primary + two replicas (build/local) and cxproxy in front of
# them with config.example.yaml. Prints requests to try; Ctrl-C stops everything.
# SENTINEL=1 (`make run SENTINEL=1` or `make run-sentinel`) also starts three Sentinels
# (deploy/local/sentinel-trio.sh) watching the primary as "mymaster", and runs cxproxy in
# sentinel mode: a copy of the config (build/local/cxproxy-sentinel.yaml) whose
# redis.primary/replicas are replaced by redis.sentinel naming the three Sentinels, so
# cxproxy follows a failover (README "Failover").
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=${CXPROXY_BIN:-build/release/cxproxy}
CONFIG=${CXPROXY_CONFIG:-config.example.yaml}
TRIO_DIR=build/local
SENTINEL=${SENTINEL:-0}
SENTINEL_BASE_PORT=${SENTINEL_BASE_PORT:-26379}

if [ ! -x "$BIN" ]; then
  echo "run: $BIN not found or not executable: build it first with 'make build'" >&2
  exit 1
fi
if [ ! -f "$CONFIG" ]; then
  echo "run: config file $CONFIG not found (run from the repository root)" >&2
  exit 1
fi
command -v curl >/dev/null || { echo "run: curl is needed to wait for readiness" >&2; exit 1; }

# Addresses from the config (README "Configuration"), with the documented defaults.
data=$(sed -n 's/^[[:space:]]*data:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$CONFIG" | head -n 1)
admin=$(sed -n 's/^[[:space:]]*admin:[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$CONFIG" | head -n 1)
primary_port=$(sed -n 's/^[[:space:]]*primary:.*address:[[:space:]]*[^:,}]*:\([0-9][0-9]*\).*/\1/p' "$CONFIG" | head -n 1)
data=${data:-127.0.0.1:8080}
admin=${admin:-127.0.0.1:9100}
primary_port=${primary_port:-6379}

cxproxy_pid=
# shellcheck disable=SC2317  # called through trap
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$cxproxy_pid" ] && kill -0 "$cxproxy_pid" 2>/dev/null; then
    echo
    echo "run: stopping cxproxy (pid $cxproxy_pid)"
    kill -TERM "$cxproxy_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
      kill -0 "$cxproxy_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$cxproxy_pid" 2>/dev/null || true
    wait "$cxproxy_pid" 2>/dev/null || true
  fi
  if [ "$SENTINEL" = 1 ]; then bash deploy/local/sentinel-trio.sh stop "$TRIO_DIR" || true; fi
  bash deploy/local/redis-trio.sh stop "$TRIO_DIR" || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! bash deploy/local/redis-trio.sh start "$TRIO_DIR" "$primary_port"; then
  echo "run: could not start the local Redis nodes (ports $primary_port..$((primary_port + 2)))." >&2
  echo "run: if another Redis holds them, stop it, or run with CXPROXY_CONFIG=<a copy of" >&2
  echo "run: $CONFIG whose redis addresses use other ports>." >&2
  exit 1
fi

if [ "$SENTINEL" = 1 ] &&
   ! bash deploy/local/sentinel-trio.sh start "$TRIO_DIR" "$SENTINEL_BASE_PORT" "$primary_port"; then
  echo "run: could not start the local Sentinels (ports $SENTINEL_BASE_PORT..$((SENTINEL_BASE_PORT + 2)))" >&2
  exit 1
fi

if [ "$SENTINEL" = 1 ]; then
  # The config with its redis.primary and redis.replicas swapped for redis.sentinel.
  sentinel_config="$TRIO_DIR/cxproxy-sentinel.yaml"
  awk -v base="$SENTINEL_BASE_PORT" '
    /^[^[:space:]#]/ { in_redis = ($0 ~ /^redis:/) }
    in_redis && /^redis:/ {
      print
      print "  sentinel:                     # discovered through Sentinel (deploy/local/run.sh)"
      print "    master: mymaster"
      printf "    addresses: [127.0.0.1:%d, 127.0.0.1:%d, 127.0.0.1:%d]\n", base, base + 1, base + 2
      print "  failover_wait: 0s             # writes during a failover: 503 primary_unavailable at once"
      next
    }
    in_redis && (/^  primary:/ || /^  replicas:/ || /^    - /) { next }
    { print }
  ' "$CONFIG" >"$sentinel_config"
  CONFIG=$sentinel_config
fi

if [ -z "${CXPROXY_SESSION_KEYS:-}" ]; then
  echo "run: CXPROXY_SESSION_KEYS is unset: cxproxy will use a random session key" \
       "(tokens do not survive a restart)"
fi
echo "run: starting $BIN --config $CONFIG"
"$BIN" --config "$CONFIG" &
cxproxy_pid=$!

ready=
for _ in $(seq 1 200); do
  if ! kill -0 "$cxproxy_pid" 2>/dev/null; then
    status=0
    wait "$cxproxy_pid" || status=$?
    cxproxy_pid=
    echo "run: cxproxy exited during start-up (status $status); see its messages above" >&2
    exit 1
  fi
  if curl -fsS -o /dev/null "http://$admin/readyz" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "run: cxproxy is running but http://$admin/readyz did not answer 200 within 20s;" \
       "check its messages above" >&2
fi

cat <<EOF

cxproxy is serving on http://$data (admin on http://$admin). Try:

  curl -i -X PUT --data-binary 'world' http://$data/v1/kv/hello
  curl -i http://$data/v1/kv/hello
  curl -i -H 'X-Consistency: strong' http://$data/v1/kv/hello
  curl -i -H 'X-Consistency: bounded' -H 'X-Max-Staleness: 250ms' http://$data/v1/kv/hello
  curl -i -H 'X-Consistency: eventual' http://$data/v1/kv/hello
  # read your own writes: send back the X-Session-Token from the PUT's response
  curl -i -H 'X-Consistency: session' -H 'X-Session-Token: <token>' http://$data/v1/kv/hello
  curl -i -X POST -H 'Content-Type: application/json' -d '["HSET","user:1","name","ada"]' http://$data/v1/cmd
  curl -i -X POST -d '["HGETALL","user:1"]' http://$data/v1/cmd
  curl -i -X DELETE http://$data/v1/kv/hello
  curl -s http://$admin/metrics | grep ^cxproxy_
  curl -s http://$admin/v1/status
  bash deploy/local/redis-trio.sh status $TRIO_DIR $primary_port

Press Ctrl-C to stop cxproxy and the Redis nodes.
EOF
if [ "$SENTINEL" = 1 ]; then
  cat <<EOF

Sentinels watch the primary as "mymaster" on 127.0.0.1:$SENTINEL_BASE_PORT..$((SENTINEL_BASE_PORT + 2)), and
cxproxy follows them ($CONFIG; backends are named host:port). Try a failover:

  redis-cli -p $SENTINEL_BASE_PORT SENTINEL FAILOVER mymaster
  curl -i -X PUT --data-binary 'after' http://$data/v1/kv/hello    # X-Served-By: the new primary
  curl -s http://$admin/v1/status                                  # sentinels, standings, primary
  bash deploy/local/sentinel-trio.sh status $TRIO_DIR $SENTINEL_BASE_PORT
  bash deploy/local/redis-trio.sh status $TRIO_DIR $primary_port

During the failover writes and strong reads get 503 primary_unavailable with Retry-After;
a session whose acknowledged write was lost gets 409 session_history_lost.
EOF
fi

status=0
wait "$cxproxy_pid" || status=$?
cxproxy_pid=
echo "run: cxproxy exited with status $status"
exit "$status"
