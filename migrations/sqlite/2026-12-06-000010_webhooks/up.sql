-- Webhooks (issue 18, contract section 10). See the PostgreSQL migration for the why.

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    secret BLOB NOT NULL,
    previous_secret BLOB,
    previous_secret_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE webhook_subscriptions (
    webhook_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    pattern TEXT NOT NULL,
    prefix TEXT,
    PRIMARY KEY (webhook_id, pattern)
);
CREATE INDEX webhook_subscriptions_pattern ON webhook_subscriptions (pattern);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    audit_id BIGINT,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_status_code INTEGER,
    last_error TEXT,
    next_attempt_at BIGINT,
    locked_until BIGINT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id DESC);
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (webhook_id) WHERE status = 'failed';
CREATE INDEX webhook_deliveries_delivered_at ON webhook_deliveries (delivered_at) WHERE status = 'delivered';

CREATE TRIGGER audit_log_queue_webhooks AFTER INSERT ON audit_log
BEGIN
    INSERT INTO webhook_deliveries (webhook_id, audit_id, event_type, status, attempts, next_attempt_at, created_at)
    SELECT e.id, NEW.id, NEW.action, 'pending', 0, NEW.created_at, NEW.created_at
    FROM webhook_endpoints e
    WHERE e.enabled AND EXISTS (
        SELECT 1 FROM webhook_subscriptions s
        WHERE s.webhook_id = e.id
          AND (s.pattern = NEW.action
               OR (s.prefix IS NOT NULL AND substr(NEW.action, 1, length(s.prefix)) = s.prefix)));
END;
