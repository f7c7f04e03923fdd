//! Bulk import (`POST /api/v1/contractors:bulk`, NDJSON) and the demo's promise, through the
//! real service on SQLite.
//!
//! * `bad_rows_are_reported_by_line_and_field_and_nothing_is_written` — a batch with a
//!   malformed line, a missing field, an invalid value and an unknown region: 422 listing each
//!   line with its field, and no contractor of the batch exists afterwards.
//! * `a_good_batch_is_created_at_once_and_recommendations_see_it` — the region's state is
//!   loaded, a batch of 500 goes in; the next recommendation ranks over all of them.
//! * `the_demo_offers_several_candidates_for_most_jobs` — `dispatch demo` data: at least 80 %
//!   of West's open jobs get 3 or more candidates through the API.

mod common;

use std::time::Duration;

use axum::body::Bytes;
use common::*;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn line(name: &str) -> String {
    contractor_body(name).to_string()
}

async fn bulk(server: &TestServer, body: String) -> Answer {
    server
        .raw(
            "POST",
            "/api/v1/contractors:bulk",
            Some(&server.admin()),
            &[("content-type", "application/x-ndjson")],
            Bytes::from(body),
        )
        .await
}

async fn contractors_of_west(server: &TestServer) -> usize {
    let answer = server
        .call(
            "GET",
            "/api/v1/contractors?region=west&limit=200",
            Some(&server.admin()),
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_field_and_nothing_is_written() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    let mut missing = contractor_body("No skills");
    missing.as_object_mut().expect("object").remove("skills");
    let mut invalid = contractor_body("Bad level");
    invalid["skills"][0]["level"] = json!(9);
    let mut elsewhere = contractor_body("Nowhere");
    elsewhere["region"] = json!("atlantis");
    let body = [
        line("Good one"),
        "{not json".to_owned(),
        missing.to_string(),
        String::new(),
        invalid.to_string(),
        elsewhere.to_string(),
        line("Good two"),
    ]
    .join("\n");
    let answer = bulk(&server, body).await;
    assert_eq!(answer.status, 422, "{answer:?}");
    assert_eq!(answer.body["type"], "urn:dispatch:problem:bulk-rows");
    let errors: Vec<(u64, String)> = answer.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().expect("line"),
                e["field"].as_str().expect("field").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (2, "line".to_owned()),
            (3, "skills".to_owned()),
            (5, "skills[0].level".to_owned()),
            (6, "region".to_owned()),
        ],
        "{answer:?}"
    );
    assert_eq!(
        contractors_of_west(&server).await,
        0,
        "nothing half-written"
    );

    // Not NDJSON: 415. Not an admin: 403.
    let answer = server
        .raw(
            "POST",
            "/api/v1/contractors:bulk",
            Some(&server.admin()),
            &[("content-type", "application/json")],
            Bytes::from(line("x")),
        )
        .await;
    assert_eq!(answer.status, 415, "{answer:?}");
    let answer = server
        .raw(
            "POST",
            "/api/v1/contractors:bulk",
            Some(&server.dispatcher("west")),
            &[("content-type", "application/x-ndjson")],
            Bytes::from(line("x")),
        )
        .await;
    assert_eq!(answer.status, 403, "{answer:?}");
}

async fn ask(server: &TestServer, token: &str, job: &str) -> String {
    let asked = server
        .call(
            "POST",
            "/api/v1/recommendations",
            Some(token),
            Some(&json!({"jobId": job, "limit": 5})),
        )
        .await;
    assert_eq!(asked.status, 202, "{asked:?}");
    asked.body["requestId"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_good_batch_is_created_at_once_and_recommendations_see_it() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    let job = server.job("west", 37.77, -122.42, 24, 4).await;
    let job = job["id"].as_str().expect("id").to_owned();
    let token = server.dispatcher("west");
    let mut hub = server.hub(&token).await;
    hub.subscribe("/dispatch/west").await;
    // The region's state is loaded (empty) before the batch.
    let first = ask(&server, &token, &job).await;
    assert_eq!(
        hub.event("RecommendationReady", WAIT).await["requestId"],
        first.as_str()
    );

    let body: Vec<String> = (0..500).map(|i| line(&format!("Bulk {i}"))).collect();
    let answer = bulk(&server, body.join("\n") + "\n").await;
    assert_eq!(answer.status, 201, "{answer:?}");
    assert_eq!(answer.body["created"], 500);
    assert_eq!(answer.body["ids"].as_array().map(Vec::len), Some(500));

    let second = ask(&server, &token, &job).await;
    assert_eq!(
        hub.event("RecommendationReady", WAIT).await["requestId"],
        second.as_str()
    );
    let result = server
        .call(
            "GET",
            &format!("/api/v1/recommendations/{second}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(result.body["status"], "ready", "{result:?}");
    assert_eq!(result.body["candidates"].as_array().map(Vec::len), Some(5));
    let state = server
        .call(
            "GET",
            "/api/v1/regions/west/state",
            Some(&server.admin()),
            None,
        )
        .await;
    assert_eq!(state.body["contractors"], 500, "{state:?}");
}

#[tokio::test]
async fn the_demo_offers_several_candidates_for_most_jobs() {
    let server = start().await;
    let seed = 20_261_204;
    println!("demo seed {seed}");
    // The demo's "now": the next Monday, 08:00 in West (16:00 UTC), not the wall clock — at
    // the wall clock the test's outcome depended on the hour and the weekday it ran (on a
    // Friday evening only 23 of 40 jobs had 3 candidates: the day's working hours were over).
    let now = {
        use chrono::{Datelike as _, Duration, TimeZone as _, Utc};
        let today = Utc::now().date_naive();
        let ahead = 7 - i64::from(today.weekday().num_days_from_monday());
        let monday = today + Duration::days(ahead);
        Utc.from_utc_datetime(&monday.and_hms_opt(16, 0, 0).expect("16:00"))
    };
    println!("demo now {now}");
    dispatch_server::demo::load(&server.store, seed, 150, now)
        .await
        .expect("demo");
    let token = server.dispatcher("west");
    let jobs = server
        .call(
            "GET",
            "/api/v1/jobs?region=west&status=open&limit=200",
            Some(&token),
            None,
        )
        .await;
    let jobs: Vec<String> = jobs.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|j| j["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(jobs.len(), 40);
    let mut hub = server.hub(&token).await;
    hub.subscribe("/dispatch/west").await;
    let mut enough = 0;
    let mut reasons = std::collections::BTreeSet::new();
    for job in &jobs {
        let asked = server
            .call(
                "POST",
                "/api/v1/recommendations",
                Some(&token),
                Some(&json!({"jobId": job, "limit": 5})),
            )
            .await;
        let id = asked.body["requestId"].as_str().expect("id").to_owned();
        loop {
            if hub.event("RecommendationReady", WAIT).await["requestId"] == id.as_str() {
                break;
            }
        }
        let result: Value = server
            .call(
                "GET",
                &format!("/api/v1/recommendations/{id}"),
                Some(&token),
                None,
            )
            .await
            .body;
        if result["candidates"].as_array().map_or(0, Vec::len) >= 3 {
            enough += 1;
        }
        for e in result["excluded"].as_array().into_iter().flatten() {
            reasons.insert(e["reason"].as_str().unwrap_or_default().to_owned());
        }
    }
    println!("{enough}/40 jobs with 3 or more candidates; exclusion reasons seen: {reasons:?}");
    assert!(enough >= 32, "{enough}/40 jobs have 3 or more candidates");
    assert!(
        reasons.len() >= 3,
        "the hard jobs teach several rules: {reasons:?}"
    );
}
