-- The HTML alternative of the plain-text body, sent with it as multipart/alternative; NULL
-- sends the text alone (and is what messages queued before this migration have).
ALTER TABLE mail_outbox ADD COLUMN html_body TEXT;
