//! Moving a booking (`POST /api/v1/assignments/{id}/move`) through the real HTTP API and hub:
//! one atomic step — a refusal of any kind leaves the old booking exactly as it was, and the
//! job is never left unassigned, however many dispatchers move it at once.

mod common;

use std::time::Duration;

use chrono::{DateTime, Duration as Span, DurationRound as _, Utc};
use common::*;
use serde_json::{Value, json};

/// A `west` job booked for contractor `contractor` at `start` for an hour; the assignment.
async fn booked(server: &TestServer, contractor: &str, start: DateTime<Utc>) -> Value {
    let body = job_body(
        "west",
        37.77,
        -122.42,
        start - Span::hours(2),
        start + Span::hours(6),
    );
    let token = server.dispatcher("west");
    let job = server
        .call("POST", "/api/v1/jobs", Some(&token), Some(&body))
        .await;
    assert_eq!(job.status, 201, "{job:?}");
    let assigned = server
        .call(
            "POST",
            "/api/v1/assignments",
            Some(&token),
            Some(&json!({"jobId": job.body["id"], "contractorId": contractor,
                "startUtc": iso(start), "endUtc": iso(start + Span::hours(1))})),
        )
        .await;
    assert_eq!(assigned.status, 201, "{assigned:?}");
    assigned.body
}

fn move_body(contractor: &str, start: DateTime<Utc>) -> Value {
    json!({"contractorId": contractor, "startUtc": iso(start), "endUtc": iso(start + Span::hours(1))})
}

/// The live assignment `id`, or the 404.
async fn live(server: &TestServer, id: &Value) -> Answer {
    let path = format!("/api/v1/assignments/{}", id.as_str().expect("id"));
    server
        .call("GET", &path, Some(&server.dispatcher("west")), None)
        .await
}

#[tokio::test]
async fn a_move_books_the_new_slot_and_ends_the_old_one_in_one_step() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    let ana = server.contractor_at("west", "Ana", 37.77, -122.42, 4).await;
    let bo = server.contractor_at("west", "Bo", 37.78, -122.42, 4).await;
    let token = server.dispatcher("west");
    let mut hub = server.hub(&token).await;
    hub.subscribe("/dispatch/west").await;
    let base = (Utc::now() + Span::days(1))
        .duration_trunc(Span::hours(1))
        .expect("hour");
    let old = booked(&server, &ana, base).await;
    hub.event("JobAssigned", Duration::from_secs(15)).await;

    let path = format!(
        "/api/v1/assignments/{}/move",
        old["id"].as_str().expect("id")
    );
    let moved = server
        .call(
            "POST",
            &path,
            Some(&token),
            Some(&move_body(&bo, base + Span::hours(1))),
        )
        .await;
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(moved.body["jobId"], old["jobId"]);
    assert_eq!(moved.body["contractorId"], bo.as_str());
    assert_eq!(moved.body["source"], "manual");
    assert_ne!(moved.body["id"], old["id"]);
    assert_eq!(
        live(&server, &old["id"]).await.status,
        404,
        "the old booking ended"
    );
    assert_eq!(live(&server, &moved.body["id"]).await.status, 200);
    let event = hub.event("JobAssigned", Duration::from_secs(15)).await;
    assert_eq!(event["assignmentId"], moved.body["id"]);
    assert_eq!(event["contractorId"], bo.as_str());
    let audit = server
        .call(
            "GET",
            &format!(
                "/api/v1/audit/{}",
                moved.body["auditId"].as_str().expect("audit")
            ),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(audit.body["decision"]["assignmentId"], moved.body["id"]);
    assert_eq!(audit.body["decision"]["decidedBy"], "dispatcher-west");

    // The old id is history: moving it again is a missing assignment.
    let again = server
        .call(
            "POST",
            &path,
            Some(&token),
            Some(&move_body(&ana, base + Span::hours(3))),
        )
        .await;
    assert_eq!(again.status, 404, "{again:?}");
}

#[tokio::test]
async fn a_refused_move_leaves_the_old_booking_exactly_as_it_was() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    server.region("east", "America/New_York").await;
    let ana = server.contractor_at("west", "Ana", 37.77, -122.42, 4).await;
    let bo = server.contractor_at("west", "Bo", 37.78, -122.42, 4).await;
    let eve = server.contractor_at("east", "Eve", 40.7, -74.0, 4).await;
    let token = server.dispatcher("west");
    let base = (Utc::now() + Span::days(1))
        .duration_trunc(Span::hours(1))
        .expect("hour");
    let old = booked(&server, &ana, base).await;
    // Bo is booked an hour later; and off the day after.
    booked(&server, &bo, base + Span::hours(1)).await;
    let off = base + Span::days(1);
    let time_off = server
        .call(
            "POST",
            &format!("/api/v1/contractors/{bo}/time-off"),
            Some(&server.admin()),
            Some(&json!({"startUtc": iso(off), "endUtc": iso(off + Span::hours(8)), "reason": "vacation"})),
        )
        .await;
    assert_eq!(time_off.status, 201, "{time_off:?}");

    let path = format!(
        "/api/v1/assignments/{}/move",
        old["id"].as_str().expect("id")
    );
    let refusals = [
        // Into Bo's own booking: the hard rules refuse before the store would.
        (
            move_body(&bo, base + Span::minutes(90)),
            409,
            "urn:dispatch:problem:assignment-infeasible",
        ),
        (
            move_body(&bo, off + Span::hours(1)),
            409,
            "urn:dispatch:problem:assignment-infeasible",
        ),
        (move_body(&eve, base), 404, "urn:dispatch:problem:not-found"),
        (
            move_body("00000000-0000-0000-0000-0000000000c9", base),
            404,
            "urn:dispatch:problem:not-found",
        ),
        (
            json!({"contractorId": bo, "startUtc": iso(base), "endUtc": iso(base)}),
            422,
            "urn:dispatch:problem:validation",
        ),
        (
            json!({"contractorId": bo}),
            422,
            "urn:dispatch:problem:validation",
        ),
    ];
    for (body, status, kind) in refusals {
        let answer = server.call("POST", &path, Some(&token), Some(&body)).await;
        assert_eq!(answer.status, status, "{body}: {answer:?}");
        assert_eq!(answer.body["type"], kind, "{body}: {answer:?}");
        let still = live(&server, &old["id"]).await;
        assert_eq!(still.status, 200, "the old booking stays: {still:?}");
        assert_eq!(still.body, old);
    }
    let malformed = server
        .raw(
            "POST",
            &path,
            Some(&token),
            &[("content-type", "application/json")],
            "{\"contractorId\":".into(),
        )
        .await;
    assert_eq!(malformed.status, 400, "{malformed:?}");
    let east = server
        .call(
            "POST",
            &path,
            Some(&server.dispatcher("east")),
            Some(&move_body(&ana, base + Span::hours(3))),
        )
        .await;
    assert_eq!(
        east.status, 404,
        "another region's booking looks missing: {east:?}"
    );
    assert_eq!(live(&server, &old["id"]).await.body, old);
}

#[tokio::test]
async fn dispatchers_moving_one_booking_at_once_leave_exactly_one() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    let ana = server.contractor_at("west", "Ana", 37.77, -122.42, 4).await;
    let base = (Utc::now() + Span::days(1))
        .duration_trunc(Span::hours(1))
        .expect("hour");
    let old = booked(&server, &ana, base).await;
    let path = format!(
        "/api/v1/assignments/{}/move",
        old["id"].as_str().expect("id")
    );
    let mut movers = Vec::new();
    for n in 1..=8 {
        let api = Api::new(server.addr);
        let token = server.dispatcher("west");
        let path = path.clone();
        let body = move_body(&ana, base + Span::minutes(15 * n));
        movers.push(tokio::spawn(async move {
            api.call("POST", &path, Some(&token), Some(&body)).await
        }));
    }
    let mut winners = Vec::new();
    for mover in movers {
        let answer = mover.await.expect("mover");
        match answer.status {
            200 => winners.push(answer.body),
            404 | 409 => {}
            other => panic!("unexpected {other}: {answer:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "one move wins: {winners:?}");
    let job = server
        .call(
            "GET",
            &format!("/api/v1/jobs/{}", old["jobId"].as_str().expect("job")),
            Some(&server.dispatcher("west")),
            None,
        )
        .await;
    assert_eq!(job.body["status"], "assigned");
    let now = Utc::now();
    let bookings = server
        .call(
            "GET",
            &format!(
                "/api/v1/contractors/{ana}/assignments?from={}&to={}",
                iso(now),
                iso(now + Span::days(3))
            ),
            Some(&server.admin()),
            None,
        )
        .await;
    let bookings = bookings.body.as_array().expect("bookings").clone();
    assert_eq!(bookings.len(), 1, "{bookings:?}");
    assert_eq!(bookings[0], winners[0]);
}
