# Helpers shared by the local Redis scripts (redis-trio.sh, cluster.sh): daemonized
# redis-server processes with pidfiles and logs under $dir. Sourced, not run. The caller
# sets `dir` (the state directory), `tag` (the prefix of every message) and REDIS_CLI.
# shellcheck shell=bash
# shellcheck disable=SC2154  # dir and tag are set by the caller

# A process that exists and is not a zombie (a daemonized redis that exited stays a
# zombie until init reaps it, and kill -0 still succeeds on it).
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# The pid recorded in $dir/NAME.pid, if that process is still a running redis-server.
live_pid() {
  local pidfile="$dir/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid=$(<"$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null || [ ! -d /proc ] || return 1
  echo "$pid"
}

# The port a running node of ours listens on, or nothing. redis-server rewrites its
# command line to "redis-server 127.0.0.1:PORT" (plus " [cluster]" in cluster mode).
port_in_cmdline() {
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | sed -n 's/.*127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p'
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cli() { "$REDIS_CLI" -h 127.0.0.1 -p "$1" "${@:2}"; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "$tag: timed out after ${seconds}s waiting for $what" >&2
      return 1
    fi
    sleep 0.1
  done
}

answers_ping() { [ "$(cli "$1" ping 2>/dev/null)" = PONG ]; }
link_up() { cli "$1" info replication 2>/dev/null | tr -d '\r' | grep -qx 'master_link_status:up'; }

show_log() {
  echo "--- last lines of $dir/$1.log ---" >&2
  tail -n 15 "$dir/$1.log" >&2 2>/dev/null || true
}

# stop_nodes NAME...: SIGTERM each node's recorded process, SIGKILL after 5 s; removes
# its pidfile. Idempotent.
stop_nodes() {
  local name pid i
  for name in "$@"; do
    if pid=$(live_pid "$name"); then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        alive "$pid" || break
        sleep 0.1
      done
      if alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
      fi
      echo "$tag: stopped $name (pid $pid)"
    fi
    rm -f "$dir/$name.pid"
  done
}
