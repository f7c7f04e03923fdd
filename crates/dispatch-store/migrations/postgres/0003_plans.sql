-- Plans of a region's backlog ("plan the day"), one row per `POST /api/v1/plans`.
--
-- `body` is the record as last written whole (at creation and when its search ends). The
-- columns beside it win over the document, because other writers touch only them: the running
-- node writes `progress` (with `updated_at`, its heartbeat) as the search goes, any node may
-- cancel a plan or fail one whose heartbeat stopped (`status`, `error`), and an apply claims the
-- plan (`apply_claimed_at`) and records what it did (`application`).
CREATE TABLE plans (
    id               uuid PRIMARY KEY,
    region_id        text COLLATE "C" NOT NULL,
    status           text NOT NULL
                     CHECK (status IN ('running', 'ready', 'failed', 'cancelled', 'applied')),
    error            text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    progress         jsonb NOT NULL,
    -- Set while an apply is under way; a claim this old was left by a dead node.
    apply_claimed_at timestamptz,
    application      jsonb,
    body             jsonb NOT NULL
);
-- The stale-heartbeat sweep reads running plans by heartbeat.
CREATE INDEX plans_by_status_heartbeat ON plans (status, updated_at);
