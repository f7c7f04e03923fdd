-- Outbox shards: every event belongs to one of 8 shards, the FNV-1a hash (32 bits) of its
-- region id modulo 8, computed by the store when it appends the event
-- (`dispatch_store::outbox_shard`). Each shard is relayed by the node holding its lease, so
-- relaying is spread over the nodes; writers take the shard's transaction-scoped advisory lock
-- (not one lock for the whole outbox) before appending, so within a shard sequence order is
-- commit order. Every channel belongs to one region, hence to one shard: per-shard order is
-- per-channel order.
--
-- Rows written before this migration are placed by the same hash of their payload's `region`
-- (every event carries one), so a backlog left unsent keeps its order with what follows it.
-- The function stays: operators can ask which shard a region is in.
CREATE FUNCTION dispatch_outbox_shard(region text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    bytes bytea := convert_to(region, 'UTF8');
    h bigint := 2166136261;
BEGIN
    FOR i IN 0 .. length(bytes) - 1 LOOP
        h := ((h # get_byte(bytes, i)) * 16777619) & 4294967295;
    END LOOP;
    RETURN (h % 8)::integer;
END
$$;

ALTER TABLE outbox ADD COLUMN shard integer NOT NULL DEFAULT 0
    CHECK (shard >= 0 AND shard < 8);
UPDATE outbox SET shard = dispatch_outbox_shard(payload->>'region')
    WHERE payload->>'region' IS NOT NULL;
ALTER TABLE outbox ALTER COLUMN shard DROP DEFAULT;

-- A shard's relay reads its unsent events in order; nodes read a shard's events after the last
-- they delivered, and the newest sent one of a shard.
DROP INDEX outbox_pending;
CREATE INDEX outbox_shard_pending ON outbox (shard, sequence) WHERE sent_at IS NULL;
CREATE INDEX outbox_shard_sequence ON outbox (shard, sequence);
