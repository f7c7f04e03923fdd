//! Regions, contractors and jobs.

use dispatch_core::{Contractor, ContractorId, Job, JobId, JobStatus, Region, RegionId, TimeOff};
use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::Store;
use crate::codec::{Cursor, CursorKind, job_status_str};
use crate::db::{Arg, args, doc, write_tx};
use crate::error::{
    StoreError, batch_insert_error, contractor_insert_error, is_foreign_key_violation,
    is_unique_violation, job_insert_error,
};
use crate::ops::changes::record_change;
use crate::rows;
use crate::sql::{Batch, Builder, sql};
use crate::types::{ChangeKind, Page, PageRequest};

/// Inserts contractors: one row, or (on PostgreSQL) the rows' columns as arrays.
static INSERT_CONTRACTORS: Batch = Batch {
    each: sql!(
        "INSERT INTO contractors (id, region_id, name, active, body, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, now(), now())"
    ),
    all: "INSERT INTO contractors (id, region_id, name, active, body) \
          SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bool[], $5::jsonb[])",
};

/// Inserts jobs, as [`INSERT_CONTRACTORS`] does contractors.
static INSERT_JOBS: Batch = Batch {
    each: sql!(
        "INSERT INTO jobs (id, region_id, status, window_start_utc, window_end_utc, lat, lon, \
         body, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), now())"
    ),
    all: "INSERT INTO jobs (id, region_id, status, window_start_utc, window_end_utc, lat, lon, \
          body) SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], \
          $5::timestamptz[], $6::float8[], $7::float8[], $8::jsonb[])",
};

/// How one kind of row is inserted, alone or in bulk.
struct Insert<T: 'static> {
    /// What the row is, for errors.
    what: &'static str,
    /// The statements.
    batch: &'static Batch,
    /// A row's arguments, its document encoded in the second argument.
    args: for<'a> fn(&'a T, &'a RawValue) -> Vec<Arg<'a>>,
    /// The error of inserting a row, worded the same on every backend.
    error: fn(sqlx::Error, &T) -> StoreError,
}

static CONTRACTORS: Insert<Contractor> = Insert {
    what: "contractor",
    batch: &INSERT_CONTRACTORS,
    args: |c, body| args![c.id, &c.region, &c.name, c.active, body].to_vec(),
    error: contractor_insert_error,
};

static JOBS: Insert<Job> = Insert {
    what: "job",
    batch: &INSERT_JOBS,
    args: |job, body| {
        args![
            job.id,
            &job.region,
            job_status_str(job.status),
            job.window_start_utc,
            job.window_end_utc,
            job.location.lat,
            job.location.lon,
            body,
        ]
        .to_vec()
    },
    error: job_insert_error,
};

impl Store {
    /// Inserts one row.
    async fn insert_one<T: Serialize>(
        &self,
        operation: &'static str,
        how: &Insert<T>,
        item: &T,
    ) -> Result<(), StoreError> {
        let body = doc(item, how.what)?;
        let args = (how.args)(item, &body);
        self.db
            .write_one(operation, how.batch.each, &args, |e| (how.error)(e, item))
            .await
            .map(|_| ())
    }

    /// Inserts rows in one transaction, all or none.
    async fn insert_all<T: Serialize>(
        &self,
        operation: &'static str,
        how: &Insert<T>,
        items: &[T],
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let bodies = items
            .iter()
            .map(|item| doc(item, how.what))
            .collect::<Result<Vec<_>, _>>()?;
        let rows: Vec<_> = items
            .iter()
            .zip(&bodies)
            .map(|(item, body)| (how.args)(item, body))
            .collect();
        self.db
            .write_batch(operation, how.batch, &rows, |row, e| match row {
                Some(i) => (how.error)(e, &items[i]),
                None => batch_insert_error(e, how.what),
            })
            .await
    }
}

/// A page's cursor from the request, checked to be one of `kind`'s.
fn after(page: &PageRequest, kind: CursorKind) -> Result<Option<Cursor>, StoreError> {
    page.cursor
        .as_deref()
        .map(|c| Cursor::decode(c, kind))
        .transpose()
}

/// A cursor's id (the cursor decoder already checked it is a UUID).
fn cursor_id(cursor: &Cursor) -> Result<Uuid, StoreError> {
    Uuid::parse_str(&cursor.id).map_err(|_| StoreError::InvalidCursor)
}

impl Store {
    // ----- regions -----

    /// Stores a new region; a duplicate id is `Conflict`.
    pub async fn create_region(&self, region: &Region) -> Result<(), StoreError> {
        let sql = sql!(
            "INSERT INTO regions (id, name, time_zone, created_at) VALUES ($1, $2, $3, now())"
        );
        let args = args![&region.id, &region.name, region.time_zone.name()];
        self.db
            .write_one("create_region", sql, args, |e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("region {} already exists", region.id))
                } else {
                    e.into()
                }
            })
            .await
            .map(|_| ())
    }

    /// A region by id.
    pub async fn region(&self, id: &RegionId) -> Result<Option<Region>, StoreError> {
        let sql = sql!("SELECT id, name, time_zone FROM regions WHERE id = $1");
        let row = self.db.fetch_optional(sql, args![id]).await?;
        row.as_ref().map(rows::region).transpose()
    }

    /// All regions, by id.
    pub async fn regions(&self) -> Result<Vec<Region>, StoreError> {
        let sql = sql!("SELECT id, name, time_zone FROM regions ORDER BY id");
        let found = self.db.fetch_all(sql, &[]).await?;
        found.iter().map(rows::region).collect()
    }

    // ----- contractors -----

    /// Stores a new contractor, with its change record; a duplicate id or an unknown region is
    /// `Conflict`.
    pub async fn create_contractor(&self, c: &Contractor) -> Result<(), StoreError> {
        let body = doc(c, "contractor")?;
        let args = (CONTRACTORS.args)(c, &body);
        write_tx!(&self.db, "create_contractor", |tx| {
            tx.execute(INSERT_CONTRACTORS.each, &args)
                .await
                .map_err(|e| contractor_insert_error(e, c))?;
            record_change(
                tx,
                &c.region,
                ChangeKind::ContractorCreated,
                Some(c.id),
                None,
            )
            .await
        })
    }

    /// Stores new contractors in one transaction, all or none (bulk loads; one statement on
    /// PostgreSQL), with one `BulkLoaded` change record per region named; a duplicate id
    /// (stored or in the batch) or an unknown region is `Conflict`.
    pub async fn create_contractors(&self, contractors: &[Contractor]) -> Result<(), StoreError> {
        if contractors.is_empty() {
            return Ok(());
        }
        let bodies = contractors
            .iter()
            .map(|c| doc(c, "contractor"))
            .collect::<Result<Vec<_>, _>>()?;
        let rows: Vec<_> = contractors
            .iter()
            .zip(&bodies)
            .map(|(c, body)| (CONTRACTORS.args)(c, body))
            .collect();
        let regions: std::collections::BTreeSet<&RegionId> =
            contractors.iter().map(|c| &c.region).collect();
        write_tx!(&self.db, "create_contractors", |tx| {
            tx.execute_batch(&INSERT_CONTRACTORS, &rows)
                .await
                .map_err(|(row, e)| match row {
                    Some(i) => contractor_insert_error(e, &contractors[i]),
                    None => batch_insert_error(e, "contractor"),
                })?;
            for region in &regions {
                record_change(tx, region, ChangeKind::BulkLoaded, None, None).await?;
            }
            Ok(())
        })
    }

    /// Replaces a contractor (all fields, time off included), with its change records (its old
    /// region's too when it moves); `false` when there is none with that id.
    pub async fn update_contractor(&self, c: &Contractor) -> Result<bool, StoreError> {
        let body = doc(c, "contractor")?;
        write_tx!(&self.db, "update_contractor", |tx| {
            let sql = sql!("SELECT region_id FROM contractors WHERE id = $1 FOR NO KEY UPDATE");
            let Some(row) = tx.fetch_optional(sql, args![c.id]).await? else {
                return Ok(false);
            };
            let old = RegionId::new(row.text("contractors.region_id")?);
            let sql = sql!(
                "UPDATE contractors SET region_id = $1, name = $2, active = $3, body = $4, \
                 updated_at = now() WHERE id = $5"
            );
            let args = args![&c.region, &c.name, c.active, &*body, c.id];
            tx.execute(sql, args).await.map_err(|e| {
                if is_foreign_key_violation(&e) {
                    StoreError::Conflict(format!("region {} does not exist", c.region))
                } else {
                    e.into()
                }
            })?;
            let kind = if c.active {
                ChangeKind::ContractorUpdated
            } else {
                ChangeKind::ContractorDeactivated
            };
            let mut regions = vec![&old, &c.region];
            regions.sort();
            regions.dedup();
            for region in regions {
                record_change(tx, region, kind, Some(c.id), None).await?;
            }
            Ok(true)
        })
    }

    /// A contractor by id.
    pub async fn contractor(&self, id: ContractorId) -> Result<Option<Contractor>, StoreError> {
        let sql = sql!("SELECT body FROM contractors WHERE id = $1");
        let row = self.db.fetch_optional(sql, args![id]).await?;
        row.as_ref().map(rows::contractor).transpose()
    }

    /// Every contractor of a region (active or not), by id: the input of `RegionIndex::build`.
    pub async fn contractors_in_region(
        &self,
        region: &RegionId,
    ) -> Result<Vec<Contractor>, StoreError> {
        let sql = sql!("SELECT body FROM contractors WHERE region_id = $1 ORDER BY id");
        let found = self.db.fetch_all(sql, args![region]).await?;
        found.iter().map(rows::contractor).collect()
    }

    /// One page of contractors, of one region or of all, ordered by name then id.
    pub async fn list_contractors(
        &self,
        region: Option<&RegionId>,
        page: PageRequest,
    ) -> Result<Page<Contractor>, StoreError> {
        let after = after(&page, CursorKind::Contractors)?;
        let limit = page.effective_limit();
        let mut q = Builder::new("SELECT id, name, body FROM contractors WHERE true");
        if let Some(region) = region {
            q.push(" AND region_id = ").bind(region);
        }
        if let Some(after) = &after {
            q.push(" AND (name, id) > (")
                .bind(after.key.as_str())
                .push(", ")
                .bind(cursor_id(after)?)
                .push(")");
        }
        // One row more than the page tells whether there is a next page.
        q.push(" ORDER BY name, id LIMIT ")
            .bind(i64::from(limit) + 1);
        let (sql, args) = q.finish();
        let found = self.db.fetch_all(&sql, &args).await?;
        rows::page_of(found, limit, CursorKind::Contractors, rows::contractor)
    }

    /// Appends a period of time off to a contractor and returns the updated contractor; `None`
    /// when there is no such contractor.
    pub async fn add_time_off(
        &self,
        id: ContractorId,
        time_off: &TimeOff,
    ) -> Result<Option<Contractor>, StoreError> {
        write_tx!(&self.db, "add_time_off", |tx| {
            // Read-modify-write of the document, under the row's lock.
            let sql = sql!("SELECT body FROM contractors WHERE id = $1 FOR NO KEY UPDATE");
            let Some(row) = tx.fetch_optional(sql, args![id]).await? else {
                return Ok(None);
            };
            let mut contractor = rows::contractor(&row)?;
            contractor.time_off.push(time_off.clone());
            let body = doc(&contractor, "contractor")?;
            let sql = sql!("UPDATE contractors SET body = $1, updated_at = now() WHERE id = $2");
            tx.execute(sql, args![&*body, id]).await?;
            record_change(tx, &contractor.region, ChangeKind::TimeOff, Some(id), None).await?;
            Ok(Some(contractor))
        })
    }

    // ----- jobs -----

    /// Stores a new job; a duplicate id or an unknown region is `Conflict`.
    pub async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        self.insert_one("create_job", &JOBS, job).await
    }

    /// Stores new jobs in one transaction, all or none (bulk loads; one statement on
    /// PostgreSQL); a duplicate id (stored or in the batch) or an unknown region is `Conflict`.
    pub async fn create_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        self.insert_all("create_jobs", &JOBS, jobs).await
    }

    /// A job by id.
    pub async fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let sql = sql!("SELECT status, body FROM jobs WHERE id = $1");
        let row = self.db.fetch_optional(sql, args![id]).await?;
        row.as_ref().map(rows::job).transpose()
    }

    /// One page of a region's jobs, optionally of one status, ordered by window start then id.
    pub async fn list_jobs(
        &self,
        region: &RegionId,
        status: Option<JobStatus>,
        page: PageRequest,
    ) -> Result<Page<Job>, StoreError> {
        let after = after(&page, CursorKind::Jobs)?;
        let limit = page.effective_limit();
        let mut q =
            Builder::new("SELECT id, window_start_utc, status, body FROM jobs WHERE region_id = ");
        q.bind(region);
        if let Some(status) = status {
            q.push(" AND status = ").bind(job_status_str(status));
        }
        if let Some(after) = &after {
            let key = chrono::DateTime::parse_from_rfc3339(&after.key)
                .map_err(|_| StoreError::InvalidCursor)?
                .to_utc();
            q.push(" AND (window_start_utc, id) > (")
                .bind(key)
                .push(", ")
                .bind(cursor_id(after)?)
                .push(")");
        }
        q.push(" ORDER BY window_start_utc, id LIMIT ")
            .bind(i64::from(limit) + 1);
        let (sql, args) = q.finish();
        let found = self.db.fetch_all(&sql, &args).await?;
        rows::page_of(found, limit, CursorKind::Jobs, rows::job)
    }

    /// Cancels an open or assigned job; an assigned job's live assignment ends with it, in the
    /// same transaction. `None` when there is no such job; completed or cancelled is `Conflict`.
    pub async fn cancel_job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        write_tx!(&self.db, "cancel_job", |tx| {
            // The job's lock first (the lock order): a concurrent assignment of this job
            // waits, then sees it cancelled.
            let sql = sql!("SELECT status, body FROM jobs WHERE id = $1 FOR NO KEY UPDATE");
            let Some(row) = tx.fetch_optional(sql, args![id]).await? else {
                return Ok(None);
            };
            let mut job = rows::job(&row)?;
            match job.status {
                JobStatus::Open | JobStatus::Assigned => {}
                done @ (JobStatus::Completed | JobStatus::Cancelled) => {
                    return Err(StoreError::Conflict(format!(
                        "job {id} is already {}; only open or assigned jobs can be cancelled",
                        job_status_str(done)
                    )));
                }
            }
            // Ends the live assignment, if any: it must stop blocking the contractor's
            // calendar.
            let sql = sql!(
                "UPDATE assignments SET status = 'cancelled', ended_at = now() \
                     WHERE job_id = $1 AND status = 'live' RETURNING contractor_id"
            );
            let ended = tx.fetch_optional(sql, args![id]).await?;
            let sql =
                sql!("UPDATE jobs SET status = 'cancelled', updated_at = now() WHERE id = $1");
            tx.execute(sql, args![id]).await?;
            if let Some(row) = ended {
                let contractor: ContractorId = row.id("assignments.contractor_id")?;
                let region = contractor_region(tx, contractor).await?;
                record_change(
                    tx,
                    &region,
                    ChangeKind::JobCancelled,
                    Some(contractor),
                    Some(id),
                )
                .await?;
            }
            job.status = JobStatus::Cancelled;
            Ok(Some(job))
        })
    }
}

/// The region of a contractor, read in `tx` (the calendar a booking belongs to).
pub(crate) async fn contractor_region(
    tx: &mut crate::db::Tx,
    contractor: ContractorId,
) -> Result<RegionId, StoreError> {
    let sql = sql!("SELECT region_id FROM contractors WHERE id = $1");
    let row = tx
        .fetch_optional(sql, args![contractor])
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("contractor {contractor} is missing")))?;
    Ok(RegionId::new(row.text("contractors.region_id")?))
}
