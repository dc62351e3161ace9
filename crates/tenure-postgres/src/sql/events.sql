-- Session events (issue 15): a log written by triggers in the transaction of the
-- change it reports, read by id (Store::events). __S__ is the schema, __PRINCIPAL__
-- the principal attribute's stored name (names.rs).
--
-- Ids come from one counter row, updated by each event: its row lock is held until the
-- transaction ends, so transactions that write events take their ids in the order they
-- commit, and a rolled-back one gives its ids back. So a reader that has seen id n
-- has seen every event up to n: no event can later appear below it. The cost is that
-- such transactions (creations, rotations, deletions, expiries, principal changes;
-- not plain commits) take turns at their commit.

CREATE TABLE IF NOT EXISTS __S__.event_counter (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    n bigint NOT NULL
);
INSERT INTO __S__.event_counter (one, n) VALUES (true, 0) ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS __S__.events (
    id bigint PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    session text NOT NULL,
    -- created, rotated, principal, principal-cleared, deleted, expired
    kind text NOT NULL,
    -- rotated: the new id; principal: the principal's bytes
    detail bytea
);

CREATE OR REPLACE FUNCTION __S__.event(p_session text, p_kind text, p_detail bytea)
    RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    UPDATE __S__.event_counter SET n = n + 1 RETURNING n INTO v_id;
    INSERT INTO __S__.events (id, session, kind, detail)
        VALUES (v_id, p_session, p_kind, p_detail);
END $$;

CREATE OR REPLACE FUNCTION __S__.session_events() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM __S__.event(NEW.id, 'created', NULL);
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM __S__.event(OLD.id, 'rotated', convert_to(NEW.id, 'UTF8'));
    ELSIF OLD.expires_at IS NOT NULL AND OLD.expires_at <= clock_timestamp() THEN
        PERFORM __S__.event(OLD.id, 'expired', NULL);
    ELSE
        PERFORM __S__.event(OLD.id, 'deleted', NULL);
    END IF;
    RETURN NULL;
END $$;

-- The principal attribute's rows: set, changed, removed. A row moved by a rotation
-- (its session renamed) or removed with its session reports nothing of its own.
CREATE OR REPLACE FUNCTION __S__.principal_events() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM __S__.event(NEW.session, 'principal', NEW.value);
    ELSIF TG_OP = 'UPDATE' THEN
        IF OLD.value IS DISTINCT FROM NEW.value THEN
            PERFORM __S__.event(NEW.session, 'principal', NEW.value);
        END IF;
    ELSIF EXISTS (SELECT 1 FROM __S__.sessions WHERE id = OLD.session) THEN
        PERFORM __S__.event(OLD.session, 'principal-cleared', NULL);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS session_events ON __S__.sessions;
CREATE TRIGGER session_events
    AFTER INSERT OR DELETE OR UPDATE OF id ON __S__.sessions
    FOR EACH ROW EXECUTE FUNCTION __S__.session_events();

-- One trigger per operation: a WHEN condition may name NEW only where there is one.
DROP TRIGGER IF EXISTS principal_set ON __S__.attributes;
CREATE TRIGGER principal_set
    AFTER INSERT ON __S__.attributes
    FOR EACH ROW WHEN (NEW.name = __PRINCIPAL__)
    EXECUTE FUNCTION __S__.principal_events();
DROP TRIGGER IF EXISTS principal_changed ON __S__.attributes;
CREATE TRIGGER principal_changed
    AFTER UPDATE ON __S__.attributes
    FOR EACH ROW WHEN (NEW.name = __PRINCIPAL__)
    EXECUTE FUNCTION __S__.principal_events();
DROP TRIGGER IF EXISTS principal_removed ON __S__.attributes;
CREATE TRIGGER principal_removed
    AFTER DELETE ON __S__.attributes
    FOR EACH ROW WHEN (OLD.name = __PRINCIPAL__)
    EXECUTE FUNCTION __S__.principal_events();

-- Store::events: up to p_limit events after p_after (NULL: from the oldest kept),
-- and whether events right after p_after were dropped (the sweep keeps the newest
-- p_keep).
CREATE OR REPLACE FUNCTION __S__.read_events(p_after bigint, p_limit integer)
    RETURNS TABLE (id bigint, session text, kind text, detail bytea, missed boolean)
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_first bigint;
    v_last bigint;
    v_missed boolean;
BEGIN
    SELECT min(e.id) INTO v_first FROM __S__.events e;
    SELECT c.n INTO v_last FROM __S__.event_counter c;
    v_missed := p_after IS NOT NULL AND p_after < v_last
        AND p_after + 1 < coalesce(v_first, v_last + 1);
    RETURN QUERY SELECT e.id, e.session, e.kind, e.detail, v_missed FROM __S__.events e
        WHERE p_after IS NULL OR e.id > p_after ORDER BY e.id LIMIT p_limit;
    IF NOT FOUND AND v_missed THEN
        RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::bytea, true;
    END IF;
END $$;

-- Drops the oldest events beyond the newest p_keep, at most p_limit of them.
CREATE OR REPLACE FUNCTION __S__.trim_events(p_keep bigint, p_limit integer)
    RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_dropped integer;
BEGIN
    DELETE FROM __S__.events WHERE id IN (
        SELECT e.id FROM __S__.events e
        WHERE e.id <= (SELECT n FROM __S__.event_counter) - p_keep
        ORDER BY e.id LIMIT p_limit);
    GET DIAGNOSTICS v_dropped = ROW_COUNT;
    RETURN v_dropped;
END $$;
