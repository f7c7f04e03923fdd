//! Persistence for the Dispatch service: regions, contractors, jobs, assignments,
//! recommendations, audit records, the versioned scoring configuration, idempotency keys and the
//! transactional outbox, on SQLite or PostgreSQL.
//!
//! # Layout
//!
//! Every storage rule is written once, for both backends:
//!
//! * [`Store`]: the one handle the server uses; its methods are the rules, in `ops/` (one file
//!   per kind of thing stored: `catalog`, `assignments`, `recommendations`, `config`,
//!   `idempotency`, `outbox`). Each transaction's steps are written there once, as plain code
//!   over a transaction of either backend.
//! * `db`: the seam between the rules and the backends. The rules run statements with `Arg`
//!   values and read typed columns; the `Backend`, `Transaction` and `Columns` traits are what a
//!   backend supplies: how values are encoded and decoded (ids, instants, documents, lists), how
//!   a write transaction begins and whether it is retried, how a statement over many rows runs,
//!   how a constraint violation is named. `Db`, `Tx` and `Row` dispatch to the backend a store
//!   was opened on, so there is no `dyn` and no per-method delegation.
//! * `sql`: SQL text, written once in PostgreSQL's dialect; SQLite's is derived from it (its
//!   `now()` bound, row locks dropped), or given beside it where it cannot be.
//! * `rows`: result rows → the store's types, and keyset pages.
//! * `sqlite` and `postgres` (default cargo feature `postgres`): connecting (pools, migrations)
//!   and the backend traits; `postgres` also has the retries and the relay lease's session.
//! * `migrations`: both backends' embedded migrations (`migrations/sqlite/`,
//!   `migrations/postgres/`), from one list.
//! * `codec`: timestamps, ids, enum names, JSON documents and page cursors ↔ column values.
//! * [`error`]: [`StoreError`] and [`AssignmentConflict`].
//! * [`types`]: what only persistence needs: paging, outbox events, recommendation and audit
//!   documents, idempotency states. Domain entities are `dispatch-core`'s.
//! * [`lease`]: [`RelayLease`], which node relays which shard of the outbox when several share
//!   a database.
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
mod db;
mod exclusions;
mod migrations;
mod ops;
#[cfg(feature = "postgres")]
mod postgres;
mod rows;
mod sql;
mod sqlite;

use db::Db;

pub use error::{AssignmentConflict, StoreError};
pub use lease::{LeaseSurvey, RelayLease};
pub use types::{
    AppliedVisit, AuditRecord, Change, ChangeKind, DEFAULT_PAGE_LIMIT, Decision, IdempotencyBegin,
    MAX_PAGE_LIMIT, NewOutboxEvent, OUTBOX_SHARDS, OutboxEvent, Page, PageRequest, PlanApplication,
    PlanApplyClaim, PlanConflict, PlanProgress, PlanRecord, PlanStatus, RecommendationRecord,
    RecommendationStatus, RequestId, excluded_counts, outbox_shard,
};

/// How long an idempotency key may stay "in progress" before a retry may take it over: the first
/// request's process is then presumed dead (a crash between `idempotency_begin` and
/// `idempotency_finish` must not burn the key forever).
pub const IDEMPOTENCY_IN_PROGRESS_TIMEOUT: std::time::Duration =
    std::time::Duration::from_secs(5 * 60);

/// The persistence handle. Cheap to clone: the connection pools inside are shared.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
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
        let store = match BackendKind::from_url(url)? {
            BackendKind::Sqlite => {
                let db = sqlite::SqliteDb::connect(url).await?;
                let store = Store {
                    db: Db::Sqlite(db.clone()),
                };
                store
                    .seed_default_config()
                    .await
                    .map_err(|e| db.startup_error(e))?;
                store
            }
            #[cfg(feature = "postgres")]
            BackendKind::Postgres => {
                let store = Store {
                    db: Db::Postgres(postgres::PgDb::connect(url).await?),
                };
                store.seed_default_config().await?;
                store
            }
        };
        Ok(store)
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }

    /// The backend's name: `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        self.db.name()
    }

    /// Closes the connection pools, waiting for connections in use to be returned (for graceful
    /// shutdown; clones of this store stop working too).
    pub async fn close(&self) {
        self.db.close().await
    }

    /// Opens this node's relay session: it counts the node among the live ones and takes and
    /// gives up shard leases (see [`lease`]). PostgreSQL: a session of its own, outside the
    /// pool, independent of [`Store::close`]; SQLite: granted at once, every shard free.
    pub async fn relay_lease(&self) -> Result<RelayLease, StoreError> {
        match &self.db {
            Db::Sqlite(_) => Ok(RelayLease::embedded()),
            #[cfg(feature = "postgres")]
            Db::Postgres(b) => Ok(RelayLease::postgres(b.relay_lease().await?)),
        }
    }
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
