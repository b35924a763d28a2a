#!/usr/bin/env bash
# `make bench-curves`: how cxproxy's cost grows with the work, one short run per point.
#
#   size      value size 16 B .. 1 MiB, GET (eventual) and PUT, req/s and payload MB/s,
#             cxproxy vs webdis (GET /GET/key.txt: the raw value, no JSON; PUT /SET/key)
#   conns     1 .. 10,000 connections, GET eventual: req/s, p99, peak RSS; then RSS with
#             1,000 and 10,000 idle keep-alive connections (bench/idle_conns.py)
#   rules     2 .. 10,000 rules of the shape `tenantN:*:profile`, GET eventual on a key
#             that matches none; each rule count is loaded by a hot reload (SIGHUP), timed
#             until the admin /v1/status shows the new count
#   replicas  1, 2, 4, 8 replicas (cxproxy restarted for each): cxproxy's CPU while idle
#             (the tracker polling every backend) and the GET eventual rate
#
# Every point runs BENCH_POINT_RUNS times (default 2) and the tables show each run: the
# machine may be shared. Writes bench/plots/*.png and bench/plots/tables.md (the tables the
# plots are drawn from); raw output in $BENCH_DIR (default build/bench-curves).
#
# Environment (defaults in brackets):
#   BENCH_CURVES ["size conns rules replicas"]  which curves
#   BENCH_POINT_SECONDS [3]   wrk -d per point     BENCH_POINT_RUNS [2]
#   BENCH_CONNECTIONS [64]    connections for the size, rules and replica curves
#   BENCH_SIZES, BENCH_CONN_POINTS  override the points ("16 1024 ...")
#   BENCH_LINEAR_BIN []       a second cxproxy binary to run the rules curve with too
#                             (e.g. one built with the linear matcher, to compare)
#   BENCH_REDIS_PORT [7479] (primary; replicas on the next 8 ports)
#   BENCH_DATA_PORT [18180] BENCH_ADMIN_PORT [19200] BENCH_WEBDIS_PORT [18181]
#   BENCH_DIR [build/bench-curves]  BENCH_OUT [bench/plots]  CXPROXY_BIN [build/release/cxproxy]
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${CXPROXY_BIN:-build/release/cxproxy}
LINEAR_BIN=${BENCH_LINEAR_BIN:-}
DIR=${BENCH_DIR:-build/bench-curves}
OUT=${BENCH_OUT:-bench/plots}
CURVES=${BENCH_CURVES:-size conns rules replicas}
D=${BENCH_POINT_SECONDS:-3}
RUNS=${BENCH_POINT_RUNS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
REDIS_PORT=${BENCH_REDIS_PORT:-7479}
DATA_PORT=${BENCH_DATA_PORT:-18180}
ADMIN_PORT=${BENCH_ADMIN_PORT:-19200}
WEBDIS_PORT=${BENCH_WEBDIS_PORT:-18181}
THREADS=2
CX=http://127.0.0.1:$DATA_PORT
WD=http://127.0.0.1:$WEBDIS_PORT
read -r -a SIZES <<<"${BENCH_SIZES:-16 1024 16384 262144 1048576}"
read -r -a CONN_POINTS <<<"${BENCH_CONN_POINTS:-1 64 1024 4096 10000}"
RULE_POINTS=(2 100 1000 10000)
REPLICA_POINTS=(1 2 4 8)

die() { echo "bench-curves: $*" >&2; exit 1; }
say() { echo "bench-curves: $*" >&2; }
for v in D RUNS CONNS; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || die "$v must be a positive integer (got '${!v}')"
done

# --- tools ---------------------------------------------------------------------------
if [ ! -x "$BIN" ]; then
  say "$BIN not found; building it (make build)"
  make build
fi
need=()
command -v webdis >/dev/null || need+=(webdis)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)
if [ ${#need[@]} -gt 0 ]; then
  say "installing Debian's ${need[*]}"
  CXPROXY_EXTRA_PKGS="${need[*]}" bash scripts/install-deps.sh
fi
for tool in wrk curl redis-server redis-cli python3 webdis gnuplot; do
  command -v "$tool" >/dev/null || die "$tool is not installed (make deps)"
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 10300 ] ||
  die "ulimit -n is $(ulimit -n): 10,000 connections need more; raise it and rerun"

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$DATA_PORT" "$ADMIN_PORT" "$WEBDIS_PORT" $(seq "$REDIS_PORT" $((REDIS_PORT + 8))); do
  port_taken "$port" && die "port $port is in use; set BENCH_REDIS_PORT / BENCH_DATA_PORT / BENCH_ADMIN_PORT / BENCH_WEBDIS_PORT"
done

mkdir -p "$DIR" "$OUT"
DIR=$(cd "$DIR" && pwd)
OUT=$(cd "$OUT" && pwd)
rm -rf "$DIR/runs" "$DIR/redis"
mkdir -p "$DIR/runs" "$DIR/redis"
DATA=$DIR/runs/points.tsv  # curve series x run rps p99_us errors rss_kb extra
: >"$DATA"

# --- processes -----------------------------------------------------------------------
declare -A redis_pid=()
cxproxy_pid='' webdis_pid='' child_pid='' sampler_pid=''
# shellcheck disable=SC2317  # called from cleanup, through trap
stop_pid() {  # stop_pid PID: TERM, up to 10 s, then KILL
  local pid=$1
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317  # called through trap
cleanup() {
  trap - EXIT INT TERM
  stop_pid "$sampler_pid"
  stop_pid "$child_pid"
  stop_pid "$webdis_pid"
  stop_pid "$cxproxy_pid"
  local p
  for p in "${redis_pid[@]}"; do stop_pid "$p"; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

run_child() {  # in the background and waited for, so Ctrl-C / TERM act at once
  "$@" &
  child_pid=$!
  local rc=0
  wait "$child_pid" || rc=$?
  child_pid=
  return $rc
}

wait_http() {  # wait_http PID NAME LOG URL
  local pid=$1 name=$2 log=$3 url=$4
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; die "$name exited during start-up (log: $log)"; }
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  tail -n 20 "$log" >&2
  die "$name not ready after 20 s (log: $log)"
}

redis_start() {  # redis_start INDEX (0: primary, N: replica N)
  local i=$1 port=$((REDIS_PORT + $1)) args=()
  [ "$i" -gt 0 ] && args=(--replicaof 127.0.0.1 "$REDIS_PORT")
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR/redis" \
    --dbfilename "dump-$port.rdb" --logfile "$DIR/redis/$port.log" --maxclients 20000 "${args[@]}" &
  redis_pid[$i]=$!
  for _ in $(seq 1 100); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
    sleep 0.1
  done
}
redis_stop() { stop_pid "${redis_pid[$1]}"; unset "redis_pid[$1]"; }
replicas_synced() {  # replicas_synced N: replicas 1..N have their link up and the primary's offset
  local i want
  for _ in $(seq 1 200); do
    want=$(redis-cli -p "$REDIS_PORT" info replication | tr -d '\r' | sed -n 's/^master_repl_offset://p')
    for ((i = 1; i <= $1; i++)); do
      redis-cli -p $((REDIS_PORT + i)) info replication | tr -d '\r' |
        grep -q "^slave_repl_offset:$want$" || continue 2
    done
    return 0
  done
  die "replicas did not catch up with the primary"
}

RULES_FILE=$DIR/rules.yaml
write_rules() {  # write_rules N: N rules tenant0..tenantN-1 (none for 0)
  python3 - "$1" >"$RULES_FILE" <<'EOF'
import sys
n = int(sys.argv[1])
if n:
    print("consistency:\n  rules:")
    for i in range(n):
        print(f"    - name: tenant{i}\n      keys: 'tenant{i}:*:profile'\n      level: eventual")
EOF
}
write_config() {  # write_config REPLICAS
  {
    echo "# Generated by bench/curves.sh."
    echo "listen: {data: 127.0.0.1:$DATA_PORT, admin: 127.0.0.1:$ADMIN_PORT}"
    echo "workers: 2"
    echo "redis:"
    echo "  primary: {name: primary, address: 127.0.0.1:$REDIS_PORT}"
    if [ "$1" -gt 0 ]; then
      echo "  replicas:"
      for ((i = 1; i <= $1; i++)); do echo "    - {name: replica-$i, address: 127.0.0.1:$((REDIS_PORT + i))}"; done
    fi
    echo "limits: {max_connections: 20000, max_body_bytes: 2MiB}"
    echo "log: {level: warn}"
    cat "$RULES_FILE"
  } >"$DIR/cxproxy.yaml"
}
cx_start() {  # cx_start REPLICAS [BINARY]
  local bin=${2:-$BIN}
  write_config "$1"
  CXPROXY_SESSION_KEYS="bench:$(printf '%064d' 0 | tr 0 b)" \
    "$bin" --config "$DIR/cxproxy.yaml" >"$DIR/cxproxy.log" 2>&1 &
  cxproxy_pid=$!
  wait_http "$cxproxy_pid" cxproxy "$DIR/cxproxy.log" "http://127.0.0.1:$ADMIN_PORT/readyz"
}
cx_stop() { stop_pid "$cxproxy_pid"; cxproxy_pid=''; }
webdis_start() {
  cat >"$DIR/webdis.json" <<EOF
{"redis_host": "127.0.0.1", "redis_port": $REDIS_PORT, "redis_auth": null,
 "http_host": "127.0.0.1", "http_port": $WEBDIS_PORT, "threads": 2, "daemonize": false,
 "pidfile": "$DIR/webdis.pid", "database": 0, "verbosity": 0, "logfile": "$DIR/webdis.log"}
EOF
  webdis "$DIR/webdis.json" >"$DIR/webdis.out" 2>&1 &
  webdis_pid=$!
  wait_http "$webdis_pid" webdis "$DIR/webdis.out" "$WD/PING"
}

# --- measuring -----------------------------------------------------------------------
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }  # every thread's CPU time
to_us() {  # wrk's "970.00us" / "1.23ms" / "2.00s" in microseconds
  awk -v s="$1" 'BEGIN { n = s + 0
    if (s ~ /us$/) u = n; else if (s ~ /ms$/) u = n * 1000; else if (s ~ /s$/) u = n * 1e6; else u = -1
    printf "%.0f", u }'
}
# point CURVE SERIES X RUN CONNS WRK_ARGS...: one wrk run against cxproxy or webdis,
# sampling the peak RSS of the server under test ($server_pid) while it runs.
server_pid=''
point() {
  local curve=$1 series=$2 x=$3 run=$4 conns=$5 threads=$THREADS out peak d=$D
  shift 5
  [ "$conns" -ge 4096 ] && [ "$d" -lt 6 ] && d=6  # wrk spends the first seconds connecting
  [ "$conns" -lt "$threads" ] && threads=$conns
  out=$DIR/runs/$curve-$series-$x-r$run.txt
  say "[$curve] $series x=$x run $run: wrk -c$conns -d${d}s"
  (peak=0; while :; do r=$(rss_kb "$server_pid" 2>/dev/null || echo 0); [ "$r" -gt "$peak" ] && peak=$r &&
     echo "$peak" >"$out.rss"; sleep 0.2; done) &
  sampler_pid=$!
  run_child wrk -t"$threads" -c"$conns" -d"${d}s" --timeout 10s --latency "$@" >"$out" 2>&1 ||
    { cat "$out" >&2; die "wrk failed ($curve $series $x)"; }
  stop_pid "$sampler_pid"
  sampler_pid=''
  local rps p99 non2xx sock
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
  p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
  sock=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")
  peak=$(cat "$out.rss" 2>/dev/null || echo 0)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$curve" "$series" "$x" "$run" "${rps:-0}" "$p99" \
    "$(( ${non2xx:-0} + ${sock:-0} ))" "$peak" >>"$DATA"
}
extra() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$DIR/runs/extra.tsv"; }  # curve what x run value
: >"$DIR/runs/extra.tsv"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started_at=$(date -u '+%Y-%m-%d %H:%M UTC')
say "load average at start: $load_start ($(nproc) cores)"

redis_start 0
redis_start 1
redis_start 2
replicas_synced 2
write_rules 0
cx_start 2
webdis_start
VALUE100=$(printf 'v%.0s' $(seq 1 100))
curl -fsS -o /dev/null -X PUT --data-binary "$VALUE100" "$CX/v1/kv/bench:key" || die "preloading bench:key failed"

want() { [[ " $CURVES " == *" $1 "* ]]; }

# --- value size ----------------------------------------------------------------------
if want size; then
  for s in "${SIZES[@]}"; do
    head -c "$s" /dev/zero | tr '\0' v >"$DIR/value-$s"
    curl -fsS -o /dev/null -X PUT --data-binary @"$DIR/value-$s" "$CX/v1/kv/bench:v$s" || die "PUT of $s bytes failed"
    got=$(curl -fsS -H 'X-Consistency: strong' "$CX/v1/kv/bench:v$s" | wc -c)
    [ "$got" = "$s" ] || die "cxproxy GET of $s bytes returned $got"
    got=$(curl -fsS "$WD/GET/bench:v$s.txt" | wc -c)
    [ "$got" = "$s" ] || die "webdis GET .txt of $s bytes returned $got bytes"
  done
  replicas_synced 2
  run_child wrk -t2 -c"$CONNS" -d1s -H 'X-Consistency: eventual' "$CX/v1/kv/bench:key" >/dev/null  # warm-up
  for s in "${SIZES[@]}"; do
    for ((r = 1; r <= RUNS; r++)); do
      server_pid=$cxproxy_pid
      point size cx-get "$s" "$r" "$CONNS" -H 'X-Consistency: eventual' "$CX/v1/kv/bench:v$s"
      server_pid=$webdis_pid
      point size wd-get "$s" "$r" "$CONNS" "$WD/GET/bench:v$s.txt"
      server_pid=$cxproxy_pid
      BENCH_VALUE_BYTES=$s point size cx-put "$s" "$r" "$CONNS" -s bench/put_size.lua "$CX/v1/kv/bench:p$s"
      server_pid=$webdis_pid
      BENCH_VALUE_BYTES=$s point size wd-put "$s" "$r" "$CONNS" -s bench/put_size.lua "$WD/SET/bench:wp$s"
    done
  done
fi

# --- connections -----------------------------------------------------------------------
if want conns; then
  # A fresh process: the size curve leaves large buffers behind in the allocator.
  cx_stop
  cx_start 2
  server_pid=$cxproxy_pid
  sleep 1
  idle_rss() {  # idle_rss RUN WHEN: RSS with 0, 1,000 and 10,000 idle keep-alive connections
    local base n
    base=$(rss_kb "$cxproxy_pid")
    for n in 1000 10000; do
      run_child python3 bench/idle_conns.py "$DATA_PORT" "$cxproxy_pid" "$n" /v1/kv/bench:key 'X-Consistency: eventual' \
        >"$DIR/runs/idle-$2-$n-r$1.txt" 2>&1 || { cat "$DIR/runs/idle-$2-$n-r$1.txt" >&2; die "holding $n idle connections failed"; }
      extra conns "rss-idle-$2" "$n" "$1" "$(sed -n 's/.*rss_kb=\([0-9]*\).*/\1/p' "$DIR/runs/idle-$2-$n-r$1.txt")"
      extra conns "rss-idle-base-$2" "$n" "$1" "$base"
      sleep 1
    done
  }
  idle_rss 1 fresh
  for c in "${CONN_POINTS[@]}"; do
    for ((r = 1; r <= RUNS; r++)); do
      point conns cx-get "$c" "$r" "$c" -H 'X-Consistency: eventual' "$CX/v1/kv/bench:key"
    done
  done
  sleep 1
  idle_rss 1 after
fi

# --- rules -------------------------------------------------------------------------------
# reload_to N: SIGHUP after writing N rules; milliseconds until /v1/status shows them.
reload_to() {
  write_rules "$1"
  write_config 2
  python3 - "$ADMIN_PORT" "$1" "$cxproxy_pid" <<'EOF'
import json, os, signal, sys, time, urllib.request
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
t0 = time.monotonic()
os.kill(pid, signal.SIGHUP)
while time.monotonic() - t0 < 30:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/status") as r:
        if json.load(r)["config"]["rules"] == n:
            print(f"{(time.monotonic() - t0) * 1000:.1f}")
            sys.exit(0)
    time.sleep(0.001)
sys.exit(1)
EOF
}
if want rules; then
  bins=("cx:$BIN")
  [ -n "$LINEAR_BIN" ] && bins+=("linear:$LINEAR_BIN")
  for entry in "${bins[@]}"; do
    series=${entry%%:*} bin=${entry#*:}
    cx_stop
    write_rules 0
    cx_start 2 "$bin"
    server_pid=$cxproxy_pid
    run_child wrk -t2 -c"$CONNS" -d1s -H 'X-Consistency: eventual' "$CX/v1/kv/bench:key" >/dev/null
    for n in "${RULE_POINTS[@]}"; do
      for ((r = 1; r <= RUNS; r++)); do
        reload_to 0 >/dev/null || die "reload to 0 rules failed"
        ms=$(reload_to "$n") || die "reload to $n rules was not seen within 30 s"
        extra rules "reload-$series" "$n" "$r" "$ms"
        point rules "$series" "$n" "$r" "$CONNS" -H 'X-Consistency: eventual' "$CX/v1/kv/bench:key"
      done
    done
  done
  write_rules 0
  cx_stop
  cx_start 2
fi

# --- replicas ------------------------------------------------------------------------------
if want replicas; then
  for i in 3 4 5 6 7 8; do redis_start "$i"; done
  replicas_synced 8
  for n in "${REPLICA_POINTS[@]}"; do
    cx_stop
    cx_start "$n"
    server_pid=$cxproxy_pid
    sleep 1
    for ((r = 1; r <= RUNS; r++)); do
      t0=$(cpu_ns "$cxproxy_pid")
      sleep 5
      t1=$(cpu_ns "$cxproxy_pid")
      # CPU ms per second of wall time, idle: the tracker's polls and the loops' timers.
      extra replicas idle-cpu-ms-per-s "$n" "$r" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 / 5 }')"
      point replicas cx-get "$n" "$r" "$CONNS" -H 'X-Consistency: eventual' "$CX/v1/kv/bench:key"
    done
  done
  cx_stop
  for i in 3 4 5 6 7 8; do redis_stop "$i"; done
fi

load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- tables and plots -------------------------------------------------------------------------
python3 bench/curves_report.py "$DIR/runs" "$OUT" "$RUNS" \
  "$started_at; load average $load_start at start, $load_end at the end; $(nproc) cores; ${D} s per point, $CONNS connections unless the curve varies them"
say "tables: $OUT/tables.md; plots: $OUT/*.png; raw output: $DIR/runs/"
