#!/usr/bin/env bash
# Mutation score of the Discord module's rule types (issue 14 §5), with Stryker.NET on Microsoft.Testing.Platform.
# Not part of CI and not called by scripts/test.sh: it runs the Discord test project once per mutant group and takes
# a long time (tens of minutes on two cores). Reports land in tests/Dockhand.Discord.Tests/StrykerOutput/.
# --target-framework: TargetFramework is set in Directory.Build.props, which Buildalyzer (Stryker's project reader) does
# not read, so without it Stryker stops with "Could not find build environment" (stryker-net issue 3144).
# --concurrency 1: the gateway and REST tests are timing-bound (30 s condition waits); two test sessions in parallel on
# a loaded two-core machine made Stryker stop with "Initial testrun has more than 50% failing tests".
# Stryker's MTP runner is a preview: it captures coverage per test (one test session each), about 6 minutes here before
# the first mutant runs.
#   scripts/mutation.sh                 # the default files below
#   scripts/mutation.sh 'Rest/DiscordRateLimiter.cs'   # other files (globs relative to src/Dockhand.Discord)
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet tool restore >/dev/null

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(
    Rest/DiscordRateLimiter.cs
    Gateway/GatewaySendLimiter.cs
    Gateway/IdentifyGate.cs
    Gateway/GatewayCloseCodes.cs
    Gateway/GatewaySession.cs
    RetryBackoff.cs
    Interactions/InteractionSignatureVerifier.cs
  )
fi

mutate=()
for f in "${files[@]}"; do mutate+=(--mutate "**/$f"); done

cd tests/Dockhand.Discord.Tests
exec dotnet stryker \
  --test-runner mtp \
  --project Dockhand.Discord.csproj \
  "${mutate[@]}" \
  --target-framework net10.0 \
  --concurrency "${STRYKER_CONCURRENCY:-1}" \
  --reporter cleartext --reporter html --reporter json \
  --break-at 0
