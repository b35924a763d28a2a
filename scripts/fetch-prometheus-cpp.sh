#!/usr/bin/env bash
# Puts prometheus-cpp (core) under a prefix for CMake. Bookworm has no package for it;
# Debian trixie's 1.0.2 runs on bookworm (core needs only libc6 >= 2.14, libstdc++6 >= 11).
# We download the trixie .debs with a private apt state (never touching the system's),
# unpack them into PREFIX and patch the packaged CMake config, which hard-codes
# PULL/PUSH/COMPRESSION ON. Idempotent via a stamp file.
# Usage: fetch-prometheus-cpp.sh PREFIX
set -euo pipefail
prefix=$(realpath -m "${1:?usage: $0 PREFIX}")
stamp="$prefix/.stamp-prometheus-cpp-1.0.2"
[ -f "$stamp" ] && exit 0

work="$prefix/.apt"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
mirror=$(grep -hoE 'https?://[^ ]*debian/?$' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -v security | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb [signed-by=$keyring] $mirror trixie main" > "$work/sources.list"
opts=(-o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=/nonexistent
      -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache"
      -o Dir::State::status=/var/lib/dpkg/status -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1)
fail() { echo "fetch-prometheus-cpp: $*" >&2; exit 1; }
apt-get "${opts[@]}" update -qq >/dev/null 2>"$work/update.log" ||
  fail "could not read Debian trixie's package list from $mirror (see $work/update.log)"
( cd "$work/debs" && apt-get "${opts[@]}" download prometheus-cpp-dev libprometheus-cpp-core1.0 \
    libprometheus-cpp-pull1.0 libprometheus-cpp-push1.0 >/dev/null 2>"$work/download.log" ) ||
  fail "could not download prometheus-cpp from trixie (see $work/download.log)"
for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$prefix"; done

cfgdir=$(dirname "$(find "$prefix/usr/lib" -name prometheus-cpp-config.cmake | head -1)")
[ -d "$cfgdir" ] || fail "unpacked packages have no prometheus-cpp-config.cmake"
sed -i -E 's/set\(PROMETHEUS_CPP_ENABLE_(PULL|PUSH|COMPRESSION) ON\)/set(PROMETHEUS_CPP_ENABLE_\1 OFF)/' \
  "$cfgdir/prometheus-cpp-config.cmake"
rm -rf "$work/cache" "$work/lists"
touch "$stamp"
echo "fetch-prometheus-cpp: prometheus-cpp 1.0.2 unpacked under $prefix" >&2
