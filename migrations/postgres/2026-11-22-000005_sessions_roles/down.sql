DROP TABLE spent_refresh_tokens;
DROP INDEX sessions_alert_token_hash;
DROP INDEX sessions_refresh_token_hash;
ALTER TABLE sessions DROP COLUMN alert_expires_at;
ALTER TABLE users DROP COLUMN roles;
