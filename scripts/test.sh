#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, and runs every test file with node's test runner.
# Each suite starts its own etcd (free ports, temporary data dir) and uses its own queue prefix in Redis.
set -euo pipefail
source "$(dirname "$0")/ensure-services.sh"
trap stop_started_services EXIT

ensure_etcd
ensure_redis
command -v redis-server >/dev/null 2>&1 || apt_install redis-server  # suites that wipe Redis start their own
ensure_chromium
ensure_compose_validator
ensure_node_modules

cd "$DYN_ROOT"
export NX_DAEMON=false
# Two cores: two test files at a time; with three, the engine suites (real etcd, Redis, emulator and engine
# processes each) starved each other and timing-sensitive waits failed.
exec_args=(--test --test-concurrency="${DYNAMITE_TEST_CONCURRENCY:-2}" --test-timeout=600000)
if [ "$#" -gt 0 ]; then
  node "${exec_args[@]}" "$@"
else
  node "${exec_args[@]}" dist/test/
fi
