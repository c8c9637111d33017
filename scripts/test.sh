#!/usr/bin/env bash
# The one command that runs every test: it installs and starts what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/prereqs.sh chromium
scripts/engine.sh
scripts/test-images.sh

dotnet test --solution Dockhand.slnx "$@"
