#!/usr/bin/env bash
# Proxy overhead: the same chat completions (JSON and SSE) sent straight to a fast mock
# upstream, through byok's proxy (virtual key, SQLite, metering on), and through LiteLLM
# (one worker). wrk at 1 and 32 connections; time to first streamed byte with curl.
# See bench/README.md. Usage: bench/proxy.sh   (BENCH_DURATION, BENCH_TTFB_SAMPLES)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${BENCH_DURATION:-10s}"
SAMPLES="${BENCH_TTFB_SAMPLES:-200}"
WORK="${BENCH_WORK:-/tmp/byok-proxy-bench}"
LITELLM_VENV="${BENCH_LITELLM_VENV:-/tmp/litellm-venv}"
LITELLM_VERSION="${BENCH_LITELLM_VERSION:-1.106.2}"
MOCK_PORT=18081
BYOK_PORT=18080
LITELLM_PORT=18082
OUT="bench/results/proxy-$(date -u +%Y%m%dT%H%M%SZ).md"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v jq >/dev/null || apt-get install -y -qq jq
cargo build --release --locked -q -p byok -p mock-upstream
BYOK="$PWD/target/release/byok"
MOCK="$PWD/target/release/mock-upstream"
rm -rf "$WORK" && mkdir -p "$WORK" bench/results

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

# wrk's latency figures (e.g. 85.00us, 1.20ms, 2.00s) in microseconds.
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'; }

# → "req/s p50_us p99_us non2xx"
run_wrk() {
  local url="$1" token="$2" stream="$3" conns="$4" log="$5"
  local threads=$(( conns == 1 ? 1 : 2 ))
  BENCH_TOKEN="$token" BENCH_STREAM="$stream" wrk -t"$threads" -c"$conns" -d"$DURATION" --latency -s bench/proxy_chat.lua "$url" > "$log"
  local rps p50 p99 bad
  rps=$(awk '/Requests\/sec/ {print $2}' "$log")
  p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$log")")
  p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$log")")
  bad=$(awk '/Non-2xx/ {print $5}' "$log"); bad=${bad:-0}
  echo "$rps $p50 $p99 $bad"
}

# Median time to the first byte of a streamed answer, in microseconds.
ttfb() {
  local url="$1" token="$2"
  for _ in $(seq 1 "$SAMPLES"); do
    curl -s -o /dev/null -w '%{time_starttransfer}\n' -X POST "$url" -H "authorization: Bearer $token" \
      -H 'content-type: application/json' \
      -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello."}]}'
  done | sort -n | awk '{ a[NR] = $1 } END { printf "%.0f", a[int((NR + 1) / 2)] * 1000000 }'
}

"$MOCK" "127.0.0.1:$MOCK_PORT" 2> "$WORK/mock.log" &
PIDS+=("$!")
wait_http "http://127.0.0.1:$MOCK_PORT/v1/models"

ADMIN="byok_adm_$(openssl rand -hex 32)"
BYOK_MASTER_KEY="$("$BYOK" keygen)" DATABASE_URL="sqlite://$WORK/byok.db" BYOK_ADMIN_TOKEN="$ADMIN" \
  BYOK_LISTEN="127.0.0.1:$BYOK_PORT" BYOK_LOG=warn BYOK_PROVIDER_OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT" \
  BYOK_ALLOW_PRIVATE_NETWORKS=true BYOK_REVERIFY_INTERVAL_SECS=0 "$BYOK" serve > "$WORK/byok.log" 2>&1 &
BYOK_PID=$!
PIDS+=("$BYOK_PID")
wait_http "http://127.0.0.1:$BYOK_PORT/readyz"
SVC=$(curl -fs -X POST "http://127.0.0.1:$BYOK_PORT/v1/tokens" -H "authorization: Bearer $ADMIN" \
  -H 'content-type: application/json' -d '{"role":"service"}' | jq -r .token)
CRED=$(curl -fs -X POST "http://127.0.0.1:$BYOK_PORT/v1/credentials" -H "authorization: Bearer $SVC" \
  -H 'content-type: application/json' \
  -d '{"owner":"user:bench","provider":"openai","fields":{"api_key":"sk-bench-upstream-key-0123456789"}}' | jq -r .id)
VK=$(curl -fs -X POST "http://127.0.0.1:$BYOK_PORT/v1/tokens" -H "authorization: Bearer $SVC" \
  -H 'content-type: application/json' -d '{"role":"virtual","owner":"user:bench","providers":["openai"]}' | jq -r .token)

LITELLM_OK=true
if [ ! -x "$LITELLM_VENV/bin/litellm" ]; then
  python3 -m venv "$LITELLM_VENV" && "$LITELLM_VENV/bin/pip" install -q "litellm[proxy]==$LITELLM_VERSION" || LITELLM_OK=false
fi
if $LITELLM_OK; then
  cat > "$WORK/litellm.yaml" <<YAML
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:$MOCK_PORT/v1
      api_key: sk-bench-upstream-key-0123456789
general_settings:
  master_key: sk-litellm-bench
litellm_settings:
  telemetry: false
YAML
  LITELLM_LOG=ERROR LITELLM_TELEMETRY=False "$LITELLM_VENV/bin/litellm" --config "$WORK/litellm.yaml" \
    --host 127.0.0.1 --port "$LITELLM_PORT" --num_workers 1 > "$WORK/litellm.log" 2>&1 &
  PIDS+=("$!")
  wait_http "http://127.0.0.1:$LITELLM_PORT/health/liveliness" || LITELLM_OK=false
fi

DIRECT="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"
VIA_BYOK="http://127.0.0.1:$BYOK_PORT/v1/proxy/openai/v1/chat/completions"
VIA_LITELLM="http://127.0.0.1:$LITELLM_PORT/v1/chat/completions"
declare -A R
for mode in false true; do
  for conns in 1 32; do
    echo "bench: stream=$mode, $conns connection(s)"
    R[direct,$mode,$conns]=$(run_wrk "$DIRECT" sk-bench "$mode" "$conns" "$WORK/wrk-direct-$mode-$conns.txt")
    R[byok,$mode,$conns]=$(run_wrk "$VIA_BYOK" "$VK" "$mode" "$conns" "$WORK/wrk-byok-$mode-$conns.txt")
    if $LITELLM_OK; then
      R[litellm,$mode,$conns]=$(run_wrk "$VIA_LITELLM" sk-litellm-bench "$mode" "$conns" "$WORK/wrk-litellm-$mode-$conns.txt")
    else
      R[litellm,$mode,$conns]="- - - -"
    fi
  done
done
echo "bench: time to first streamed byte ($SAMPLES samples each)"
T_DIRECT=$(ttfb "$DIRECT" sk-bench)
T_BYOK=$(ttfb "$VIA_BYOK" "$VK")
T_LITELLM=$($LITELLM_OK && ttfb "$VIA_LITELLM" sk-litellm-bench || echo -)

sleep 1
COUNTED=$(curl -fs "http://127.0.0.1:$BYOK_PORT/v1/credentials/$CRED" -H "authorization: Bearer $SVC" | jq '.usage.total')
TOKENS=$(curl -fs "http://127.0.0.1:$BYOK_PORT/v1/credentials/$CRED" -H "authorization: Bearer $SVC" | jq '.usage.tokens_total')
RSS=$(awk '/VmHWM/ {print $2}' "/proc/$BYOK_PID/status")

field() { echo "${R[$1]}" | awk -v i="$2" '{print $i}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "-" || b + 0 == 0) print "-"; else printf "%.0f", a / b }'; }
{
  echo "# Proxy benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$(nproc) cores shared by wrk, the mock, byok and LiteLLM; wrk -d$DURATION (-t1 -c1, -t2 -c32); byok $(git rev-parse --short HEAD) release, SQLite, metering on; LiteLLM $LITELLM_VERSION, one worker."
  echo
  echo "| target | answer | conns | req/s | p50 (µs) | p99 (µs) | non-2xx |"
  echo "|---|---|---|---|---|---|---|"
  for mode in false true; do
    for conns in 1 32; do
      for t in direct byok litellm; do
        k="$t,$mode,$conns"
        echo "| $t | $([ "$mode" = true ] && echo SSE || echo JSON) | $conns | $(field "$k" 1) | $(field "$k" 2) | $(field "$k" 3) | $(field "$k" 4) |"
      done
    done
  done
  echo
  echo "- throughput byok / LiteLLM at 32 connections: JSON $(ratio "$(field byok,false,32 1)" "$(field litellm,false,32 1)")×, SSE $(ratio "$(field byok,true,32 1)" "$(field litellm,true,32 1)")×"
  echo "- added p50 latency over direct at 1 connection: JSON $(( $(printf '%.0f' "$(field byok,false,1 2)") - $(printf '%.0f' "$(field direct,false,1 2)") )) µs, SSE $(( $(printf '%.0f' "$(field byok,true,1 2)") - $(printf '%.0f' "$(field direct,true,1 2)") )) µs"
  echo "- median time to first streamed byte (curl, new connection each): direct $T_DIRECT µs, byok $T_BYOK µs (+$(( T_BYOK - T_DIRECT )) µs), LiteLLM $T_LITELLM µs"
  echo "- byok counted $COUNTED requests and $TOKENS tokens on the credential; peak RSS $RSS KiB"
} | tee "$OUT"
