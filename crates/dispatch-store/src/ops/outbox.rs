//! The transactional outbox: events appended in the transaction of the change they report,
//! read back in commit order.

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use crate::Store;
use crate::db::{TextList, Tx, args};
use crate::error::StoreError;
use crate::rows;
use crate::sql::{Batch, sql};
use crate::types::{NewOutboxEvent, OutboxEvent};

/// The first key of the transaction-scoped advisory locks (two-key form, one per shard: the
/// second key is the shard) that order PostgreSQL's outbox appends by commit within a shard;
/// see the `postgres` module docs. SQLite's single writer needs none. The two-key form never
/// meets a one-key lock (the change log's, sqlx's migration lock); "dsob" in ASCII.
pub(crate) const OUTBOX_LOCK_CLASS: i32 = 0x6473_6f62;

/// Marks events sent: one statement per sequence, or one for all of them.
static MARK_SENT: Batch = Batch {
    each: sql!("UPDATE outbox SET sent_at = now() WHERE sequence = $1 AND sent_at IS NULL"),
    all: "UPDATE outbox SET sent_at = now() WHERE sequence = ANY($1) AND sent_at IS NULL",
};

/// An outbox event with its channels encoded, so encoding errors surface before the
/// transaction starts.
#[derive(Debug)]
pub(crate) struct EncodedEvent<'a> {
    shard: u16,
    channels: TextList,
    target: &'a str,
    payload: &'a RawValue,
}

/// Encodes `events` for [`insert_events`].
pub(crate) fn encode_events(
    events: &[NewOutboxEvent],
) -> Result<Vec<EncodedEvent<'_>>, StoreError> {
    events
        .iter()
        .map(|e| {
            Ok(EncodedEvent {
                shard: e.shard,
                channels: TextList::new(&e.channels, "event channels")?,
                target: &e.target,
                payload: &e.payload,
            })
        })
        .collect()
}

/// Appends `events`: the last step of every transaction that has any, under the
/// [`OUTBOX_LOCK_CLASS`] lock of each of their shards on PostgreSQL (in shard order, so two
/// writers never wait for each other in a cycle), so that sequence order is commit order within
/// a shard. Writers of different shards do not wait for each other.
pub(crate) async fn insert_events(
    tx: &mut Tx,
    events: &[EncodedEvent<'_>],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let shards: std::collections::BTreeSet<u16> = events.iter().map(|e| e.shard).collect();
    for shard in shards {
        let sql = sql!(postgres_only: "SELECT pg_advisory_xact_lock($1, $2)");
        tx.execute(sql, args![OUTBOX_LOCK_CLASS, i32::from(shard)])
            .await?;
    }
    for e in events {
        let sql = sql!(
            "INSERT INTO outbox (shard, channels, target, payload, created_at) \
             VALUES ($1, $2, $3, $4, now())"
        );
        tx.execute(
            sql,
            args![i32::from(e.shard), &e.channels, e.target, e.payload],
        )
        .await?;
    }
    Ok(())
}

impl Store {
    /// Up to `limit` events not yet marked sent, of every shard, oldest (lowest sequence) first:
    /// what waits in the outbox, for operators and tests. A relay reads one shard, with
    /// [`Store::pending_events_in`], because only within a shard is sequence order commit order.
    pub async fn pending_events(&self, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
        let sql = sql!(
            "SELECT sequence, shard, channels, target, payload, created_at \
             FROM outbox WHERE sent_at IS NULL ORDER BY sequence LIMIT $1"
        );
        let found = self.db.fetch_all(sql, args![i64::from(limit)]).await?;
        found.iter().map(rows::outbox_event).collect()
    }

    /// Up to `limit` events of `shard` not yet marked sent, oldest (lowest sequence) first: a
    /// range scan of a partial index holding only the unsent.
    pub async fn pending_events_in(
        &self,
        shard: u16,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let sql = sql!(
            "SELECT sequence, shard, channels, target, payload, created_at \
             FROM outbox WHERE shard = $1 AND sent_at IS NULL ORDER BY sequence LIMIT $2"
        );
        let found = self
            .db
            .fetch_all(sql, args![i32::from(shard), i64::from(limit)])
            .await?;
        found.iter().map(rows::outbox_event).collect()
    }

    /// Marks events as relayed; unknown or already-sent sequences are ignored.
    pub async fn mark_events_sent(&self, sequences: &[i64]) -> Result<(), StoreError> {
        if sequences.is_empty() {
            return Ok(());
        }
        let rows: Vec<_> = sequences.iter().map(|&s| args![s].to_vec()).collect();
        self.db
            .write_batch("mark_events_sent", &MARK_SENT, &rows, |_, e| e.into())
            .await
    }

    /// Up to `limit` events of `shard` with `sequence > after`, ascending (all, or with
    /// `sent_only` only those marked sent): a range scan of the `(shard, sequence)` index, cheap
    /// to poll.
    ///
    /// Within a shard, sequence order is commit order on both backends, and a committed event
    /// never appears behind one already visible, so a reader that remembers the last sequence it
    /// saw in each shard misses nothing. (Across shards it is not, on PostgreSQL: two shards'
    /// writers commit in parallel.) Sequences may skip numbers (another shard's, a rolled-back
    /// transaction's): ask this to tell a gap from a skip. Sent marks are a prefix of a shard
    /// as long as its events are marked oldest first, as `dispatch-server`'s relay does.
    pub async fn events_after(
        &self,
        shard: u16,
        after: i64,
        limit: u32,
        sent_only: bool,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        // With `sent_only`, unsent rows are skipped on the way; they are at most the shard's
        // relay backlog. Two fixed statements rather than one with an `OR`, so each has its plan.
        let sql = if sent_only {
            sql!(
                "SELECT sequence, shard, channels, target, payload, created_at \
             FROM outbox WHERE shard = $1 AND sequence > $2 AND sent_at IS NOT NULL \
                 ORDER BY sequence LIMIT $3"
            )
        } else {
            sql!(
                "SELECT sequence, shard, channels, target, payload, created_at \
             FROM outbox WHERE shard = $1 AND sequence > $2 ORDER BY sequence LIMIT $3"
            )
        };
        let found = self
            .db
            .fetch_all(sql, args![i32::from(shard), after, i64::from(limit)])
            .await?;
        found.iter().map(rows::outbox_event).collect()
    }

    /// A random id made when this database was first migrated: the same for every node that
    /// shares it, different for every other database.
    pub async fn deployment_id(&self) -> Result<String, StoreError> {
        let row = self
            .db
            .fetch_optional(sql!("SELECT id FROM deployment"), &[])
            .await?;
        row.ok_or(StoreError::Database(sqlx::Error::RowNotFound))?
            .text("deployment.id")
    }

    /// Deletes the events of `shard` marked sent before `before` — except the shard's newest
    /// sent one — and returns how many: the outbox's retention. Unsent events are never deleted.
    pub async fn prune_sent_events(
        &self,
        shard: u16,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        // The newest sent event stays: it is what `last_sent_sequence` answers.
        let sql = sql!(
            "DELETE FROM outbox WHERE shard = $2 AND sent_at < $1 AND sequence < \
             (SELECT max(sequence) FROM outbox WHERE shard = $2 AND sent_at IS NOT NULL)"
        );
        self.db
            .write_one(
                "prune_sent_events",
                sql,
                args![before, i32::from(shard)],
                StoreError::from,
            )
            .await
    }

    /// The highest sequence of `shard` marked sent; 0 when none is.
    pub async fn last_sent_sequence(&self, shard: u16) -> Result<i64, StoreError> {
        // The `(shard, sequence)` index read backwards from the shard's newest row, past its
        // unsent tail.
        let sql = sql!(
            "SELECT sequence FROM outbox WHERE shard = $1 AND sent_at IS NOT NULL \
             ORDER BY sequence DESC LIMIT 1"
        );
        match self.db.fetch_optional(sql, args![i32::from(shard)]).await? {
            Some(row) => row.int("outbox.sequence"),
            None => Ok(0),
        }
    }
}
