DROP INDEX notifications_user_read;
