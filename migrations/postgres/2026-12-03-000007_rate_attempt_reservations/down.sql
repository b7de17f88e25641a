DROP FUNCTION portcullis_attempt_reserve(TEXT, TIMESTAMPTZ, BIGINT[], BIGINT[], BIGINT);
ALTER TABLE rate_events DROP COLUMN pending_until;
