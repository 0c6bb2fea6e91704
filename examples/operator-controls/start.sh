#!/usr/bin/env bash
# Starts what the operator-control examples need, in the foreground, until Ctrl-C:
#   a private etcd on 127.0.0.1:23790 (its data in a temporary folder), the fleet emulator on 127.0.0.1:49160,
#   and `dynamite run` on examples/operator-controls/dynamite.yaml with the operator listener on 127.0.0.1:8090.
# Redis must answer on 127.0.0.1:6379 (the queues use the prefix dyn-example). Extra arguments go to
# `dynamite run`, e.g.:  bash examples/operator-controls/start.sh --dry_run
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STATE="$(mktemp -d /tmp/dynamite-example.XXXXXX)"
PIDS=()
stop() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$STATE"
}
trap stop EXIT INT TERM

etcd --name example --data-dir "$STATE/etcd" \
  --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
  --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
  --initial-cluster example=http://127.0.0.1:23800 >"$STATE/etcd.log" 2>&1 &
PIDS+=($!)
node "$ROOT/bin/dynamite.js" fleet-emulator --listen 127.0.0.1:49160 >"$STATE/emulator.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  ETCDCTL_API=3 etcdctl --endpoints 127.0.0.1:23790 endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done
echo "etcd 127.0.0.1:23790, fleet emulator 127.0.0.1:49160, operator listener http://127.0.0.1:8090 (state in $STATE)" >&2
node "$ROOT/bin/dynamite.js" run -c "$HERE/dynamite.yaml" -s "$HERE/units" \
  -e 127.0.0.1:23790 -f 127.0.0.1:49160 --queue_prefix dyn-example --http 127.0.0.1:8090 "$@" &
PIDS+=($!)
wait "${PIDS[-1]}"
