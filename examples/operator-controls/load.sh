#!/usr/bin/env bash
# Writes a cpu_user sample for one instance every fraction of a second, like an application's metric announcer would:
#   bash examples/operator-controls/load.sh VALUE SECONDS [INSTANCE]
# INSTANCE (default web@18080.service) is registered under a uuid of its own, so a scale down removes it.
# e.g. 95 for 15 s makes web_up fire; 2 for 15 s makes web_down fire on that instance.
set -euo pipefail
VALUE="${1:?value}"
SECONDS_LEFT="${2:?seconds}"
INSTANCE="${3:-web@18080.service}"
UUID="uuid-${INSTANCE%%.service}"
UUID="${UUID//@/-}"
export ETCDCTL_API=3
ctl() { etcdctl --endpoints 127.0.0.1:23790 "$@" >/dev/null; }
ctl put "/services/webserver/$UUID/service_instance_name" "$INSTANCE"
end=$(( $(date +%s) + SECONDS_LEFT ))
while [ "$(date +%s)" -lt "$end" ]; do
  ctl put "/metrics/webserver/$UUID/cpu_user/$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$VALUE"
  sleep 0.2
done
