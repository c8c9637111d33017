#!/usr/bin/env bash
# Runs Dockhand on a fresh Debian machine: makes sure a Docker engine answers (scripts/engine.sh: installs Debian's
# docker.io and starts dockerd only when needed), checks that a Discord transport is configured, builds the release
# binary, then starts `dockhand run` (bot + web terminal) in the repository root, so that it reads the root's .env and a
# relative DATABASE_PATH lands there. The process is exec'd: SIGTERM or Ctrl-C reaches dockhand itself, which stops
# gracefully (exit 0). Extra arguments go to dockhand. Settings come from .env and the environment.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dotnet >/dev/null 2>&1; then
  echo "run: the .NET 10 SDK is needed (https://learn.microsoft.com/dotnet/core/install/linux-debian)" >&2
  exit 2
fi

if [ ! -f .env ] && [ -z "${DISCORD_TOKEN:-}" ] && [ -z "${DISCORD_PUBLIC_KEY:-}" ]; then
  echo "run: no .env and neither DISCORD_TOKEN nor DISCORD_PUBLIC_KEY is set; copy env.example to .env and fill it in" >&2
  exit 2
fi

scripts/prereqs.sh
scripts/engine.sh
echo "run: building src/Dockhand (Release)"
# Without the code analyzers: they are a development check (scripts/test.sh's build runs them and fails on their
# warnings); skipping them here roughly halves a fresh build (221 s -> 128 s measured on 2 busy cores).
dotnet build src/Dockhand -c Release --nologo -v quiet -clp:NoSummary -p:RunAnalyzers=false
exec dotnet src/Dockhand/bin/Release/net10.0/dockhand.dll run "$@"
