//! Plans through the real HTTP API and hub: asked for, searched, read, applied once (racing
//! manual assignments without a double booking), cancelled, and failed when their node dies.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, Utc};
use common::*;
use serde_json::{Value, json};

/// How long a plan may take to reach the state a test waits for (searches here get 1 s).
const PLAN_WAIT: Duration = Duration::from_secs(60);

/// Reads the plan until `done` holds (bounded by `wait`).
async fn plan_when(
    api: &Api,
    token: &str,
    id: &str,
    wait: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + wait;
    loop {
        let answer = api
            .call("GET", &format!("/api/v1/plans/{id}"), Some(token), None)
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        if done(&answer.body) {
            return answer.body;
        }
        assert!(
            Instant::now() < deadline,
            "the plan did not get there in {wait:?}: {}",
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A region `west` with `contractors` working around the clock and `jobs` open jobs, each
/// window six hours within the next two days. Returns contractor ids and jobs.
async fn backlog(api: &Api, contractors: usize, jobs: usize) -> (Vec<String>, Vec<Value>) {
    api.region("west", "America/Los_Angeles").await;
    let mut ids = Vec::new();
    for n in 0..contractors {
        let offset = n as f64 * 0.02;
        ids.push(
            api.contractor_at("west", &format!("C{n}"), 37.75 + offset, -122.42, 4)
                .await,
        );
    }
    let mut made = Vec::new();
    for n in 0..jobs {
        let offset = (n % 7) as f64 * 0.01;
        made.push(
            api.job(
                "west",
                37.74 + offset,
                -122.40 - offset,
                2 + (n as i64 % 30),
                6,
            )
            .await,
        );
    }
    (ids, made)
}

/// The plan body for `west` from now over three days, searching for one second.
fn plan_body(seconds: u32) -> Value {
    let now = Utc::now();
    json!({"region": "west", "from": iso(now), "to": iso(now + Span::days(3)),
        "jobIds": null, "timeLimitSeconds": seconds, "seed": 1})
}

/// Asks for a plan; its id.
async fn ask(api: &Api, token: &str, body: &Value) -> String {
    let answer = api
        .call("POST", "/api/v1/plans", Some(token), Some(body))
        .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert_eq!(answer.body["status"], "running");
    let id = answer.body["planId"].as_str().expect("planId").to_owned();
    assert_eq!(
        answer.header("location"),
        Some(format!("/api/v1/plans/{id}").as_str())
    );
    id
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("time"))
        .expect("rfc 3339")
        .to_utc()
}

#[tokio::test]
async fn plans_are_validated_and_scoped_to_the_region() {
    let server = start().await;
    let (_, jobs) = backlog(&server, 1, 1).await;
    server.region("east", "America/New_York").await;
    let east_job = server.job("east", 40.7, -74.0, 2, 6).await;
    let west = server.dispatcher("west");
    let now = Utc::now();
    let base = plan_body(1);
    let with = |changes: Value| {
        let mut body = base.clone();
        for (key, value) in changes.as_object().expect("object") {
            body[key] = value.clone();
        }
        body
    };
    let cases = [
        (with(json!({"to": iso(now)})), "to"),
        (with(json!({"to": iso(now + Span::days(15))})), "to"),
        (with(json!({"timeLimitSeconds": 0})), "timeLimitSeconds"),
        (with(json!({"timeLimitSeconds": 301})), "timeLimitSeconds"),
        (with(json!({"seed": 9_007_199_254_740_992_u64})), "seed"),
        (with(json!({"jobIds": []})), "jobIds"),
        (
            with(json!({"jobIds": [jobs[0]["id"], jobs[0]["id"]]})),
            "jobIds",
        ),
        (with(json!({"jobIds": [east_job["id"]]})), "jobIds"),
        (
            with(json!({"jobIds": ["00000000-0000-0000-0000-000000000001"]})),
            "jobIds",
        ),
        (with(json!({"region": "nowhere"})), "region"),
    ];
    for (body, field) in cases {
        let answer = server
            .call("POST", "/api/v1/plans", Some(&server.admin()), Some(&body))
            .await;
        assert_eq!(answer.status, 422, "{body}: {answer:?}");
        assert_eq!(answer.body["field"], field, "{body}: {answer:?}");
    }
    for body in [
        json!({"region": "west"}),
        with(json!({"extra": true})),
        with(json!({"from": "yesterday"})),
    ] {
        let answer = server
            .call("POST", "/api/v1/plans", Some(&west), Some(&body))
            .await;
        assert_eq!(answer.status, 422, "{body}: {answer:?}");
    }

    // Roles: a dispatcher of another region, a contractor, nobody.
    let east = server.dispatcher("east");
    let answer = server
        .call("POST", "/api/v1/plans", Some(&east), Some(&base))
        .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    let contractor = server.contractor("00000000-0000-0000-0000-0000000000c1");
    let answer = server
        .call("POST", "/api/v1/plans", Some(&contractor), Some(&base))
        .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    let answer = server
        .call("POST", "/api/v1/plans", None, Some(&base))
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");

    // Another region's plan reads exactly like a missing one, for every verb.
    let id = ask(&server, &west, &base).await;
    for (method, path) in [
        ("GET", format!("/api/v1/plans/{id}")),
        ("POST", format!("/api/v1/plans/{id}/apply")),
        ("POST", format!("/api/v1/plans/{id}/cancel")),
        (
            "GET",
            "/api/v1/plans/00000000-0000-0000-0000-000000000009".to_owned(),
        ),
        ("GET", "/api/v1/plans/not-a-uuid".to_owned()),
    ] {
        let answer = server.call(method, &path, Some(&east), None).await;
        assert_eq!(answer.status, 404, "{method} {path}: {answer:?}");
        assert_eq!(answer.body["type"], "urn:dispatch:problem:not-found");
    }
    let admin = server.admin();
    plan_when(&server, &admin, &id, PLAN_WAIT, |p| p["status"] == "ready").await;
}

#[tokio::test]
async fn a_plan_is_searched_read_and_applied_once_with_its_events() {
    let server = start().await;
    let (contractors, jobs) = backlog(&server, 3, 12).await;
    let token = server.dispatcher("west");
    let mut region_hub = server.hub(&token).await;
    region_hub.subscribe("/dispatch/west").await;
    let mut contractor_hub = server.hub(&server.contractor(&contractors[0])).await;
    contractor_hub
        .subscribe(&format!("/contractor/{}", contractors[0]))
        .await;

    let id = ask(&server, &token, &plan_body(1)).await;
    let plan = plan_when(&server, &token, &id, PLAN_WAIT, |p| p["status"] == "ready").await;
    assert_eq!(plan["planId"], id.as_str());
    assert_eq!(plan["region"], "west");
    assert_eq!(plan["configVersion"], 1);
    assert!(plan["progress"]["iterations"].as_u64().expect("iterations") > 0);
    let routes = plan["routes"].as_array().expect("routes");
    let visits: Vec<(String, &Value)> = routes
        .iter()
        .flat_map(|route| {
            let contractor = route["contractorId"].as_str().expect("id").to_owned();
            route["visits"]
                .as_array()
                .expect("visits")
                .iter()
                .map(move |visit| (contractor.clone(), visit))
        })
        .collect();
    let scheduled = plan["kpis"]["scheduled"].as_u64().expect("scheduled") as usize;
    assert_eq!(visits.len(), scheduled);
    assert_eq!(
        scheduled + plan["unassigned"].as_array().expect("unassigned").len(),
        jobs.len(),
        "every job is planned or said why not: {plan}"
    );
    assert!(scheduled >= jobs.len() / 2, "{plan}");

    let apply = format!("/api/v1/plans/{id}/apply");
    let first = server.call("POST", &apply, Some(&token), None).await;
    assert_eq!(first.status, 200, "{first:?}");
    let applied = first.body["applied"].as_array().expect("applied");
    assert_eq!(applied.len(), scheduled, "{first:?}");
    assert_eq!(first.body["conflicts"], json!([]));

    // Each an ordinary automatic assignment at the planned slot, its audit naming the plan.
    let planned: HashMap<&str, (&str, &Value)> = visits
        .iter()
        .map(|(c, v)| (v["jobId"].as_str().expect("job"), (c.as_str(), *v)))
        .collect();
    for entry in applied {
        let assignment = server
            .call(
                "GET",
                &format!(
                    "/api/v1/assignments/{}",
                    entry["assignmentId"].as_str().expect("id")
                ),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(assignment.status, 200, "{assignment:?}");
        let (contractor, visit) = planned[entry["jobId"].as_str().expect("job")];
        assert_eq!(assignment.body["source"], "auto");
        assert_eq!(assignment.body["contractorId"], contractor);
        assert_eq!(time(&assignment.body["startUtc"]), time(&visit["startUtc"]));
        assert_eq!(assignment.body["auditId"], entry["auditId"]);
        let audit = server
            .call(
                "GET",
                &format!("/api/v1/audit/{}", entry["auditId"].as_str().expect("id")),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(audit.body["planId"], id.as_str(), "{audit:?}");
        assert_eq!(audit.body["decision"]["source"], "auto");
    }

    // Applied once: the second apply answers the same and books nothing.
    let second = server.call("POST", &apply, Some(&token), None).await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(second.body, first.body);
    let read = plan_when(&server, &token, &id, PLAN_WAIT, |p| {
        p["status"] == "applied"
    })
    .await;
    assert_eq!(read["application"], first.body);
    let cancel = server
        .call(
            "POST",
            &format!("/api/v1/plans/{id}/cancel"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(cancel.status, 409, "{cancel:?}");

    // Events: one JobAssigned per applied assignment on the region's channel, then the
    // sentinel (a later manual assignment, after the plan's period) — nothing from the second
    // apply in between.
    let sentinel_job = server.job("west", 37.74, -122.40, 80, 6).await;
    let start = time(&sentinel_job["windowStartUtc"]);
    let sentinel = server
        .call(
            "POST",
            "/api/v1/assignments",
            Some(&token),
            Some(
                &json!({"jobId": sentinel_job["id"], "contractorId": contractors[2],
                "startUtc": iso(start), "endUtc": iso(start + Span::minutes(60))}),
            ),
        )
        .await;
    assert_eq!(sentinel.status, 201, "{sentinel:?}");
    let mut seen = Vec::new();
    loop {
        let event = region_hub
            .event("JobAssigned", Duration::from_secs(15))
            .await;
        if event["assignmentId"] == sentinel.body["id"] {
            break;
        }
        seen.push(event);
    }
    let ids: HashSet<&str> = seen
        .iter()
        .map(|e| e["assignmentId"].as_str().expect("id"))
        .collect();
    assert_eq!(
        seen.len(),
        applied.len(),
        "one event per applied assignment"
    );
    let expected: HashSet<&str> = applied
        .iter()
        .map(|e| e["assignmentId"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, expected);
    for event in &seen {
        assert_eq!(event["source"], "auto");
        assert_eq!(event["region"], "west");
    }
    // The contractor's channel: exactly its own bookings.
    let own = applied
        .iter()
        .filter(|e| planned[e["jobId"].as_str().expect("job")].0 == contractors[0])
        .count();
    for _ in 0..own {
        let event = contractor_hub
            .event("JobAssigned", Duration::from_secs(15))
            .await;
        assert_eq!(event["contractorId"], contractors[0].as_str());
    }
}

#[tokio::test]
async fn applying_while_dispatchers_book_the_same_slots_never_double_books() {
    let server = start().await;
    backlog(&server, 2, 10).await;
    let token = server.dispatcher("west");
    let id = ask(&server, &token, &plan_body(1)).await;
    let plan = plan_when(&server, &token, &id, PLAN_WAIT, |p| p["status"] == "ready").await;
    let mut visits = Vec::new();
    for route in plan["routes"].as_array().expect("routes") {
        for visit in route["visits"].as_array().expect("visits") {
            visits.push((route["contractorId"].clone(), visit.clone()));
        }
    }
    assert!(!visits.is_empty(), "{plan}");
    // For each planned visit: a dispatcher books the same job there, and another books a new
    // job on the same contractor at the same time — both race the apply.
    let mut extra = Vec::new();
    for (_, visit) in &visits {
        let start = time(&visit["startUtc"]);
        let body = job_body(
            "west",
            37.75,
            -122.41,
            start - Span::hours(1),
            start + Span::hours(3),
        );
        let answer = server
            .call("POST", "/api/v1/jobs", Some(&token), Some(&body))
            .await;
        assert_eq!(answer.status, 201, "{answer:?}");
        extra.push(answer.body["id"].clone());
    }
    let manual = |job: Value, contractor: Value, visit: Value| {
        let api = Api::new(server.addr);
        let token = token.clone();
        async move {
            let body = json!({"jobId": job, "contractorId": contractor,
                "startUtc": visit["startUtc"], "endUtc": visit["endUtc"]});
            api.call("POST", "/api/v1/assignments", Some(&token), Some(&body))
                .await
        }
    };
    let mut racers = Vec::new();
    for ((contractor, visit), extra_job) in visits.iter().zip(&extra) {
        racers.push(tokio::spawn(manual(
            visit["jobId"].clone(),
            contractor.clone(),
            visit.clone(),
        )));
        racers.push(tokio::spawn(manual(
            extra_job.clone(),
            contractor.clone(),
            visit.clone(),
        )));
    }
    let applier = {
        let api = Api::new(server.addr);
        let token = token.clone();
        let path = format!("/api/v1/plans/{id}/apply");
        tokio::spawn(async move { api.call("POST", &path, Some(&token), None).await })
    };
    let application = applier.await.expect("apply task");
    assert_eq!(application.status, 200, "{application:?}");
    let mut manual_wins = 0;
    for racer in racers {
        let answer = racer.await.expect("racer");
        assert!(
            answer.status == 201 || answer.status == 409,
            "a booking is made or refused: {answer:?}"
        );
        manual_wins += usize::from(answer.status == 201);
    }
    let applied = application.body["applied"]
        .as_array()
        .expect("applied")
        .len();
    let conflicts = application.body["conflicts"].as_array().expect("conflicts");
    assert_eq!(applied + conflicts.len(), visits.len(), "{application:?}");
    for conflict in conflicts {
        assert!(conflict["reason"].as_str().is_some_and(|r| !r.is_empty()));
        assert!(conflict["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // Each planned slot went to one of its three claimants at most (a slot lost to another
    // job can make the contractor's next planned visit unreachable for all of its claimants).
    assert!(applied + manual_wins <= visits.len(), "{application:?}");
    assert!(applied + manual_wins > 0, "{application:?}");

    // The store's view: no job twice, no contractor at two places at once.
    let contractors: HashSet<&str> = visits
        .iter()
        .map(|(contractor, _)| contractor.as_str().expect("id"))
        .collect();
    let mut jobs_booked = HashSet::new();
    for contractor in contractors {
        let now = Utc::now();
        let path = format!(
            "/api/v1/contractors/{contractor}/assignments?from={}&to={}",
            iso(now - Span::days(1)),
            iso(now + Span::days(5))
        );
        let answer = server.call("GET", &path, Some(&server.admin()), None).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let mut slots = Vec::new();
        for a in answer.body.as_array().expect("assignments") {
            assert!(
                jobs_booked.insert(a["jobId"].as_str().expect("job").to_owned()),
                "a job booked twice: {a}"
            );
            slots.push((time(&a["startUtc"]), time(&a["endUtc"])));
        }
        slots.sort();
        for pair in slots.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "overlapping bookings: {pair:?}");
        }
    }
}

#[tokio::test]
async fn a_cancelled_plan_stops_and_cannot_be_applied() {
    let server = start().await;
    backlog(&server, 2, 6).await;
    let token = server.dispatcher("west");
    let id = ask(&server, &token, &plan_body(120)).await;
    // Running, with its progress written as it goes.
    plan_when(&server, &token, &id, PLAN_WAIT, |p| {
        p["status"] == "running" && p["progress"]["iterations"].as_u64() > Some(0)
    })
    .await;
    let apply = format!("/api/v1/plans/{id}/apply");
    let early = server.call("POST", &apply, Some(&token), None).await;
    assert_eq!(early.status, 409, "{early:?}");
    assert_eq!(early.body["type"], "urn:dispatch:problem:plan-not-ready");

    let cancel = format!("/api/v1/plans/{id}/cancel");
    let answer = server.call("POST", &cancel, Some(&token), None).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["status"], "cancelled");
    // The search stops long before its 120 s and stores what it found, still cancelled.
    let stopped = plan_when(&server, &token, &id, PLAN_WAIT, |p| !p["kpis"].is_null()).await;
    assert_eq!(stopped["status"], "cancelled");
    assert!(stopped["progress"]["elapsedMs"].as_u64().expect("elapsed") < 120_000);
    let again = server.call("POST", &cancel, Some(&token), None).await;
    assert_eq!(
        again.status, 200,
        "cancelling twice changes nothing: {again:?}"
    );
    let late = server.call("POST", &apply, Some(&token), None).await;
    assert_eq!(late.status, 409, "{late:?}");
}

#[tokio::test]
async fn a_plan_whose_node_dies_is_failed_after_the_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let addr = free_addr();
    let mut node = spawn_node(dir.path(), addr, &[]).await;
    let api = Api::new(addr);
    backlog(&api, 2, 6).await;
    let token = api.dispatcher("west");
    let id = ask(&api, &token, &plan_body(300)).await;
    plan_when(&api, &token, &id, PLAN_WAIT, |p| {
        p["progress"]["iterations"].as_u64() > Some(0)
    })
    .await;
    node.0.kill().expect("kill");
    node.0.wait().expect("reap");

    let addr = free_addr();
    let _restarted = spawn_node(dir.path(), addr, &[]).await;
    let api = Api::new(addr);
    let failed = plan_when(&api, &token, &id, PLAN_WAIT, |p| p["status"] != "running").await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("plan again")),
        "{failed}"
    );
}

#[tokio::test]
async fn with_move_automatic_an_unstarted_automatic_booking_moves_in_one_step() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    let far = server.contractor_at("west", "Far", 37.70, -122.42, 4).await;
    let job = server.job("west", 37.78, -122.42, 3, 6).await;
    let token = server.dispatcher("west");
    let job_id = job["id"].as_str().expect("id");
    // Auto-assigned while the only contractor lives 9 km away.
    let mut hub = server.hub(&token).await;
    hub.subscribe("/dispatch/west").await;
    let asked = server
        .call(
            "POST",
            "/api/v1/recommendations",
            Some(&token),
            Some(&json!({"jobId": job_id, "autoAssign": true})),
        )
        .await;
    assert_eq!(asked.status, 202, "{asked:?}");
    let first = hub.event("JobAssigned", Duration::from_secs(15)).await;
    assert_eq!(first["contractorId"], far.as_str());
    assert_eq!(first["source"], "auto");
    // Then a contractor living at the job's door joins.
    let near = server
        .contractor_at("west", "Near", 37.78, -122.42, 4)
        .await;

    // Without moveAutomatic the booking stays: its job is not planned at all.
    let fixed = ask(&server, &token, &plan_body(1)).await;
    let fixed = plan_when(&server, &token, &fixed, PLAN_WAIT, |p| {
        p["status"] == "ready"
    })
    .await;
    assert_eq!(fixed["kpis"]["scheduled"], 0, "{fixed}");
    assert_eq!(fixed["moveAutomatic"], false);

    let mut body = plan_body(1);
    body["moveAutomatic"] = json!(true);
    let id = ask(&server, &token, &body).await;
    let plan = plan_when(&server, &token, &id, PLAN_WAIT, |p| p["status"] == "ready").await;
    let routes = plan["routes"].as_array().expect("routes");
    assert_eq!(routes.len(), 1, "{plan}");
    assert_eq!(
        routes[0]["contractorId"],
        near.as_str(),
        "less driving: {plan}"
    );
    assert_eq!(routes[0]["visits"][0]["jobId"], job_id);

    let applied = server
        .call(
            "POST",
            &format!("/api/v1/plans/{id}/apply"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(applied.status, 200, "{applied:?}");
    assert_eq!(applied.body["conflicts"], json!([]), "{applied:?}");
    let moved = &applied.body["applied"][0];
    assert_ne!(moved["assignmentId"], first["assignmentId"]);
    // The old booking is history, the new one live; the job never unassigned.
    let old = server
        .call(
            "GET",
            &format!(
                "/api/v1/assignments/{}",
                first["assignmentId"].as_str().expect("id")
            ),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(old.status, 404, "{old:?}");
    let read = server
        .call("GET", &format!("/api/v1/jobs/{job_id}"), Some(&token), None)
        .await;
    assert_eq!(read.body["status"], "assigned");
    let event = hub.event("JobAssigned", Duration::from_secs(15)).await;
    assert_eq!(event["assignmentId"], moved["assignmentId"]);
    assert_eq!(event["contractorId"], near.as_str());
    assert_eq!(event["source"], "auto");
}
