#!/usr/bin/env bash
# Makes sure what the tests and the demo need is installed and running on this machine:
#   - node_modules (npm ci) and a fresh build,
#   - the etcd binary (Debian's etcd-server; each test suite starts its own etcd from it),
#   - Redis reachable on 127.0.0.1:6379 (started here, on loopback, when nothing answers),
#   - Chromium for the browser test (Debian's chromium).
# Sourced by scripts/test.sh and scripts/demo.sh. Sets DYNAMITE_STARTED_REDIS_PID when it started Redis.
set -euo pipefail

DYN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DYN_STATE="${DYN_STATE:-}"  # made only when a service is started here
APT_UPDATED=0

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "dynamite: need $* but apt-get is not available; install it by hand" >&2
    return 1
  fi
  if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_node_modules() {
  cd "$DYN_ROOT"
  if [ "${CI:-}" = "true" ] || [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
  npm run --silent build
}

ensure_etcd() {
  command -v etcd >/dev/null 2>&1 || apt_install etcd-server etcd-client
}

redis_up() {
  (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null
}

ensure_redis() {
  if redis_up; then return 0; fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  [ -n "$DYN_STATE" ] || DYN_STATE="$(mktemp -d /tmp/dynamite-run.XXXXXX)"
  mkdir -p "$DYN_STATE/redis"
  redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --dir "$DYN_STATE/redis" \
    --daemonize yes --pidfile "$DYN_STATE/redis/redis.pid" --logfile "$DYN_STATE/redis/redis.log"
  for _ in $(seq 1 100); do redis_up && break; sleep 0.05; done
  redis_up || { echo "dynamite: could not start redis-server" >&2; return 1; }
  DYNAMITE_STARTED_REDIS_PID="$(cat "$DYN_STATE/redis/redis.pid")"
  export DYNAMITE_STARTED_REDIS_PID
}

ensure_chromium() {
  command -v chromium >/dev/null 2>&1 || apt_install chromium || echo "dynamite: chromium not installed; the browser test will fail" >&2
}

ensure_compose_validator() {
  command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose || true
}

stop_started_services() {
  if [ -n "${DYNAMITE_STARTED_REDIS_PID:-}" ]; then
    kill "$DYNAMITE_STARTED_REDIS_PID" 2>/dev/null || true
  fi
  if [ -n "$DYN_STATE" ]; then rm -rf "$DYN_STATE"; fi
}
