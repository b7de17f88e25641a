-- The purge job's candidates: accounts deleted before a time, longest deleted first. Partial:
-- only soft-deleted rows are indexed, a handful next to the live ones.
CREATE INDEX users_deleted_at ON users (deleted_at, id) WHERE deleted_at IS NOT NULL;
