-- Webhook endpoints. The signing secret is sealed like a credential's (bound to the
-- endpoint's id) and re-sealed by rotate-key.
CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    url           TEXT NOT NULL,
    description   TEXT,
    key_id        TEXT NOT NULL,
    sealed        BLOB NOT NULL,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    -- The first failure since the last success; an endpoint failing long enough is disabled.
    failing_since BIGINT,
    disabled_at   BIGINT,
    created_at    BIGINT NOT NULL
);

-- Which event types each endpoint hears.
CREATE TABLE webhook_subscriptions (
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    PRIMARY KEY (event, webhook_id)
);

-- The outbox: one row per event and subscribed endpoint, written in the transaction of
-- the change that caused the event. `seq` orders the events of one subject.
CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    -- pending, delivered or failed (no more attempts)
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- An instance sending it holds it until then.
    leased_until    BIGINT,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_subject ON webhook_deliveries (webhook_id, subject, seq) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (finished_at) WHERE state <> 'pending';

-- Usage alerts: the fractions of a monthly limit (in thousandths) at which an alert
-- fires, set by byok at start (BYOK_USAGE_ALERT_THRESHOLDS).
CREATE TABLE usage_alert_thresholds (permille INTEGER PRIMARY KEY);
INSERT INTO usage_alert_thresholds (permille) VALUES (800), (1000);

-- A counter that reached a threshold, recorded by a trigger in the transaction that
-- took the unit (whichever writer took it), then turned into webhook events. Units are
-- taken one by one and exactly, so one unit a period crosses each threshold.
CREATE TABLE usage_alerts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_kind  TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    permille      INTEGER NOT NULL,
    used          BIGINT NOT NULL,
    monthly_limit BIGINT NOT NULL,
    period_start  BIGINT NOT NULL,
    at            BIGINT NOT NULL
);

CREATE TRIGGER credential_usage_alert AFTER UPDATE OF usage_period ON credentials
    WHEN NEW.monthly_limit > 0 AND (NEW.usage_period > OLD.usage_period OR NEW.period_start <> OLD.period_start)
BEGIN
    INSERT INTO usage_alerts (subject_kind, subject_id, permille, used, monthly_limit, period_start, at)
    SELECT 'credential', NEW.id, t.permille, NEW.usage_period, NEW.monthly_limit, NEW.period_start,
           coalesce(NEW.last_used_at, 0)
    FROM usage_alert_thresholds t
    WHERE NEW.usage_period * 1000 >= t.permille * NEW.monthly_limit
      AND (CASE WHEN NEW.period_start <> OLD.period_start THEN 0 ELSE OLD.usage_period END) * 1000
          < t.permille * NEW.monthly_limit;
END;

CREATE TRIGGER virtual_key_usage_alert AFTER UPDATE OF usage_period ON virtual_keys
    WHEN NEW.monthly_limit > 0 AND (NEW.usage_period > OLD.usage_period OR NEW.period_start <> OLD.period_start)
BEGIN
    INSERT INTO usage_alerts (subject_kind, subject_id, permille, used, monthly_limit, period_start, at)
    SELECT 'virtual_key', NEW.token_id, t.permille, NEW.usage_period, NEW.monthly_limit, NEW.period_start,
           coalesce(NEW.last_used_at, 0)
    FROM usage_alert_thresholds t
    WHERE NEW.usage_period * 1000 >= t.permille * NEW.monthly_limit
      AND (CASE WHEN NEW.period_start <> OLD.period_start THEN 0 ELSE OLD.usage_period END) * 1000
          < t.permille * NEW.monthly_limit;
END;
