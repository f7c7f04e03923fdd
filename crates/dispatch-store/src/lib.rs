//! Persistence for the Dispatch service: regions, contractors, jobs, assignments,
//! recommendations, audit records, the versioned scoring configuration, idempotency keys and the
//! transactional outbox.
//!
//! # Layout
//!
//! * [`Store`]: the one handle the server uses. It wraps an enum of backends chosen from the
//!   database URL (`sqlite:` or `postgres://`) and delegates every method to it, so the server
//!   never sees which backend it runs on, and there is no `dyn` with async methods.
//! * [`error`]: [`StoreError`] and [`AssignmentConflict`].
//! * [`types`]: what only persistence needs: paging, outbox events, recommendation and audit
//!   documents, idempotency states. Domain entities are `dispatch-core`'s.
//! * [`lease`]: [`RelayLease`], which node relays the outbox when several share a database.
//! * `codec`: how timestamps, ids, enums, JSON documents and cursors become columns, shared by
//!   every backend.
//! * `sqlite`: the SQLite backend (embedded migrations in `migrations/sqlite/`).
//! * `postgres`: the PostgreSQL backend (embedded migrations in `migrations/postgres/`), behind
//!   the default cargo feature `postgres`.
//!
//! # Where it sits
//!
//! `dispatch-server` opens one `Store` at startup (`Store::connect(DISPATCH_DATABASE_URL)`),
//! clones it into its state, loads rows to build `dispatch_core::RegionIndex`, and saves what
//! the engine and the handlers decide. The invariants of SPEC §4 — a contractor is never booked
//! twice at overlapping times, a job has at most one live assignment — are enforced here, inside
//! one write transaction, not by the caller: see [`Store::create_assignment`]. On PostgreSQL the
//! database enforces them too (an exclusion constraint and a partial unique index).
//!
//! ```no_run
//! # async fn demo() -> Result<(), dispatch_store::StoreError> {
//! use dispatch_store::Store;
//! let store = Store::connect("sqlite://dispatch.db").await?;
//! store.ping().await?;
//! let config = store.current_config().await?;
//! assert!(config.version >= 1);
//! # Ok(()) }
//! ```

pub mod error;
pub mod lease;
pub mod types;

mod codec;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;

use chrono::{DateTime, Utc};
use dispatch_core::{
    Assignment, AssignmentId, AuditId, Booking, Contractor, ContractorId, Job, JobId, JobStatus,
    NewScoringConfig, Region, RegionId, ScoringConfig, TimeOff,
};

pub use error::{AssignmentConflict, StoreError};
pub use lease::RelayLease;
pub use types::{
    AuditRecord, DEFAULT_PAGE_LIMIT, Decision, IdempotencyBegin, MAX_PAGE_LIMIT, NewOutboxEvent,
    OutboxEvent, Page, PageRequest, RecommendationRecord, RecommendationStatus, RequestId,
};

/// How long an idempotency key may stay "in progress" before a retry may take it over: the first
/// request's process is then presumed dead (a crash between `idempotency_begin` and
/// `idempotency_finish` must not burn the key forever).
pub const IDEMPOTENCY_IN_PROGRESS_TIMEOUT: std::time::Duration =
    std::time::Duration::from_secs(5 * 60);

/// The persistence handle. Cheap to clone: the connection pools inside are shared.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

/// The backends, one variant each.
#[derive(Debug, Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    #[cfg(feature = "postgres")]
    Postgres(postgres::PgStore),
}

/// Which backend a URL asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BackendKind {
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
}

/// What `connect` accepts, for error messages.
const ACCEPTED_URLS: &str = "use sqlite://PATH or sqlite:PATH for an SQLite file (created if missing), \
     sqlite::memory: for a throw-away in-memory database, or postgres://USER@HOST:PORT/DATABASE \
     (also postgresql://) for PostgreSQL";

impl BackendKind {
    /// Picks the backend from the URL scheme. Anything unknown is refused rather than read as a
    /// file name, so a typo never silently creates an empty SQLite database (STYLE 18).
    fn from_url(url: &str) -> Result<Self, StoreError> {
        let lower = url.trim_start().to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(StoreError::InvalidUrl(format!(
                    "{url:?} names no database file; {ACCEPTED_URLS}"
                )));
            }
            return Ok(BackendKind::Sqlite);
        }
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            return Ok(BackendKind::Postgres);
            #[cfg(not(feature = "postgres"))]
            return Err(StoreError::Unsupported(
                "PostgreSQL support is not compiled in: this build of dispatch-store lacks its \
                 `postgres` feature; rebuild with it, or use a sqlite: URL (e.g. sqlite://dispatch.db)"
                    .to_owned(),
            ));
        }
        // Show only the scheme: the rest of a URL may hold a password.
        let scheme = url.split(':').next().unwrap_or_default();
        Err(StoreError::InvalidUrl(format!(
            "unsupported scheme {scheme:?}; {ACCEPTED_URLS}"
        )))
    }
}

/// Calls the same method on whichever backend is inside.
macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* $(,)? )) => {
        match &$self.backend {
            Backend::Sqlite(b) => b.$method($($arg),*).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => b.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Opens the database named by `url`, runs the embedded migrations and makes sure scoring
    /// configuration version 1 exists.
    ///
    /// Accepts `sqlite://path` or `sqlite:path` (the file is created if missing; WAL, foreign
    /// keys, a busy timeout and `synchronous=NORMAL` are set on every connection),
    /// `sqlite::memory:` for tests, and `postgres://…` or `postgresql://…` (libpq-style URL; the
    /// database must exist, the migrations create the `btree_gist` extension if it is missing).
    /// Anything else is `InvalidUrl`; a PostgreSQL URL in a build without the `postgres` feature
    /// is `Unsupported`. A file that cannot be opened or written, or a server that cannot be
    /// reached or refuses the login, is `Unavailable`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let backend = match BackendKind::from_url(url)? {
            BackendKind::Sqlite => Backend::Sqlite(sqlite::SqliteStore::connect(url).await?),
            #[cfg(feature = "postgres")]
            BackendKind::Postgres => Backend::Postgres(postgres::PgStore::connect(url).await?),
        };
        Ok(Store { backend })
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        delegate!(self.ping())
    }

    /// The backend's name: `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match &self.backend {
            Backend::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes the connection pools, waiting for connections in use to be returned (for graceful
    /// shutdown; clones of this store stop working too).
    pub async fn close(&self) {
        delegate!(self.close())
    }

    // ----- regions -----

    /// Stores a new region; a duplicate id is `Conflict`.
    pub async fn create_region(&self, region: &Region) -> Result<(), StoreError> {
        delegate!(self.create_region(region))
    }

    /// A region by id.
    pub async fn region(&self, id: &RegionId) -> Result<Option<Region>, StoreError> {
        delegate!(self.region(id))
    }

    /// All regions, by id.
    pub async fn regions(&self) -> Result<Vec<Region>, StoreError> {
        delegate!(self.regions())
    }

    // ----- contractors -----

    /// Stores a new contractor; a duplicate id or an unknown region is `Conflict`.
    pub async fn create_contractor(&self, c: &Contractor) -> Result<(), StoreError> {
        delegate!(self.create_contractor(c))
    }

    /// Stores new contractors in one transaction, all or none (bulk loads; one statement on
    /// PostgreSQL); a duplicate id (stored or in the batch) or an unknown region is `Conflict`.
    pub async fn create_contractors(&self, contractors: &[Contractor]) -> Result<(), StoreError> {
        delegate!(self.create_contractors(contractors))
    }

    /// Replaces a contractor (all fields, time off included); `false` when there is none with
    /// that id.
    pub async fn update_contractor(&self, c: &Contractor) -> Result<bool, StoreError> {
        delegate!(self.update_contractor(c))
    }

    /// A contractor by id.
    pub async fn contractor(&self, id: ContractorId) -> Result<Option<Contractor>, StoreError> {
        delegate!(self.contractor(id))
    }

    /// Every contractor of a region (active or not), by id: the input of `RegionIndex::build`.
    pub async fn contractors_in_region(
        &self,
        region: &RegionId,
    ) -> Result<Vec<Contractor>, StoreError> {
        delegate!(self.contractors_in_region(region))
    }

    /// One page of contractors, of one region or of all, ordered by name then id.
    pub async fn list_contractors(
        &self,
        region: Option<&RegionId>,
        page: PageRequest,
    ) -> Result<Page<Contractor>, StoreError> {
        delegate!(self.list_contractors(region, page))
    }

    /// Appends a period of time off to a contractor and returns the updated contractor; `None`
    /// when there is no such contractor.
    pub async fn add_time_off(
        &self,
        id: ContractorId,
        time_off: &TimeOff,
    ) -> Result<Option<Contractor>, StoreError> {
        delegate!(self.add_time_off(id, time_off))
    }

    // ----- jobs -----

    /// Stores a new job; a duplicate id or an unknown region is `Conflict`.
    pub async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        delegate!(self.create_job(job))
    }

    /// Stores new jobs in one transaction, all or none (bulk loads; one statement on
    /// PostgreSQL); a duplicate id (stored or in the batch) or an unknown region is `Conflict`.
    pub async fn create_jobs(&self, jobs: &[Job]) -> Result<(), StoreError> {
        delegate!(self.create_jobs(jobs))
    }

    /// A job by id.
    pub async fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        delegate!(self.job(id))
    }

    /// One page of a region's jobs, optionally of one status, ordered by window start then id.
    pub async fn list_jobs(
        &self,
        region: &RegionId,
        status: Option<JobStatus>,
        page: PageRequest,
    ) -> Result<Page<Job>, StoreError> {
        delegate!(self.list_jobs(region, status, page))
    }

    /// Cancels an open or assigned job; an assigned job's live assignment ends with it, in the
    /// same transaction. `None` when there is no such job; completed or cancelled is `Conflict`.
    pub async fn cancel_job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        delegate!(self.cancel_job(id))
    }

    // ----- assignments -----

    /// Inserts the assignment, sets the job to `assigned`, records `decision` on the audit
    /// record `assignment.audit_id`, and appends `events` to the outbox — all in one write
    /// transaction, or nothing.
    ///
    /// The invariants are checked inside that transaction: the job must exist and be open,
    /// with no live assignment (also a unique index), and the contractor must have no live
    /// assignment overlapping `[start, end)` (on PostgreSQL also an exclusion constraint). On
    /// SQLite writers take that transaction one at a time; on PostgreSQL it locks the job and
    /// contractor rows. A refusal is `StoreError::Assignment(..)`; an assignment that does not
    /// end after it starts, or a `decision` that does not name this assignment and contractor,
    /// is `Invalid`.
    pub async fn create_assignment(
        &self,
        assignment: &Assignment,
        decision: &Decision,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        check_assignment_input(assignment, decision)?;
        delegate!(self.create_assignment(None, assignment, decision, events))
    }

    /// [`Store::create_assignment`] for a decision with no recommendation behind it: its audit
    /// record (named by `assignment.audit_id`) is created in the same transaction, so a refused
    /// assignment leaves no audit record behind.
    pub async fn create_assignment_with_audit(
        &self,
        audit: &AuditRecord,
        assignment: &Assignment,
        decision: &Decision,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        check_assignment_input(assignment, decision)?;
        if audit.audit_id != assignment.audit_id {
            return Err(StoreError::Invalid(
                "the audit record must be the one the assignment names".to_owned(),
            ));
        }
        delegate!(self.create_assignment(Some(audit), assignment, decision, events))
    }

    /// A live assignment by id (an ended one is `None`).
    pub async fn assignment(&self, id: AssignmentId) -> Result<Option<Assignment>, StoreError> {
        delegate!(self.assignment(id))
    }

    /// The live assignment of a job, if it has one.
    pub async fn job_assignment(&self, job: JobId) -> Result<Option<Assignment>, StoreError> {
        delegate!(self.job_assignment(job))
    }

    /// Unassigns: the assignment stops being live (kept as history), the job returns to `open`,
    /// and `events` are appended, in one transaction. `None` when there is no such live
    /// assignment (and then no event is appended).
    pub async fn delete_assignment(
        &self,
        id: AssignmentId,
        events: &[NewOutboxEvent],
    ) -> Result<Option<Assignment>, StoreError> {
        delegate!(self.delete_assignment(id, events))
    }

    /// A contractor's live assignments overlapping `[from, to)`, ordered by start.
    pub async fn contractor_assignments(
        &self,
        id: ContractorId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        delegate!(self.contractor_assignments(id, from, to))
    }

    /// Live bookings of a region's contractors overlapping `[from, to)`, with each job's
    /// location: the bookings input of `RegionIndex::build`. Ordered by contractor, then start.
    pub async fn region_bookings(
        &self,
        region: &RegionId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Booking>, StoreError> {
        delegate!(self.region_bookings(region, from, to))
    }

    // ----- recommendations and audit records -----

    /// Stores a new recommendation request (normally `pending`); a duplicate request id is
    /// `Conflict`.
    pub async fn create_recommendation(
        &self,
        rec: &RecommendationRecord,
    ) -> Result<(), StoreError> {
        delegate!(self.create_recommendation(rec))
    }

    /// A recommendation by request id.
    pub async fn recommendation(
        &self,
        request_id: RequestId,
    ) -> Result<Option<RecommendationRecord>, StoreError> {
        delegate!(self.recommendation(request_id))
    }

    /// Requests still pending, oldest first: a process that died with work queued leaves them
    /// behind, and the next one computes them.
    pub async fn pending_recommendations(&self, limit: u32) -> Result<Vec<RequestId>, StoreError> {
        delegate!(self.pending_recommendations(limit))
    }

    /// Stores the finished recommendation (replacing the pending one, or inserting it), its
    /// audit record, and `events`, in one transaction.
    pub async fn complete_recommendation(
        &self,
        rec: &RecommendationRecord,
        audit: &AuditRecord,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        delegate!(self.complete_recommendation(rec, audit, events))
    }

    /// Marks a recommendation failed with `error` and appends `events`, in one transaction.
    /// Nothing happens (no events either) when there is no such request.
    pub async fn fail_recommendation(
        &self,
        request_id: RequestId,
        error: &str,
        events: &[NewOutboxEvent],
    ) -> Result<(), StoreError> {
        delegate!(self.fail_recommendation(request_id, error, events))
    }

    /// Stores an audit record on its own (a manual assignment without a recommendation still
    /// gets one); a duplicate id is `Conflict`.
    pub async fn create_audit(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        delegate!(self.create_audit(audit))
    }

    /// An audit record by id, with its decision if one was made.
    pub async fn audit(&self, id: AuditId) -> Result<Option<AuditRecord>, StoreError> {
        delegate!(self.audit(id))
    }

    // ----- scoring configuration -----

    /// The current (highest-version) scoring configuration.
    pub async fn current_config(&self) -> Result<ScoringConfig, StoreError> {
        delegate!(self.current_config())
    }

    /// A scoring configuration by version, as it was.
    pub async fn config_version(&self, version: u32) -> Result<Option<ScoringConfig>, StoreError> {
        delegate!(self.config_version(version))
    }

    /// Stores `new` as version `expected + 1` if `expected` is the current version; otherwise
    /// `StaleVersion { current }`. Returns the stored configuration.
    pub async fn replace_config(
        &self,
        expected: u32,
        new: &NewScoringConfig,
    ) -> Result<ScoringConfig, StoreError> {
        delegate!(self.replace_config(expected, new))
    }

    // ----- idempotency keys -----

    /// Claims `(scope, key)` for a request whose body hashes to `request_hash`; see
    /// [`IdempotencyBegin`]. A claim older than [`IDEMPOTENCY_IN_PROGRESS_TIMEOUT`] that was never
    /// finished is taken over (`Started`).
    pub async fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<IdempotencyBegin, StoreError> {
        delegate!(self.idempotency_begin(scope, key, request_hash))
    }

    /// Records the answer to replay for `(scope, key)`.
    pub async fn idempotency_finish(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), StoreError> {
        delegate!(self.idempotency_finish(scope, key, status, body))
    }

    /// Forgets an unfinished claim of `(scope, key)`: the first attempt failed without an answer
    /// worth replaying, so a retry runs afresh.
    pub async fn idempotency_abandon(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        delegate!(self.idempotency_abandon(scope, key))
    }

    // ----- outbox -----

    /// Up to `limit` events not yet marked sent, oldest (lowest sequence) first.
    pub async fn pending_events(&self, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
        delegate!(self.pending_events(limit))
    }

    /// Marks events as relayed; unknown or already-sent sequences are ignored.
    pub async fn mark_events_sent(&self, sequences: &[i64]) -> Result<(), StoreError> {
        delegate!(self.mark_events_sent(sequences))
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
        delegate!(self.events_after(after, limit, sent_only))
    }

    /// A random id made when this database was first migrated: the same for every node that
    /// shares it, different for every other database.
    pub async fn deployment_id(&self) -> Result<String, StoreError> {
        delegate!(self.deployment_id())
    }

    /// Deletes events marked sent before `before` — except the newest sent one — and returns
    /// how many: the outbox's retention. Unsent events are never deleted.
    pub async fn prune_sent_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        delegate!(self.prune_sent_events(before))
    }

    /// The highest sequence marked sent; 0 when none is.
    pub async fn last_sent_sequence(&self) -> Result<i64, StoreError> {
        delegate!(self.last_sent_sequence())
    }

    /// Tries to become the node that relays the outbox: `Ok(None)` while another session holds
    /// the lease (PostgreSQL), always `Some` on SQLite (one process owns the file). See
    /// [`lease`] for how it is held and lost; independent of [`Store::close`].
    pub async fn try_relay_lease(&self) -> Result<Option<RelayLease>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(Some(RelayLease::embedded())),
            #[cfg(feature = "postgres")]
            Backend::Postgres(b) => Ok(b.try_relay_lease().await?.map(RelayLease::postgres)),
        }
    }
}

/// Input checks of an assignment, the same for every backend: they need no database.
fn check_assignment_input(assignment: &Assignment, decision: &Decision) -> Result<(), StoreError> {
    if assignment.start_utc >= assignment.end_utc {
        return Err(StoreError::Invalid(format!(
            "assignment {} ends ({}) before it starts ({})",
            assignment.id, assignment.end_utc, assignment.start_utc
        )));
    }
    if decision.assignment_id != assignment.id || decision.contractor_id != assignment.contractor_id
    {
        return Err(StoreError::Invalid(
            "the decision must name the assignment being created and its contractor".to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_schemes_choose_the_backend() {
        assert_eq!(
            BackendKind::from_url("sqlite://x.db").ok(),
            Some(BackendKind::Sqlite)
        );
        assert_eq!(
            BackendKind::from_url("sqlite:x.db").ok(),
            Some(BackendKind::Sqlite)
        );
        assert_eq!(
            BackendKind::from_url("sqlite::memory:").ok(),
            Some(BackendKind::Sqlite)
        );
        assert_eq!(
            BackendKind::from_url("SQLITE:///tmp/a.db?mode=rwc").ok(),
            Some(BackendKind::Sqlite)
        );
        for url in [
            "postgres://u:p@h/db",
            "postgresql://h/db",
            "PostgreSQL://h:5433/db",
        ] {
            #[cfg(feature = "postgres")]
            assert_eq!(
                BackendKind::from_url(url).ok(),
                Some(BackendKind::Postgres),
                "{url}"
            );
            #[cfg(not(feature = "postgres"))]
            assert!(
                matches!(BackendKind::from_url(url), Err(StoreError::Unsupported(_))),
                "{url}"
            );
        }
        for bad in [
            "sqlite:",
            "sqlite://",
            "sqlite://?mode=rwc",
            "dispatch.db",
            "mysql://u:secret@h/db",
            "",
        ] {
            match BackendKind::from_url(bad) {
                Err(StoreError::InvalidUrl(msg)) => {
                    assert!(msg.contains("sqlite://PATH"), "{msg}");
                    assert!(!msg.contains("secret"), "{msg}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
