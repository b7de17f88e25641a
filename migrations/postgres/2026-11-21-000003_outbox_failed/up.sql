-- A message given up on (a permanent failure, or the last allowed try) is kept for operators,
-- marked failed at this time, and never claimed again.
ALTER TABLE mail_outbox ADD COLUMN failed_at TIMESTAMPTZ;
-- Claims only look at waiting messages, so failed ones leave the claim index.
DROP INDEX mail_outbox_next_attempt;
CREATE INDEX mail_outbox_next_attempt ON mail_outbox (next_attempt_at, created_at, id) WHERE failed_at IS NULL;
