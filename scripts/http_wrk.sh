#!/usr/bin/env bash
# Puts the hello_http example (one myriad thread per connection) under wrk on
# loopback, server and client pinned to different cores, and prints req/s and
# p99 latency at each connection count.
#
#   scripts/http_wrk.sh [CONNECTIONS...]     default: 100 1000
#   DURATION=10s SERVER_CPU=0 CLIENT_CPU=1 MYRIAD_WORKERS=1 scripts/http_wrk.sh
#
# The server runs with one worker on SERVER_CPU (the design's "server on one
# core" setting); wrk gets CLIENT_CPU with two threads.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi

DURATION=${DURATION:-10s}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-18080}
export MYRIAD_WORKERS=${MYRIAD_WORKERS:-1}
CONNS=("$@")
[ ${#CONNS[@]} -eq 0 ] && CONNS=(100 1000)

cargo build -q --release -p myriad --example hello_http
taskset -c "$SERVER_CPU" target/release/examples/hello_http "127.0.0.1:$PORT" 2>/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    curl -s "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break
    sleep 0.1
done

printf '%-12s %12s %10s %10s %10s\n' connections req/s p50 p99 errors
for c in "${CONNS[@]}"; do
    out=$(taskset -c "$CLIENT_CPU" wrk -t2 -c"$c" -d"$DURATION" --latency "http://127.0.0.1:$PORT/")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' | tr '\n' ';' || true)
    printf '%-12s %12s %10s %10s %10s\n' "$c" "$rps" "$p50" "$p99" "${errs:-0}"
done
rss=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$SERVER/status")
echo "server peak RSS: $rss"
