#!/usr/bin/env bash
# HTTP/1.1 keep-alive hello-world ("Hello, World!", 13 bytes) under wrk on
# loopback, in one run: myriad's hello_http example (one myriad thread per
# connection, MYRIAD_WORKERS=1) beside its peers tokio+hyper (current-thread
# runtime) and may_minihttp (one may worker), from crates/http-bench.
#
#   scripts/http_wrk.sh [CONNECTIONS...]            default: 100 1000 10000
#   DURATION=10 WARMUP=2 SERVERS="myriad hyper may" scripts/http_wrk.sh
#   SERVER_CPU=0 CLIENT_CPU=1 THREADS=2 PORT=18080 scripts/http_wrk.sh
#   BASE_BIN=/path/to/old/hello_http SERVERS="myriad-base myriad hyper may" ...
#
# Each server runs pinned to SERVER_CPU, wrk (THREADS threads) to CLIENT_CPU.
# For every connection count each server is started afresh, warmed up for
# WARMUP seconds, then measured for DURATION seconds; its peak RSS (VmHWM)
# is read before it is stopped. The servers take turns at each connection
# count so that drift in the machine's load hits them alike; the load
# average is printed with each row, since the machine is shared and noisy.
# "ratio" is req/s over tokio+hyper's in the same round.
#
# The open-file limit is raised to the hard limit (wrk and the server each
# need one descriptor per connection); a row says "fd-limit" when the hard
# limit is below what the connection count needs.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
SERVERS=${SERVERS:-"myriad hyper may"}
CONNS=("$@")
[ ${#CONNS[@]} -eq 0 ] && CONNS=(100 1000 10000)

ulimit -n "$(ulimit -Hn)"
FD_LIMIT=$(ulimit -n)

cargo build -q --release -p myriad --example hello_http
cargo build -q --release -p http-bench

server_cmd() {
    case $1 in
        myriad) echo "env MYRIAD_WORKERS=1 target/release/examples/hello_http" ;;
        hyper) echo "target/release/hyper_hello" ;;
        may) echo "target/release/may_hello" ;;
        # Another build of hello_http (a before/after comparison in one run).
        myriad-base) echo "env MYRIAD_WORKERS=1 ${BASE_BIN:?set BASE_BIN to a hello_http binary}" ;;
        *) echo "unknown server $1" >&2; exit 1 ;;
    esac
}

SERVER=
stop_server() {
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
        SERVER=
    fi
}
trap stop_server EXIT

start_server() {
    # shellcheck disable=SC2046
    taskset -c "$SERVER_CPU" $(server_cmd "$1") "127.0.0.1:$PORT" 2>/dev/null &
    SERVER=$!
    for _ in $(seq 100); do
        curl -s "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "server $1 did not answer" >&2
    exit 1
}

# utime + stime of a process, in clock ticks.
cpu_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# wrk's latency figures in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n = n; else if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; else if (u == "m") n *= 60000000
        printf "%.0f", n }'
}

fmt_us() {
    awk -v n="$1" 'BEGIN { if (n >= 10000) printf "%.1fms", n / 1000; else if (n >= 1000) printf "%.2fms", n / 1000; else printf "%dus", n }'
}

printf '%-7s %-11s %10s %7s %9s %9s %8s %22s %9s %9s %6s\n' \
    conns server req/s ratio p50 p99 p99/hyp errors rss cpu/req load1
for c in "${CONNS[@]}"; do
    declare -A RPS=() P99=() LINE=()
    for s in $SERVERS; do
        start_server "$s"
        taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$c" -d"${WARMUP}s" "http://127.0.0.1:$PORT/" >/dev/null 2>&1 || true
        t0=$(cpu_ticks "$SERVER")
        out=$(taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$c" -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/" 2>&1 || true)
        t1=$(cpu_ticks "$SERVER")
        rss=$(awk '/VmHWM/ {printf "%.1fMB", $2 / 1024}' "/proc/$SERVER/status")
        stop_server
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        p50=$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$out")")
        p99=$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$out")")
        errs=$(awk '/Socket errors/ {gsub(",", ""); printf "c%s/r%s/w%s/t%s", $4, $6, $8, $10}
                    /Non-2xx/ {printf ",non2xx:%s", $5}' <<<"$out")
        [ "$FD_LIMIT" -lt $((c + 100)) ] && errs="${errs:+$errs,}fd-limit"
        # Server CPU time per request (user + system): less sensitive to
        # other load on the machine than req/s.
        cpu=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v r="${rps:-0}" -v d="$DURATION" \
            'BEGIN { if (r > 0) printf "%.1fus", t / hz * 1e6 / (r * d); else print "-" }')
        RPS[$s]=${rps:-0}
        P99[$s]=${p99:-0}
        LINE[$s]="$(fmt_us "${p50:-0}") $(fmt_us "${p99:-0}") ${errs:-0} $rss $cpu $(cut -d' ' -f1 /proc/loadavg)"
    done
    for s in $SERVERS; do
        read -r p50 p99 errs rss cpu load <<<"${LINE[$s]}"
        base=${RPS[hyper]:-}
        ratio=$(awk -v a="${RPS[$s]}" -v b="${base:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        pr=$(awk -v a="${P99[$s]}" -v b="${P99[hyper]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        printf '%-7s %-11s %10s %7s %9s %9s %8s %22s %9s %9s %6s\n' \
            "$c" "$s" "${RPS[$s]}" "$ratio" "$p50" "$p99" "$pr" "$errs" "$rss" "$cpu" "$load"
    done
    unset RPS P99 LINE
done
