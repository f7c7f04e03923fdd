-- Outbox shards: every event belongs to one of 8 shards, the FNV-1a hash (32 bits) of its
-- region id modulo 8, computed by the store when it appends the event
-- (`dispatch_store::outbox_shard`). The single node of a SQLite store holds every shard; the
-- column is here so both backends read the outbox the same way (see ../postgres/0005).
--
-- Rows written before this migration are placed by the same hash of their payload's `region`
-- (every event carries one; region ids are ASCII slugs, so a character is a byte), so a
-- backlog left unsent keeps its order with what follows it. SQLite has no XOR: a ^ b is
-- (a | b) - (a & b).
ALTER TABLE outbox ADD COLUMN shard INTEGER NOT NULL DEFAULT 0
    CHECK (shard >= 0 AND shard < 8);
UPDATE outbox SET shard = (
    WITH RECURSIVE fnv(i, h) AS (
        SELECT 0, 2166136261
        UNION ALL
        SELECT i + 1,
            (((h | unicode(substr(json_extract(outbox.payload, '$.region'), i + 1, 1)))
              - (h & unicode(substr(json_extract(outbox.payload, '$.region'), i + 1, 1))))
             * 16777619) & 4294967295
        FROM fnv WHERE i < length(json_extract(outbox.payload, '$.region'))
    )
    SELECT h % 8 FROM fnv ORDER BY i DESC LIMIT 1
) WHERE json_extract(payload, '$.region') IS NOT NULL;

DROP INDEX outbox_pending;
CREATE INDEX outbox_shard_pending ON outbox (shard, sequence) WHERE sent_at IS NULL;
CREATE INDEX outbox_shard_sequence ON outbox (shard, sequence);
