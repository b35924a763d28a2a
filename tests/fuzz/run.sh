#!/usr/bin/env bash
# Runs every libFuzzer harness of build/fuzz for SECONDS each (README "Testing"), one after
# the other, one process each (-jobs=1: the machine is shared). Each starts from its seed
# corpus (tests/fuzz/corpus/<harness>, read only) plus what earlier runs found
# (build/fuzz/corpus/<harness>, where new inputs go). A crash, leak, sanitizer report or
# timeout leaves its input in build/fuzz/artifacts/ and makes this script fail.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS [harness...]
set -uo pipefail
build=${1:?build dir}
seconds=${2:?seconds per harness}
shift 2
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(fuzz_http_request fuzz_session_token fuzz_resp_reader
                                         fuzz_command_body fuzz_config fuzz_glob)
here=$(cd "$(dirname "$0")" && pwd)
failed=()
mkdir -p "$build/artifacts"
for h in "${harnesses[@]}"; do
  mkdir -p "$build/corpus/$h"
  log="$build/artifacts/$h.log"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/tests/fuzz/$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/artifacts/$h-" "$build/corpus/$h" "$here/corpus/$h" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  if [ $rc -ne 0 ]; then
    failed+=("$h")
    echo "fuzz: $h FAILED (exit $rc) after ${runs:-?} runs; the input is in $build/artifacts/, the log: $log" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_)' "$log" | head -5 >&2
  else
    echo "fuzz: $h ok, ${runs:-?} runs in ${seconds}s"
  fi
done
[ ${#failed[@]} -eq 0 ]
