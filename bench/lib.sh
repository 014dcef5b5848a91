# lib.sh - helpers shared by bench/http.sh and bench/ws.sh (sourced, POSIX sh).
#
# Starting and stopping the servers under test, free ports, waiting for a
# port to listen, installing a missing Debian package, reading a process's
# RSS, and a few number formatters for the result tables.

BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "$0")" && pwd)}
REPO_DIR=${REPO_DIR:-$(cd "$BENCH_DIR/.." && pwd)}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
PY=/usr/bin/python3                  # Debian's python: has python3-websockets
SERVER_CPU=${BENCH_SERVER_CPU:-0}    # every server under test runs here
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}    # wrk and wsload run here
BENCH_PIDS=""
APT_UPDATED=""

log() { echo "bench: $*" >&2; }

# need CMD PACKAGE: makes sure CMD exists, installing PACKAGE with apt-get
# when it does not. Returns 1 if it is still missing.
need() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        log "installing $2 (for $1)"
        if [ -z "$APT_UPDATED" ]; then
            apt-get update -qq >/dev/null 2>&1 || true
            APT_UPDATED=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 || true
    fi
    command -v "$1" >/dev/null 2>&1 || { log "missing $1 (Debian package $2)"; return 1; }
}

# need_python_module MODULE PACKAGE: the same for a module of $PY.
need_python_module() {
    "$PY" -c "import $1" 2>/dev/null && return 0
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        log "installing $2"
        [ -n "$APT_UPDATED" ] || { apt-get update -qq >/dev/null 2>&1 || true; APT_UPDATED=1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 || true
    fi
    "$PY" -c "import $1" 2>/dev/null || { log "missing python module $1 ($2)"; return 1; }
}

# on_server CMD...: runs CMD in the background pinned to the server core;
# the pid is left in $LAST_PID and remembered for cleanup.
on_server() {
    taskset -c "$SERVER_CPU" "$@" &
    LAST_PID=$!
    BENCH_PIDS="$BENCH_PIDS $LAST_PID"
}

# on_client CMD...: runs CMD in the foreground pinned to the client core.
on_client() {
    taskset -c "$CLIENT_CPU" "$@"
}

# stop PID: SIGTERM, then SIGKILL after 5 s; waits for it.
stop() {
    kill -0 "$1" 2>/dev/null || return 0
    kill "$1" 2>/dev/null
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

stop_all() {
    for p in $BENCH_PIDS; do
        stop "$p"
    done
    BENCH_PIDS=""
}

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID: waits up to 10 s for 127.0.0.1:PORT to accept a
# connection; fails early if PID died.
wait_port() {
    i=0
    while [ $i -lt 100 ]; do
        kill -0 "$2" 2>/dev/null || return 1
        "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' \
            "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# rss_kib PID: the resident set size of PID in KiB (VmRSS).
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# ratio A B: "1.23x", or "-" when either is missing or B is zero.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-";
        else printf "%.2fx\n", a / b }'
}

# field LINE KEY: the value of KEY=value in a wsload result line.
field() {
    echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'
}

# us_to_ms MICROSECONDS: "1.23 ms".
us_to_ms() {
    [ -n "$1" ] || { echo "-"; return; }
    awk -v u="$1" 'BEGIN { printf "%.2f ms\n", u / 1000 }'
}

# Keeps the table readable: 123456 -> 123,456.
thousands() {
    [ -n "$1" ] && [ "$1" != "-" ] || { echo "-"; return; }
    printf '%.0f\n' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'
}

# keep_or_remove DIR: removes a run's temp dir, or keeps it (configs, logs
# of every server) when BENCH_KEEP=1.
keep_or_remove() {
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        log "kept $1"
    else
        rm -rf "$1"
    fi
}
