#!/bin/sh
# run.sh - entry point of `make bench` (the Makefile builds ./online-game
# first). Builds the WebSocket load generator into bench/out/, runs the
# HTTP part (bench/http.sh) and then the WebSocket part (bench/ws.sh), and
# writes both markdown tables to bench/out/results.md.
#
#   make bench                     the full run, about 5 minutes
#   BENCH_QUICK=1 make bench       a smoke run, about 1.5 minutes
#   BENCH_ONLY=http|ws make bench  one part only
#   BENCH_KEEP=1 make bench        keep the temp dirs (configs, server logs)
#
# See bench/README.md for what each case measures.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
OUT_DIR="$BENCH_DIR/out"
mkdir -p "$OUT_DIR"

# 10,000 idle WebSocket connections need as many descriptors on each side,
# more if a server uses a second one per connection (a wake-up eventfd).
# Try for 65536 (needs CAP_SYS_RESOURCE past the hard limit), else take
# the hard limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -H -n)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 20000 ]; then
    echo "bench: warning: open-file limit $(ulimit -n) < 20000; the 10,000-connection case may fail" >&2
fi
if [ "$(nproc)" -lt 2 ]; then
    echo "bench: warning: fewer than 2 cores; server and load generator will share one" >&2
fi

# Other work on the machine skews every number (the ratios less so).
load_average() {
    cut -d' ' -f1 /proc/loadavg
}
if awk -v l="$(load_average)" 'BEGIN { exit !(l > 1.0) }'; then
    echo "bench: warning: load average $(load_average) before starting: results will be noisy" >&2
fi
load_before=$(load_average)

build_wsload() {
    cc -O2 -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE \
        -o "$OUT_DIR/wsload" "$BENCH_DIR/wsload.c" -lcrypto
}

status=0
rm -f "$OUT_DIR/http.md" "$OUT_DIR/ws.md"
started=$(date +%s)
case ${BENCH_ONLY:-all} in
all | http) sh "$BENCH_DIR/http.sh" >/dev/null || status=1 ;;
esac
case ${BENCH_ONLY:-all} in
all | ws)
    if build_wsload; then
        sh "$BENCH_DIR/ws.sh" >/dev/null || status=1
    else
        echo "bench: could not build bench/out/wsload" >&2
        status=1
    fi ;;
esac

{
    echo "## Benchmarks"
    echo
    echo "Made by \`${BENCH_QUICK:+BENCH_QUICK=1 }make bench\` on $(date -u +%Y-%m-%d)," \
         "$(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo))," \
         "$(uname -sr); every server pinned to core ${BENCH_SERVER_CPU:-0}," \
         "the load generator to core ${BENCH_CLIENT_CPU:-1};" \
         "load average $load_before before the run, $(load_average) after."
    for part in http ws; do
        [ -s "$OUT_DIR/$part.md" ] && { echo; cat "$OUT_DIR/$part.md"; }
    done
} > "$OUT_DIR/results.md"
echo
cat "$OUT_DIR/results.md"
echo
echo "bench: done in $(( $(date +%s) - started )) s; tables in bench/out/results.md" >&2
exit $status
