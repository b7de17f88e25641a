-- A rate-limit check in one statement, so one round trip: lock the key, forget events no rule
-- looks at any more, count each rule's window, and either record the event (returning its id
-- as the permit) or return how long until the fullest window has room. The same algorithm
-- as the SQLite store's (crates/store-diesel/src/rate_limit.rs); the store contract tests run
-- both. Called outside any transaction, so the advisory lock is held only while this runs and
-- commits. READ COMMITTED gives each statement below its own snapshot, taken after the lock:
-- the count sees every event of the caller that held the lock before.
CREATE FUNCTION portcullis_rate_acquire(
    p_key TEXT,
    p_now TIMESTAMPTZ,
    p_windows_ms BIGINT[],
    p_maxes BIGINT[],
    OUT permit BIGINT,
    OUT retry_after_ms BIGINT
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    longest_ms BIGINT;
    since TIMESTAMPTZ;
    in_window BIGINT;
    leaving TIMESTAMPTZ;
    until_ms BIGINT;
BEGIN
    -- Commit without waiting for the WAL flush: the key's lock is held until the commit ends,
    -- so the flush would be inside every caller's critical section. A crash can lose the
    -- last fraction of a second of events (a few attempts uncounted), never a user's data.
    SET LOCAL synchronous_commit = off;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_key, 0));
    SELECT max(w) INTO longest_ms FROM unnest(p_windows_ms) AS w;
    IF longest_ms IS NOT NULL THEN
        DELETE FROM rate_events
        WHERE key = p_key AND at <= p_now - longest_ms * INTERVAL '1 millisecond';
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_windows_ms, 1), 0) LOOP
        since := p_now - p_windows_ms[i] * INTERVAL '1 millisecond';
        SELECT count(*) INTO in_window FROM rate_events WHERE key = p_key AND at > since;
        CONTINUE WHEN in_window < p_maxes[i];
        -- Room opens when the event that takes the count back under the maximum leaves the
        -- window: the oldest one, unless the rule was tightened since it filled.
        SELECT at INTO leaving FROM rate_events
        WHERE key = p_key AND at > since
        ORDER BY at, id
        OFFSET in_window - p_maxes[i] LIMIT 1;
        IF leaving IS NULL THEN
            until_ms := p_windows_ms[i];
        ELSE
            until_ms := floor(extract(EPOCH FROM leaving) * 1000)::BIGINT + p_windows_ms[i]
                - floor(extract(EPOCH FROM p_now) * 1000)::BIGINT;
        END IF;
        retry_after_ms := greatest(retry_after_ms, until_ms);
    END LOOP;
    IF retry_after_ms IS NULL THEN
        INSERT INTO rate_events (key, at) VALUES (p_key, p_now) RETURNING id INTO permit;
    END IF;
END
$$;
