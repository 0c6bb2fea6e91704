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
# Two cores: three test files at a time keeps the machine busy without starving the servers they start.
exec_args=(--test --test-concurrency="${DYNAMITE_TEST_CONCURRENCY:-3}" --test-timeout=600000)
if [ "$#" -gt 0 ]; then
  node "${exec_args[@]}" "$@"
else
  node "${exec_args[@]}" dist/test/
fi
