//! The change log: a commit-ordered sequence of records per region, each naming a change that
//! affects the region's in-memory state on the nodes (see `dispatch-server`'s `region_state`).
//!
//! Records are appended by [`record_change`] inside the transaction of the change they name, so
//! one commits if and only if its change does. Within a region, sequence order is commit order:
//! SQLite has one writer; on PostgreSQL a writer takes the region's transaction-scoped advisory
//! lock before appending (the last step before the outbox), so a record with a lower sequence
//! can never become visible after one with a higher sequence. Records are internal: they are
//! never sent to SignalR clients.

use chrono::{DateTime, Utc};
use dispatch_core::{ContractorId, JobId, RegionId};
use uuid::Uuid;

use crate::Store;
use crate::db::{Tx, args};
use crate::error::StoreError;
use crate::sql::sql;
use crate::types::{Change, ChangeKind};

/// Appends a record for `region`. Call it as a late step of the transaction (before
/// `insert_events`), so the region's lock is held briefly; a transaction naming two regions
/// appends in region-id order (the lock order).
pub(crate) async fn record_change(
    tx: &mut Tx,
    region: &RegionId,
    kind: ChangeKind,
    contractor: Option<ContractorId>,
    job: Option<JobId>,
) -> Result<(), StoreError> {
    let lock = format!("dispatch-change-log:{region}");
    let sql = sql!(postgres_only: "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))");
    tx.execute(sql, args![lock.as_str()]).await?;
    let sql = sql!(
        "INSERT INTO change_log (region_id, kind, contractor_id, job_id, created_at) \
         VALUES ($1, $2, $3, $4, now())"
    );
    let contractor = contractor.map(|c| c.as_uuid());
    let job = job.map(|j| j.as_uuid());
    tx.execute(
        sql,
        &[
            region.into(),
            kind.as_str().into(),
            crate::db::Arg::OptId(contractor),
            crate::db::Arg::OptId(job),
        ],
    )
    .await?;
    Ok(())
}

impl Store {
    /// The highest change sequence recorded for `region` (0 when none): one indexed read, what a
    /// node compares with the sequence it has applied before answering.
    pub async fn latest_change(&self, region: &RegionId) -> Result<i64, StoreError> {
        let sql = sql!(
            "SELECT COALESCE(MAX(sequence), 0) AS latest FROM change_log WHERE region_id = $1"
        );
        match self.db.fetch_optional(sql, args![region]).await? {
            Some(row) => row.int("change_log.latest"),
            None => Ok(0),
        }
    }

    /// Up to `limit` records of `region` with a sequence above `after`, in sequence order.
    pub async fn changes_after(
        &self,
        region: &RegionId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Change>, StoreError> {
        let sql = sql!(
            "SELECT sequence, kind, CAST(contractor_id AS TEXT) AS contractor_id, \
             CAST(job_id AS TEXT) AS job_id FROM change_log \
             WHERE region_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3"
        );
        let found = self
            .db
            .fetch_all(sql, args![region, after, i64::from(limit)])
            .await?;
        found
            .iter()
            .map(|row| {
                let kind = row.text("change_log.kind")?;
                Ok(Change {
                    sequence: row.int("change_log.sequence")?,
                    region: region.clone(),
                    kind: kind.parse().map_err(|_| {
                        StoreError::Corrupt(format!("unknown change kind {kind:?}"))
                    })?,
                    contractor: opt_uuid(row.opt_text("change_log.contractor_id")?)?
                        .map(ContractorId::from),
                    job: opt_uuid(row.opt_text("change_log.job_id")?)?.map(JobId::from),
                })
            })
            .collect()
    }

    /// Deletes records created before `before`, except each region's latest (so the latest
    /// sequence stays known); returns how many went.
    pub async fn prune_changes(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let sql = sql!(
            "DELETE FROM change_log WHERE created_at < $1 AND sequence < \
             (SELECT MAX(c.sequence) FROM change_log c WHERE c.region_id = change_log.region_id)"
        );
        self.db
            .write_one("prune_changes", sql, args![before], StoreError::from)
            .await
    }
}

fn opt_uuid(text: Option<String>) -> Result<Option<Uuid>, StoreError> {
    text.map(|t| {
        Uuid::parse_str(&t).map_err(|_| StoreError::Corrupt(format!("bad id {t:?} in change_log")))
    })
    .transpose()
}
