#!/usr/bin/env bash
# Grows a byok database's audit log by N entries, as months of use would: one old chain
# of resolves spread over 1,000 owners, written straight into `audit_log` (their MACs
# are random: `byok audit verify` is not what a grown database is measured for).
# Usage: bench/prefill_audit.sh DATABASE_URL N   (sqlite://FILE or postgres://…)
set -euo pipefail
URL="$1" N="$2"
[ "$N" -gt 0 ] || exit 0
# The entries end a day before now, a millisecond apart.
END=$(( $(date +%s) * 1000 - 86400000 ))
COLUMNS="chain, seq, at, actor_token, actor_role, action, owner, credential_id, provider, outcome, request_id, client_addr, detail, mac"
case "$URL" in
  sqlite://*)
    sqlite3 "${URL#sqlite://}" >/dev/null <<SQL
.timeout 60000
BEGIN IMMEDIATE;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO audit_log ($COLUMNS)
SELECT 'bench-prefill', i, $END - $N + i, 'tok_bench', 'service', 'credential.resolve', 'user:u' || (i % 1000),
       lower(hex(randomblob(16))), 'openai', 'ok', lower(hex(randomblob(8))), '127.0.0.1', NULL, randomblob(32)
FROM n;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
    ;;
  postgres://*|postgresql://*)
    psql "$URL" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO audit_log ($COLUMNS)
SELECT 'bench-prefill', i, $END - $N + i, 'tok_bench', 'service', 'credential.resolve', 'user:u' || (i % 1000),
       md5(i::text), 'openai', 'ok', substr(md5((-i)::text), 1, 16), '127.0.0.1', NULL,
       decode(md5(i::text) || md5((i + 1)::text), 'hex')
FROM generate_series(1, $N) AS i;
VACUUM ANALYZE audit_log;
CHECKPOINT;
SQL
    ;;
  *) echo "prefill_audit.sh: unknown database URL $URL" >&2; exit 2 ;;
esac
# The kernel writes the new pages back first: a measurement right after would share the
# disk with gigabytes of writeback.
sync
