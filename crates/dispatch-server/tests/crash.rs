//! The `dispatch` binary killed (SIGKILL) right after a commit: after a restart, the event of
//! that commit is still sent, once, at once.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

async fn spawn(dir: &std::path::Path, addr: std::net::SocketAddr, hold_events: bool) -> Node {
    spawn_node(
        dir,
        addr,
        &[("DISPATCH_HOLD_EVENTS", &hold_events.to_string())],
    )
    .await
}

#[tokio::test]
async fn an_event_committed_before_a_kill_is_sent_at_once_after_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = free_addr();
    let mut node = spawn(dir.path(), first, true).await;
    let api = Api::new(first);
    api.region("west", "America/Los_Angeles").await;
    let contractor = api.contractor_at("west", "Ana", 37.77, -122.42, 4).await;
    let job = api.job("west", 37.77, -122.42, 2, 6).await;
    let start = job["windowStartUtc"].as_str().expect("start").to_owned();
    let end =
        chrono::DateTime::parse_from_rfc3339(&start).expect("time") + chrono::Duration::minutes(60);
    let assigned = api
        .call(
            "POST",
            "/api/v1/assignments",
            Some(&api.dispatcher("west")),
            Some(&json!({"jobId": job["id"], "contractorId": contractor, "startUtc": start, "endUtc": end.to_rfc3339()})),
        )
        .await;
    assert_eq!(assigned.status, 201, "{assigned:?}");
    // The commit happened; the process dies before its relay sends anything.
    node.0.kill().expect("kill -9");
    node.0.wait().expect("reaped");

    // The restarted node sends it at once (no start delay, issue 16): to the clients connected
    // by then — on one node, none yet; on several, the other nodes' — and marks it sent once.
    // Clients that reconnect later read what they missed over HTTP.
    let second = free_addr();
    let _node = spawn(dir.path(), second, false).await;
    let api = Api::new(second);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let sent = loop {
        let sent = metric(&api, "dispatch_events_sent_total").await;
        if sent >= 1.0 || tokio::time::Instant::now() >= deadline {
            break sent;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        sent, 1.0,
        "the event of the last commit is sent once after the restart"
    );
    // What the dispatcher reads after reconnecting: the assignment, committed.
    let read = api
        .call(
            "GET",
            &format!(
                "/api/v1/assignments/{}",
                assigned.body["id"].as_str().expect("id")
            ),
            Some(&api.dispatcher("west")),
            None,
        )
        .await;
    assert_eq!(read.status, 200, "{read:?}");
    // A client subscribed now hears no repeat of it.
    let mut west = api.hub(&api.dispatcher("west")).await;
    west.subscribe("/dispatch/west").await;
    assert!(
        west.events(Duration::from_millis(500)).await.is_empty(),
        "sent once, before this client subscribed"
    );
}

#[tokio::test]
async fn recommendations_accepted_before_a_restart_are_computed_after_it() {
    use dispatch_store::{RecommendationRecord, RecommendationStatus, RequestId};
    let dir = tempfile::tempdir().expect("temp dir");
    // A first run accepted the request (202, stored pending) and died before computing it.
    let first = start_in(dir).await;
    first.region("west", "America/Los_Angeles").await;
    first.contractor_at("west", "Ana", 37.77, -122.42, 4).await;
    let job = first.job("west", 37.77, -122.42, 2, 6).await;
    let request_id = RequestId::from(uuid::Uuid::new_v4());
    first
        .store
        .create_recommendation(&RecommendationRecord {
            request_id,
            job_id: job["id"].as_str().expect("id").parse().expect("job id"),
            region: dispatch_core::RegionId::new("west"),
            status: RecommendationStatus::Pending,
            limit: 5,
            auto_assign: false,
            requested_by: "dispatcher-west".to_owned(),
            requested_at: chrono::Utc::now(),
            config_version: None,
            generated_at: None,
            audit_id: None,
            candidates: Vec::new(),
            excluded: Vec::new(),
            excluded_counts: Default::default(),
            error: None,
        })
        .await
        .expect("pending request");
    let dir = first.into_dir().await;

    let second = start_in(dir).await;
    let dispatcher = second.dispatcher("west");
    for _ in 0..100 {
        let record = second
            .call(
                "GET",
                &format!("/api/v1/recommendations/{request_id}"),
                Some(&dispatcher),
                None,
            )
            .await;
        if record.body["status"] == "ready" {
            assert_eq!(record.body["candidates"][0]["rank"], 1);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the pending recommendation was not computed after the restart");
}
