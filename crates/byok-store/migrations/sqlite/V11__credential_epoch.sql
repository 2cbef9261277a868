-- Every resolve and proxied use writes an audit entry. Indexes keyed by owner or by
-- credential put each entry on a random page, which tripled the pages a write batch
-- commits; listings filtered by owner or credential walk the time index instead.
DROP INDEX audit_log_owner;
DROP INDEX audit_log_credential;

-- Bumped, in the same transaction, by every change that can alter which credential a
-- request is served with (or whether an org allows platform keys), so instances that
-- cache that choice can tell cheaply whether it may have changed. Counters (usage,
-- last use) are not such a change and do not bump it.
CREATE TABLE credential_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO credential_epoch (id, epoch) VALUES (1, 0);

CREATE TRIGGER credentials_epoch_insert AFTER INSERT ON credentials
BEGIN UPDATE credential_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER credentials_epoch_delete AFTER DELETE ON credentials
BEGIN UPDATE credential_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER credentials_epoch_update AFTER UPDATE OF
    owner, provider, label, config, key_id, sealed, status, enabled, priority, monthly_limit, period_start, version
    ON credentials
BEGIN UPDATE credential_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER org_policies_epoch_insert AFTER INSERT ON org_policies
BEGIN UPDATE credential_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER org_policies_epoch_update AFTER UPDATE ON org_policies
BEGIN UPDATE credential_epoch SET epoch = epoch + 1 WHERE id = 1; END;
CREATE TRIGGER org_policies_epoch_delete AFTER DELETE ON org_policies
BEGIN UPDATE credential_epoch SET epoch = epoch + 1 WHERE id = 1; END;
