//! Live region state across real nodes (`dispatch serve` processes on one PostgreSQL database,
//! events over `LISTEN/NOTIFY`): what issue 11 promises.
//!
//! * `a_booking_through_one_node_is_seen_by_a_recommendation_through_the_other` — B holds the
//!   region in memory (it has ranked for it); contractor X is booked 10:00–11:00 through A; a
//!   recommendation through B for a job that can only be done in that hour, asked right after
//!   A's 201, never proposes X (X is excluded as busy), and does propose Y. Several rounds;
//!   then the booking is moved from X to Y through A, and B at once proposes X, not Y.
//! * `a_node_that_missed_a_change_is_repaired_by_the_check` — a contractor is deactivated
//!   behind the service's back (SQL, no change record): the node's memory still ranks X; the
//!   on-demand check reports X as drifted, counts the repair in `/metrics` and rebuilds; the next
//!   recommendation excludes X as inactive; a second check finds nothing.
//!
//! Needs `DISPATCH_TEST_POSTGRES_URL` (skips loudly without it, fails in CI).

// Shared with tests/multi_node.rs, which uses all of it.
#[allow(dead_code)]
#[path = "multi_node/cluster.rs"]
mod cluster;
mod common;

use std::time::Duration;

use chrono::{DateTime, Duration as Span, DurationRound as _, Utc};
use cluster::{Node, NodeConfig};
use common::*;
use serde_json::{Value, json};

/// How long an event may take to arrive (the machine is small and shared).
const WAIT: Duration = Duration::from_secs(20);
/// How long a node may take to change its relay role.
const SETTLE: Duration = Duration::from_secs(15);
/// The region every test works in.
const REGION: &str = "west";

/// Tomorrow, on the hour.
fn base() -> DateTime<Utc> {
    (Utc::now() + Span::days(1))
        .duration_trunc(Span::hours(1))
        .expect("whole hour")
}

async fn create(api: &Api, path: &str, body: &Value) -> String {
    let answer = api.call("POST", path, Some(&api.admin()), Some(body)).await;
    assert_eq!(answer.status, 201, "POST {path}: {answer:?}");
    answer.body["id"].as_str().expect("id").to_owned()
}

/// A job that fits only `[at, at + 1 h)`.
async fn one_hour_job(api: &Api, at: DateTime<Utc>) -> String {
    let body = job_body(REGION, 37.77, -122.42, at, at + Span::hours(1));
    create(api, "/api/v1/jobs", &body).await
}

/// Asks `node` for a recommendation for `job` and returns the fetched result once its
/// `RecommendationReady` arrived at `client`.
async fn recommend(node: &Node, client: &mut HubClient, job: &str) -> Value {
    let token = node.dispatcher(REGION);
    let asked = node
        .call(
            "POST",
            "/api/v1/recommendations",
            Some(&token),
            Some(&json!({"jobId": job, "limit": 10})),
        )
        .await;
    assert_eq!(asked.status, 202, "{asked:?}");
    let request_id = asked.body["requestId"]
        .as_str()
        .expect("requestId")
        .to_owned();
    loop {
        let event = client.event("RecommendationReady", WAIT).await;
        if event["requestId"] == request_id.as_str() {
            break;
        }
    }
    let result = node
        .call(
            "GET",
            &format!("/api/v1/recommendations/{request_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(result.status, 200, "{result:?}");
    assert_eq!(result.body["status"], "ready", "{result:?}");
    result.body
}

fn candidate_ids(result: &Value) -> Vec<String> {
    result["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|c| c["contractorId"].as_str().expect("id").to_owned())
        .collect()
}

fn exclusion<'a>(result: &'a Value, contractor: &str) -> Option<&'a Value> {
    result["excluded"]
        .as_array()
        .expect("excluded")
        .iter()
        .find(|e| e["contractorId"] == contractor)
}

async fn dispatcher_on(node: &Node) -> HubClient {
    let mut client = node.hub(&node.dispatcher(REGION)).await;
    client.subscribe(&format!("/dispatch/{REGION}")).await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_through_one_node_is_seen_by_a_recommendation_through_the_other() {
    let Some(db) = cluster::database().await else {
        return;
    };
    let config = NodeConfig {
        database_url: db.url().to_owned(),
        backplane_url: db.url().to_owned(),
        hold_events: false,
    };
    let a = Node::start("A", &config).await;
    a.wait_relay("leader", SETTLE).await;
    let b = Node::start("B", &config).await;
    b.wait_relay("standby", SETTLE).await;
    a.region(REGION, "America/Los_Angeles").await;
    let mut on_b = dispatcher_on(&b).await;

    let base = base();
    // B loads the region into memory before any booking exists.
    let warm = one_hour_job(&a, base - Span::hours(6)).await;
    recommend(&b, &mut on_b, &warm).await;

    let mut last = None;
    for round in 0..3 {
        let x = create(
            &a,
            "/api/v1/contractors",
            &contractor_body(&format!("X{round}")),
        )
        .await;
        let y = create(
            &a,
            "/api/v1/contractors",
            &contractor_body(&format!("Y{round}")),
        )
        .await;
        let ten = base + Span::hours(2 * round);
        // X booked 10:00–11:00 through A.
        let booked = one_hour_job(&a, ten).await;
        let answer = a
            .call(
                "POST",
                "/api/v1/assignments",
                Some(&a.dispatcher(REGION)),
                Some(&json!({
                    "jobId": booked, "contractorId": x,
                    "startUtc": iso(ten), "endUtc": iso(ten + Span::hours(1)),
                })),
            )
            .await;
        assert_eq!(answer.status, 201, "{answer:?}");
        // Right after the 201, through B: a job that fits only that hour.
        let overlapping = one_hour_job(&a, ten).await;
        let result = recommend(&b, &mut on_b, &overlapping).await;
        let proposed = candidate_ids(&result);
        assert!(
            !proposed.contains(&x),
            "round {round}: X is booked 10:00–11:00 through A, B must not propose it: {result}"
        );
        assert!(
            proposed.contains(&y),
            "round {round}: Y is free and created through A: {result}"
        );
        assert!(
            exclusion(&result, &x).is_some(),
            "round {round}: X is excluded with its reason: {result}"
        );
        let assignment = answer.body["id"].as_str().expect("id").to_owned();
        last = Some((assignment, x, y, ten));
    }

    // The booking moved from X to Y through A: B sees X free and Y busy at once.
    let (assignment, x, y, ten) = last.expect("rounds ran");
    let moved = a
        .call(
            "POST",
            &format!("/api/v1/assignments/{assignment}/move"),
            Some(&a.dispatcher(REGION)),
            Some(&json!({
                "contractorId": y,
                "startUtc": iso(ten), "endUtc": iso(ten + Span::hours(1)),
            })),
        )
        .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    let overlapping = one_hour_job(&a, ten).await;
    let result = recommend(&b, &mut on_b, &overlapping).await;
    let proposed = candidate_ids(&result);
    assert!(!proposed.contains(&y), "Y took the moved booking: {result}");
    assert!(proposed.contains(&x), "X was freed by the move: {result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_a_change_is_repaired_by_the_check() {
    let Some(db) = cluster::database().await else {
        return;
    };
    let config = NodeConfig {
        database_url: db.url().to_owned(),
        backplane_url: db.url().to_owned(),
        hold_events: false,
    };
    let a = Node::start("A", &config).await;
    a.wait_relay("leader", SETTLE).await;
    a.region(REGION, "America/Los_Angeles").await;
    let mut on_a = dispatcher_on(&a).await;
    let x = create(&a, "/api/v1/contractors", &contractor_body("X")).await;
    let y = create(&a, "/api/v1/contractors", &contractor_body("Y")).await;
    let job = one_hour_job(&a, base()).await;
    let before = recommend(&a, &mut on_a, &job).await;
    assert!(candidate_ids(&before).contains(&x), "{before}");

    // Behind the service's back: no change record, so the node's memory misses it.
    let changed = db
        .execute(&format!(
            "UPDATE contractors SET active = false, body = jsonb_set(body, '{{active}}', 'false') \
             WHERE id = '{x}'"
        ))
        .await
        .expect("update behind the service's back");
    assert_eq!(changed, 1);
    let missed = recommend(&a, &mut on_a, &job).await;
    assert!(
        candidate_ids(&missed).contains(&x),
        "the node has not seen the change yet (the premise of this test): {missed}"
    );

    let state = a
        .call(
            "GET",
            &format!("/api/v1/regions/{REGION}/state"),
            Some(&a.admin()),
            None,
        )
        .await;
    assert_eq!(state.status, 200, "{state:?}");
    assert_eq!(state.body["loaded"], true, "{state:?}");
    assert_eq!(state.body["contractors"], 2, "{state:?}");

    let path = format!("/api/v1/regions/{REGION}/state/check");
    let check = a.call("POST", &path, Some(&a.admin()), None).await;
    assert_eq!(check.status, 200, "{check:?}");
    assert_eq!(check.body["repaired"], true, "{check:?}");
    assert_eq!(check.body["drifted"], json!([x]), "{check:?}");
    let metrics = a
        .raw("GET", "/metrics", None, &[], axum::body::Bytes::new())
        .await;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(
        text.lines()
            .any(|l| l.starts_with("dispatch_region_repairs_total") && l.ends_with(" 1")),
        "the repair is counted: {text}"
    );

    let after = recommend(&a, &mut on_a, &job).await;
    let proposed = candidate_ids(&after);
    assert!(!proposed.contains(&x), "{after}");
    assert!(proposed.contains(&y), "{after}");
    assert_eq!(
        exclusion(&after, &x).map(|e| e["reason"].clone()),
        Some(json!("inactive")),
        "{after}"
    );
    let again = a.call("POST", &path, Some(&a.admin()), None).await;
    assert_eq!(again.body["repaired"], false, "{again:?}");
    assert_eq!(again.body["drifted"], json!([]), "{again:?}");
    // The admin endpoints are admins' only.
    let refused = a
        .call("POST", &path, Some(&a.dispatcher(REGION)), None)
        .await;
    assert_eq!(refused.status, 403, "{refused:?}");
}
