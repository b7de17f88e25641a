-- Webhooks (issue 18, contract section 10).

-- Subscribed endpoints. The secrets are sealed (XChaCha20-Poly1305 under the key file of
-- `mfa.secret_key_file`, bound to the endpoint's id): they must be read back to sign.
CREATE TABLE webhook_endpoints (
    id UUID PRIMARY KEY,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    secret BYTEA NOT NULL,
    previous_secret BYTEA,
    previous_secret_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- What each endpoint subscribes to: an exact event type (prefix NULL), or every type
-- starting with `prefix` (`user.` for the pattern `user.*`, empty for `*`).
CREATE TABLE webhook_subscriptions (
    webhook_id UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    pattern TEXT NOT NULL,
    prefix TEXT,
    PRIMARY KEY (webhook_id, pattern)
);
CREATE INDEX webhook_subscriptions_pattern ON webhook_subscriptions (pattern);

-- One event for one endpoint. audit_id is NULL for a test event. Pending rows are leased
-- to one worker at a time (locked_until); failed rows are kept for the admin API.
-- No foreign key on webhook_id: the trigger below inserts into this table from every
-- transaction that writes an audit entry, and a key check against an endpoint that a
-- concurrent transaction is removing would wait for it and then fail, failing (say) a
-- login because an administrator removed a webhook. Removing an endpoint deletes its
-- deliveries; one queued by a commit racing the removal matches no endpoint, is never
-- claimed, and the housekeeping round deletes it.
CREATE TABLE webhook_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id UUID NOT NULL,
    audit_id BIGINT,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_status_code INTEGER,
    last_error TEXT,
    next_attempt_at TIMESTAMPTZ,
    locked_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id DESC);
-- Counted for the metrics at every scrape, and purged by age.
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (webhook_id) WHERE status = 'failed';
CREATE INDEX webhook_deliveries_delivered_at ON webhook_deliveries (delivered_at) WHERE status = 'delivered';

-- Every audit entry is an event: its deliveries are queued by the insert itself, in the
-- inserting transaction, so a rollback queues nothing, a commit queues them durably, and no
-- writer (ours, an embedder's, a future use case) can forget to. An enabled endpoint
-- matching through several patterns gets one delivery.
CREATE FUNCTION queue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries (webhook_id, audit_id, event_type, status, attempts, next_attempt_at, created_at)
    SELECT e.id, NEW.id, NEW.action, 'pending', 0, NEW.created_at, NEW.created_at
    FROM webhook_endpoints e
    WHERE e.enabled AND EXISTS (
        SELECT 1 FROM webhook_subscriptions s
        WHERE s.webhook_id = e.id
          AND (s.pattern = NEW.action
               OR (s.prefix IS NOT NULL AND left(NEW.action, length(s.prefix)) = s.prefix)));
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_log_queue_webhooks AFTER INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION queue_webhook_deliveries();
