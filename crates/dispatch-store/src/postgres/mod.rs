//! The PostgreSQL backend: the production store, shared by every node of the service.
//!
//! # Connections
//!
//! One pool of [`POOL_SIZE`] connections. `connect` first opens a single connection of its own
//! (so a wrong host, password or database name is reported with its real cause, not as a pool
//! timeout), runs the embedded migrations on it under sqlx's advisory lock, seeds scoring
//! configuration version 1, and only then builds the pool.
//!
//! # Transactions and the invariants
//!
//! Every write is one transaction at `READ COMMITTED` (set explicitly, whatever the server's
//! default). Decisions that read before they write lock the rows they depend on, always in the
//! same order — **job, then contractor, then assignment rows, then the outbox lock** — so two of
//! our transactions never wait for each other in a cycle:
//!
//! * `create_assignment` locks the job row (`FOR NO KEY UPDATE`), so concurrent assignments of
//!   one job queue and each sees the previous one's result; then the contractor row, so
//!   concurrent bookings of one contractor queue the same way and the overlap query gives the
//!   friendly `ContractorBusy { conflicting }`. Without that lock, two overlapping inserts would
//!   each wait on the other inside the exclusion constraint: a deadlock PostgreSQL breaks only
//!   after `deadlock_timeout` (1 s).
//! * The database enforces both invariants whatever the code does: the exclusion constraint
//!   `assignments_no_overlap` (SQLSTATE `23P01`, reported as `ContractorBusy`, the conflicting
//!   id looked up in a fresh query after the rollback) and the partial unique index
//!   `assignments_one_live_per_job` (`23505`, reported as `JobAlreadyAssigned`). Those paths are
//!   taken when another writer (another version of the service, a script) skips our locks.
//! * `replace_config` relies on the primary key (`23505` → re-read → `StaleVersion`);
//!   `idempotency_begin` on `INSERT … ON CONFLICT DO NOTHING` plus `SELECT … FOR UPDATE`.
//!
//! # Retries
//!
//! A transaction that fails with a serialization failure (`40001`) or a deadlock (`40P01`) is
//! rolled back and run again from the start, up to [`MAX_ATTEMPTS`] times in all, with a
//! jittered exponential backoff. Then the store gives up with
//! [`StoreError::Contention`], whose `is_retryable()` is true
//! (the server answers 503).
//!
//! # Outbox order
//!
//! An identity column takes its value at insert time, not at commit time, so concurrent
//! transactions could commit their events in the opposite order of their sequences, and a relay
//! reading "everything after the last sequence I saw" would skip the late one. Every transaction
//! that appends events therefore takes the transaction-scoped advisory lock [`OUTBOX_LOCK`]
//! right before inserting them, as its last step. The next appender gets its sequences only
//! after the previous one has committed (and is visible), so sequence order is commit order,
//! globally and hence on every channel. The cost: event-producing commits of one database are
//! serialized for the length of their final insert and commit, WAL flush included, so they
//! cannot share a flush (the benchmark in `benches/assignments.rs` shows the ceiling).
//!
//! Followers read the outbox by sequence (`events_after`, `last_sent_sequence`): range scans of
//! the primary key, forwards and backwards.
//!
//! # Relay lease
//!
//! `lease.rs`: the node that relays the outbox holds a session-level advisory lock on a
//! connection of its own, outside the pool, so the server frees it when that session ends
//! (dropped lease, killed process, terminated session, vanished host after the keepalives).
//!
//! # Values
//!
//! Ids are `uuid`, instants `timestamptz`, documents `jsonb`, channel lists `text[]`.
//! `timestamptz` has microsecond resolution: finer digits of the *key columns* (assignment
//! start and end, job windows) are dropped on write (documents keep them). PostgreSQL cannot
//! store the NUL character in text or jsonb; such input is `StoreError::Invalid`.

mod lease;
mod migrations;

pub(crate) use lease::PgLease;

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dispatch_core::{
    Assignment, AssignmentId, AuditId, Booking, Contractor, ContractorId, GeoPoint, Job, JobId,
    JobStatus, NewScoringConfig, Region, RegionId, ScoringConfig, TimeOff,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Connection as _, Postgres, QueryBuilder, Row, Transaction};
use uuid::Uuid;

use crate::codec::{
    Cursor, CursorKind, job_status_str, parse_job_status, parse_source, source_str, to_json, ts,
};
use crate::error::{
    AssignmentConflict, StoreError, audit_insert_error, contractor_insert_error,
    is_foreign_key_violation, is_unique_violation, job_insert_error, recommendation_insert_error,
};
use crate::types::{
    AuditRecord, Decision, IdempotencyBegin, NewOutboxEvent, OutboxEvent, Page, PageRequest,
    RecommendationRecord, RecommendationStatus, RequestId,
};

/// Connections in the pool of one node. Several nodes share the server's `max_connections`.
pub(crate) const POOL_SIZE: u32 = 10;
/// How long a caller waits for a pooled connection before `PoolTimedOut` (retryable: 503).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `connect` waits for the server to answer at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a transaction is tried in all when it keeps failing with `40001`/`40P01`.
pub(crate) const MAX_ATTEMPTS: u32 = 6;
/// The backoff before the first retry; it doubles with each retry, up to [`BACKOFF_CAP`], and a
/// random part of it is taken off so that colliding transactions do not collide again.
const BACKOFF_BASE: Duration = Duration::from_millis(5);
/// The longest backoff between two attempts.
const BACKOFF_CAP: Duration = Duration::from_millis(250);
/// The advisory lock (transaction-scoped, per database) that orders outbox appends by commit;
/// see the module docs. Any fixed number works; this one is "dispatch" in ASCII.
pub(crate) const OUTBOX_LOCK: i64 = 0x6469_7370_6174_6368;
/// How the store's transactions begin.
const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// The PostgreSQL backend: one connection pool (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct PgStore {
    pool: PgPool,
}

// ----- small helpers -----

/// Reads a column, turning a type mismatch or a missing column into `Corrupt`.
fn col<'r, T>(row: &'r PgRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// Decodes a jsonb column into `T`; `what` names it for the error.
fn doc<T: DeserializeOwned>(row: &PgRow, name: &str, what: &str) -> Result<T, StoreError> {
    row.try_get::<Json<T>, _>(name)
        .map(|Json(v)| v)
        .map_err(|e| StoreError::Corrupt(format!("{what}: stored JSON does not decode ({e})")))
}

/// A document encoded before the transaction starts (so an encoding error is `Invalid` and
/// never half-way through), ready to bind to a jsonb parameter.
type DocParam = Json<Box<RawValue>>;

fn doc_param<T: Serialize + ?Sized>(value: &T, what: &str) -> Result<DocParam, StoreError> {
    RawValue::from_string(to_json(value, what)?)
        .map(Json)
        .map_err(|e| StoreError::Invalid(format!("{what} could not be encoded as JSON: {e}")))
}

/// A stored bigint as u32.
fn to_u32(v: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what}: {v} is out of range")))
}

/// The SQLSTATE of a database error.
fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// The constraint a database error names, if any.
fn constraint(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// `40001` serialization_failure or `40P01` deadlock_detected: run the transaction again.
fn is_transient(e: &sqlx::Error) -> bool {
    matches!(sqlstate(e).as_deref(), Some("40001" | "40P01"))
}

/// `23P01` on the no-overlap constraint.
fn is_overlap_violation(e: &sqlx::Error) -> bool {
    sqlstate(e).as_deref() == Some("23P01") && constraint(e) == Some("assignments_no_overlap")
}

/// Turns a database error into a `StoreError`: text PostgreSQL cannot store (the NUL
/// character: `22021` in text, `22P05` in jsonb) is the caller's input, so `Invalid`.
fn pg_error(e: sqlx::Error) -> StoreError {
    match sqlstate(&e).as_deref() {
        Some("22021" | "22P05") => StoreError::Invalid(format!(
            "the input contains text PostgreSQL cannot store (the NUL character, U+0000): {e}"
        )),
        _ => StoreError::Database(e),
    }
}

/// `pg_error` for a `StoreError` that already wraps the database error.
fn refine(e: StoreError) -> StoreError {
    match e {
        StoreError::Database(inner) => pg_error(inner),
        other => other,
    }
}

/// The error of a bulk insert of `what`s: a duplicate id or a missing region is `Conflict`,
/// naming the row PostgreSQL names (the key in the error's detail); nothing was stored.
fn bulk_insert_error(e: sqlx::Error, what: &str) -> StoreError {
    let detail = match &e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .and_then(|pg| pg.detail())
            .map(|d| format!(" ({d})"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    if is_unique_violation(&e) {
        StoreError::Conflict(format!(
            "a {what} of the batch already exists, or is in it twice{detail}; nothing was stored"
        ))
    } else if is_foreign_key_violation(&e) {
        StoreError::Conflict(format!(
            "a {what} of the batch names a region that does not exist{detail}; create the \
             region first; nothing was stored"
        ))
    } else {
        e.into()
    }
}

/// Commits on `Ok`, rolls back on `Err`, returning the result.
async fn finish<T>(
    tx: Transaction<'static, Postgres>,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(v) => {
            tx.commit().await?;
            Ok(v)
        }
        Err(e) => {
            // The original error is the one worth reporting; if the rollback fails too, the
            // connection is closed instead of being returned to the pool in a transaction.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// The pause before retry number `retry` (1-based): exponential, capped, minus a random part
/// of up to half of it ("equal jitter").
fn backoff(retry: u32) -> Duration {
    use std::hash::BuildHasher as _;
    let full = BACKOFF_BASE
        .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    let full_us = u64::try_from(full.as_micros()).unwrap_or(u64::MAX);
    // A fresh `RandomState` is randomly keyed: good enough to spread retries, no extra crate.
    let random = std::collections::hash_map::RandomState::new().hash_one(retry);
    let off = random % (full_us / 2 + 1);
    Duration::from_micros(full_us - off)
}

/// Runs `attempt` (one whole transaction) until it does not fail with a serialization failure
/// or deadlock, at most [`MAX_ATTEMPTS`] times; then gives up with `Contention`.
async fn retry<T, F, Fut>(operation: &'static str, mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        let error = match attempt().await {
            Ok(v) => return Ok(v),
            Err(StoreError::Database(e)) if is_transient(&e) || is_overlap_violation(&e) => e,
            Err(other) => return Err(refine(other)),
        };
        if attempts >= MAX_ATTEMPTS {
            tracing::warn!(operation, attempts, %error, "transaction kept colliding with concurrent ones; giving up");
            return Err(StoreError::Contention {
                attempts,
                source: error,
            });
        }
        let pause = backoff(attempts);
        tracing::debug!(operation, attempts, %error, ?pause, "transaction collided with a concurrent one; retrying");
        tokio::time::sleep(pause).await;
    }
}

impl PgStore {
    /// Connects, migrates and seeds. `url` has already been checked to be `postgres(ql)://`.
    pub(crate) async fn connect(url: &str) -> Result<Self, StoreError> {
        // Never echo the URL: it may hold a password.
        let mut options = PgConnectOptions::from_str(url).map_err(|e| {
            StoreError::InvalidUrl(format!(
                "not a valid PostgreSQL URL ({e}); expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
            ))
        })?;
        if options.get_application_name().is_none() {
            options = options.application_name("dispatch");
        }
        let describe = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or(options.get_username())
        );

        // One connection first: its error says what is wrong (refused, login, no database).
        let mut conn =
            match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await
            {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => {
                    return Err(StoreError::Unavailable(format!(
                        "cannot connect to PostgreSQL at {describe}: {e}"
                    )));
                }
                Err(_) => {
                    return Err(StoreError::Unavailable(format!(
                        "cannot connect to PostgreSQL at {describe}: no answer within {}s",
                        CONNECT_TIMEOUT.as_secs()
                    )));
                }
            };
        migrations::migrator().run(&mut conn).await?;
        seed_default_config(&mut conn).await?;
        // Closing politely is a courtesy; the migrations are committed either way.
        let _ = conn.close().await;

        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Self { pool })
    }

    /// A write transaction at READ COMMITTED.
    async fn begin(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin_with(BEGIN).await?)
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    // ----- regions -----

    pub(crate) async fn create_region(&self, region: &Region) -> Result<(), StoreError> {
        retry("create_region", || async {
            sqlx::query("INSERT INTO regions (id, name, time_zone) VALUES ($1, $2, $3)")
                .bind(region.id.as_str())
                .bind(&region.name)
                .bind(region.time_zone.name())
                .execute(&self.pool)
                .await
                .map(|_| ())
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict(format!("region {} already exists", region.id))
                    } else {
                        e.into()
                    }
                })
        })
        .await
    }

    pub(crate) async fn region(&self, id: &RegionId) -> Result<Option<Region>, StoreError> {
        let row = sqlx::query("SELECT id, name, time_zone FROM regions WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        row.as_ref().map(region_from_row).transpose()
    }

    pub(crate) async fn regions(&self) -> Result<Vec<Region>, StoreError> {
        let rows = sqlx::query("SELECT id, name, time_zone FROM regions ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        rows.iter().map(region_from_row).collect()
    }

    // ----- contractors -----

    pub(crate) async fn create_contractor(&self, c: &Contractor) -> Result<(), StoreError> {
        let body = doc_param(c, "contractor")?;
        retry("create_contractor", || async {
            sqlx::query(
                "INSERT INTO contractors (id, region_id, name, active, body) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(c.id.as_uuid())
            .bind(c.region.as_str())
            .bind(&c.name)
            .bind(c.active)
            .bind(&body)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| contractor_insert_error(e, c))
        })
        .await
    }

    pub(crate) async fn create_contractors(&self, cs: &[Contractor]) -> Result<(), StoreError> {
        if cs.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = cs.iter().map(|c| c.id.as_uuid()).collect();
        let regions: Vec<&str> = cs.iter().map(|c| c.region.as_str()).collect();
        let names: Vec<&str> = cs.iter().map(|c| c.name.as_str()).collect();
        let active: Vec<bool> = cs.iter().map(|c| c.active).collect();
        let bodies = cs
            .iter()
            .map(|c| doc_param(c, "contractor"))
            .collect::<Result<Vec<_>, _>>()?;
        retry("create_contractors", || async {
            // One statement, one round trip, whatever the count: the columns as arrays.
            sqlx::query(
                "INSERT INTO contractors (id, region_id, name, active, body) \
                 SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::bool[], $5::jsonb[])",
            )
            .bind(&ids)
            .bind(&regions)
            .bind(&names)
            .bind(&active)
            .bind(&bodies)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| bulk_insert_error(e, "contractor"))
        })
        .await
    }

    pub(crate) async fn update_contractor(&self, c: &Contractor) -> Result<bool, StoreError> {
        let body = doc_param(c, "contractor")?;
        retry("update_contractor", || async {
            sqlx::query(
                "UPDATE contractors SET region_id = $1, name = $2, active = $3, body = $4, \
                 updated_at = now() WHERE id = $5",
            )
            .bind(c.region.as_str())
            .bind(&c.name)
            .bind(c.active)
            .bind(&body)
            .bind(c.id.as_uuid())
            .execute(&self.pool)
            .await
            .map(|r| r.rows_affected() == 1)
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    StoreError::Conflict(format!("region {} does not exist", c.region))
                } else {
                    e.into()
                }
            })
        })
        .await
    }

    pub(crate) async fn contractor(
        &self,
        id: ContractorId,
    ) -> Result<Option<Contractor>, StoreError> {
        let row = sqlx::query("SELECT body FROM contractors WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        row.as_ref().map(contractor_from_row).transpose()
    }

    pub(crate) async fn contractors_in_region(
        &self,
        region: &RegionId,
    ) -> Result<Vec<Contractor>, StoreError> {
        let rows = sqlx::query("SELECT body FROM contractors WHERE region_id = $1 ORDER BY id")
            .bind(region.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        rows.iter().map(contractor_from_row).collect()
    }

    pub(crate) async fn list_contractors(
        &self,
        region: Option<&RegionId>,
        page: PageRequest,
    ) -> Result<Page<Contractor>, StoreError> {
        let after = page
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, CursorKind::Contractors))
            .transpose()?;
        let limit = page.effective_limit();
        let mut q =
            QueryBuilder::<Postgres>::new("SELECT id, name, body FROM contractors WHERE true");
        if let Some(region) = region {
            q.push(" AND region_id = ")
                .push_bind(region.as_str().to_owned());
        }
        if let Some(after) = after {
            q.push(" AND (name, id) > (")
                .push_bind(after.key)
                .push(", ")
                .push_bind(cursor_id(&after.id)?)
                .push(")");
        }
        // One row more than the page tells whether there is a next page.
        q.push(" ORDER BY name, id LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = q.build().fetch_all(&self.pool).await.map_err(pg_error)?;
        page_of(
            rows,
            limit,
            CursorKind::Contractors,
            |row| col(row, "name"),
            contractor_from_row,
        )
    }

    pub(crate) async fn add_time_off(
        &self,
        id: ContractorId,
        time_off: &TimeOff,
    ) -> Result<Option<Contractor>, StoreError> {
        retry("add_time_off", || async {
            let mut tx = self.begin().await?;
            let result = add_time_off_tx(&mut tx, id, time_off).await;
            finish(tx, result).await
        })
        .await
    }

    // ----- jobs -----

    pub(crate) async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        let body = doc_param(job, "job")?;
        retry("create_job", || async {
            sqlx::query(
                "INSERT INTO jobs (id, region_id, status, window_start_utc, window_end_utc, lat, \
                 lon, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(job.id.as_uuid())
            .bind(job.region.as_str())
            .bind(job_status_str(job.status))
            .bind(job.window_start_utc)
            .bind(job.window_end_utc)
            .bind(job.location.lat)
            .bind(job.location.lon)
            .bind(&body)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| job_insert_error(e, job))
        })
        .await
    }

    pub(crate) async fn create_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = jobs.iter().map(|j| j.id.as_uuid()).collect();
        let regions: Vec<&str> = jobs.iter().map(|j| j.region.as_str()).collect();
        let statuses: Vec<&str> = jobs.iter().map(|j| job_status_str(j.status)).collect();
        let starts: Vec<DateTime<Utc>> = jobs.iter().map(|j| j.window_start_utc).collect();
        let ends: Vec<DateTime<Utc>> = jobs.iter().map(|j| j.window_end_utc).collect();
        let lats: Vec<f64> = jobs.iter().map(|j| j.location.lat).collect();
        let lons: Vec<f64> = jobs.iter().map(|j| j.location.lon).collect();
        let bodies = jobs
            .iter()
            .map(|j| doc_param(j, "job"))
            .collect::<Result<Vec<_>, _>>()?;
        retry("create_jobs", || async {
            sqlx::query(
                "INSERT INTO jobs (id, region_id, status, window_start_utc, window_end_utc, lat, \
                 lon, body) SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], \
                 $4::timestamptz[], $5::timestamptz[], $6::float8[], $7::float8[], $8::jsonb[])",
            )
            .bind(&ids)
            .bind(&regions)
            .bind(&statuses)
            .bind(&starts)
            .bind(&ends)
            .bind(&lats)
            .bind(&lons)
            .bind(&bodies)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| bulk_insert_error(e, "job"))
        })
        .await
    }

    pub(crate) async fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let row = sqlx::query("SELECT status, body FROM jobs WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        row.as_ref().map(job_from_row).transpose()
    }

    pub(crate) async fn list_jobs(
        &self,
        region: &RegionId,
        status: Option<JobStatus>,
        page: PageRequest,
    ) -> Result<Page<Job>, StoreError> {
        let after = page
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, CursorKind::Jobs))
            .transpose()?;
        let limit = page.effective_limit();
        let mut q = QueryBuilder::<Postgres>::new(
            "SELECT id, window_start_utc, status, body FROM jobs WHERE region_id = ",
        );
        q.push_bind(region.as_str().to_owned());
        if let Some(status) = status {
            q.push(" AND status = ").push_bind(job_status_str(status));
        }
        if let Some(after) = after {
            let key = DateTime::parse_from_rfc3339(&after.key)
                .map_err(|_| StoreError::InvalidCursor)?
                .with_timezone(&Utc);
            q.push(" AND (window_start_utc, id) > (")
                .push_bind(key)
                .push(", ")
                .push_bind(cursor_id(&after.id)?)
                .push(")");
        }
        q.push(" ORDER BY window_start_utc, id LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = q.build().fetch_all(&self.pool).await.map_err(pg_error)?;
        page_of(
            rows,
            limit,
            CursorKind::Jobs,
            |row| Ok(ts(&col::<DateTime<Utc>>(row, "window_start_utc")?)),
            job_from_row,
        )
    }

    pub(crate) async fn cancel_job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        retry("cancel_job", || async {
            let mut tx = self.begin().await?;
            let result = cancel_job_tx(&mut tx, id).await;
            finish(tx, result).await
        })
        .await
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
        let decision = doc_param(decision, "decision")?;
        let events = encode_events(events)?;
        retry("create_assignment", || async {
            let mut tx = self.begin().await?;
            let result = async {
                if let Some(row) = &audit_row {
                    insert_audit(&mut tx, row).await?;
                }
                create_assignment_tx(&mut tx, assignment, &decision, &events).await
            }
            .await;
            match finish(tx, result).await {
                // Another writer booked an overlapping slot between our check and our insert
                // (it did not take our locks). Name it, in a fresh query now that the
                // transaction is gone. Found nothing? It ended meanwhile: the error goes back
                // to `retry`, which runs the whole transaction again.
                Err(StoreError::Database(e)) if is_overlap_violation(&e) => {
                    match overlapping(&self.pool, assignment).await? {
                        Some(conflicting) => {
                            Err(AssignmentConflict::ContractorBusy { conflicting }.into())
                        }
                        None => Err(StoreError::Database(e)),
                    }
                }
                other => other,
            }
        })
        .await
    }

    pub(crate) async fn assignment(
        &self,
        id: AssignmentId,
    ) -> Result<Option<Assignment>, StoreError> {
        let row = sqlx::query(
            "SELECT id, job_id, contractor_id, audit_id, start_utc, end_utc, source \
             FROM assignments WHERE id = $1 AND status = 'live'",
        )
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(pg_error)?;
        row.as_ref().map(assignment_from_row).transpose()
    }

    pub(crate) async fn job_assignment(
        &self,
        job: JobId,
    ) -> Result<Option<Assignment>, StoreError> {
        let row = sqlx::query(
            "SELECT id, job_id, contractor_id, audit_id, start_utc, end_utc, source \
             FROM assignments WHERE job_id = $1 AND status = 'live'",
        )
        .bind(job.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(pg_error)?;
        row.as_ref().map(assignment_from_row).transpose()
    }

    pub(crate) async fn delete_assignment(
        &self,
        id: AssignmentId,
        events: &[NewOutboxEvent],
    ) -> Result<Option<Assignment>, StoreError> {
        let events = encode_events(events)?;
        retry("delete_assignment", || async {
            let mut tx = self.begin().await?;
            let result = delete_assignment_tx(&mut tx, id, &events).await;
            finish(tx, result).await
        })
        .await
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
             WHERE contractor_id = $1 AND status = 'live' AND start_utc < $2 AND end_utc > $3 \
             ORDER BY start_utc, id",
        )
        .bind(id.as_uuid())
        .bind(to)
        .bind(from)
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
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
             WHERE c.region_id = $1 AND a.status = 'live' AND a.start_utc < $2 AND a.end_utc > $3 \
             ORDER BY a.contractor_id, a.start_utc, a.id",
        )
        .bind(region.as_str())
        .bind(to)
        .bind(from)
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                Ok(Booking {
                    assignment_id: AssignmentId::from_uuid(col(row, "id")?),
                    job_id: JobId::from_uuid(col(row, "job_id")?),
                    contractor_id: ContractorId::from_uuid(col(row, "contractor_id")?),
                    start_utc: col(row, "start_utc")?,
                    end_utc: col(row, "end_utc")?,
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
        let body = doc_param(rec, "recommendation")?;
        retry("create_recommendation", || async {
            sqlx::query(
                "INSERT INTO recommendations \
                 (request_id, job_id, region_id, status, error, requested_at, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(rec.request_id.as_uuid())
            .bind(rec.job_id.as_uuid())
            .bind(rec.region.as_str())
            .bind(rec.status.as_str())
            .bind(rec.error.as_deref())
            .bind(rec.requested_at)
            .bind(&body)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| recommendation_insert_error(e, rec))
        })
        .await
    }

    pub(crate) async fn recommendation(
        &self,
        request_id: RequestId,
    ) -> Result<Option<RecommendationRecord>, StoreError> {
        let row =
            sqlx::query("SELECT status, error, body FROM recommendations WHERE request_id = $1")
                .bind(request_id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(pg_error)?;
        row.as_ref().map(recommendation_from_row).transpose()
    }

    pub(crate) async fn pending_recommendations(
        &self,
        limit: u32,
    ) -> Result<Vec<RequestId>, StoreError> {
        let rows = sqlx::query(
            "SELECT request_id FROM recommendations WHERE status = 'pending' \
             ORDER BY requested_at, request_id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                let id: Uuid = row.try_get("request_id").map_err(pg_error)?;
                Ok(RequestId(id))
            })
            .collect()
    }

    pub(crate) async fn complete_recommendation(
        &self,
        rec: &RecommendationRecord,
        audit: &AuditRecord,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        let rec_body = doc_param(rec, "recommendation")?;
        let audit_row = AuditRow::encode(audit)?;
        let events = encode_events(events)?;
        retry("complete_recommendation", || async {
            let mut tx = self.begin().await?;
            let result = async {
                // An upsert: normally the pending row exists, but a lost pending row must not
                // lose the finished result.
                sqlx::query(
                    "INSERT INTO recommendations \
                     (request_id, job_id, region_id, status, error, requested_at, body) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (request_id) DO UPDATE SET status = excluded.status, \
                     error = excluded.error, updated_at = now(), body = excluded.body",
                )
                .bind(rec.request_id.as_uuid())
                .bind(rec.job_id.as_uuid())
                .bind(rec.region.as_str())
                .bind(rec.status.as_str())
                .bind(rec.error.as_deref())
                .bind(rec.requested_at)
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
        })
        .await
    }

    pub(crate) async fn fail_recommendation(
        &self,
        request_id: RequestId,
        error: &str,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        let events = encode_events(events)?;
        retry("fail_recommendation", || async {
            let mut tx = self.begin().await?;
            let result = async {
                let updated = sqlx::query(
                    "UPDATE recommendations SET status = 'failed', error = $1, updated_at = now() \
                     WHERE request_id = $2",
                )
                .bind(error)
                .bind(request_id.as_uuid())
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
        })
        .await
    }

    pub(crate) async fn create_audit(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        let row = AuditRow::encode(audit)?;
        retry("create_audit", || async {
            let mut conn = self.pool.acquire().await?;
            insert_audit(&mut conn, &row).await
        })
        .await
    }

    pub(crate) async fn audit(&self, id: AuditId) -> Result<Option<AuditRecord>, StoreError> {
        let row = sqlx::query("SELECT body, decision FROM audits WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut audit: AuditRecord = doc(&row, "body", "audits.body")?;
        audit.decision = row
            .try_get::<Option<Json<Decision>>, _>("decision")
            .map(|d| d.map(|Json(d)| d))
            .map_err(|e| {
                StoreError::Corrupt(format!(
                    "audits.decision: stored JSON does not decode ({e})"
                ))
            })?;
        Ok(Some(audit))
    }

    // ----- scoring configuration -----

    pub(crate) async fn current_config(&self) -> Result<ScoringConfig, StoreError> {
        let row =
            sqlx::query("SELECT version, body FROM scoring_configs ORDER BY version DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(pg_error)?;
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
        let row = sqlx::query("SELECT version, body FROM scoring_configs WHERE version = $1")
            .bind(i64::from(version))
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        row.as_ref().map(config_from_row).transpose()
    }

    pub(crate) async fn replace_config(
        &self,
        expected: u32,
        new: &NewScoringConfig,
    ) -> Result<ScoringConfig, StoreError> {
        let next = expected.checked_add(1).ok_or_else(|| {
            StoreError::Conflict("the scoring configuration version cannot grow further".into())
        })?;
        let config = new.into_config(next);
        let body = doc_param(&config, "scoring configuration")?;
        retry("replace_config", || async {
            let mut tx = self.begin().await?;
            let result = async {
                let current = current_version(&mut tx).await?;
                if current != expected {
                    return Err(StoreError::StaleVersion { current });
                }
                // Two writers that both read `expected` both try `expected + 1`: the primary key
                // lets one in; the other waits for it to commit, then fails with 23505.
                sqlx::query("INSERT INTO scoring_configs (version, body) VALUES ($1, $2)")
                    .bind(i64::from(next))
                    .bind(&body)
                    .execute(&mut *tx)
                    .await?;
                Ok(config)
            }
            .await;
            match finish(tx, result).await {
                Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                    let mut conn = self.pool.acquire().await?;
                    Err(StoreError::StaleVersion {
                        current: current_version(&mut conn).await?,
                    })
                }
                other => other,
            }
        })
        .await
    }

    // ----- idempotency keys -----

    pub(crate) async fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<IdempotencyBegin, StoreError> {
        retry("idempotency_begin", || async {
            let mut tx = self.begin().await?;
            let result = idempotency_begin_tx(&mut tx, scope, key, request_hash).await;
            finish(tx, result).await
        })
        .await
    }

    pub(crate) async fn idempotency_finish(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        retry("idempotency_finish", || async {
            sqlx::query(
                "UPDATE idempotency_keys SET state = 'done', status = $1, body = $2, \
                 updated_at = now() WHERE scope = $3 AND idem_key = $4",
            )
            .bind(i32::from(status))
            .bind(body)
            .bind(scope)
            .bind(key)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn idempotency_abandon(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        retry("idempotency_abandon", || async {
            // Only an unfinished claim: a finished answer stays replayable.
            sqlx::query(
                "DELETE FROM idempotency_keys \
                 WHERE scope = $1 AND idem_key = $2 AND state = 'in_progress'",
            )
            .bind(scope)
            .bind(key)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    // ----- outbox -----

    pub(crate) async fn pending_events(&self, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT sequence, channels, target, payload, created_at FROM outbox \
             WHERE sent_at IS NULL ORDER BY sequence LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter().map(outbox_event_from_row).collect()
    }

    pub(crate) async fn events_after(
        &self,
        after: i64,
        limit: u32,
        sent_only: bool,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        // A range scan of the primary key from `after`, stopping after `limit` rows (with
        // `sent_only`, unsent rows are skipped on the way; they are at most the relay's
        // backlog). Two fixed statements rather than one with an `OR`, so each has its plan.
        let sql = if sent_only {
            "SELECT sequence, channels, target, payload, created_at FROM outbox \
             WHERE sequence > $1 AND sent_at IS NOT NULL ORDER BY sequence LIMIT $2"
        } else {
            "SELECT sequence, channels, target, payload, created_at FROM outbox \
             WHERE sequence > $1 ORDER BY sequence LIMIT $2"
        };
        let rows = sqlx::query(sql)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        rows.iter().map(outbox_event_from_row).collect()
    }

    pub(crate) async fn last_sent_sequence(&self) -> Result<i64, StoreError> {
        // The primary key read backwards from the newest row, past the unsent tail.
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT sequence FROM outbox WHERE sent_at IS NOT NULL ORDER BY sequence DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(pg_error)?;
        Ok(last.unwrap_or(0))
    }

    pub(crate) async fn deployment_id(&self) -> Result<String, StoreError> {
        sqlx::query_scalar("SELECT id FROM deployment")
            .fetch_one(&self.pool)
            .await
            .map_err(pg_error)
    }

    pub(crate) async fn prune_sent_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        // The newest sent event stays: it is what `last_sent_sequence` answers.
        sqlx::query(
            "DELETE FROM outbox WHERE sent_at < $1 AND sequence < \
             (SELECT max(sequence) FROM outbox WHERE sent_at IS NOT NULL)",
        )
        .bind(before)
        .execute(&self.pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(pg_error)
    }

    pub(crate) async fn try_relay_lease(&self) -> Result<Option<PgLease>, StoreError> {
        PgLease::try_acquire(&self.pool.connect_options()).await
    }

    pub(crate) async fn mark_events_sent(&self, sequences: &[i64]) -> Result<(), StoreError> {
        if sequences.is_empty() {
            return Ok(());
        }
        retry("mark_events_sent", || async {
            sqlx::query(
                "UPDATE outbox SET sent_at = now() WHERE sequence = ANY($1) AND sent_at IS NULL",
            )
            .bind(sequences)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }
}

// ----- transaction bodies -----

/// Inserts `ScoringConfig::default()` as version 1 unless version 1 exists.
async fn seed_default_config(conn: &mut PgConnection) -> Result<(), StoreError> {
    let config = ScoringConfig::default();
    let body = doc_param(&config, "default scoring configuration")?;
    sqlx::query(
        "INSERT INTO scoring_configs (version, body) VALUES ($1, $2) \
         ON CONFLICT (version) DO NOTHING",
    )
    .bind(i64::from(config.version))
    .bind(&body)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The highest stored configuration version (0 if there is none).
async fn current_version(conn: &mut PgConnection) -> Result<u32, StoreError> {
    let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM scoring_configs")
        .fetch_one(&mut *conn)
        .await?;
    to_u32(current, "scoring_configs.version")
}

/// A cursor's id as a uuid (the cursor decoder already checked it is one).
fn cursor_id(id: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(id).map_err(|_| StoreError::InvalidCursor)
}

async fn add_time_off_tx(
    conn: &mut PgConnection,
    id: ContractorId,
    time_off: &TimeOff,
) -> Result<Option<Contractor>, StoreError> {
    // Read-modify-write of the document under the row's lock.
    let row = sqlx::query("SELECT body FROM contractors WHERE id = $1 FOR NO KEY UPDATE")
        .bind(id.as_uuid())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut contractor = contractor_from_row(&row)?;
    contractor.time_off.push(time_off.clone());
    sqlx::query("UPDATE contractors SET body = $1, updated_at = now() WHERE id = $2")
        .bind(doc_param(&contractor, "contractor")?)
        .bind(id.as_uuid())
        .execute(&mut *conn)
        .await?;
    Ok(Some(contractor))
}

async fn cancel_job_tx(conn: &mut PgConnection, id: JobId) -> Result<Option<Job>, StoreError> {
    // The job's lock first (the lock order of the module docs): a concurrent assignment of this
    // job waits, then sees it cancelled.
    let row = sqlx::query("SELECT status, body FROM jobs WHERE id = $1 FOR NO KEY UPDATE")
        .bind(id.as_uuid())
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
    // Ends the live assignment, if any: it must stop blocking the contractor's calendar.
    sqlx::query(
        "UPDATE assignments SET status = 'cancelled', ended_at = now() \
         WHERE job_id = $1 AND status = 'live'",
    )
    .bind(id.as_uuid())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE jobs SET status = 'cancelled', updated_at = now() WHERE id = $1")
        .bind(id.as_uuid())
        .execute(&mut *conn)
        .await?;
    job.status = JobStatus::Cancelled;
    Ok(Some(job))
}

/// The first live assignment of `a`'s contractor overlapping `a`'s slot, if any.
async fn overlapping<'e, E>(conn: E, a: &Assignment) -> Result<Option<AssignmentId>, StoreError>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    // A and B overlap iff A.start < B.end && B.start < A.end; touching slots do not.
    let id: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM assignments \
         WHERE contractor_id = $1 AND status = 'live' AND start_utc < $2 AND end_utc > $3 \
         ORDER BY start_utc, id LIMIT 1",
    )
    .bind(a.contractor_id.as_uuid())
    .bind(a.end_utc)
    .bind(a.start_utc)
    .fetch_optional(conn)
    .await?;
    Ok(id.map(AssignmentId::from_uuid))
}

async fn create_assignment_tx(
    conn: &mut PgConnection,
    a: &Assignment,
    decision: &DocParam,
    events: &[EncodedEvent],
) -> Result<(), StoreError> {
    let job_id = a.job_id.as_uuid();
    let contractor_id = a.contractor_id.as_uuid();

    // 1. The job exists and is open (status `assigned` ⇔ it has a live assignment). Its row
    //    lock queues concurrent assignments of the job; each reads the committed status after
    //    the previous one is done.
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM jobs WHERE id = $1 FOR NO KEY UPDATE")
            .bind(job_id)
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

    // 2. The contractor exists; its row lock queues concurrent bookings of the contractor, so
    //    the overlap check below sees every committed booking and none is in flight.
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM contractors WHERE id = $1 FOR NO KEY UPDATE")
            .bind(contractor_id)
            .fetch_optional(&mut *conn)
            .await?;
    if exists.is_none() {
        return Err(AssignmentConflict::ContractorNotFound.into());
    }

    // 3. No live assignment of the contractor overlaps [start, end). The friendly check; the
    //    exclusion constraint is the guarantee.
    if let Some(conflicting) = overlapping(&mut *conn, a).await? {
        return Err(AssignmentConflict::ContractorBusy { conflicting }.into());
    }

    // 4. The audit record the decision goes on exists.
    let audit_exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM audits WHERE id = $1")
        .bind(a.audit_id.as_uuid())
        .fetch_optional(&mut *conn)
        .await?;
    if audit_exists.is_none() {
        return Err(AssignmentConflict::AuditNotFound.into());
    }

    // 5. Write: the assignment (the exclusion constraint and the partial unique index are the
    //    backstops), the job's status, the decision, the events.
    sqlx::query(
        "INSERT INTO assignments \
         (id, job_id, contractor_id, audit_id, start_utc, end_utc, source, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'live')",
    )
    .bind(a.id.as_uuid())
    .bind(job_id)
    .bind(contractor_id)
    .bind(a.audit_id.as_uuid())
    .bind(a.start_utc)
    .bind(a.end_utc)
    .bind(source_str(a.source))
    .execute(&mut *conn)
    .await
    .map_err(|e| match constraint(&e) {
        Some("assignments_one_live_per_job") => AssignmentConflict::JobAlreadyAssigned.into(),
        Some("assignments_pkey") => {
            StoreError::Conflict(format!("assignment {} already exists", a.id))
        }
        Some("assignments_job_fkey") => AssignmentConflict::JobNotFound.into(),
        Some("assignments_contractor_fkey") => AssignmentConflict::ContractorNotFound.into(),
        Some("assignments_audit_fkey") => AssignmentConflict::AuditNotFound.into(),
        // `assignments_no_overlap` is resolved by the caller after the rollback.
        _ => e.into(),
    })?;
    let updated = sqlx::query(
        "UPDATE jobs SET status = 'assigned', updated_at = now() WHERE id = $1 AND status = 'open'",
    )
    .bind(job_id)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() != 1 {
        // Cannot happen under the job's lock (checked in step 1); refuse rather than commit a
        // half-done assignment if it ever does.
        return Err(AssignmentConflict::JobAlreadyAssigned.into());
    }
    sqlx::query("UPDATE audits SET decision = $1 WHERE id = $2")
        .bind(decision)
        .bind(a.audit_id.as_uuid())
        .execute(&mut *conn)
        .await?;
    insert_events(conn, events).await
}

async fn delete_assignment_tx(
    conn: &mut PgConnection,
    id: AssignmentId,
    events: &[EncodedEvent],
) -> Result<Option<Assignment>, StoreError> {
    // Which job, without a lock: the job's lock comes first (the lock order of the module docs).
    let job_id: Option<Uuid> =
        sqlx::query_scalar("SELECT job_id FROM assignments WHERE id = $1 AND status = 'live'")
            .bind(id.as_uuid())
            .fetch_optional(&mut *conn)
            .await?;
    let Some(job_id) = job_id else {
        return Ok(None);
    };
    sqlx::query("SELECT 1 FROM jobs WHERE id = $1 FOR NO KEY UPDATE")
        .bind(job_id)
        .execute(&mut *conn)
        .await?;
    // Still live? (Another transaction may have ended it before we got the lock.)
    let row = sqlx::query(
        "UPDATE assignments SET status = 'unassigned', ended_at = now() \
         WHERE id = $1 AND status = 'live' \
         RETURNING id, job_id, contractor_id, audit_id, start_utc, end_utc, source",
    )
    .bind(id.as_uuid())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let assignment = assignment_from_row(&row)?;
    sqlx::query(
        "UPDATE jobs SET status = 'open', updated_at = now() WHERE id = $1 AND status = 'assigned'",
    )
    .bind(job_id)
    .execute(&mut *conn)
    .await?;
    insert_events(conn, events).await?;
    Ok(Some(assignment))
}

/// How many times `idempotency_begin` looks again when the key's row vanishes between its
/// insert attempt and its read (a concurrent claim, then abandon).
const IDEMPOTENCY_LOOKS: u32 = 8;

async fn idempotency_begin_tx(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    request_hash: &str,
) -> Result<IdempotencyBegin, StoreError> {
    let timeout_secs = crate::IDEMPOTENCY_IN_PROGRESS_TIMEOUT.as_secs_f64();
    for _ in 0..IDEMPOTENCY_LOOKS {
        // Claim a fresh key. A concurrent claim of the same key makes this wait for it to
        // commit, then do nothing.
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (scope, idem_key, request_hash, state) \
             VALUES ($1, $2, $3, 'in_progress') ON CONFLICT (scope, idem_key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(IdempotencyBegin::Started);
        }
        // Someone has it: read it under its lock, so a take-over below is decided once.
        let row = sqlx::query(
            "SELECT request_hash, state, status, body, \
             updated_at < now() - make_interval(secs => $3) AS orphaned \
             FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 FOR UPDATE",
        )
        .bind(scope)
        .bind(key)
        .bind(timeout_secs)
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            // Abandoned between the two statements: try to claim it again.
            continue;
        };
        let stored_hash: String = col(&row, "request_hash")?;
        if stored_hash != request_hash {
            return Ok(IdempotencyBegin::Mismatch);
        }
        let state: String = col(&row, "state")?;
        return match state.as_str() {
            "done" => {
                let status: Option<i32> = col(&row, "status")?;
                let status = status.and_then(|s| u16::try_from(s).ok()).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "idempotency_keys ({scope}, {key}): done without a valid status"
                    ))
                })?;
                let body: Option<Vec<u8>> = col(&row, "body")?;
                Ok(IdempotencyBegin::Replay {
                    status,
                    body: body.unwrap_or_default(),
                })
            }
            "in_progress" => {
                if !col::<bool>(&row, "orphaned")? {
                    return Ok(IdempotencyBegin::InProgress);
                }
                // The first attempt's process is presumed dead: take the claim over.
                sqlx::query(
                    "UPDATE idempotency_keys SET updated_at = now() \
                     WHERE scope = $1 AND idem_key = $2",
                )
                .bind(scope)
                .bind(key)
                .execute(&mut *conn)
                .await?;
                Ok(IdempotencyBegin::Started)
            }
            other => Err(StoreError::Corrupt(format!(
                "idempotency_keys.state: unknown state {other:?}"
            ))),
        };
    }
    Err(StoreError::Conflict(format!(
        "idempotency key ({scope}, {key}) keeps being claimed and abandoned concurrently; retry"
    )))
}

// ----- shared write helpers -----

/// An outbox event with its payload already encoded, so encoding errors surface before the
/// transaction starts.
struct EncodedEvent {
    channels: Vec<String>,
    target: String,
    payload: DocParam,
}

fn encode_events(events: &[NewOutboxEvent]) -> Result<Vec<EncodedEvent>, StoreError> {
    events
        .iter()
        .map(|e| {
            Ok(EncodedEvent {
                channels: e.channels.clone(),
                target: e.target.clone(),
                payload: doc_param(&e.payload, "event payload")?,
            })
        })
        .collect()
}

/// Appends `events`: the last step of every transaction that has any, under [`OUTBOX_LOCK`]
/// so that sequence order is commit order (see the module docs).
async fn insert_events(conn: &mut PgConnection, events: &[EncodedEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(OUTBOX_LOCK)
        .execute(&mut *conn)
        .await?;
    for e in events {
        sqlx::query("INSERT INTO outbox (channels, target, payload) VALUES ($1, $2, $3)")
            .bind(&e.channels)
            .bind(&e.target)
            .bind(&e.payload)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// An audit record split into its columns.
struct AuditRow {
    id: Uuid,
    request_id: Option<Uuid>,
    region: String,
    job_id: Uuid,
    config_version: i64,
    created_at: DateTime<Utc>,
    body: DocParam,
    decision: Option<DocParam>,
}

impl AuditRow {
    fn encode(audit: &AuditRecord) -> Result<Self, StoreError> {
        Ok(Self {
            id: audit.audit_id.as_uuid(),
            request_id: audit.request_id.map(|r| r.as_uuid()),
            region: audit.region.as_str().to_owned(),
            job_id: audit.job.id.as_uuid(),
            config_version: i64::from(audit.config_version),
            created_at: audit.created_at,
            body: doc_param(audit, "audit record")?,
            decision: audit
                .decision
                .as_ref()
                .map(|d| doc_param(d, "decision"))
                .transpose()?,
        })
    }
}

async fn insert_audit(conn: &mut PgConnection, row: &AuditRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audits \
         (id, request_id, region_id, job_id, config_version, created_at, body, decision) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(row.id)
    .bind(row.request_id)
    .bind(&row.region)
    .bind(row.job_id)
    .bind(row.config_version)
    .bind(row.created_at)
    .bind(&row.body)
    .bind(row.decision.as_ref())
    .execute(&mut *conn)
    .await
    .map(|_| ())
    .map_err(|e| audit_insert_error(e, row.id, row.job_id, &row.region))
}

// ----- row mapping -----

fn region_from_row(row: &PgRow) -> Result<Region, StoreError> {
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

fn contractor_from_row(row: &PgRow) -> Result<Contractor, StoreError> {
    doc(row, "body", "contractors.body")
}

fn job_from_row(row: &PgRow) -> Result<Job, StoreError> {
    let mut job: Job = doc(row, "body", "jobs.body")?;
    // The column is the truth for the one mutable field.
    job.status = parse_job_status(&col::<String>(row, "status")?)?;
    Ok(job)
}

fn assignment_from_row(row: &PgRow) -> Result<Assignment, StoreError> {
    Ok(Assignment {
        id: AssignmentId::from_uuid(col(row, "id")?),
        job_id: JobId::from_uuid(col(row, "job_id")?),
        contractor_id: ContractorId::from_uuid(col(row, "contractor_id")?),
        start_utc: col(row, "start_utc")?,
        end_utc: col(row, "end_utc")?,
        source: parse_source(&col::<String>(row, "source")?)?,
        audit_id: AuditId::from_uuid(col(row, "audit_id")?),
    })
}

fn outbox_event_from_row(row: &PgRow) -> Result<OutboxEvent, StoreError> {
    Ok(OutboxEvent {
        sequence: col(row, "sequence")?,
        channels: col(row, "channels")?,
        target: col(row, "target")?,
        payload: doc(row, "payload", "outbox.payload")?,
        created_at: col(row, "created_at")?,
    })
}

fn recommendation_from_row(row: &PgRow) -> Result<RecommendationRecord, StoreError> {
    let mut rec: RecommendationRecord = doc(row, "body", "recommendations.body")?;
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

fn config_from_row(row: &PgRow) -> Result<ScoringConfig, StoreError> {
    let mut config: ScoringConfig = doc(row, "body", "scoring_configs.body")?;
    config.version = to_u32(col(row, "version")?, "scoring_configs.version")?;
    Ok(config)
}

/// Builds a page from `limit + 1` rows: the extra row only says there is a next page, whose
/// cursor is the last returned row's (`key`, id).
fn page_of<T>(
    rows: Vec<PgRow>,
    limit: u32,
    kind: CursorKind,
    key: fn(&PgRow) -> Result<String, StoreError>,
    decode: fn(&PgRow) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let limit = limit as usize;
    let has_more = rows.len() > limit;
    let rows = &rows[..rows.len().min(limit)];
    let next_cursor = match rows.last() {
        Some(last) if has_more => Some(
            Cursor {
                key: key(last)?,
                id: col::<Uuid>(last, "id")?.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        for retry in 1..=20 {
            let pause = backoff(retry);
            let full = BACKOFF_BASE
                .saturating_mul(1 << (retry - 1).min(16))
                .min(BACKOFF_CAP);
            assert!(pause <= full, "{retry}: {pause:?} > {full:?}");
            assert!(pause >= full / 2, "{retry}: {pause:?} < half of {full:?}");
        }
        assert!(backoff(20) <= BACKOFF_CAP);
        // Jittered: not every pause of the same retry is the same.
        let pauses: std::collections::HashSet<Duration> = (0..50).map(|_| backoff(4)).collect();
        assert!(pauses.len() > 1);
    }

    #[test]
    fn retry_gives_up_with_a_retryable_error() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        let mut calls = 0;
        let result: Result<(), StoreError> = rt.block_on(retry("test", || {
            calls += 1;
            async { Err(StoreError::Database(fake_db_error("40001"))) }
        }));
        assert_eq!(calls, MAX_ATTEMPTS);
        match result {
            Err(e @ StoreError::Contention { attempts, .. }) => {
                assert_eq!(attempts, MAX_ATTEMPTS);
                assert!(e.is_retryable());
            }
            other => panic!("expected Contention, got {other:?}"),
        }

        // A deadlock once, then success.
        let mut calls = 0;
        let result = rt.block_on(retry("test", || {
            calls += 1;
            let first = calls == 1;
            async move {
                if first {
                    Err(StoreError::Database(fake_db_error("40P01")))
                } else {
                    Ok(7)
                }
            }
        }));
        assert_eq!((calls, result.ok()), (2, Some(7)));

        // Anything else is returned at once; NUL characters are the input's fault.
        let mut calls = 0;
        let result: Result<(), StoreError> = rt.block_on(retry("test", || {
            calls += 1;
            async { Err(StoreError::Database(fake_db_error("22021"))) }
        }));
        assert_eq!(calls, 1);
        assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
    }

    /// A database error with just a SQLSTATE, as the driver would report it.
    fn fake_db_error(code: &'static str) -> sqlx::Error {
        #[derive(Debug)]
        struct Fake(&'static str);
        impl std::fmt::Display for Fake {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "fake error {}", self.0)
            }
        }
        impl std::error::Error for Fake {}
        impl sqlx::error::DatabaseError for Fake {
            fn message(&self) -> &str {
                "fake"
            }
            fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
                Some(self.0.into())
            }
            fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
                self
            }
            fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
                self
            }
            fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
                self
            }
            fn kind(&self) -> sqlx::error::ErrorKind {
                sqlx::error::ErrorKind::Other
            }
        }
        sqlx::Error::Database(Box::new(Fake(code)))
    }
}
