#!/bin/sh
# run-fuzzer.sh NAME SECONDS - runs build/fuzz/bin/fuzz_NAME for SECONDS
# (called by `make fuzz`). libFuzzer's progress goes to a log file; this
# prints a one-line summary, or on a crash the end of the log and how to
# keep the input as a regression test.
set -u
name=$1
seconds=$2
out=build/fuzz
mkdir -p "$out/corpus/$name" "$out/crashes" "$out/logs"
log=$(mktemp "$out/logs/$name.XXXXXX")
# -timeout: an input taking over 10 s is a hang; -rss_limit_mb: a leak
# or a runaway allocation. The writable corpus comes first.
"$out/bin/fuzz_$name" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="$out/crashes/$name-" \
    "$out/corpus/$name" "test/fuzz/corpus/$name" >"$log" 2>&1
status=$?
if [ $status -ne 0 ]; then
    grep -a -A 30 -m 1 -E 'ERROR|property violated' "$log"
    echo "fuzz_$name: FAILED (exit $status); full log: $log"
    echo "keep the input: cp $out/crashes/$name-<hash> test/fuzz/regress/$name/<what-it-tests>"
    exit 1
fi
totals=$(sed -n 's/^fuzz totals: //p' "$log")
cov=$(grep -a -o 'cov: [0-9]*' "$log" | tail -n 1)
corpus=$(ls "$out/corpus/$name" | wc -l)
rm -f "$log"
echo "fuzz_$name: ${seconds}s, $totals, $cov, corpus $corpus files, no crash"
