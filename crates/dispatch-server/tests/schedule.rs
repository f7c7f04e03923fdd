//! `GET /api/v1/regions/{id}/schedule` through the real HTTP API: one bounded read of a
//! region's period — contractors by name with working hours, the time off and bookings that
//! touch the period, and the open jobs, emergencies first.

mod common;

use chrono::{Duration as Span, DurationRound as _, Utc};
use common::*;
use serde_json::json;

#[tokio::test]
async fn the_schedule_shows_each_contractor_s_period_and_the_open_jobs() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    server.region("east", "America/New_York").await;
    let bo = server.contractor_at("west", "Bo", 37.78, -122.42, 4).await;
    let ana = server.contractor_at("west", "Ana", 37.77, -122.42, 4).await;
    server.contractor_at("east", "Eve", 40.7, -74.0, 4).await;
    let token = server.dispatcher("west");
    let base = (Utc::now() + Span::days(1))
        .duration_trunc(Span::hours(1))
        .expect("hour");
    // Ana: a booking inside the day, one the next week; time off inside and outside.
    let mut booked = Vec::new();
    for start in [base + Span::hours(2), base + Span::days(8)] {
        let body = job_body("west", 37.77, -122.42, start, start + Span::hours(4));
        let job = server
            .call("POST", "/api/v1/jobs", Some(&token), Some(&body))
            .await;
        let assigned = server
            .call(
                "POST",
                "/api/v1/assignments",
                Some(&token),
                Some(&json!({"jobId": job.body["id"], "contractorId": ana,
                    "startUtc": iso(start), "endUtc": iso(start + Span::hours(1))})),
            )
            .await;
        assert_eq!(assigned.status, 201, "{assigned:?}");
        booked.push(assigned.body);
    }
    for start in [base + Span::hours(6), base + Span::days(9)] {
        let answer = server
            .call(
                "POST",
                &format!("/api/v1/contractors/{ana}/time-off"),
                Some(&server.admin()),
                Some(&json!({"startUtc": iso(start), "endUtc": iso(start + Span::hours(2)), "reason": "dentist"})),
            )
            .await;
        assert_eq!(answer.status, 201, "{answer:?}");
    }
    // Open jobs: a normal one, then an emergency later in the day; one outside the period.
    let mut normal = job_body(
        "west",
        37.76,
        -122.41,
        base + Span::hours(1),
        base + Span::hours(5),
    );
    normal["priority"] = json!("normal");
    let mut emergency = job_body(
        "west",
        37.76,
        -122.41,
        base + Span::hours(3),
        base + Span::hours(9),
    );
    emergency["priority"] = json!("emergency");
    let later = job_body(
        "west",
        37.76,
        -122.41,
        base + Span::days(5),
        base + Span::days(5) + Span::hours(4),
    );
    let mut open = Vec::new();
    for body in [normal, emergency, later] {
        let job = server
            .call("POST", "/api/v1/jobs", Some(&token), Some(&body))
            .await;
        assert_eq!(job.status, 201, "{job:?}");
        open.push(job.body);
    }

    let path = format!(
        "/api/v1/regions/west/schedule?from={}&to={}",
        iso(base),
        iso(base + Span::days(1))
    );
    let answer = server.call("GET", &path, Some(&token), None).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let schedule = answer.body;
    assert_eq!(schedule["region"]["timeZone"], "America/Los_Angeles");
    let rows = schedule["contractors"].as_array().expect("rows");
    let names: Vec<&str> = rows
        .iter()
        .map(|row| row["contractor"]["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["Ana", "Bo"], "the region's contractors, by name");
    let ana_row = &rows[0];
    assert_eq!(ana_row["contractor"]["id"], ana.as_str());
    assert!(
        !ana_row["contractor"]["workingHours"]
            .as_array()
            .expect("hours")
            .is_empty()
    );
    let bookings = ana_row["bookings"].as_array().expect("bookings");
    assert_eq!(
        bookings.len(),
        1,
        "only the booking inside the period: {bookings:?}"
    );
    assert_eq!(bookings[0]["assignment"], booked[0]);
    assert_eq!(bookings[0]["job"]["id"], booked[0]["jobId"]);
    assert_eq!(bookings[0]["job"]["status"], "assigned");
    // The drive into it, by the engine's rule: the first job of the stretch starts at home,
    // and this job is at Ana's home.
    assert_eq!(
        bookings[0]["travel"],
        json!({"distanceKm": 0.0, "minutes": 0, "source": "estimate", "from": "home"})
    );
    // Working time as UTC stretches covering the period (test contractors work around the
    // clock), so a board never re-derives working hours from the weekly pattern.
    let working = ana_row["working"].as_array().expect("working stretches");
    let first = working.first().expect("a stretch");
    let last = working.last().expect("a stretch");
    assert!(
        first["startUtc"].as_str() <= Some(iso(base).as_str()),
        "{working:?}"
    );
    assert!(
        last["endUtc"].as_str() >= Some(iso(base + Span::days(1)).as_str()),
        "{working:?}"
    );
    let time_off = ana_row["contractor"]["timeOff"]
        .as_array()
        .expect("time off");
    assert_eq!(
        time_off.len(),
        1,
        "only the time off inside the period: {time_off:?}"
    );
    assert_eq!(rows[1]["contractor"]["id"], bo.as_str());
    assert_eq!(rows[1]["bookings"], json!([]));
    let unassigned: Vec<&serde_json::Value> = schedule["unassigned"]
        .as_array()
        .expect("unassigned")
        .iter()
        .collect();
    assert_eq!(unassigned.len(), 2, "{unassigned:?}");
    assert_eq!(unassigned[0]["id"], open[1]["id"], "the emergency first");
    assert_eq!(unassigned[1]["id"], open[0]["id"]);
    assert_eq!(schedule["unassignedTruncated"], false);

    // Bad periods name the field; missing ones are refused too.
    for (query, field) in [
        (format!("from={}&to={}", iso(base), iso(base)), Some("to")),
        (
            format!("from={}&to={}", iso(base), iso(base + Span::days(15))),
            Some("to"),
        ),
        (format!("from={}", iso(base)), None),
        ("from=yesterday&to=today".to_owned(), None),
    ] {
        let answer = server
            .call(
                "GET",
                &format!("/api/v1/regions/west/schedule?{query}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(answer.status, 422, "{query}: {answer:?}");
        if let Some(field) = field {
            assert_eq!(answer.body["field"], field, "{query}: {answer:?}");
        }
    }
    // Another region's schedule looks missing; a contractor may not read one.
    let east = server
        .call("GET", &path, Some(&server.dispatcher("east")), None)
        .await;
    assert_eq!(east.status, 404, "{east:?}");
    let contractor = server
        .call("GET", &path, Some(&server.contractor(&ana)), None)
        .await;
    assert_eq!(contractor.status, 403, "{contractor:?}");
}
