-- A recommendation's excluded contractors are stored once, with its audit record, in the
-- compact form of src/exclusions.rs (an id, a tag and the reason's facts each; the sentences are
-- rendered again when read). The audit body's `excluded` is then empty. NULL in rows written
-- before this migration, whose body still lists them as JSON.
ALTER TABLE audits ADD COLUMN exclusions bytea;
-- The result's audit record, so reading a result joins the exclusions it shares with it
-- instead of storing a second copy. NULL for pending or failed requests and older rows.
ALTER TABLE recommendations ADD COLUMN audit_id uuid;
-- Stored out of line but never compressed: ~16 random id bytes per exclusion do not compress,
-- and trying (pglz over ~250 KB on a 10,000-contractor region) cost ~10 ms per insert.
ALTER TABLE audits ALTER COLUMN exclusions SET STORAGE EXTERNAL;
