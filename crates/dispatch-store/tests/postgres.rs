//! Runs the store suite against PostgreSQL, each test in a database of its own, plus what is
//! PostgreSQL-specific: URLs, re-running migrations, the constraints the database enforces by
//! itself, how their violations are reported, outbox commit order, retryable errors.
//!
//! The server is named by `DISPATCH_TEST_POSTGRES_URL` (CI: `postgres://postgres@127.0.0.1:5432/test`);
//! its user must be allowed to create databases. Each test creates `dispatch_test_<pid>_<random>`
//! next to the database in that URL and drops it when it ends, even by a panic.
//!
//! * Variable not set: every test prints `SKIPPED: DISPATCH_TEST_POSTGRES_URL not set` and passes.
//! * Set, server unreachable: with `CI=true` every test **fails**; otherwise it prints `SKIPPED`
//!   with the reason and passes.
//!
//! ```sh
//! DISPATCH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo test -p dispatch-store --test postgres
//! ```

#![cfg(feature = "postgres")]

mod suite;

use std::io::Write as _;
use std::time::Duration;

use dispatch_core::{AssignmentId, Contractor, ContractorId, JobId, RegionId};
use dispatch_store::{
    AssignmentConflict, IdempotencyBegin, NewOutboxEvent, PageRequest, RecommendationRecord,
    RecommendationStatus, RequestId, Store, StoreError,
};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};
use suite::fixtures::*;
use test_support::TestDatabase;

/// The variable naming the server.
const URL_VAR: &str = "DISPATCH_TEST_POSTGRES_URL";

/// The first key of the store's per-shard outbox advisory locks (`OUTBOX_LOCK_CLASS` in
/// src/ops/outbox.rs; the second key is the shard).
const OUTBOX_LOCK_CLASS: i32 = 0x6473_6f62;

/// A fresh, empty database for one test, dropped when it ends; `None` when the PostgreSQL tests
/// are skipped (see the module docs). Panics when they must run and cannot.
async fn test_db() -> Option<TestDatabase> {
    TestDatabase::create(URL_VAR, "dispatch_test", "PostgreSQL store test").await
}

/// A store on this database (migrated on connect).
async fn store(db: &TestDatabase) -> Store {
    Store::connect(db.url()).await.expect("connect")
}

/// A plain connection to this database, for what the store does not offer.
async fn raw(db: &TestDatabase) -> PgConnection {
    PgConnection::connect(db.url()).await.expect("raw connect")
}

/// One `#[tokio::test]` per suite behaviour, each on its own database. Multi-threaded, so the
/// concurrency behaviours really run in parallel (and the 200-booking races really race on the
/// server's row locks and constraints).
macro_rules! postgres_suite {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(db) = test_db().await else { return };
                let store = store(&db).await;
                assert_eq!(store.backend_name(), "postgres");
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

postgres_suite!(
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

// ----- PostgreSQL-specific -----

/// No server needed: a refused connection is `Unavailable`, a bad URL is `InvalidUrl`, and
/// neither message shows the password.
#[tokio::test]
async fn unreachable_server_and_bad_urls() {
    for url in [
        "postgres://dispatch:secret@127.0.0.1:1/dispatch",
        "postgresql://dispatch:secret@127.0.0.1:1/dispatch",
    ] {
        match Store::connect(url).await {
            Err(StoreError::Unavailable(msg)) => {
                assert!(msg.contains("127.0.0.1:1/dispatch"), "{msg}");
                assert!(!msg.contains("secret"), "{msg}");
            }
            other => panic!("{url}: expected Unavailable, got {other:?}"),
        }
    }
    match Store::connect("postgres://dispatch:secret@localhost:notaport/dispatch").await {
        Err(StoreError::InvalidUrl(msg)) => {
            assert!(msg.contains("postgres://USER"), "{msg}");
            assert!(!msg.contains("secret"), "{msg}");
        }
        other => panic!("expected InvalidUrl, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_database_is_unavailable_with_the_cause() {
    let Some(db) = test_db().await else {
        return;
    };
    let url = test_support::with_database(db.url(), "dispatch_no_such_database");
    match Store::connect(&url).await {
        Err(StoreError::Unavailable(msg)) => {
            assert!(msg.contains("dispatch_no_such_database"), "{msg}");
            assert!(msg.contains("does not exist"), "{msg}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn reconnecting_keeps_data_and_migrations_are_a_no_op() {
    let Some(db) = test_db().await else {
        return;
    };
    let store = store(&db).await;
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

    // Both schemes, and several stores at once (as several nodes starting together would).
    let postgresql = db.url().replacen("postgres://", "postgresql://", 1);
    let (s1, s2) = tokio::join!(Store::connect(db.url()), Store::connect(&postgresql));
    for store in [s1.expect("reconnect"), s2.expect("reconnect")] {
        assert_eq!(store.backend_name(), "postgres");
        assert_eq!(
            store.regions().await.expect("regions"),
            vec![region("west")]
        );
        assert_eq!(store.assignment(a.id).await.expect("read"), Some(a.clone()));
        assert_eq!(store.current_config().await.expect("config"), v2);
        assert_eq!(store.pending_events(10).await.expect("outbox").len(), 1);
        store.close().await;
    }

    let mut conn = raw(&db).await;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(
        applied,
        suite::migration_files("postgres"),
        "each migration ran once"
    );
    let configs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scoring_configs")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(configs, 2);
    let gist: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pg_extension WHERE extname = 'btree_gist'")
            .fetch_one(&mut conn)
            .await
            .expect("count");
    assert_eq!(gist, 1);
}

/// Raw SQL, bypassing the store: the database refuses overlapping live bookings of a contractor
/// and a second live assignment of a job, and allows touching slots and ended history.
#[tokio::test]
async fn the_database_itself_refuses_double_booking() {
    let Some(db) = test_db().await else {
        return;
    };
    let store = store(&db).await;
    let w = world(&store, 2, 3).await;
    let mut conn = raw(&db).await;
    let insert = |n: u128, job: usize, contractor: usize, start: u32, end: u32, status: &str| {
        let sql = format!(
            "INSERT INTO assignments (id, job_id, contractor_id, audit_id, start_utc, end_utc, source, status) \
             VALUES ('{}', '{}', '{}', '{}', '2026-12-01T{start:02}:00:00Z', '2026-12-01T{end:02}:00:00Z', 'manual', '{status}')",
            AssignmentId::from_u128(n),
            w.jobs[job].id,
            w.contractors[contractor].id,
            w.audits[job].audit_id,
        );
        sqlx::query(AssertSqlSafe(sql))
    };
    insert(1, 0, 0, 16, 18, "live")
        .execute(&mut conn)
        .await
        .expect("first booking");
    // Overlapping, same contractor, other job.
    let e = insert(2, 1, 0, 17, 19, "live")
        .execute(&mut conn)
        .await
        .expect_err("overlap refused");
    let db_err = e.as_database_error().expect("database error");
    assert_eq!(db_err.code().as_deref(), Some("23P01"), "{e}");
    assert_eq!(db_err.constraint(), Some("assignments_no_overlap"));
    // Same job, other contractor.
    let e = insert(3, 0, 1, 9, 10, "live")
        .execute(&mut conn)
        .await
        .expect_err("second live assignment refused");
    let db_err = e.as_database_error().expect("database error");
    assert_eq!(db_err.code().as_deref(), Some("23505"), "{e}");
    assert_eq!(db_err.constraint(), Some("assignments_one_live_per_job"));
    // Touching is not overlapping; ended rows are history and block nothing.
    insert(4, 1, 0, 18, 19, "live")
        .execute(&mut conn)
        .await
        .expect("touching slot");
    insert(5, 2, 0, 16, 19, "unassigned")
        .execute(&mut conn)
        .await
        .expect("ended row");
    insert(6, 0, 1, 9, 10, "cancelled")
        .execute(&mut conn)
        .await
        .expect("ended row");
    // An empty or reversed slot.
    let e = insert(7, 2, 1, 12, 12, "live")
        .execute(&mut conn)
        .await
        .expect_err("empty slot refused");
    assert_eq!(
        e.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("23514")
    );
}

/// Polls until a session of this database waits on a lock (the store's statement is blocked).
async fn wait_until_blocked(conn: &mut PgConnection) {
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut *conn)
        .await
        .expect("pg_stat_activity");
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the store's statement never blocked");
}

/// A writer that skips the store's row locks commits a conflicting row while the store's
/// insert waits on it: the constraint violations come back as the same `AssignmentConflict`s,
/// `ContractorBusy` naming the other writer's assignment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constraint_violations_are_reported_as_assignment_conflicts() {
    let Some(db) = test_db().await else {
        return;
    };
    let store = store(&db).await;
    let w = world(&store, 3, 3).await;
    let mut observer = raw(&db).await;

    // 1. Contractor 0, 16:00–18:00, inserted by another writer and not yet committed.
    let mut other = raw(&db).await;
    let mut tx = other.begin().await.expect("begin");
    let theirs = AssignmentId::from_u128(0xE1);
    sqlx::query(
        "INSERT INTO assignments (id, job_id, contractor_id, audit_id, start_utc, end_utc, source, status) \
         VALUES ($1, $2, $3, $4, $5, $6, 'manual', 'live')",
    )
    .bind(theirs.as_uuid())
    .bind(w.jobs[0].id.as_uuid())
    .bind(w.contractors[0].id.as_uuid())
    .bind(w.audits[0].audit_id.as_uuid())
    .bind(at(16, 0))
    .bind(at(18, 0))
    .execute(&mut *tx)
    .await
    .expect("their insert");
    let ours = assignment(
        1,
        &w.jobs[1],
        &w.contractors[0],
        w.audits[1].audit_id,
        at(17, 0),
        at(19, 0),
    );
    let task = {
        let store = store.clone();
        let ours = ours.clone();
        tokio::spawn(async move {
            store
                .create_assignment(&ours, &decision(&ours), &[job_assigned(&ours, "west")])
                .await
        })
    };
    wait_until_blocked(&mut observer).await;
    tx.commit().await.expect("their commit");
    match task.await.expect("task") {
        Err(StoreError::Assignment(AssignmentConflict::ContractorBusy { conflicting })) => {
            assert_eq!(conflicting, theirs)
        }
        other => panic!("expected ContractorBusy, got {other:?}"),
    }

    // 2. Job 2, live for contractor 1 by another writer, not yet committed (and the job's
    //    status not updated, as a careless writer would).
    let mut tx = other.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO assignments (id, job_id, contractor_id, audit_id, start_utc, end_utc, source, status) \
         VALUES ($1, $2, $3, $4, $5, $6, 'manual', 'live')",
    )
    .bind(AssignmentId::from_u128(0xE2).as_uuid())
    .bind(w.jobs[2].id.as_uuid())
    .bind(w.contractors[1].id.as_uuid())
    .bind(w.audits[2].audit_id.as_uuid())
    .bind(at(8, 0))
    .bind(at(9, 0))
    .execute(&mut *tx)
    .await
    .expect("their insert");
    let ours = assignment(
        2,
        &w.jobs[2],
        &w.contractors[2],
        w.audits[2].audit_id,
        at(8, 0),
        at(9, 0),
    );
    let task = {
        let store = store.clone();
        let ours = ours.clone();
        tokio::spawn(async move {
            store
                .create_assignment(&ours, &decision(&ours), &[job_assigned(&ours, "west")])
                .await
        })
    };
    wait_until_blocked(&mut observer).await;
    tx.commit().await.expect("their commit");
    match task.await.expect("task") {
        Err(StoreError::Assignment(AssignmentConflict::JobAlreadyAssigned)) => {}
        other => panic!("expected JobAlreadyAssigned, got {other:?}"),
    }

    // Neither refusal left anything behind.
    assert_eq!(store.pending_events(10).await.expect("outbox"), vec![]);
    assert_eq!(
        store
            .contractor_assignments(w.contractors[2].id, at(0, 0), at(23, 0))
            .await
            .expect("calendar"),
        vec![]
    );
}

/// While one transaction holds a shard's outbox lock (appending, not yet committed), another
/// store write with events of that shard waits for it; so a later sequence is never visible
/// before an earlier one in a shard. A write of another shard does not wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outbox_sequences_follow_commit_order() {
    let Some(db) = test_db().await else {
        return;
    };
    let store = store(&db).await;
    let w = world(&store, 1, 1).await;
    const N: u128 = 60;
    for n in 0..=N + 1 {
        store
            .create_recommendation(&pending_recommendation(n, w.jobs[0].id))
            .await
            .expect("create");
    }

    let west = i32::from(dispatch_store::outbox_shard("west"));
    // 0. Another shard's appender holds its lock: ours does not wait for it.
    let mut other = raw(&db).await;
    let mut tx = other.begin().await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(OUTBOX_LOCK_CLASS)
        .bind((west + 1) % 8)
        .execute(&mut *tx)
        .await
        .expect("lock another shard");
    tokio::time::timeout(
        Duration::from_secs(10),
        store.fail_recommendation(RequestId::from_u128(N + 1), "x", &[event("Parallel")]),
    )
    .await
    .expect("a write of another shard does not wait")
    .expect("fail");
    tx.rollback().await.expect("rollback");
    let parallel = store.pending_events(10).await.expect("outbox");
    store
        .mark_events_sent(&parallel.iter().map(|e| e.sequence).collect::<Vec<_>>())
        .await
        .expect("mark");

    // 1. Another appender holds the shard's lock: ours waits, then gets the next sequence.
    let mut observer = raw(&db).await;
    let mut tx = other.begin().await.expect("begin");
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(OUTBOX_LOCK_CLASS)
        .bind(west)
        .execute(&mut *tx)
        .await
        .expect("lock");
    let theirs: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (shard, channels, target, payload) \
         VALUES ($1, '{/x}', 'Theirs', '{}') RETURNING sequence",
    )
    .bind(west)
    .fetch_one(&mut *tx)
    .await
    .expect("their event");
    let task = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .fail_recommendation(RequestId::from_u128(0), "x", &[event("Ours")])
                .await
        })
    };
    wait_until_blocked(&mut observer).await;
    assert_eq!(store.pending_events(10).await.expect("outbox"), vec![]);
    tx.commit().await.expect("their commit");
    task.await.expect("task").expect("fail");
    let events = store.pending_events(10).await.expect("outbox");
    assert_eq!(
        events
            .iter()
            .map(|e| (e.sequence, e.target.as_str()))
            .collect::<Vec<_>>(),
        vec![(theirs, "Theirs"), (theirs + 1, "Ours")]
    );

    // 2. Many concurrent appenders while a reader watches: every snapshot of the outbox is a
    //    gap-free run of sequences (nothing rolls back here), so a relay reading "after the last
    //    sequence I saw" would never skip one.
    let first = theirs;
    let writers: Vec<_> = (1..N)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .fail_recommendation(RequestId::from_u128(n), "x", &[event("A"), event("B")])
                    .await
            })
        })
        .collect();
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut snapshots = 0;
            loop {
                let seen: Vec<i64> = store
                    .pending_events(1000)
                    .await
                    .expect("outbox")
                    .iter()
                    .map(|e| e.sequence)
                    .collect();
                let expected: Vec<i64> = (first..first + seen.len() as i64).collect();
                assert_eq!(seen, expected, "a gap in the visible outbox");
                snapshots += 1;
                if seen.len() as u128 == 2 + 2 * (N - 1) {
                    return snapshots;
                }
            }
        })
    };
    for w in writers {
        w.await.expect("task").expect("fail");
    }
    let snapshots = reader.await.expect("reader");
    assert!(snapshots > 1);
}

fn event(target: &str) -> NewOutboxEvent {
    NewOutboxEvent::new(
        "west",
        ["/dispatch/west"],
        target,
        payload(serde_json::json!({"t": target})),
    )
}

fn pending_recommendation(n: u128, job: JobId) -> RecommendationRecord {
    RecommendationRecord {
        request_id: RequestId::from_u128(n),
        job_id: job,
        region: RegionId::new("west"),
        status: RecommendationStatus::Pending,
        limit: 5,
        auto_assign: false,
        requested_by: "dispatcher-1".into(),
        requested_at: at(7, 0),
        config_version: None,
        generated_at: None,
        audit_id: None,
        candidates: vec![],
        excluded: vec![],
        excluded_counts: Default::default(),
        error: None,
    }
}

/// A genuine serialization failure from the server is retryable (so a 503, not a 500).
#[tokio::test]
async fn serialization_failures_are_retryable() {
    let Some(db) = test_db().await else {
        return;
    };
    let mut a = raw(&db).await;
    let mut b = raw(&db).await;
    sqlx::query("CREATE TABLE t (n int)")
        .execute(&mut a)
        .await
        .expect("table");
    for conn in [&mut a, &mut b] {
        sqlx::query("BEGIN ISOLATION LEVEL SERIALIZABLE")
            .execute(&mut *conn)
            .await
            .expect("begin");
        sqlx::query("SELECT COUNT(*) FROM t")
            .execute(&mut *conn)
            .await
            .expect("read");
    }
    sqlx::query("INSERT INTO t VALUES (1)")
        .execute(&mut a)
        .await
        .expect("write");
    sqlx::query("INSERT INTO t VALUES (2)")
        .execute(&mut b)
        .await
        .expect("write");
    sqlx::query("COMMIT").execute(&mut a).await.expect("commit");
    let err = sqlx::query("COMMIT")
        .execute(&mut b)
        .await
        .expect_err("serialization failure");
    assert_eq!(
        err.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("40001")
    );
    assert!(StoreError::Database(err).is_retryable());
}

/// Found by the chaos soak (`scripts/soak`, seed 42): `pg_terminate_backend` of a session in
/// the middle of a store operation failed it with `57P01` (admin_shutdown), which was answered
/// 500. A lost session is retryable (503), and the store's next operation gets a new session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_terminated_under_an_operation_is_retryable() {
    let Some(db) = test_db().await else {
        return;
    };
    let store = store(&db).await;
    let mut blocker = raw(&db).await;
    let mut admin = raw(&db).await;
    sqlx::query("BEGIN")
        .execute(&mut blocker)
        .await
        .expect("begin");
    sqlx::query("LOCK TABLE regions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .expect("lock");
    let writer = {
        let store = store.clone();
        tokio::spawn(async move { store.create_region(&region("north")).await })
    };
    wait_until_blocked(&mut admin).await;
    let terminated: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(&mut admin)
    .await
    .expect("terminate");
    assert_eq!(terminated, 1, "the store's blocked session");
    let err = writer
        .await
        .expect("writer task")
        .expect_err("its session was terminated");
    assert!(err.is_retryable(), "a lost session is retryable: {err:?}");
    sqlx::query("ROLLBACK")
        .execute(&mut blocker)
        .await
        .expect("rollback");
    store
        .create_region(&region("north"))
        .await
        .expect("the retry succeeds on a new session");
    assert!(store.region(&"north".into()).await.expect("read").is_some());
}

/// PostgreSQL cannot store U+0000 in text or jsonb: that is bad input (`Invalid`), not a
/// database failure.
#[tokio::test]
async fn nul_characters_are_invalid_input() {
    let Some(db) = test_db().await else {
        return;
    };
    let store = store(&db).await;
    store.create_region(&region("west")).await.expect("region");
    let mut named = contractor(1, "west");
    named.name = "Ana\0Ruiz".into();
    let r = store.create_contractor(&named).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    let r = store.region(&RegionId::new("we\0st")).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    // In a document only (jsonb).
    let mut skilled: Contractor = contractor(2, "west");
    skilled.skills[0].name = dispatch_core::SkillName::new("plumb\0ing");
    let r = store.create_contractor(&skilled).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    assert_eq!(
        store
            .list_contractors(None, PageRequest::default())
            .await
            .expect("list")
            .items,
        vec![]
    );
}

/// `timestamptz` keeps microseconds: finer digits of an assignment's times are dropped.
#[tokio::test]
async fn assignment_times_keep_microseconds() {
    let Some(db) = test_db().await else {
        return;
    };
    let store = store(&db).await;
    let w = world(&store, 1, 1).await;
    let start = at(16, 0) + chrono::Duration::nanoseconds(123_456_789);
    let mut a = assignment(
        1,
        &w.jobs[0],
        &w.contractors[0],
        w.audits[0].audit_id,
        start,
        at(17, 0),
    );
    store
        .create_assignment(&a, &decision(&a), &[])
        .await
        .expect("assign");
    a.start_utc = at(16, 0) + chrono::Duration::microseconds(123_456);
    assert_eq!(store.assignment(a.id).await.expect("read"), Some(a));
}

#[tokio::test]
async fn orphaned_idempotency_claims_are_taken_over() {
    let Some(db) = test_db().await else {
        return;
    };
    let store = store(&db).await;
    assert_eq!(
        store
            .idempotency_begin("jobs", "k", "h")
            .await
            .expect("begin"),
        IdempotencyBegin::Started
    );
    // The claim's process died six minutes ago.
    sqlx::query("UPDATE idempotency_keys SET updated_at = now() - interval '6 minutes'")
        .execute(&mut raw(&db).await)
        .await
        .expect("age");
    let mut tasks = vec![];
    for _ in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.idempotency_begin("jobs", "k", "h").await
        }));
    }
    let mut started = 0;
    for t in tasks {
        match t.await.expect("task").expect("begin") {
            IdempotencyBegin::Started => started += 1,
            IdempotencyBegin::InProgress => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started, 1, "exactly one retry takes the claim over");
}

#[tokio::test]
async fn corrupt_rows_are_errors_not_panics() {
    let Some(db) = test_db().await else {
        return;
    };
    let store = store(&db).await;
    let w = world(&store, 1, 1).await;
    let a = assignment(
        1,
        &w.jobs[0],
        &w.contractors[0],
        w.audits[0].audit_id,
        at(16, 0),
        at(17, 0),
    );
    store
        .create_assignment(&a, &decision(&a), &[])
        .await
        .expect("assign");
    let mut conn = raw(&db).await;
    for sql in [
        "UPDATE contractors SET body = '{\"not\": \"a contractor\"}'",
        "UPDATE jobs SET body = '{\"id\": 5}'",
        "UPDATE scoring_configs SET body = '[]'",
        "UPDATE regions SET time_zone = 'Mars/Olympus'",
        "UPDATE audits SET decision = '\"nope\"'",
    ] {
        sqlx::query(sql).execute(&mut conn).await.expect("corrupt");
    }
    let r = store.contractor(w.contractors[0].id).await;
    assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
    let r = store.job(w.jobs[0].id).await;
    assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
    let r = store.current_config().await;
    assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
    let r = store.regions().await;
    assert!(matches!(r, Err(StoreError::Corrupt(_))), "{r:?}");
    let r = store.audit(w.audits[0].audit_id).await;
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

/// The first key of a shard's relay lease (`RELAY_SHARD_CLASS` in src/postgres/lease.rs).
const RELAY_SHARD_CLASS: i64 = 0x6473_726c;

/// The pid of the session holding each shard's relay lease in this database (a two-key
/// advisory lock shows in `pg_locks` as classid = first key, objid = second, objsubid = 2).
async fn shard_holders(conn: &mut PgConnection) -> std::collections::BTreeMap<u16, i32> {
    let rows: Vec<(i64, i32)> = sqlx::query_as(
        "SELECT l.objid::bigint, l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
         WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.granted \
           AND l.classid::bigint = $1 AND l.objsubid = 2",
    )
    .bind(RELAY_SHARD_CLASS)
    .fetch_all(conn)
    .await
    .expect("pg_locks");
    rows.into_iter()
        .map(|(shard, pid)| (u16::try_from(shard).expect("a shard"), pid))
        .collect()
}

/// Tries to take `shard` on `lease` every 20 ms for up to 5 s: a dropped lease's session ends
/// a moment after its socket closes. Returns how long it took.
async fn take_within_5s(lease: &mut dispatch_store::RelayLease, shard: u16) -> Duration {
    let started = std::time::Instant::now();
    for _ in 0..250 {
        if lease.try_take(shard).await.expect("try") {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("shard {shard} did not become free within 5 s");
}

/// Two stores (two nodes) on one database: each shard's lease is held by one node at a time,
/// on a dedicated session outside the pool; the survey counts both nodes and every taken shard;
/// giving up, releasing or dropping a lease frees its shards for the other node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_leases_are_exclusive_across_nodes() {
    let Some(db) = test_db().await else {
        return;
    };
    let (first, second) = (store(&db).await, store(&db).await);
    let mut admin = raw(&db).await;
    assert!(shard_holders(&mut admin).await.is_empty());

    let mut one = first.relay_lease().await.expect("open one");
    let mut two = second.relay_lease().await.expect("open two");
    let survey = one.survey().await.expect("survey");
    assert_eq!(survey.nodes, 2, "both nodes are live");
    assert!(survey.taken.is_empty());
    for shard in 0..4 {
        assert!(one.try_take(shard).await.expect("take"));
        assert!(
            !two.try_take(shard).await.expect("try"),
            "shard {shard} is one's"
        );
    }
    for shard in 4..8 {
        assert!(two.try_take(shard).await.expect("take"));
    }
    let every: std::collections::BTreeSet<u16> = (0..8).collect();
    assert_eq!(two.survey().await.expect("survey").taken, every);
    assert_eq!(*one.held(), (0..4).collect());
    // A third node counts too.
    let third = store(&db).await;
    let mut three = third.relay_lease().await.expect("open three");
    assert_eq!(three.survey().await.expect("survey").nodes, 3);

    // Session-level locks on a session of its own per node, named for operators, not pooled.
    let holders = shard_holders(&mut admin).await;
    let pid_one = holders[&0];
    assert!((0..4).all(|s| holders[&s] == pid_one));
    assert!((4..8).all(|s| holders[&s] != pid_one));
    let (name, state): (String, String) =
        sqlx::query_as("SELECT application_name, state FROM pg_stat_activity WHERE pid = $1")
            .bind(pid_one)
            .fetch_one(&mut admin)
            .await
            .expect("pg_stat_activity");
    assert_eq!(name, "dispatch relay lease");
    assert_eq!(
        state, "idle",
        "not inside a transaction: the locks are the session's"
    );
    // The pools keep working (and are not what holds them): close them, the leases stay.
    first.ping().await.expect("ping");
    first.close().await;
    assert!(one.still_held().await);
    assert_eq!(shard_holders(&mut admin).await[&0], pid_one);

    // Giving a shard up frees it at once.
    one.give_up(1).await.expect("give up");
    assert!(three.try_take(1).await.expect("free after give up"));
    // `release` frees every shard at once: no waiting for the server to notice a closed socket.
    two.release().await;
    for shard in 4..8 {
        assert!(three.try_take(shard).await.expect("free after release"));
    }
    assert_eq!(three.survey().await.expect("survey").nodes, 2);
    // Dropping a lease closes its connection: its shards are free a moment later.
    drop(one);
    take_within_5s(&mut three, 0).await;
    assert_eq!(three.survey().await.expect("survey").nodes, 1);
    second.close().await;
    third.close().await;
}

/// A lease's session is killed (as the server does when the node's process dies, or an
/// administrator terminates it): the survey fails and the lease holds nothing, for good, and
/// another node takes its shards over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_lease_is_lost_with_its_session() {
    let Some(db) = test_db().await else {
        return;
    };
    let (first, second) = (store(&db).await, store(&db).await);
    let mut admin = raw(&db).await;
    let mut lease = first.relay_lease().await.expect("open");
    assert!(lease.try_take(2).await.expect("take"));
    let mut other = second.relay_lease().await.expect("open other");
    assert!(!other.try_take(2).await.expect("try"));

    let holder = shard_holders(&mut admin).await[&2];
    // With a timeout, pg_terminate_backend waits until the session has ended (PostgreSQL 14+).
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 5000)")
        .bind(holder)
        .fetch_one(&mut admin)
        .await
        .expect("terminate");
    assert!(terminated);
    assert!(shard_holders(&mut admin).await.is_empty());

    assert!(lease.survey().await.is_err(), "the session is gone");
    assert!(lease.held().is_empty());
    assert!(!lease.still_held().await, "lost for good");
    assert!(lease.try_take(3).await.is_err());
    assert!(other.try_take(2).await.expect("free"));
    assert_eq!(other.survey().await.expect("survey").nodes, 1);
    // The first node's pool was not affected, and it may open a new session.
    first.ping().await.expect("ping");
    let mut again = first.relay_lease().await.expect("reopen");
    assert!(!again.try_take(2).await.expect("try"));
    // Releasing a lost lease is harmless.
    lease.release().await;
    assert!(other.still_held().await);
    first.close().await;
    second.close().await;
}

/// Set in the child process of `relay_lease_is_freed_when_its_process_is_killed`: the database
/// URL the child takes every shard on.
const LEASE_CHILD_VAR: &str = "DISPATCH_TEST_LEASE_CHILD_URL";

/// A node holding every shard dies by `kill -9` (this test binary, re-run as a child that takes
/// them and sleeps): the kernel closes its socket, the server ends the session and frees the
/// locks at once, and another node takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_lease_is_freed_when_its_process_is_killed() {
    if let Ok(url) = std::env::var(LEASE_CHILD_VAR) {
        // The child: hold every shard until killed.
        let store = Store::connect(&url).await.expect("child connect");
        let mut lease = store.relay_lease().await.expect("child open");
        let mut all = true;
        for shard in 0..dispatch_store::OUTBOX_SHARDS {
            all &= lease.try_take(shard).await.expect("child try");
        }
        println!("{}", if all { "HOLDING" } else { "REFUSED" });
        std::io::stdout().flush().expect("flush");
        tokio::time::sleep(Duration::from_secs(60)).await;
        panic!("the child was not killed");
    }
    let Some(db) = test_db().await else {
        return;
    };
    let store = store(&db).await;
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "relay_lease_is_freed_when_its_process_is_killed",
            "--exact",
            "--nocapture",
        ])
        .env(LEASE_CHILD_VAR, db.url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("child stdout");
    let said = tokio::task::spawn_blocking(move || {
        use std::io::BufRead as _;
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l == "HOLDING" || l == "REFUSED")
    });
    let said = tokio::time::timeout(Duration::from_secs(30), said)
        .await
        .expect("the child answered within 30 s")
        .expect("reader");
    assert_eq!(said.as_deref(), Some("HOLDING"));
    let mut lease = store.relay_lease().await.expect("open");
    let survey = lease.survey().await.expect("survey");
    assert_eq!(survey.nodes, 2);
    assert_eq!(survey.taken.len(), 8);
    assert!(!lease.try_take(5).await.expect("try"));

    child.kill().expect("kill -9"); // SIGKILL: no destructor, no polite close
    child.wait().expect("reap");
    let took = take_within_5s(&mut lease, 5).await;
    println!("shard 5 taken {took:?} after the holder's SIGKILL");
    for shard in 0..dispatch_store::OUTBOX_SHARDS {
        assert!(lease.try_take(shard).await.expect("take"), "shard {shard}");
    }
    assert_eq!(lease.survey().await.expect("survey").nodes, 1);
    store.close().await;
}

/// The store's shard of a region (Rust, on append) and PostgreSQL's `dispatch_outbox_shard`
/// (migration 5, which placed the rows written before it) agree, and every shard is used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_shards_agree_with_the_database_function() {
    let Some(db) = test_db().await else {
        return;
    };
    let _store = store(&db).await;
    let mut admin = raw(&db).await;
    let mut used = std::collections::BTreeSet::new();
    let names: Vec<String> = ["", "west", "east", "low-voltage_2", "a"]
        .into_iter()
        .map(str::to_owned)
        .chain((0..200).map(|i| format!("region-{i}")))
        .collect();
    for name in &names {
        let theirs: i32 = sqlx::query_scalar("SELECT dispatch_outbox_shard($1)")
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .expect("dispatch_outbox_shard");
        let ours = dispatch_store::outbox_shard(name);
        assert_eq!(i32::from(ours), theirs, "{name:?}");
        used.insert(ours);
    }
    assert_eq!(used.len(), 8, "every shard is some region's");
}

/// The relay's and the nodes' reads use an index, whatever the table size: a range scan from a
/// shard's cursor, backwards for its last sent sequence (of `(shard, sequence)` or of the
/// primary key), and the partial index of the unsent for a shard's pending events.
#[tokio::test]
async fn outbox_reads_use_the_shard_indexes() {
    let Some(db) = test_db().await else {
        return;
    };
    let _store = store(&db).await;
    let mut conn = raw(&db).await;
    sqlx::query(
        "INSERT INTO outbox (shard, channels, target, payload, sent_at) \
         SELECT n % 8, '{/x}', 'X', '{}', CASE WHEN n <= 19000 THEN now() END \
         FROM generate_series(1, 20000) n",
    )
    .execute(&mut conn)
    .await
    .expect("fill");
    sqlx::query("ANALYZE outbox")
        .execute(&mut conn)
        .await
        .expect("analyze");
    for (sql, index) in [
        (
            "EXPLAIN SELECT sequence, shard, channels, target, payload, created_at FROM outbox \
             WHERE shard = 3 AND sequence > 15000 ORDER BY sequence LIMIT 256",
            "outbox_shard_sequence",
        ),
        (
            "EXPLAIN SELECT sequence, shard, channels, target, payload, created_at FROM outbox \
             WHERE shard = 3 AND sequence > 15000 AND sent_at IS NOT NULL ORDER BY sequence LIMIT 256",
            "outbox_shard_sequence",
        ),
        (
            "EXPLAIN SELECT sequence FROM outbox WHERE shard = 3 AND sent_at IS NOT NULL \
             ORDER BY sequence DESC LIMIT 1",
            "outbox_shard_sequence",
        ),
        (
            "EXPLAIN SELECT sequence, shard, channels, target, payload, created_at FROM outbox \
             WHERE shard = 3 AND sent_at IS NULL ORDER BY sequence LIMIT 256",
            "outbox_shard_pending",
        ),
    ] {
        let plan: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_all(&mut conn)
            .await
            .expect("explain");
        let plan = plan.join("\n");
        // The planner may also walk the primary key from the cursor, filtering by shard (it
        // does when a shard is an eighth of a busy table); never the whole table.
        assert!(
            (plan.contains(index) || plan.contains("using outbox_pkey"))
                && !plan.contains("Seq Scan"),
            "{sql}\n{plan}"
        );
    }
}
