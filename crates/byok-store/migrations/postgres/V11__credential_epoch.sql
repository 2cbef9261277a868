-- Every resolve and proxied use writes an audit entry. Indexes keyed by owner or by
-- credential put each entry on a random page; listings filtered by owner or
-- credential walk the time index instead.
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

CREATE FUNCTION bump_credential_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE credential_epoch SET epoch = epoch + 1 WHERE id = 1;
    RETURN NULL;
END
$$;

-- Deferred to commit, so the epoch row is the last lock a transaction takes: two
-- transactions writing credentials cannot deadlock over it.
CREATE CONSTRAINT TRIGGER credentials_epoch
    AFTER INSERT OR DELETE OR UPDATE OF
        owner, provider, label, config, key_id, sealed, status, enabled, priority, monthly_limit, period_start, version
    ON credentials DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION bump_credential_epoch();
CREATE CONSTRAINT TRIGGER org_policies_epoch
    AFTER INSERT OR UPDATE OR DELETE ON org_policies DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION bump_credential_epoch();
