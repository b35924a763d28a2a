#!/usr/bin/env bash
# Installs the Debian packages cxproxy builds, tests and runs with. Idempotent: a
# package that is already installed is not touched, and apt is never allowed to remove
# anything (libboost1.81-dev conflicts with libboost1.74-dev).
set -euo pipefail

pkgs=(cmake g++ make pkg-config
      libboost1.81-dev libboost-json1.81-dev
      libhiredis-dev libyaml-cpp-dev libssl-dev libgtest-dev libgmock-dev libjemalloc-dev
      redis-server redis-tools redis-sentinel curl wrk python3 openssl
      clang-14 libclang-rt-14-dev  # libFuzzer harnesses (tests/fuzz/, make fuzz)
      chromium)  # headless: tests render the admin /v1/status page
# Tests run the real @upstash/redis client (tests/clients/upstash/). A node from elsewhere
# (e.g. NodeSource's, which bundles npm) is used as it is: Debian's npm would conflict with it.
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
[ "${CXPROXY_EXTRA_PKGS:-}" ] && read -r -a extra <<<"$CXPROXY_EXTRA_PKGS" && pkgs+=("${extra[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if ! $SUDO apt-get install -y -qq --no-install-recommends --no-remove "${missing[@]}"; then
  echo "install-deps: apt-get could not install: ${missing[*]}" >&2
  echo "install-deps: if the error names a conflict (e.g. libboost1.74-dev), remove that" >&2
  echo "install-deps: package yourself; this script never lets apt remove packages." >&2
  exit 1
fi
