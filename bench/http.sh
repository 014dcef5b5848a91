#!/bin/sh
# http.sh - the HTTP part of `make bench`: wrk against ./online-game, nginx
# and Python's ThreadingHTTPServer, in the same run, serving the same two
# files (1 KiB and 100 KiB) from a temp dir on other loopback ports.
#
# Every server is pinned to core $BENCH_SERVER_CPU (0) and wrk to core
# $BENCH_CLIENT_CPU (1). Each case gets a short unmeasured warm-up, then
# measured wrk runs with --latency in $ROUNDS rounds that take the servers
# in turn; the best round of each server counts (other work on the machine
# only ever slows a run down). The markdown table goes to stdout and to
# bench/out/http.md. BENCH_QUICK=1 shortens every run.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

if [ "${BENCH_QUICK:-0}" = 1 ]; then DURATION=2; WARMUP=1; ROUNDS=1; else DURATION=5; WARMUP=2; ROUNDS=2; fi
CASES="1k:10 1k:100 100k:10 100k:100"
OURS="$REPO_DIR/online-game"
WORK=$(mktemp -d /tmp/bench-http.XXXXXX)
chmod 755 "$WORK"     # nginx workers run as an unprivileged user
TABLE="$OUT_DIR/http.md"
trap 'stop_all; keep_or_remove "$WORK"' EXIT
trap 'exit 130' INT TERM

make_files() {
    mkdir -p "$WORK/www"
    "$PY" - "$WORK/www" <<'EOF'
import os, sys
line = b"online-game benchmark file: the same bytes for every server.\n"
for name, size in (("1k.txt", 1024), ("100k.txt", 100 * 1024)):
    body = (line * (size // len(line) + 1))[:size]
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(body)
EOF
    chmod -R a+rX "$WORK/www"
}

write_nginx_conf() {
    mkdir -p "$WORK/nginx"
    cat > "$WORK/nginx/nginx.conf" <<EOF
# Written by bench/http.sh for one run.
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    types { text/plain txt; text/html html; }
    default_type application/octet-stream;
    access_log $WORK/nginx/access.log;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$1;
        root $WORK/www;
    }
}
EOF
}

# start_server NAME PORT: starts one server; leaves its pid in $LAST_PID.
start_server() {
    case $1 in
    ours)
        on_server "$OURS" --port "$2" --bind 127.0.0.1 --root "$WORK/www" \
            --access-log "$WORK/ours-access.log" --error-log "$WORK/ours-error.log" \
            --max-conns 1000 ;;
    nginx)
        write_nginx_conf "$2"
        on_server nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' \
            2>>"$WORK/nginx/error.log" ;;
    python)
        on_server "$PY" "$BENCH_DIR/pyhttp.py" "$2" "$WORK/www" 2>"$WORK/python-access.log" ;;
    esac
}

# warm_up PORT FILE CONNS: an unmeasured run (connections, caches, threads).
warm_up() {
    on_client wrk -t1 -c"$3" -d"${WARMUP}s" "http://127.0.0.1:$1/$2" >/dev/null 2>&1
}

# run_wrk PORT FILE CONNS: prints "rps p99 errors" for one measured run.
run_wrk() {
    on_client wrk -t1 -c"$3" -d"${DURATION}s" --latency "http://127.0.0.1:$1/$2" \
        > "$WORK/wrk.out" 2>&1
    awk '
        /^Requests\/sec:/ { rps = $2 }
        $1 == "99%" { p99 = $2 }
        /Socket errors:/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx responses:/ { errors += $5 }
        END { if (rps == "") print "- - -"; else printf "%.0f %s %d\n", rps, p99, errors }
    ' "$WORK/wrk.out"
}

# start_all: starts every available server on its own port; a server that
# does not come up gets no port and its rows stay empty.
start_all() {
    for s in $SERVERS; do
        port=$(free_port)
        start_server "$s" "$port"
        if wait_port "$port" "$LAST_PID"; then
            eval "port_$s=$port"
        else
            log "$s did not start; its rows will be empty"
            eval "port_$s="
        fi
    done
}

# run_cases: each case against every server in turn, round after round,
# so that whatever else the machine is doing meanwhile hits all of them
# alike. Results go to $WORK/result.SERVER.FILE.CONNS, one line
# "rps p99 errors" per round.
run_cases() {
    for c in $CASES; do
        file=${c%%:*}.txt
        conns=${c##*:}
        round=1
        while [ $round -le $ROUNDS ]; do
            for s in $SERVERS; do
                eval "port=\$port_$s"
                [ -n "$port" ] || continue
                log "http: $s $file $conns connections, round $round"
                [ $round = 1 ] && warm_up "$port" "$file" "$conns"
                run_wrk "$port" "$file" "$conns" >> "$WORK/result.$s.$file.$conns"
            done
            round=$((round + 1))
        done
    done
}

# result SERVER FILE CONNS: the best round, "rps p99 errors" (or "- - -").
result() {
    f="$WORK/result.$1.$2.$3"
    [ -s "$f" ] && sort -k1,1 -n -r "$f" | head -n 1 || echo "- - -"
}

print_table() {
    echo "### HTTP: static files, keep-alive (wrk -t1, best of $ROUNDS x $DURATION s per case)"
    echo
    echo "| file | connections | server | requests/s | p99 latency | vs nginx | errors |"
    echo "| --- | ---: | --- | ---: | ---: | ---: | ---: |"
    for c in $CASES; do
        file=${c%%:*}.txt
        conns=${c##*:}
        nginx_rps=$(result nginx "$file" "$conns" | cut -d' ' -f1)
        for s in ours nginx python; do
            set -- $(result "$s" "$file" "$conns")
            name=$s
            [ "$s" = ours ] && name="**online-game**"
            [ "$s" = python ] && name="python ThreadingHTTPServer"
            echo "| $file | $conns | $name | $(thousands "$1") | $2 | $(ratio "$1" "$nginx_rps") | $3 |"
        done
    done
    echo
    set -- $(result ours 1k.txt 100)
    ours_rps=$1
    nginx_rps=$(result nginx 1k.txt 100 | cut -d' ' -f1)
    python_rps=$(result python 1k.txt 100 | cut -d' ' -f1)
    awk -v o="$ours_rps" -v n="$nginx_rps" -v p="$python_rps" 'BEGIN {
        exit !(o != "-" && n != "-" && p != "-" && o >= 0.9 * n && o >= 4 * p) }'
    if [ $? = 0 ]; then verdict=met; else verdict=MISSED; fi
    echo "Target (issue 2), 1 KiB at 100 connections: online-game/nginx =" \
         "$(ratio "$ours_rps" "$nginx_rps") (>= 0.90x), online-game/python =" \
         "$(ratio "$ours_rps" "$python_rps") (>= 4x): $verdict"
}

main() {
    need wrk wrk || exit 1
    need taskset util-linux || exit 1
    need nginx nginx-light || log "no nginx: its rows will be empty"
    [ -x "$OURS" ] || log "no $OURS (run make): its rows will be empty"
    mkdir -p "$OUT_DIR"
    make_files
    SERVERS=python
    command -v nginx >/dev/null 2>&1 && SERVERS="nginx $SERVERS"
    [ -x "$OURS" ] && SERVERS="ours $SERVERS"
    start_all
    run_cases
    stop_all
    print_table > "$TABLE"
    cat "$TABLE"
}

main
