DROP INDEX users_deleted_at;
