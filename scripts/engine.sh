#!/usr/bin/env bash
# Makes sure a Docker engine answers on DOCKER_HOST (default /var/run/docker.sock).
# Idempotent: installs Debian's docker.io only when dockerd is missing, starts dockerd only when
# nothing answers, and never stops an engine it did not start.
set -euo pipefail

sock="${DOCKER_HOST:-unix:///var/run/docker.sock}"
sock="${sock#unix://}"

engine_answers() { curl -sf --max-time 2 --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; }

bridge_check() {
  # A second dockerd started with --bridge=none on the same host deletes docker0; containers on the default
  # network then fail to start with "could not find bridge docker0". Say so instead of failing obscurely later.
  if command -v ip >/dev/null 2>&1 && ! ip link show docker0 >/dev/null 2>&1; then
    echo "engine: warning: the docker0 bridge is missing; containers on the default network cannot start (Dockhand's tests use CONTAINER_NETWORK=none)" >&2
  fi
}

if engine_answers; then
  echo "engine: already running on $sock"
  bridge_check
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "engine: installing docker.io (dockerd) from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq docker.io >/dev/null
fi

echo "engine: starting dockerd"
mkdir -p /var/log
setsid nohup dockerd --host "unix://$sock" >/var/log/dockhand-dockerd.log 2>&1 < /dev/null &
for _ in $(seq 1 100); do
  if engine_answers; then
    echo "engine: ready"
    exit 0
  fi
  sleep 0.2
done
echo "engine: dockerd did not answer within 20 s; see /var/log/dockhand-dockerd.log" >&2
exit 2
