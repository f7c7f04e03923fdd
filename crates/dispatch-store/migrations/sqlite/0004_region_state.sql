-- The change log: one record per committed change that affects a region's in-memory state
-- (contractor created, updated, deactivated, time off, assignment made or removed, job
-- cancelled, contractors loaded in bulk), written in the transaction of the change. Nodes apply
-- the records of a region in sequence order, which is commit order (SQLite has one writer).
-- Internal: never sent to SignalR clients. AUTOINCREMENT so a sequence is never reused, even
-- after pruning.
CREATE TABLE change_log (
    sequence      INTEGER PRIMARY KEY AUTOINCREMENT,
    region_id     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    contractor_id TEXT,
    job_id        TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX change_log_region ON change_log (region_id, sequence);
CREATE INDEX change_log_created ON change_log (created_at);
