//! End-to-end latency benchmark (not a test: it prints figures):
//! `POST /api/v1/recommendations` → `RecommendationReady` received by 100 subscribed
//! dispatchers, over real HTTP and real WebSockets, on a real SQLite file.
//!
//! ```text
//! cargo bench -p dispatch-server --bench e2e [-- --contractors 500 --subscribers 100 --requests 100]
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{HubClient, start};
use dispatch_core::synth::{SynthConfig, generate};
use serde_json::json;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let contractors = arg("--contractors", 500);
    let subscribers = arg("--subscribers", 100);
    let requests = arg("--requests", 100);
    let server = start().await;
    let now = Utc::now();
    let data = generate(&SynthConfig::new(11, contractors, now));
    server
        .store
        .create_region(&data.region)
        .await
        .expect("region");
    for contractor in &data.contractors {
        server
            .store
            .create_contractor(contractor)
            .await
            .expect("contractor");
    }
    for job in data.open_jobs.iter().take(requests) {
        server.store.create_job(job).await.expect("job");
    }
    let region = data.region.id.to_string();
    let token = server.dispatcher(&region);
    let mut hubs = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        let mut hub = HubClient::connect(server.addr, &token).await;
        hub.subscribe(&format!("/dispatch/{region}")).await;
        hubs.push(hub);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "e2e: {cores} cores; region of {contractors} contractors; {subscribers} subscribed dispatchers; {requests} requests"
    );
    let mut failed = 0;
    let mut first_ms = Vec::new();
    let mut last_ms = Vec::new();
    let mut all_ms = Vec::new();
    for job in data.open_jobs.iter().take(requests) {
        let started = Instant::now();
        let asked = server
            .call(
                "POST",
                "/api/v1/recommendations",
                Some(&token),
                Some(&json!({"jobId": job.id})),
            )
            .await;
        assert_eq!(asked.status, 202, "{asked:?}");
        let request_id = asked.body["requestId"].clone();
        let mut arrivals = Vec::with_capacity(subscribers);
        let receivers = hubs.iter_mut().map(|hub| {
            let request_id = request_id.clone();
            async move {
                loop {
                    let event = hub
                        .event("RecommendationReady", Duration::from_secs(30))
                        .await;
                    if event["requestId"] == request_id {
                        return started.elapsed();
                    }
                }
            }
        });
        for elapsed in futures_util::future::join_all(receivers).await {
            arrivals.push(elapsed.as_secs_f64() * 1000.0);
        }
        let result = server
            .call(
                "GET",
                &format!(
                    "/api/v1/recommendations/{}",
                    request_id.as_str().unwrap_or_default()
                ),
                Some(&token),
                None,
            )
            .await;
        if result.body["status"] != "ready" {
            failed += 1;
            eprintln!("recommendation not ready: {}", result.body["error"]);
        }
        arrivals.sort_by(f64::total_cmp);
        first_ms.push(arrivals[0]);
        last_ms.push(arrivals[arrivals.len() - 1]);
        all_ms.extend(arrivals);
    }
    for list in [&mut first_ms, &mut last_ms, &mut all_ms] {
        list.sort_by(f64::total_cmp);
    }
    println!("{failed} of {requests} recommendations failed");
    println!(
        "POST → RecommendationReady, per delivery: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&all_ms, 0.50),
        percentile(&all_ms, 0.99)
    );
    println!(
        "POST → last of {subscribers} dispatchers has it: p50 {:.1} ms, p99 {:.1} ms (first: p50 {:.1} ms)",
        percentile(&last_ms, 0.50),
        percentile(&last_ms, 0.99),
        percentile(&first_ms, 0.50)
    );
}
