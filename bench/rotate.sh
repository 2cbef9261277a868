#!/usr/bin/env bash
# rotate-key throughput: re-seal N credentials (default 100,000) under a new master key
# while wrk keeps resolving through the running service; reports rows/s and the
# service's non-2xx answers during the rotation (must be 0). See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

N="${BENCH_CREDENTIALS:-100000}"
WORK="${BENCH_WORK:-/tmp/byok-bench-rotate}"
DB="${BENCH_DATABASE_URL:-sqlite://$WORK/byok.db}"
PORT=18090
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -p byok -q
BYOK="$PWD/target/release/byok"
rm -rf "$WORK" && mkdir -p "$WORK" bench/results
OLD="$("$BYOK" keygen)"; NEW="$("$BYOK" keygen)"

echo "bench: writing $N credentials"
python3 - "$N" > "$WORK/keys.jsonl" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print('{"owner":"user:u%d","provider":"openai","fields":{"api_key":"sk-bench-rotate-key-%08d"}}' % (i, i))
PY
start=$(date +%s.%N)
BYOK_MASTER_KEY="$OLD" DATABASE_URL="$DB" "$BYOK" import "$WORK/keys.jsonl" --batch-size 1000 > "$WORK/import.log"
echo "bench: imported in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}') s"

export BYOK_MASTER_KEYS="k2:$NEW,k1:$OLD" DATABASE_URL="$DB"
admin="byok_adm_$(openssl rand -hex 32)"
BYOK_ADMIN_TOKEN="$admin" BYOK_LISTEN="127.0.0.1:$PORT" BYOK_LOG=warn "$BYOK" serve > "$WORK/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
svc=$(curl -fs -X POST "http://127.0.0.1:$PORT/v1/tokens" -H "authorization: Bearer $admin" \
  -H 'content-type: application/json' -d '{"role":"service"}' | jq -r .token)

# Rotation in the background, resolve load in the foreground for longer than it takes.
( start=$(date +%s.%N); "$BYOK" rotate-key --batch-size 500 > "$WORK/rotate.log" 2>&1
  awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}' > "$WORK/rotate.secs" ) &
rotate_pid=$!
BENCH_TOKEN="$svc" BENCH_USERS="$N" wrk -t1 -c4 -d"${BENCH_LOAD_SECS:-90}s" -s bench/resolve.lua "http://127.0.0.1:$PORT" > "$WORK/wrk.txt"
wait "$rotate_pid"
secs=$(cat "$WORK/rotate.secs")
resealed=$(grep -o 're-sealed [0-9]*' "$WORK/rotate.log" | tail -1 | awk '{print $2}')
bad=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt"); bad=${bad:-0}
served=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
{
  echo "# rotate-key, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$N credentials ($resealed envelopes incl. kept versions and the audit key), batch 500, $DB;"
  echo "wrk -t1 -c4 resolving for ${BENCH_LOAD_SECS:-90} s from the start of the rotation."
  echo
  echo "| envelopes | seconds | envelopes/s | resolves served meanwhile | non-2xx |"
  echo "|---|---|---|---|---|"
  echo "| $resealed | $secs | $(awk -v n="$resealed" -v s="$secs" 'BEGIN{printf "%.0f", n/s}') | $served | $bad |"
  echo
  tail -n 2 "$WORK/rotate.log"
} | tee "bench/results/rotate-$(date -u +%Y%m%dT%H%M%SZ).md"
[ "$bad" = "0" ] || { echo "bench: the service answered $bad non-2xx during rotation" >&2; exit 1; }
