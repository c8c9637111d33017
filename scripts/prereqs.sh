#!/usr/bin/env bash
# Installs the Debian packages Dockhand's build and scripts need, only those that are missing:
# curl (engine checks) and npm (the web terminal's xterm.js is built from npm packages). Extra package
# names given as arguments are ensured too (scripts/test.sh adds chromium for the browser tests and postgresql for the
# store tests, which run against a throwaway server scripts/postgres.sh starts).
set -euo pipefail

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v npm >/dev/null 2>&1 || missing+=(npm)
for package in "$@"; do
  case "$package" in
    # Debian's server package puts no command on PATH; its binaries live under /usr/lib/postgresql/<version>/bin.
    postgresql) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql) ;;
    *) command -v "$package" >/dev/null 2>&1 || missing+=("$package") ;;
  esac
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
