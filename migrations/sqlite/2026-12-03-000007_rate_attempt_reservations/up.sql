-- A rate event with `pending_until` set is a reservation of a password attempt still being
-- checked (unix milliseconds); NULL is an ordinary counted event. See RateLimiter::reserve_attempt.
ALTER TABLE rate_events ADD COLUMN pending_until BIGINT;
