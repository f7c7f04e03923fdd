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

/// The advisory lock (transaction-scoped, per database) that orders PostgreSQL's outbox
/// appends by commit; see the `postgres` module docs. SQLite's single writer needs none. Any
/// fixed number works; this one is "dispatch" in ASCII.
pub(crate) const OUTBOX_LOCK: i64 = 0x6469_7370_6174_6368;

/// Marks events sent: one statement per sequence, or one for all of them.
static MARK_SENT: Batch = Batch {
    each: sql!("UPDATE outbox SET sent_at = now() WHERE sequence = $1 AND sent_at IS NULL"),
    all: "UPDATE outbox SET sent_at = now() WHERE sequence = ANY($1) AND sent_at IS NULL",
};

/// An outbox event with its channels encoded, so encoding errors surface before the
/// transaction starts.
#[derive(Debug)]
pub(crate) struct EncodedEvent<'a> {
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
                channels: TextList::new(&e.channels, "event channels")?,
                target: &e.target,
                payload: &e.payload,
            })
        })
        .collect()
}

/// Appends `events`: the last step of every transaction that has any, under [`OUTBOX_LOCK`]
/// on PostgreSQL, so that sequence order is commit order.
pub(crate) async fn insert_events(
    tx: &mut Tx,
    events: &[EncodedEvent<'_>],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let sql = sql!(postgres_only: "SELECT pg_advisory_xact_lock($1)");
    tx.execute(sql, args![OUTBOX_LOCK]).await?;
    for e in events {
        let sql = sql!(
            "INSERT INTO outbox (channels, target, payload, created_at) VALUES ($1, $2, $3, now())"
        );
        tx.execute(sql, args![&e.channels, e.target, e.payload])
            .await?;
    }
    Ok(())
}

impl Store {
    /// Up to `limit` events not yet marked sent, oldest (lowest sequence) first.
    pub async fn pending_events(&self, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
        let sql = sql!(
            "SELECT sequence, channels, target, payload, created_at FROM outbox \
             WHERE sent_at IS NULL ORDER BY sequence LIMIT $1"
        );
        let found = self.db.fetch_all(sql, args![i64::from(limit)]).await?;
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

    /// Up to `limit` events with `sequence > after`, ascending (all, or with `sent_only` only
    /// those marked sent): a range scan of the primary key, cheap to poll.
    ///
    /// Sequence order is commit order on both backends, and a committed event never appears
    /// behind one already visible, so a reader that remembers the last sequence it saw misses
    /// nothing. Sequences may skip numbers (a rolled-back transaction's on PostgreSQL): ask this
    /// to tell a gap from a skip. Sent marks are a prefix of the outbox as long as events are
    /// marked oldest first, as `dispatch-server`'s relay does.
    pub async fn events_after(
        &self,
        after: i64,
        limit: u32,
        sent_only: bool,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        // A range scan of the primary key (SQLite: the rowid) from `after`, stopping after
        // `limit` rows (with `sent_only`, unsent rows are skipped on the way; they are at most
        // the relay's backlog). Two fixed statements rather than one with an `OR`, so each has
        // its plan.
        let sql = if sent_only {
            sql!(
                "SELECT sequence, channels, target, payload, created_at FROM outbox \
                 WHERE sequence > $1 AND sent_at IS NOT NULL ORDER BY sequence LIMIT $2"
            )
        } else {
            sql!(
                "SELECT sequence, channels, target, payload, created_at FROM outbox \
                 WHERE sequence > $1 ORDER BY sequence LIMIT $2"
            )
        };
        let found = self
            .db
            .fetch_all(sql, args![after, i64::from(limit)])
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

    /// Deletes events marked sent before `before` — except the newest sent one — and returns
    /// how many: the outbox's retention. Unsent events are never deleted.
    pub async fn prune_sent_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        // The newest sent event stays: it is what `last_sent_sequence` answers.
        let sql = sql!(
            "DELETE FROM outbox WHERE sent_at < $1 AND sequence < \
             (SELECT max(sequence) FROM outbox WHERE sent_at IS NOT NULL)"
        );
        self.db
            .write_one("prune_sent_events", sql, args![before], StoreError::from)
            .await
    }

    /// The highest sequence marked sent; 0 when none is.
    pub async fn last_sent_sequence(&self) -> Result<i64, StoreError> {
        // The primary key read backwards from the newest row, past the unsent tail.
        let sql = sql!(
            "SELECT sequence FROM outbox WHERE sent_at IS NOT NULL ORDER BY sequence DESC LIMIT 1"
        );
        match self.db.fetch_optional(sql, &[]).await? {
            Some(row) => row.int("outbox.sequence"),
            None => Ok(0),
        }
    }
}
