-- Append-only audit log: one chain per writer (instance), entries chained by MAC.
CREATE TABLE audit_chains (
    chain      TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
    chain         TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    actor_token   TEXT,
    actor_role    TEXT NOT NULL,
    action        TEXT NOT NULL,
    owner         TEXT,
    credential_id TEXT,
    provider      TEXT,
    outcome       TEXT NOT NULL,
    request_id    TEXT,
    client_addr   TEXT,
    detail        TEXT,
    mac           BYTEA NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_log_at ON audit_log (at, chain, seq);
CREATE INDEX audit_log_owner ON audit_log (owner, at);
CREATE INDEX audit_log_credential ON audit_log (credential_id, at);

-- The audit MAC key, sealed under the master keyring (re-sealed by rotate-key).
CREATE TABLE audit_key (
    id     BIGINT PRIMARY KEY CHECK (id = 1),
    key_id TEXT NOT NULL,
    sealed BYTEA NOT NULL
);

-- Earlier secrets of a credential (and the current one), sealed for their version.
CREATE TABLE credential_versions (
    credential_id TEXT NOT NULL,
    version       BIGINT NOT NULL,
    key_id        TEXT NOT NULL,
    sealed        BYTEA NOT NULL,
    secret_hints  TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (credential_id, version)
);
CREATE INDEX credential_versions_key_id ON credential_versions (key_id);
