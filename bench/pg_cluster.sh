# Sourced by the bench scripts: `start_pg_cluster [postgres -c options…]` starts a
# throwaway PostgreSQL cluster (fsync on, as in production) on a free port, pinned like
# the other server sides (`SERVER`, an array such as `taskset -c 1`), and sets PG_URL
# and PG_DIR; `stop_pg_cluster` stops and removes it. initdb and postgres refuse root,
# so as root the cluster runs as the `postgres` OS user.
start_pg_cluster() {
  local port opts=""
  for o in "$@"; do opts="$opts -c $o"; done
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  PG_DIR="$(mktemp -d /tmp/byok-bench-pg.XXXXXX)"
  as_pg_owner() { "$@"; }
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$PG_DIR"
    as_pg_owner() { runuser -u postgres -- "$@"; }
  fi
  as_pg_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  as_pg_owner "${SERVER[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200$opts" start >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$port"
}

stop_pg_cluster() {
  [ -n "${PG_DIR:-}" ] || return 0
  as_pg_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
