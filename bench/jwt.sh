#!/usr/bin/env bash
# What a JWT of the product's own sign-in costs: GET /v1/credentials (SQLite, the user's
# ten keys) with a byok user token, an HS256 JWT and an RS256 JWT whose key comes from a
# JWKS (fetched once, then cached), in alternating rounds of one run. Tokens are minted
# with PyJWT from the SDK venv. See bench/README.md.
# Usage: bench/jwt.sh [ROUNDS]   (BENCH_DURATION, default 8s; BENCH_BYOK: a byok binary)
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${1:-3}"
DURATION="${BENCH_DURATION:-8s}"
WORK="${BENCH_WORK:-/tmp/byok-jwt-bench}"
BYOK_PORT=18093 JWKS_PORT=18094

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v jq >/dev/null || apt-get install -y -qq jq
if [ -n "${BENCH_BYOK:-}" ]; then
  BYOK="$BENCH_BYOK"
else
  cargo build --release --locked -q -p byok
  BYOK="$PWD/target/release/byok"
fi
PYTHON="$(bash scripts/sdk-venv.sh "${BENCH_VENV:-.venv-sdk}")"
rm -rf "$WORK" && mkdir -p "$WORK/jwks/.well-known"

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_http() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; return 1; }

SECRET="bench-hs256-secret-of-at-least-thirty-two-characters"
EXP=$(( $(date +%s) + 3600 ))
echo "{\"keys\":[{\"kid\":\"k1\",\"alg\":\"RS256\"}],\"hs256_secret\":\"$SECRET\",\"tokens\":{
  \"hs\":{\"alg\":\"HS256\",\"claims\":{\"sub\":\"alice\",\"iss\":\"https://bench.example\",\"exp\":$EXP}},
  \"rs\":{\"alg\":\"RS256\",\"kid\":\"k1\",\"claims\":{\"sub\":\"alice\",\"iss\":\"https://bench.example\",\"exp\":$EXP}}}}" \
  | "$PYTHON" crates/byok/tests/sdk/jwt_tokens.py > "$WORK/minted.json"
jq '{keys: [.jwks.k1]}' "$WORK/minted.json" > "$WORK/jwks/.well-known/jwks.json"
"$PYTHON" -m http.server "$JWKS_PORT" --bind 127.0.0.1 --directory "$WORK/jwks" > "$WORK/jwks.log" 2>&1 &
PIDS+=("$!")
wait_http "http://127.0.0.1:$JWKS_PORT/.well-known/jwks.json"

ADMIN="byok_adm_$(openssl rand -hex 32)"
BYOK_MASTER_KEY="$("$BYOK" keygen)" DATABASE_URL="sqlite://$WORK/byok.db" BYOK_ADMIN_TOKEN="$ADMIN" \
  BYOK_LISTEN="127.0.0.1:$BYOK_PORT" BYOK_LOG=warn BYOK_TEST_NEW_CREDENTIALS=false BYOK_REVERIFY_INTERVAL_SECS=0 \
  BYOK_ALLOW_PRIVATE_NETWORKS=true BYOK_JWT_HS256_SECRET="$SECRET" BYOK_JWT_ISSUER=https://bench.example \
  BYOK_JWT_JWKS_URL="http://127.0.0.1:$JWKS_PORT/.well-known/jwks.json" "$BYOK" serve > "$WORK/byok.log" 2>&1 &
PIDS+=("$!")
BASE="http://127.0.0.1:$BYOK_PORT"
wait_http "$BASE/readyz"
USER_TOKEN=$(curl -fs -X POST "$BASE/v1/tokens" -H "authorization: Bearer $ADMIN" -H 'content-type: application/json' \
  -d '{"role":"user","owner":"user:alice"}' | jq -r .token)
for i in $(seq 1 10); do
  curl -fs -o /dev/null -X POST "$BASE/v1/credentials" -H "authorization: Bearer $USER_TOKEN" \
    -H 'content-type: application/json' -d "{\"provider\":\"openai\",\"label\":\"k$i\",\"fields\":{\"api_key\":\"sk-bench-$i-0123456789abcdef\"}}"
done
declare -A TOKENS=([user_token]="$USER_TOKEN" [jwt_hs256]="$(jq -r .tokens.hs "$WORK/minted.json")"
  [jwt_rs256]="$(jq -r .tokens.rs "$WORK/minted.json")")
for kind in user_token jwt_hs256 jwt_rs256; do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/credentials" -H "authorization: Bearer ${TOKENS[$kind]}")" = 200 ] \
    || { echo "bench: $kind is refused" >&2; exit 1; }
done

echo "| round | token | req/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  for kind in user_token jwt_hs256 jwt_rs256; do
    wrk -t2 -c16 -d"$DURATION" --latency -H "authorization: Bearer ${TOKENS[$kind]}" "$BASE/v1/credentials" > "$WORK/wrk.txt"
    rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt"); p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
    bad=$(awk '/Non-2xx/ {print $5}' "$WORK/wrk.txt")
    echo "| $round | $kind | $rps | $p50 | $p99 | ${bad:-0} |"
  done
done
echo
echo "JWKS fetches: $(grep -c 'GET /.well-known/jwks.json' "$WORK/jwks.log")"
