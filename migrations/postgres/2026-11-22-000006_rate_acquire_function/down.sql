DROP FUNCTION portcullis_rate_acquire(TEXT, TIMESTAMPTZ, BIGINT[], BIGINT[]);
