#!/usr/bin/env bash
# The one command that runs every test: it installs and starts what the tests need, then runs them.
# A hang fails fast instead of eating CI's 90 minutes: a test host in which no test has started or finished for 8 minutes
# is dumped and killed and the tests it was running are named (HangDump: TestResults/<project>_<pid>_hang.log, and a
# mini dump beside it; the slowest test, ReadmeRunTests, takes 1.5-3.5 minutes and gives up by itself after 6);
# after 15 minutes the test platform cancels the whole run (--timeout, exit code 3; the TRX report names the tests
# that were cancelled); and if even that does not end it, `timeout` kills everything after 25 minutes (exit 124).
# Reports (one TRX per test project) go to TestResults/ in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/prereqs.sh chromium postgresql docker-compose clang zlib1g-dev
scripts/engine.sh
scripts/test-images.sh

# The store tests run against SQLite and a real PostgreSQL: a throwaway server in a temporary directory, on a free
# port of 127.0.0.1, run by the postgres user (scripts/postgres.sh), stopped and removed when this script exits.
postgres_dir="$(mktemp -d)"
chmod 755 "$postgres_dir" # the server's user must be able to enter it
trap 'scripts/postgres.sh stop "$postgres_dir/server"; rm -rf "$postgres_dir"' EXIT
postgres_started=$SECONDS
DOCKHAND_TEST_POSTGRES_URL="$(scripts/postgres.sh start "$postgres_dir/server")"
export DOCKHAND_TEST_POSTGRES_URL
echo "test: PostgreSQL for the store tests is up on ${DOCKHAND_TEST_POSTGRES_URL#*@} (started in $((SECONDS - postgres_started)) s)"

results="$PWD/TestResults"
# Without a terminal (CI), timeout runs the tests in their own process group and kills the whole group; at a terminal
# it stays in the foreground so that Ctrl-C still reaches dotnet test.
foreground=()
[ -t 0 ] && foreground=(--foreground)
status=0
timeout "${foreground[@]}" --kill-after=30s 25m \
  dotnet test --solution Dockhand.slnx --results-directory "$results" --report-xunit-trx \
    --timeout 15m --hangdump --hangdump-timeout 8m --hangdump-type Mini "$@" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "test: the run was still going after 25 minutes and was killed; see $results for the reports written so far" >&2
elif [ "$status" -ne 0 ]; then
  echo "test: dotnet test exited with $status; reports are in $results (a *_hang.log there names tests that hung)" >&2
fi
exit "$status"
