//! Runs the store suite against real SQLite files in a temporary directory, plus what is
//! SQLite-specific: URLs, reopening a file, migrations, corrupt rows.

mod suite;

use dispatch_core::{ContractorId, RegionId};
use dispatch_store::{PageRequest, Store, StoreError};
use sqlx::Connection as _;
use suite::fixtures::*;
use tempfile::TempDir;

/// A store on a fresh file in its own temporary directory (kept alive by the returned guard).
async fn temp_store() -> (Store, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("dispatch.db").display());
    let store = Store::connect(&url).await.expect("connect");
    (store, dir)
}

/// One `#[tokio::test]` per suite behaviour, each on its own file. Multi-threaded, so the
/// concurrency behaviours really run in parallel.
macro_rules! sqlite_suite {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (store, _dir) = temp_store().await;
                suite::$name(store.clone()).await;
                store.close().await;
            }
        )*

        #[test]
        fn every_suite_behaviour_runs_here() {
            let here = [$(stringify!($name)),*];
            assert_eq!(here.as_slice(), suite::ALL);
        }
    };
}

sqlite_suite!(
    ping_and_backend_name,
    regions_round_trip,
    contractors_crud,
    time_off_is_appended,
    contractors_page_by_name,
    contractor_names_sort_by_code_point,
    jobs_round_trip,
    jobs_page_50_50_20,
    invalid_cursor_is_refused,
    cancel_job_ends_its_assignment,
    assignment_round_trip,
    assignment_conflicts,
    unassign_reopens_job_and_frees_slot,
    outbox_has_events_iff_committed,
    assignment_with_its_audit_is_all_or_nothing,
    concurrent_overlapping_assignments,
    concurrent_assignments_of_one_job,
    recommendations_lifecycle,
    audits_round_trip,
    config_versions,
    concurrent_config_replacements,
    idempotency_states,
    bulk_creates_are_all_or_nothing,
    events_after_reads_the_outbox_by_sequence,
    events_after_cursor_misses_nothing_under_concurrent_writers,
    relay_lease_is_granted_and_held,
    deployment_id_is_random_and_stable,
    pruning_keeps_unsent_events_and_the_newest_sent_one,
    plans_lifecycle,
    moving_a_booking_is_all_or_nothing,
    exclusions_are_stored_once_for_result_and_audit,
);

#[tokio::test]
async fn in_memory_store_runs_the_basics() {
    let store = Store::connect("sqlite::memory:").await.expect("connect");
    assert_eq!(store.backend_name(), "sqlite");
    suite::assignment_round_trip(store.clone()).await;
    // A second in-memory store is a different database, whichever URL form.
    for url in ["sqlite::memory:", "sqlite://:memory:"] {
        let other = Store::connect(url).await.expect("connect");
        assert_eq!(other.regions().await.expect("regions"), vec![]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_store_keeps_the_invariants_under_concurrency() {
    let store = Store::connect("sqlite://:memory:").await.expect("connect");
    suite::concurrent_overlapping_assignments(store).await;
}

/// The embedded store has one process per file: every shard is granted to every lease, one
/// node is live, and nothing is ever lost.
#[tokio::test]
async fn relay_lease_is_always_granted() {
    let (store, _dir) = temp_store().await;
    let mut one = store.relay_lease().await.expect("open");
    let mut two = store.relay_lease().await.expect("open");
    for shard in 0..dispatch_store::OUTBOX_SHARDS {
        assert!(one.try_take(shard).await.expect("take"));
        assert!(two.try_take(shard).await.expect("take"));
    }
    assert_eq!(one.survey().await.expect("survey").nodes, 1);
    assert!(one.still_held().await && two.still_held().await);
    store.close().await;
    assert!(one.still_held().await);
    two.release().await;
}

#[tokio::test]
async fn both_url_forms_open_a_file_created_if_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (i, form) in ["sqlite://", "sqlite:"].into_iter().enumerate() {
        let path = dir.path().join(format!("new-{i}.db"));
        assert!(!path.exists());
        let store = Store::connect(&format!("{form}{}", path.display()))
            .await
            .expect("connect");
        store.ping().await.expect("ping");
        assert!(path.exists(), "{form} created the file");
        store.close().await;
    }
}

#[tokio::test]
async fn reopening_keeps_data_and_migrations_are_a_no_op() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("dispatch.db");
    let url = format!("sqlite://{}", path.display());

    let store = Store::connect(&url).await.expect("connect");
    let w = world(&store, 2, 3).await;
    let a = assignment(
        1,
        &w.jobs[0],
        &w.contractors[0],
        w.audits[0].audit_id,
        at(16, 0),
        at(17, 0),
    );
    store
        .create_assignment(&a, &decision(&a), &[job_assigned(&a, "west")])
        .await
        .expect("assign");
    let mut new = dispatch_core::NewScoringConfig {
        weights: Default::default(),
        limits: Default::default(),
    };
    new.weights.rating = 0.3;
    let v2 = store.replace_config(1, &new).await.expect("replace");
    store.close().await;

    for _ in 0..2 {
        let store = Store::connect(&url).await.expect("reopen");
        assert_eq!(
            store.regions().await.expect("regions"),
            vec![region("west")]
        );
        assert_eq!(
            store.contractor(w.contractors[1].id).await.expect("read"),
            Some(w.contractors[1].clone())
        );
        assert_eq!(store.assignment(a.id).await.expect("read"), Some(a.clone()));
        assert_eq!(store.current_config().await.expect("config"), v2);
        assert_eq!(store.pending_events(10).await.expect("outbox").len(), 1);
        let page = store
            .list_jobs(&RegionId::new("west"), None, PageRequest::default())
            .await
            .expect("jobs");
        assert_eq!(page.items.len(), 3);
        store.close().await;
    }

    // The migrations ran once and version 1 was seeded once.
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("raw connect");
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(
        applied,
        suite::migration_files("sqlite"),
        "each migration ran once"
    );
    let configs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scoring_configs")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(configs, 2);
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn bad_urls_are_refused_with_what_is_accepted() {
    for url in [
        "mysql://u:secret@h/db",
        "dispatch.db",
        "",
        "sqlite:",
        "sqlite://",
    ] {
        match Store::connect(url).await {
            Err(StoreError::InvalidUrl(msg)) => {
                assert!(msg.contains("sqlite://"), "{url:?}: {msg}");
                assert!(msg.contains("postgres://"), "{url:?}: {msg}");
                assert!(!msg.contains("secret"), "{msg}");
            }
            other => panic!("{url:?}: expected InvalidUrl, got {other:?}"),
        }
    }
    // Without the `postgres` feature a PostgreSQL URL is refused up front (with it, see
    // tests/postgres.rs).
    #[cfg(not(feature = "postgres"))]
    for url in [
        "postgres://u:p@localhost/dispatch",
        "postgresql://localhost/dispatch",
    ] {
        match Store::connect(url).await {
            Err(StoreError::Unsupported(msg)) => {
                assert!(msg.contains("PostgreSQL"), "{msg}");
                assert!(msg.contains("not compiled in"), "{msg}");
            }
            other => panic!("{url:?}: expected Unsupported, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn unopenable_file_is_unavailable() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A missing directory, and a path that is a directory.
    let missing = dir.path().join("no/such/dir/dispatch.db");
    for url in [
        format!("sqlite://{}", missing.display()),
        format!("sqlite://{}", dir.path().display()),
    ] {
        match Store::connect(&url).await {
            Err(StoreError::Unavailable(msg)) => assert!(msg.contains("cannot open"), "{msg}"),
            other => panic!("{url}: expected Unavailable, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn corrupt_rows_are_errors_not_panics() {
    let (store, dir) = temp_store().await;
    let w = world(&store, 1, 1).await;
    store.close().await;

    let url = format!("sqlite://{}", dir.path().join("dispatch.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("raw connect");
    for sql in [
        "UPDATE contractors SET body = '{not json'",
        "UPDATE jobs SET body = '{\"id\":5}'",
        "UPDATE scoring_configs SET body = '[]'",
        "UPDATE regions SET time_zone = 'Mars/Olympus'",
    ] {
        sqlx::query(sql).execute(&mut conn).await.expect("corrupt");
    }
    conn.close().await.expect("close");

    let store = Store::connect(&url).await.expect("reopen");
    let r = store.contractor(w.contractors[0].id).await;
    assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
    let r = store.job(w.jobs[0].id).await;
    assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
    let r = store.current_config().await;
    assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
    let r = store.regions().await;
    assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
    let r = store
        .add_time_off(
            ContractorId::from_u128(0xC000_0000),
            &dispatch_core::TimeOff {
                start_utc: at(1, 0),
                end_utc: at(2, 0),
                reason: String::new(),
            },
        )
        .await;
    assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
}

#[tokio::test]
async fn busy_and_locked_errors_are_retryable() {
    // A real SQLITE_BUSY: one connection holds the write lock, another with no busy timeout
    // asks for it.
    let (store, dir) = temp_store().await;
    let url = format!("sqlite://{}", dir.path().join("dispatch.db").display());
    let mut holder = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("connect");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .expect("lock");
    let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().expect("options");
    let mut other =
        sqlx::SqliteConnection::connect_with(&opts.busy_timeout(std::time::Duration::ZERO))
            .await
            .expect("connect");
    let err = sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect_err("busy");
    assert!(StoreError::Database(err).is_retryable());
    assert!(!StoreError::InvalidCursor.is_retryable());
    sqlx::query("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("unlock");
    store.close().await;
}
