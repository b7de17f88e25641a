DROP INDEX mail_outbox_next_attempt;
CREATE INDEX mail_outbox_next_attempt ON mail_outbox (next_attempt_at, created_at, id);
ALTER TABLE mail_outbox DROP COLUMN failed_at;
