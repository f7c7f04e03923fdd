//! `/metrics` as an operator's Prometheus sees it, after a real flow over HTTP and the hub:
//! every latency is a histogram with the configured buckets (so it sums across nodes), never a
//! summary; the counters the operations guide lists move when their thing happens: assignments
//! by source, conflicts by kind, hub connections by transport and protocol, recommendation
//! queue wait and compute, and the event lags commit → sent → delivered.
//!
//! (Each test runs in a process of its own under nextest, so the process-wide recorder starts
//! empty.)

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

/// One scrape: `name{labels}` and value in the exposition's order, and `name` → its `# TYPE`.
struct Scrape {
    samples: Vec<(String, f64)>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("a TYPE line");
                types.insert(name.to_owned(), kind.to_owned());
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                let (series, value) = line.rsplit_once(' ').expect("a sample line");
                samples.push((series.to_owned(), value.parse().expect("a number")));
            }
        }
        Scrape { samples, types }
    }

    /// The sum of every sample of `name` whose labels include all of `labels` (`k="v"` each).
    fn sum(&self, name: &str, labels: &[&str]) -> f64 {
        self.samples
            .iter()
            .filter(|(series, _)| {
                let (series_name, series_labels) = series.split_once('{').unwrap_or((series, ""));
                series_name == name && labels.iter().all(|label| series_labels.contains(label))
            })
            .map(|(_, value)| value)
            .sum()
    }

    /// The `le` bounds of `name`'s buckets (of its first label set).
    fn buckets(&self, name: &str) -> Vec<String> {
        let bucket = format!("{name}_bucket{{");
        let mut first_labels = None;
        let mut bounds = Vec::new();
        for (series, _) in self
            .samples
            .iter()
            .filter(|(series, _)| series.starts_with(&bucket))
        {
            let labels = &series[bucket.len()..];
            let (others, le) = labels.rsplit_once("le=\"").expect("an le label");
            if *first_labels.get_or_insert_with(|| others.to_owned()) != others {
                continue;
            }
            bounds.push(le.trim_end_matches("\"}").to_owned());
        }
        bounds
    }
}

async fn scrape(server: &TestServer) -> Scrape {
    let answer = server.call("GET", "/metrics", None, None).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|value| value.starts_with("text/plain")),
        "{:?}",
        answer.headers
    );
    Scrape::parse(answer.body.as_str().expect("text"))
}

/// Scrapes until `ready` holds (metrics are recorded just after the thing they count).
async fn scrape_until(server: &TestServer, what: &str, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let scrape = scrape(server).await;
        if ready(&scrape) {
            return scrape;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {WAIT:?}: {:#?}",
            scrape.samples
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn latencies_are_histograms_and_the_listed_counters_move() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    let ana = server.contractor_at("west", "Ana", 37.77, -122.42, 4).await;
    let job = server.job("west", 37.76, -122.41, 2, 6).await;
    let job_id = job["id"].as_str().expect("job id");
    let dispatcher = server.dispatcher("west");

    let mut hub = server.hub(&dispatcher).await;
    hub.subscribe("/dispatch/west").await;

    let asked = server
        .call(
            "POST",
            "/api/v1/recommendations",
            Some(&dispatcher),
            Some(&json!({"jobId": job_id, "limit": 3})),
        )
        .await;
    assert_eq!(asked.status, 202, "{asked:?}");
    let ready = hub.event("RecommendationReady", WAIT).await;
    let record = server
        .call(
            "GET",
            &format!(
                "/api/v1/recommendations/{}",
                ready["requestId"].as_str().expect("id")
            ),
            Some(&dispatcher),
            None,
        )
        .await;
    let best = &record.body["candidates"][0];
    assert_eq!(best["contractorId"], ana.as_str(), "{record:?}");
    let booking = json!({"jobId": job_id, "contractorId": ana, "startUtc": best["startUtc"], "endUtc": best["endUtc"]});
    let booked = server
        .call(
            "POST",
            "/api/v1/assignments",
            Some(&dispatcher),
            Some(&booking),
        )
        .await;
    assert_eq!(booked.status, 201, "{booked:?}");
    hub.event("JobAssigned", WAIT).await;
    // The same booking again: the job is not open any more.
    let again = server
        .call(
            "POST",
            "/api/v1/assignments",
            Some(&dispatcher),
            Some(&booking),
        )
        .await;
    assert_eq!(again.status, 409, "{again:?}");
    assert_eq!(again.body["type"], "urn:dispatch:problem:job-not-open");

    let scrape = scrape_until(&server, "both events delivered", |scrape| {
        scrape.sum("dispatch_event_delivered_lag_seconds_count", &[]) >= 2.0
    })
    .await;

    // No summary anywhere; every latency a histogram with its buckets.
    let summaries: Vec<_> = scrape
        .types
        .iter()
        .filter(|(_, kind)| kind.as_str() == "summary")
        .collect();
    assert!(summaries.is_empty(), "summaries: {summaries:?}");
    let latency = [
        "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
        "10", "+Inf",
    ];
    let lag = [
        "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
        "10", "30", "60", "300", "+Inf",
    ];
    for (name, bounds) in [
        ("dispatch_http_request_seconds", &latency[..]),
        ("dispatch_recommendation_seconds", &latency[..]),
        ("dispatch_event_sent_lag_seconds", &lag[..]),
        ("dispatch_event_delivered_lag_seconds", &lag[..]),
    ] {
        assert_eq!(
            scrape.types.get(name).map(String::as_str),
            Some("histogram"),
            "{name}"
        );
        let found = scrape.buckets(name);
        let found: Vec<&str> = found.iter().map(String::as_str).collect();
        assert_eq!(found, bounds, "{name} buckets");
    }
    assert_eq!(
        scrape
            .types
            .get("dispatch_recommendation_queue_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    assert_eq!(
        scrape
            .buckets("dispatch_recommendation_queue_seconds")
            .last()
            .map(String::as_str),
        Some("+Inf")
    );

    // Each request is in the route's histogram and counter.
    assert!(
        scrape.sum(
            "dispatch_http_request_seconds_count",
            &["method=\"POST\"", "route=\"/api/v1/assignments\""]
        ) >= 2.0
    );
    assert_eq!(
        scrape.sum(
            "dispatch_http_requests_total",
            &["route=\"/api/v1/assignments\"", "status=\"409\""]
        ),
        1.0
    );
    // One recommendation: waited in the queue, then computed.
    assert_eq!(
        scrape.sum("dispatch_recommendation_queue_seconds_count", &[]),
        1.0
    );
    assert_eq!(
        scrape.sum("dispatch_recommendation_seconds_count", &[]),
        1.0
    );
    assert_eq!(
        scrape.sum("dispatch_recommendations_total", &["outcome=\"ready\""]),
        1.0
    );
    // Assignments by source, conflicts by kind.
    assert_eq!(
        scrape.sum("dispatch_assignments_total", &["source=\"manual\""]),
        1.0
    );
    assert_eq!(
        scrape.sum(
            "dispatch_conflicts_total",
            &["kind=\"job-not-open\"", "origin=\"http\""]
        ),
        1.0
    );
    // Two events: committed, sent by the relay, delivered here over the backplane.
    assert_eq!(scrape.sum("dispatch_events_sent_total", &[]), 2.0);
    // One node (SQLite) relays every outbox shard, and says so in /readyz too.
    assert_eq!(scrape.sum("dispatch_relay_shards_held", &[]), 8.0);
    let ready = server.call("GET", "/readyz", None, None).await;
    assert_eq!(ready.body["relay"], "leader", "{:?}", ready.body);
    assert_eq!(ready.body["relayShards"], json!([0, 1, 2, 3, 4, 5, 6, 7]));
    assert_eq!(
        scrape.sum("dispatch_event_sent_lag_seconds_count", &[]),
        2.0
    );
    assert_eq!(scrape.sum("dispatch_events_delivered_total", &[]), 2.0);
    assert_eq!(
        scrape.sum(
            "dispatch_event_delivered_lag_seconds_count",
            &["path=\"backplane\""]
        ),
        2.0
    );
    // The hub connection, by transport and protocol.
    let websocket_json = ["transport=\"WebSockets\"", "protocol=\"json\""];
    assert_eq!(
        scrape.sum("dispatch_hub_connections_total", &websocket_json),
        1.0
    );
    assert_eq!(
        scrape.sum("dispatch_hub_connections_open", &websocket_json),
        1.0
    );
    assert_eq!(scrape.sum("dispatch_hub_connections", &[]), 1.0);
    assert_eq!(scrape.sum("dispatch_backplane_up", &[]), 1.0);
    assert_eq!(scrape.sum("dispatch_backplane_reconnects_total", &[]), 0.0);

    // Closing the connection takes it out of the open gauge; the opened counter stays.
    drop(hub);
    let scrape = scrape_until(&server, "the connection closed", |scrape| {
        scrape.sum("dispatch_hub_connections_open", &websocket_json) == 0.0
    })
    .await;
    assert_eq!(
        scrape.sum("dispatch_hub_connections_total", &websocket_json),
        1.0
    );
}

#[tokio::test]
async fn every_metric_has_help_text() {
    let server = start().await;
    server.region("west", "America/Los_Angeles").await;
    let answer = server.call("GET", "/metrics", None, None).await;
    let text = answer.body.as_str().expect("text");
    for line in text.lines().filter(|line| line.starts_with("# TYPE ")) {
        let name = line["# TYPE ".len()..].split(' ').next().expect("name");
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no HELP line"
        );
    }
    assert!(text.contains("# TYPE dispatch_http_request_seconds histogram"));
}
