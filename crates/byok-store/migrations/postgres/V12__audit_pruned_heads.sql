-- Where each pruned audit chain now starts. `byok audit prune` removes a chain's oldest
-- entries (once exported) and records the last removed one here: its sequence number
-- and MAC, from which `byok audit verify` continues the chain, and an attestation (a
-- MAC under the audit key over chain, seq and mac) so that a forged start is detected.
CREATE TABLE audit_pruned_heads (
    chain       TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    mac         BYTEA NOT NULL,
    attestation BYTEA NOT NULL,
    pruned_at   BIGINT NOT NULL
);
