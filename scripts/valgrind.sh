#!/usr/bin/env bash
# Runs the core thread, sync, unwinding, soundness and interrupt test suites under
# valgrind's memcheck (child processes too): any invalid read/write, use of uninitialised memory
# or definitely lost block fails the run (issue 9).
#
#   bash scripts/valgrind.sh            # installs valgrind if missing
#   VALGRIND_SUITES="thread" bash scripts/valgrind.sh
#
# corosensei and myriad's rt/stack.rs register the thread stacks with
# valgrind (VALGRIND_STACK_REGISTER), so stack switches are understood.
# One worker (MYRIAD_WORKERS=1) and MYRIAD_TEST_SCALE=0.01 (read by the
# issue-9 tests) keep the run to a few minutes. No suppressions are needed
# (none are used): the "possibly lost" blocks valgrind lists are the TLS of
# OS threads still running at exit and do not count.
#
# "client switching stacks?" warnings mean a switch to a stack valgrind was
# not told about; they are counted and shown. Known (issue 9): stacks of a
# non-default size (`Builder::stack_size`, rt/stack.rs `allocate_own`) are
# not registered — `thread`'s deep_recursion test shows it. Set
# VALGRIND_STRICT_STACKS=1 to make such a warning fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
    apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi

suites=${VALGRIND_SUITES:-"thread handoff sync_locks sync_channels unwinding soundness_probes thread_end interrupt"}
args=()
for s in $suites; do args+=(--test "$s"); done

# Build once, then find each suite's executable in cargo's JSON output.
mapfile -t exes < <(cargo test -p myriad "${args[@]}" --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        print(m["target"]["name"] + " " + m["executable"])
')
if [ "${#exes[@]}" -eq 0 ]; then
    echo "valgrind.sh: no test executables built" >&2
    exit 1
fi

mkdir -p target/valgrind
status=0
for entry in "${exes[@]}"; do
    name=${entry%% *}
    exe=${entry#* }
    log=target/valgrind/$name.log
    start=$(date +%s)
    if MYRIAD_WORKERS=1 MYRIAD_TEST_SCALE=0.01 RUST_BACKTRACE=0 \
        valgrind --trace-children=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite "$exe" --test-threads=1 >"$log" 2>&1; then
        result="ok"
    else
        result="FAILED"
        status=1
    fi
    switches=$(grep -c "client switching stacks" "$log" || true)
    if [ "${VALGRIND_STRICT_STACKS:-0}" = 1 ] && [ "$switches" -gt 0 ]; then
        result="FAILED (unregistered stack switch)"
        status=1
    fi
    summary=$(grep -E "ERROR SUMMARY" "$log" | tail -1 | sed 's/^==[0-9]*== //')
    lost=$(grep -E "definitely lost:" "$log" | tail -1 | sed 's/^==[0-9]*== *//')
    tests=$(grep -E "^test result:" "$log" | tail -1)
    echo "valgrind $name: $result in $(($(date +%s) - start)) s; $summary; ${lost:-no leaks reported};" \
        "$switches unregistered stack switch warning(s); $tests"
    if [ "$result" != ok ]; then
        grep -E "Invalid|uninitialised|definitely lost in|panicked|FAILED|switching stacks" "$log" | head -20 || true
        echo "  (full log: $log)"
    fi
done
exit $status
