-- Virtual keys: a token of role `virtual` (in `tokens`), the providers it may reach
-- (JSON list; empty means all), its own monthly request limit, and its counters.
CREATE TABLE virtual_keys (
    token_id      TEXT PRIMARY KEY REFERENCES tokens (id) ON DELETE CASCADE,
    providers     TEXT NOT NULL,
    monthly_limit BIGINT,
    usage_total   BIGINT NOT NULL,
    usage_period  BIGINT NOT NULL,
    period_start  BIGINT NOT NULL,
    tokens_total  BIGINT NOT NULL,
    tokens_period BIGINT NOT NULL,
    last_used_at  BIGINT
);

-- Tokens that providers reported for proxied requests, per credential.
CREATE TABLE credential_tokens (
    credential_id TEXT PRIMARY KEY REFERENCES credentials (id) ON DELETE CASCADE,
    tokens_total  BIGINT NOT NULL,
    tokens_period BIGINT NOT NULL,
    period_start  BIGINT NOT NULL
);
