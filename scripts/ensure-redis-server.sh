#!/usr/bin/env bash
# The Redis tests start their own redis-server on a free loopback port, and a three-master Redis Cluster joined with
# redis-cli. Make sure both binaries are there: install Debian's packages when we are root on a Debian-like machine
# (redis-server depends on redis-tools, which holds redis-cli), otherwise say exactly what is missing.
set -euo pipefail

server="${REDIS_SERVER:-redis-server}"
cli="${REDIS_CLI:-redis-cli}"

missing() {
  ! command -v "$server" >/dev/null 2>&1 || ! command -v "$cli" >/dev/null 2>&1
}

if ! missing; then
  exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server or redis-cli not found: installing Debian's redis-server and redis-tools packages (needed by the @effect-singleflight/redis tests)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
  missing || exit 0
fi

echo "error: the @effect-singleflight/redis tests need redis-server and redis-cli (7.x) on PATH." >&2
echo "       Install them (Debian/Ubuntu: 'sudo apt-get install redis-server redis-tools'; macOS: 'brew install redis')" >&2
echo "       and run again, or set REDIS_SERVER and REDIS_CLI to their paths." >&2
exit 1
