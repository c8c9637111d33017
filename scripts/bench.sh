#!/usr/bin/env bash
# The benchmark (not part of the tests): makes sure the engine and the test images exist, like scripts/test.sh,
# then runs P1-P7 against a real `dockhand run`, side by side with the docker CLI and the Engine API.
# Prints a table and writes bench/results/latest.json and bench/results/latest.md. Extra arguments go to the
# benchmark: --quick (small N), --only P1,P3 (P8 and P3env run only when named: --only P8), --out DIR,
# --server-env K=V, --dotnet-counters FILE, --p8-containers N; see docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v curl >/dev/null 2>&1 || { apt-get update -qq >/dev/null; apt-get install -y -qq curl >/dev/null; }
command -v python3 >/dev/null 2>&1 || { apt-get update -qq >/dev/null; apt-get install -y -qq python3 >/dev/null; }
scripts/engine.sh
scripts/test-images.sh

dotnet run -c Release --project bench/Dockhand.Benchmarks -- "$@"
