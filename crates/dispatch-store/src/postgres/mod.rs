//! The PostgreSQL backend: the production store, shared by every node of the service.
//!
//! # Connections
//!
//! One pool of [`POOL_SIZE`] connections. `connect` first opens a single connection of its own
//! (so a wrong host, password or database name is reported with its real cause, not as a pool
//! timeout), runs the embedded migrations on it under sqlx's advisory lock, and only then builds
//! the pool.
//!
//! # Transactions and the invariants
//!
//! Every write is one transaction at `READ COMMITTED` (set explicitly, whatever the server's
//! default), or a single statement. Decisions that read before they write lock the rows they
//! depend on (the `FOR NO KEY UPDATE` clauses in the rules' SQL), always in the same order —
//! **job, then contractor, then assignment rows, then the outbox lock** — so two of our
//! transactions never wait for each other in a cycle:
//!
//! * `create_assignment` locks the job row, so concurrent assignments of one job queue and each
//!   sees the previous one's result; then the contractor row, so concurrent bookings of one
//!   contractor queue the same way and the overlap query gives the friendly
//!   `ContractorBusy { conflicting }`. Without that lock, two overlapping inserts would each
//!   wait on the other inside the exclusion constraint: a deadlock PostgreSQL breaks only after
//!   `deadlock_timeout` (1 s).
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
//! that appends events therefore takes the transaction-scoped advisory lock of each shard it
//! writes to (`(OUTBOX_LOCK_CLASS, shard)`, see `ops/outbox.rs`, in shard order) right before
//! inserting them, as its last step. The next appender of that shard gets its sequences only
//! after the previous one has committed (and is visible), so sequence order is commit order
//! within a shard, hence on every channel (a channel's events are all of one region, so of one
//! shard). Across shards it is not, and need not be: each shard is relayed and delivered on its
//! own. The cost: event-producing commits of one shard are serialized for the length of their
//! final insert and commit, WAL flush included; commits of different shards run in parallel
//! (`benches/assignments.rs` measures both).
//!
//! Followers read the outbox by shard and sequence (`events_after`, `last_sent_sequence`):
//! range scans of the `(shard, sequence)` index, forwards and backwards.
//!
//! # Relay leases
//!
//! `lease.rs`: each node holds a session of its own, outside the pool, with a session-level
//! advisory lock for its membership and one per shard it relays, so the server frees them all
//! when that session ends (dropped lease, killed process, terminated session, vanished host
//! after the keepalives).
//!
//! # Values
//!
//! Ids are `uuid`, instants `timestamptz`, documents `jsonb`, lists arrays (`text[]`, and the
//! column arrays of bulk statements). `timestamptz` has microsecond resolution: finer digits of
//! the *key columns* (assignment start and end, job windows) are dropped on write (documents
//! keep them). PostgreSQL cannot store the NUL character in text or jsonb; such input is
//! `StoreError::Invalid`.

mod lease;

pub(crate) use lease::PgLease;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Arguments as _, AssertSqlSafe, Connection as _, Postgres, Row as _};
use uuid::Uuid;

use crate::db::{
    Arg, AssignmentViolation, Attempt, Backend, Columns, Plain, Row, Transaction, add_plain, col,
    column_name,
};
use crate::error::{StoreError, is_overlap_violation};
use crate::sql::{Batch, Sql};

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
/// How the store's transactions begin.
const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// The PostgreSQL backend: one connection pool (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct PgDb {
    pool: PgPool,
}

/// A write transaction at `READ COMMITTED`.
#[derive(Debug)]
pub(crate) struct PgTx {
    tx: sqlx::Transaction<'static, Postgres>,
}

impl PgDb {
    /// Connects and migrates. `url` has already been checked to be `postgres(ql)://`.
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
        let mut conn = open_session(
            &options,
            &format!("cannot connect to PostgreSQL at {describe}"),
        )
        .await?;
        crate::migrations::postgres().run(&mut conn).await?;
        // Closing politely is a courtesy; the migrations are committed either way.
        let _ = conn.close().await;

        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok(Self { pool })
    }

    /// Opens this node's relay session (see `lease.rs`).
    pub(crate) async fn relay_lease(&self) -> Result<PgLease, StoreError> {
        PgLease::open(&self.pool.connect_options()).await
    }
}

/// A connection of its own (not the pool's), given [`CONNECT_TIMEOUT`]; a failure is
/// `Unavailable`, `failed` saying what could not be done.
async fn open_session(
    options: &PgConnectOptions,
    failed: &str,
) -> Result<PgConnection, StoreError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(StoreError::Unavailable(format!("{failed}: {e}"))),
        Err(_) => Err(StoreError::Unavailable(format!(
            "{failed}: no answer within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// PostgreSQL's query for `sql` with `args`.
fn query<'s>(
    sql: &'s Sql,
    args: &[Arg<'_>],
) -> Result<sqlx::query::Query<'s, Postgres, PgArguments>, sqlx::Error> {
    let mut out = PgArguments::default();
    for arg in args {
        let added = match *arg {
            Arg::Plain(v) => add_plain(&mut out, v),
            Arg::Id(v) => out.add(v),
            Arg::OptId(v) => out.add(v),
            Arg::Time(v) => out.add(v),
            Arg::Json(v) => out.add(Json(v)),
            Arg::OptJson(v) => out.add(v.map(Json)),
            Arg::Texts(v) => out.add(&v.items),
            Arg::Ago(d) => out.add(d.as_secs_f64()),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(sqlx::query_with(AssertSqlSafe(sql.postgres()), out))
}

/// One argument position of a batch: every row's value there, as the array PostgreSQL binds.
#[derive(Debug)]
enum Column<'a> {
    Ids(Vec<Uuid>),
    Texts(Vec<&'a str>),
    Bools(Vec<bool>),
    Ints(Vec<i64>),
    Reals(Vec<f64>),
    Times(Vec<DateTime<Utc>>),
    Jsons(Vec<Json<&'a RawValue>>),
}

impl<'a> Column<'a> {
    /// An empty column for values like `first`.
    fn like(first: &Arg<'_>, rows: usize) -> Option<Self> {
        Some(match first {
            Arg::Id(_) => Column::Ids(Vec::with_capacity(rows)),
            Arg::Plain(Plain::Text(_)) => Column::Texts(Vec::with_capacity(rows)),
            Arg::Plain(Plain::Bool(_)) => Column::Bools(Vec::with_capacity(rows)),
            Arg::Plain(Plain::Int(_)) => Column::Ints(Vec::with_capacity(rows)),
            Arg::Plain(Plain::Real(_)) => Column::Reals(Vec::with_capacity(rows)),
            Arg::Time(_) => Column::Times(Vec::with_capacity(rows)),
            Arg::Json(_) => Column::Jsons(Vec::with_capacity(rows)),
            _ => return None,
        })
    }

    /// Appends `arg`; `false` when it is not of this column's kind.
    fn push(&mut self, arg: &Arg<'a>) -> bool {
        match (self, *arg) {
            (Column::Ids(c), Arg::Id(v)) => c.push(v),
            (Column::Texts(c), Arg::Plain(Plain::Text(v))) => c.push(v),
            (Column::Bools(c), Arg::Plain(Plain::Bool(v))) => c.push(v),
            (Column::Ints(c), Arg::Plain(Plain::Int(v))) => c.push(v),
            (Column::Reals(c), Arg::Plain(Plain::Real(v))) => c.push(v),
            (Column::Times(c), Arg::Time(v)) => c.push(v),
            (Column::Jsons(c), Arg::Json(v)) => c.push(Json(v)),
            _ => return false,
        }
        true
    }

    fn add_to(&self, args: &mut PgArguments) -> Result<(), sqlx::error::BoxDynError> {
        match self {
            Column::Ids(c) => args.add(c),
            Column::Texts(c) => args.add(c),
            Column::Bools(c) => args.add(c),
            Column::Ints(c) => args.add(c),
            Column::Reals(c) => args.add(c),
            Column::Times(c) => args.add(c),
            Column::Jsons(c) => args.add(c),
        }
    }
}

/// The rows' arguments, column by column.
fn columns<'a>(rows: &[Vec<Arg<'a>>]) -> Result<Vec<Column<'a>>, sqlx::Error> {
    let mixed = |n: usize| {
        sqlx::Error::Encode(
            format!("argument {n} of a batch has no array type or mixes kinds").into(),
        )
    };
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    first
        .iter()
        .enumerate()
        .map(|(n, arg)| {
            let mut column = Column::like(arg, rows.len()).ok_or_else(|| mixed(n + 1))?;
            for row in rows {
                if !row.get(n).is_some_and(|arg| column.push(arg)) {
                    return Err(mixed(n + 1));
                }
            }
            Ok(column)
        })
        .collect()
}

impl Backend for PgDb {
    type Tx = PgTx;

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn fetch_optional(
        &self,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> Result<Option<Row>, sqlx::Error> {
        let row = query(sql, args)?.fetch_optional(&self.pool).await?;
        Ok(row.map(Row::Postgres))
    }

    async fn fetch_all(&self, sql: &Sql, args: &[Arg<'_>]) -> Result<Vec<Row>, sqlx::Error> {
        let rows = query(sql, args)?.fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Row::Postgres).collect())
    }

    async fn begin(&self) -> Result<PgTx, sqlx::Error> {
        Ok(PgTx {
            tx: self.pool.begin_with(BEGIN).await?,
        })
    }

    fn retry(&self, operation: &'static str) -> crate::db::Retry {
        crate::db::Retry::Postgres(Retry::new(operation))
    }

    async fn write_one(
        &self,
        operation: &'static str,
        sql: &Sql,
        args: &[Arg<'_>],
        error: impl Fn(sqlx::Error) -> StoreError,
    ) -> Result<u64, StoreError> {
        let mut retry = Retry::new(operation);
        loop {
            let result = match query(sql, args) {
                Ok(q) => q.execute(&self.pool).await.map(|done| done.rows_affected()),
                Err(e) => Err(e),
            };
            match retry.after(result.map_err(&error)).await {
                Attempt::Done(result) => return result,
                Attempt::Again => {}
            }
        }
    }

    async fn write_batch(
        &self,
        operation: &'static str,
        batch: &Batch,
        rows: &[Vec<Arg<'_>>],
        error: impl Fn(Option<usize>, sqlx::Error) -> StoreError,
    ) -> Result<(), StoreError> {
        let batch_error = |e| error(None, e);
        let columns = columns(rows).map_err(batch_error)?;
        let mut retry = Retry::new(operation);
        loop {
            // One statement, one round trip, whatever the count: the columns as arrays.
            let mut args = PgArguments::default();
            let result = match columns.iter().try_for_each(|c| c.add_to(&mut args)) {
                Ok(()) => sqlx::query_with(batch.all, args)
                    .execute(&self.pool)
                    .await
                    .map(|_| ()),
                Err(e) => Err(sqlx::Error::Encode(e)),
            };
            match retry.after(result.map_err(batch_error)).await {
                Attempt::Done(result) => return result,
                Attempt::Again => {}
            }
        }
    }
}

impl Transaction for PgTx {
    async fn execute(&mut self, sql: &Sql, args: &[Arg<'_>]) -> Result<u64, sqlx::Error> {
        Ok(query(sql, args)?
            .execute(&mut *self.tx)
            .await?
            .rows_affected())
    }

    async fn fetch_optional(
        &mut self,
        sql: &Sql,
        args: &[Arg<'_>],
    ) -> Result<Option<Row>, sqlx::Error> {
        let row = query(sql, args)?.fetch_optional(&mut *self.tx).await?;
        Ok(row.map(Row::Postgres))
    }

    async fn execute_batch(
        &mut self,
        batch: &Batch,
        rows: &[Vec<Arg<'_>>],
    ) -> Result<(), (Option<usize>, sqlx::Error)> {
        let columns = columns(rows).map_err(|e| (None, e))?;
        let mut args = PgArguments::default();
        columns
            .iter()
            .try_for_each(|c| c.add_to(&mut args))
            .map_err(|e| (None, sqlx::Error::Encode(e)))?;
        sqlx::query_with(batch.all, args)
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
            .map_err(|e| (None, e))
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }

    /// By the constraint PostgreSQL names. `assignments_no_overlap` is not here: the rules
    /// resolve it after the rollback (module docs).
    fn assignment_violation(e: &sqlx::Error) -> Option<AssignmentViolation> {
        let sqlx::Error::Database(db) = e else {
            return None;
        };
        Some(match db.constraint()? {
            "assignments_one_live_per_job" => AssignmentViolation::OneLivePerJob,
            "assignments_pkey" => AssignmentViolation::DuplicateId,
            "assignments_job_fkey" => AssignmentViolation::JobMissing,
            "assignments_contractor_fkey" => AssignmentViolation::ContractorMissing,
            "assignments_audit_fkey" => AssignmentViolation::AuditMissing,
            _ => return None,
        })
    }
}

impl Columns for PgRow {
    fn uuid(&self, what: &str) -> Result<Uuid, StoreError> {
        col(self, what)
    }

    fn time(&self, what: &str) -> Result<DateTime<Utc>, StoreError> {
        col(self, what)
    }

    fn json(&self, what: &str) -> Result<Box<RawValue>, StoreError> {
        jsonb::<Json<Box<RawValue>>>(self, what).map(|Json(v)| v)
    }

    fn opt_json(&self, what: &str) -> Result<Option<Box<RawValue>>, StoreError> {
        jsonb::<Option<Json<Box<RawValue>>>>(self, what).map(|v| v.map(|Json(v)| v))
    }

    fn texts(&self, what: &str) -> Result<Vec<String>, StoreError> {
        col(self, what)
    }

    fn opt_int32(&self, what: &str) -> Result<Option<i32>, StoreError> {
        col(self, what)
    }
}

/// A jsonb column as its text, or `Corrupt`.
fn jsonb<T>(row: &PgRow, what: &str) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column_name(what))
        .map_err(|e| StoreError::Corrupt(format!("{what}: stored JSON does not decode ({e})")))
}

/// `40001` serialization_failure or `40P01` deadlock_detected: run the transaction again.
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("40001" | "40P01")),
        _ => false,
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

/// PostgreSQL's [`crate::db::Retry`]: a transaction that failed with a serialization
/// failure, a deadlock or an overlap that vanished (see `create_assignment`) runs again, at most
/// [`MAX_ATTEMPTS`] times in all; then the store gives up with `Contention`.
#[derive(Debug)]
pub(crate) struct Retry {
    operation: &'static str,
    attempts: u32,
}

impl Retry {
    /// Before the first attempt at `operation`.
    pub(crate) fn new(operation: &'static str) -> Self {
        Self {
            operation,
            attempts: 0,
        }
    }

    /// Decides after an attempt that ended with `result`; pauses before an `Again`.
    pub(crate) async fn after<T>(&mut self, result: Result<T, StoreError>) -> Attempt<T> {
        self.attempts += 1;
        let (operation, attempts) = (self.operation, self.attempts);
        let error = match result {
            Err(StoreError::Database(e)) if is_transient(&e) || is_overlap_violation(&e) => e,
            // Classified again: text PostgreSQL cannot store is the input's fault.
            Err(StoreError::Database(e)) => return Attempt::Done(Err(e.into())),
            done => return Attempt::Done(done),
        };
        if attempts >= MAX_ATTEMPTS {
            tracing::warn!(operation, attempts, %error, "transaction kept colliding with concurrent ones; giving up");
            return Attempt::Done(Err(StoreError::Contention {
                attempts,
                source: error,
            }));
        }
        let pause = backoff(attempts);
        tracing::debug!(operation, attempts, %error, ?pause, "transaction collided with a concurrent one; retrying");
        tokio::time::sleep(pause).await;
        Attempt::Again
    }
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
        let result: Result<(), StoreError> = rt.block_on(retry(|| {
            calls += 1;
            Err(StoreError::Database(fake_db_error("40001")))
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
        let result = rt.block_on(retry(|| {
            calls += 1;
            if calls == 1 {
                Err(StoreError::Database(fake_db_error("40P01")))
            } else {
                Ok(7)
            }
        }));
        assert_eq!((calls, result.ok()), (2, Some(7)));

        // Anything else is returned at once; NUL characters are the input's fault.
        let mut calls = 0;
        let result: Result<(), StoreError> = rt.block_on(retry(|| {
            calls += 1;
            Err(StoreError::Database(fake_db_error("22021")))
        }));
        assert_eq!(calls, 1);
        assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
    }

    /// Runs `attempt` until [`Retry`] says it is done, as the store's writes do.
    async fn retry<T>(mut attempt: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut retry = Retry::new("test");
        loop {
            if let Attempt::Done(result) = retry.after(attempt()).await {
                return result;
            }
        }
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
