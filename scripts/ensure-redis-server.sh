#!/usr/bin/env bash
# The Redis tests start their own redis-server on a free loopback port. Make sure the binary is there: install
# Debian's package when we are root on a Debian-like machine, otherwise say exactly what is missing.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server not found: installing Debian's redis-server package (needed by the @effect-singleflight/redis tests)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  command -v redis-server >/dev/null 2>&1 && exit 0
fi

echo "error: the @effect-singleflight/redis tests need redis-server (7.x) on PATH." >&2
echo "       Install it (Debian/Ubuntu: 'sudo apt-get install redis-server'; macOS: 'brew install redis') and run again." >&2
exit 1
