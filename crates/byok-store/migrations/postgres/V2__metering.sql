-- Closed usage periods, written when a credential's period rolls over.
CREATE TABLE usage_history (
    credential_id TEXT NOT NULL,
    period_start  BIGINT NOT NULL,
    requests      BIGINT NOT NULL,
    PRIMARY KEY (credential_id, period_start)
);

-- Per-org resolution policy.
CREATE TABLE org_policies (
    org                     TEXT PRIMARY KEY,
    allow_platform_fallback BOOLEAN NOT NULL,
    updated_at              BIGINT NOT NULL
);
