-- Who this database is: a random id made once, when the database is first migrated. Every node
-- sharing the database reads the same id; another database never has it. The service names its
-- backplane channel after it, so deployments sharing a Redis never hear each other's events.
CREATE TABLE deployment (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    id         text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO deployment (id) VALUES (replace(gen_random_uuid()::text, '-', ''));
