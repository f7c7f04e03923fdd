//! End-to-end benchmark (not a test: it prints figures), over real HTTP and real WebSockets, on
//! a real SQLite file (or PostgreSQL with `--postgres`), with the demo data of
//! `dispatch demo --contractors N` (three regions of N contractors, a week of bookings, 40 open
//! jobs each); every figure is for region `west`.
//!
//! ```text
//! cargo bench -p dispatch-server --bench e2e -- [--contractors 150] [--postgres] [--mode M]
//! ```
//!
//! * `--mode latency` (default): `POST /api/v1/recommendations` → `RecommendationReady` at the
//!   last of `--subscribers 100` subscribed dispatchers, `--requests 100` requests one after
//!   another over the region's open jobs: p50 / p99. The first request (the region is cold:
//!   this node builds its state) is reported on its own and left out of the percentiles.
//! * `--mode throughput`: `--concurrency 16` dispatchers each asking and waiting for their
//!   answer in a loop for `--seconds 10`: recommendations per second sustained.
//! * `--mode restart`: the `dispatch` binary started on the loaded database: time to `/readyz`,
//!   then the first recommendation for the cold region.
//!
//! Every result is then read with `GET /api/v1/recommendations/{id}`, whole (`--excluded all`,
//! the default: every excluded contractor with its reason, ~2 MB on a 10,000-contractor region)
//! or as a console of a large region would (`--excluded summary`: counts per reason only).
//!
//! Every mode prints the demo load time and the region state's size (`GET
//! /api/v1/regions/west/state`). PostgreSQL: `DISPATCH_TEST_POSTGRES_URL` names the server (a
//! database of its own is created and dropped).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Api, HubClient, TestServer, arg, percentile, start_on};
use dispatch_core::{JobStatus, RegionId};
use dispatch_store::PageRequest;
use serde_json::json;

/// How long an answer may take.
const WAIT: Duration = Duration::from_secs(60);

fn text_arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Asks for a recommendation for `job` and waits until every client in `hubs` heard its
/// `RecommendationReady`; the milliseconds at which each did, sorted.
async fn recommend(api: &Api, token: &str, hubs: &mut [HubClient], job: &str) -> Vec<f64> {
    let started = Instant::now();
    let asked = api
        .call(
            "POST",
            "/api/v1/recommendations",
            Some(token),
            Some(&json!({"jobId": job})),
        )
        .await;
    assert_eq!(asked.status, 202, "{asked:?}");
    let request_id = asked.body["requestId"].clone();
    let receivers = hubs.iter_mut().map(|hub| {
        let request_id = request_id.clone();
        async move {
            loop {
                let event = hub.event("RecommendationReady", WAIT).await;
                if event["requestId"] == request_id {
                    return started.elapsed();
                }
            }
        }
    });
    let mut arrivals: Vec<f64> = futures_util::future::join_all(receivers)
        .await
        .into_iter()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    arrivals.sort_by(f64::total_cmp);
    let result = api
        .call(
            "GET",
            &format!(
                "/api/v1/recommendations/{}?excluded={}",
                request_id.as_str().unwrap_or_default(),
                text_arg("--excluded", "all")
            ),
            Some(token),
            None,
        )
        .await;
    assert_eq!(result.body["status"], "ready", "{:?}", result.body);
    arrivals
}

async fn hubs(addr: std::net::SocketAddr, token: &str, n: usize) -> Vec<HubClient> {
    let mut hubs = Vec::with_capacity(n);
    for _ in 0..n {
        let mut hub = HubClient::connect(addr, token).await;
        hub.subscribe("/dispatch/west").await;
        hubs.push(hub);
    }
    hubs
}

async fn state_size(api: &Api) {
    let state = api
        .call(
            "GET",
            "/api/v1/regions/west/state",
            Some(&api.admin()),
            None,
        )
        .await;
    let b = &state.body;
    println!(
        "region state of west on this node: {} contractors, {} bookings held, {:.1} MB ({:.1} MB per 10,000 contractors), built in {:.0} ms",
        b["contractors"],
        b["bookings"],
        b["heapBytes"].as_f64().unwrap_or(0.0) / 1e6,
        b["heapBytes"].as_f64().unwrap_or(0.0) / 1e6 * 10_000.0
            / b["contractors"].as_f64().unwrap_or(1.0).max(1.0),
        b["buildSeconds"].as_f64().unwrap_or(0.0) * 1000.0
    );
}

#[tokio::main]
async fn main() {
    let contractors = arg("--contractors", 150);
    let mode = text_arg("--mode", "latency");
    let postgres = flag("--postgres");
    let seed = arg("--seed", 1) as u64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let dir = tempfile::tempdir().expect("temp dir");
    let _database;
    let url = if postgres {
        let admin = std::env::var("DISPATCH_TEST_POSTGRES_URL")
            .expect("--postgres needs DISPATCH_TEST_POSTGRES_URL");
        let db = test_support::TestDatabase::create_at(&admin, "dispatch_bench")
            .await
            .expect("PostgreSQL");
        let url = db.url().to_owned();
        _database = Some(db);
        url
    } else {
        _database = None;
        format!("sqlite://{}", dir.path().join("dispatch.db").display())
    };
    let backend = if postgres { "PostgreSQL" } else { "SQLite" };
    let excluded = text_arg("--excluded", "all");
    let loaded = {
        let store = dispatch_store::Store::connect(&url).await.expect("store");
        let started = Instant::now();
        let summary = dispatch_server::demo::load(&store, seed, contractors, Utc::now())
            .await
            .expect("demo");
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "e2e ({mode}, results read with excluded={excluded}): {cores} cores, {backend}, seed {seed}; demo loaded in {seconds:.1} s: {} regions, {} contractors, {} bookings, {} open jobs",
            summary.regions, summary.contractors, summary.assignments, summary.open_jobs
        );
        let jobs = store
            .list_jobs(
                &RegionId::new("west"),
                Some(JobStatus::Open),
                PageRequest {
                    limit: 200,
                    cursor: None,
                },
            )
            .await
            .expect("jobs");
        store.close().await;
        jobs.items
    };
    let jobs: Vec<String> = loaded.iter().map(|j| j.id.to_string()).collect();

    match mode.as_str() {
        "restart" => restart(dir, &url, &jobs).await,
        "throughput" => {
            let server = start_on(dir, &url).await;
            throughput(&server, &jobs).await;
        }
        _ => {
            let server = start_on(dir, &url).await;
            latency(&server, &jobs).await;
        }
    }
}

async fn latency(server: &TestServer, jobs: &[String]) {
    let subscribers = arg("--subscribers", 100);
    let requests = arg("--requests", 100);
    let token = server.dispatcher("west");
    let mut hubs = hubs(server.addr, &token, subscribers).await;
    let cold = recommend(server, &token, &mut hubs, &jobs[0]).await;
    println!(
        "first recommendation (cold region: this node builds west's state): last of {subscribers} after {:.1} ms",
        cold[cold.len() - 1]
    );
    state_size(server).await;
    let mut last = Vec::with_capacity(requests);
    let mut all = Vec::new();
    for i in 0..requests {
        let arrivals = recommend(server, &token, &mut hubs, &jobs[i % jobs.len()]).await;
        last.push(arrivals[arrivals.len() - 1]);
        all.extend(arrivals);
    }
    last.sort_by(f64::total_cmp);
    all.sort_by(f64::total_cmp);
    println!(
        "POST → RecommendationReady, per delivery: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&all, 0.50),
        percentile(&all, 0.99)
    );
    println!(
        "POST → last of {subscribers} dispatchers has it ({requests} requests one after another): p50 {:.1} ms, p99 {:.1} ms",
        percentile(&last, 0.50),
        percentile(&last, 0.99)
    );
}

async fn throughput(server: &TestServer, jobs: &[String]) {
    let concurrency = arg("--concurrency", 16);
    let seconds = arg("--seconds", 10) as u64;
    let token = server.dispatcher("west");
    // Warm: the first request builds the region's state.
    let mut warm = hubs(server.addr, &token, 1).await;
    recommend(server, &token, &mut warm, &jobs[0]).await;
    state_size(server).await;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks = (0..concurrency).map(|k| {
        let api = Api::new(server.addr);
        let token = token.clone();
        let jobs = jobs.to_vec();
        async move {
            let mut hub = hubs(api.addr, &token, 1).await;
            let mut done = 0usize;
            let mut i = k;
            while Instant::now() < deadline {
                recommend(&api, &token, &mut hub, &jobs[i % jobs.len()]).await;
                done += 1;
                i += concurrency;
            }
            done
        }
    });
    let done: usize = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .sum();
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "sustained: {done} recommendations in {elapsed:.1} s by {concurrency} dispatchers asking in a loop = {:.0} recommendations/s (each waited for its RecommendationReady and fetched its result)",
        done as f64 / elapsed
    );
}

async fn restart(dir: tempfile::TempDir, url: &str, jobs: &[String]) {
    let addr = common::free_addr();
    let started = Instant::now();
    let node = common::spawn_node(dir.path(), addr, &[("DISPATCH_DATABASE_URL", url)]).await;
    let api = Api::new(addr);
    loop {
        if api.call("GET", "/readyz", None, None).await.status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "node started on the loaded database: /readyz 200 after {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let token = api.dispatcher("west");
    let mut hub = hubs(addr, &token, 1).await;
    let arrivals = recommend(&api, &token, &mut hub, &jobs[0]).await;
    println!(
        "first recommendation for the cold region west: RecommendationReady after {:.0} ms",
        arrivals[0]
    );
    let again = recommend(&api, &token, &mut hub, &jobs[1 % jobs.len()]).await;
    println!("the next one: {:.1} ms", again[0]);
    state_size(&api).await;
    drop(node);
}
