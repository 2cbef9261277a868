#!/usr/bin/env bash
# Where resolve's time goes on PostgreSQL: byok and a throwaway PostgreSQL cluster (fsync
# on, pg_stat_statements loaded, WAL I/O timed) pinned to one core as in resolve.sh, wrk on
# the other, 1,000 users. Prints the CPU each side spent per resolve, the WAL flushes per
# resolve and their mean time, and the statements that took the server's time.
# Usage: bench/resolve_pg_profile.sh   (BENCH_BYOK, BENCH_DURATION, BENCH_USERS as in
# resolve.sh; BENCH_PERF=1 also records a perf profile of byok into $WORK/perf.data)
set -euo pipefail
cd "$(dirname "$0")/.."

USERS="${BENCH_USERS:-1000}"
DURATION="${BENCH_DURATION:-20s}"
WORK="${BENCH_WORK:-/tmp/byok-pg-profile}"
SERVER=(taskset -c "${BENCH_SERVER_CPU:-1}")
CLIENT=(taskset -c "${BENCH_CLIENT_CPU:-0}")
BYOK="${BENCH_BYOK:-target/release/byok}"
PORT=18190

[ -n "${BENCH_BYOK:-}" ] || cargo build --release --locked -q -p byok
rm -rf "$WORK" && mkdir -p "$WORK"
PIDS=()
source bench/pg_cluster.sh
cleanup() {
  for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done
  stop_pg_cluster
}
trap cleanup EXIT
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }

start_pg_cluster shared_preload_libraries=pg_stat_statements track_wal_io_timing=on track_io_timing=on
psql "$PG_URL/postgres" -qc "CREATE DATABASE byok_profile" >/dev/null
psql "$PG_URL/byok_profile" -qc "CREATE EXTENSION pg_stat_statements" >/dev/null

admin="byok_adm_$(openssl rand -hex 32)"
BYOK_MASTER_KEY="$("$BYOK" keygen)" DATABASE_URL="$PG_URL/byok_profile" BYOK_ADMIN_TOKEN="$admin" \
  BYOK_LISTEN="127.0.0.1:$PORT" BYOK_TEST_NEW_CREDENTIALS=false BYOK_LOG=warn "${SERVER[@]}" "$BYOK" serve \
  > "$WORK/byok.log" 2>&1 &
BYOK_PID=$!; PIDS+=("$BYOK_PID")
wait_http "http://127.0.0.1:$PORT/readyz"
svc=$(curl -fs -X POST "http://127.0.0.1:$PORT/v1/tokens" -H "authorization: Bearer $admin" \
  -H 'content-type: application/json' -d '{"role":"service"}' | jq -r .token)
seq 0 $((USERS - 1)) | xargs -P 8 -I{} curl -fs -o /dev/null -X POST "http://127.0.0.1:$PORT/v1/credentials" \
  -H "authorization: Bearer $svc" -H 'content-type: application/json' \
  -d '{"owner":"user:u{}","provider":"openai","fields":{"api_key":"sk-bench-key-of-user-u{}-abcdef"}}'
BENCH_TOKEN="$svc" BENCH_USERS="$USERS" "${CLIENT[@]}" wrk -t2 -c16 -d5s -s bench/resolve.lua "http://127.0.0.1:$PORT" >/dev/null

# CPU seconds of byok, and of the cluster's postmaster with all its children.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
  local pm sum=0; pm=$(head -1 "$PG_DIR/data/postmaster.pid")
  for p in $pm $(ps --ppid "$pm" -o pid=); do sum=$((sum + $(ticks "$p"))); done
  echo "$sum"
}
psql "$PG_URL/byok_profile" -qc "SELECT pg_stat_statements_reset(), pg_stat_reset_shared('wal')" >/dev/null
b0=$(ticks "$BYOK_PID"); p0=$(pg_ticks)
if [ "${BENCH_PERF:-0}" = 1 ]; then
  perf record -g -o "$WORK/perf.data" -p "$BYOK_PID" -- sleep "${DURATION%s}" >/dev/null 2>&1 &
  PIDS+=("$!")
fi
BENCH_TOKEN="$svc" BENCH_USERS="$USERS" "${CLIENT[@]}" wrk -t2 -c16 -d"$DURATION" --latency -s bench/resolve.lua \
  "http://127.0.0.1:$PORT" > "$WORK/wrk.txt"
b1=$(ticks "$BYOK_PID"); p1=$(pg_ticks)
hz=$(getconf CLK_TCK)
total=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
echo "resolve on PostgreSQL: $(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt") req/s, p50 $(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt"), p99 $(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt"), $total resolves"
awk -v b=$((b1 - b0)) -v p=$((p1 - p0)) -v hz="$hz" -v n="$total" 'BEGIN {
  printf "CPU per resolve: byok %.1f µs, PostgreSQL %.1f µs (all its processes)\n", b / hz / n * 1e6, p / hz / n * 1e6 }'
psql "$PG_URL/byok_profile" -Atc "SELECT wal_records, wal_sync, round(wal_sync_time::numeric, 1), round(wal_write_time::numeric, 1) FROM pg_stat_wal" |
  awk -F'|' -v n="$total" '{ printf "WAL: %.2f records and %.3f flushes per resolve; a flush %.3f ms on average (write %.1f ms in all)\n", $1 / n, $2 / n, ($2 > 0 ? $3 / $2 : 0), $4 }'
echo "statements by the server's time (calls per resolve, mean ms, share of the run's statement time):"
psql "$PG_URL/byok_profile" -Atc "SELECT round(calls::numeric / $total, 3), round(mean_exec_time::numeric, 3),
    round((100 * total_exec_time / sum(total_exec_time) OVER ())::numeric, 1), left(regexp_replace(query, '\s+', ' ', 'g'), 110)
  FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'byok_profile')
  ORDER BY total_exec_time DESC LIMIT 8" | awk -F'|' '{ printf "  %s/resolve  %s ms  %s%%  %s\n", $1, $2, $3, $4 }'
