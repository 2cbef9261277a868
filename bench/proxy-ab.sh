#!/usr/bin/env bash
# Two byok builds through the proxy, in alternating pairs, against the same mock upstream:
# the before/after comparison a change on the proxy's path comes with. Each round starts
# each build on a fresh SQLite database (virtual key, metering on) and runs wrk on the
# same chat completion, JSON and SSE, at 1 and 32 connections.
# Usage: bench/proxy-ab.sh BYOK_A BYOK_B [ROUNDS]   (BENCH_DURATION, default 8s)
# The cost of a limit: the same build twice, with fields added to B's (or A's) virtual
# key or credential, e.g. BENCH_VK_B='"rate_limit_per_minute":100000000' or
# BENCH_CREDENTIAL_B='"monthly_limit":100000000' (also BENCH_VK_A, BENCH_CREDENTIAL_A).
set -euo pipefail
cd "$(dirname "$0")/.."

A="$1" B="$2" ROUNDS="${3:-2}"
DURATION="${BENCH_DURATION:-8s}"
WORK="${BENCH_WORK:-/tmp/byok-proxy-ab}"
MOCK_PORT=18091 BYOK_PORT=18090

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v jq >/dev/null || apt-get install -y -qq jq
cargo build --release --locked -q -p mock-upstream
rm -rf "$WORK" && mkdir -p "$WORK"

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'; }

target/release/mock-upstream "127.0.0.1:$MOCK_PORT" 2> "$WORK/mock.log" &
PIDS+=("$!")
wait_http "http://127.0.0.1:$MOCK_PORT/v1/models"

# → "req/s p50_us p99_us non2xx" for one build, one answer kind, one connection count.
measure() {
  local bin="$1" stream="$2" conns="$3" vk_extra="$4" credential_extra="$5" dir
  dir="$(mktemp -d "$WORK/run.XXXX")"
  local admin="byok_adm_$(openssl rand -hex 32)"
  BYOK_MASTER_KEY="$("$bin" keygen)" DATABASE_URL="sqlite://$dir/byok.db" BYOK_ADMIN_TOKEN="$admin" \
    BYOK_LISTEN="127.0.0.1:$BYOK_PORT" BYOK_LOG=warn BYOK_PROVIDER_OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT" \
    BYOK_ALLOW_PRIVATE_NETWORKS=true BYOK_REVERIFY_INTERVAL_SECS=0 "$bin" serve > "$dir/byok.log" 2>&1 &
  local pid=$!
  wait_http "http://127.0.0.1:$BYOK_PORT/readyz"
  local base="http://127.0.0.1:$BYOK_PORT"
  local svc vk
  svc=$(curl -fs -X POST "$base/v1/tokens" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
    -d '{"role":"service"}' | jq -r .token)
  curl -fs -o /dev/null -X POST "$base/v1/credentials" -H "authorization: Bearer $svc" -H 'content-type: application/json' \
    -d '{"owner":"user:bench","provider":"openai","fields":{"api_key":"sk-bench-upstream-key-0123456789"}'"${credential_extra:+,$credential_extra}"'}'
  vk=$(curl -fs -X POST "$base/v1/tokens" -H "authorization: Bearer $svc" -H 'content-type: application/json' \
    -d '{"role":"virtual","owner":"user:bench","providers":["openai"]'"${vk_extra:+,$vk_extra}"'}' | jq -r .token)
  local threads=$(( conns == 1 ? 1 : 2 ))
  BENCH_TOKEN="$vk" BENCH_STREAM="$stream" wrk -t"$threads" -c"$conns" -d"$DURATION" --latency \
    -s bench/proxy_chat.lua "$base/v1/proxy/openai/v1/chat/completions" > "$dir/wrk.txt"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local bad; bad=$(awk '/Non-2xx/ {print $5}' "$dir/wrk.txt")
  echo "$(awk '/Requests\/sec/ {print $2}' "$dir/wrk.txt") $(to_us "$(awk '$1 == "50%" {print $2}' "$dir/wrk.txt")") $(to_us "$(awk '$1 == "99%" {print $2}' "$dir/wrk.txt")") ${bad:-0}"
}

echo "| round | build | answer | conns | req/s | p50 (µs) | p99 (µs) | non-2xx |"
echo "|---|---|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  for stream in false true; do
    for conns in 1 32; do
      for build in A B; do
        if [ "$build" = A ]; then
          bin="$A" vk_extra="${BENCH_VK_A:-}" credential_extra="${BENCH_CREDENTIAL_A:-}"
        else
          bin="$B" vk_extra="${BENCH_VK_B:-}" credential_extra="${BENCH_CREDENTIAL_B:-}"
        fi
        read -r rps p50 p99 bad <<< "$(measure "$bin" "$stream" "$conns" "$vk_extra" "$credential_extra")"
        echo "| $round | $build | $([ "$stream" = true ] && echo SSE || echo JSON) | $conns | $rps | $p50 | $p99 | $bad |"
      done
    done
  done
done
