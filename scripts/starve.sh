#!/usr/bin/env bash
# Runs tests under CPU starvation (issue 14 §3) without starving the rest of the machine. Not part of CI.
#
# Everything runs inside a private cgroup capped at STARVE_QUOTA percent of one CPU (default 40). Beside the tests,
# STARVE_LOOPS busy loops (default 2) run in the same cgroup at nice 0 while the tests run at nice 10, so the tests get
# a small share of an already small quota: timers fire late, thread-pool work queues up, and the in-process loopback
# servers answer slowly. Processes outside the cgroup never compete with more than STARVE_QUOTA percent of a CPU.
# Why 2 loops, not 8: at nice 10 a thread weighs 110 against 1024 for each loop, so beside 8 loops the test process got
# about 0.3 % of a CPU here (measured: 0.3 % while the group got 30 %); the Discord suite needs 10 CPU-seconds, so one
# run would take most of an hour. With 2 the tests get roughly 5-15 % of a CPU (depending on how many of their threads
# are runnable): 10-30 times slower than unloaded, and every wall-clock race in a test shows.
# Needs root (it writes to /sys/fs/cgroup); works with cgroup v2 (cpu.max) and v1 (cpu.cfs_quota_us).
#
#   scripts/starve.sh                      # 20 runs of the Discord and Terminal suites, one line per suite and run
#   scripts/starve.sh 5                    # 5 runs
#   scripts/starve.sh --exec CMD [ARGS..]  # any command (in the current directory), starved the same way
#
# The suites are built once, outside the cgroup, and their test executables are run directly (no build under the
# quota). Extra arguments for the test executables (xunit v3's own runner) go in STARVE_TEST_ARGS (e.g.
# "-class Dockhand.Discord.Tests.Gateway.GatewayHostingTests").
# STARVE_NO_BUILD=1 skips the build (each dotnet build takes minutes on a loaded machine, even when up to date).
# Each run's full output is kept in STARVE_LOG_DIR (default: a new directory under /tmp, printed at the start).
set -euo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.."

quota="${STARVE_QUOTA:-40}"
loops="${STARVE_LOOPS:-2}"
[[ "$quota" =~ ^[0-9]+$ && "$quota" -ge 1 ]] || { echo "STARVE_QUOTA must be a whole percentage of one CPU, e.g. 40." >&2; exit 2; }
[[ "$loops" =~ ^[0-9]+$ ]] || { echo "STARVE_LOOPS must be a whole number, e.g. 8." >&2; exit 2; }

if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  root=/sys/fs/cgroup
  grep -qw cpu "$root/cgroup.subtree_control" || echo +cpu > "$root/cgroup.subtree_control"
  home="$root$(sed -n 's/^0:://p' /proc/self/cgroup)"
else
  root=/sys/fs/cgroup/cpu
  home="$root$(sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}cpu\(,[^:]*\)\{0,1\}://p' /proc/self/cgroup)"
fi
[ -w "$root" ] || { echo "Cannot write to $root: run as root on a machine with the cgroup cpu controller." >&2; exit 2; }
group="$root/dh-starve-$$"
mkdir "$group"
if [ -f "$group/cpu.max" ]; then
  echo "$((quota * 1000)) 100000" > "$group/cpu.max"
else
  echo 100000 > "$group/cpu.cfs_period_us"
  echo "$((quota * 1000))" > "$group/cpu.cfs_quota_us"
fi

loop_pids=()
test_pid=
cleanup() {
  [ -n "$test_pid" ] && kill "$test_pid" 2>/dev/null || true
  for pid in "${loop_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${loop_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # Move this shell (and anything it left) back where it came from, then remove the group.
  echo $$ > "$home/cgroup.procs" 2>/dev/null || true
  if [ -f "$group/cgroup.procs" ]; then
    while read -r pid; do echo "$pid" > "$home/cgroup.procs" 2>/dev/null || true; done < "$group/cgroup.procs"
  fi
  rmdir "$group" 2>/dev/null || echo "warning: could not remove $group" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_loops() {
  echo $$ > "$group/cgroup.procs" # this shell and every child from now on
  for _ in $(seq "$loops"); do
    nice -n 0 bash -c 'while :; do :; done' &
    loop_pids+=($!)
  done
}

if [ "${1:-}" = "--exec" ]; then
  shift
  [ $# -gt 0 ] || { echo "--exec needs a command." >&2; exit 2; }
  start_loops
  set +e
  cd "$caller_dir"
  nice -n 10 "$@"
  exit $?
fi

runs="${1:-20}"
[[ "$runs" =~ ^[0-9]+$ && "$runs" -ge 1 ]] || { echo "The number of runs must be a whole number, e.g. 20." >&2; exit 2; }
suites=(Dockhand.Discord.Tests Dockhand.Terminal.Tests)
for suite in "${suites[@]}"; do
  [ -n "${STARVE_NO_BUILD:-}" ] && break # the suites are built already
  dotnet build "tests/$suite/$suite.csproj" -v quiet -nologo >/dev/null || { echo "Build of $suite failed: run dotnet build tests/$suite to see why." >&2; exit 1; }
done

logs="${STARVE_LOG_DIR:-$(mktemp -d /tmp/dh-starve.XXXXXX)}"
mkdir -p "$logs"
echo "cgroup $group: ${quota}% of one CPU, $loops busy loops at nice 0, tests at nice 10; logs in $logs"
start_loops

failed_runs=0
for run in $(seq "$runs"); do
  for suite in "${suites[@]}"; do
    log="$logs/run$run-$suite.log"
    began=$(date +%s)
    set +e
    # The test executable's own runner (xunit v3 in-process): no dotnet test host, no build.
    # shellcheck disable=SC2086 # STARVE_TEST_ARGS is split on purpose
    # In the background and waited for, so that Ctrl-C reaches the trap (and the test process is ended) at once.
    (cd "tests/$suite/bin/Debug/net10.0" && exec nice -n 10 "./$suite" -noColor -noLogo ${STARVE_TEST_ARGS:-}) > "$log" 2>&1 &
    test_pid=$!
    wait "$test_pid"
    rc=$?
    test_pid=
    set -e
    took=$(( $(date +%s) - began ))
    summary=$(grep -Eo 'Total: [0-9]+, Errors: [0-9]+, Failed: [0-9]+, Skipped: [0-9]+' "$log" | tail -1 || true) # none when it crashed
    if [ "$rc" -eq 0 ]; then verdict=pass; else verdict="FAIL(rc=$rc)"; failed_runs=$((failed_runs + 1)); fi
    echo "run $run $suite: $verdict ${summary:-no summary} wall ${took}s"
    if [ "$rc" -ne 0 ]; then
      grep -E '\[FAIL\]' "$log" | head -5 | sed 's/^/    /' || true
    fi
  done
done
echo "$failed_runs failed suite runs of $((runs * ${#suites[@]}))"
[ "$failed_runs" -eq 0 ]
