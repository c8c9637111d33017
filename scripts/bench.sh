#!/usr/bin/env bash
# The benchmark (not part of the tests): makes sure the engine and the test images exist, like scripts/test.sh,
# then runs P1-P7 against a real `dockhand run`, side by side with the docker CLI and the Engine API.
# Prints a table and writes bench/results/latest.json and bench/results/latest.md. The server is the release binary,
# what ships (scripts/publish.sh artifacts/publish, reused from its cache when the sources are unchanged), with the JIT
# build beside it in P6; --jit runs every figure on the JIT build instead (no publish). Extra arguments go to the
# benchmark: --quick (small N), --only P1,P3 (P8 and P3env run only when named: --only P8), --out DIR, --native DIR,
# --server-env K=V, --dotnet-counters FILE, --p8-containers N; see docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v curl >/dev/null 2>&1 || { apt-get update -qq >/dev/null; apt-get install -y -qq curl >/dev/null; }
command -v python3 >/dev/null 2>&1 || { apt-get update -qq >/dev/null; apt-get install -y -qq python3 >/dev/null; }
scripts/engine.sh
scripts/test-images.sh

# The Swarm figures (--only S1 and/or S2) run on the three-node test bed: bring it up for them, and take it down after
# when this run brought it up (one already up is left as it is).
swarm_started=
swarm_figures=
previous=
for argument in "$@"; do
  if [ "$previous" = --only ] && [[ ",${argument^^}," =~ ,S[12], ]]; then swarm_figures=1; fi
  previous=$argument
done
if [ -n "$swarm_figures" ]; then
  if [ ! -f /tmp/dockhand-swarm/testbed.state ]; then swarm_started=1; fi
  scripts/swarm-testbed.sh up
fi
release=artifacts/publish
arguments=()
for argument in "$@"; do
  case "$argument" in
    --jit) release= ;;
    --native) release= ; arguments+=("$argument") ;;
    *) arguments+=("$argument") ;;
  esac
done
if [ -n "$release" ]; then
  scripts/publish.sh "$release"
  arguments+=(--native "$release")
fi
status=0
dotnet run -c Release --project bench/Dockhand.Benchmarks -- "${arguments[@]}" || status=$?
if [ -n "$swarm_started" ]; then scripts/swarm-testbed.sh down; fi
exit "$status"
