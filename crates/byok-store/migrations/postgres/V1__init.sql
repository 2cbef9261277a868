CREATE TABLE key_checks (
    key_id      TEXT PRIMARY KEY,
    check_value BYTEA NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    hash        BYTEA NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    owner       TEXT,
    manage_orgs TEXT NOT NULL,
    name        TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);

CREATE TABLE credentials (
    id             TEXT PRIMARY KEY,
    owner          TEXT NOT NULL,
    provider       TEXT NOT NULL,
    label          TEXT NOT NULL,
    config         TEXT NOT NULL,
    secret_hints   TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    sealed         BYTEA NOT NULL,
    status         TEXT NOT NULL,
    status_message TEXT,
    last_tested_at BIGINT,
    last_used_at   BIGINT,
    enabled        BOOLEAN NOT NULL,
    priority       BIGINT NOT NULL,
    monthly_limit  BIGINT,
    usage_total    BIGINT NOT NULL,
    usage_period   BIGINT NOT NULL,
    period_start   BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    revision       BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (owner, provider, label)
);

CREATE INDEX credentials_owner_provider ON credentials (owner, provider, priority);
CREATE INDEX credentials_key_id ON credentials (key_id);
