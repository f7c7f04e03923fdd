-- The change log: one record per committed change that affects a region's in-memory state
-- (contractor created, updated, deactivated, time off, assignment made or removed, job
-- cancelled, contractors loaded in bulk), written in the transaction of the change. Nodes apply
-- the records of a region in sequence order. A writer takes a per-region transaction-scoped
-- advisory lock before appending, so within a region sequence order is commit order: a record
-- is never made visible after one with a higher sequence. Internal: never sent to SignalR
-- clients.
CREATE TABLE change_log (
    sequence      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    region_id     text NOT NULL,
    kind          text NOT NULL,
    contractor_id uuid,
    job_id        uuid,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX change_log_region ON change_log (region_id, sequence);
CREATE INDEX change_log_created ON change_log (created_at);
