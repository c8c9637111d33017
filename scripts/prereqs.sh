#!/usr/bin/env bash
# Installs the Debian packages Dockhand's build and scripts need, only those that are missing:
# curl (engine checks) and npm (the web terminal's xterm.js is built from npm packages). Extra package
# names given as arguments are ensured too, each present as a command of that name or as an installed package
# (scripts/test.sh adds chromium for the browser tests, docker-compose for the deployment tests, and, like
# scripts/publish.sh, clang and zlib1g-dev, which Native AOT links the release binary with; and postgresql for the
# store tests, which run against a throwaway server scripts/postgres.sh starts).
set -euo pipefail

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# ip (network namespaces, bridge, veths) for scripts/swarm-testbed.sh.
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
for package in "$@"; do
  command -v "$package" >/dev/null 2>&1 \
    || dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
