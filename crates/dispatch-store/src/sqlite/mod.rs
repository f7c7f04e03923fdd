//! The SQLite backend.
//!
//! # Connections
//!
//! Two pools over one file. The **writer** pool has exactly one connection, and every write
//! runs in a `BEGIN IMMEDIATE` transaction on it: writers are serialized by the pool's queue
//! (no `SQLITE_BUSY` storms between our own writers), and `IMMEDIATE` takes SQLite's write lock
//! up front, so even another process writing the same file cannot interleave between our checks
//! and our inserts. The **reader** pool has a few connections; in WAL mode readers never block
//! the writer nor each other. `sqlite::memory:` uses one pool of one connection for both, since
//! every connection to an in-memory database would otherwise need the shared cache, whose
//! table locks fail fast instead of waiting.
//!
//! # Several nodes
//!
//! None: SQLite is the embedded single-node store, so the relay lease (`crate::lease`) is
//! always granted without asking the database, and `events_after` reads the outbox by rowid.
//!
//! # Queries
//!
//! Runtime `sqlx::query` with explicit row mapping, plain SQL that PostgreSQL also speaks (row
//! values, `ON CONFLICT`, partial indexes) except the `?` placeholders. Helpers that run inside a
//! transaction take `&mut SqliteConnection` (STYLE 20).

mod migrations;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dispatch_core::{
    Assignment, AssignmentId, AuditId, Booking, Contractor, ContractorId, GeoPoint, Job, JobId,
    JobStatus, NewScoringConfig, Region, RegionId, ScoringConfig, TimeOff,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::codec::{
    Cursor, CursorKind, from_json, job_status_str, parse_id, parse_job_status, parse_source,
    parse_ts, source_str, to_json, ts,
};
use crate::error::{
    AssignmentConflict, StoreError, audit_insert_error, contractor_insert_error,
    is_foreign_key_violation, is_unique_violation, job_insert_error, recommendation_insert_error,
};
use crate::types::{
    AuditRecord, Decision, IdempotencyBegin, NewOutboxEvent, OutboxEvent, Page, PageRequest,
    RecommendationRecord, RecommendationStatus, RequestId,
};

/// How long a connection waits for SQLite's lock (e.g. held by another process) before
/// `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a pooled connection; writers queue here.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Reader connections for a file database.
const READERS: u32 = 4;

/// The SQLite backend: a one-connection writer pool and a reader pool (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
}

/// Reads a column, turning a type mismatch or a missing column into `Corrupt`.
fn col<'r, T>(row: &'r SqliteRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// A stored INTEGER as u32.
fn to_u32(v: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what}: {v} is out of range")))
}

/// Commits on `Ok`, rolls back on `Err`, returning the result.
async fn finish<T>(
    tx: Transaction<'static, Sqlite>,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            // The original error is the one worth reporting; if the rollback fails too, sqlx
            // rolls back when the connection goes back to the pool.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

impl SqliteStore {
    /// Opens the pools, migrates and seeds. `url` has already been checked to be `sqlite:`.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(format!("{url:?}: {e}")))?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(SqliteSynchronous::Normal);
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        // An explicit `mode=` (ro, rw) is the caller's choice; otherwise create the file.
        if !query.contains("mode=") {
            options = options.create_if_missing(true);
        }
        // `sqlite::memory:`, `sqlite://:memory:` or `?mode=memory`: sqlx gives each such URL its
        // own shared-cache database, which must then live on a single connection.
        let path = url
            .split_once(':')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        let path = path.strip_prefix("//").unwrap_or(path);
        let path = path.split('?').next().unwrap_or_default();
        let in_memory = path == ":memory:" || query.contains("mode=memory");
        let describe = options.get_filename().display().to_string();
        let unavailable = |e: sqlx::Error| {
            StoreError::Unavailable(format!("cannot open SQLite database {describe:?}: {e}"))
        };

        let (read, write) = if in_memory {
            // One connection, never recycled: the database lives as long as it does.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(unavailable)?;
            (pool.clone(), pool)
        } else {
            let options = options.journal_mode(SqliteJournalMode::Wal);
            // The writer first: it creates the file and switches it to WAL before readers open.
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone())
                .await
                .map_err(unavailable)?;
            let read = SqlitePoolOptions::new()
                .max_connections(READERS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(unavailable)?;
            (read, write)
        };
        let store = Self { read, write };

        migrations::migrator()
            .run(&store.write)
            .await
            .map_err(|e| match e {
                // A file we may read but not write shows up at the first write: the migrations.
                sqlx::migrate::MigrateError::Execute(inner) if is_read_only(&inner) => {
                    StoreError::Unavailable(format!(
                        "SQLite database {describe:?} is read-only: {inner}"
                    ))
                }
                other => StoreError::Migration(other),
            })?;
        store.seed_default_config().await.map_err(|e| match e {
            StoreError::Database(inner) if is_read_only(&inner) => StoreError::Unavailable(
                format!("SQLite database {describe:?} is read-only: {inner}"),
            ),
            other => other,
        })?;
        Ok(store)
    }

    /// Inserts `ScoringConfig::default()` as version 1 unless version 1 exists.
    async fn seed_default_config(&self) -> Result<(), StoreError> {
        let config = ScoringConfig::default();
        let body = to_json(&config, "default scoring configuration")?;
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "INSERT INTO scoring_configs (version, body, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(i64::from(config.version))
        .bind(body)
        .bind(ts(&Utc::now()))
        .execute(&mut *tx)
        .await
        .map(|_| ())
        .map_err(StoreError::from);
        finish(tx, result).await
    }

    /// A write transaction: the single writer connection, holding SQLite's write lock from
    /// the first statement.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.write.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    pub(crate) async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    // ----- regions -----

    pub(crate) async fn create_region(&self, region: &Region) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "INSERT INTO regions (id, name, time_zone, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(region.id.as_str())
        .bind(&region.name)
        .bind(region.time_zone.name())
        .bind(ts(&Utc::now()))
        .execute(&mut *tx)
        .await
        .map(|_| ())
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("region {} already exists", region.id))
            } else {
                e.into()
            }
        });
        finish(tx, result).await
    }

    pub(crate) async fn region(&self, id: &RegionId) -> Result<Option<Region>, StoreError> {
        let row = sqlx::query("SELECT id, name, time_zone FROM regions WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(region_from_row).transpose()
    }

    pub(crate) async fn regions(&self) -> Result<Vec<Region>, StoreError> {
        let rows = sqlx::query("SELECT id, name, time_zone FROM regions ORDER BY id")
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(region_from_row).collect()
    }

    // ----- contractors -----

    pub(crate) async fn create_contractor(&self, c: &Contractor) -> Result<(), StoreError> {
        self.create_contractors(std::slice::from_ref(c)).await
    }

    pub(crate) async fn create_contractors(&self, cs: &[Contractor]) -> Result<(), StoreError> {
        if cs.is_empty() {
            return Ok(());
        }
        let bodies = cs
            .iter()
            .map(|c| to_json(c, "contractor"))
            .collect::<Result<Vec<_>, _>>()?;
        let now = ts(&Utc::now());
        let mut tx = self.begin_write().await?;
        let result = async {
            // One statement per row, all in one transaction: SQLite runs in-process, so a
            // statement costs no round trip; the commit is what a row-by-row load pays for.
            for (c, body) in cs.iter().zip(bodies) {
                sqlx::query(
                    "INSERT INTO contractors \
                     (id, region_id, name, active, body, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(c.id.to_string())
                .bind(c.region.as_str())
                .bind(&c.name)
                .bind(c.active)
                .bind(body)
                .bind(&now)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(|e| contractor_insert_error(e, c))?;
            }
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    pub(crate) async fn update_contractor(&self, c: &Contractor) -> Result<bool, StoreError> {
        let body = to_json(c, "contractor")?;
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE contractors SET region_id = ?, name = ?, active = ?, body = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(c.region.as_str())
        .bind(&c.name)
        .bind(c.active)
        .bind(body)
        .bind(ts(&Utc::now()))
        .bind(c.id.to_string())
        .execute(&mut *tx)
        .await
        .map(|r| r.rows_affected() == 1)
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                StoreError::Conflict(format!("region {} does not exist", c.region))
            } else {
                e.into()
            }
        });
        finish(tx, result).await
    }

    pub(crate) async fn contractor(
        &self,
        id: ContractorId,
    ) -> Result<Option<Contractor>, StoreError> {
        let row = sqlx::query("SELECT body FROM contractors WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(contractor_from_row).transpose()
    }

    pub(crate) async fn contractors_in_region(
        &self,
        region: &RegionId,
    ) -> Result<Vec<Contractor>, StoreError> {
        let rows = sqlx::query("SELECT body FROM contractors WHERE region_id = ? ORDER BY id")
            .bind(region.as_str())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(contractor_from_row).collect()
    }

    pub(crate) async fn list_contractors(
        &self,
        region: Option<&RegionId>,
        page: PageRequest,
    ) -> Result<Page<Contractor>, StoreError> {
        let after = Cursor::from_request(page.cursor.as_deref(), CursorKind::Contractors)?;
        let limit = page.effective_limit();
        // One row more than the page tells whether there is a next page.
        let fetch = i64::from(limit) + 1;
        let rows = match region {
            Some(region) => {
                sqlx::query(
                    "SELECT id, name, body FROM contractors \
                     WHERE region_id = ? AND (name, id) > (?, ?) \
                     ORDER BY name, id LIMIT ?",
                )
                .bind(region.as_str())
                .bind(&after.key)
                .bind(&after.id)
                .bind(fetch)
                .fetch_all(&self.read)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT id, name, body FROM contractors WHERE (name, id) > (?, ?) \
                     ORDER BY name, id LIMIT ?",
                )
                .bind(&after.key)
                .bind(&after.id)
                .bind(fetch)
                .fetch_all(&self.read)
                .await?
            }
        };
        page_of(
            rows,
            limit,
            CursorKind::Contractors,
            "name",
            contractor_from_row,
        )
    }

    pub(crate) async fn add_time_off(
        &self,
        id: ContractorId,
        time_off: &TimeOff,
    ) -> Result<Option<Contractor>, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = add_time_off_tx(&mut tx, id, time_off).await;
        finish(tx, result).await
    }

    // ----- jobs -----

    pub(crate) async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        self.create_jobs(std::slice::from_ref(job)).await
    }

    pub(crate) async fn create_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let bodies = jobs
            .iter()
            .map(|j| to_json(j, "job"))
            .collect::<Result<Vec<_>, _>>()?;
        let now = ts(&Utc::now());
        let mut tx = self.begin_write().await?;
        let result = async {
            for (job, body) in jobs.iter().zip(bodies) {
                sqlx::query(
                    "INSERT INTO jobs (id, region_id, status, window_start_utc, window_end_utc, \
                     lat, lon, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(job.id.to_string())
                .bind(job.region.as_str())
                .bind(job_status_str(job.status))
                .bind(ts(&job.window_start_utc))
                .bind(ts(&job.window_end_utc))
                .bind(job.location.lat)
                .bind(job.location.lon)
                .bind(body)
                .bind(&now)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(|e| job_insert_error(e, job))?;
            }
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    pub(crate) async fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query("SELECT status, body FROM jobs WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    pub(crate) async fn list_jobs(
        &self,
        region: &RegionId,
        status: Option<JobStatus>,
        page: PageRequest,
    ) -> Result<Page<Job>, StoreError> {
        let after = Cursor::from_request(page.cursor.as_deref(), CursorKind::Jobs)?;
        let limit = page.effective_limit();
        let fetch = i64::from(limit) + 1;
        let rows = match status {
            Some(status) => {
                sqlx::query(
                    "SELECT id, window_start_utc, status, body FROM jobs \
                     WHERE region_id = ? AND status = ? AND (window_start_utc, id) > (?, ?) \
                     ORDER BY window_start_utc, id LIMIT ?",
                )
                .bind(region.as_str())
                .bind(job_status_str(status))
                .bind(&after.key)
                .bind(&after.id)
                .bind(fetch)
                .fetch_all(&self.read)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT id, window_start_utc, status, body FROM jobs \
                     WHERE region_id = ? AND (window_start_utc, id) > (?, ?) \
                     ORDER BY window_start_utc, id LIMIT ?",
                )
                .bind(region.as_str())
                .bind(&after.key)
                .bind(&after.id)
                .bind(fetch)
                .fetch_all(&self.read)
                .await?
            }
        };
        page_of(
            rows,
            limit,
            CursorKind::Jobs,
            "window_start_utc",
            job_from_row,
        )
    }

    pub(crate) async fn cancel_job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = cancel_job_tx(&mut tx, id).await;
        finish(tx, result).await
    }

    // ----- assignments -----

    pub(crate) async fn create_assignment(
        &self,
        new_audit: Option<&AuditRecord>,
        assignment: &Assignment,
        decision: &Decision,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        // The input was checked by `Store::create_assignment`.
        let audit_row = new_audit.map(AuditRow::encode).transpose()?;
        let decision_json = to_json(decision, "decision")?;
        let events = encode_events(events)?;
        let mut tx = self.begin_write().await?;
        let result = async {
            if let Some(row) = &audit_row {
                insert_audit(&mut tx, row).await?;
            }
            create_assignment_tx(&mut tx, assignment, &decision_json, &events).await
        }
        .await;
        finish(tx, result).await
    }

    pub(crate) async fn assignment(
        &self,
        id: AssignmentId,
    ) -> Result<Option<Assignment>, StoreError> {
        let row = sqlx::query(
            "SELECT id, job_id, contractor_id, audit_id, start_utc, end_utc, source \
             FROM assignments WHERE id = ? AND status = 'live'",
        )
        .bind(id.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(assignment_from_row).transpose()
    }

    pub(crate) async fn job_assignment(
        &self,
        job: JobId,
    ) -> Result<Option<Assignment>, StoreError> {
        let row = sqlx::query(
            "SELECT id, job_id, contractor_id, audit_id, start_utc, end_utc, source \
             FROM assignments WHERE job_id = ? AND status = 'live'",
        )
        .bind(job.to_string())
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(assignment_from_row).transpose()
    }

    pub(crate) async fn delete_assignment(
        &self,
        id: AssignmentId,
        events: &[NewOutboxEvent],
    ) -> Result<Option<Assignment>, StoreError> {
        let events = encode_events(events)?;
        let mut tx = self.begin_write().await?;
        let result = delete_assignment_tx(&mut tx, id, &events).await;
        finish(tx, result).await
    }

    pub(crate) async fn contractor_assignments(
        &self,
        id: ContractorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, job_id, contractor_id, audit_id, start_utc, end_utc, source \
             FROM assignments \
             WHERE contractor_id = ? AND status = 'live' AND start_utc < ? AND end_utc > ? \
             ORDER BY start_utc, id",
        )
        .bind(id.to_string())
        .bind(ts(&to))
        .bind(ts(&from))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(assignment_from_row).collect()
    }

    pub(crate) async fn region_bookings(
        &self,
        region: &RegionId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Booking>, StoreError> {
        // By the contractor's region: a booking belongs to the contractor's calendar.
        let rows = sqlx::query(
            "SELECT a.id, a.job_id, a.contractor_id, a.start_utc, a.end_utc, j.lat, j.lon \
             FROM assignments a \
             JOIN contractors c ON c.id = a.contractor_id \
             JOIN jobs j ON j.id = a.job_id \
             WHERE c.region_id = ? AND a.status = 'live' AND a.start_utc < ? AND a.end_utc > ? \
             ORDER BY a.contractor_id, a.start_utc, a.id",
        )
        .bind(region.as_str())
        .bind(ts(&to))
        .bind(ts(&from))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Booking {
                    assignment_id: parse_id(&col::<String>(row, "id")?, "assignments.id")?,
                    job_id: parse_id(&col::<String>(row, "job_id")?, "assignments.job_id")?,
                    contractor_id: parse_id(
                        &col::<String>(row, "contractor_id")?,
                        "assignments.contractor_id",
                    )?,
                    start_utc: parse_ts(
                        &col::<String>(row, "start_utc")?,
                        "assignments.start_utc",
                    )?,
                    end_utc: parse_ts(&col::<String>(row, "end_utc")?, "assignments.end_utc")?,
                    location: GeoPoint::new(col(row, "lat")?, col(row, "lon")?),
                })
            })
            .collect()
    }

    // ----- recommendations and audit records -----

    pub(crate) async fn create_recommendation(
        &self,
        rec: &RecommendationRecord,
    ) -> Result<(), StoreError> {
        let body = to_json(rec, "recommendation")?;
        let now = ts(&Utc::now());
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "INSERT INTO recommendations \
             (request_id, job_id, region_id, status, error, requested_at, updated_at, body) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(rec.request_id.to_string())
        .bind(rec.job_id.to_string())
        .bind(rec.region.as_str())
        .bind(rec.status.as_str())
        .bind(rec.error.as_deref())
        .bind(ts(&rec.requested_at))
        .bind(&now)
        .bind(body)
        .execute(&mut *tx)
        .await
        .map(|_| ())
        .map_err(|e| recommendation_insert_error(e, rec));
        finish(tx, result).await
    }

    pub(crate) async fn recommendation(
        &self,
        request_id: RequestId,
    ) -> Result<Option<RecommendationRecord>, StoreError> {
        let row =
            sqlx::query("SELECT status, error, body FROM recommendations WHERE request_id = ?")
                .bind(request_id.to_string())
                .fetch_optional(&self.read)
                .await?;
        row.as_ref().map(recommendation_from_row).transpose()
    }

    pub(crate) async fn pending_recommendations(
        &self,
        limit: u32,
    ) -> Result<Vec<RequestId>, StoreError> {
        let rows = sqlx::query(
            "SELECT request_id FROM recommendations WHERE status = 'pending' \
             ORDER BY requested_at, request_id LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("request_id")?;
                id.parse()
                    .map_err(|_| StoreError::Corrupt(format!("request id {id:?} is not a UUID")))
            })
            .collect()
    }

    pub(crate) async fn complete_recommendation(
        &self,
        rec: &RecommendationRecord,
        audit: &AuditRecord,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        let rec_body = to_json(rec, "recommendation")?;
        let audit_row = AuditRow::encode(audit)?;
        let events = encode_events(events)?;
        let now = ts(&Utc::now());
        let mut tx = self.begin_write().await?;
        let result = async {
            // An upsert: normally the pending row exists, but a lost pending row must not lose
            // the finished result.
            sqlx::query(
                "INSERT INTO recommendations \
                 (request_id, job_id, region_id, status, error, requested_at, updated_at, body) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (request_id) DO UPDATE SET status = excluded.status, \
                 error = excluded.error, updated_at = excluded.updated_at, body = excluded.body",
            )
            .bind(rec.request_id.to_string())
            .bind(rec.job_id.to_string())
            .bind(rec.region.as_str())
            .bind(rec.status.as_str())
            .bind(rec.error.as_deref())
            .bind(ts(&rec.requested_at))
            .bind(&now)
            .bind(&rec_body)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    StoreError::Conflict(format!("job {} does not exist", rec.job_id))
                } else {
                    e.into()
                }
            })?;
            insert_audit(&mut tx, &audit_row).await?;
            insert_events(&mut tx, &events).await
        }
        .await;
        finish(tx, result).await
    }

    pub(crate) async fn fail_recommendation(
        &self,
        request_id: RequestId,
        error: &str,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        let events = encode_events(events)?;
        let mut tx = self.begin_write().await?;
        let result = async {
            let updated = sqlx::query(
                "UPDATE recommendations SET status = 'failed', error = ?, updated_at = ? \
                 WHERE request_id = ?",
            )
            .bind(error)
            .bind(ts(&Utc::now()))
            .bind(request_id.to_string())
            .execute(&mut *tx)
            .await?;
            // Nothing to report for a request that does not exist.
            if updated.rows_affected() > 0 {
                insert_events(&mut tx, &events).await?;
            }
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    pub(crate) async fn create_audit(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        let row = AuditRow::encode(audit)?;
        let mut tx = self.begin_write().await?;
        let result = insert_audit(&mut tx, &row).await;
        finish(tx, result).await
    }

    pub(crate) async fn audit(&self, id: AuditId) -> Result<Option<AuditRecord>, StoreError> {
        let row = sqlx::query("SELECT body, decision FROM audits WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut audit: AuditRecord = from_json(&col::<String>(&row, "body")?, "audits.body")?;
        audit.decision = col::<Option<String>>(&row, "decision")?
            .map(|d| from_json(&d, "audits.decision"))
            .transpose()?;
        Ok(Some(audit))
    }

    // ----- scoring configuration -----

    pub(crate) async fn current_config(&self) -> Result<ScoringConfig, StoreError> {
        let row =
            sqlx::query("SELECT version, body FROM scoring_configs ORDER BY version DESC LIMIT 1")
                .fetch_optional(&self.read)
                .await?;
        match row {
            Some(row) => config_from_row(&row),
            None => Err(StoreError::Corrupt(
                "scoring_configs is empty; version 1 is inserted at startup, so the table was \
                 emptied by hand"
                    .to_owned(),
            )),
        }
    }

    pub(crate) async fn config_version(
        &self,
        version: u32,
    ) -> Result<Option<ScoringConfig>, StoreError> {
        let row = sqlx::query("SELECT version, body FROM scoring_configs WHERE version = ?")
            .bind(i64::from(version))
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(config_from_row).transpose()
    }

    pub(crate) async fn replace_config(
        &self,
        expected: u32,
        new: &NewScoringConfig,
    ) -> Result<ScoringConfig, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = async {
            let current: Option<i64> =
                sqlx::query_scalar("SELECT MAX(version) FROM scoring_configs")
                    .fetch_one(&mut *tx)
                    .await?;
            let current = to_u32(current.unwrap_or(0), "scoring_configs.version")?;
            if current != expected {
                return Err(StoreError::StaleVersion { current });
            }
            let next = current.checked_add(1).ok_or_else(|| {
                StoreError::Conflict("the scoring configuration version cannot grow further".into())
            })?;
            let config = new.into_config(next);
            sqlx::query("INSERT INTO scoring_configs (version, body, created_at) VALUES (?, ?, ?)")
                .bind(i64::from(next))
                .bind(to_json(&config, "scoring configuration")?)
                .bind(ts(&Utc::now()))
                .execute(&mut *tx)
                .await?;
            Ok(config)
        }
        .await;
        finish(tx, result).await
    }

    // ----- idempotency keys -----

    pub(crate) async fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<IdempotencyBegin, StoreError> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        let result = idempotency_begin_tx(&mut tx, scope, key, request_hash, now).await;
        finish(tx, result).await
    }

    pub(crate) async fn idempotency_finish(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(
            "UPDATE idempotency_keys SET state = 'done', status = ?, body = ?, updated_at = ? \
             WHERE scope = ? AND idem_key = ?",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(ts(&Utc::now()))
        .bind(scope)
        .bind(key)
        .execute(&mut *tx)
        .await
        .map(|_| ())
        .map_err(StoreError::from);
        finish(tx, result).await
    }

    pub(crate) async fn idempotency_abandon(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // Only an unfinished claim: a finished answer stays replayable.
        let result = sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = ? AND idem_key = ? AND state = 'in_progress'",
        )
        .bind(scope)
        .bind(key)
        .execute(&mut *tx)
        .await
        .map(|_| ())
        .map_err(StoreError::from);
        finish(tx, result).await
    }

    // ----- outbox -----

    pub(crate) async fn pending_events(&self, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT sequence, channels, target, payload, created_at FROM outbox \
             WHERE sent_at IS NULL ORDER BY sequence LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(outbox_event_from_row).collect()
    }

    pub(crate) async fn events_after(
        &self,
        after: i64,
        limit: u32,
        sent_only: bool,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        // `sequence` is the rowid: a range search of the table itself from `after`.
        let sql = if sent_only {
            "SELECT sequence, channels, target, payload, created_at FROM outbox \
             WHERE sequence > ? AND sent_at IS NOT NULL ORDER BY sequence LIMIT ?"
        } else {
            "SELECT sequence, channels, target, payload, created_at FROM outbox \
             WHERE sequence > ? ORDER BY sequence LIMIT ?"
        };
        let rows = sqlx::query(sql)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(outbox_event_from_row).collect()
    }

    pub(crate) async fn last_sent_sequence(&self) -> Result<i64, StoreError> {
        // The rowid read backwards from the newest row, past the unsent tail.
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT sequence FROM outbox WHERE sent_at IS NOT NULL ORDER BY sequence DESC LIMIT 1",
        )
        .fetch_optional(&self.read)
        .await?;
        Ok(last.unwrap_or(0))
    }

    pub(crate) async fn deployment_id(&self) -> Result<String, StoreError> {
        Ok(sqlx::query_scalar("SELECT id FROM deployment")
            .fetch_one(&self.read)
            .await?)
    }

    pub(crate) async fn mark_events_sent(&self, sequences: &[i64]) -> Result<(), StoreError> {
        if sequences.is_empty() {
            return Ok(());
        }
        let now = ts(&Utc::now());
        let mut tx = self.begin_write().await?;
        let result = async {
            // One statement per sequence keeps the SQL portable (no IN-list building); in one
            // transaction it costs one commit.
            for seq in sequences {
                sqlx::query("UPDATE outbox SET sent_at = ? WHERE sequence = ? AND sent_at IS NULL")
                    .bind(&now)
                    .bind(*seq)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(())
        }
        .await;
        finish(tx, result).await
    }

    pub(crate) async fn prune_sent_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query(PRUNE_SENT_EVENTS_SQLITE)
            .bind(ts(&before))
            .execute(&mut *tx)
            .await
            .map(|done| done.rows_affected())
            .map_err(StoreError::from);
        finish(tx, result).await
    }
}

/// Sent events older than `?`, except the newest sent one (it is `last_sent_sequence`).
const PRUNE_SENT_EVENTS_SQLITE: &str = "DELETE FROM outbox WHERE sent_at < ? AND sequence < \
     (SELECT max(sequence) FROM outbox WHERE sent_at IS NOT NULL)";

// ----- transaction bodies -----

async fn add_time_off_tx(
    conn: &mut SqliteConnection,
    id: ContractorId,
    time_off: &TimeOff,
) -> Result<Option<Contractor>, StoreError> {
    // Read-modify-write of the document, safe because the write transaction is exclusive.
    let row = sqlx::query("SELECT body FROM contractors WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut contractor = contractor_from_row(&row)?;
    contractor.time_off.push(time_off.clone());
    sqlx::query("UPDATE contractors SET body = ?, updated_at = ? WHERE id = ?")
        .bind(to_json(&contractor, "contractor")?)
        .bind(ts(&Utc::now()))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(Some(contractor))
}

async fn cancel_job_tx(conn: &mut SqliteConnection, id: JobId) -> Result<Option<Job>, StoreError> {
    let row = sqlx::query("SELECT status, body FROM jobs WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut job = job_from_row(&row)?;
    match job.status {
        JobStatus::Open | JobStatus::Assigned => {}
        done @ (JobStatus::Completed | JobStatus::Cancelled) => {
            return Err(StoreError::Conflict(format!(
                "job {id} is already {}; only open or assigned jobs can be cancelled",
                job_status_str(done)
            )));
        }
    }
    let now = ts(&Utc::now());
    // Ends the live assignment, if any: it must stop blocking the contractor's calendar.
    sqlx::query(
        "UPDATE assignments SET status = 'cancelled', ended_at = ? \
         WHERE job_id = ? AND status = 'live'",
    )
    .bind(&now)
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE jobs SET status = 'cancelled', updated_at = ? WHERE id = ?")
        .bind(&now)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    job.status = JobStatus::Cancelled;
    Ok(Some(job))
}

async fn create_assignment_tx(
    conn: &mut SqliteConnection,
    a: &Assignment,
    decision_json: &str,
    events: &[EncodedEvent],
) -> Result<(), StoreError> {
    let job_id = a.job_id.to_string();
    let contractor_id = a.contractor_id.to_string();
    let start = ts(&a.start_utc);
    let end = ts(&a.end_utc);

    // 1. The job exists and is open (status `assigned` ⇔ it has a live assignment).
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM jobs WHERE id = ?")
        .bind(&job_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(status) = status else {
        return Err(AssignmentConflict::JobNotFound.into());
    };
    match parse_job_status(&status)? {
        JobStatus::Open => {}
        JobStatus::Assigned => return Err(AssignmentConflict::JobAlreadyAssigned.into()),
        JobStatus::Completed | JobStatus::Cancelled => {
            return Err(AssignmentConflict::JobNotOpen.into());
        }
    }

    // 2. The contractor exists.
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM contractors WHERE id = ?")
        .bind(&contractor_id)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_none() {
        return Err(AssignmentConflict::ContractorNotFound.into());
    }

    // 3. No live assignment of the contractor overlaps [start, end): A and B overlap iff
    //    A.start < B.end && B.start < A.end. Touching slots (one ends when the next starts) do
    //    not overlap. This runs under the write lock, so no other writer can add a booking
    //    between this check and the insert below.
    let conflicting: Option<String> = sqlx::query_scalar(
        "SELECT id FROM assignments \
         WHERE contractor_id = ? AND status = 'live' AND start_utc < ? AND end_utc > ? \
         ORDER BY start_utc, id LIMIT 1",
    )
    .bind(&contractor_id)
    .bind(&end)
    .bind(&start)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(conflicting) = conflicting {
        return Err(AssignmentConflict::ContractorBusy {
            conflicting: parse_id(&conflicting, "assignments.id")?,
        }
        .into());
    }

    // 4. The audit record the decision goes on exists.
    let audit_exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM audits WHERE id = ?")
        .bind(a.audit_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    if audit_exists.is_none() {
        return Err(AssignmentConflict::AuditNotFound.into());
    }

    // 5. Write: the assignment (the partial unique index on live job_id is the backstop), the
    //    job's status, the decision, the events.
    sqlx::query(
        "INSERT INTO assignments \
         (id, job_id, contractor_id, audit_id, start_utc, end_utc, source, status, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, 'live', ?)",
    )
    .bind(a.id.to_string())
    .bind(&job_id)
    .bind(&contractor_id)
    .bind(a.audit_id.to_string())
    .bind(&start)
    .bind(&end)
    .bind(source_str(a.source))
    .bind(ts(&Utc::now()))
    .execute(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            if db.message().contains("assignments.job_id") {
                StoreError::Assignment(AssignmentConflict::JobAlreadyAssigned)
            } else {
                StoreError::Conflict(format!("assignment {} already exists", a.id))
            }
        }
        _ => e.into(),
    })?;
    let updated = sqlx::query(
        "UPDATE jobs SET status = 'assigned', updated_at = ? WHERE id = ? AND status = 'open'",
    )
    .bind(ts(&Utc::now()))
    .bind(&job_id)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() != 1 {
        // Cannot happen under the write lock (checked in step 1); refuse rather than commit a
        // half-done assignment if it ever does.
        return Err(AssignmentConflict::JobAlreadyAssigned.into());
    }
    sqlx::query("UPDATE audits SET decision = ? WHERE id = ?")
        .bind(decision_json)
        .bind(a.audit_id.to_string())
        .execute(&mut *conn)
        .await?;
    insert_events(conn, events).await
}

async fn delete_assignment_tx(
    conn: &mut SqliteConnection,
    id: AssignmentId,
    events: &[EncodedEvent],
) -> Result<Option<Assignment>, StoreError> {
    let row = sqlx::query(
        "SELECT id, job_id, contractor_id, audit_id, start_utc, end_utc, source \
         FROM assignments WHERE id = ? AND status = 'live'",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let assignment = assignment_from_row(&row)?;
    let now = ts(&Utc::now());
    sqlx::query("UPDATE assignments SET status = 'unassigned', ended_at = ? WHERE id = ?")
        .bind(&now)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE jobs SET status = 'open', updated_at = ? WHERE id = ? AND status = 'assigned'",
    )
    .bind(&now)
    .bind(assignment.job_id.to_string())
    .execute(&mut *conn)
    .await?;
    insert_events(conn, events).await?;
    Ok(Some(assignment))
}

async fn idempotency_begin_tx(
    conn: &mut SqliteConnection,
    scope: &str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<IdempotencyBegin, StoreError> {
    let row = sqlx::query(
        "SELECT request_hash, state, status, body, updated_at FROM idempotency_keys \
         WHERE scope = ? AND idem_key = ?",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = row {
        let stored_hash: String = col(&row, "request_hash")?;
        if stored_hash != request_hash {
            return Ok(IdempotencyBegin::Mismatch);
        }
        let state: String = col(&row, "state")?;
        match state.as_str() {
            "done" => {
                let status: Option<i64> = col(&row, "status")?;
                let status = status.and_then(|s| u16::try_from(s).ok()).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "idempotency_keys ({scope}, {key}): done without a valid status"
                    ))
                })?;
                let body: Option<Vec<u8>> = col(&row, "body")?;
                return Ok(IdempotencyBegin::Replay {
                    status,
                    body: body.unwrap_or_default(),
                });
            }
            "in_progress" => {
                let since = parse_ts(
                    &col::<String>(&row, "updated_at")?,
                    "idempotency_keys.updated_at",
                )?;
                let timeout = chrono::Duration::from_std(crate::IDEMPOTENCY_IN_PROGRESS_TIMEOUT)
                    .unwrap_or(chrono::Duration::MAX);
                if now.signed_duration_since(since) < timeout {
                    return Ok(IdempotencyBegin::InProgress);
                }
                // The first attempt's process is presumed dead: take the claim over.
                sqlx::query(
                    "UPDATE idempotency_keys SET updated_at = ? WHERE scope = ? AND idem_key = ?",
                )
                .bind(ts(&now))
                .bind(scope)
                .bind(key)
                .execute(&mut *conn)
                .await?;
                return Ok(IdempotencyBegin::Started);
            }
            other => {
                return Err(StoreError::Corrupt(format!(
                    "idempotency_keys.state: unknown state {other:?}"
                )));
            }
        }
    }
    let now = ts(&now);
    sqlx::query(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash, state, created_at, updated_at) \
         VALUES (?, ?, ?, 'in_progress', ?, ?)",
    )
    .bind(scope)
    .bind(key)
    .bind(request_hash)
    .bind(&now)
    .bind(&now)
    .execute(&mut *conn)
    .await?;
    Ok(IdempotencyBegin::Started)
}

// ----- shared write helpers -----

/// An outbox event with its JSON already encoded, so encoding errors surface before the
/// transaction starts.
struct EncodedEvent {
    channels: String,
    target: String,
    payload: String,
}

fn encode_events(events: &[NewOutboxEvent]) -> Result<Vec<EncodedEvent>, StoreError> {
    events
        .iter()
        .map(|e| {
            Ok(EncodedEvent {
                channels: to_json(&e.channels, "event channels")?,
                target: e.target.clone(),
                payload: to_json(&e.payload, "event payload")?,
            })
        })
        .collect()
}

async fn insert_events(
    conn: &mut SqliteConnection,
    events: &[EncodedEvent],
) -> Result<(), StoreError> {
    let now = ts(&Utc::now());
    for e in events {
        sqlx::query(
            "INSERT INTO outbox (channels, target, payload, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&e.channels)
        .bind(&e.target)
        .bind(&e.payload)
        .bind(&now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// An audit record split into its columns.
struct AuditRow {
    id: String,
    request_id: Option<String>,
    region: String,
    job_id: String,
    config_version: i64,
    created_at: String,
    body: String,
    decision: Option<String>,
}

impl AuditRow {
    fn encode(audit: &AuditRecord) -> Result<Self, StoreError> {
        Ok(Self {
            id: audit.audit_id.to_string(),
            request_id: audit.request_id.map(|r| r.to_string()),
            region: audit.region.as_str().to_owned(),
            job_id: audit.job.id.to_string(),
            config_version: i64::from(audit.config_version),
            created_at: ts(&audit.created_at),
            body: to_json(audit, "audit record")?,
            decision: audit
                .decision
                .as_ref()
                .map(|d| to_json(d, "decision"))
                .transpose()?,
        })
    }
}

async fn insert_audit(conn: &mut SqliteConnection, row: &AuditRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audits \
         (id, request_id, region_id, job_id, config_version, created_at, body, decision) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&row.id)
    .bind(row.request_id.as_deref())
    .bind(&row.region)
    .bind(&row.job_id)
    .bind(row.config_version)
    .bind(&row.created_at)
    .bind(&row.body)
    .bind(row.decision.as_deref())
    .execute(&mut *conn)
    .await
    .map(|_| ())
    .map_err(|e| audit_insert_error(e, &row.id, &row.job_id, &row.region))
}

// ----- row mapping -----

fn region_from_row(row: &SqliteRow) -> Result<Region, StoreError> {
    let id: String = col(row, "id")?;
    let tz: String = col(row, "time_zone")?;
    Ok(Region {
        time_zone: tz.parse().map_err(|_| {
            StoreError::Corrupt(format!("regions.time_zone of {id}: unknown zone {tz:?}"))
        })?,
        name: col(row, "name")?,
        id: RegionId::new(id),
    })
}

fn contractor_from_row(row: &SqliteRow) -> Result<Contractor, StoreError> {
    from_json(&col::<String>(row, "body")?, "contractors.body")
}

fn job_from_row(row: &SqliteRow) -> Result<Job, StoreError> {
    let mut job: Job = from_json(&col::<String>(row, "body")?, "jobs.body")?;
    // The column is the truth for the one mutable field.
    job.status = parse_job_status(&col::<String>(row, "status")?)?;
    Ok(job)
}

fn assignment_from_row(row: &SqliteRow) -> Result<Assignment, StoreError> {
    Ok(Assignment {
        id: parse_id(&col::<String>(row, "id")?, "assignments.id")?,
        job_id: parse_id(&col::<String>(row, "job_id")?, "assignments.job_id")?,
        contractor_id: parse_id(
            &col::<String>(row, "contractor_id")?,
            "assignments.contractor_id",
        )?,
        start_utc: parse_ts(&col::<String>(row, "start_utc")?, "assignments.start_utc")?,
        end_utc: parse_ts(&col::<String>(row, "end_utc")?, "assignments.end_utc")?,
        source: parse_source(&col::<String>(row, "source")?)?,
        audit_id: parse_id(&col::<String>(row, "audit_id")?, "assignments.audit_id")?,
    })
}

fn outbox_event_from_row(row: &SqliteRow) -> Result<OutboxEvent, StoreError> {
    Ok(OutboxEvent {
        sequence: col(row, "sequence")?,
        channels: from_json(&col::<String>(row, "channels")?, "outbox.channels")?,
        target: col(row, "target")?,
        payload: from_json(&col::<String>(row, "payload")?, "outbox.payload")?,
        created_at: parse_ts(&col::<String>(row, "created_at")?, "outbox.created_at")?,
    })
}

fn recommendation_from_row(row: &SqliteRow) -> Result<RecommendationRecord, StoreError> {
    let mut rec: RecommendationRecord =
        from_json(&col::<String>(row, "body")?, "recommendations.body")?;
    // `fail_recommendation` writes only these columns; they win over the document.
    rec.status = match col::<String>(row, "status")?.as_str() {
        "pending" => RecommendationStatus::Pending,
        "ready" => RecommendationStatus::Ready,
        "failed" => RecommendationStatus::Failed,
        other => {
            return Err(StoreError::Corrupt(format!(
                "recommendations.status: unknown status {other:?}"
            )));
        }
    };
    rec.error = col(row, "error")?;
    Ok(rec)
}

fn config_from_row(row: &SqliteRow) -> Result<ScoringConfig, StoreError> {
    let mut config: ScoringConfig =
        from_json(&col::<String>(row, "body")?, "scoring_configs.body")?;
    config.version = to_u32(col(row, "version")?, "scoring_configs.version")?;
    Ok(config)
}

/// Builds a page from `limit + 1` rows: the extra row only says there is a next page, whose
/// cursor is the last returned row's (`key_column`, id).
fn page_of<T>(
    rows: Vec<SqliteRow>,
    limit: u32,
    kind: CursorKind,
    key_column: &str,
    decode: fn(&SqliteRow) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let limit = limit as usize;
    let has_more = rows.len() > limit;
    let rows = &rows[..rows.len().min(limit)];
    let next_cursor = match rows.last() {
        Some(last) if has_more => Some(
            Cursor {
                key: col(last, key_column)?,
                id: col(last, "id")?,
            }
            .encode(kind),
        ),
        _ => None,
    };
    Ok(Page {
        items: rows.iter().map(decode).collect::<Result<_, _>>()?,
        next_cursor,
    })
}

/// SQLITE_READONLY (8) and its extended codes.
fn is_read_only(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|c| c & 0xff == 8),
        _ => false,
    }
}
