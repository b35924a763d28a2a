#!/usr/bin/env bash
# Puts Debian's promtool (from the bookworm `prometheus` package) at PREFIX/usr/bin/promtool
# for the metrics exposition test, without installing the Prometheus server and its web
# assets: the .deb is downloaded and only promtool is unpacked. Idempotent.
# Usage: fetch-promtool.sh PREFIX
set -euo pipefail
prefix=$(realpath -m "${1:?usage: $0 PREFIX}")
[ -x "$prefix/usr/bin/promtool" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
( cd "$work" && apt-get download prometheus >/dev/null 2>"$work/download.log" ) || {
  echo "fetch-promtool: could not download Debian's prometheus package:" >&2
  cat "$work/download.log" >&2
  exit 1
}
dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
mkdir -p "$prefix/usr/bin"
mv "$work/usr/bin/promtool" "$prefix/usr/bin/promtool"
echo "fetch-promtool: promtool unpacked at $prefix/usr/bin/promtool" >&2
