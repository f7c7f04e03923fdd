//! The backend-independent store suite: one `pub async fn` per behaviour, each taking a fresh,
//! empty [`Store`]. `tests/sqlite.rs` runs every one against an SQLite file; a PostgreSQL runner
//! will call the same functions with a store on a fresh database.

#![allow(dead_code)]

pub mod fixtures;

use std::collections::HashSet;

use dispatch_core::{
    AssignmentId, AuditId, Breakdown, Candidate, ContractorId, Exclusion, ExclusionReason, JobId,
    JobStatus, NewScoringConfig, RegionId, ScoringConfig, SkillName, TimeOff, Travel, TravelOrigin,
    TravelSource,
};
use dispatch_store::{
    AppliedVisit, AssignmentConflict, IdempotencyBegin, NewOutboxEvent, PageRequest,
    PlanApplication, PlanApplyClaim, PlanConflict, PlanProgress, PlanRecord, PlanStatus,
    RecommendationRecord, RecommendationStatus, RequestId, Store, StoreError,
};
use fixtures::*;

/// How many migrations the `backend` tree (`sqlite`, `postgres`) has: each runs once.
pub fn migration_files(backend: &str) -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let files = std::fs::read_dir(&dir).expect("the migrations directory");
    files
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "sql"))
        .count() as i64
}

/// Every behaviour in the suite, for runners that want to list them.
pub const ALL: &[&str] = &[
    "ping_and_backend_name",
    "regions_round_trip",
    "contractors_crud",
    "time_off_is_appended",
    "contractors_page_by_name",
    "contractor_names_sort_by_code_point",
    "jobs_round_trip",
    "jobs_page_50_50_20",
    "invalid_cursor_is_refused",
    "cancel_job_ends_its_assignment",
    "assignment_round_trip",
    "assignment_conflicts",
    "unassign_reopens_job_and_frees_slot",
    "outbox_has_events_iff_committed",
    "assignment_with_its_audit_is_all_or_nothing",
    "concurrent_overlapping_assignments",
    "concurrent_assignments_of_one_job",
    "recommendations_lifecycle",
    "audits_round_trip",
    "config_versions",
    "concurrent_config_replacements",
    "idempotency_states",
    "bulk_creates_are_all_or_nothing",
    "events_after_reads_the_outbox_by_sequence",
    "events_after_cursor_misses_nothing_under_concurrent_writers",
    "relay_lease_is_granted_and_held",
    "deployment_id_is_random_and_stable",
    "pruning_keeps_unsent_events_and_the_newest_sent_one",
    "plans_lifecycle",
    "moving_a_booking_is_all_or_nothing",
    "exclusions_are_stored_once_for_result_and_audit",
];

/// The outbox shard of region `west`, where the fixtures' events go.
fn west() -> u16 {
    dispatch_store::outbox_shard("west")
}

pub async fn ping_and_backend_name(store: Store) {
    store.ping().await.expect("ping");
    assert!(["sqlite", "postgres"].contains(&store.backend_name()));
}

pub async fn regions_round_trip(store: Store) {
    assert_eq!(store.regions().await.expect("regions"), vec![]);
    store.create_region(&region("west")).await.expect("create");
    store.create_region(&region("east")).await.expect("create");
    assert_eq!(
        store.region(&RegionId::new("west")).await.expect("read"),
        Some(region("west"))
    );
    assert_eq!(
        store.region(&RegionId::new("north")).await.expect("read"),
        None
    );
    // By id.
    assert_eq!(
        store.regions().await.expect("regions"),
        vec![region("east"), region("west")]
    );
    let dup = store.create_region(&region("west")).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
}

pub async fn contractors_crud(store: Store) {
    store.create_region(&region("west")).await.expect("region");
    store.create_region(&region("east")).await.expect("region");
    let mut a = contractor(1, "west");
    let mut b = contractor(2, "west");
    b.active = false;
    let c = contractor(3, "east");
    for x in [&a, &b, &c] {
        store.create_contractor(x).await.expect("create");
    }
    assert_eq!(store.contractor(a.id).await.expect("read"), Some(a.clone()));
    assert_eq!(
        store
            .contractor(ContractorId::from_u128(99))
            .await
            .expect("read"),
        None
    );

    let dup = store.create_contractor(&a).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let orphan = store.create_contractor(&contractor(4, "nowhere")).await;
    assert!(matches!(orphan, Err(StoreError::Conflict(_))), "{orphan:?}");

    // Inactive contractors are included: the engine excludes them with a reason.
    let west = store
        .contractors_in_region(&RegionId::new("west"))
        .await
        .expect("in region");
    assert_eq!(west, vec![a.clone(), b.clone()]);

    a.name = "Ana Ruiz".into();
    a.rating = 3.9;
    a.region = RegionId::new("east");
    assert!(store.update_contractor(&a).await.expect("update"));
    assert_eq!(store.contractor(a.id).await.expect("read"), Some(a.clone()));
    assert_eq!(
        store
            .contractors_in_region(&RegionId::new("east"))
            .await
            .expect("in region")
            .len(),
        2
    );
    assert!(
        !store
            .update_contractor(&contractor(42, "west"))
            .await
            .expect("update")
    );
    a.region = RegionId::new("nowhere");
    let bad = store.update_contractor(&a).await;
    assert!(matches!(bad, Err(StoreError::Conflict(_))), "{bad:?}");
}

pub async fn time_off_is_appended(store: Store) {
    store.create_region(&region("west")).await.expect("region");
    let c = contractor(1, "west");
    store.create_contractor(&c).await.expect("create");
    let first = TimeOff {
        start_utc: at(8, 0),
        end_utc: at(12, 0),
        reason: "dentist".into(),
    };
    let second = TimeOff {
        start_utc: at(14, 0),
        end_utc: at(15, 0),
        reason: "vacation".into(),
    };
    let after = store
        .add_time_off(c.id, &first)
        .await
        .expect("add")
        .expect("found");
    assert_eq!(after.time_off, vec![first.clone()]);
    store.add_time_off(c.id, &second).await.expect("add");
    let stored = store.contractor(c.id).await.expect("read").expect("found");
    assert_eq!(stored.time_off, vec![first, second.clone()]);
    assert_eq!(
        store
            .add_time_off(ContractorId::from_u128(7), &second)
            .await
            .expect("add"),
        None
    );
}

pub async fn contractors_page_by_name(store: Store) {
    store.create_region(&region("west")).await.expect("region");
    store.create_region(&region("east")).await.expect("region");
    for n in 0..7 {
        store
            .create_contractor(&contractor(n, if n % 2 == 0 { "west" } else { "east" }))
            .await
            .expect("create");
    }
    let mut seen = vec![];
    let mut page = PageRequest::first(3);
    loop {
        let p = store
            .list_contractors(None, page.clone())
            .await
            .expect("page");
        assert!(p.items.len() <= 3);
        seen.extend(p.items.iter().map(|c| c.name.clone()));
        match p.next_cursor {
            Some(cursor) => page = PageRequest::after(3, cursor),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 7);

    let west = store
        .list_contractors(Some(&RegionId::new("west")), PageRequest::default())
        .await
        .expect("page");
    assert_eq!(west.items.len(), 4);
    assert_eq!(west.next_cursor, None);
    assert!(west.items.iter().all(|c| c.region.as_str() == "west"));
}

/// Names sort by Unicode code point (byte order of UTF-8, as Rust sorts strings) on every
/// backend, whatever the database's collation: upper before lower case, accents last.
pub async fn contractor_names_sort_by_code_point(store: Store) {
    store.create_region(&region("west")).await.expect("region");
    let names = [
        "zoë", "Émile", "bob", "Zed", "ana", "Ana", "Bob", "ábel", "ana ",
    ];
    for (n, name) in names.iter().enumerate() {
        let mut c = contractor(n as u128, "west");
        c.name = (*name).to_owned();
        store.create_contractor(&c).await.expect("create");
    }
    let mut seen = vec![];
    let mut page = PageRequest::first(2);
    loop {
        let p = store
            .list_contractors(Some(&RegionId::new("west")), page.clone())
            .await
            .expect("page");
        seen.extend(p.items.iter().map(|c| c.name.clone()));
        match p.next_cursor {
            Some(cursor) => page = PageRequest::after(2, cursor),
            None => break,
        }
    }
    let mut sorted: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    sorted.sort();
    assert_eq!(seen, sorted);
}

pub async fn jobs_round_trip(store: Store) {
    store.create_region(&region("west")).await.expect("region");
    let j = job(1, "west", at(16, 0));
    store.create_job(&j).await.expect("create");
    assert_eq!(store.job(j.id).await.expect("read"), Some(j.clone()));
    assert_eq!(store.job(JobId::from_u128(5)).await.expect("read"), None);
    let dup = store.create_job(&j).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let orphan = store.create_job(&job(2, "nowhere", at(16, 0))).await;
    assert!(matches!(orphan, Err(StoreError::Conflict(_))), "{orphan:?}");
}

pub async fn jobs_page_50_50_20(store: Store) {
    store.create_region(&region("west")).await.expect("region");
    store.create_region(&region("east")).await.expect("region");
    // Windows in three groups, so ties on the window start are broken by id.
    for n in 0..120u128 {
        let start = at(8 + (n % 3) as u32, 0);
        store
            .create_job(&job(n, "west", start))
            .await
            .expect("create");
    }
    store
        .create_job(&job(500, "east", at(8, 0)))
        .await
        .expect("create");

    let mut sizes = vec![];
    let mut ids = vec![];
    let mut starts = vec![];
    let mut page = PageRequest::first(50);
    loop {
        let p = store
            .list_jobs(&RegionId::new("west"), None, page.clone())
            .await
            .expect("page");
        sizes.push(p.items.len());
        ids.extend(p.items.iter().map(|j| j.id));
        starts.extend(p.items.iter().map(|j| (j.window_start_utc, j.id)));
        match p.next_cursor {
            Some(cursor) => {
                assert!(
                    cursor
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                    "URL-safe cursor: {cursor}"
                );
                page = PageRequest::after(50, cursor);
            }
            None => break,
        }
    }
    assert_eq!(sizes, vec![50, 50, 20]);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        120,
        "no duplicates"
    );
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted, "ordered by window start, then id");

    // Status filter.
    store
        .cancel_job(JobId::from_u128(0x1000_0000 + 3))
        .await
        .expect("cancel");
    let cancelled = store
        .list_jobs(
            &RegionId::new("west"),
            Some(JobStatus::Cancelled),
            PageRequest::default(),
        )
        .await
        .expect("page");
    assert_eq!(cancelled.items.len(), 1);
    assert_eq!(cancelled.items[0].status, JobStatus::Cancelled);
    let open = store
        .list_jobs(
            &RegionId::new("west"),
            Some(JobStatus::Open),
            PageRequest::first(200),
        )
        .await
        .expect("page");
    assert_eq!(open.items.len(), 119);
    assert_eq!(open.next_cursor, None);

    // Limits are clamped into 1..=200.
    let one = store
        .list_jobs(&RegionId::new("west"), None, PageRequest::first(0))
        .await
        .expect("page");
    assert_eq!(one.items.len(), 1);
    assert!(one.next_cursor.is_some());
}

pub async fn invalid_cursor_is_refused(store: Store) {
    store.create_region(&region("west")).await.expect("region");
    for n in 0..3 {
        store
            .create_job(&job(n, "west", at(9, 0)))
            .await
            .expect("create");
        store
            .create_contractor(&contractor(n, "west"))
            .await
            .expect("create");
    }
    let west = RegionId::new("west");
    for bad in [
        "",
        "garbage",
        "!!!",
        "eyJmb28iOjF9",
        "WyJqb2JzIiwiYSIsImIiXQ",
    ] {
        let r = store
            .list_jobs(&west, None, PageRequest::after(1, bad))
            .await;
        assert!(
            matches!(r, Err(StoreError::InvalidCursor)),
            "{bad:?}: {r:?}"
        );
    }
    // A contractor list's cursor is not a job list's.
    let contractors = store
        .list_contractors(None, PageRequest::first(1))
        .await
        .expect("page");
    let cursor = contractors.next_cursor.expect("more");
    let r = store
        .list_jobs(&west, None, PageRequest::after(1, cursor))
        .await;
    assert!(matches!(r, Err(StoreError::InvalidCursor)), "{r:?}");
}

pub async fn cancel_job_ends_its_assignment(store: Store) {
    let w = world(&store, 1, 3).await;
    let c = &w.contractors[0];
    // Open → cancelled.
    let cancelled = store
        .cancel_job(w.jobs[0].id)
        .await
        .expect("cancel")
        .expect("found");
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(
        store
            .job(w.jobs[0].id)
            .await
            .expect("read")
            .map(|j| j.status),
        Some(JobStatus::Cancelled)
    );
    let again = store.cancel_job(w.jobs[0].id).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(
        store
            .cancel_job(JobId::from_u128(77))
            .await
            .expect("cancel"),
        None
    );

    // Assigned → cancelled, and the assignment stops being live.
    let a = assignment(
        1,
        &w.jobs[1],
        c,
        w.audits[1].audit_id,
        at(16, 0),
        at(17, 30),
    );
    store
        .create_assignment(&a, &decision(&a), &[])
        .await
        .expect("assign");
    store.cancel_job(w.jobs[1].id).await.expect("cancel");
    assert_eq!(store.assignment(a.id).await.expect("read"), None);
    assert_eq!(
        store.job_assignment(w.jobs[1].id).await.expect("read"),
        None
    );
    // A cancelled job cannot be assigned.
    let b = assignment(2, &w.jobs[1], c, w.audits[1].audit_id, at(18, 0), at(19, 0));
    let r = store.create_assignment(&b, &decision(&b), &[]).await;
    assert!(
        matches!(
            r,
            Err(StoreError::Assignment(AssignmentConflict::JobNotOpen))
        ),
        "{r:?}"
    );
    // The slot is free for another job.
    let b = assignment(
        3,
        &w.jobs[2],
        c,
        w.audits[2].audit_id,
        at(16, 0),
        at(17, 30),
    );
    store
        .create_assignment(&b, &decision(&b), &[])
        .await
        .expect("slot freed");
}

pub async fn assignment_round_trip(store: Store) {
    let w = world(&store, 2, 3).await;
    let (c0, c1) = (&w.contractors[0], &w.contractors[1]);
    let a = assignment(
        1,
        &w.jobs[0],
        c0,
        w.audits[0].audit_id,
        at(16, 0),
        at(17, 30),
    );
    // Touching the first (ends when it starts): not an overlap.
    let b = assignment(
        2,
        &w.jobs[1],
        c0,
        w.audits[1].audit_id,
        at(17, 30),
        at(19, 0),
    );
    let c = assignment(
        3,
        &w.jobs[2],
        c1,
        w.audits[2].audit_id,
        at(16, 0),
        at(17, 0),
    );
    for x in [&a, &b, &c] {
        store
            .create_assignment(x, &decision(x), &[])
            .await
            .expect("assign");
    }
    assert_eq!(store.assignment(a.id).await.expect("read"), Some(a.clone()));
    assert_eq!(
        store
            .assignment(AssignmentId::from_u128(1))
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store.job_assignment(w.jobs[0].id).await.expect("read"),
        Some(a.clone())
    );
    assert_eq!(
        store
            .job(w.jobs[0].id)
            .await
            .expect("read")
            .map(|j| j.status),
        Some(JobStatus::Assigned)
    );
    // The decision is on the audit record.
    let audit = store
        .audit(w.audits[0].audit_id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(audit.decision, Some(decision(&a)));

    // Calendar reads: live, overlapping [from, to), by start.
    let all = store
        .contractor_assignments(c0.id, at(0, 0), at(23, 0))
        .await
        .expect("calendar");
    assert_eq!(all, vec![a.clone(), b.clone()]);
    let first_only = store
        .contractor_assignments(c0.id, at(15, 0), at(17, 30))
        .await
        .expect("calendar");
    assert_eq!(first_only, vec![a.clone()]);
    let none = store
        .contractor_assignments(c0.id, at(19, 0), at(20, 0))
        .await
        .expect("calendar");
    assert_eq!(none, vec![]);

    let bookings = store
        .region_bookings(&RegionId::new("west"), at(0, 0), at(23, 0))
        .await
        .expect("bookings");
    assert_eq!(bookings.len(), 3);
    let ba = bookings
        .iter()
        .find(|bk| bk.assignment_id == a.id)
        .expect("a booked");
    assert_eq!(ba.location, w.jobs[0].location);
    assert_eq!((ba.start_utc, ba.end_utc), (a.start_utc, a.end_utc));
    assert_eq!(ba.contractor_id, c0.id);
    assert_eq!(ba.job_id, w.jobs[0].id);
    let later = store
        .region_bookings(&RegionId::new("west"), at(17, 0), at(23, 0))
        .await
        .expect("bookings");
    assert_eq!(
        later.iter().map(|bk| bk.assignment_id).collect::<Vec<_>>(),
        vec![a.id, b.id]
    );
    assert_eq!(
        store
            .region_bookings(&RegionId::new("east"), at(0, 0), at(23, 0))
            .await
            .expect("bookings"),
        vec![]
    );
}

pub async fn assignment_conflicts(store: Store) {
    let w = world(&store, 2, 4).await;
    let (c0, c1) = (&w.contractors[0], &w.contractors[1]);
    let a = assignment(
        1,
        &w.jobs[0],
        c0,
        w.audits[0].audit_id,
        at(16, 0),
        at(17, 30),
    );
    store
        .create_assignment(&a, &decision(&a), &[])
        .await
        .expect("assign");

    let expect = |r: Result<(), StoreError>, want: AssignmentConflict| match r {
        Err(StoreError::Assignment(got)) => assert_eq!(got, want),
        other => panic!("expected {want:?}, got {other:?}"),
    };

    // Same job again, other contractor.
    let x = assignment(
        2,
        &w.jobs[0],
        c1,
        w.audits[0].audit_id,
        at(18, 0),
        at(19, 0),
    );
    expect(
        store.create_assignment(&x, &decision(&x), &[]).await,
        AssignmentConflict::JobAlreadyAssigned,
    );
    // Overlapping slot for the same contractor, other job (partial overlaps and containment).
    for (i, (s, e)) in [
        (at(15, 0), at(16, 1)),
        (at(17, 29), at(18, 0)),
        (at(16, 30), at(17, 0)),
        (at(15, 0), at(19, 0)),
    ]
    .into_iter()
    .enumerate()
    {
        let x = assignment(10 + i as u128, &w.jobs[1], c0, w.audits[1].audit_id, s, e);
        expect(
            store.create_assignment(&x, &decision(&x), &[]).await,
            AssignmentConflict::ContractorBusy { conflicting: a.id },
        );
    }
    // Unknown job, contractor, audit record.
    let mut ghost_job = job(99, "west", at(16, 0));
    ghost_job.id = JobId::from_u128(99);
    let x = assignment(
        20,
        &ghost_job,
        c1,
        w.audits[1].audit_id,
        at(16, 0),
        at(17, 0),
    );
    expect(
        store.create_assignment(&x, &decision(&x), &[]).await,
        AssignmentConflict::JobNotFound,
    );
    let ghost = contractor(99, "west");
    let x = assignment(
        21,
        &w.jobs[1],
        &ghost,
        w.audits[1].audit_id,
        at(16, 0),
        at(17, 0),
    );
    expect(
        store.create_assignment(&x, &decision(&x), &[]).await,
        AssignmentConflict::ContractorNotFound,
    );
    let x = assignment(
        22,
        &w.jobs[1],
        c1,
        AuditId::from_u128(5),
        at(16, 0),
        at(17, 0),
    );
    expect(
        store.create_assignment(&x, &decision(&x), &[]).await,
        AssignmentConflict::AuditNotFound,
    );
    // Cancelled job.
    store.cancel_job(w.jobs[2].id).await.expect("cancel");
    let x = assignment(
        23,
        &w.jobs[2],
        c1,
        w.audits[2].audit_id,
        at(16, 0),
        at(17, 0),
    );
    expect(
        store.create_assignment(&x, &decision(&x), &[]).await,
        AssignmentConflict::JobNotOpen,
    );
    // Invalid input.
    let x = assignment(
        24,
        &w.jobs[3],
        c1,
        w.audits[3].audit_id,
        at(17, 0),
        at(17, 0),
    );
    let r = store.create_assignment(&x, &decision(&x), &[]).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    let x = assignment(
        25,
        &w.jobs[3],
        c1,
        w.audits[3].audit_id,
        at(17, 0),
        at(18, 0),
    );
    let mut d = decision(&x);
    d.contractor_id = c0.id;
    let r = store.create_assignment(&x, &d, &[]).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    // A duplicate assignment id.
    let mut x = assignment(
        26,
        &w.jobs[3],
        c1,
        w.audits[3].audit_id,
        at(17, 0),
        at(18, 0),
    );
    x.id = a.id;
    let r = store.create_assignment(&x, &decision(&x), &[]).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");

    // Nothing above changed anything.
    assert_eq!(
        store
            .contractor_assignments(c0.id, at(0, 0), at(23, 0))
            .await
            .expect("calendar"),
        vec![a.clone()]
    );
    assert_eq!(
        store
            .contractor_assignments(c1.id, at(0, 0), at(23, 0))
            .await
            .expect("calendar"),
        vec![]
    );
    assert_eq!(
        store
            .job(w.jobs[3].id)
            .await
            .expect("read")
            .map(|j| j.status),
        Some(JobStatus::Open)
    );
    assert_eq!(store.pending_events(100).await.expect("outbox"), vec![]);
}

pub async fn unassign_reopens_job_and_frees_slot(store: Store) {
    let w = world(&store, 1, 2).await;
    let c = &w.contractors[0];
    let a = assignment(
        1,
        &w.jobs[0],
        c,
        w.audits[0].audit_id,
        at(16, 0),
        at(17, 30),
    );
    store
        .create_assignment(&a, &decision(&a), &[])
        .await
        .expect("assign");
    let unassigned = NewOutboxEvent::new(
        "west",
        ["/dispatch/west"],
        "JobUnassigned",
        payload(serde_json::json!({})),
    );
    let removed = store
        .delete_assignment(a.id, std::slice::from_ref(&unassigned))
        .await
        .expect("unassign");
    assert_eq!(removed, Some(a.clone()));
    assert_eq!(store.assignment(a.id).await.expect("read"), None);
    assert_eq!(
        store
            .job(w.jobs[0].id)
            .await
            .expect("read")
            .map(|j| j.status),
        Some(JobStatus::Open)
    );
    assert_eq!(
        store
            .contractor_assignments(c.id, at(0, 0), at(23, 0))
            .await
            .expect("calendar"),
        vec![]
    );
    // Again: nothing live, no event.
    assert_eq!(
        store
            .delete_assignment(a.id, std::slice::from_ref(&unassigned))
            .await
            .expect("unassign"),
        None
    );
    assert_eq!(store.pending_events(100).await.expect("outbox").len(), 1);

    // The slot is free for another job, and the job can be assigned again.
    let b = assignment(
        2,
        &w.jobs[1],
        c,
        w.audits[1].audit_id,
        at(16, 0),
        at(17, 30),
    );
    store
        .create_assignment(&b, &decision(&b), &[])
        .await
        .expect("slot free");
    let again = assignment(3, &w.jobs[0], c, w.audits[0].audit_id, at(18, 0), at(19, 0));
    store
        .create_assignment(&again, &decision(&again), &[])
        .await
        .expect("job reassignable");
}

pub async fn outbox_has_events_iff_committed(store: Store) {
    let w = world(&store, 1, 2).await;
    let c = &w.contractors[0];
    let a = assignment(
        1,
        &w.jobs[0],
        c,
        w.audits[0].audit_id,
        at(16, 0),
        at(17, 30),
    );
    let ev = job_assigned(&a, "west");
    store
        .create_assignment(&a, &decision(&a), &[ev.clone(), ev.clone()])
        .await
        .expect("assign");
    // A refused assignment leaves no event.
    let b = assignment(2, &w.jobs[1], c, w.audits[1].audit_id, at(17, 0), at(18, 0));
    let r = store
        .create_assignment(&b, &decision(&b), &[job_assigned(&b, "west")])
        .await;
    assert!(matches!(r, Err(StoreError::Assignment(_))), "{r:?}");

    let pending = store.pending_events(100).await.expect("outbox");
    assert_eq!(pending.len(), 2);
    assert!(pending[0].sequence < pending[1].sequence);
    assert_eq!(pending[0].target, "JobAssigned");
    assert_eq!(pending[0].channels, ev.channels);
    assert_eq!(parsed(&pending[0].payload), parsed(&ev.payload));
    assert_eq!(
        store.pending_events(1).await.expect("outbox"),
        vec![pending[0].clone()],
        "oldest first, limited"
    );

    store
        .mark_events_sent(&[pending[0].sequence, 123_456])
        .await
        .expect("mark");
    assert_eq!(
        store.pending_events(100).await.expect("outbox"),
        vec![pending[1].clone()]
    );
    store.mark_events_sent(&[]).await.expect("mark nothing");
    store
        .mark_events_sent(&[pending[1].sequence])
        .await
        .expect("mark");
    assert_eq!(store.pending_events(100).await.expect("outbox"), vec![]);

    // Sequences keep increasing after everything was sent.
    store
        .delete_assignment(
            a.id,
            &[NewOutboxEvent::new(
                "west",
                ["/dispatch/west"],
                "X",
                payload(serde_json::json!(1)),
            )],
        )
        .await
        .expect("unassign");
    let next = store.pending_events(100).await.expect("outbox");
    assert_eq!(next.len(), 1);
    assert!(next[0].sequence > pending[1].sequence);
}

/// An assignment made with its own audit record stores both or neither.
pub async fn assignment_with_its_audit_is_all_or_nothing(store: Store) {
    let w = world(&store, 1, 2).await;
    let c = &w.contractors[0];
    let first_audit = audit(101, &w.jobs[0]);
    let a = assignment(
        11,
        &w.jobs[0],
        c,
        first_audit.audit_id,
        at(16, 0),
        at(17, 0),
    );
    store
        .create_assignment_with_audit(&first_audit, &a, &decision(&a), &[job_assigned(&a, "west")])
        .await
        .expect("assign with audit");
    let stored = store
        .audit(first_audit.audit_id)
        .await
        .expect("read")
        .expect("audit stored");
    assert_eq!(stored.decision.map(|d| d.assignment_id), Some(a.id));
    // Overlaps the first: refused, and its audit record is not left behind.
    let second_audit = audit(102, &w.jobs[1]);
    let b = assignment(
        12,
        &w.jobs[1],
        c,
        second_audit.audit_id,
        at(16, 30),
        at(17, 30),
    );
    let refused = store
        .create_assignment_with_audit(
            &second_audit,
            &b,
            &decision(&b),
            &[job_assigned(&b, "west")],
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Assignment(_))),
        "{refused:?}"
    );
    assert_eq!(
        store.audit(second_audit.audit_id).await.expect("read"),
        None
    );
    assert_eq!(store.pending_events(10).await.expect("outbox").len(), 1);
    // The audit record must be the one the assignment names.
    let mismatched = store
        .create_assignment_with_audit(&second_audit, &a, &decision(&a), &[])
        .await;
    assert!(
        matches!(mismatched, Err(StoreError::Invalid(_))),
        "{mismatched:?}"
    );
}

/// 200 concurrent assignments of one contractor to 200 different jobs, all overlapping: exactly
/// one wins.
pub async fn concurrent_overlapping_assignments(store: Store) {
    let w = world(&store, 1, 200).await;
    let c = w.contractors[0].clone();
    let mut tasks = vec![];
    for (i, (j, audit)) in w.jobs.iter().zip(&w.audits).enumerate() {
        // Every slot overlaps every other: all contain 16:30–16:31.
        let start = at(16, 0) + chrono::Duration::seconds(i as i64);
        let a = assignment(i as u128, j, &c, audit.audit_id, start, at(16, 31));
        let ev = job_assigned(&a, "west");
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.create_assignment(&a, &decision(&a), &[ev]).await
        }));
    }
    let (mut ok, mut busy) = (0, 0);
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) => ok += 1,
            Err(StoreError::Assignment(AssignmentConflict::ContractorBusy { .. })) => busy += 1,
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!((ok, busy), (1, 199));
    let live = store
        .contractor_assignments(c.id, at(0, 0), at(23, 0))
        .await
        .expect("calendar");
    assert_eq!(live.len(), 1, "one row");
    assert_eq!(store.pending_events(1000).await.expect("outbox").len(), 1);
    let assigned = store
        .list_jobs(
            &RegionId::new("west"),
            Some(JobStatus::Assigned),
            PageRequest::first(200),
        )
        .await
        .expect("jobs");
    assert_eq!(assigned.items.len(), 1);
    assert_eq!(assigned.items[0].id, live[0].job_id);
}

/// 200 concurrent assignments of one job to 200 different contractors: exactly one wins.
pub async fn concurrent_assignments_of_one_job(store: Store) {
    let w = world(&store, 200, 1).await;
    let j = w.jobs[0].clone();
    let audit = w.audits[0].audit_id;
    let mut tasks = vec![];
    for (i, c) in w.contractors.iter().enumerate() {
        let a = assignment(i as u128, &j, c, audit, at(16, 0), at(17, 30));
        let ev = job_assigned(&a, "west");
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.create_assignment(&a, &decision(&a), &[ev]).await
        }));
    }
    let (mut ok, mut taken) = (0, 0);
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) => ok += 1,
            Err(StoreError::Assignment(AssignmentConflict::JobAlreadyAssigned)) => taken += 1,
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!((ok, taken), (1, 199));
    let live = store
        .job_assignment(j.id)
        .await
        .expect("read")
        .expect("one live");
    let bookings = store
        .region_bookings(&RegionId::new("west"), at(0, 0), at(23, 0))
        .await
        .expect("bookings");
    assert_eq!(bookings.len(), 1, "one row");
    assert_eq!(bookings[0].assignment_id, live.id);
    assert_eq!(store.pending_events(1000).await.expect("outbox").len(), 1);
    // The audit record names the winner.
    let audit = store.audit(audit).await.expect("read").expect("found");
    assert_eq!(audit.decision.map(|d| d.assignment_id), Some(live.id));
}

fn candidate(rank: u32, contractor: ContractorId) -> Candidate {
    Candidate {
        rank,
        contractor_id: contractor,
        score: 87.25,
        breakdown: Breakdown {
            travel_time: 91.7,
            earliest_start: 100.0,
            skill_fit: 50.0,
            rating: 92.0,
            workload: 83.3,
        },
        start_utc: at(16, 5),
        end_utc: at(17, 35),
        travel: Travel {
            distance_km: 2.3,
            minutes: 4,
            source: TravelSource::Estimate,
            from: TravelOrigin::Home,
        },
    }
}

pub async fn recommendations_lifecycle(store: Store) {
    let w = world(&store, 2, 2).await;
    let req = RequestId::from_u128(0xD1);
    let pending = RecommendationRecord {
        request_id: req,
        job_id: w.jobs[0].id,
        region: RegionId::new("west"),
        status: RecommendationStatus::Pending,
        limit: 10,
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
    };
    store.create_recommendation(&pending).await.expect("create");
    assert_eq!(
        store.recommendation(req).await.expect("read"),
        Some(pending.clone())
    );
    assert_eq!(
        store.pending_recommendations(10).await.expect("pending"),
        vec![req]
    );
    assert_eq!(
        store
            .recommendation(RequestId::from_u128(1))
            .await
            .expect("read"),
        None
    );
    let dup = store.create_recommendation(&pending).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    // Complete: the result, its audit record and the event, together.
    let audit_id = AuditId::from_u128(0xAD1);
    let excluded = vec![Exclusion {
        contractor_id: w.contractors[1].id,
        reason: ExclusionReason::MissingSkill {
            skill: SkillName::new("plumbing"),
            required_level: 2,
            actual_level: Some(1),
        },
    }];
    let ready = RecommendationRecord {
        status: RecommendationStatus::Ready,
        config_version: Some(1),
        generated_at: Some(at(7, 1)),
        audit_id: Some(audit_id),
        candidates: vec![candidate(1, w.contractors[0].id)],
        excluded: excluded.clone(),
        excluded_counts: dispatch_store::excluded_counts(&excluded),
        ..pending.clone()
    };
    let mut audit = audit(0xD1, &w.jobs[0]);
    audit.audit_id = audit_id;
    audit.request_id = Some(req);
    audit.candidates = ready.candidates.clone();
    audit.excluded = excluded;
    audit.evaluated = 2;
    let ev = NewOutboxEvent::new(
        "west",
        ["/dispatch/west"],
        "RecommendationReady",
        payload(serde_json::json!({"type": "RecommendationReady", "requestId": req})),
    );
    assert!(
        store
            .complete_recommendation(&ready, &audit, std::slice::from_ref(&ev))
            .await
            .expect("complete"),
        "the first completion stores it"
    );
    assert_eq!(
        store.recommendation(req).await.expect("read"),
        Some(ready.clone())
    );
    assert_eq!(
        store.audit(audit_id).await.expect("read"),
        Some(audit.clone())
    );
    let events = store.pending_events(10).await.expect("outbox");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].target, "RecommendationReady");

    // Completing again (a second node computed it too) stores nothing: the first result stands,
    // with one audit record and one event. Found by the chaos soak (seed 5): a restarted node
    // resumed a request another node was computing, and it was announced twice.
    let mut again_audit = audit.clone();
    again_audit.audit_id = AuditId::from_u128(0xAD9);
    let again = RecommendationRecord {
        audit_id: Some(again_audit.audit_id),
        generated_at: Some(at(7, 2)),
        ..ready.clone()
    };
    let stored = store
        .complete_recommendation(&again, &again_audit, std::slice::from_ref(&ev))
        .await
        .expect("complete again");
    assert!(!stored, "finished already");
    assert_eq!(
        store.recommendation(req).await.expect("read"),
        Some(ready.clone())
    );
    assert_eq!(store.audit(again_audit.audit_id).await.expect("read"), None);
    assert_eq!(store.pending_events(10).await.expect("outbox").len(), 1);
    // Nor can it be failed once ready.
    store
        .fail_recommendation(req, "too late", std::slice::from_ref(&ev))
        .await
        .expect("fail after ready");
    assert_eq!(
        store.recommendation(req).await.expect("read"),
        Some(ready.clone())
    );
    assert_eq!(store.pending_events(10).await.expect("outbox").len(), 1);

    // Completing without a pending row still stores it.
    let req2 = RequestId::from_u128(0xD2);
    let mut audit2 = audit.clone();
    audit2.audit_id = AuditId::from_u128(0xAD2);
    let ready2 = RecommendationRecord {
        request_id: req2,
        audit_id: Some(audit2.audit_id),
        ..ready.clone()
    };
    store
        .complete_recommendation(&ready2, &audit2, &[])
        .await
        .expect("complete");
    assert_eq!(
        store.recommendation(req2).await.expect("read"),
        Some(ready2)
    );

    // Fail.
    let req3 = RequestId::from_u128(0xD3);
    store
        .create_recommendation(&RecommendationRecord {
            request_id: req3,
            job_id: w.jobs[1].id,
            ..pending.clone()
        })
        .await
        .expect("create");
    store
        .fail_recommendation(req3, "no region index", &[])
        .await
        .expect("fail");
    let failed = store
        .recommendation(req3)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(failed.status, RecommendationStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("no region index"));
    store
        .fail_recommendation(RequestId::from_u128(0xEE), "x", &[])
        .await
        .expect("no such request: no-op");

    // A recommendation for a job that does not exist.
    let orphan = RecommendationRecord {
        request_id: RequestId::from_u128(0xD4),
        job_id: JobId::from_u128(4),
        ..pending
    };
    let r = store.create_recommendation(&orphan).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
}

pub async fn audits_round_trip(store: Store) {
    let w = world(&store, 1, 1).await;
    let stored = store
        .audit(w.audits[0].audit_id)
        .await
        .expect("read")
        .expect("found");
    assert_eq!(stored, w.audits[0]);
    assert_eq!(
        store.audit(AuditId::from_u128(3)).await.expect("read"),
        None
    );
    let dup = store.create_audit(&w.audits[0]).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    // An audit record written with its decision already made keeps it.
    let mut decided = audit(9, &w.jobs[0]);
    let a = assignment(
        9,
        &w.jobs[0],
        &w.contractors[0],
        decided.audit_id,
        at(16, 0),
        at(17, 0),
    );
    decided.decision = Some(decision(&a));
    store.create_audit(&decided).await.expect("create");
    assert_eq!(
        store.audit(decided.audit_id).await.expect("read"),
        Some(decided.clone())
    );
}

pub async fn config_versions(store: Store) {
    let v1 = store.current_config().await.expect("current");
    assert_eq!(v1, ScoringConfig::default());
    assert_eq!(v1.version, 1);
    let mut new = NewScoringConfig {
        weights: v1.weights,
        limits: v1.limits,
    };
    new.weights.travel_time = 0.5;
    new.limits.max_travel_km = 60.0;
    let v2 = store.replace_config(1, &new).await.expect("replace");
    assert_eq!(v2.version, 2);
    assert_eq!(v2.weights.travel_time, 0.5);
    assert_eq!(store.current_config().await.expect("current"), v2);
    match store.replace_config(1, &new).await {
        Err(StoreError::StaleVersion { current }) => assert_eq!(current, 2),
        other => panic!("expected StaleVersion, got {other:?}"),
    }
    match store.replace_config(3, &new).await {
        Err(StoreError::StaleVersion { current }) => assert_eq!(current, 2),
        other => panic!("expected StaleVersion, got {other:?}"),
    }
    // Old versions stay readable, as they were.
    assert_eq!(store.config_version(1).await.expect("read"), Some(v1));
    assert_eq!(store.config_version(2).await.expect("read"), Some(v2));
    assert_eq!(store.config_version(3).await.expect("read"), None);
    assert_eq!(store.config_version(0).await.expect("read"), None);
    let v3 = store.replace_config(2, &new).await.expect("replace");
    assert_eq!(v3.version, 3);
}

/// 20 concurrent replacements against version 1: one wins, the rest see version 2.
pub async fn concurrent_config_replacements(store: Store) {
    let base = store.current_config().await.expect("current");
    let mut tasks = vec![];
    for i in 0..20 {
        let store = store.clone();
        let mut new = NewScoringConfig {
            weights: base.weights,
            limits: base.limits,
        };
        new.weights.rating = f64::from(i) / 10.0;
        tasks.push(tokio::spawn(
            async move { store.replace_config(1, &new).await },
        ));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(c) => {
                assert_eq!(c.version, 2);
                ok += 1;
            }
            Err(StoreError::StaleVersion { current: 2 }) => {}
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(store.current_config().await.expect("current").version, 2);
}

pub async fn idempotency_states(store: Store) {
    let begin = |scope: &'static str, key: &'static str, hash: &'static str| {
        let store = store.clone();
        async move {
            store
                .idempotency_begin(scope, key, hash)
                .await
                .expect("begin")
        }
    };
    assert_eq!(begin("jobs", "k1", "h1").await, IdempotencyBegin::Started);
    assert_eq!(
        begin("jobs", "k1", "h1").await,
        IdempotencyBegin::InProgress
    );
    assert_eq!(begin("jobs", "k1", "h2").await, IdempotencyBegin::Mismatch);
    // Scopes are separate.
    assert_eq!(
        begin("contractors", "k1", "h9").await,
        IdempotencyBegin::Started
    );

    store
        .idempotency_finish("jobs", "k1", 201, b"{\"id\":1}")
        .await
        .expect("finish");
    assert_eq!(
        begin("jobs", "k1", "h1").await,
        IdempotencyBegin::Replay {
            status: 201,
            body: b"{\"id\":1}".to_vec()
        }
    );
    assert_eq!(begin("jobs", "k1", "h2").await, IdempotencyBegin::Mismatch);
    // A finished answer is not forgotten by abandon.
    store
        .idempotency_abandon("jobs", "k1")
        .await
        .expect("abandon");
    assert!(matches!(
        begin("jobs", "k1", "h1").await,
        IdempotencyBegin::Replay { status: 201, .. }
    ));

    // An abandoned claim starts afresh, even with another body.
    assert_eq!(begin("jobs", "k2", "h1").await, IdempotencyBegin::Started);
    store
        .idempotency_abandon("jobs", "k2")
        .await
        .expect("abandon");
    assert_eq!(begin("jobs", "k2", "h3").await, IdempotencyBegin::Started);
    store
        .idempotency_finish("jobs", "k2", 422, b"")
        .await
        .expect("finish");
    assert_eq!(
        begin("jobs", "k2", "h3").await,
        IdempotencyBegin::Replay {
            status: 422,
            body: vec![]
        }
    );

    // Concurrent claims of one fresh key: exactly one starts.
    let mut tasks = vec![];
    for _ in 0..20 {
        tasks.push(tokio::spawn(begin("jobs", "k3", "h1")));
    }
    let mut started = 0;
    for t in tasks {
        match t.await.expect("task") {
            IdempotencyBegin::Started => started += 1,
            IdempotencyBegin::InProgress => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started, 1);
}

/// `create_contractors` and `create_jobs`: every row, or none of the batch.
pub async fn bulk_creates_are_all_or_nothing(store: Store) {
    store.create_region(&region("west")).await.expect("region");
    let west = RegionId::new("west");
    store.create_contractors(&[]).await.expect("no contractors");
    store.create_jobs(&[]).await.expect("no jobs");

    let mut contractors: Vec<_> = (0..300).map(|n| contractor(n, "west")).collect();
    contractors[7].active = false;
    contractors[8].name = "Zoë Ångström".into();
    store
        .create_contractors(&contractors)
        .await
        .expect("bulk contractors");
    // By id, as `contractors_in_region` orders them (the fixture's ids grow with n).
    assert_eq!(
        store.contractors_in_region(&west).await.expect("read"),
        contractors
    );
    let page = store
        .list_contractors(Some(&west), PageRequest::first(200))
        .await
        .expect("page");
    assert_eq!(page.items.len(), 200);
    assert!(page.next_cursor.is_some());

    // A stored id, a duplicate inside the batch, an unknown region: nothing of the batch stays.
    let fresh = contractor(1000, "west");
    for (batch, why) in [
        (vec![fresh.clone(), contractor(5, "west")], "stored id"),
        (vec![fresh.clone(), fresh.clone()], "twice in the batch"),
        (
            vec![fresh.clone(), contractor(1001, "nowhere")],
            "unknown region",
        ),
    ] {
        let r = store.create_contractors(&batch).await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{why}: {r:?}");
        assert_eq!(
            store.contractor(fresh.id).await.expect("read"),
            None,
            "{why}"
        );
    }

    let jobs: Vec<_> = (0..250)
        .map(|n| job(n, "west", at(8, 0) + chrono::Duration::minutes(n as i64)))
        .collect();
    store.create_jobs(&jobs).await.expect("bulk jobs");
    for j in [&jobs[0], &jobs[123], &jobs[249]] {
        assert_eq!(store.job(j.id).await.expect("read").as_ref(), Some(j));
    }
    let open = store
        .list_jobs(&west, Some(JobStatus::Open), PageRequest::first(200))
        .await
        .expect("page");
    assert_eq!(open.items, jobs[..200].to_vec());

    let fresh_job = job(1000, "west", at(9, 0));
    for (batch, why) in [
        (vec![fresh_job.clone(), jobs[3].clone()], "stored id"),
        (
            vec![fresh_job.clone(), fresh_job.clone()],
            "twice in the batch",
        ),
        (
            vec![fresh_job.clone(), job(1001, "nowhere", at(9, 0))],
            "unknown region",
        ),
    ] {
        let r = store.create_jobs(&batch).await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{why}: {r:?}");
        assert_eq!(store.job(fresh_job.id).await.expect("read"), None, "{why}");
    }

    // Bulk-loaded rows behave like any other: assign one.
    let audit = audit(0, &jobs[0]);
    let a = assignment(
        0,
        &jobs[0],
        &contractors[0],
        audit.audit_id,
        at(16, 0),
        at(17, 0),
    );
    store
        .create_assignment_with_audit(&audit, &a, &decision(&a), &[])
        .await
        .expect("assign a bulk-loaded job");
    assert_eq!(
        store.job(jobs[0].id).await.expect("read").map(|j| j.status),
        Some(JobStatus::Assigned)
    );
}

/// `events_after` and `last_sent_sequence`: ascending, bounded, `sent_only` filters.
pub async fn events_after_reads_the_outbox_by_sequence(store: Store) {
    assert_eq!(
        store
            .events_after(west(), 0, 100, false)
            .await
            .expect("read"),
        vec![]
    );
    assert_eq!(
        store
            .events_after(west(), 0, 100, true)
            .await
            .expect("read"),
        vec![]
    );
    assert_eq!(store.last_sent_sequence(west()).await.expect("last"), 0);

    let w = world(&store, 2, 2).await;
    let a = assignment(
        1,
        &w.jobs[0],
        &w.contractors[0],
        w.audits[0].audit_id,
        at(16, 0),
        at(17, 0),
    );
    let b = assignment(
        2,
        &w.jobs[1],
        &w.contractors[1],
        w.audits[1].audit_id,
        at(16, 0),
        at(17, 0),
    );
    let numbered = |a: &dispatch_core::Assignment, n: i64| {
        let mut e = job_assigned(a, "west");
        let mut value = parsed(&e.payload);
        value["n"] = serde_json::json!(n);
        e.payload = payload(value);
        e
    };
    store
        .create_assignment(
            &a,
            &decision(&a),
            &[numbered(&a, 1), numbered(&a, 2), numbered(&a, 3)],
        )
        .await
        .expect("assign a");
    store
        .create_assignment(&b, &decision(&b), &[numbered(&b, 4), numbered(&b, 5)])
        .await
        .expect("assign b");

    let all = store
        .events_after(west(), 0, 100, false)
        .await
        .expect("read");
    assert_eq!(all, store.pending_events(100).await.expect("pending"));
    assert_eq!(
        all.iter()
            .map(|e| parsed(&e.payload)["n"].as_i64())
            .collect::<Vec<_>>(),
        (1..=5).map(Some).collect::<Vec<_>>(),
        "in commit order"
    );
    let seq: Vec<i64> = all.iter().map(|e| e.sequence).collect();
    assert!(seq.windows(2).all(|p| p[0] < p[1]), "{seq:?}");
    assert_eq!(
        store
            .events_after(west(), -1, 100, false)
            .await
            .expect("read"),
        all
    );
    assert_eq!(
        store
            .events_after(west(), seq[1], 2, false)
            .await
            .expect("read"),
        all[2..4].to_vec(),
        "strictly after, at most `limit`"
    );
    assert_eq!(
        store
            .events_after(west(), seq[4], 100, false)
            .await
            .expect("read"),
        vec![]
    );
    assert_eq!(
        store.events_after(west(), 0, 0, false).await.expect("read"),
        vec![]
    );
    assert_eq!(
        store
            .events_after(west(), 0, 100, true)
            .await
            .expect("read"),
        vec![]
    );
    assert_eq!(store.last_sent_sequence(west()).await.expect("last"), 0);

    // The relay marks the oldest first: the sent events are a prefix.
    store
        .mark_events_sent(&[seq[0], seq[1]])
        .await
        .expect("mark");
    assert_eq!(
        store
            .events_after(west(), 0, 100, true)
            .await
            .expect("read"),
        all[..2].to_vec()
    );
    assert_eq!(
        store
            .events_after(west(), seq[0], 100, true)
            .await
            .expect("read"),
        all[1..2].to_vec()
    );
    assert_eq!(
        store.last_sent_sequence(west()).await.expect("last"),
        seq[1]
    );
    // Sent or not, `sent_only = false` returns everything after the cursor.
    assert_eq!(
        store
            .events_after(west(), 0, 100, false)
            .await
            .expect("read"),
        all
    );

    // Marked out of order, `sent_only` skips the unsent event rather than stopping at it.
    store.mark_events_sent(&[seq[3]]).await.expect("mark");
    assert_eq!(
        store
            .events_after(west(), 0, 100, true)
            .await
            .expect("read"),
        vec![all[0].clone(), all[1].clone(), all[3].clone()]
    );
    assert_eq!(
        store.events_after(west(), 0, 2, true).await.expect("read"),
        all[..2].to_vec()
    );
    assert_eq!(
        store.last_sent_sequence(west()).await.expect("last"),
        seq[3]
    );
    store.mark_events_sent(&seq).await.expect("mark all");
    assert_eq!(
        store.last_sent_sequence(west()).await.expect("last"),
        seq[4]
    );
    assert_eq!(
        store
            .events_after(west(), 0, 100, true)
            .await
            .expect("read"),
        all
    );
}

/// Followers that poll `events_after(shard, cursor)` while 100 writers commit events of two
/// regions in different shards concurrently see every event of their shard exactly once, in
/// sequence order: nothing commits behind a cursor. (On PostgreSQL this is the shard's outbox
/// lock's doing; without it this fails.)
pub async fn events_after_cursor_misses_nothing_under_concurrent_writers(store: Store) {
    const WRITERS: usize = 100;
    const EVENTS: usize = 2 * WRITERS;
    // Two regions of different shards: their writers do not wait for each other.
    let regions = ["west", "east"];
    let shards = regions.map(dispatch_store::outbox_shard);
    assert_ne!(shards[0], shards[1]);
    let w = world(&store, WRITERS as u128, WRITERS as u128).await;
    let followers: Vec<_> = shards
        .iter()
        .flat_map(|&shard| std::iter::repeat_n(shard, 2))
        .map(|shard| {
            let store = store.clone();
            tokio::spawn(async move {
                let (mut cursor, mut seen) = (0, Vec::with_capacity(EVENTS / 2));
                while seen.len() < EVENTS / 2 {
                    for e in store
                        .events_after(shard, cursor, 1000, false)
                        .await
                        .expect("poll")
                    {
                        assert!(e.sequence > cursor, "{} after {cursor}", e.sequence);
                        assert_eq!(e.shard, shard);
                        cursor = e.sequence;
                        seen.push(e.sequence);
                    }
                }
                (shard, seen)
            })
        })
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let a = assignment(
                i as u128,
                &w.jobs[i],
                &w.contractors[i],
                w.audits[i].audit_id,
                at(16, 0),
                at(17, 0),
            );
            let region = regions[i % 2];
            let events = [job_assigned(&a, region), job_assigned(&a, region)];
            let store = store.clone();
            tokio::spawn(async move { store.create_assignment(&a, &decision(&a), &events).await })
        })
        .collect();
    for t in writers {
        t.await.expect("task").expect("assign");
    }
    let mut all = std::collections::BTreeMap::new();
    for shard in shards {
        let sequences: Vec<i64> = store
            .events_after(shard, 0, 1000, false)
            .await
            .expect("read")
            .iter()
            .map(|e| e.sequence)
            .collect();
        assert_eq!(sequences.len(), EVENTS / 2, "shard {shard}");
        all.insert(shard, sequences);
    }
    for follower in followers {
        // A follower that skipped an event would wait forever for its last one.
        let (shard, seen) = tokio::time::timeout(std::time::Duration::from_secs(10), follower)
            .await
            .expect("a follower missed an event")
            .expect("follower");
        assert_eq!(seen, all[&shard]);
    }
}

/// A node's relay lease on an uncontended store: every shard can be taken, given up and taken
/// again; the survey counts this node and shows what it holds.
pub async fn relay_lease_is_granted_and_held(store: Store) {
    let mut lease = store.relay_lease().await.expect("open");
    assert!(lease.held().is_empty());
    let survey = lease.survey().await.expect("survey");
    assert_eq!(survey.nodes, 1);
    assert!(survey.taken.is_empty());
    for shard in 0..dispatch_store::OUTBOX_SHARDS {
        assert!(lease.try_take(shard).await.expect("take"), "shard {shard}");
    }
    assert!(lease.try_take(3).await.expect("take again"), "held already");
    let every: std::collections::BTreeSet<u16> = (0..dispatch_store::OUTBOX_SHARDS).collect();
    assert_eq!(*lease.held(), every);
    assert_eq!(lease.survey().await.expect("survey").taken, every);
    assert!(lease.still_held().await);
    lease.give_up(3).await.expect("give up");
    assert!(!lease.held().contains(&3));
    assert!(!lease.survey().await.expect("survey").taken.contains(&3));
    assert!(lease.try_take(3).await.expect("take back"));
    lease.release().await;
    let mut again = store.relay_lease().await.expect("open again");
    assert!(again.try_take(0).await.expect("free after release"));
    // Closing the pools leaves the lease alone: it is not a pooled connection.
    store.close().await;
    assert!(again.still_held().await);
    // Dropped here, which releases it.
}

pub async fn deployment_id_is_random_and_stable(store: Store) {
    let id = store.deployment_id().await.expect("deployment id");
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert_eq!(store.deployment_id().await.expect("again"), id);
}

pub async fn pruning_keeps_unsent_events_and_the_newest_sent_one(store: Store) {
    let w = world(&store, 1, 1).await;
    let a = assignment(
        1,
        &w.jobs[0],
        &w.contractors[0],
        w.audits[0].audit_id,
        at(16, 0),
        at(17, 0),
    );
    let events: Vec<_> = (0..4).map(|_| job_assigned(&a, "west")).collect();
    store
        .create_assignment(&a, &decision(&a), &events)
        .await
        .expect("assign");
    let all = store
        .events_after(west(), 0, 10, false)
        .await
        .expect("read");
    let sequences: Vec<i64> = all.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences.len(), 4);
    // Nothing is sent yet: nothing may go.
    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(
        store
            .prune_sent_events(west(), future)
            .await
            .expect("prune"),
        0
    );

    store.mark_events_sent(&sequences[..3]).await.expect("mark");
    // Marked just now: older than an hour ago is nothing.
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(
        store.prune_sent_events(west(), past).await.expect("prune"),
        0
    );
    // Everything sent is old enough, but the newest sent event and the unsent one stay.
    assert_eq!(
        store
            .prune_sent_events(west(), future)
            .await
            .expect("prune"),
        2
    );
    let left: Vec<i64> = store
        .events_after(west(), 0, 10, false)
        .await
        .expect("read")
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(left, sequences[2..].to_vec());
    assert_eq!(
        store.last_sent_sequence(west()).await.expect("last"),
        sequences[2]
    );
    assert_eq!(store.pending_events(10).await.expect("pending").len(), 1);
}

/// A running plan of region west over 2026-12-01.
fn running_plan(n: u128) -> PlanRecord {
    PlanRecord {
        plan_id: dispatch_core::PlanId::from_u128(0x9000 + n),
        region: RegionId::new("west"),
        status: PlanStatus::Running,
        config_version: 1,
        from: at(0, 0),
        to: at(23, 0),
        job_ids: None,
        move_automatic: false,
        time_limit_seconds: 10,
        seed: 7,
        requested_by: "dispatcher-1".into(),
        created_at: at(6, 0),
        progress: PlanProgress::default(),
        routes: vec![],
        unassigned: vec![],
        kpis: None,
        error: None,
        application: None,
    }
}

pub async fn plans_lifecycle(store: Store) {
    let w = world(&store, 1, 3).await;
    let stale = std::time::Duration::from_secs(3600);

    // The backlog of a period: open jobs whose window overlaps it.
    let open = store
        .open_jobs_between(&RegionId::new("west"), at(0, 0), at(23, 0), 100)
        .await
        .expect("open jobs");
    assert_eq!(open.len(), 3);
    let none = store
        .open_jobs_between(&RegionId::new("west"), at(0, 0), at(16, 0), 100)
        .await
        .expect("open jobs");
    assert!(
        none.is_empty(),
        "a window starting at the period's end is outside it"
    );
    let capped = store
        .open_jobs_between(&RegionId::new("west"), at(0, 0), at(23, 0), 2)
        .await
        .expect("open jobs");
    assert_eq!(capped.len(), 2);

    // Created running; progress is the heartbeat, and it says whether to go on.
    let mut plan = running_plan(1);
    store.create_plan(&plan).await.expect("create");
    assert_eq!(
        store.plan(plan.plan_id).await.expect("read"),
        Some(plan.clone())
    );
    let dup = store.create_plan(&plan).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let progress = PlanProgress {
        elapsed_ms: 200,
        iterations: 1000,
        scheduled: 2,
        travel_minutes: 40,
    };
    assert!(
        store
            .plan_progress(plan.plan_id, &progress)
            .await
            .expect("progress")
    );
    assert_eq!(
        store
            .plan(plan.plan_id)
            .await
            .expect("read")
            .expect("plan")
            .progress,
        progress
    );
    // Not applicable while running.
    assert_eq!(
        store
            .claim_plan_apply(plan.plan_id, stale)
            .await
            .expect("claim"),
        PlanApplyClaim::NotReady(PlanStatus::Running)
    );

    // Ready: the result stored whole.
    plan.status = PlanStatus::Ready;
    plan.progress = progress;
    plan.kpis = Some(dispatch_core::plan::Kpis {
        scheduled: 2,
        scheduled_by_priority: dispatch_core::plan::ByPriority {
            high: 2,
            ..Default::default()
        },
        travel_minutes: 40,
        travel_km: 31.5,
        utilisation: 0.25,
    });
    assert_eq!(
        store.finish_plan(&plan).await.expect("finish"),
        Some(PlanStatus::Ready)
    );
    assert_eq!(
        store.plan(plan.plan_id).await.expect("read"),
        Some(plan.clone())
    );
    assert!(
        !store
            .plan_progress(plan.plan_id, &progress)
            .await
            .expect("progress")
    );

    // One apply at a time; a second sees it under way, and a stale claim is taken over.
    let claimed = store
        .claim_plan_apply(plan.plan_id, stale)
        .await
        .expect("claim");
    assert_eq!(claimed, PlanApplyClaim::Claimed(Box::new(plan.clone())));
    assert_eq!(
        store
            .claim_plan_apply(plan.plan_id, stale)
            .await
            .expect("claim"),
        PlanApplyClaim::InProgress
    );
    assert_eq!(
        store.cancel_plan(plan.plan_id).await.expect("cancel"),
        Some(PlanStatus::Ready)
    );
    assert!(matches!(
        store
            .claim_plan_apply(plan.plan_id, std::time::Duration::ZERO)
            .await
            .expect("claim"),
        PlanApplyClaim::Claimed(_)
    ));
    store
        .abandon_plan_apply(plan.plan_id)
        .await
        .expect("abandon");
    assert!(matches!(
        store
            .claim_plan_apply(plan.plan_id, stale)
            .await
            .expect("claim"),
        PlanApplyClaim::Claimed(_)
    ));
    let application = PlanApplication {
        applied: vec![AppliedVisit {
            job_id: w.jobs[0].id,
            assignment_id: AssignmentId::from_u128(0xA1),
            audit_id: AuditId::from_u128(0xAD1),
        }],
        conflicts: vec![PlanConflict {
            job_id: w.jobs[1].id,
            reason: "contractor-busy".into(),
            detail: "booked meanwhile".into(),
        }],
    };
    store
        .finish_plan_apply(plan.plan_id, &application)
        .await
        .expect("finish apply");
    let PlanApplyClaim::Applied(applied) = store
        .claim_plan_apply(plan.plan_id, stale)
        .await
        .expect("claim")
    else {
        panic!("an applied plan answers its application again");
    };
    assert_eq!(applied.status, PlanStatus::Applied);
    assert_eq!(applied.application, Some(application));
    assert_eq!(
        store.cancel_plan(plan.plan_id).await.expect("cancel"),
        Some(PlanStatus::Applied)
    );

    // Cancelled while running: the search's end keeps the cancellation, with its result.
    let mut cancelled = running_plan(2);
    store.create_plan(&cancelled).await.expect("create");
    assert_eq!(
        store.cancel_plan(cancelled.plan_id).await.expect("cancel"),
        Some(PlanStatus::Cancelled)
    );
    assert!(
        !store
            .plan_progress(cancelled.plan_id, &progress)
            .await
            .expect("progress")
    );
    cancelled.status = PlanStatus::Ready;
    cancelled.progress = progress;
    assert_eq!(
        store.finish_plan(&cancelled).await.expect("finish"),
        Some(PlanStatus::Cancelled)
    );
    let read = store
        .plan(cancelled.plan_id)
        .await
        .expect("read")
        .expect("plan");
    assert_eq!(
        (read.status, read.progress),
        (PlanStatus::Cancelled, progress)
    );

    // A running plan whose heartbeat stopped is failed by the sweep; fresh ones are not.
    let orphan = running_plan(3);
    store.create_plan(&orphan).await.expect("create");
    assert_eq!(store.fail_stale_plans(stale).await.expect("sweep"), 0);
    assert_eq!(
        store
            .fail_stale_plans(std::time::Duration::ZERO)
            .await
            .expect("sweep"),
        1
    );
    let read = store
        .plan(orphan.plan_id)
        .await
        .expect("read")
        .expect("plan");
    assert_eq!(read.status, PlanStatus::Failed);
    assert!(read.error.is_some());

    // Unknown plans.
    let unknown = dispatch_core::PlanId::from_u128(1);
    assert_eq!(store.plan(unknown).await.expect("read"), None);
    assert_eq!(store.cancel_plan(unknown).await.expect("cancel"), None);
    assert_eq!(
        store.claim_plan_apply(unknown, stale).await.expect("claim"),
        PlanApplyClaim::Missing
    );
}

pub async fn moving_a_booking_is_all_or_nothing(store: Store) {
    let w = world(&store, 2, 2).await;
    let (c0, c1) = (&w.contractors[0], &w.contractors[1]);
    let mut old = assignment(
        1,
        &w.jobs[0],
        c0,
        w.audits[0].audit_id,
        at(16, 0),
        at(17, 0),
    );
    old.source = dispatch_core::AssignmentSource::Auto;
    store
        .create_assignment(&old, &decision(&old), &[])
        .await
        .expect("assign");
    // Another booking of c1, in the way of one of the moves below.
    let other = assignment(
        2,
        &w.jobs[1],
        c1,
        w.audits[1].audit_id,
        at(18, 0),
        at(19, 0),
    );
    store
        .create_assignment(&other, &decision(&other), &[])
        .await
        .expect("assign");

    // Only unstarted automatic bookings inside the period can move.
    let movable = store
        .movable_assignments(&RegionId::new("west"), at(0, 0), at(23, 0), at(6, 0), 10)
        .await
        .expect("movable");
    assert_eq!(movable, vec![old.clone()]);
    let started = store
        .movable_assignments(&RegionId::new("west"), at(0, 0), at(23, 0), at(16, 30), 10)
        .await
        .expect("movable");
    assert!(started.is_empty(), "a started booking stays");

    let move_audit = |n: u128| {
        let mut a = audit(100 + n, &w.jobs[0]);
        a.audit_id = AuditId::from_u128(0xAE00 + n);
        a
    };
    // Into a busy slot: refused, and the old booking is untouched.
    let busy_audit = move_audit(1);
    let busy = assignment(
        3,
        &w.jobs[0],
        c1,
        busy_audit.audit_id,
        at(18, 30),
        at(19, 30),
    );
    let refused = store
        .move_assignment(old.id, &busy_audit, &busy, &decision(&busy), &[])
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Assignment(
                AssignmentConflict::ContractorBusy { .. }
            ))
        ),
        "{refused:?}"
    );
    assert_eq!(
        store.assignment(old.id).await.expect("read"),
        Some(old.clone())
    );
    assert_eq!(store.audit(busy_audit.audit_id).await.expect("read"), None);

    // Moved: the old booking ends, the new one is live, the job stays assigned, its event.
    let moved_audit = move_audit(2);
    let moved = assignment(
        4,
        &w.jobs[0],
        c1,
        moved_audit.audit_id,
        at(16, 30),
        at(17, 30),
    );
    let event = job_assigned(&moved, "west");
    store
        .move_assignment(old.id, &moved_audit, &moved, &decision(&moved), &[event])
        .await
        .expect("move");
    assert_eq!(store.assignment(old.id).await.expect("read"), None);
    assert_eq!(
        store.job_assignment(w.jobs[0].id).await.expect("read"),
        Some(moved.clone())
    );
    let job = store.job(w.jobs[0].id).await.expect("read").expect("job");
    assert_eq!(job.status, JobStatus::Assigned);
    let events = store
        .events_after(west(), 0, 10, false)
        .await
        .expect("events");
    assert_eq!(events.len(), 1);

    // Moving the old booking again: it is gone.
    let late_audit = move_audit(3);
    let late = assignment(5, &w.jobs[0], c0, late_audit.audit_id, at(20, 0), at(21, 0));
    let refused = store
        .move_assignment(old.id, &late_audit, &late, &decision(&late), &[])
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Assignment(AssignmentConflict::MovedMeanwhile))
        ),
        "{refused:?}"
    );
    assert_eq!(
        store.job_assignment(w.jobs[0].id).await.expect("read"),
        Some(moved)
    );
}

/// A finished recommendation's exclusions are stored once, with its audit record, and read
/// back in full by both the result and the audit record: every excluded contractor, in order,
/// with its reason, its facts and its sentence — also when the result is written without them
/// (as the worker does) and for thousands of them.
pub async fn exclusions_are_stored_once_for_result_and_audit(store: Store) {
    let w = world(&store, 1, 1).await;
    let req = RequestId::from_u128(0xE1);
    let reasons = [
        ExclusionReason::Inactive,
        ExclusionReason::WrongRegion {
            region: Some(RegionId::new("east")),
        },
        ExclusionReason::MissingSkill {
            skill: SkillName::new("plumbing"),
            required_level: 3,
            actual_level: Some(1),
        },
        ExclusionReason::MissingSkill {
            skill: SkillName::new("electrical"),
            required_level: 2,
            actual_level: None,
        },
        ExclusionReason::TooFar {
            distance_km: 97.3,
            max_km: 80.0,
        },
        ExclusionReason::NoSlot {
            cause: dispatch_core::NoSlotCause::Busy,
        },
        ExclusionReason::MaxJobsPerDay {
            max_jobs_per_day: 4,
        },
    ];
    let excluded: Vec<Exclusion> = (0..5_000u128)
        .map(|i| Exclusion {
            contractor_id: ContractorId::from_u128(0xC000_0000 + i),
            reason: reasons[i as usize % reasons.len()].clone(),
        })
        .collect();
    let audit_id = AuditId::from_u128(0xAE1);
    let mut audit = audit(0xE1, &w.jobs[0]);
    audit.audit_id = audit_id;
    audit.request_id = Some(req);
    audit.candidates = vec![candidate(1, w.contractors[0].id)];
    audit.excluded = excluded.clone();
    audit.evaluated = excluded.len() + 1;
    let ready = RecommendationRecord {
        request_id: req,
        job_id: w.jobs[0].id,
        region: RegionId::new("west"),
        status: RecommendationStatus::Ready,
        limit: 5,
        auto_assign: false,
        requested_by: "dispatcher-1".into(),
        requested_at: at(7, 0),
        config_version: Some(1),
        generated_at: Some(at(7, 1)),
        audit_id: Some(audit_id),
        candidates: audit.candidates.clone(),
        // The worker moves the exclusions into the audit record and passes none here.
        excluded: vec![],
        excluded_counts: Default::default(),
        error: None,
    };
    store
        .complete_recommendation(&ready, &audit, &[])
        .await
        .expect("complete");

    let read = store
        .recommendation(req)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(read.excluded, excluded, "the result lists every exclusion");
    let counts = dispatch_store::excluded_counts(&excluded);
    assert_eq!(counts.values().sum::<usize>(), excluded.len());
    assert_eq!(counts["missingSkill"], 2 * excluded.len() / reasons.len());
    assert_eq!(
        read,
        RecommendationRecord {
            excluded: excluded.clone(),
            excluded_counts: counts.clone(),
            ..ready.clone()
        }
    );
    // The summary: the counts, stored with the result, without the list.
    let summary = store
        .recommendation_summary(req)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        summary,
        RecommendationRecord {
            excluded_counts: counts,
            ..ready.clone()
        }
    );
    let record = store.audit(audit_id).await.expect("read").expect("stored");
    assert_eq!(record, audit, "the audit record lists every exclusion");
    // On the wire each still has its code, its facts and its sentence.
    let wire = serde_json::to_value(&record.excluded[2]).expect("encode");
    assert_eq!(wire["reason"], "missingSkill");
    assert_eq!(wire["actualLevel"], 1);
    assert_eq!(
        wire["message"],
        "Has plumbing at level 1; the job needs level 3 or higher."
    );

    // A decision recorded later keeps the exclusions.
    let a = assignment(
        0xE1,
        &w.jobs[0],
        &w.contractors[0],
        audit_id,
        at(18, 0),
        at(19, 0),
    );
    store
        .create_assignment(&a, &decision(&a), &[])
        .await
        .expect("assign");
    let decided = store.audit(audit_id).await.expect("read").expect("stored");
    assert_eq!(decided.excluded, excluded);
    assert_eq!(decided.decision, Some(decision(&a)));

    // A result must name the audit record it is stored with.
    let other = RecommendationRecord {
        request_id: RequestId::from_u128(0xE2),
        audit_id: Some(AuditId::from_u128(0xAE2)),
        ..ready
    };
    let mut audit2 = audit.clone();
    audit2.audit_id = AuditId::from_u128(0xAE3);
    let r = store.complete_recommendation(&other, &audit2, &[]).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
}
