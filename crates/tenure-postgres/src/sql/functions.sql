-- The store protocol as one function per step (__S__ is the configured schema).
--
-- Each call is one statement in its own transaction: it locks the session's row
-- (SELECT ... FOR UPDATE) before it reads anything else of the session, checks
-- everything before its first write, and holds no lock across a round trip to the
-- node. Time is the database's (clock_timestamp()), never the caller's: durations
-- arrive in milliseconds. Hints are NOTIFYs, sent when the transaction commits.
-- Answers are small codes the Rust side maps to the protocol's types.

-- The helpers are PL/pgSQL, not SQL: a SQL function called from PL/pgSQL is
-- parsed and planned again on every call, a PL/pgSQL one keeps its plans for the
-- connection's life. The hot paths (acquire, commit) call none they can do without:
-- each call costs more than the expression it computes. A session expires at
-- least(last_access + idle, created + absolute), written out where it is needed;
-- durations arrive in milliseconds (`ms * interval '1 millisecond'`).
CREATE OR REPLACE FUNCTION __S__.ms_between(a timestamptz, b timestamptz) RETURNS bigint
    LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN greatest(0, floor(extract(epoch FROM b - a) * 1000))::bigint;
END $$;

-- The channel an owner's hints go to: a name LISTEN takes, unique per schema and owner.
CREATE OR REPLACE FUNCTION __S__.channel(p_owner text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN 'tenure_' || substr(md5('__S__' || '/' || p_owner), 1, 24);
END $$;

CREATE OR REPLACE FUNCTION __S__.hint(p_owner text, p_kind text, p_sid text) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(__S__.channel(p_owner), p_kind || p_sid);
END $$;

-- Whether an owner registered its liveness and let it run out (I15).
CREATE OR REPLACE FUNCTION __S__.dead(p_owner text, p_now timestamptz) RETURNS boolean
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM __S__.owners WHERE owner = p_owner AND alive_until <= p_now);
END $$;

-- Removes a session (deleted, expired, rotated away) and tells its waiters to look
-- again: they will find it gone. The caller holds the row lock.
CREATE OR REPLACE FUNCTION __S__.drop_session(p_sid text) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    w record;
BEGIN
    FOR w IN SELECT owner FROM __S__.waiters WHERE session = p_sid LOOP
        PERFORM __S__.hint(w.owner, 'G', p_sid);
    END LOOP;
    DELETE FROM __S__.sessions WHERE id = p_sid;
END $$;

-- The session's row, locked, if it exists and has not expired (I5); an expired one
-- is removed on the way.
CREATE OR REPLACE FUNCTION __S__.live(p_sid text, p_now timestamptz) RETURNS __S__.sessions
    LANGUAGE plpgsql AS $$
DECLARE
    s __S__.sessions;
BEGIN
    SELECT * INTO s FROM __S__.sessions WHERE id = p_sid FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF s.expires_at IS NOT NULL AND s.expires_at <= p_now THEN
        PERFORM __S__.drop_session(p_sid);
        RETURN NULL;
    END IF;
    RETURN s;
END $$;

-- Applies a delta's operations to the session's attribute rows as one new version
-- (later operations win; a NULL value removes), and answers the session's version
-- after it: unchanged when there is nothing to apply. The caller holds the row lock.
CREATE OR REPLACE FUNCTION __S__.write_attributes(
    p_sid text, p_version bigint, p_names text[], p_vals bytea[], p_replace_all boolean)
    RETURNS bigint
    LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(cardinality(p_names), 0);
    v_version bigint := p_version + 1;
    i integer;
BEGIN
    IF n = 0 AND NOT p_replace_all THEN
        RETURN p_version;
    END IF;
    IF p_replace_all THEN
        -- What the list names is written below: a row it keeps is updated in place,
        -- not deleted and inserted again (which would report a principal event).
        DELETE FROM __S__.attributes a
            WHERE a.session = p_sid AND a.name <> ALL (coalesce(p_names, '{}'));
    END IF;
    FOR i IN 1 .. n LOOP
        IF p_vals[i] IS NULL THEN
            DELETE FROM __S__.attributes a WHERE a.session = p_sid AND a.name = p_names[i];
        ELSE
            INSERT INTO __S__.attributes AS a (session, name, value, version)
                VALUES (p_sid, p_names[i], p_vals[i], v_version)
                ON CONFLICT (session, name)
                DO UPDATE SET value = EXCLUDED.value, version = EXCLUDED.version;
        END IF;
    END LOOP;
    RETURN v_version;
END $$;

-- A big-endian u32 of a patch at byte i (0-based); the caller checked the bounds.
CREATE OR REPLACE FUNCTION __S__.u32(p bytea, i integer) RETURNS bigint
    LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN (get_byte(p, i)::bigint << 24) | (get_byte(p, i + 1)::bigint << 16)
        | (get_byte(p, i + 2)::bigint << 8) | get_byte(p, i + 3)::bigint;
END $$;

-- The bytes patch p makes of base, the attribute's value at p_version, or NULL if it
-- does not apply: another base version or length, or malformed. The format is
-- tenure_core::patch's: format 1, base version (two u32), base length, result length
-- and splice count, then per splice offset, bytes removed, n and n bytes inserted;
-- all big-endian, splices in order. Every read is bounds-checked first, so no input
-- raises an error.
CREATE OR REPLACE FUNCTION __S__.apply_patch(p bytea, p_version bigint, base bytea)
    RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    size integer := length(p);
    base_len bigint := length(base);
    hi bigint;
    result_len bigint;
    cnt bigint;
    pos bigint := 21;
    cur bigint := 0;
    off bigint;
    del bigint;
    n bigint;
    total bigint := 0;
    -- The pieces, joined once at the end: appending to a bytea would copy the result
    -- so far on every splice.
    pieces bytea[] := ARRAY[]::bytea[];
BEGIN
    -- Nested IFs: each read is guarded by the check before it, whatever order
    -- PostgreSQL evaluates a condition's terms in.
    IF size < 21 THEN
        RETURN NULL;
    END IF;
    IF get_byte(p, 0) <> 1 THEN
        RETURN NULL;
    END IF;
    hi := __S__.u32(p, 1);
    IF hi >= 2147483648 THEN
        RETURN NULL;
    END IF;
    IF hi * 4294967296 + __S__.u32(p, 5) <> p_version OR __S__.u32(p, 9) <> base_len THEN
        RETURN NULL;
    END IF;
    result_len := __S__.u32(p, 13);
    cnt := __S__.u32(p, 17);
    IF cnt > (size - 21) / 12 THEN
        RETURN NULL;
    END IF;
    FOR k IN 1 .. cnt LOOP
        IF pos + 12 > size THEN
            RETURN NULL;
        END IF;
        off := __S__.u32(p, pos::integer);
        del := __S__.u32(p, pos::integer + 4);
        n := __S__.u32(p, pos::integer + 8);
        pos := pos + 12;
        IF off < cur OR off + del > base_len OR pos + n > size THEN
            RETURN NULL;
        END IF;
        total := total + (off - cur) + n;
        IF total > result_len THEN
            RETURN NULL;
        END IF;
        pieces := pieces || substring(base FROM (cur + 1)::integer FOR (off - cur)::integer)
            || substring(p FROM (pos + 1)::integer FOR n::integer);
        pos := pos + n;
        cur := off + del;
    END LOOP;
    IF pos <> size OR total + base_len - cur <> result_len THEN
        RETURN NULL;
    END IF;
    pieces := pieces || substring(base FROM (cur + 1)::integer);
    RETURN (SELECT coalesce(string_agg(x, ''::bytea ORDER BY i), ''::bytea)
            FROM unnest(pieces) WITH ORDINALITY AS t(x, i));
END $$;

-- The values a commit stores: each patch (p_patch[i]) replaced by what it makes of
-- the attribute as stored. refused names the attributes whose patch does not apply;
-- then the caller writes nothing.
CREATE OR REPLACE FUNCTION __S__.resolve_patches(
    p_sid text, p_names text[], p_vals bytea[], p_patch boolean[],
    OUT vals bytea[], OUT refused text[])
    LANGUAGE plpgsql AS $$
DECLARE
    n integer := coalesce(cardinality(p_names), 0);
    i integer;
    a record;
    v bytea;
BEGIN
    vals := p_vals;
    refused := ARRAY[]::text[];
    IF p_patch IS NULL THEN
        RETURN;
    END IF;
    FOR i IN 1 .. n LOOP
        IF p_patch[i] THEN
            v := NULL;
            SELECT t.value, t.version INTO a FROM __S__.attributes t
                WHERE t.session = p_sid AND t.name = p_names[i];
            IF FOUND AND p_vals[i] IS NOT NULL THEN
                v := __S__.apply_patch(p_vals[i], a.version, a.value);
            END IF;
            IF v IS NULL THEN
                IF NOT p_names[i] = ANY(refused) THEN
                    refused := refused || p_names[i];
                END IF;
            ELSE
                vals[i] := v;
            END IF;
        END IF;
    END LOOP;
END $$;

-- acquire and acquire_since. kind: 0 not found, 1 granted (whole), 2 granted (only
-- what the caller's copy lacks: p_known_version is not NULL), 3 queued.
CREATE OR REPLACE FUNCTION __S__.acquire(
    p_sid text, p_owner text, p_lease_ms bigint, p_wait_ms bigint,
    p_known_version bigint, p_known_names text[], p_known_versions bigint[],
    OUT kind smallint, OUT fence bigint, OUT version bigint,
    OUT idle_ms bigint, OUT absolute_ms bigint, OUT age_ms bigint,
    OUT names text[], OUT vals bytea[], OUT versions bigint[], OUT removed text[],
    OUT queue_position bigint, OUT retry_ms bigint)
    LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    s __S__.sessions;
    v_head record;
    v_place bigint;
BEGIN
    SELECT * INTO s FROM __S__.sessions WHERE id = p_sid FOR UPDATE;
    IF NOT FOUND THEN
        kind := 0;
        RETURN;
    END IF;
    IF s.expires_at IS NOT NULL AND s.expires_at <= v_now THEN
        PERFORM __S__.drop_session(p_sid);
        kind := 0;
        RETURN;
    END IF;
    -- What every step sees first: an expired lock, or one whose holder is dead
    -- (I15), is free; dead waiters leave the queue.
    IF s.holder IS NOT NULL AND (s.lease_until <= v_now
            OR (s.holder <> p_owner AND __S__.dead(s.holder, v_now))) THEN
        s.holder := NULL;
        s.fence := NULL;
        s.lease_until := NULL;
    END IF;
    DELETE FROM __S__.waiters w WHERE w.session = p_sid AND w.deadline <= v_now;
    s.last_access := v_now;
    s.expires_at := least(v_now + s.idle_ms * interval '1 millisecond', s.created + s.absolute_ms * interval '1 millisecond');

    IF s.holder IS NOT DISTINCT FROM p_owner THEN
        -- The holder again: a longer lease, the same fence.
        s.lease_until := v_now + (p_lease_ms * interval '1 millisecond');
    ELSE
        SELECT w.owner, w.deadline INTO v_head FROM __S__.waiters w
            WHERE w.session = p_sid ORDER BY w.place LIMIT 1;
        IF s.holder IS NULL AND (v_head.owner IS NULL OR v_head.owner = p_owner) THEN
            IF v_head.owner IS NOT NULL THEN
                DELETE FROM __S__.waiters w WHERE w.session = p_sid AND w.owner = p_owner;
            END IF;
            s.holder := p_owner;
            s.fence := nextval('__S__.fences');
            s.lease_until := v_now + (p_lease_ms * interval '1 millisecond');
            IF EXISTS (SELECT 1 FROM __S__.waiters w WHERE w.session = p_sid) THEN
                PERFORM __S__.hint(p_owner, 'R', p_sid);
            END IF;
        ELSE
            -- Queued (or kept in place), with a deadline to call again by.
            INSERT INTO __S__.waiters AS w (session, owner, place, deadline)
                VALUES (p_sid, p_owner, nextval('__S__.waiter_order'), v_now + (p_wait_ms * interval '1 millisecond'))
                ON CONFLICT (session, owner) DO UPDATE SET deadline = EXCLUDED.deadline
                RETURNING w.place INTO v_place;
            SELECT count(*) INTO queue_position FROM __S__.waiters w
                WHERE w.session = p_sid AND w.place <= v_place;
            IF s.holder IS NOT NULL THEN
                PERFORM __S__.hint(s.holder, 'R', p_sid);
                retry_ms := __S__.ms_between(v_now, s.lease_until);
            ELSE
                -- Free but reserved for the head waiter: nudge it again, the first
                -- hint may be lost.
                IF v_head.owner IS NULL THEN
                    v_head.owner := p_owner;
                    v_head.deadline := v_now + (p_wait_ms * interval '1 millisecond');
                END IF;
                PERFORM __S__.hint(v_head.owner, 'G', p_sid);
                retry_ms := __S__.ms_between(v_now, v_head.deadline);
            END IF;
            UPDATE __S__.sessions SET holder = s.holder, fence = s.fence,
                lease_until = s.lease_until, last_access = s.last_access,
                expires_at = s.expires_at
                WHERE id = p_sid;
            kind := 3;
            RETURN;
        END IF;
    END IF;

    UPDATE __S__.sessions SET holder = s.holder, fence = s.fence,
        lease_until = s.lease_until, last_access = s.last_access, expires_at = s.expires_at
        WHERE id = p_sid;
    fence := s.fence;
    version := s.version;
    idle_ms := s.idle_ms;
    absolute_ms := s.absolute_ms;
    age_ms := __S__.ms_between(s.created, v_now);
    IF p_known_version IS NOT NULL AND p_known_version <= s.version THEN
        -- Only what the copy lacks: attributes it does not name at their current
        -- version (version 0 never matches), and the names it has that are gone.
        SELECT array_agg(a.name), array_agg(a.value), array_agg(a.version)
            INTO names, vals, versions
            FROM __S__.attributes a
            LEFT JOIN unnest(p_known_names, p_known_versions) AS k(name, ver) ON k.name = a.name
            WHERE a.session = p_sid AND (k.ver IS NULL OR k.ver = 0 OR k.ver <> a.version);
        SELECT array_agg(k.name) INTO removed
            FROM unnest(p_known_names) AS k(name)
            WHERE NOT EXISTS (SELECT 1 FROM __S__.attributes a
                              WHERE a.session = p_sid AND a.name = k.name);
        kind := 2;
    ELSE
        SELECT array_agg(a.name), array_agg(a.value), array_agg(a.version)
            INTO names, vals, versions
            FROM __S__.attributes a WHERE a.session = p_sid;
        kind := 1;
    END IF;
END $$;

-- renew: one statement for a whole batch. outcome: 0 lost, 1 renewed, 2 renewed
-- and recalled (live waiters are queued, I4).
CREATE OR REPLACE FUNCTION __S__.renew(
    p_owner text, p_lease_ms bigint, p_sids text[], p_fences bigint[], p_touch boolean[])
    RETURNS TABLE (ord bigint, outcome smallint)
    LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
BEGIN
    RETURN QUERY
    WITH items AS (
        SELECT * FROM unnest(p_sids, p_fences, p_touch) WITH ORDINALITY AS t(sid, fence, touch, ord)
    ), renewed AS (
        UPDATE __S__.sessions s SET
            lease_until = v_now + (p_lease_ms * interval '1 millisecond'),
            last_access = CASE WHEN i.touch THEN v_now ELSE s.last_access END,
            expires_at = CASE WHEN i.touch
                THEN least(v_now + s.idle_ms * interval '1 millisecond', s.created + s.absolute_ms * interval '1 millisecond')
                ELSE s.expires_at END
        FROM items i
        WHERE s.id = i.sid AND s.holder = p_owner AND s.fence = i.fence
          AND s.lease_until > v_now
          AND (s.expires_at IS NULL OR s.expires_at > v_now)
        RETURNING s.id, s.fence
    )
    SELECT i.ord,
        (CASE
            WHEN r.id IS NULL THEN 0
            WHEN EXISTS (SELECT 1 FROM __S__.waiters w
                         WHERE w.session = r.id AND w.deadline > v_now) THEN 2
            ELSE 1
        END)::smallint
    FROM items i LEFT JOIN renewed r ON r.id = i.sid AND r.fence = i.fence
    ORDER BY i.ord;
END $$;

-- A fenced commit. p_vals[i] NULL removes p_names[i]; p_patch[i] true makes p_vals[i]
-- a patch of the stored value (resolve_patches); later operations win.
-- kind: 0 stale, 1 committed, 2 already applied, 3 a patch does not apply (the names
-- in refused; nothing applied).
CREATE OR REPLACE FUNCTION __S__.commit(
    p_sid text, p_owner text, p_fence bigint, p_id bigint,
    p_names text[], p_vals bytea[], p_replace_all boolean,
    p_set_expiry boolean, p_idle_ms bigint, p_absolute_ms bigint, p_release boolean,
    p_patch boolean[],
    OUT kind smallint, OUT version bigint, OUT refused text[])
    LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    s __S__.sessions;
    v_version bigint;
    v_head text;
    v_vals bytea[] := p_vals;
BEGIN
    SELECT * INTO s FROM __S__.sessions WHERE id = p_sid FOR UPDATE;
    IF NOT FOUND THEN
        kind := 0;
        RETURN;
    END IF;
    IF s.expires_at IS NOT NULL AND s.expires_at <= v_now THEN
        PERFORM __S__.drop_session(p_sid);
        kind := 0;
        RETURN;
    END IF;
    IF s.last_fence = p_fence AND s.last_commit = p_id THEN
        kind := 2;
        version := s.last_version;
        RETURN;
    END IF;
    IF s.last_fence = p_fence AND s.last_commit > p_id THEN
        -- A late copy of a commit the holder has moved past (I2a).
        kind := 0;
        RETURN;
    END IF;
    IF s.holder IS DISTINCT FROM p_owner OR s.fence IS DISTINCT FROM p_fence
            OR s.lease_until <= v_now THEN
        kind := 0;
        RETURN;
    END IF;
    IF p_patch IS NOT NULL THEN
        SELECT r.vals, r.refused INTO v_vals, refused
            FROM __S__.resolve_patches(p_sid, p_names, p_vals, p_patch) r;
        IF cardinality(refused) > 0 THEN
            kind := 3;
            RETURN;
        END IF;
    END IF;

    v_version := __S__.write_attributes(p_sid, s.version, p_names, v_vals, p_replace_all);
    IF p_set_expiry THEN
        s.idle_ms := p_idle_ms;
        s.absolute_ms := p_absolute_ms;
    END IF;
    IF p_release THEN
        s.holder := NULL;
        s.fence := NULL;
        s.lease_until := NULL;
        SELECT w.owner INTO v_head FROM __S__.waiters w
            WHERE w.session = p_sid AND w.deadline > v_now ORDER BY w.place LIMIT 1;
        IF v_head IS NOT NULL THEN
            PERFORM __S__.hint(v_head, 'G', p_sid);
        END IF;
    END IF;
    s.expires_at := least(v_now + s.idle_ms * interval '1 millisecond', s.created + s.absolute_ms * interval '1 millisecond');
    IF s.expires_at IS NOT NULL AND (s.sweep_at IS NULL OR s.expires_at < s.sweep_at) THEN
        -- Shorter timeouts: the sweep must not look later than the new expiry.
        s.sweep_at := s.expires_at;
    END IF;
    UPDATE __S__.sessions SET version = v_version, last_access = v_now,
        idle_ms = s.idle_ms, absolute_ms = s.absolute_ms, expires_at = s.expires_at,
        sweep_at = s.sweep_at,
        holder = s.holder, fence = s.fence, lease_until = s.lease_until,
        last_fence = p_fence, last_commit = p_id, last_version = v_version
        WHERE id = p_sid;
    IF s.expires_at IS NOT NULL AND s.expires_at <= v_now THEN
        -- New timeouts that have run out already: committed, and gone.
        PERFORM __S__.drop_session(p_sid);
    END IF;
    kind := 1;
    version := v_version;
END $$;

-- Gives back many sessions, each exactly as a release commit with nothing to write.
CREATE OR REPLACE FUNCTION __S__.release_many(
    p_owner text, p_sids text[], p_fences bigint[], p_ids bigint[])
    RETURNS TABLE (ord bigint, kind smallint, version bigint)
    LANGUAGE plpgsql AS $$
DECLARE
    i integer;
    r record;
BEGIN
    FOR i IN 1 .. coalesce(cardinality(p_sids), 0) LOOP
        SELECT * INTO r FROM __S__.commit(p_sids[i], p_owner, p_fences[i], p_ids[i],
            NULL, NULL, false, false, NULL, NULL, true, NULL);
        ord := i;
        kind := r.kind;
        version := r.version;
        RETURN NEXT;
    END LOOP;
END $$;

-- An unlocked read; counts as an access. present false: no such session.
CREATE OR REPLACE FUNCTION __S__.load(p_sid text,
    OUT present boolean, OUT version bigint,
    OUT names text[], OUT vals bytea[], OUT versions bigint[])
    LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    s __S__.sessions;
BEGIN
    s := __S__.live(p_sid, v_now);
    present := s.id IS NOT NULL;
    IF NOT present THEN
        RETURN;
    END IF;
    UPDATE __S__.sessions SET last_access = v_now,
        expires_at = least(v_now + s.idle_ms * interval '1 millisecond', s.created + s.absolute_ms * interval '1 millisecond')
        WHERE id = p_sid;
    version := s.version;
    SELECT array_agg(a.name), array_agg(a.value), array_agg(a.version)
        INTO names, vals, versions
        FROM __S__.attributes a WHERE a.session = p_sid;
END $$;

-- An optimistic commit: p_expect[i] 0 any, 1 absent, 2 at version p_expect_versions[i].
-- kind: 0 not found, 1 committed, 2 conflict (the names in conflicts), 3 locked, 4 a
-- patch does not apply (the names in conflicts; nothing applied). p_patch as commit's.
CREATE OR REPLACE FUNCTION __S__.commit_optimistic(
    p_sid text, p_names text[], p_vals bytea[], p_expect smallint[], p_expect_versions bigint[],
    p_replace_all boolean, p_set_expiry boolean, p_idle_ms bigint, p_absolute_ms bigint,
    p_patch boolean[],
    OUT kind smallint, OUT version bigint, OUT conflicts text[])
    LANGUAGE plpgsql AS $$
DECLARE
    v_vals bytea[] := p_vals;
    v_refused text[];
    v_now timestamptz := clock_timestamp();
    s __S__.sessions;
    v_current bigint;
    v_bad boolean;
    v_version bigint;
    n integer := coalesce(cardinality(p_names), 0);
    i integer;
BEGIN
    SELECT * INTO s FROM __S__.sessions WHERE id = p_sid FOR UPDATE;
    IF NOT FOUND THEN
        kind := 0;
        RETURN;
    END IF;
    IF s.expires_at IS NOT NULL AND s.expires_at <= v_now THEN
        PERFORM __S__.drop_session(p_sid);
        kind := 0;
        RETURN;
    END IF;
    IF s.holder IS NOT NULL AND s.lease_until > v_now THEN
        kind := 3;
        RETURN;
    END IF;
    conflicts := ARRAY[]::text[];
    FOR i IN 1 .. n LOOP
        IF p_expect[i] <> 0 THEN
            SELECT a.version INTO v_current FROM __S__.attributes a
                WHERE a.session = p_sid AND a.name = p_names[i];
            IF NOT FOUND THEN
                v_current := NULL;
            END IF;
            v_bad := CASE p_expect[i]
                WHEN 1 THEN v_current IS NOT NULL
                ELSE v_current IS DISTINCT FROM p_expect_versions[i] END;
            IF v_bad AND (cardinality(conflicts) = 0
                          OR conflicts[cardinality(conflicts)] <> p_names[i]) THEN
                conflicts := conflicts || p_names[i];
            END IF;
        END IF;
    END LOOP;
    IF cardinality(conflicts) > 0 THEN
        kind := 2;
        RETURN;
    END IF;
    IF p_patch IS NOT NULL THEN
        SELECT r.vals, r.refused INTO v_vals, v_refused
            FROM __S__.resolve_patches(p_sid, p_names, p_vals, p_patch) r;
        IF cardinality(v_refused) > 0 THEN
            -- The names whose patch does not apply, in conflicts' place.
            kind := 4;
            conflicts := v_refused;
            RETURN;
        END IF;
    END IF;
    v_version := __S__.write_attributes(p_sid, s.version, p_names, v_vals, p_replace_all);
    IF p_set_expiry THEN
        s.idle_ms := p_idle_ms;
        s.absolute_ms := p_absolute_ms;
    END IF;
    s.expires_at := least(v_now + s.idle_ms * interval '1 millisecond', s.created + s.absolute_ms * interval '1 millisecond');
    IF s.expires_at IS NOT NULL AND (s.sweep_at IS NULL OR s.expires_at < s.sweep_at) THEN
        -- Shorter timeouts: the sweep must not look later than the new expiry.
        s.sweep_at := s.expires_at;
    END IF;
    UPDATE __S__.sessions SET version = v_version, last_access = v_now,
        idle_ms = s.idle_ms, absolute_ms = s.absolute_ms, expires_at = s.expires_at,
        sweep_at = s.sweep_at,
        holder = NULL, fence = NULL, lease_until = NULL
        WHERE id = p_sid;
    IF s.expires_at IS NOT NULL AND s.expires_at <= v_now THEN
        PERFORM __S__.drop_session(p_sid);
    END IF;
    kind := 1;
    version := v_version;
    conflicts := NULL;
END $$;

-- create. kind: 0 exists, 1 created (fence set if p_owner asked for the lock).
CREATE OR REPLACE FUNCTION __S__.create_session(
    p_sid text, p_names text[], p_vals bytea[], p_idle_ms bigint, p_absolute_ms bigint,
    p_owner text, p_lease_ms bigint,
    OUT kind smallint, OUT fence bigint)
    LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    s __S__.sessions;
    v_inserted integer;
BEGIN
    s := __S__.live(p_sid, v_now);
    IF s.id IS NOT NULL THEN
        kind := 0;
        RETURN;
    END IF;
    IF p_owner IS NOT NULL THEN
        fence := nextval('__S__.fences');
    END IF;
    INSERT INTO __S__.sessions (id, version, created, last_access, idle_ms, absolute_ms,
                                expires_at, sweep_at, holder, fence, lease_until)
        VALUES (p_sid, 1, v_now, v_now, p_idle_ms, p_absolute_ms,
                least(v_now + p_idle_ms * interval '1 millisecond', v_now + p_absolute_ms * interval '1 millisecond'),
                least(v_now + p_idle_ms * interval '1 millisecond', v_now + p_absolute_ms * interval '1 millisecond'),
                p_owner, fence,
                CASE WHEN p_owner IS NULL THEN NULL ELSE v_now + (p_lease_ms * interval '1 millisecond') END)
        ON CONFLICT (id) DO NOTHING;
    GET DIAGNOSTICS v_inserted = ROW_COUNT;
    IF v_inserted = 0 THEN
        -- Created meanwhile by another call.
        kind := 0;
        fence := NULL;
        RETURN;
    END IF;
    -- A name given twice keeps its last value, as a snapshot built from the list would.
    INSERT INTO __S__.attributes (session, name, value, version)
        SELECT DISTINCT ON (t.name) p_sid, t.name, t.value, 1
        FROM unnest(p_names, p_vals) WITH ORDINALITY AS t(name, value, ord)
        ORDER BY t.name, t.ord DESC;
    kind := 1;
END $$;

-- delete: whether the session existed.
CREATE OR REPLACE FUNCTION __S__.delete_session(p_sid text) RETURNS boolean
    LANGUAGE plpgsql AS $$
DECLARE
    s __S__.sessions;
BEGIN
    s := __S__.live(p_sid, clock_timestamp());
    IF s.id IS NULL THEN
        RETURN false;
    END IF;
    PERFORM __S__.drop_session(p_sid);
    RETURN true;
END $$;

-- rotate_id. kind: 0 not found, 1 rotated (fence set if the caller held the old id),
-- 2 the new id exists (or is the old one), 3 stale.
CREATE OR REPLACE FUNCTION __S__.rotate(
    p_old text, p_new text, p_holder text, p_fence bigint,
    OUT kind smallint, OUT fence bigint)
    LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    s __S__.sessions;
    t __S__.sessions;
    v_held boolean;
    w record;
BEGIN
    s := __S__.live(p_old, v_now);
    IF s.id IS NULL THEN
        kind := 0;
        RETURN;
    END IF;
    IF s.holder IS NOT NULL AND s.lease_until <= v_now THEN
        s.holder := NULL;
        s.fence := NULL;
        s.lease_until := NULL;
    END IF;
    IF s.holder IS NULL AND p_holder IS NULL THEN
        v_held := false;
    ELSIF s.holder IS NOT NULL AND s.holder = p_holder AND s.fence = p_fence THEN
        v_held := true;
    ELSE
        kind := 3;
        RETURN;
    END IF;
    IF p_old = p_new THEN
        kind := 2;
        RETURN;
    END IF;
    t := __S__.live(p_new, v_now);
    IF t.id IS NOT NULL THEN
        kind := 2;
        RETURN;
    END IF;
    FOR w IN SELECT owner FROM __S__.waiters WHERE session = p_old LOOP
        PERFORM __S__.hint(w.owner, 'G', p_old);
    END LOOP;
    DELETE FROM __S__.waiters WHERE session = p_old;
    IF v_held THEN
        s.fence := nextval('__S__.fences');
        fence := s.fence;
    END IF;
    -- The attributes follow the id (ON UPDATE CASCADE).
    UPDATE __S__.sessions SET id = p_new, last_access = v_now,
        expires_at = least(v_now + s.idle_ms * interval '1 millisecond', s.created + s.absolute_ms * interval '1 millisecond'),
        holder = s.holder, fence = s.fence, lease_until = s.lease_until
        WHERE id = p_old;
    kind := 1;
END $$;

-- locate: only reads. kind: 0 not found, 1 free, 2 held by holder (address if it
-- advertised one and is alive).
CREATE OR REPLACE FUNCTION __S__.locate(p_sid text,
    OUT kind smallint, OUT holder text, OUT address text)
    LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    s record;
BEGIN
    SELECT x.holder, x.lease_until, x.expires_at INTO s FROM __S__.sessions x WHERE x.id = p_sid;
    IF NOT FOUND OR (s.expires_at IS NOT NULL AND s.expires_at <= v_now) THEN
        kind := 0;
        RETURN;
    END IF;
    IF s.holder IS NULL OR s.lease_until <= v_now OR __S__.dead(s.holder, v_now) THEN
        kind := 1;
        RETURN;
    END IF;
    kind := 2;
    holder := s.holder;
    SELECT o.address INTO address FROM __S__.owners o WHERE o.owner = s.holder;
END $$;

-- keep_alive: whether the owner is alive (until now + p_ttl_ms) after the call.
CREATE OR REPLACE FUNCTION __S__.keep_alive(p_owner text, p_ttl_ms bigint, p_register boolean)
    RETURNS boolean
    LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_until timestamptz;
    v_inserted integer;
BEGIN
    SELECT alive_until INTO v_until FROM __S__.owners WHERE owner = p_owner FOR UPDATE;
    IF FOUND AND v_until > v_now THEN
        UPDATE __S__.owners SET alive_until = v_now + (p_ttl_ms * interval '1 millisecond') WHERE owner = p_owner;
        RETURN true;
    END IF;
    IF NOT FOUND AND p_register THEN
        INSERT INTO __S__.owners (owner, alive_until) VALUES (p_owner, v_now + (p_ttl_ms * interval '1 millisecond'))
            ON CONFLICT (owner) DO NOTHING;
        GET DIAGNOSTICS v_inserted = ROW_COUNT;
        RETURN v_inserted = 1;
    END IF;
    -- Lapsed: dead for good, with nothing advertised.
    UPDATE __S__.owners SET address = NULL WHERE owner = p_owner AND address IS NOT NULL;
    RETURN false;
END $$;

-- advertise: whether the owner was alive (and its address is published).
CREATE OR REPLACE FUNCTION __S__.advertise(p_owner text, p_address text) RETURNS boolean
    LANGUAGE plpgsql AS $$
BEGIN
    UPDATE __S__.owners SET address = p_address
        WHERE owner = p_owner AND alive_until > clock_timestamp();
    RETURN FOUND;
END $$;

-- The background sweep, in bounded batches: sessions whose sweep mark has passed
-- (removed if expired, their waiters told; else marked for their new expiry),
-- waiters long past their deadline on sessions nobody asked for since, and owners
-- dead for a day. Answers how many sessions it removed, and how many it looked at
-- (a full batch: run it again).
CREATE OR REPLACE FUNCTION __S__.sweep(p_limit integer,
    OUT removed integer, OUT examined integer)
    LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    r record;
BEGIN
    removed := 0;
    examined := 0;
    FOR r IN SELECT id, expires_at FROM __S__.sessions
             WHERE sweep_at <= v_now ORDER BY sweep_at LIMIT p_limit
             FOR UPDATE SKIP LOCKED LOOP
        examined := examined + 1;
        IF r.expires_at IS NOT NULL AND r.expires_at <= v_now THEN
            PERFORM __S__.drop_session(r.id);
            removed := removed + 1;
        ELSE
            -- Used since it was marked: look again when it would expire now.
            UPDATE __S__.sessions SET sweep_at = r.expires_at WHERE id = r.id;
        END IF;
    END LOOP;
    DELETE FROM __S__.waiters WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM __S__.waiters WHERE deadline <= v_now - interval '1 minute'
        LIMIT p_limit));
    DELETE FROM __S__.owners WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM __S__.owners WHERE alive_until <= v_now - interval '1 day'
        LIMIT p_limit));
    -- The event log keeps its newest 100,000 (events.sql).
    PERFORM __S__.trim_events(100000, p_limit);
END $$;
