-- Dispatch schema, PostgreSQL dialect (15 or newer). The same tables and columns as
-- ../sqlite/0001_initial.sql, with PostgreSQL's own types:
--   * ids are `uuid` (regions: the text slug);
--   * instants are `timestamptz` (microsecond resolution: finer digits are dropped on write);
--   * documents are `jsonb` in `body`, next to the key columns the queries filter and sort on.
--     Where a key column and the document could disagree (a job's status), the column wins;
--   * text that lists are sorted or paged by is `COLLATE "C"`: byte order, as in SQLite and as
--     Rust sorts strings, whatever the database's default collation is.
--
-- The two assignment invariants of SPEC §4 are enforced by the database itself, not only by the
-- store's code: the exclusion constraint `assignments_no_overlap` and the partial unique index
-- `assignments_one_live_per_job`.

-- For the `=` operator on uuid inside a GiST index (the exclusion constraint below). A trusted
-- extension: a non-superuser owner of the database may create it.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE regions (
    id         text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    time_zone  text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contractors (
    id         uuid PRIMARY KEY,
    region_id  text COLLATE "C" NOT NULL CONSTRAINT contractors_region_fkey REFERENCES regions (id),
    name       text COLLATE "C" NOT NULL,
    active     boolean NOT NULL,
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Paging is keyset on (name, id), within a region or across all.
CREATE INDEX contractors_by_region_name ON contractors (region_id, name, id);
CREATE INDEX contractors_by_name ON contractors (name, id);

CREATE TABLE jobs (
    id               uuid PRIMARY KEY,
    region_id        text COLLATE "C" NOT NULL CONSTRAINT jobs_region_fkey REFERENCES regions (id),
    status           text NOT NULL CHECK (status IN ('open', 'assigned', 'completed', 'cancelled')),
    window_start_utc timestamptz NOT NULL,
    window_end_utc   timestamptz NOT NULL,
    -- The location, so bookings for the engine's index need no JSON decoding.
    lat              double precision NOT NULL,
    lon              double precision NOT NULL,
    body             jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- Paging is keyset on (window_start_utc, id), within a region, optionally by status.
CREATE INDEX jobs_by_region_window ON jobs (region_id, window_start_utc, id);
CREATE INDEX jobs_by_region_status_window ON jobs (region_id, status, window_start_utc, id);

CREATE TABLE audits (
    id             uuid PRIMARY KEY,
    request_id     uuid,
    region_id      text COLLATE "C" NOT NULL CONSTRAINT audits_region_fkey REFERENCES regions (id),
    job_id         uuid NOT NULL CONSTRAINT audits_job_fkey REFERENCES jobs (id),
    -- A u32 in the service: bigint, since integer stops at 2^31 - 1.
    config_version bigint NOT NULL CHECK (config_version BETWEEN 0 AND 4294967295),
    created_at     timestamptz NOT NULL,
    -- The record as written, its decision ignored: the `decision` column is the truth, so
    -- recording a decision rewrites one small value, not the whole candidate list.
    body           jsonb NOT NULL,
    decision       jsonb
);
CREATE INDEX audits_by_job ON audits (job_id);

CREATE TABLE assignments (
    id            uuid PRIMARY KEY,
    job_id        uuid NOT NULL CONSTRAINT assignments_job_fkey REFERENCES jobs (id),
    contractor_id uuid NOT NULL CONSTRAINT assignments_contractor_fkey REFERENCES contractors (id),
    audit_id      uuid NOT NULL CONSTRAINT assignments_audit_fkey REFERENCES audits (id),
    start_utc     timestamptz NOT NULL,
    end_utc       timestamptz NOT NULL,
    source        text NOT NULL CHECK (source IN ('auto', 'manual')),
    -- 'live' until unassigned or until its job is cancelled; ended rows stay as history.
    status        text NOT NULL CHECK (status IN ('live', 'unassigned', 'cancelled')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz,
    CONSTRAINT assignments_positive_length CHECK (start_utc < end_utc),
    -- Invariant: a contractor never has two live assignments whose [start, end) overlap
    -- (touching slots do not). Enforced under any concurrency, by any writer; a violation is
    -- SQLSTATE 23P01, which the store reports as ContractorBusy. Its GiST index also serves the
    -- overlap queries.
    CONSTRAINT assignments_no_overlap EXCLUDE USING gist (
        contractor_id WITH =,
        tstzrange(start_utc, end_utc, '[)') WITH &&
    ) WHERE (status = 'live')
);
-- Invariant: a job has at most one live assignment. A violation is SQLSTATE 23505 on this
-- index, which the store reports as JobAlreadyAssigned.
CREATE UNIQUE INDEX assignments_one_live_per_job ON assignments (job_id) WHERE status = 'live';
-- The calendar reads (`start_utc < $to AND end_utc > $from`, ordered by start).
CREATE INDEX assignments_live_by_contractor ON assignments (contractor_id, start_utc) WHERE status = 'live';

CREATE TABLE recommendations (
    request_id   uuid PRIMARY KEY,
    job_id       uuid NOT NULL CONSTRAINT recommendations_job_fkey REFERENCES jobs (id),
    region_id    text COLLATE "C" NOT NULL,
    -- `status` and `error` override the document (fail_recommendation touches only them).
    status       text NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
    error        text,
    requested_at timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    body         jsonb NOT NULL
);
CREATE INDEX recommendations_by_job ON recommendations (job_id, requested_at);

-- Version 1 (ScoringConfig::default()) is inserted by the store right after migrating, so the
-- defaults live in one place: dispatch-core.
CREATE TABLE scoring_configs (
    version    bigint PRIMARY KEY CHECK (version BETWEEN 1 AND 4294967295),
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    idem_key     text NOT NULL,
    request_hash text NOT NULL,
    state        text NOT NULL CHECK (state IN ('in_progress', 'done')),
    status       integer CHECK (status BETWEEN 0 AND 65535),
    body         bytea,
    -- The database's clock, also for the "claim presumed orphaned" timeout: one clock for
    -- every node.
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, idem_key)
);

-- Transactional outbox: events are inserted in the transaction of the change they report and
-- relayed after commit. An identity column never reuses a value, even after pruning.
--
-- Commit order: an identity value is taken when the row is inserted, not when its transaction
-- commits, so two concurrent transactions could commit in the opposite order of their
-- sequences. The store prevents that: every transaction that appends events first takes one
-- transaction-scoped advisory lock (held until it commits or rolls back), so `sequence` order
-- is commit order, on every channel. See ../../README.md, "PostgreSQL".
CREATE TABLE outbox (
    sequence   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channels   text[] NOT NULL,
    target     text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX outbox_pending ON outbox (sequence) WHERE sent_at IS NULL;
