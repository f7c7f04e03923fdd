//! The dispatcher's whole flow over real HTTP and the real hub, with a real SQLite file.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Duration as Span, Utc};
use common::*;
use serde_json::{Value, json};

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().expect("object").keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(800);

#[tokio::test]
async fn create_recommend_assign_and_everyone_hears_what_they_should() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    server.region("east", "America/New_York").await;
    let near = server
        .contractor_at("west", "Ana Ruiz", 37.77, -122.42, 4)
        .await;
    let far = server
        .contractor_at("west", "Bo Chen", 37.80, -122.27, 3)
        .await;
    let novice = server
        .contractor_at("west", "Cy Novak", 37.76, -122.41, 1)
        .await;
    server
        .contractor_at("east", "Di East", 40.71, -74.0, 5)
        .await;
    let job = server.job("west", 37.76, -122.41, 2, 6).await;
    let job_id = job["id"].as_str().expect("job id").to_owned();
    assert_eq!(job["status"], "open");

    let mut west = server.hub(&server.dispatcher("west")).await;
    west.subscribe("/dispatch/west").await;
    let mut east = server.hub(&server.dispatcher("east")).await;
    east.subscribe("/dispatch/east").await;
    let mut ana = server.hub(&server.contractor(&near)).await;
    ana.subscribe(&format!("/contractor/{near}")).await;
    let mut bo = server.hub(&server.contractor(&far)).await;
    bo.subscribe(&format!("/contractor/{far}")).await;

    let dispatcher = server.dispatcher("west");
    let asked = server
        .call(
            "POST",
            "/api/v1/recommendations",
            Some(&dispatcher),
            Some(&json!({"jobId": job_id, "limit": 5})),
        )
        .await;
    assert_eq!(asked.status, 202, "{asked:?}");
    assert_eq!(asked.body["status"], "pending");
    let request_id = asked.body["requestId"]
        .as_str()
        .expect("request id")
        .to_owned();

    let ready = west.event("RecommendationReady", WAIT).await;
    assert_eq!(
        keys(&ready),
        set(&[
            "type",
            "jobId",
            "requestId",
            "region",
            "configVersion",
            "generatedAt"
        ])
    );
    assert_eq!(ready["requestId"], request_id.as_str());
    assert_eq!(ready["jobId"], job_id.as_str());
    assert_eq!(ready["region"], "west");
    assert_eq!(ready["configVersion"], 1);
    assert!(ready["generatedAt"].as_str().expect("time").ends_with('Z'));

    let result = server
        .call(
            "GET",
            &format!("/api/v1/recommendations/{request_id}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(result.status, 200);
    assert_eq!(result.body["status"], "ready");
    let candidates = result.body["candidates"].as_array().expect("candidates");
    assert_eq!(candidates.len(), 2);
    let top = &candidates[0];
    assert_eq!(top["rank"], 1);
    assert_eq!(
        top["contractorId"],
        near.as_str(),
        "the nearest contractor ranks first"
    );
    assert!(top["breakdown"]["travelTime"].is_number());
    let excluded = result.body["excluded"].as_array().expect("excluded");
    assert_eq!(excluded.len(), 1);
    assert_eq!(excluded[0]["contractorId"], novice.as_str());
    assert_eq!(excluded[0]["reason"], "missingSkill");

    let assignment = server
        .call(
            "POST",
            "/api/v1/assignments",
            Some(&dispatcher),
            Some(&json!({
                "jobId": job_id, "contractorId": near,
                "startUtc": top["startUtc"], "endUtc": top["endUtc"], "requestId": request_id
            })),
        )
        .await;
    assert_eq!(assignment.status, 201, "{assignment:?}");
    let assignment_id = assignment.body["id"].as_str().expect("id").to_owned();

    let assigned = west.event("JobAssigned", WAIT).await;
    assert_eq!(
        keys(&assigned),
        set(&[
            "type",
            "jobId",
            "contractorId",
            "assignmentId",
            "startUtc",
            "endUtc",
            "region",
            "source",
            "auditId"
        ])
    );
    assert_eq!(assigned["assignmentId"], assignment_id.as_str());
    assert_eq!(assigned["source"], "manual");
    let to_ana = ana.event("JobAssigned", WAIT).await;
    assert_eq!(to_ana, assigned);

    // Once each, and only where it belongs.
    assert!(west.events(QUIET).await.is_empty(), "west heard it once");
    assert!(ana.events(QUIET).await.is_empty(), "ana heard it once");
    assert!(
        bo.events(QUIET).await.is_empty(),
        "another contractor hears nothing"
    );
    assert!(
        east.events(QUIET).await.is_empty(),
        "another region hears nothing"
    );

    let audit_id = assigned["auditId"].as_str().expect("audit id");
    let audit = server
        .call(
            "GET",
            &format!("/api/v1/audit/{audit_id}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(audit.status, 200);
    assert_eq!(audit.body["decision"]["contractorId"], near.as_str());
    assert_eq!(audit.body["decision"]["rank"], 1);
    assert_eq!(audit.body["decision"]["decidedBy"], "dispatcher-west");
    assert_eq!(audit.body["configVersion"], 1);
    assert_eq!(audit.body["candidates"].as_array().map(Vec::len), Some(2));

    let job = server
        .call(
            "GET",
            &format!("/api/v1/jobs/{job_id}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(job.body["status"], "assigned");
    let from = (Utc::now() - Span::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to = (Utc::now() + Span::days(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mine = server
        .call(
            "GET",
            &format!("/api/v1/contractors/{near}/assignments?from={from}&to={to}"),
            Some(&server.contractor(&near)),
            None,
        )
        .await;
    assert_eq!(mine.status, 200, "{mine:?}");
    assert_eq!(mine.body[0]["id"], assignment_id.as_str());

    // Unassign: the job is open again and the slot free.
    let dropped = server
        .call(
            "DELETE",
            &format!("/api/v1/assignments/{assignment_id}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(dropped.status, 204);
    let job = server
        .call(
            "GET",
            &format!("/api/v1/jobs/{job_id}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(job.body["status"], "open");
}

/// A result with many exclusions: read in full the moment `RecommendationReady` arrives (every
/// excluded contractor with its reason, facts and sentence, and the counts per reason), the same
/// exclusions in the audit record (stored once for both), and `?excluded=summary` leaves the
/// list out but keeps the counts.
#[tokio::test]
async fn many_exclusions_are_read_in_full_after_the_event_and_summed_on_request() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    let able = server
        .contractor_at("west", "Ana Ruiz", 37.77, -122.42, 4)
        .await;
    let mut novices = BTreeSet::new();
    for i in 0..120 {
        let lat = 37.70 + f64::from(i) * 0.001;
        novices.insert(
            server
                .contractor_at("west", &format!("Novice {i:03}"), lat, -122.41, 1)
                .await,
        );
    }
    let job = server.job("west", 37.76, -122.41, 2, 6).await;
    let job_id = job["id"].as_str().expect("job id").to_owned();
    let dispatcher = server.dispatcher("west");
    let mut hub = server.hub(&dispatcher).await;
    hub.subscribe("/dispatch/west").await;

    let asked = server
        .call(
            "POST",
            "/api/v1/recommendations",
            Some(&dispatcher),
            Some(&json!({"jobId": job_id})),
        )
        .await;
    assert_eq!(asked.status, 202, "{asked:?}");
    let request_id = asked.body["requestId"].as_str().expect("id").to_owned();
    let ready = hub.event("RecommendationReady", WAIT).await;
    assert_eq!(ready["requestId"], request_id.as_str());

    // Read at once: the whole result is there.
    let path = format!("/api/v1/recommendations/{request_id}");
    let full = server.call("GET", &path, Some(&dispatcher), None).await;
    assert_eq!(full.status, 200);
    assert_eq!(full.body["status"], "ready");
    assert_eq!(full.body["candidates"][0]["contractorId"], able.as_str());
    let excluded = full.body["excluded"].as_array().expect("excluded");
    let ids: BTreeSet<String> = excluded
        .iter()
        .map(|e| e["contractorId"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids, novices, "every excluded contractor is listed");
    for e in excluded {
        assert_eq!(e["reason"], "missingSkill");
        assert_eq!(e["skill"], "plumbing");
        assert_eq!(e["actualLevel"], 1);
        assert!(
            e["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Has plumbing at level 1")),
            "{e}"
        );
    }
    assert_eq!(full.body["excludedCounts"], json!({"missingSkill": 120}));

    // The audit record lists the same exclusions.
    let audit_id = full.body["auditId"].as_str().expect("audit id");
    let audit = server
        .call(
            "GET",
            &format!("/api/v1/audit/{audit_id}"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(audit.status, 200);
    assert_eq!(audit.body["excluded"], full.body["excluded"]);
    assert_eq!(audit.body["evaluated"], 121);

    // The summary: counts, no list; everything else as in full.
    let summary = server
        .call(
            "GET",
            &format!("{path}?excluded=summary"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(summary.status, 200);
    assert_eq!(summary.body["excluded"], json!([]));
    assert_eq!(summary.body["excludedCounts"], json!({"missingSkill": 120}));
    assert_eq!(summary.body["candidates"], full.body["candidates"]);
    let all = server
        .call(
            "GET",
            &format!("{path}?excluded=all"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(all.body, full.body);
    let bad = server
        .call(
            "GET",
            &format!("{path}?excluded=some"),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(bad.status, 422, "{bad:?}");
}

#[tokio::test]
async fn auto_assign_books_the_top_candidate() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    let near = server.contractor_at("west", "Ana", 37.77, -122.42, 4).await;
    server.contractor_at("west", "Bo", 37.90, -122.20, 4).await;
    let job = server.job("west", 37.77, -122.42, 1, 8).await;
    let mut west = server.hub(&server.dispatcher("west")).await;
    west.subscribe("/dispatch/west").await;
    let dispatcher = server.dispatcher("west");
    let asked = server
        .call(
            "POST",
            "/api/v1/recommendations",
            Some(&dispatcher),
            Some(&json!({"jobId": job["id"], "autoAssign": true})),
        )
        .await;
    assert_eq!(asked.status, 202);
    west.event("RecommendationReady", WAIT).await;
    let assigned = west.event("JobAssigned", WAIT).await;
    assert_eq!(assigned["source"], "auto");
    assert_eq!(assigned["contractorId"], near.as_str());
    let audit = server
        .call(
            "GET",
            &format!(
                "/api/v1/audit/{}",
                assigned["auditId"].as_str().expect("audit")
            ),
            Some(&dispatcher),
            None,
        )
        .await;
    assert_eq!(audit.body["decision"]["source"], "auto");
    assert_eq!(audit.body["decision"]["rank"], 1);
    // A second recommendation for the now assigned job is refused.
    let again = server
        .call(
            "POST",
            "/api/v1/recommendations",
            Some(&dispatcher),
            Some(&json!({"jobId": job["id"]})),
        )
        .await;
    assert_eq!(again.status, 409);
}

#[tokio::test]
async fn configuration_versions_need_if_match_and_stay_readable() {
    let server = start().await;
    let admin = server.admin();
    let current = server
        .call("GET", "/api/v1/config", Some(&admin), None)
        .await;
    assert_eq!(current.status, 200);
    assert_eq!(current.body["version"], 1);
    assert_eq!(current.header("etag"), Some("\"1\""));
    let mut body = current.body.clone();
    body.as_object_mut().expect("object").remove("version");
    body["weights"]["travelTime"] = json!(0.5);
    let missing = server
        .call("PUT", "/api/v1/config", Some(&admin), Some(&body))
        .await;
    assert_eq!(missing.status, 428);
    let ok = server
        .raw(
            "PUT",
            "/api/v1/config",
            Some(&admin),
            &[("content-type", "application/json"), ("if-match", "\"1\"")],
            body.to_string().into(),
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body["version"], 2);
    assert_eq!(ok.header("etag"), Some("\"2\""));
    let stale = server
        .raw(
            "PUT",
            "/api/v1/config",
            Some(&admin),
            &[("content-type", "application/json"), ("if-match", "\"1\"")],
            body.to_string().into(),
        )
        .await;
    assert_eq!(stale.status, 409);
    let old = server
        .call("GET", "/api/v1/config/1", Some(&admin), None)
        .await;
    assert_eq!(
        old.body["weights"]["travelTime"],
        current.body["weights"]["travelTime"]
    );
    let dispatcher = server.dispatcher("west");
    assert_eq!(
        server
            .call("GET", "/api/v1/config/2", Some(&dispatcher), None)
            .await
            .body["weights"]["travelTime"],
        0.5
    );
    let forbidden = server
        .raw(
            "PUT",
            "/api/v1/config",
            Some(&dispatcher),
            &[("content-type", "application/json"), ("if-match", "\"2\"")],
            body.to_string().into(),
        )
        .await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        server
            .call("GET", "/api/v1/config/9", Some(&admin), None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn idempotency_keys_replay_refuse_and_change_nothing() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    let dispatcher = server.dispatcher("west");
    let start_at = Utc::now() + Span::hours(3);
    let body = job_body("west", 37.7, -122.4, start_at, start_at + Span::hours(4));
    let headers = [
        ("content-type", "application/json"),
        ("idempotency-key", "job-1"),
    ];
    let first = server
        .raw(
            "POST",
            "/api/v1/jobs",
            Some(&dispatcher),
            &headers,
            body.to_string().into(),
        )
        .await;
    assert_eq!(first.status, 201);
    let again = server
        .raw(
            "POST",
            "/api/v1/jobs",
            Some(&dispatcher),
            &headers,
            body.to_string().into(),
        )
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "the first answer is replayed");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let mut other = body.clone();
    other["title"] = json!("Something else");
    let mismatch = server
        .raw(
            "POST",
            "/api/v1/jobs",
            Some(&dispatcher),
            &headers,
            other.to_string().into(),
        )
        .await;
    assert_eq!(mismatch.status, 422);
    assert_eq!(mismatch.body["field"], "Idempotency-Key");
    let jobs = server
        .call("GET", "/api/v1/jobs?region=west", Some(&dispatcher), None)
        .await;
    assert_eq!(
        jobs.body["items"].as_array().map(Vec::len),
        Some(1),
        "one job, not two"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let server = start().await;
    let document = server.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(document.status, 200);
    assert!(
        document.body["openapi"]
            .as_str()
            .expect("version")
            .starts_with("3.1")
    );
    let paths = document.body["paths"].as_object().expect("paths");
    for (path, method) in [
        ("/api/v1/regions", "post"),
        ("/api/v1/contractors/{id}/time-off", "post"),
        ("/api/v1/contractors/{id}/assignments", "get"),
        ("/api/v1/jobs", "get"),
        ("/api/v1/jobs/{id}/cancel", "post"),
        ("/api/v1/recommendations", "post"),
        ("/api/v1/recommendations/{id}", "get"),
        ("/api/v1/assignments", "post"),
        ("/api/v1/assignments/{id}", "delete"),
        ("/api/v1/audit/{id}", "get"),
        ("/api/v1/config", "put"),
        ("/api/v1/config/{version}", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} documented"
        );
    }
    let schemas = document.body["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for name in [
        "Job",
        "NewJob",
        "Contractor",
        "RecommendationRecord",
        "AuditRecord",
        "Problem",
        "JobAssigned",
        "RecommendationReady",
        "Exclusion",
    ] {
        assert!(schemas.contains_key(name), "schema {name}");
    }
}
