#!/usr/bin/env bash
# Writes the upgrade test's fixtures (crates/byok/tests/fixtures/previous-release/) with
# the byok of a given commit: a small database on SQLite and on PostgreSQL, made through
# that release's CLI and HTTP API, plus what the test expects to find in it.
#
#   bash scripts/make-upgrade-fixture.sh [COMMIT]        # default: HEAD
#
# Needs git, cargo, curl, jq, python3, sqlite3, pg_dump and psql, and a PostgreSQL
# server: FIXTURE_PG_URL (default postgres://postgres:postgres@127.0.0.1:5432/postgres)
# names a database from which a scratch database is created and dropped.
# FIXTURE_BIN_DIR skips the build: a directory holding `byok` and `mock-upstream`
# already built from COMMIT.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$repo" rev-parse "${1:-HEAD}")
out="$repo/crates/byok/tests/fixtures/previous-release"
pg_base=${FIXTURE_PG_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}
# The integration tests' TEST_KEY (crates/byok/tests/it/support.rs): a fake key.
master_key=5f4dcc3b5aa765d61d8327deb882cf992b95990a9151374abd8ff8c5a7a0fe08

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [[ -d "$work/src" ]]; then git -C "$repo" worktree remove --force "$work/src"; fi
    if [[ -n "${pg_scratch:-}" ]]; then psql -q "$pg_base" -c "DROP DATABASE IF EXISTS $pg_scratch WITH (FORCE)" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [[ -n "${FIXTURE_BIN_DIR:-}" ]]; then
    bin=$FIXTURE_BIN_DIR
else
    git -C "$repo" worktree add --detach "$work/src" "$commit" >/dev/null
    (cd "$work/src" && cargo build --locked -p byok -p mock-upstream \
        --target-dir "${CARGO_TARGET_DIR:-$repo/target}")
    bin=${CARGO_TARGET_DIR:-$repo/target}/debug
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

upstream_port=$(free_port)
"$bin/mock-upstream" "127.0.0.1:$upstream_port" 2>"$work/upstream.log" &
pids+=($!)

# One database, filled through byok: $1 is its DATABASE_URL, $2 the folder for the
# expected values (tokens, credentials, audit heads).
fill() {
    local db=$1 dir=$2
    export DATABASE_URL=$db BYOK_MASTER_KEY=$master_key BYOK_REVERIFY_INTERVAL_SECS=0 \
        BYOK_ALLOW_PRIVATE_NETWORKS=true BYOK_PROVIDER_OPENAI_BASE_URL="http://127.0.0.1:$upstream_port"
    mkdir -p "$dir"

    local admin service
    admin=$("$bin/byok" token create --role admin --name fixture-admin 2>"$work/admin.err")
    service=$("$bin/byok" token create --role service --name backend 2>"$work/service.err")

    "$bin/byok" serve --listen 127.0.0.1:0 2>"$work/serve.log" &
    local serve=$!
    pids+=("$serve")
    local base=""
    for _ in $(seq 100); do
        base=$(grep -o 'byok listening on http://[0-9.:]*' "$work/serve.log" | sed 's/byok listening on //' || true)
        [[ -n "$base" ]] && break
        sleep 0.1
    done
    [[ -n "$base" ]] || { cat "$work/serve.log"; echo "byok did not start" >&2; exit 1; }

    call() { # METHOD PATH TOKEN [BODY] -> body; fails on a status >= 400
        local args=(-sS --fail-with-body -X "$1" "$base$2" -H "authorization: Bearer $3")
        if [[ $# -ge 4 ]]; then args+=(-H 'content-type: application/json' -d "$4"); fi
        curl "${args[@]}"
    }
    mint() { call POST /v1/tokens "$1" "$2"; }

    local tokens="$dir/tokens.jsonl"
    : >"$tokens"
    token_line() { # ID TOKEN ROLE STATE
        jq -cn --arg id "$1" --arg token "$2" --arg role "$3" --arg state "$4" \
            '{id: $id, token: $token, role: $role, state: $state}' >>"$tokens"
    }
    # `token create` says "created admin token <id> (shown only now)" on stderr.
    token_line "$(awk '{print $5}' "$work/admin.err")" "$admin" admin active
    token_line "$(awk '{print $5}' "$work/service.err")" "$service" service active

    local alice bob carol dave vk expiring r
    r=$(mint "$service" '{"role":"user","owner":"user:alice","manage_orgs":["acme"],"name":"alice"}')
    alice=$(jq -r .token <<<"$r"); token_line "$(jq -r .id <<<"$r")" "$alice" user active
    r=$(mint "$service" '{"role":"user","owner":"user:bob"}')
    bob=$(jq -r .token <<<"$r"); token_line "$(jq -r .id <<<"$r")" "$bob" user active
    r=$(mint "$admin" '{"role":"service","name":"second-backend"}')
    dave=$(jq -r .token <<<"$r"); token_line "$(jq -r .id <<<"$r")" "$dave" service active
    r=$(mint "$service" '{"role":"virtual","owner":"user:alice","providers":["openai"],"monthly_limit":1000,"name":"alice-sdk"}')
    vk=$(jq -r .token <<<"$r"); local vk_id; vk_id=$(jq -r .id <<<"$r"); token_line "$vk_id" "$vk" virtual active
    r=$(mint "$service" '{"role":"user","owner":"user:carol"}')
    carol=$(jq -r .token <<<"$r"); token_line "$(jq -r .id <<<"$r")" "$carol" user revoked
    call DELETE "/v1/tokens/$(jq -r .id <<<"$r")" "$service" >/dev/null
    r=$(mint "$service" '{"role":"user","owner":"user:erin","expires_in":1}')
    expiring=$(jq -r .token <<<"$r"); token_line "$(jq -r .id <<<"$r")" "$expiring" user expired

    local creds="$dir/credentials.jsonl"
    : >"$creds"
    # create TOKEN BODY RESOLVE-REQUEST SECRET-FIELD=VALUE... -> id; records what the
    # test checks: the resolve request that picks it and each secret field's SHA-256.
    create() {
        local token=$1 body=$2 resolve=$3
        shift 3
        local id digests='{}'
        id=$(call POST /v1/credentials "$token" "$body" | jq -r .id)
        for pair in "$@"; do
            digests=$(jq -c --arg k "${pair%%=*}" --arg v "$(sha "${pair#*=}")" '. + {($k): $v}' <<<"$digests")
        done
        jq -cn --arg id "$id" --argjson resolve "$resolve" --argjson sha "$digests" \
            '{id: $id, resolve: $resolve, secret_sha256: $sha}' >>"$creds"
        echo "$id"
    }
    local k1=sk-fixture-alice-openai-v1-0000000000000001 k2=sk-fixture-alice-openai-v2-0000000000000002
    local k3=sk-fixture-alice-openai-v3-0000000000000003
    local alice_openai
    alice_openai=$(create "$alice" "{\"provider\":\"openai\",\"label\":\"Personal\",\"monthly_limit\":1000,
        \"fields\":{\"api_key\":\"$k1\",\"organization\":\"org-fixture\"}}" \
        '{"provider":"openai","user":"alice","org":"acme"}' "api_key=$k3")
    call PATCH "/v1/credentials/$alice_openai" "$alice" "{\"fields\":{\"api_key\":\"$k2\"}}" >/dev/null
    call PATCH "/v1/credentials/$alice_openai" "$alice" "{\"fields\":{\"api_key\":\"$k3\"}}" >/dev/null
    jq -cn --arg id "$alice_openai" --arg v1 "$(sha "$k1")" --arg v2 "$(sha "$k2")" --arg v3 "$(sha "$k3")" \
        '{credential: $id, api_key_sha256: {"1": $v1, "2": $v2, "3": $v3}}' >"$dir/versions.json"

    create "$alice" '{"provider":"anthropic","label":"Work","priority":2,"fields":{"api_key":"sk-ant-fixture-alice-0000000000000004"}}' \
        '{"provider":"anthropic","user":"alice"}' "api_key=sk-ant-fixture-alice-0000000000000004" >/dev/null
    create "$alice" '{"owner":"org:acme","provider":"openai","label":"Team","fields":{"api_key":"sk-fixture-acme-openai-0000000000000005"}}' \
        '{"provider":"openai","org":"acme"}' "api_key=sk-fixture-acme-openai-0000000000000005" >/dev/null
    create "$service" '{"owner":"org:acme","provider":"resend","fields":{"api_key":"re_fixture_acme_0000000000000006","from_email":"hi@acme.example"}}' \
        '{"provider":"resend","org":"acme"}' "api_key=re_fixture_acme_0000000000000006" >/dev/null
    create "$admin" '{"owner":"platform","provider":"gemini","fields":{"api_key":"AIzaFixturePlatformGemini0000000007"}}' \
        '{"provider":"gemini","user":"zed"}' "api_key=AIzaFixturePlatformGemini0000000007" >/dev/null
    create "$service" '{"owner":"user:bob","provider":"twilio","fields":{"account_sid":"AC00000000000000000000000000000008","auth_token":"b0b0000000000000000000000000f008","phone_number":"+15005550006"}}' \
        '{"provider":"twilio","user":"bob"}' "auth_token=b0b0000000000000000000000000f008" >/dev/null
    create "$service" '{"owner":"user:dave","provider":"aws","fields":{"access_key_id":"AKIAFIXTURE000000009","secret_access_key":"fixture/dave/aws/secret/access/key/00009","region":"eu-west-1"}}' \
        '{"provider":"aws","user":"dave"}' "secret_access_key=fixture/dave/aws/secret/access/key/00009" >/dev/null
    local disabled
    disabled=$(create "$bob" '{"provider":"openrouter","fields":{"api_key":"sk-or-fixture-bob-0000000000000010"}}' \
        '{"provider":"openrouter","user":"bob","fallback":false}' "api_key=sk-or-fixture-bob-0000000000000010")
    call PATCH "/v1/credentials/$disabled" "$bob" '{"enabled":false}' >/dev/null

    # acme may not fall back to platform keys: its gemini resolve is refused.
    call PUT /v1/orgs/acme/policy "$alice" '{"allow_platform_fallback":false}' >/dev/null

    # Use: resolves (audited, counted) and proxied requests (counted with tokens).
    local i
    for i in 1 2 3; do call POST /v1/resolve "$service" '{"provider":"openai","user":"alice","org":"acme"}' >/dev/null; done
    for i in 1 2; do call POST /v1/resolve "$dave" '{"provider":"twilio","user":"bob"}' >/dev/null; done
    call POST /v1/resolve "$service" '{"provider":"resend","org":"acme"}' >/dev/null
    call POST /v1/resolve "$service" '{"provider":"gemini","user":"zed"}' >/dev/null
    for i in 1 2; do
        curl -sS --fail-with-body "$base/v1/proxy/openai/v1/chat/completions" -H "authorization: Bearer $vk" \
            -H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}' >/dev/null
    done
    curl -sS --fail-with-body "$base/v1/proxy/openai/v1/chat/completions" -H "authorization: Bearer $service" \
        -H 'x-byok-org: acme' -H 'content-type: application/json' \
        -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true}' >/dev/null
    # A refused request is audited too.
    curl -sS -o /dev/null "$base/v1/resolve" -H "authorization: Bearer $service" -H 'content-type: application/json' \
        -d '{"provider":"gemini","org":"acme"}'
    sleep 1.2 # counts are written in batches; the expiring token is past its end

    # What byok answers now, to compare after the upgrade.
    call GET "/v1/credentials?limit=100" "$admin" | jq -c '.items | sort_by(.id)' >"$dir/credential-views.json"
    call GET "/v1/tokens/$vk_id" "$admin" >"$dir/virtual-key-view.json"
    call GET /v1/orgs/acme/policy "$admin" >"$dir/acme-policy.json"
    kill -TERM "$serve"
    wait "$serve" || true

    "$bin/byok" audit verify >"$work/verify.txt"
    tail -n +2 "$work/verify.txt" >"$dir/audit-heads.txt"
    head -n 1 "$work/verify.txt" >"$dir/audit-summary.txt"
    unset DATABASE_URL BYOK_MASTER_KEY BYOK_REVERIFY_INTERVAL_SECS BYOK_ALLOW_PRIVATE_NETWORKS BYOK_PROVIDER_OPENAI_BASE_URL
}

# The expected values are the same on both engines but for ids: one folder each.
rm -rf "$out/sqlite" "$out/postgres"

fill "sqlite://$work/byok.db" "$out/sqlite"
sqlite3 "$work/byok.db" .dump >"$out/sqlite/byok.sql"

pg_scratch="byok_fixture_$$"
psql -q "$pg_base" -c "CREATE DATABASE $pg_scratch"
pg_db=$(python3 -c 'import sys, urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$pg_base" "$pg_scratch")
fill "$pg_db" "$out/postgres"
# Without pg_dump's \restrict lines (a random key per run, psql >= 15.14 only): the
# committed dump is reviewed, and loads with any psql.
pg_dump --no-owner --no-privileges "$pg_db" | grep -v -e '^\\restrict ' -e '^\\unrestrict ' >"$out/postgres/byok.sql"

# The dumps must hold sealed secrets and token hashes only.
for engine in sqlite postgres; do
    dump="$out/$engine/byok.sql"
    for secret in sk-fixture-alice-openai-v sk-ant-fixture-alice sk-fixture-acme-openai re_fixture_acme \
        AIzaFixturePlatformGemini b0b0000000000000000000000000f008 fixture/dave/aws/secret sk-or-fixture-bob \
        $(jq -r .token "$out/$engine/tokens.jsonl"); do
        if grep -qF -- "$secret" "$dump"; then
            echo "a secret or token appears in clear in $dump" >&2
            exit 1
        fi
    done
done
echo "$commit" >"$out/COMMIT"
echo "fixtures written to $out by byok $commit"
