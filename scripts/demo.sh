#!/usr/bin/env bash
# The README's first command: watch dynamite scale a small web service up and down on this machine (~90 s).
#   bash scripts/demo.sh [--duration SECONDS] [--keep] [--etcd_endpoint HOST:PORT] [--redis_url URL]
# Installs what the demo needs when it is missing (npm ci and a build, Debian's etcd and Redis), then runs
# `dynamite demo` with the arguments given here. The demo uses Redis and etcd when they answer on their default
# ports, otherwise it starts private ones (free ports, temporary data dirs) and stops them at the end.
set -euo pipefail
source "$(dirname "$0")/ensure-services.sh"

ensure_etcd
command -v redis-server >/dev/null 2>&1 || redis_up || apt_install redis-server
ensure_node_modules

cd "$DYN_ROOT"
exec node bin/dynamite.js demo "$@"
