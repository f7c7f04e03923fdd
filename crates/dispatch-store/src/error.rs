//! The store's errors: one enum for every operation, plus [`AssignmentConflict`] for the reasons
//! an assignment is refused.
//!
//! Each message says what to do about it. The HTTP mapping lives in the server; as a guide:
//! `Conflict`, `Assignment(..)` (except `JobNotFound`), and `StaleVersion` are 409s;
//! `Invalid` and `InvalidCursor` are 422s (or 400s); `Unavailable` and every error whose
//! [`StoreError::is_retryable`] is true (`Contention`; busy, aborted or lost-session `Database`
//! errors) are 503s; everything else is a 500 whose cause is logged, not shown.

use std::fmt::Display;

use dispatch_core::AssignmentId;

/// An error from a [`crate::Store`] operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one the store understands.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The URL names a backend this build does not include.
    #[error("{0}")]
    Unsupported(String),
    /// The database could not be opened or reached.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The change collides with existing data (a duplicate id, a missing referenced row, a job in
    /// a state that does not allow it).
    #[error("conflict: {0}")]
    Conflict(String),
    /// An assignment was refused; see [`AssignmentConflict`].
    #[error(transparent)]
    Assignment(#[from] AssignmentConflict),
    /// `replace_config` was given a version that is no longer the current one.
    #[error(
        "stale scoring configuration version: the current version is {current}; read it again and retry against version {current}"
    )]
    StaleVersion {
        /// The version that is current now.
        current: u32,
    },
    /// A page cursor that this store did not issue (or one for a different list).
    #[error(
        "invalid page cursor: pass back the nextCursor of the previous page unchanged, or leave it out to start from the first page"
    )]
    InvalidCursor,
    /// The input breaks a rule the store enforces (e.g. an assignment that ends before it
    /// starts); the caller should have validated it.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The database reported an error; see [`StoreError::is_retryable`].
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Concurrent transactions kept colliding (PostgreSQL serialization failures or deadlocks)
    /// and the store gave up after retrying the whole transaction a bounded number of times.
    /// Nothing was changed. Always retryable: answer 503 and let the client retry shortly.
    #[error(
        "the database is busy with conflicting concurrent changes (gave up after {attempts} attempts: {source}); retry shortly"
    )]
    Contention {
        /// How many times the transaction was tried.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date (e.g. the database was written by a newer
    /// version of the service, or a migration file was edited after it was applied).
    #[error(
        "database schema migration failed: {0}; check that the database belongs to this version of the service"
    )]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// A stored row or document failed to decode: the database was changed outside the service
    /// or by an incompatible version.
    #[error(
        "corrupt stored data: {0}; inspect the row named here, it was not written by this version of the store"
    )]
    Corrupt(String),
}

/// Why an assignment was refused. Every one of these is decided inside the write transaction
/// that would have inserted the assignment, so it holds at commit time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssignmentConflict {
    /// There is no job with that id.
    #[error("the job does not exist")]
    JobNotFound,
    /// The job is completed or cancelled.
    #[error("the job is completed or cancelled; only open jobs can be assigned")]
    JobNotOpen,
    /// The job already has a live assignment; unassign it first.
    #[error("the job already has a live assignment; unassign it first to reassign the job")]
    JobAlreadyAssigned,
    /// The contractor has a live assignment overlapping the requested slot.
    #[error(
        "the contractor is already booked at an overlapping time (assignment {conflicting}); choose another slot or contractor"
    )]
    ContractorBusy {
        /// The live assignment that overlaps.
        conflicting: AssignmentId,
    },
    /// The booking to be moved is no longer the job's live assignment (unassigned, or moved
    /// by someone else meanwhile).
    #[error("the booking to move is no longer live; read the job's assignment again")]
    MovedMeanwhile,
    /// There is no contractor with that id.
    #[error("the contractor does not exist")]
    ContractorNotFound,
    /// The assignment names an audit record that does not exist; create the audit record first
    /// (`Store::create_audit`, or `complete_recommendation`).
    #[error("the audit record named by the assignment does not exist; create it before assigning")]
    AuditNotFound,
}

impl StoreError {
    /// True when the same operation may succeed if simply retried: the database was busy or
    /// locked, a serializable transaction was aborted, or a connection could not be had in time.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(e) => sqlx_is_retryable(e),
            StoreError::Contention { .. } => true,
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    /// A database error, except text PostgreSQL cannot store (the NUL character: SQLSTATE
    /// `22021` in text, `22P05` in jsonb), which is the caller's input, so `Invalid`. SQLite's
    /// codes are numbers, so only PostgreSQL's errors can be those.
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("22021" | "22P05")) =>
            {
                StoreError::Invalid(format!(
                    "the input contains text PostgreSQL cannot store (the NUL character, U+0000): {e}"
                ))
            }
            _ => StoreError::Database(e),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(e)
    }
}

/// Busy/locked (SQLite), serialization failure or deadlock (PostgreSQL), no connection in time,
/// or a connection lost under the operation (the server terminated the session, restarted, or
/// the socket broke): the database is fine, this attempt is not, so a retry may succeed.
fn sqlx_is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            // PostgreSQL: serialization_failure, deadlock_detected; connection_exception (class
            // 08); admin_shutdown (a `pg_terminate_backend`), crash_shutdown, cannot_connect_now.
            if matches!(&*code, "40001" | "40P01" | "57P01" | "57P02" | "57P03")
                || code.starts_with("08")
            {
                return true;
            }
            // SQLite reports the extended result code; its low byte is the primary code.
            // SQLITE_BUSY = 5 (incl. BUSY_SNAPSHOT, BUSY_RECOVERY), SQLITE_LOCKED = 6.
            match code.parse::<i64>() {
                Ok(n) => matches!(n & 0xff, 5 | 6),
                Err(_) => false,
            }
        }
        _ => false,
    }
}

/// Is this a unique-constraint violation?
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Is this a foreign-key violation?
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}

/// A live booking overlapping another of the same contractor, refused by PostgreSQL's
/// exclusion constraint (`23P01` on `assignments_no_overlap`; SQLite has no such constraint).
pub(crate) fn is_overlap_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("23P01")
                && db.constraint() == Some("assignments_no_overlap")
        }
        _ => false,
    }
}

/// Maps the error of an insert: a unique violation is a `Conflict` saying what `exists`, a
/// foreign-key violation one saying what is `missing`; anything else stays a database error.
fn insert_error(
    e: sqlx::Error,
    exists: impl FnOnce() -> String,
    missing: impl FnOnce() -> String,
) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(exists())
    } else if is_foreign_key_violation(&e) {
        StoreError::Conflict(missing())
    } else {
        e.into()
    }
}

/// The error of inserting a contractor, worded the same on every backend.
pub(crate) fn contractor_insert_error(e: sqlx::Error, c: &dispatch_core::Contractor) -> StoreError {
    insert_error(
        e,
        || format!("contractor {} already exists", c.id),
        || {
            format!(
                "region {} does not exist; create it before its contractors",
                c.region
            )
        },
    )
}

/// The error of inserting a job, worded the same on every backend.
pub(crate) fn job_insert_error(e: sqlx::Error, job: &dispatch_core::Job) -> StoreError {
    insert_error(
        e,
        || format!("job {} already exists", job.id),
        || {
            format!(
                "region {} does not exist; create it before its jobs",
                job.region
            )
        },
    )
}

/// The error of inserting a recommendation request, worded the same on every backend.
pub(crate) fn recommendation_insert_error(
    e: sqlx::Error,
    rec: &crate::types::RecommendationRecord,
) -> StoreError {
    insert_error(
        e,
        || format!("recommendation request {} already exists", rec.request_id),
        || format!("job {} does not exist", rec.job_id),
    )
}

/// The error of inserting an audit record, worded the same on every backend.
pub(crate) fn audit_insert_error(
    e: sqlx::Error,
    id: impl Display,
    job: impl Display,
    region: impl Display,
) -> StoreError {
    insert_error(
        e,
        || format!("audit record {id} already exists"),
        || format!("the audit record's job {job} or region {region} does not exist"),
    )
}

/// The error of a batch insert of `what`s run as one statement (PostgreSQL): a duplicate id or
/// a missing region is `Conflict`, naming the row the database names (the key in the error's
/// detail); nothing was stored.
pub(crate) fn batch_insert_error(e: sqlx::Error, what: &str) -> StoreError {
    let detail = detail(&e).map(|d| format!(" ({d})")).unwrap_or_default();
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

/// The detail line of a PostgreSQL error (SQLite's errors have none).
fn detail(e: &sqlx::Error) -> Option<String> {
    #[cfg(feature = "postgres")]
    if let sqlx::Error::Database(db) = e {
        return db
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .and_then(|pg| pg.detail())
            .map(str::to_owned);
    }
    #[cfg(not(feature = "postgres"))]
    let _ = e;
    None
}
