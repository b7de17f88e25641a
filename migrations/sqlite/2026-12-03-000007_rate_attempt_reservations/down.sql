ALTER TABLE rate_events DROP COLUMN pending_until;
