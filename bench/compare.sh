#!/usr/bin/env bash
# `make bench`: cxproxy against webdis (Debian's HTTP front for Redis) and against
# redis-benchmark straight to a replica, on one machine, with one Redis trio.
#
# Starts a Redis primary + 2 replicas (BENCH_REDIS_PORT..+2), cxproxy (Release build)
# and webdis (its own config: loopback, 2 threads, pointed at the same primary), then
# measures with wrk (2 threads, 100-byte values) at 64, 1 and 1,024 connections:
#   cxproxy GET eventual, GET session (with a token), GET strong, PUT session (token);
#   webdis GET and SET (PUT with the value as body); redis-benchmark GET on a replica;
#   at 64 connections also POST /v1/cmd GET, POST /v1/pipeline of 10 GETs and the
#   Upstash protocol's POST / GET (base64 replies, as @upstash/redis asks), all eventual.
# With BENCH_TLS=1 (the default) a TLS phase at 64 connections follows: a second cxproxy
# whose connections to the same Redis trio use TLS (the nodes get a tls-port at run time,
# certificates made here with openssl), and a third with HTTPS on its data listener
# (wrk over TLS, keep-alive), each interleaved with the plain cxproxy: GET eventual and
# PUT session, and the ratio to plain.
# Runs are interleaved (cxproxy, webdis, cxproxy, webdis, ...) and every other round
# goes in reverse order, so drift on a shared machine hits both sides; each row is the
# median over its rounds. Then cxproxy's RSS idle and with 1,000 idle keep-alive
# connections. Prints the table, each ratio against webdis, PASS/FAIL per target, and
# exits 1 if any target is missed. The table is also written as Markdown to
# $BENCH_DIR/results.md; raw wrk/redis-benchmark output stays in $BENCH_DIR/runs/.
#
# Environment (defaults in brackets):
#   BENCH_DURATION [8]      seconds per run (wrk -d; redis-benchmark -n is sized to match)
#   BENCH_ROUNDS [3]        rounds at 64 connections (a median of 3 sets one outlier aside)
#   BENCH_EDGE_ROUNDS [2]   rounds at 1 and at 1,024 connections
#   BENCH_WORKERS [2]       cxproxy `workers`
#   BENCH_THREADS [2]       wrk threads
#   BENCH_CONNECTIONS [64]  BENCH_MANY [1024]  BENCH_IDLE [1000]
#   BENCH_REDIS_PORT [7379] BENCH_DATA_PORT [18080] BENCH_ADMIN_PORT [19100]
#   BENCH_WEBDIS_PORT [18081]  BENCH_DIR [build/bench]  CXPROXY_BIN [build/release/cxproxy]
#   BENCH_TLS [1]           the TLS phase (0: skip); its ports: data/admin +2 and +3, Redis TLS +10..+12
# Quick smoke run: BENCH_DURATION=2 BENCH_ROUNDS=1 BENCH_EDGE_ROUNDS=1 bash bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${CXPROXY_BIN:-build/release/cxproxy}
DIR=${BENCH_DIR:-build/bench}
REDIS_PORT=${BENCH_REDIS_PORT:-7379}
DATA_PORT=${BENCH_DATA_PORT:-18080}
ADMIN_PORT=${BENCH_ADMIN_PORT:-19100}
WEBDIS_PORT=${BENCH_WEBDIS_PORT:-18081}
WORKERS=${BENCH_WORKERS:-2}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
MANY=${BENCH_MANY:-1024}
IDLE=${BENCH_IDLE:-1000}
DURATION=${BENCH_DURATION:-8}
DURATION=${DURATION%s}
ROUNDS=${BENCH_ROUNDS:-3}
EDGE_ROUNDS=${BENCH_EDGE_ROUNDS:-2}
TLS=${BENCH_TLS:-1}
REPLICA_PORT=$((REDIS_PORT + 1))
CX=http://127.0.0.1:$DATA_PORT
WD=http://127.0.0.1:$WEBDIS_PORT
KEY=bench:key         # read by every GET scenario (cxproxy and webdis)
RB_KEY='key:__rand_int__'  # what redis-benchmark -t get reads when -r is not given
VALUE=$(printf 'v%.0s' $(seq 1 100))  # 100 bytes, URL-safe; same as bench/put.lua

die() { echo "bench: $*" >&2; exit 1; }
for v in DURATION ROUNDS EDGE_ROUNDS WORKERS THREADS CONNS MANY IDLE; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || die "$v must be a positive integer (got '${!v}')"
done

# --- tools -----------------------------------------------------------------------
if [ ! -x "$BIN" ]; then
  echo "bench: $BIN not found; building it (make build)" >&2
  make build
fi
if ! command -v webdis >/dev/null; then
  echo "bench: webdis is not installed; installing Debian's package" >&2
  CXPROXY_EXTRA_PKGS="webdis" bash scripts/install-deps.sh
fi
for tool in wrk curl redis-benchmark redis-cli redis-server python3 webdis; do
  command -v "$tool" >/dev/null || die "$tool is not installed (make deps; apt-get install webdis)"
done

# 1,024 connections need fds for wrk, cxproxy, webdis and Redis alike.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((MANY * 2 + 256)) ] ||
  die "ulimit -n is $(ulimit -n): too low for $MANY connections; raise it and rerun"

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$DATA_PORT" "$ADMIN_PORT" "$WEBDIS_PORT"; do
  port_taken "$port" && die "port $port is in use; set BENCH_DATA_PORT / BENCH_ADMIN_PORT / BENCH_WEBDIS_PORT"
done

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
rm -rf "$DIR/runs"
mkdir -p "$DIR/runs"
RUNS=$DIR/runs/runs.tsv
: >"$RUNS"

# --- processes and cleanup -------------------------------------------------------
cxproxy_pid='' webdis_pid='' child_pid='' tls_pid='' https_pid=''
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
  stop_pid "$child_pid"
  stop_pid "$webdis_pid"
  stop_pid "$cxproxy_pid"
  stop_pid "$tls_pid"
  stop_pid "$https_pid"
  bash deploy/local/redis-trio.sh stop "$DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_child CMD...: runs in the background and waits, so Ctrl-C / TERM act at once.
run_child() {
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

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started_at=$(date -u '+%Y-%m-%d %H:%M UTC')
echo "bench: load average at start: $load_start ($(nproc) cores)" >&2

bash deploy/local/redis-trio.sh start "$DIR" "$REDIS_PORT" >&2

cat >"$DIR/cxproxy.yaml" <<EOF
# Generated by bench/compare.sh.
listen:
  data: 127.0.0.1:$DATA_PORT
  admin: 127.0.0.1:$ADMIN_PORT
workers: $WORKERS
redis:
  primary: {name: primary, address: 127.0.0.1:$REDIS_PORT}
  replicas:
    - {name: replica-1, address: 127.0.0.1:$REPLICA_PORT}
    - {name: replica-2, address: 127.0.0.1:$((REDIS_PORT + 2))}
limits:
  max_connections: $((MANY * 4))
log:
  level: warn
EOF
# A fixed key, so the run does not warn about a random one.
CXPROXY_SESSION_KEYS="bench:$(printf '%064d' 0 | tr 0 b)" \
  "$BIN" --config "$DIR/cxproxy.yaml" >"$DIR/cxproxy.log" 2>&1 &
cxproxy_pid=$!
wait_http "$cxproxy_pid" cxproxy "$DIR/cxproxy.log" "http://127.0.0.1:$ADMIN_PORT/readyz"

cat >"$DIR/webdis.json" <<EOF
{
  "redis_host": "127.0.0.1",
  "redis_port": $REDIS_PORT,
  "redis_auth": null,
  "http_host": "127.0.0.1",
  "http_port": $WEBDIS_PORT,
  "threads": 2,
  "daemonize": false,
  "pidfile": "$DIR/webdis.pid",
  "database": 0,
  "verbosity": 0,
  "logfile": "$DIR/webdis.log"
}
EOF
webdis "$DIR/webdis.json" >"$DIR/webdis.out" 2>&1 &
webdis_pid=$!
wait_http "$webdis_pid" webdis "$DIR/webdis.out" "$WD/PING"

# --- data, token and a check of every scenario ----------------------------------
headers=$(curl -sS -D - -o /dev/null -X PUT --data-binary "$VALUE" "$CX/v1/kv/$KEY")
grep -q '^HTTP/1.1 204' <<<"$headers" || die "preloading $KEY through cxproxy failed: $headers"
TOKEN=$(sed -n 's/^X-Session-Token: *//Ip' <<<"$headers" | tr -d '\r')
[ -n "$TOKEN" ] || die "the PUT returned no X-Session-Token"
redis-cli -p "$REDIS_PORT" SET "$RB_KEY" "$VALUE" >/dev/null
for _ in $(seq 1 100); do  # both keys on the replica redis-benchmark reads
  [ "$(redis-cli -p "$REPLICA_PORT" STRLEN "$RB_KEY")" = 100 ] &&
    [ "$(redis-cli -p "$REPLICA_PORT" STRLEN "$KEY")" = 100 ] && break
  sleep 0.05
done

check() {  # check NAME EXPECTED_STATUS CURL_ARGS...: prints "status served-by"
  local name=$1 want=$2 out status role
  shift 2
  out=$(curl -sS -D - -o "$DIR/runs/check-body" "$@")
  status=$(head -n 1 <<<"$out" | awk '{print $2}')
  role=$(sed -n 's/^X-Served-By: *//Ip' <<<"$out" | tr -d '\r')
  [ "$status" = "$want" ] || die "$name: expected $want, got: $out $(cat "$DIR/runs/check-body")"
  echo "bench: check $name: $status${role:+ served by $role}" >&2
}
check "cxproxy GET eventual" 200 -H 'X-Consistency: eventual' "$CX/v1/kv/$KEY"
check "cxproxy GET session" 200 -H 'X-Consistency: session' -H "X-Session-Token: $TOKEN" "$CX/v1/kv/$KEY"
check "cxproxy GET strong" 200 -H 'X-Consistency: strong' "$CX/v1/kv/$KEY"
check "cxproxy PUT session" 204 -X PUT --data-binary "$VALUE" -H 'X-Consistency: session' \
  -H "X-Session-Token: $TOKEN" "$CX/v1/kv/bench:put-cx"
CMD_BODY="[\"GET\",\"$KEY\"]"
PIPELINE_BODY="[$(for i in $(seq 1 10); do printf '%s["GET","%s"]' "$([ "$i" = 1 ] || echo ,)" "$KEY"; done)]"
check "cxproxy POST /v1/cmd GET" 200 -H 'X-Consistency: eventual' --data-binary "$CMD_BODY" "$CX/v1/cmd"
check "cxproxy POST /v1/pipeline 10 GETs" 200 -H 'X-Consistency: eventual' --data-binary "$PIPELINE_BODY" \
  "$CX/v1/pipeline"
[ "$(grep -o '"result"' "$DIR/runs/check-body" | wc -l)" = 10 ] ||
  die "the pipeline returned: $(cat "$DIR/runs/check-body")"
check "cxproxy Upstash POST / GET" 200 -H 'X-Consistency: eventual' -H 'Upstash-Encoding: base64' \
  --data-binary "$CMD_BODY" "$CX/"
check "webdis GET" 200 "$WD/GET/$KEY"
grep -q "\"GET\":\"$VALUE\"" "$DIR/runs/check-body" || die "webdis GET returned: $(cat "$DIR/runs/check-body")"
check "webdis SET" 200 -X PUT --data-binary "$VALUE" "$WD/SET/bench:put-wd"
grep -q '"SET":\[true,"OK"\]' "$DIR/runs/check-body" || die "webdis SET returned: $(cat "$DIR/runs/check-body")"

# --- runs ------------------------------------------------------------------------
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
rss_idle_start=$(rss_kb "$cxproxy_pid")
# idle_conns PORT PID OUT PATH [HEADER]: holds BENCH_IDLE idle keep-alive connections,
# writes "rss_kb=… open=… failed=…" to OUT.
idle_conns() {
  local port=$1 pid=$2 out=$3
  shift 3
  run_child python3 bench/idle_conns.py "$port" "$pid" "$IDLE" "$@" >"$out" 2>&1
}
field() { sed -n "s/.*$1=\([0-9?]*\).*/\1/p" "$2"; }
idle_conns "$DATA_PORT" "$cxproxy_pid" "$DIR/runs/idle-cxproxy-fresh.txt" "/v1/kv/$KEY" 'X-Consistency: eventual' ||
  { cat "$DIR/runs/idle-cxproxy-fresh.txt" >&2; die "holding $IDLE idle connections to cxproxy failed"; }
rss_conns_fresh=$(field rss_kb "$DIR/runs/idle-cxproxy-fresh.txt")

# to_us VALUE: wrk's "970.00us" / "1.23ms" / "2.00s" / "1.00m" in microseconds.
to_us() {
  awk -v s="$1" 'BEGIN { n = s + 0
    if (s ~ /us$/) u = n; else if (s ~ /ms$/) u = n * 1000; else if (s ~ /s$/) u = n * 1e6
    else if (s ~ /m$/) u = n * 6e7; else u = -1
    printf "%.0f", u }'
}

# wrk_run ID CONNS ROUND ARGS...: one wrk run; appends a line to $RUNS.
wrk_run() {
  local id=$1 conns=$2 round=$3 threads=$THREADS out
  shift 3
  [ "$conns" -lt "$threads" ] && threads=$conns
  out=$DIR/runs/$id-c$conns-r$round.txt
  echo "bench: [$conns conns, round $round] $id: wrk -t$threads -c$conns -d${DURATION}s" >&2
  run_child wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency "$@" >"$out" 2>&1 ||
    { cat "$out" >&2; die "wrk failed ($id)"; }
  local rps p50 p99 non2xx sock
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$out")")
  p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$out")")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
  sock=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$conns" "$id" "$round" "${rps:-0}" "$p50" "$p99" \
    "$(( ${non2xx:-0} + ${sock:-0} ))" >>"$RUNS"
}

# rb_run CONNS ROUND: redis-benchmark GET against a replica, -n sized for ~DURATION s.
declare -A rb_n=()
rb_run() {
  local conns=$1 round=$2 out n rc=0
  out=$DIR/runs/rb-get-c$conns-r$round.txt
  if [ -z "${rb_n[$conns]:-}" ]; then  # calibrate on a short run
    local probe=$((conns >= 64 ? 20000 : 3000))
    run_child redis-benchmark -h 127.0.0.1 -p "$REPLICA_PORT" -c "$conns" -n "$probe" -t get -d 100 --csv \
      >"$out.probe" 2>&1 || { cat "$out.probe" >&2; die "redis-benchmark failed"; }
    rb_n[$conns]=$(awk -F'"' -v d="$DURATION" '$2 == "GET" {n = $4 * d; if (n < 1000) n = 1000; printf "%.0f", n}' "$out.probe")
    [ -n "${rb_n[$conns]}" ] || { cat "$out.probe" >&2; die "could not read redis-benchmark's output"; }
  fi
  n=${rb_n[$conns]}
  echo "bench: [$conns conns, round $round] rb-get: redis-benchmark -p $REPLICA_PORT -c $conns -n $n -t get -d 100" >&2
  run_child redis-benchmark -h 127.0.0.1 -p "$REPLICA_PORT" -c "$conns" -n "$n" -t get -d 100 --csv \
    >"$out" 2>&1 || rc=$?
  # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  awk -F'"' -v c="$conns" -v r="$round" -v rc="$rc" '$2 == "GET" {
      printf "%s\trb-get\t%s\t%s\t%.0f\t%.0f\t%d\n", c, r, $4, $10 * 1000, $14 * 1000, rc != 0 }' \
    "$out" >>"$RUNS"
  grep -q "^$conns	rb-get	$round	" "$RUNS" || { cat "$out" >&2; die "could not read redis-benchmark's output"; }
}

run_scenario() {  # run_scenario ID CONNS ROUND
  local id=$1 c=$2 r=$3
  case $id in
    cx-get-eventual) wrk_run "$id" "$c" "$r" -H 'X-Consistency: eventual' "$CX/v1/kv/$KEY" ;;
    cx-get-session)  wrk_run "$id" "$c" "$r" -H 'X-Consistency: session' -H "X-Session-Token: $TOKEN" "$CX/v1/kv/$KEY" ;;
    cx-get-strong)   wrk_run "$id" "$c" "$r" -H 'X-Consistency: strong' "$CX/v1/kv/$KEY" ;;
    cx-put-session)  wrk_run "$id" "$c" "$r" -s bench/put.lua -H 'X-Consistency: session' \
                       -H "X-Session-Token: $TOKEN" "$CX/v1/kv/bench:put-cx" ;;
    cx-cmd-get)      BENCH_BODY=$CMD_BODY wrk_run "$id" "$c" "$r" -s bench/post_json.lua \
                       -H 'X-Consistency: eventual' "$CX/v1/cmd" ;;
    cx-pipeline-10)  BENCH_BODY=$PIPELINE_BODY wrk_run "$id" "$c" "$r" -s bench/post_json.lua \
                       -H 'X-Consistency: eventual' "$CX/v1/pipeline" ;;
    cx-upstash-get)  BENCH_BODY=$CMD_BODY wrk_run "$id" "$c" "$r" -s bench/post_json.lua \
                       -H 'X-Consistency: eventual' -H 'Upstash-Encoding: base64' "$CX/" ;;
    wd-get)          wrk_run "$id" "$c" "$r" "$WD/GET/$KEY" ;;
    wd-set)          wrk_run "$id" "$c" "$r" -s bench/put.lua "$WD/SET/bench:put-wd" ;;
    rb-get)          rb_run "$c" "$r" ;;
  esac
}

# cxproxy and webdis alternate; even rounds run the list backwards.
ORDER=(cx-get-eventual wd-get cx-get-session wd-set cx-put-session rb-get cx-get-strong)
# Batches and the Upstash protocol, measured at $CONNS connections only, interleaved too.
BATCH_ORDER=(cx-cmd-get cx-pipeline-10 cx-upstash-get)
run_phase() {  # run_phase CONNS ROUNDS [SCENARIO...]
  local c=$1 rounds=$2 r i
  shift 2
  local order=("${ORDER[@]}")
  [ $# -gt 0 ] && order=("$@")
  for ((r = 1; r <= rounds; r++)); do
    if ((r % 2)); then
      for ((i = 0; i < ${#order[@]}; i++)); do run_scenario "${order[$i]}" "$c" "$r"; done
    else
      for ((i = ${#order[@]} - 1; i >= 0; i--)); do run_scenario "${order[$i]}" "$c" "$r"; done
    fi
  done
}

# Warm-up (not recorded): connections, allocator and CPU caches on both servers.
run_child wrk -t"$THREADS" -c"$CONNS" -d1s -H 'X-Consistency: eventual' "$CX/v1/kv/$KEY" >/dev/null
run_child wrk -t"$THREADS" -c"$CONNS" -d1s "$WD/GET/$KEY" >/dev/null

run_phase "$CONNS" "$ROUNDS"
run_phase "$CONNS" "$ROUNDS" "${BATCH_ORDER[@]}"
run_phase 1 "$EDGE_ROUNDS"
run_phase "$MANY" "$EDGE_ROUNDS"

# --- TLS ---------------------------------------------------------------------------
# TLS to Redis (the same trio, with a tls-port each) and HTTPS on the data listener, each
# against the plain cxproxy in the same rounds.
TLS_IDS=()
if [ "$TLS" = 1 ]; then
  command -v openssl >/dev/null || die "openssl is not installed (BENCH_TLS=0 skips the TLS phase)"
  tls=$DIR/tls
  rm -rf "$tls"
  mkdir -p "$tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=bench CA" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign >"$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; die "openssl CA"; }
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$tls/server.key" -out "$tls/server.csr" >>"$tls/openssl.log" 2>&1 || die "openssl request"
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$tls/ext"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
    -extfile "$tls/ext" -out "$tls/server.pem" >>"$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; die "openssl sign"; }
  for i in 0 1 2; do
    redis-cli -p $((REDIS_PORT + i)) CONFIG SET tls-cert-file "$tls/server.pem" tls-key-file "$tls/server.key" \
      tls-ca-cert-file "$tls/ca.pem" tls-auth-clients no tls-port $((REDIS_PORT + 10 + i)) >/dev/null ||
      die "Redis on port $((REDIS_PORT + i)) did not take a tls-port (built without TLS?)"
  done
  tls_config() {  # tls_config DATA_PORT ADMIN_PORT redis|https
    echo "listen:"
    echo "  data: 127.0.0.1:$1"
    echo "  admin: 127.0.0.1:$2"
    [ "$3" = https ] && echo "  data_tls: {cert_file: $tls/server.pem, key_file: $tls/server.key}"
    echo "workers: $WORKERS"
    echo "redis:"
    local p=$REDIS_PORT
    [ "$3" = redis ] && p=$((REDIS_PORT + 10))
    echo "  primary: {name: primary, address: 127.0.0.1:$p}"
    echo "  replicas:"
    echo "    - {name: replica-1, address: 127.0.0.1:$((p + 1))}"
    echo "    - {name: replica-2, address: 127.0.0.1:$((p + 2))}"
    [ "$3" = redis ] && printf '  tls: {enabled: true, ca_file: %s}\n' "$tls/ca.pem"
    echo "limits:"
    echo "  max_connections: $((MANY * 4))"
    echo "log:"
    echo "  level: warn"
  }
  TLS_DATA=$((DATA_PORT + 2)) TLS_ADMIN=$((ADMIN_PORT + 2))
  HTTPS_DATA=$((DATA_PORT + 3)) HTTPS_ADMIN=$((ADMIN_PORT + 3))
  tls_config "$TLS_DATA" "$TLS_ADMIN" redis >"$DIR/cxproxy-tls.yaml"
  tls_config "$HTTPS_DATA" "$HTTPS_ADMIN" https >"$DIR/cxproxy-https.yaml"
  CXPROXY_SESSION_KEYS="bench:$(printf '%064d' 0 | tr 0 b)" \
    "$BIN" --config "$DIR/cxproxy-tls.yaml" >"$DIR/cxproxy-tls.log" 2>&1 &
  tls_pid=$!
  CXPROXY_SESSION_KEYS="bench:$(printf '%064d' 0 | tr 0 b)" \
    "$BIN" --config "$DIR/cxproxy-https.yaml" >"$DIR/cxproxy-https.log" 2>&1 &
  https_pid=$!
  wait_http "$tls_pid" "cxproxy (TLS to Redis)" "$DIR/cxproxy-tls.log" "http://127.0.0.1:$TLS_ADMIN/readyz"
  wait_http "$https_pid" "cxproxy (HTTPS)" "$DIR/cxproxy-https.log" "http://127.0.0.1:$HTTPS_ADMIN/readyz"
  TLS_CX=http://127.0.0.1:$TLS_DATA
  HTTPS_CX=https://127.0.0.1:$HTTPS_DATA
  check "cxproxy (TLS to Redis) GET eventual" 200 -H 'X-Consistency: eventual' "$TLS_CX/v1/kv/$KEY"
  check "cxproxy (HTTPS) GET eventual" 200 --cacert "$tls/ca.pem" -H 'X-Consistency: eventual' "$HTTPS_CX/v1/kv/$KEY"
  tls_scenario() {  # tls_scenario ID ROUND
    case $1 in
      cx-get-eventual) run_scenario cx-get-eventual "$CONNS" "t$2" ;;
      cx-put-session) run_scenario cx-put-session "$CONNS" "t$2" ;;
      tls-get-eventual) wrk_run "$1" "$CONNS" "$2" -H 'X-Consistency: eventual' "$TLS_CX/v1/kv/$KEY" ;;
      tls-put-session) wrk_run "$1" "$CONNS" "$2" -s bench/put.lua -H 'X-Consistency: session' \
                         -H "X-Session-Token: $TOKEN" "$TLS_CX/v1/kv/bench:put-cx" ;;
      https-get-eventual) wrk_run "$1" "$CONNS" "$2" -H 'X-Consistency: eventual' "$HTTPS_CX/v1/kv/$KEY" ;;
      https-put-session) wrk_run "$1" "$CONNS" "$2" -s bench/put.lua -H 'X-Consistency: session' \
                           -H "X-Session-Token: $TOKEN" "$HTTPS_CX/v1/kv/bench:put-cx" ;;
    esac
  }
  TLS_ORDER=(cx-get-eventual tls-get-eventual https-get-eventual cx-put-session tls-put-session https-put-session)
  run_child wrk -t"$THREADS" -c"$CONNS" -d1s "$HTTPS_CX/v1/kv/$KEY" >/dev/null
  for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then
      for ((i = 0; i < ${#TLS_ORDER[@]}; i++)); do tls_scenario "${TLS_ORDER[$i]}" "$r"; done
    else
      for ((i = ${#TLS_ORDER[@]} - 1; i >= 0; i--)); do tls_scenario "${TLS_ORDER[$i]}" "$r"; done
    fi
  done
  TLS_IDS=(tls-get-eventual https-get-eventual tls-put-session https-put-session)
fi

# --- memory ------------------------------------------------------------------------
sleep 1
rss_idle_after=$(rss_kb "$cxproxy_pid")
idle_conns "$DATA_PORT" "$cxproxy_pid" "$DIR/runs/idle-cxproxy.txt" "/v1/kv/$KEY" 'X-Consistency: eventual' ||
  { cat "$DIR/runs/idle-cxproxy.txt" >&2; die "holding $IDLE idle connections to cxproxy failed"; }
rss_idle_conns=$(field rss_kb "$DIR/runs/idle-cxproxy.txt")
idle_open=$(field open "$DIR/runs/idle-cxproxy.txt")
idle_failed=$(field failed "$DIR/runs/idle-cxproxy.txt")
wd_rss_idle=$(rss_kb "$webdis_pid")
idle_conns "$WEBDIS_PORT" "$webdis_pid" "$DIR/runs/idle-webdis.txt" "/GET/$KEY" || true
wd_rss_conns=$(field rss_kb "$DIR/runs/idle-webdis.txt")
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ------------------------------------------------------------------------
# Median over rounds per (conns, scenario): conns id rps p50 p99 errors(sum) rounds
SUMMARY=$DIR/runs/summary.tsv
awk -F'\t' '
  function median(a, n,   i, j, t) {  # insertion sort (mawk has no asort)
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { k = $1 "\t" $2
    if (!(k in cnt)) { keys[++nkeys] = k; cnt[k] = 0; err[k] = 0 }
    n = ++cnt[k]; rps[k, n] = $4; p50[k, n] = $5; p99[k, n] = $6; err[k] += $7 }
  END {
    for (i = 1; i <= nkeys; i++) {
      k = keys[i]; n = cnt[k]
      for (j = 1; j <= n; j++) { a[j] = rps[k, j] + 0; b[j] = p50[k, j] + 0; c[j] = p99[k, j] + 0 }
      m = median(a, n)  # sorts a: a[1] is the slowest run, a[n] the fastest
      printf "%s\t%.0f\t%.0f\t%.0f\t%d\t%d\t%.0f\t%.0f\n", k, m, median(b, n), median(c, n), err[k], n, a[1], a[n]
    }
  }' "$RUNS" >"$SUMMARY"

get() {  # get CONNS ID FIELD(rps|p50|p99|err|runs|min|max)
  awk -F'\t' -v c="$1" -v id="$2" -v f="$3" '$1 == c && $2 == id {
    print (f == "rps") ? $3 : (f == "p50") ? $4 : (f == "p99") ? $5 : (f == "err") ? $6 \
      : (f == "runs") ? $7 : (f == "min") ? $8 : $9 }' "$SUMMARY"
}
label() {
  case $1 in
    cx-get-eventual) echo "cxproxy GET eventual" ;;
    cx-get-session) echo "cxproxy GET session (token)" ;;
    cx-get-strong) echo "cxproxy GET strong" ;;
    cx-put-session) echo "cxproxy PUT session (token)" ;;
    wd-get) echo "webdis GET" ;;
    wd-set) echo "webdis SET (PUT body)" ;;
    rb-get) echo "redis-benchmark GET, replica" ;;
    tls-get-eventual) echo "cxproxy GET eventual, TLS to Redis" ;;
    tls-put-session) echo "cxproxy PUT session (token), TLS to Redis" ;;
    https-get-eventual) echo "cxproxy GET eventual, HTTPS listener" ;;
    https-put-session) echo "cxproxy PUT session (token), HTTPS listener" ;;
    cx-cmd-get) echo "cxproxy POST /v1/cmd GET eventual" ;;
    cx-pipeline-10) echo "cxproxy POST /v1/pipeline, 10 GETs eventual" ;;
    cx-upstash-get) echo "cxproxy Upstash POST / GET eventual (base64)" ;;
  esac
}
baseline() { case $1 in cx-put-session | wd-set | *-put-session) echo wd-set ;; *) echo wd-get ;; esac; }
plain_of() { case $1 in *-put-session) echo cx-put-session ;; *) echo cx-get-eventual ;; esac; }
ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "-" }'; }

spread() {  # spread CONNS ID: "min–max (N)" of the req/s over N runs, or "(1 run)"
  local n
  n=$(get "$1" "$2" runs)
  if [ "${n:-0}" -gt 1 ]; then echo "$(get "$1" "$2" min)–$(get "$1" "$2" max) ($n)"; else echo "(1 run)"; fi
}
TABLE_IDS=(cx-get-eventual cx-get-session cx-get-strong cx-put-session wd-get wd-set rb-get)
md=$DIR/results.md
{
  echo "| connections | scenario | requests/s | req/s range (runs) | p50 ms | p99 ms | errors | req/s vs webdis | p99 vs webdis |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
  for c in "$CONNS" 1 "$MANY"; do
    for id in "${TABLE_IDS[@]}"; do
      b=$(baseline "$id")
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$c" "$(label "$id")" "$(get "$c" "$id" rps)" \
        "$(spread "$c" "$id")" \
        "$(ms "$(get "$c" "$id" p50)")" "$(ms "$(get "$c" "$id" p99)")" "$(get "$c" "$id" err)" \
        "$(ratio "$(get "$c" "$id" rps)" "$(get "$c" "$b" rps)")" \
        "$(ratio "$(get "$c" "$id" p99)" "$(get "$c" "$b" p99)")"
    done
  done
  for id in "${BATCH_ORDER[@]}"; do
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$CONNS" "$(label "$id")" "$(get "$CONNS" "$id" rps)" \
      "$(spread "$CONNS" "$id")" \
      "$(ms "$(get "$CONNS" "$id" p50)")" "$(ms "$(get "$CONNS" "$id" p99)")" "$(get "$CONNS" "$id" err)" - -
  done
  if [ ${#TLS_IDS[@]} -gt 0 ]; then
    echo
    echo "| connections | TLS scenario | requests/s | req/s range (runs) | p50 ms | p99 ms | errors | req/s vs plain cxproxy | p99 vs plain |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    for id in "${TLS_IDS[@]}"; do
      b=$(plain_of "$id")
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$CONNS" "$(label "$id")" "$(get "$CONNS" "$id" rps)" \
        "$(spread "$CONNS" "$id")" \
        "$(ms "$(get "$CONNS" "$id" p50)")" "$(ms "$(get "$CONNS" "$id" p99)")" "$(get "$CONNS" "$id" err)" \
        "$(ratio "$(get "$CONNS" "$id" rps)" "$(get "$CONNS" "$b" rps)")" \
        "$(ratio "$(get "$CONNS" "$id" p99)" "$(get "$CONNS" "$b" p99)")"
    done
  fi
} >"$DIR/runs/table.md"

# --- targets ---------------------------------------------------------------------
results=() failed=0
target() {  # target OK(0|1) TEXT
  if [ "$1" = 1 ]; then results+=("PASS  $2"); else results+=("FAIL  $2"); failed=1; fi
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? 1 : 0 }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? 1 : 0 }'; }
mb() { awk -v k="$1" 'BEGIN { if (k ~ /^[0-9]+$/) printf "%.1f MB", k / 1024; else print "?" }'; }
mul() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a * b }'; }

ev=$(get "$CONNS" cx-get-eventual rps) wg=$(get "$CONNS" wd-get rps)
ev99=$(get "$CONNS" cx-get-eventual p99) wg99=$(get "$CONNS" wd-get p99)
target "$(ge "$ev" "$(mul "$wg" 1.5)")" \
  "GET eventual ≥ 1.5× webdis GET req/s: $ev vs $wg ($(ratio "$ev" "$wg"))"
target "$(le "$ev99" "$wg99")" \
  "GET eventual p99 ≤ webdis GET p99: $(ms "$ev99") ms vs $(ms "$wg99") ms"
se=$(get "$CONNS" cx-get-session rps)
target "$(ge "$se" "$(mul "$wg" 1.3)")" \
  "GET session ≥ 1.3× webdis GET req/s: $se vs $wg ($(ratio "$se" "$wg"))"
pu=$(get "$CONNS" cx-put-session rps) ws=$(get "$CONNS" wd-set rps)
target "$(ge "$pu" "$(mul "$ws" 1.3)")" \
  "PUT session ≥ 1.3× webdis SET req/s: $pu vs $ws ($(ratio "$pu" "$ws"))"
c1=$(get 1 cx-get-eventual p50) r1=$(get 1 rb-get p50)
target "$(le "$((c1 - r1))" 40)" \
  "1 connection: cxproxy GET eventual p50 − redis-benchmark GET p50 ≤ 40 µs: $c1 − $r1 = $((c1 - r1)) µs"
for id in cx-get-eventual cx-get-session cx-get-strong cx-put-session; do
  a=$(get "$MANY" "$id" rps) b=$(get "$CONNS" "$id" rps) e=$(get "$MANY" "$id" err)
  target "$(( $(ge "$a" "$(mul "$b" 0.9)") && e == 0 ))" \
    "$MANY connections, $(label "$id"): ≥ 0.9× the $CONNS-connection rate, no errors: $a vs $b ($(ratio "$a" "$b")), $e errors"
done
for id in tls-get-eventual tls-put-session; do
  [ ${#TLS_IDS[@]} -gt 0 ] || break
  a=$(get "$CONNS" "$id" rps) b=$(get "$CONNS" "$(plain_of "$id")" rps)
  target "$(ge "$a" "$(mul "$b" 0.85)")" \
    "$(label "$id"): ≥ 0.85× plain (TLS to Redis costs ≤ 15%): $a vs $b ($(ratio "$a" "$b"))"
done
cg=$(get "$CONNS" cx-cmd-get rps) pl=$(get "$CONNS" cx-pipeline-10 rps) ug=$(get "$CONNS" cx-upstash-get rps)
target "$(ge "$(mul "$pl" 10)" "$(mul "$cg" 5)")" \
  "/v1/pipeline of 10 GETs ≥ 5× the commands/s of single /v1/cmd GETs: $(mul "$pl" 10) vs $cg ($(ratio "$(mul "$pl" 10)" "$cg"))"
target "$(ge "$ug" "$(mul "$cg" 0.9)")" \
  "Upstash POST / GET within 10% of /v1/cmd GET req/s: $ug vs $cg ($(ratio "$ug" "$cg"))"
rss_ok=0
[ "${idle_open:-0}" -ge "$IDLE" ] && [ "${idle_failed:-1}" = 0 ] && [ "$rss_idle_conns" -le 30720 ] && rss_ok=1
target "$rss_ok" \
  "RSS ≤ 30 MB with $IDLE idle keep-alive connections (after the load): $(mb "$rss_idle_conns") ($idle_open open, $idle_failed failed)"

cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)
{
  echo "## cxproxy vs webdis ($started_at)"
  echo
  echo "Machine: ${cpu:-unknown CPU}, $(nproc) cores shared by every process here (wrk and" \
       "redis-benchmark included), $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo) RAM," \
       "Linux $(uname -r). Load average (1/5/15 min): $load_start at start, $load_end at the end."
  echo
  echo "Settings: cxproxy workers $WORKERS, tracking default; webdis $(dpkg-query -W -f='${Version}' webdis 2>/dev/null)," \
       "2 threads, default pool; Redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')," \
       "primary + 2 replicas on loopback; wrk -t$THREADS (-t1 at 1 connection), ${DURATION} s per run," \
       "100-byte values; $ROUNDS rounds at $CONNS connections, $EDGE_ROUNDS at 1 and $MANY, alternated" \
       "A/B/A/B, medians. redis-benchmark: one thread, GET on a replica, -n sized to about ${DURATION} s."
  echo
  cat "$DIR/runs/table.md"
  echo
  echo "cxproxy RSS (VmRSS): $(mb "$rss_idle_start") idle at start, $(mb "$rss_conns_fresh") with $IDLE idle" \
       "keep-alive connections before the load; $(mb "$rss_idle_after") idle after the load, $(mb "$rss_idle_conns")" \
       "with $IDLE idle connections after it. webdis after the load: $(mb "$wd_rss_idle") idle, $(mb "$wd_rss_conns") with $IDLE."
  echo
  echo "Targets:"
  echo
  printf -- '- %s\n' "${results[@]}"
} >"$md"

echo
cat "$md"
echo
echo "(Markdown in $md; raw wrk and redis-benchmark output in $DIR/runs/)"
exit "$failed"
