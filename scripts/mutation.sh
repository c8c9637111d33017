#!/usr/bin/env bash
# Mutation score of the Discord module's rule types and option parser (issue 14 §5), with Stryker.NET (the local
# dotnet tool in dotnet-tools.json) on its Microsoft.Testing.Platform runner. Not part of CI, not called by
# scripts/test.sh. Reports land in tests/Dockhand.Discord.Tests/StrykerOutput/ (cleartext on stdout, html and json).
#
# How it stays fast enough for two loaded cores:
# - Configuration=Mutation: the test project then compiles only the unit tests of these types (see its .csproj), no
#   loopback servers, so one test session takes a second or two. Those tests are what the score is about: a rule that
#   only an end-to-end test would notice changing counts as a survivor here.
# - coverage-analysis off: every mutant runs that whole small session. Stryker's per-test coverage capture on the MTP
#   runner starts one test session per test (over 6 minutes here before the first mutant ran).
# - A broken wait fails fast: the rate limiter's tests wait until the limiter's timer is armed and fail at once when the
#   acquire completes instead (TimerRecordingTimeProvider.WaitForArmedAsync), so such a mutant costs one test session,
#   not a 30 s condition wait. A mutant that hangs ends at Stryker's timeout (the initial run's time plus
#   additional-timeout, MUTATION_TIMEOUT_MS, 3 s here) and counts as detected ("Timeout").
# - It runs in a CPU-capped cgroup (scripts/starve.sh --exec, no busy loops), so it does not starve other work. The
#   cgroup runs it at nice 10: on a machine already at load 40-70 that left it about 2 mutants a minute (one test
#   session per mutant); MUTATION_NO_CGROUP=1 (nice 0) did 7 a minute on the same machine.
# --target-framework: TargetFramework is set in Directory.Build.props, which Buildalyzer (Stryker's project reader) does
# not read, so without it Stryker stops with "Could not find build environment" (stryker-net issue 3144).
#
#   scripts/mutation.sh                                   # the default files below
#   scripts/mutation.sh Rest/DiscordRateLimiter.cs        # other files (relative to src/Dockhand.Discord)
#   MUTATION_NO_CGROUP=1 scripts/mutation.sh              # without the cgroup (e.g. not root)
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
    DiscordOptions.cs
  )
fi

mutate=()
for f in "${files[@]}"; do mutate+=(--mutate "**/$f"); done

config=$(mktemp --suffix=.json)
trap 'rm -f "$config"' EXIT
cat > "$config" <<JSON
{ "stryker-config": { "coverage-analysis": "off", "additional-timeout": ${MUTATION_TIMEOUT_MS:-3000} } }
JSON

run=(dotnet stryker
  --config-file "$config"
  --test-runner mtp
  --project Dockhand.Discord.csproj
  --configuration Mutation
  "${mutate[@]}"
  --target-framework net10.0
  --concurrency "${STRYKER_CONCURRENCY:-1}"
  --reporter dots --reporter cleartext --reporter html --reporter json
  --break-at 0)

cd tests/Dockhand.Discord.Tests
if [ -n "${MUTATION_NO_CGROUP:-}" ]; then
  "${run[@]}"
else
  STARVE_LOOPS=0 STARVE_QUOTA="${MUTATION_CPU_QUOTA:-100}" ../../scripts/starve.sh --exec "${run[@]}"
fi
