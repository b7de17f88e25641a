-- The unread count and the unread-only list of GET /notifications: a user's rows with
-- read_at IS NULL, found without reading their read ones.
CREATE INDEX notifications_user_read ON notifications (user_id, read_at);
