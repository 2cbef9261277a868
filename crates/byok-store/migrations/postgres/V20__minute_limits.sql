-- Per-minute request limits, and the minutes' counters: one row per limited key and
-- calendar minute, from which instances take leases of units (`granted`: the last lease).
ALTER TABLE virtual_keys ADD COLUMN rate_limit_per_minute BIGINT;
ALTER TABLE credentials ADD COLUMN rate_limit_per_minute BIGINT;
CREATE TABLE minute_windows (
    subject TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    used BIGINT NOT NULL,
    granted BIGINT NOT NULL,
    PRIMARY KEY (subject, window_start)
);
