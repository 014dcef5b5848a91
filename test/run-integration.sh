#!/bin/sh
# run-integration.sh - runs every test/integration/*.test.mjs with Node's
# test runner against the real binary ($ONLINE_GAME_BIN, default
# ./online-game). Installs the test's npm packages (test/package.json) on
# first use. Prints the runner's summary and "N passed, N failed".
set -e
cd "$(dirname "$0")"
: "${ONLINE_GAME_BIN:=$(pwd)/../online-game}"
export ONLINE_GAME_BIN
if [ ! -d node_modules/ws ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
files=$(ls integration/*.test.mjs)
[ -n "$ONLY" ] && files=$(ls integration/*$ONLY*.test.mjs)
out=$(mktemp)
status=0
node --test --test-concurrency=1 --test-reporter=spec $files 2>&1 | tee "$out" || true
pass=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$out" | tail -1)
fail=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$out" | tail -1)
rm -f "$out"
echo "${pass:-0} passed, ${fail:-1} failed"
[ "${fail:-1}" = 0 ] && [ "${pass:-0}" -gt 0 ] || status=1
exit $status
