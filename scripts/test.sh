#!/usr/bin/env bash
# Runs every test: `bash scripts/test.sh [extra cargo test args]`.
#
# On a Debian or Ubuntu machine where only Rust is installed it first provides what the
# tests need (as root, from the distribution's packages): a C compiler, PostgreSQL's
# server programs, Chromium and chromedriver, openssl, Python's venv module, Node.js and
# npm. It then starts a throwaway PostgreSQL cluster of its own (a temp dir, a free port, stopped and
# removed at the end) unless BYOK_TEST_DATABASE_URL already names a server, builds the
# SDK venv (scripts/sdk-venv.sh) and runs `cargo test --workspace --locked`.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "test.sh: $*" >&2; }

# --- packages --------------------------------------------------------------------------
missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing packages: ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root"
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- a throwaway PostgreSQL cluster --------------------------------------------------------
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ -z "${BYOK_TEST_DATABASE_URL:-}" ]; then
  pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  pgdir="$(mktemp -d /tmp/byok-test-pg.XXXXXX)"
  port="$(free_port)"
  # initdb and postgres refuse to run as root: as root, the cluster belongs to `postgres`.
  as_owner() { "$@"; }
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$pgdir"
    as_owner() { runuser -u postgres -- "$@"; }
  fi
  stop_cluster() {
    as_owner "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pgdir"
  }
  trap stop_cluster EXIT
  as_owner "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  # Durability is not what these tests prove about PostgreSQL: fsync off makes them quicker.
  as_owner "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 60 \
    -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c full_page_writes=off" \
    start >/dev/null || { cat "$pgdir/server.log" >&2; exit 1; }
  export BYOK_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  say "PostgreSQL $("$pgbin/postgres" -V | awk '{print $3}') for the tests on 127.0.0.1:$port ($pgdir)"
fi

# --- the provider SDKs the proxy tests drive ------------------------------------------------
if [ -z "${BYOK_TEST_PYTHON:-}" ]; then
  BYOK_TEST_PYTHON="$(bash scripts/sdk-venv.sh)"
  export BYOK_TEST_PYTHON
fi

cargo test --workspace --locked "$@"
