#!/usr/bin/env bash
# A million credentials: bulk import rate, start-up time and idle RSS, resolve and proxy
# throughput and p99 against a 1,000-credential store in the same run, and rotate-key
# over all of them under resolve load. See bench/README.md.
# Usage: bench/scale.sh [sqlite|postgres|both]
#   (BENCH_CREDENTIALS, BENCH_SMALL, BENCH_IMPORT_BATCH, BENCH_DURATION, BENCH_ROUNDS, BENCH_PG_URL)
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINES="${1:-sqlite}"; [ "$ENGINES" = both ] && ENGINES="sqlite postgres"
BIG="${BENCH_CREDENTIALS:-1000000}"
SMALL="${BENCH_SMALL:-1000}"
BATCH="${BENCH_IMPORT_BATCH:-1000}"
DURATION="${BENCH_DURATION:-20s}"
ROUNDS="${BENCH_ROUNDS:-2}"
CONNS="${BENCH_CONNECTIONS:-16}"
THREADS="${BENCH_THREADS:-2}"
WORK="${BENCH_WORK:-/tmp/byok-scale}"
# A scratch database of the bench's own on the server; never `test`.
PG_URL="${BENCH_PG_URL:-postgres://postgres:postgres@127.0.0.1:5432}"
BYOK_PORT=18070
MOCK_PORT=18071
OUT="bench/results/scale-$(date -u +%Y%m%dT%H%M%SZ).md"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v jq >/dev/null || apt-get install -y -qq jq
cargo build --release --locked -q -p byok -p mock-upstream
BYOK="$PWD/target/release/byok"
MOCK="$PWD/target/release/mock-upstream"
rm -rf "$WORK" && mkdir -p "$WORK" bench/results
OLD_KEY="$("$BYOK" keygen)"; NEW_KEY="$("$BYOK" keygen)"

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
log() { echo "scale: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.2f", e - s }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
wait_http() { for _ in $(seq 1 3000); do curl -fs -o /dev/null "$1" && return 0; sleep 0.01; done; echo "no answer from $1" >&2; return 1; }
# wrk's latency figures (85.00us, 1.20ms, 2.00s) in microseconds.
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'; }
# wrk's summary → "req/s p50_us p99_us failed" (failed: non-2xx and socket errors)
wrk_figures() {
  local log="$1" rps p50 p99 bad errs
  rps=$(awk '/Requests\/sec/ {print $2}' "$log")
  p50=$(to_us "$(awk '$1 == "50%" {print $2}' "$log")")
  p99=$(to_us "$(awk '$1 == "99%" {print $2}' "$log")")
  bad=$(awk '/Non-2xx/ {print $5}' "$log"); bad=${bad:-0}
  errs=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$log"); errs=${errs:-0}
  echo "$rps $p50 $p99 $((bad + errs))"
}

"$MOCK" "127.0.0.1:$MOCK_PORT" 2> "$WORK/mock.log" &
PIDS+=("$!")
wait_http "http://127.0.0.1:$MOCK_PORT/v1/models"

keys_file() {
  python3 - "$1" > "$2" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print('{"owner":"user:u%d","provider":"openai","fields":{"api_key":"sk-scale-bench-key-%09d"}}' % (i, i))
PY
}
keys_file "$SMALL" "$WORK/small.jsonl"
keys_file "$BIG" "$WORK/big.jsonl"

database_url() {
  local engine="$1" name="$2"
  if [ "$engine" = sqlite ]; then
    echo "sqlite://$WORK/$name.db"
  else
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS byok_scale_$name WITH (FORCE)" \
      -c "CREATE DATABASE byok_scale_$name" >/dev/null
    echo "$PG_URL/byok_scale_$name"
  fi
}

# Sets RESULT to "seconds lines/s".
import_into() {
  local url="$1" file="$2" lines="$3" start secs
  start=$(now)
  BYOK_MASTER_KEY="$OLD_KEY" DATABASE_URL="$url" "$BYOK" import "$file" --batch-size "$BATCH" > "$WORK/import.log"
  secs=$(since "$start")
  tail -n 1 "$WORK/import.log" | grep -qx "imported $lines, failed 0" || { echo "import: $(tail -n 1 "$WORK/import.log")" >&2; exit 1; }
  RESULT="$secs $(rate "$lines" "$secs")"
}

# Starts byok on $1 with the environment given after it; sets SERVE_PID, READY_MS.
start_byok() {
  local url="$1"; shift
  local start; start=$(now)
  env "$@" DATABASE_URL="$url" BYOK_ADMIN_TOKEN="$ADMIN" BYOK_LISTEN="127.0.0.1:$BYOK_PORT" BYOK_LOG=warn \
    BYOK_PROVIDER_OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT" BYOK_ALLOW_PRIVATE_NETWORKS=true \
    "$BYOK" serve >> "$WORK/serve.log" 2>&1 &
  SERVE_PID=$!; PIDS+=("$SERVE_PID")
  wait_http "http://127.0.0.1:$BYOK_PORT/readyz"
  READY_MS=$(awk -v s="$start" -v e="$(now)" 'BEGIN { printf "%.0f", (e - s) * 1000 }')
}
stop_byok() { kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; }
rss_kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
api() { curl -fs -X POST "http://127.0.0.1:$BYOK_PORT$1" -H "authorization: Bearer $2" -H 'content-type: application/json' -d "$3"; }

# One store: start-up, idle RSS, resolve and proxy load. Sets RESULT to "ready_ms rss_kib file_kib r_rps r_p50 r_p99 r_bad p_rps p_p50 p_p99 p_bad"
measure() {
  local url="$1" users="$2" tag="$3"
  start_byok "$url" BYOK_MASTER_KEY="$OLD_KEY"
  sleep 2
  local rss file; rss=$(rss_kib "$SERVE_PID" VmRSS); file=$(rss_kib "$SERVE_PID" RssFile)
  local svc vk
  svc=$(api /v1/tokens "$ADMIN" '{"role":"service"}' | jq -r .token)
  vk=$(api /v1/tokens "$svc" "{\"role\":\"virtual\",\"owner\":\"user:u$((users / 2))\",\"providers\":[\"openai\"]}" | jq -r .token)
  BENCH_TOKEN="$svc" BENCH_USERS="$users" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
    -s bench/resolve.lua "http://127.0.0.1:$BYOK_PORT" > "$WORK/wrk-resolve-$tag.txt"
  BENCH_TOKEN="$vk" BENCH_STREAM=false wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency \
    -s bench/proxy_chat.lua "http://127.0.0.1:$BYOK_PORT/v1/proxy/openai/v1/chat/completions" > "$WORK/wrk-proxy-$tag.txt"
  stop_byok
  RESULT="$READY_MS $rss $file $(wrk_figures "$WORK/wrk-resolve-$tag.txt") $(wrk_figures "$WORK/wrk-proxy-$tag.txt")"
}

# rotate-key over the big store while wrk resolves for as long as it runs.
# Sets RESULT to "envelopes seconds envelopes/s resolves failed".
rotate_under_load() {
  local url="$1" users="$2"
  local keys="k2:$NEW_KEY,k1:$OLD_KEY"
  start_byok "$url" BYOK_MASTER_KEYS="$keys"
  local svc; svc=$(api /v1/tokens "$ADMIN" '{"role":"service"}' | jq -r .token)
  BENCH_TOKEN="$svc" BENCH_USERS="$users" wrk -t"$THREADS" -c"$CONNS" -d3600s --latency \
    -s bench/resolve.lua "http://127.0.0.1:$BYOK_PORT" > "$WORK/wrk-rotate.txt" &
  local wrk_pid=$!
  sleep 2
  local start secs
  start=$(now)
  BYOK_MASTER_KEYS="$keys" DATABASE_URL="$url" "$BYOK" rotate-key --batch-size 500 > "$WORK/rotate.log" 2> "$WORK/rotate.err"
  secs=$(since "$start")
  sleep 2
  kill -INT "$wrk_pid"; wait "$wrk_pid" || true
  stop_byok
  local resealed served
  resealed=$(grep -o 're-sealed [0-9]*' "$WORK/rotate.log" | awk '{print $2}')
  grep -q 'every secret is now sealed under `k2`' "$WORK/rotate.log" || { cat "$WORK/rotate.log" >&2; exit 1; }
  served=$(awk '/requests in/ {print $1}' "$WORK/wrk-rotate.txt")
  local max; max=$(awk '/Latency/ && NF > 4 {print $4; exit}' "$WORK/wrk-rotate.txt")
  RESULT="$resealed $secs $(rate "$resealed" "$secs") $served $(wrk_figures "$WORK/wrk-rotate.txt" | awk '{print $4, $3}') $max"
}

ADMIN="byok_adm_$(openssl rand -hex 32)"
LOAD="$(uptime | sed 's/.*load average: //')"
ROWS=()
FAILED=()
for engine in $ENGINES; do
  log "$engine: importing $SMALL and $BIG credentials (--batch-size $BATCH)"
  small_url=$(database_url "$engine" small)
  import_into "$small_url" "$WORK/small.jsonl" "$SMALL"; read -r s_secs _ <<<"$RESULT"
  big_url=$(database_url "$engine" big)
  import_into "$big_url" "$WORK/big.jsonl" "$BIG"; read -r b_secs b_rate <<<"$RESULT"
  log "$engine: imported $BIG in $b_secs s ($b_rate lines/s)"
  size=""
  [ "$engine" = sqlite ] && size=$(du -m "$WORK/big.db" | awk '{print $1}')
  ROWS+=("| $engine | import, $BIG lines, --batch-size $BATCH | $b_secs s, $b_rate lines/s (1 audit entry each) | $SMALL lines: $s_secs s | ${size:+database $size MB} |")
  for round in $(seq 1 "$ROUNDS"); do
    for which in small big; do
      if [ "$which" = small ]; then url=$small_url; users=$SMALL; else url=$big_url; users=$BIG; fi
      log "$engine: round $round, $users credentials"
      measure "$url" "$users" "$engine-$which-$round"
      read -r ready rss file r_rps r_p50 r_p99 r_bad p_rps p_p50 p_p99 p_bad <<<"$RESULT"
      [ "$r_bad" = 0 ] && [ "$p_bad" = 0 ] || FAILED+=("$engine, $users credentials: $r_bad resolve and $p_bad proxy requests failed")
      eval "${which}_r_p99_$round=$r_p99"
      ROWS+=("| $engine | round $round, $users credentials | ready in $ready ms, idle RSS $((rss / 1024)) MB ($((file / 1024)) MB file pages) | resolve $r_rps req/s, p50 $r_p50 µs, p99 $r_p99 µs | proxy $p_rps req/s, p50 $p_p50 µs, p99 $p_p99 µs |")
    done
    ratio=$(awk -v a="$(eval echo "\$big_r_p99_$round")" -v b="$(eval echo "\$small_r_p99_$round")" 'BEGIN { printf "%.2f", a / b }')
    ROWS+=("| $engine | round $round | resolve p99, $BIG / $SMALL credentials: **${ratio}×** | | |")
  done
  log "$engine: rotate-key over $BIG credentials under resolve load"
  rotate_under_load "$big_url" "$BIG"; read -r envelopes r_secs r_rate served failed r_p99 r_max <<<"$RESULT"
  [ "$failed" = 0 ] || FAILED+=("$engine: $failed requests failed during the rotation")
  ROWS+=("| $engine | rotate-key --batch-size 500 | $envelopes envelopes in $r_secs s: **$r_rate rows/s** | $served resolves served meanwhile, $failed failed | resolve p99 meanwhile $r_p99 µs, max $r_max |")
done

{
  echo "# Scale benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "byok $(git rev-parse --short HEAD) release; $(nproc) cores shared by wrk, the mock and byok (and PostgreSQL);"
  echo "load average at the start: $LOAD; wrk -t$THREADS -c$CONNS -d$DURATION; resolve for a random user of the store,"
  echo "proxy (JSON chat completion to bench/mock-upstream) with one virtual key."
  echo
  echo "| engine | case | | | |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  for f in "${FAILED[@]:-}"; do if [ -n "$f" ]; then echo; echo "FAILED: $f"; fi; done
} | tee "$OUT"
[ "${#FAILED[@]}" = 0 ]
