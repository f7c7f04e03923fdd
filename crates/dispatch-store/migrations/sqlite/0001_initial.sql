-- Dispatch schema, SQLite dialect.
--
-- Conventions (see ../README.md):
--   * ids are TEXT, lower-case hyphenated UUIDs (regions: the slug);
--   * timestamps are TEXT, RFC 3339 UTC with exactly nine fractional digits and a `Z`
--     ("2026-12-01T16:00:00.000000000Z"), so comparing the strings compares the instants;
--   * documents (skills, working hours, time off, required skills, recommendation and audit
--     bodies) are JSON TEXT in `body`, next to the key columns the queries filter and sort on.
--     Where a key column and the document could disagree (a job's status), the column wins.

CREATE TABLE regions (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    time_zone  TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE contractors (
    id         TEXT PRIMARY KEY NOT NULL,
    region_id  TEXT NOT NULL REFERENCES regions (id),
    name       TEXT NOT NULL,
    active     INTEGER NOT NULL CHECK (active IN (0, 1)),
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- Paging is keyset on (name, id), within a region or across all.
CREATE INDEX contractors_by_region_name ON contractors (region_id, name, id);
CREATE INDEX contractors_by_name ON contractors (name, id);

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY NOT NULL,
    region_id        TEXT NOT NULL REFERENCES regions (id),
    status           TEXT NOT NULL CHECK (status IN ('open', 'assigned', 'completed', 'cancelled')),
    window_start_utc TEXT NOT NULL,
    window_end_utc   TEXT NOT NULL,
    -- The location, so bookings for the engine's index need no JSON decoding.
    lat              REAL NOT NULL,
    lon              REAL NOT NULL,
    body             TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
-- Paging is keyset on (window_start_utc, id), within a region, optionally by status.
CREATE INDEX jobs_by_region_window ON jobs (region_id, window_start_utc, id);
CREATE INDEX jobs_by_region_status_window ON jobs (region_id, status, window_start_utc, id);

CREATE TABLE audits (
    id             TEXT PRIMARY KEY NOT NULL,
    request_id     TEXT,
    region_id      TEXT NOT NULL REFERENCES regions (id),
    job_id         TEXT NOT NULL REFERENCES jobs (id),
    config_version INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    -- The record as written, its decision ignored: the `decision` column is the truth, so
    -- recording a decision rewrites one small value, not the whole candidate list.
    body           TEXT NOT NULL,
    decision       TEXT
);
CREATE INDEX audits_by_job ON audits (job_id);

CREATE TABLE assignments (
    id            TEXT PRIMARY KEY NOT NULL,
    job_id        TEXT NOT NULL REFERENCES jobs (id),
    contractor_id TEXT NOT NULL REFERENCES contractors (id),
    audit_id      TEXT NOT NULL REFERENCES audits (id),
    start_utc     TEXT NOT NULL,
    end_utc       TEXT NOT NULL,
    source        TEXT NOT NULL CHECK (source IN ('auto', 'manual')),
    -- 'live' until unassigned or until its job is cancelled; ended rows stay as history.
    status        TEXT NOT NULL CHECK (status IN ('live', 'unassigned', 'cancelled')),
    created_at    TEXT NOT NULL,
    ended_at      TEXT,
    CHECK (start_utc < end_utc)
);
-- Invariant 1: a job has at most one live assignment. The store also checks this inside the
-- write transaction; the index is the backstop no code path can get around.
CREATE UNIQUE INDEX assignments_one_live_per_job ON assignments (job_id) WHERE status = 'live';
-- Invariant 2 (no overlapping live assignments per contractor) is checked by a query inside
-- the serialized write transaction; this index serves that query and the calendar reads.
CREATE INDEX assignments_live_by_contractor ON assignments (contractor_id, start_utc) WHERE status = 'live';

CREATE TABLE recommendations (
    request_id   TEXT PRIMARY KEY NOT NULL,
    job_id       TEXT NOT NULL REFERENCES jobs (id),
    region_id    TEXT NOT NULL,
    -- `status` and `error` override the document (fail_recommendation touches only them).
    status       TEXT NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
    error        TEXT,
    requested_at TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX recommendations_by_job ON recommendations (job_id, requested_at);

-- Version 1 (ScoringConfig::default()) is inserted by the store right after migrating, so the
-- defaults live in one place: dispatch-core.
CREATE TABLE scoring_configs (
    version    INTEGER PRIMARY KEY NOT NULL CHECK (version >= 1),
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    status       INTEGER,
    body         BLOB,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);

-- Transactional outbox: events are inserted in the transaction of the change they report and
-- relayed after commit. AUTOINCREMENT so a sequence number is never reused, even after pruning.
CREATE TABLE outbox (
    sequence   INTEGER PRIMARY KEY AUTOINCREMENT,
    channels   TEXT NOT NULL,
    target     TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at    TEXT
);
CREATE INDEX outbox_pending ON outbox (sequence) WHERE sent_at IS NULL;
