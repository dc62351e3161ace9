-- Tenure's tables in one schema (__S__ is replaced by the configured schema name).
-- Applied on connect under an advisory lock, so concurrent nodes do not race; every
-- statement is idempotent. See docs/ARCHITECTURE.md, "The PostgreSQL store".

CREATE SCHEMA IF NOT EXISTS __S__;

CREATE TABLE IF NOT EXISTS __S__.meta (
    key text PRIMARY KEY,
    value text NOT NULL
);

-- One fence counter for every session: fences of one id then increase strictly across
-- release, expiry, deletion, re-creation and rotation (I1) with no per-id record
-- to keep after a delete. A sequence never goes back; a value a crash loses was never
-- granted, because a grant is only seen after its transaction committed.
CREATE SEQUENCE IF NOT EXISTS __S__.fences;
-- Orders the waiter queue of each session (FIFO, I3).
CREATE SEQUENCE IF NOT EXISTS __S__.waiter_order;

CREATE TABLE IF NOT EXISTS __S__.sessions (
    id text PRIMARY KEY,
    version bigint NOT NULL,
    created timestamptz NOT NULL,
    last_access timestamptz NOT NULL,
    idle_ms bigint,
    absolute_ms bigint,
    -- When the session expires (the earlier of its two timeouts), kept with every
    -- access: every call compares it with the database's clock.
    expires_at timestamptz,
    -- When the sweep should look at the session next: never after expires_at. An
    -- access only moves expires_at later, so it leaves this alone and the row's
    -- update touches no indexed column (a HOT update, no index entries); the sweep
    -- moves it up to expires_at when it finds the session still live, a commit
    -- that shortens the timeouts moves it down.
    sweep_at timestamptz,
    -- The lock: holder, fence and lease deadline, all NULL when free.
    holder text,
    fence bigint,
    lease_until timestamptz,
    -- The last fenced commit applied (I2a): its fence, id and the version it made.
    last_fence bigint,
    last_commit bigint,
    last_version bigint
) WITH (fillfactor = 80);
CREATE INDEX IF NOT EXISTS sessions_sweep_at
    ON __S__.sessions (sweep_at) WHERE sweep_at IS NOT NULL;

-- One row per attribute, so a delta writes only the rows it changes.
CREATE TABLE IF NOT EXISTS __S__.attributes (
    session text NOT NULL REFERENCES __S__.sessions (id) ON DELETE CASCADE ON UPDATE CASCADE,
    name text NOT NULL,
    value bytea NOT NULL,
    version bigint NOT NULL,
    PRIMARY KEY (session, name)
);

-- The principal index (issue 15): a session's principal is its attribute
-- PRINCIPAL_ATTR (__PRINCIPAL__, the name as stored: see names.rs), whose value is
-- the principal's text. The attribute row is written, changed, moved by a rotation
-- (ON UPDATE CASCADE) and deleted with its session (ON DELETE CASCADE) in the same
-- transaction as the session, so this index is exact: it holds an expired session's
-- entry only until the sweep removes the session, and a listing filters on expiry.
CREATE INDEX IF NOT EXISTS attributes_principal
    ON __S__.attributes (value) WHERE name = __PRINCIPAL__;

-- The FIFO queue of owners waiting for a session, each with a deadline after which
-- it counts as dead.
CREATE TABLE IF NOT EXISTS __S__.waiters (
    session text NOT NULL REFERENCES __S__.sessions (id) ON DELETE CASCADE,
    owner text NOT NULL,
    place bigint NOT NULL,
    deadline timestamptz NOT NULL,
    PRIMARY KEY (session, owner)
);
CREATE INDEX IF NOT EXISTS waiters_order ON __S__.waiters (session, place);
CREATE INDEX IF NOT EXISTS waiters_deadline ON __S__.waiters (deadline);

-- Registered owners (I15) and what each advertised for forwarding. A lapsed owner
-- stays (dead) so it cannot come back; the sweeper drops it a day later.
CREATE TABLE IF NOT EXISTS __S__.owners (
    owner text PRIMARY KEY,
    alive_until timestamptz NOT NULL,
    address text
);
CREATE INDEX IF NOT EXISTS owners_alive_until ON __S__.owners (alive_until);

INSERT INTO __S__.meta (key, value) VALUES ('schema_version', '1')
    ON CONFLICT (key) DO NOTHING;
