#!/bin/sh
# ws.sh - the WebSocket part of `make bench`: bench/out/wsload against
# ./online-game (/echo, /chat) and, in the same run, the peers doing the
# same jobs: Node's `ws` (bench/peers/ws_*_node.mjs) and python3-websockets
# (bench/peers/ws_python.py).
#
# Each case starts a fresh server pinned to core $BENCH_SERVER_CPU (0),
# runs wsload pinned to core $BENCH_CLIENT_CPU (1), and stops the server:
#   echo N     N connections, 64-byte messages, 16 in flight per connection
#   fanout S   one publisher, 100 msgs/s of 128 bytes, S subscribers
#   idle N     N connections held; server RSS read from /proc before and
#              while they are held gives KiB per connection
# The markdown table goes to stdout and to bench/out/ws.md.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    ECHO_CONNS="10 100"; ECHO_SECS=2; FANOUT_SUBS=200; FANOUT_SECS=3
    IDLE_CONNS=1000; IDLE_HOLD=2
else
    ECHO_CONNS="10 100 1000"; ECHO_SECS=5; FANOUT_SUBS=1000; FANOUT_SECS=10
    IDLE_CONNS=10000; IDLE_HOLD=5
fi
WINDOW=16
FANOUT_RATE=100
SERVERS="ours node python"
OURS="$REPO_DIR/online-game"
WSLOAD="$OUT_DIR/wsload"
WORK=$(mktemp -d /tmp/bench-ws.XXXXXX)
TABLE="$OUT_DIR/ws.md"
trap 'stop_all; keep_or_remove "$WORK"' EXIT
trap 'exit 130' INT TERM

# start_server NAME JOB PORT: JOB is echo or chat; leaves the pid in $LAST_PID.
start_server() {
    case $1 in
    ours)
        mkdir -p "$WORK/www"
        on_server "$OURS" --port "$3" --bind 127.0.0.1 --root "$WORK/www" \
            --access-log "$WORK/ours-access.log" --error-log "$WORK/ours-error.log" \
            --max-conns $((IDLE_CONNS + 1000)) ;;
    node)
        on_server node "$BENCH_DIR/peers/ws_${2}_node.mjs" "$3" >/dev/null 2>>"$WORK/node.log" ;;
    python)
        on_server "$PY" "$BENCH_DIR/peers/ws_python.py" "$3" >/dev/null 2>>"$WORK/python.log" ;;
    esac
}

available() {
    case $1 in
    ours) [ -x "$OURS" ] ;;
    node) [ -d "$BENCH_DIR/node_modules/ws" ] ;;
    python) need_python_module websockets python3-websockets ;;
    esac
}

# run_idle PID ARGS...: runs wsload idle in the background and reads the
# server's RSS once every connection is open. Prints the wsload line with
# rss_before_kib= and rss_held_kib= added.
run_idle() {
    pid=$1
    shift
    before=$(rss_kib "$pid")
    rm -f "$WORK/ready"
    on_client "$WSLOAD" idle "$@" --ready-file "$WORK/ready" > "$WORK/idle.out" &
    load=$!
    while kill -0 "$load" 2>/dev/null && [ ! -e "$WORK/ready" ]; do
        sleep 0.2
    done
    sleep 1     # let the server finish setting up the last connections
    held=$(rss_kib "$pid")
    wait "$load"
    echo "$(cat "$WORK/idle.out") rss_before_kib=$before rss_held_kib=$held"
}

# run_case SERVER CASE ARG: one measurement on a fresh server; the wsload
# result line goes to $WORK/result.CASE.ARG.SERVER.
run_case() {
    job=echo
    [ "$2" = fanout ] && job=chat
    port=$(free_port)
    start_server "$1" "$job" "$port"
    pid=$LAST_PID
    out="$WORK/result.$2.$3.$1"
    if ! wait_port "$port" "$pid"; then
        log "$1 did not start"
        stop "$pid"
        return
    fi
    log "ws: $1 $2 $3"
    case $2 in
    echo) on_client "$WSLOAD" echo --port "$port" --path /echo --conns "$3" \
              --window "$WINDOW" --size 64 --duration "$ECHO_SECS" > "$out" ;;
    fanout) on_client "$WSLOAD" fanout --port "$port" --path /chat --subs "$3" \
              --rate "$FANOUT_RATE" --size 128 --duration "$FANOUT_SECS" > "$out" ;;
    idle) run_idle "$pid" --port "$port" --path /echo --conns "$3" \
              --hold "$IDLE_HOLD" --open-timeout 30 > "$out" ;;
    esac
    kill -0 "$pid" 2>/dev/null || log "$1 died during $2 $3"
    stop "$pid"
}

line() {
    f="$WORK/result.$1.$2.$3"
    [ -s "$f" ] && cat "$f"
}

server_name() {
    case $1 in
    ours) echo "**online-game**" ;;
    node) echo "Node ws" ;;
    python) echo "python3-websockets" ;;
    esac
}

# client_note LINE: a warning when wsload itself used (nearly) its whole
# core: then the server may be faster than the number shows.
client_note() {
    awk -v c="$(field "$1" client_cpu)" 'BEGIN {
        if (c != "" && c + 0 >= 0.9) printf ", wsload at %d%% CPU: client-bound\n", c * 100 }'
}

echo_rows() {
    node_rate=$(field "$(line echo "$1" node)" rate)
    for s in $SERVERS; do
        l=$(line echo "$1" "$s")
        [ -n "$l" ] || { echo "| echo, $1 conns | $(server_name "$s") | - | - | - | - | not run |"; continue; }
        rate=$(field "$l" rate)
        echo "| echo, $1 conns | $(server_name "$s") | $(thousands "$rate") msgs/s" \
             "| $(us_to_ms "$(field "$l" p50_us)") | $(us_to_ms "$(field "$l" p99_us)")" \
             "| $(ratio "$rate" "$node_rate") | opened $(field "$l" opened)/$1, closed $(field "$l" closed)$(client_note "$l") |"
    done
}

fanout_rows() {
    node_p99=$(field "$(line fanout "$1" node)" p99_us)
    for s in $SERVERS; do
        l=$(line fanout "$1" "$s")
        [ -n "$l" ] || { echo "| fan-out, $1 subs | $(server_name "$s") | - | - | - | - | not run |"; continue; }
        echo "| fan-out, $1 subs | $(server_name "$s") | $(thousands "$(field "$l" deliveries_per_s)") deliveries/s" \
             "| $(us_to_ms "$(field "$l" p50_us)") | $(us_to_ms "$(field "$l" p99_us)")" \
             "| $(ratio "$(field "$l" p99_us)" "$node_p99") p99 | delivered $(field "$l" delivered)/$(field "$l" expected)$(client_note "$l") |"
    done
}

kib_per_conn() {
    awk -v a="$(field "$1" rss_held_kib)" -v b="$(field "$1" rss_before_kib)" \
        -v n="$(field "$1" accepted)" 'BEGIN {
        if (a == "" || b == "" || n + 0 == 0) print "-"; else printf "%.1f\n", (a - b) / n }'
}

idle_rows() {
    node_kib=$(kib_per_conn "$(line idle "$1" node)")
    for s in $SERVERS; do
        l=$(line idle "$1" "$s")
        [ -n "$l" ] || { echo "| idle, $1 conns | $(server_name "$s") | - | - | - | - | not run |"; continue; }
        kib=$(kib_per_conn "$l")
        echo "| idle, $1 conns | $(server_name "$s") | $kib KiB/conn | - | - | $(ratio "$kib" "$node_kib") memory" \
             "| accepted $(field "$l" accepted)/$1 in $(field "$l" open_seconds) s, $(field "$l" still_open) still open after ${IDLE_HOLD} s;" \
             "RSS $(field "$l" rss_before_kib) -> $(field "$l" rss_held_kib) KiB |"
    done
}

# verdict OK: "met" when the shell test OK succeeded, else "MISSED".
verdict() {
    if [ "$1" = 0 ]; then echo met; else echo MISSED; fi
}

# at_least A B: exit 0 when A >= B (both numbers).
at_least() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && b != "" && a + 0 >= b + 0) }'
}

targets() {
    echo "Targets (issue 4):"
    for n in ${ECHO_CONNS%% *} ${ECHO_CONNS##* }; do
        ours=$(field "$(line echo "$n" ours)" rate)
        node=$(field "$(line echo "$n" node)" rate)
        at_least "$ours" "$(awk -v n="$node" 'BEGIN { print n * 1.5 }')"; ok=$?
        echo "- echo, $n conns: online-game/Node ws = $(ratio "$ours" "$node") (>= 1.50x): $(verdict $ok)"
    done
    l=$(line fanout "$FANOUT_SUBS" ours)
    node_p99=$(field "$(line fanout "$FANOUT_SUBS" node)" p99_us)
    at_least "$(field "$l" delivered)" "$(field "$l" expected)" &&
        at_least "$node_p99" "$(field "$l" p99_us)"; ok=$?
    echo "- fan-out, $FANOUT_SUBS subs: delivered $(field "$l" delivered)/$(field "$l" expected)," \
         "p99 $(us_to_ms "$(field "$l" p99_us)") vs Node ws $(us_to_ms "$node_p99")" \
         "(all delivered, p99 <= Node's): $(verdict $ok)"
    l=$(line idle "$IDLE_CONNS" ours)
    kib=$(kib_per_conn "$l")
    at_least "$(field "$l" accepted)" "$IDLE_CONNS" && at_least 16 "$kib"; ok=$?
    echo "- idle, $IDLE_CONNS conns: accepted $(field "$l" accepted)/$IDLE_CONNS, $kib KiB/conn" \
         "(all accepted, <= 16 KiB/conn): $(verdict $ok)"
}

print_table() {
    echo "### WebSocket (wsload on one core, server on the other)"
    echo
    echo "| case | server | throughput / memory | p50 latency | p99 latency | vs Node ws | notes |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | --- |"
    for n in $ECHO_CONNS; do echo_rows "$n"; done
    fanout_rows "$FANOUT_SUBS"
    idle_rows "$IDLE_CONNS"
    echo
    echo "Echo: 64-byte text messages, $WINDOW in flight per connection, $ECHO_SECS s; latency is the round trip."
    echo "Fan-out: $FANOUT_RATE msgs/s of 128 bytes for $FANOUT_SECS s; latency is send to delivery."
    echo
    targets
}

main() {
    need taskset util-linux || exit 1
    [ -x "$WSLOAD" ] || { log "no $WSLOAD (bench/run.sh builds it)"; exit 1; }
    if command -v npm >/dev/null 2>&1 && [ ! -d "$BENCH_DIR/node_modules/ws" ]; then
        (cd "$BENCH_DIR" && npm install --no-audit --no-fund --silent >/dev/null 2>&1) ||
            log "npm install failed: no Node ws rows"
    fi
    present=""
    for s in $SERVERS; do
        if available "$s"; then present="$present $s"; else log "$s not available: its rows will be empty"; fi
    done
    # Case by case, every server in turn: whatever else the machine is
    # doing meanwhile hits all of them alike.
    for n in $ECHO_CONNS; do
        for s in $present; do run_case "$s" echo "$n"; done
    done
    for s in $present; do run_case "$s" fanout "$FANOUT_SUBS"; done
    for s in $present; do run_case "$s" idle "$IDLE_CONNS"; done
    print_table > "$TABLE"
    cat "$TABLE"
}

main
