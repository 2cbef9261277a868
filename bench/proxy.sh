#!/usr/bin/env bash
# Proxy overhead: the same chat completions (JSON and SSE) sent straight to a fast mock
# upstream, through a bare Rust proxy (bench/mock-upstream/src/bin/bare-proxy.rs: the same
# hyper, no auth, no metering), through byok's proxy (virtual key, SQLite, metering on),
# and through LiteLLM (one worker). wrk at 1 and 32 connections after a warm-up; CPU per
# request of each proxy; time to first streamed byte with curl. The proxies run pinned to
# one core (BENCH_SERVER_CPU, default 1), wrk and the mock to the other (BENCH_CLIENT_CPU,
# default 0). See bench/README.md.
# Usage: bench/proxy.sh   (BENCH_DURATION, BENCH_WARMUP, BENCH_TTFB_SAMPLES, BENCH_LITELLM=0
# to leave LiteLLM out, BENCH_BYOK=/path/to/byok to measure another build,
# BENCH_AUDIT_ENTRIES=5000000 to grow byok's audit log first: bench/prefill_audit.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-3s}"
SERVER_CPU="${BENCH_SERVER_CPU:-1}"
CLIENT_CPU="${BENCH_CLIENT_CPU:-0}"
SAMPLES="${BENCH_TTFB_SAMPLES:-200}"
WORK="${BENCH_WORK:-/tmp/byok-proxy-bench}"
LITELLM_VENV="${BENCH_LITELLM_VENV:-/tmp/litellm-venv}"
LITELLM_VERSION="${BENCH_LITELLM_VERSION:-1.106.2}"
MOCK_PORT=18081
BYOK_PORT=18080
LITELLM_PORT=18082
BARE_PORT=18083
OUT="bench/results/proxy-$(date -u +%Y%m%dT%H%M%SZ).md"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v jq >/dev/null || apt-get install -y -qq jq
cargo build --release --locked -q -p byok -p mock-upstream
BYOK="${BENCH_BYOK:-$PWD/target/release/byok}"
MOCK="$PWD/target/release/mock-upstream"
BARE="$PWD/target/release/bare-proxy"
SERVER=(taskset -c "$SERVER_CPU")
CLIENT=(taskset -c "$CLIENT_CPU")
rm -rf "$WORK" && mkdir -p "$WORK" bench/results

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

# wrk's latency figures (e.g. 85.00us, 1.20ms, 2.00s) in microseconds.
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'; }

# CPU time a process has used (user + system), in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

source bench/flush.sh

# A warm-up, then the measured run; `pid` is the proxy's process ("-" for none).
# → "req/s p50_us p99_us non2xx cpu_us_per_request"
run_wrk() {
  local url="$1" token="$2" stream="$3" conns="$4" log="$5" pid="$6"
  local threads=$(( conns == 1 ? 1 : 2 ))
  BENCH_TOKEN="$token" BENCH_STREAM="$stream" "${CLIENT[@]}" wrk -t"$threads" -c"$conns" -d"$WARMUP" \
    -s bench/proxy_chat.lua "$url" > "$log.warmup"
  local before=0; [ "$pid" = - ] || before=$(cpu_ticks "$pid")
  BENCH_TOKEN="$token" BENCH_STREAM="$stream" "${CLIENT[@]}" wrk -t"$threads" -c"$conns" -d"$DURATION" --latency \
    -s bench/proxy_chat.lua "$url" > "$log"
  local rps p50 p99 bad requests cpu=-
  rps=$(awk '/Requests\/sec/ {print $2}' "$log")
  p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$log")")
  p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$log")")
  bad=$(awk '/Non-2xx/ {s += $5} END {print s + 0}' "$log" "$log.warmup")
  requests=$(awk '/requests in/ {print $1}' "$log")
  if [ "$pid" != - ]; then
    cpu=$(awk -v t="$(( $(cpu_ticks "$pid") - before ))" -v hz="$(getconf CLK_TCK)" -v n="$requests" \
      'BEGIN { printf "%.0f", t * 1000000 / hz / n }')
  fi
  echo "$rps $p50 $p99 $bad $cpu"
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

FLUSH_BEFORE=$(flush_ms "$WORK")
"${CLIENT[@]}" "$MOCK" "127.0.0.1:$MOCK_PORT" 2> "$WORK/mock.log" &
PIDS+=("$!")
wait_http "http://127.0.0.1:$MOCK_PORT/v1/models"
"${SERVER[@]}" "$BARE" "127.0.0.1:$BARE_PORT" "127.0.0.1:$MOCK_PORT" 2> "$WORK/bare.log" &
BARE_PID=$!
PIDS+=("$BARE_PID")
wait_http "http://127.0.0.1:$BARE_PORT/v1/models"

ADMIN="byok_adm_$(openssl rand -hex 32)"
BYOK_MASTER_KEY="$("$BYOK" keygen)" DATABASE_URL="sqlite://$WORK/byok.db" BYOK_ADMIN_TOKEN="$ADMIN" \
  BYOK_LISTEN="127.0.0.1:$BYOK_PORT" BYOK_LOG=warn BYOK_PROVIDER_OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT" \
  BYOK_ALLOW_PRIVATE_NETWORKS=true BYOK_REVERIFY_INTERVAL_SECS=0 "${SERVER[@]}" "$BYOK" serve > "$WORK/byok.log" 2>&1 &
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
bash bench/prefill_audit.sh "sqlite://$WORK/byok.db" "${BENCH_AUDIT_ENTRIES:-0}" >&2

LITELLM_OK=true
[ "${BENCH_LITELLM:-1}" = 0 ] && LITELLM_OK=false
if $LITELLM_OK && [ ! -x "$LITELLM_VENV/bin/litellm" ]; then
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
  LITELLM_LOG=ERROR LITELLM_TELEMETRY=False "${SERVER[@]}" "$LITELLM_VENV/bin/litellm" --config "$WORK/litellm.yaml" \
    --host 127.0.0.1 --port "$LITELLM_PORT" --num_workers 1 > "$WORK/litellm.log" 2>&1 &
  LITELLM_PID=$!
  PIDS+=("$LITELLM_PID")
  wait_http "http://127.0.0.1:$LITELLM_PORT/health/liveliness" || LITELLM_OK=false
fi

DIRECT="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"
VIA_BARE="http://127.0.0.1:$BARE_PORT/v1/chat/completions"
VIA_BYOK="http://127.0.0.1:$BYOK_PORT/v1/proxy/openai/v1/chat/completions"
VIA_LITELLM="http://127.0.0.1:$LITELLM_PORT/v1/chat/completions"
declare -A R
for mode in false true; do
  for conns in 1 32; do
    echo "bench: stream=$mode, $conns connection(s)"
    R[direct,$mode,$conns]=$(run_wrk "$DIRECT" sk-bench "$mode" "$conns" "$WORK/wrk-direct-$mode-$conns.txt" -)
    R[bare,$mode,$conns]=$(run_wrk "$VIA_BARE" sk-bench "$mode" "$conns" "$WORK/wrk-bare-$mode-$conns.txt" "$BARE_PID")
    R[byok,$mode,$conns]=$(run_wrk "$VIA_BYOK" "$VK" "$mode" "$conns" "$WORK/wrk-byok-$mode-$conns.txt" "$BYOK_PID")
    if $LITELLM_OK; then
      R[litellm,$mode,$conns]=$(run_wrk "$VIA_LITELLM" sk-litellm-bench "$mode" "$conns" "$WORK/wrk-litellm-$mode-$conns.txt" "$LITELLM_PID")
    else
      R[litellm,$mode,$conns]="- - - - -"
    fi
  done
done
echo "bench: time to first streamed byte ($SAMPLES samples each)"
T_DIRECT=$(ttfb "$DIRECT" sk-bench)
T_BARE=$(ttfb "$VIA_BARE" sk-bench)
T_BYOK=$(ttfb "$VIA_BYOK" "$VK")
T_LITELLM=$($LITELLM_OK && ttfb "$VIA_LITELLM" sk-litellm-bench || echo -)

sleep 1
COUNTED=$(curl -fs "http://127.0.0.1:$BYOK_PORT/v1/credentials/$CRED" -H "authorization: Bearer $SVC" | jq '.usage.total')
TOKENS=$(curl -fs "http://127.0.0.1:$BYOK_PORT/v1/credentials/$CRED" -H "authorization: Bearer $SVC" | jq '.usage.tokens_total')
RSS=$(awk '/VmHWM/ {print $2}' "/proc/$BYOK_PID/status")
FLUSH_AFTER=$(flush_ms "$WORK")

field() { echo "${R[$1]}" | awk -v i="$2" '{print $i}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "-" || b + 0 == 0) print "-"; else printf "%.0f", a / b }'; }
# a / b, and whether it meets the goal (`le` or `ge` the bound).
against() {
  awk -v a="$1" -v b="$2" -v op="$3" -v bound="$4" 'BEGIN {
    r = a / b; ok = (op == "ge") ? r >= bound : r <= bound
    printf "%.2f× (goal %s %.2f×: %s)", r, op == "ge" ? "≥" : "≤", bound, ok ? "met" : "not met" }'
}
# p50 added over direct by a proxy at 1 connection, in µs.
added() { awk -v a="$(field "$1,$2,1" 2)" -v d="$(field "direct,$2,1" 2)" 'BEGIN { printf "%.0f", a - d }'; }
{
  echo "# Proxy benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$(nproc) cores: the proxies pinned to CPU $SERVER_CPU, wrk and the mock to CPU $CLIENT_CPU; wrk -d$DURATION after a $WARMUP warm-up (-t1 -c1, -t2 -c32); byok $(git rev-parse --short HEAD) release, SQLite, metering on, ${BENCH_AUDIT_ENTRIES:-0} audit entries written first; LiteLLM $LITELLM_VERSION, one worker."
  echo "The disk's flush: $FLUSH_BEFORE ms per synced 4 KiB write before the run, $FLUSH_AFTER ms after."
  echo
  echo "| target | answer | conns | req/s | p50 (µs) | p99 (µs) | non-2xx | CPU/request (µs) |"
  echo "|---|---|---|---|---|---|---|---|"
  for mode in false true; do
    for conns in 1 32; do
      for t in direct bare byok litellm; do
        k="$t,$mode,$conns"
        echo "| $t | $([ "$mode" = true ] && echo SSE || echo JSON) | $conns | $(field "$k" 1) | $(field "$k" 2) | $(field "$k" 3) | $(field "$k" 4) | $(field "$k" 5) |"
      done
    done
  done
  echo
  for mode in false true; do
    kind=$([ "$mode" = true ] && echo SSE || echo JSON)
    echo "- $kind, byok against the bare proxy: throughput at 32 connections $(against "$(field byok,$mode,32 1)" "$(field bare,$mode,32 1)" ge 0.8); added p50 at 1 connection $(added byok "$mode") µs against $(added bare "$mode") µs, $(against "$(added byok "$mode")" "$(added bare "$mode")" le 1.3); CPU per request at 32 connections $(against "$(field byok,$mode,32 5)" "$(field bare,$mode,32 5)" le 1.5)"
  done
  echo "- throughput byok / LiteLLM at 32 connections: JSON $(ratio "$(field byok,false,32 1)" "$(field litellm,false,32 1)")×, SSE $(ratio "$(field byok,true,32 1)" "$(field litellm,true,32 1)")×"
  echo "- median time to first streamed byte (curl, new connection each): direct $T_DIRECT µs, bare proxy $T_BARE µs, byok $T_BYOK µs (+$(( T_BYOK - T_DIRECT )) µs), LiteLLM $T_LITELLM µs"
  echo "- byok counted $COUNTED requests and $TOKENS tokens on the credential; peak RSS $RSS KiB"
} | tee "$OUT"
