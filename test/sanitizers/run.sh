#!/bin/sh
# run.sh asan|tsan - `make test` (unit, integration, fuzz regression
# inputs) under a sanitizer, then fails if any sanitizer wrote a report.
#
# Every instrumented process (unit tests, the server started by each
# integration test, fuzz drivers) writes its reports to
# build/<variant>/sanitizer-logs/<tool>.<pid>, because a report from a
# server that a test started would otherwise only be visible as an odd
# exit code. ASan and UBSan stop the process at the first error; TSan
# reports every race and carries on. Suppressions: see the *.supp files
# beside this script (each entry says why).
set -u
variant=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
logs="$root/build/$variant/sanitizer-logs"
supp="$root/test/sanitizers"
rm -rf "$logs"
mkdir -p "$logs"

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:suppressions=$supp/tsan.supp:print_suppressions=0:log_path=$logs/tsan"

make -C "$root" VARIANT="$variant" test
status=$?

reports=$(ls "$logs" 2>/dev/null)
if [ -n "$reports" ]; then
    for f in "$logs"/*; do
        echo "==== $f"
        cat "$f"
    done
    echo "$variant: $(echo "$reports" | wc -l) sanitizer report file(s) in $logs"
    status=1
fi
[ $status -eq 0 ] && echo "$variant: tests passed, no sanitizer report"
exit $status
