CREATE TABLE key_checks (
    key_id      TEXT PRIMARY KEY,
    check_value BLOB NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    hash        BLOB NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    owner       TEXT,
    manage_orgs TEXT NOT NULL,
    name        TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);

CREATE TABLE credentials (
    id             TEXT PRIMARY KEY,
    owner          TEXT NOT NULL,
    provider       TEXT NOT NULL,
    label          TEXT NOT NULL,
    config         TEXT NOT NULL,
    secret_hints   TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    sealed         BLOB NOT NULL,
    status         TEXT NOT NULL,
    status_message TEXT,
    last_tested_at INTEGER,
    last_used_at   INTEGER,
    enabled        BOOLEAN NOT NULL,
    priority       INTEGER NOT NULL,
    monthly_limit  INTEGER,
    usage_total    INTEGER NOT NULL,
    usage_period   INTEGER NOT NULL,
    period_start   INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    revision       INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (owner, provider, label)
);

CREATE INDEX credentials_owner_provider ON credentials (owner, provider, priority);
CREATE INDEX credentials_key_id ON credentials (key_id);
