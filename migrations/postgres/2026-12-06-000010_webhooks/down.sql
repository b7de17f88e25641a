DROP TRIGGER audit_log_queue_webhooks ON audit_log;
DROP FUNCTION queue_webhook_deliveries();
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
DROP TABLE webhook_endpoints;
