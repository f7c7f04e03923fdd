//! No double booking under real concurrency (SPEC §4): 200 simultaneous manual assignments, each
//! on its own TCP connection, of overlapping slots for one contractor (200 jobs), and of one job
//! (200 contractors). Exactly one wins (201), every other is 409, exactly one live assignment
//! exists afterwards, and exactly one `JobAssigned` reaches the region channel and the contractor
//! channel.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::Request;
use chrono::{DateTime, Duration as Span, DurationRound as _, Utc};
use common::*;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::Barrier;

const RACERS: usize = 200;
const WAIT: Duration = Duration::from_secs(10);
/// How long to listen for stragglers after the first event.
const STRAGGLERS: Duration = Duration::from_secs(1);

/// Tomorrow, on the hour: a start every racer can reach.
fn base() -> DateTime<Utc> {
    (Utc::now() + Span::days(1))
        .duration_trunc(Span::hours(1))
        .expect("whole hour")
}

async fn create(server: &TestServer, path: &str, body: &Value) -> String {
    let answer = server
        .call("POST", path, Some(&server.admin()), Some(body))
        .await;
    assert_eq!(answer.status, 201, "{answer:?}");
    answer.body["id"].as_str().expect("id").to_owned()
}

/// Sends every body to `POST /api/v1/assignments` at once, each from its own task over its own
/// connection, released together by a barrier; returns each answer's status and body.
async fn race(server: &TestServer, token: &str, bodies: Vec<Value>) -> Vec<(u16, Value)> {
    let barrier = Arc::new(Barrier::new(bodies.len()));
    let url = format!("http://{}/api/v1/assignments", server.addr);
    let mut tasks = Vec::new();
    for body in bodies {
        let barrier = Arc::clone(&barrier);
        let url = url.clone();
        let token = token.to_owned();
        let health = format!("http://{}/healthz", server.addr);
        tasks.push(tokio::spawn(async move {
            // A client of its own, so a connection of its own, opened (by a first request)
            // before the barrier and reused for the racing one.
            let client: Client<HttpConnector, Full<Bytes>> =
                Client::builder(TokioExecutor::new()).build(HttpConnector::new());
            let warm = client
                .request(Request::get(health).body(Full::default()).expect("request"))
                .await
                .expect("healthz");
            warm.into_body().collect().await.expect("body");
            let request = Request::post(url)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.to_string())))
                .expect("request");
            barrier.wait().await;
            let response = tokio::time::timeout(Duration::from_secs(60), client.request(request))
                .await
                .expect("an answer in time")
                .expect("http");
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    answers
}

/// Exactly one 201 and the rest 409 problems of these kinds (refused by the handler's check,
/// or by the store when the race reached it); returns the winner's assignment.
fn one_winner(answers: &[(u16, Value)], kinds: &[&str]) -> Value {
    let mut statuses = BTreeMap::new();
    for (status, _) in answers {
        *statuses.entry(*status).or_insert(0) += 1;
    }
    assert_eq!(
        statuses,
        BTreeMap::from([(201, 1), (409, RACERS - 1)]),
        "one 201 and {} × 409; others: {:?}",
        RACERS - 1,
        answers
            .iter()
            .filter(|(status, _)| *status != 201 && *status != 409)
            .take(3)
            .collect::<Vec<_>>()
    );
    for (status, body) in answers {
        if *status == 409 {
            assert_eq!(body["status"], 409, "{body}");
            assert!(
                body["type"].as_str().is_some_and(|kind| kinds
                    .iter()
                    .any(|expected| kind == format!("urn:dispatch:problem:{expected}"))),
                "{body}"
            );
        }
    }
    answers
        .iter()
        .find(|(status, _)| *status == 201)
        .map(|(_, body)| body.clone())
        .expect("a winner")
}

/// The `JobAssigned` events a hub client hears: waits for the first, then for stragglers.
async fn job_assigned(client: &mut HubClient) -> Vec<Value> {
    let first = client.event("JobAssigned", WAIT).await;
    let mut heard = vec![first];
    heard.extend(
        client
            .events(STRAGGLERS)
            .await
            .into_iter()
            .filter(|record| record["target"] == "JobAssigned")
            .map(|record| record["arguments"][0].clone()),
    );
    heard
}

async fn assignments_of(
    server: &TestServer,
    contractor: &str,
    around: DateTime<Utc>,
) -> Vec<Value> {
    let path = format!(
        "/api/v1/contractors/{contractor}/assignments?from={}&to={}",
        iso(around - Span::days(2)),
        iso(around + Span::days(2))
    );
    let answer = server.call("GET", &path, Some(&server.admin()), None).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body.as_array().expect("array").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_contractor_two_hundred_jobs_one_booking() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    let contractor = create(&server, "/api/v1/contractors", &contractor_body("Ana")).await;
    let base = base();
    let mut jobs = Vec::new();
    for _ in 0..RACERS {
        let body = job_body("west", 37.77, -122.42, base, base + Span::hours(4));
        jobs.push(create(&server, "/api/v1/jobs", &body).await);
    }

    let mut west = server.hub(&server.dispatcher("west")).await;
    west.subscribe("/dispatch/west").await;
    let mut ana = server.hub(&server.contractor(&contractor)).await;
    ana.subscribe(&format!("/contractor/{contractor}")).await;

    // Slots start a minute apart and last an hour: every two overlap.
    let bodies = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let start = base + Span::minutes(i as i64 % 60);
            json!({"jobId": job, "contractorId": contractor, "startUtc": iso(start), "endUtc": iso(start + Span::hours(1))})
        })
        .collect();
    let answers = race(&server, &server.dispatcher("west"), bodies).await;
    let winner = one_winner(&answers, &["assignment-infeasible", "contractor-busy"]);

    let booked = assignments_of(&server, &contractor, base).await;
    assert_eq!(booked.len(), 1, "one live assignment: {booked:?}");
    assert_eq!(booked[0], winner);
    let dispatcher = server.dispatcher("west");
    let assigned = server
        .call(
            "GET",
            "/api/v1/jobs?region=west&status=assigned",
            Some(&dispatcher),
            None,
        )
        .await;
    let assigned = assigned.body["items"].as_array().expect("items");
    assert_eq!(assigned.len(), 1, "one job is assigned: {assigned:?}");
    assert_eq!(assigned[0]["id"], winner["jobId"]);

    let to_region = job_assigned(&mut west).await;
    let to_contractor = job_assigned(&mut ana).await;
    assert_eq!(
        to_region.len(),
        1,
        "one JobAssigned on /dispatch/west: {to_region:?}"
    );
    assert_eq!(
        to_contractor.len(),
        1,
        "one JobAssigned on the contractor's channel: {to_contractor:?}"
    );
    assert_eq!(to_region[0]["assignmentId"], winner["id"]);
    assert_eq!(to_region[0], to_contractor[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_job_two_hundred_contractors_one_booking() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    let base = base();
    let job = create(
        &server,
        "/api/v1/jobs",
        &job_body("west", 37.77, -122.42, base, base + Span::hours(4)),
    )
    .await;
    let mut contractors = Vec::new();
    for i in 0..RACERS {
        let body = contractor_body(&format!("Contractor {i}"));
        contractors.push(create(&server, "/api/v1/contractors", &body).await);
    }

    let mut west = server.hub(&server.dispatcher("west")).await;
    west.subscribe("/dispatch/west").await;
    // One listener on every contractor's channel: the event reaches exactly one of them.
    let mut everyone = server.hub(&server.admin()).await;
    for contractor in &contractors {
        everyone
            .subscribe(&format!("/contractor/{contractor}"))
            .await;
    }

    let bodies = contractors
        .iter()
        .enumerate()
        .map(|(i, contractor)| {
            let start = base + Span::minutes(i as i64 % 60);
            json!({"jobId": job, "contractorId": contractor, "startUtc": iso(start), "endUtc": iso(start + Span::hours(1))})
        })
        .collect();
    let answers = race(&server, &server.dispatcher("west"), bodies).await;
    let winner = one_winner(&answers, &["job-not-open", "job-already-assigned"]);
    assert_eq!(winner["jobId"], job.as_str());

    let mut live = Vec::new();
    for contractor in &contractors {
        live.extend(assignments_of(&server, contractor, base).await);
    }
    assert_eq!(live, vec![winner.clone()], "one live assignment in all");
    let read = server
        .call(
            "GET",
            &format!("/api/v1/jobs/{job}"),
            Some(&server.admin()),
            None,
        )
        .await;
    assert_eq!(read.body["status"], "assigned");

    let to_region = job_assigned(&mut west).await;
    let to_contractors = job_assigned(&mut everyone).await;
    assert_eq!(
        to_region.len(),
        1,
        "one JobAssigned on /dispatch/west: {to_region:?}"
    );
    assert_eq!(
        to_contractors.len(),
        1,
        "one JobAssigned on the contractor channels: {to_contractors:?}"
    );
    assert_eq!(to_region[0]["assignmentId"], winner["id"]);
    assert_eq!(to_region[0]["contractorId"], winner["contractorId"]);
    assert_eq!(to_region[0], to_contractors[0]);
}
