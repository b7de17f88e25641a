-- A rate event with `pending_until` set is a reservation of a password attempt still being
-- checked; NULL is an ordinary counted event (or a confirmed failure). A reservation past its
-- `pending_until` counts as a failure: its checker died before saying how the attempt ended.
ALTER TABLE rate_events ADD COLUMN pending_until TIMESTAMPTZ;

-- RateLimiter::reserve_attempt in one statement, like portcullis_rate_acquire (000006), whose
-- locking it shares: per rule, F counted failures and R live reservations inside the window.
-- F >= max: the wait until a failure leaves (retry_after_ms). F + R >= max: busy (the room
-- is held by attempts still being checked). Else a reservation until p_now + p_hold_ms,
-- returned as the permit. The SQLite store runs the same algorithm in Rust
-- (crates/store-diesel/src/rate_limit.rs); the store contract tests run both.
CREATE FUNCTION portcullis_attempt_reserve(
    p_key TEXT,
    p_now TIMESTAMPTZ,
    p_windows_ms BIGINT[],
    p_maxes BIGINT[],
    p_hold_ms BIGINT,
    OUT permit BIGINT,
    OUT retry_after_ms BIGINT,
    OUT busy BOOLEAN
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    longest_ms BIGINT;
    since TIMESTAMPTZ;
    failures BIGINT;
    reserved BIGINT;
    leaving TIMESTAMPTZ;
    until_ms BIGINT;
BEGIN
    SET LOCAL synchronous_commit = off;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_key, 0));
    busy := false;
    SELECT max(w) INTO longest_ms FROM unnest(p_windows_ms) AS w;
    IF longest_ms IS NOT NULL THEN
        DELETE FROM rate_events
        WHERE key = p_key AND at <= p_now - longest_ms * INTERVAL '1 millisecond';
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_windows_ms, 1), 0) LOOP
        since := p_now - p_windows_ms[i] * INTERVAL '1 millisecond';
        SELECT count(*) FILTER (WHERE pending_until IS NULL OR pending_until <= p_now),
               count(*) FILTER (WHERE pending_until > p_now)
        INTO failures, reserved
        FROM rate_events WHERE key = p_key AND at > since;
        IF failures >= p_maxes[i] THEN
            SELECT at INTO leaving FROM rate_events
            WHERE key = p_key AND at > since
              AND (pending_until IS NULL OR pending_until <= p_now)
            ORDER BY at, id
            OFFSET failures - p_maxes[i] LIMIT 1;
            IF leaving IS NULL THEN
                until_ms := p_windows_ms[i];
            ELSE
                until_ms := floor(extract(EPOCH FROM leaving) * 1000)::BIGINT + p_windows_ms[i]
                    - floor(extract(EPOCH FROM p_now) * 1000)::BIGINT;
            END IF;
            retry_after_ms := greatest(retry_after_ms, until_ms);
        ELSIF failures + reserved >= p_maxes[i] THEN
            busy := true;
        END IF;
    END LOOP;
    IF retry_after_ms IS NOT NULL THEN
        busy := false;
    ELSIF NOT busy THEN
        INSERT INTO rate_events (key, at, pending_until)
        VALUES (p_key, p_now, p_now + p_hold_ms * INTERVAL '1 millisecond')
        RETURNING id INTO permit;
    END IF;
END
$$;
