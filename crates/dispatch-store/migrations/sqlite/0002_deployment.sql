-- Who this database is: a random id made once, when the database is first migrated (see the
-- PostgreSQL twin for why).
CREATE TABLE deployment (
    only_row   INTEGER PRIMARY KEY CHECK (only_row = 1),
    id         TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO deployment (only_row, id) VALUES (1, lower(hex(randomblob(16))));
