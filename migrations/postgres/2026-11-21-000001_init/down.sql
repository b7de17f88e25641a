DROP TABLE rate_events;
DROP TABLE mail_outbox;
DROP TABLE notifications;
DROP TABLE audit_log;
DROP TABLE sessions;
DROP TABLE verification_codes;
DROP TABLE users;
