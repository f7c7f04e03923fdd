//! A plan running beside interactive work (not a test: it prints figures). On the demo data
//! (`dispatch demo`: three regions of 150 contractors, real SQLite file, real HTTP and
//! WebSockets), the latency of `POST /api/v1/recommendations` → `RecommendationReady` is
//! measured first with nothing else running, then while a plan of region `west`'s week searches
//! (its own planning worker); then the plan is applied and timed.
//!
//! ```text
//! cargo bench -p dispatch-server --bench plan_service [-- --requests 100 --plan-seconds 30]
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{HubClient, arg, iso, percentile, start};
use serde_json::{Value, json};

/// `requests` recommendations one after another over `jobs`, each timed from the POST to its
/// `RecommendationReady` at `hub`; sorted milliseconds.
async fn recommendations(
    server: &common::TestServer,
    hub: &mut HubClient,
    token: &str,
    jobs: &[Value],
    requests: usize,
) -> Vec<f64> {
    let mut times = Vec::with_capacity(requests);
    for job in jobs.iter().cycle().take(requests) {
        let started = Instant::now();
        let asked = server
            .call(
                "POST",
                "/api/v1/recommendations",
                Some(token),
                Some(&json!({"jobId": job["id"]})),
            )
            .await;
        assert_eq!(asked.status, 202, "{asked:?}");
        loop {
            let event = hub
                .event("RecommendationReady", Duration::from_secs(30))
                .await;
            if event["requestId"] == asked.body["requestId"] {
                break;
            }
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times
}

#[tokio::main]
async fn main() {
    let requests = arg("--requests", 100);
    let plan_seconds = arg("--plan-seconds", 30);
    let server = start().await;
    let now = Utc::now();
    let loaded = dispatch_server::demo::load(&server.store, 7, 150, now)
        .await
        .expect("demo data");
    let token = server.dispatcher("west");
    let open = server
        .call(
            "GET",
            "/api/v1/jobs?region=west&status=open&limit=200",
            Some(&token),
            None,
        )
        .await;
    let jobs = open.body["items"].as_array().expect("jobs").clone();
    let mut hub = HubClient::connect(server.addr, &token).await;
    hub.subscribe("/dispatch/west").await;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "plan_service: {cores} cores; demo data {loaded:?}; {} open jobs in west; {requests} recommendations per phase",
        jobs.len()
    );

    let quiet = recommendations(&server, &mut hub, &token, &jobs, requests).await;

    let asked = server
        .call(
            "POST",
            "/api/v1/plans",
            Some(&token),
            Some(&json!({"region": "west", "from": iso(now), "to": iso(now + chrono::Duration::days(7)),
                "timeLimitSeconds": plan_seconds, "seed": 1})),
        )
        .await;
    assert_eq!(asked.status, 202, "{asked:?}");
    let plan_path = format!(
        "/api/v1/plans/{}",
        asked.body["planId"].as_str().expect("id")
    );
    let busy = recommendations(&server, &mut hub, &token, &jobs, requests).await;
    let during = server.call("GET", &plan_path, Some(&token), None).await;
    let still_running = during.body["status"] == "running";

    let plan = loop {
        let read = server.call("GET", &plan_path, Some(&token), None).await;
        if read.body["status"] != "running" {
            break read.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let started = Instant::now();
    let applied = server
        .call("POST", &format!("{plan_path}/apply"), Some(&token), None)
        .await;
    let apply_ms = started.elapsed().as_secs_f64() * 1000.0;

    println!(
        "recommendation → RecommendationReady, nothing else running: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&quiet, 0.5),
        percentile(&quiet, 0.99)
    );
    println!(
        "the same while a plan searches{}: p50 {:.1} ms, p99 {:.1} ms (p50 ×{:.2}, p99 ×{:.2})",
        if still_running {
            ""
        } else {
            " (the plan ended before the phase did)"
        },
        percentile(&busy, 0.5),
        percentile(&busy, 0.99),
        percentile(&busy, 0.5) / percentile(&quiet, 0.5).max(1e-9),
        percentile(&busy, 0.99) / percentile(&quiet, 0.99).max(1e-9),
    );
    println!(
        "plan: {} after {} ms, {} iterations; kpis {}",
        plan["status"], plan["progress"]["elapsedMs"], plan["progress"]["iterations"], plan["kpis"]
    );
    println!(
        "apply: {} in {apply_ms:.0} ms, {} booked, {} conflicts",
        applied.status,
        applied.body["applied"].as_array().map_or(0, Vec::len),
        applied.body["conflicts"].as_array().map_or(0, Vec::len)
    );
}
